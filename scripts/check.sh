#!/usr/bin/env bash
# scripts/check.sh -- the body of `make check`, after the build.
#
# Checks the context switches first: the hand-written ones' self-test,
# natively and (the AArch64 one on x86-64) under qemu-user, the library's
# exports and CET claims, and the runtime suite again with the portable
# ucontext switch. Then starts the throw-away PostgreSQL and MariaDB
# servers (scripts/db.sh), replays the fuzz corpora, runs the libFuzzer
# targets for a bounded time when CI is set and clang is present, and runs
# every Check suite under ASan+UBSan. The test runner's summary is the last thing printed, and the
# exit status is the runner's.
set -euo pipefail
cd "$(dirname "$0")/.."

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Formatting (.clang-format): the tree is clean, and stays so.
make -s format-check >&2

# The switch self-tests (Makefile: SELFTESTS). Each prints one line.
case "$(uname -m)" in
x86_64)
    ./build/selftest/switch_x86_64 >&2
    qemu-aarch64-static ./build/selftest/switch_aarch64 >&2
    ;;
aarch64)
    ./build/selftest/switch_aarch64 >&2
    ;;
esac

# The switch is internal: nothing gt__ may leave the shared library. And
# no object may claim shadow-stack support, which the switch breaks (see
# switch_x86_64.S).
exported="$(nm -D --defined-only build/libgreentor.so | awk '$3 ~ /^gt__/')"
if [ -n "$exported" ]; then
    echo "check: internal symbols exported from libgreentor.so:" >&2
    echo "$exported" >&2
    exit 1
fi
notes="$(readelf -n build/libgreentor.so)"
if grep -E 'SHSTK|GCS' <<<"$notes" >&2; then
    echo "check: libgreentor.so claims a shadow stack" >&2
    exit 1
fi

# The runtime suite with SWITCH=ucontext, built in its own folder by `make
# check`. ASan warns once per test that it does not fully support
# swapcontext, so the output is kept in a log and shown only on failure.
uclog=build-san-ucontext/runtime.log
if ! CK_RUN_SUITE=runtime ./build-san-ucontext/test_greentor >"$uclog" 2>&1; then
    cat "$uclog" >&2
    echo "check: the runtime suite failed with SWITCH=ucontext" >&2
    exit 1
fi
echo "runtime suite with SWITCH=ucontext: $(tail -1 "$uclog")" >&2

# A server that does not start fails the check here, not later with a
# confusing "no database URLs".
db_env="$(bash scripts/db.sh start all)" || {
    echo "check: the database servers did not start (scripts/db.sh)" >&2
    exit 1
}
eval "$db_env"

for replay in build-san/fuzz/replay_*; do
    [ -x "$replay" ] || continue
    name=${replay##*/replay_}
    echo "replaying fuzz corpus: $name" >&2
    "$replay" "fuzz/corpus/$name" >/dev/null
done

if [ -n "${CI:-}" ] && command -v clang >/dev/null; then
    make -s fuzz-run FUZZ_SECONDS="${FUZZ_SECONDS:-60}" >&2
fi

if [ -n "${CI:-}" ]; then
    make -s valgrind >&2
fi

# The scale-out recipe: showcase processes behind nginx and PgBouncer,
# restarted one by one under load, lose no request.
echo "rolling restart behind nginx" >&2
bash scripts/rolling_restart.sh 2 2 >&2
# The seed's own failure: a pool of 30 against max_connections=20.
bash scripts/seed_scenario.sh >&2

# The runtime and HTTP suites again under ThreadSanitizer (coroutines are
# TSan fibers, see src/runtime/sanitizer.h); the first race fails the run.
# Cases tagged "scale" (100,000 coroutines, so 100,000 TSan fibers) are the
# ASan run's: under TSan they cost minutes of fiber bookkeeping, not races.
echo "runtime, http, tls, net and pool-worker suites under ThreadSanitizer" >&2
for suite in runtime http tls net; do
    CK_RUN_SUITE=$suite CK_EXCLUDE_TAGS=scale \
        TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
        ./build-tsan/test_greentor >&2
done
# ... and one pool shared by two workers, connections moving between them.
for backend in sqlite postgres mysql; do
    CK_RUN_SUITE=pool CK_RUN_CASE=pool_workers_$backend \
        TSAN_OPTIONS="halt_on_error=1 exitcode=66" ./build-tsan/test_greentor >&2
done

exec ./build-san/test_greentor
