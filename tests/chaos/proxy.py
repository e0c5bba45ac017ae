"""tests/chaos/proxy.py - a fault-injecting TCP proxy on loopback.

One FaultProxy listens on 127.0.0.1 (a port picked by the kernel) and
forwards every connection to one upstream port.  For each accepted
connection it draws, from its own seeded random generator, what happens to
that connection:

  pass      bytes flow both ways untouched
  reset     the client's connection is reset (RST) before anything is sent
  cut_up    part of the request stream reaches the server, then both
            sides are reset (an upload cut short)
  truncate  the response stream is cut after a random number of bytes,
            with a clean close (FIN): the client reads a short body
  rst_down  the same, with a reset instead of a close
  stall     the response stops for a few seconds at a random byte, then
            goes on (a slow link); a long stall outlasts the client's
            low-speed time-out and ends in a close
  bad_gw    the request head is read and answered with an HTML
            502 Bad Gateway, as a real reverse proxy would, then closed

The server may be down (killed by the harness): a refused upstream
connection is passed on as a reset.  A connection carries several requests
(libcurl keeps it alive), so a byte offset picked at random lands in one of
them.  The proxy keeps counts of what it did, for the report.
"""
import random
import select
import socket
import struct
import threading
import time

MODES = ("pass", "reset", "cut_up", "truncate", "rst_down", "stall", "bad_gw")

BAD_GATEWAY = (b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\n"
               b"Content-Length: 52\r\nConnection: close\r\n\r\n"
               b"<html><body><h1>502 Bad Gateway</h1></body></html>\n\n")


def _reset(sock):
    """Closes with SO_LINGER 0: the peer sees a reset, not an end of stream."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    _close(sock)


def _close(sock):
    try:
        sock.close()
    except OSError:
        pass


class FaultProxy:
    def __init__(self, upstream_port, seed, weights=None, long_stall_s=35.0):
        self.upstream_port = upstream_port
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        # Fault weights; "pass" is the rest.  set_faults() changes them.
        self.weights = dict(weights or {})
        self.long_stall_s = long_stall_s
        self.long_stalls_left = 0
        self.counts = {m: 0 for m in MODES}
        self.counts["long_stall"] = 0
        self.counts["upstream_down"] = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.closing = False
        self.threads = []
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()

    def reseed(self, seed):
        """Starts a new sequence of draws, so that a sync that made one
        connection more or less than last time (timing) does not shift the
        faults of every later sync."""
        with self.lock:
            self.rng = random.Random(seed)

    def set_faults(self, weights, long_stalls=0):
        """New fault weights; long_stalls more of the stalls to come outlast
        the client's time-out."""
        with self.lock:
            self.weights = dict(weights)
            self.long_stalls_left += long_stalls

    def _draw(self):
        """What happens to the next connection, and where it strikes."""
        with self.lock:
            x = self.rng.random()
            mode = "pass"
            for m in MODES[1:]:
                w = self.weights.get(m, 0.0)
                if x < w:
                    mode = m
                    break
                x -= w
            at = self.rng.randrange(0, 24000)
            stall = self.rng.uniform(0.3, 2.5)
            long_stall = False
            if self.long_stalls_left > 0 and self.rng.random() < 0.25:
                mode = "stall"
                self.long_stalls_left -= 1
                long_stall = True
                stall = self.long_stall_s
            self.counts[mode] += 1
            if long_stall:
                self.counts["long_stall"] += 1
            return mode, at, stall, long_stall

    def _accept_loop(self):
        while not self.closing:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(c,) + self._draw(), daemon=True)
            t.start()

    def _serve(self, c, mode, at, stall, long_stall):
        if mode == "reset":
            time.sleep(0.01)
            _reset(c)
            return
        if mode == "bad_gw":
            self._bad_gateway(c)
            return
        try:
            u = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
        except OSError:
            with self.lock:
                self.counts["upstream_down"] += 1
            _reset(c)
            return
        u.settimeout(None)
        c.settimeout(None)
        try:
            self._pump(c, u, mode, at, stall, long_stall)
        except OSError:
            pass
        finally:
            _close(u)
            _close(c)

    def _bad_gateway(self, c):
        c.settimeout(5)
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < 65536:
                b = c.recv(4096)
                if not b:
                    break
                head += b
            c.sendall(BAD_GATEWAY)
            c.shutdown(socket.SHUT_WR)
            time.sleep(0.05)
        except OSError:
            pass
        _close(c)

    def _pump(self, c, u, mode, at, stall, long_stall):
        up = down = 0  # bytes forwarded each way
        stalled = False
        while True:
            r, _, _ = select.select([c, u], [], [], 60)
            if not r:
                return  # both sides idle for a minute: let go
            if c in r:
                data = c.recv(65536)
                if not data:
                    return
                if mode == "cut_up" and up + len(data) > at:
                    keep = max(0, at - up)
                    if keep:
                        u.sendall(data[:keep])
                    time.sleep(0.02)
                    _reset(u)
                    _reset(c)
                    return
                u.sendall(data)
                up += len(data)
            if u in r:
                data = u.recv(65536)
                if not data:
                    return
                if mode in ("truncate", "rst_down") and down + len(data) > at:
                    keep = max(0, at - down)
                    if keep:
                        c.sendall(data[:keep])
                    if mode == "rst_down":
                        _reset(c)
                    else:
                        c.shutdown(socket.SHUT_RDWR)
                    return
                if mode == "stall" and not stalled and down + len(data) > at:
                    keep = max(0, at - down)
                    if keep:
                        c.sendall(data[:keep])
                    stalled = True
                    time.sleep(stall)
                    if long_stall:
                        return  # the client has given up on this connection
                    data = data[keep:]
                    down += keep
                c.sendall(data)
                down += len(data)

    def close(self):
        self.closing = True
        _close(self.sock)
