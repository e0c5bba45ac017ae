#!/usr/bin/env bash
# The main job with sync: a county server on loopback with the embedded
# SQLite store, seeded with a village committee (88 households); two tablets
# enrolled for the village sync, each records a conflicting edit of one
# household offline (and one records a need), both sync again, and the
# merged household, the conflict and the needs are printed from a tablet.
#
#   sync/demo.sh [BUILD_DIR]     # default: build/ (built here if missing)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${1:-$top/build}
if [ -x scripts/deps ]; then scripts/deps; fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target minqing minqing-server >/dev/null

mq="$build/platform/cli/minqing"
srv="$build/sync/minqing-server"
gen="$top/../shared/data/gen_cards.py"
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
export MINQING_SERVER_DB="$work/county.db"
field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$1"; }

echo "== the county server: seed it with a village committee"
python3 "$gen" --households 88 >"$work/village.jsonl"
"$srv" import "$work/village.jsonl"
village=$(grep -m1 '"level":"village"' "$work/village.jsonl" | field id)
cadre=$(grep -m1 '"type":"cadre"' "$work/village.jsonl" | field id)
"$srv" serve --listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/serve.out" && break; sleep 0.05; done
url=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$work/serve.out")
curl -fsS "$url/v1/health" >/dev/null
echo "server ready at $url"

echo "== enroll two tablets for village $village"
tok_a=$("$srv" device add tablet-a --area "$village" --cadre "$cadre")
tok_b=$("$srv" device add tablet-b --area "$village")
"$srv" device list

echo "== first sync of each tablet"
for t in a b; do
  "$mq" --db "$work/$t.db" init --site "tablet-$t" --cadre "$cadre"
done
"$mq" --db "$work/a.db" sync --server "$url" --token "$tok_a" >/dev/null
"$mq" --db "$work/b.db" sync --server "$url" --token "$tok_b" >/dev/null

"$mq" --db "$work/a.db" list household >"$work/households.jsonl"
household=$(field id <"$work/households.jsonl")
echo "== offline: both tablets correct the phone of household $household"
echo '{"phone":"13900001111","size":6}' | "$mq" --db "$work/a.db" put household --id "$household" >/dev/null
echo '{"phone":"13900002222"}' | "$mq" --db "$work/b.db" put household --id "$household" >/dev/null
today=$(date +%F)
need=$(printf '{"household":"%s","category":"housing","description":"房屋漏雨,需危房改造","source":"home_visit","urgency":"high","recorded_by":"%s","recorded_at":"%s","deadline":"%s"}' \
  "$household" "$cadre" "$today" "$(date -d '+30 days' +%F)" | "$mq" --db "$work/b.db" put need)
printf '{"need":"%s","action":"accept","by":"%s","at":"%s"}' "$need" "$cadre" "$today" |
  "$mq" --db "$work/b.db" put need_action >/dev/null

echo "== sync again: a, b, then a to receive b's edits"
for t in a b a; do "$mq" --db "$work/$t.db" sync >/dev/null; done

echo "== the merged household (tablet a, tablet b, server agree)"
"$mq" --db "$work/a.db" get "$household"
"$mq" --db "$work/b.db" get "$household" | cmp - <("$mq" --db "$work/a.db" get "$household") &&
  echo "(tablet b holds the same)"
"$srv" export | grep "\"id\":\"$household\"" | cmp - <("$mq" --db "$work/a.db" get "$household") &&
  echo "(the server holds the same)"
echo "== the conflict, for a person to resolve"
"$mq" --db "$work/a.db" conflicts
echo "== the needs of the household"
"$mq" --db "$work/a.db" needs | grep "$household"
