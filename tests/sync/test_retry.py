"""The client's retry rules against a misbehaving server (a small Python
HTTP server in this process): a 503 and a truncated gzip body are retried
with backoff and the sync completes; a request that keeps failing gives up
within the retry budget with exit 3 and loses nothing; a 400 or a 413 is
not retried and exits 1; a gzip bomb exits 1; a batch is resent as the same
bytes, also by a later sync; a cursor past the server's log makes the
client push everything again and pull from the start; a dead server is
said to be dead within about 10 s by default, with progress lines, and
--wait sets how long to try; a pulled change that cJSON would not hold as
sent is kept as rejected, not applied."""
import gzip
import http.server
import threading

from harness import *

state = {"script": [], "seen": []}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, obj, truncate=False):
        body = gzip.compress(json.dumps(dict({"server_time": int(time.time() * 1000)},
                                             **obj)).encode())
        if truncate:
            body = body[: len(body) // 2]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        path = self.path.split("?")[0]
        state["seen"].append(path)
        fault = state["script"].pop(0) if state["script"] and state["script"][0][0] == path else None
        if fault:
            kind = fault[1]
            if kind == "503":
                return self.answer(503, {"error": {"code": "busy", "message": "restarting"}})
            if kind == "400":
                return self.answer(400, {"error": {"code": "bad_body", "message": "no"}})
            if kind == "413":
                return self.answer(413, {"error": {"code": "too_large",
                                                   "message": "request body exceeds 4194304 bytes"}})
            if kind == "bomb":
                body = gzip.compress(b" " * (20 * 1024 * 1024))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if kind == "truncate":
                return self.answer(200, {"changes": [], "cursor": "x", "more": False},
                                   truncate=True)
        if path == "/v1/session":
            return self.answer(200, {"device": "fake", "areas": [], "max_batch": 5000})
        if path == "/v1/push":
            req = json.loads(gzip.decompress(raw))
            return self.answer(200, {"batch": req["batch"], "replayed": False,
                                     "applied": len(req["changes"]), "duplicate": 0,
                                     "rejected": 0, "refused": []})
        if path == "/v1/pull":
            return self.answer(200, {"changes": [], "cursor": "c1", "more": False})
        return self.answer(404, {"error": {"code": "not_found", "message": path}})

    do_GET = handle_any
    do_POST = handle_any


httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=httpd.serve_forever, daemon=True).start()
url = "http://127.0.0.1:%d" % httpd.server_address[1]
fast = {"MINQING_SYNC_BACKOFF_MS": "50", "MINQING_SYNC_RETRY_MS": "3000"}

t = Tablet("t")
t.put("cadre", {"name": "李春明"})

# A 503 on push and a truncated pull body: both retried, the sync completes.
state["script"] = [("/v1/push", "503"), ("/v1/pull", "truncate")]
rep = t.sync(url, "mqt_" + "a" * 64, env=fast)
check(rep["retries"] == 2 and rep["push_applied"] == 1, "retried sync: %r" % rep)
check(state["seen"].count("/v1/push") == 2 and state["seen"].count("/v1/pull") == 2,
      "requests seen: %r" % state["seen"])

# A push that keeps failing: exit 3 within the budget, the change still queued.
t.put("cadre", {"name": "王国兴"})
state["script"] = [("/v1/push", "503")] * 100
state["seen"] = []
start = time.time()
rep = t.sync(env=fast, expect=3)
took = time.time() - start
check(took < 6, "gave up after %.1f s, past its 3 s budget" % took)
check(rep["retries"] >= 3, "too few retries: %r" % rep)
log("503 forever: %d retries in %.1f s" % (rep["retries"], took))
state["script"] = []
rep = t.sync(env=fast)
check(rep["push_applied"] == 1, "the queued change was not sent on the rerun: %r" % rep)

# The same batch id is resent after a failure (invariant 2).
t.put("cadre", {"name": "张云"})
batches = []
orig = Handler.handle_any


def spy(self):
    if self.path.startswith("/v1/push"):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        batches.append(json.loads(gzip.decompress(raw))["batch"])
        state["seen"].append("/v1/push")
        if len(batches) == 1:
            return self.answer(503, {"error": {"code": "busy", "message": "x"}})
        return self.answer(200, {"batch": batches[-1], "replayed": False, "applied": 1,
                                 "duplicate": 0, "rejected": 0, "refused": []})
    return orig(self)


Handler.do_POST = spy
rep = t.sync(env=fast)
check(len(batches) == 2 and batches[0] == batches[1], "batch ids: %r" % batches)
Handler.do_POST = orig

# A 400 is the client's fault: not retried, exit 1.
t.put("cadre", {"name": "赵德"})
state["script"] = [("/v1/push", "400")]
rep = t.sync(env=fast, expect=1)
check(rep["retries"] == 0, "a 400 was retried: %r" % rep)

# An answer that does not account for every change sent is not believed: the
# sync fails, and the changes stay queued for the next one.
t.put("cadre", {"name": "钱学"})


def short(self):
    if self.path.startswith("/v1/push"):
        n = int(self.headers.get("Content-Length") or 0)
        req = json.loads(gzip.decompress(self.rfile.read(n)))
        return self.answer(200, {"batch": req["batch"], "replayed": False, "applied": 1,
                                 "duplicate": 0, "rejected": 0, "refused": []})
    return orig(self)


Handler.do_POST = short
rep = t.sync(env=fast, expect=1)
check("2 changes sent but the answer counts 1 applied" in rep["stderr"],
      "a short answer: %r" % rep)
Handler.do_POST = orig
rep = t.sync(env=fast)
check(rep["push_applied"] == 2, "the changes of the short answer were not resent: %r" % rep)

# A 413 is a refusal: not retried, exit 1, with the server's reason.
t.put("cadre", {"name": "孙立"})
state["script"] = [("/v1/push", "413")]
rep = t.sync(env=fast, expect=1)
check(rep["retries"] == 0 and "too_large" in rep["stderr"], "a 413: %r" % rep)
rep = t.sync(env=fast)

# A gzip bomb is a failure (exit 1), not a refusal (4) nor a network fault (3).
state["script"] = [("/v1/pull", "bomb")]
rep = t.sync(env=fast, expect=1)
check(rep["retries"] == 0 and "inflates past" in rep["stderr"], "a bomb: %r" % rep)

# A batch is resent as the very same bytes, by a later sync too.
t.put("cadre", {"name": "周明"})
bodies = []


def record_then_fail(self):
    if self.path.startswith("/v1/push"):
        n = int(self.headers.get("Content-Length") or 0)
        raw = gzip.decompress(self.rfile.read(n))
        bodies.append(raw)
        state["seen"].append("/v1/push")
        if len(bodies) < 3:
            return self.answer(503, {"error": {"code": "busy", "message": "x"}})
        req = json.loads(raw)
        return self.answer(200, {"batch": req["batch"], "replayed": False,
                                 "applied": len(req["changes"]), "duplicate": 0,
                                 "rejected": 0, "refused": []})
    return orig(self)


Handler.do_POST = record_then_fail
rep = t.sync(env={"MINQING_SYNC_BACKOFF_MS": "50", "MINQING_SYNC_RETRY_MS": "60"},
             expect=3)
check(len(bodies) >= 1, "nothing was pushed: %r" % rep)
rep = t.sync(env=fast)
check(len(bodies) >= 3 and len(set(bodies)) == 1, "batch resent as other bytes: %r" %
      [b[:80] for b in bodies])
Handler.do_POST = orig

# A cursor past the end of the server's log: push everything, pull from the start.
pushed = []
pulls = []


def count_push(self):
    if self.path.startswith("/v1/push"):
        n = int(self.headers.get("Content-Length") or 0)
        req = json.loads(gzip.decompress(self.rfile.read(n)))
        pushed.append(len(req["changes"]))
        return self.answer(200, {"batch": req["batch"], "replayed": False,
                                 "applied": len(req["changes"]), "duplicate": 0,
                                 "rejected": 0, "refused": []})
    return orig(self)


def ahead_once(self):
    if self.path.startswith("/v1/pull"):
        pulls.append(self.path)
        if len(pulls) == 1:
            return self.answer(409, {"error": {"code": "cursor_ahead",
                                               "message": "restored from a backup"}})
    return orig(self)


Handler.do_POST = count_push
Handler.do_GET = ahead_once
t.put("cadre", {"name": "吴光"})
rep = t.sync(env=fast)
local = len([v for v in t.versions()])
check(pushed[0] == 1 and len(pushed) == 2 and pushed[1] == local,
      "after cursor_ahead, pushed %r of %d local changes" % (pushed, local))
check(len(pulls) == 2 and "cursor=&" in pulls[1], "pulls after cursor_ahead: %r" % pulls)
check("restored from an older copy" in rep["stderr"], "no word of it: %r" % rep["stderr"])
Handler.do_POST = orig
Handler.do_GET = orig

# A pulled page is checked as a pushed batch is: a change whose name holds a
# NUL escape is kept as rejected, not stored cut; a sound one on the same
# page applies; a flaw outside the changes refuses the page.
src = Tablet("src")
cut_id = src.put("cadre", {"name": "王五"})
sound_id = src.put("cadre", {"name": "赵六"})
lines = src.run("changes").stdout.splitlines()
page = [json.loads(l) for l in lines if '"type"' in l]
for c in page:
    c.pop("crc", None)
cut = next(c for c in page if c["id"] == cut_id)
cut["set"]["name"] = "王\x00五"
page_text = json.dumps(page, ensure_ascii=False)
flawed = {"page": page_text}


def flawed_pull(self):
    if self.path.startswith("/v1/pull"):
        body = gzip.compress(('{"server_time":%d,"changes":%s,"cursor":"c9","more":false%s}'
                              % (int(time.time() * 1000), flawed["page"],
                                 flawed.get("tail", ""))).encode())
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return
    return orig(self)


Handler.do_GET = flawed_pull
p = Tablet("pulls")
p.put("cadre", {"name": "孙七"})
rep = p.sync(url, "mqt_" + "a" * 64, env=fast)
check(rep["pull_applied"] == 1 and rep["pull_rejected"] == 1,
      "a page with a NUL-escaped change: %r" % rep)
check(p.get(sound_id)["fields"]["name"] == "赵六", "the sound change was not applied")
got = p.run("get", cut_id, check_rc=None)
check(got.returncode != 0, "the cut change was stored: %s" % got.stdout)
rej = p.rejected()
check(len(rej) == 1 and "NUL" in json.dumps(rej, ensure_ascii=False).upper(),
      "the cut change is not among the rejected with its reason: %r" % rej)
flawed["tail"] = ',"x":"\\u0000"'
rep = p.sync(env=fast, expect=1)
check("bad page" in rep["stderr"], "a flaw outside the changes was taken: %r" % rep)
Handler.do_GET = orig
httpd.shutdown()

# A dead server, with the default wait: said within about 10 s, with progress.
env = dict(os.environ)
for k in ("MINQING_SYNC_RETRY_MS", "MINQING_SYNC_BACKOFF_MS"):
    env.pop(k, None)
d = Tablet("dead", env=env)
start = time.time()
rep = d.sync("http://127.0.0.1:9", "mqt_" + "a" * 64, expect=3)
took = time.time() - start
log("dead server: exit 3 after %.1f s, %d retries" % (took, rep["retries"]))
check(took < 13, "a dead server took %.1f s to be reported" % took)
check("cannot reach the server" in rep["stderr"] and "--wait" in rep["stderr"] and
      "still trying" in rep["stderr"], "no progress lines: %s" % rep["stderr"])
start = time.time()
dead = ["--server", "http://127.0.0.1:9", "--token", "mqt_" + "a" * 64]
p = d.run("sync", "--wait", "0", *dead, check_rc=3)
check(time.time() - start < 3 and "retrying" not in p.stderr and "still trying" not in
      p.stderr, "--wait 0 retried: %s" % p.stderr)
start = time.time()
d.run("sync", "--wait", "3", *dead, check_rc=3)
took = time.time() - start
check(2 < took < 6, "--wait 3 took %.1f s" % took)
d.run("sync", "--wait", "soon", *dead, check_rc=2)
done()
