"""Three tablets with overlapping areas edit the same households offline
(field edits, deletes, new members, need actions), sync in random orders, and
end with exports equal to the server's, each within its own areas.  The
concurrent edits show up as conflicts on the tablets of that area, and a
resolution made on one tablet reaches every replica.  No replica holds a
change twice, and every store passes `check`."""
from harness import *

srv = Server()
srv.cli("import", dataset(88))
recs = srv.export()
areas = by_type(recs, "area")
village = [a["id"] for a in areas if a["fields"]["level"] == "village"][0]
groups = sorted(a["id"] for a in areas if a["fields"]["level"] == "group")
cadres = sorted(r["id"] for r in by_type(recs, "cadre"))
url = srv.start()

scopes = {"t1": [village], "t2": groups[0:5], "t3": groups[3:8]}
tablets = {}
for name, roots in scopes.items():
    tok = srv.enroll(name, roots)
    t = Tablet(name)
    rep = t.sync(url, tok)
    log("%s: first sync pulled %d changes, %d bytes down, %d ms" %
        (name, rep["pulled"], rep["bytes_received"], rep["elapsed_ms"]))
    check(rep["pulled"] > 0, name + " pulled nothing")
    tablets[name] = t

shared = Scope(recs)
hh_shared = sorted(r["id"] for r in by_type(recs, "household")
                   if r["fields"]["area"] in groups[3:5])
check(len(hh_shared) >= 3, "data set has too few households in the shared groups")


def in_scope(name):
    return Scope(recs).filter(scopes[name])


def random_ops(name, t, n):
    mine = in_scope(name)
    hh = sorted(r["id"] for r in mine.values() if r["type"] == "household")
    members = sorted(r["id"] for r in mine.values() if r["type"] == "member")
    needs = sorted(r["id"] for r in mine.values() if r["type"] == "need")
    for _ in range(n):
        op = rng.choice(["edit", "edit", "edit", "member", "delete", "action"])
        target = rng.choice(hh_shared if rng.random() < 0.7 else hh)
        if t.get(target) is None or t.get(target).get("deleted"):
            continue
        if op == "edit":
            f = rng.choice([{"phone": "139%08d" % rng.randrange(10 ** 8)},
                            {"size": rng.randint(1, 9)},
                            {"income_per_capita_yuan": rng.randint(1000, 9000)},
                            {"address": "永仁县%d号" % rng.randint(1, 300)}])
            t.put("household", f, target)
        elif op == "member":
            t.put("member", {"household": target, "name": "新成员%d" % rng.randint(1, 99),
                             "relation": "子", "sex": rng.choice("MF")})
        elif op == "delete" and members:
            m = rng.choice(members)
            if t.get(m) and not t.get(m).get("deleted"):
                t.delete(m)
        elif op == "action" and needs:
            t.put("need_action", {"need": rng.choice(needs),
                                  "action": rng.choice(["progress", "resolve", "reopen"]),
                                  "by": rng.choice(cadres), "at": "2012-06-%02d" % rng.randint(1, 28),
                                  "note": "%s 记录" % name})


# A sure conflict: two tablets set one field of one household differently
# (a field the random edits below leave alone).
h0 = hh_shared[0]
tablets["t2"].put("household", {"labor": 21}, h0)
tablets["t3"].put("household", {"labor": 22}, h0)

for name, t in tablets.items():
    random_ops(name, t, 25)

order_log = []
for rnd in range(3):
    order = list(tablets)
    rng.shuffle(order)
    order_log.append(order)
    for name in order:
        tablets[name].sync()
log("sync orders:", order_log)

final = srv.export()
view = Scope(final)
for name, t in tablets.items():
    diff(t.export(), view.filter(scopes[name]), "%s and the server (in %s's areas)" % (name, name))
    t.check_store()
    no_duplicates(t.versions(), name)
no_duplicates(srv.versions(), "server")
whole = {k: v for k, v in final.items()
         if not (v["type"] == "area" and v["fields"]["level"] in ("county", "township"))}
diff(tablets["t1"].export(), whole, "t1 (the whole village) and the server")

# The conflict is seen by the tablets of that area and by the server ...
def labor_conflicts(t):
    return [c for c in t.conflicts() if c["id"] == h0 and c["field"] == "labor"]


for name in ("t1", "t2", "t3"):
    check(len(labor_conflicts(tablets[name])) == 1, "%s does not show the labor conflict" % name)
c = labor_conflicts(tablets["t1"])[0]
values = sorted(x["value"] for x in c["candidates"])
check(values == [21, 22], "conflict candidates: %r" % values)

# ... and a resolution made on one tablet reaches every replica.
tablets["t3"].run("resolve", c["conflict"], "--keep", "1")
for name in ("t3", "t1", "t2"):
    tablets[name].sync()
for name in ("t1", "t2", "t3"):
    check(not labor_conflicts(tablets[name]), "%s still shows the resolved conflict" % name)
    check(tablets[name].get(h0)["fields"]["labor"] == 1,
          "%s did not get the resolved value" % name)
check(srv.export()[h0]["fields"]["labor"] == 1, "server lacks the resolution")
srv.stop()
done()
