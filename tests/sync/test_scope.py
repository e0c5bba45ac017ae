"""A tablet enrolled for one village never receives another village's
households, and cannot push changes to them: the server refuses those
changes one by one with an "out of scope" reason, the tablet keeps them in
`minqing rejected` and exits 4, and the rest of its queue goes through."""
from harness import *

srv = Server()
srv.cli("import", dataset(1200))
recs = srv.export()
areas = by_type(recs, "area")
villages = sorted(a["id"] for a in areas if a["fields"]["level"] == "village")
check(len(villages) == 2, "expected two villages in the 1200-household data set")
v1, v2 = villages
county = [a["id"] for a in areas if a["fields"]["level"] == "county"][0]
scope = Scope(recs)
v2_groups = [a["id"] for a in areas if a["fields"].get("parent") == v2]
url = srv.start()

a = Tablet("village1")
cadre = sorted(r["id"] for r in by_type(recs, "cadre"))[0]
rep = a.sync(url, srv.enroll("village1", [v1], cadre=cadre))
check("authored by cadre" in rep["stderr"], "the enrolled cadre was not taken")
log("village1: pulled %d changes, %d bytes down in %d ms" %
    (rep["pulled"], rep["bytes_received"], rep["elapsed_ms"]))
mine = a.export()
diff(mine, scope.filter([v1]), "village1's records and the server's village 1")
hh = by_type(mine, "household")
check(hh and all(scope.within(h["fields"]["area"], {v1}) for h in hh),
      "village1 received a household outside village 1")
check(not any(scope.within(scope.area_of(r), {v2}) for r in mine.values()),
      "village1 received a record of village 2")

# A county tablet writes into village 2 and hands its changes over on a USB
# stick; village1 applies the bundle, so those changes are in its queue.
f = Tablet("county")
f.sync(url, srv.enroll("county", [county]))
cursor = f.run("changes", "-o", os.path.join(WORK, "skip.jsonl")).stderr.split()[-1]
v2_house = sorted(h["id"] for h in by_type(recs, "household")
                  if scope.within(h["fields"]["area"], {v2}))[0]
f.put("household", {"phone": "13800000001"}, v2_house)
new_house = f.put("household", {"area": v2_groups[0], "head_name": "王新",
                                "head_id_number": "532327198001010015"})
bundle = os.path.join(WORK, "usb.jsonl")
f.run("changes", "--since", cursor, "-o", bundle)
a.run("apply", bundle)
v1_house = hh[0]["id"]
a.put("household", {"phone": "13800000002"}, v1_house)
hist = read_jsonl(a.run("history", v1_house).stdout)
check(hist[-1]["by"] == cadre, "the edit is not authored by the enrolled cadre: %r" % hist[-1])

rep = a.sync(expect=4)
check(rep["push_rejected"] == 2, "expected 2 refused changes, got %r" % rep)
check(rep["push_applied"] == 1, "the in-scope change did not go through: %r" % rep)
rej = a.rejected()
check(len(rej) == 2 and all("out of scope" in r["reason"] for r in rej),
      "rejected list: %r" % rej)
server_now = srv.export()
check(server_now[v2_house]["fields"].get("phone") != "13800000001",
      "the server took an out-of-scope edit")
check(new_house not in server_now, "the server took an out-of-scope household")
check(server_now[v1_house]["fields"]["phone"] == "13800000002", "in-scope edit lost")

# The refused changes do not block the queue: the next sync is clean.
rep = a.sync()
check(rep["pushed"] == 0, "refused changes were sent again: %r" % rep)

# Once the county tablet syncs them, village1 still does not receive them.
f.sync()
rep = a.sync()
check(rep["pulled"] == 0, "village1 pulled %d changes of village 2" % rep["pulled"])
check(srv.export()[v2_house]["fields"]["phone"] == "13800000001", "county edit lost")
srv.stop()
done()
