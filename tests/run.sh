#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The test command (README, .ci/run): installs the dependencies, builds with
# strict warnings as errors, runs the unit tests and the integration tests
# against the lab (real Postfix, Dovecot, nsd, unbound, rbldnsd, the scripted
# fault server), then builds again with AddressSanitizer and
# UndefinedBehaviorSanitizer and runs the whole suite once more, and finally
# runs representative integration invocations under valgrind memcheck.
# Both suites include the fuzz corpus replays (CTest label "fuzz"). It ends
# with a summary: the time of each step, the slowest tests of each pass with
# their share of their CTest timeout, and the total.
#
# Usage: tests/run.sh [--soak]      (as root on Debian 12, any clone directory)
#   --soak                 soak-sized runs (MH_SOAK=1): 1,000 junk
#                          sessions instead of 200, allocation failures
#                          at 250/120 points instead of 80/40
#   MH_TEST_JOBS=N         CTest's parallel jobs (default: the number of CPUs)
#   MH_SKIP_ASAN=1         developer shortcut: skip the second pass
#   MH_SKIP_VALGRIND=1     skip the valgrind pass
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

case ${1:-} in
--soak) export MH_SOAK=1 ;;
"") ;;
-h | --help)
    sed -n '3,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
    ;;
*)
    echo "usage: tests/run.sh [--soak]" >&2
    exit 2
    ;;
esac

t_start=$(date +%s)
steps=()
passes=()
# step NAME COMMAND...: runs COMMAND and notes its duration for the summary.
step() {
    local name=$1 t0 rc=0
    shift
    t0=$(date +%s)
    "$@" || rc=$?
    steps+=("$(printf '%-44s %5d s%s' "$name" $(($(date +%s) - t0)) "$([ "$rc" = 0 ] || echo "  FAILED (exit $rc)")")")
    return "$rc"
}

# The closing summary, printed however the run ends.
summary() {
    local rc=$? s p
    echo
    echo "=== summary ==="
    for s in "${steps[@]}"; do echo "  $s"; done
    for p in "${passes[@]}"; do
        python3 - "$p" <<'PY' || true
import json, re, subprocess, sys
build = sys.argv[1]
# CTest's own per-test wall times from the pass's log, timeouts from CTest.
times = {}
for line in open(build + ".ctest.log", errors="replace"):
    m = re.search(r"Test +#\d+: (\S+) \.+.*?([\d.]+) sec", line)
    if m:
        times[m.group(1)] = (float(m.group(2)), line.split(m.group(1))[1].strip(" .").split()[0])
try:
    meta = json.loads(subprocess.run(["ctest", "--show-only=json-v1"], cwd=build,
                                     capture_output=True, text=True).stdout)
except Exception:
    meta = {"tests": []}
timeout = {}
for t in meta.get("tests", []):
    for prop in t.get("properties", []):
        if prop.get("name") == "TIMEOUT":
            timeout[t["name"]] = float(prop["value"])
rows = sorted(times.items(), key=lambda kv: -kv[1][0])
print("  slowest tests of %s (%d ran, %.0f s of test time):" % (
    build, len(rows), sum(r[1][0] for r in rows)))
for name, (secs, status) in rows[:10]:
    lim = timeout.get(name, 1500.0)
    print("    %-36s %7.1f s  %3.0f %% of its %4.0f s timeout  %s" % (
        name, secs, 100 * secs / lim, lim, status))
worst = max(rows, key=lambda kv: kv[1][0] / timeout.get(kv[0], 1500.0), default=None)
if worst:
    print("    largest share: %s, %.0f %% of its timeout" % (
        worst[0], 100 * worst[1][0] / timeout.get(worst[0], 1500.0)))
PY
    done
    s=$(($(date +%s) - t_start))
    printf '  total %d min %02d s%s\n' $((s / 60)) $((s % 60)) "$([ "$rc" = 0 ] || echo ", FAILED (exit $rc)")"
    [ -z "${MH_SOAK:-}" ] || echo "  soak-sized runs (MH_SOAK=1)"
    exit "$rc"
}
trap summary EXIT

step "install-deps" packaging/install-deps.sh

# A comma-decimal locale, so the tests can prove perfdata and metrics keep
# '.' under it (Icinga sets LC_NUMERIC=C, Nagios does not).
if ! locale -a 2>/dev/null | grep -qi '^de_DE\.utf8$'; then
    localedef -i de_DE -f UTF-8 de_DE.UTF-8 >/dev/null 2>&1 ||
        echo "run.sh: could not generate de_DE.UTF-8; locale tests will skip" >&2
fi

jobs=$(nproc 2>/dev/null || echo 2)
test_jobs=${MH_TEST_JOBS:-$jobs}

build() {
    local dir=$1
    shift
    cmake -S "$root" -B "$dir" -DMH_WERROR=ON "$@" >"$dir.cmake.log" 2>&1 || {
        cat "$dir.cmake.log"
        return 1
    }
    cmake --build "$dir" -j"$jobs"
}
ctest_pass() {
    local dir=$1
    passes+=("$dir")
    (cd "$dir" && ctest --output-on-failure -j"$test_jobs") 2>&1 | tee "$dir.ctest.log"
}

mkdir -p build build-asan
echo "=== build and test (gcc, -Werror) ==="
step "build (gcc, -Werror)" build "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
step "tests (gcc)" ctest_pass "$root/build"

if [ "${MH_SKIP_ASAN:-0}" != 1 ]; then
    echo "=== build and test again under ASan + UBSan ==="
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=98
    step "build (ASan + UBSan)" build "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DMH_SANITIZE=ON
    step "tests (ASan + UBSan)" ctest_pass "$root/build-asan"
fi

# Memcheck over representative integration runs of the gcc build
# (tests/valgrind.sh starts its own lab).
if [ "${MH_SKIP_VALGRIND:-0}" != 1 ]; then
    echo "=== valgrind memcheck of integration runs ==="
    step "valgrind memcheck" tests/valgrind.sh "$root/build"
fi
