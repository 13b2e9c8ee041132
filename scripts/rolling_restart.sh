#!/usr/bin/env bash
# scripts/rolling_restart.sh -- the scale-out recipe, run as a test: N
# showcase processes behind nginx (Debian's nginx-light) and PgBouncer,
# restarted one after another under load, must lose no request.
#
# Usage: scripts/rolling_restart.sh [instances (2)] [rounds (1)]
#   needs the servers of scripts/db.sh (GT_TEST_BOUNCER_URL, GT_TEST_PG_URL
#   in the environment: eval "$(scripts/db.sh start)") and a built
#   build/examples/showcase (or GT_SHOWCASE).
#
# The recipe (see README "Running many instances"):
#   - each process: its own PORT, WORKERS, and DATABASE_URL pointing at
#     PgBouncer with stmt_cache=0, so N processes share PgBouncer's server
#     connections instead of multiplying them;
#   - nginx: an upstream of the N ports with keepalive, and
#     proxy_next_upstream error timeout http_503: a process that stops
#     accepting (SIGTERM closes its listener at once) or answers 503 while
#     it drains is skipped, and the request retried on another;
#   - a restart: SIGTERM one process, wait for it to exit (it drains its
#     in-flight requests first, bounded by drain_timeout_ms), start it
#     again, wait until its /healthz answers 200, go on to the next.
# The load: GET /db through nginx, LOAD_PARALLEL [8] at a time, in batches,
# for the whole restart; every status is recorded. Exits 0 when all were
# 200, else 1. Loopback only; everything it starts is stopped on exit.
set -euo pipefail

N="${1:-2}"
ROUNDS="${2:-1}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
SHOWCASE="${GT_SHOWCASE:-$ROOT/build/examples/showcase}"
# Below 32768, outside the ephemeral range (no outgoing connection holds it).
BASE_PORT="${GT_ROLLING_PORT:-28080}"
PARALLEL="${LOAD_PARALLEL:-8}"
WORK="$(mktemp -d /tmp/gt-rolling.XXXXXX)"
chmod 755 "$WORK"

log() { printf 'rolling: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[[ -x "$SHOWCASE" ]] || die "no showcase at $SHOWCASE (make build/examples/showcase)"
[[ -n "${GT_TEST_BOUNCER_URL:-}" && -n "${GT_TEST_PG_URL:-}" ]] ||
    die 'no database URLs: eval "$(scripts/db.sh start)" first'
command -v nginx >/dev/null || "$HERE/deps.sh" test >&2

declare -a PIDS
NGINX_PID=""
LOAD_PID=""

cleanup() {
    set +e
    [[ -n "$LOAD_PID" ]] && kill "$LOAD_PID" 2>/dev/null
    for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill -KILL "$p" 2>/dev/null; done
    [[ -n "$NGINX_PID" ]] && kill -QUIT "$NGINX_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

port_of() { echo $((BASE_PORT + 1 + $1)); }

healthy() {
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
        "http://127.0.0.1:$1/healthz")" == 200 ]]
}

wait_healthy() {
    local i
    for ((i = 0; i < 150; i++)); do
        healthy "$1" && return 0
        sleep 0.1
    done
    return 1
}

# Instance i: fds above 2 closed, so it holds no lock of its caller's.
start_instance() {
    local i="$1" port
    port="$(port_of "$i")"
    PORT="$port" WORKERS=1 \
        DATABASE_URL="$GT_TEST_BOUNCER_URL?stmt_cache=0&max_open=8" \
        "$SHOWCASE" >>"$WORK/instance-$i.log" 2>&1 9>&- &
    PIDS[i]=$!
    wait_healthy "$port" ||
        { tail -5 "$WORK/instance-$i.log" >&2; die "instance $i did not start"; }
}

start_nginx() {
    local i servers=""
    for ((i = 0; i < N; i++)); do
        servers+="        server 127.0.0.1:$(port_of "$i") max_fails=0;"$'\n'
    done
    mkdir -p "$WORK/nginx"
    cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    upstream greentor {
$servers        keepalive 32;
    }
    server {
        listen 127.0.0.1:$BASE_PORT;
        location / {
            proxy_pass http://greentor;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_503;
            proxy_next_upstream_tries $((N + 1));
        }
    }
}
EOF
    nginx -e "$WORK/nginx/error.log" -c "$WORK/nginx.conf" 9>&- &
    NGINX_PID=$!
    wait_healthy "$BASE_PORT" || die "nginx did not start: $(cat "$WORK/nginx/error.log")"
}

# Batches of requests until the stop file appears; one status per line.
load() {
    local url="http://127.0.0.1:$BASE_PORT/db" batch=() i
    for ((i = 0; i < 100; i++)); do batch+=(-o /dev/null "$url"); done
    while [[ ! -e "$WORK/stop" ]]; do
        curl -s --no-progress-meter --parallel --parallel-max "$PARALLEL" \
            --max-time 10 \
            -w '%{http_code}\n' "${batch[@]}" >>"$WORK/codes" 2>/dev/null ||
            true
    done
}

bash "$HERE/seed_db.sh" "$GT_TEST_PG_URL" >/dev/null
for ((i = 0; i < N; i++)); do start_instance "$i"; done
start_nginx
log "$N instances on ports $(port_of 0)..$(port_of $((N - 1))) behind nginx on $BASE_PORT"
load &
LOAD_PID=$!
sleep 1
for ((r = 0; r < ROUNDS; r++)); do
    for ((i = 0; i < N; i++)); do
        log "restarting instance $i (pid ${PIDS[i]})"
        kill -TERM "${PIDS[i]}"
        wait "${PIDS[i]}" || die "instance $i exited with status $?"
        start_instance "$i"
        sleep 0.5
    done
done
touch "$WORK/stop"
wait "$LOAD_PID"
LOAD_PID=""
total="$(wc -l <"$WORK/codes")"
bad="$(grep -vc '^200$' "$WORK/codes" || true)"
# nginx logs each upstream it had to skip: proof the restarts were felt.
skipped="$(grep -c 'upstream' "$WORK/nginx/error.log" || true)"
log "$total requests during $((ROUNDS * N)) restarts, $bad not 200" \
    "($skipped upstream errors retried by nginx)"
if [[ "$bad" != 0 ]]; then
    sort "$WORK/codes" | uniq -c >&2
    exit 1
fi
