#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Hostile servers: 200 sessions (1,000 with tests/run.sh --soak)
# against fault-server scenarios
# that send junk (tests/faultserver/scenarios/junk-*.fs: random binary, NUL
# runs, CR without LF, enormous lines, endless continuation lines, invalid
# UTF-8, control characters and '|' in otherwise valid replies), each with
# its own seed and junk size, every server session driven by another probe
# variant (plain, STARTTLS, AUTH with -v trace, envelope and relay test,
# the tls subcommand over STARTTLS or implicit TLS) in the three output
# formats.
#
# Asserted for every run: exit code 0..3 (an ASan/UBSan report would give
# 99/98, a crash 128+N); no sanitizer report on stderr; the run ends within
# -t + 0.5 s, not counting the time it waited for a CPU (mh_sched_time);
# peak RSS (ru_maxrss) within a bound derived from a normal
# session of the same binary; the Nagios status line has no control
# character and at most one '|'; JSON parses and agrees with the exit code;
# the Prometheus exposition passes promtool; the AUTH password and its
# base64 forms appear in no output and no -v trace.
#
# MH_JUNK_SESSIONS (default 200, 1000 with MH_SOAK=1) and MH_JUNK_JOBS (default 2 parallel
# probe streams) tune the run; MH_JUNK_KEEP=FILE keeps the per-run results
# ("server.variant rc seconds rss-KiB flags"). Lab parts needed: none but
# the fault server.
. "$(dirname "$0")/lib.sh"

SESSIONS=${MH_JUNK_SESSIONS:-$(soak_size 200 1000)}
JOBS=${MH_JUNK_JOBS:-2}
T=2
PER_SERVER=5
SCENARIOS=(junk-greeting junk-mid-greeting junk-after-ehlo junk-mid-ehlo
    junk-after-starttls junk-in-auth junk-long-line junk-endless junk-controls)
export MH_JUNK_PW='Zq7-Junk!Secret'
JUNK_USER=probe@example.net
B64_PASS=$(printf '%s' "$MH_JUNK_PW" | base64 -w0)
B64_PLAIN=$(printf '\0%s\0%s' "$JUNK_USER" "$MH_JUNK_PW" | base64 -w0)
mkdir -p "$T_TMP/out"

# variant_args N PORT SERVER: the probe command line of variant N (the
# server index picks STARTTLS or implicit TLS for the tls variant).
variant_args() {
    local v=$1 port=$2
    local h=(-H 127.0.0.1 -p "$port" --ehlo probe.example.net -t "$T")
    case $v in
    0) echo smtp "${h[@]}" ;;
    1) echo smtp "${h[@]}" --starttls --output json ;;
    2) echo smtp "${h[@]}" -v --auth-user "$JUNK_USER" \
        --auth-password-env MH_JUNK_PW --allow-plaintext-auth \
        --output prometheus ;;
    3) echo smtp "${h[@]}" --mail-from probe@example.net \
        --rcpt-to postmaster@example.com --relay-test x@foreign.test ;;
    4) if [ $((${3:-0} % 2)) -eq 0 ]; then
        echo tls "${h[@]}" --starttls-optional --output json
    else
        echo tls "${h[@]}" --tls --output json # junk as TLS records
    fi ;;
    esac
}

# one_run ID VARIANT PORT: runs the probe, appends "ID VARIANT RC ELAPSED
# RSS FLAGS" to the worker's result file ($RES). FLAGS: "-" or a
# comma-separated list of problems seen in this run's output.
one_run() {
    local id=$1 v=$2 port=$3 out err tf rc el rss wall runq flags=""
    out=$T_TMP/out/$id.out
    err=$T_TMP/out/$id.err
    tf=$T_TMP/out/$id.time
    # shellcheck disable=SC2046
    "$T_SCHED" "$tf" "$MH_BIN" $(variant_args "$v" "$port" "${id%%.*}") \
        >"$out" 2>"$err"
    rc=$?
    read -r wall runq _ rss <"$tf"
    el=$(awk -v w="$wall" -v q="$runq" 'BEGIN { if (w != "") printf "%.3f", w - q }')
    [ "$rc" -lt 128 ] || flags+="signal,"
    grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer' \
        "$err" && flags+="sanitizer,"
    if grep -Fq -e "$MH_JUNK_PW" -e "$B64_PASS" -e "$B64_PLAIN" "$out" "$err"; then
        flags+="secret,"
    fi
    case $v in
    0 | 3)
        local line1 pipes
        line1=$(head -n 1 "$out")
        [[ $line1 =~ ^MAILHEALTH\ (OK|WARNING|CRITICAL|UNKNOWN)\ -\  ]] ||
            flags+="status-line,"
        pipes=$(tr -cd '|' <"$out" | wc -c)
        [ "$pipes" -le 1 ] || flags+="pipes,"
        [ "$pipes" -eq 0 ] || [[ $line1 == *"|"* ]] || flags+="pipe-not-line1,"
        LC_ALL=C grep -q '[[:cntrl:]]' <(tr -d '\n' <"$out") && flags+="control,"
        ;;
    esac
    echo "$id $v $rc ${el:-?} ${rss:-?} ${flags:--}" >>"$RES"
    if [ "$flags" = "" ] && [ "$rc" -le 3 ]; then
        rm -f "$err" "$tf"
        [ "$v" = 0 ] || [ "$v" = 3 ] && rm -f "$out"
    fi
}

# server I: starts scenario SCENARIOS[I % n] with seed I+1 and its junk
# size; sets SPORT and SPID.
server() {
    local i=$1 scen seed bytes len pf
    scen=${SCENARIOS[$((i % ${#SCENARIOS[@]}))]}
    seed=$((i + 1))
    bytes=$((600 + (seed * 7919) % 16000))
    [ $((seed % 10)) -eq 0 ] && bytes=1048576 # a flood now and then
    len=$((400 + (seed * 104729) % 300000))
    pf=$T_TMP/port.$i
    FS_JUNK_SEED=$seed FS_JUNK_BYTES=$bytes FS_JUNK_LEN=$len \
        "$MH_FAULTSERVER" --script "$MH_SOURCE_DIR/tests/faultserver/scenarios/$scen.fs" \
        --port 0 --port-file "$pf" --transcript /dev/null \
        --sessions "$PER_SERVER" --max-seconds 60 >/dev/null 2>&1 &
    SPID=$!
    local _k
    for _k in $(seq 1 500); do
        [ -s "$pf" ] && break
        sleep 0.01
    done
    SPORT=$(cat "$pf" 2>/dev/null)
}

# worker W: runs servers W, W+JOBS, ... until SESSIONS sessions are done.
worker() {
    local w=$1 i v n=$((SESSIONS / PER_SERVER))
    RES=$T_TMP/results.$w
    : >"$RES"
    for ((i = w; i < n; i += JOBS)); do
        server "$i"
        if [ -z "$SPORT" ]; then
            echo "server-$i - 255 0 0 no-server" >>"$RES"
            kill "$SPID" 2>/dev/null
            continue
        fi
        for ((v = 0; v < PER_SERVER; v++)); do
            one_run "$i.$v" "$v" "$SPORT"
        done
        kill "$SPID" 2>/dev/null
        wait "$SPID" 2>/dev/null
    done
}

# Baseline: the RSS of a normal session with the same binary.
case_ "baseline"
fault normal-ok 1
"$T_SCHED" "$T_TMP/base.time" "$MH_BIN" smtp -H 127.0.0.1 \
    -p "$FS_PORT" --ehlo probe.example.net -t "$T" >/dev/null 2>&1
read -r _ _ _ BASE_RSS <"$T_TMP/base.time"
RSS_MAX=$((BASE_RSS * 2 > BASE_RSS + 16384 ? BASE_RSS * 2 : BASE_RSS + 16384))
ok "normal session: ${BASE_RSS} KiB peak RSS; bound for junk: ${RSS_MAX} KiB"

case_ "$SESSIONS junk sessions"
t0=$(date +%s)
for ((w = 0; w < JOBS; w++)); do
    worker "$w" &
    T_PIDS+=($!)
done
wait
t1=$(date +%s)
cat "$T_TMP"/results.* >"$T_TMP/results"
total=$(wc -l <"$T_TMP/results")
echo "     $total runs in $((t1 - t0)) s"

report() { # report DESCRIPTION AWK-CONDITION-FOR-A-BAD-LINE
    local bad
    bad=$(awk "$2" "$T_TMP/results")
    if [ -z "$bad" ]; then ok "$1"; else
        not_ok "$1: $(printf '%s\n' "$bad" | wc -l) runs"
        printf '%s\n' "$bad" | head -n 10 | sed 's/^/       > /'
    fi
}
if [ "$total" -eq "$SESSIONS" ]; then ok "$total sessions ran"; else
    not_ok "$total sessions ran, wanted $SESSIONS"
fi
report "every exit code is 0..3" '$3 > 3'
report "no crash, no sanitizer report, no leaked secret, clean Nagios output" '$6 != "-"'
report "every run ended within -t $T + 0.5 s (waits for a CPU not counted)" "\$4 == \"?\" || \$4 >= $T + 0.5"
report "peak RSS within ${RSS_MAX} KiB" "\$5 == \"?\" || \$5 > $RSS_MAX"
max_rss=$(awk '$5 != "?" && $5 > m { m = $5 } END { print m + 0 }' "$T_TMP/results")
max_el=$(awk '$4 != "?" && $4 > m { m = $4 } END { print m + 0 }' "$T_TMP/results")
echo "     max RSS ${max_rss} KiB, max elapsed ${max_el} s; exit codes:" \
    "$(awk '{ c[$3]++ } END { for (k in c) printf "%s:%d ", k, c[k] }' "$T_TMP/results")"

case_ "JSON outputs"
bad=$(python3 - "$T_TMP/results" "$T_TMP/out" <<'PY'
import json, sys, os
rc = {}
for line in open(sys.argv[1]):
    f = line.split()
    rc[f[0]] = f[2]
bad = 0
for id_, code in rc.items():
    if not id_.endswith(('.1', '.4')):
        continue
    path = os.path.join(sys.argv[2], id_ + '.out')
    try:
        j = json.load(open(path, encoding='utf-8'))
        assert str(j['exit_code']) == code, 'exit_code %s, rc %s' % (j['exit_code'], code)
        assert j['state'] in ('OK', 'WARNING', 'CRITICAL', 'UNKNOWN')
        assert (j['category'] is None) == (j['state'] == 'OK') or j['state'] == 'UNKNOWN'
    except Exception as e:
        bad += 1
        print('%s: %s' % (id_, e))
print('checked', sum(1 for k in rc if k.endswith(('.1', '.4'))), file=sys.stderr)
PY
)
if [ -z "$bad" ]; then ok "every JSON output parses and matches its exit code"; else
    not_ok "bad JSON: $(printf '%s\n' "$bad" | head -n 5)"
fi

case_ "Prometheus outputs"
nbad=0
nprom=0
for f in "$T_TMP"/out/*.2.out; do
    nprom=$((nprom + 1))
    if ! msg=$(promtool check metrics <"$f" 2>&1); then
        nbad=$((nbad + 1))
        [ "$nbad" -le 3 ] && echo "       > $(basename "$f"): $msg"
    fi
done
if [ "$nbad" -eq 0 ] && [ "$nprom" -gt 0 ]; then
    ok "promtool accepts all $nprom expositions"
else not_ok "$nbad of $nprom expositions rejected by promtool"; fi

[ -n "${MH_JUNK_KEEP:-}" ] && cp "$T_TMP/results" "$MH_JUNK_KEEP"
finish
