# shellcheck shell=bash
# scripts/db-failover.sh -- the failover part of scripts/db.sh, which
# sources it (it is not run on its own).
#
#   failover-start         a FRESH primary on 127.0.0.1:GT_FO_PRIMARY_PORT
#                          [25434] and a streaming standby cloned from it by
#                          pg_basebackup -R on GT_FO_STANDBY_PORT [25435];
#                          prints GT_TEST_FO_URL, a libpq multi-host URL with
#                          target_session_attrs=read-write
#   failover-kill-primary  pg_ctl stop -m immediate of the primary (a crash)
#   failover-promote       promote the standby; returns once it is writable
#   failover-stop          stop both and delete their directories
#
# Why it is shaped this way: a failover test kills and promotes servers, so
# it gets its own pair, never db.sh's PostgreSQL on GT_PG_PORT, which other
# tests use at the same time; and since a promoted standby cannot become a
# standby again without a rebuild, every start makes both from scratch
# (initdb, then a base backup: a few seconds). State lives in
# $DIR/fo-primary, $DIR/fo-standby and $DIR/fo-run (sockets, 0700: local
# connections are trusted), logs in $DIR/fo-{primary,standby}.log. Both
# listen on 127.0.0.1 only; the standby replicates over the socket as
# postgres. Like db.sh's PostgreSQL they run as pg_user (postgres refuses
# root), and every fd above stderr is closed before a server starts, so
# that a test's sockets or pipes (popen of this very script) are not held
# open by a postmaster.

FO_PRIMARY_PORT="${GT_FO_PRIMARY_PORT:-25434}"
FO_STANDBY_PORT="${GT_FO_STANDBY_PORT:-25435}"
FO_PRIMARY="$DIR/fo-primary"
FO_STANDBY="$DIR/fo-standby"
FO_RUN="$DIR/fo-run"

fo_pid() { head -1 "$1/postmaster.pid" 2>/dev/null || true; }
fo_running() { pid_is "$(fo_pid "$1")" postgres "$1"; }

# Close every fd above 2 of the calling (sub)shell. The glob is expanded
# before the loop, so the fd it read the directory with is already gone.
fo_close_fds() {
    local fd
    for fd in "/proc/$BASHPID/fd"/*; do
        fd="${fd##*/}"
        [[ "$fd" =~ ^[0-9]+$ && "$fd" -gt 2 ]] || continue
        eval "exec $fd>&-" 2>/dev/null || true
    done
}

# The settings of one server, rewritten for the standby after its backup
# (which copies the primary's).
fo_conf() {
    local data="$1" port="$2" user="$3"
    cat >"$data/greentor.conf" <<EOF
# written by scripts/db.sh failover-start
listen_addresses = '127.0.0.1'
port = $port
max_connections = 50
unix_socket_directories = '$FO_RUN'
unix_socket_permissions = 0700
wal_level = replica
max_wal_senders = 4
hot_standby = on
fsync = off
EOF
    [[ $EUID -ne 0 ]] || chown "$user:" "$data/greentor.conf"
}

fo_pg_ctl() {
    local user="$1"
    shift
    (fo_close_fds; as_user "$user" "$(pg_bin)/pg_ctl" "$@" >&2)
}

fo_start_server() {
    local data="$1" user="$2" name="$3"
    own "$DIR/fo-$name.log" "$user" 644 file
    log "starting failover $name on 127.0.0.1:$(fo_port "$name") (as $user)"
    fo_pg_ctl "$user" start -D "$data" -l "$DIR/fo-$name.log" -w \
        -t "$TIMEOUT" ||
        { tail -20 "$DIR/fo-$name.log" >&2; die "$name did not start"; }
}

fo_port() {
    if [[ "$1" == primary ]]; then echo "$FO_PRIMARY_PORT"
    else echo "$FO_STANDBY_PORT"
    fi
}

fo_psql() {
    local user="$1" port="$2"
    shift 2
    as_user "$user" "$(pg_bin)/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$FO_RUN" \
        -p "$port" -U postgres -d postgres "$@"
}

fo_init_primary() {
    local user="$1"
    log "initdb $FO_PRIMARY (as $user)"
    own "$FO_PRIMARY" "$user" 700
    as_user "$user" "$(pg_bin)/initdb" -D "$FO_PRIMARY" -U postgres -E UTF8 \
        --locale=C --no-sync --auth-local=trust --auth-host=scram-sha-256 \
        >"$DIR/fo-initdb.log" 2>&1 ||
        { tail -20 "$DIR/fo-initdb.log" >&2; die "initdb failed"; }
    echo "include_if_exists = 'greentor.conf'" >>"$FO_PRIMARY/postgresql.conf"
    fo_conf "$FO_PRIMARY" "$FO_PRIMARY_PORT" "$user"
}

fo_bootstrap() {
    fo_psql "$1" "$FO_PRIMARY_PORT" >/dev/null <<'EOF'
CREATE ROLE greentor LOGIN PASSWORD 'greentor';
CREATE DATABASE greentor_test OWNER greentor;
EOF
}

# The standby: a base backup with -R (standby.signal and primary_conninfo).
fo_clone() {
    local user="$1"
    log "pg_basebackup $FO_STANDBY from 127.0.0.1:$FO_PRIMARY_PORT"
    own "$FO_STANDBY" "$user" 700
    as_user "$user" "$(pg_bin)/pg_basebackup" -h "$FO_RUN" \
        -p "$FO_PRIMARY_PORT" -U postgres -D "$FO_STANDBY" -R -X stream \
        -c fast >"$DIR/fo-basebackup.log" 2>&1 ||
        { tail -20 "$DIR/fo-basebackup.log" >&2; die "pg_basebackup failed"; }
    fo_conf "$FO_STANDBY" "$FO_STANDBY_PORT" "$user"
}

fo_streaming() {
    [[ "$(fo_psql "$1" "$FO_PRIMARY_PORT" -c "SELECT count(*) FROM \
pg_stat_replication WHERE state = 'streaming'" 2>/dev/null)" == 1 ]]
}

fo_env() {
    local hosts="127.0.0.1:$FO_PRIMARY_PORT,127.0.0.1:$FO_STANDBY_PORT"
    echo "export GT_TEST_FO_URL=postgres://greentor:greentor@$hosts/greentor_test?target_session_attrs=read-write"
}

fo_start() {
    local user t0=$SECONDS
    user="$(pg_user)"
    ensure_system_user "$user"
    fo_stop
    own "$FO_RUN" "$user" 700
    fo_init_primary "$user"
    fo_start_server "$FO_PRIMARY" "$user" primary
    fo_bootstrap "$user" || die "failover primary: bootstrap failed"
    fo_clone "$user"
    fo_start_server "$FO_STANDBY" "$user" standby
    wait_until fo_streaming "$user" ||
        { tail -20 "$DIR/fo-standby.log" >&2; die "the standby is not streaming"; }
    log "failover pair ready in $((SECONDS - t0))s"
    fo_env
}

fo_kill_primary() {
    fo_running "$FO_PRIMARY" || { log "failover primary not running"; return; }
    log "killing the failover primary (pid $(fo_pid "$FO_PRIMARY"))"
    fo_pg_ctl "$(pg_user)" stop -D "$FO_PRIMARY" -m immediate -w -t "$TIMEOUT"
}

# pg_ctl promote -w returns once the server has left recovery.
fo_promote() {
    fo_running "$FO_STANDBY" || die "failover standby not running"
    log "promoting the failover standby (pid $(fo_pid "$FO_STANDBY"))"
    fo_pg_ctl "$(pg_user)" promote -D "$FO_STANDBY" -w -t "$TIMEOUT" ||
        die "the standby was not promoted"
}

fo_stop() {
    local data
    for data in "$FO_PRIMARY" "$FO_STANDBY"; do
        fo_running "$data" || continue
        log "stopping failover server $data (pid $(fo_pid "$data"))"
        fo_pg_ctl "$(pg_user)" stop -D "$data" -m immediate -w -t "$TIMEOUT" ||
            die "failover server $data did not stop"
    done
    rm -rf "$FO_PRIMARY" "$FO_STANDBY" "$FO_RUN"
}
