"""The HTTP layer against a hostile client, over raw sockets so that nothing
normalises the request on its way: smuggling (Content-Length with
Transfer-Encoding, two lengths), a missing Host, heads over the limits, a
body on GET, paths that are almost an endpoint (%00, a trailing slash),
data after the body's JSON, NULs and out-of-range numbers inside it,
invalid UTF-8 that must not come back in an answer, uploads without a
token (refused on their head, not read, memory flat), a body over the limit
(answered 413 after it is read, so a client that sends first reads it),
Allow per endpoint, a cursor past the log's end, the schema, and floods of
idle connections while an honest tablet syncs.  Every refusal is a JSON
error; after it all a normal sync works and the server's records changed
only where a change was rightly accepted."""
import gzip
import resource
import socket

from harness import *

srv = Server()
srv.cli("import", dataset(88))
recs = srv.export()
village = [a["id"] for a in by_type(recs, "area") if a["fields"]["level"] == "village"][0]
hhs = sorted(r["id"] for r in by_type(recs, "household"))
hh = hhs[0]
tok = srv.enroll("h1", [village])
url = srv.start()
port = int(url.rsplit(":", 1)[1])
before = srv.export()
AUTH = b"Authorization: Bearer " + tok.encode() + b"\r\n"


def exchange(data, timeout=5, src=None, send_all=True):
    """Sends `data` on a new connection and reads until the server closes it
    or `timeout` passes.  Returns (bytes read, closed by the server)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if src:
        s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.settimeout(timeout)
    try:
        s.sendall(data) if send_all else s.send(data)
    except OSError:
        pass
    out, closed = b"", False
    end = time.time() + timeout
    try:
        while time.time() < end:
            s.settimeout(max(0.01, end - time.time()))
            d = s.recv(65536)
            if not d:
                closed = True
                break
            out += d
            if complete(out):  # one whole answer: wait a little for a second one
                end = min(end, time.time() + 0.3)
    except (socket.timeout, ConnectionResetError):
        closed = closed or not out
    s.close()
    return out, closed


def complete(raw):
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        return False
    for l in head.split(b"\r\n")[1:]:
        k, _, v = l.partition(b":")
        if k.strip().lower() == b"content-length":
            return len(rest) >= int(v)
    return False


def responses(raw):
    """Splits what a connection received into (status, headers, body) answers."""
    out = []
    while raw.startswith(b"HTTP/"):
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        h = {}
        for l in lines[1:]:
            k, _, v = l.partition(b":")
            h[k.strip().lower().decode()] = v.strip().decode("latin-1")
        n = int(h.get("content-length", "0"))
        body, raw = rest[:n], rest[n:]
        if h.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        out.append((status, h, body))
    return out


def json_error(raw, status, code=None, closed=None, label=""):
    """Checks that `raw` is exactly one answer: a JSON error of `status`."""
    rs = responses(raw[0])
    check(len(rs) == 1, "%s: %d answers, expected one: %r" % (label, len(rs), raw[0][:600]))
    st, h, body = rs[0]
    check(st == status, "%s: status %d, expected %d: %r" % (label, st, status, body[:300]))
    check(h.get("content-type") == "application/json", "%s: not JSON: %r" % (label, h))
    try:
        j = json.loads(body.decode("utf-8"))  # strict: invalid UTF-8 fails here
    except (UnicodeDecodeError, ValueError) as e:
        fail("%s: the answer is not valid UTF-8 JSON (%s): %r" % (label, e, body[:300]))
    check(list(j)[:1] == ["server_time"] and "error" in j, "%s: %r" % (label, j))
    if code:
        check(j["error"]["code"] == code, "%s: code %r, expected %r" %
              (label, j["error"]["code"], code))
    if closed is not None:
        check(raw[1] == closed, "%s: connection %s" %
              (label, "left open" if closed else "closed"))
    return j, h


def request(method, path, body=b"", headers=b"", auth=True, version=b"HTTP/1.1"):
    h = b"Host: 127.0.0.1\r\n" + (AUTH if auth else b"") + headers
    if body or method == b"POST":
        h += b"Content-Length: %d\r\n" % len(body)
    return method + b" " + path + b" " + version + b"\r\n" + h + b"\r\n" + body


def push_body(batch, changes, site="h1"):
    return json.dumps({"batch": batch, "site": site, "changes": changes}).encode()


def version(n):
    return "%016x-h1" % ((int(time.time() * 1000) << 16) | n)


def phone(rid):
    return srv.export()[rid]["fields"].get("phone")


count = [0]


def case(label):
    count[0] += 1
    log("  %2d %s" % (count[0], label))


# ---- smuggling ---------------------------------------------------------------
hidden_change = {"v": version(1), "type": "household", "id": hh,
                 "set": {"phone": "13811112222"}}
hidden = request(b"POST", b"/v1/push", push_body("hidden-1", [hidden_change]))
case("Content-Length and Transfer-Encoding, a second request after the chunk")
r = exchange(b"POST /v1/push HTTP/1.1\r\nHost: x\r\n" + AUTH +
             b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden)
json_error(r, 400, "bad_request", closed=True, label="CL+TE")
case("two different Content-Length headers")
r = exchange(b"POST /v1/push HTTP/1.1\r\nHost: x\r\n" + AUTH +
             b"Content-Length: 0\r\nContent-Length: %d\r\n\r\n" % len(hidden) + hidden)
json_error(r, 400, "bad_request", closed=True, label="two CL")
case("two equal Content-Length headers")
r = exchange(b"POST /v1/push HTTP/1.1\r\nHost: x\r\n" + AUTH +
             b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}")
json_error(r, 400, "bad_request", closed=True, label="two equal CL")
check(phone(hh) != "13811112222", "a smuggled push was applied")
case("Transfer-Encoding other than chunked")
for te in (b"gzip", b"chunked, identity", b"identity"):
    r = exchange(b"POST /v1/push HTTP/1.1\r\nHost: x\r\n" + AUTH +
                 b"Transfer-Encoding: " + te + b"\r\n\r\n0\r\n\r\n")
    json_error(r, 501, "bad_transfer", closed=True, label="TE " + te.decode())
case("Transfer-Encoding in HTTP/1.0")
r = exchange(b"POST /v1/push HTTP/1.0\r\nHost: x\r\n" + AUTH +
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
json_error(r, 400, "bad_request", closed=True, label="TE in 1.0")
case("a Content-Length that is not a number")
r = exchange(b"POST /v1/push HTTP/1.1\r\nHost: x\r\n" + AUTH + b"Content-Length: +2\r\n\r\n{}")
check(responses(r[0]) == [] or responses(r[0])[0][0] == 400, "CL +2: %r" % r[0][:200])
case("a body on GET")
r = exchange(b"GET /v1/session HTTP/1.1\r\nHost: x\r\n" + AUTH + b"Content-Length: 5\r\n\r\n" +
             b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
json_error(r, 400, "bad_request", closed=True, label="GET with a body")
case("a chunked push is still taken")
body = push_body("chunked-1", [])
r = exchange(b"POST /v1/push HTTP/1.1\r\nHost: x\r\n" + AUTH +
             b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
             b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
rs = responses(r[0])
check(len(rs) == 1 and rs[0][0] == 200 and json.loads(rs[0][2])["applied"] == 0,
      "chunked push: %r" % r[0][:400])

# ---- Host, version, sizes of the head ---------------------------------------------
case("HTTP/1.1 without Host")
r = exchange(b"GET /v1/health HTTP/1.1\r\n\r\n")
json_error(r, 400, "bad_request", label="no Host")
case("two Host headers")
r = exchange(b"GET /v1/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
json_error(r, 400, "bad_request", label="two Hosts")
case("HTTP/1.0 without Host is served")
rs = responses(exchange(b"GET /v1/health HTTP/1.0\r\n\r\n")[0])
check(rs and rs[0][0] == 200, "HTTP/1.0 health: %r" % rs)
case("HTTP/1.2")
json_error(exchange(request(b"GET", b"/v1/health", version=b"HTTP/1.2")), 505,
           "bad_version", label="HTTP/1.2")
case("a request target over 4096 bytes")
json_error(exchange(request(b"GET", b"/v1/pull?cursor=" + b"a" * 9000)), 414,
           "uri_too_long", closed=True, label="long URI")
case("header lines over 16 KiB")
json_error(exchange(request(b"GET", b"/v1/session", headers=b"X-Pad: " + b"p" * 30000 +
                            b"\r\n")), 431, "head_too_large", closed=True, label="big head")

# ---- paths and queries --------------------------------------------------------
for path in (b"/v1/session%00.json", b"/v1/session%00", b"/v1/session/", b"/v1//session",
             b"/V1/session", b"/v1/sessio%6e", b"/v1/session.json", b"/v1/\xff\xfe",
             b"/v1/push%00"):
    case("path %r" % path)
    json_error(exchange(request(b"GET", path)), 404, "not_found", label=repr(path))
case("a query that holds %00")
json_error(exchange(request(b"GET", b"/v1/pull?limit=5%00x")), 400, "bad_request",
           label="%00 in the query")
case("limit with a sign or space")
for q in (b"+5", b"%205", b"5%20"):
    json_error(exchange(request(b"GET", b"/v1/pull?limit=" + q)), 400, "bad_limit",
               label="limit " + q.decode())

# ---- methods ------------------------------------------------------------------
for method, path, allow in ((b"DELETE", b"/v1/push", "POST"), (b"GET", b"/v1/push", "POST"),
                            (b"PUT", b"/v1/session", "GET, HEAD"),
                            (b"DELETE", b"/v1/pull", "GET, HEAD"),
                            (b"POST", b"/v1/health", "GET, HEAD"),
                            (b"OPTIONS", b"/v1/schema", "GET, HEAD")):
    case("%s %s" % (method.decode(), path.decode()))
    j, h = json_error(exchange(request(method, path)), 405, "bad_method",
                      label="%s %s" % (method, path))
    check(h.get("allow") == allow, "%s %s: Allow %r, expected %r" %
          (method, path, h.get("allow"), allow))

# ---- the push body ----------------------------------------------------------------
pushes = 0


def push(body, headers=b"", label=""):
    global pushes
    pushes += 1
    return exchange(request(b"POST", b"/v1/push", body, headers) if body is not None else
                    request(b"POST", b"/v1/push", b"", headers))


ok_body = push_body("trail-1", [])
for trail in (b" garbage", b"{}", b'{"batch":"x"}', b"]", b"\x00garbage", b"\x00"):
    case("data after the body's JSON: %r" % trail)
    json_error(push(ok_body + trail), 400, "bad_body", label="trailing %r" % trail)
case("white space after the body's JSON is fine")
rs = responses(push(push_body("trail-ws", []) + b" \r\n\t\n")[0])
check(rs and rs[0][0] == 200, "trailing white space: %r" % rs)
case("a body that is not JSON")
json_error(push(b"{\"batch\":"), 400, "bad_body", label="cut JSON")
case("a gzip body with data after its JSON")
json_error(push(gzip.compress(ok_body + b"{}"), headers=b"Content-Encoding: gzip\r\n"), 400,
           "bad_body", label="gzip trailing")
case("invalid UTF-8 in Content-Encoding is not echoed")
j, _ = json_error(push(ok_body, headers=b"Content-Encoding: \xff\xfe\xc0\xaf-x\r\n"), 415,
                  "bad_encoding", label="odd encoding")
check("\ufffd" in j["error"]["message"], "the odd encoding was not replaced: %r" % j)

# A NUL or an out-of-range number inside a change refuses that change, by
# its index, and nothing of it is stored; the others apply.
nul_v = version(10)
good = {"v": version(11), "type": "household", "id": hhs[1], "set": {"phone": "13955556666"}}
raw_changes = (
    b'[{"v":"%s","type":"household","id":"%s","set":{"phone":"139\\u00001234"}},' %
    (nul_v.encode(), hh.encode()) +
    b'{"v":"%s","type":"household","id":"%s","set":{"size":1e400}},' %
    (version(12).encode(), hhs[2].encode()) +
    b'{"v":"%s","type":"household","id":"%s","set":{"size":-1e-400}},' %
    (version(13).encode(), hhs[3].encode()) +
    b'{"v":"%s","type":"household","id":"%s","set":{"ph\\u0000one":"1"}},' %
    (version(14).encode(), hhs[4].encode()) +
    json.dumps(good).encode() + b"]")
body = b'{"batch":"flaws-1","site":"h1","changes":' + raw_changes + b"}"
case("NUL escapes and out-of-range numbers in changes")
rs = responses(push(body)[0])
check(rs and rs[0][0] == 200, "flawed batch: %r" % rs)
j = json.loads(rs[0][2])
check(j["applied"] == 1 and j["rejected"] == 4 and [x["i"] for x in j["refused"]] == [0, 1, 2, 3],
      "flawed batch answer: %r" % j)
check("\\u0000" in j["refused"][0]["reason"] and "1e400" in j["refused"][1]["reason"] and
      "-1e-400" in j["refused"][2]["reason"], "reasons: %r" % j["refused"])
check(all(x["reason"].startswith("invalid:") for x in j["refused"]), "reasons: %r" % j)
after = srv.export()
check(after[hh] == before[hh] and after[hhs[2]] == before[hhs[2]] and
      after[hhs[3]] == before[hhs[3]], "a flawed change reached the store")
check(after[hhs[1]]["fields"]["phone"] == "13955556666", "the sound change was not applied")
case("a NUL escape outside the changes refuses the body")
json_error(push(b'{"batch":"b\\u0000x","site":"h1","changes":[]}'), 400, "bad_body",
           label="NUL in the batch id")
json_error(push(b'{"batch":"b2","site":"h1\\u0000evil","changes":[]}'), 400, "bad_body",
           label="NUL in the site")
case("a site that is not a site")
for site in ("s" * 45, "", "a b", "tablet\u00e9"):
    json_error(push(push_body("site-1", [], site=site)), 400, "bad_site",
               label="site %r" % site)
case("invalid UTF-8 inside a refused change is not echoed")
bad_utf = (b'{"batch":"utf-1","site":"h1","changes":[{"v":"%s\xff","type":"household",'
           b'"id":"%s","set":{"size":"\xc0\xaf\xed\xa0\x80"}}]}' % (version(20).encode(),
                                                                     hh.encode()))
rs = responses(push(bad_utf)[0])
check(rs, "invalid UTF-8 batch: no answer")
try:
    j = json.loads(rs[0][2].decode("utf-8"))
except (UnicodeDecodeError, ValueError) as e:
    fail("the answer to invalid UTF-8 is not valid UTF-8 JSON: %s %r" % (e, rs[0][2][:300]))
check(rs[0][0] != 200 or j["rejected"] == 1, "invalid UTF-8 change: %r" % j)
case("a change of one type on the id of another type is invalid")
area_on_hh = {"v": version(21), "type": "area", "id": hh, "set": {"name": "x"}}
rs = responses(push(push_body("type-1", [area_on_hh]))[0])
j = json.loads(rs[0][2])
check(j["rejected"] == 1 and j["refused"][0]["reason"].startswith("invalid:"),
      "area change on a household's id: %r" % j)

# ---- uploads without a token, and bodies over the limit ------------------------------
case("an upload without a token is refused on its head")
start = time.time()
r = exchange(b"POST /v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n",
             timeout=5)
json_error(r, 401, "unauthorized", closed=True, label="upload without a token")
check(time.time() - start < 3, "the 401 waited for the body: %.1f s" % (time.time() - start))
case("30 uploads with a forged token do not grow the server")


def rss():
    with open("/proc/%d/status" % srv.proc.pid) as f:
        return [int(l.split()[1]) for l in f if l.startswith("VmRSS")][0]


blob = os.urandom(4 * 1024 * 1024 - 100)
base = rss()
for i in range(30):
    r = exchange(b"POST /v1/push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer mqt_" +
                 b"f" * 64 + b"\r\nContent-Length: %d\r\n\r\n" % len(blob) + blob, timeout=3)
    rs = responses(r[0])
    check(not rs or rs[0][0] == 401, "forged upload: %r" % r[0][:200])
grown = rss() - base
log("     VmRSS %d KiB -> %d KiB" % (base, base + grown))
check(grown < 16 * 1024, "30 forged uploads grew the server by %d KiB" % grown)
case("a body over 4 MiB, sent whole before reading, is answered 413")
over = os.urandom(5 * 1024 * 1024)
r = exchange(request(b"POST", b"/v1/push", over), timeout=20)
json_error(r, 413, "too_large", closed=True, label="5 MiB body")
case("a body declared over 16 MiB is refused on its head")
r = exchange(b"POST /v1/push HTTP/1.1\r\nHost: x\r\n" + AUTH +
             b"Content-Length: 999999999\r\n\r\n", timeout=5)
json_error(r, 413, "too_large", closed=True, label="declared 1 GB")

# ---- cursors and the schema ----------------------------------------------------------
case("a cursor past the end of the log")
rs = responses(exchange(request(b"GET", b"/v1/pull?limit=1"))[0])
cur = json.loads(rs[0][2])["cursor"]
ahead = cur.rsplit(".", 1)[0] + ".99999999"
j, _ = json_error(exchange(request(b"GET", b"/v1/pull?cursor=" + ahead.encode())), 409,
                  "cursor_ahead", label="cursor ahead")
case("the schema")
rs = responses(exchange(request(b"GET", b"/v1/schema"))[0])
check(rs and rs[0][0] == 200, "schema: %r" % rs)
schema = json.loads(rs[0][2])["schema"]
check(isinstance(schema, dict) and json.dumps(schema).count('"household"') >= 1,
      "schema answer: %r" % str(schema)[:300])
json_error(exchange(request(b"GET", b"/v1/schema", auth=False)), 401, "unauthorized",
           label="schema without a token")

# ---- connection floods -----------------------------------------------------------
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = min(hard, 4096) if hard != resource.RLIM_INFINITY else 4096
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
idle = []
case("one address holds at most 256 connections")
for i in range(400):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.1", port))
    idle.append(s)
time.sleep(1.0)
held = 0
for s in idle:
    s.setblocking(False)
    try:
        held += s.recv(1) != b""
    except BlockingIOError:
        held += 1
    except OSError:
        pass
log("     %d of 400 idle connections from one address held" % held)
check(held <= 256, "one address holds %d connections" % held)
for s in idle:
    s.close()
idle = []
n_idle = min(1500, want - 200)
case("%d idle connections from 30 addresses while a tablet syncs" % n_idle)
for i in range(n_idle):
    s = socket.socket()
    s.bind(("127.0.1.%d" % (1 + i % 30), 0))
    s.connect(("127.0.0.1", port))
    idle.append(s)
time.sleep(0.5)
t = Tablet("honest")
start = time.time()
rep = t.sync(url, tok, env={"MINQING_SYNC_RETRY_MS": "20000"})
took = time.time() - start
log("     honest sync with %d idle sockets held: %.1f s, %d changes" %
    (n_idle, took, rep["pulled"]))
check(rep["pulled"] > 0 and took < 20, "honest sync under an idle flood: %r" % rep)
# Held by the server, not refused: a new request on one of them is answered.
s = idle[-1]
s.sendall(request(b"GET", b"/v1/health"))
s.settimeout(5)
check(s.recv(100).startswith(b"HTTP/1.1 200"), "an idle connection was not served")
for s in idle:
    s.close()

# ---- afterwards: served as before, nothing changed but what was accepted -------------
rep = t.sync()
check(rep.get("ok"), "sync after the hostile requests: %r" % rep)
after = srv.export()
changed = sorted(k for k in after if after[k] != before.get(k))
check(changed == [hhs[1]], "records changed by the hostile requests: %r" % changed)
log("%d hostile cases" % count[0])
srv.stop()
done()
