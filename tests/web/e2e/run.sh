#!/usr/bin/env bash
# Runs the web app's end-to-end tests (tests/web/e2e/e2e.js) in headless
# Chromium against the real hosts of a build: `minqing ui` and
# `minqing-server serve`.
#
#   tests/web/e2e/run.sh [BUILD_DIR]      (default: build)
#
# Needs Debian's chromium and fonts-noto-cjk (scripts/deps), node, and
# playwright-core from npm in a folder outside the repository: $MQ_E2E_NODE_PATH,
# else BUILD_DIR/e2e-node/node_modules, installed there with npm when
# missing and npm is at hand.  Screenshots go to BUILD_DIR/web-shots/.
# Exit 77 (skipped) when chromium, node or playwright-core cannot be had.
set -euo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)

skip() { echo "web e2e skipped: $*" >&2; exit 77; }
command -v node >/dev/null || skip "node is not installed"
[ -x "${MQ_CHROMIUM:-/usr/bin/chromium}" ] || skip "chromium is not installed (apt-get install chromium fonts-noto-cjk)"
for b in apps/cli/minqing apps/server/minqing-server; do
  [ -x "$build/$b" ] || { echo "missing $build/$b: build the project first" >&2; exit 1; }
done

modules=${MQ_E2E_NODE_PATH:-$build/e2e-node/node_modules}
if [ ! -d "$modules/playwright-core" ]; then
  command -v npm >/dev/null || skip "playwright-core not in $modules and npm is not installed"
  mkdir -p "$(dirname "$modules")"
  npm install --silent --no-audit --no-fund --prefix "$(dirname "$modules")" playwright-core >&2 ||
    skip "npm could not install playwright-core"
fi

export NODE_PATH="$modules"
export MQ_BUILD="$build"
export MQ_SHOTS="${MQ_SHOTS:-$build/web-shots}"
exec node "$top/tests/web/e2e/e2e.js"
