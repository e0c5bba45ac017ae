#!/usr/bin/env python3
"""Checks every figure of `minqing report --format json` against a second
computation that shares no code with the report: this script reads the
records the store holds (`minqing export`, interchange JSON Lines) and
applies the rules of docs/REPORTS.md in plain Python.

    check_report.py MINQING GEN_CARDS_PY

On the reference village committee (gen_cards.py --households 88) it
compares the whole report on two days, a report over a period (--from) and
a report of one village (--area).  Any difference is printed with the area
or cadre, the figure and both values, and the script exits 1.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

PETITION_SOURCES = {"petition_visit", "petition_letter"}
RECEPTION = "petition_reception"
SATISFACTION = ["satisfied", "basically_satisfied", "unsatisfied"]
VISIT_KINDS = ["home_visit", "talk", "petition_reception"]
# The five levels as the issue states them: below 40% red, 60% orange,
# 80% yellow, 100% green, blue at or above the target.
LEVELS = [(0.4, "red"), (0.6, "orange"), (0.8, "yellow"), (1.0, "green")]


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, **kw).stdout


def load(text):
    by_type = {}
    for line in text.decode("utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            by_type.setdefault(r["type"], {})[r["id"]] = r["fields"]
    return by_type


def fold(actions, day):
    """Status and the figures of one need from its actions, as of `day`."""
    counted = sorted((a for a in actions if a["at"] <= day), key=lambda a: a["at"])
    steps = [a for a in counted if a["action"] in ("accept", "resolve", "reopen")]
    # Two steps on one day are ordered by version, which an export does not
    # carry: the reference data has none, and a tie would make this check
    # meaningless rather than wrong.
    for x, y in zip(steps, steps[1:]):
        if x["at"] == y["at"] and x["action"] != y["action"]:
            sys.exit("check_report: two actions of one need on %s; cannot order them" % x["at"])
    last = steps[-1] if steps else None
    status = {"accept": "open", "resolve": "resolved", "reopen": "reopened",
              None: "registered"}[last and last["action"]]
    return {
        "accepted": any(a["action"] == "accept" for a in counted),
        "status": status,
        "resolved_at": last["at"] if status == "resolved" else None,
        "satisfaction": last.get("satisfaction") if status == "resolved" else None,
        "yuan": sum(a.get("amount_yuan", 0) for a in counted if a["action"] == "resolve"),
    }


def days_between(a, b):
    import datetime
    return (datetime.date.fromisoformat(b) - datetime.date.fromisoformat(a)).days


def empty():
    return {"households": 0, "needs": [], "visits": {k: 0 for k in VISIT_KINDS}}


def figures(bucket):
    needs = bucket["needs"]
    accepted = sum(1 for n in needs if n["accepted"])
    resolved = [n for n in needs if n["status"] == "resolved"]
    pet = [n for n in needs if n["petition"]]
    pet_acc = sum(1 for n in pet if n["accepted"])
    pet_closed = sum(1 for n in pet if n["status"] == "resolved")
    days = [n["days"] for n in resolved if n["days"] is not None]
    return {
        "households": bucket["households"],
        "needs": {
            "registered": len(needs),
            "accepted": accepted,
            "resolved": len(resolved),
            "open": sum(1 for n in needs if n["accepted"] and n["status"] != "resolved"),
            "overdue": sum(1 for n in needs if n["overdue"]),
            "resolved_late": sum(1 for n in resolved if n["late"]),
            "completion_rate": len(resolved) / accepted if accepted else None,
            "median_days_to_resolve": statistics.median(days) if days else None,
            "satisfaction": {v: sum(1 for n in resolved if n["satisfaction"] == v)
                             for v in SATISFACTION},
            "yuan": round(sum(n["yuan"] for n in needs), 2),
        },
        "petitions": {
            "received": len(pet),
            "accepted": pet_acc,
            "closed": pet_closed,
            "rate": pet_closed / pet_acc if pet_acc else None,
            "receptions": bucket["visits"][RECEPTION],
        },
        "visits": dict(bucket["visits"]),
    }


def period_days(p):
    if len(p) == 6 and p[4] == "Q" and p[:4].isdigit() and p[5] in "1234":
        q = int(p[5])
        first = "%s-%02d-01" % (p[:4], 3 * q - 2)
        last = "%s-%s" % (p[:4], ["03-31", "06-30", "09-30", "12-31"][q - 1])
        return first, last
    if len(p) == 4 and p.isdigit():
        return p + "-01-01", p + "-12-31"
    return None


def expected(db, day, start=None, scope=None):
    areas, households = db["area"], db.get("household", {})
    cadres, needs = db.get("cadre", {}), db.get("need", {})

    def chain(area):
        out = []
        while area is not None and area in areas and area not in out:
            out.append(area)
            area = areas[area].get("parent")
        return out

    in_scope = set(areas) if scope is None else {a for a in areas if scope in chain(a)}
    actions = {}
    for a in db.get("need_action", {}).values():
        actions.setdefault(a["need"], []).append(a)
    total, per_area, per_cadre = empty(), {a: empty() for a in in_scope}, {}

    def buckets(area, cadre):
        out = [total] + [per_area[a] for a in chain(area) if a in per_area]
        if cadre is not None:
            out.append(per_cadre.setdefault(cadre, empty()))
        return out

    for h in households.values():
        if h["area"] in in_scope:
            for b in buckets(h["area"], h.get("paired_cadre")):
                b["households"] += 1
    for nid, n in needs.items():
        area = households[n["household"]]["area"]
        rec = n.get("recorded_at")
        if area not in in_scope:
            continue
        if rec is None and start is not None:
            continue
        if rec is not None and (rec > day or (start is not None and rec < start)):
            continue
        f = fold(actions.get(nid, []), day)
        dl = n.get("deadline")
        f["petition"] = n.get("source") in PETITION_SOURCES
        f["overdue"] = f["status"] != "resolved" and dl is not None and dl < day
        f["late"] = f["status"] == "resolved" and dl is not None and f["resolved_at"] > dl
        f["days"] = (days_between(rec, f["resolved_at"])
                     if f["status"] == "resolved" and rec is not None else None)
        for b in buckets(area, n.get("recorded_by")):
            b["needs"].append(f)
    for v in db.get("visit", {}).values():
        area = households[v["household"]]["area"]
        if area in in_scope and v["at"] <= day and (start is None or v["at"] >= start):
            for b in buckets(area, v["cadre"]):
                b["visits"][v["kind"]] += 1

    income = []
    for iid, i in db.get("village_income", {}).items():
        if i["area"] not in in_scope:
            continue
        span = period_days(i["period"])
        if span and (span[0] > day or (start is not None and span[1] < start)):
            continue
        ratio = (i["income_yuan"] / i["target_yuan"]
                 if i.get("target_yuan") and i.get("income_yuan") is not None else None)
        level = None
        if ratio is not None:
            level = next((name for below, name in LEVELS if ratio < below), "blue")
        income.append({"id": iid, "area": i["area"], "name": areas[i["area"]]["name"],
                       "period": i["period"], "income_yuan": i.get("income_yuan"),
                       "target_yuan": i.get("target_yuan"), "ratio": ratio, "level": level})
    return {
        "total": figures(total),
        "areas": {a: dict(figures(b), name=areas[a]["name"], level=areas[a]["level"])
                  for a, b in per_area.items()},
        "cadres": {c: dict(figures(b), name=cadres.get(c, {}).get("name"))
                   for c, b in per_cadre.items()},
        "income": {i["id"]: i for i in income},
    }


def diff(where, want, got, out):
    if isinstance(want, dict):
        if not isinstance(got, dict):
            out.append("%s: expected an object, got %r" % (where, got))
            return
        for k in want:
            if k not in got:
                out.append("%s.%s: missing (expected %r)" % (where, k, want[k]))
            else:
                diff("%s.%s" % (where, k), want[k], got[k], out)
    elif isinstance(want, float) or isinstance(got, float):
        if want is None or got is None or abs(want - got) > 1e-9:
            out.append("%s: expected %r, got %r" % (where, want, got))
    elif want != got:
        out.append("%s: expected %r, got %r" % (where, want, got))


def compare(label, want, got):
    out = []
    diff("total", want["total"], got["total"], out)
    got_areas = {a["id"]: a for a in got["areas"]}
    if set(got_areas) != set(want["areas"]):
        out.append("areas: expected %d ids, got %d" % (len(want["areas"]), len(got_areas)))
    for a, w in want["areas"].items():
        diff("area %s (%s)" % (w["name"], a[:8]), w, got_areas.get(a, {}), out)
    # Tree order: every area after its parent, when the parent is listed.
    seen = set()
    for a in got["areas"]:
        if a["parent"] in got_areas and a["parent"] not in seen:
            out.append("areas: %s comes before its parent" % a["name"])
        seen.add(a["id"])
    got_cadres = {c["id"]: c for c in got["cadres"]}
    if set(got_cadres) != set(want["cadres"]):
        out.append("cadres: expected %d ids, got %d" % (len(want["cadres"]), len(got_cadres)))
    for c, w in want["cadres"].items():
        diff("cadre %s (%s)" % (w["name"], c[:8]), w, got_cadres.get(c, {}), out)
    got_income = {i["id"]: i for i in got["income"]}
    if set(got_income) != set(want["income"]):
        out.append("income: expected %d rows, got %d" % (len(want["income"]), len(got_income)))
    for i, w in want["income"].items():
        diff("income %s %s" % (w["name"], w["period"]), w, got_income.get(i, {}), out)
    if out:
        print("FAIL: %s: %d differences" % (label, len(out)), file=sys.stderr)
        for line in out[:40]:
            print("  " + line, file=sys.stderr)
        return 1
    figures_checked = (len(want["areas"]) + len(want["cadres"]) + 1) * 25 + 8 * len(want["income"])
    print("ok: %s: %d areas, %d cadres, %d income rows (about %d figures)"
          % (label, len(want["areas"]), len(want["cadres"]), len(want["income"]),
             figures_checked))
    return 0


def main():
    minqing, gen = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "village.jsonl")
        store = os.path.join(tmp, "report.db")
        with open(data, "wb") as f:
            f.write(run(sys.executable, gen, "--households", "88"))
        run(minqing, "--db", store, "init", "--site", "report")
        run(minqing, "--db", store, "import", data)
        db = load(run(minqing, "--db", store, "export"))
        village = next(a for a, f in db["area"].items() if f["level"] == "village")
        failed = 0
        for label, day, start, scope in [
            ("as of 2011-12-31", "2011-12-31", None, None),
            ("as of 2012-06-30", "2012-06-30", None, None),
            ("2012-01-01 to 2012-09-30", "2012-09-30", "2012-01-01", None),
            ("one village as of 2012-06-30", "2012-06-30", None, village),
        ]:
            args = [minqing, "--db", store, "report", "--format", "json", "--as-of", day]
            if start:
                args += ["--from", start]
            if scope:
                args += ["--area", scope]
            got = json.loads(run(*args))
            if got["as_of"] != day or got["from"] != start:
                print("FAIL: %s: as_of %r from %r" % (label, got["as_of"], got["from"]),
                      file=sys.stderr)
                failed = 1
            failed |= compare(label, expected(db, day, start, scope), got)
        # The two days must differ, or the as-of rule is not being tested.
        a = expected(db, "2011-12-31")["total"]["needs"]
        b = expected(db, "2012-06-30")["total"]["needs"]
        if a == b:
            print("FAIL: the two days give the same figures", file=sys.stderr)
            failed = 1
    sys.exit(failed)


if __name__ == "__main__":
    main()
