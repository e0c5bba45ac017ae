# tests/reports/cli.sh - `minqing report` as a person and a spreadsheet see
# it: text with names (never ids), Chinese labels and aligned columns; CSV
# in UTF-8 with a BOM and Chinese headers, the same figures as the JSON;
# -o writes the file whole; bad options are refused with the option, the
# rule and the value, exit 2, and nothing written.
source "$(dirname "$0")/../cli/lib.sh"

DB=$TMP/cli.db
gen --households 88 >"$TMP/village.jsonl"
ok "$DB" init --site report >/dev/null
ok "$DB" import "$TMP/village.jsonl" >/dev/null
VILLAGE=$(grep '"level":"village"' "$TMP/village.jsonl" | py 'rows[0]["id"]')
CADRE=$(grep -m1 '"type":"cadre"' "$TMP/village.jsonl" | py 'd["fields"]["name"]')

# text: names and labels, no ids, each table's lines of one width
ok "$DB" report --as-of 2012-06-30 >"$TMP/report.txt"
grep -q '永仁县' "$TMP/report.txt" || fail "text report names the county"
grep -q '中和村委会' "$TMP/report.txt" || fail "text report names the village"
grep -qF "$CADRE" "$TMP/report.txt" || fail "text report names the cadres"
for label in 办结率 超期 信访办结率 谈心谈话 村集体经济收入五级预警 截至 2012-06-30; do
    grep -qF "$label" "$TMP/report.txt" || fail "text report has '$label'"
done
# receptions of petitioners are one figure, in persons: one column, not two
grep -qF '接待来访(人次)' "$TMP/report.txt" || fail "text report has the receptions"
if grep -qF '信访接待(人次)' "$TMP/report.txt"; then
    fail "text report shows the receptions twice (接待来访 and 信访接待)"
fi
if grep -Eq '[0-9a-f]{8}-[0-9a-f]{4}-' "$TMP/report.txt"; then
    fail "text report shows an id: $(grep -Eo '[0-9a-f]{8}-[0-9a-f]{4}-[^ ]*' "$TMP/report.txt" | head -1)"
fi
python3 - "$TMP/report.txt" <<'PY'
import sys, unicodedata
width = lambda s: sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
tables = open(sys.argv[1], encoding="utf-8").read().split("\n\n")[1:]
for t in tables:
    lines = [l for l in t.splitlines() if l.strip()][1:]  # after the title
    if len({width(l) for l in lines}) > 1:
        sys.exit("FAIL: columns not aligned in table %r: widths %s"
                 % (t.splitlines()[0], sorted({width(l) for l in lines})))
print("aligned: %d tables" % len(tables))
PY

# CSV: BOM, Chinese headers, CRLF, the same figures as the JSON
ok "$DB" report --as-of 2012-06-30 --format json >"$TMP/report.json"
ok "$DB" report --as-of 2012-06-30 --format csv -o "$TMP/report.csv" >/dev/null
[[ $(head -c 3 "$TMP/report.csv" | od -An -tx1 | tr -d ' ') == efbbbf ]] || fail "CSV starts with a BOM"
python3 - "$TMP/report.csv" "$TMP/report.json" <<'PY'
import csv, json, sys
raw = open(sys.argv[1], "rb").read()
assert raw.startswith(b"\xef\xbb\xbf"), "no BOM"
assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b""), "rows must end CRLF"
rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
report = json.load(open(sys.argv[2], encoding="utf-8"))
head = rows[1]
for h in ["地区", "级别", "户数", "登记", "受理", "办结", "在办", "超期", "办结率", "编号"]:
    assert h in head, "CSV header lacks %s: %s" % (h, head)
col = {h: i for i, h in enumerate(head)}
by_id = {r[col["编号"]]: r for r in rows[2:] if len(r) == len(head)}
for a in report["areas"]:
    r = by_id[a["id"]]
    n = a["needs"]
    got = [r[col["地区"]], int(r[col["登记"]]), int(r[col["办结"]]), int(r[col["超期"]])]
    want = [a["name"], n["registered"], n["resolved"], n["overdue"]]
    assert got == want, "CSV row of %s: %s, JSON %s" % (a["name"], got, want)
    rate = r[col["办结率"]]
    if n["completion_rate"] is None:
        assert rate == "", rate
    else:
        assert abs(float(rate.rstrip("%")) / 100 - n["completion_rate"]) < 0.0006, rate
titles = [r[0] for r in rows if len(r) == 1]
assert titles == ["各地区民情办理、信访与走访", "各干部民情办理、信访与走访",
                  "村集体经济收入五级预警"], titles
print("csv: %d areas match the JSON" % len(report["areas"]))
PY

# --area: the village and its groups only
got=$(ok "$DB" report --as-of 2012-06-30 --area "$VILLAGE" --format json |
    py '[d["area"], d["areas"][0]["id"], sorted({a["level"] for a in d["areas"]})]')
expect_eq "[\"$VILLAGE\", \"$VILLAGE\", [\"group\", \"village\"]]" "$got" "report --area of the village"

# bad input: named option, rule and value; exit 2; nothing written
refused() { # refused WHAT EXPECTED_STDERR ARGS...
    local what=$1 want=$2
    shift 2
    rm -f "$TMP/out.txt"
    mq "$DB" report "$@" -o "$TMP/out.txt"
    expect_rc 2 "$what"
    expect_err "$want" "$what"
    expect_out_empty "$what"
    [[ ! -e $TMP/out.txt && ! -e $TMP/out.txt.part ]] || fail "$what: a file was written"
}
refused "a day that is not a date" '--as-of: "2012-02-30" is not a real calendar date' --as-of 2012-02-30
refused "a day not written YYYY-MM-DD" '--as-of: "2012-6-30" must be a date written YYYY-MM-DD' --as-of 2012-6-30
refused "a bad --from" '--from: "2012-13-01" is not a real calendar date' --from 2012-13-01
refused "--from after --as-of" '--from: "2012-07-01" is after --as-of "2012-06-30"' --as-of 2012-06-30 --from 2012-07-01
refused "an unknown area" '--area: area "00000000-0000-4000-8000-000000000000": no record of this id' --area 00000000-0000-4000-8000-000000000000
refused "an area that is not a UUID" '--area: must be an area id (a UUID), not "中和"' --area 中和
HH=$(grep -m1 '"type":"household"' "$TMP/village.jsonl" | py 'd["id"]')
refused "a household as area" 'the record is not an area' --area "$HH"
refused "an unknown format" '--format: must be text, json, csv or xlsx, not "pdf"' --format pdf
mq "$DB" report --as-of 2012-06-30 --bogus
expect_rc 2 "an unknown option"
echo "ok"
