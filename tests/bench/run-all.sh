#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# All benchmarks side by side with the peers (not part of the
# pass/fail test suite): builds, starts the lab once, then runs
#   1. bench_smtp.sh   one-shot SMTP + STARTTLS + certificate check against
#                      check_smtp -S -D 30,14 and check_ssl_cert -P smtp
#   2. bench_dnsbl.sh  50 zones through a resolver that answers after 250 ms,
#                      against check_rbl; bench_dnsbl_many.sh a /22 on 50
#                      zones in one check (check_rbl: one run per address)
#                      and the queries of a steady runner round
#   3. bench_runner.sh one runner round of 10, 100 and 1,000 checks
#   4. bench_latency.sh runner rounds of 100 and 1,000 mixed checks against
#                      servers 100 ms away, 5 % greeting after 6 s (only
#                      inside a network namespace: it binds 0.0.0.0 ports)
# and prints each one's table. The figures in the README come from this
# script on an otherwise idle 2-core machine.
#
# Usage: tests/bench/run-all.sh [RUNS]    (default 30 runs per tool in 1.)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
runs=${1:-30}

packaging/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
export MH_BIN=$root/build/check_mailhealth
export MH_FAULTSERVER=$root/build/tests/faultserver/mh_faultserver
export MH_LAB_PORT_BASE=${MH_LAB_PORT_BASE:-23000}
export MH_LAB_DIR=${MH_LAB_DIR:-$root/build/lab-bench}

echo "== 1. SMTP + STARTTLS + certificates (bench_smtp.sh, $runs runs)"
tests/bench/bench_smtp.sh "$runs"
echo
echo "== 2. DNSBL, 50 zones, 250 ms resolver (bench_dnsbl.sh)"
tests/bench/bench_dnsbl.sh 15
tests/bench/bench_dnsbl_many.sh 3 4
echo
echo "== 3. Runner rounds (bench_runner.sh)"
tests/lab/lab.sh start "$MH_LAB_DIR" >/dev/null
trap 'tests/lab/lab.sh stop "$MH_LAB_DIR" >/dev/null 2>&1' EXIT
tests/bench/bench_runner.sh --target lab --counts "10 100 1000"
echo
echo "== 4. Runner rounds at RTT 100 ms, mixed checks (bench_latency.sh)"
if [ -z "$(ip netns identify $$ 2>/dev/null)" ]; then
    echo "skipped: run run-all.sh in a network namespace (ip netns exec mh-NAME ...)"
else
    tests/bench/bench_latency.sh --checks "100 1000" --smtp-cpu 1000 "$MH_BIN"
fi
