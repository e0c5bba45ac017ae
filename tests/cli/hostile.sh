# tests/cli/hostile.sh - the command line against what a careless user, a
# damaged stick or a hostile device hands it: files that are not stores,
# bundles flipped, cut or forged, input of NULs or without end, values cut
# by \u0000, forged authors, log records rewritten, a full file size limit.
# Every case ends with exit 1 or 2 and a message naming what is wrong,
# never a crash, a hang or a partial write.
source "$(dirname "$0")/lib.sh"

# refused CODE TEXT WHAT : the last run exited CODE (1 or 2), said TEXT
refused() {
    expect_rc "$1" "$3"
    expect_err "$2" "$3"
}

gen --households 6 >"$TMP/v.jsonl"
A=$TMP/a.db
ok "$A" init --site tabA >/dev/null
ok "$A" import "$TMP/v.jsonl" >/dev/null
H=$(grep -m1 '"type":"household"' "$TMP/v.jsonl" | py 'd["id"]')
C=$(grep -m1 '"type":"cadre"' "$TMP/v.jsonl" | py 'd["id"]')
N=$(grep -m1 '"type":"need"' "$TMP/v.jsonl" | py 'd["id"]')

# state DB : a digest of the store's records, log and rejected list
state() {
    { ok "$1" export; ok "$1" changes 2>/dev/null; ok "$1" rejected; } | sha256sum
}

# ---- 6. files that are not ours ------------------------------------------
COMMANDS=("list household" "get $H" "export" "changes" "check" "rejected" "conflicts"
    "history $H" "search 李" "needs" "report" "delete $H" "import $TMP/v.jsonl"
    "apply $TMP/v.jsonl")
: >"$TMP/empty.db"
python3 - "$TMP/foreign.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE accounts(name TEXT, balance INTEGER)")
db.execute("INSERT INTO accounts VALUES('x', 1)")
db.commit()
PY
printf 'just some notes\n' >"$TMP/notes.db"
for f in empty foreign notes; do
    cp "$TMP/$f.db" "$TMP/$f.orig"
    for c in "${COMMANDS[@]}" "put household --id $H"; do
        # shellcheck disable=SC2086
        mq "$TMP/$f.db" $c <<<'{"size":3}'
        [[ $RC == 1 || $RC == 2 ]] || fail "$c on the $f file: exit $RC; $(cat "$ERR")"
        expect_err "$TMP/$f.db" "$c on the $f file"
        cmp -s "$TMP/$f.db" "$TMP/$f.orig" || fail "$c wrote into the $f file"
        [[ ! -e $TMP/$f.db-wal ]] || fail "$c left a WAL beside the $f file"
    done
done
mq "$TMP/foreign.db" list household
expect_err "an SQLite database of another program" "a foreign SQLite file"
mq "$TMP/empty.db" list household
expect_err "is an empty file, not a minqing store" "an empty file"
mq "$TMP/foreign.db" init --site x
refused 1 "not a minqing store" "init on another program's database"
cmp -s "$TMP/foreign.db" "$TMP/foreign.orig" || fail "init wrote into the foreign file"
# init on an empty file makes it a store (nothing is lost)
ok "$TMP/empty.db" init --site fresh >/dev/null
ok "$TMP/empty.db" check >/dev/null

# init with an invalid site or cadre leaves no file behind
long=$(printf 'x%.0s' {1..33})
for site in "" "a b" "$long" "tab/A" "tabé" "tab;A" $'tab\tA'; do
    mq "$TMP/new.db" init --site "$site"
    refused 2 "--site" "init --site '$site'"
    [[ ! -e $TMP/new.db ]] || fail "init --site '$site' left a file behind"
done
mq "$TMP/new.db" init --site ok --cadre "robert'); --"
refused 2 "--cadre" "init with a bad cadre"
[[ ! -e $TMP/new.db ]] || fail "init with a bad cadre left a file behind"

# a file size limit: a clear error, not a silent death by SIGXFSZ
gen --households 600 >"$TMP/big.jsonl"
ok "$TMP/small.db" init --site small >/dev/null
before=$(state "$TMP/small.db")
set +e
(ulimit -f 1500; "$MQ" --db "$TMP/small.db" import "$TMP/big.jsonl" >"$OUT" 2>"$ERR")
RC=$?
set -e
refused 1 "disk I/O error" "import past ulimit -f"
expect_eq "$before" "$(state "$TMP/small.db")" "the store after an import past ulimit -f"

# ---- 4. input of NULs or without end, bundles damaged -----------------------
for cmd in import apply; do
    set +e
    head -c 50000000 /dev/zero | timeout 30 "$MQ" --db "$A" $cmd - >"$OUT" 2>"$ERR"
    RC=$?
    set -e
    refused 2 "holds a NUL byte" "$cmd - fed NUL bytes"
    printf '{"minqing":"bundle","format":1}\n{"type":"cadre"\0}\n' >"$TMP/nul.jsonl"
    mq "$A" $cmd "$TMP/nul.jsonl"
    refused 2 "line 2: holds a NUL byte" "$cmd of a line with a NUL byte"
done
set +e
head -c 80000000 /dev/zero | tr '\0' x | timeout 60 "$MQ" --db "$A" import - >"$OUT" 2>"$ERR"
RC=$?
set -e
refused 2 "no line end within 64 MiB" "import of a line without end"
set +e
yes x | tr -d '\n' | timeout 30 "$MQ" --db "$A" apply - >"$OUT" 2>"$ERR"
RC=$?
set -e
refused 2 "longer than 4 MiB" "apply of endless input"

BEFORE=$(state "$A")
B=$TMP/b.db
ok "$B" init --site tabB >/dev/null
ok "$B" import "$TMP/v.jsonl" >/dev/null
ok "$B" put household --id "$H" <<<'{"phone":"13811112222"}' >/dev/null
ok "$B" changes -o "$TMP/b.bundle" >/dev/null
# flip the low bit of digits of the changes (ids, versions, bases, values,
# checks), which keeps the JSON valid: refused whole
python3 - "$TMP/b.bundle" "$TMP" <<'PY'
import sys
src, tmp = sys.argv[1:]
data = open(src, "rb").read()
first_change = data.index(b"\n") + 1
n = 0
for i, ch in enumerate(data):
    if i >= first_change and chr(ch) in "0123456789" and i % 97 < 20:
        flipped = data[:i] + bytes([ch ^ 1]) + data[i + 1:]
        open("%s/flip%d.bundle" % (tmp, n), "wb").write(flipped)
        n += 1
        if n == 40:
            break
open("%s/flips" % tmp, "w").write(str(n))
PY
for ((i = 0; i < $(cat "$TMP/flips"); i++)); do
    mq "$A" apply "$TMP/flip$i.bundle"
    [[ $RC == 2 ]] || fail "flipped bundle $i: exit $RC; $(cat "$ERR")"
    expect_eq "$BEFORE" "$(state "$A")" "the store after flipped bundle $i"
    # --skip-invalid: refused whole, or the one change the flip made
    # invalid is kept as rejected and only the intact ones apply
    cp "$A" "$TMP/copy.db"
    mq "$TMP/copy.db" apply --skip-invalid "$TMP/flip$i.bundle"
    if [[ $RC == 0 ]]; then
        expect_err "1 rejected)" "flipped bundle $i --skip-invalid"
        got=$(ok "$TMP/copy.db" rejected | py 'len(rows)')
        expect_eq 1 "$got" "changes kept as rejected from flipped bundle $i"
    else
        refused 2 "damaged or altered" "flipped bundle $i --skip-invalid"
        expect_eq "$BEFORE" "$(state "$TMP/copy.db")" "the store after flipped bundle $i"
    fi
done
head -n 1 "$TMP/b.bundle" >"$TMP/cut.bundle"
mq "$A" apply "$TMP/cut.bundle"
refused 2 "cut short" "a bundle cut short"
for count in -1 1e999 -9223372036854775809 0.5 '"1"'; do
    { head -n -1 "$TMP/b.bundle"; printf '{"end":true,"changes":%s,"next":1}\n' "$count"; } >"$TMP/count.bundle"
    mq "$A" apply "$TMP/count.bundle"
    refused 2 "the end line must count the changes" "an end line counting $count"
done
expect_eq "$BEFORE" "$(state "$A")" "the store after damaged bundles"

# ---- 3. values cut by \u0000 or out of range; 2. forged authors ------------
for body in '{"head_name":"李\u0000明"}' '{"head_name":"\u0000"}' '{"address":"x\u0000y"}' \
    '{"tags":["低保户\u0000"]}' '{"size":1e400}' '{"size":-1e400}' '{"size":3} {"size":4}'; do
    mq "$A" put household --id "$H" <<<"$body"
    refused 2 "household $H" "put $body"
done
mq "$A" put household --id "$H" <<<'{"head_name":"李\u0000明"}'
expect_err "field head_name: a string holds \\u0000" "put with \\u0000"
printf '{"type":"cadre","id":"%s","fields":{"name":"王\\u0000五"}}\n' "$C" >"$TMP/nul-esc.jsonl"
mq "$A" import "$TMP/nul-esc.jsonl"
refused 2 "line 1: cadre $C: field name: a string holds \\u0000" "import with \\u0000"
mq "$A" put household --id "$H" --as "$H" <<<'{"size":3}'
refused 2 "is a household record, not a cadre" "put --as a household"
mq "$A" put household --id "$H" --as 00000000-0000-4000-8000-00000000dead <<<'{"size":3}'
refused 2 "no cadre record has this id" "put --as an unknown id"
mq "$A" delete "$H" --as "x' OR 1=1 --"
refused 2 "must be the id of a cadre record" "delete --as SQL text"
expect_eq "$BEFORE" "$(state "$A")" "the store after refused puts"

# ---- 1. a log record rewritten in a forged bundle --------------------------
ACT=$(ok "$A" put need_action <<<"{\"need\":\"$N\",\"action\":\"resolve\",\"by\":\"$C\",\"at\":\"2012-05-12\"}")
ok "$A" changes -o "$TMP/a.bundle" >/dev/null
ok "$B" apply "$TMP/a.bundle" >/dev/null 2>&1
python3 - "$TMP/a.bundle" "$TMP/forged.bundle" "$ACT" "$C" <<'PY'
import json, sys, time
src, dst, act, cadre = sys.argv[1:]
lines = [json.loads(l) for l in open(src, encoding="utf-8")]
made = [l for l in lines if l.get("id") == act][0]
v = "%012x0000-evil" % int(time.time() * 1000)
edit = {"v": v, "type": "need_action", "id": act, "by": cadre,
        "set": {"action": "reopen"}, "base": {"action": [made["v"]]}}
out = [{"minqing": "bundle", "format": 1, "site": "evil", "since": 0}, edit,
       {"end": True, "changes": 1, "next": 1}]
open(dst, "w").write("".join(json.dumps(o) + "\n" for o in out))
PY
BEFORE=$(state "$B")
mq "$B" apply "$TMP/forged.bundle"
refused 2 "need_action $ACT is a log record, written once and never edited (M6)" \
    "a bundle that edits a closure card"
expect_eq "$BEFORE" "$(state "$B")" "the store after a refused log edit"
mq "$B" apply --skip-invalid "$TMP/forged.bundle"
expect_rc 0 "apply --skip-invalid of the log edit"
got=$(ok "$B" rejected | py '[("(M6)" in r["reason"]) for r in rows]')
expect_eq "[true]" "$got" "the refused log edit kept with its reason"
got=$(ok "$B" needs --as-of 2030-01-01 | py "[r['status'] for r in rows if r['id'] == '$N']")
expect_eq '["resolved"]' "$got" "the need after the forged reopening"

# ---- 7. a stamp far in the future -----------------------------------------
for v in ffffffffffff0000-evil "$(python3 -c 'import time; print("%012x0000-evil" % int((time.time() + 8 * 86400) * 1000))')"; do
    printf '{"minqing":"bundle","format":1}\n{"v":"%s","type":"household","id":"%s","set":{"size":9}}\n{"end":true,"changes":1,"next":1}\n' \
        "$v" "$H" >"$TMP/future.bundle"
    BEFORE=$(state "$B")
    mq "$B" apply "$TMP/future.bundle"
    refused 2 "more than 7 days after this replica's clock" "a change stamped $v"
    expect_eq "$BEFORE" "$(state "$B")" "the store after a far-future stamp"
done

ok "$A" check >/dev/null
ok "$B" check >/dev/null
echo "ok"
