#!/usr/bin/env bash
# bench/client.sh -- outbound calls: greentor's client against plain
# libcurl on threads (bench/bench_client.c), against nginx-light on
# loopback, over plain HTTP and HTTPS, both with keep-alive.
#
# Usage: make build/bench/bench_client && bench/client.sh [instructions]
#
# "instructions": instead of timing, user-space instructions per call of
# each client alone under callgrind, from two runs of LOW and HIGH calls
# ((I(HIGH) - I(LOW)) / (HIGH - LOW): start-up, connects and TLS
# handshakes cancel out). Exact and immune to the machine's load, but
# blind to the kernel.
# Environment (defaults in brackets):
#   NS ["1 16"]          concurrencies: N coroutines against N threads
#   CALLS [20000]        calls in each run; ROUNDS [5] runs of each a variant
#   PLAIN_PORT [18481]   nginx's plain HTTP port; TLS_PORT [18483] its HTTPS
#                        (HTTP/1.1) port; H2_PORT [18482] (started, unused)
#   SERVER_CPUS [1]      taskset list for nginx ("" = not pinned)
#   CLIENT_CPUS [0]      taskset list for bench_client ("" = not pinned)
#   LOCK [/tmp/gt-load.lock]  the shared lock, held around each client run
#   NS_IC ["1 16"], LOW [500], HIGH [2500]   for "instructions"
#
# nginx (scripts/tls_nginx.sh: a CA made now, one worker, keepalive_requests
# raised so that no connection is closed during a run) is started first,
# outside the lock, and stopped at the end; only the bench_client runs hold
# the lock. Markdown to stdout (a header, then bench_client's rows),
# bench_client's per-run lines to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NS="${NS:-1 16}"
CALLS="${CALLS:-20000}"
ROUNDS="${ROUNDS:-5}"
PLAIN_PORT="${PLAIN_PORT:-18481}"
H2_PORT="${H2_PORT:-18482}"
TLS_PORT="${TLS_PORT:-18483}"
SERVER_CPUS="${SERVER_CPUS-1}"
CLIENT_CPUS="${CLIENT_CPUS-0}"
LOCK="${LOCK:-/tmp/gt-load.lock}"
BENCH="$ROOT/build/bench/bench_client"
WORK=""

log() { printf 'client.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

cleanup() {
    [[ -z "$WORK" ]] || { bash "$ROOT/scripts/tls_nginx.sh" stop "$WORK"; rm -rf "$WORK"; }
}

# one <url> <n> <ca> <server pids>: one bench_client run under the lock;
# its Markdown row to stdout.
one() {
    local cmd=("$BENCH" "$1" "$2" "$CALLS" "$ROUNDS") out="$WORK/out"
    [[ -z "$CLIENT_CPUS" ]] || cmd=(taskset -c "$CLIENT_CPUS" "${cmd[@]}")
    cmd=(env BENCH_CA="$3" SERVER_PIDS="$4" "${cmd[@]}")
    log "$1, N=$2"
    timeout 900 flock -w 300 "$LOCK" "${cmd[@]}" >"$out" ||
        { cat "$out" >&2; die "bench_client failed (or no lock in 300 s)"; }
    grep -v '^|' "$out" >&2
    grep '^|' "$out" | tail -1
}

# ir <client> <url> <n> <calls> <ca>: callgrind's instruction total of one
# run of that client alone, under the lock.
ir() {
    local out="$WORK/cg.out" cmd=(valgrind --tool=callgrind -q
        --callgrind-out-file="$WORK/cg.out" "$BENCH" "$2" "$3" "$4")
    [[ -z "$CLIENT_CPUS" ]] || cmd=(taskset -c "$CLIENT_CPUS" "${cmd[@]}")
    rm -f "$out"
    timeout 900 flock -w 300 "$LOCK" env BENCH_ONLY="$1" BENCH_CA="$5" \
        "${cmd[@]}" >&2 || die "bench_client $1 under callgrind failed"
    awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

instructions() {
    local n url c lo hi ca ig il
    LOW="${LOW:-500}" HIGH="${HIGH:-2500}"
    echo
    echo "User-space instructions per call (callgrind, ($HIGH - $LOW) calls):"
    echo
    echo "| url | N | greentor | libcurl | ratio g/c |"
    echo "|---|---:|---:|---:|---:|"
    for n in ${NS_IC:-1 16}; do
        for url in "http://127.0.0.1:$PLAIN_PORT/" "https://localhost:$TLS_PORT/"; do
            ca=""
            [[ "$url" != https* ]] || ca="$WORK/ca.pem"
            for c in greentor libcurl; do
                log "callgrind: $c, $url, N=$n"
                lo="$(ir "$c" "$url" "$n" "$LOW" "$ca")"
                hi="$(ir "$c" "$url" "$n" "$HIGH" "$ca")"
                if [[ "$c" == greentor ]]; then
                    ig=$(((hi - lo) / (HIGH - LOW)))
                else
                    il=$(((hi - lo) / (HIGH - LOW)))
                fi
            done
            printf '| %s | %s | %s | %s | %s |\n' "$url" "$n" "$ig" "$il" \
                "$(awk -v a="$ig" -v b="$il" 'BEGIN { printf "%.2fx", a / b }')"
        done
    done
}

main() {
    local nginx=() n url pids
    [[ -x "$BENCH" ]] || die "$BENCH missing: make build/bench/bench_client"
    WORK="$(mktemp -d /tmp/greentor-client-bench.XXXXXX)"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    [[ -z "$SERVER_CPUS" ]] || nginx=(taskset -c "$SERVER_CPUS")
    TLS_NGINX_PLAIN_PORT="$PLAIN_PORT" TLS_NGINX_KEEPALIVE=100000000 \
        "${nginx[@]}" bash "$ROOT/scripts/tls_nginx.sh" start "$WORK" \
        "$H2_PORT" "$TLS_PORT"
    pids="$(cat "$WORK/nginx.pid") $(pgrep -P "$(cat "$WORK/nginx.pid")" | paste -sd' ')"
    echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
        "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- commit $(git -C "$ROOT" rev-parse --short HEAD), $(curl --version | head -1 | cut -d' ' -f1-5)," \
        "$(nginx -v 2>&1 | sed 's/.*: //'); bench_client on CPUs ${CLIENT_CPUS:-any}," \
        "nginx (1 worker) on CPUs ${SERVER_CPUS:-any}"
    if [[ "${1:-}" == instructions ]]; then
        command -v valgrind >/dev/null || die "valgrind missing"
        instructions
        return
    fi
    echo "- $CALLS calls a run, $ROUNDS rounds; medians, and ratios as the median of the rounds' ratios"
    echo
    echo "| url | N | greentor calls/s | libcurl calls/s | ratio g/c | greentor µs CPU/call | libcurl µs CPU/call | ratio g/c | nginx µs CPU/call (greentor's runs / libcurl's) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for n in $NS; do
        for url in "http://127.0.0.1:$PLAIN_PORT/" "https://localhost:$TLS_PORT/"; do
            if [[ "$url" == https* ]]; then
                one "$url" "$n" "$WORK/ca.pem" "$pids"
            else
                one "$url" "$n" "" "$pids"
            fi
        done
    done
}

main "$@"
