#!/usr/bin/env bash
# scripts/db.sh -- throw-away PostgreSQL, MariaDB and Redis servers for the tests
# and the benchmarks.
#
# Usage: scripts/db.sh start|stop|restart [pg|mysql|pgbouncer|redis|all]  (default all)
#        scripts/db.sh env        print the URLs: eval "$(scripts/db.sh env)"
#        scripts/db.sh psql ...   psql as greentor on greentor_test
#        scripts/db.sh mysql ...  mariadb client as greentor on greentor_test
#        scripts/db.sh destroy    stop both and delete the state directory
#        scripts/db.sh failover-start|failover-kill-primary|failover-promote|failover-stop
#
# Environment (defaults in brackets):
#   GT_DB_DIR [/tmp/greentor-db]  state: pg/ and mysql/ data, *-run/ sockets
#                                 and pid files, pg.log, mysql.log
#   GT_PG_PORT [25432]  GT_MYSQL_PORT [23306]   TCP ports on 127.0.0.1
#   GT_PG_MAX_CONN [100]  GT_MYSQL_MAX_CONN [151]   max_connections
#   GT_DB_TIMEOUT [30]  seconds to wait for a start or a stop
#   GT_BOUNCER_PORT [26432]  GT_BOUNCER_POOL [8]   PgBouncer in front of pg
#                                 (transaction pooling, db-pgbouncer.sh)
#   GT_REDIS_PORT [26379]         redis-server, no persistence (db-redis.sh)
#   GT_FO_PRIMARY_PORT [25434]  GT_FO_STANDBY_PORT [25435]   the failover
#                                 test's own primary and standby (db-failover.sh)
# TLS: at the first start a throw-away CA and a server certificate for
# 127.0.0.1 and localhost are made with the openssl CLI under $GT_DB_DIR/tls
# (tls_certs below), and both servers turn ssl on with them; plaintext stays
# accepted. `env` prints the CA as GT_TEST_DB_CA, and a second CA that
# signed nothing as GT_TEST_DB_OTHER_CA (for the wrong-CA tests).
#   (The defaults lie below 32768, outside Linux's ephemeral port range, so
#   that no outgoing connection of a busy machine can hold one of them.)
# Ports and max_connections are applied at each start, so changing them takes
# a restart; `env` prints the URLs from the environment as it is now.
#
# Both servers get a user greentor, password greentor, owning (pg) or holding
# all rights on (MariaDB, plus PROCESS) a database greentor_test, reachable
# over TCP 127.0.0.1 with that password; `start` prints the URLs on stdout
# like `env`, and progress goes to stderr.
#
# Why it is shaped this way: tests need real servers (no mocks), CI runs as
# root with no systemd and no stdin, and the machine may have Debian's own
# services installed, running or not, on 5432/3306. So the servers here are
# private instances -- their own data directory, ports, sockets and logs,
# loopback only, started as plain background processes and never through the
# system services. Nothing under /etc is read (--no-defaults, explicit
# options). PostgreSQL refuses to run as root, so it runs as the postgres
# system user (or a system user greentor created here), and MariaDB as mysql.
# Every command is idempotent: `start` on running servers only prints the
# URLs, `stop` on stopped ones does nothing.
set -euo pipefail

# Absolute, because the servers run from / and chdir into their data dirs.
DIR="$(realpath -m "${GT_DB_DIR:-/tmp/greentor-db}")"
PG_PORT="${GT_PG_PORT:-25432}"
MY_PORT="${GT_MYSQL_PORT:-23306}"
PG_MAX_CONN="${GT_PG_MAX_CONN:-100}"
MY_MAX_CONN="${GT_MYSQL_MAX_CONN:-151}"
TIMEOUT="${GT_DB_TIMEOUT:-30}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

PG_DATA="$DIR/pg"
PG_RUN="$DIR/pg-run"
PG_LOG="$DIR/pg.log"
MY_DATA="$DIR/mysql"
MY_RUN="$DIR/mysql-run"
MY_SOCK="$MY_RUN/mysql.sock"
MY_PID="$MY_RUN/mysql.pid"
MY_LOG="$DIR/mysql.log"
MARKER="$DIR/.greentor-db"
TLS_DIR="$DIR/tls"

log() { printf 'db: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

usage() {
    sed -n '5,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# ---- users and directories -------------------------------------------------

# The unprivileged users the servers run as. Not root: the invoking user.
pg_user() {
    if [[ $EUID -ne 0 ]]; then id -un
    elif id postgres >/dev/null 2>&1; then echo postgres
    else echo greentor
    fi
}

my_user() {
    if [[ $EUID -ne 0 ]]; then id -un
    elif id mysql >/dev/null 2>&1; then echo mysql
    else pg_user
    fi
}

ensure_system_user() {
    [[ $EUID -eq 0 ]] && ! id "$1" >/dev/null 2>&1 || return 0
    log "creating system user $1"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$1"
}

# Close every descriptor above 2 in the calling (sub)shell. A server
# inherits whatever its starter had open -- the lock of a `flock FILE cmd`
# around us, make's jobserver pipes, our own lock on fd 9 -- and would hold
# it for its whole life (a later `flock FILE` waits on the database). So
# every subshell that runs a server, or a tool that forks one (pg_ctl,
# mariadb-install-db), calls this first. The glob is expanded by bash
# itself; the directory descriptor it lists is closed by the time the loop
# runs, and closing it again is harmless.
close_inherited() {
    local fd
    for fd in /proc/self/fd/*; do
        fd=${fd##*/}
        if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
}

# Run a command as 'user' from /, so it never trips over root's cwd, with
# no descriptor but stdin, stdout and stderr.
as_user() {
    local user="$1"
    shift
    if [[ $EUID -eq 0 ]]; then
        (close_inherited && cd / && exec runuser -u "$user" -- "$@")
    else
        (close_inherited && cd / && exec "$@")
    fi
}

# Create the state directory, refusing to adopt a non-empty directory that is
# not ours: `destroy` deletes it and `start` chowns parts of it.
ensure_dir() {
    if [[ -d "$DIR" && ! -e "$MARKER" ]] && [[ -n "$(ls -A "$DIR")" ]]; then
        die "$DIR exists, is not empty and is not ours; set GT_DB_DIR"
    fi
    mkdir -p "$DIR"
    chmod 755 "$DIR"
    touch "$MARKER"
}

# mkdir + chown + chmod for something a server writes; files if $4 = file.
own() {
    local path="$1" user="$2" mode="$3"
    if [[ "${4:-dir}" == file ]]; then touch "$path"; else mkdir -p "$path"; fi
    [[ $EUID -ne 0 ]] || chown "$user:" "$path"
    chmod "$mode" "$path"
}

# Run a command with a deadline: poll 'cmd' every 0.2 s for TIMEOUT seconds.
wait_until() {
    local i
    for ((i = 0; i < TIMEOUT * 5; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

# Is 'pid' a live (not zombie) 'comm' working in 'dir'? Both servers chdir
# into their data directory. A bare kill -0 is not enough: a pid file left by
# a killed server can name a reused pid, or a zombie init has not reaped yet.
pid_is() {
    local stat
    [[ -n "$1" ]] && stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    [[ "$stat" == "$1 ($2) "[!ZX]* ]] &&
        [[ "$(readlink "/proc/$1/cwd" 2>/dev/null)" == "$3" ]]
}

# Stop a daemon that is not pid_is-checked (PgBouncer, Redis): 'signal'
# (its graceful one), then KILL if it has not gone within TIMEOUT.
# stop_daemon <label> <pid> <signal>
stop_daemon() {
    log "stopping $1 (pid $2)"
    kill "-$3" "$2" 2>/dev/null || true
    wait_until proc_gone "$2" || kill -KILL "$2" 2>/dev/null || true
}

proc_gone() { [[ ! -e "/proc/$1" ]]; }

need_deps() {
    log "$1 not found; installing the test packages"
    "$HERE/deps.sh" test >&2
}

# ---- TLS ---------------------------------------------------------------------

# A CA, a server certificate it signed (EC P-256, SAN 127.0.0.1 and
# localhost, 10 years) and another CA that signed nothing, made once and
# kept: the servers read them at every start, and tests trust ca.crt. Each
# server gets its own copy of the key, owned by its user and 0600, because
# PostgreSQL refuses a key anyone else may read and the two may run as
# different users.
tls_certs() {
    local pg="$1" my="$2" ext="$TLS_DIR/server.ext"
    mkdir -p "$TLS_DIR"
    chmod 755 "$TLS_DIR"
    if [[ ! -s "$TLS_DIR/server.crt" || ! -s "$TLS_DIR/server.key" ]]; then
        log "making a test CA and a server certificate in $TLS_DIR"
        command -v openssl >/dev/null || need_deps "openssl"
        printf '%s\n' 'basicConstraints = critical, CA:FALSE' \
            'keyUsage = critical, digitalSignature, keyEncipherment' \
            'extendedKeyUsage = serverAuth' \
            'subjectAltName = IP:127.0.0.1, DNS:localhost' >"$ext"
        tls_ca ca "greentor test CA"
        tls_ca other-ca "greentor unrelated CA"
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -subj "/CN=localhost" -keyout "$TLS_DIR/server.key" \
            -out "$TLS_DIR/server.csr" 2>/dev/null ||
            die "openssl could not make the server key"
        openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.crt" \
            -CAkey "$TLS_DIR/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
            -days 3650 -extfile "$ext" -out "$TLS_DIR/server.crt" 2>/dev/null ||
            die "openssl could not sign the server certificate"
        chmod 600 "$TLS_DIR/server.key" "$TLS_DIR/ca.key" "$TLS_DIR/other-ca.key"
        chmod 644 "$TLS_DIR"/*.crt
    fi
    tls_key_for "$pg" pg
    tls_key_for "$my" mysql
}

# A self-signed CA: $TLS_DIR/<name>.crt and <name>.key.
tls_ca() {
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -days 3650 -subj "/CN=$2" \
        -addext "basicConstraints = critical, CA:TRUE" \
        -addext "keyUsage = critical, keyCertSign, cRLSign" \
        -keyout "$TLS_DIR/$1.key" -out "$TLS_DIR/$1.crt" 2>/dev/null ||
        die "openssl could not make the CA $1"
}

# $TLS_DIR/<server>-server.key: the server key, owned by its user, 0600.
tls_key_for() {
    local key="$TLS_DIR/$2-server.key"
    install -m 600 "$TLS_DIR/server.key" "$key"
    [[ $EUID -ne 0 ]] || chown "$1:" "$key"
}

# ---- PostgreSQL --------------------------------------------------------------

# Newest installed major version (ls + sort -V: 9.6 < 10 < 15).
# shellcheck disable=SC2012
pg_bin() {
    local bin
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
    if [[ -z "$bin" ]]; then
        need_deps "PostgreSQL"
        bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
    fi
    echo "$bin"
}

pg_pid() { head -1 "$PG_DATA/postmaster.pid" 2>/dev/null || true; }
pg_running() { pid_is "$(pg_pid)" postgres "$PG_DATA"; }

pg_init() {
    local user="$1" bin="$2"
    [[ -e "$PG_DATA/PG_VERSION" ]] && return 0
    log "initdb $PG_DATA (as $user)"
    rm -rf "$PG_DATA"
    own "$PG_DATA" "$user" 700
    as_user "$user" "$bin/initdb" -D "$PG_DATA" -U postgres -E UTF8 \
        --locale=C --no-sync --auth-local=trust --auth-host=scram-sha-256 \
        >"$DIR/pg-initdb.log" 2>&1 ||
        { tail -20 "$DIR/pg-initdb.log" >&2; die "initdb failed"; }
    echo "include_if_exists = 'greentor.conf'" >>"$PG_DATA/postgresql.conf"
}

# Settings that follow the environment are rewritten at every start. The
# socket is 0700: local connections are trusted, so only the server's user
# (and root) may use it; everyone else comes over TCP with a password.
pg_conf() {
    cat >"$PG_DATA/greentor.conf" <<EOF
# written by scripts/db.sh at every start; edit the environment instead
listen_addresses = '127.0.0.1'
port = $PG_PORT
max_connections = $PG_MAX_CONN
unix_socket_directories = '$PG_RUN'
unix_socket_permissions = 0700
ssl = on
ssl_cert_file = '$TLS_DIR/server.crt'
ssl_key_file = '$TLS_DIR/pg-server.key'
EOF
    [[ $EUID -ne 0 ]] || chown "$1:" "$PG_DATA/greentor.conf"
}

pg_bootstrap() {
    local user="$1" bin="$2"
    as_user "$user" "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" \
        -p "$PG_PORT" -U postgres -d postgres >/dev/null <<'EOF'
SELECT 'CREATE ROLE greentor' WHERE NOT EXISTS
    (SELECT 1 FROM pg_roles WHERE rolname = 'greentor') \gexec
ALTER ROLE greentor LOGIN CREATEDB PASSWORD 'greentor';
SELECT 'CREATE ROLE gt_capped' WHERE NOT EXISTS
    (SELECT 1 FROM pg_roles WHERE rolname = 'gt_capped') \gexec
ALTER ROLE gt_capped LOGIN PASSWORD 'gt_capped' CONNECTION LIMIT 3;
SELECT 'CREATE DATABASE greentor_test OWNER greentor' WHERE NOT EXISTS
    (SELECT 1 FROM pg_database WHERE datname = 'greentor_test') \gexec
EOF
}

pg_start() {
    local user bin
    user="$(pg_user)"
    bin="$(pg_bin)"
    if pg_running; then
        log "postgres already running (pid $(pg_pid))"
        return 0
    fi
    ensure_system_user "$user"
    pg_init "$user" "$bin"
    own "$PG_RUN" "$user" 755
    own "$PG_LOG" "$user" 644 file
    rm -f "$PG_DATA/postmaster.pid" "$PG_RUN"/.s.PGSQL.*
    tls_certs "$user" "$(my_user)"
    pg_conf "$user"
    log "starting postgres on 127.0.0.1:$PG_PORT (as $user, log $PG_LOG)"
    as_user "$user" "$bin/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w \
        -t "$TIMEOUT" >&2 ||
        { tail -20 "$PG_LOG" >&2; die "postgres did not start"; }
    wait_until "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" ||
        { tail -20 "$PG_LOG" >&2; die "postgres does not accept connections"; }
    pg_bootstrap "$user" "$bin"
}

pg_stop() {
    local user bin
    pg_running || return 0
    user="$(pg_user)"
    bin="$(pg_bin)"
    log "stopping postgres (pid $(pg_pid))"
    as_user "$user" "$bin/pg_ctl" stop -D "$PG_DATA" -m fast -w \
        -t "$TIMEOUT" >&2 ||
        as_user "$user" "$bin/pg_ctl" stop -D "$PG_DATA" -m immediate -w \
            -t "$TIMEOUT" >&2 ||
        die "postgres did not stop"
}

# ---- MariaDB -----------------------------------------------------------------

# mariadbd is in /usr/sbin, which a non-root PATH may lack.
MARIADBD=/usr/sbin/mariadbd

my_bins() {
    [[ -x "$MARIADBD" ]] || need_deps "MariaDB"
}

my_pid() { cat "$MY_PID" 2>/dev/null || true; }
my_running() { pid_is "$(my_pid)" mariadbd "$MY_DATA"; }

# The admin account authenticates by the client's OS user over the socket
# (root, or the invoking user when not root).
my_admin() {
    mariadb --no-defaults --socket="$MY_SOCK" -u "$(id -un)"
}

my_init() {
    local user="$1"
    [[ -d "$MY_DATA/mysql" ]] && return 0
    log "mariadb-install-db $MY_DATA (as $user)"
    rm -rf "$MY_DATA"
    own "$MY_DATA" "$user" 700
    local opts=(--no-defaults --datadir="$MY_DATA"
        --auth-root-authentication-method=socket --skip-test-db
        --skip-name-resolve)
    if [[ $EUID -eq 0 ]]; then
        opts+=(--user="$user")
    else
        opts+=(--auth-root-socket-user="$user")
    fi
    (close_inherited && cd / && exec mariadb-install-db "${opts[@]}") \
        >"$DIR/mysql-install.log" 2>&1 ||
        { tail -20 "$DIR/mysql-install.log" >&2; die "mariadb-install-db failed"; }
}

# Start mariadbd detached (setsid, stdio to the log, every other descriptor
# closed) so that it holds neither our caller's pipes and locks nor ours.
# setsid -w stays the parent of mariadbd should it have to fork, so $! lives
# as long as the server.
my_spawn() {
    local user="$1"
    local opts=(--no-defaults --datadir="$MY_DATA" --socket="$MY_SOCK"
        --port="$MY_PORT" --bind-address=127.0.0.1 --pid-file="$MY_PID"
        --log-error="$MY_LOG" --max-connections="$MY_MAX_CONN"
        --skip-name-resolve --character-set-server=utf8mb4
        --ssl-ca="$TLS_DIR/ca.crt" --ssl-cert="$TLS_DIR/server.crt"
        --ssl-key="$TLS_DIR/mysql-server.key")
    [[ $EUID -ne 0 ]] || opts+=(--user="$user")
    (close_inherited && cd / && exec setsid -w "$MARIADBD" "${opts[@]}" \
        </dev/null >>"$MY_LOG" 2>&1) &
    MY_SPAWNED=$!
}

my_alive() {
    mariadb-admin --no-defaults --socket="$MY_SOCK" -u "$(id -un)" \
        --connect-timeout=2 ping >/dev/null 2>&1
}

# Rights: everything on greentor_test, and PROCESS to see all threads. KILL
# [QUERY] of one's own threads needs no privilege in MariaDB. gt_capped may
# hold 3 connections (the pool's capacity tests; PostgreSQL has the same
# role with CONNECTION LIMIT 3).
my_bootstrap() {
    my_admin <<'EOF'
CREATE DATABASE IF NOT EXISTS greentor_test CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS 'greentor'@'%' IDENTIFIED BY 'greentor';
CREATE USER IF NOT EXISTS 'greentor'@'localhost' IDENTIFIED BY 'greentor';
ALTER USER 'greentor'@'%' IDENTIFIED BY 'greentor';
ALTER USER 'greentor'@'localhost' IDENTIFIED BY 'greentor';
GRANT ALL PRIVILEGES ON greentor_test.* TO 'greentor'@'%', 'greentor'@'localhost';
GRANT PROCESS ON *.* TO 'greentor'@'%', 'greentor'@'localhost';
CREATE USER IF NOT EXISTS 'gt_capped'@'%' IDENTIFIED BY 'gt_capped';
ALTER USER 'gt_capped'@'%' IDENTIFIED BY 'gt_capped' WITH MAX_USER_CONNECTIONS 3;
GRANT SELECT ON greentor_test.* TO 'gt_capped'@'%';
EOF
}

my_start() {
    local user
    my_bins
    if my_running; then
        log "mariadb already running (pid $(my_pid))"
        return 0
    fi
    user="$(my_user)"
    ensure_system_user "$user"
    my_init "$user"
    own "$MY_RUN" "$user" 755
    own "$MY_LOG" "$user" 644 file
    rm -f "$MY_PID" "$MY_SOCK"
    tls_certs "$(pg_user)" "$user"
    log "starting mariadb on 127.0.0.1:$MY_PORT (as $user, log $MY_LOG)"
    my_spawn "$user"
    my_wait_up || { tail -20 "$MY_LOG" >&2; die "mariadb did not start"; }
    my_bootstrap
}

# Wait for mariadbd to answer a ping; give up at once if it exits.
my_wait_up() {
    local i
    for ((i = 0; i < TIMEOUT * 5; i++)); do
        kill -0 "$MY_SPAWNED" 2>/dev/null || return 1
        my_alive && return 0
        sleep 0.2
    done
    return 1
}

my_stop() {
    local pid
    my_running || return 0
    pid="$(my_pid)"
    log "stopping mariadb (pid $pid)"
    kill -TERM "$pid"
    if ! wait_until my_gone "$pid"; then
        log "mariadb ignored SIGTERM for ${TIMEOUT}s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        wait_until my_gone "$pid" || die "mariadb (pid $pid) does not die"
    fi
    rm -f "$MY_PID" "$MY_SOCK"
}

my_gone() { ! pid_is "$1" mariadbd "$MY_DATA"; }

# ---- PgBouncer -----------------------------------------------------------------

# shellcheck source=db-pgbouncer.sh
. "$HERE/db-pgbouncer.sh"

# ---- Redis ---------------------------------------------------------------------

# shellcheck source=db-redis.sh
. "$HERE/db-redis.sh"

# ---- a primary and a standby for the failover test ---------------------------

# shellcheck source=db-failover.sh
. "$HERE/db-failover.sh"

# ---- commands ----------------------------------------------------------------

cmd_env() {
    echo "export GT_TEST_PG_URL=postgres://greentor:greentor@127.0.0.1:$PG_PORT/greentor_test"
    echo "export GT_TEST_MYSQL_URL=mysql://greentor:greentor@127.0.0.1:$MY_PORT/greentor_test"
    echo "export GT_TEST_BOUNCER_URL=postgres://greentor:greentor@127.0.0.1:$PGB_PORT/greentor_test"
    echo "export GT_TEST_REDIS_URL=redis://127.0.0.1:$RD_PORT"
    echo "export GT_TEST_DB_CA=$TLS_DIR/ca.crt"
    echo "export GT_TEST_DB_OTHER_CA=$TLS_DIR/other-ca.crt"
}

# Serialise start/stop/destroy (`make -j` may start the servers twice) on
# a lock file in the state dir; only a dir of ours gets one.
lock() {
    [[ -e "$MARKER" ]] || return 0
    exec 9>"$DIR/.lock"
    flock -w $((TIMEOUT * 4)) 9 || die "another db.sh holds $DIR/.lock"
}

# Expand pg|mysql|all (default all) into the server names.
which_servers() {
    case "${1:-all}" in
    pg) echo pg ;;
    mysql) echo my ;;
    pgbouncer) echo pgb ;;
    redis) echo rd ;;
    all) echo pg my pgb rd ;;
    *) usage ;;
    esac
}

cmd_start() {
    local s t0=$SECONDS
    for s in $(which_servers "$@"); do "${s}_start"; done
    log "ready in $((SECONDS - t0))s"
    cmd_env
}

cmd_stop() {
    local s
    for s in $(which_servers "$@"); do "${s}_stop"; done
}

cmd_destroy() {
    [[ -d "$DIR" ]] || return 0
    [[ -e "$MARKER" ]] || die "$DIR is not ours (no $MARKER); not deleting"
    cmd_stop all
    log "deleting $DIR"
    rm -rf "$DIR"
}

cmd_psql() {
    PGPASSWORD=greentor exec "$(pg_bin)/psql" -X -h 127.0.0.1 -p "$PG_PORT" \
        -U greentor -d greentor_test "$@"
}

cmd_mysql() {
    MYSQL_PWD=greentor exec mariadb --no-defaults --protocol=TCP \
        -h 127.0.0.1 -P "$MY_PORT" -u greentor --database=greentor_test "$@"
}

main() {
    local cmd="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$cmd" in
    start | stop | restart) which_servers "$@" >/dev/null ;;&
    start) ensure_dir; lock; cmd_start "$@" ;;
    stop) lock; cmd_stop "$@" ;;
    restart) ensure_dir; lock; cmd_stop "$@"; cmd_start "$@" ;;
    destroy) lock; [[ ! -e "$MARKER" ]] || fo_stop; cmd_destroy ;;
    failover-start) ensure_dir; lock; fo_start ;;
    failover-kill-primary) lock; fo_kill_primary ;;
    failover-promote) lock; fo_promote ;;
    failover-stop) lock; fo_stop ;;
    env) cmd_env ;;
    psql) cmd_psql "$@" ;;
    mysql) cmd_mysql "$@" ;;
    *) usage ;;
    esac
}

# Sourced (tests/db_fds.sh does, to run the spawning functions alone), it
# only defines the functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
