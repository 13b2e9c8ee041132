# scripts/db-pgbouncer.sh -- the PgBouncer part of scripts/db.sh, which
# sources it (it is not run on its own).
#
# One PgBouncer in transaction pooling mode in front of db.sh's PostgreSQL:
# every client transaction borrows one of at most GT_BOUNCER_POOL [8] server
# connections, so sessions (named prepared statements, SET) do not survive
# a transaction -- greentor's `prepare=unnamed` URL option is made for it.
# Clients log in as greentor/greentor with SCRAM; PgBouncer logs in to
# PostgreSQL with the same password. Listens on 127.0.0.1:GT_BOUNCER_PORT
# [26432]; state under $DIR/pgbouncer/ and $DIR/pgbouncer.log. PgBouncer
# refuses to run as root, so it runs as PostgreSQL's user.

PGB_PORT="${GT_BOUNCER_PORT:-26432}"
PGB_POOL="${GT_BOUNCER_POOL:-8}"
PGB_DIR="$DIR/pgbouncer"
PGB_INI="$PGB_DIR/pgbouncer.ini"
PGB_PID="$PGB_DIR/pgbouncer.pid"
PGB_LOG="$DIR/pgbouncer.log"

pgb_bin() {
    [[ -x /usr/sbin/pgbouncer ]] || need_deps "PgBouncer"
    echo /usr/sbin/pgbouncer
}

pgb_pid() { cat "$PGB_PID" 2>/dev/null || true; }

# A live pgbouncer whose command line names our configuration.
pgb_running() {
    local pid cmd
    pid="$(pgb_pid)"
    [[ -n "$pid" ]] && cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" &&
        [[ "$cmd" == *pgbouncer*"$PGB_INI"* ]]
}

pgb_conf() {
    local user="$1"
    own "$PGB_DIR" "$user" 700
    own "$PGB_LOG" "$user" 644 file
    cat >"$PGB_INI" <<EOF
[databases]
greentor_test = host=127.0.0.1 port=$PG_PORT dbname=greentor_test

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $PGB_DIR/userlist.txt
pool_mode = transaction
default_pool_size = $PGB_POOL
max_client_conn = 500
logfile = $PGB_LOG
pidfile = $PGB_PID
admin_users = greentor
ignore_startup_parameters = extra_float_digits
EOF
    echo '"greentor" "greentor"' >"$PGB_DIR/userlist.txt"
    [[ $EUID -ne 0 ]] || chown "$user:" "$PGB_INI" "$PGB_DIR/userlist.txt"
    chmod 600 "$PGB_INI" "$PGB_DIR/userlist.txt"
}

pgb_accepts() {
    PGPASSWORD=greentor "$(pg_bin)/psql" -X -q -h 127.0.0.1 -p "$PGB_PORT" \
        -U greentor -d greentor_test -c 'SELECT 1' >/dev/null 2>&1
}

pgb_start() {
    local user bin
    pg_running || pg_start
    bin="$(pgb_bin)"
    user="$(pg_user)"
    if pgb_running; then
        log "pgbouncer already running (pid $(pgb_pid))"
        return 0
    fi
    pgb_conf "$user"
    rm -f "$PGB_PID"
    log "starting pgbouncer on 127.0.0.1:$PGB_PORT (as $user, log $PGB_LOG)"
    as_user "$user" "$bin" -d -q "$PGB_INI" 9>&- ||
        { tail -20 "$PGB_LOG" >&2; die "pgbouncer did not start"; }
    wait_until pgb_accepts ||
        { tail -20 "$PGB_LOG" >&2; die "pgbouncer does not accept connections"; }
}

pgb_stop() {
    pgb_running || return 0
    stop_daemon pgbouncer "$(pgb_pid)" INT
    rm -f "$PGB_PID"
}
