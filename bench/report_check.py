#!/usr/bin/env python3
"""bench/report_check.py - checks that minqing's report and its floor agree.

bench/run times `minqing report --format json` and `mqb_report_floor` (the
same figures by plain SQL) on the same store, and the overdue list beside
the floor's; a floor that computes other figures would prove nothing, so
this compares every figure the floor wrote with the report's.

    report_check.py report REPORT.json FLOOR.tsv
    report_check.py overdue NEEDS.jsonl FLOOR.tsv

Prints {"agree": true|false, "figures": N, "first_difference": ...} and
exits 0 when they agree, 1 when they do not.
"""
import json
import sys


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(a)))


NEEDS = ["registered", "accepted", "resolved", "open", "overdue", "resolved_late", "yuan"]
PETITIONS = ["received", "accepted", "closed"]


def check_report(report_path, floor_path):
    with open(report_path, encoding="utf-8") as f:
        rep = json.load(f)
    keyed = {"": rep["total"]}
    for a in rep["areas"]:
        keyed[a["id"]] = a
    for c in rep["cadres"]:
        keyed["c:" + c["id"]] = c
    income = {i["id"]: i for i in rep["income"]}
    n, seen = 0, set()
    with open(floor_path, encoding="utf-8") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            kind, key = p[0], p[1]
            if kind == "income":
                got = income.get(key)
                want = [float(p[2]) if p[2] else None, p[3] if p[2] else None]
                have = [got and got["ratio"], got and got["level"]]
                if got is None or not close(have[0], want[0]) or have[1] != want[1]:
                    return n, "income %s: report %s, floor %s" % (key, have, want)
                n += 1
                continue
            o = keyed.get(key)
            if o is None:
                if key.startswith("c:") or key == "":
                    return n, "%s %r: in the floor, not in the report" % (kind, key)
                continue  # an area the report does not list (deleted, or no record)
            if kind == "needs":
                seen.add(key)
                want = [float(x or 0) for x in p[2:]]
                have = [o["needs"][k] for k in NEEDS] + [o["petitions"][k] for k in PETITIONS]
            elif kind == "median":
                want, have = [float(p[2])], [o["needs"]["median_days_to_resolve"]]
            elif kind == "sat":
                want, have = [float(p[3])], [o["needs"]["satisfaction"].get(p[2])]
            elif kind == "visit":
                want, have = [float(p[3])], [o["visits"].get(p[2])]
            elif kind == "households":
                want, have = [float(p[2])], [o["households"]]
            else:
                return n, "unknown line %r" % line
            for h, w in zip(have, want):
                if not close(h, w):
                    return n, "%s %r: report %s, floor %s" % (kind, key, have, want)
                n += 1
    for key, o in keyed.items():
        if o["needs"]["registered"] and key not in seen:
            return n, "needs %r: %d in the report, none in the floor" % (
                key, o["needs"]["registered"])
    return n, None


def check_overdue(needs_path, floor_path):
    with open(needs_path, encoding="utf-8") as f:
        mine = [json.loads(l) for l in f if l.strip()]
    with open(floor_path, encoding="utf-8") as f:
        floor = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    if len(mine) != len(floor):
        return 0, "%d overdue needs listed, %d in the floor" % (len(mine), len(floor))
    n = 0
    for m, p in zip(mine, floor):
        have = [m["id"], m.get("head_name", ""), m.get("area_name", ""),
                m.get("village_name", ""), m.get("cadre_name", ""), m.get("deadline", ""),
                str(m.get("days_overdue", ""))]
        if have != p:
            return n, "line %d: listed %s, floor %s" % (n + 1, have, p)
        n += 1
    return n, None


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("report", "overdue"):
        print(__doc__, file=sys.stderr)
        return 2
    check = check_report if sys.argv[1] == "report" else check_overdue
    n, diff = check(sys.argv[2], sys.argv[3])
    print(json.dumps({"agree": diff is None, "figures": n, "first_difference": diff},
                     ensure_ascii=False))
    return 0 if diff is None else 1


if __name__ == "__main__":
    sys.exit(main())
