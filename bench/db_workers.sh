#!/usr/bin/env bash
# bench/db_workers.sh -- the showcase's /db with WORKERS=1 against WORKERS=2
# on one pool (issue 12, item 6): interleaved runs (1,2,1,2,...), each on a
# freshly started server, each reporting req/s, the server's CPU time per
# request and the pool's counters from /metrics.
#
# Usage: bench/db_workers.sh <database url> [<database url>...]
#        e.g. eval "$(bash scripts/db.sh start all)"; scripts/seed_db.sh ...;
#             bench/db_workers.sh "$GT_TEST_PG_URL" "$GT_TEST_MYSQL_URL"
# Environment (defaults in brackets):
#   ROUNDS [3]        pairs of runs per database (WORKERS=1 then 2, each round)
#   SECS [6]          length of each measured wrk run, after WARMUP [2] s
#   CONNS [64]        wrk connections; MAX_OPEN [16] the pool's cap
#   PORT [18090]      the showcase's port
#   SERVER_CPUS [0]   taskset list for the server ("" = not pinned)
#   CLIENT_CPUS [1]   taskset list for wrk ("" = not pinned)
#   LOCK [/tmp/gt-load.lock]   the shared lock taken around each wrk load
#   METRICS_DIR [unset]  if set, each run's /metrics text is kept there
#
# CPU per request: utime+stime of the whole server process (all threads),
# from /proc/<pid>/stat just before and just after the measured run, divided
# by the requests wrk completed in it. The counters are the server's totals
# since it started (start-up check, warm-up and run): opened_total should be
# MAX_OPEN for both worker counts. A Markdown table goes to stdout, progress
# to stderr. Only the wrk runs (and the /proc reads around them) are inside
# the lock; servers are started and stopped outside it, by pid.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${ROUNDS:-3}"
SECS="${SECS:-6}"
WARMUP="${WARMUP:-2}"
CONNS="${CONNS:-64}"
MAX_OPEN="${MAX_OPEN:-16}"
PORT="${PORT:-18090}"
SERVER_CPUS="${SERVER_CPUS-0}"
CLIENT_CPUS="${CLIENT_CPUS-1}"
LOCK="${LOCK:-/tmp/gt-load.lock}"
SHOWCASE="$ROOT/build/examples/showcase"
TICK="$(getconf CLK_TCK)"
WORK=""
SERVER_PID=""

log() { printf 'db_workers: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

stop_server() {
    local pid="$SERVER_PID" i
    SERVER_PID=""
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    stop_server
    [[ -z "$WORK" ]] || rm -rf "$WORK"
}

# start_server <workers> <url>: start it, wait until it answers.
start_server() {
    local i cmd=(env PORT="$PORT" WORKERS="$1" DATABASE_URL="$2")
    if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
        die "port $PORT is taken"
    fi
    # env and taskset exec, so $! is the server's own pid.
    [[ -z "$SERVER_CPUS" ]] || cmd+=(taskset -c "$SERVER_CPUS")
    "${cmd[@]}" "$SHOWCASE" >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for ((i = 0; i < 300; i++)); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/plaintext" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    tail -5 "$WORK/server.log" >&2
    die "the showcase did not start ($1 workers)"
}

# metric <name> <file>: greentor_pool_<name> from a /metrics text; a name
# with a '{' is matched whole (greentor_db_...{label="..."}).
metric() {
    awk -v m="$1" '
        index(m, "{") { if ($1 == m) v = $2; next }
        $1 ~ "^greentor_pool_" m "{" { v = $2 }
        END { print (v == "") ? "?" : v }' "$2"
}

# one <workers> <url> <round>: one run; prints a table row.
one() {
    local w="$1" url="$2" round="$3" out="$WORK/wrk.out" m="$WORK/metrics"
    local wrk=(wrk -t1 -c"$CONNS" --latency --timeout 10s)
    local t0 t1 reqs rps p50 p99 errs cpu
    start_server "$w" "$url"
    log "round $round, WORKERS=$w"
    [[ -z "$CLIENT_CPUS" ]] || wrk=(taskset -c "$CLIENT_CPUS" "${wrk[@]}")
    [[ "$(readlink "/proc/$SERVER_PID/exe")" == "$SHOWCASE" ]] ||
        die "pid $SERVER_PID is not the showcase"
    # Only wrk and the two reads of /proc run under the lock. Fields 14 and
    # 15 of /proc/<pid>/stat are utime and stime in clock ticks, all threads.
    # shellcheck disable=SC2016
    timeout $((WARMUP + SECS + 400)) flock -w 300 "$LOCK" bash -c '
        set -e
        pid=$1 warm=$2 secs=$3 out=$4 dir=$5 url=$6
        shift 6
        "$@" -d"$warm"s "$url" >/dev/null
        cut -d" " -f14,15 "/proc/$pid/stat" >"$dir/t0"
        "$@" -d"$secs"s "$url" >"$out"
        cut -d" " -f14,15 "/proc/$pid/stat" >"$dir/t1"
    ' _ "$SERVER_PID" "$WARMUP" "$SECS" "$out" "$WORK" \
        "http://127.0.0.1:$PORT/db" "${wrk[@]}" || {
        tail -5 "$out" "$WORK/server.log" >&2 || true
        kill -0 "$SERVER_PID" 2>/dev/null || log "the server has exited"
        die "the wrk run failed (or the lock was not taken in 300 s)"
    }
    curl -s "http://127.0.0.1:$PORT/metrics" >"$m"
    stop_server
    t0="$(awk '{ print $1 + $2 }' "$WORK/t0")"
    t1="$(awk '{ print $1 + $2 }' "$WORK/t1")"
    reqs="$(awk '/requests in/ { print $1 }' "$out")"
    rps="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
    p50="$(awk '$1 == "50%" { print $2 }' "$out")"
    p99="$(awk '$1 == "99%" { print $2 }' "$out")"
    errs="$(awk '/Socket errors:|Non-2xx/ { gsub(",", ""); printf "%s ", $0 }' "$out")"
    cpu="$(awk -v a="$t0" -v b="$t1" -v n="$reqs" -v hz="$TICK" \
        'BEGIN { printf "%.1f", (b - a) / hz * 1e6 / n }')"
    [[ -z "${METRICS_DIR:-}" ]] ||
        cp "$m" "$METRICS_DIR/$(date +%H%M%S)-${url%%://*}-w$w-r$round.txt"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "$round" "$w" "$rps" "$cpu" \
        "$(awk -v a="$t0" -v b="$t1" -v hz="$TICK" -v s="$SECS" \
            'BEGIN { printf "%.2f", (b - a) / hz / s }')" \
        "$p50" "$p99" \
        "$(metric opened_total "$m")" "$(metric max_open_ever "$m")" \
        "$(metric moved_total "$m")" \
        "$(for k in broken lifetime idle dead; do
            metric discarded_${k}_total "$m"; done | paste -sd/)" \
        "$(metric 'greentor_db_interrupted_total{connection="kept"}' "$m")/$(
            metric 'greentor_db_interrupted_total{connection="discarded"}' "$m")" \
        "$(metric waits_total "$m")" "${errs:-0}"
}

main() {
    local url round w sep
    [[ $# -ge 1 ]] || { sed -n '7,9p' "${BASH_SOURCE[0]}" | sed 's/^# //' >&2; exit 2; }
    [[ -x "$SHOWCASE" ]] || die "$SHOWCASE missing: make build/examples/showcase"
    command -v wrk >/dev/null || die "wrk missing: bash scripts/deps.sh bench"
    WORK="$(mktemp -d /tmp/greentor-dbw.XXXXXX)"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
        "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- commit $(git -C "$ROOT" rev-parse --short HEAD)," \
        "server on CPUs ${SERVER_CPUS:-any}, wrk on CPUs ${CLIENT_CPUS:-any}," \
        "$WARMUP s warm-up + $SECS s run, wrk -t1 -c$CONNS, max_open=$MAX_OPEN"
    for url in "$@"; do
        [[ "$url" == *\?* ]] && sep='&' || sep='?'
        echo
        echo "${url%%://*} (\`DATABASE_URL=${url%%://*}://...${sep}max_open=$MAX_OPEN\`):"
        echo
        echo "| round | WORKERS | req/s | CPU µs/req | cores busy | p50 | p99 | opened_total | max_open_ever | moved_total | discarded broken/lifetime/idle/dead | interrupted kept/discarded | waits_total | errors |"
        echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        for ((round = 1; round <= ROUNDS; round++)); do
            for w in 1 2; do
                one "$w" "$url${sep}max_open=$MAX_OPEN" "$round"
            done
        done
    done
}

main "$@"
