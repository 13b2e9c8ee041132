#!/usr/bin/env bash
# scripts/seed_scenario.sh -- the failure this project was founded on, run
# as a test: a pool bigger than the database allows. A MariaDB of its own
# with max_connections=20, the showcase with max_open=30, 5,000 GET /db
# requests 200 at a time. The seed (greenlets over a per-thread
# connection) ran out of connections here; an early greentor took "Too
# many connections" for an outage and answered 4,295 of 5,000 with 503.
# The pool must instead hold its cap at what the database gives and serve
# every request. Exits 0 when all 5,000 were 200, else 1.
#
# Usage: scripts/seed_scenario.sh     (needs build/examples/showcase)
# Uses its own state directory and port (GT_SEED_DIR [/tmp/gt-seed-db],
# GT_SEED_MYSQL_PORT [23399], GT_SEED_PORT [28090]: below 32768, outside
# Linux's ephemeral range, so that no outgoing connection holds one);
# stops what it starts.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
SHOWCASE="${GT_SHOWCASE:-$ROOT/build/examples/showcase}"
PORT="${GT_SEED_PORT:-28090}"
REQUESTS=5000
PARALLEL=200
WORK="$(mktemp -d /tmp/gt-seed.XXXXXX)"
export GT_DB_DIR="${GT_SEED_DIR:-/tmp/gt-seed-db}"
export GT_MYSQL_PORT="${GT_SEED_MYSQL_PORT:-23399}" GT_MYSQL_MAX_CONN=20

log() { printf 'seed scenario: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[[ -x "$SHOWCASE" ]] || die "no showcase at $SHOWCASE (make build/examples/showcase)"
SERVER_PID=""

cleanup() {
    set +e
    [[ -n "$SERVER_PID" ]] && kill -KILL "$SERVER_PID" 2>/dev/null
    wait 2>/dev/null
    bash "$HERE/db.sh" stop mysql >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

url="$(bash "$HERE/db.sh" start mysql 9>&- | sed -n 's/^export GT_TEST_MYSQL_URL=//p')"
[[ -n "$url" ]] || die "MariaDB did not start"
bash "$HERE/seed_db.sh" "$url" >/dev/null
PORT="$PORT" WORKERS=2 DATABASE_URL="$url?max_open=30" \
    "$SHOWCASE" >"$WORK/showcase.log" 2>&1 9>&- &
SERVER_PID=$!
for ((i = 0; i < 150; i++)); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
    sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" ||
    { cat "$WORK/showcase.log" >&2; die "the showcase did not start"; }

args=()
for ((i = 0; i < REQUESTS; i++)); do
    args+=(-o /dev/null "http://127.0.0.1:$PORT/db")
done
curl -s --no-progress-meter --parallel --parallel-max "$PARALLEL" \
    --max-time 30 -w '%{http_code}\n' "${args[@]}" >"$WORK/codes" 2>/dev/null ||
    true
metrics="$(curl -s "http://127.0.0.1:$PORT/metrics")"
held="$(awk '/^greentor_pool_max_open_ever/ {print $2}' <<<"$metrics")"
cap="$(awk '/^greentor_pool_cap\{/ {print $2}' <<<"$metrics")"
refused="$(awk '/^greentor_pool_capacity_refusals_total/ {print $2}' \
    <<<"$metrics")"
total="$(wc -l <"$WORK/codes")"
bad="$(grep -vc '^200$' "$WORK/codes" || true)"
log "$total requests, $bad not 200; pool held at most $held connections" \
    "(cap now $cap, $refused connects refused by the database)"
if [[ "$total" != "$REQUESTS" || "$bad" != 0 ]]; then
    sort "$WORK/codes" | uniq -c >&2
    tail -5 "$WORK/showcase.log" >&2
    exit 1
fi
