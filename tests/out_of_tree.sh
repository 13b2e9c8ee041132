#!/usr/bin/env bash
# tests/out_of_tree.sh -- issue 10: an application builds against the
# installed library with the README's command alone. Installs into a
# temporary prefix, builds examples/bookmarks from there with pkg-config
# (jansson must come with greentor.pc, as http.h includes it) and checks
# that the binary's libraries all resolve. Run from the repository root.
set -euo pipefail

prefix=$(mktemp -d /tmp/greentor-oot-XXXXXX)
trap 'rm -rf "$prefix"' EXIT

make -s install PREFIX="$prefix" >"$prefix/make.log" 2>&1 ||
    { cat "$prefix/make.log"; exit 1; }
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# The README's command, word for word but for the prefix.
cc -o "$prefix/bookmarks" examples/bookmarks/*.c \
    $(pkg-config --cflags --libs greentor) -Wl,-rpath,"$prefix/lib"
# ldd's output is taken whole first: `ldd | grep -q` under pipefail fails
# when grep's early exit kills ldd with SIGPIPE (seen under load).
libs=$(ldd "$prefix/bookmarks")
if grep -q 'not found' <<<"$libs"; then
    echo "$libs"
    exit 1
fi
grep -q "$prefix/lib/libgreentor.so" <<<"$libs" ||
    { echo "not linked against the installed libgreentor"; echo "$libs"; exit 1; }
echo "out of tree: examples/bookmarks built against $prefix"
