#!/usr/bin/env bash
# bench/cpu_ab.sh -- server CPU time per request, A/B, with nginx in the
# same run (issue 15): interleaved rounds, each server freshly started on
# CPU 0 and loaded by wrk on CPU 1.
#
# Usage: bench/cpu_ab.sh <name>=<showcase binary> [<name>=<binary>...]
#        e.g. bench/cpu_ab.sh base=/tmp/showcase.base new=build/examples/showcase
# Environment (defaults in brackets):
#   PATHS ["/plaintext"]  endpoints, space-separated
#   CONCS [256]           wrk connections, space-separated
#   ROUNDS [3]            rounds; each round runs every server once per case
#   SECS [5]              the measured wrk run, after WARMUP [1] s
#   PIPELINE [unset]      if set, wrk sends that many requests per write
#   NGINX [1]             0: no nginx reference
#   DATABASE_URL [unset]  passed to the showcase (default: its SQLite file,
#                         made in the scratch directory on first start)
#   PORT [18095], NGINX_PORT [18096]
#   LOCK [/tmp/gt-load.lock]  taken around each warm-up + measured run only
#   MINFLT [1]            also report minor page faults per request
#   TLS [0]               1: HTTPS -- a throw-away certificate (EC P-256,
#                         made now with the openssl CLI), nginx with `ssl`
#                         on its listener, the showcase with TLS_CERT and
#                         TLS_KEY, wrk on https:// (issue 11's HTTPS
#                         /plaintext vs nginx with TLS)
#
# CPU per request: utime+stime (/proc/<pid>/stat fields 14+15, all threads;
# for nginx the master and its one worker) just before and just after the
# measured run, divided by the requests wrk completed in it. Page faults:
# fields 10 (minflt) the same way. One line per run goes to stdout:
#   round name path conc req/s us_cpu_per_req minflt_per_req
# and a summary (median per name and case) at the end. Servers are started
# and stopped outside the lock, by pid.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PATHS="${PATHS:-/plaintext}"
CONCS="${CONCS:-256}"
ROUNDS="${ROUNDS:-3}"
SECS="${SECS:-5}"
WARMUP="${WARMUP:-1}"
PIPELINE="${PIPELINE:-}"
NGINX="${NGINX:-1}"
PORT="${PORT:-18095}"
NGINX_PORT="${NGINX_PORT:-18096}"
LOCK="${LOCK:-/tmp/gt-load.lock}"
TLS="${TLS:-0}"
SCHEME="$([[ "$TLS" == 1 ]] && echo https || echo http)"
TICK="$(getconf CLK_TCK)"
WORK="$(mktemp -d /tmp/gt-cpu-ab.XXXXXX)"
chmod 755 "$WORK"
SERVER_PID=""
declare -a NAMES=() BINS=()

log() { printf 'cpu_ab: %s\n' "$*" >&2; }

stop_server() {
    local pid="$SERVER_PID" i
    SERVER_PID=""
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
trap 'stop_server; rm -rf "$WORK"' EXIT

# The summed utime+stime and minflt of a pid and its children, in ticks.
cpu_of() {
    local p t=0 f=0 s
    for p in "$1" $(pgrep -P "$1" || true); do
        s="$(cut -d')' -f2 "/proc/$p/stat")" || continue
        read -r _ _ _ _ _ _ _ mf _ _ _ ut st _ <<<"$s"
        t=$((t + ut + st))
        f=$((f + mf))
    done
    echo "$t $f"
}

# A certificate for 127.0.0.1 that nobody verifies (curl -k, wrk): what is
# measured is the encryption of the requests, not the chain.
make_cert() {
    mkdir -p "$WORK/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" -days 1 \
        -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
    chmod 644 "$WORK/tls/key.pem"
}

wait_port() {
    local port="$1" i
    for ((i = 0; i < 300; i++)); do
        curl -sk -o /dev/null "$SCHEME://127.0.0.1:$port/plaintext" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

start_nginx() {
    local u
    mkdir -p "$WORK/nginx"
    if [[ $EUID -eq 0 ]]; then u="nobody nogroup"; else u="$(id -un)"; fi
    sed -e "s|@PREFIX@|$WORK/nginx|g" -e "s|@PORT@|$NGINX_PORT|g" \
        -e "s|@USER@|$u|g" "$ROOT/bench/nginx.conf.in" >"$WORK/nginx/nginx.conf"
    [[ "$TLS" != 1 ]] || sed -i -e "s|backlog=4096;|backlog=4096 ssl;\\
        ssl_certificate $WORK/tls/cert.pem; ssl_certificate_key $WORK/tls/key.pem;|" \
        "$WORK/nginx/nginx.conf"
    taskset -c 0 nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" \
        -e "$WORK/nginx/error.log" -g "daemon off;" >"$WORK/nginx.log" 2>&1 &
    SERVER_PID=$!
    wait_port "$NGINX_PORT"
}

start_showcase() {
    local bin="$1" cmd=(env PORT="$PORT" WORKERS=1)
    [[ -z "${DATABASE_URL:-}" ]] || cmd+=(DATABASE_URL="$DATABASE_URL")
    [[ "$TLS" != 1 ]] || cmd+=(TLS_CERT="$WORK/tls/cert.pem" TLS_KEY="$WORK/tls/key.pem")
    (cd "$WORK" && exec "${cmd[@]}" taskset -c 0 "$bin") \
        >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    wait_port "$PORT" || { tail -5 "$WORK/server.log" >&2; return 1; }
}

# One measured run against the server running now; prints the result line.
run_one() {
    local round="$1" name="$2" port="$3" path="$4" c="$5" url out a b rps n
    url="$SCHEME://127.0.0.1:$port$path"
    local w=(taskset -c 1 wrk -t1 -c"$c" --timeout 10s)
    [[ -z "$PIPELINE" ]] || w+=(-s "$ROOT/bench/pipeline.lua")
    out="$WORK/wrk.out"
    # Warm-up and measured run in one hold of the lock, /proc read right
    # around wrk; wrk does not inherit the lock's descriptor.
    exec 9>>"$LOCK"
    flock 9
    "${w[@]}" -d"$WARMUP"s "$url" ${PIPELINE:+-- $PIPELINE} >/dev/null 2>&1 9>&- || true
    a="$(cpu_of "$SERVER_PID")"
    "${w[@]}" -d"$SECS"s "$url" ${PIPELINE:+-- $PIPELINE} >"$out" 2>&1 9>&- || true
    b="$(cpu_of "$SERVER_PID")"
    flock -u 9
    exec 9>&-
    rps="$(awk '/^Requests\/sec:/ { print $2 }' "$out")"
    n="$(awk '/requests in/ { print $1 }' "$out")"
    if [[ -z "$n" || "$n" -eq 0 ]]; then
        log "no result from wrk: $(head -c 300 "$out")"
        return 0
    fi
    awk -v r="$round" -v nm="$name" -v p="$path" -v c="$c" -v rps="$rps" \
        -v n="$n" -v a="$a" -v b="$b" -v tick="$TICK" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        printf "%s %s %s %s %.0f %.3f %.4f\n", r, nm, p, c, rps,
            (y[1] - x[1]) / tick * 1e6 / n, (y[2] - x[2]) / n }'
}

for arg in "$@"; do
    NAMES+=("${arg%%=*}")
    BINS+=("$(realpath "${arg#*=}")")
done
[[ ${#NAMES[@]} -gt 0 || "$NGINX" == 1 ]] || { log "nothing to run"; exit 2; }

[[ "$TLS" != 1 ]] || make_cert
RES="$WORK/results"
: >"$RES"
for ((r = 1; r <= ROUNDS; r++)); do
    for path in $PATHS; do
        for c in $CONCS; do
            if [[ "$NGINX" == 1 && ( "$path" == /plaintext || "$path" == /json ) ]]; then
                start_nginx && run_one "$r" nginx "$NGINX_PORT" "$path" "$c" | tee -a "$RES"
                stop_server
            fi
            for i in "${!NAMES[@]}"; do
                start_showcase "${BINS[$i]}" &&
                    run_one "$r" "${NAMES[$i]}" "$PORT" "$path" "$c" | tee -a "$RES"
                stop_server
            done
        done
    done
done
echo "# medians: name path conc req/s us_cpu/req minflt/req (runs)"
sort -k2,2 -k3,3 -k4,4n "$RES" | awk '
    function med(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) {
            t = a[j]; a[j] = a[j-1]; a[j-1] = t }
        return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
    function flush() { if (k != "") printf "%s %.0f %.3f %.4f (%d)\n", k,
        med(R, n), med(U, n), med(F, n), n }
    { key = $2 " " $3 " " $4
      if (key != k) { flush(); k = key; n = 0 }
      n++; R[n] = $5; U[n] = $6; F[n] = $7 }
    END { flush() }'
