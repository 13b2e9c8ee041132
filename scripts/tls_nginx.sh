#!/usr/bin/env bash
# scripts/tls_nginx.sh -- a throw-away HTTPS server for the client's tests:
# a CA and a server certificate made now with the openssl CLI, and Debian's
# nginx-light serving them on loopback.
#
# Usage: scripts/tls_nginx.sh start DIR H2_PORT H1_PORT
#        scripts/tls_nginx.sh stop DIR
#
# start makes in DIR (which must exist and be empty):
#   ca.pem        the CA that signed the server's certificate
#   other-ca.pem  a CA that signed nothing (the "wrong CA" of the tests)
#   server.pem    the certificate, for DNS:localhost only (so that
#                 https://127.0.0.1 fails name verification), valid 1 day
# and starts nginx in the foreground of a background process (its pid in
# DIR/nginx.pid), on 127.0.0.1:H2_PORT with TLS and HTTP/2 and on
# 127.0.0.1:H1_PORT with TLS only. Both answer every path with 200 and
#   "tls <server> conn=<nginx's connection number>\n"
# so a test can tell which server answered and whether a connection was
# reused. It returns once both ports accept connections, or fails with
# nginx's error log. stop sends SIGTERM and waits for nginx to exit.
#
# For the client benchmarks (bench/client.sh), two optional variables:
#   TLS_NGINX_PLAIN_PORT  also serve plain HTTP on 127.0.0.1:PORT, answering
#                         "plain conn=<n>\n"
#   TLS_NGINX_KEEPALIVE   keepalive_requests (nginx's default: 1000), so
#                         that a long run keeps its connections
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { printf 'tls_nginx: %s\n' "$*" >&2; exit 1; }

make_certs() {
    local d="$1" ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    openssl req -x509 "${ec[@]}" -keyout "$d/ca.key" -out "$d/ca.pem" \
        -days 1 -subj "/CN=greentor test CA" 2>/dev/null
    openssl req -x509 "${ec[@]}" -keyout "$d/other-ca.key" \
        -out "$d/other-ca.pem" -days 1 -subj "/CN=greentor other CA" \
        2>/dev/null
    openssl req -new "${ec[@]}" -keyout "$d/server.key" -out "$d/server.csr" \
        -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n' \
        >"$d/server.ext"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
        -CAcreateserial -days 1 -extfile "$d/server.ext" \
        -out "$d/server.pem" 2>/dev/null
}

write_conf() {
    local d="$1" h2="$2" h1="$3" plain="" keep=""
    mkdir -p "$d/nginx"
    [[ -z "${TLS_NGINX_PLAIN_PORT:-}" ]] ||
        plain="server { listen 127.0.0.1:$TLS_NGINX_PLAIN_PORT; location / { return 200 \"plain conn=\$connection\\n\"; } }"
    [[ -z "${TLS_NGINX_KEEPALIVE:-}" ]] ||
        keep="keepalive_requests $TLS_NGINX_KEEPALIVE;"
    cat >"$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $d/nginx/nginx.pid;
error_log $d/nginx/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $d/nginx/body;
    proxy_temp_path $d/nginx/proxy;
    fastcgi_temp_path $d/nginx/fastcgi;
    uwsgi_temp_path $d/nginx/uwsgi;
    scgi_temp_path $d/nginx/scgi;
    default_type text/plain;
    ssl_certificate $d/server.pem;
    ssl_certificate_key $d/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    $keep
    $plain
    server {
        listen 127.0.0.1:$h2 ssl http2;
        location / { return 200 "tls h2 conn=\$connection\n"; }
    }
    server {
        listen 127.0.0.1:$h1 ssl;
        location / { return 200 "tls h1 conn=\$connection\n"; }
    }
}
EOF
}

accepts() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
    local d="$1" h2="$2" h1="$3" i pid
    [[ -d "$d" ]] || die "no directory $d"
    command -v nginx >/dev/null && command -v openssl >/dev/null ||
        "$HERE/deps.sh" test >&2
    make_certs "$d"
    write_conf "$d" "$h2" "$h1"
    nginx -e "$d/nginx/error.log" -c "$d/nginx.conf" </dev/null \
        >"$d/nginx/stdout.log" 2>&1 &
    pid=$!
    echo "$pid" >"$d/nginx.pid"
    for ((i = 0; i < 200; i++)); do
        if accepts "$h2" && accepts "$h1" &&
            accepts "${TLS_NGINX_PLAIN_PORT:-$h1}"; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill "$pid" 2>/dev/null || true
    die "nginx did not start: $(cat "$d/nginx/error.log" "$d/nginx/stdout.log" 2>/dev/null)"
}

stop() {
    local d="$1" pid i
    [[ -f "$d/nginx.pid" ]] || return 0
    pid="$(cat "$d/nginx.pid")"
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-}" in
start) [[ $# -eq 4 ]] || die "usage: $0 start DIR H2_PORT H1_PORT"; start "$2" "$3" "$4" ;;
stop) [[ $# -eq 2 ]] || die "usage: $0 stop DIR"; stop "$2" ;;
*) die "usage: $0 start DIR H2_PORT H1_PORT | stop DIR" ;;
esac
