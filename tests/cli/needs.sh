# tests/cli/needs.sh - a need's status is folded from its actions: open
# once accepted, overdue past its deadline (--today fixes the day),
# resolved after a resolve action, reopened after a reopen; --area keeps
# the needs in an area and below.
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
echo "ok"
