#!/usr/bin/env bash
# bench/pgbench_sizes.sh <postgres-url> <seconds> <cpu> -- pgbench's
# single-row select by id at 1, 8 and 64 connections, pinned to <cpu>:
# the reference that bench_db's "select by id, own connection" rows are
# compared with (issue 4 asks for both clients on the same core).
set -euo pipefail
url=$1 secs=$2 cpu=$3
for conns in 1 8 64; do
    tps=$(taskset -c "$cpu" pgbench -n -M prepared -c "$conns" -j 1 \
        -T "$secs" -f bench/pgbench_world.sql "$url" 2>&1 |
        awk '/^tps/ { printf "%.0f", $3 }')
    printf 'pgbench -c %-3s -M prepared  %8s tps\n' "$conns" "${tps:-failed}"
done
