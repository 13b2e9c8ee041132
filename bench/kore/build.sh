#!/usr/bin/env bash
# bench/kore/build.sh DIR -- build the kore peer of bench/run.sh (src/bench.c)
# with Debian's kodev in DIR/kore, a copy of this folder (kodev builds in
# place and names the module after its folder), and print the module's
# path. Needs the package kore (scripts/deps.sh bench).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$1/kore"

rm -rf "$OUT"
mkdir -p "$OUT"
cp -r "$HERE/src" "$HERE/conf" "$OUT/"
cd "$OUT"
cp conf/bench.conf.in conf/kore.conf # kodev looks for conf/<folder>.conf
kodev flavor prod >/dev/null
kodev build >build.log 2>&1 || { cat build.log >&2; exit 1; }
echo "$OUT/kore.so"
