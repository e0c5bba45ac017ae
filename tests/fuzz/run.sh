#!/usr/bin/env bash
# tests/fuzz/run.sh BUILD SECONDS [TARGET...] - runs each libFuzzer target of
# a tree configured with CC=clang -DMQ_FUZZ=ON -DMQ_SANITIZE=ON (scripts/test
# makes one in build-fuzz/) for SECONDS, from its seed corpus and the inputs
# of past findings, with ASan and UBSan; prints one line per target (runs,
# executions per second, coverage, corpus) and fails if any target failed,
# after running them all.  The inputs a run finds go to a temporary folder
# and are dropped; a failing input is kept in BUILD/fuzz-findings/, to be
# replayed with BUILD/tests/fuzz/fuzz_replay_TARGET FILE and, once fixed,
# added to tests/fuzz/regress/TARGET/.  Targets default to every one the
# tree built (BUILD/tests/fuzz/targets.txt, written by CMakeLists.txt).
# The mutations follow MQ_FUZZ_SEED (1 unless set), so that a run that
# failed is run again the same way; MQ_FUZZ_SEED=0 lets libFuzzer pick one.
set -euo pipefail
build=$(cd "$1" && pwd)
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  list=$build/tests/fuzz/targets.txt
  if [ ! -s "$list" ]; then
    echo "run.sh: $list is missing: configure $build with CC=clang -DMQ_FUZZ=ON" >&2
    exit 2
  fi
  mapfile -t targets <"$list"
fi
findings=$build/fuzz-findings
mkdir -p "$findings"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Malloc's fill and deep allocation stacks cost the SQLite targets half
# their speed; leaks and every sanitizer check stay on.
export ASAN_OPTIONS=${ASAN_OPTIONS:-max_malloc_fill_size=0:malloc_context_size=4:quarantine_size_mb=32:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/fuzz_$t
  if [ ! -x "$bin" ]; then
    echo "fuzz_$t: not built (configure with CC=clang -DMQ_FUZZ=ON)" >&2
    failed+=("$t")
    continue
  fi
  dict=$here/json.dict
  [ "$t" = server ] && dict=$here/http.dict
  # Inputs no longer than the largest seed worth mutating whole.
  max_len=4096
  [ "$t" = schema ] && max_len=8192
  mkdir -p "$work/$t"
  seeds=("$here/corpus/$t")
  [ -d "$here/regress/$t" ] && seeds+=("$here/regress/$t")
  log=$findings/$t.log
  rc=0
  "$bin" -seed="${MQ_FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=$max_len \
    -dict="$dict" -close_fd_mask=1 -print_final_stats=1 \
    -artifact_prefix="$findings/$t-" "$work/$t" "${seeds[@]}" >"$log" 2>&1 || rc=$?
  nseeds=$(find "${seeds[@]}" -type f | wc -l)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
  corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$done_line")
  printf 'fuzz_%-7s %3s s %9s runs %7s exec/s  cov %5s  corpus %4s (%s seeds, %s new)\n' \
    "$t" "$seconds" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${corp:-?}" "$nseeds" \
    "$(ls "$work/$t" | wc -l)"
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    echo "fuzz_$t FAILED (exit $rc); the end of $log:" >&2
    grep -v -e '^minqing-server: ' -e '^#[0-9]' "$log" | tail -n 40 >&2
    ls "$findings/$t-"* 2>/dev/null | sed 's/^/  input kept: /' >&2 || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets that failed: ${failed[*]}" >&2
  exit 1
fi
