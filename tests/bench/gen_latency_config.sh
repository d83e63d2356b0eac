#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Runner configuration for the latency benchmark (bench_latency.sh): N
# checks mixed like a mail operator's estate, each on its own loopback
# address (all of 127/8 reaches lo; latency_smtpd listens on the ports of
# every address), written to stdout.
#
#   smtp   SMTP + STARTTLS + chain verified against the bench CA +
#          cert_days 30,14, on SMTP_PORT, or on SLOW_PORT (greeting after
#          the server's greet delay) for GREET_SHARE % of them, spaced
#          evenly;
#   tls    implicit TLS (--tls: handshake and certificate checks only, like
#          port 465) on TLS_PORT, same CA and thresholds;
#   dnsbl  an unlisted address (10.x.y.z) on ZONES zones z1..zZONES.bench.test
#          (type ip4) through RESOLVER.
#
# Kinds are interleaved (each prefix of the list has the mix), targets are
# 127.BASE.y.z in order (z = 1..250), names are kind-NNNNN. Every check is
# expected to be OK: anything else is a spurious failure of the runner.
#
# Usage: gen_latency_config.sh --checks N --ca-file F --resolver IP:PORT
#          --textfile PATH [--mix S:T:D] [--greet-share PCT] [--zones Z]
#          [--concurrency N|default] [--interval S] [--timeout S]
#          [--smtp-port P] [--slow-port P] [--tls-port P] [--addr-base B]
# Not part of the pass/fail suite.
set -euo pipefail

checks='' ca='' resolver='' textfile=''
mix=60:20:20 share=5 zones=20 conc=default interval=60 timeout=10
smtp_port=2525 slow_port=2526 tls_port=4465 base=16
while [ $# -gt 0 ]; do
    case $1 in
    --checks) checks=$2 ;;
    --ca-file) ca=$2 ;;
    --resolver) resolver=$2 ;;
    --textfile) textfile=$2 ;;
    --mix) mix=$2 ;;
    --greet-share) share=$2 ;;
    --zones) zones=$2 ;;
    --concurrency) conc=$2 ;;
    --interval) interval=$2 ;;
    --timeout) timeout=$2 ;;
    --smtp-port) smtp_port=$2 ;;
    --slow-port) slow_port=$2 ;;
    --tls-port) tls_port=$2 ;;
    --addr-base) base=$2 ;;
    *) sed -n '/^# Usage/,/^# Not part/p' "$0" >&2; exit 2 ;;
    esac
    shift 2
done
[ -n "$checks" ] && [ -n "$ca" ] && [ -n "$resolver" ] && [ -n "$textfile" ] ||
    { echo "gen_latency_config.sh: --checks, --ca-file, --resolver and --textfile are required" >&2; exit 2; }

awk -v n="$checks" -v mix="$mix" -v share="$share" -v zones="$zones" \
    -v conc="$conc" -v interval="$interval" -v timeout="$timeout" \
    -v ca="$ca" -v resolver="$resolver" -v textfile="$textfile" \
    -v sp="$smtp_port" -v slp="$slow_port" -v tp="$tls_port" -v base="$base" '
function addr(i) {
    return sprintf("127.%d.%d.%d", base + int(i / 64000), int(i / 250) % 256, 1 + i % 250)
}
BEGIN {
    split(mix, m, ":")
    kinds[1] = "smtp"; kinds[2] = "tls"; kinds[3] = "dnsbl"
    tot = m[1] + m[2] + m[3]
    want[1] = int(n * m[1] / tot + 0.5); want[2] = int(n * m[2] / tot + 0.5)
    want[3] = n - want[1] - want[2]
    if (want[3] < 0) { want[2] += want[3]; want[3] = 0 }
    zl = ""
    for (z = 1; z <= zones; z++)
        zl = zl sprintf("%s\"z%d.bench.test:ip4\"", z > 1 ? ", " : "", z)
    printf "{ \"comment\": \"latency benchmark: %d checks, mix %s, %s %% slow greetings\",\n", n, mix, share
    printf "  \"interval_seconds\": %s, \"timeout_seconds\": %s,%s\n", interval, timeout,
        conc == "default" ? "" : sprintf(" \"concurrency\": %s,", conc)
    printf "  \"textfile\": \"%s\", \"resolver\": \"%s\",\n", textfile, resolver
    printf "  \"ca_file\": \"%s\", \"cert_days\": \"30,14\", \"sni\": \"mx.bench.test\",\n", ca
    printf "  \"verify_name\": \"mx.bench.test\", \"ehlo\": \"client.bench.test\",\n"
    printf "  \"checks\": [\n"
    nsmtp = 0
    for (i = 0; i < n; i++) {
        # the kind furthest behind its share of the first i+1 checks
        best = 0; bestd = -1e9
        for (k = 1; k <= 3; k++) {
            d = want[k] * (i + 1) / n - got[k]
            if (want[k] > got[k] && d > bestd) { bestd = d; best = k }
        }
        got[best]++
        sep = i < n - 1 ? "," : ""
        if (best == 1) {
            slow = int((nsmtp + 1) * share / 100) > int(nsmtp * share / 100)
            nsmtp++
            printf "    { \"name\": \"smtp-%05d\", \"check\": \"smtp\", \"host\": \"%s\", \"port\": %d, \"starttls\": true }%s\n",
                i, addr(i), slow ? slp : sp, sep
        } else if (best == 2) {
            printf "    { \"name\": \"tls-%05d\", \"check\": \"tls\", \"host\": \"%s\", \"port\": %d, \"tls\": true }%s\n",
                i, addr(i), tp, sep
        } else {
            printf "    { \"name\": \"dnsbl-%05d\", \"check\": \"dnsbl\", \"host\": \"10.%d.%d.%d\", \"zone\": [%s] }%s\n",
                i, int(i / 65536) % 256, int(i / 256) % 256, i % 256, zl, sep
        }
    }
    printf "  ] }\n"
}'
