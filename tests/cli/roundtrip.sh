# tests/cli/roundtrip.sh - a township (gen_cards.py --households 5000,
# ~47,000 records) imported and exported gives back the same records, as
# parsed JSON in any order; re-importing a part of it changes nothing.
source "$(dirname "$0")/lib.sh"

DB=$TMP/township.db
gen --households 5000 >"$TMP/in.jsonl"
ok "$DB" init --site township >/dev/null

start=$SECONDS
ok "$DB" import "$TMP/in.jsonl" >/dev/null
lines=$(wc -l <"$TMP/in.jsonl")
expect_err "imported $lines records ($lines created, 0 updated, 0 unchanged)" "import summary"
echo "import of $lines records: $((SECONDS - start)) s"

ok "$DB" export -o "$TMP/out.jsonl" >/dev/null
[[ ! -e $TMP/out.jsonl.part ]] || fail "export -o left its temporary file behind"
same_records "$TMP/in.jsonl" "$TMP/out.jsonl" "import then export"

# export --type: only that type, all of it.
want=$(grep -c '"type":"household"' "$TMP/in.jsonl")
got=$(ok "$DB" export --type household | py 'sum(1 for r in rows if r["type"] == "household") if all(r["type"] == "household" for r in rows) else "other types"')
expect_eq "$want" "$got" "export --type household"

# The village committee's first 500 lines again, from stdin: all unchanged.
head -n 500 "$TMP/in.jsonl" >"$TMP/part.jsonl"
mq "$DB" import - <"$TMP/part.jsonl"
expect_rc 0 "re-import from stdin"
expect_err "imported 500 records (0 created, 0 updated, 500 unchanged)" "re-import summary"

ok "$DB" check >/dev/null
echo "ok"
