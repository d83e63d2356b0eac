#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Benchmark (not part of the pass/fail suite): a /22 (1,024 addresses)
# checked on 50 DNSBL zones in ONE check through a resolver 250 ms away,
# beside check_rbl (Debian's monitoring-plugins-contrib), which takes one
# address per run and so needs 1,024 runs; and the query cost of a steady
# runner round.
#
#   rbldnsd          50 ip4set zones z1..z50.bench.test, each with its
#                    RFC 5782 test entry; 3 addresses of the /22 listed
#                    on 5 zones
#   delay_dnsrelay   (tests/bench/delay_dnsrelay.c) in front of it on
#                    ADDR:53, answering every query RTT after it arrived
#
# Prints for check_mailhealth, for each in-flight window W in WINDOWS
# (--max-in-flight; 0: the default adaptive window; default
# "0 256 8192 16384 32768 51200"): wall, CPU and peak RSS
# of the check (RUNS runs, median), the ratio of the wall time to 2 round
# trips plus CPU (the physical limit if all 51,200 queries went out at
# once), the paced limit (ceil(queries / W) + 1 round trips), the pairs the
# check reports unanswered ("errors" perfdata), the queries the relay got
# beyond the fewest of any run (c-ares retries after an answer came later
# than its per-try timeout), the UDP datagrams the namespace's kernel
# dropped at a full receive buffer (RcvbufErrors: the check's sockets or
# the relay's; a query lost before the relay is not "retried" there) and
# how late the relay's latest answer was (above 0: the relay and rbldnsd
# behind it could not keep up; the relay's front socket takes 64 MiB,
# room for a whole burst), and the CPU the test servers (the relay and
# rbldnsd) used with the limit that counts it, since they share the
# cores: 2 round trips + (check CPU + servers' CPU) / cores, as
# bench_latency.sh counts its servers; then the
# queries per address x zone of a steady runner round (a second relay with
# a 1 ms RTT, counted by the relay). For check_rbl: the wall time of
# SAMPLE single-address runs, times 1,024.
#
# Usage: [WINDOWS="256 8192"] tests/bench/bench_dnsbl_many.sh [RUNS] [SAMPLE]
#        (default 3, 4; SAMPLE 0 skips check_rbl)
#   MH_BIN=path   check_mailhealth to use (default: build/ built here)
#   BENCH_ADDR    loopback address for the relay (default 127.0.0.153;
#                 check_rbl's resolver library only talks to port 53)
# Needs root (port 53, rbldnsd drops to the rbldns user): run it in a
# network namespace of its own (ip netns exec ...).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
HERE=$root/tests/bench
runs=${1:-3}
sample=${2:-4}
windows=${WINDOWS:-0 256 8192 16384 32768 51200}
zones=50
rtt_ms=250
addr=${BENCH_ADDR:-127.0.0.153}
block=192.0.0.0/22
naddr=1024

if [ -z "${MH_BIN:-}" ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build -j"$(nproc)" >/dev/null
    MH_BIN=$root/build/check_mailhealth
fi
check_rbl=/usr/lib/nagios/plugins/check_rbl
W=$(mktemp -d /tmp/mh-bench-dnsbl-many.XXXXXX)
chmod 755 "$W"
pids=()
cleanup() {
    # (|| true: under set -e a failed kill of a process already gone
    # would end the cleanup and leave rbldnsd running)
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    [ -s "$W/rbldnsd.pid" ] && kill "$(cat "$W/rbldnsd.pid")" 2>/dev/null || true
    wait 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT

cc -O2 -g -std=gnu11 -Wall -Wextra -Werror -o "$W/delay_dnsrelay" \
    "$HERE/delay_dnsrelay.c" || { echo "cannot build delay_dnsrelay" >&2; exit 2; }
cc -O2 -g -std=gnu11 -Wall -Wextra -Werror -o "$W/measure" "$HERE/measure.c" ||
    { echo "cannot build measure" >&2; exit 2; }

# The zones: test entry everywhere; 192.0.1.10, .11 and 192.0.3.200 on the
# first 5 zones.
args=()
for i in $(seq 1 "$zones"); do
    {
        echo '$SOA 60 ns.bench.test hostmaster.bench.test 1 60 60 600 5'
        echo ':127.0.0.2:Listed on z'"$i"': $'
        echo 127.0.0.2
        if [ "$i" -le 5 ]; then printf '192.0.1.10\n192.0.1.11\n192.0.3.200\n'; fi
    } >"$W/z$i.zone"
    args+=("z$i.bench.test:ip4set:z$i.zone")
done
chmod 644 "$W"/*.zone
rbldnsd -u rbldns -b "$addr/5300" -p "$W/rbldnsd.pid" -a -c 0 -w "$W" "${args[@]}" \
    >"$W/rbldnsd.log" 2>&1 || { cat "$W/rbldnsd.log" >&2; exit 2; }
"$W/delay_dnsrelay" --listen "$addr:53" --upstream "$addr:5300" --rtt-ms "$rtt_ms" \
    --stats "$W/slow.stats" >"$W/slow.log" 2>&1 &
pids+=($!)
"$W/delay_dnsrelay" --listen "$addr:5301" --upstream "$addr:5300" --rtt-ms 1 \
    --stats "$W/fast.stats" >"$W/fast.log" 2>&1 &
fast_pid=$!
pids+=("$fast_pid")
sleep 0.5

zargs=()
rbl_args=()
zjson=""
for i in $(seq 1 "$zones"); do
    zargs+=(--zone "z$i.bench.test:ip4")
    rbl_args+=(-s "z$i.bench.test")
    zjson+="${zjson:+, }\"z$i.bench.test:ip4\""
done

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
relay_queries() { # the slow relay's query counter
    kill -USR1 "${pids[0]}"
    sleep 0.3
    awk '$1 == "queries" { q = $2; l = $12 } $1 == "behind" { b = $4 } END { print q, l, b }' "$W/slow.stats"
}
rcvbuf_errors() { awk '$1 == "Udp:" && $2 ~ /^[0-9]+$/ { print $6 }' /proc/net/snmp; }
# CPU seconds used so far by the test servers (the 250 ms relay and rbldnsd
# behind it): utime + stime of /proc/PID/stat. They share the machine's
# cores with the check, so the limit below also counts them.
hz=$(getconf CLK_TCK)
ncpu=$(nproc)
servers_cpu() {
    local p t=0
    for p in "${pids[0]}" "$(cat "$W/rbldnsd.pid")"; do
        t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')))
    done
    awk -v t="$t" -v hz="$hz" 'BEGIN { printf "%.3f", t / hz }'
}
# One line per window: median wall and CPU, peak RSS, the pairs the check
# reports as not answered (its "errors" perfdata, median) and the queries
# the relay received per run beyond the fewest of any run (c-ares retries
# after a lost answer; median).
for win in $windows; do
    : >"$W/mh.$win"
    for _ in $(seq 1 "$runs"); do
        read -r qa la _ < <(relay_queries)
        da=$(rcvbuf_errors)
        sa=$(servers_cpu)
        out=$(MEASURE_STDOUT=$W/check.out "$W/measure" "$MH_BIN" dnsbl -H "$block" "${zargs[@]}" --resolver "$addr:53" \
            -t 120 --max-in-flight "$win")
        read -r qb lb behind < <(relay_queries)
        db=$(rcvbuf_errors)
        sb=$(servers_cpu)
        errs=$(head -n 1 "$W/check.out" | sed -n 's/.* errors=\([0-9]*\).*/\1/p')
        echo "$out ${errs:-?} $((qb - qa)) $((lb - la)) $behind $((db - da)) $(awk -v a="$sa" -v b="$sb" 'BEGIN { print b - a }')" >>"$W/mh.$win"
    done
done
# check_rbl: one address per run; a sample, times 1,024.
if [ -x "$check_rbl" ] && [ "$sample" -gt 0 ]; then
    for k in $(seq 1 "$sample"); do
        "$W/measure" "$check_rbl" -H "192.0.1.$((k + 8))" -n "$addr" -t 60 "${rbl_args[@]}" >>"$W/rbl.times"
    done
    rbl_one=$(awk '{ print $1 }' "$W/rbl.times" | median)
    rbl_rss=$(awk '{ print $4 }' "$W/rbl.times" | sort -g | tail -n 1)
fi

# A steady runner round: the same check every 30 s through the 1 ms relay;
# the relay's query counter between the ends of rounds 1 and 2.
cat >"$W/runner.json" <<EOF
{ "interval_seconds": 30, "timeout_seconds": 25, "resolver": "$addr:5301",
  "textfile": "$W/runner.prom",
  "checks": [ { "name": "block", "check": "dnsbl", "host": "$block", "zone": [ $zjson ] } ] }
EOF
"$MH_BIN" run --config "$W/runner.json" 2>"$W/runner.log" &
runner_pid=$!
pids+=("$runner_pid")
stamp() { stat -c %Y.%y "$W/runner.prom" 2>/dev/null || echo none; }
wait_round() { # previous stamp
    for _ in $(seq 1 900); do
        [ "$(stamp)" != "$1" ] && return 0
        sleep 0.1
    done
    echo "runner round did not finish" >&2
    exit 2
}
wait_round none
kill -USR1 "$fast_pid"; sleep 0.3
q1=$(awk '$1 == "queries" { print $2 }' "$W/fast.stats")
s1=$(stamp)
wait_round "$s1"
kill -USR1 "$fast_pid"; sleep 0.3
q2=$(awk '$1 == "queries" { print $2 }' "$W/fast.stats")
lost=$(awk '$1 == "queries" { print $12 }' "$W/fast.stats")
kill "$runner_pid" 2>/dev/null || true
pairs=$((naddr * zones))

printf '\n%s (%d addresses) x %d zones = %d queries, resolver %d ms away, %d runs per window\n' \
    "$block" "$naddr" "$zones" "$pairs" "$rtt_ms" "$runs"
printf 'physical limit: 2 round trips (%.3f s) plus CPU if every query goes out at once;\n' \
    "$(awk -v r="$rtt_ms" 'BEGIN { print 2 * r / 1000 }')"
printf 'with W in flight ceil(%d / W) + 1 round trips\n' "$pairs"
printf 'check_mailhealth, one check per --max-in-flight W (medians; RSS: peak; lost: pairs not answered;\n'
printf 'retried: relay queries beyond the fewest of any run; behind: latest relay answer past its time)\n'
fewest=$(cat "$W"/mh.* | awk '{ print $7 }' | sort -g | head -n 1)
for win in $windows; do
    f=$W/mh.$win
    wall=$(awk '{ print $1 }' "$f" | median)
    cpu=$(awk '{ print $2 + $3 }' "$f" | median)
    rss=$(awk '{ print $4 }' "$f" | sort -g | tail -n 1)
    lost=$(awk '{ print $6 }' "$f" | median)
    retried=$(awk -v m="$fewest" '{ print $7 - m }' "$f" | median)
    behind=$(awk '{ print $9 / 1e6 }' "$f" | median)
    dropped=$(awk '{ print $10 }' "$f" | median)
    scpu=$(awk '{ print $11 }' "$f" | median)
    label=$win
    [ "$win" = 0 ] && label=adapt
    printf '  W %6s: wall %7.3f s, CPU %.3f s, %5.2fx (2 RTT + CPU), paced limit %7s s, RSS %6d KiB%s, lost %s, retried %s, dropped %s, relay behind %.3f s\n' \
        "$label" "$wall" "$cpu" "$(awk -v w="$wall" -v c="$cpu" -v r="$rtt_ms" 'BEGIN { print w / (2 * r / 1000 + c) }')" \
        "$(awk -v r="$rtt_ms" -v q="$pairs" -v n="$win" 'BEGIN { if (n == 0) print "-"; else printf "%.3f", (int((q + n - 1) / n) + 1) * r / 1000 }')" \
        "$rss" "$([ "$rss" -lt 20480 ] && echo '' || echo ' (over 20 MB)')" "$lost" "$retried" "$dropped" "$behind"
    printf '           test servers (relay + rbldnsd) CPU %.3f s; limit counting all CPU on %d cores, 2 RTT + (check + servers) / cores = %.3f s: %.2fx\n' \
        "$scpu" "$ncpu" "$(awk -v c="$cpu" -v s="$scpu" -v r="$rtt_ms" -v n="$ncpu" 'BEGIN { print 2 * r / 1000 + (c + s) / n }')" \
        "$(awk -v w="$wall" -v c="$cpu" -v s="$scpu" -v r="$rtt_ms" -v n="$ncpu" 'BEGIN { print w / (2 * r / 1000 + (c + s) / n) }')"
done
if [ -n "${rbl_one:-}" ]; then
    printf 'check_rbl, one address per run: %.3f s (median of %d), peak RSS %d KiB; 1,024 runs: %.0f s in series\n' \
        "$rbl_one" "$sample" "$rbl_rss" "$(awk -v o="$rbl_one" -v n="$naddr" 'BEGIN { print o * n }')"
fi
printf 'runner steady round: %d queries for %d address x zone pairs = %.3f per pair (goal <= 1.1); relay lost %s\n' \
    "$((q2 - q1))" "$pairs" "$(awk -v q=$((q2 - q1)) -v p="$pairs" 'BEGIN { print q / p }')" "$lost"
exit 0
