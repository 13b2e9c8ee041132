#!/usr/bin/env bash
# scripts/deps.sh -- install the Debian packages greentor needs, and only those
# that are missing.
#
# Usage: scripts/deps.sh [build|test|bench]...   (default: build)
#
#   build  compiler, libraries and Check, to build and unit-test the library
#   test   build + the PostgreSQL and MariaDB servers (scripts/db.sh), nginx
#          and openssl for the client's TLS tests (scripts/tls_nginx.sh), clang
#          for libFuzzer/sanitizers, curl, and the AArch64 cross compiler
#          with qemu-user to run the AArch64 switch's self-test
#   bench  test + wrk, nginx, h2o, strace, hyperfine, for the benchmarks
#
# Every package is checked with dpkg-query first, and apt-get (update, then
# install) runs only when one is missing: a second run is instant and works
# offline, so `make check` can call this every time.
#
# Server packages (postgresql, mariadb-server) try to start their system
# services from their maintainer scripts. Without systemd that start fails, and
# we do not want those services anyway: scripts/db.sh runs its own instances
# on other ports. So, unless the machine already has one, a policy-rc.d that
# denies every service start (exit 101) is put in place for the install and
# removed afterwards.
#
# Needs root. Run as another user, it re-runs itself under sudo when something
# is missing, or prints the apt-get command to run and exits 1.
set -euo pipefail

BUILD_PKGS=(gcc make pkg-config libuv1-dev libpq-dev libmariadb-dev
    libsqlite3-dev libjansson-dev libcurl4-openssl-dev libhiredis-dev
    libssl-dev libnghttp2-dev check valgrind)
# libc6-dev-arm64-cross is only a Recommends of the cross gcc, and we install
# without recommends: without it there is no libc.a to link -static against.
# qemu-user-static runs the result without binfmt_misc or a target sysroot.
TEST_PKGS=(postgresql postgresql-contrib mariadb-server mariadb-client clang
    libclang-rt-14-dev curl procps gcc-aarch64-linux-gnu libc6-dev-arm64-cross
    qemu-user-static pgbouncer nginx-light clang-format openssl redis-server
    nghttp2-client)
BENCH_PKGS=(wrk nginx-light h2o kore strace postgresql-contrib hyperfine
    util-linux)

POLICY=/usr/sbin/policy-rc.d

log() { printf 'deps: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

usage() {
    echo "usage: $0 [build|test|bench]..." >&2
    exit 2
}

# Print the packages of one group, one per line; groups include the ones
# below them (bench > test > build).
group_pkgs() {
    case "$1" in
    build) printf '%s\n' "${BUILD_PKGS[@]}" ;;
    test) group_pkgs build; printf '%s\n' "${TEST_PKGS[@]}" ;;
    bench) group_pkgs test; printf '%s\n' "${BENCH_PKGS[@]}" ;;
    *) usage ;;
    esac
}

is_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == \
        "install ok installed" ]]
}

# Print the packages of the given groups that are not installed, once each.
missing_pkgs() {
    local g p
    for g in "$@"; do group_pkgs "$g"; done | awk '!seen[$0]++' |
        while read -r p; do is_installed "$p" || echo "$p"; done
}

# Deny service starts during the install unless a policy already exists.
# Echoes 1 when it created the file, so the caller knows to remove it.
deny_service_starts() {
    if [[ -e "$POLICY" ]]; then
        echo 0
        return
    fi
    printf '#!/bin/sh\n# temporary, from greentor scripts/deps.sh\nexit 101\n' \
        >"$POLICY"
    chmod 755 "$POLICY"
    echo 1
}

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    log "apt-get update"
    apt-get update -qq
    log "apt-get install $*"
    apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef \
        -o Dpkg::Options::=--force-confold "$@"
}

# Install as root; the trap removes a policy-rc.d we created even on failure.
install_as_root() {
    local created
    created="$(deny_service_starts)"
    if [[ "$created" == 1 ]]; then
        trap 'rm -f "$POLICY"' EXIT
    fi
    apt_install "$@"
}

main() {
    local groups=("$@") missing g
    [[ ${#groups[@]} -gt 0 ]] || groups=(build)
    for g in "${groups[@]}"; do group_pkgs "$g" >/dev/null; done
    mapfile -t missing < <(missing_pkgs "${groups[@]}")
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "all packages for: ${groups[*]} are installed"
        return 0
    fi
    log "missing: ${missing[*]}"
    if [[ $EUID -eq 0 ]]; then
        install_as_root "${missing[@]}"
    elif command -v sudo >/dev/null; then
        exec sudo -- bash "${BASH_SOURCE[0]}" "${groups[@]}"
    else
        die "not root and no sudo; as root run:
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
    fi
    missing=()
    mapfile -t missing < <(missing_pkgs "${groups[@]}")
    [[ ${#missing[@]} -eq 0 ]] || die "still missing after install: ${missing[*]}"
    log "done"
}

main "$@"
