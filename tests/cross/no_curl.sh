# tests/cross/no_curl.sh - a build without libcurl (MQ_WITH_CURL=OFF, the
# tablet's) ships nothing that loads libcurl, and its `minqing` has no sync
# command: it moves changes by bundles only.
#
# Run as: bash no_curl.sh READELF MINQING_TO_RUN ELF_FILE...
# (MINQING_TO_RUN may be an emulator wrapper; the ELF files are read, not run.)
set -euo pipefail
READELF=${1:?usage: no_curl.sh READELF MINQING_TO_RUN ELF_FILE...}
MQ=${2:?}
shift 2
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
for elf in "$@"; do
    needed=$("$READELF" -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p')
    [[ -n $needed ]] || fail "$elf: no NEEDED entry read (not a dynamic ELF file?)"
    if grep -q 'libcurl' <<<"$needed"; then
        fail "$elf loads libcurl in a build without it: $(tr '\n' ' ' <<<"$needed")"
    fi
    # Nor any symbol of it, linked in statically.
    if "$READELF" -sW "$elf" | grep -qE ' curl_(easy|global|multi)_'; then
        fail "$elf holds libcurl symbols"
    fi
    echo "$(basename "$elf"): $(tr '\n' ' ' <<<"$needed")"
done

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
set +e
"$MQ" --db "$TMP/t.db" sync >"$TMP/out" 2>"$TMP/err"
rc=$?
set -e
[[ $rc == 2 ]] || fail "minqing sync: expected exit 2 (unknown command), got $rc: $(cat "$TMP/err")"
grep -qF "unknown command 'sync'" "$TMP/err" || fail "minqing sync: expected 'unknown command', got: $(cat "$TMP/err")"
"$MQ" --help >"$TMP/help" || fail "minqing --help failed"
if grep -qE '^ +sync ' "$TMP/help"; then
    fail "minqing --help lists sync: $(cat "$TMP/help")"
fi
grep -qE '^ +apply ' "$TMP/help" || fail "minqing --help lacks apply (bundles): $(cat "$TMP/help")"
echo "no libcurl, no sync command; bundles only"
