#!/usr/bin/env bash
# bench/run.sh -- what `make bench` runs: the showcase server on SQLite,
# PostgreSQL and MariaDB under wrk, next to nginx and pgbench, in one run.
#
# Usage: bench/run.sh        (make bench builds the binaries and installs
#                             wrk, nginx-light, pgbench first)
# Environment (defaults in brackets):
#   BENCH_SECONDS [10]       length of each measurement, after a 2 s warm-up
#   BENCH_PORT [18080]       the showcase's port; BENCH_NGINX_PORT [18081]
#   BENCH_PARKED [100000]    parked coroutines for bench_runtime's memory test
#   BENCH_H2O_PORT [18082]   h2o's port; BENCH_W_PORT [18083] the first of
#                            the three ports of the WORKERS=2 section;
#                            BENCH_KORE_PORT [18086] kore's (one worker,
#                            then two in the WORKERS=2 section)
#   BENCH_DBS [sqlite postgres mysql]  the databases to run (sqlite alone
#                            skips scripts/db.sh and the PostgreSQL rows)
#   BENCH_EXTRA [1]          0 skips bench_runtime, bench_pool, bench_db
#   BENCH_STRACE_SECONDS [2] length of each strace -c run (syscalls/request)
#   BENCH_IDLE_CONNS [4000]  idle keep-alive connections held open against
#                            each server to measure its memory per connection
#   BENCH_LOCK [none]        a lock file (e.g. /tmp/gt-load.lock) held with
#                            flock around each measurement (warm-up and run,
#                            strace runs, pgbench) and released between them,
#                            for a machine shared with other load: the
#                            servers, started outside it, never hold it
#
# Every wrk row also reports the server's µs of CPU per request: utime+stime
# of all its threads and processes (/proc/<pid>/stat, the pid and its
# children) just before and after the measured run, over the requests wrk
# completed; on PostgreSQL, the database's own CPU (the postmaster and its
# backends) is read the same way, per request and per pgbench transaction.
# Syscalls per request come from `strace -c -f` attached to the
# server over a short wrk run (strace slows the server; the counts stand).
#
# For each database (SQLite, the showcase's default; PostgreSQL; MariaDB with
# the pool capped at 8 connections) the showcase runs with WORKERS=1 pinned
# to CPU 0 and wrk -t1 pinned to CPU 1 measures every TechEmpower endpoint at
# 64 and 256 connections. /plaintext and /json do not touch the database, so
# they are measured once (on the SQLite run), with and without pipelining
# (depth 16), each right next to the same measurement of nginx, one worker on
# CPU 0, serving the same bytes. /db on PostgreSQL is compared with pgbench
# running the same query over 8 connections -- the pool's size -- on CPU 1:
# the database's own ceiling, /queries?queries=20 with pgbench sending
# its 20 selects in one pipeline (bench/pgbench_queries20.sql), and
# /updates?queries=20 with 20 selects and 20 updates in two pipelines
# (bench/pgbench_updates20.sql). kore (Debian's kore 4.1, bench/kore/) is
# the third peer of /plaintext and /json, the peer of /db on PostgreSQL
# (its async pgsql API over 8 connections) and of /db and
# /queries?queries=20 on SQLite (SQLite called in its worker, on the
# showcase's own file). PostgreSQL is used without TLS
# by all of them (sslmode=disable; scripts/db.sh's server offers TLS, which
# libpq would otherwise take). Last, with nothing pinned, /plaintext and
# /db (PostgreSQL when it is up) with WORKERS=2 against WORKERS=1, next to
# nginx and kore with two workers each. The result is a Markdown table with the
# commands and the machine above it, written to bench/results/<date>-<time>.md
# and bench/results/latest.md, and printed on stdout; progress goes to stderr.
#
# Why it is shaped this way: the machine has 2 cores and is shared, so only
# figures taken in the same run, on the same cores, mean anything, and they
# are reported as ratios. Every step is bounded in time (wrk -d and timeout,
# deadlines on every wait), all traffic stays on 127.0.0.1, and every process
# started here is stopped by pid on exit; the databases belong to
# scripts/db.sh and are left running. A missing binary skips its section with
# a "skipped:" line instead of failing the run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECS="${BENCH_SECONDS:-10}"
WARMUP=2
CONCS=(64 256)
DEPTH=16
PORT="${BENCH_PORT:-18080}"
NGINX_PORT="${BENCH_NGINX_PORT:-18081}"
H2O_PORT="${BENCH_H2O_PORT:-18082}"
W_PORT="${BENCH_W_PORT:-18083}"   # W_PORT: WORKERS=1, +1: WORKERS=2, +2: nginx x2
KORE_PORT="${BENCH_KORE_PORT:-18086}"
DBS=" ${BENCH_DBS:-sqlite postgres mysql} "
EXTRA="${BENCH_EXTRA:-1}"
STRACE_SECS="${BENCH_STRACE_SECONDS:-2}"
LOCK="${BENCH_LOCK:-}"
LOCK_FD=""      # the lock's descriptor while a measurement holds it
TCK="$(getconf CLK_TCK)"
PARKED="${BENCH_PARKED:-100000}"
SERVER_CPU=0
CLIENT_CPU=1
POOL_OPTS="max_open=8"
PGBENCH_CONNS=8
SHOWCASE=build/examples/showcase
BENCH_RUNTIME=build/bench/bench_runtime
BENCH_DB=build/bench/bench_db
IDLE=build/bench/idle_conns
IDLE_CONNS="${BENCH_IDLE_CONNS:-4000}"
IDLE_LINES=()
DB_PATHS=(/db "/queries?queries=20" /fortunes "/updates?queries=20"
    "/cached-queries?count=20")

PG_URL=""       # the seeded databases, empty if one did not start
MY_URL=""
START=""        # the run's start, seconds since the epoch: names the report
WORK=""         # private temp dir: logs, wrk outputs, nginx prefix
SERVER_PID=""   # the showcase, while one runs
NGINX_PID=""    # nginx's master, while it runs
H2O_PID=""      # h2o, while it runs
KORE_PID=""     # kore's master (its worker is a child), while it runs
KORE_SO=""      # the kore app's module, once built
W_PIDS=()       # the WORKERS=2 section's servers, while they run
STRACE_PID=""   # strace, while it runs
MEASURE_PID=""  # the server the next measure() charges CPU to
DB_PID=""       # PostgreSQL's postmaster while its rows run: its CPU too
declare -A DB_CPU=()  # key -> PostgreSQL's µs CPU a request (or transaction)
declare -A RESULT=()  # key -> "rps|p50|p99|errors|us cpu/req", or "!message"
ROWS=()         # "database|endpoint|conc|key|reference keys", in table order
SECTIONS=()     # extra Markdown sections (bench_runtime, bench_db)
STRACE_LINES=() # the syscalls-per-request lines
LOAD_BEFORE=""  # /proc/loadavg at the start
REV=""          # the commit, "(dirty)" if the tree was, at the start
RUN_CMD="${BENCH_CMD:-BENCH_SECONDS=${BENCH_SECONDS:-10} BENCH_DBS='${BENCH_DBS:-sqlite postgres mysql}' BENCH_EXTRA=${BENCH_EXTRA:-1}${BENCH_STRACE_SECONDS:+ BENCH_STRACE_SECONDS=$BENCH_STRACE_SECONDS}${BENCH_LOCK:+ BENCH_LOCK=$BENCH_LOCK} bench/run.sh}"

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# ---- processes ---------------------------------------------------------------

# Stop one process we started: TERM, up to 10 s, then KILL; reap it.
stop_pid() {
    local pid="$1" i
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
    local p
    stop_pid "$STRACE_PID"
    stop_pid "$SERVER_PID"
    stop_pid "$NGINX_PID"
    stop_pid "$H2O_PID"
    stop_pid "$KORE_PID"
    for p in "${W_PIDS[@]}"; do stop_pid "$p"; done
    [[ -z "$WORK" ]] || rm -rf "$WORK"
}

# Hold BENCH_LOCK (if set) for one measurement. The descriptor is opened
# here and closed by lock_drop(), so only the load clients started in
# between (wrk, strace, pgbench: they end before it) inherit it.
lock_take() {
    [[ -n "$LOCK" ]] || return 0
    exec {LOCK_FD}>>"$LOCK"
    flock "$LOCK_FD"
}

lock_drop() {
    [[ -n "$LOCK_FD" ]] || return 0
    exec {LOCK_FD}>&-
    LOCK_FD=""
}

# utime+stime of one process in ticks (all its threads), 0 once it is gone;
# pid_ticks <pid> reaped adds cutime+cstime: the children it has waited for.
pid_ticks() {
    local s ut st cut cst
    s="$(cut -d')' -f2 "/proc/$1/stat" 2>/dev/null)" || { echo 0; return; }
    read -r _ _ _ _ _ _ _ _ _ _ _ ut st cut cst _ <<<"$s"
    [[ "${2:-}" == reaped ]] || cut=0 cst=0
    echo $((ut + st + cut + cst))
}

# utime+stime in ticks of a pid and its live children.
cpu_ticks() {
    local p t=0
    for p in "$1" $(pgrep -P "$1" || true); do t=$((t + $(pid_ticks "$p"))); done
    echo "$t"
}

# PostgreSQL's CPU in ticks: the postmaster with what it reaped, and its
# live children (the backends). A backend that exits mid-run (pgbench's,
# at its end) moves into the postmaster's cutime when it is reaped, so the
# difference of two readings still holds it.
db_ticks() {
    local p t
    t="$(pid_ticks "$1" reaped)"
    for p in $(pgrep -P "$1" || true); do t=$((t + $(pid_ticks "$p"))); done
    echo "$t"
}

# Wait (up to 5 s) until the postmaster has reaped the backends of a client
# that just left, so db_ticks() finds their CPU in its cutime: the
# backends it has now may not outnumber <count>. db_reaped <pid> <count>
db_reaped() {
    local i
    for ((i = 0; i < 25; i++)); do
        (($(pgrep -c -P "$1" || true) <= $2)) && return 0
        sleep 0.2
    done
}

# The postmaster's pid: the process listening on the URL's port.
# pg_master_pid <url>
pg_master_pid() {
    local port
    port="$(sed -n 's|.*@[^:/]*:\([0-9]*\)/.*|\1|p' <<<"$1")"
    [[ -n "$port" ]] || return 0
    ss -Hltnp "sport = :$port" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1
}

# db_cpu <key> <ticks before> <ticks after> <requests>: DB_CPU[key], µs a request.
db_cpu() {
    [[ -n "$2" && -n "$3" && "${4:-0}" -gt 0 ]] || return 0
    DB_CPU[$1]="$(awk -v a="$2" -v b="$3" -v t="$TCK" -v n="$4" \
        'BEGIN { printf "%.1f", (b - a) * 1e6 / t / n }')"
}

# Does anything answer HTTP on 127.0.0.1:port?
answers() {
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" 2>/dev/null
}

# Wait up to 'secs' for 'pid' to answer on 'port'; fail at once if it exits.
wait_port() {
    local pid="$1" port="$2" secs="$3" i
    for ((i = 0; i < secs * 5; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        answers "$port" && return 0
        sleep 0.2
    done
    return 1
}

# Refuse a port someone else serves on: we would measure their server.
port_free() {
    ! answers "$1" ||
        die "127.0.0.1:$1 is in use; set BENCH_PORT or BENCH_NGINX_PORT"
}

# ---- setup -------------------------------------------------------------------

# Many coroutines need many mappings (2 per coroutine) and many connections
# many fds. Both are best effort: a container may forbid them.
raise_limits() {
    local maps
    maps="$(cat /proc/sys/vm/max_map_count)"
    if ((maps < 262144)); then
        sysctl -q -w vm.max_map_count=262144 2>/dev/null ||
            log "vm.max_map_count stays $maps (not allowed to raise it)"
    fi
    ulimit -Hn 1048576 2>/dev/null || true
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    log "vm.max_map_count $(cat /proc/sys/vm/max_map_count), open files $(ulimit -n)"
}

# Start one database ('pg' or 'mysql') and seed it; prints its URL, or
# nothing if it could not be started or seeded.
start_db() {
    local which="$1" env url
    env="$(timeout 300 bash scripts/db.sh start "$which")" ||
        { log "scripts/db.sh start $which failed"; return 0; }
    url="$(sed -n "s/^export GT_TEST_${2}_URL=//p" <<<"$env")"
    timeout 120 bash scripts/seed_db.sh "$url" ||
        { log "seeding $which failed"; return 0; }
    [[ "$which" != pg ]] || url="$(with_opts "$url" sslmode=disable)"
    echo "$url"
}

# with_opts <url> <k=v&...>: the URL with the options added to its query.
with_opts() {
    if [[ "$1" == *\?* ]]; then echo "$1&$2"; else echo "$1?$2"; fi
}

# ---- commands ----------------------------------------------------------------
# Each command is built by one function into the array CMD, used both to run
# it and to print it (with placeholders) above the table, so the two cannot
# drift apart.

# The command in CMD as one line a shell would take back.
show_cmd() {
    local a out=()
    for a in "${CMD[@]}"; do
        if [[ "$a" =~ ^[][A-Za-z0-9_./:=@{}+,-]+$ ]]; then
            out+=("$a")
        else
            out+=("'$a'")
        fi
    done
    echo "${out[*]}"
}

# wrk_cmd <conc> <url> <secs> [pipelined]
wrk_cmd() {
    CMD=(taskset -c "$CLIENT_CPU" wrk -t1 -c"$1" -d"$3"s --latency
        --timeout 10s)
    [[ -z "${4:-}" ]] || CMD+=(-s bench/pipeline.lua)
    CMD+=("$2")
    [[ -z "${4:-}" ]] || CMD+=(-- "$DEPTH")
}

# showcase_cmd <database url or empty> [port workers unpinned]
showcase_cmd() {
    CMD=(env PORT="${2:-$PORT}" WORKERS="${3:-1}")
    [[ -z "$1" ]] || CMD+=(DATABASE_URL="$1")
    [[ -n "${4:-}" ]] || CMD+=(taskset -c "$SERVER_CPU")
    CMD+=("$SHOWCASE")
}

h2o_cmd() {
    CMD=(taskset -c "$SERVER_CPU" h2o -c "$WORK/h2o/h2o.conf")
}

# kore_cmd [unpinned]: pinned, kore's master and worker stay on CPU 0;
# unpinned, kore pins its workers one a core itself (worker_set_affinity).
kore_cmd() {
    CMD=(kore -c "$WORK/kore/run.conf" -f -n -r)
    [[ "${1:-}" == unpinned ]] || CMD=(taskset -c "$SERVER_CPU" "${CMD[@]}")
}

# wrk unpinned, for the WORKERS=2 section: <conc> <url> <secs>
wrk2_cmd() {
    CMD=(wrk -t1 -c"$1" -d"$3"s --latency --timeout 10s "$2")
}

nginx_cmd() {
    CMD=(taskset -c "$SERVER_CPU" nginx -p "$WORK/nginx"
        -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log"
        -g "daemon off;")
}

# pgbench_cmd <secs> <url> [log prefix [script]]; the script defaults to
# bench/pgbench_world.sql (/db's query); bench/pgbench_queries20.sql is
# /queries?queries=20's 20 selects in one pipeline.
pgbench_cmd() {
    CMD=(taskset -c "$CLIENT_CPU" pgbench -n -M prepared
        -c "$PGBENCH_CONNS" -j 1 -T "$1" -f "${4:-bench/pgbench_world.sql}")
    [[ -z "${3:-}" ]] || CMD+=(--log --log-prefix="$3")
    CMD+=("$2")
}

# ---- wrk ---------------------------------------------------------------------

# Print "rps|p50|p99|errors" from wrk's output, or fail if it has no result.
# wrk 4.1's coordinated-omission correction can add samples below the
# histogram's minimum, which its percentile scan then never reaches: it
# prints 0.00us. The percentile is then at most the maximum, shown as "≤max".
parse_wrk() {
    awk '
    /^Requests\/sec:/ { rps = $2 }
    $1 == "Latency" && NF >= 5 { max = $4 }
    $1 == "50%" { p50 = ($2 == "0.00us") ? "≤" max : $2 }
    $1 == "99%" { p99 = ($2 == "0.00us") ? "≤" max : $2 }
    /Socket errors:/ { gsub(",", ""); sock = "connect " $4 ", read " $6 \
        ", write " $8 ", timeout " $10; nsock = $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { status = $NF }
    / requests in / { done = $1 }
    END {
        if (rps == "") exit 1
        n = nsock + status; err = n
        if (status) err = err "; non-2xx " status
        if (nsock) err = err "; " sock
        printf "%.0f|%s|%s|%s|%d\n", rps, p50, p99, err, done
    }' "$1"
}

# finish <key> <wrk output> <ticks before> <ticks after> [<database ticks
# before> <after>]: RESULT[key] with the µs CPU per completed request in
# place of the request count, and the database's in DB_CPU[key].
finish() {
    local v
    if ! v="$(parse_wrk "$2")"; then
        RESULT[$1]="!failed: $(head -c 200 "$2" | tr '\n|' '  ')"
        return 0
    fi
    db_cpu "$1" "${5:-}" "${6:-}" "${v##*|}"
    RESULT[$1]="$(awk -v v="$v" -v a="$3" -v b="$4" -v t="$TCK" 'BEGIN {
        n = split(v, f, "|"); cpu = "—"
        if (a != "" && b != "" && f[5] > 0)
            cpu = sprintf("%.1f", (b - a) * 1e6 / t / f[5])
        printf "%s|%s|%s|%s|%s", f[1], f[2], f[3], f[4], cpu }')"
}

# measure <key> <url> <conc> [pipelined|unpinned]: warm up, measure, store
# RESULT[key], charging CPU to MEASURE_PID.
measure() {
    local key="$1" url="$2" c="$3" mode="${4:-}" out a="" b="" da="" db=""
    out="$WORK/wrk-${#RESULT[@]}.out"
    log "wrk -c$c ${mode:+($mode) }$url"
    lock_take
    if [[ "$mode" == unpinned ]]; then wrk2_cmd "$c" "$url" "$WARMUP"
    else wrk_cmd "$c" "$url" "$WARMUP" "$mode"; fi
    timeout $((WARMUP + 30)) "${CMD[@]}" >/dev/null 2>&1 || true
    if [[ "$mode" == unpinned ]]; then wrk2_cmd "$c" "$url" "$SECS"
    else wrk_cmd "$c" "$url" "$SECS" "$mode"; fi
    [[ -z "$MEASURE_PID" ]] || a="$(cpu_ticks "$MEASURE_PID")"
    [[ -z "$DB_PID" ]] || da="$(db_ticks "$DB_PID")"
    timeout $((SECS + 30)) "${CMD[@]}" >"$out" 2>&1 || true
    [[ -z "$MEASURE_PID" ]] || b="$(cpu_ticks "$MEASURE_PID")"
    [[ -z "$DB_PID" ]] || db="$(db_ticks "$DB_PID")"
    lock_drop
    finish "$key" "$out" "$a" "$b" "$da" "$db"
}

# ---- nginx -------------------------------------------------------------------

# Root runs the worker as nobody; anyone else cannot switch users anyway.
nginx_user() {
    if [[ $EUID -eq 0 ]]; then echo "nobody nogroup"; else id -un; fi
}

start_nginx() {
    port_free "$NGINX_PORT"
    mkdir -p "$WORK/nginx"
    sed -e "s|@PREFIX@|$WORK/nginx|g" -e "s|@PORT@|$NGINX_PORT|g" \
        -e "s|@USER@|$(nginx_user)|g" bench/nginx.conf.in \
        >"$WORK/nginx/nginx.conf"
    log "starting nginx on 127.0.0.1:$NGINX_PORT"
    nginx_cmd
    "${CMD[@]}" >"$WORK/nginx/stdout.log" 2>&1 &
    NGINX_PID=$!
    if ! wait_port "$NGINX_PID" "$NGINX_PORT" 10; then
        cat "$WORK/nginx/error.log" "$WORK/nginx/stdout.log" >&2 || true
        stop_pid "$NGINX_PID"
        NGINX_PID=""
        log "nginx did not start; no nginx references"
    fi
}

start_h2o() {
    local user_line=""
    if ! command -v h2o >/dev/null; then
        log "h2o missing; no h2o references"
        return 0
    fi
    port_free "$H2O_PORT"
    mkdir -p "$WORK/h2o"
    printf 'Hello, World!' >"$WORK/h2o/plaintext.txt"
    printf '{"message":"Hello, World!"}' >"$WORK/h2o/hello.json"
    [[ $EUID -ne 0 ]] || user_line="user: nobody"
    sed -e "s|@PREFIX@|$WORK/h2o|g" -e "s|@PORT@|$H2O_PORT|g" \
        -e "s|@USER_LINE@|$user_line|g" bench/h2o.conf.in >"$WORK/h2o/h2o.conf"
    log "starting h2o on 127.0.0.1:$H2O_PORT"
    h2o_cmd
    "${CMD[@]}" >"$WORK/h2o/stdout.log" 2>&1 &
    H2O_PID=$!
    if ! wait_port "$H2O_PID" "$H2O_PORT" 10; then
        cat "$WORK/h2o/error.log" "$WORK/h2o/stdout.log" >&2 || true
        stop_pid "$H2O_PID"
        H2O_PID=""
        log "h2o did not start; no h2o references"
    fi
}

# kore: bench/kore/ built with kodev, one worker, /db on PG_URL if any.
# start_kore [workers [port [unpinned]]]: build the app once, start kore and
# wait for its port; KORE_PID stays empty if it cannot run.
start_kore() {
    local workers="${1:-1}" port="${2:-$KORE_PORT}"
    if ! command -v kodev >/dev/null; then
        log "kore missing; no kore references"
        return 0
    fi
    port_free "$port"
    if [[ -z "$KORE_SO" ]] &&
        ! KORE_SO="$(bash bench/kore/build.sh "$WORK" 2>"$WORK/kore-build.log")"; then
        cat "$WORK/kore-build.log" >&2
        KORE_SO=""
        log "the kore app did not build; no kore references"
        return 0
    fi
    sed -e "s|@PORT@|$port|" -e "s|@SO@|$KORE_SO|" -e "s|@WORKERS@|$workers|" \
        -e "s|@PGMAX@|$PGBENCH_CONNS|" -e "s|@PIDFILE@|$WORK/kore/kore.pid|" \
        -e "s|@ROOT@|$WORK/kore|" -e "s|@USER@|$(id -un)|" \
        bench/kore/conf/bench.conf.in >"$WORK/kore/run.conf"
    log "starting kore ($workers worker(s)) on 127.0.0.1:$port"
    kore_cmd "${3:-}"
    (cd "$WORK/kore" && BENCH_KORE_PG="${PG_URL:+$(with_opts "$PG_URL" gssencmode=disable)}" \
        BENCH_KORE_SQLITE="$ROOT/greentor-showcase.db" exec "${CMD[@]}") >"$WORK/kore/stdout.log" 2>&1 &
    KORE_PID=$!
    if ! wait_port "$KORE_PID" "$port" 10; then
        cat "$WORK/kore/stdout.log" >&2 || true
        stop_pid "$KORE_PID"
        KORE_PID=""
        log "kore did not start; no kore references"
    fi
}

# ---- the showcase --------------------------------------------------------------

# start_showcase <name> <url or empty>: start it and wait for its port; the
# first start on SQLite creates and fills the database, hence 60 s.
start_showcase() {
    local name="$1" url="$2" logf="$WORK/showcase-$1.log"
    port_free "$PORT"
    log "starting the showcase on $name"
    showcase_cmd "$url"
    "${CMD[@]}" >"$logf" 2>&1 &
    SERVER_PID=$!
    wait_port "$SERVER_PID" "$PORT" 60 && return 0
    tail -20 "$logf" >&2 || true
    stop_pid "$SERVER_PID"
    SERVER_PID=""
    log "the showcase did not start on $name"
    return 1
}

stop_showcase() {
    stop_pid "$SERVER_PID"
    SERVER_PID=""
}

# row <database> <endpoint> <conc> <key> [reference key]
row() {
    ROWS+=("$1|$2|$3|$4|${5:-}")
}

# mark <key> <message>: a row that was not measured, and why.
mark() {
    RESULT[$1]="!$2"
}

# skipped_row <database> <endpoints> <why>: one line for a whole section.
skipped_row() {
    local key="skip:$1:$2"
    row "$1" "$2" "—" "$key"
    mark "$key" "$3"
}

# /plaintext and /json, plain and pipelined, each next to nginx.
plain_section() {
    local up="$1" path mode c label sk nk
    [[ "$up" == up ]] || skipped_row "—" "/plaintext, /json" "$up"
    for path in /plaintext /json; do
        for mode in "" pipelined; do
            label="$path${mode:+ (pipelined $DEPTH)}"
            for c in "${CONCS[@]}"; do
                sk="sc:none:$path:$c:$mode"
                nk="ng:$path:$c:$mode"
                hk="h2:$path:$c:$mode"
                kk="ko:$path:$c:$mode"
                plain_one "$up" "$sk" "$nk" "$path" "$c" "$mode"
                [[ "$up" != up ]] || row "—" "$label" "$c" "$sk" "$nk $hk $kk"
                row "nginx (reference)" "$label" "$c" "$nk"
                row "h2o (reference)" "$label" "$c" "$hk"
                row "kore (reference)" "$label" "$c" "$kk"
            done
        done
    done
}

# plain_one <showcase up?> <showcase key> <nginx key> <path> <conc> <mode>
plain_one() {
    MEASURE_PID="$SERVER_PID"
    [[ "$1" != up ]] || measure "$2" "http://127.0.0.1:$PORT$4" "$5" "$6"
    MEASURE_PID="$NGINX_PID"
    if [[ -n "$NGINX_PID" ]]; then
        measure "$3" "http://127.0.0.1:$NGINX_PORT$4" "$5" "$6"
    else
        mark "$3" "skipped: nginx did not start"
    fi
    MEASURE_PID="$H2O_PID"
    if [[ -n "$H2O_PID" ]]; then
        measure "h2${3#ng}" "http://127.0.0.1:$H2O_PORT$4" "$5" "$6"
    else
        mark "h2${3#ng}" "skipped: h2o missing or did not start"
    fi
    kore_one "ko${3#ng}" "$4" "$5" "$6"
}

# kore_one <key> <path> <conc> <mode>: kore's measurement, or why not.
# kore 4.1 answers the first of a pipelined batch and then nothing on that
# connection (measured: 64 responses in 1 s at -c64), so it has no
# pipelined rows.
kore_one() {
    MEASURE_PID="$KORE_PID"
    if [[ "$4" == pipelined ]]; then
        mark "$1" "skipped: kore 4.1 does not answer pipelined requests"
    elif [[ -n "$KORE_PID" ]]; then
        measure "$1" "http://127.0.0.1:$KORE_PORT$2" "$3" "$4"
    else
        mark "$1" "skipped: kore missing or did not start"
    fi
    MEASURE_PID=""
}

# The peer measured next to a showcase row, if any: kore on PostgreSQL's
# /db (its async pgsql API), kore on SQLite's /db and /queries (its SQLite
# routes, the same file). peer_key <database> <path> <conc>
peer_key() {
    case "$1/$2" in
    postgres//db | sqlite//db | "sqlite//queries?queries=20") echo "ko:$1:$2:$3:" ;;
    esac
}

# The row of that peer: kore_peer <database> <path> <conc> <key>
kore_peer() {
    if [[ "$1" == postgres ]]; then
        row "kore, $PGBENCH_CONNS connections (reference)" "$2" "$3" "$4"
        kore_one "$4" "$2" "$3" ""
    else
        row "kore + SQLite, same file (reference)" "$2" "$3" "$4"
        kore_one "$4" "/sqlite$2" "$3" ""
    fi
}

# The database's own ceiling for a PostgreSQL row: pgbench_key <path>
pgbench_key() {
    case "$1" in
    /db) echo pgbench ;;
    "/queries?queries=20") echo pgbench20 ;;
    "/updates?queries=20") echo pgbenchu20 ;;
    esac
}

# db_section <name> <url, empty for the default SQLite>
db_section() {
    local name="$1" url="$2" up=up path c key ref peer
    if [[ ! -x "$SHOWCASE" ]]; then
        up="skipped: $SHOWCASE missing"
    elif [[ "$name" != sqlite && -z "$url" ]]; then
        up="skipped: $name did not start"
    elif ! start_showcase "$name" "${url:+$(with_opts "$url" "$POOL_OPTS")}"; then
        up="failed: the showcase did not start on $name"
    fi
    [[ "$name" != postgres || -z "$url" ]] || DB_PID="$(pg_master_pid "$url")"
    [[ "$name" != sqlite ]] || plain_section "$up"
    [[ "$name" != sqlite || "$up" != up ]] || strace_section
    [[ "$name" != sqlite || "$up" != up ]] || idle_section
    if [[ "$name" != sqlite && "$up" == up ]]; then
        strace_one "showcase /db ($name)" "http://127.0.0.1:$PORT/db" "$SERVER_PID"
        strace_one "showcase /queries?queries=20 ($name)" \
            "http://127.0.0.1:$PORT/queries?queries=20" "$SERVER_PID"
    fi
    [[ "$name" != postgres || "$up" != up ]] || kore_strace "kore /db (postgres)" /db
    [[ "$name" != postgres ]] || pgbench_ceilings "$url"
    if [[ "$up" != up ]]; then
        skipped_row "$name" "${DB_PATHS[*]}" "$up"
        DB_PID=""
        return 0
    fi
    for path in "${DB_PATHS[@]}"; do
        for c in "${CONCS[@]}"; do
            key="sc:$name:$path:$c:"
            peer="$(peer_key "$name" "$path" "$c")"
            ref="$peer"
            [[ "$name" != postgres ]] || ref="$(pgbench_key "$path") $peer"
            row "$name" "$path" "$c" "$key" "$ref"
            MEASURE_PID="$SERVER_PID"
            measure "$key" "http://127.0.0.1:$PORT$path" "$c"
            MEASURE_PID=""
            [[ -z "$peer" ]] || kore_peer "$name" "$path" "$c" "$peer"
        done
    done
    stop_showcase
    DB_PID=""
}

# The PostgreSQL ceilings: pgbench sending what /db, /queries?queries=20 and
# /updates?queries=20 send, over the pool's number of connections.
pgbench_ceilings() {
    pgbench_section "$1"
    pgbench_section "$1" pgbench20 bench/pgbench_queries20.sql \
        "pgbench: 20 selects in one pipeline"
    pgbench_section "$1" pgbenchu20 bench/pgbench_updates20.sql \
        "pgbench: 20 selects, then 20 updates, in two pipelines"
}

# ---- syscalls per request and WORKERS=2 ------------------------------------------

# strace_one <label> <url> <pids...>: strace -c -f on the pids over a
# STRACE_SECS wrk -c64 run; one Markdown line with total syscalls/request and
# the top five by count.
strace_one() {
    local label="$1" url="$2" out="$WORK/strace.out" w="$WORK/strace-wrk.out"
    local args=() p n i
    shift 2
    for p in "$@"; do args+=(-p "$p"); done
    command -v strace >/dev/null || { STRACE_LINES+=("- $label: skipped, strace missing"); return 0; }
    rm -f "$out"
    lock_take
    strace -c -f -S calls -o "$out" "${args[@]}" 2>/dev/null &
    STRACE_PID=$!
    sleep 0.5
    wrk_cmd 64 "$url" "$STRACE_SECS"
    timeout $((STRACE_SECS + 30)) "${CMD[@]}" >"$w" 2>&1 || true
    kill -INT "$STRACE_PID" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$STRACE_PID" 2>/dev/null || break; sleep 0.2; done
    stop_pid "$STRACE_PID"
    STRACE_PID=""
    lock_drop
    n="$(awk '/ requests in / { print $1 }' "$w")"
    if [[ -z "$n" || ! -s "$out" ]]; then
        STRACE_LINES+=("- $label: failed")
        return 0
    fi
    STRACE_LINES+=("$(awk -v n="$n" -v l="$label" '
        $NF == "total" { tot = $4 }
        $1 ~ /^[0-9.]+$/ && $NF != "total" && k < 5 {
            top[++k] = sprintf("%s %.2f", $NF, $4 / n)
            if (NF == 6 && $5 / n >= 0.01) top[k] = top[k] sprintf(" (%.2f failed)", $5 / n) }
        END { s = ""; for (i = 1; i <= k; i++) s = s (i > 1 ? ", " : "") top[i]
              printf "- %s: %d requests, **%.2f syscalls/request** (top: %s)", l, n, tot / n, s }' "$out")")
}

strace_section() {
    local ng=()
    strace_one "showcase /plaintext" "http://127.0.0.1:$PORT/plaintext" "$SERVER_PID"
    strace_one "showcase /db (SQLite)" "http://127.0.0.1:$PORT/db" "$SERVER_PID"
    if [[ -n "$NGINX_PID" ]]; then
        mapfile -t ng < <(pgrep -P "$NGINX_PID")
        strace_one "nginx /plaintext (worker)" "http://127.0.0.1:$NGINX_PORT/plaintext" "${ng[@]}"
    fi
    [[ -z "$H2O_PID" ]] ||
        strace_one "h2o /plaintext" "http://127.0.0.1:$H2O_PORT/plaintext" "$H2O_PID"
    kore_strace "kore /sqlite/db" /sqlite/db
}

# kore_strace <label> <path>: kore's master and worker, if it runs.
kore_strace() {
    local ko=()
    [[ -n "$KORE_PID" ]] || return 0
    mapfile -t ko < <(pgrep -P "$KORE_PID")
    strace_one "$1" "http://127.0.0.1:$KORE_PORT$2" "$KORE_PID" "${ko[@]}"
}

# ---- memory per idle keep-alive connection ----------------------------------

# The resident KiB of some processes (VmRSS summed).
rss_kib() {
    local p sum=0 v
    for p in "$@"; do
        v="$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)"
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}

# Wait until idle_conns has printed its n-th "ready" line; its totals.
idle_ready() {
    local n="$1" out="$2" ipid="$3" i
    for ((i = 0; i < 400; i++)); do
        (($(grep -c '^ready' "$out" 2>/dev/null) >= n)) && break
        kill -0 "$ipid" 2>/dev/null || break
        sleep 0.1
    done
    sleep 1 # the server settles (its free-list trim runs once a second)
    grep '^ready' "$out" | sed -n "${n}p" | awk '{ print $2 }'
}

# idle_one <label> <port> <pids...>: two batches of IDLE_CONNS/2 keep-alive
# connections, each answered once (/plaintext) and then held idle by
# bench/idle_conns.c, with the servers' RSS before, after the first and
# after the second. The first batch also pays what opening costs once
# (buffers of requests in flight); the second reuses that, so its RSS over
# its connections is the cost of one more idle connection. One line.
idle_one() {
    local label="$1" port="$2" out="$WORK/idle.out" fifo="$WORK/idle.fifo"
    local half=$((IDLE_CONNS / 2)) r0 r1 r2 ipid fd n1 n2 failed
    shift 2
    [[ -x "$IDLE" ]] || { IDLE_LINES+=("- $label: skipped, $IDLE missing"); return 0; }
    rm -f "$out" "$fifo"
    mkfifo "$fifo"
    lock_take
    r0="$(rss_kib "$@")"
    timeout 120 "$IDLE" "$port" <"$fifo" >"$out" 2>&1 &
    ipid=$!
    exec {fd}>"$fifo" # idle_conns holds its connections until this closes
    echo "open $half" >&"$fd"
    n1="$(idle_ready 1 "$out" "$ipid")"
    r1="$(rss_kib "$@")"
    echo "open $half" >&"$fd"
    n2="$(idle_ready 2 "$out" "$ipid")"
    r2="$(rss_kib "$@")"
    failed="$(grep '^ready' "$out" | tail -1 | awk '{ print $3 }')"
    exec {fd}>&-
    wait "$ipid" 2>/dev/null || true
    lock_drop
    if ((${n1:-0} == 0 || ${n2:-0} <= ${n1:-0})); then
        IDLE_LINES+=("- $label: failed ($(head -c 200 "$out" | tr '\n' ' '))")
        return 0
    fi
    IDLE_LINES+=("$(awk -v l="$label" -v n1="$n1" -v n2="$n2" -v f="$failed" \
        -v r0="$r0" -v r1="$r1" -v r2="$r2" \
        -v c="$(grep '^closed_by_server' "$out" | awk '{ print $2 }')" 'BEGIN {
        printf "- %s: %d then %d connections held (%d failed, %d closed by the server while held), RSS %d -> %d -> %d KiB: first batch %.0f bytes a connection, **%.0f bytes a connection more**",
               l, n1, n2, f, c, r0, r1, r2, (r1 - r0) * 1024 / n1, (r2 - r1) * 1024 / (n2 - n1) }')")
}

# Every server of the run, while the showcase runs on SQLite.
idle_section() {
    local kids=()
    idle_one "showcase" "$PORT" "$SERVER_PID"
    if [[ -n "$NGINX_PID" ]]; then
        mapfile -t kids < <(pgrep -P "$NGINX_PID")
        idle_one "nginx (worker)" "$NGINX_PORT" "${kids[@]}"
    fi
    [[ -z "$H2O_PID" ]] || idle_one "h2o" "$H2O_PORT" "$H2O_PID"
    if [[ -n "$KORE_PID" ]]; then
        mapfile -t kids < <(pgrep -P "$KORE_PID")
        idle_one "kore (master and worker)" "$KORE_PORT" "$KORE_PID" "${kids[@]}"
    fi
}

idle_report() {
    [[ ${#IDLE_LINES[@]} -gt 0 ]] || return 0
    SECTIONS+=("## Memory per idle keep-alive connection ($IDLE_CONNS connections)"$'\n\n'"\`$IDLE <port>\` opens the connections in two batches of $((IDLE_CONNS / 2)), has each answered once (GET /plaintext) and holds them idle. The figure is the server's VmRSS after the second batch less after the first, over the second batch's connections: the first also pays what opening costs once (read buffers of requests in flight, kept on free lists). nginx: its worker; kore: master and worker."$'\n\n'"$(printf '%s\n' "${IDLE_LINES[@]}")")
}

# The strace lines of every section, as one report section.
# PostgreSQL's share of each PostgreSQL row, next to the server's: the two
# cores are shared by the server, the client and the database, so a row's
# req/s against pgbench's is read with what each side costs.
db_cpu_report() {
    local r db ep c key v cpu lines=()
    for r in "${ROWS[@]}"; do
        IFS='|' read -r db ep c key _ <<<"$r"
        [[ -n "${DB_CPU[$key]:-}" ]] || continue
        v="${RESULT[$key]:-}"
        cpu="$(cut -d'|' -f5 <<<"$v")"
        if [[ "$key" == pgbench* ]]; then
            lines+=("- $ep ($c connections): PostgreSQL ${DB_CPU[$key]} µs a transaction (pgbench's own CPU not counted)")
        else
            lines+=("- $db \`$ep\` c$c: server ${cpu:-—} + PostgreSQL ${DB_CPU[$key]} µs CPU a request")
        fi
    done
    [[ ${#lines[@]} -gt 0 ]] || return 0
    SECTIONS+=("## PostgreSQL's CPU per request"$'\n\n'"utime+stime of the postmaster and its backends (and of the backends it reaped) over the same run as the row, divided by the row's requests or pgbench's transactions."$'\n\n'"$(printf '%s\n' "${lines[@]}")")
}

strace_report() {
    [[ ${#STRACE_LINES[@]} -gt 0 ]] || return 0
    SECTIONS+=("## Syscalls per request (strace -c -f, wrk -c64 for ${STRACE_SECS} s, pinned as above)"$'\n\n'"Counts from \`strace -c -f -S calls -p <server pids>\`; strace slows the server, so only the counts mean anything."$'\n\n'"$(printf '%s\n' "${STRACE_LINES[@]}")")
}

# Item 4: WORKERS=2 against WORKERS=1, nothing pinned (server and wrk share
# both cores), next to nginx and kore with 2 workers, all in the same run.
# /db is on PostgreSQL when it is up (one pool a worker, as the issue's row),
# else on SQLite.
workers2_section() {
    local p1="$W_PORT" p2=$((W_PORT + 1)) p3=$((W_PORT + 2)) pid c path
    local conf="$WORK/nginx2/nginx.conf" db=sqlite url="" kpath
    [[ -x "$SHOWCASE" ]] || return 0
    [[ -z "$PG_URL" ]] || { db=postgres; url="$(with_opts "$PG_URL" "$POOL_OPTS")"; }
    port_free "$p1"; port_free "$p2"; port_free "$p3"
    showcase_cmd "$url" "$p1" 1 unpinned
    "${CMD[@]}" >"$WORK/w1.log" 2>&1 & pid=$!; W_PIDS+=("$pid")
    wait_port "$pid" "$p1" 60 || { log "WORKERS=1 did not start"; return 0; }
    showcase_cmd "$url" "$p2" 2 unpinned
    "${CMD[@]}" >"$WORK/w2.log" 2>&1 & pid=$!; W_PIDS+=("$pid")
    wait_port "$pid" "$p2" 60 || { log "WORKERS=2 did not start"; return 0; }
    mkdir -p "$WORK/nginx2"
    sed -e "s|@PREFIX@|$WORK/nginx2|g" -e "s|@PORT@|$p3|g" \
        -e "s|@USER@|$(nginx_user)|g" -e 's|^worker_processes 1;|worker_processes 2;|' \
        bench/nginx.conf.in >"$conf"
    nginx -p "$WORK/nginx2" -c "$conf" -e "$WORK/nginx2/error.log" -g "daemon off;" \
        >"$WORK/nginx2/stdout.log" 2>&1 & pid=$!; W_PIDS+=("$pid")
    wait_port "$pid" "$p3" 10 || log "nginx with 2 workers did not start"
    start_kore 2 "$KORE_PORT" unpinned
    for path in /plaintext /db; do
        kpath="$path"
        [[ "$path/$db" != /db/sqlite ]] || kpath=/sqlite/db
        for c in "${CONCS[@]}"; do
            workers2_one "$db" "$path" "$kpath" "$c"
        done
    done
    MEASURE_PID=""
    stop_pid "$KORE_PID"
    KORE_PID=""
    for pid in "${W_PIDS[@]}"; do stop_pid "$pid"; done
    W_PIDS=()
}

# One endpoint and concurrency of it: workers2_one <db> <path> <kore path> <conc>
workers2_one() {
    local db="$1" path="$2" c="$4" refs="w1:$2:$4 k2:$2:$4"
    MEASURE_PID="${W_PIDS[0]}"
    measure "w1:$path:$c" "http://127.0.0.1:$W_PORT$path" "$c" unpinned
    MEASURE_PID="${W_PIDS[1]}"
    measure "w2:$path:$c" "http://127.0.0.1:$((W_PORT + 1))$path" "$c" unpinned
    [[ "$path" != /plaintext ]] || refs="$refs n2:$path:$c"
    row "$db, WORKERS=1, unpinned" "$path" "$c" "w1:$path:$c"
    row "$db, WORKERS=2, unpinned" "$path" "$c" "w2:$path:$c" "$refs"
    if [[ "$path" == /plaintext ]]; then
        MEASURE_PID="${W_PIDS[2]}"
        measure "n2:$path:$c" "http://127.0.0.1:$((W_PORT + 2))$path" "$c" unpinned
        row "nginx, 2 workers, unpinned (reference)" "$path" "$c" "n2:$path:$c"
    fi
    row "kore, 2 workers, unpinned (reference)" "$3" "$c" "k2:$path:$c"
    if [[ -n "$KORE_PID" ]]; then
        MEASURE_PID="$KORE_PID"
        measure "k2:$path:$c" "http://127.0.0.1:$KORE_PORT$3" "$c" unpinned
    else
        mark "k2:$path:$c" "skipped: kore missing or did not start"
    fi
    MEASURE_PID=""
}

# ---- pgbench -----------------------------------------------------------------

# Format microseconds the way wrk does.
fmt_us() {
    awk -v u="$1" 'BEGIN {
        if (u < 1000) printf "%.2fus", u
        else if (u < 1000000) printf "%.2fms", u / 1000
        else printf "%.2fs", u / 1000000 }'
}

# The p-th percentile of the latencies (3rd field, us) in pgbench's logs.
log_percentile() {
    local p="$1"
    shift
    cut -d' ' -f3 "$@" | sort -n |
        awk -v p="$p" '{ v[NR] = $1 } END {
            i = int(NR * p / 100 + 0.5); if (i < 1) i = 1; print v[i] }'
}

# pgbench over PGBENCH_CONNS connections: the ceiling for /db on PostgreSQL
# (key pgbench), or with <script> for /queries?queries=20 (key pgbench20)
# and /updates?queries=20 (key pgbenchu20).
# pgbench_section <url> [<key> <script> <label>]
pgbench_section() {
    local url="$1" key="${2:-pgbench}" script="${3:-bench/pgbench_world.sql}"
    local label="${4:-pgbench: SELECT world by id}"
    local out="$WORK/pgbench.out" tps failed logs p50 p99 da="" db="" kids
    row postgres "$label" "$PGBENCH_CONNS" "$key"
    [[ -n "$url" ]] || { mark "$key" "skipped: postgres did not start"; return 0; }
    log "pgbench -c$PGBENCH_CONNS -f $script"
    rm -f "$WORK"/pgb.*
    lock_take
    pgbench_cmd "$WARMUP" "$url" "" "$script"
    timeout $((WARMUP + 30)) "${CMD[@]}" >/dev/null 2>&1 || true
    pgbench_cmd "$SECS" "$url" "$WORK/pgb" "$script"
    if [[ -n "$DB_PID" ]]; then
        kids="$(pgrep -c -P "$DB_PID" || true)"
        da="$(db_ticks "$DB_PID")"
    fi
    timeout $((SECS + 30)) "${CMD[@]}" >"$out" 2>&1 || true
    [[ -z "$DB_PID" ]] || { db_reaped "$DB_PID" "$kids"; db="$(db_ticks "$DB_PID")"; }
    lock_drop
    [[ -z "$DB_PID" ]] || db_cpu "$key" "$da" "$db" \
        "$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")"
    tps="$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' "$out")"
    failed="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")"
    logs=("$WORK"/pgb.*)
    if [[ -z "$tps" || ! -s "${logs[0]}" ]]; then
        mark "$key" "failed: $(head -c 200 "$out" | tr '\n|' '  ')"
        return 0
    fi
    p50="$(fmt_us "$(log_percentile 50 "${logs[@]}")")"
    p99="$(fmt_us "$(log_percentile 99 "${logs[@]}")")"
    RESULT[$key]="$(printf '%.0f' "$tps")|$p50|$p99|${failed:-0}"
}

# ---- bench_runtime and bench_db ------------------------------------------------

# binary_section <title> <binary> <command...>: its output as a section.
binary_section() {
    local title="$1" bin="$2" out="$WORK/section.out"
    shift 2
    if [[ ! -x "$bin" ]]; then
        SECTIONS+=("## $title"$'\n\n'"skipped: $bin missing")
        return 0
    fi
    log "running $*"
    timeout 600 "$@" >"$out" 2>&1 || echo "(exit status $?)" >>"$out"
    CMD=("$@")
    SECTIONS+=("## $title"$'\n\n'"\`$(show_cmd)\`"$'\n\n```\n'"$(cat "$out")"$'\n```')
}

extra_sections() {
    binary_section "Runtime" "$BENCH_RUNTIME" \
        taskset -c "$SERVER_CPU" "$BENCH_RUNTIME" "$PARKED"
    # Both cores: its contended rows need two threads really running.
    binary_section "Connection pool" build/bench/bench_pool \
        build/bench/bench_pool
    binary_section "pgbench at 1, 8 and 64 connections (same core as bench_db)" \
        bench/pgbench_sizes.sh bench/pgbench_sizes.sh "$PG_URL" "$SECS" \
        "$SERVER_CPU"
    binary_section "Database drivers" "$BENCH_DB" \
        env GT_TEST_PG_URL="$PG_URL" GT_TEST_MYSQL_URL="$MY_URL" \
        BENCH_SECONDS="$SECS" taskset -c "$SERVER_CPU" "$BENCH_DB"
}

# ---- the report --------------------------------------------------------------

# ratio <key> <field> <reference keys>: "0.93x nginx, 1.10x h2o",
# "reference" or "—"; field 1 is req/s, field 5 µs CPU per request.
ratio() {
    local v="${RESULT[$1]:-}" f="$2" ref r name out=()
    case "$1" in ng:* | h2:* | ko:* | n2:* | k2:* | w1:* | pgbench | pgbench20 | pgbenchu20) echo reference; return ;; esac
    for ref in $3; do
        r="${RESULT[$ref]:-}"
        [[ "$v" != !* && -n "$r" && "$r" != !* ]] || continue
        case "$ref" in ng:*) name=nginx ;; h2:*) name=h2o ;; ko:*) name=kore ;; k2:*) name="kore x2" ;; n2:*) name="nginx x2" ;; w1:*) name="WORKERS=1" ;; pgbench*) name=pgbench ;; *) name="$ref" ;; esac
        out+=("$(awk -v a="$(cut -d'|' -f"$f" <<<"$v")" -v b="$(cut -d'|' -f"$f" <<<"$r")" -v n="$name" \
            'BEGIN { if (b + 0 > 0 && a != "—") printf "%.2fx %s", a / b, n; else printf "— %s", n }')")
    done
    [[ ${#out[@]} -gt 0 ]] || { echo "—"; return; }
    printf '%s, ' "${out[@]}" | sed 's/, $//'
}

table() {
    local r db ep c key ref v
    echo "| database | endpoint | conc | req/s | p50 | p99 | errors | µs CPU/req | req/s ratio | CPU/req ratio |"
    echo "|---|---|---:|---:|---:|---:|---|---:|---|---|"
    for r in "${ROWS[@]}"; do
        IFS='|' read -r db ep c key ref <<<"$r"
        v="${RESULT[$key]:-!not measured}"
        if [[ "$v" == !* ]]; then
            echo "| $db | \`$ep\` | $c | ${v#!} | | | | | | |"
        else
            IFS='|' read -r rps p50 p99 err cpu <<<"$v"
            echo "| $db | \`$ep\` | $c | $rps | $p50 | $p99 | $err | ${cpu:-—} | $(ratio "$key" 1 "$ref") | $(ratio "$key" 5 "$ref") |"
        fi
    done
}

machine() {
    local cpu rev="$REV"
    cpu="$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "- Date: $(date -d "@$START" '+%Y-%m-%d %H:%M %Z') (start of the run)"
    echo "- CPU: $cpu, $(nproc) cores; kernel $(uname -srm)"
    echo "- Commit: $rev"
    echo "- $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $(nginx -v 2>&1 | cut -d' ' -f3)," \
        "$(pgbench --version | cut -d' ' -f1,3), servers: $(server_versions)"
}

# The database servers' own versions, as they report them.
server_versions() {
    local v=()
    [[ -z "$PG_URL" ]] ||
        v+=("PostgreSQL $(bash scripts/db.sh psql -tAc 'SHOW server_version' 2>/dev/null | cut -d' ' -f1)")
    [[ -z "$MY_URL" ]] ||
        v+=("MariaDB $(bash scripts/db.sh mysql -NBe 'SELECT VERSION()' 2>/dev/null | cut -d- -f1)")
    [[ ${#v[@]} -gt 0 ]] || v=(none)
    printf '%s, ' "${v[@]}" | sed 's/, $//'
}

commands() {
    local u="http://127.0.0.1:{port}{endpoint}" url
    echo '```'
    echo "# the showcase (/plaintext and /json measured on the SQLite run), nginx"
    showcase_cmd "" && show_cmd
    for url in "$PG_URL" "$MY_URL"; do
        [[ -z "$url" ]] || { showcase_cmd "$(with_opts "$url" "$POOL_OPTS")" && show_cmd; }
    done
    nginx_cmd && show_cmd
    h2o_cmd && show_cmd
    echo "# kore: bench/kore/build.sh {tmp} (kodev), then in {tmp}/kore, with"
    echo "# BENCH_KORE_PG=<the PostgreSQL URL>&gssencmode=disable"
    kore_cmd && show_cmd
    echo "# WORKERS=2 section: servers and wrk unpinned"
    showcase_cmd "${PG_URL:+$(with_opts "$PG_URL" "$POOL_OPTS")}" "{port}" 2 unpinned && show_cmd
    echo "nginx -p {tmp}/nginx2 ... (bench/nginx.conf.in with worker_processes 2, unpinned)"
    echo "# kore: run.conf with workers 2, unpinned (kore sets each worker's affinity)"
    kore_cmd unpinned && show_cmd
    wrk2_cmd "{conc}" "$u" "$SECS" && show_cmd
    echo "# each measurement: a ${WARMUP} s warm-up, then the run (conc = ${CONCS[*]})"
    wrk_cmd "{conc}" "$u" "$WARMUP" && show_cmd
    wrk_cmd "{conc}" "$u" "$SECS" && show_cmd
    wrk_cmd "{conc}" "$u" "$SECS" pipelined && show_cmd
    echo "# the ceiling for /db on PostgreSQL (after a ${WARMUP} s warm-up)"
    pgbench_cmd "$SECS" "${PG_URL:-postgres://...}" "{tmp}/pgb" && show_cmd
    echo "# the ceiling for /queries?queries=20 on PostgreSQL (the same, another script)"
    pgbench_cmd "$SECS" "${PG_URL:-postgres://...}" "{tmp}/pgb" bench/pgbench_queries20.sql && show_cmd
    echo '```'
}

report() {
    local s
    echo "# greentor benchmarks"
    echo
    machine
    echo "- Command: \`${RUN_CMD}\`"
    echo "- Load average (/proc/loadavg) before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "Each figure: ${SECS} s of wrk -t1 on CPU $CLIENT_CPU against a server"
    echo "on CPU $SERVER_CPU (WORKERS=1), over 127.0.0.1. Ratios compare with the"
    echo "reference measured in the same run; errors are socket errors plus"
    echo "non-2xx responses; \"≤x\" is wrk's maximum where its percentile failed."
    echo "The pool holds at most 8 connections (\`$POOL_OPTS\`)."
    echo
    commands
    echo
    table
    for s in "${SECTIONS[@]}"; do printf '\n%s\n' "$s"; done
}

# ---- main --------------------------------------------------------------------

main() {
    local stamp
    cd "$ROOT"
    [[ "$SECS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a positive integer"
    START="$(date +%s)"
    stamp="$(date -d "@$START" +%Y-%m-%d-%H%M)"
    WORK="$(mktemp -d /tmp/greentor-bench.XXXXXX)"
    chmod 755 "$WORK"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    raise_limits
    LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
    # The commit, read before this run writes its results file.
    REV="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    [[ -z "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]] || REV="$REV (dirty)"
    [[ "$DBS" != *" postgres "* ]] || PG_URL="$(start_db pg PG)"
    [[ "$DBS" != *" mysql "* ]] || MY_URL="$(start_db mysql MYSQL)"
    start_nginx
    start_h2o
    start_kore
    [[ "$DBS" != *" sqlite "* ]] || db_section sqlite ""
    [[ "$DBS" != *" postgres "* ]] || db_section postgres "$PG_URL"
    [[ "$DBS" != *" mysql "* ]] || db_section mysql "$MY_URL"
    stop_pid "$NGINX_PID"
    NGINX_PID=""
    stop_pid "$H2O_PID"
    H2O_PID=""
    stop_pid "$KORE_PID"
    KORE_PID=""
    [[ "$DBS" != *" sqlite "* ]] || workers2_section
    strace_report
    idle_report
    db_cpu_report
    [[ "$EXTRA" == 0 ]] || extra_sections
    mkdir -p bench/results
    report >"bench/results/$stamp.md"
    cp "bench/results/$stamp.md" bench/results/latest.md
    cat bench/results/latest.md
    log "wrote bench/results/$stamp.md and bench/results/latest.md"
}

main "$@"
