# tests/install/install.sh - `cmake --install` of a build tree into a
# temporary prefix gives a library a third party can build on: the files in
# their places, a SONAME from the version, only the public functions
# exported, and the same small program (consumer.c) built and run four
# ways: with pkg-config against the shared and the static library, and with
# find_package(minqing) against minqing::minqing and minqing::minqing_static.
#
# Run as: bash install.sh BUILD_DIR CC VERSION SOVERSION LIBDIR WITH_CURL WITH_SERVER [CFLAGS]
# (ctest passes these from the build's configuration; CFLAGS carries the
# sanitizer flags of a sanitized build).
set -euo pipefail

BUILD=${1:?usage: install.sh BUILD_DIR CC VERSION SOVERSION LIBDIR WITH_CURL WITH_SERVER [CFLAGS]}
CC=${2:?}
VERSION=${3:?}
SOVERSION=${4:?}
LIBDIR=${5:?}
WITH_CURL=${6:?}
WITH_SERVER=${7:?}
read -r -a CFLAGS <<<"${8:-}"
HERE=$(cd "$(dirname "$0")" && pwd)

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PREFIX=$TMP/prefix
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
on() {
    case $1 in ON | on | 1 | TRUE | true | YES | yes) return 0 ;; *) return 1 ;; esac
}

cmake --install "$BUILD" --prefix "$PREFIX" >"$TMP/install.log" ||
    fail "cmake --install: $(cat "$TMP/install.log")"

# ---- the files -------------------------------------------------------------
want=(
    "$LIBDIR/libminqing.so" "$LIBDIR/libminqing.so.$SOVERSION" "$LIBDIR/libminqing.so.$VERSION"
    "$LIBDIR/libminqing.a" "$LIBDIR/pkgconfig/minqing.pc"
    "$LIBDIR/cmake/minqing/minqingConfig.cmake"
    "$LIBDIR/cmake/minqing/minqingConfigVersion.cmake"
    include/minqing/minqing.h include/minqing/store.h include/minqing/error.h
    include/minqing/valid.h include/minqing/version.h bin/minqing
)
on "$WITH_CURL" && want+=(include/minqing/sync.h)
on "$WITH_SERVER" && want+=(bin/minqing-server)
for f in "${want[@]}"; do
    [[ -e $PREFIX/$f ]] || fail "not installed: $f (installed: $(cd "$PREFIX" && find . -type f | sort | tr '\n' ' '))"
done
# Every public header of the source tree is installed (sync.h only with the client).
for h in "$HERE"/../../include/minqing/*.h; do
    name=$(basename "$h")
    [[ $name == sync.h ]] && ! on "$WITH_CURL" && continue
    [[ -e $PREFIX/include/minqing/$name ]] || fail "public header not installed: minqing/$name"
done
if ! on "$WITH_CURL"; then
    [[ ! -e $PREFIX/include/minqing/sync.h ]] || fail "sync.h installed by a build without the sync client"
fi
# No header of the tree's private folders slipped in.
extra=$(cd "$PREFIX/include/minqing" && ls | grep -vxF -f <(cd "$HERE/../../include/minqing" && ls; echo version.h) || true)
[[ -z $extra ]] || fail "installed headers that are not public: $extra"

# ---- the shared library ----------------------------------------------------
so=$PREFIX/$LIBDIR/libminqing.so
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[[ $soname == "libminqing.so.$SOVERSION" ]] || fail "SONAME is '$soname', expected libminqing.so.$SOVERSION"

# Exported: exactly the functions the installed headers declare (a line that
# starts with a type and names an mq_ function, static inline helpers left
# out), every one of them defined.
nm -D --defined-only "$so" | awk '$2 ~ /^[TWDBR]$/ && $3 ~ /^mq_/ {print $3}' | sort -u >"$TMP/exported"
grep -hE '^[A-Za-z_][A-Za-z0-9_ *]*[ *]mq_[a-z0-9_]+ *\(' "$PREFIX"/include/minqing/*.h |
    grep -v '^static ' | grep -oE '^[A-Za-z_][A-Za-z0-9_ *]*[ *]mq_[a-z0-9_]+ *\(' |
    grep -oE 'mq_[a-z0-9_]+ *\($' | tr -d ' (' | sort -u >"$TMP/declared"
[[ -s $TMP/declared ]] || fail "no function found in the installed headers"
missing=$(comm -23 "$TMP/declared" "$TMP/exported" | tr '\n' ' ')
[[ -z $missing ]] || fail "declared in the headers but not exported by libminqing.so: $missing"
leaked=$(comm -13 "$TMP/declared" "$TMP/exported" | tr '\n' ' ')
[[ -z $leaked ]] || fail "exported by libminqing.so but not public: $leaked"
if ! on "$WITH_CURL"; then
    ! readelf -d "$so" | grep -q 'libcurl' || fail "libminqing.so links libcurl in a build without it"
fi

# ---- pkg-config ------------------------------------------------------------
export PKG_CONFIG_PATH=$PREFIX/$LIBDIR/pkgconfig
pkg-config --exists minqing || fail "pkg-config does not find minqing in $PKG_CONFIG_PATH"
pcver=$(pkg-config --modversion minqing)
[[ $pcver == "$VERSION" ]] || fail "minqing.pc says version $pcver, expected $VERSION"
requires=$(pkg-config --print-requires-private minqing | awk '{print $1}' | sort | tr '\n' ' ')
for dep in sqlite3 libcjson; do
    [[ " $requires" == *" $dep "* ]] || fail "minqing.pc Requires.private lacks $dep: $requires"
done
if on "$WITH_CURL"; then
    [[ " $requires" == *" libcurl "* ]] || fail "minqing.pc Requires.private lacks libcurl: $requires"
else
    [[ " $requires" != *" libcurl "* ]] || fail "minqing.pc requires libcurl in a build without it"
fi

read -r -a pc_cflags <<<"$(pkg-config --cflags minqing)"
read -r -a pc_libs <<<"$(pkg-config --libs minqing)"
# The static library with its dependencies shared, as a host links it: the
# archive, then what minqing.pc requires privately.  (Debian's libcurl.pc
# names for a fully static link the archives of every library curl uses,
# which no -dev package set ships; without curl, `pkg-config --static`
# itself is used, which also reads Libs.private.)
if on "$WITH_CURL"; then
    read -r -a pc_static <<<"$(pkg-config --libs minqing $(pkg-config --print-requires-private minqing | awk '{print $1}')) -lm"
else
    read -r -a pc_static <<<"$(pkg-config --static --libs minqing)"
fi
# The static link names the archive itself: beside libminqing.so, -lminqing
# would pick the shared library.
pc_static=("${pc_static[@]/#-lminqing/-l:libminqing.a}")

run() { # run NAME EXE [LD_LIBRARY_PATH]: runs a consumer on a new store
    local out
    out=$(LD_LIBRARY_PATH=${3:-} "$2" "$TMP/$1.db" "$VERSION") || fail "$1: the consumer failed: $out"
    [[ $out == "ok $VERSION "* ]] || fail "$1: the consumer printed '$out'"
    echo "$1: $out"
}
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p'; }

"$CC" "${CFLAGS[@]}" -std=c11 -Wall -Wextra -Werror "$HERE/consumer.c" "${pc_cflags[@]}" \
    "${pc_libs[@]}" -o "$TMP/pc_shared" || fail "building against the shared library with pkg-config"
needed "$TMP/pc_shared" | grep -qxF "libminqing.so.$SOVERSION" ||
    fail "pc_shared does not load libminqing.so.$SOVERSION: $(needed "$TMP/pc_shared" | tr '\n' ' ')"
run pc_shared "$TMP/pc_shared" "$PREFIX/$LIBDIR"

"$CC" "${CFLAGS[@]}" -std=c11 -Wall -Wextra -Werror "$HERE/consumer.c" "${pc_cflags[@]}" \
    "${pc_static[@]}" -o "$TMP/pc_static" || fail "building against the static library with pkg-config --static"
! needed "$TMP/pc_static" | grep -q libminqing || fail "pc_static loads libminqing.so"
run pc_static "$TMP/pc_static"

# ---- find_package ----------------------------------------------------------
cm=(-S "$HERE/consumer" -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_C_COMPILER="$CC"
    -DCMAKE_C_FLAGS="${CFLAGS[*]}" -DCMAKE_BUILD_TYPE=Debug)
cmake "${cm[@]}" -B "$TMP/cm" -DMQ_WANT_VERSION="$VERSION" >"$TMP/cm.log" 2>&1 ||
    fail "find_package(minqing $VERSION): $(cat "$TMP/cm.log")"
cmake --build "$TMP/cm" >"$TMP/cm-build.log" 2>&1 ||
    fail "building with find_package(minqing): $(cat "$TMP/cm-build.log")"
run cmake_shared "$TMP/cm/consumer_shared" "$PREFIX/$LIBDIR"
run cmake_static "$TMP/cm/consumer_static"
! needed "$TMP/cm/consumer_static" | grep -q libminqing || fail "consumer_static loads libminqing.so"

# A version the package does not satisfy is refused.
major=${VERSION%%.*}
if cmake "${cm[@]}" -B "$TMP/cm-next" -DMQ_WANT_VERSION="$((major + 1)).0" >"$TMP/cm-next.log" 2>&1; then
    fail "find_package(minqing $((major + 1)).0) accepted version $VERSION"
fi
echo "installed and used: $PREFIX"
