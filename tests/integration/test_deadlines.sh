#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Deadlines: -t N ends the check within N + 0.5 s, as a timeout
# (category "timeout") that names the phase it was in, whatever the server
# does: silence after connect, silence after EHLO, a greeting or an EHLO
# reply dripped one byte at a time, a TLS handshake that stalls after the
# ClientHello, a DNS server that never answers (domain, dnsbl, smtp by name).
# Each case runs in JSON (state, exit code, category, the phase item and
# the summary are checked) and is timed; a few run in Nagios and Prometheus
# form too.
# Lab parts needed: the silent DNS port ($LAB_SILENT_DNS_PORT); the fault
# server.
. "$(dirname "$0")/lib.sh"
needs_lab
H=(-H 127.0.0.1 --ehlo probe.example.net)
SILENT=(--resolver "127.0.0.1:$LAB_SILENT_DNS_PORT")
MARGIN=0.5

# json_field EXPR: evaluates a Python expression over the parsed JSON output
# (`j`) and prints the result ("" on a parse error).
json_field() {
    printf '%s\n' "$OUT" | python3 -c '
import json, sys
try:
    j = json.load(sys.stdin)
except Exception:
    sys.exit(0)
r = eval(sys.argv[1])
print("" if r is None else r)' "$1" 2>/dev/null
}

# within N: the check ended before N + MARGIN seconds by its own clock (the
# JSON duration_seconds, the Nagios perfdata time= or the Prometheus
# mailhealth_probe_duration_seconds, measured from the check's start to its
# verdict, less the time the process waited for a CPU), and not long before N (a timeout reported
# early would be a guess, not a measurement). The process's wall time, less
# the time it waited for a CPU, must stay below N + MARGIN + 1 s: on a
# machine loaded with builds, starting and ending a sanitizer build (loading
# it, the leak check at exit) waited for the disk for up to 0.8 s, which the
# CPU wait does not count; a check that kept running past its deadline is
# caught by the first bound. Output without a duration (a Nagios line
# without perfdata) is held to N + MARGIN by the process's time.
within() {
    local n=$1 max dur
    max=$(awk -v n="$n" -v m="$MARGIN" 'BEGIN { print n + m }')
    dur=$(json_field 'j["duration_seconds"]')
    [ -n "$dur" ] || dur=$(sed -n '1s/.*| time=\([0-9.]*\)s.*/\1/p' <<<"$OUT")
    [ -n "$dur" ] || dur=$(awk '/^mailhealth_probe_duration_seconds/ { print $2; exit }' <<<"$OUT")
    if [ -z "$dur" ]; then
        # No duration in this output (a Nagios line without perfdata): the
        # process's own time is the measure.
        expect_elapsed_below "$max"
        dur=$ELAPSED
    elif awk -v d="$dur" -v q="$RUNQ" -v m="$max" 'BEGIN { exit !(d - q < m) }'; then
        ok "the check ended its work in ${dur}s, ${RUNQ}s of the process's time waiting for a CPU (< $max s)"
        expect_elapsed_below "$(awk -v m="$max" 'BEGIN { print m + 1 }')"
    else
        not_ok "the check took ${dur}s by its own clock, ${RUNQ}s of the process's time waiting for a CPU, wanted < $max s"
    fi
    if awk -v e="$dur" -v n="$n" 'BEGIN { exit !(e >= n - 0.2) }'; then
        ok "ran until the deadline (${dur}s >= $n - 0.2 s)"
    else
        not_ok "returned after ${dur}s, before the -t $n deadline"
    fi
}

# json_timeout RC PHASE_REGEX: exit code, state/exit_code agree, category
# timeout, and an item of the failing phase (kind phase, zone...) whose
# category is timeout and whose name matches PHASE_REGEX.
json_timeout() {
    local rc=$1 phase=$2 cat st code names
    expect_rc "$rc"
    cat=$(json_field 'j["category"]')
    st=$(json_field 'j["state"]')
    code=$(json_field 'j["exit_code"]')
    if [ "$cat" = timeout ]; then ok "category timeout"; else
        not_ok "category '$cat', wanted timeout"
    fi
    if [ "$code" = "$RC" ]; then ok "exit_code $code = exit status ($st)"; else
        not_ok "exit_code '$code' but exit status $RC"
    fi
    names=$(json_field '" ".join(i.get("name", "") for k, v in j.items() if isinstance(v, list) for i in v if isinstance(i, dict) and i.get("category") == "timeout")')
    if printf '%s\n' "$names" | grep -Eqw -- "$phase"; then
        ok "timeout item names the phase ($names)"
    else
        not_ok "no timeout item for phase /$phase/ (timeout items: '$names')"
    fi
}

# smtp_case SCENARIO N PHASE SUMMARY_REGEX [ARGS...]: one JSON run.
smtp_case() {
    local scen=$1 n=$2 phase=$3 re=$4 sum
    shift 4
    case_ "$scen, -t $n"
    fault "$scen"
    run smtp "${H[@]}" -p "$FS_PORT" -t "$n" --output json "$@"
    within "$n"
    json_timeout 2 "$phase"
    sum=$(json_field 'j["summary"]')
    if printf '%s\n' "$sum" | grep -Eq -- "$re"; then ok "summary ~ /$re/"; else
        not_ok "summary '$sum' !~ /$re/"
    fi
}

# Every case waits for its deadline: they run side by side.
bg smtp_case silent-after-connect 2 banner "waiting for greeting, 0 bytes received"
bg smtp_case silent-after-connect 1.5 banner "timeout after 1\.5 s waiting for greeting"
bg smtp_case silent-after-ehlo 2 ehlo "waiting for EHLO reply"
bg smtp_case drip-greeting 2 banner "waiting for greeting, [1-9][0-9]* bytes received"
bg smtp_case drip-ehlo-reply 2 ehlo "waiting for EHLO reply, [1-9][0-9]* bytes received"
bg smtp_case tls-stall 2 tls_handshake "TLS handshake did not complete within 2 s" --starttls

nagios_silent() {
    case_ "silent-after-connect, -t 2 (nagios)"
    fault silent-after-connect
    run smtp "${H[@]}" -p "$FS_PORT" -t 2
    within 2
    expect_rc 2
    expect_line1 "^MAILHEALTH CRITICAL - \[timeout\] .*timeout after 2 s waiting for greeting"
}
bg nagios_silent

prometheus_tls_stall() {
    case_ "tls-stall, -t 2 (prometheus)"
    fault tls-stall
    run smtp "${H[@]}" -p "$FS_PORT" -t 2 --starttls --output prometheus
    within 2
    expect_rc 2
    if printf '%s\n' "$OUT" | grep -Eq 'mailhealth_probe_error\{[^}]*category="timeout"\} 1$'; then
        ok "mailhealth_probe_error{category=\"timeout\"} 1"
    else not_ok "no mailhealth_probe_error{category=\"timeout\"} 1"; fi
    expect_out 'mailhealth_smtp_phase_duration_seconds{target="127.0.0.1:'
}
bg prometheus_tls_stall

# A DNS server that never answers (UDP and TCP).
domain_silent() {
    case_ "domain, silent resolver, -t 2"
    run domain -D "$LAB_DOMAIN" "${SILENT[@]}" -t 2 --output json
    within 2
    expect_rc 2
    if [ "$(json_field 'j["category"]')" = timeout ]; then ok "category timeout"; else
        not_ok "category is not timeout"; fi
    if json_field 'j["summary"]' | grep -q "no DNS answer for the MX of $LAB_DOMAIN"; then
        ok "summary names the MX lookup"
    else not_ok "summary does not name the MX lookup"; fi
    run domain -D "$LAB_DOMAIN" "${SILENT[@]}" -t 2
    within 2
    expect_line1 "^MAILHEALTH CRITICAL - \[timeout\] no DNS answer for the MX of lab\.test"
}
bg domain_silent

# DNSBL: a zone without an answer is UNKNOWN for that zone (never "not
# listed"), category timeout, the zone named.
dnsbl_address_silent() {
    case_ "dnsbl address, silent resolver, -t 2"
    run dnsbl -H 192.0.2.10 --zone bl.lab.test "${SILENT[@]}" -t 2 --output json
    within 2
    json_timeout 3 "bl\.lab\.test"
    run dnsbl -H 192.0.2.10 --zone bl.lab.test "${SILENT[@]}" -t 2
    within 2
    expect_line1 "^MAILHEALTH UNKNOWN - \[timeout\] .*no DNS answer for bl\.lab\.test within 2 s"
}
bg dnsbl_address_silent

dnsbl_name_silent() {
    case_ "dnsbl host name, silent resolver, -t 1.5"
    run dnsbl -H "$LAB_MX_NAME" --zone bl.lab.test "${SILENT[@]}" -t 1.5
    within 1.5
    expect_rc 3
    expect_line1 "^MAILHEALTH UNKNOWN - \[timeout\] no DNS answer for mx\.lab\.test within 1\.5 s"
}
bg dnsbl_name_silent

smtp_name_silent() {
    case_ "smtp by name, silent resolver, -t 2"
    run smtp -H "$LAB_MX_NAME" "${SILENT[@]}" -t 2 --output json
    within 2
    json_timeout 2 connect
    run smtp -H "$LAB_MX_NAME" "${SILENT[@]}" -t 2
    within 2
    expect_line1 "^MAILHEALTH CRITICAL - \[timeout\] .*no DNS answer for mx\.lab\.test"
}
bg smtp_name_silent
bg_wait

finish
