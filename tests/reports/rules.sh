# tests/reports/rules.sh - each rule of docs/REPORTS.md on a small fixture
# made by hand, through `minqing report --format json`: the deadline day is
# in time, no deadline is never overdue, an action after D is not counted,
# a need recorded after D does not exist, reopen after resolve, a second
# resolve, two actions of one day in the order they were written, null
# rates when nothing is accepted, the income levels at their thresholds;
# days counted across month ends and a leap day; talks between cadres by
# occasion (五必谈) per cadre and level, receptions counted in people, the
# households, people and livestock a need serves, the handler after a
# transfer, the income record's channels and measures.
source "$(dirname "$0")/../cli/lib.sh"

DB=$TMP/rules.db
ok "$DB" init --site rules >/dev/null

put() { # put TYPE JSON : prints the new record's id
    printf '%s' "$2" | ok "$DB" put "$1"
}
COUNTY=$(put area '{"name":"永仁县","level":"county"}')
TOWN=$(put area "{\"name\":\"中和镇\",\"level\":\"township\",\"parent\":\"$COUNTY\"}")
VILLAGE=$(put area "{\"name\":\"中和村委会\",\"level\":\"village\",\"parent\":\"$TOWN\"}")
G1=$(put area "{\"name\":\"立戈村民小组\",\"level\":\"group\",\"parent\":\"$VILLAGE\"}")
G2=$(put area "{\"name\":\"莲池村民小组\",\"level\":\"group\",\"parent\":\"$VILLAGE\"}")
K1=$(put cadre '{"name":"李春全"}')
K2=$(put cadre '{"name":"杨再春"}')
H1=$(put household "{\"area\":\"$G1\",\"head_name\":\"王国兴\",\"head_id_number\":\"532327198001010015\",\"paired_cadre\":\"$K1\"}")
H2=$(put household "{\"area\":\"$G2\",\"head_name\":\"张秀英\",\"head_id_number\":\"532327197502020022\",\"paired_cadre\":\"$K2\"}")

need() { # need HOUSEHOLD CADRE RECORDED_AT DEADLINE|- SOURCE
    local dl=""
    [[ $4 != - ]] && dl=",\"deadline\":\"$4\""
    put need "{\"household\":\"$1\",\"category\":\"drinking_water\",\"description\":\"需建水窖\",\"source\":\"$5\",\"recorded_by\":\"$2\",\"recorded_at\":\"$3\"$dl}"
}
act() { # act NEED ACTION AT [EXTRA_JSON]
    put need_action "{\"need\":\"$1\",\"action\":\"$2\",\"by\":\"$K1\",\"at\":\"$3\"${4:+,$4}}" >/dev/null
}

# N1: the deadline is the day of the report
N1=$(need "$H1" "$K1" 2024-03-01 2024-03-10 home_visit)
act "$N1" accept 2024-03-01
# N2: no deadline
N2=$(need "$H1" "$K1" 2024-03-01 - home_visit)
act "$N2" accept 2024-03-01
# N3: past its deadline, resolved after the day of the report
N3=$(need "$H1" "$K1" 2024-03-01 2024-03-05 petition_visit)
act "$N3" accept 2024-03-01
act "$N3" resolve 2024-03-12 '"amount_yuan":2000,"satisfaction":"satisfied"'
# N4: resolved, then reopened
N4=$(need "$H1" "$K1" 2024-03-01 2024-04-01 home_visit)
act "$N4" accept 2024-03-01
act "$N4" resolve 2024-03-03 '"amount_yuan":500,"satisfaction":"satisfied"'
act "$N4" reopen 2024-03-05
# N5: resolved, reopened, resolved again
N5=$(need "$H1" "$K1" 2024-03-01 2024-04-01 home_visit)
act "$N5" accept 2024-03-01
act "$N5" resolve 2024-03-02 '"amount_yuan":100,"satisfaction":"satisfied"'
act "$N5" reopen 2024-03-03
act "$N5" progress 2024-03-04
act "$N5" resolve 2024-03-08 '"amount_yuan":50.5,"satisfaction":"unsatisfied"'
# N6: recorded after the day of the report
N6=$(need "$H1" "$K1" 2024-03-20 2024-03-25 home_visit)
act "$N6" accept 2024-03-20
# N7: a petition in the other group, never accepted, by the other cadre
N7=$(need "$H2" "$K2" 2024-03-01 2024-03-31 petition_letter)
# N8: accepted and resolved on one day; N9: resolved, then accepted, on one
# day: the later written is the later action
N8=$(need "$H1" "$K1" 2024-03-01 - home_visit)
act "$N8" accept 2024-03-02
act "$N8" resolve 2024-03-02
N9=$(need "$H1" "$K1" 2024-03-01 - home_visit)
act "$N9" resolve 2024-03-02
act "$N9" accept 2024-03-02

visit() { # visit HOUSEHOLD CADRE AT KIND
    put visit "{\"household\":\"$1\",\"cadre\":\"$2\",\"at\":\"$3\",\"kind\":\"$4\"}" >/dev/null
}
visit "$H1" "$K1" 2024-03-02 talk
visit "$H1" "$K1" 2024-03-09 talk
visit "$H2" "$K2" 2024-03-02 petition_reception
visit "$H2" "$K2" 2024-03-11 petition_reception

income() { # income PERIOD INCOME TARGET
    put village_income "{\"area\":\"$VILLAGE\",\"period\":\"$1\",\"income_yuan\":$2,\"target_yuan\":$3}" >/dev/null
}
income 2024Q1 3999 10000   # 0.3999: red
income 2023Q1 4000 10000   # 0.4: orange
income 2023Q2 7999 10000   # yellow
income 2023Q3 8000 10000   # green
income 2023Q4 10000 10000  # at the target: blue
income 2024Q2 0 10000      # begins after 2024-03-10: not listed
income 2022 100 0          # no target: no ratio, no level

report() { # report DAY [ARGS...] : the JSON report on stdout
    local day=$1
    shift
    ok "$DB" report --format json --as-of "$day" "$@"
}
# pick EXPR < REPORT : a Python expression over the report `r`; area(ID),
# cadre(ID) give one entry
pick() {
    python3 -c '
import json, sys
r = json.load(sys.stdin)
area = lambda i: next(a for a in r["areas"] if a["id"] == i)
cadre = lambda i: next(c for c in r["cadres"] if c["id"] == i)
v = eval(sys.argv[1])
print(json.dumps(v, ensure_ascii=False, sort_keys=True))
' "$1"
}

R=$TMP/r0310.json
report 2024-03-10 >"$R"
# registered: N1 N2 N3 N4 N5 N8 N9 in G1 (N6 is recorded after D); N7 in G2
expect_eq 7 "$(pick "area(\"$G1\")['needs']['registered']" <"$R")" "needs of group 1 as of 2024-03-10"
expect_eq 8 "$(pick "r['total']['needs']['registered']" <"$R")" "a need recorded after D does not exist"
# overdue: only N3 (deadline 03-05); N1's deadline is D itself; N2 has none;
# N7 is not accepted but its deadline is ahead
expect_eq 1 "$(pick "r['total']['needs']['overdue']" <"$R")" "the deadline day is in time"
expect_eq 1 "$(pick "area(\"$G1\")['needs']['overdue']" <"$R")" "overdue in group 1"
# resolved: N5 (again), N8 (resolve written after accept); not N3 (after D),
# not N4 (reopened), not N9 (accept written after resolve)
expect_eq 2 "$(pick "r['total']['needs']['resolved']" <"$R")" "resolved as of 2024-03-10"
expect_eq 7 "$(pick "r['total']['needs']['accepted']" <"$R")" "accepted as of 2024-03-10"
expect_eq 5 "$(pick "r['total']['needs']['open']" <"$R")" "open: accepted and not resolved"
expect_eq 0 "$(pick "r['total']['needs']['resolved_late']" <"$R")" "nothing resolved late yet"
# yuan of counted resolves: N4 500 (later reopened), N5 100 + 50.5; not N3
expect_eq 650.5 "$(pick "r['total']['needs']['yuan']" <"$R")" "yuan of counted resolves"
# satisfaction of the last resolve of resolved needs: N5 unsatisfied only
expect_eq '{"basically_satisfied": 0, "satisfied": 0, "unsatisfied": 1}' \
    "$(pick "r['total']['needs']['satisfaction']" <"$R")" "satisfaction of resolved needs"
# median days: N5 7 days, N8 1 day -> 4
expect_eq 4 "$(pick "r['total']['needs']['median_days_to_resolve']" <"$R")" "median days to resolve"
expect_eq 0.2857142857142857 "$(pick "r['total']['needs']['completion_rate']" <"$R")" "completion rate 2/7"
# null rates where nothing is accepted: group 2 and cadre 2 (N7 only)
expect_eq '[1, 0, null, null]' \
    "$(pick "[area(\"$G2\")['needs']['registered'], area(\"$G2\")['needs']['accepted'], area(\"$G2\")['needs']['completion_rate'], area(\"$G2\")['needs']['median_days_to_resolve']]" <"$R")" \
    "null rate on zero accepted (area)"
expect_eq '[1, 0, null]' \
    "$(pick "[cadre(\"$K2\")['needs']['registered'], cadre(\"$K2\")['needs']['accepted'], cadre(\"$K2\")['needs']['completion_rate']]" <"$R")" \
    "null rate on zero accepted (cadre)"
# petitions: N3 (accepted, not yet closed) and N7 (not accepted)
expect_eq '{"accepted": 1, "closed": 0, "rate": 0, "received": 2, "receptions": 1}' \
    "$(pick "r['total']['petitions']" <"$R")" "petitions as of 2024-03-10"
expect_eq '{"accepted": 0, "closed": 0, "rate": null, "received": 1, "receptions": 1}' \
    "$(pick "area(\"$G2\")['petitions']" <"$R")" "petitions of group 2: null rate"
# visits: the reception of 03-11 is after D
expect_eq '{"home_visit": 0, "petition_reception": 1, "talk": 2}' \
    "$(pick "r['total']['visits']" <"$R")" "visits as of 2024-03-10"
expect_eq '[2, 1]' "$(pick "[cadre(\"$K1\")['visits']['talk'], cadre(\"$K2\")['visits']['petition_reception']]" <"$R")" \
    "visits per cadre by kind"
# every level through the scope path sees group 1's needs
expect_eq '[8, 8, 8, 7, 1]' \
    "$(pick "[area(i)['needs']['registered'] for i in [\"$COUNTY\", \"$TOWN\", \"$VILLAGE\", \"$G1\", \"$G2\"]]" <"$R")" \
    "needs at every level"
expect_eq '[2, 1, 1]' "$(pick "[area(\"$VILLAGE\")['households'], cadre(\"$K1\")['households'], cadre(\"$K2\")['households']]" <"$R")" \
    "households per area and per paired cadre"
expect_eq '[0, 1, 2, 3, 3]' "$(pick "[a['depth'] for a in r['areas']]" <"$R")" "areas in tree order"
# income: each threshold, the period not begun, no target
expect_eq '[["2022", null, null], ["2023Q1", 0.4, "orange"], ["2023Q2", 0.7999, "yellow"], ["2023Q3", 0.8, "green"], ["2023Q4", 1, "blue"], ["2024Q1", 0.3999, "red"]]' \
    "$(pick "[[i['period'], i['ratio'], i['level']] for i in r['income']]" <"$R")" "income levels"

R=$TMP/r0311.json
report 2024-03-11 >"$R"
expect_eq 2 "$(pick "r['total']['needs']['overdue']" <"$R")" "N1 overdue the day after its deadline"
expect_eq 2 "$(pick "r['total']['petitions']['receptions']" <"$R")" "the reception of 03-11"

R=$TMP/r0312.json
report 2024-03-12 >"$R"
# N3 resolved on 03-12, after its deadline of 03-05: 11 days
expect_eq '[3, 1, 2650.5]' "$(pick "[r['total']['needs']['resolved'], r['total']['needs']['resolved_late'], r['total']['needs']['yuan']]" <"$R")" \
    "a resolve on D counts, late after the deadline"
expect_eq 7 "$(pick "r['total']['needs']['median_days_to_resolve']" <"$R")" "median of 1, 7, 11"
expect_eq '{"accepted": 1, "closed": 1, "rate": 1, "received": 2, "receptions": 2}' \
    "$(pick "r['total']['petitions']" <"$R")" "petition closed"

R=$TMP/r2030.json
report 2030-01-01 >"$R"
# never overdue: N2, N8, N9 have no deadline; overdue: N1, N4, N6, N7
expect_eq 4 "$(pick "r['total']['needs']['overdue']" <"$R")" "no deadline, never overdue"

# --from: only needs recorded, and visits made, on or after the day
R=$TMP/rfrom.json
report 2024-03-31 --from 2024-03-10 >"$R"
expect_eq '[1, 1, "2024-03-10"]' "$(pick "[r['total']['needs']['registered'], r['total']['visits']['petition_reception'], r['from']]" <"$R")" \
    "--from keeps needs and visits from that day"

# --area: the scope's areas only, the totals of the scope
R=$TMP/rarea.json
report 2024-03-10 --area "$G2" >"$R"
expect_eq "[[\"$G2\"], 1, 1, [\"$K2\"]]" "$(pick "[[a['id'] for a in r['areas']], r['total']['needs']['registered'], r['total']['households'], [c['id'] for c in r['cadres']]]" <"$R")" \
    "--area keeps the area and below"
expect_eq '[]' "$(pick "r['income']" <"$R")" "--area of a group lists no village income"

# Days across a month end, a year end and 29 February 2024: 2024-02-27 to
# 2024-03-02 is 4 days, 2023-12-30 to 2024-03-01 is 62, 2023-02-27 to
# 2023-03-02 is 3; on 2024-03-01 N12 is 3 days overdue and N10 2.
DB=$TMP/days.db
ok "$DB" init --site days >/dev/null
COUNTY=$(put area '{"name":"永仁县","level":"county"}')
G=$(put area "{\"name\":\"立戈村民小组\",\"level\":\"group\",\"parent\":\"$COUNTY\"}")
K1=$(put cadre '{"name":"李春全"}')
H=$(put household "{\"area\":\"$G\",\"head_name\":\"王国兴\",\"head_id_number\":\"532327198001010015\",\"paired_cadre\":\"$K1\"}")
N10=$(need "$H" "$K1" 2024-02-27 2024-02-28 home_visit)
act "$N10" resolve 2024-03-02
N11=$(need "$H" "$K1" 2023-12-30 - home_visit)
act "$N11" resolve 2024-03-01
N12=$(need "$H" "$K1" 2023-02-27 2024-02-27 home_visit)
act "$N12" resolve 2023-03-02
act "$N12" reopen 2023-03-03
R=$TMP/rdays.json
report 2024-03-02 >"$R"
expect_eq '[2, 33, 1]' "$(pick "[r['total']['needs']['resolved'], r['total']['needs']['median_days_to_resolve'], r['total']['needs']['resolved_late']]" <"$R")" \
    "days to resolve across a leap day"
R=$TMP/rdays2.json
report 2024-03-01 >"$R"
expect_eq '[1, 62]' "$(pick "[r['total']['needs']['resolved'], r['total']['needs']['median_days_to_resolve']]" <"$R")" \
    "days to resolve across a year end"
R=$TMP/rdays3.json
report 2023-03-02 >"$R"
expect_eq 3 "$(pick "r['total']['needs']['median_days_to_resolve']" <"$R")" "days in a year without 29 February"
got=$(ok "$DB" needs --as-of 2024-03-01 --overdue | python3 -c 'import json,sys; print([[r["id"], r["days_overdue"]] for r in map(json.loads, sys.stdin)])')
expect_eq "[['$N12', 3], ['$N10', 2]]" "$got" "days overdue across 29 February"

# The records the programme keeps beyond the cards (the schema's additions).
DB=$TMP/more.db
ok "$DB" init --site more >/dev/null
COUNTY=$(put area '{"name":"永仁县","level":"county"}')
TOWN=$(put area "{\"name\":\"中和镇\",\"level\":\"township\",\"parent\":\"$COUNTY\"}")
VILLAGE=$(put area "{\"name\":\"中和村委会\",\"level\":\"village\",\"parent\":\"$TOWN\"}")
G=$(put area "{\"name\":\"立戈村民小组\",\"level\":\"group\",\"parent\":\"$VILLAGE\"}")
K1=$(put cadre '{"name":"李春全","position":"乡党委书记"}')
K2=$(put cadre '{"name":"杨再春"}')
K3=$(put cadre '{"name":"王国兴"}')
H=$(put household "{\"area\":\"$G\",\"head_name\":\"张秀英\",\"head_id_number\":\"532327197502020022\",\"paired_cadre\":\"$K2\"}")
talk() { # talk AREA CADRE AT OCCASION|- [EXTRA]
    local occ=""
    [[ $4 != - ]] && occ=",\"occasion\":\"$4\""
    put talk "{\"area\":\"$1\",\"cadre\":\"$2\",\"at\":\"$3\"$occ${5:+,$5}}" >/dev/null
}
talk "$TOWN" "$K1" 2024-03-01 key_post "\"with_cadre\":\"$K2\""
talk "$TOWN" "$K1" 2024-03-02 post_changed "\"with_name\":\"赵明\",\"with_unit\":\"县林业局\""
talk "$VILLAGE" "$K1" 2024-03-03 hardship_or_illness "\"with_cadre\":\"$K3\""
talk "$VILLAGE" "$K2" 2024-03-04 - "\"with_cadre\":\"$K3\""
talk "$VILLAGE" "$K2" 2024-03-20 long_hard_service "\"with_cadre\":\"$K1\""
put visit "{\"household\":\"$H\",\"cadre\":\"$K2\",\"at\":\"2024-03-05\",\"kind\":\"petition_reception\",\"people\":12}" >/dev/null
put visit "{\"household\":\"$H\",\"cadre\":\"$K2\",\"at\":\"2024-03-06\",\"kind\":\"petition_reception\"}" >/dev/null
N=$(put need "{\"household\":\"$H\",\"category\":\"drinking_water\",\"description\":\"小组需建水窖\",\"recorded_by\":\"$K2\",\"recorded_at\":\"2024-03-01\",\"served_households\":23,\"served_people\":96,\"served_livestock\":140}")
act "$N" accept 2024-03-01
put need_action "{\"need\":\"$N\",\"action\":\"transfer\",\"by\":\"$K2\",\"to\":\"$K3\",\"at\":\"2024-03-02\"}" >/dev/null
put village_income "{\"area\":\"$VILLAGE\",\"period\":\"2024Q1\",\"income_yuan\":5000,\"target_yuan\":10000,\"channels\":\"水库承包\",\"measures\":\"发展核桃产业\"}" >/dev/null
R=$TMP/rmore.json
report 2024-03-10 >"$R"
expect_eq '[4, 4, 4, 2, 0]' "$(pick "[r['total']['talks']['total']] + [area(i)['talks']['total'] for i in [\"$COUNTY\", \"$TOWN\", \"$VILLAGE\", \"$G\"]]" <"$R")" \
    "talks between cadres by level (the one of 03-20 is after D)"
expect_eq '{"hardship_or_illness": 1, "key_post": 1, "long_hard_service": 0, "none": 0, "post_changed": 1, "troubled_unit": 0}' \
    "$(pick "cadre(\"$K1\")['talks']['occasions']" <"$R")" "talks per cadre by occasion (五必谈)"
expect_eq '[3, 1]' "$(pick "[cadre(\"$K1\")['talks']['total'], cadre(\"$K2\")['talks']['total']]" <"$R")" \
    "talks in person-times per cadre; a talk without an occasion counts"
expect_eq '[13, 2]' "$(pick "[r['total']['petitions']['receptions'], r['total']['visits']['petition_reception']]" <"$R")" \
    "receptions counted in people (12 and 1), visits in person-times"
expect_eq '[23, 96, 140]' "$(pick "[area(\"$G\")['needs'][k] for k in ('served_households', 'served_people', 'served_livestock')]" <"$R")" \
    "what a need serves"
expect_eq '[1, 0]' "$(pick "[cadre(\"$K3\")['handling'], cadre(\"$K2\")['handling']]" <"$R")" \
    "the handler after a transfer"
# ...and wherever the need is shown: the needs list, its text and its sheet
NA=$(put need "{\"household\":\"$H\",\"category\":\"housing\",\"description\":\"危房\",\"recorded_by\":\"$K2\",\"recorded_at\":\"2024-03-01\"}")
act "$NA" accept 2024-03-02
# a need of a group names no household; it counts in its area
NG=$(put need "{\"area\":\"$G\",\"category\":\"infrastructure\",\"description\":\"广播系统\",\"recorded_by\":\"$K2\",\"recorded_at\":\"2024-03-01\"}")
ok "$DB" needs --as-of 2024-03-10 >"$TMP/needs.jsonl"
pick_need() { # pick_need ID EXPR : EXPR over the need's line r
    python3 -c "import json,sys; r = [r for r in map(json.loads, open(sys.argv[1], encoding='utf-8')) if r['id'] == sys.argv[2]][0]; print(json.dumps($2, ensure_ascii=False))" "$TMP/needs.jsonl" "$1"
}
expect_eq "[\"$K3\", \"王国兴\"]" "$(pick_need "$N" "[r['handler'], r['handler_name']]")" \
    "the needs list names the handler after a transfer"
expect_eq "\"$K1\"" "$(pick_need "$NA" "r['handler']")" \
    "without a transfer, the handler is who accepted it"
expect_eq "\"$G\"" "$(pick_need "$NG" "r['area']")" "a need of a group is listed in its group"
ok "$DB" needs --as-of 2024-03-10 --format text >"$TMP/needs.txt"
grep -q "经办干部" "$TMP/needs.txt" || fail "needs --format text has a handler column"
[[ $(grep -c "杨再春 *王国兴" "$TMP/needs.txt") -ge 1 ]] ||
    fail "needs --format text shows the recorder and the handler: $(cat "$TMP/needs.txt")"
ok "$DB" needs --as-of 2024-03-10 --format csv -o "$TMP/needs.csv"
head -2 "$TMP/needs.csv" | grep -q "经办干部" || fail "the needs sheet has a handler column"
grep -q "杨再春,王国兴" "$TMP/needs.csv" || fail "the needs sheet names the handler: $(cat "$TMP/needs.csv")"
mq "$DB" put need <<<"{\"category\":\"other\",\"description\":\"无户无区域\"}"
[[ $RC -ne 0 ]] || fail "a need with neither household nor area was taken"
grep -q "household or area is required" "$ERR" || fail "the refusal says what to give: $(cat "$ERR")"
mq "$DB" put talk <<<"{\"area\":\"$VILLAGE\",\"cadre\":\"$K1\",\"at\":\"2024-03-01\"}"
[[ $RC -ne 0 ]] || fail "a talk with nobody was taken"
grep -q "with_cadre or with_name is required" "$ERR" || fail "the refusal names the fields: $(cat "$ERR")"
expect_eq '[["水库承包", "发展核桃产业"]]' "$(pick "[[i['channels'], i['measures']] for i in r['income']]" <"$R")" \
    "the income record's channels and measures"
# a talk's occasion must be one of the five, or none
mq "$DB" put talk <<<"{\"area\":\"$VILLAGE\",\"cadre\":\"$K1\",\"at\":\"2024-03-01\",\"occasion\":\"lunch\"}"
[[ $RC -ne 0 ]] || fail "a talk with an unknown occasion was taken"
grep -q "occasion" "$ERR" || fail "the refusal names the field: $(cat "$ERR")"
echo "ok"
