#!/usr/bin/env bash
# bench/callgrind_req.sh -- exact user-space instructions per request of the
# showcase under load (issue 15): the noise-free companion of cpu_ab.sh.
#
# Usage: bench/callgrind_req.sh <showcase binary> [<path> [<conc> [<secs>]]]
#        (defaults: /plaintext, 256, 4)
# Environment: DATABASE_URL (passed on), PORT [18099], LOCK
# [/tmp/gt-load.lock], OUT [a temp dir] (where callgrind.out is kept).
#
# The server runs under valgrind --tool=callgrind on CPU 0, wrk on CPU 1;
# after a 2 s warm-up the counters are zeroed, wrk runs, the counters are
# dumped. Requests are counted by the calls to gt__http_req_start() in the
# dump (exact, unlike wrk's count), so the figure is Ir / request. Prints
# "<Ir per request> <requests> <file>" and, on stderr, the top functions.
# Kernel time is not counted: callgrind sees user space only.
set -euo pipefail

BIN="$(realpath "$1")"
URLPATH="${2:-/plaintext}"
CONC="${3:-256}"
SECS="${4:-4}"
PORT="${PORT:-18099}"
LOCK="${LOCK:-/tmp/gt-load.lock}"
OUT="${OUT:-$(mktemp -d /tmp/gt-callgrind.XXXXXX)}"
PID=""

cleanup() {
    [[ -z "$PID" ]] || { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
}
trap cleanup EXIT

cd "$OUT"
env PORT="$PORT" WORKERS=1 ${DATABASE_URL:+DATABASE_URL="$DATABASE_URL"} \
    taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.out" --compress-strings=no \
    "$BIN" >"$OUT/server.log" 2>&1 &
PID=$!
for ((i = 0; i < 600; i++)); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/plaintext" && break
    sleep 0.2
done
url="http://127.0.0.1:$PORT$URLPATH"
flock "$LOCK" bash -c '
    taskset -c 1 wrk -t1 -c"$2" -d2s "$1" >/dev/null 2>&1
    callgrind_control -z "$3" >/dev/null
    taskset -c 1 wrk -t1 -c"$2" -d"$4"s "$1" >/dev/null 2>&1
    callgrind_control -d "$3" >/dev/null' _ "$url" "$CONC" "$PID" "$SECS" 9>&-
f="$(ls -t "$OUT"/cg.out.* | head -1)"
total="$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')"
reqs="$(awk '/^calls=/ && pending { split($0, a, "[= ]"); n += a[2]; pending = 0 }
    /^cfn=.*gt__http_req_start$/ { pending = 1 } END { print n }' "$f")"
[[ -n "$reqs" && "$reqs" -gt 0 ]] || { echo "no requests counted in $f" >&2; exit 1; }
callgrind_annotate --auto=no --threshold=100 "$f" 2>/dev/null |
    grep -v "100.0%\|below main\|ld-linux" | sed -n '/file:function/,$p' | head -40 >&2 || true
awk -v t="$total" -v n="$reqs" -v f="$f" 'BEGIN { printf "%.0f %d %s\n", t / n, n, f }'
