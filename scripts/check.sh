#!/usr/bin/env bash
# scripts/check.sh -- the body of `make check`, after the build.
#
# Starts the throw-away PostgreSQL and MariaDB servers (scripts/db.sh),
# replays the fuzz corpora, runs the libFuzzer targets for a bounded time
# when CI is set and clang is present, and runs every Check suite under
# ASan+UBSan. The test runner's summary is the last thing printed, and the
# exit status is the runner's.
set -euo pipefail
cd "$(dirname "$0")/.."

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

eval "$(bash scripts/db.sh start all)"

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

# The runtime and HTTP suites again under ThreadSanitizer (coroutines are
# TSan fibers, see src/runtime/sanitizer.h); the first race fails the run.
echo "runtime and http suites under ThreadSanitizer" >&2
for suite in runtime http; do
    CK_RUN_SUITE=$suite TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
        ./build-tsan/test_greentor >&2
done

exec ./build-san/test_greentor
