#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The test command (README, .ci/run): installs the dependencies, builds with
# strict warnings as errors, runs the unit tests and the integration tests
# against the lab (real Postfix, Dovecot, nsd, unbound, rbldnsd, the scripted
# fault server), then builds again with AddressSanitizer and
# UndefinedBehaviorSanitizer and runs the whole suite once more, and finally
# runs representative integration invocations under valgrind memcheck.
# Both suites include the fuzz corpus replays (CTest label "fuzz").
#
# Usage: tests/run.sh            (as root on Debian 12)
#        MH_SKIP_ASAN=1 tests/run.sh   (developer shortcut: skip the second pass)
#        MH_SKIP_VALGRIND=1 tests/run.sh   (skip the valgrind pass)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

packaging/install-deps.sh

# A comma-decimal locale, so the tests can prove perfdata and metrics keep
# '.' under it (Icinga sets LC_NUMERIC=C, Nagios does not).
if ! locale -a 2>/dev/null | grep -qi '^de_DE\.utf8$'; then
    localedef -i de_DE -f UTF-8 de_DE.UTF-8 >/dev/null 2>&1 ||
        echo "run.sh: could not generate de_DE.UTF-8; locale tests will skip" >&2
fi

jobs=$(nproc 2>/dev/null || echo 2)

pass() {
    local dir=$1
    shift
    cmake -S "$root" -B "$dir" -DMH_WERROR=ON "$@" >"$dir.cmake.log" 2>&1 || {
        cat "$dir.cmake.log"
        exit 1
    }
    cmake --build "$dir" -j"$jobs"
    (cd "$dir" && ctest --output-on-failure -j"$jobs")
}

mkdir -p build build-asan
echo "=== build and test (gcc, -Werror) ==="
pass "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo

if [ "${MH_SKIP_ASAN:-0}" != 1 ]; then
    echo "=== build and test again under ASan + UBSan ==="
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=98
    pass "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DMH_SANITIZE=ON
fi

# --- valgrind pass (issue 9): memcheck over representative integration
# runs of the gcc build (tests/valgrind.sh starts its own lab). ---
if [ "${MH_SKIP_VALGRIND:-0}" != 1 ]; then
    echo "=== valgrind memcheck of integration runs ==="
    tests/valgrind.sh "$root/build"
fi
