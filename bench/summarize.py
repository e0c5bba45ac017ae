#!/usr/bin/env python3
"""bench/summarize.py - turns the raw samples of bench/run into the report.

bench/run appends one JSON object per measurement to raw.jsonl (the first is
{"meta": ...}: the machine and the parameters).  This script takes the
median of each figure over the runs, puts it beside the median of its floor
from the same runs, computes the ratio of the two medians and checks it
against the target of issue 4.  It prints the table (Markdown, so that it
can go into docs/PERFORMANCE.md as it is) and writes the JSON report with
the rows, the machine and every raw sample.

    summarize.py --raw raw.jsonl --data DATA_DIR --out latest.json
"""
import argparse
import json
import os
import re
import statistics
import sys



def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def gz_size(data_dir, households, part=""):
    p = os.path.join(data_dir, "cards-%s.jsonl%s.gz" % (households, part))
    try:
        with open(p) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


class Report:
    def __init__(self):
        self.rows = []

    def add(self, case, figure, unit, value, floor=None, floor_name="", target=None,
            check=None, samples=0, note=""):
        """check: "ratio<=X", "value<=X" or "value==X"; None for information."""
        ratio = value / floor if value is not None and floor not in (None, 0) else None
        holds = None
        if check and value is not None:
            kind, limit = check.split("<=") if "<=" in check else check.split("==")
            x = ratio if kind == "ratio" else value
            if x is not None:
                holds = x <= float(limit) if "<=" in check else x == float(limit)
        self.rows.append({"case": case, "figure": figure, "unit": unit, "median": value,
                          "floor": floor, "floor_name": floor_name, "ratio": ratio,
                          "target": target, "holds": holds, "runs": samples, "note": note})


def fmt(x, unit=""):
    if x is None:
        return "–"
    if unit == "B" and x >= 1e5:
        return "%.2f MB" % (x / 1e6)
    if unit == "B":
        return "%.0f B" % x
    if unit == "MiB":
        return "%.1f MiB" % x
    if abs(x) >= 100:
        s = "%.0f" % x
    elif abs(x) >= 10:
        s = "%.1f" % x
    else:
        s = "%.3g" % x
    return s + (" " + unit if unit else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--require", default="",
                    help="cases (e.g. \"1 2 3\") that must each have produced a figure")
    a = ap.parse_args()

    meta, samples = {}, []
    with open(a.raw) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            o = json.loads(line)
            if "meta" in o:
                meta = o["meta"]
            else:
                samples.append(o)

    def of(case, **kw):
        return [s for s in samples if s.get("case") == case and
                all(s.get(k) == v for k, v in kw.items())]

    def wire(s):
        return s["wire"]["up_bytes"] + s["wire"]["down_bytes"]

    for k in ("households", "county", "slow_households", "runs", "kbit", "rtt_ms", "devices"):
        if k in meta:
            meta[k] = int(meta[k])
    hh, county, slow = meta.get("households"), meta.get("county"), meta.get("slow_households")
    R = Report()

    # 1 import
    for scope, n in (("township", hh), ("county", county)):
        s = of("import", scope=scope)
        if s:
            R.add("1", "import %s (%d records), s" % (scope, s[0]["records"]), "s",
                  median([x["mq"]["seconds"] for x in s]),
                  median([x["floor"]["seconds"] for x in s]), "bare SQLite insert",
                  "≤ 3× floor", "ratio<=3", len(s))
            lay = [x for x in s if x.get("layout")]
            if lay:
                R.add("1", "import %s vs its own layout, s" % scope, "s",
                      median([x["mq"]["seconds"] for x in lay]),
                      median([x["layout"]["seconds"] for x in lay]),
                      "same rows into minqing's tables by SQL", None, None, len(lay))
            # the floors against each other: what the layout alone costs
            # over the bare insert, with its keys, with 16-byte keys, and
            # the least layout of this design (mqb_floor_layout --least)
            for key, label in (("layout", "layout of the %s"),
                               ("layout16", "layout of the %s with 16-byte keys"),
                               ("least", "least layout of the %s")):
                runs = [x for x in s if x.get(key)]
                if runs:
                    R.add("1", (label + " vs the bare insert, s") % scope, "s",
                          median([x[key]["seconds"] for x in runs]),
                          median([x["floor"]["seconds"] for x in runs]),
                          "bare SQLite insert", None, None, len(runs))
            # the files they leave: how much of each ratio is bytes written
            for key, label in (("store", "store file after the import of the %s"),
                               ("least", "least layout's file of the %s")):
                runs = [x for x in s if x.get("bytes", {}).get(key)]
                if runs:
                    R.add("1", (label + " vs the bare insert's, bytes") % scope, "B",
                          median([x["bytes"][key] for x in runs]),
                          median([x["bytes"]["floor"] for x in runs]),
                          "bare SQLite insert's file", None, None, len(runs))

    for scope in ("township", "county"):
        s = of("open", scope=scope)
        if s:
            R.add("1", "`minqing get` as a process on the %s store, ms" % scope, "ms",
                  median([x["proc"]["seconds"] * 1000.0 for x in s]), None, "", None, None,
                  len(s))

    # 2 one edit
    s = of("edit")
    if s:
        o = [x["out"] for x in s]
        R.add("2", "one edit p50, ms", "ms", median([x["mq_p50_ms"] for x in o]),
              median([x["floor_p50_ms"] for x in o]), "bare SQLite update", None, None, len(s))
        R.add("2", "one edit p99, ms", "ms", median([x["mq_p99_ms"] for x in o]),
              median([x["floor_p99_ms"] for x in o]), "bare SQLite update", "≤ 2× floor",
              "ratio<=2", len(s))
        cli = [x for x in o if x.get("cli_ops")]
        if cli:
            R.add("2", "one edit as a `minqing put` process p50, ms", "ms",
                  median([x["cli_p50_ms"] for x in cli]), None, "", None, None, len(cli))

    # 3 initial sync
    s = of("sync_push")
    if s:
        R.add("3", "initial push, bytes on the wire (up+down)", "B", median([wire(x) for x in s]),
              gz_size(a.data, hh, ".rest"), "gzip -6 of the pushed lines", "≤ 1.1× floor",
              "ratio<=1.1", len(s))
        R.add("3", "initial push, request bodies only", "B",
              median([x["sync"]["report"]["bytes_sent"] for x in s]),
              gz_size(a.data, hh, ".rest"), "gzip -6 of the pushed lines", None, None, len(s))
        pouch = of("pouch_push")
        R.add("3", "initial push, s", "s", median([x["sync"]["proc"]["seconds"] for x in s]),
              median([x["out"]["seconds"] for x in pouch]) if pouch else None,
              "PouchDB 9 -> express-pouchdb, same records, same run (%d runs)" % len(pouch)
              if pouch else "PouchDB not run", "≤ 0.05× PouchDB", "ratio<=0.05", len(s))
        R.add("3", "initial push, CPU s: client / server", "s",
              median([x["sync"]["proc"]["user_s"] + x["sync"]["proc"]["sys_s"] for x in s]),
              None, "", None, None, len(s), note="server %s s" % fmt(
                  median([x["sync"].get("server_cpu_s") for x in s])))
        R.add("3", "initial push, bytes up", "B", median([x["wire"]["up_bytes"] for x in s]),
              None, "", None, None, len(s))
    s = of("sync_pull")
    if s:
        R.add("3", "initial pull, bytes on the wire (up+down)", "B", median([wire(x) for x in s]),
              gz_size(a.data, hh), "gzip -6 of the township file", "≤ 1.1× floor",
              "ratio<=1.1", len(s))
        R.add("3", "initial pull, s", "s", median([x["sync"]["proc"]["seconds"] for x in s]),
              None, "", None, None, len(s))
        R.add("3", "initial pull, CPU s: client / server", "s",
              median([x["sync"]["proc"]["user_s"] + x["sync"]["proc"]["sys_s"] for x in s]),
              None, "", None, None, len(s), note="server %s s" % fmt(
                  median([x["sync"].get("server_cpu_s") for x in s])))

    # 4 incremental sync
    for case, what in (("incr_push", "push"), ("incr_pull", "pull")):
        s = of(case)
        if s:
            n = [x["touch"]["changed"] for x in s]
            R.add("4", "incremental %s, bytes per changed field" % what, "B",
                  median([wire(x) / max(1, x["touch"]["changed"]) for x in s]),
                  median([x["floor_bytes"] / max(1, x["touch"]["changed"]) for x in s]),
                  "gzip -6 of {id, value} per change", "≤ 120 B", "value<=120", len(s))
            R.add("4", "incremental %s of %d changes, s" % (what, median(n)), "s",
                  median([x["sync"]["proc"]["seconds"] for x in s]), None, "", None, None,
                  len(s))
    s = of("noop")
    if s:
        R.add("4", "sync with nothing to do, s", "s",
              median([x["sync"]["proc"]["seconds"] for x in s]), None, "", None, None, len(s))
        R.add("4", "sync with nothing to do, bytes", "B", median([wire(x) for x in s]), None,
              "", None, None, len(s))

    # 5 slow link
    for case, what in (("slow_push", "push"), ("slow_pull", "pull")):
        s = of(case)
        if s:
            x = s[0]
            limit = wire(x) * 8.0 / (x["kbit"] * 1000.0)
            R.add("5", "slow link (%s kbit/s, %s ms RTT, %s households) %s, s" %
                  (x["kbit"], x["rtt_ms"], slow, what), "s",
                  median([y["sync"]["proc"]["seconds"] for y in s]), limit,
                  "bytes on the wire / bandwidth", "≤ 1.25× limit", "ratio<=1.25", len(s))

    # 6 load
    s = [x for x in of("load") if x.get("out")]
    if s:
        o = [x["out"] for x in s]
        dev = o[0]["devices"]
        R.add("6", "%d devices: merged field changes/s" % dev, "/s",
              median([x["field_changes_per_s"] for x in o]), None, "", None, None, len(s))
        R.add("6", "%d devices: sync latency p50, ms" % dev, "ms",
              median([x["p50_ms"] for x in o]), None, "", None, None, len(s))
        R.add("6", "%d devices: sync latency p99, ms" % dev, "ms",
              median([x["p99_ms"] for x in o]), None, "", None, None, len(s))
        R.add("6", "%d devices: errors (all runs)" % dev, "",
              sum(x["errors"] for x in o), None, "", "0", "value==0", len(s))
        R.add("6", "%d devices: first sync (initial pull) p99, ms" % dev, "ms",
              median([x["initial_p99_ms"] for x in o]), None, "", None, None, len(s))
        R.add("6", "%d devices: server peak RSS" % dev, "MiB",
              median([x["server_maxrss_kib"] / 1024.0 for x in s]), None, "", None, None, len(s))

    # 7 memory
    s = of("import", scope="county")
    if s:
        R.add("7", "tablet peak RSS importing the county", "MiB",
              max(x["mq"]["maxrss_kib"] for x in s) / 1024.0,
              max(x["floor"]["maxrss_kib"] for x in s) / 1024.0, "bare SQLite insert",
              "≤ 64 MiB", "value<=64", len(s))
    for case, what in (("mem_push", "pushing"), ("mem_pull", "pulling")):
        s = of(case)
        if s:
            R.add("7", "tablet peak RSS %s the county" % what, "MiB",
                  max(x["sync"]["proc"]["maxrss_kib"] for x in s) / 1024.0, None, "",
                  "≤ 64 MiB", "value<=64", len(s))
            R.add("7", "%s the county, s" % what, "s",
                  median([x["sync"]["proc"]["seconds"] for x in s]), None, "", None, None,
                  len(s))
    s = of("mem_pull")
    if s and s[0].get("server_maxrss_kib"):
        R.add("7", "server peak RSS through the county syncs", "MiB",
              s[0]["server_maxrss_kib"] / 1024.0, None, "", None, None, 1)

    # 8 the county's report and overdue list
    for case, what in (("report", "county report (`minqing report --format json`)"),
                       ("overdue", "county overdue list (`minqing needs --overdue`)")):
        s = of(case)
        if s:
            R.add("8", "%s, s" % what, "s", median([x["mq"]["seconds"] for x in s]),
                  median([x["floor"]["seconds"] for x in s]), "the same figures by plain SQL",
                  "≤ 2× floor", "ratio<=2", len(s))
            R.add("8", "%s, s (under one second)" % what, "s",
                  median([x["mq"]["seconds"] for x in s]), None, "", "< 1 s", "value<=1",
                  len(s))
            R.add("8", "%s, CPU s (user + sys)" % what, "s",
                  median([x["mq"]["user_s"] + x["mq"]["sys_s"] for x in s]),
                  median([x["floor"]["user_s"] + x["floor"]["sys_s"] for x in s]),
                  "the floor's CPU", None, None, len(s))
            R.add("8", "%s, peak RSS" % what, "MiB",
                  median([x["mq"]["maxrss_kib"] / 1024.0 for x in s]),
                  median([x["floor"]["maxrss_kib"] / 1024.0 for x in s]), "the floor's",
                  None, None, len(s))
            R.add("8", "%s agrees with the floor (runs that agree)" % what, "",
                  sum(1 for x in s if x["check"]["agree"]), None, "", "every run",
                  "value==%d" % len(s), len(s))

    s = of("export")
    if s:
        R.add("8", "county export of every need as XLSX, s", "s",
              median([x["mq"]["seconds"] for x in s]), None, "", None, None, len(s),
              note="%.1f MB written" % (median([x["bytes"] for x in s]) / 1e6))
        R.add("8", "county export of every need as XLSX, peak RSS", "MiB",
              max(x["mq"]["maxrss_kib"] for x in s) / 1024.0, None, "", None, None, len(s))

    # 9 load with attackers present, against the same devices alone
    fl = [x for x in of("attack", phase="floor") if x.get("out")]
    at = [x for x in of("attack", phase="attack") if x.get("out")]
    if at:
        o, b = [x["out"] for x in at], [x["out"] for x in fl]
        fo = at[0].get("flood") or {}
        who = "%d devices beside %s idle + %s slow-loris sockets" % (
            o[0]["devices"], fo.get("idle", "?"), fo.get("loris", "?"))
        base = "same devices alone"
        for key, figure, unit in (("syncs_per_s", "syncs/s", "/s"),
                                  ("changes_per_s", "changes pushed/s", "/s"),
                                  ("sync_p50_ms", "sync p50, ms", "ms"),
                                  ("sync_p99_ms", "sync p99, ms", "ms"),
                                  ("push_p50_ms", "push request p50, ms", "ms"),
                                  ("push_p99_ms", "push request p99, ms", "ms"),
                                  ("cli_p50_ms", "`minqing sync` process p50, ms", "ms")):
            R.add("9", "%s: %s" % (who, figure), unit, median([x[key] for x in o]),
                  median([x[key] for x in b]) if b else None, base, None, None, len(at))
        R.add("9", "%s: server peak RSS" % who, "MiB",
              median([x["server_maxrss_kib"] / 1024.0 for x in at]),
              median([x["server_maxrss_kib"] / 1024.0 for x in fl]) if fl else None, base,
              None, None, len(at))
        R.add("9", "%s: failed syncs (of %d)" % (who, sum(x["syncs"] for x in o)), "",
              sum(x["errors"] + x["final_failed"] for x in o), None, "", "0", "value==0",
              len(at), note="%d retries; alone %d failed, %d retries" % (
                  sum(x["retries"] for x in o),
                  sum(x["errors"] + x["final_failed"] for x in b), sum(x["retries"] for x in b)))
        chk = [x["check"] for x in at + fl if x.get("check")]
        R.add("9", "changes lost or records missing/different, both phases", "",
              sum(c["lost"] + c["missing"] + c["extra"] + c["different"] for c in chk)
              if chk else None, None, "", "0", "value==0", len(chk),
              note="%d pushed changes and %d device records checked" % (
                  sum(c["pushed"] for c in chk), sum(c["records_checked"] for c in chk)))
        R.add("9", "server healthy after the load (runs)", "",
              sum(1 for x in o if x["healthy"]), None, "", "every run",
              "value==%d" % len(o), len(at))
        if fo:
            R.add("9", "attacker sockets held, fewest at any second", "",
                  median([(x.get("flood") or {}).get("held_min") for x in at]), None, "",
                  None, None, len(at), note="of %d; %d closed by the server and reopened" % (
                      fo.get("idle", 0) + fo.get("loris", 0), fo.get("closed_by_server", 0)))

    # 10 the cadre's screens on the county, each against an empty request
    for x in of("ui"):
        o = x["out"]
        n = o["runs"]
        R.add("10", "floor: a plain SQLite primary-key read of one record, ms", "ms",
              o["floor_pk_ms"], None, "", None, None, n)
        for sc in o["screens"]:
            office = "office" in sc["name"]
            path = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "ID",
                          sc["path"])
            path = re.sub(r"q=[^&]*", "q=…", path)
            R.add("10", "%s (`%s %s`), ms" % (sc["name"], sc["method"], path), "ms",
                  sc["p50_ms"], o["floor_empty_ms"], "empty request to the host",
                  None if office else "≤ 200 ms", None if office else "value<=200", n,
                  note="worst %.1f ms" % sc["max_ms"])

    lines = ["| case | figure | median | floor | ratio | target | holds | runs |",
             "| --- | --- | ---: | ---: | ---: | --- | --- | ---: |"]
    for r in R.rows:
        floor = fmt(r["floor"], r["unit"]) + (" (%s)" % r["floor_name"] if r["floor_name"] else "")
        if r["floor"] is None and r["note"]:
            floor = r["note"]
        holds = {True: "yes", False: "**no**", None: ""}[r["holds"]]
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %d |" % (
            r["case"], r["figure"], fmt(r["median"], r["unit"]),
            floor if r["floor"] is not None or r["note"] else "–",
            "%.2f×" % r["ratio"] if r["ratio"] is not None else "–",
            r["target"] or "", holds, r["runs"]))
    table = "\n".join(lines)
    print("machine: %s cores, %s, kernel %s, SQLite %s, minqing %s; %s" % (
        meta.get("nproc"), meta.get("cpu"), meta.get("kernel"), meta.get("sqlite"),
        meta.get("commit"), meta.get("date")))
    print(table)
    with open(a.out, "w") as f:
        json.dump({"meta": meta, "rows": R.rows, "table": table, "samples": samples}, f,
                  indent=1, ensure_ascii=False)
        f.write("\n")
    missing = [c for c in a.require.split() if not any(r["case"] == c for r in R.rows)]
    if missing:
        print("summarize: no figure for case %s" % ", ".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
