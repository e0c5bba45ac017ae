# tests/cross/interop.sh - a store file and a bundle written by one build
# are read by another: made by the x86-64 `minqing`, they pass `check`, give
# the same `get` and `export` on the ARM build, a bundle applies there to
# the same records, and a write there is read back by the maker; then the
# same with the roles swapped.  SQLite's file format and the bundle's JSON
# Lines are meant to be the same on every machine; this shows it.
#
# Run as: bash interop.sh NATIVE_MINQING OTHER_MINQING GEN_CARDS_PY
# (OTHER_MINQING is usually the emulator wrapper of a cross build).
NATIVE=${1:?usage: interop.sh NATIVE_MINQING OTHER_MINQING GEN_CARDS_PY}
OTHER=${2:?usage: interop.sh NATIVE_MINQING OTHER_MINQING GEN_CARDS_PY}
set -- "$NATIVE" "${3:?usage: interop.sh NATIVE_MINQING OTHER_MINQING GEN_CARDS_PY}"
source "$(dirname "$0")/../cli/lib.sh"
[[ -x $OTHER ]] || fail "no minqing at $OTHER"

gen --households 300 >"$TMP/village.jsonl"
H=$(grep -m1 '"type":"household"' "$TMP/village.jsonl" | py 'd["id"]')
M=$(grep -m1 '"type":"member"' "$TMP/village.jsonl" | py 'd["id"]')

# one_way MAKER READER TAG: MAKER writes a store and a bundle, READER reads them.
one_way() {
    local maker=$1 reader=$2 tag=$3
    local A=$TMP/$tag-made.db B=$TMP/$tag-applied.db
    MQ=$maker
    ok "$A" init --site "made-$tag" >/dev/null
    ok "$A" import "$TMP/village.jsonl" >/dev/null
    echo '{"phone":"13811112222","size":5,"head_name":"李秀英"}' |
        ok "$A" put household --id "$H" >/dev/null
    ok "$A" delete "$M" >/dev/null
    ok "$A" changes -o "$TMP/$tag.bundle" >/dev/null
    ok "$A" export -o "$TMP/$tag-made.jsonl" >/dev/null
    local made_h made_m
    made_h=$(ok "$A" get "$H" | py 'd')
    made_m=$(ok "$A" get "$M" | py 'd')

    # The maker's file, read by the other build.
    MQ=$reader
    ok "$A" check >/dev/null
    expect_eq "$made_h" "$(ok "$A" get "$H" | py 'd')" "$tag: get $H of the maker's file"
    expect_eq "$made_m" "$(ok "$A" get "$M" | py 'd')" "$tag: get of a deleted member"
    ok "$A" export -o "$TMP/$tag-read.jsonl" >/dev/null
    same_records "$TMP/$tag-made.jsonl" "$TMP/$tag-read.jsonl" "$tag: export of the maker's file"

    # The maker's bundle, applied by the other build to a store of its own.
    ok "$B" init --site "applied-$tag" >/dev/null
    ok "$B" apply "$TMP/$tag.bundle" >/dev/null
    ok "$B" check >/dev/null
    expect_eq "$made_h" "$(ok "$B" get "$H" | py 'd')" "$tag: get $H after applying the bundle"
    expect_eq "$made_m" "$(ok "$B" get "$M" | py 'd')" "$tag: get of the deleted member after the bundle"
    ok "$B" export -o "$TMP/$tag-applied.jsonl" >/dev/null
    same_records "$TMP/$tag-made.jsonl" "$TMP/$tag-applied.jsonl" "$tag: export after applying the bundle"

    # A write by the other build into the maker's file, read back by the maker.
    echo '{"size":7}' | ok "$A" put household --id "$H" >/dev/null
    MQ=$maker
    ok "$A" check >/dev/null
    expect_eq 7 "$(ok "$A" get "$H" | py 'd["fields"]["size"]')" "$tag: the maker reads the other's write"
    echo "$tag: file and bundle read both ways"
}

one_way "$NATIVE" "$OTHER" native-to-other
one_way "$OTHER" "$NATIVE" other-to-native
