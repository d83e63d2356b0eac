#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Benchmark of the exporter (`check_mailhealth run --listen`):
#   1. /metrics with N checks configured (default 10,000): scrape latency
#      (median and 95th percentile of R scrapes, curl's time_total) plain
#      and gzip, and the body sizes; beside the peer that serves the same
#      round today, node_exporter's textfile collector reading the runner's
#      textfile, and the floor, curl reading the same bytes from a file.
#      The checks are SMTP checks of a closed port (each fails at once), so
#      the round is quick; their exposition has the families every check
#      has (success, status, seven error series, failure info, duration,
#      connect phase).
#   2. /probe of an SMTP check with STARTTLS and a verified chain against
#      the lab's Postfix: the runner's CPU time per probe (utime + stime
#      from /proc, over P sequential probes) beside the one-shot command's
#      CPU time per check (the same check, P runs, /usr/bin/time).
#
# Not part of the pass/fail suite. Ports: LAB_PORT_BASE+85 and +86.
# Usage: tests/bench/bench_exporter.sh [--checks N] [--scrapes R] [--probes P]
# Environment: MH_BIN, MH_LAB_DIR as for the integration tests.
set -uo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
MH_BIN=${MH_BIN:-$SRC/build/check_mailhealth}
MH_LAB_DIR=${MH_LAB_DIR:-$SRC/build/lab}
N=10000
R=50
P=100
while [ $# -gt 0 ]; do
    case $1 in
    --checks) N=$2; shift 2 ;;
    --scrapes) R=$2; shift 2 ;;
    --probes) P=$2; shift 2 ;;
    *) echo "usage: $0 [--checks N] [--scrapes R] [--probes P]" >&2; exit 2 ;;
    esac
done
[ -f "$MH_LAB_DIR/lab.env" ] || { echo "needs the lab's lab.env in $MH_LAB_DIR" >&2; exit 2; }
# shellcheck disable=SC1091
. "$MH_LAB_DIR/lab.env"
P_HTTP=$((LAB_PORT_BASE + 85))
P_NODE=$((LAB_PORT_BASE + 86))
URL=http://127.0.0.1:$P_HTTP

TMP=$(mktemp -d /tmp/mh-bench-exp.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT

mkdir -p "$TMP/tf"
{
    printf '{ "interval_seconds": 86400, "timeout_seconds": 5, "concurrency": 16,\n'
    printf '  "textfile": "%s/tf/mailhealth.prom",\n' "$TMP"
    printf '  "exporter": { "modules": { "smtp_starttls": { "check": "smtp", "starttls": true,\n'
    printf '     "ca_file": "%s", "verify_name": "%s", "cert_days": "30,14" } } },\n' "$LAB_CA_FILE" "$LAB_MX_NAME"
    printf '  "checks": [\n'
    for ((i = 0; i < N; i++)); do
        printf '    { "name": "mx-%05d", "check": "smtp", "host": "127.0.0.1", "port": 1 }%s\n' \
            "$i" "$([ $i -lt $((N - 1)) ] && echo ,)"
    done
    printf '  ] }\n'
} >"$TMP/run.json"

"$MH_BIN" run --config "$TMP/run.json" --listen "127.0.0.1:$P_HTTP" >/dev/null 2>"$TMP/run.err" &
RUNNER=$!
PIDS+=("$RUNNER")
for _ in $(seq 600); do grep -q "round 1:" "$TMP/run.err" && break; sleep 0.5; done
grep -q "round 1:" "$TMP/run.err" || { echo "the first round did not end" >&2; tail "$TMP/run.err" >&2; exit 1; }

# stats FILE: median and p95 of the numbers in FILE, in ms.
stats() {
    sort -n "$1" | awk '{ v[NR] = $1 * 1000 } END {
        m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.95 + 0.5)]
        printf "median %7.2f ms   p95 %7.2f ms", m, p }'
}
# scrape NAME URL [CURL-ARGS...]: R scrapes, latency line and body size.
scrape() {
    local name=$1 url=$2 i
    shift 2
    : >"$TMP/t"
    for ((i = 0; i < R; i++)); do
        curl -s -o "$TMP/body" -w '%{time_total}\n' "$@" "$url" >>"$TMP/t"
    done
    printf '  %-44s %s   %9d bytes\n' "$name" "$(stats "$TMP/t")" "$(stat -c %s "$TMP/body")"
}

echo "== /metrics with $N checks ($R scrapes each)"
scrape "exporter /metrics, plain" "$URL/metrics"
scrape "exporter /metrics, gzip" "$URL/metrics" -H 'Accept-Encoding: gzip'
if command -v prometheus-node-exporter >/dev/null; then
    prometheus-node-exporter --web.listen-address="127.0.0.1:$P_NODE" \
        --collector.disable-defaults --collector.textfile \
        --collector.textfile.directory="$TMP/tf" >"$TMP/node.log" 2>&1 &
    PIDS+=("$!")
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$P_NODE/metrics" && break; sleep 0.2; done
    scrape "peer: node_exporter textfile, plain" "http://127.0.0.1:$P_NODE/metrics"
    scrape "peer: node_exporter textfile, gzip" "http://127.0.0.1:$P_NODE/metrics" -H 'Accept-Encoding: gzip'
fi
curl -s -o "$TMP/copy" "$URL/metrics"
scrape "floor: curl reading the bytes from a file" "file://$TMP/copy"

echo "== /probe smtp STARTTLS vs the one-shot command ($P each)"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)
before=$(cpu_ticks "$RUNNER")
t0=$(date +%s%N)
for ((i = 0; i < P; i++)); do
    curl -s -o "$TMP/probe" "$URL/probe?module=smtp_starttls&target=$LAB_HOST:$LAB_SMTP_PORT"
done
t1=$(date +%s%N)
after=$(cpu_ticks "$RUNNER")
grep -q 'mailhealth_probe_success{[^}]*} 1' "$TMP/probe" || echo "  (the last probe did not succeed)"
probe_ms=$(awk -v a="$before" -v b="$after" -v t="$TICK" -v n="$P" 'BEGIN { printf "%.2f", (b - a) / t / n * 1000 }')
printf '  %-44s %s ms CPU per probe, %.1f ms wall\n' "exporter /probe" "$probe_ms" \
    "$(awk -v a="$t0" -v b="$t1" -v n="$P" 'BEGIN { print (b - a) / 1e6 / n }')"
: >"$TMP/cpu"
for ((i = 0; i < P; i++)); do
    /usr/bin/time -f '%U %S' -a -o "$TMP/cpu" "$MH_BIN" smtp -H "$LAB_HOST" -p "$LAB_SMTP_PORT" \
        --starttls --ca-file "$LAB_CA_FILE" --verify-name "$LAB_MX_NAME" --cert-days 30,14 >/dev/null
done
one_ms=$(awk -v n="$P" '{ s += $1 + $2 } END { printf "%.2f", s / n * 1000 }' "$TMP/cpu")
printf '  %-44s %s ms CPU per check (process start included)\n' "one-shot check_mailhealth smtp" "$one_ms"
awk -v p="$probe_ms" -v o="$one_ms" 'BEGIN { if (o > 0) printf "  ratio /probe : one-shot = %.2f (target <= 1.1)\n", p / o }'
