# tests/cli/lib.sh - what the command-line integration tests share: their
# arguments, a temporary folder removed on exit, running `minqing` with its
# exit code and output kept, and checks that print what was expected and
# what came instead.
#
# A test script is run as `bash TEST.sh MINQING_BINARY GEN_CARDS_PY` and
# starts with `source lib.sh`.  It is `set -euo pipefail`: any check that
# fails, or any unchecked command that fails, ends it with exit 1.

set -euo pipefail

MQ=${1:?usage: $0 MINQING_BINARY GEN_CARDS_PY}
GEN=${2:?usage: $0 MINQING_BINARY GEN_CARDS_PY}
[[ -x $MQ ]] || { echo "FAIL: no minqing binary at $MQ" >&2; exit 1; }
[[ -f $GEN ]] || { echo "FAIL: no data generator at $GEN (../shared beside the repo?)" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# Never touch a real store: the default path points into the test's folder.
export MINQING_DB=$TMP/default.db
export XDG_DATA_HOME=$TMP/xdg

OUT=$TMP/stdout
ERR=$TMP/stderr
RC=0

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# gen ARGS... > FILE : the reference data set.
gen() {
    python3 "$GEN" "$@"
}

# mq DB ARGS... : runs minqing on store DB (stdin inherited); keeps stdout in
# $OUT, stderr in $ERR and the exit code in $RC.  Never fails by itself.
mq() {
    local db=$1
    shift
    set +e
    "$MQ" --db "$db" "$@" >"$OUT" 2>"$ERR"
    RC=$?
    set -e
}

# ok DB ARGS... : runs minqing, fails unless it exits 0, prints its stdout.
ok() {
    mq "$@"
    if [[ $RC != 0 ]]; then
        fail "minqing --db $*: expected exit 0, got $RC; stderr: $(cat "$ERR")"
    fi
    cat "$OUT"
}

# expect_rc CODE WHAT : the last mq run exited with CODE.
expect_rc() {
    [[ $RC == "$1" ]] || fail "$2: expected exit $1, got $RC; stderr: $(cat "$ERR")"
}

# expect_err TEXT WHAT : the last mq run's stderr contains TEXT.
expect_err() {
    grep -qF -- "$1" "$ERR" || fail "$2: expected stderr to contain '$1', got: $(cat "$ERR")"
}

# expect_out_empty WHAT : the last mq run printed nothing on stdout.
expect_out_empty() {
    [[ ! -s $OUT ]] || fail "$1: expected no output, got: $(head -c 500 "$OUT")"
}

# expect_eq EXPECTED GOT WHAT
expect_eq() {
    [[ $1 == "$2" ]] || fail "$3: expected '$1', got '$2'"
}

# py EXPR < JSON_LINES : prints a Python expression over the JSON Lines on
# stdin, where `rows` is the list of objects and `d` the first one (or
# None).  Lists, dicts and booleans print as JSON.
py() {
    python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
d = rows[0] if rows else None
r = eval(sys.argv[1])
print(json.dumps(r, ensure_ascii=False, sort_keys=True)
      if isinstance(r, (dict, list, bool)) or r is None else r)
' "$1"
}

# same_records EXPECTED GOT WHAT : two interchange JSON Lines files hold the
# same records, compared as parsed JSON in any order.
same_records() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
def load(path):
    recs = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                r = json.loads(line)
                if r["id"] in recs:
                    sys.exit("FAIL: %s: %s line %d repeats id %s" % (sys.argv[3], path, n, r["id"]))
                recs[r["id"]] = r
    return recs
want, got = load(sys.argv[1]), load(sys.argv[2])
if want == got:
    sys.exit(0)
missing = sorted(set(want) - set(got))
extra = sorted(set(got) - set(want))
differ = sorted(i for i in set(want) & set(got) if want[i] != got[i])
msg = ["FAIL: %s: %d records expected, %d got; %d missing, %d extra, %d differ"
       % (sys.argv[3], len(want), len(got), len(missing), len(extra), len(differ))]
for i in missing[:3]:
    msg.append("  missing:  " + json.dumps(want[i], ensure_ascii=False))
for i in extra[:3]:
    msg.append("  extra:    " + json.dumps(got[i], ensure_ascii=False))
for i in differ[:3]:
    msg.append("  expected: " + json.dumps(want[i], ensure_ascii=False, sort_keys=True))
    msg.append("  got:      " + json.dumps(got[i], ensure_ascii=False, sort_keys=True))
sys.exit("\n".join(msg))
PY
}

# cursor : the cursor that the last `changes` printed on stderr.
cursor() {
    sed -n 's/^next cursor: \([0-9][0-9]*\)$/\1/p' "$ERR" | tail -n 1
}
