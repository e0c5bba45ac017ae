"""The client's retry rules against a misbehaving server (a small Python
HTTP server in this process): a 503 and a truncated gzip body are retried
with backoff and the sync completes; a request that keeps failing gives up
within the retry budget with exit 3 and loses nothing; a 400 is not retried
and exits 1."""
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
httpd.shutdown()
done()
