"""tests/sync/test_loris.py - the server closes slow-loris connections, and
only those (the slow-client rule of docs/PROTOCOL.md, limits).

The server runs with a short rule, `--head-timeout 3 --rate-window 3
--min-rate 50` (production: 30 s, 30 s, 50 bytes/s), so that what takes
30 s in the field takes 3 here.  Every attacker below sends a byte at least
every second, so libmicrohttpd's idle timeout (30 s) never closes it: only
the rule does.

 1. The tablet's own address full: 256 heads from 127.0.0.1 (the
    per-address limit), each dribbled a byte a second, the attacker behind
    the office's NAT.  A 257th connection is refused; each head is closed
    between 3 s and 3 s + slack after it opened, none sooner; and a
    `minqing sync` started at once, with its default wait (10 s of
    retries), pulls the data set.  Without the rule the address stays full
    and the sync exits 3.
 2. Under a continuous attack from other addresses (heads, reopened when
    closed, and push bodies with a valid token at 20 bytes/s, under the
    minimum): every slow body is closed within a window and slack of its
    head; a push body of 1,200 bytes sent at 100 bytes/s (12 s, four
    windows) is read whole and answered 200; a head sent in pieces over
    1.6 s is answered, and a second request on the same connection 2 s
    after the first answer is answered too (the deadline restarts with each
    request); and `minqing sync` pushes a visit and pulls.
 3. The server then still answers /v1/health, has said in its log what it
    closed, and stops cleanly.
"""
import json
import os
import resource
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Tablet, check, dataset, done, log, read_jsonl  # noqa: E402

HEAD_S, WINDOW_S, RATE = 3, 3, 50
SLACK = 2.5  # the watchdog's tick (0.75 s here) and a loaded machine

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard == resource.RLIM_INFINITY or hard >= 2048:
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))

cards = dataset(40)
recs = read_jsonl(open(cards, encoding="utf-8").read())
root = next(r["id"] for r in recs if r["type"] == "area" and "parent" not in r["fields"])
hh = next(r["id"] for r in recs if r["type"] == "household")
cadre = next(r["id"] for r in recs if r["type"] == "cadre")
srv = Server()
srv.cli("import", cards)
tok = srv.enroll("tab", [root])
peer_tok = srv.enroll("peer", [root])
slow_tok = srv.enroll("slow", [root])
url = srv.start(options=["--head-timeout", str(HEAD_S), "--rate-window", str(WINDOW_S),
                         "--min-rate", str(RATE)])
port = int(url.rsplit(":", 1)[1])


class Conn:
    """A connection that sends `script` `step` bytes every `every` s after
    `first`, and notes when the server closed it."""

    def __init__(self, source, first, script, step, every):
        self.s = socket.socket()
        self.source = source
        self.s.bind((source, 0))
        self.s.connect(("127.0.0.1", port))
        if first:
            self.s.sendall(first)
        self.s.setblocking(False)
        self.opened = time.monotonic()
        self.script, self.step, self.every = script, step, every
        self.sent, self.next_at = 0, self.opened + every
        self.closed_at = None
        self.answer = b""

    def tick(self, now):
        if self.closed_at is None and now >= self.next_at and self.sent < len(self.script):
            try:
                self.s.send(self.script[self.sent:self.sent + self.step])
                self.sent += self.step
            except OSError:
                self.closed_at = now
            self.next_at += self.every

    def readable(self, now):
        try:
            b = self.s.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            b = b""
        if b:
            self.answer += b
        elif self.closed_at is None:
            self.closed_at = now

    def lived(self):
        return self.closed_at - self.opened


def run(conns, seconds, until=None, reopen=None):
    """Drives `conns` for up to `seconds` (or until `until()`); `reopen(c)`
    gives a connection to replace one the server closed, or None."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and not (until and until()):
        live = [c for c in conns if c.closed_at is None]
        r, _, _ = select.select([c.s for c in live], [], [], 0.05) if live else ([], [], [])
        now = time.monotonic()
        by_sock = {c.s: c for c in live}
        for s in r:
            by_sock[s].readable(now)
        for c in live:
            c.tick(now)
        if reopen:
            for c in list(conns):
                if c.closed_at is not None and c not in reopened:
                    reopened.add(c)
                    n = reopen(c)
                    if n is not None:
                        conns.append(n)


reopened = set()


def during(conns, fn, reopen=None):
    """Runs fn() on a thread while `conns` are driven; its result."""
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    run(conns, 600, until=lambda: not t.is_alive(), reopen=reopen)
    t.join()
    return out[0]


def head_loris(source):
    return Conn(source, b"GET /v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                b"X-Pad: " + b"a" * 4000, 1, 1.0)


def push_head(token, length):
    return (b"POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
            token.encode() + b"\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % length)


# ---- 1. the tablet's own address held by heads that never end ---------------
heads = [head_loris("127.0.0.1") for _ in range(256)]
run(heads, 0.5)
extra = Conn("127.0.0.1", b"", b"", 1, 1.0)
run([extra], 1.0, until=lambda: extra.closed_at is not None)
check(extra.closed_at is not None, "a 257th connection from the full address was served")
log("256 slow heads hold 127.0.0.1; a 257th connection is refused")

tab = Tablet("tab")
tab.env = {k: v for k, v in tab.env.items() if not k.startswith("MINQING_SYNC")}
start = time.monotonic()
rep = during(heads, lambda: tab.sync(url, tok, expect=None))
took = time.monotonic() - start
log("sync while the address was full: exit %d, %.1f s, pulled %d, %d retries" %
    (tab.last.returncode, took, rep.get("pulled", 0), rep.get("retries", 0)))
check(tab.last.returncode == 0 and rep.get("ok") and rep["pulled"] >= len(recs),
      "the sync was locked out by slow heads: %r" % rep)
run(heads, HEAD_S + SLACK, until=lambda: all(c.closed_at is not None for c in heads))
open_left = [c for c in heads if c.closed_at is None]
check(not open_left, "%d slow heads still open after %.1f s" % (len(open_left), HEAD_S + SLACK))
lived = sorted(c.lived() for c in heads)
log("slow heads closed after %.2f to %.2f s (rule: %d s)" % (lived[0], lived[-1], HEAD_S))
check(lived[0] >= HEAD_S - 0.3, "a slow head was closed before its deadline: %.2f s" % lived[0])
check(lived[-1] <= HEAD_S + SLACK, "a slow head lived %.2f s" % lived[-1])
check(all(c.sent >= 2 for c in heads), "a head was closed before it could dribble")

# ---- 2. a continuous attack from other addresses; honest slow clients ---------
attack = [head_loris("127.0.7.%d" % (1 + i // 20)) for i in range(40)]
bodies = [Conn("127.0.8.1", push_head(peer_tok, 100000), b" " * 100000, 10, 0.5)
          for _ in range(20)]


def is_head(c):
    return c.script[:1] == b"X"


def reopen(c):
    """An attacker opens a closed head again at once, from the same address."""
    return head_loris(c.source) if is_head(c) else None


batch = b'{"batch":"slow-honest-1","site":"slowsite","changes":[]}'
body = batch + b" " * (1200 - len(batch))
honest = Conn("127.0.9.1", push_head(slow_tok, len(body)), body, 20, 0.2)
get_head = b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
pieces = Conn("127.0.9.2", b"", get_head, len(get_head) // 4 + 1, 0.4)
conns = attack + bodies + [honest, pieces]
t0 = time.monotonic()


def answered(c):
    return b"\r\n\r\n" in c.answer and c.answer.startswith(b"HTTP/1.1 ")


run(conns, 4.0, reopen=reopen, until=lambda: answered(pieces))
check(answered(pieces) and pieces.answer.startswith(b"HTTP/1.1 200"),
      "a head sent in pieces over 1.6 s was not answered: %r" % pieces.answer[:200])
run(conns, 2.0, reopen=reopen)  # the second request on the connection, 2 s later
check(pieces.closed_at is None, "the kept-alive connection was closed after %.1f s" %
      (pieces.closed_at - pieces.opened if pieces.closed_at else 0))
pieces.answer = b""
pieces.s.send(get_head)
run(conns, 3.0, reopen=reopen, until=lambda: answered(pieces))
check(answered(pieces) and pieces.answer.startswith(b"HTTP/1.1 200"),
      "a second request 2 s after the first answer was not answered: %r" % pieces.answer[:200])
log("a head sent in pieces over 1.6 s, and a second 2 s after its answer: both 200")

tab.put("visit", {"household": hh, "cadre": cadre, "at": "2012-06-15",
                  "kind": "home_visit", "notes": "during a slow loris"})
rep = during(conns, lambda: tab.sync(expect=None), reopen=reopen)
log("sync during the attack: exit %d, pushed %d, %d retries" %
    (tab.last.returncode, rep.get("pushed", 0), rep.get("retries", 0)))
check(tab.last.returncode == 0 and rep.get("ok") and rep.get("push_applied") == 1,
      "the sync during the attack failed: %r" % rep)

run(conns, 20.0, reopen=reopen, until=lambda: answered(honest) or honest.closed_at)
check(honest.closed_at is None or answered(honest),
      "the honest body at 100 B/s was cut after %.1f s (%d of %d bytes sent)" %
      ((honest.closed_at or 0) - honest.opened, honest.sent, len(body)))
check(answered(honest), "the honest body at 100 B/s got no answer: %r" % honest.answer[:300])
status = honest.answer.split(b"\r\n", 1)[0]
took = time.monotonic() - honest.opened
log("push body of %d bytes at 100 B/s: %s after %.1f s" % (len(body), status.decode(), took))
check(status.startswith(b"HTTP/1.1 200"), "the honest slow push: %r" % honest.answer[:300])
check(took >= 4 * WINDOW_S - 1, "the honest body was not slow (%.1f s)" % took)

open_bodies = [c for c in bodies if c.closed_at is None]
check(not open_bodies, "%d slow bodies (20 B/s) still open" % len(open_bodies))
blived = sorted(c.lived() for c in bodies)
log("slow bodies at 20 B/s closed after %.2f to %.2f s (window %d s, minimum %d B/s)" %
    (blived[0], blived[-1], WINDOW_S, RATE))
check(blived[0] >= WINDOW_S - 0.3, "a slow body was closed before a window: %.2f s" % blived[0])
check(blived[-1] <= WINDOW_S + SLACK, "a slow body lived %.2f s" % blived[-1])
cut = [c for c in conns if c.closed_at is not None and is_head(c)]
log("attacker heads closed during phase 2: %d (40 held at a time)" % len(cut))
check(len(cut) >= 40, "only %d attacker heads were closed" % len(cut))

# ---- 3. healthy, and said so -------------------------------------------------
srv.wait_healthy(timeout=5)
for c in conns + heads:
    c.s.close()
srv.stop()
said = [l for l in open(srv.log, encoding="utf-8") if "slow connections" in l]
log("server log: %s" % (said[0].strip() if said else "(nothing)"))
check(said and "heads not in within 3 s" in said[0], "the server did not say what it closed")
done()
