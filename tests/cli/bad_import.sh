# tests/cli/bad_import.sh - gen_cards.py --bad appends six invalid records:
# import refuses the whole file with exit 2, names each bad record by line
# and field, stores nothing; with --skip-invalid it stores the valid ones
# and still lists the six.
source "$(dirname "$0")/lib.sh"

gen --households 88 --bad >"$TMP/bad.jsonl"
n=$(wc -l <"$TMP/bad.jsonl")
head -n $((n - 6)) "$TMP/bad.jsonl" >"$TMP/good.jsonl"

# check_six : stderr names each of the last six lines and a field it breaks.
check_six() {
    python3 - "$ERR" "$n" "$1" <<'PY'
import re, sys
err = open(sys.argv[1], encoding="utf-8").read().splitlines()
n, what = int(sys.argv[2]), sys.argv[3]
# The field(s) each appended record gets wrong, in gen_cards.py's order.
bad = [("household", ["head_name"]),
       ("household", ["head_id_number"]),
       ("member", ["household"]),
       ("need", ["category", "household"]),
       ("need_action", ["need", "action", "by", "at"]),
       ("visit", ["household", "at", "cadre", "kind"])]
problems = []
for k, (kind, fields) in enumerate(bad):
    line = n - 5 + k
    hits = [e for e in err if re.search(r"\bline %d\b" % line, e)]
    if not hits:
        problems.append("no message names line %d (%s)" % (line, kind))
    elif not any(re.search(r"\b%s\b" % f, h) for h in hits for f in fields):
        problems.append("line %d (%s): expected one of the fields %s in %r"
                        % (line, kind, fields, hits))
valid = [e for e in err if re.search(r"\bline (\d+)\b", e)
         and int(re.search(r"\bline (\d+)\b", e).group(1)) < n - 5]
if valid:
    problems.append("valid lines named as invalid: %r" % valid[:3])
if problems:
    sys.exit("FAIL: %s:\n  %s\nstderr was:\n%s" % (what, "\n  ".join(problems), "\n".join(err)))
PY
}

DB=$TMP/bad.db
ok "$DB" init --site bad >/dev/null
mq "$DB" import "$TMP/bad.jsonl"
expect_rc 2 "import of a file with six invalid records"
expect_err "nothing imported: 6 invalid records" "refusal summary"
check_six "all-or-nothing import"
got=$(ok "$DB" export | wc -l)
expect_eq 0 "$got" "records stored after a refused import"
got=$(ok "$DB" changes 2>/dev/null | py 'sum(1 for r in rows if "set" in r)')
expect_eq 0 "$got" "changes logged after a refused import"

mq "$DB" import --skip-invalid "$TMP/bad.jsonl"
expect_rc 0 "import --skip-invalid"
check_six "import --skip-invalid"
expect_err "imported $((n - 6)) records ($((n - 6)) created, 0 updated, 0 unchanged)" \
    "import --skip-invalid summary"
expect_err "skipped 6 invalid records" "import --skip-invalid summary"
ok "$DB" export -o "$TMP/out.jsonl" >/dev/null
same_records "$TMP/good.jsonl" "$TMP/out.jsonl" "valid records of a file with invalid ones"
ok "$DB" check >/dev/null
echo "ok"
