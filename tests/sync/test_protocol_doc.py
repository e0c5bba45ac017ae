"""docs/PROTOCOL.md is the contract: each example marked `<!-- example: ... -->`
is run against a real server and the answer must have the example's members,
in its order, of the same JSON types, with the same values where they are
fixed (limits, protocol, status, error codes, the schema's text); every
version in the document has 16 hex digits; the curl example runs as written;
the error table's every code is produced, with its status, by a request that
breaks the rule it names; the limits table matches what the session says."""
import gzip
import re
import socket
import urllib.error

from harness import *

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                   "PROTOCOL.md")
text = open(DOC, encoding="utf-8").read()
examples = {}
for m in re.finditer(r"<!-- example: (.+?) -->\n```(\w+)\n(.*?)\n```", text, re.S):
    examples[m.group(1)] = m.group(3)
want = {"change", "GET /v1/health", "GET /v1/session", "push request", "POST /v1/push",
        "GET /v1/pull", "GET /v1/schema", "error", "curl", "sync report"}
check(set(examples) == want, "examples in the document: %r" % sorted(examples))


def example_json(name):
    """The example as JSON: CHANGE placeholders and "..." elisions removed."""
    t = examples[name].replace("CHANGE", "{}")
    t = re.sub(r",\s*\.\.\.", "", t).replace("[...]", "[]")
    return json.loads(t)


FIXED = {"status", "protocol", "max_batch", "max_body", "max_inflated", "code",
         "replayed", "clock_warning", "ok"}
TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
         float: "number", type(None): "null"}


def conforms(ex, real, where, exact=False):
    """Fails unless `real` has every member of `ex`, in order, of its type."""
    check(TYPES[type(ex)] == TYPES[type(real)], "%s: %s in the document, %s in the answer: %r"
          % (where, TYPES[type(ex)], TYPES[type(real)], real if not isinstance(real, (dict, list))
             else str(real)[:200]))
    if isinstance(ex, dict):
        keys = [k for k in real if k in ex]
        check(keys == list(ex), "%s: members %r, the document has %r" % (where, keys, list(ex)))
        for k in ex:
            conforms(ex[k], real[k], where + "." + k, exact or k == "schema")
            if k in FIXED and not isinstance(ex[k], (dict, list)):
                check(ex[k] == real[k], "%s.%s: %r in the document, %r in the answer" %
                      (where, k, ex[k], real[k]))
    elif isinstance(ex, list):
        if ex and real:
            conforms(ex[0], real[0], where + "[0]", exact)
    elif exact:
        check(ex == real, "%s: %r in the document, %r in the answer" % (where, ex, real))


# Every version in the document: 16 hex digits, a dash, a site.
for v in re.findall(r'"([0-9a-f]{8,})-([A-Za-z][A-Za-z0-9_.-]*)"', text):
    check(len(v[0]) == 16, "version %s-%s has %d hex digits, not 16" % (v[0], v[1], len(v[0])))
change = example_json("change")
check(re.fullmatch(r"[0-9a-f]{16}-[A-Za-z0-9_.-]{1,32}", change["v"]), "change v: %r" % change)

srv = Server()
srv.cli("import", dataset(88))
recs = srv.export()
groups = sorted(a["id"] for a in by_type(recs, "area") if a["fields"]["level"] == "group")
cadre = sorted(r["id"] for r in by_type(recs, "cadre"))[0]
tok = srv.enroll("tablet-7", [groups[0]], cadre=cadre)
url = srv.start()
port = int(url.rsplit(":", 1)[1])


def call(method, path, body=None, token=tok, raw=None, headers=None):
    h = {"Accept-Encoding": "gzip"}
    if token:
        h["Authorization"] = "Bearer " + token
    data = raw
    if body is not None:
        data = gzip.compress(json.dumps(body).encode())
        h["Content-Encoding"] = "gzip"
    h.update(headers or {})
    req = urllib.request.Request(url + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, payload, hd = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, payload, hd = e.code, e.read(), e.headers
    if hd.get("Content-Encoding") == "gzip":
        payload = gzip.decompress(payload)
    j = json.loads(payload, object_pairs_hook=dict)
    check(list(j)[:1] == ["server_time"], "%s %s: server_time is not first: %r" %
          (method, path, j))
    return status, j, hd


def raw_call(data):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    s.settimeout(10)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
            head, sep, rest = out.partition(b"\r\n\r\n")
            n = re.search(rb"(?i)content-length: *(\d+)", head)
            if sep and n and len(rest) >= int(n.group(1)):
                break
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


# ---- the curl example, as written ------------------------------------------------
script = examples["curl"].replace("http://127.0.0.1:8080", url)
script = re.sub(r"^TOKEN=.*$", "TOKEN=" + tok, script, flags=re.M)
p = subprocess.run(["sh", "-ec", script], capture_output=True, text=True)
check(p.returncode == 0, "the curl example failed: %s" % p.stderr)
outs, dec, at = [], json.JSONDecoder(), 0
while at < len(p.stdout):
    j, at = dec.raw_decode(p.stdout, at)
    outs.append(j)
    while at < len(p.stdout) and p.stdout[at].isspace():
        at += 1
check(len(outs) == 4, "the curl example printed %d answers: %r" % (len(outs), p.stdout[:300]))
check(outs[0]["status"] == "ok" and outs[1]["device"] == "tablet-7" and "changes" in outs[2]
      and outs[3]["batch"] == "b1" and outs[3]["applied"] == 0, "curl answers: %r" % outs)

# ---- each endpoint's example answer ------------------------------------------------
s, j, _ = call("GET", "/v1/health", token=None)
check(s == 200, "health: %d" % s)
conforms(example_json("GET /v1/health"), j, "health")
s, j, _ = call("GET", "/v1/session")
check(s == 200, "session: %d" % s)
conforms(example_json("GET /v1/session"), j, "session")
session = j
s, j, _ = call("GET", "/v1/pull?limit=2")
check(s == 200, "pull: %d" % s)
conforms(example_json("GET /v1/pull"), j, "pull")
pulled = j["changes"]
conforms({k: {} if isinstance(v, dict) else v for k, v in change.items() if k in pulled[0]},
         pulled[0], "a pulled change")
s, j, _ = call("GET", "/v1/schema")
check(s == 200, "schema: %d" % s)
conforms(example_json("GET /v1/schema"), j, "schema")

# The push example: one change applied, one duplicate, one out of scope.
mine = [h for h in by_type(recs, "household") if h["fields"]["area"] == groups[0]][0]
other = [h for h in by_type(recs, "household") if h["fields"]["area"] != groups[0]][0]
stamp = int(time.time() * 1000) << 16
req = example_json("push request")
req["batch"] = "9f2c4e0b7d1a4c3e8b5f6a7d8c9e0f1b"
first = {"v": "%016x-tablet-7" % (stamp | 1), "type": "household", "id": mine["id"],
         "set": {"phone": "13912345678"}}
req["changes"] = [
    first,
    dict(first),  # the same change again: a duplicate
    {"v": "%016x-tablet-7" % (stamp | 2), "type": "household", "id": other["id"],
     "set": {"phone": "13912345679"}}]
s, j, _ = call("POST", "/v1/push", body=req)
check(s == 200, "push: %d %r" % (s, j))
ex = example_json("POST /v1/push")
conforms(ex, j, "push")
check((j["applied"], j["duplicate"], j["rejected"]) == (1, 1, 1) and j["refused"][0]["i"] == 2
      and j["refused"][0]["reason"].startswith("out of scope:"), "push counts: %r" % j)
check(j["refused"][0]["reason"] == ex["refused"][0]["reason"],
      "the reason in the document is not the server's: %r" % j["refused"][0]["reason"])

# The error example: a revoked token.
tok8 = srv.enroll("tablet-8", [groups[0]])
srv.cli("device", "revoke", "tablet-8")
s, j, _ = call("GET", "/v1/session", token=tok8)
ex = example_json("error")
conforms(ex, j, "error")
check(s == 401 and j["error"]["message"] == ex["error"]["message"].replace("tablet-7", "tablet-8"),
      "error example: %d %r" % (s, j))

# ---- the limits table and the session agree -------------------------------------------
limits = dict(re.findall(r"^\| (.+?) \| (.+?) \|$", text.split("## 5. Limits")[1].split("##")[0],
                         re.M))
check("4,194,304" in limits["request or response body on the wire (gzip)"] and
      session["max_body"] == 4194304, "max_body: %r" % limits)
check(limits["body once inflated"] == "16 MiB" and session["max_inflated"] == 16 << 20,
      "max_inflated: %r" % limits)
check(limits["changes in one push batch or one pull page"] == "5000" and
      session["max_batch"] == 5000, "max_batch: %r" % limits)

# ---- every error code of the table, with its status ------------------------------------
table = {}
for status, codes in re.findall(r"^\| (\d{3}) \| ((?:`\w+`(?:, )?)+) \|", text, re.M):
    for code in re.findall(r"`(\w+)`", codes):
        table[code] = int(status)
H = b"Host: x\r\nAuthorization: Bearer " + tok.encode() + b"\r\n"
seen = {}


def got(code, status, j):
    check("error" in j and j["error"]["code"] == code, "%s: answered %d %r" % (code, status, j))
    seen[code] = status


def push(body, **kw):
    s, j, _ = call("POST", "/v1/push", body=body, **kw)
    return s, j


got("bad_request", *raw_call(b"GET /v1/session HTTP/1.1\r\n" + H + b"Content-Length: 2\r\n\r\n{}"))
got("bad_body", *call("POST", "/v1/push", raw=b"{")[:2])
got("bad_batch", *push({"batch": "../x", "site": "tablet-7", "changes": []}))
got("bad_site", *push({"batch": "b-site", "site": "a b", "changes": []}))
got("bad_cursor", *call("GET", "/v1/pull?cursor=garbage")[:2])
got("bad_limit", *call("GET", "/v1/pull?limit=0")[:2])
got("unauthorized", *call("GET", "/v1/session", token=None)[:2])
got("not_found", *call("GET", "/v1/session%00.json")[:2])
s, j, hd = call("DELETE", "/v1/push")
got("bad_method", s, j)
check(hd.get("Allow") == "POST", "Allow of push: %r" % hd.get("Allow"))
s, j, hd = call("POST", "/v1/pull", raw=b"")
check(s == 405 and hd.get("Allow") == "GET, HEAD", "Allow of pull: %d %r" % (s, hd.get("Allow")))
got("site_taken", *push({"batch": "b-srv", "site": "server", "changes": []}))
got("batch_reused", *push(dict(req, changes=req["changes"][:1])))
cursor = outs[2]["cursor"]
got("cursor_ahead", *call("GET", "/v1/pull?cursor=" + cursor.rsplit(".", 1)[0] + ".999999999")[:2])
got("too_large", *call("POST", "/v1/push", raw=gzip.compress(b" " * (17 << 20)),
                       headers={"Content-Encoding": "gzip"})[:2])
got("too_many", *push({"batch": "b-many", "site": "tablet-7", "changes": [{}] * 5001}))
got("uri_too_long", *raw_call(b"GET /v1/pull?cursor=" + b"c" * 5000 + b" HTTP/1.1\r\n" + H +
                              b"\r\n"))
got("bad_encoding", *call("POST", "/v1/push", raw=b"{}", headers={"Content-Encoding": "br"})[:2])
got("head_too_large", *raw_call(b"GET /v1/session HTTP/1.1\r\n" + H + b"X-Pad: " +
                                b"p" * 20000 + b"\r\n\r\n"))
got("bad_transfer", *raw_call(b"POST /v1/push HTTP/1.1\r\n" + H +
                              b"Transfer-Encoding: gzip\r\n\r\n"))
got("bad_version", *raw_call(b"GET /v1/health HTTP/1.2\r\nHost: x\r\n\r\n"))
untriggered = {"server_error"}  # the server's own failure (a full disk): not provoked here
check(set(table) - untriggered == set(seen), "codes in the table %r, produced %r" %
      (sorted(table), sorted(seen)))
for code, status in seen.items():
    check(table[code] == status, "%s: answered %d, the table says %d" % (code, status, table[code]))

# ---- the reference client's report ------------------------------------------------
t = Tablet("tablet-9")
rep = t.sync(url, srv.enroll("tablet-9", [groups[0]]))
ex = example_json("sync report")
real = {k: v for k, v in rep.items() if k != "stderr"}
conforms(ex, real, "sync report")
check(list(real) == list(ex), "sync report members: %r" % list(real))

log("%d examples and %d error codes checked against the server" % (len(examples), len(seen)))
srv.stop()
done()
