# tests/reports/xlsx.sh - `minqing report` and `minqing needs` as the office
# opens them: XLSX read back by openpyxl (an independent reader) and CSV,
# every cell checked against the JSON of the same command (check_xlsx.py):
# Chinese headers, dates as dates, counts and money as numbers, rates as
# percentages, the income grid filled in the levels' colours; -o writes the
# file whole; bad options are refused with exit 2 and nothing written.
source "$(dirname "$0")/../cli/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
SCHEMA=$HERE/../../core/schema/default.json

# A Python that reads XLSX: Debian's python3-openpyxl (scripts/deps).
PY=""
for p in python3 /usr/bin/python3; do
    if "$p" -c 'import openpyxl' 2>/dev/null; then PY=$p; break; fi
done
[[ -n $PY ]] || fail "no python3 with openpyxl (scripts/deps installs python3-openpyxl)"

DB=$TMP/x.db
gen --households 88 >"$TMP/village.jsonl"
ok "$DB" init --site xlsx >/dev/null
ok "$DB" import "$TMP/village.jsonl" >/dev/null
VILLAGE=$(grep '"level":"village"' "$TMP/village.jsonl" | py 'rows[0]["id"]')

for day in 2012-06-30 2011-12-31; do
    ok "$DB" report --as-of $day --format json >"$TMP/r.json"
    ok "$DB" report --as-of $day --format xlsx -o "$TMP/r.xlsx" >/dev/null
    "$PY" "$HERE/check_xlsx.py" report "$TMP/r.xlsx" "$TMP/r.json" "$SCHEMA" ||
        fail "the report's workbook as of $day"
    ok "$DB" needs --as-of $day >"$TMP/n.jsonl"
    ok "$DB" needs --as-of $day --format xlsx -o "$TMP/n.xlsx" >/dev/null
    "$PY" "$HERE/check_xlsx.py" needs "$TMP/n.xlsx" "$TMP/n.jsonl" "$SCHEMA" ||
        fail "the needs workbook as of $day"
    ok "$DB" needs --as-of $day --overdue >"$TMP/o.jsonl"
    [[ -s $TMP/o.jsonl ]] || fail "the reference village has overdue needs on $day"
    ok "$DB" needs --as-of $day --overdue --format xlsx -o "$TMP/o.xlsx" >/dev/null
    "$PY" "$HERE/check_xlsx.py" needs "$TMP/o.xlsx" "$TMP/o.jsonl" "$SCHEMA" ||
        fail "the overdue workbook as of $day"
    ok "$DB" needs --as-of $day --overdue --format csv -o "$TMP/o.csv" >/dev/null
    "$PY" "$HERE/check_xlsx.py" needs-csv "$TMP/o.csv" "$TMP/o.jsonl" "$SCHEMA" ||
        fail "the overdue CSV as of $day"
done
# CSV to standard output is the same as to a file
ok "$DB" needs --as-of 2011-12-31 --overdue --format csv >"$TMP/o2.csv"
cmp -s "$TMP/o.csv" "$TMP/o2.csv" || fail "needs --format csv to stdout and to -o differ"
# a scoped report: the village only
ok "$DB" report --as-of 2012-06-30 --area "$VILLAGE" --format json >"$TMP/v.json"
ok "$DB" report --as-of 2012-06-30 --area "$VILLAGE" --format xlsx -o "$TMP/v.xlsx" >/dev/null
"$PY" "$HERE/check_xlsx.py" report "$TMP/v.xlsx" "$TMP/v.json" "$SCHEMA" || fail "the village's workbook"
# -o replaces a file whole and leaves no temporary file
ls "$TMP"/*.part 2>/dev/null && fail "a temporary file was left"

# bad input: exit 2, the option and the rule named, nothing written
refused() { # refused WHAT EXPECTED_STDERR ARGS...
    local what=$1 want=$2
    shift 2
    rm -f "$TMP/bad.xlsx"
    mq "$DB" "$@"
    expect_rc 2 "$what"
    expect_err "$want" "$what"
    [[ ! -e $TMP/bad.xlsx && ! -e $TMP/bad.xlsx.part ]] || fail "$what: a file was written"
}
refused "report xlsx to stdout" '--format xlsx: needs -o FILE' report --format xlsx
refused "needs xlsx to stdout" '--format xlsx: needs -o FILE' needs --format xlsx
refused "needs -o with json" '-o: writes --format csv or xlsx only' needs -o "$TMP/bad.xlsx"
refused "needs unknown format" '--format: must be json, text, csv or xlsx, not "ods"' needs --format ods -o "$TMP/bad.xlsx"
refused "needs xlsx unknown category" '--category: category "water": not a need category' \
    needs --format xlsx -o "$TMP/bad.xlsx" --category water
refused "report xlsx unknown area" '--area: area "00000000-0000-4000-8000-000000000000": no record' \
    report --format xlsx -o "$TMP/bad.xlsx" --area 00000000-0000-4000-8000-000000000000
echo "ok"
