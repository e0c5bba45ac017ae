#!/usr/bin/env bash
# tests/fuzz/make_corpus.sh MINQING GEN_CARDS - makes the seed corpora of
# the fuzz targets, and base.bundle, from the reference data set
# (gen_cards.py --households 3, and --bad) and the wire examples of
# docs/PROTOCOL.md, with real `minqing` commands.  The output is committed;
# run this again only to remake it (the versions carry the day's clock):
#
#     tests/fuzz/make_corpus.sh build/apps/cli/minqing ../shared/data/gen_cards.py
#
# base.bundle: the areas and cadres, written by site "county".  Every target
# that needs records to refer to starts from it; the seeds are the changes
# tablets made on top of it, as bundles, push bodies, pull pages and HTTP
# requests.  Findings are not made here: they go to regress/TARGET/.
set -euo pipefail
mq=$(realpath "$1")
gen=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

m() { "$mq" --db "$@"; }

python3 "$gen" --households 3 >cards.jsonl
python3 "$gen" --households 3 --bad >bad.jsonl
grep -E '"type":"(area|cadre)"' cards.jsonl >base.jsonl
grep -vE '"type":"(area|cadre)"' cards.jsonl >rest.jsonl
nbase=$(wc -l <base.jsonl)
cadre=$(grep -m1 '"type":"cadre"' base.jsonl | sed 's/.*"id":"\([^"]*\)".*/\1/')
household=$(grep -m1 '"type":"household"' rest.jsonl | sed 's/.*"id":"\([^"]*\)".*/\1/')
member=$(grep -m1 '"type":"member"' rest.jsonl | sed 's/.*"id":"\([^"]*\)".*/\1/')
need=$(grep -m1 '"type":"need"' rest.jsonl | sed 's/.*"id":"\([^"]*\)".*/\1/')

# The base, by the county office.
m county.db init --site county >/dev/null
m county.db import base.jsonl >/dev/null
m county.db changes -o "$here/base.bundle" 2>/dev/null

# Tablet 1: the households of the data set, an edit, a deletion, an action.
m tab1.db init --site tab-1 --cadre "$cadre" >/dev/null
m tab1.db apply "$here/base.bundle" >/dev/null
m tab1.db import rest.jsonl >/dev/null
echo '{"phone":"13900000001","size":5}' | m tab1.db put household --id "$household" >/dev/null
m tab1.db delete "$member" >/dev/null
echo "{\"need\":\"$need\",\"action\":\"reopen\",\"by\":\"$cadre\",\"at\":\"2012-07-01\"}" |
  m tab1.db put need_action >/dev/null
m tab1.db changes --since "$nbase" -o tab1.bundle 2>/dev/null

# Tablet 2 takes tablet 1's changes and edits the same phone: with tablet
# 1's second edit, a conflict, resolved on tablet 2.
m tab2.db init --site tab-2 --cadre "$cadre" >/dev/null
m tab2.db apply "$here/base.bundle" >/dev/null
m tab2.db apply tab1.bundle >/dev/null
n2=$(($(wc -l <tab1.bundle) - 2 + nbase))
echo '{"phone":"13900000002"}' | m tab2.db put household --id "$household" >/dev/null
echo '{"phone":"13900000003"}' | m tab1.db put household --id "$household" >/dev/null
n1=$(($(wc -l <tab1.bundle) - 2 + nbase))
m tab1.db changes --since "$n1" -o tab1b.bundle 2>/dev/null
m tab2.db apply tab1b.bundle >/dev/null
m tab2.db resolve "$household/phone" --keep '"13900000002"' >/dev/null
m tab2.db changes --since "$n2" -o tab2.bundle 2>/dev/null

rm -rf "$here/corpus"
mkdir -p "$here"/corpus/{import,bundle,push,pull,proto,schema,server}

# ---- import: interchange JSON Lines -----------------------------------------
c=$here/corpus/import
cp rest.jsonl "$c/rest.jsonl"
cp cards.jsonl "$c/cards.jsonl"
tail -n +"$(($(wc -l <cards.jsonl) + 1))" bad.jsonl >"$c/bad.jsonl"
for t in household member need need_action visit contact_card village_income; do
  grep -m1 "\"type\":\"$t\"" rest.jsonl >"$c/one-$t.jsonl"
done
printf '%s\n' "$(head -n 1 rest.jsonl)" "$(head -n 1 rest.jsonl)" >"$c/twice.jsonl"

# ---- bundle: what `minqing apply` reads -----------------------------------
c=$here/corpus/bundle
cp tab1.bundle tab1b.bundle tab2.bundle "$c/"
head -n 1 tab1.bundle >"$c/empty.bundle"
echo '{"end":true,"changes":0,"next":0}' >>"$c/empty.bundle"
head -n 3 tab1.bundle >"$c/no-end.bundle"
{ head -n 7 tab1.bundle; echo '{"end":true,"changes":6,"next":16}'; } >"$c/small.bundle"

# ---- push, pull, proto, server: the wire ----------------------------------
python3 - "$here" tab1.bundle tab1b.bundle tab2.bundle <<'PY'
import gzip, json, os, sys
here = sys.argv[1]
def changes(path):
    lines = open(path, encoding="utf-8").read().splitlines()
    return [json.loads(l) for l in lines[1:-1]]
def write(rel, data):
    with open(os.path.join(here, "corpus", rel), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))
def text(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))

t1, t1b, t2 = changes(sys.argv[2]), changes(sys.argv[3]), changes(sys.argv[4])
# A push body as docs/PROTOCOL.md 3.3 gives it.
push = {"batch": "9f2c4e0b7d1a4c3e8b5f6a7d8c9e0f1a", "site": "tab-1", "changes": t1}
write("push/tab1.json", text(push))
write("push/tab2.json", text({"batch": "b2", "site": "tab-2", "changes": t2}))
write("push/small.json", text({"batch": "b3", "site": "tab-1", "changes": t1[:3]}))
write("push/empty.json", '{"batch":"b4","site":"tab-1","changes":[]}')
flawed = text({"batch": "b5", "site": "tab-1", "changes": t1[:2]})
assert '"income_yuan":' in flawed and '"channels":"' in flawed
write("push/flaws.json", flawed.replace('"income_yuan":', '"income_yuan":1e400,"x":', 1)
      .replace('"channels":"', '"channels":"\\u0000', 1))
# A pull page as docs/PROTOCOL.md 3.4 gives it.
page = {"server_time": 1732724400789, "changes": t1 + t2,
        "cursor": "3f9a0c1d2e3b4a5c.1a2b3c4d.48213", "count": len(t1 + t2), "more": False}
write("pull/page.json", text(page))
write("pull/page.json.gz", gzip.compress(text({**page, "changes": t1b}).encode(), mtime=0))
write("pull/page-small.json", text({**page, "changes": t1[:6], "count": 6, "more": True}))
write("pull/empty.json", '{"server_time":1,"changes":[],"cursor":"","count":0,"more":false}')
# proto: gzip bodies, JSON with what cJSON would not hold, text to clean.
write("proto/push.gz", gzip.compress(text(push).encode(), mtime=0))
write("proto/flaws.json",
      flawed.replace('"target_yuan":', '"target_yuan":-1e-400,"y":1e400,"x":', 1)
      .replace('"period":"', '"period":"\\u0000\\\\u0000', 1))
# Invalid UTF-8: stray bytes, a surrogate, an overlong '/', past U+10FFFF, a cut one.
write("proto/utf8.txt",
      "民情恳谈".encode() + b" \xff\xfe ok \xed\xa0\x80 \xc0\xaf \xf4\x90\x80\x80 \xe4\xb8")
# server: raw HTTP requests, from the examples and the framing rules of
# docs/PROTOCOL.md.  The fuzz target puts a device's token for @TOKEN@,
# the body's length for @LEN@, and gzips a body that starts with @GZ@.
auth = "Authorization: Bearer @TOKEN@\r\n"
def req(line, headers="", body=""):
    return line + "\r\nHost: 127.0.0.1\r\n" + headers + "\r\n" + body
write("server/health", req("GET /v1/health HTTP/1.1"))
write("server/session", req("GET /v1/session HTTP/1.1", auth))
write("server/schema", req("GET /v1/schema HTTP/1.1", auth + "Accept-Encoding: gzip\r\n"))
write("server/pull", req("GET /v1/pull?cursor=&limit=2 HTTP/1.1", auth))
write("server/pull-cursor",
      req("GET /v1/pull?cursor=3f9a0c1d2e3b4a5c.1a2b3c4d.48213&limit=5000 HTTP/1.1", auth))
small = text({"batch": "s1", "site": "tab-1", "changes": t1[:4]})
write("server/push", req("POST /v1/push HTTP/1.1", auth +
      "Content-Type: application/json\r\nContent-Length: @LEN@\r\n", small))
write("server/push-gzip", req("POST /v1/push HTTP/1.1", auth +
      "Content-Encoding: gzip\r\nContent-Length: @LEN@\r\n", "@GZ@" + small))
write("server/push-chunked", req("POST /v1/push HTTP/1.1", auth +
      "Transfer-Encoding: chunked\r\n",
      "%x\r\n%s\r\n0\r\n\r\n" % (len(small.encode()), small)))
write("server/push-flaws", req("POST /v1/push HTTP/1.1", auth + "Content-Length: @LEN@\r\n",
      flawed))
write("server/smuggle", req("POST /v1/push HTTP/1.1", auth +
      "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n") +
      req("GET /v1/session HTTP/1.1", auth))
write("server/two-lengths", req("POST /v1/push HTTP/1.1", auth +
      "Content-Length: 2\r\nContent-Length: 3\r\n", "{}"))
write("server/no-token", req("POST /v1/push HTTP/1.1", "Content-Length: @LEN@\r\n", small))
write("server/keep-alive", req("GET /v1/health HTTP/1.1") + req("GET /v1/session HTTP/1.1",
      auth) + req("GET /v1/pull?limit=1 HTTP/1.1", auth))
write("server/http10", "GET /v1/health HTTP/1.0\r\n\r\n")
write("server/http20", "GET /v1/health HTTP/2.0\r\n\r\n")
write("server/nul-path", req("GET /v1/session%00.json HTTP/1.1", auth))
# A chunk cut short: the server waits for its rest.
write("server/push-chunk-cut", req("POST /v1/push HTTP/1.1", auth +
      "Transfer-Encoding: chunked\r\n", "%x\r\n%s" % (len(small.encode()), small[:40])))
# Framing that libmicrohttpd refuses before the handler sees it.
write("server/mhd-bad-chunk", req("POST /v1/push HTTP/1.1", auth +
      "Transfer-Encoding: chunked\r\n", "zz\r\n{}\r\n0\r\n\r\n"))
write("server/mhd-bad-length", req("POST /v1/push HTTP/1.1", auth +
      "Content-Length:-3\r\n", "{}"))
PY

# ---- schema: the schema language (docs/SCHEMA.md) --------------------------
c=$here/corpus/schema
cp "$here/../../core/schema/default.json" "$c/default.json"
cat >"$c/small.json" <<'JSON'
{"schema":"small","version":1,"types":{
 "area":{"kind":"mutable","scope":"self","fields":{
   "name":{"kind":"text","required":true,"min_length":1,"max_length":64},
   "parent":{"kind":"ref","to":"area"}}},
 "place":{"kind":"mutable","scope":"area","fields":{
   "area":{"kind":"ref","to":"area","required":true},
   "size":{"kind":"integer","min":0,"max":99},
   "tags":{"kind":"tags","values":["a","b"]},
   "on":{"kind":"date","min":"2000-01-01"}}},
 "note":{"kind":"log","scope":"place","fields":{
   "place":{"kind":"ref","to":"place","required":true},
   "level":{"kind":"enum","values":["low","high"]}}}}}
JSON

# ---- seal: sealed bundles (docs/BUNDLES.md), with fuzz_seal.c's key ---------
c=$here/corpus/seal
mkdir -p "$c"
fuzzkey="mqk1:0123456789abcdef:fuzz-tablet:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
m seal.db init --site fuzz-tablet >/dev/null
echo "$fuzzkey" | m seal.db key set 2>/dev/null
m seal.db changes --seal -o "$c/empty.mqs" 2>/dev/null
m seal.db apply "$here/base.bundle" >/dev/null 2>&1
m seal.db changes --seal -o "$c/base.mqs" 2>/dev/null
m seal.db import rest.jsonl >/dev/null 2>&1
m seal.db changes --seal -o "$c/tablet.mqs" 2>/dev/null
head -c 200 "$c/base.mqs" >"$c/cut.mqs"

for d in "$here"/corpus/*; do
  printf '%s: %s files, %s bytes\n' "${d##*/}" "$(ls "$d" | wc -l)" "$(cat "$d"/* | wc -c)"
done
