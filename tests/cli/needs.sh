# tests/cli/needs.sh - a need's status is folded from its actions: open
# once accepted, overdue past its deadline (--as-of, or its old name
# --today, fixes the day), resolved after a resolve action, reopened after
# a reopen; as of a day, a need recorded later is not listed and a later
# action does not count; each need shows its household head, group,
# village and cadre by name, its deadline and days overdue; --area,
# --cadre, --category and --status filter.
source "$(dirname "$0")/lib.sh"

DB=$TMP/needs.db
gen --households 88 >"$TMP/village.jsonl"
ok "$DB" init --site needs >/dev/null
ok "$DB" import "$TMP/village.jsonl" >/dev/null
H=$(grep -m1 '"type":"household"' "$TMP/village.jsonl" | py 'd["id"]')
G=$(grep -m1 '"type":"household"' "$TMP/village.jsonl" | py 'd["fields"]["area"]')
C=$(grep -m1 '"type":"cadre"' "$TMP/village.jsonl" | py 'd["id"]')
VILLAGE=$(grep '"level":"village"' "$TMP/village.jsonl" | py 'rows[0]["id"]')
OTHER=$(grep '"level":"group"' "$TMP/village.jsonl" | py "[r['id'] for r in rows if r['id'] != \"$G\"][0]")

N=$(printf '{"household":"%s","category":"housing","description":"房屋漏雨,需危房改造","recorded_by":"%s","recorded_at":"2024-01-01","deadline":"2024-02-01"}' "$H" "$C" |
    ok "$DB" put need)
action() {
    printf '{"need":"%s","action":"%s","by":"%s","at":"%s"}' "$N" "$1" "$C" "$2" |
        ok "$DB" put need_action >/dev/null
}
# status ARGS... : the status of N in `needs ARGS...`, or "absent"
status() {
    ok "$DB" needs "$@" | py "([r['status'] for r in rows if r['id'] == \"$N\"] + ['absent'])[0]"
}

action accept 2024-01-02
expect_eq open "$(status --today 2024-01-10)" "an accepted need before its deadline"
expect_eq absent "$(status --overdue --today 2024-01-10)" "needs --overdue before the deadline"
expect_eq overdue "$(status --today 2024-03-01)" "an accepted need past its deadline"
expect_eq overdue "$(status --overdue --today 2024-03-01)" "needs --overdue past the deadline"
got=$(ok "$DB" needs --today 2024-03-01 | py "[[r['household'], r['category'], r['deadline'], r['accepted_by'], r['actions']] for r in rows if r['id'] == \"$N\"]")
expect_eq "[[\"$H\", \"housing\", \"2024-02-01\", \"$C\", 1]]" "$got" "the need's report row"

expect_eq open "$(status --area "$G" --today 2024-01-10)" "needs --area of the household's group"
expect_eq open "$(status --area "$VILLAGE" --today 2024-01-10)" "needs --area of the village"
expect_eq absent "$(status --area "$OTHER" --today 2024-01-10)" "needs --area of another group"

# every need that --overdue lists is overdue; the generated data has some
got=$(ok "$DB" needs --overdue --today 2024-03-01 | py '[len(rows) > 1, all(r["status"] == "overdue" for r in rows)]')
expect_eq "[true, true]" "$got" "needs --overdue lists only overdue needs"

action resolve 2024-01-15
expect_eq resolved "$(status --today 2024-03-01)" "a resolved need"
expect_eq absent "$(status --overdue --today 2024-03-01)" "needs --overdue after resolve"

action reopen 2024-01-18
expect_eq reopened "$(status --today 2024-01-25)" "a reopened need"

# as of a day: a resolve dated after it does not count (the bug: it did)
expect_eq overdue "$(status --as-of 2024-02-05)" "reopened, past the deadline"
action resolve 2024-03-10
expect_eq overdue "$(status --as-of 2024-03-01)" "a resolve after the day does not count"
expect_eq resolved "$(status --as-of 2024-03-10)" "a resolve on the day counts"
expect_eq resolved "$(status --as-of 2024-01-16)" "as of a day between resolve and reopen"
got=$(ok "$DB" needs --as-of 2024-03-01 | py "[r['actions'] for r in rows if r['id'] == \"$N\"]")
expect_eq "[3]" "$got" "only the actions on or before the day are counted"
# a need recorded after the day does not exist yet
LATE=$(printf '{"household":"%s","category":"dispute","description":"土地边界纠纷","recorded_by":"%s","recorded_at":"2024-06-01","deadline":"2024-06-02"}' "$H" "$C" |
    ok "$DB" put need)
got=$(ok "$DB" needs --as-of 2024-05-31 | py "[r['id'] for r in rows if r['id'] == \"$LATE\"]")
expect_eq "[]" "$got" "a need recorded after the day is not listed"
got=$(ok "$DB" needs --as-of 2024-06-05 | py "[[r['status'], r['days_overdue'], r['accepted']] for r in rows if r['id'] == \"$LATE\"]")
expect_eq '[["overdue", 3, false]]' "$got" "registered, not accepted, 3 days past its deadline"
got=$(ok "$DB" needs --as-of 2024-06-02 | py "[[r['status'], 'days_overdue' in r] for r in rows if r['id'] == \"$LATE\"]")
expect_eq '[["registered", false]]' "$got" "the deadline day itself is in time"

# names beside the ids
HEAD=$(grep -m1 '"type":"household"' "$TMP/village.jsonl" | py 'd["fields"]["head_name"]')
CNAME=$(grep -m1 '"type":"cadre"' "$TMP/village.jsonl" | py 'd["fields"]["name"]')
GNAME=$(grep '"level":"group"' "$TMP/village.jsonl" | py "[r['fields']['name'] for r in rows if r['id'] == \"$G\"][0]")
got=$(ok "$DB" needs --as-of 2024-06-05 | py "[[r['head_name'], r['area_name'], r['village'], r['village_name'], r['cadre_name'], r['deadline']] for r in rows if r['id'] == \"$LATE\"]")
expect_eq "[[\"$HEAD\", \"$GNAME\", \"$VILLAGE\", \"中和村委会\", \"$CNAME\", \"2024-06-02\"]]" "$got" "household head, group, village and cadre by name"
ok "$DB" needs --as-of 2024-06-05 --status overdue --format text >"$TMP/needs.txt"
grep -q "户主" "$TMP/needs.txt" || fail "needs --format text has Chinese headers"
grep "$HEAD" "$TMP/needs.txt" | grep "纠纷" | grep "超期" | grep "2024-06-02" | grep -q "$CNAME" ||
    fail "needs --format text shows the need by names: $(grep "$HEAD" "$TMP/needs.txt")"

# filters: cadre, category, status
got=$(ok "$DB" needs --as-of 2024-06-05 --cadre "$C" | py "[len(rows) > 1, all(r['recorded_by'] == \"$C\" for r in rows), \"$LATE\" in [r['id'] for r in rows]]")
expect_eq "[true, true, true]" "$got" "needs --cadre"
got=$(ok "$DB" needs --as-of 2024-06-05 --category dispute | py "[len(rows) > 1, all(r['category'] == 'dispute' for r in rows)]")
expect_eq "[true, true]" "$got" "needs --category"
for st in registered open resolved overdue; do
    got=$(ok "$DB" needs --as-of 2012-06-30 --status $st | py "[len(rows) > 0 or '$st' == 'registered', all(r['status'] == '$st' for r in rows)]")
    expect_eq "[true, true]" "$got" "needs --status $st"
done
# the overdue list is the report's overdue figure
want=$(ok "$DB" report --format json --as-of 2012-06-30 | py 'd["total"]["needs"]["overdue"]')
got=$(ok "$DB" needs --as-of 2012-06-30 --overdue | py 'len(rows)')
expect_eq "$want" "$got" "needs --overdue lists the report's overdue needs"

# bad filters: the option, the rule and the value; exit 2
mq "$DB" needs --as-of 2024-02-30
expect_rc 2 "needs --as-of not a date"
expect_err '--as-of: "2024-02-30" is not a real calendar date' "needs --as-of not a date"
mq "$DB" needs --category nothing
expect_rc 2 "needs --category unknown"
expect_err '--category: category "nothing": not a need category' "needs --category unknown"
mq "$DB" needs --status late
expect_rc 2 "needs --status unknown"
expect_err '--status: status "late": must be registered, open, reopened, overdue or resolved' "needs --status unknown"
mq "$DB" needs --cadre "$H"
expect_rc 2 "needs --cadre of a household"
expect_err "--cadre: cadre \"$H\": the record is not a cadre" "needs --cadre of a household"
mq "$DB" needs --area 00000000-0000-4000-8000-000000000000
expect_rc 2 "needs --area unknown"
expect_err '--area: area "00000000-0000-4000-8000-000000000000": no record' "needs --area unknown"
mq "$DB" needs --today 2024-01-01 --as-of 2024-01-01
expect_rc 2 "needs --today with --as-of"
echo "ok"
