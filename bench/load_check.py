#!/usr/bin/env python3
"""bench/load_check.py - case 9's proof that nothing was lost under load.

After mqb_load's timed run (every device synced once more after the others
stopped pushing), with the server's file:

  - every change a device made (a version of its own site in its store) is
    in the server's change log: nothing pushed was lost;
  - every device holds exactly the server's records in its areas (the
    areas it was enrolled for and those below them, and the cadres), field
    for field: every device pulled everything in its scope, and nothing
    else.

    load_check.py --minqing MQ --server MQ_SERVER --server-db DB \
                  --devices devices.txt --work DIR

devices.txt has a line per device: NAME TOKEN HOME AREAS (AREAS comma
separated), stores at DIR/NAME.db.  Prints one JSON object; exits 1 when
anything is lost, missing, extra or different.
"""
import argparse
import json
import subprocess
import sys


def lines(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("load_check: %s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr))
    return [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]


def area_of(recs, r):
    """The area a record belongs to, by the default schema's scope paths."""
    t, f = r["type"], r["fields"]
    if t == "area":
        return r["id"]
    if t in ("household", "village_income"):
        return f.get("area")
    if t in ("member", "need", "visit", "contact_card"):
        h = recs.get(f.get("household"))
        return h and h["fields"].get("area")
    if t == "need_action":
        n = recs.get(f.get("need"))
        return n and area_of(recs, n)
    return None  # cadres belong to no area


def within(recs, area, roots):
    for _ in range(12):
        if area is None:
            return False
        if area in roots:
            return True
        a = recs.get(area)
        area = a and a["fields"].get("parent")
    return False


def main():
    ap = argparse.ArgumentParser()
    for o in ("--minqing", "--server", "--server-db", "--devices", "--work"):
        ap.add_argument(o, required=True)
    a = ap.parse_args()

    server = {r["id"]: r for r in lines([a.server, "--db", a.server_db, "export"])}
    versions = {c["v"] for c in lines([a.minqing, "--db", a.server_db, "changes"]) if "v" in c}
    out = {"devices": 0, "pushed": 0, "lost": 0, "missing": 0, "extra": 0, "different": 0,
           "records_checked": 0, "server_records": len(server), "server_changes": len(versions)}
    problems = []
    with open(a.devices) as f:
        devices = [l.split() for l in f if l.strip()]
    for d in devices:
        name, roots = d[0], set(d[3].split(",")) if len(d) > 3 else {d[2]}
        db = "%s/%s.db" % (a.work, name)
        out["devices"] += 1
        own = [c["v"] for c in lines([a.minqing, "--db", db, "changes"])
               if c.get("v", "").endswith("-" + name)]
        lost = [v for v in own if v not in versions]
        out["pushed"] += len(own)
        out["lost"] += len(lost)
        if lost:
            problems.append("%s: %d of its %d changes are not on the server, e.g. %s" %
                            (name, len(lost), len(own), lost[0]))
        mine = {r["id"]: r for r in lines([a.minqing, "--db", db, "export"])}
        want = {i: r for i, r in server.items()
                if r["type"] == "cadre" or within(server, area_of(server, r), roots)}
        missing = [i for i in want if i not in mine]
        extra = [i for i in mine if i not in want]
        different = [i for i in want if i in mine and mine[i] != want[i]]
        out["missing"] += len(missing)
        out["extra"] += len(extra)
        out["different"] += len(different)
        out["records_checked"] += len(want)
        for what, ids in (("missing", missing), ("extra", extra), ("different", different)):
            if ids:
                problems.append("%s: %d records %s, e.g. %s" % (name, len(ids), what,
                                                               json.dumps(server.get(ids[0]) or
                                                                          mine.get(ids[0]),
                                                                          ensure_ascii=False)))
    out["ok"] = not problems
    if problems:
        out["problems"] = problems[:10]
    print(json.dumps(out, ensure_ascii=False))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
