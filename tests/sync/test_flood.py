"""tests/sync/test_flood.py - a socket flood does not lock a tablet out.

While the server's sockets are held by
  - 300 idle connections from six other addresses (every other one with a
    partial request line),
  - a slow loris on three other addresses: 60 heads and 60 push bodies (with
    a valid token) dribbled one byte every two seconds,
  - and 100 connections from the tablet's own address, each a push whose
    body is dribbled as slowly: the other tablets of an office behind one
    NAT, on a slow link,
a real `minqing sync` with its default wait (10 s of retries) pulls the
whole data set, and a second pushes a new visit.  The flood is then still in place
(it was not shed to let the sync through), the server answers
/v1/health, and it stops cleanly.  At 64 connections per address (before
bench case 9) the tablet's sync was refused: its address was full.

The server's slow-client rule (30 s for a head, 50 bytes/s for a body)
would close the slow sockets here after 30 s, which a loaded machine can
reach before the check that they are all still held; it is stretched to
10 minutes so that this test holds the flood whole, and test_loris.py
tests the rule itself.
"""
import os
import resource
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, Tablet, check, dataset, done, log, read_jsonl  # noqa: E402

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard == resource.RLIM_INFINITY or hard >= 2048:
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))

cards = dataset(60)
recs = read_jsonl(open(cards, encoding="utf-8").read())
root = next(r["id"] for r in recs if r["type"] == "area" and "parent" not in r["fields"])
hh = next(r["id"] for r in recs if r["type"] == "household")
srv = Server()
srv.cli("import", cards)
tok = srv.enroll("tab", [root])
peer_tok = srv.enroll("peer", [root])
url = srv.start(options=["--head-timeout", "600", "--rate-window", "600"])
port = int(url.rsplit(":", 1)[1])


def connect(source, first=b""):
    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    if first:
        s.sendall(first)
    s.setblocking(False)
    return s


def push_head(token):
    return (b"POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
            token.encode() + b"\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n")


idle = [connect("127.0.3.%d" % (1 + i // 50), b"GET /v1/hea" if i % 2 else b"")
        for i in range(300)]
# (socket, the bytes it dribbles, how many sent)
loris = []
for i in range(60):
    loris.append([connect("127.0.4.%d" % (1 + i // 30)),
                  b"GET /v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 200, 0])
    loris.append([connect("127.0.5.1", push_head(peer_tok)),
                  b'{"batch":"loris","site":"loris","changes":[' + b" " * 200, 0])
office = [[connect("127.0.0.1", push_head(peer_tok)), b'{"batch":"slow","changes":[' +
           b" " * 200, 0] for _ in range(100)]
stop = threading.Event()


def dribble():
    while not stop.wait(2.0):
        for x in loris + office:
            try:
                x[0].send(x[1][x[2] % len(x[1]):][:1])
                x[2] += 1
            except OSError:
                pass


t = threading.Thread(target=dribble, daemon=True)
t.start()
time.sleep(1.0)


def held(socks):
    n = 0
    for s in socks:
        try:
            n += s.recv(1) != b""
        except BlockingIOError:
            n += 1
        except OSError:
            pass
    return n


log("flood in place: %d idle, %d loris, %d from the tablet's address held" %
    (held(idle), held([x[0] for x in loris]), held([x[0] for x in office])))

tab = Tablet("tab")
# the default wait: nothing from the environment shortens or lengthens it
tab.env = {k: v for k, v in tab.env.items() if not k.startswith("MINQING_SYNC")}
start = time.time()
rep = tab.sync(url, tok)
took = time.time() - start
log("first sync under the flood: %.1f s, pulled %d, %d retries" %
    (took, rep.get("pulled", 0), rep.get("retries", 0)))
check(rep.get("ok") and rep["pulled"] >= len(recs), "first sync under the flood: %r" % rep)
tab.put("visit", {"household": hh, "cadre": next(r["id"] for r in recs if r["type"] == "cadre"),
                  "at": "2012-06-15", "kind": "home_visit", "notes": "under a flood"})
rep = tab.sync()
log("second sync under the flood: pushed %d, %d retries" %
    (rep.get("pushed", 0), rep.get("retries", 0)))
check(rep.get("ok") and rep["push_applied"] == 1, "second sync under the flood: %r" % rep)

# The flood was still there: nothing was shed to let the sync through.
i_held, l_held = held(idle), held([x[0] for x in loris])
o_held = held([x[0] for x in office])
log("after the sync: %d idle, %d loris, %d office connections still held" %
    (i_held, l_held, o_held))
check(i_held >= 290 and l_held >= 115 and o_held == 100,
      "the flood was shed: %d idle, %d loris, %d office" % (i_held, l_held, o_held))
srv.wait_healthy(timeout=5)
stop.set()
t.join()
for s in idle + [x[0] for x in loris + office]:
    s.close()
srv.stop()
done()
