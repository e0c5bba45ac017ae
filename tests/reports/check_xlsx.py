#!/usr/bin/env python3
"""tests/reports/check_xlsx.py - reads minqing's workbooks with openpyxl, a
reader that shares nothing with libxlsxwriter, and checks every cell
against the JSON the same command wrote.

    check_xlsx.py report REPORT.xlsx REPORT.json SCHEMA.json
    check_xlsx.py needs NEEDS.xlsx NEEDS.jsonl SCHEMA.json
    check_xlsx.py needs-csv NEEDS.csv NEEDS.jsonl SCHEMA.json

Exits 1 with the first difference.
"""
import csv
import datetime
import json
import sys

import openpyxl


def fail(msg):
    sys.exit("FAIL: " + msg)


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) < 1e-9 * max(1.0, abs(float(b)))


def day(s):
    return None if s is None else datetime.datetime.strptime(s, "%Y-%m-%d")


NEED_HEADS = [("户数", "households", None, "n"), ("登记", "needs", "registered", "n"),
              ("受理", "needs", "accepted", "n"), ("办结", "needs", "resolved", "n"),
              ("在办", "needs", "open", "n"), ("超期", "needs", "overdue", "n"),
              ("超期办结", "needs", "resolved_late", "n"),
              ("办结率", "needs", "completion_rate", "rate"),
              ("办结天数中位数", "needs", "median_days_to_resolve", "n"),
              ("协调金额(元)", "needs", "yuan", "money"),
              ("信访登记", "petitions", "received", "n"),
              ("信访受理", "petitions", "accepted", "n"),
              ("信访办结", "petitions", "closed", "n"),
              ("信访办结率", "petitions", "rate", "rate"),
              ("接待来访(人次)", "petitions", "receptions", "n"),
              ("服务户数", "needs", "served_households", "n"),
              ("服务人数", "needs", "served_people", "n"),
              ("服务牲畜(头)", "needs", "served_livestock", "n"),
              ("干部谈心谈话(人次)", "talks", "total", "n")]


def sheet_rows(ws):
    rows = list(ws.iter_rows(values_only=True))
    return list(rows[0]), rows[1:]


def check_cell(where, cell, value, kind, fmt):
    if not close(cell.value, value) if isinstance(value, (int, float)) or value is None \
            else cell.value != value:
        fail("%s: cell %r, JSON %r" % (where, cell.value, value))
    if value is not None and kind == "rate" and "%" not in cell.number_format:
        fail("%s: a rate shown as %r, not a percentage" % (where, cell.number_format))
    if value is not None and kind in ("n", "money", "rate") and \
            not isinstance(cell.value, (int, float)):
        fail("%s: %r is not a number" % (where, cell.value))


def check_figures(ws, entries, first, labels, schema, total=None):
    heads = [c.value for c in ws[1]]
    col = {h: i for i, h in enumerate(heads)}
    house = "联系户数" if first == "干部" else "户数"
    for h in [first, house] + [h for h, _, _, _ in NEED_HEADS[1:]] + ["编号"]:
        if h not in col:
            fail("%s: no header %s in %s" % (ws.title, h, heads))
    sat = schema["types"]["need_action"]["fields"]["satisfaction"]["values"]
    kinds = schema["types"]["visit"]["fields"]["kind"]["values"]
    rows = {r[col["编号"]].value: r for r in ws.iter_rows(min_row=2) if r[col["编号"]].value}
    for e in entries:
        r = rows.get(e["id"])
        if r is None:
            fail("%s: no row for %s" % (ws.title, e["id"]))
        if r[col[first]].value != e["name"]:
            fail("%s: name %r, JSON %r" % (ws.title, r[col[first]].value, e["name"]))
        for h, a, b, kind in NEED_HEADS:
            if h == "户数" and first == "干部":
                h = "联系户数"
            v = e[a] if b is None else e[a][b]
            check_cell("%s %s %s" % (ws.title, e["name"], h), r[col[h]], v, kind, None)
        for s in sat:
            h = labels["satisfaction"][s]
            check_cell("%s %s %s" % (ws.title, e["name"], h), r[col[h]],
                       e["needs"]["satisfaction"][s], "n", None)
        for k in kinds:
            h = labels["visit_kind"][k] + "(人次)"
            check_cell("%s %s %s" % (ws.title, e["name"], h), r[col[h]], e["visits"][k],
                       "n", None)
        for k in schema["types"]["talk"]["fields"]["occasion"]["values"]:
            h = "谈心:" + labels["occasion"][k]
            check_cell("%s %s %s" % (ws.title, e["name"], h), r[col[h]],
                       e["talks"]["occasions"][k], "n", None)
        if first == "干部":
            check_cell("%s %s handling" % (ws.title, e["name"]), r[col["当前经办(未办结)"]],
                       e["handling"], "n", None)
    if total is not None:
        last = list(ws.iter_rows(min_row=ws.max_row))[0]
        if last[0].value != "合计":
            fail("%s: the last row is %r, not the total" % (ws.title, last[0].value))
        check_cell("total", last[col["登记"]], total["needs"]["registered"], "n", None)
        check_cell("total", last[col["办结率"]], total["needs"]["completion_rate"], "rate",
                   None)
    return len(entries)


def colors(schema):
    return {l["level"]: l.get("color", "").lstrip("#").upper()
            for l in schema["reports"]["income_levels"]}


def report_labels(schema):
    """The schema's report labels, a group given as "TYPE.FIELD" read from
    that field's own "labels" (docs/SCHEMA.md)."""
    out = {}
    for group, v in schema["reports"]["labels"].items():
        if isinstance(v, str):
            t, f = v.split(".", 1)
            v = schema["types"][t]["fields"][f]["labels"]
        out[group] = v
    return out


def check_report(xlsx, js, schema_path):
    rep = json.load(open(js, encoding="utf-8"))
    schema = json.load(open(schema_path, encoding="utf-8"))
    labels = report_labels(schema)
    wb = openpyxl.load_workbook(xlsx)
    want = ["各地区民情办理、信访与走访", "各干部民情办理、信访与走访", "村集体经济收入五级预警",
            "五级预警"]
    if wb.sheetnames != want:
        fail("sheets %s, not %s" % (wb.sheetnames, want))
    n = check_figures(wb[want[0]], rep["areas"], "地区", labels, schema, rep["total"])
    lv = [r[1].value for r in wb[want[0]].iter_rows(min_row=2, max_row=len(rep["areas"]) + 1)]
    if lv != [labels["level"][a["level"]] for a in rep["areas"]]:
        fail("area levels %s" % lv)
    n += check_figures(wb[want[1]], rep["cadres"], "干部", labels, schema)
    # income: the list, each ratio a percentage filled in its level's colour
    col = colors(schema)
    ws = wb[want[2]]
    rows = list(ws.iter_rows(min_row=2))
    if len(rows) != len(rep["income"]):
        fail("income: %d rows, JSON %d" % (len(rows), len(rep["income"])))
    for r, i in zip(rows, rep["income"]):
        vals = [c.value for c in r]
        exp = [i["name"], i["period"], i["income_yuan"], i["target_yuan"], i["ratio"],
               labels["income_level"][i["level"]] if i["level"] else None,
               i["channels"], i["measures"], i["id"]]
        for k, (a, b) in enumerate(zip(vals, exp)):
            if not (close(a, b) if isinstance(b, (int, float)) else a == b):
                fail("income %s column %d: cell %r, JSON %r" % (i["id"], k, a, b))
        if i["level"]:
            rgb = (r[4].fill.fgColor.rgb or "")[-6:].upper()
            if rgb != col[i["level"]]:
                fail("income %s: ratio filled %s, level %s is %s" % (
                    i["id"], rgb, i["level"], col[i["level"]]))
        n += 1
    # the grid: villages by period, each cell the ratio in its level's colour
    heads, grid = sheet_rows(wb[want[3]])
    by = {(i["name"], i["period"]): i for i in rep["income"]}
    for r, cells in zip(grid, list(wb[want[3]].iter_rows(min_row=2))):
        for p, c in zip(heads[1:], cells[1:]):
            i = by.get((r[0], p))
            if i is None:
                if c.value is not None:
                    fail("grid %s %s: %r where there is no record" % (r[0], p, c.value))
                continue
            check_cell("grid %s %s" % (r[0], p), c, i["ratio"], "rate", None)
            if i["level"] and (c.fill.fgColor.rgb or "")[-6:].upper() != col[i["level"]]:
                fail("grid %s %s: fill %s, level %s" % (r[0], p, c.fill.fgColor.rgb,
                                                         i["level"]))
            n += 1
    print("xlsx report: %d rows match the JSON" % n)


NEEDS_HEADS = ["户主", "村", "组", "类别", "来源", "状态", "登记日期", "截止日期", "超期天数",
               "首问干部", "经办干部", "办结日期", "满意度", "情况", "编号"]


def need_values(m, labels):
    lab = lambda g, v: labels[g].get(v, v) if v is not None else None
    return [m.get("head_name"), m.get("village_name"), m.get("area_name"),
            lab("category", m.get("category")), lab("source", m.get("source")),
            lab("status", m.get("status")), m.get("recorded_at"), m.get("deadline"),
            m.get("days_overdue"), m.get("cadre_name"), m.get("handler_name"),
            m.get("resolved_at"),
            lab("satisfaction", m.get("satisfaction")), m["fields"].get("description"),
            m["id"]]


def check_needs(xlsx, jl, schema_path, as_csv=False):
    labels = report_labels(json.load(open(schema_path, encoding="utf-8")))
    mine = [json.loads(l) for l in open(jl, encoding="utf-8") if l.strip()]
    if as_csv:
        raw = open(xlsx, "rb").read()
        if not raw.startswith(b"\xef\xbb\xbf"):
            fail("the CSV has no BOM")
        rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))[1:]
        heads, rows = rows[0], rows[1:]
    else:
        wb = openpyxl.load_workbook(xlsx)
        heads, rows = sheet_rows(wb.worksheets[0])
    if list(heads) != NEEDS_HEADS:
        fail("needs headers %s" % (heads,))
    if len(rows) != len(mine):
        fail("%d needs in the sheet, %d in the JSON" % (len(rows), len(mine)))
    for r, m in zip(rows, mine):
        want = need_values(m, labels)
        for k, (a, b) in enumerate(zip(r, want)):
            if as_csv:
                b = "" if b is None else str(b)
            elif k in (6, 7, 11):
                b = day(b)  # dates are dates
            if a != b:
                fail("need %s, %s: cell %r, JSON %r" % (m["id"], NEEDS_HEADS[k], a, b))
    print("%s needs: %d rows match the JSON" % ("csv" if as_csv else "xlsx", len(rows)))


def main():
    what = sys.argv[1]
    if what == "report":
        check_report(*sys.argv[2:5])
    elif what == "needs":
        check_needs(*sys.argv[2:5])
    elif what == "needs-csv":
        check_needs(*sys.argv[2:5], as_csv=True)
    else:
        fail("unknown check %s" % what)


if __name__ == "__main__":
    main()
