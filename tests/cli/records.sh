# tests/cli/records.sh - one record at a time: put creates and patches, get
# prints, list --where and search find (a two-character Chinese name
# included), delete leaves a tombstone that get shows and list and search
# hide, and history shows each change's fields, values, site and author.
source "$(dirname "$0")/lib.sh"

DB=$TMP/yard.db
gen --households 88 >"$TMP/village.jsonl"
ok "$DB" init --site yard >/dev/null
ok "$DB" import "$TMP/village.jsonl" >/dev/null
H=$(grep -m1 '"type":"household"' "$TMP/village.jsonl" | py 'd["id"]')
HPHONE=$(grep -m1 '"type":"household"' "$TMP/village.jsonl" | py 'd["fields"]["phone"]')
C=$(grep -m1 '"type":"cadre"' "$TMP/village.jsonl" | py 'd["id"]')

# put: creates, prints the new id
ID=$(printf '{"household":"%s","name":"李明","relation":"子","sex":"M"}' "$H" |
    ok "$DB" put member --as "$C")
[[ $ID =~ ^[0-9a-f-]{36}$ ]] || fail "put: expected a UUID on stdout, got '$ID'"

# get
got=$(ok "$DB" get "$ID" | py '[d["type"], d["id"], d["fields"]["name"], d["fields"]["household"], "deleted" in d and d["deleted"]]')
expect_eq "[\"member\", \"$ID\", \"李明\", \"$H\", false]" "$got" "get of a new member"

# search: a two-character Chinese name, and a household by its phone
got=$(ok "$DB" search "李明" | py "\"$ID\" in [r['id'] for r in rows]")
expect_eq true "$got" "search 李明 finds the new member"
got=$(ok "$DB" search "$HPHONE" | py "\"$H\" in [r['id'] for r in rows]")
expect_eq true "$got" "search by a household's phone"

# list --where, one and two conditions
got=$(ok "$DB" list member --where "household=$H" |
    py "[\"$ID\" in [r['id'] for r in rows], all(r['fields']['household'] == \"$H\" and r['type'] == 'member' for r in rows)]")
expect_eq "[true, true]" "$got" "list member --where household=H"
got=$(ok "$DB" list member --where "household=$H" --where "name=李明" | py '[r["id"] for r in rows]')
expect_eq "[\"$ID\"]" "$got" "list member with two --where"

# put --id patches only the given fields and prints the same id
got=$(echo '{"phone":"13912345678"}' | ok "$DB" put member --id "$ID")
expect_eq "$ID" "$got" "put --id prints the id"
got=$(ok "$DB" get "$ID" | py '[d["fields"]["name"], d["fields"]["phone"], d["fields"]["relation"]]')
expect_eq '["李明", "13912345678", "子"]' "$got" "get after a patch"

# a put that changes nothing writes nothing
echo '{"phone":"13912345678"}' | ok "$DB" put member --id "$ID" >/dev/null
got=$(ok "$DB" history "$ID" | py 'len(rows)')
expect_eq 2 "$got" "history after create, patch and an unchanged put"

# history: fields, values, site, author, clock of every change
got=$(ok "$DB" history "$ID" | py '[rows[0]["set"]["name"], rows[0]["set"]["household"], rows[0]["site"], rows[0]["by"], rows[1]["set"], rows[1]["site"], all(r.get("v") and r.get("at") for r in rows)]')
expect_eq "[\"李明\", \"$H\", \"yard\", \"$C\", {\"phone\": \"13912345678\"}, \"yard\", true]" "$got" "history"

# delete: get shows the tombstone, list and search no longer show the record
ok "$DB" delete "$ID" >/dev/null
got=$(ok "$DB" get "$ID" | py '[d["id"], d.get("deleted")]')
expect_eq "[\"$ID\", true]" "$got" "get after delete"
got=$(ok "$DB" list member --where "household=$H" | py "\"$ID\" in [r['id'] for r in rows]")
expect_eq false "$got" "list after delete"
got=$(ok "$DB" search "李明" | py "\"$ID\" in [r['id'] for r in rows]")
expect_eq false "$got" "search after delete"
got=$(ok "$DB" history "$ID" | py 'len(rows)')
expect_eq 3 "$got" "history after delete"

# log records are written once: a visit can be added, not edited
V=$(printf '{"household":"%s","cadre":"%s","at":"2024-05-01","kind":"talk","notes":"谈心"}' "$H" "$C" |
    ok "$DB" put visit)
mq "$DB" put visit --id "$V" <<<'{"notes":"改过"}'
expect_rc 1 "editing a visit (a log record)"
got=$(ok "$DB" get "$V" | py 'd["fields"]["notes"]')
expect_eq "谈心" "$got" "visit after a refused edit"

# get of an id that does not exist
mq "$DB" get 00000000-0000-4000-8000-000000000000
expect_rc 1 "get of an unknown id"
expect_err "minqing: " "get of an unknown id"

ok "$DB" check >/dev/null
echo "ok"
