#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Benchmark 1 (not part of the pass/fail suite): one-shot SMTP + STARTTLS +
# certificate check against the lab's Postfix, side by side with the peers
# from Debian's monitoring-plugins packages, alternating runs:
#   check_mailhealth smtp --starttls --cert-days 30,14   (verifies the chain)
#   check_smtp -S -D 30,14                               (monitoring-plugins-standard)
#   check_ssl_cert -P smtp -w 30 -c 14                   (monitoring-plugins-contrib)
# Prints median/min/max wall time, CPU time (user+sys) and peak RSS per
# tool, and the ratios. Times come from tests/bench/measure.c (wait4 rusage,
# microsecond resolution). Usage: tests/bench/bench_smtp.sh [RUNS]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
runs=${1:-30}

packaging/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
lab=${MH_LAB_DIR:-$root/build/lab-bench}
export MH_LAB_PORT_BASE=${MH_LAB_PORT_BASE:-23000}
tests/lab/lab.sh start "$lab" >/dev/null
trap 'tests/lab/lab.sh stop "$lab" >/dev/null 2>&1' EXIT
# shellcheck disable=SC1091
. "$lab/lab.env"

measure=$root/build/tests/mh_measure
plugins=/usr/lib/nagios/plugins
declare -A cmd
cmd[check_mailhealth]="$root/build/check_mailhealth smtp -H 127.0.0.1 -p $LAB_SMTP_PORT --starttls --cert-days 30,14 --ca-file $LAB_CA_FILE --verify-name $LAB_MX_NAME --sni $LAB_MX_NAME"
cmd[check_smtp]="$plugins/check_smtp -H 127.0.0.1 -p $LAB_SMTP_PORT -S -D 30,14"
cmd[check_ssl_cert]="$plugins/check_ssl_cert -H 127.0.0.1 -p $LAB_SMTP_PORT -P smtp -w 30 -c 14 --sni $LAB_MX_NAME -r $LAB_CA_FILE --ignore-ocsp --ignore-sct"
tools=(check_mailhealth check_smtp check_ssl_cert)

out=$(mktemp -d)
for t in "${tools[@]}"; do
    # Warm-up run, also shows the output once.
    echo "== $t: $(${cmd[$t]} 2>&1 | head -n 1 | cut -c1-150)"
done
# check_mailhealth and check_smtp alternate run by run, the one that goes
# first changing every time, so that drift and whatever the previous run
# left behind affect both alike. check_ssl_cert, a shell script that takes
# a second and forks dozens of processes, runs in its own pass afterwards
# (a third as many runs), so that it does not disturb the pairs.
for i in $(seq 1 "$runs"); do
    if [ $((i % 2)) -eq 0 ]; then
        pair=(check_mailhealth check_smtp)
    else
        pair=(check_smtp check_mailhealth)
    fi
    for t in "${pair[@]}"; do
        "$measure" ${cmd[$t]} >>"$out/$t"
    done
done
for i in $(seq 1 $(((runs + 2) / 3))); do
    "$measure" ${cmd[check_ssl_cert]} >>"$out/check_ssl_cert"
done

stats() { # file column -> "median min max"
    awk -v c="$2" '{print $c}' "$1" | sort -g | awk '
        { v[NR] = $1 } END {
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.4f %.4f %.4f", m, v[1], v[NR] }'
}
printf '\n%-18s %6s %26s %26s %8s\n' tool runs "wall s (med/min/max)" "cpu s (med/min/max)" "rss KiB"
declare -A wall
for t in "${tools[@]}"; do
    awk '{ printf "%s %s\n", $1, $2 + $3 }' "$out/$t" >"$out/$t.cpu"
    read -r wm wmin wmax <<<"$(stats "$out/$t" 1)"
    read -r cm cmin cmax <<<"$(stats "$out/$t.cpu" 2)"
    read -r rm _ _ <<<"$(stats "$out/$t" 4)"
    wall[$t]=$wm
    printf '%-18s %6s %26s %26s %8s\n' "$t" "$(wc -l <"$out/$t")" \
        "$wm/$wmin/$wmax" "$cm/$cmin/$cmax" "$rm"
done
echo
awk -v a="${wall[check_mailhealth]}" -v b="${wall[check_smtp]}" -v c="${wall[check_ssl_cert]}" 'BEGIN {
    printf "check_mailhealth / check_smtp wall time: %.3fx, ratio of the medians (target <= 1.0x)\n", a / b
    printf "check_ssl_cert / check_mailhealth wall time: %.1fx faster (target >= 50x)\n", c / a }'
# The machine drifts while the runs go on (both tools alike, as they
# alternate): the median of the per-pair ratios shows the difference
# without the drift.
paste -d' ' "$out/check_mailhealth" "$out/check_smtp" | awk '{ print $1 / $6 }' |
    sort -g | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "check_mailhealth / check_smtp wall time, median of %d paired runs: %.3fx (quartiles %.3f..%.3f)\n", NR, m, v[int(NR / 4) + 1], v[int(3 * NR / 4)] }'
rm -rf "$out"
