#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench_dane: what `--dane` costs beside `--starttls` when DNS is RTT away.
#
# Runs against a running lab (tests/lab/lab.sh start; its validating Unbound
# and DANE smtpd) with delay_dnsrelay (the latency benchmark's relay) in
# front of the validating resolver, so every DNS answer arrives RTT_MS
# after the query. Each round runs the same check N times, one after the
# other:
#   starttls  smtp --starttls        -H ee.dane.test (the A lookup: 1 RTT)
#   dane      smtp --dane            -H ee.dane.test (A, and TLSA + the
#                                     DNSSEC probe beside it: still 1 RTT)
# and prints the median and 90th percentile wall time of each and their
# difference. The physical limit of both is one DNS RTT plus the local
# dialogue; the design promise is that DANE adds no round trip (the TLSA
# lookup runs while the connection is set up and the server greets), so the
# difference should be the CPU of the DANE check (well under 1 ms per
# check), not another RTT.
#
# Usage: tests/bench/bench_dane.sh [BUILD_DIR] [N] [RTT_MS]
#   BUILD_DIR default build; N default 40; RTT_MS default 20.
# Needs MH_LAB_DIR (default BUILD_DIR/lab) with lab.env; run it in the
# lab's network namespace when the lab runs in one.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-build}
N=${2:-40}
RTT=${3:-20}
BIN=$BUILD/check_mailhealth
LAB=${MH_LAB_DIR:-$BUILD/lab}
[ -x "$BIN" ] || { echo "no $BIN" >&2; exit 2; }
[ -f "$LAB/lab.env" ] || { echo "no lab in $LAB (tests/lab/lab.sh start $LAB)" >&2; exit 2; }
# shellcheck disable=SC1091
. "$LAB/lab.env"
W=$(mktemp -d /tmp/mh-bench-dane.XXXXXX)
RELAY_PID=
cleanup() {
    [ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null && wait "$RELAY_PID" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT

cc -O2 -g -std=gnu11 -Wall -Wextra -Werror -o "$W/delay_dnsrelay" \
    "$HERE/delay_dnsrelay.c" || { echo "cannot build delay_dnsrelay" >&2; exit 2; }
# The relay listens on BASE+139 (the last DANE port of the lab's range).
RELAY=127.0.0.1:$((LAB_PORT_BASE + 139))
"$W/delay_dnsrelay" --listen "$RELAY" --upstream "$LAB_DANE_RESOLVER" \
    --rtt-ms "$RTT" --pidfile "$W/relay.pid" >"$W/relay.log" 2>&1 &
RELAY_PID=$!
for _ in $(seq 1 100); do
    dig +short +tries=1 +time=1 -p "${RELAY#*:}" @127.0.0.1 ee.dane.test A >/dev/null 2>&1 && break
    sleep 0.05
done

# run_series LABEL ARGS...: N checks, wall times (ms) into $W/LABEL.
run_series() {
    local label=$1 i t0 t1 rc
    shift
    : >"$W/$label"
    for ((i = 0; i < N; i++)); do
        t0=$(date +%s%N)
        rc=0
        "$BIN" smtp -H ee.dane.test -p "$LAB_DANE_SMTP_PORT" --resolver "$RELAY" \
            "$@" >/dev/null 2>&1 || rc=$?
        t1=$(date +%s%N)
        [ "$rc" -eq 0 ] || { echo "$label: check failed (exit $rc)" >&2; exit 1; }
        echo $(((t1 - t0) / 1000)) >>"$W/$label"
    done
}

# pct FILE P: the P-th percentile of the numbers in FILE (microseconds -> ms).
pct() {
    sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int((NR - 1) * p / 100) + 1; printf "%.1f", v[i] / 1000 }'
}

# Interleaved rounds, so load changes hit both series alike.
: >"$W/starttls.all"
: >"$W/dane.all"
for _ in 1 2; do
    run_series starttls --starttls
    cat "$W/starttls" >>"$W/starttls.all"
    run_series dane --dane --dnssec-probe dane.test
    cat "$W/dane" >>"$W/dane.all"
done
s50=$(pct "$W/starttls.all" 50) s90=$(pct "$W/starttls.all" 90)
d50=$(pct "$W/dane.all" 50) d90=$(pct "$W/dane.all" 90)
echo "bench_dane: DNS RTT $RTT ms, $((2 * N)) checks each (one process per check)"
printf '%-10s median %7s ms   p90 %7s ms\n' starttls "$s50" "$s90" dane "$d50" "$d90"
awk -v s="$s50" -v d="$d50" -v r="$RTT" 'BEGIN { printf "dane - starttls: %+.1f ms at the median (one more DNS round trip would be %d ms)\n", d - s, r }'
