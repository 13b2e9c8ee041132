#!/usr/bin/env bash
# tests/db_fds.sh -- scripts/db.sh starts servers holding no descriptor of
# its caller's (issue 16): a server started under `flock FILE make check`
# kept FILE locked for its whole life, so the next `flock FILE` waited on
# the database.
#
# It sources db.sh (which then only defines its functions) and runs the three
# ways db.sh starts a server -- as_user (pg_ctl, initdb, psql), my_spawn
# (mariadbd, detached) and rd_spawn (redis-server) -- with a probe in place
# of the server, while this shell holds a lock on fd 7 and another file
# open on fd 8. The probe lists its descriptors; it must have 0, 1 and 2
# only (and the one ls opens to read the list).
# Needs no database. Prints one line; exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d /tmp/gt-db-fds.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=../scripts/db.sh
source scripts/db.sh

cat >"$tmp/probe" <<'PROBE'
#!/bin/sh
exec ls /proc/self/fd >"$PROBE_OUT"
PROBE
chmod 755 "$tmp/probe"

exec 7>"$tmp/lock" 8>"$tmp/other"
flock 7

check() { # what, listing
    local n
    n="$(wc -l <"$2")"
    if [[ "$n" -ne 4 ]]; then
        echo "db_fds: $1 left the server descriptors of its caller:" \
            "$(tr '\n' ' ' <"$2")" >&2
        exit 1
    fi
}

# as_user: pg_ctl start (and through it the postmaster), initdb, psql.
PROBE_OUT="$tmp/as_user" as_user "$(id -un)" "$tmp/probe"
check as_user "$tmp/as_user"

# my_spawn: mariadbd, detached with setsid; the probe ignores its options.
MARIADBD="$tmp/probe" MY_LOG="$tmp/log" PROBE_OUT="$tmp/my_spawn" \
    my_spawn "$(id -un)"
wait "$MY_SPAWNED"
check my_spawn "$tmp/my_spawn"

# rd_spawn: redis-server, which daemonizes itself.
REDIS_SERVER="$tmp/probe" PROBE_OUT="$tmp/rd_spawn" RD_DIR="$tmp" rd_spawn x
check rd_spawn "$tmp/rd_spawn"

echo "db_fds: servers start with stdin, stdout and stderr only"
