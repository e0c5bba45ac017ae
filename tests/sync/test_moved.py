"""A household that moves into a device's areas reaches it whole, and one
that moves out is told (docs/PROTOCOL.md 3.4, "Records that move").

A server with two villages, tablet A of village 1 and tablet B of village
2, both synced; a county tablet moves a household of village 1, with its
members, needs, their actions, a visit and a contact card, to a group of
village 2.  B, whose cursor passed that history while the household was in
village 1, must end with every record of it equal to the server's, whole,
with its whole history, also when its pull is cut into pages of a few
changes and killed midway.  A learns the move (its copy shows the new area),
keeps what it had, receives nothing more of the household, and an edit it
made meanwhile is refused by the server and kept in `minqing rejected`.
Prints the bytes a move costs and the medians of normal pulls."""
import sqlite3
import statistics
import urllib.error

from harness import *

ID_NUMBER = "532327198001010015"


def server_replica(srv, *args):
    p = subprocess.run([MINQING, "--db", srv.db] + list(args), capture_output=True,
                       text=True)
    if p.returncode != 0:
        fail("minqing %s on the server's file: %s" % (" ".join(args), p.stderr))
    return p.stdout


def history(run, rid):
    """A record's history as (v, set, base), whoever prints it."""
    return [(c["v"], c["set"], c.get("base")) for c in read_jsonl(run("history", rid))]


def subtree(recs, root):
    """The ids of `root` and of every record whose scope path leads to it."""
    ids = {root}
    grew = True
    while grew:
        grew = False
        for rid, r in recs.items():
            f = r["fields"]
            up = f.get("household") or f.get("need")
            if r["type"] == "area":
                up = f.get("parent")
            if rid not in ids and up in ids:
                ids.add(rid)
                grew = True
    return ids


def pull_cursor(tablet):
    """The tablet's stored pull cursor, read beside a running sync."""
    con = sqlite3.connect("file:%s?mode=ro" % tablet.db, uri=True, timeout=5)
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'setting.sync.pull.cursor'"
                          ).fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        con.close()
    return row[0] if row else None


srv = Server()
srv.cli("import", dataset(200))
recs = srv.export()
areas = by_type(recs, "area")
county = [a["id"] for a in areas if a["fields"]["level"] == "county"][0]
town = [a["id"] for a in areas if a["fields"]["level"] == "township"][0]
v1 = [a["id"] for a in areas if a["fields"]["level"] == "village"][0]
v1_groups = sorted(a["id"] for a in areas if a["fields"].get("parent") == v1)
cadres = sorted(r["id"] for r in by_type(recs, "cadre"))
url = srv.start()

# The county creates village 2 and a group in it.
c = Tablet("county")
c.sync(url, srv.enroll("county", [county], cadre=cadres[0]))
v2 = c.put("area", {"name": "新和村委会", "level": "village", "parent": town})
g2 = c.put("area", {"name": "新和村民小组", "level": "group", "parent": v2})

# A household of village 1 with 5 members, 3 needs (each with actions), a
# visit and a contact card, recorded at the county.
def household(name, group):
    h = c.put("household", {"area": group, "head_name": name, "head_id_number": ID_NUMBER,
                            "phone": "13900000000", "size": 5})
    for i, rel in enumerate(["户主", "配偶", "子", "女", "母亲"]):
        c.put("member", {"household": h, "name": name + str(i), "relation": rel})
    for cat in ["drinking_water", "housing", "medical"]:
        n = c.put("need", {"household": h, "category": cat, "description": "需要" + cat,
                           "recorded_at": "2012-03-01", "deadline": "2012-04-01"})
        c.put("need_action", {"need": n, "action": "accept", "by": cadres[0],
                              "at": "2012-03-02"})
    c.put("visit", {"household": h, "cadre": cadres[0], "at": "2012-03-03",
                    "kind": "home_visit", "notes": "走访"})
    c.put("contact_card", {"household": h, "cadre": cadres[0], "issued_at": "2012-03-03"})
    return h


moved = household("张迁", v1_groups[0])
still = household("李留", v1_groups[1])
c.sync()

a = Tablet("village1")
b = Tablet("village2")
a.sync(url, srv.enroll("village1", [v1], cadre=cadres[1]))
tok_b = srv.enroll("village2", [v2], cadre=cadres[2])
b.sync(url, tok_b)
check(a.get(moved) is not None and b.get(moved) is None, "the scopes are not as set up")

# A edits the household and a member; the edits reach the server; B syncs
# again, so its cursor is past all of the household's history.
a_members = [r for r in by_type(a.export(), "member") if r["fields"]["household"] == moved]
a.put("household", {"phone": "13900000001", "address": "立戈村12号"}, moved)
a.put("member", {"name": "张迁改"}, a_members[0]["id"])
a.sync()
c.sync()
rep = b.sync()
check(rep["pulled"] == 0, "village2 pulled %d changes of village 1" % rep["pulled"])

# Normal pulls of one field of a household of village 1 by A, timed for
# the comparison at the end.
normal_ms = []
for i in range(7):
    c.put("household", {"phone": "1390000%04d" % (100 + i)}, still)
    c.sync()
    t0 = time.time()
    rep = a.sync()
    normal_ms.append((time.time() - t0) * 1000)
    check(rep["pulled"] == 1, "a normal pull brought %r" % rep["pulled"])
normal_bytes = rep["bytes_received"]

# A, offline, edits the household once more: that edit will meet the move.
a.put("household", {"phone": "13900000002"}, moved)

# The county moves the household to village 2.
c.put("household", {"area": g2}, moved)
c.sync()
server_recs = {k: v for k, v in srv.export().items()}
owned = subtree(server_recs, moved)
check(len(owned) == 1 + 5 + 3 + 3 + 1 + 1, "the household's records: %d" % len(owned))
srv_run = lambda *args: server_replica(srv, *args)

# B syncs in pages of 4 changes: the history is cut into pages and resumed.
rep = b.sync(env={"MINQING_SYNC_BATCH": "4"})
log("move into village 2: %d changes in %d pages, %d bytes down (a normal pull of one "
    "field: %d bytes)" % (rep["pulled"], rep["pages"], rep["bytes_received"], normal_bytes))
check(rep["pages"] > 3, "the history was not cut into pages: %r" % rep)
mine = b.export()
diff({k: mine.get(k) for k in owned}, {k: server_recs[k] for k in owned},
     "village2's copy of the moved household and the server's")
check(mine[moved]["fields"]["head_name"] == "张迁" and
      mine[moved]["fields"]["phone"] == "13900000001" and
      mine[moved]["fields"]["area"] == g2, "the moved household: %r" % mine[moved])
for rid in owned:
    check(history(lambda *x: b.run(*x).stdout, rid) == history(srv_run, rid),
          "record %s: village2's history differs from the server's" % rid)
b.check_store()
no_duplicates(b.versions(), "village2")
check(still not in mine, "village2 received a household that did not move")

# What the move cost B on the wire; a pull after it brings nothing again.
move_bytes = rep["bytes_received"]
rep = b.sync()
check(rep["pulled"] == 0, "the history came twice: %r" % rep)

# A learns the move: its edit made meanwhile is refused as out of scope and
# kept, its copy shows the household in village 2 and keeps what it had.
rep = a.sync(expect=4)
check(rep["push_rejected"] == 1, "A's edit of the moved household: %r" % rep)
rej = a.rejected()
check(len(rej) == 1 and "out of scope" in rej[0]["reason"] and
      rej[0]["change"]["id"] == moved, "A's rejected list: %r" % rej)
srv_rej = read_jsonl(server_replica(srv, "rejected"))
check(any(r["change"]["id"] == moved and "out of scope" in r["reason"] for r in srv_rej),
      "the server did not keep A's refused edit: %r" % srv_rej)
check(rep["pulled"] == 1, "A was not told of the move, or got more: %r" % rep)
told = a.get(moved)
check(told["fields"]["area"] == g2, "A's copy does not show the move: %r" % told)
check(told["fields"]["head_name"] == "张迁" and told["fields"]["phone"] == "13900000002",
      "A's copy lost what it had: %r" % told)
a_now = a.export()
check(all(k in a_now for k in owned), "A dropped records of the household")
a.check_store()

# Nothing more of it reaches A; village 2 gets the county's later edits.
c.put("household", {"phone": "13900000003"}, moved)
c.sync()
rep = a.sync()
check(rep["pulled"] == 0, "A received an edit of a household that left: %r" % rep)
rep = b.sync()
check(rep["pulled"] == 1 and b.get(moved)["fields"]["phone"] == "13900000003",
      "village2 did not get the later edit: %r" % rep)

# A move into village 2 during a pull that is killed midway still ends whole.
moved2 = household("王再", v1_groups[2])
c.sync()
a.sync()
b.sync()
c.put("household", {"area": g2}, moved2)
c.sync()
owned2 = subtree(srv.export(), moved2)
# The pull goes a change a page; it is killed as soon as its stored cursor
# says it stopped inside the history (a page and its cursor are one
# transaction), then run again to the end.
killed_at = None
for attempt in range(3):
    p = subprocess.Popen([MINQING, "--db", b.db, "sync"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True,
                         env=dict(b.env, MINQING_SYNC_BATCH="1"))
    end = time.time() + 30
    while p.poll() is None and time.time() < end:
        cur = pull_cursor(b)
        if cur and cur.count(".") == 3:
            p.send_signal(signal.SIGKILL)
            killed_at = cur
            break
        time.sleep(0.005)
    err = p.communicate()[1]
    if killed_at:
        break
    log("the pull ended before it could be killed (exit %d): %s" % (p.returncode, err[-500:]))
check(killed_at is not None, "the pull was never killed inside the history")
log("killed with cursor %s" % killed_at)
rep = b.sync(env={"MINQING_SYNC_BATCH": "3"})
server_recs = srv.export()
mine = b.export()
diff({k: mine.get(k) for k in owned2}, {k: server_recs[k] for k in owned2},
     "village2's copy of the household moved during killed pulls")
for rid in owned2:
    check(history(lambda *x: b.run(*x).stdout, rid) == history(srv_run, rid),
          "record %s: village2's history differs after killed pulls" % rid)
b.check_store()
no_duplicates(b.versions(), "village2")

# A cursor's fourth part (how far a history went) is checked: it lies at
# or before the position it goes with, and is a whole number.
def pull_status(cursor):
    rq = urllib.request.Request(url + "/v1/pull?cursor=" + cursor,
                                headers={"Authorization": "Bearer " + tok_b})
    try:
        with urllib.request.urlopen(rq, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


cur = pull_cursor(b)
check(cur.count(".") == 2, "a finished pull left cursor %r" % cur)
seq = int(cur.rsplit(".", 1)[1])
for bad in (cur + ".0", cur + ".%d" % (seq + 1), cur + ".x", cur + ".", cur + ".-1",
            cur + ".1.1"):
    status, ans = pull_status(bad)
    check(status == 400 and ans["error"]["code"] == "bad_cursor",
          "cursor %r: %r %r" % (bad, status, ans))
status, ans = pull_status(cur + ".1")
check(status == 200 and ans["count"] == 0, "a history position past every move: %r" % ans)

# A move within village 1 (from one group to another) keeps A whole.
c.put("household", {"area": v1_groups[3]}, still)
c.sync()
a.sync()
check(a.get(still)["fields"]["area"] == v1_groups[3], "A missed a move within its areas")
a_now = a.export()
server_recs = srv.export()
for k in subtree(server_recs, still):
    check(a_now.get(k) == server_recs[k], "A's copy of %s differs" % k)
no_duplicates(a.versions(), "village1")

# Normal pulls after all this, against those before.
after_ms = []
for i in range(7):
    c.put("household", {"phone": "1390000%04d" % (200 + i)}, still)
    c.sync()
    t0 = time.time()
    rep = a.sync()
    after_ms.append((time.time() - t0) * 1000)
    check(rep["pulled"] == 1, "a normal pull brought %r" % rep["pulled"])
log("bytes: a normal pull of one field %d, the move of a household with 5 members and "
    "3 needs (%d records) %d, so %d more" %
    (normal_bytes, len(owned), move_bytes, move_bytes - normal_bytes))
log("normal pull, whole sync of tablet A: median %.1f ms before the moves, %.1f ms "
    "after" % (statistics.median(normal_ms), statistics.median(after_ms)))
srv.stop()
done()
