# tests/cli/errors.sh - exit codes and messages: usage errors and invalid
# input exit 2 naming what is wrong, other failures exit 1, and none of
# them writes anything to the store.
source "$(dirname "$0")/lib.sh"

DB=$TMP/e.db
gen --households 20 >"$TMP/village.jsonl"
ok "$DB" init --site errs >/dev/null
ok "$DB" import "$TMP/village.jsonl" >/dev/null
H=$(grep -m1 '"type":"household"' "$TMP/village.jsonl" | py 'd["id"]')
G=$(grep -m1 '"type":"household"' "$TMP/village.jsonl" | py 'd["fields"]["area"]')

# state: the store's records and the number of changes in its log
state() {
    { ok "$DB" export; ok "$DB" changes 2>/dev/null | py 'sum(1 for r in rows if "set" in r)'; } | sha256sum
}
BEFORE=$(state)

# usage CODE TEXT WHAT ARGS... : minqing ARGS exits CODE, stderr has TEXT
usage() {
    local code=$1 text=$2 what=$3
    shift 3
    mq "$DB" "$@" </dev/null
    expect_rc "$code" "$what"
    expect_err "$text" "$what"
    expect_out_empty "$what"
}

# global usage
set +e
"$MQ" >"$OUT" 2>"$ERR"
RC=$?
set -e
expect_rc 2 "no command"
expect_err "usage: minqing" "no command"
usage 2 "unknown command 'frobnicate'" "unknown command" frobnicate
set +e
"$MQ" --bogus get x >"$OUT" 2>"$ERR"
RC=$?
set -e
expect_rc 2 "unknown global option"
expect_err "unknown option '--bogus'" "unknown global option"

# command usage: the bad word, then the usage line
usage 2 "missing ID" "get without an id" get
expect_err "usage: minqing [--db PATH] get ID" "get without an id"
usage 2 "unknown option '--bogus'" "unknown option" list member --bogus
expect_err "usage: minqing [--db PATH] list TYPE [--where FIELD=VALUE]..." "unknown option"
usage 2 "unexpected argument 'extra'" "extra argument" get "$H" extra
usage 2 "minqing export: option --type needs a value" "option without its value" export --type
usage 2 "option --type is given twice" "option given twice" export --type area --type cadre
usage 2 "missing --site NAME" "init without --site" init
usage 2 "--where needs FIELD=VALUE, not 'household'" "--where without =" list member --where household
usage 2 "--since needs a cursor" "--since not a number" changes --since abc
usage 2 "--since needs a cursor" "--since negative" changes --since -1
usage 2 "--today needs a date YYYY-MM-DD, not '2024-1-1'" "--today malformed" needs --today 2024-1-1
usage 2 "missing --keep VALUE_JSON" "resolve without --keep" resolve "$H/phone"
usage 2 "--keep needs a JSON value, not 'abc'" "--keep not JSON" resolve "$H/phone" --keep abc
usage 2 "option --overdue takes no value" "flag with a value" needs --overdue=yes
usage 2 "missing FILE" "import without a file" import
usage 2 "TEXT is empty" "search for nothing" search ""

# invalid input, refused by the library with exit 2
put_bad() { # CODE TEXT WHAT JSON PUT_ARGS...
    local code=$1 text=$2 what=$3 json=$4
    shift 4
    # (stdin from a process substitution: mq must run in this shell to set RC)
    mq "$DB" put "$@" < <(printf '%s' "$json")
    expect_rc "$code" "$what"
    expect_err "${PREFIX:-minqing: }" "$what"
    expect_err "$text" "$what"
    expect_out_empty "$what"
}
put_bad 2 "no_such_type" "put of an unknown type" '{"name":"x"}' no_such_type
put_bad 2 "" "put with bad JSON on stdin" '{"head_name": "张三", ' household --id "$H"
# (a usage error: named by the program and the command)
PREFIX="minqing put: " put_bad 2 "stdin is empty" "put with an empty stdin" '' household --id "$H"
put_bad 2 "no_such_field" "put with an unknown field" \
    "{\"area\":\"$G\",\"head_name\":\"张三\",\"head_id_number\":\"532327198001010015\",\"no_such_field\":1}" \
    household
put_bad 2 "head_id_number" "put with a bad id number check digit" \
    "{\"area\":\"$G\",\"head_name\":\"张三\",\"head_id_number\":\"532327198001010011\"}" household
grep -qF "532327198001010011" "$ERR" || fail "bad id number: expected the value in stderr, got: $(cat "$ERR")"
put_bad 2 "phone" "put with a bad phone" '{"phone":"12345"}' household --id "$H"
put_bad 2 "size" "put with an out-of-bounds integer" '{"size":0}' household --id "$H"
put_bad 2 "birth_date" "put with an impossible date" \
    "{\"household\":\"$H\",\"name\":\"李四\",\"birth_date\":\"2001-02-30\"}" member
put_bad 2 "household" "put with a reference to nothing" \
    '{"household":"00000000-0000-4000-8000-000000000000","name":"李四"}' member
put_bad 2 "category" "put with an unknown enum choice" \
    "{\"household\":\"$H\",\"category\":\"no_such_category\",\"description\":\"x\"}" need
put_bad 2 "head_name" "put without a required field" "{\"area\":\"$G\"}" household

# put reads at most 1 MiB
python3 -c 'import sys; sys.stdout.write("{\"notes\":\"" + "x" * (1 << 20) + "\"}")' >"$TMP/big.json"
mq "$DB" put household --id "$H" <"$TMP/big.json"
expect_rc 2 "put of more than 1 MiB"
expect_err "larger than" "put of more than 1 MiB"

# unreadable input and unknown records: exit 1
usage 1 "cannot open" "import of a missing file" import "$TMP/no-such-file.jsonl"
usage 1 "minqing: " "get of an unknown id" get 00000000-0000-4000-8000-000000000000
usage 2 "no_such_type" "export of an unknown type" export --type no_such_type

# a bad bundle is refused whole
printf '{"not":"a bundle"}\n' >"$TMP/bad.bundle"
mq "$DB" apply "$TMP/bad.bundle"
expect_rc 2 "apply of a file that is not a bundle"
expect_err "minqing: " "apply of a file that is not a bundle"

AFTER=$(state)
expect_eq "$BEFORE" "$AFTER" "the store after every refused command"

# a store that does not exist is not created; one not initialised says so
mq "$TMP/none.db" get "$H"
expect_rc 1 "a command on a missing store"
expect_err "run \`minqing init --site NAME\` first" "a command on a missing store"
[[ ! -e $TMP/none.db ]] || fail "a command on a missing store created $TMP/none.db"
: >"$TMP/empty.db"
mq "$TMP/empty.db" list household
expect_rc 1 "a command on a store not initialised"
expect_err "run \`minqing init --site NAME\` first" "a command on a store not initialised"

# $MINQING_DB is the default store
MINQING_DB=$DB "$MQ" get "$H" >"$OUT" 2>"$ERR" || fail "get with \$MINQING_DB: $(cat "$ERR")"
got=$(py 'd["id"]' <"$OUT")
expect_eq "$H" "$got" "get with \$MINQING_DB"

# help and version
"$MQ" --version >"$OUT"
grep -q '^minqing [0-9]' "$OUT" || fail "--version: got '$(cat "$OUT")'"
"$MQ" --help >"$OUT"
for c in init import export put get list search delete history changes apply conflicts \
    resolve needs check rejected; do
    grep -q "^  $c " "$OUT" || fail "--help: command $c not listed"
done
"$MQ" help put >"$OUT"
grep -qF "usage: minqing [--db PATH] put TYPE [--id ID] [--as CADRE_ID]" "$OUT" ||
    fail "help put: got '$(cat "$OUT")'"
"$MQ" put --help >"$OUT"
grep -qF "usage: minqing [--db PATH] put TYPE" "$OUT" || fail "put --help: got '$(cat "$OUT")'"
mq "$DB" help no_such_command
expect_rc 2 "help of an unknown command"
echo "ok"
