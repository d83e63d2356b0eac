#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Integration test of `check_mailhealth run` against the lab, the
# fault server, a real node_exporter (textfile collector) and a real
# Alertmanager:
#   1. invalid configurations: exit 3, a clear error naming check and key,
#      an existing textfile left untouched;
#   2. one --once round over healthy, failing and silent servers, DNSBL and
#      TLS checks: finishes in about the longest deadline (not their sum),
#      the textfile passes promtool, has every family, no temporary file
#      stays; --output json gives {"results": [...]};
#   3. node_exporter reads the textfile with node_textfile_scrape_error 0
#      (two domain checks sharing an MX host: no duplicate series);
#   4. a looping run: a reader polling the file never sees a partial file;
#      SIGHUP reloads (a bad new config is logged and the old one kept);
#      SIGTERM ends cleanly, no temporary files;
#   5. SIGINT in the middle of a round: exit within the running checks'
#      deadline, textfile untouched; a second signal exits at once; a check
#      whose password file is a FIFO fails at once instead of hanging;
#   6. notifications: Alertmanager receives a firing alert and its
#      resolution (amtool alert query, and Alertmanager's own webhook), the
#      generic webhook gets both with the Bearer token (after a retry), and
#      neither the token nor the URL's query string is ever logged.
#
# Needs: the lab (tests/lab/lab.sh start), promtool, prometheus-node-exporter,
# prometheus-alertmanager + amtool, python3 (a tiny HTTP receiver), curl.
. "$(dirname "$0")/lib.sh"
needs_lab

B=$MH_BIN
D=$T_TMP
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# Ports for this test's own servers: LAB_PORT_BASE+400 .. +409 only, below
# the kernel's ephemeral range. Not bind-and-close on port 0: between the
# close and the server's bind, the kernel may hand that number to a fault
# server of a test running beside this one, and the polling here would use
# up its one session.
P_NODE_EXPORTER=$((${LAB_PORT_BASE:-24000} + 400))
P_HOOK=$((${LAB_PORT_BASE:-24000} + 401))
P_ALERTMANAGER=$((${LAB_PORT_BASE:-24000} + 402))

# check_ok COND MESSAGE: records a pass or a failure.
check_ok() {
    if eval "$1"; then ok "$2"; else not_ok "$2"; fi
}

# signal_wait SIGNAL PID: sends the signal and waits for the process; sets
# rc (its exit code) and ms (milliseconds from the signal to its end).
signal_wait() {
    local t0
    t0=$(date +%s%N)
    kill -"$1" "$2"
    wait "$2"
    rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
}

no_temp_files() { # DIR: nothing but *.prom there
    local extra
    extra=$(find "$1" -mindepth 1 ! -name '*.prom' | head -5)
    if [ -z "$extra" ]; then ok "no temporary files in $(basename "$1")"; else
        not_ok "temporary files left: $extra"
    fi
}

# ---------------------------------------------------------------------------
case_ "invalid configs"
mkdir -p "$D/keep"
KEEP=$D/keep/mailhealth.prom
printf '# sentinel\nmailhealth_build_info{version="old"} 1\n' >"$KEEP"
sum0=$(sha256sum "$KEEP")
bad() { # NAME JSON EXPECTED-SUBSTRING...
    local name=$1 json=$2
    shift 2
    printf '%s\n' "$json" >"$D/bad-$name.json"
    LAST_CMD="run --config bad-$name.json --textfile $KEEP --once"
    OUT=$("$B" run --config "$D/bad-$name.json" --textfile "$KEEP" --once 2>&1)
    RC=$?
    expect_rc 3
    local s
    for s in "$@"; do expect_out "$s"; done
}
bad unknown-key '{"checks":[{"name":"mx1","check":"smtp","host":"a","prot":25}]}' \
    'checks[0] "mx1"' 'unknown key "prot"'
bad dash-key '{"checks":[{"check":"smtp","host":"a","cert-days":"30,14"}]}' \
    'write "cert_days"'
bad wrong-type '{"checks":[{"name":"mx1","check":"smtp","host":"a","starttls":"yes"}]}' \
    'key "starttls"' 'true or false'
bad missing-host '{"checks":[{"name":"mx1","check":"smtp","port":25}]}' \
    'missing required key "host"'
bad dup-name '{"checks":[{"name":"mx","check":"smtp","host":"a"},{"name":"mx","check":"tls","host":"b"}]}' \
    'checks[1] "mx"' 'already used by checks[0]'
bad bad-port '{"checks":[{"check":"smtp","host":"a","port":99999}]}' \
    'key "port"' "invalid value '99999' (a port number, 1..65535)"
bad json '{"checks":[{"check":"smtp",}]}' 'not valid JSON' 'line 1'
bad top '{"intervl":5,"checks":[{"check":"smtp","host":"a"}]}' \
    'unknown top-level key "intervl"'
check_ok '[ "$(sha256sum "$KEEP")" = "$sum0" ]' "existing textfile untouched"

# ---------------------------------------------------------------------------
case_ "one round (--once)"
fault silent-after-connect 0
SILENT1=$FS_PORT
fault silent-after-ehlo 0
SILENT2=$FS_PORT
fault silent-after-connect 0
SILENT3=$FS_PORT
fault br05-421 0
P421=$FS_PORT
mkdir -p "$D/tf"
TF=$D/tf/mailhealth.prom
cat >"$D/mixed.json" <<EOF
{ "interval_seconds": 60, "timeout_seconds": 4, "concurrency": 16,
  "textfile": "$TF", "resolver": "$LAB_RESOLVER", "ca_file": "$LAB_CA_FILE",
  "checks": [
    { "name": "mx-ok", "check": "smtp", "host": "$LAB_HOST", "port": $LAB_SMTP_PORT,
      "starttls": true, "sni": "$LAB_MX_NAME", "cert_days": "30,14" },
    { "name": "mx-notls", "check": "smtp", "host": "$LAB_HOST", "port": $LAB_SMTP_NOTLS_PORT, "starttls": true },
    { "name": "mx-refused", "check": "smtp", "host": "127.0.0.1", "port": 1 },
    { "name": "mx-421", "check": "smtp", "host": "127.0.0.1", "port": $P421 },
    { "name": "silent-1", "check": "smtp", "host": "127.0.0.1", "port": $SILENT1, "timeout": 3 },
    { "name": "silent-2", "check": "smtp", "host": "127.0.0.1", "port": $SILENT2 },
    { "name": "silent-3", "check": "smtp", "host": "127.0.0.1", "port": $SILENT3, "timeout": 3.5 },
    { "name": "tls-ok", "check": "tls", "host": "$LAB_HOST", "port": $LAB_SMTP_PORT, "sni": "$LAB_MX_NAME" },
    { "name": "tls-expired", "check": "tls", "host": "$LAB_HOST", "port": $LAB_SMTP_TLS_EXPIRED_PORT, "sni": "$LAB_MX_NAME" },
    { "name": "rbl-listed", "check": "dnsbl", "host": "127.0.0.2", "zone": ["bl.lab.test"] },
    { "name": "rbl-clean", "check": "dnsbl", "host": "127.0.0.1", "zone": "bl.lab.test" },
    { "check": "domain", "domain": "$LAB_DOMAIN", "port": $LAB_SMTP_PORT }
  ] }
EOF
run run --config "$D/mixed.json" --once
ERR=$(cat "$T_TMP/stderr")
expect_rc 0
# Silent servers: 3 + 4 + 3.5 s in sequence would be 10.5 s; concurrently
# the round lasts the longest deadline (4 s) plus at most 1 s of jitter.
expect_elapsed_below 6.5
check_ok 'awk -v e="$ELAPSED" "BEGIN { exit !(e >= 3.9) }"' \
    "the round waited for the slowest deadline (${ELAPSED}s >= 3.9 s)"
OUT=$(cat "$TF" 2>/dev/null)
promtool_ok
# Large outputs are checked in files: lib.sh's expect_out pipes OUT into
# grep -q under pipefail, which can fail when grep exits before printf has
# written everything (SIGPIPE).
for s in \
    'mailhealth_probe_success{target="mx-ok",check="smtp"} 1' \
    'mailhealth_probe_error{target="mx-notls",check="smtp",category="tls"} 1' \
    'mailhealth_probe_error{target="mx-refused",check="smtp",category="connection"} 1' \
    'mailhealth_probe_status{target="mx-421",check="smtp"} 1' \
    'mailhealth_probe_error{target="mx-421",check="smtp",category="response"} 1' \
    'mailhealth_probe_error{target="silent-1",check="smtp",category="timeout"} 1' \
    'mailhealth_probe_error{target="silent-2",check="smtp",category="timeout"} 1' \
    'mailhealth_probe_success{target="tls-ok",check="tls"} 1' \
    'mailhealth_tls_earliest_cert_expiry_timestamp_seconds{target="tls-ok"}' \
    'mailhealth_probe_error{target="tls-expired",check="tls",category="tls"} 1' \
    'mailhealth_dnsbl_listed{target="rbl-listed",' \
    'mailhealth_probe_error{target="rbl-listed",check="dnsbl",category="blacklist"} 1' \
    'mailhealth_probe_success{target="rbl-clean",check="dnsbl"} 1' \
    'mailhealth_probe_success{target="lab.test",check="domain"} 1' \
    'mailhealth_last_run_timestamp_seconds ' \
    'mailhealth_runner_round_duration_seconds ' \
    'mailhealth_build_info{version="'; do
    expect_file_has "$TF" "$s"
done
dur=$(awk '/^mailhealth_runner_round_duration_seconds /{print $2}' "$TF")
check_ok 'awk -v d="$dur" -v e="$ELAPSED" "BEGIN { exit !(d > 3.5 && d <= e) }"' \
    "round duration metric ${dur}s fits the wall time ${ELAPSED}s"
ts=$(awk '/^mailhealth_last_run_timestamp_seconds /{printf "%d", $2}' "$TF")
check_ok '[ $(( $(date +%s) - ts )) -lt 30 ]' "last run timestamp is now"
no_temp_files "$D/tf"
expect_file_has "$T_TMP/stderr" 'round 1: 12 checks in'
expect_file_has "$T_TMP/stderr" 'silent-1 (smtp): CRITICAL [timeout]'

case_ "once --output json"
run run --config "$D/mixed.json" --textfile "$D/tf/json.prom" --once --output json
expect_rc 0
n=$(printf '%s\n' "$OUT" | jq '.results | length' 2>/dev/null)
check_ok '[ "$n" = 12 ]' "JSON has 12 results (got ${n:-none})"
st=$(printf '%s\n' "$OUT" | jq -r '.results[] | select(.target=="silent-2") | .category' 2>/dev/null)
check_ok '[ "$st" = timeout ]' "silent-2 category timeout in JSON (got ${st:-none})"

# ---------------------------------------------------------------------------
# The trace lines of the checks the runner runs at once name their check
# (on the loops and on the worker threads).
case_ "verbose traces name their check"
cat >"$D/verbose.json" <<EOF
{ "textfile": "$D/tf/verbose.prom", "resolver": "$LAB_RESOLVER", "checks": [
    { "name": "rbl-v", "check": "dnsbl", "host": "192.0.2.20", "zone": "bl.lab.test", "verbose": true },
    { "name": "rbl-quiet", "check": "dnsbl", "host": "192.0.2.21", "zone": "bl.lab.test" },
    { "name": "dom-v", "check": "domain", "domain": "$LAB_DOMAIN", "port": $LAB_SMTP_PORT, "verbose": true } ] }
EOF
run run --config "$D/verbose.json" --once
expect_rc 0
expect_file_has "$T_TMP/stderr" '[rbl-v] dns> A 20.2.0.192.bl.lab.test'
expect_file_lacks "$T_TMP/stderr" '21.2.0.192.bl.lab.test'
expect_file_has "$T_TMP/stderr" '[dom-v] <<< 220 ' # a worker thread's check

# ---------------------------------------------------------------------------
case_ "node_exporter textfile collector"
mkdir -p "$D/ne"
NE_TF=$D/ne/mailhealth.prom
cat >"$D/ne.json" <<EOF
{ "timeout_seconds": 4, "textfile": "$NE_TF", "resolver": "$LAB_RESOLVER",
  "ca_file": "$LAB_CA_FILE", "sni": "$LAB_MX_NAME",
  "checks": [
    { "name": "mx-ok", "check": "smtp", "host": "$LAB_HOST", "port": $LAB_SMTP_PORT, "starttls": true },
    { "name": "mx-refused", "check": "smtp", "host": "127.0.0.1", "port": 1 },
    { "name": "tls-ok", "check": "tls", "host": "$LAB_HOST", "port": $LAB_SMTP_PORT },
    { "name": "rbl", "check": "dnsbl", "host": "127.0.0.2", "zone": ["bl.lab.test"] },
    { "name": "dom-a", "check": "domain", "domain": "$LAB_DOMAIN", "port": $LAB_SMTP_PORT },
    { "name": "dom-b", "check": "domain", "domain": "$LAB_DOMAIN", "port": $LAB_SMTP_PORT }
  ] }
EOF
run run --config "$D/ne.json" --once
expect_rc 0
NE_PORT=$P_NODE_EXPORTER
prometheus-node-exporter --web.listen-address=127.0.0.1:"$NE_PORT" \
    --collector.disable-defaults --collector.textfile \
    --collector.textfile.directory="$D/ne" >"$D/ne.log" 2>&1 &
T_PIDS+=($!)
NE_PID=$!
if wait_until 10 curl -fs -o /dev/null "http://127.0.0.1:$NE_PORT/metrics"; then
    curl -fsS "http://127.0.0.1:$NE_PORT/metrics" >"$D/ne.metrics"
    M=$D/ne.metrics
    expect_file_has "$M" 'node_textfile_scrape_error 0'
    expect_file_has "$M" 'mailhealth_probe_success{check="smtp",target="mx-ok"} 1'
    expect_file_has "$M" 'mailhealth_probe_success{check="domain",target="dom-b"} 1'
    expect_file_has "$M" 'mailhealth_dnsbl_listed{'
    expect_file_has "$M" 'node_textfile_mtime_seconds{file="'"$NE_TF"'"}'
    expect_file_has "$M" 'mailhealth_runner_round_duration_seconds '
    expect_file_lacks "$D/ne.log" 'collected before'
    expect_file_lacks "$D/ne.log" 'failed to collect textfile data'
else
    not_ok "node_exporter did not start: $(tail -5 "$D/ne.log")"
fi
kill "$NE_PID" 2>/dev/null

# ---------------------------------------------------------------------------
case_ "looping run: atomic file, SIGHUP, SIGTERM"
mkdir -p "$D/loop"
LTF=$D/loop/mailhealth.prom
loop_cfg() { # EXTRA-CHECK-JSON
    cat >"$D/loop.json" <<EOF
{ "timeout_seconds": 3, "textfile": "$LTF", "resolver": "$LAB_RESOLVER",
  "checks": [
    { "name": "ok1", "check": "smtp", "host": "$LAB_HOST", "port": $LAB_SMTP_PORT },
    { "name": "down1", "check": "smtp", "host": "127.0.0.1", "port": 1 },
    { "name": "rbl1", "check": "dnsbl", "host": "127.0.0.2", "zone": ["bl.lab.test"] }$1
  ] }
EOF
}
loop_cfg ""
"$B" run --config "$D/loop.json" --interval 1 2>"$D/loop.log" &
RUN_PID=$!
T_PIDS+=($RUN_PID)
wait_until 10 test -s "$LTF" || not_ok "no textfile after 10 s: $(tail -3 "$D/loop.log")"
# The reader: every read must be a whole exposition (rename is atomic).
cat >"$D/reader.py" <<'EOF'
import sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
end = time.time() + seconds
reads = bad = 0
stamps = set()
while time.time() < end:
    try:
        with open(path) as f:
            data = f.read()
    except FileNotFoundError:
        bad += 1
        continue
    reads += 1
    lines = data.split("\n")
    whole = (data.startswith("# HELP ") and data.endswith("\n")
             and lines[-2].startswith("mailhealth_build_info{"))
    if not whole:
        bad += 1
    for l in lines:
        if l.startswith("mailhealth_last_run_timestamp_seconds "):
            stamps.add(l)
print(reads, bad, len(stamps))
EOF
read -r reads badreads rounds < <("$PY" "$D/reader.py" "$LTF" 5)
check_ok '[ "${badreads:-1}" = 0 ] && [ "${reads:-0}" -gt 100 ]' \
    "reader saw ${reads:-0} complete files, ${badreads:-?} partial or missing"
check_ok '[ "${rounds:-0}" -ge 3 ]' "the file was rewritten by ${rounds:-0} rounds in 5 s"
OUT=$(cat "$LTF")
promtool_ok

loop_cfg ', { "name": "ok2", "check": "smtp", "host": "'"$LAB_HOST"'", "port": '"$LAB_SMTP_PORT"' }'
kill -HUP "$RUN_PID"
if wait_until 10 grep -q 'target="ok2"' "$LTF"; then ok "SIGHUP: new check in the textfile"; else
    not_ok "SIGHUP: ok2 never appeared"
fi
echo '{"checks": [ {"check": "smtp", "host": "x", "prot": 1} ]}' >"$D/loop.json"
kill -HUP "$RUN_PID"
sleep 1
if wait_until 5 grep -q 'reload failed, keeping the current configuration' "$D/loop.log"; then
    ok "invalid reload logged"
else
    not_ok "invalid reload not logged: $(tail -3 "$D/loop.log")"
fi
expect_file_has "$D/loop.log" 'unknown key "prot"'
s1=$(grep '^mailhealth_last_run_timestamp_seconds ' "$LTF")
sleep 2.5
s2=$(grep '^mailhealth_last_run_timestamp_seconds ' "$LTF")
check_ok '[ -n "$s1" ] && [ "$s1" != "$s2" ] && grep -q "target=\"ok2\"" "$LTF"' \
    "the old config keeps running after a failed reload"
kill -TERM "$RUN_PID"
t0=$(date +%s%N)
wait "$RUN_PID"
rc=$?
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
check_ok '[ "$rc" = 0 ]' "SIGTERM: exit code $rc (wanted 0)"
check_ok '[ "$ms" -lt 5000 ]' "SIGTERM: stopped in ${ms} ms"
no_temp_files "$D/loop"
expect_file_has "$D/loop.log" 'SIGTERM: stopping'
expect_file_has "$D/loop.log" 'stopped after'
expect_file_has "$D/loop.log" 'down1 (smtp): CRITICAL [connection]'
nlines=$(grep -c 'round [0-9]*: ' "$D/loop.log")
check_ok '[ "$nlines" -ge 5 ]' "one log line per round ($nlines rounds)"

# ---------------------------------------------------------------------------
# Starts spread over the interval: each check at its own offset, inside the
# interval less its timeout and a tenth of the interval, the same after a
# reload; each round ends after its last check and within the interval.
case_ "spread starts"
mkdir -p "$D/spread"
spread_cfg() { # INTERVAL
    {
        printf '{ "interval_seconds": %s, "timeout_seconds": 1, "textfile": "%s", "checks": [' "$1" "$D/spread/mailhealth.prom"
        for i in 1 2 3 4 5 6; do
            printf '%s{ "name": "s%s", "check": "smtp", "host": "%s", "port": %s }' \
                "$([ $i = 1 ] || echo ,)" $i "$LAB_HOST" "$LAB_SMTP_PORT"
        done
        printf '] }\n'
    } >"$D/spread.json"
}
offsets() { # LOG NTH: the NTH set of "starts X s into each round" lines
    grep -o 's[0-9] (smtp): starts [0-9.]* s into each round' "$1" |
        awk -v n="$2" '$1 == "s1" { set++ } set == n { print $1, $4 }'
}
spread_cfg 4
"$B" run --config "$D/spread.json" -v 2>"$D/spread.log" &
pid=$!
T_PIDS+=($pid)
wait_until 20 grep -q 'round 2: ' "$D/spread.log"
first=$(offsets "$D/spread.log" 1)
check_ok '[ "$(wc -l <<<"$first")" = 6 ] && awk "\$2 < 0 || \$2 >= 2.6 { exit 1 }" <<<"$first" && awk "\$2 > 0 { n++ } END { exit n < 1 }" <<<"$first"' \
    "six offsets in [0, 2.6 s) (90 % of the 4 s interval less the 1 s timeout): $(tr '\n' ' ' <<<"$first")"
kill -HUP "$pid"
wait_until 20 grep -q 'round 4: ' "$D/spread.log"
check_ok '[ "$(offsets "$D/spread.log" 2)" = "$first" ]' "the same offsets after a reload"
last=$(awk '{ print $2 }' <<<"$first" | sort -n | tail -1)
secs=$(grep -o 'round [0-9]*: 6 checks in [0-9.]* s' "$D/spread.log" | awk '{ print $6 }' | tr '\n' ' ')
# The log shows a round's time to 0.01 s (2.33 for a round that ended
# 2.3335 s in, after a start at 2.333 s): compared to the start less that
# rounding; in a subshell, so a failure is reported instead of ending the
# script.
check_ok '(for s in $secs; do awk -v s="$s" -v l="$last" "BEGIN { exit !(s >= l - 0.005 && s < 4) }" || exit 1; done)' \
    "each round ends after its last start (+$last s) and within the 4 s interval: $secs"
expect_file_lacks "$D/spread.log" 'longer than the'
kill -TERM "$pid"
wait "$pid"
rc=$?
check_ok '[ "$rc" = 0 ]' "stopped (exit $rc)"
# A spread round over a minute: SIGHUP waits for its end, SIGTERM skips
# the checks that have not started and exits at once.
rm -f "$D/spread/mailhealth.prom"
spread_cfg 60
"$B" run --config "$D/spread.json" 2>"$D/spread60.log" &
pid=$!
T_PIDS+=($pid)
wait_until 10 grep -q 'starts spread over' "$D/spread60.log"
sleep 0.5
kill -HUP "$pid"
wait_until 10 grep -q 'SIGHUP: reloading the configuration after this round' "$D/spread60.log"
signal_wait TERM "$pid"
check_ok '[ "$rc" = 0 ] && [ "$ms" -lt 3000 ]' "SIGTERM in a spread round: exit $rc in ${ms} ms"
expect_file_has "$D/spread60.log" 'round 1 interrupted'
check_ok '[ ! -e "$D/spread/mailhealth.prom" ]' "no textfile from the interrupted round"
no_temp_files "$D/spread"

# ---------------------------------------------------------------------------
case_ "SIGINT during a round"
fault silent-after-connect 0
SIL=$FS_PORT
cat >"$D/sig.json" <<EOF
{ "textfile": "$KEEP", "checks": [
    { "name": "silent", "check": "smtp", "host": "127.0.0.1", "port": $SIL, "timeout": 4 },
    { "name": "refused", "check": "smtp", "host": "127.0.0.1", "port": 1 } ] }
EOF
"$B" run --config "$D/sig.json" --once 2>"$D/sig.log" &
pid=$!
T_PIDS+=($pid)
sleep 1.5
signal_wait INT "$pid"
check_ok '[ "$rc" = 3 ]' "--once interrupted: exit code $rc (wanted 3)"
check_ok '[ "$ms" -lt 4000 ]' "ended with the running check's deadline (${ms} ms after SIGINT)"
check_ok '[ "$(sha256sum "$KEEP")" = "$sum0" ]' "textfile untouched by the interrupted round"
no_temp_files "$D/keep"
expect_file_has "$D/sig.log" 'SIGINT: stopping; waiting for the running checks'
expect_file_has "$D/sig.log" 'round 1 interrupted'

sed -i 's/"timeout": 4/"timeout": 20/' "$D/sig.json"
"$B" run --config "$D/sig.json" --once 2>"$D/sig2.log" &
pid=$!
T_PIDS+=($pid)
sleep 1.2
kill -TERM "$pid"
sleep 0.3
t0=$(date +%s%N)
kill -TERM "$pid"
wait "$pid"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check_ok '[ "$rc" = 3 ] && [ "$ms" -lt 1500 ]' "second SIGTERM exits at once (rc $rc, ${ms} ms)"
no_temp_files "$D/keep"

# ---------------------------------------------------------------------------
# A password file that is a FIFO nobody writes to used to block the check
# forever (outside any deadline); mh_read_secret now refuses anything that
# is not a regular file, so the check fails at once and the round goes on.
# (The runner's watchdog for checks that outlive their deadline stays as a
# safety net; no code path is known to reach it any more.)
case_ "a FIFO as password file does not hang the round"
mkdir -p "$D/wd"
mkfifo "$D/wd-fifo"
cat >"$D/wd.json" <<EOF
{ "textfile": "$D/wd/mailhealth.prom", "timeout_seconds": 2, "checks": [
    { "name": "fifo", "check": "smtp", "host": "$LAB_HOST", "port": $LAB_SMTP_PORT,
      "auth_user": "u", "auth_password_file": "$D/wd-fifo", "allow_plaintext_auth": true },
    { "name": "fine", "check": "smtp", "host": "$LAB_HOST", "port": $LAB_SMTP_PORT } ] }
EOF
t0=$(date +%s%N)
"$B" run --config "$D/wd.json" --once 2>"$D/wd.log"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check_ok '[ "$rc" = 0 ] && [ "$ms" -lt 4000 ]' "round done in ${ms} ms (rc $rc)"
expect_file_has "$D/wd/mailhealth.prom" 'mailhealth_probe_status{target="fifo",check="smtp"} 3'
expect_file_has "$D/wd/mailhealth.prom" 'mailhealth_probe_status{target="fine",check="smtp"} 0'
no_temp_files "$D/wd"

# ---------------------------------------------------------------------------
case_ "notifications: Alertmanager and webhook"
HOOK_PORT=$P_HOOK
AM_PORT=$P_ALERTMANAGER
cat >"$D/hook.py" <<'EOF'
# Records every POST as one JSON line: path, Authorization header, body.
# The first request to /hook gets a 503 (the runner must retry).
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
port, out = int(sys.argv[1]), sys.argv[2]
failed = {"n": 0}
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        path = self.path.split("?")[0]
        if path == "/hook" and failed["n"] == 0:
            failed["n"] += 1
            self.send_response(503); self.end_headers(); return
        with open(out, "a") as f:
            f.write(json.dumps({"path": path,
                                "auth": self.headers.get("Authorization", ""),
                                "body": json.loads(body)}) + "\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a):
        pass
HTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
: >"$D/hook.jsonl"
"$PY" "$D/hook.py" "$HOOK_PORT" "$D/hook.jsonl" 2>"$D/hook.log" &
T_PIDS+=($!)
cat >"$D/am.yml" <<EOF
route:
  receiver: hook
  group_by: [alertname, target]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:$HOOK_PORT/am
        send_resolved: true
EOF
mkdir -p "$D/am-data"
prometheus-alertmanager --config.file="$D/am.yml" --storage.path="$D/am-data" \
    --web.listen-address=127.0.0.1:"$AM_PORT" --cluster.listen-address= \
    >"$D/am.log" 2>&1 &
AM_PID=$!
T_PIDS+=($AM_PID)
AMURL=http://127.0.0.1:$AM_PORT
wait_until 15 curl -fs -o /dev/null "$AMURL/-/ready" ||
    not_ok "alertmanager did not start: $(tail -5 "$D/am.log")"
TOKEN="tok-$RANDOM$RANDOM-secret"
printf '%s\n' "$TOKEN" >"$D/token"
chmod 600 "$D/token"
notify_cfg() { # PORT-OF-flappy
    cat >"$D/notify.json" <<EOF
{ "timeout_seconds": 3, "textfile": "$D/loop/notify.prom",
  "notify": { "alertmanager_url": "$AMURL/",
              "webhook_url": "http://127.0.0.1:$HOOK_PORT/hook?key=SECRETQUERY",
              "token_file": "$D/token", "timeout_seconds": 2 },
  "checks": [
    { "name": "flappy", "check": "smtp", "host": "127.0.0.1", "port": $1 },
    { "name": "steady", "check": "smtp", "host": "$LAB_HOST", "port": $LAB_SMTP_PORT } ] }
EOF
}
notify_cfg 1
"$B" run --config "$D/notify.json" --interval 1 2>"$D/notify.log" &
RUN_PID=$!
T_PIDS+=($RUN_PID)
am_has_flappy() {
    amtool alert query --alertmanager.url="$AMURL" -o json \
        alertname=MailHealthCheckFailed target=flappy 2>/dev/null |
        jq -e 'length > 0' >/dev/null
}
if wait_until 15 am_has_flappy; then
    ok "amtool alert query shows the firing alert"
    A=$(amtool alert query --alertmanager.url="$AMURL" -o json target=flappy)
    check_ok '[ "$(jq -r ".[0].labels.category" <<<"$A")" = connection ]' "label category=connection"
    check_ok '[ "$(jq -r ".[0].labels.severity" <<<"$A")" = critical ]' "label severity=critical"
    check_ok '[ "$(jq -r ".[0].labels.check" <<<"$A")" = smtp ]' "label check=smtp"
    check_ok 'jq -e ".[0].annotations.summary | test(\"refused\")" <<<"$A" >/dev/null' \
        "annotation summary carries the check's summary"
    check_ok '! amtool alert query --alertmanager.url="$AMURL" -o json target=steady | jq -e "length > 0" >/dev/null' \
        "no alert for the healthy check"
else
    not_ok "Alertmanager never got the alert: $(tail -5 "$D/notify.log")"
fi
hook_has() { # PATH STATUS: a POST to PATH with an alert for flappy in STATUS
    local n
    n=$(jq -c --arg p "$1" --arg s "$2" \
        'select(.path == $p) | .body.alerts[] | select(.labels.target == "flappy" and .status == $s)' \
        "$D/hook.jsonl" 2>/dev/null | wc -l)
    [ "$n" -gt 0 ]
}
if wait_until 15 hook_has /hook firing; then ok "webhook got the firing change"; else
    not_ok "webhook got no firing change: $(tail -5 "$D/notify.log")"
fi
auth=$(jq -r 'select(.path == "/hook") | .auth' "$D/hook.jsonl" | head -1)
check_ok '[ "$auth" = "Bearer $TOKEN" ]' "webhook request has the Bearer token"
check_ok 'grep -q "attempt 1 failed (HTTP 503); retrying" "$D/notify.log"' "a failed POST is retried"
if wait_until 15 hook_has /am firing; then ok "Alertmanager notified its receiver (firing)"; else
    not_ok "Alertmanager did not notify its receiver"
fi

notify_cfg "$LAB_SMTP_PORT"
kill -HUP "$RUN_PID"
if wait_until 15 bash -c "! amtool alert query --alertmanager.url=$AMURL -o json target=flappy | jq -e 'length > 0' >/dev/null"; then
    ok "the alert resolved in Alertmanager (long before its endsAt)"
else
    not_ok "the alert is still active: $(tail -5 "$D/notify.log")"
fi
if wait_until 15 hook_has /hook resolved; then ok "webhook got the resolution"; else
    not_ok "webhook got no resolution"
fi
if wait_until 15 hook_has /am resolved; then ok "Alertmanager sent the resolution to its receiver"; else
    not_ok "Alertmanager did not send the resolution"
fi
kill -TERM "$RUN_PID"
wait "$RUN_PID"
check_ok '[ $? = 0 ]' "runner stopped cleanly"
L=$D/notify.log
expect_file_has "$L" 'flappy (smtp): CRITICAL [connection]'
expect_file_has "$L" 'flappy (smtp): CRITICAL -> OK'
expect_file_has "$L" '(with token)'
expect_file_lacks "$L" "$TOKEN"
expect_file_lacks "$L" 'SECRETQUERY'
expect_file_has "$L" "http://127.0.0.1:$HOOK_PORT/hook?..."
kill "$AM_PID" 2>/dev/null

finish
