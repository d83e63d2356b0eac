#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Builds the libFuzzer targets with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer in build-fuzz/ and runs each for a time budget.
#
# Usage: tests/fuzz/run-fuzzers.sh SECONDS [TARGET...]
#        (default: every target; SECONDS per target)
#   MH_FUZZ_BUILD   build directory (default build-fuzz)
#   MH_FUZZ_ARGS    extra libFuzzer options (e.g. "-jobs=2 -workers=2")
#
# Each target fuzzes a working corpus build-fuzz/corpus/<target> (started
# from, and never written back to, tests/fuzz/corpus/<target>); crashing,
# leaking, timing-out or out-of-memory inputs land in
# build-fuzz/artifacts/<target>/. To keep one as a regression test, copy it
# into tests/fuzz/corpus/<target>/ (the corpus replays then run it on every
# build); `build-fuzz/tests/fuzz/fuzz_<target> -merge=1 tests/fuzz/corpus/T
# build-fuzz/corpus/T` adds the inputs that found new coverage.
#
# Exit status: 0 when no target found anything, 1 otherwise (the artifacts
# are listed), 2 on a usage or build error.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ]; then
    sed -n '4,20p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
seconds=$1
shift
all=(reply ehlo classify range dialogue dnsbl dnsbl_zones runner_config options)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

build=${MH_FUZZ_BUILD:-$root/build-fuzz}
command -v clang >/dev/null || {
    echo "run-fuzzers: clang is missing (packaging/install-deps.sh)" >&2
    exit 2
}
mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMH_FUZZ=ON -DMH_SANITIZE=ON \
    -DMH_WERROR=OFF >"$build/cmake.log" 2>&1 || {
    cat "$build/cmake.log" >&2
    exit 2
}
names=()
for t in "${targets[@]}"; do names+=("fuzz_$t"); done
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" \
    --target "${names[@]}" >"$build/build.log" 2>&1 || {
    tail -n 40 "$build/build.log" >&2
    exit 2
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

found=0
printf '%-15s %8s %10s %8s %8s  %s\n' target seconds execs cov corpus result
for t in "${targets[@]}"; do
    work=$build/corpus/$t
    art=$build/artifacts/$t
    mkdir -p "$work" "$art"
    dict=()
    case $t in
    reply | ehlo | classify | dialogue) dict=(-dict="$root/tests/fuzz/dict/smtp.dict") ;;
    dnsbl_zones | runner_config) dict=(-dict="$root/tests/fuzz/dict/json.dict") ;;
    esac
    log=$build/fuzz-$t.log
    rc=0
    # shellcheck disable=SC2086
    "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$art/" "${dict[@]}" ${MH_FUZZ_ARGS:-} \
        "$work" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | awk '{print $2}')
    ncorp=$(find "$work" -type f | wc -l)
    if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$art")" ]; then
        found=1
        result="FOUND (see $log)"
    else
        result=ok
    fi
    printf '%-15s %8s %10s %8s %8s  %s\n' "$t" "$seconds" "${execs:-?}" \
        "${cov:-?}" "$ncorp" "$result"
done
if [ "$found" -ne 0 ]; then
    echo "artifacts:"
    find "$build/artifacts" -type f | sed 's/^/  /'
    exit 1
fi
