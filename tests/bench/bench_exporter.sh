#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Benchmark of the exporter (`check_mailhealth run --listen`):
#   1. /metrics with N checks configured (default 10,000): scrape latency
#      of R scrapes, plain and gzip: the whole answer (curl's time_total,
#      body read and dropped) and its first byte (time_starttransfer: the
#      server's part), median, 95th and 99th percentile, and the body
#      sizes; beside the peer that serves the same round today,
#      node_exporter's textfile collector reading the runner's textfile
#      (10 scrapes: it takes seconds), nginx sending the same bytes from a
#      file (sendfile: what HTTP over loopback costs for this size), and
#      the floor, curl reading the same bytes from a file.
#      The checks are SMTP checks of a closed port (each fails at once), so
#      the round is quick; their exposition has the families every check
#      has (success, status, seven error series, failure info, duration,
#      connect phase).
#   2. /probe of an SMTP check with STARTTLS and a verified chain against
#      the lab's Postfix: the runner's CPU time per probe (utime + stime
#      from /proc, over P sequential probes) beside the one-shot command's
#      CPU time per check (the same check, P runs, /usr/bin/time).
#
# Not part of the pass/fail suite. Ports: LAB_PORT_BASE+85 .. +87.
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
P_NGINX=$((LAB_PORT_BASE + 87))
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

"$MH_BIN" run --config "$TMP/run.json" --listen "127.0.0.1:$P_HTTP" -v >/dev/null 2>"$TMP/run.err" &
RUNNER=$!
PIDS+=("$RUNNER")
for _ in $(seq 600); do grep -q "round 1:" "$TMP/run.err" && break; sleep 0.5; done
grep -q "round 1:" "$TMP/run.err" || { echo "the first round did not end" >&2; tail "$TMP/run.err" >&2; exit 1; }

# stats FILE COLUMN: median, p95 and p99 of a column of FILE, in ms.
stats() {
    awk -v c="$2" '{ print $c }' "$1" | sort -n | awk '{ v[NR] = $1 * 1000 } END {
        i95 = int(NR * 0.95 + 0.5); i99 = int(NR * 0.99 + 0.5)
        printf "median %7.2f  p95 %7.2f  p99 %7.2f ms", v[int((NR + 1) / 2)], v[i95 < 1 ? 1 : i95], v[i99 < 1 ? 1 : i99] }'
}
# scrape NAME URL COUNT [CURL-ARGS...]: COUNT scrapes; lines for the whole
# answer and its first byte, and the body size.
scrape() {
    local name=$1 url=$2 count=$3 i
    shift 3
    : >"$TMP/t"
    for ((i = 0; i < count; i++)); do
        curl -s -o /dev/null -w '%{time_total} %{time_starttransfer} %{size_download}\n' "$@" "$url" >>"$TMP/t"
    done
    printf '  %-42s whole      %s  %9d bytes\n' "$name" "$(stats "$TMP/t" 1)" "$(tail -1 "$TMP/t" | awk '{ print $3 }')"
    case $url in file:*) return ;; esac
    printf '  %-42s first byte %s\n' "" "$(stats "$TMP/t" 2)"
}

echo "== /metrics with $N checks ($R scrapes each)"
# Made once per round on the runner's thread, not per scrape.
sed -n 's/.*exporter: round rendered for \/metrics: /  once per round: rendered /p' "$TMP/run.err" | head -1
scrape "exporter /metrics, plain" "$URL/metrics" "$R"
scrape "exporter /metrics, gzip" "$URL/metrics" "$R" -H 'Accept-Encoding: gzip'
if command -v prometheus-node-exporter >/dev/null; then
    prometheus-node-exporter --web.listen-address="127.0.0.1:$P_NODE" \
        --collector.disable-defaults --collector.textfile \
        --collector.textfile.directory="$TMP/tf" >"$TMP/node.log" 2>&1 &
    PIDS+=("$!")
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$P_NODE/metrics" && break; sleep 0.2; done
    scrape "peer: node_exporter textfile, plain" "http://127.0.0.1:$P_NODE/metrics" 10
    scrape "peer: node_exporter textfile, gzip" "http://127.0.0.1:$P_NODE/metrics" 10 -H 'Accept-Encoding: gzip'
fi
mkdir -p "$TMP/www" "$TMP/ngx"
curl -s -o "$TMP/www/metrics" "$URL/metrics"
if command -v nginx >/dev/null; then
    cat >"$TMP/ngx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
error_log $TMP/ngx/error.log;
pid $TMP/ngx/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $TMP/ngx; proxy_temp_path $TMP/ngx;
    fastcgi_temp_path $TMP/ngx; uwsgi_temp_path $TMP/ngx; scgi_temp_path $TMP/ngx;
    sendfile on;
    tcp_nopush on;
    server { listen 127.0.0.1:$P_NGINX; root $TMP/www; default_type text/plain; }
}
EOF
    nginx -c "$TMP/ngx/nginx.conf" -p "$TMP/ngx" >/dev/null 2>&1 &
    PIDS+=("$!")
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$P_NGINX/metrics" && break; sleep 0.2; done
    scrape "limit: nginx sendfile of the same bytes" "http://127.0.0.1:$P_NGINX/metrics" "$R"
fi
scrape "floor: curl reading the bytes from a file" "file://$TMP/www/metrics" "$R"

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
