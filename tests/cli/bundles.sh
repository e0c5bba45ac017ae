# tests/cli/bundles.sh - changes and apply between two replicas, the way a
# USB stick carries them: B applying A's bundle ends with A's records and
# A's history; applying it again changes nothing; a bundle --since the last
# cursor carries only what is new.
source "$(dirname "$0")/lib.sh"

A=$TMP/tablet.db
B=$TMP/office.db
gen --households 88 >"$TMP/village.jsonl"
ok "$A" init --site tablet-a >/dev/null
ok "$B" init --site office >/dev/null
ok "$A" import "$TMP/village.jsonl" >/dev/null
H=$(grep -m1 '"type":"household"' "$TMP/village.jsonl" | py 'd["id"]')
M=$(grep -m1 '"type":"member"' "$TMP/village.jsonl" | py 'd["id"]')

echo '{"phone":"13811112222","size":5}' | ok "$A" put household --id "$H" >/dev/null
NEW=$(printf '{"household":"%s","name":"王芳","sex":"F"}' "$H" | ok "$A" put member)
ok "$A" delete "$M" >/dev/null

ok "$A" changes -o "$TMP/a1.bundle" >/dev/null
CA=$(cursor)
[[ -n $CA ]] || fail "changes: expected 'next cursor: N' on stderr, got: $(cat "$ERR")"
[[ ! -e $TMP/a1.bundle.part ]] || fail "changes -o left its temporary file behind"

mq "$B" apply "$TMP/a1.bundle"
expect_rc 0 "apply of A's bundle"
expect_err "applied " "apply summary"
ok "$A" export >"$TMP/a.jsonl"
ok "$B" export >"$TMP/b.jsonl"
same_records "$TMP/a.jsonl" "$TMP/b.jsonl" "B's export after applying A's bundle"
got=$(ok "$B" get "$M" | py 'd.get("deleted")')
expect_eq true "$got" "a deleted member on B"
for id in "$H" "$NEW" "$M"; do
    a=$(ok "$A" history "$id" | py '[[r["v"], r["site"], r.get("by"), r["set"]] for r in rows]')
    b=$(ok "$B" history "$id" | py '[[r["v"], r["site"], r.get("by"), r["set"]] for r in rows]')
    expect_eq "$a" "$b" "history of $id on B"
done

# the same bundle again, from stdin: nothing new
ok "$B" changes >/dev/null
CB=$(cursor)
mq "$B" apply - <"$TMP/a1.bundle"
expect_rc 0 "second apply of the same bundle"
expect_err "applied 0 new changes" "second apply summary"
ok "$B" export >"$TMP/b2.jsonl"
same_records "$TMP/a.jsonl" "$TMP/b2.jsonl" "B's export after applying the bundle twice"
got=$(ok "$B" changes --since "$CB" | py 'sum(1 for r in rows if "set" in r)')
expect_eq 0 "$got" "changes logged on B by a second apply"

# only what is new since the cursor
echo '{"income_per_capita_yuan":4321}' | ok "$A" put household --id "$H" >/dev/null
ok "$A" changes --since "$CA" -o "$TMP/a2.bundle" >/dev/null
got=$(py 'sum(1 for r in rows if "set" in r)' <"$TMP/a2.bundle")
expect_eq 1 "$got" "changes in a bundle --since the last cursor"
mq "$B" apply "$TMP/a2.bundle"
expect_rc 0 "apply of the second bundle"
expect_err "applied 1 new change " "apply summary of the second bundle"
ok "$A" export >"$TMP/a3.jsonl"
ok "$B" export >"$TMP/b3.jsonl"
same_records "$TMP/a3.jsonl" "$TMP/b3.jsonl" "B's export after the second bundle"

# B's changes back to A are all known there
ok "$B" changes -o "$TMP/b.bundle" >/dev/null
mq "$A" apply "$TMP/b.bundle"
expect_rc 0 "apply of B's bundle on A"
expect_err "applied 0 new changes" "apply of B's bundle on A"

# a bundle with one invalid change: refused whole, or applied but that one
# kept in `rejected` with its reason
C=$TMP/third.db
ok "$C" init --site third >/dev/null
python3 - "$TMP/a1.bundle" "$TMP/bad.bundle" "$H" <<'PY'
import json, sys
src, dst, h = sys.argv[1:]
out, n = [], 0
for line in open(src, encoding="utf-8"):
    r = json.loads(line)
    if r.get("id") == h and r.get("set", {}).get("phone") == "13811112222":
        r["set"]["phone"] = "12345"
        n += 1
    out.append(json.dumps(r, ensure_ascii=False))
assert n == 1, "the phone change of the household is not in the bundle"
open(dst, "w", encoding="utf-8").write("\n".join(out) + "\n")
PY
mq "$C" apply "$TMP/bad.bundle"
expect_rc 2 "apply of a bundle with an invalid change"
expect_err "phone" "apply of a bundle with an invalid change"
got=$(ok "$C" export | wc -l)
expect_eq 0 "$got" "records after a refused apply"
mq "$C" apply --skip-invalid "$TMP/bad.bundle"
expect_rc 0 "apply --skip-invalid of a bundle with an invalid change"
expect_err "1 rejected)" "apply --skip-invalid summary"
got=$(ok "$C" rejected | py '[[r["change"]["id"], r["change"]["set"]["phone"], "phone" in r["reason"]] for r in rows]')
expect_eq "[[\"$H\", \"12345\", true]]" "$got" "rejected after apply --skip-invalid"

ok "$A" check >/dev/null
ok "$B" check >/dev/null
ok "$C" check >/dev/null
echo "ok"
