#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Benchmark of the tls check, side by side with check_ssl_cert
# (monitoring-plugins-contrib) on the same server: the lab's Postfix,
# STARTTLS on LAB_SMTP_PORT, same trust anchor, same name. Not part of the
# pass/fail suite; prints a table and exits 1 when a target is missed:
#   - `tls` is at least 50 times faster (wall time) than
#     `check_ssl_cert -P smtp`;
#   - the certificate checks add no more than one handshake's CPU: the CPU
#     of `tls` (handshake + checks) minus `smtp` without TLS stays within
#     1.5 x the CPU of `smtp --starttls` (a handshake, no checks) minus
#     `smtp` without TLS.
#
# Usage: MH_BIN=build/check_mailhealth MH_LAB_DIR=DIR tests/bench/bench_tls.sh [N]
#   N runs of each mailhealth command (default 50); check_ssl_cert runs
#   max(3, N/10) times (it takes about a second and a half per run).
set -uo pipefail

MH_SOURCE_DIR=${MH_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MH_BIN=${MH_BIN:-$MH_SOURCE_DIR/build/check_mailhealth}
MH_LAB_DIR=${MH_LAB_DIR:-$MH_SOURCE_DIR/build/lab}
CHECK_SSL_CERT=${CHECK_SSL_CERT:-/usr/lib/nagios/plugins/check_ssl_cert}
N=${1:-50}
NC=$((N / 10 < 3 ? 3 : N / 10))

[ -f "$MH_LAB_DIR/lab.env" ] || {
    echo "bench_tls: no lab in $MH_LAB_DIR (tests/lab/lab.sh start DIR)" >&2
    exit 2
}
# shellcheck disable=SC1091
. "$MH_LAB_DIR/lab.env"
[ -x "$CHECK_SSL_CERT" ] || {
    echo "bench_tls: $CHECK_SSL_CERT missing (packaging/install-deps.sh installs monitoring-plugins-contrib)" >&2
    exit 2
}

HOST=127.0.0.1 # numeric: no resolver time in either tool
PORT=$LAB_SMTP_PORT
NAME=$LAB_MX_NAME

# measure RUNS CMD...: runs CMD RUNS times (output discarded, the exit code
# of the last run kept in LAST_RC); sets WALL (s per run) and CPU (user+sys
# s per run, the command and all its children: bash `times`).
measure() {
    local runs=$1
    shift
    local t0 t1 line
    t0=$(date +%s%N)
    line=$(
        for _ in $(seq "$runs"); do "$@" >/dev/null 2>&1; rc=$?; done
        echo "rc=$rc"
        times
    )
    t1=$(date +%s%N)
    LAST_RC=$(printf '%s\n' "$line" | sed -n 's/^rc=//p')
    WALL=$(awk -v a="$t0" -v b="$t1" -v n="$runs" 'BEGIN { printf "%.4f", (b - a) / 1e9 / n }')
    # Last line of `times`: children's user and system time ("0m1.234s 0m0.100s").
    CPU=$(printf '%s\n' "$line" | tail -n 1 | awk -v n="$runs" '
        function secs(t,   m, s) { m = t; sub(/m.*/, "", m); s = t; sub(/^[0-9]+m/, "", s); sub(/s$/, "", s); return m * 60 + s }
        { printf "%.4f", (secs($1) + secs($2)) / n }')
}

printf '%-58s %5s %10s %10s %3s\n' "command" "runs" "wall s" "cpu s" "rc"
row() {
    printf '%-58s %5s %10s %10s %3s\n' "$1" "$2" "$WALL" "$CPU" "$LAST_RC"
}

measure "$N" "$MH_BIN" smtp -H "$HOST" -p "$PORT"
row "mailhealth smtp (no TLS)" "$N"
plain_cpu=$CPU

measure "$N" "$MH_BIN" smtp -H "$HOST" -p "$PORT" --starttls --sni "$NAME" --ca-file "$LAB_CA_FILE"
row "mailhealth smtp --starttls (handshake, no cert checks)" "$N"
hs_cpu=$CPU

measure "$N" "$MH_BIN" tls -H "$HOST" -p "$PORT" --sni "$NAME" --ca-file "$LAB_CA_FILE"
row "mailhealth tls (STARTTLS, handshake + cert checks)" "$N"
tls_wall=$WALL
tls_cpu=$CPU
tls_rc=$LAST_RC

measure "$N" "$MH_BIN" tls -H "$HOST" -p "$LAB_SMTP_TLS_SELFSIGNED_PORT" --sni "$NAME" --ca-file "$LAB_CA_FILE"
row "mailhealth tls, self-signed (re-verification path)" "$N"

measure "$N" "$MH_BIN" tls -H "$HOST" -p "$LAB_SMTPS_PORT" --tls --sni "$NAME" --ca-file "$LAB_CA_FILE"
row "mailhealth tls --tls (implicit TLS, handshake only)" "$N"

# Informational: the system trust store instead of --ca-file (the lab's
# root is not in it, so this ends CRITICAL "unknown issuer"; the time shows
# the cost of loading the store, which is transport.c's).
measure "$N" "$MH_BIN" tls -H "$HOST" -p "$PORT" --sni "$NAME"
row "mailhealth tls, system trust store (informational)" "$N"

measure "$NC" "$CHECK_SSL_CERT" -H "$HOST" -p "$PORT" -P smtp --sni "$NAME" -m "$NAME" \
    --rootcert-file "$LAB_CA_FILE" --ignore-sct
row "check_ssl_cert -P smtp (same server, same checks)" "$NC"
csc_wall=$WALL
csc_cpu=$CPU
csc_rc=$LAST_RC

echo
rc=0
ratio=$(awk -v a="$csc_wall" -v b="$tls_wall" 'BEGIN { printf "%.0f", a / b }')
cpu_ratio=$(awk -v a="$csc_cpu" -v b="$tls_cpu" 'BEGIN { printf "%.0f", (b > 0 ? a / b : 0) }')
echo "wall time: check_ssl_cert ${csc_wall}s / tls ${tls_wall}s = ${ratio}x (target >= 50x); CPU ${cpu_ratio}x"
if [ "$tls_rc" != 0 ] || [ "$csc_rc" != 0 ]; then
    echo "note: exit codes tls=$tls_rc check_ssl_cert=$csc_rc (both should be 0 on the lab's valid chain)"
fi
awk -v r="$ratio" 'BEGIN { exit !(r >= 50) }' || rc=1
extra=$(awk -v t="$tls_cpu" -v h="$hs_cpu" -v p="$plain_cpu" 'BEGIN { printf "%.4f", t - p }')
one=$(awk -v h="$hs_cpu" -v p="$plain_cpu" 'BEGIN { printf "%.4f", h - p }')
echo "TLS part CPU: tls - plain = ${extra}s; one handshake (smtp --starttls - plain) = ${one}s"
awk -v e="$extra" -v o="$one" 'BEGIN { exit !(e <= 1.5 * o + 0.002) }' || rc=1
[ "$rc" -eq 0 ] && echo "bench_tls: targets met" || echo "bench_tls: TARGET MISSED"
exit "$rc"
