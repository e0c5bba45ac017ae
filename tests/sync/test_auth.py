"""Tokens, refusals and the protocol's edges: a revoked or unknown token is
refused (exit 4) at once; the server stores only token hashes; a sync with
no server is a usage error (exit 2) and an unreachable server exits 3 after
bounded retries; URL and token are remembered.  Raw HTTP checks the status
codes and limits of docs/PROTOCOL.md, and that a batch sent twice is
answered from the record without being applied twice."""
import gzip
import hashlib
import sqlite3
import urllib.error

from harness import *

srv = Server()
srv.cli("import", dataset(88))
recs = srv.export()
village = [a["id"] for a in by_type(recs, "area") if a["fields"]["level"] == "village"][0]
tok = srv.enroll("t1", [village])
tok2 = srv.enroll("t2", [village])
with open(srv.db, "rb") as fdb:
    blob = fdb.read()
for ext in ("-wal",):
    if os.path.exists(srv.db + ext):
        blob += open(srv.db + ext, "rb").read()
check(tok.encode() not in blob, "the token is stored in clear in the server's file")
p = srv.cli("device", "add", "t1", "--area", village, check=False)
check(p.returncode == 2 and "already exists" in p.stderr, "duplicate device name accepted")
p = srv.cli("device", "add", "t9", "--area", "no-such-area", check=False)
check(p.returncode == 2, "device enrolled for an unknown area")
url = srv.start()

t = Tablet("t1")
t.sync(expect=2)  # no server yet
t.sync(url, "mqt_" + "0" * 64, expect=4)
rep = t.sync(url, tok)
check(rep["pulled"] > 0, "first sync pulled nothing")
t.sync()  # URL and token remembered
check(t.last.returncode == 0, "remembered sync failed")

# Revocation takes effect on the very next request.
srv.cli("device", "revoke", "t1")
rep = t.sync(expect=4)
check("revoked" in rep["stderr"], "no word of revocation: %s" % rep["stderr"])
devices = read_jsonl(srv.cli("device", "list").stdout)
check([d["revoked"] for d in devices if d["name"] == "t1"] == [True], "device list: %r" % devices)

# The token may come on stdin, out of sight of ps.
s4 = Tablet("t4")
s4.run("sync", "--server", url, "--token", "-", input=srv.enroll("t4", [village]) + "\n")
check(s4.last.returncode == 0 and s4.export(), "sync with the token on stdin failed")

# An unreachable server: exit 3 within the retry budget.
dead = Tablet("dead")
start = time.time()
rep = dead.sync("http://127.0.0.1:9", tok2, expect=3,
                env={"MINQING_SYNC_RETRY_MS": "1500", "MINQING_SYNC_BACKOFF_MS": "100"})
took = time.time() - start
check(took < 10, "retries took %.1f s, beyond their budget" % took)
check(rep["retries"] >= 2, "expected retries before giving up: %r" % rep)
log("unreachable: %d retries, gave up after %.1f s" % (rep["retries"], took))


# ---- raw HTTP --------------------------------------------------------------
def call(method, path, body=None, token=tok2, raw=None, headers=None):
    h = {"Accept-Encoding": "gzip"}
    if token:
        h["Authorization"] = "Bearer " + token
    data = raw
    if body is not None:
        data = gzip.compress(json.dumps(body).encode())
        h["Content-Encoding"] = "gzip"
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    req = urllib.request.Request(url + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, payload, enc = r.status, r.read(), r.headers.get("Content-Encoding")
    except urllib.error.HTTPError as e:
        status, payload, enc = e.code, e.read(), e.headers.get("Content-Encoding")
    if enc == "gzip":
        payload = gzip.decompress(payload)
    j = json.loads(payload)
    check(list(j)[:1] == ["server_time"], "%s %s: server_time is not first in %r" %
          (method, path, j))
    return status, j


s, j = call("GET", "/v1/health", token=None)
check(s == 200 and j["status"] == "ok", "health: %d %r" % (s, j))
s, j = call("GET", "/v1/session", token=None)
check(s == 401 and j["error"]["code"] == "unauthorized", "no token: %d %r" % (s, j))
s, j = call("GET", "/v1/session", token=tok)
check(s == 401, "revoked token: %d" % s)
s, j = call("GET", "/v1/session")
check(s == 200 and j["device"] == "t2" and j["areas"] == [village], "session: %r" % j)
s, j = call("GET", "/v1/nope")
check(s == 404, "unknown path: %d" % s)
s, j = call("GET", "/v1/push")
check(s == 405, "GET push: %d" % s)
s, j = call("GET", "/v1/pull?cursor=garbage")
check(s == 400 and j["error"]["code"] == "bad_cursor", "bad cursor: %d %r" % (s, j))
s, j = call("GET", "/v1/pull?limit=5001")
check(s == 400, "limit over 5000: %d" % s)
big = os.path.join(WORK, "big.json")
with open(big, "wb") as fbig:
    fbig.write(b"x" * (4 * 1024 * 1024 + 1))
# curl, because the server answers 413 before reading such a body.
p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                    "Authorization: Bearer " + tok2, "--data-binary", "@" + big,
                    url + "/v1/push"], capture_output=True, text=True)
check(p.stdout == "413", "body over 4 MiB: %r" % p.stdout)
s, j = call("POST", "/v1/push", raw=gzip.compress(b"\0" * (20 * 1024 * 1024)),
            headers={"Content-Encoding": "gzip"})
check(s == 413, "gzip bomb: %d" % s)
s, j = call("POST", "/v1/push", body={"batch": "b", "site": "t2", "changes": [{}] * 5001})
check(s == 413 and j["error"]["code"] == "too_many", "5001 changes: %d %r" % (s, j))
s, j = call("POST", "/v1/push", body={"batch": "../x", "site": "t2", "changes": []})
check(s == 400, "bad batch id: %d" % s)
s, j = call("POST", "/v1/push", body={"batch": "b0", "site": "server", "changes": []})
check(s == 409 and j["error"]["code"] == "site_taken", "site 'server': %d %r" % (s, j))

# A batch, sent twice: one application, the same answer.
hh = sorted(r["id"] for r in by_type(recs, "household"))[0]
change = {"v": "%016x-t2" % ((int(time.time() * 1000) << 16) | 1), "type": "household",
          "id": hh, "set": {"phone": "13700000000"}}
bad = {"v": "%016x-t2" % ((int(time.time() * 1000) << 16) | 2), "type": "household",
       "id": hh, "set": {"size": 999}}
batch = {"batch": "batch-1", "site": "t2", "changes": [change, bad]}
s, j1 = call("POST", "/v1/push", body=batch)
check(s == 200 and not j1["replayed"], "push: %d %r" % (s, j1))
check((j1["applied"], j1["duplicate"], j1["rejected"]) == (1, 0, 1), "counts: %r" % j1)
check([(r["i"], r["v"]) for r in j1["refused"]] == [(1, bad["v"])], "refused: %r" % j1)
check(j1["refused"][0]["reason"].startswith("invalid:"), "reason: %r" % j1["refused"][0])
# The server keeps the refused change too, as it was sent.
kept = [r for r in read_jsonl(subprocess.run([MINQING, "--db", srv.db, "rejected"],
                                             capture_output=True, text=True).stdout)
        if r.get("change", {}).get("v") == bad["v"]]
check(len(kept) == 1 and kept[0]["change"] == bad and kept[0]["source"] == "device:t2" and
      kept[0]["reason"] == j1["refused"][0]["reason"], "kept on the server: %r" % kept)
s, j2 = call("POST", "/v1/push", body=batch)
check(s == 200 and j2["replayed"] and j2["refused"] == j1["refused"] and
      j2["applied"] == 1, "replay: %r" % j2)
check(list(j1) == ["server_time", "replayed", "batch", "refused", "applied", "duplicate",
                   "rejected"] and list(j1["refused"][0]) == ["i", "v", "reason"],
      "push answer members: %r" % j1)
# The answer is recorded as a JSON object; one recorded by an earlier version,
# without its opening brace, is still replayed.
db = sqlite3.connect(srv.db, timeout=10)
rec = db.execute("SELECT response FROM sync_batches WHERE batch = 'batch-1'").fetchone()[0]
check(json.loads(rec) == {k: j1[k] for k in list(j1)[2:]}, "recorded answer: %r" % rec)
old = {"batch": "old-1", "site": "t2", "changes": []}
with db:
    db.execute("INSERT INTO sync_batches VALUES('t2', 'old-1', ?, ?, 0)",
               (hashlib.sha256(json.dumps(old).encode()).hexdigest(),
                '"batch":"old-1","refused":[],"applied":0,"duplicate":0,"rejected":0}'))
db.close()
s, j = call("POST", "/v1/push", body=old)
check(s == 200 and j["replayed"] and j["batch"] == "old-1" and j["refused"] == [] and
      j["applied"] == 0, "replay of an answer recorded without its brace: %d %r" % (s, j))
# A refusal's reason quotes the value as sent, whatever characters it holds.
odd = "9\"9\\\n\t\x01民情"
weird = {"v": "%016x-t2" % ((int(time.time() * 1000) << 16) | 3), "type": "household",
         "id": hh, "set": {"size": odd}}
s, j = call("POST", "/v1/push", body={"batch": "batch-3", "site": "t2", "changes": [weird]})
check(s == 200 and j["rejected"] == 1 and j["refused"][0]["v"] == weird["v"],
      "odd value: %d %r" % (s, j))
check(json.dumps(odd, ensure_ascii=False) in j["refused"][0]["reason"],
      "the reason does not carry the value: %r" % j["refused"][0]["reason"])
s, j3 = call("POST", "/v1/push", body={"batch": "batch-1", "site": "t2", "changes": [bad]})
check(s == 409 and j3["error"]["code"] == "batch_reused", "reused id: %d %r" % (s, j3))
s, j4 = call("POST", "/v1/push", body={"batch": "batch-2", "site": "t2", "changes": [change]})
check((j4["applied"], j4["duplicate"], j4["refused"]) == (0, 1, []),
      "same change, new batch: %r" % j4)
check(srv.versions().count(change["v"]) == 1, "the change is in the server's log twice")
# Another device may not push as site t2.
tok3 = srv.enroll("t3", [village])
s, j = call("POST", "/v1/push", token=tok3, body={"batch": "b", "site": "t2", "changes": []})
check(s == 409 and j["error"]["code"] == "site_taken", "site of another device: %d %r" % (s, j))

srv.stop()
done()
