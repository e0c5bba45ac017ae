"""tests/web/test_api.py - the tablet's web app host through real processes:
`minqing ui` on loopback over a store made from gen_cards.py, driven over
HTTP with Python's standard library, and checked with `minqing` commands.

    python3 test_api.py MINQING GEN_CARDS

What it shows: the secret and the Host header are checked (401 / 403) and
assets need neither; every endpoint of docs/UI.md answers; bad input gets a
4xx JSON error naming the field and writes nothing (the store's export is
byte for byte the same before and after); a need gets its defaults; close,
transfer and reopen move a need in and out of the work list, which puts
overdue needs first; a conflict made by a second replica is listed with its
authors' names and resolved; exports are CSV and XLSX; a non-loopback
--listen is refused; SIGTERM stops the host with exit 0.
"""
import hashlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from urllib.parse import quote

MINQING, GEN = (os.path.abspath(p) for p in sys.argv[1:3])
WORK = tempfile.mkdtemp(prefix="mq-web-")
DB = os.path.join(WORK, "tablet.db")


def fail(msg):
    print("FAIL:", msg, "(work folder kept: %s)" % WORK, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def mq(*args, db=DB, stdin=None, ok=True):
    r = subprocess.run([MINQING, "--db", db] + list(args), input=stdin, capture_output=True,
                       text=True, timeout=120)
    if ok and r.returncode != 0:
        fail("minqing %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr))
    return r


def export_digest():
    return hashlib.sha256(mq("export").stdout.encode()).hexdigest()


# ---- the store: a township of gen_cards.py, this tablet's cadre ------------------
cards = os.path.join(WORK, "cards.jsonl")
with open(cards, "w") as f:
    subprocess.run([sys.executable, GEN, "--households", "40"], stdout=f, check=True)
rows = [json.loads(line) for line in open(cards, encoding="utf-8")]
cadres = [r for r in rows if r["type"] == "cadre"]
households = [r for r in rows if r["type"] == "household"]
CADRE, OTHER = cadres[0]["id"], cadres[1]["id"]
mq("init", "--site", "tab1", "--cadre", CADRE)
mq("import", cards)

# ---- the host ------------------------------------------------------------------------
r = mq("ui", "--listen", "0.0.0.0:0", ok=False)
check(r.returncode == 2 and "127.0.0.1" in r.stderr, "a non-loopback --listen: %r" % (r,))

ui = subprocess.Popen([MINQING, "--db", DB, "ui", "--listen", "127.0.0.1:0"],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
line = ui.stdout.readline().strip()
check(line.startswith("minqing ui: open http://127.0.0.1:"), "the address line: %r" % line)
url = line.split("open ", 1)[1]
PORT = int(url.split(":")[2].split("/")[0])
SECRET = url.split("#k=", 1)[1]
check(len(SECRET) >= 32, "a secret of 128 bits or more")


def call(method, path, body=None, secret=SECRET, host=None, raw=None, headers=None):
    """(status, headers, body bytes, parsed JSON or None)."""
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    h = {"Host": host or "127.0.0.1:%d" % PORT}
    if secret is not None:
        h["X-Minqing-Secret"] = secret
    h.update(headers or {})
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        h["Content-Type"] = "application/json"
    c.request(method, quote(path, safe="/?&=%"), body=data, headers=h)
    resp = c.getresponse()
    payload = resp.read()
    c.close()
    js = None
    if resp.getheader("Content-Type", "").startswith("application/json"):
        js = json.loads(payload)
    return resp.status, resp, payload, js


def ok(method, path, body=None, status=200):
    s, _, p, js = call(method, path, body)
    check(s == status, "%s %s: %d, expected %d: %s" % (method, path, s, status, p[:300]))
    return js


def refused(method, path, body=None, status=400, field=None, raw=None):
    s, _, p, js = call(method, path, body, raw=raw)
    check(s == status, "%s %s: %d, expected %d: %s" % (method, path, s, status, p[:300]))
    check(js is not None and "error" in js and js["error"]["message"],
          "%s %s: a JSON error: %s" % (method, path, p[:200]))
    if field is not None:
        check(field in js["error"].get("fields", {}),
              "%s %s: the error names field %s: %s" % (method, path, field, js))
    return js


try:
    # -- who may ask ----------------------------------------------------------------
    s, resp, page, _ = call("GET", "/", secret=None)
    check(s == 200 and b"<html" in page, "the page is served without a secret")
    check("default-src 'self'" in resp.getheader("Content-Security-Policy", ""), "CSP")
    check(resp.getheader("X-Content-Type-Options") == "nosniff", "nosniff")
    check(resp.getheader("X-Frame-Options") == "DENY", "X-Frame-Options")
    check(resp.getheader("Cache-Control") == "no-store", "no-store")
    check(call("GET", "/api/me", secret=None)[0] == 401, "no secret: 401")
    check(call("GET", "/api/me", secret=SECRET[:-1] + ("0" if SECRET[-1] != "0" else "1"))[0]
          == 401, "a wrong secret: 401")
    check(call("GET", "/api/me", host="evil.example:%d" % PORT)[0] == 403,
          "a foreign Host: 403")
    check(call("GET", "/", secret=None, host="evil.example")[0] == 403,
          "a foreign Host is refused for the page too")
    check(call("GET", "/nope.js", secret=None)[0] == 404, "an unknown asset: 404")

    # -- every endpoint answers ------------------------------------------------------
    me = ok("GET", "/api/me")
    check(me["host"] == "tablet" and me["cadre"]["id"] == CADRE and me["cadre"]["name"],
          "me: the tablet's cadre by name: %s" % me)
    schema = ok("GET", "/api/schema")
    check("household" in schema["types"] and "head_id_number" in
          schema["types"]["household"]["fields"], "schema: the household's fields")
    h0 = households[0]
    hits = ok("GET", "/api/households?q=" + h0["fields"]["head_name"][:1] + "&limit=200")
    check(any(x["id"] == h0["id"] for x in hits), "search by the head's first character")
    hits = ok("GET", "/api/households?q=" + h0["fields"]["head_id_number"][-6:])
    check(hits and hits[0]["id"] == h0["id"] and hits[0]["area_name"],
          "search by identity number: %s" % hits[:1])
    members = [r for r in rows if r["type"] == "member" and r["fields"]["household"] == h0["id"]]
    if members:
        hits = ok("GET", "/api/households?q=" + members[0]["fields"]["name"] + "&limit=200")
        check(any(x["id"] == h0["id"] for x in hits), "a member's name finds its household")
    addr = h0["fields"].get("address")
    if addr:
        hits = ok("GET", "/api/households?q=" + addr + "&limit=200")
        check(any(x["id"] == h0["id"] and x["matched"] == "address" for x in hits),
              "search by address")
    refused("GET", "/api/households", field="q")
    refused("GET", "/api/households?q=a&limit=0", field="limit")
    file0 = ok("GET", "/api/households/" + h0["id"])
    check(file0["household"]["id"] == h0["id"] and len(file0["members"]) == len(members),
          "the household's file with its members")
    check(file0["history"] and all("by_name" in e and e["day"] for e in file0["history"]),
          "the history names the cadre and the day")
    ok("GET", "/api/records/" + h0["id"])
    refused("GET", "/api/records/not-an-id", status=404)
    ok("GET", "/api/worklist")
    ok("GET", "/api/needs?status=overdue")
    refused("GET", "/api/needs?status=nonsense", field=None)
    ok("GET", "/api/conflicts")
    rep = ok("GET", "/api/reports")
    check(rep["total"]["households"] == len(households), "the report counts the households")
    refused("GET", "/api/reports?as_of=2024-02-30", field="as_of")
    st = ok("GET", "/api/sync")
    check(st["running"] is False, "no sync running")
    refused("GET", "/api/nothing/here", status=404)

    # -- exports ----------------------------------------------------------------------
    for path in ("/api/reports/export", "/api/needs/export"):
        s, resp, body, _ = call("GET", path + "?format=csv")
        check(s == 200 and body.startswith(b"\xef\xbb\xbf"), path + " csv: a BOM")
        check("attachment" in resp.getheader("Content-Disposition", ""), "a download")
        s, resp, body, _ = call("GET", path + "?format=xlsx")
        check(s == 200 and body[:2] == b"PK" and "spreadsheetml" in
              resp.getheader("Content-Type"), path + " xlsx: a zip of OOXML")
        refused("GET", path + "?format=pdf", field="format")

    # -- bad input writes nothing -----------------------------------------------------
    before = export_digest()
    area = h0["fields"]["area"]
    bad_id = dict(area=area, head_name="测试", head_id_number="532327194407126141")
    js = refused("POST", "/api/records/household", {"fields": bad_id}, field="head_id_number")
    check("check digit" in js["error"]["fields"]["head_id_number"], "the rule: %s" % js)
    refused("POST", "/api/records/household", {"fields": {"area": area, "head_name": "测试"}},
            field="head_id_number")
    refused("POST", "/api/records/household", raw=b"{\"fields\": {", field=None)
    refused("POST", "/api/records/household", raw=b"[1,2]")
    refused("POST", "/api/records/household", raw=b"{\"fields\":{\"head_name\":\"a\\u0000\"}}")
    big = b"{\"fields\":{\"head_name\":\"" + b"x" * (1 << 20) + b"\"}}"
    s, _, p, js = call("POST", "/api/records/household", raw=big)
    check(s == 413 and js["error"]["code"] == "too_large", "too large: %d %s" % (s, p[:100]))
    refused("POST", "/api/records/spaceship", {"fields": {"name": "x"}}, field="type")
    refused("PUT", "/api/records/" + h0["id"], {"fields": {"phone": "12"}}, field="phone")
    refused("PUT", "/api/records/" + h0["id"], {"fields": {"nope": 1}})
    refused("PUT", "/api/records/" + h0["id"], {"fields": {}, "extra": 1}, field="extra")
    refused("DELETE", "/api/records/" + h0["id"], status=405)
    refused("POST", "/api/conflicts/resolve", {"value": 1}, field="conflict")
    check(export_digest() == before, "refused requests wrote nothing")

    # -- a need: defaults, the work list, close / transfer / reopen ------------------
    made = ok("POST", "/api/records/need", {"fields": {
        "household": h0["id"], "category": "drinking_water", "description": "水管坏了"}},
        status=201)
    nid = made["id"]
    need = ok("GET", "/api/records/" + nid)["fields"]
    check(need.get("recorded_by") == CADRE, "recorded_by defaults to the cadre: %s" % need)
    check(need.get("recorded_at") == me["today"], "recorded_at defaults to today: %s" % need)
    check(need.get("deadline"), "the deadline is filled from the category: %s" % need)
    work = ok("GET", "/api/worklist")
    ids = [w["id"] for w in work]
    check(nid in ids, "the new need is on the cadre's work list")
    days = [w["days_left"] for w in work if "days_left" in w]
    check(days == sorted(days), "overdue first, then by deadline: %s" % days)
    check(next(w for w in work if w["id"] == nid)["days_left"] == 15,
          "a drinking-water need has 15 days")
    ok("POST", "/api/needs/%s/close" % nid,
       {"note": "修好了", "amount_yuan": 300, "satisfaction": "satisfied"}, status=201)
    check(nid not in [w["id"] for w in ok("GET", "/api/worklist")], "closed: off the list")
    refused("POST", "/api/needs/%s/close" % nid, {}, status=409)
    refused("POST", "/api/needs/%s/reopen" % nid, {"note": "又坏了", "colour": "red"},
            field="colour")
    ok("POST", "/api/needs/%s/reopen" % nid, {"note": "又坏了"}, status=201)
    check(nid in [w["id"] for w in ok("GET", "/api/worklist")], "reopened: on the list again")
    refused("POST", "/api/needs/%s/transfer" % nid, {"note": "x"}, field="to")
    ok("POST", "/api/needs/%s/transfer" % nid, {"to": OTHER, "note": "交给你"}, status=201)
    check(nid not in [w["id"] for w in ok("GET", "/api/worklist")],
          "transferred: off this cadre's list")
    hf = ok("GET", "/api/households/" + h0["id"])
    n = next(x for x in hf["needs"] if x["id"] == nid)
    check(n["handler"] == OTHER and len(n["actions_list"]) == 3, "the file shows the acts")
    check(any(e["record"] == nid for e in hf["history"]), "the need's changes in the history")

    # -- a conflict from a second replica --------------------------------------------
    db2 = os.path.join(WORK, "tablet2.db")
    bundle = os.path.join(WORK, "a.bundle")
    mq("changes", "-o", bundle)
    mq("init", "--site", "tab2", "--cadre", OTHER, db=db2)
    mq("apply", bundle, db=db2)
    mq("put", "household", "--id", h0["id"], db=db2, stdin='{"phone":"13900000001"}')
    ok("PUT", "/api/records/" + h0["id"], {"fields": {"phone": "13900000002"}})
    back = os.path.join(WORK, "b.bundle")
    mq("changes", "-o", back, db=db2)
    mq("apply", back)
    conflicts = ok("GET", "/api/conflicts")
    c = next((x for x in conflicts if x["id"] == h0["id"] and x["field"] == "phone"), None)
    check(c is not None and c["label"] == h0["fields"]["head_name"], "the conflict: %s" % conflicts)
    names = {x.get("by_name") for x in c["candidates"]}
    check(cadres[0]["fields"]["name"] in names and cadres[1]["fields"]["name"] in names,
          "both authors by name: %s" % c["candidates"])
    ok("POST", "/api/conflicts/resolve", {"conflict": c["conflict"], "value": "13900000002"})
    check(not [x for x in ok("GET", "/api/conflicts") if x["id"] == h0["id"]], "resolved")
    check(mq("get", h0["id"]).stdout.count("13900000002") == 1, "the chosen value kept")

    # -- the sync without a remembered server -----------------------------------------
    s, _, p, js = call("POST", "/api/sync")
    check(s in (409, 501) and js["error"]["message"], "sync without a server: %d %s" % (s, p))
finally:
    ui.send_signal(signal.SIGTERM)
    try:
        rc = ui.wait(timeout=20)
    except subprocess.TimeoutExpired:
        ui.kill()
        rc = None
check(rc == 0, "SIGTERM stops `minqing ui` with exit 0, not %r" % rc)
print("ok", flush=True)
shutil.rmtree(WORK, ignore_errors=True)
