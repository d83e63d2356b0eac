#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Benchmark (not part of the pass/fail suite): one address checked
# on 50 DNSBL zones through a resolver that answers every query after
# 250 ms (tests/bench/delay-dns.pl), side by side with check_rbl from
# Debian's monitoring-plugins-contrib, alternating runs:
#   check_mailhealth dnsbl -H 192.0.2.10 --zone z1.bench.test ... (50)
#   check_rbl -H 192.0.2.10 -s z1.bench.test ... (50)
# Both see the same 5 listings. Prints median/min/max wall time, CPU time
# and peak RSS (/usr/bin/time), the wall-time ratio and whether the
# goals hold: ratio <= 0.35 (the physical limit is one round trip) and
# check_mailhealth's peak RSS < 10 MB.
#
# Usage: tests/bench/bench_dnsbl.sh [RUNS]      (default 15)
#   MH_BIN=path   use that check_mailhealth instead of building build/
#   BENCH_ADDR    loopback address for the server (default 127.0.0.153;
#                 check_rbl's resolver library only talks to port 53)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
runs=${1:-15}
zones=50
listed=5
delay_ms=250
addr=${BENCH_ADDR:-127.0.0.153}

if [ -z "${MH_BIN:-}" ]; then
    packaging/install-deps.sh
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j"$(nproc)" >/dev/null
    MH_BIN=$root/build/check_mailhealth
fi
check_rbl=/usr/lib/nagios/plugins/check_rbl

out=$(mktemp -d /tmp/mh-bench-dnsbl.XXXXXX)
perl tests/bench/delay-dns.pl "$addr" 53 "$delay_ms" "$zones" "$listed" \
    "$out/dns.pid" >"$out/dns.log" 2>&1 &
dns_pid=$!
trap 'kill "$dns_pid" 2>/dev/null; wait "$dns_pid" 2>/dev/null; rm -rf "$out"' EXIT
for _ in $(seq 1 50); do
    [ -s "$out/dns.pid" ] && break
    sleep 0.1
done
[ -s "$out/dns.pid" ] || { cat "$out/dns.log" >&2; exit 1; }

mh_args=(dnsbl -H 192.0.2.10 --resolver "$addr:53" -t 30)
rbl_args=(-H 192.0.2.10 -n "$addr" -t 60)
for i in $(seq 1 "$zones"); do
    mh_args+=(--zone "z$i.bench.test")
    rbl_args+=(-s "z$i.bench.test")
done
declare -A cmd
cmd[check_mailhealth]="$MH_BIN ${mh_args[*]}"
cmd[check_rbl]="$check_rbl ${rbl_args[*]}"
tools=(check_mailhealth check_rbl)

for t in "${tools[@]}"; do
    # Warm-up run, also shows the status line once.
    echo "== $t: $(${cmd[$t]} 2>&1 | head -n 1 | cut -c1-160)"
done
for _ in $(seq 1 "$runs"); do
    for t in "${tools[@]}"; do
        /usr/bin/time -f "%e %U %S %M" -o "$out/t" ${cmd[$t]} >/dev/null 2>&1 || true
        tail -n 1 "$out/t" >>"$out/$t" # GNU time may add "Command exited with non-zero status N"
    done
done

stats() { # file column -> "median min max"
    awk -v c="$2" '{print $c}' "$1" | sort -g | awk '
        { v[NR] = $1 } END {
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.3f %.3f %.3f", m, v[1], v[NR] }'
}
printf '\n%d zones, %d ms per answer, %d runs each\n' "$zones" "$delay_ms" "$runs"
printf '%-18s %24s %24s %22s\n' tool "wall s (med/min/max)" "cpu s (med/min/max)" "peak RSS KiB (med/max)"
declare -A wall rss
for t in "${tools[@]}"; do
    awk '{ printf "%s %s %s %s\n", $1, $2 + $3, $4, 0 }' "$out/$t" >"$out/$t.x"
    read -r wm wmin wmax <<<"$(stats "$out/$t.x" 1)"
    read -r cm cmin cmax <<<"$(stats "$out/$t.x" 2)"
    read -r rm _ rmax <<<"$(stats "$out/$t.x" 3)"
    wall[$t]=$wm
    rss[$t]=$rmax
    printf '%-18s %8s %7s %7s %8s %7s %7s %11.0f %10.0f\n' "$t" "$wm" "$wmin" "$wmax" \
        "$cm" "$cmin" "$cmax" "$rm" "$rmax"
done
ratio=$(awk -v a="${wall[check_mailhealth]}" -v b="${wall[check_rbl]}" 'BEGIN { printf "%.3f", a / b }')
echo
echo "wall-time ratio check_mailhealth / check_rbl (medians): $ratio (goal <= 0.35)"
echo "check_mailhealth peak RSS: ${rss[check_mailhealth]} KiB (goal < 10240)"
awk -v r="$ratio" 'BEGIN { exit !(r <= 0.35) }' && echo "speed goal: met" || echo "speed goal: NOT met"
[ "${rss[check_mailhealth]%.*}" -lt 10240 ] && echo "memory goal: met" || echo "memory goal: NOT met"
