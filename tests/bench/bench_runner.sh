#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Benchmark of `check_mailhealth run`: one --once round of N
# SMTP+STARTTLS checks (certificate verified against the lab CA, cert_days
# thresholds) for N in 10, 100, 1000, reporting the round's wall time, the
# runner's CPU time (user + sys) and its peak RSS, to show that the cost
# grows linearly and to compare with the target: 1,000 SMTP+TLS checks
# within a 60 s interval on a 2-core machine, using under a quarter of the
# CPU (30 CPU-seconds per 60 s interval on 2 cores).
#
# Not part of the pass/fail suite.
#
# Usage: tests/bench/bench_runner.sh [--target lab|fault] [--counts "10 100 1000"]
#                                    [--concurrency N] [--repeat R]
#   --target lab    (default) the lab's Postfix on LAB_SMTP_PORT (STARTTLS);
#                   needs a running lab (MH_LAB_DIR, default build/lab)
#   --target fault  the fault server playing normal-tls-ok.fs (one forked
#                   child per connection; needs only MH_FAULTSERVER and the
#                   lab's certificates in CERT_DIR or MH_LAB_DIR)
# Environment: MH_BIN, MH_FAULTSERVER, MH_LAB_DIR as for the integration
# tests (tests/integration/lib.sh).
set -uo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
MH_BIN=${MH_BIN:-$SRC/build/check_mailhealth}
MH_FAULTSERVER=${MH_FAULTSERVER:-$SRC/build/tests/faultserver/mh_faultserver}
MH_LAB_DIR=${MH_LAB_DIR:-$SRC/build/lab}
TARGET=lab
COUNTS="10 100 1000"
CONC=16
REPEAT=1
while [ $# -gt 0 ]; do
    case $1 in
    --target) TARGET=$2; shift 2 ;;
    --counts) COUNTS=$2; shift 2 ;;
    --concurrency) CONC=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    *) echo "usage: $0 [--target lab|fault] [--counts \"10 100 1000\"] [--concurrency N] [--repeat R]" >&2; exit 2 ;;
    esac
done
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian package time)" >&2; exit 2; }
[ -f "$MH_LAB_DIR/lab.env" ] || { echo "needs the lab's lab.env in $MH_LAB_DIR (certificates, ports)" >&2; exit 2; }
# shellcheck disable=SC1091
. "$MH_LAB_DIR/lab.env"

TMP=$(mktemp -d /tmp/mh-bench-run.XXXXXX)
FS_PID=
cleanup() {
    [ -n "$FS_PID" ] && kill "$FS_PID" 2>/dev/null && wait "$FS_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

HOST=$LAB_HOST
PORT=$LAB_SMTP_PORT
if [ "$TARGET" = fault ]; then
    export CERT_DIR=$LAB_CERT_DIR
    "$MH_FAULTSERVER" --script "$SRC/tests/faultserver/scenarios/normal-tls-ok.fs" \
        --port 0 --port-file "$TMP/port" --sessions 0 --max-seconds 3600 \
        >"$TMP/fs.log" 2>&1 &
    FS_PID=$!
    for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
    PORT=$(cat "$TMP/port")
    HOST=127.0.0.1
fi

# config N: N SMTP+STARTTLS checks, each with its own name (target label).
config() {
    local n=$1 i
    {
        printf '{ "timeout_seconds": 10, "concurrency": %d, "textfile": "%s/n%d.prom",\n' "$CONC" "$TMP" "$n"
        printf '  "resolver": "%s", "ca_file": "%s", "sni": "%s", "cert_days": "30,14",\n' \
            "$LAB_RESOLVER" "$LAB_CA_FILE" "$LAB_MX_NAME"
        printf '  "checks": [\n'
        for ((i = 0; i < n; i++)); do
            printf '    { "name": "mx-%04d", "check": "smtp", "host": "%s", "port": %d, "starttls": true }%s\n' \
                "$i" "$HOST" "$PORT" "$([ $i -lt $((n - 1)) ] && echo ,)"
        done
        printf '  ] }\n'
    } >"$TMP/n$n.json"
}

echo "check_mailhealth run --once: SMTP+STARTTLS checks against $TARGET ($HOST:$PORT), concurrency $CONC"
echo "machine: $(nproc) CPUs, $(uname -r); binary: $MH_BIN"
printf '%6s %8s %8s %8s %8s %9s %8s %9s %7s\n' checks wall_s user_s sys_s cpu_s cpu_ms/chk rss_MiB cpu%60s/2c ok
for n in $COUNTS; do
    config "$n"
    for ((r = 0; r < REPEAT; r++)); do
        /usr/bin/time -f '%e %U %S %M' -o "$TMP/time" \
            "$MH_BIN" run --config "$TMP/n$n.json" --once 2>"$TMP/log" ||
            { echo "run failed:"; tail -5 "$TMP/log"; continue; }
        read -r wall user sys rss <"$TMP/time"
        okn=$(grep -c '^mailhealth_probe_success{.*} 1$' "$TMP/n$n.prom")
        awk -v n="$n" -v w="$wall" -v u="$user" -v s="$sys" -v m="$rss" -v ok="$okn" 'BEGIN {
            c = u + s
            printf "%6d %8.2f %8.2f %8.2f %8.2f %9.2f %8.1f %8.2f%% %7d\n",
                n, w, u, s, c, 1000 * c / n, m / 1024, 100 * c / (60 * 2), ok }'
    done
done
echo "cpu%60s/2c: the round's CPU time as a share of one 60 s interval on 2 cores (target < 25%)."
