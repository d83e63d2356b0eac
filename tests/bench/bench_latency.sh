#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Latency benchmark of `check_mailhealth run --once`: one round of N mixed
# checks against servers that are RTT away, with one or two binaries run
# alternately in the same invocation (today's runner and a candidate), so
# their figures are side by side under the same machine load.
#
# What runs (all inside the current network namespace, which must not be
# the host's: run it with `ip netns exec mh-NAME`):
#   latency_smtpd   C/epoll SMTP + STARTTLS and implicit-TLS servers: every
#                   reply and every TLS record leaves RTT after the bytes
#                   that caused it; the first also carries the TCP
#                   handshake's RTT (--connect-rtts); GREET_SHARE % of the
#                   smtp targets greet after GREET_DELAY (postscreen).
#                   ECDSA P-256 chain from a bench CA made here.
#   delay_dnsrelay  UDP relay answering every query RTT after it arrived,
#   rbldnsd         in front of ZONES DNSBL zones z1..zZONES.bench.test.
#   gen_latency_config.sh  the runner configuration (targets 127.16.y.z).
#   runstat         the runner's wall, user+sys CPU (wait4 rusage, µs),
#                   peak RSS, and peak threads and descriptors (sampled
#                   from /proc every SAMPLE_MS).
# Round trips per check (RT): smtp = connect + greeting + EHLO + STARTTLS +
# TLS handshake + EHLO + QUIT = 6 + CONNECT_RTTS; tls (implicit) = handshake
# + CONNECT_RTTS; dnsbl = 1 (every query of every zone at once). A lone
# check of each kind is timed first ("calibration") to confirm them.
#
# Physical limit of a round = max RT x RTT + the slowest greeting +
# CPU / cores, where CPU is the runner's own user+sys time ("limit") or
# the runner's plus the test servers' (latency_smtpd,
# delay_dnsrelay, rbldnsd: they share the cores; "limit_m"). Ratio = wall /
# limit. Spurious failures: every generated check should be OK; any other
# result (and any check missing from the textfile) is one, timeouts are
# counted apart.
#
# Usage: tests/bench/bench_latency.sh [options] BINARY [CANDIDATE]
#   --rtt MS              round-trip time (default 100)
#   --checks "N ..."      round sizes (default 1000)
#   --greet-share PCT     % of smtp targets greeting late (default 5)
#   --greet-delay S       their greeting delay (default 6)
#   --concurrency N|default  the config's concurrency (default: key omitted,
#                         the binary's default)
#   --mix S:T:D           smtp:tls:dnsbl shares (default 60:20:20)
#   --zones Z             DNSBL zones per dnsbl check (default 20)
#   --repeat R            rounds per binary and size, alternating (default 1)
#   --interval S          the config's interval_seconds (default 60)
#   --timeout S           the config's timeout_seconds (default 10)
#   --smtp-cpu N          also one smtp-only round of N checks per binary,
#                         for the CPU per SMTP check (default 0: skipped)
#   --connect-rtts N      RTTs added to a connection's first reply (default 1)
#   --server-procs K      latency_smtpd worker processes (default 2)
#   --server-cpus LIST    taskset CPU list for the servers (default: none)
#   --runner-cpus LIST    taskset CPU list for the runner (default: none)
#   --server-prio P       the servers' scheduling: nice:N (default nice:-20),
#                         rt:N (SCHED_FIFO priority N) or none; see below
#   --sample-ms MS        /proc sampling interval (default 100)
#   --keep DIR            keep configs, textfiles, logs, traces in DIR
# The servers run at a higher priority than the runner (nice -20 by default)
# so that a runner with a thousand threads, or the other users of a shared
# machine, do not make them late: each round's "servers:" line counts the
# replies written over 10 ms after their time, the UDP datagrams dropped for
# a full receive buffer and the connections dropped for a full accept queue
# in the namespace; all should be 0 or near it for the round to measure the
# runner and not the servers.
# Prints one line per round, a side-by-side summary (medians of the
# repeats) and the target lines of the event-loop runner (pass/fail, not a
# test). Not part of the pass/fail suite.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
RTT=100 CHECKS=1000 SHARE=5 GDELAY=6 CONC=default MIX=60:20:20 ZONES=20
REPEAT=1 INTERVAL=60 TIMEOUT=10 SMTPCPU=0 CRTT=1 SPROCS=2 SCPUS='' RCPUS='' SPRIO=nice:-20
SAMPLE=100 KEEP=
usage() {
    sed -n '/^# Usage:/,/^# test)/p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
    --rtt) RTT=$2 ;;
    --checks) CHECKS=$2 ;;
    --greet-share) SHARE=$2 ;;
    --greet-delay) GDELAY=$2 ;;
    --concurrency) CONC=$2 ;;
    --mix) MIX=$2 ;;
    --zones) ZONES=$2 ;;
    --repeat) REPEAT=$2 ;;
    --interval) INTERVAL=$2 ;;
    --timeout) TIMEOUT=$2 ;;
    --smtp-cpu) SMTPCPU=$2 ;;
    --connect-rtts) CRTT=$2 ;;
    --server-procs) SPROCS=$2 ;;
    --server-cpus) SCPUS=$2 ;;
    --runner-cpus) RCPUS=$2 ;;
    --server-prio) SPRIO=$2 ;;
    --sample-ms) SAMPLE=$2 ;;
    --keep) KEEP=$2 ;;
    -h | --help) usage ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) break ;;
    esac
    shift 2
done
[ $# -ge 1 ] && [ $# -le 2 ] || usage
BINS=("$@")
LABELS=(A B)
for b in "${BINS[@]}"; do
    [ -x "$b" ] || { echo "not executable: $b" >&2; exit 2; }
done
# `ip netns identify` names the namespace this shell is in (nothing in the
# initial one); /proc/1/ns/net may not be readable in a container.
if [ -z "$(ip netns identify $$ 2>/dev/null)" ]; then
    echo "bench_latency.sh binds 0.0.0.0 ports and changes sysctls: run it in a network namespace" >&2
    echo "  ip netns add mh-NAME; ip netns exec mh-NAME ip link set lo up" >&2
    echo "  ip netns exec mh-NAME $0 $*" >&2
    exit 2
fi
for t in rbldnsd openssl cc taskset; do
    command -v "$t" >/dev/null || { echo "needs $t (packaging/install-deps.sh)" >&2; exit 2; }
done

W=$(mktemp -d /tmp/mh-bench-latency.XXXXXX)
chmod 755 "$W" # rbldnsd reads its zone as user rbldns
mkdir -p "$W/bin" "$W/pki" "$W/rbl" "$W/run" "$W/cfg" "$W/out"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    if [ -n "$KEEP" ]; then
        mkdir -p "$KEEP" && cp -r "$W/cfg" "$W/out" "$W/run" "$KEEP/"
    fi
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- set-up
ip link set lo up 2>/dev/null
# as high as the hard limit allows (raising the hard limit needs
# CAP_SYS_RESOURCE, which a container may not grant)
ulimit -Hn 1048576 2>/dev/null
ulimit -n "$(ulimit -Hn)"
sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
    net.ipv4.ip_local_port_range="10000 65000" 2>/dev/null ||
    echo "note: could not raise somaxconn / syn backlog / port range" >&2

CFLAGS=(-O2 -g -std=gnu11 -Wall -Wextra -Werror)
cc "${CFLAGS[@]}" -o "$W/bin/latency_smtpd" "$HERE/latency_smtpd.c" -lssl -lcrypto &&
    cc "${CFLAGS[@]}" -o "$W/bin/delay_dnsrelay" "$HERE/delay_dnsrelay.c" &&
    cc "${CFLAGS[@]}" -o "$W/bin/runstat" "$HERE/runstat.c" ||
    { echo "cannot build the benchmark's servers" >&2; exit 2; }
RUNSTAT=$W/bin/runstat

# Bench PKI: root -> intermediate -> leaf mx.bench.test, all ECDSA P-256
# (cheap signatures: the servers' TLS CPU stays small).
pki() {
    local d=$W/pki
    cat >"$d/ext.cnf" <<'EOF'
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:mx.bench.test
EOF
    for k in root inter leaf; do
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/$k.key" || return 1
    done
    openssl req -x509 -new -key "$d/root.key" -subj "/CN=mailhealth Bench Root CA" \
        -days 3650 -sha256 -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$d/root.pem" &&
        openssl req -new -key "$d/inter.key" -subj "/CN=mailhealth Bench Intermediate CA" |
        openssl x509 -req -CA "$d/root.pem" -CAkey "$d/root.key" -set_serial 2 -days 1825 \
            -sha256 -extfile "$d/ext.cnf" -extensions ca -out "$d/inter.pem" &&
        openssl req -new -key "$d/leaf.key" -subj "/CN=mx.bench.test" |
        openssl x509 -req -CA "$d/inter.pem" -CAkey "$d/inter.key" -set_serial 3 -days 90 \
            -sha256 -extfile "$d/ext.cnf" -extensions leaf -out "$d/leaf.pem" &&
        cat "$d/leaf.pem" "$d/inter.pem" >"$d/chain.pem"
} 2>"$W/run/pki.log"
pki || { cat "$W/run/pki.log" >&2; exit 2; }
CA=$W/pki/root.pem

SMTP_PORT=2525 SLOW_PORT=2526 TLS_PORT=4465
RBL_ADDR=127.0.53.1 RBL_PORT=5300 RESOLVER=127.0.53.2:53
pin() { if [ -n "$1" ]; then echo taskset -c "$1"; fi; }
# srv CMD...: runs a server with its CPUs and priority; only as `srv ... &`
# (it execs, so $! is the server's own PID).
case $SPRIO in
nice:*) PRIO=(nice -n "${SPRIO#nice:}") ;;
rt:*) PRIO=(chrt -f "${SPRIO#rt:}") ;;
none) PRIO=() ;;
*) echo "bad --server-prio $SPRIO" >&2; exit 2 ;;
esac
srv() {
    # shellcheck disable=SC2046 # pin expands to nothing or to three words
    exec "${PRIO[@]}" $(pin "$SCPUS") "$@"
}

# shellcheck disable=SC2016 # rbldnsd's $SOA/$NS keywords and $ (the address)
printf '%s\n' '$SOA 60 ns.bench.test hostmaster.bench.test 1 60 60 600 5' \
    '$NS 60 ns.bench.test' ':127.0.0.2:Listed: test entry for $' '127.0.0.2' >"$W/rbl/bench.zone"
chmod 644 "$W/rbl/bench.zone"
zone_args=()
for ((z = 1; z <= ZONES; z++)); do zone_args+=("z$z.bench.test:ip4set:bench.zone"); done
srv rbldnsd -n -u rbldns -b "$RBL_ADDR/$RBL_PORT" -p "$W/run/rbldnsd.pid" -a -c 0 \
    -t 60 -w "$W/rbl" "${zone_args[@]}" >"$W/run/rbldnsd.log" 2>&1 &
PIDS+=($!)
RBL_PID=$!
srv "$W/bin/delay_dnsrelay" --listen "$RESOLVER" --upstream "$RBL_ADDR:$RBL_PORT" \
    --rtt-ms "$RTT" --stats "$W/run/relay.stats" >"$W/run/relay.log" 2>&1 &
PIDS+=($!)
RELAY_PID=$!
srv "$W/bin/latency_smtpd" --cert "$W/pki/chain.pem" --key "$W/pki/leaf.key" \
    --rtt-ms "$RTT" --connect-rtts "$CRTT" --greet-delay-ms "$(awk -v s="$GDELAY" 'BEGIN { print s * 1000 }')" \
    --smtp-port "$SMTP_PORT" --slow-port "$SLOW_PORT" --tls-port "$TLS_PORT" \
    --procs "$SPROCS" --stats "$W/run/smtpd.stats" >"$W/run/smtpd.log" 2>&1 &
PIDS+=($!)
SMTPD_PID=$!

ready=
for _ in $(seq 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/$TLS_PORT) 2>/dev/null &&
        dig +time=1 +tries=1 -p "${RBL_PORT}" @"$RBL_ADDR" 2.0.0.127.z1.bench.test A +short 2>/dev/null | grep -q 127.0.0.2; then
        ready=1
        break
    fi
    sleep 0.1
done
[ -n "$ready" ] || { echo "servers did not start:"; tail -n 5 "$W"/run/*.log; exit 2; } >&2

# Server-side counters: SIGUSR1 makes every latency_smtpd worker and the
# relay write theirs; snapshot FILE sums them (CPU in µs, rbldnsd's from
# /proc in clock ticks).
SNAP=0
TICK=$(getconf CLK_TCK)
snapshot() {
    local p
    for p in "$SMTPD_PID" "$RELAY_PID" "$RBL_PID"; do
        kill -0 "$p" 2>/dev/null || { echo "a server died:"; tail -n 3 "$W"/run/*.log; exit 2; } >&2
    done
    SNAP=$((SNAP + 1))
    kill -USR1 "$SMTPD_PID" "$RELAY_PID"
    local f ok
    for _ in $(seq 200); do
        ok=1
        for f in "$W/run/relay.stats" $(seq -f "$W/run/smtpd.stats.%g" 0 $((SPROCS - 1))); do
            [ "$(awk '/^dumps/ { print $2 }' "$f" 2>/dev/null)" = "$SNAP" ] || ok=
        done
        [ -n "$ok" ] && break
        sleep 0.02
    done
    [ -n "$ok" ] || echo "warning: server counters not updated" >&2
    {
        cat "$W"/run/smtpd.stats.[0-9]* | awk '
            /^cpu_us/ { cpu += $2 }
            /^(smtp|slow|tls) / { for (i = 2; i < NF; i += 2) c[$1 "_" $i] += $(i + 1) }
            /^open/ { mo += $4 }
            /^late/ { late += $2; if ($4 > lm) lm = $4 }
            END { printf "smtpd_cpu_us %d\nsmtpd_max_open %d\nsmtpd_late %d\nsmtpd_late_max_us %d\n", cpu, mo, late, lm
                  for (k in c) printf "%s %d\n", k, c[k] }'
        awk '/^cpu_us/ { print "relay_cpu_us", $2 }
            /^queries/ { print "relay_queries", $2; print "relay_answers", $4; print "relay_lost", $12 }
            /^behind/ { print "relay_late", $2; print "relay_late_max_us", $4 }' "$W/run/relay.stats"
        awk -v t="$TICK" '{ printf "rbldnsd_cpu_us %d\n", ($14 + $15) * 1e6 / t }' "/proc/$RBL_PID/stat"
        # the namespace's drops: UDP for full receive buffers, TCP for full
        # accept queues (SYNs dropped)
        awk '$1 == "Udp:" && !h { for (i = 2; i <= NF; i++) n[i] = $i; h = 1; next }
            $1 == "Udp:" { for (i = 2; i <= NF; i++) if (n[i] == "RcvbufErrors") print "udp_rcvbuf_errors", $i }' /proc/net/snmp
        awk '$1 == "TcpExt:" && !h { for (i = 2; i <= NF; i++) n[i] = $i; h = 1; next }
            $1 == "TcpExt:" { for (i = 2; i <= NF; i++) if (n[i] == "ListenDrops") print "tcp_listen_drops", $i }' /proc/net/netstat
        # the drops of rbldnsd's and the relay's listening sockets (the
        # rest are the runner's, or the relay's upstream sockets')
        awk -v r="$(hexaddr "$RBL_ADDR" "$RBL_PORT")" -v l="$(hexaddr "${RESOLVER%:*}" "${RESOLVER#*:}")" '
            $2 == r { rd += $NF } $2 == l { ld += $NF }
            END { print "udp_drops_rbldnsd", rd + 0; print "udp_drops_relay", ld + 0 }' /proc/net/udp
    } >"$1"
}
# hexaddr IP PORT: the address as /proc/net/udp writes it (little endian).
hexaddr() {
    local IFS=.
    # shellcheck disable=SC2086 # split on the dots
    set -- $1 "$2"
    printf '%02X%02X%02X%02X:%04X' "$4" "$3" "$2" "$1" "$5"
}
# delta BEFORE AFTER KEY: the counter's growth.
delta() { awk -v k="$3" 'FNR == NR { if ($1 == k) b = $2; next } $1 == k { print $2 - b }' "$1" "$2"; }

# ------------------------------------------------------------ machine
NCPU=$(nproc)
echo "== latency benchmark: check_mailhealth run --once"
echo "machine: $NCPU CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -n 1)), $(uname -r), $(free -g | awk '/^Mem:/ { print $2 }') GiB; load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in "${!BINS[@]}"; do echo "binary ${LABELS[$i]}: ${BINS[$i]}"; done
echo "RTT ${RTT} ms (+${CRTT} RTT on a connection's first reply), ${SHARE} % of smtp targets greet after ${GDELAY} s," \
    "mix smtp:tls:dnsbl ${MIX}, ${ZONES} zones, concurrency ${CONC}, timeout ${TIMEOUT} s, interval ${INTERVAL} s"
echo "servers: latency_smtpd x${SPROCS}, delay_dnsrelay + rbldnsd${SCPUS:+ on CPUs $SCPUS}, priority $SPRIO; runner${RCPUS:+ on CPUs $RCPUS}; fds limit $(ulimit -n)"

RT_SMTP=$((6 + CRTT)) RT_TLS=$((1 + CRTT)) RT_DNSBL=1

# ------------------------------------------------------------ calibration
echo
echo "-- calibration: one check of each kind alone, the fastest of 3 (wall / RTT = round trips; expected smtp $RT_SMTP, tls $RT_TLS, dnsbl $RT_DNSBL)"
zl=()
for ((z = 1; z <= ZONES; z++)); do zl+=(--zone "z$z.bench.test:ip4"); done
TLSOPT=(--ca-file "$CA" --cert-days '30,14' --sni mx.bench.test --verify-name mx.bench.test)
calib_fail=0
for i in "${!BINS[@]}"; do
    b=${BINS[$i]}
    for kind in smtp slow tls dnsbl; do
        case $kind in
        smtp) cmd=("$b" smtp -H 127.15.0.1 -p "$SMTP_PORT" --starttls --ehlo client.bench.test "${TLSOPT[@]}") ;;
        slow) cmd=("$b" smtp -H 127.15.0.2 -p "$SLOW_PORT" --starttls --ehlo client.bench.test "${TLSOPT[@]}") ;;
        tls) cmd=("$b" tls -H 127.15.0.3 -p "$TLS_PORT" --tls "${TLSOPT[@]}") ;;
        dnsbl) cmd=("$b" dnsbl -H 10.255.0.1 --resolver "$RESOLVER" "${zl[@]}") ;;
        esac
        # the fastest of 3 (the machine is shared)
        for _ in 1 2 3; do
            "$RUNSTAT" --out "$W/run/calib.stat" "${cmd[@]}" -t "$TIMEOUT" >"$W/run/calib.out" 2>&1
            cat "$W/run/calib.stat"
        done | sort -n | head -n 1 >"$W/run/calib.best"
        read -r wall user sys _ _ _ _ rc <"$W/run/calib.best"
        [ "$rc" = 0 ] || calib_fail=1
        awk -v l="${LABELS[$i]}" -v k="$kind" -v w="$wall" -v u="$user" -v s="$sys" -v r="$RTT" \
            -v g="$([ "$kind" = slow ] && echo "$GDELAY" || echo 0)" -v rc="$rc" -v st="$(head -n 1 "$W/run/calib.out" | cut -c 1-90)" \
            'BEGIN { printf "  %s %-5s wall %6.3f s = %4.2f RTT%s, CPU %5.1f ms, exit %d: %s\n",
                l, k, w, (w - g) / (r / 1000), (g > 0 ? sprintf(" + %g s", g) : ""), 1000 * (u + s), rc, st }'
    done
done
[ "$calib_fail" = 0 ] || echo "warning: a calibration check was not OK: the rounds will report spurious failures" >&2

# ------------------------------------------------------------ rounds
# round LABEL BIN N MIX: one --once round; appends a result line to RES.
RES=$W/out/results
: >"$RES"
printf '\n%-2s %6s %5s %8s %8s %7s %7s %6s %6s %9s %8s %6s %8s %6s %9s %s\n' \
    bin checks conc wall_s cpu_s ms/chk rss_MiB thr fds spur/tmo limit_s ratio limit_m ratio_m srv_cpu_s load
round() {
    local label=$1 bin=$2 n=$3 mix=$4 tag=$1-$3-${4//:/_}-$5
    local cfg=$W/cfg/n$n-${mix//:/_}.json
    [ -f "$cfg" ] || "$HERE/gen_latency_config.sh" --checks "$n" --mix "$mix" --greet-share "$SHARE" \
        --zones "$ZONES" --concurrency "$CONC" --interval "$INTERVAL" --timeout "$TIMEOUT" \
        --ca-file "$CA" --resolver "$RESOLVER" --textfile "$W/out/unused.prom" \
        --smtp-port "$SMTP_PORT" --slow-port "$SLOW_PORT" --tls-port "$TLS_PORT" >"$cfg"
    local load prom=$W/out/$tag.prom
    load=$(cut -d' ' -f1 /proc/loadavg)
    snapshot "$W/out/$tag.before"
    # shellcheck disable=SC2046
    "$RUNSTAT" --interval-ms "$SAMPLE" --trace "$W/out/$tag.trace" --out "$W/out/$tag.stat" \
        $(pin "$RCPUS") "$bin" run --config "$cfg" --once --textfile "$prom" \
        >/dev/null 2>"$W/out/$tag.log"
    snapshot "$W/out/$tag.after"
    local wall user sys rss thr fds rc srv k
    read -r wall user sys rss thr fds _ rc <"$W/out/$tag.stat"
    srv=0
    for k in smtpd_cpu_us relay_cpu_us rbldnsd_cpu_us; do
        srv=$((srv + $(delta "$W/out/$tag.before" "$W/out/$tag.after" $k)))
    done
    # expected kinds and slow greetings, from the config itself
    local nsmtp ntls ndnsbl nslow
    nsmtp=$(grep -c '"check": "smtp"' "$cfg")
    ntls=$(grep -c '"check": "tls"' "$cfg")
    ndnsbl=$(grep -c '"check": "dnsbl"' "$cfg")
    nslow=$(grep -c "\"port\": $SLOW_PORT" "$cfg")
    # results: OK, not OK, timeouts, missing; failure reasons by kind
    local ok bad tmo reasons
    read -r ok bad tmo < <(awk '
        /^mailhealth_probe_success\{/ { if ($NF == 1) ok++; else bad++ }
        /^mailhealth_probe_failure_info\{/ && /category="timeout"/ { tmo++ }
        END { print ok + 0, bad + 0, tmo + 0 }' "$prom" 2>/dev/null || echo "0 0 0")
    reasons=$(awk '/^mailhealth_probe_failure_info\{/ {
            match($0, /check="[^"]*"/); k = substr($0, RSTART + 7, RLENGTH - 8)
            match($0, /reason="[^"]*"/); r = substr($0, RSTART + 8, RLENGTH - 9)
            c[k "/" r]++ }
        END { for (x in c) printf "%s%s %d", (n++ ? ", " : ""), x, c[x] }' "$prom" 2>/dev/null)
    local missing=$((n - ok - bad))
    local rtmax=0 greet=0
    [ "$ndnsbl" -gt 0 ] && rtmax=$RT_DNSBL
    [ "$ntls" -gt 0 ] && [ "$RT_TLS" -gt "$rtmax" ] && rtmax=$RT_TLS
    [ "$nsmtp" -gt 0 ] && [ "$RT_SMTP" -gt "$rtmax" ] && rtmax=$RT_SMTP
    [ "$nslow" -gt 0 ] && greet=$GDELAY
    echo "$label $n $mix $CONC $wall $user $sys $rss $thr $fds $ok $bad $tmo $missing $rc $srv $rtmax $greet $nsmtp $load" >>"$RES"
    awk -v l="$label" -v n="$n" -v c="$CONC" -v w="$wall" -v u="$user" -v s="$sys" -v m="$rss" \
        -v t="$thr" -v f="$fds" -v bad="$((bad + missing))" -v tmo="$tmo" -v srv="$srv" \
        -v rt="$rtmax" -v rtt="$RTT" -v g="$greet" -v cores="$NCPU" -v load="$load" 'BEGIN {
        cpu = u + s
        lim = rt * rtt / 1000 + g + cpu / cores
        limm = rt * rtt / 1000 + g + (cpu + srv / 1e6) / cores
        printf "%-2s %6d %5s %8.2f %8.2f %7.3f %7.1f %6d %6d %4d/%-4d %8.2f %6.2f %8.2f %6.2f %9.2f %s\n",
            l, n, c, w, cpu, 1000 * cpu / n, m / 1024, t, f, bad, tmo, lim, w / lim, limm, w / limm,
            srv / 1e6, load }'
    [ "$rc" = 0 ] || echo "   ${label}: exit $rc; stderr: $(tail -n 2 "$W/out/$tag.log" | tr '\n' ' ')"
    [ -z "$reasons" ] || echo "   ${label}: not OK by check/reason: $reasons"
    [ "$missing" = 0 ] || echo "   ${label}: $missing checks missing from the textfile"
    local sm_acc sm_done tls_acc tls_done early tfail
    sm_acc=$(($(delta "$W/out/$tag.before" "$W/out/$tag.after" smtp_accepted) + $(delta "$W/out/$tag.before" "$W/out/$tag.after" slow_accepted)))
    sm_done=$(($(delta "$W/out/$tag.before" "$W/out/$tag.after" smtp_completed) + $(delta "$W/out/$tag.before" "$W/out/$tag.after" slow_completed)))
    tls_acc=$(delta "$W/out/$tag.before" "$W/out/$tag.after" tls_accepted)
    tls_done=$(delta "$W/out/$tag.before" "$W/out/$tag.after" tls_completed)
    early=0 tfail=0
    for k in smtp slow tls; do
        early=$((early + $(delta "$W/out/$tag.before" "$W/out/$tag.after" ${k}_early_close)))
        tfail=$((tfail + $(delta "$W/out/$tag.before" "$W/out/$tag.after" ${k}_tls_failed)))
    done
    local b=$W/out/$tag.before a=$W/out/$tag.after
    awk -v sess="$((sm_acc + tls_acc))" -v cpu="$(delta "$b" "$a" smtpd_cpu_us)" -v mo="$(awk '$1 == "smtpd_max_open" { print $2 }' "$a")" \
        -v late="$(delta "$b" "$a" smtpd_late)" -v lm="$(awk '$1 == "smtpd_late_max_us" { print $2 }' "$a")" \
        -v rcpu="$(delta "$b" "$a" relay_cpu_us)" -v q="$(delta "$b" "$a" relay_queries)" -v rl="$(delta "$b" "$a" relay_late)" \
        -v rlm="$(awk '$1 == "relay_late_max_us" { print $2 }' "$a")" -v bcpu="$(delta "$b" "$a" rbldnsd_cpu_us)" \
        -v ans="$(delta "$b" "$a" relay_answers)" -v udp="$(delta "$b" "$a" udp_rcvbuf_errors)" \
        -v lis="$(delta "$b" "$a" tcp_listen_drops)" -v lost="$(delta "$b" "$a" relay_lost)" \
        -v ud_r="$(delta "$b" "$a" udp_drops_rbldnsd)" -v ud_l="$(delta "$b" "$a" udp_drops_relay)" 'BEGIN {
        printf "   servers: latency_smtpd %.2f s CPU, %d sessions (%.2f ms each), %d open at most, %d replies > 10 ms late (latest %.1f ms);",
            cpu / 1e6, sess, sess ? cpu / 1e3 / sess : 0, mo, late, lm / 1e3
        printf " relay %.2f s, %d queries, %d answered, %d lost upstream, %d late (latest %.1f ms); rbldnsd %.2f s;",
            rcpu / 1e6, q, ans, lost, rl, rlm / 1e3, bcpu / 1e6
        printf " drops: UDP %d at rbldnsd, %d at the relay, %d elsewhere (the runner), SYN %d\n",
            ud_r, ud_l, udp - ud_r - ud_l, lis }'
    if [ "$sm_acc" != "$nsmtp" ] || [ "$sm_done" != "$nsmtp" ] || [ "$tls_done" != "$ntls" ] || [ "$tfail" != 0 ]; then
        echo "   ${label}: servers saw smtp $sm_done/$sm_acc sessions complete (expected $nsmtp), tls $tls_done/$tls_acc (expected $ntls), $early left early, $tfail TLS failures"
    fi
}

# Alternate the binaries: A B on odd repeats, B A on even ones.
order() {
    if [ "${#BINS[@]}" = 1 ] || [ $(($1 % 2)) = 1 ]; then echo "${!BINS[@]}"; else echo 1 0; fi
}
for n in $CHECKS; do
    for ((r = 1; r <= REPEAT; r++)); do
        for i in $(order "$r"); do round "${LABELS[$i]}" "${BINS[$i]}" "$n" "$MIX" "$r"; done
    done
done
if [ "$SMTPCPU" -gt 0 ]; then
    echo "-- smtp-only rounds ($SMTPCPU checks) for the CPU per SMTP check"
    for ((r = 1; r <= REPEAT; r++)); do
        for i in $(order "$r"); do round "${LABELS[$i]}" "${BINS[$i]}" "$SMTPCPU" 100:0:0 "$r"; done
    done
fi

# ------------------------------------------------------------ summary
echo
echo "-- summary (median of $REPEAT round(s); limit = max RT x RTT + slowest greeting + runner CPU / $NCPU cores; limit_m adds the servers' CPU)"
awk -v rtt="$RTT" -v cores="$NCPU" -v nb="${#BINS[@]}" -v mix="$MIX" -v smtpcpu="$SMTPCPU" \
    -v share="$SHARE" -v gd="$GDELAY" -v conc="$CONC" '
function median(arr, k,    i, j, t, m) {
    m = cnt[k]
    for (i = 1; i <= m; i++) v[i] = arr[k, i]
    for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
}
{
    k = $1 SUBSEP $2 SUBSEP $3
    if (!(k in cnt)) { keys[++nk] = k }
    i = ++cnt[k]
    cpu = $6 + $7
    W[k, i] = $5; C[k, i] = 1000 * cpu / $2; R[k, i] = $8 / 1024; T[k, i] = $9; F[k, i] = $10
    SP[k, i] = $12 + $14; TM[k, i] = $13
    L[k, i] = $17 * rtt / 1000 + $18 + cpu / cores
    LM[k, i] = $17 * rtt / 1000 + $18 + (cpu + $16 / 1e6) / cores
    Q[k, i] = $5 / L[k, i]; QM[k, i] = $5 / LM[k, i]
}
END {
    printf "%-2s %6s %-9s %8s %8s %8s %8s %6s %6s %6s %6s %7s\n", "bin", "checks", "mix", "wall_s", "ms/chk", "rss_MiB", "threads", "fds", "spur", "tmo", "ratio", "ratio_m"
    for (x = 1; x <= nk; x++) {
        k = keys[x]; split(k, p, SUBSEP)
        printf "%-2s %6d %-9s %8.2f %8.3f %8.1f %8d %6d %6d %6d %6.2f %7.2f\n", p[1], p[2], p[3],
            median(W, k), median(C, k), median(R, k), median(T, k), median(F, k), median(SP, k),
            median(TM, k), median(Q, k), median(QM, k)
        mw[p[1], p[2], p[3]] = median(W, k); mc[p[1], p[2], p[3]] = median(C, k)
        mr[p[1], p[2], p[3]] = median(R, k); msp[p[1], p[2], p[3]] = median(SP, k)
        mtm[p[1], p[2], p[3]] = median(TM, k); mq[p[1], p[2], p[3]] = median(QM, k)
        mq1[p[1], p[2], p[3]] = median(Q, k)
        if (p[3] == mix) { if (!(p[1] in nmin) || p[2] < nmin[p[1]]) nmin[p[1]] = p[2]
                           if (!(p[1] in nmax) || p[2] > nmax[p[1]]) nmax[p[1]] = p[2] }
    }
    if (nb == 2) {
        print ""
        for (x = 1; x <= nk; x++) {
            k = keys[x]; split(k, p, SUBSEP)
            if (p[1] != "A" || !(("B", p[2], p[3]) in mw)) continue
            printf "B/A at %d checks (%s): wall %.2fx, CPU per check %.2fx, RSS %.2fx\n", p[2], p[3],
                mw["B", p[2], p[3]] / mw["A", p[2], p[3]], mc["B", p[2], p[3]] / mc["A", p[2], p[3]],
                mr["B", p[2], p[3]] / mr["A", p[2], p[3]]
        }
    }
    print ""
    print "-- targets of the event-loop runner (not a test): 10,000 mixed checks (60:20:20), RTT 100 ms, 5 % greeting after 6 s, 2 cores"
    scen = (mix == "60:20:20" && rtt == 100 && share == 5 && gd == 6 && cores == 2)
    for (b = 1; b <= nb; b++) {
        l = b == 1 ? "A" : "B"
        n = nmax[l]
        if (n == "") continue
        note = (scen && n == 10000) ? "" : sprintf("  [this run: %d checks, mix %s, RTT %g ms, %g %% after %g s, %d cores: not the target scenario]", n, mix, rtt, share, gd, cores)
        printf "%s round within 1.5x the physical limit: %s (%.2fx; %.2fx without the servers CPU in the limit)%s\n", l,
            (mq[l, n, mix] <= 1.5 ? "PASS" : "FAIL"), mq[l, n, mix], mq1[l, n, mix], note
        printf "%s zero spurious timeouts: %s (%d timeouts, %d not OK in all)\n", l,
            (mtm[l, n, mix] == 0 ? "PASS" : "FAIL"), mtm[l, n, mix], msp[l, n, mix]
        printf "%s peak RSS under 256 MiB: %s (%.1f MiB)\n", l, (mr[l, n, mix] < 256 ? "PASS" : "FAIL"), mr[l, n, mix]
        if (smtpcpu > 0)
            printf "%s at most 3 ms CPU per SMTP check: %s (%.3f ms, smtp-only round of %d)\n", l,
                (mc[l, smtpcpu, "100:0:0"] <= 3 ? "PASS" : "FAIL"), mc[l, smtpcpu, "100:0:0"], smtpcpu
        else
            printf "%s at most 3 ms CPU per SMTP check: n/a (run with --smtp-cpu N)\n", l
        if (nmin[l] < nmax[l]) {
            g = mc[l, nmax[l], mix] / mc[l, nmin[l], mix]
            printf "%s cost linear in checks: %s (CPU per check %.3f ms at %d, %.3f ms at %d: %.2fx; at most 1.25x)\n", l,
                (g <= 1.25 ? "PASS" : "FAIL"), mc[l, nmin[l], mix], nmin[l], mc[l, nmax[l], mix], nmax[l], g
        } else
            printf "%s cost linear in checks: n/a (give --checks \"100 1000 10000\")\n", l
    }
}' "$RES"
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
