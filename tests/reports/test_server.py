"""tests/reports/test_server.py - GET /v1/reports on a real minqing-server on
loopback: the same figures as `minqing report` on the same file, for the
areas of the device that asks (an area below them is served, one outside is
403, one that does not exist 404); CSV byte for byte the command's; XLSX
read back by openpyxl and checked cell by cell; the needs and overdue
lists; every bad parameter refused with 400 and a message naming it.

    python3 test_server.py MINQING MINQING_SERVER GEN_CARDS
"""
import os
import sys

# openpyxl comes from Debian's python3-openpyxl (scripts/deps): run under
# the Python that has it.
try:
    import openpyxl  # noqa: F401
except ImportError:
    if os.path.exists("/usr/bin/python3") and sys.executable != "/usr/bin/python3":
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("FAIL: no python3 with openpyxl (scripts/deps installs python3-openpyxl)")
    sys.exit(1)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sync"))
sys.path.insert(0, HERE)
import gzip  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402

import check_xlsx  # noqa: E402
from harness import *  # noqa: E402,F401,F403

SCHEMA = os.path.join(HERE, "..", "..", "core", "schema", "default.json")
DAY = "2012-06-30"

srv = Server()
data = dataset(1200)
srv.cli("import", data)
recs = srv.export()
areas = by_type(recs, "area")
villages = sorted(a["id"] for a in areas if a["fields"]["level"] == "village")
check(len(villages) == 2, "expected two villages in the 1200-household data set")
v1, v2 = villages
g1 = sorted(a["id"] for a in areas if a["fields"].get("parent") == v1)[0]
hh = sorted(h["id"] for h in by_type(recs, "household"))[0]
url = srv.start()
tok1 = srv.enroll("village1", [v1])
tok2 = srv.enroll("both", [v1, v2])


def get(token, query, headers=None):
    """(status, headers, body bytes) of GET /v1/reports?query."""
    req = urllib.request.Request(url + "/v1/reports" + ("?" + query if query else ""),
                                 headers=dict({"Authorization": "Bearer " + token},
                                              **(headers or {})))
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def mq(*args):
    """`minqing` on the server's own file: the same library, another process."""
    p = subprocess.run([MINQING, "--db", srv.db] + list(args), capture_output=True)
    check(p.returncode == 0, "minqing %s: %s" % (" ".join(args), p.stderr.decode()))
    return p.stdout


def refused(status, code, words, token, query):
    st, _, body = get(token, query)
    check(st == status, "%s: status %d, not %d: %s" % (query, st, status, body[:200]))
    e = json.loads(body)
    check("server_time" in e and e["error"]["code"] == code,
          "%s: answer %s, not error %s" % (query, e, code))
    for w in words:
        check(w in e["error"]["message"], "%s: message %r lacks %r" % (
            query, e["error"]["message"], w))


# The figures: the device's one area, as `minqing report --area` gives them.
st, h, body = get(tok1, "as-of=" + DAY)
check(st == 200 and h["Content-Type"] == "application/json", "JSON report: %d %s" % (
    st, h["Content-Type"]))
ans = json.loads(body)
check("server_time" in ans and len(ans["reports"]) == 1, "one report for one area")
want = json.loads(mq("report", "--format", "json", "--as-of", DAY, "--area", v1))
check(ans["reports"][0] == want, "the server's report of village 1 differs from minqing's")
check(want["total"]["needs"]["registered"] > 0, "village 1 has needs on " + DAY)
# gzip when asked, the same JSON
st, h, body = get(tok1, "as-of=" + DAY, {"Accept-Encoding": "gzip"})
check(h.get("Content-Encoding") == "gzip", "the JSON report is gzipped when asked")
check(json.loads(gzip.decompress(body))["reports"] == ans["reports"], "gzipped report")
# a device with two areas: a report each; --from as the command takes it
st, _, body = get(tok2, "as-of=2012-03-31&from=2012-01-01")
got = json.loads(body)["reports"]
check([r["area"] for r in got] == sorted([v1, v2]), "a report per area of the device")
check(got[1] == json.loads(mq("report", "--format", "json", "--as-of", "2012-03-31",
                              "--from", "2012-01-01", "--area", got[1]["area"])),
      "the second area's report with from")
# an area below the device's: served
st, _, body = get(tok1, "as-of=%s&area=%s" % (DAY, g1))
check(st == 200 and json.loads(body)["reports"][0]["areas"][0]["id"] == g1,
      "a group of the device's village is served")

# CSV: byte for byte the command's; XLSX: every cell against the JSON
st, h, body = get(tok1, "as-of=%s&format=csv" % DAY)
check(st == 200 and h["Content-Type"].startswith("text/csv"), "CSV: %d" % st)
check(body == mq("report", "--format", "csv", "--as-of", DAY, "--area", v1),
      "the server's CSV differs from minqing's")
check("report.csv" in h.get("Content-Disposition", ""), "CSV is an attachment")
st, h, body = get(tok1, "as-of=%s&format=xlsx" % DAY)
check(st == 200 and "spreadsheetml" in h["Content-Type"], "XLSX: %d" % st)
xlsx, js = os.path.join(WORK, "r.xlsx"), os.path.join(WORK, "r.json")
open(xlsx, "wb").write(body)
json.dump(want, open(js, "w", encoding="utf-8"), ensure_ascii=False)
check_xlsx.check_report(xlsx, js, SCHEMA)

# the lists: JSON lines as `minqing needs`, and the overdue list as XLSX
st, h, body = get(tok1, "as-of=%s&list=needs" % DAY)
check(st == 200 and h["Content-Type"].startswith("application/x-ndjson"), "needs: %d" % st)
check(body == mq("needs", "--as-of", DAY, "--area", v1), "the needs list differs")
st, h, body = get(tok1, "as-of=%s&list=overdue&format=xlsx" % DAY)
check(st == 200 and "overdue.xlsx" in h.get("Content-Disposition", ""), "overdue XLSX")
open(xlsx, "wb").write(body)
jl = os.path.join(WORK, "o.jsonl")
open(jl, "wb").write(mq("needs", "--overdue", "--as-of", DAY, "--area", v1))
check(os.path.getsize(jl) > 0, "village 1 has overdue needs")
check_xlsx.check_needs(xlsx, jl, SCHEMA)
st, _, body = get(tok1, "as-of=%s&list=needs&format=csv&category=medical" % DAY)
check(body == mq("needs", "--as-of", DAY, "--area", v1, "--category", "medical",
                 "--format", "csv"), "the filtered CSV list differs")

# scope: outside is 403, no such area 404, a household is not an area
refused(403, "forbidden", [v2, "village1"], tok1, "area=" + v2)
refused(404, "not_found", ["00000000-0000-4000-8000-000000000000"], tok1,
        "area=00000000-0000-4000-8000-000000000000")
refused(404, "not_found", [hh], tok1, "area=" + hh)
# bad parameters: 400 naming the parameter, the rule and the value
refused(400, "bad_parameter", ["as-of", "2012-02-30", "calendar"], tok1, "as-of=2012-02-30")
refused(400, "bad_parameter", ["from", "after"], tok1, "as-of=2012-01-01&from=2012-02-01")
refused(400, "bad_parameter", ["format", "pdf"], tok1, "format=pdf")
refused(400, "bad_parameter", ["list", "all"], tok1, "list=all")
refused(400, "bad_parameter", ["today", "not a parameter"], tok1, "today=2012-06-30")
refused(400, "bad_parameter", ["area", "UUID"], tok1, "area=zhonghe")
refused(400, "bad_parameter", ["category", "list"], tok1, "category=medical")
refused(400, "bad_request", ["category", "water"], tok1, "list=needs&category=water")
refused(400, "bad_parameter", ["area", "2 areas"], tok2, "format=xlsx")
refused(401, "unauthorized", [], "mqt_" + "0" * 64, "as-of=" + DAY)
done()
