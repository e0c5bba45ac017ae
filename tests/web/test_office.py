"""The office's host on minqing-server, over real processes: office accounts
(`minqing-server user add|list|remove`, the password on stdin, kept as a
salted PBKDF2 hash), sign-in and its cookie, sessions, the CSRF token and
the Origin check on every state-changing request, the slowing of repeated
failed sign-ins (429 with Retry-After), sign-out, devices enrolled and
revoked from the office (a revoked token no longer syncs), and two accounts
of different areas that cannot see or change each other's devices and
records.

Run by ctest as python3 test_office.py MINQING MINQING_SERVER GEN_CARDS;
it uses the sync tests' harness (real server on loopback, real tablets)."""
import hashlib
import http.client
import os
import re
import sqlite3
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sync"))
from harness import *  # noqa: E402,F401,F403 (the sync tests' harness)

PASSWORD = "correct horse 7"


class Office:
    """A client of the office's pages: its own cookie, as a browser keeps it."""

    def __init__(self, url, source="127.0.0.1", ctx=None):
        m = re.match(r"(https?)://([^:/]+):(\d+)", url)
        self.scheme, self.host, self.port = m.group(1), m.group(2), int(m.group(3))
        self.source = source
        self.ctx = ctx
        self.cookie = None
        self.csrf = None
        self.last_headers = {}

    def origin(self):
        return "%s://%s:%d" % (self.scheme, self.host, self.port)

    def request(self, method, path, body=None, headers=None, cookie=True, csrf=True,
                origin=None):
        h = {"Host": "%s:%d" % (self.host, self.port)}
        if cookie and self.cookie:
            h["Cookie"] = "mq_session=" + self.cookie
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        if origin:
            h["Origin"] = origin
        h.update(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if self.scheme == "https":
            c = http.client.HTTPSConnection(self.host, self.port, timeout=10,
                                            context=self.ctx)
        else:
            c = http.client.HTTPConnection(self.host, self.port, timeout=10,
                                           source_address=(self.source, 0))
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        self.last_headers = {k.lower(): v for k, v in r.getheaders()}
        self.last_cookies = r.msg.get_all("Set-Cookie") or []
        c.close()
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = raw
        return r.status, doc

    def sign_in(self, name, password, expect=200):
        s, doc = self.request("POST", "/api/session", {"name": name, "password": password},
                              cookie=False)
        check(s == expect, "sign-in of %s: %d (expected %d): %r" % (name, s, expect, doc))
        if s == 200:
            cookies = [c for c in self.last_cookies if c.startswith("mq_session=")]
            check(len(cookies) == 1, "sign-in set no session cookie: %r" % self.last_cookies)
            self.cookie = cookies[0].split(";")[0].split("=", 1)[1]
            self.csrf = doc["csrf"]
            self.set_cookie = cookies[0]
        return s, doc


def user_add(srv, name, areas, password=PASSWORD, expect=0):
    args = ["user", "add", name]
    for a in areas:
        args += ["--area", a]
    p = srv.cli(*args, input=password + "\n" if password is not None else "", check=False)
    check(p.returncode == expect, "user add %s: exit %d (expected %d): %s" %
          (name, p.returncode, expect, p.stderr))
    return p


def users(srv):
    return {u["name"]: u for u in read_jsonl(srv.cli("user", "list").stdout)}


def devices(srv):
    return {d["name"]: d for d in read_jsonl(srv.cli("device", "list").stdout)}


srv = Server()
srv.cli("import", dataset(60))
recs = srv.export()
areas = by_type(recs, "area")
village = [a["id"] for a in areas if a["fields"]["level"] == "village"][0]
groups = sorted(a["id"] for a in areas if a["fields"]["level"] == "group")
g1, g2 = groups[0], groups[1]
scope = Scope(recs)

# ---- accounts on the command line ------------------------------------------
user_add(srv, "alice", [g1])
user_add(srv, "bob", [g2], password="another secret")
before = users(srv)
check(sorted(before) == ["alice", "bob"], "user list: %r" % before)
check(before["alice"]["areas"] == [g1], "alice's areas: %r" % before["alice"])
listing = srv.cli("user", "list").stdout
check(PASSWORD not in listing and "hash" not in listing and "salt" not in listing,
      "user list shows a secret: %s" % listing)

p = user_add(srv, "carol", [g1], password="short", expect=2)
check("at least 8" in p.stderr, "short password: %s" % p.stderr)
p = user_add(srv, "carol", [g1], password=None, expect=2)
check("password" in p.stderr, "no password: %s" % p.stderr)
p = user_add(srv, "carol", [g1], password="", expect=2)
check("empty" in p.stderr, "empty password: %s" % p.stderr)
p = user_add(srv, "ca rol", [g1], expect=2)
check("A-Za-z0-9" in p.stderr, "bad name: %s" % p.stderr)
p = user_add(srv, "carol", ["no-such-area"], expect=2)
check("no-such-area" in p.stderr, "missing area: %s" % p.stderr)
hh = sorted(h["id"] for h in by_type(recs, "household"))
p = user_add(srv, "carol", [hh[0]], expect=2)
check("not a live area" in p.stderr, "a household as area: %s" % p.stderr)
p = user_add(srv, "alice", [g1], expect=2)
check("already exists" in p.stderr, "duplicate: %s" % p.stderr)
p = srv.cli("user", "add", "carol", input=PASSWORD + "\n", check=False)
check(p.returncode == 2 and "--area" in p.stderr, "no area: %d %s" % (p.returncode, p.stderr))
p = srv.cli("user", "remove", "nobody", check=False)
check(p.returncode == 2 and "nobody" in p.stderr, "remove unknown: %s" % p.stderr)
check(users(srv) == before, "a refused user add changed the accounts")

# The password is kept as a salted, slow hash, never as itself.
user_add(srv, "dave", [g1])
with sqlite3.connect(srv.db) as db:
    rows = {r[0]: r[1:] for r in db.execute(
        "SELECT name, salt, iterations, hash FROM office_users")}
check(all(PASSWORD not in str(r) for r in rows.values()), "a password is stored")
check(rows["alice"][0] != rows["dave"][0] and rows["alice"][2] != rows["dave"][2],
      "two accounts with one password share a salt or hash")
check(all(len(r[0]) == 32 and len(r[2]) == 64 and r[1] >= 100000 for r in rows.values()),
      "salt, count or hash look wrong: %r" % rows)
salt, count, want = rows["alice"]
got = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), bytes.fromhex(salt), count).hex()
check(got == want, "the hash is not PBKDF2-HMAC-SHA256 of the password and salt")
srv.cli("user", "remove", "dave")
check("dave" not in users(srv), "user remove left dave")

url = srv.start()

# ---- sign-in, the cookie, the session --------------------------------------
a = Office(url)
s, doc = a.request("GET", "/api/devices")
check(s == 401 and doc["error"]["code"] == "unauthorized", "no session: %d %r" % (s, doc))
for path in ("/api/me", "/api/households?q=a", "/api/worklist"):
    s, _ = a.request("GET", path)
    check(s == 401, "%s without a session: %d" % (path, s))
a.cookie = "0" * 64
s, _ = a.request("GET", "/api/devices")
check(s == 401, "a made-up session: %d" % s)
a.cookie = None

s, doc = a.sign_in("alice", "wrong password", expect=401)
check(doc["error"]["code"] == "unauthorized", "wrong password: %r" % doc)
a.sign_in("nobody", PASSWORD, expect=401)
s, doc = a.request("POST", "/api/session", b"not json", cookie=False)
check(s == 400, "sign-in with a bad body: %d" % s)

s, doc = a.sign_in("alice", PASSWORD)
check(doc["name"] == "alice" and doc["areas"] == [g1], "sign-in answer: %r" % doc)
check(re.fullmatch(r"[0-9a-f]{64}", doc["csrf"]), "csrf token: %r" % doc["csrf"])
flags = [f.strip() for f in a.set_cookie.split(";")]
check(re.fullmatch(r"mq_session=[0-9a-f]{64}", flags[0]), "cookie value: %r" % flags[0])
check("HttpOnly" in flags and "SameSite=Strict" in flags and "Path=/" in flags,
      "cookie flags: %r" % flags)
check("Secure" not in flags, "Secure on a plain-HTTP cookie: %r" % flags)
check(a.cookie not in open(srv.db, "rb").read().decode("latin-1"),
      "the session token is stored as itself")
with sqlite3.connect(srv.db) as db:
    hashes = [r[0] for r in db.execute("SELECT token_hash FROM office_sessions")]
check(hashlib.sha256(a.cookie.encode()).hexdigest() in hashes,
      "the session's SHA-256 is not what is stored")
h = a.last_headers
check("default-src 'self'" in h.get("content-security-policy", "") and
      h.get("x-content-type-options") == "nosniff" and
      h.get("x-frame-options") == "DENY" and h.get("cache-control") == "no-store",
      "security headers: %r" % h)

s, doc = a.request("GET", "/api/devices")
check(s == 200 and doc == [], "devices of a fresh server: %d %r" % (s, doc))

# ---- CSRF and Origin --------------------------------------------------------
cadre = sorted(r["id"] for r in by_type(recs, "cadre"))[0]
enrol = {"name": "tab-a", "areas": [g1], "cadre": cadre}
s, doc = a.request("POST", "/api/devices", enrol, csrf=False)
check(s == 403 and doc["error"]["code"] == "forbidden", "no CSRF token: %d %r" % (s, doc))
s, _ = a.request("POST", "/api/devices", enrol, headers={"X-CSRF-Token": "0" * 64})
check(s == 403, "a wrong CSRF token: %d" % s)
s, _ = a.request("POST", "/api/devices", enrol, headers={"X-CSRF-Token": ""})
check(s == 403, "an empty CSRF token: %d" % s)
other = Office(url)
other.sign_in("bob", "another secret")
s, _ = a.request("POST", "/api/devices", enrol, headers={"X-CSRF-Token": other.csrf})
check(s == 403, "another session's CSRF token: %d" % s)
s, _ = a.request("POST", "/api/devices", enrol, origin="http://evil.example")
check(s == 403, "a foreign Origin: %d" % s)
s, _ = a.request("POST", "/api/devices", enrol, origin="null")
check(s == 403, "Origin null: %d" % s)
check("tab-a" not in devices(srv), "a refused enrolment wrote a device")
s, _ = a.request("POST", "/api/session", {"name": "alice", "password": PASSWORD},
                 cookie=False, origin="http://evil.example")
check(s == 403, "a sign-in from a foreign Origin: %d" % s)

s, doc = a.request("POST", "/api/devices", enrol, origin=a.origin())
check(s == 201 and doc["name"] == "tab-a" and doc["token"].startswith("mqt_"),
      "enrol: %d %r" % (s, doc))
token_a = doc["token"]
check(devices(srv)["tab-a"]["areas"] == [g1], "enrolled device: %r" % devices(srv))

# Bad input names the field and writes nothing.
s, doc = a.request("POST", "/api/devices", {"name": "bad name", "areas": [g1]})
check(s == 400 and "name" in doc["error"].get("fields", {}), "bad device name: %r" % doc)
s, doc = a.request("POST", "/api/devices", {"name": "tab-x", "areas": []})
check(s == 400 and "areas" in doc["error"].get("fields", {}), "no areas: %r" % doc)
s, doc = a.request("POST", "/api/devices", {"name": "tab-a", "areas": [g1]})
check(s == 400 and "already exists" in doc["error"]["message"], "taken name: %r" % doc)
s, doc = a.request("POST", "/api/devices", b"{", headers={})
check(s == 400, "enrol with a broken body: %d" % s)
check(sorted(devices(srv)) == ["tab-a"], "refused enrolments wrote: %r" % devices(srv))

# ---- the enrolled tablet syncs; the revoked one no longer does -------------
t = Tablet("tab-a")
rep = t.sync(url, token_a)
check(rep["pulled"] > 0, "the office-enrolled tablet pulled nothing: %r" % rep)
mine = t.export()
check(all(scope.within(scope.area_of(r), {g1}) or scope.area_of(r) is None
          for r in mine.values() if r["type"] in ("household", "member")),
      "the tablet of group 1 received a household outside it")

# ---- two accounts of different areas ----------------------------------------
b = other
s, doc = b.request("GET", "/api/devices")
check(s == 200 and doc == [], "bob sees devices of alice's area: %r" % doc)
s, doc = b.request("POST", "/api/devices/tab-a/revoke")
check(s == 404, "bob revoked alice's device: %d %r" % (s, doc))
check(not devices(srv)["tab-a"]["revoked"], "bob's refused revoke revoked the device")
s, doc = b.request("POST", "/api/devices", {"name": "tab-b", "areas": [g1]})
check(s == 403 and "outside" in doc["error"]["message"], "bob enrolled in g1: %r" % doc)
s, doc = a.request("POST", "/api/devices", {"name": "tab-v", "areas": [village]})
check(s == 403, "alice enrolled for the whole village above her group: %d" % s)
check(sorted(devices(srv)) == ["tab-a"], "refused enrolments wrote: %r" % devices(srv))
s, doc = b.request("POST", "/api/devices", {"name": "tab-b", "areas": [g2]})
check(s == 201, "bob's own enrolment: %d %r" % (s, doc))
s, doc = a.request("GET", "/api/devices")
check([d["name"] for d in doc] == ["tab-a"], "alice sees: %r" % doc)
s, doc = b.request("GET", "/api/devices")
check([d["name"] for d in doc] == ["tab-b"], "bob sees: %r" % doc)

s, doc = a.request("POST", "/api/devices/tab-a/revoke", origin="http://evil.example")
check(s == 403 and not devices(srv)["tab-a"]["revoked"], "a foreign revoke: %d" % s)
s, doc = a.request("POST", "/api/devices/tab-a/revoke", csrf=False)
check(s == 403 and not devices(srv)["tab-a"]["revoked"], "a revoke without CSRF: %d" % s)
s, doc = a.request("POST", "/api/devices/tab-a/revoke")
check(s == 200 and doc.get("revoked") is True, "revoke: %d %r" % (s, doc))
check(devices(srv)["tab-a"]["revoked"], "the device list does not say revoked")
s, doc = a.request("GET", "/api/devices")
check(doc[0]["revoked"] is True, "the office's list does not say revoked: %r" % doc)
rep = t.sync(expect=4)
check("revoked" in rep["stderr"], "the revoked tablet synced: %s" % rep["stderr"])

# ---- records of the two accounts' areas, through the API -------------------
s, me = a.request("GET", "/api/me")
check(s == 200 and me["host"] == "office" and me["name"] == "alice" and
      me["csrf"] == a.csrf and [x["id"] for x in me["areas"]] == [g1], "me: %d %r" % (s, me))
h1 = sorted(h["id"] for h in by_type(recs, "household")
            if scope.within(h["fields"]["area"], {g1}))[0]
h2 = sorted(h["id"] for h in by_type(recs, "household")
            if scope.within(h["fields"]["area"], {g2}))[0]
s, doc = a.request("GET", "/api/households/" + h1)
check(s == 200 and doc["household"]["id"] == h1, "alice reads her household: %d" % s)
for path in ("/api/households/" + h1, "/api/records/" + h1):
    s, doc = b.request("GET", path)
    check(s == 404, "bob reads alice's household at %s: %d" % (path, s))
s, doc = a.request("GET", "/api/households/" + h2)
check(s == 404, "alice reads bob's household: %d" % s)
head = recs[h1]["fields"]["head_name"]
s, doc = b.request("GET", "/api/households?q=" + urllib.parse.quote(head))
check(s == 200 and h1 not in [x["id"] for x in doc], "bob's search finds alice's: %r" % doc)
s, doc = a.request("GET", "/api/households?q=" + urllib.parse.quote(head))
check(s == 200 and h1 in [x["id"] for x in doc], "alice's search misses hers: %r" % doc)
phone = recs[h1]["fields"].get("phone")
s, doc = b.request("PUT", "/api/records/" + h1, {"fields": {"phone": "13900000001"}})
check(s in (403, 404), "bob changed alice's household: %d %r" % (s, doc))
s, doc = a.request("PUT", "/api/records/" + h1, {"fields": {"phone": "13900000002"}},
                   csrf=False)
check(s == 403, "a change without CSRF: %d" % s)
s, doc = a.request("PUT", "/api/records/" + h1, {"fields": {"phone": "13900000003"}},
                   origin="http://evil.example")
check(s == 403, "a change from a foreign Origin: %d" % s)
s, doc = a.request("PUT", "/api/records/" + h1, {"fields": {"phone": "12"}})
check(s == 400 and "phone" in doc["error"].get("fields", {}), "a bad phone: %d %r" % (s, doc))
check(srv.export()[h1]["fields"].get("phone") == phone, "a refused change was written")
s, doc = a.request("PUT", "/api/records/" + h1, {"fields": {"phone": "13900000004"}})
check(s == 200, "alice's change: %d %r" % (s, doc))
check(srv.export()[h1]["fields"].get("phone") == "13900000004", "alice's change is not stored")

# ---- sign-out ----------------------------------------------------------------
c = Office(url)
c.sign_in("alice", PASSWORD)
s, _ = c.request("DELETE", "/api/session", csrf=False)
check(s == 403, "sign-out without CSRF: %d" % s)
s, _ = c.request("GET", "/api/devices")
check(s == 200, "a refused sign-out ended the session: %d" % s)
s, doc = c.request("DELETE", "/api/session")
check(s == 200, "sign-out: %d %r" % (s, doc))
gone = [x for x in c.last_cookies if x.startswith("mq_session=;") or x.startswith("mq_session=")]
check(gone and "Max-Age=0" in gone[0], "sign-out did not clear the cookie: %r" % c.last_cookies)
s, _ = c.request("GET", "/api/devices")
check(s == 401, "the signed-out session still works: %d" % s)
s, _ = a.request("GET", "/api/devices")
check(s == 200, "signing out one session ended another: %d" % s)

# A removed account's sessions end at once, in the running server.
srv.cli("user", "remove", "bob")
s, _ = b.request("GET", "/api/devices")
check(s == 401, "a removed account's session still works: %d" % s)
b.sign_in("bob", "another secret", expect=401)

# ---- repeated failures are slowed -------------------------------------------
user_add(srv, "erin", [g2])
e = Office(url)
for i in range(3):
    e.sign_in("erin", "not it %d" % i, expect=401)
e.sign_in("erin", PASSWORD)  # a success clears the count
for i in range(4):
    e.sign_in("erin", "not it %d" % i, expect=401)
s, doc = e.sign_in("erin", "still not it", expect=401)  # the fifth failure
s, doc = e.sign_in("erin", PASSWORD, expect=429)  # refused even when right
check(doc["error"]["code"] == "too_many", "429's error: %r" % doc)
wait = int(e.last_headers.get("retry-after", "0"))
check(1 <= wait <= 5, "Retry-After: %r" % e.last_headers)
a.sign_in("alice", PASSWORD)  # another name from the same address is not slowed
time.sleep(wait + 0.2)
e.sign_in("erin", "wrong again", expect=401)
s, doc = e.sign_in("erin", PASSWORD, expect=429)
wait2 = int(e.last_headers.get("retry-after", "0"))
check(wait2 > wait and wait2 <= 10, "the wait did not grow: %d then %d" % (wait, wait2))

# Per address: many names from one address (127.0.0.2), then that address is
# slowed, and 127.0.0.1 is not.
f = Office(url, source="127.0.0.2")
for i in range(20):
    f.sign_in("guess%d" % i, "whatever1", expect=401)
s, doc = f.sign_in("alice", PASSWORD, expect=429)
check(int(f.last_headers.get("retry-after", "0")) >= 1, "no Retry-After: %r" % f.last_headers)
a.sign_in("alice", PASSWORD)

# ---- behind a reverse proxy ------------------------------------------------
# With --trusted-proxy 127.0.0.3, what that address forwards is counted by
# the client it names (the last address of X-Forwarded-For, the one the
# proxy added): one guesser behind the proxy is slowed, the other clerks
# behind it are not.  Anyone else's X-Forwarded-For is ignored.
srv.stop()
url = srv.start(options=["--trusted-proxy", "127.0.0.3,::1"])
p = Office(url, source="127.0.0.3")


def via(addr):
    return {"X-Forwarded-For": addr}


for i in range(20):
    s, _ = p.request("POST", "/api/session", {"name": "guess%d" % i, "password": "whatever1"},
                     headers=via("203.0.113.9, 10.7.0.5"), cookie=False)
    check(s == 401, "guess %d through the proxy: %d" % (i, s))
s, _ = p.request("POST", "/api/session", {"name": "alice", "password": PASSWORD},
                 headers=via("10.7.0.5"), cookie=False)
check(s == 429, "the guesser behind the proxy is not slowed: %d" % s)
# Another sender naming that guesser is not believed: counted as itself.
s, _ = Office(url, source="127.0.0.4").request(
    "POST", "/api/session", {"name": "alice", "password": PASSWORD},
    headers=via("10.7.0.5"), cookie=False)
check(s == 200, "an untrusted sender's X-Forwarded-For was believed: %d" % s)
# The guesser's own first address is its word, not the proxy's: not counted.
s, _ = p.request("POST", "/api/session", {"name": "alice", "password": PASSWORD},
                 headers=via("203.0.113.9"), cookie=False)
check(s == 200, "an address the guesser wrote was counted: %d" % s)
s, _ = p.request("POST", "/api/session", {"name": "alice", "password": PASSWORD},
                 headers=via("10.7.0.6"), cookie=False)
check(s == 200, "another clerk behind the proxy is slowed: %d" % s)
# The proxy's own requests, without the header, are the proxy's.
s, _ = p.request("POST", "/api/session", {"name": "alice", "password": PASSWORD},
                 cookie=False)
check(s == 200, "the proxy itself is slowed: %d" % s)
for bad in ("10.7.0.8 x", "not-an-address", "10.7.0.8, ", ""):
    # Malformed forwarding counts as the proxy's own, never as a new client.
    s, _ = p.request("POST", "/api/session", {"name": "alice", "password": PASSWORD},
                     headers=via(bad), cookie=False)
    check(s == 200, "X-Forwarded-For %r: %d" % (bad, s))
r = srv.cli("serve", "--trusted-proxy", "proxy.example", check=False)
check(r.returncode == 2 and "is not a numeric address" in r.stderr,
      "--trusted-proxy with a name: %d %s" % (r.returncode, r.stderr))
# (The server keeps the option from here on: no other test's address is a
# trusted one.  The sessions of before the restart are the file's.)
s, _ = a.request("GET", "/api/devices")
check(s == 200, "a session did not outlive the restart: %d" % s)

# ---- assets and other paths -------------------------------------------------
s, page = a.request("GET", "/", cookie=False)
check(s == 200 and b"<html" in page.lower() if isinstance(page, bytes) else False,
      "the app's page: %d %r" % (s, page))
check(a.last_headers.get("content-type", "").startswith("text/html") and
      "default-src 'self'" in a.last_headers.get("content-security-policy", ""),
      "the page's headers: %r" % a.last_headers)
etag = a.last_headers.get("etag")
s, _ = a.request("GET", "/", cookie=False, headers={"If-None-Match": etag})
check(s == 304, "the page again with its ETag: %d" % s)
s, _ = a.request("POST", "/", b"x", cookie=False)
check(s == 405, "POST to the page: %d" % s)
s, _ = a.request("GET", "/v1/health")
check(s == 200, "the sync protocol beside the office: %d" % s)
s, doc = a.request("GET", "/no/such/page")
check(s == 404, "an unknown page: %d" % s)
check(a.last_headers.get("x-frame-options") == "DENY", "no security headers on a 404")

srv.stop()

# ---- over TLS the cookie is Secure ------------------------------------------
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                "tls.key", "-out", "tls.pem", "-days", "2", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1"],
               check=True, capture_output=True, cwd=WORK)
pem, key = os.path.join(WORK, "tls.pem"), os.path.join(WORK, "tls.key")
tls_url = srv.start(tls=(pem, key, pem))
check(tls_url.startswith("https://"), "not https: " + tls_url)
g = Office(tls_url, ctx=ssl.create_default_context(cafile=pem))
s, doc = g.sign_in("alice", PASSWORD)
check("Secure" in [x.strip() for x in g.set_cookie.split(";")], "no Secure over TLS: %r" %
      g.set_cookie)
s, _ = g.request("POST", "/api/devices", {"name": "tab-t", "areas": [g1]},
                 origin="http://" + tls_url.split("://")[1])
check(s == 403, "an http Origin for an https server: %d" % s)
s, _ = g.request("POST", "/api/devices", {"name": "tab-t", "areas": [g1]}, origin=g.origin())
check(s == 201, "enrol over TLS: %d" % s)
srv.stop()
done()
