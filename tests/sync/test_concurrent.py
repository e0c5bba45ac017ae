"""Six tablets sync at the same time (the township office on market day):
the server's worker threads serve them together, pushes are applied one
batch at a time, pulls read beside them, and every tablet ends equal to the
server, with no change twice."""
import concurrent.futures

from harness import *

srv = Server()
srv.cli("import", dataset(88))
recs = srv.export()
village = [a["id"] for a in by_type(recs, "area") if a["fields"]["level"] == "village"][0]
households = sorted(r["id"] for r in by_type(recs, "household"))
url = srv.start()
small = {"MINQING_SYNC_BATCH": "40"}

tablets = []
for i in range(6):
    t = Tablet("c%d" % i)
    t.sync(url, srv.enroll("c%d" % i, [village]), env=small)
    tablets.append(t)


def edit_and_sync(t):
    path = os.path.join(WORK, t.name + "-edits.jsonl")
    mine = t.export()
    with open(path, "w") as f:
        for h in rng.sample(households, 60):
            r = mine[h]
            # Never the value it already has: an unchanged field writes no
            # change, and the count below would be one short.
            old = r["fields"].get("income_per_capita_yuan")
            new = rng.randint(1000, 99998)
            r["fields"]["income_per_capita_yuan"] = new + 1 if new == old else new
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    t.run("import", path)
    return t.sync(env=small)


start = time.time()
with concurrent.futures.ThreadPoolExecutor(len(tablets)) as pool:
    reports = list(pool.map(edit_and_sync, tablets))
log("6 tablets x 60 edits synced together in %.2f s" % (time.time() - start))
check(all(r["pushed"] == 60 and r["push_applied"] == 60 for r in reports),
      "lost pushes (pushed/applied/duplicate/refused): %r" %
      [(r.get("pushed"), r.get("push_applied"), r.get("push_duplicate"),
        r.get("push_rejected")) for r in reports])
with concurrent.futures.ThreadPoolExecutor(len(tablets)) as pool:
    list(pool.map(lambda t: t.sync(env=small), tablets))
final = srv.export()
whole = {k: v for k, v in final.items()
         if not (v["type"] == "area" and v["fields"]["level"] in ("county", "township"))}
for t in tablets:
    diff(t.export(), whole, "%s and the server" % t.name)
    no_duplicates(t.versions(), t.name)
srv.stop()
no_duplicates(srv.versions(), "server")
done()
