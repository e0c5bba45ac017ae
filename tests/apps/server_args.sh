# tests/apps/server_args.sh - minqing-server's words: usage errors name the
# command and the option and leave no database behind; --listen is parsed
# strictly (a port above 65535 is refused, not truncated) and IPv4, [IPv6]
# and port 0 are served; export -o replaces its file whole.
#
# Run as `bash server_args.sh MINQING_SERVER_BINARY`.
set -euo pipefail

SERVER=${1:?usage: $0 MINQING_SERVER_BINARY}
TMP=$(mktemp -d)
PID=
cleanup() {
    if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
        kill -KILL "$PID"
        wait "$PID" || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
DB=$TMP/server.db
OUT=$TMP/stdout
ERR=$TMP/stderr
RC=0

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# run ARGS... : minqing-server --db $DB ARGS..., output kept, exit code in RC
run() {
    set +e
    # (a bounded wait: a server that wrongly starts must not hang the test)
    timeout 20 "$SERVER" --db "$DB" "$@" >"$OUT" 2>"$ERR" </dev/null
    RC=$?
    set -e
}

# refused CODE TEXT ARGS... : exits CODE with TEXT in stderr, creates no file
refused() {
    local code=$1 text=$2
    shift 2
    run "$@"
    [[ $RC == "$code" ]] || fail "$*: expected exit $code, got $RC: $(cat "$ERR")"
    grep -qF -- "$text" "$ERR" || fail "$*: expected '$text' in stderr, got: $(cat "$ERR")"
    [[ ! -e $DB ]] || fail "$*: a usage error created $DB"
    [[ ! -s $OUT ]] || fail "$*: a usage error printed on stdout: $(cat "$OUT")"
}

# --listen: the port is digits, 0 to 65535; IPv6 in brackets
for bad in 127.0.0.1:99999 127.0.0.1:65536 "[::1]:99999" 127.0.0.1:80x "127.0.0.1:+80"; do
    port=${bad##*:}
    refused 2 "minqing-server serve: --listen \"$bad\": the port is a number from 0 to 65535, not '$port'" \
        serve --listen "$bad"
done
refused 2 "--listen \"::1:8080\": an IPv6 address goes in brackets" serve --listen ::1:8080
refused 2 "--listen \"127.0.0.1\": give ADDR:PORT" serve --listen 127.0.0.1
refused 2 "--listen \"nosuchhost.invalid:0\": cannot resolve 'nosuchhost.invalid'" \
    serve --listen nosuchhost.invalid:0
refused 2 "minqing-server serve: option --listen needs a value" serve --listen
refused 2 "minqing-server serve: --threads takes 1 to 256, not '0'" serve --threads 0
refused 2 "minqing-server serve: --threads takes 1 to 256, not '4x'" serve --threads 4x
refused 2 "minqing-server serve: unexpected argument 'extra'" serve extra
refused 2 "usage: minqing-server [--db PATH] serve [--listen ADDR:PORT]" serve --bogus

# the other commands
refused 2 "minqing-server device add: option --area needs a value" device add d1 --area
refused 2 "minqing-server device add: give at least one --area AREA_ID" device add d1
refused 2 "minqing-server device add: missing NAME" device add
refused 2 "minqing-server device add: option --cadre is given twice" \
    device add d1 --area a --cadre x --cadre y
refused 2 "minqing-server device: unknown command 'frob'; give add, list, revoke or key" device frob
refused 2 "minqing-server device: give add, list, revoke or key" device
refused 2 "minqing-server device revoke: missing NAME" device revoke
refused 2 "minqing-server device list: unexpected argument 'x'" device list x
refused 2 "minqing-server import: missing FILE" import
refused 2 "minqing-server export: option -o needs a value" export -o
refused 2 "minqing-server: unknown command 'frob'" frob
refused 2 "minqing-server: unknown option '--bogus'" --bogus device list
refused 2 "minqing-server: no command given"
set +e
"$SERVER" --db >"$OUT" 2>"$ERR"
RC=$?
set -e
[[ $RC == 2 ]] && grep -qF "minqing-server: option --db needs a value" "$ERR" ||
    fail "--db without a value: exit $RC: $(cat "$ERR")"

# help goes to stdout, exit 0
run --help
[[ $RC == 0 ]] && grep -qF "device add NAME --area AREA_ID" "$OUT" || fail "--help: $(cat "$OUT")"
run device add --help
[[ $RC == 0 ]] && grep -qF "usage: minqing-server [--db PATH] device add NAME" "$OUT" ||
    fail "device add --help: $(cat "$OUT")"
[[ ! -e $DB ]] || fail "--help created $DB"

# serve on port 0: the system's pick is printed; SIGTERM stops it cleanly
serve_once() { # LISTEN EXPECTED_URL_PREFIX
    # Emptied here: the child's own redirection may come after the first
    # read below, which would then see the last server's line.
    : >"$OUT"
    : >"$ERR"
    "$SERVER" --db "$DB" serve --listen "$1" >"$OUT" 2>"$ERR" &
    PID=$!
    local line="" i
    for i in $(seq 100); do
        line=$(head -n1 "$OUT")
        [[ -n $line ]] && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    [[ $line == *"listening on $2"* ]] || fail "serve --listen $1: printed '$line': $(cat "$ERR")"
    local port=${line#*"listening on $2"}
    port=${port%% *}
    [[ $port =~ ^[0-9]+$ && $port -gt 0 && $port -le 65535 ]] ||
        fail "serve --listen $1: bad port '$port' in '$line'"
    kill -TERM "$PID"
    set +e
    wait "$PID"
    RC=$?
    set -e
    PID=
    [[ $RC == 0 ]] || fail "serve --listen $1: exit $RC on SIGTERM: $(cat "$ERR")"
    grep -qF "stopping (signal" "$ERR" || fail "serve --listen $1: no word of stopping"
}
serve_once 127.0.0.1:0 "http://127.0.0.1:"
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
    serve_once "[::1]:0" "http://[::1]:"
else
    echo "(no IPv6 loopback here: [::1]:0 not tried)"
fi

# export -o: the old file stays until the new one is whole; no .part left
printf 'old\n' >"$TMP/out.jsonl"
run export -o "$TMP/out.jsonl"
[[ $RC == 0 ]] || fail "export -o: exit $RC: $(cat "$ERR")"
[[ ! -s $TMP/out.jsonl ]] || fail "export -o of an empty store: $(cat "$TMP/out.jsonl")"
[[ ! -e $TMP/out.jsonl.part ]] || fail "export -o left its temporary file"
run export -o "$TMP/no-such-folder/out.jsonl"
[[ $RC == 1 ]] && grep -qF "cannot create $TMP/no-such-folder/out.jsonl" "$ERR" ||
    fail "export -o into a missing folder: exit $RC: $(cat "$ERR")"
echo "ok"
