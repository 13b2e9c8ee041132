# scripts/db-redis.sh -- the Redis part of scripts/db.sh, which sources it
# (it is not run on its own).
#
# One redis-server (Debian's) on 127.0.0.1:GT_REDIS_PORT [26379], no
# persistence (no RDB snapshots, no AOF: a throw-away cache), daemonized with
# its pid file, log and working directory under $DIR/redis/. It runs as
# whoever runs db.sh: redis-server does not refuse root, and running it as
# root in a private directory on loopback is what the tests need. `env`
# prints GT_TEST_REDIS_URL; the tests that stop or reconfigure a server
# (tests/test_redis_faults.c) start their own, so this one only ever gets
# ordinary commands.

RD_PORT="${GT_REDIS_PORT:-26379}"
RD_DIR="$DIR/redis"
RD_PID="$RD_DIR/redis.pid"
RD_LOG="$DIR/redis.log"

rd_bin() {
    command -v redis-server >/dev/null || need_deps "redis-server"
    command -v redis-server
}

# Start the daemon with no descriptor of our caller's (close_inherited: a
# lock held by whoever ran db.sh must not live as long as the server).
# REDIS_SERVER replaces the binary (tests/db_fds.sh runs a probe).
rd_spawn() {
    (close_inherited && cd / && exec "${REDIS_SERVER:-$1}" --port "$RD_PORT" \
        --bind 127.0.0.1 --save '' --appendonly no --dir "$RD_DIR" \
        --pidfile "$RD_PID" --logfile "$RD_LOG" --daemonize yes \
        --loglevel warning </dev/null >/dev/null)
}

rd_pid() { cat "$RD_PID" 2>/dev/null || true; }

# A live redis-server working in our directory (it chdirs into --dir).
rd_running() { pid_is "$(rd_pid)" redis-server "$RD_DIR"; }

rd_accepts() {
    [[ "$(redis-cli -h 127.0.0.1 -p "$RD_PORT" PING 2>/dev/null)" == PONG ]]
}

rd_start() {
    local bin
    bin="$(rd_bin)"
    if rd_running; then
        log "redis already running (pid $(rd_pid))"
        return 0
    fi
    # Someone else's server on the port would answer our PINGs and be
    # taken for ours (redis-server daemonizes before it binds).
    ! rd_accepts || die "127.0.0.1:$RD_PORT already serves a redis that is not ours (set GT_REDIS_PORT)"
    mkdir -p "$RD_DIR"
    rm -f "$RD_PID"
    log "starting redis on 127.0.0.1:$RD_PORT (log $RD_LOG)"
    rd_spawn "$bin" || { tail -20 "$RD_LOG" >&2; die "redis did not start"; }
    wait_until rd_accepts ||
        { tail -20 "$RD_LOG" >&2; die "redis does not accept connections on $RD_PORT"; }
}

rd_stop() {
    rd_running || return 0
    stop_daemon redis "$(rd_pid)" TERM
    rm -f "$RD_PID"
}
