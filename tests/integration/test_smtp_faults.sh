#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The SMTP field cases (tests/field-cases.md) and the synthetic
# hostile-server cases, played by the scripted fault server
# (tests/faultserver). Lab parts needed: the certificates ($LAB_CERT_DIR).
. "$(dirname "$0")/lib.sh"
needs_lab
export FS_USER=probe@example.net FS_PASS='s3cret-pass!'
pwfile=$T_TMP/password
printf '%s\n' "$FS_PASS" >"$pwfile"
chmod 600 "$pwfile"
H=(-H 127.0.0.1 --ehlo probe.example.net)
AUTH=(--auth-user "$FS_USER" --auth-password-file "$pwfile")

case_ "BR-01 multi-line greeting with a pause"
fault br01-multiline-greeting
run smtp "${H[@]}" -p "$FS_PORT" -t 10
expect_rc 0
expect_line1 "^MAILHEALTH OK - "
expect_out "Unsolicited bulk mail is not accepted"
expect_file_lacks "$FS_TRANSCRIPT" "EVENT early-talk"
expect_file_lacks "$FS_TRANSCRIPT" "VIOLATION"
if awk -v e="$ELAPSED" 'BEGIN { exit !(e >= 2.9) }'; then
    ok "response time includes the 3 s pause (${ELAPSED}s)"
else not_ok "returned after ${ELAPSED}s, before the greeting ended"; fi

case_ "BR-02 early talker / no pipelining"
fault br02-early-talker
run smtp "${H[@]}" -p "$FS_PORT" -t 10
expect_rc 0
expect_file_lacks "$FS_TRANSCRIPT" "EVENT early-talk"
expect_file_lacks "$FS_TRANSCRIPT" "EVENT pipelined"
expect_file_lacks "$FS_TRANSCRIPT" "VIOLATION"

case_ "BR-04A 554 multi-line greeting"
fault br04a-554-multiline
run smtp "${H[@]}" -p "$FS_PORT"
expect_rc 2
expect_line1 "CRITICAL - \[response\] .*greeting 554 .*Service not available; No SMTP service; See"
expect_file_lacks "$FS_TRANSCRIPT" "C: EHLO"

case_ "BR-04B 554 greeting, socket held open: result at once"
fault br04b-554-hold
run smtp "${H[@]}" -p "$FS_PORT" -t 10
expect_rc 2
expect_line1 "\[response\] .*greeting 554"
expect_elapsed_below 1.5
expect_file_lacks "$FS_TRANSCRIPT" "C: EHLO"

case_ "BR-05 421 greeting"
fault br05-421
run smtp "${H[@]}" -p "$FS_PORT" --starttls
expect_rc 1
expect_line1 "WARNING - \[response\] .*greeting 421 4\.7\.0 .*too many connections from 192\.0\.2\.10"
expect_no_out "not an SMTP"
expect_file_lacks "$FS_TRANSCRIPT" "C: STARTTLS"
expect_file_lacks "$FS_TRANSCRIPT" "tls-start"

case_ "BR-06 expected non-220 greeting"
fault br06-521
run smtp "${H[@]}" -p "$FS_PORT" --expect-greeting 521
expect_rc 0
expect_line1 "OK - .*greeting 521 as expected"
expect_file_lacks "$FS_TRANSCRIPT" "C: EHLO"
fault br06-521
run smtp "${H[@]}" -p "$FS_PORT"
expect_rc 2
expect_line1 "CRITICAL - \[response\] .*greeting 521 5\.3\.2 .*does not accept mail"
expect_no_out "recv"
expect_file_lacks "$FS_TRANSCRIPT" "C: EHLO"

for v in 502 500; do
    case_ "BR-07 EHLO $v then HELO"
    fault br07-ehlo-$v-helo
    run smtp "${H[@]}" -p "$FS_PORT"
    expect_rc 0
    expect_out "HELO accepted (server does not support ESMTP"
    expect_file_has "$FS_TRANSCRIPT" "C: HELO probe.example.net"
    fault br07-ehlo-$v-helo
    run smtp "${H[@]}" -p "$FS_PORT" --starttls
    expect_rc 2
    expect_line1 "\[tls\] .*STARTTLS unavailable: server rejected EHLO \($v\)"
done

for s in br09-starttls-ready br09-starttls-exchange-text br10-starttls-last-line; do
    case_ "${s%%-*} STARTTLS judged on the code, capability on any line"
    fault "$s"
    run smtp "${H[@]}" -p "$FS_PORT" --starttls --ca-file "$LAB_CA_FILE"
    expect_rc 0
    expect_line1 "OK - .*STARTTLS TLSv1\.[23]"
    expect_file_has "$FS_TRANSCRIPT" "C: STARTTLS"
    expect_file_lacks "$FS_TRANSCRIPT" "VIOLATION"
done

case_ "BR-14 MAIL FROM answered 530"
fault br14-mail-530
run smtp "${H[@]}" -p "$FS_PORT" --mail-from probe@example.com
expect_rc 2
expect_line1 "CRITICAL - \[auth\] .*MAIL FROM rejected: 530 5\.7\.57 SMTP; Client was not authenticated"
expect_no_out "recv"

case_ "BR-16 AUTH offered only after STARTTLS"
fault br16-auth-after-starttls
run smtp "${H[@]}" -p "$FS_PORT" --starttls --ca-file "$LAB_CA_FILE" "${AUTH[@]}"
expect_rc 0
expect_line1 "OK - .*STARTTLS.*AUTH ok"
expect_file_lacks "$FS_TRANSCRIPT" "VIOLATION"
expect_no_out "$FS_PASS"
fault br16-no-auth-after-tls
run smtp "${H[@]}" -p "$FS_PORT" --starttls --ca-file "$LAB_CA_FILE" "${AUTH[@]}"
expect_rc 2
expect_line1 "CRITICAL - \[auth\] .*AUTH not offered after STARTTLS"

case_ "BR-17 AUTH LOGIN: lower-case prompts, no initial response"
for s in br17a-login-lowercase br17b-login-no-initial-response; do
    fault "$s"
    run smtp "${H[@]}" -p "$FS_PORT" --allow-plaintext-auth "${AUTH[@]}" \
        --auth-mech LOGIN
    expect_rc 0
    expect_file_lacks "$FS_TRANSCRIPT" "VIOLATION"
done

case_ "BR-18 535 and 454: one attempt"
fault br18a-535
run smtp "${H[@]}" -p "$FS_PORT" --allow-plaintext-auth "${AUTH[@]}"
expect_rc 2
expect_line1 "CRITICAL - \[auth\] .*credentials rejected \(535 5\.7\.8"
expect_file_lacks "$FS_TRANSCRIPT" "VIOLATION"
fault br18b-454
run smtp "${H[@]}" -p "$FS_PORT" --allow-plaintext-auth "${AUTH[@]}"
expect_rc 1
expect_line1 "WARNING - \[auth\] .*temporary authentication failure on server side \(454 4\.7\.0"
expect_file_lacks "$FS_TRANSCRIPT" "VIOLATION"

case_ "BR-20 long greet pause inside the timeout"
fault br20-greet-pause-8
run smtp "${H[@]}" -p "$FS_PORT" -t 10 --starttls --ca-file "$LAB_CA_FILE"
expect_rc 0
fault br20-greet-pause-8
run smtp "${H[@]}" -p "$FS_PORT" -t 10 -w 5 --starttls --ca-file "$LAB_CA_FILE"
expect_rc 1
expect_line1 "WARNING - \[response\] slow response: 8\.[0-9]+ \(warning range 5\)"
fault br20-greet-pause-8
run smtp "${H[@]}" -p "$FS_PORT" -t 6
expect_rc 2
expect_line1 "CRITICAL - \[timeout\] .*timeout after 6 s waiting for greeting, 0 bytes received"
expect_elapsed_below 6.6

case_ "BR-21 STARTTLS not offered"
fault br21-no-starttls
run smtp "${H[@]}" -p "$FS_PORT" --starttls -t 10
expect_rc 2
expect_line1 "CRITICAL - \[tls\] .*STARTTLS not advertised by 127\.0\.0\.1"
expect_elapsed_below 2
expect_file_lacks "$FS_TRANSCRIPT" "C: STARTTLS"
fault br21-no-starttls
run smtp "${H[@]}" -p "$FS_PORT" --starttls --starttls-optional -t 10
expect_rc 1
expect_line1 "WARNING - \[tls\] "

case_ "BR-26 TLS failure after STARTTLS accepted"
fault br26a-close-in-handshake
run smtp "${H[@]}" -p "$FS_PORT" --starttls --ca-file "$LAB_CA_FILE"
expect_rc 2
expect_line1 "CRITICAL - \[tls\] .*server accepted STARTTLS \(220\) but closed the connection during the TLS handshake"
fault br26c-alert
run smtp "${H[@]}" -p "$FS_PORT" --starttls --ca-file "$LAB_CA_FILE"
expect_rc 2
expect_line1 "CRITICAL - \[tls\] .*handshake failure"
fault br26d-454
run smtp "${H[@]}" -p "$FS_PORT" --starttls -t 10
expect_rc 2
expect_line1 "CRITICAL - \[tls\] .*STARTTLS refused: 454 4\.7\.0 TLS not available due to local problem"
expect_elapsed_below 2
fault br26d-454
run smtp "${H[@]}" -p "$FS_PORT" --starttls --starttls-optional -t 10
expect_rc 1
expect_line1 "WARNING - \[tls\] .*STARTTLS refused: 454"

for s in br28-close-after-ehlo br28-rst-after-ehlo; do
    case_ "$s: dropped before QUIT stays OK, exit 0"
    fault "$s"
    run smtp "${H[@]}" -p "$FS_PORT"
    expect_rc 0
    expect_out "closed the connection before"
done

case_ "over-long reply line"
fault overlong-reply
run smtp "${H[@]}" -p "$FS_PORT" -t 5
expect_rc 2
expect_line1 "CRITICAL - \[response\] .*longer than"
expect_elapsed_below 2

case_ "bare LF line endings"
fault bare-lf-replies
run smtp "${H[@]}" -p "$FS_PORT" --mail-from a@example.net --rcpt-to b@example.net
expect_rc 0

case_ "code-only reply lines"
fault code-only-lines
run smtp "${H[@]}" -p "$FS_PORT"
expect_rc 0

case_ "inconsistent codes in a multi-line reply"
fault inconsistent-multiline-codes
run smtp "${H[@]}" -p "$FS_PORT"
expect_out "reply lines carry different codes"

case_ "endless continuation lines"
fault endless-ehlo-reply
run smtp "${H[@]}" -p "$FS_PORT" -t 5
expect_rc 2
expect_line1 "\[response\] .*more than 100 lines"
expect_elapsed_below 3

case_ "silence and byte drip end at the deadline"
fault silent-after-connect
run smtp "${H[@]}" -p "$FS_PORT" -t 2
expect_rc 2
expect_line1 "CRITICAL - \[timeout\] .*timeout after 2 s waiting for greeting, 0 bytes received"
expect_elapsed_below 2.5
fault silent-after-ehlo
run smtp "${H[@]}" -p "$FS_PORT" -t 2
expect_rc 2
expect_line1 "\[timeout\] .*waiting for EHLO reply"
expect_elapsed_below 2.5
fault drip-greeting
run smtp "${H[@]}" -p "$FS_PORT" -t 2
expect_rc 2
expect_line1 "\[timeout\] .*waiting for greeting, [1-9][0-9]* bytes received"
expect_elapsed_below 2.5
fault drip-ehlo-reply
run smtp "${H[@]}" -p "$FS_PORT" -t 2
expect_rc 2
expect_line1 "\[timeout\] .*waiting for EHLO reply"
expect_elapsed_below 2.5
fault tls-stall
run smtp "${H[@]}" -p "$FS_PORT" -t 2 --starttls
expect_rc 2
expect_line1 "CRITICAL - \[timeout\] .*TLS handshake did not complete"
expect_elapsed_below 2.5

case_ "garbage instead of a greeting"
fault garbage-greeting
run smtp "${H[@]}" -p "$FS_PORT" -t 3
expect_rc 2
expect_line1 "CRITICAL - \[response\] "

case_ "relay"
fault relay-open
run smtp "${H[@]}" -p "$FS_PORT" --relay-test someone@foreign.test
expect_rc 2
expect_line1 "CRITICAL - \[relay\] .*open relay"
fault relay-denied
run smtp "${H[@]}" -p "$FS_PORT" --rcpt-to someone@foreign.test
expect_rc 2
expect_line1 "CRITICAL - \[relay\] .*RCPT TO:<someone@foreign\.test> rejected: 554 5\.7\.1"
fault relay-denied
run smtp "${H[@]}" -p "$FS_PORT" --relay-test someone@foreign.test
expect_rc 0
expect_out "refused as it must be"

case_ "RCPT blocked by an RBL"
fault rcpt-blocked-rbl
run smtp "${H[@]}" -p "$FS_PORT" --rcpt-to postmaster@example.com
expect_rc 2
expect_line1 "CRITICAL - \[blacklist\] .*blocked using zen\.spamhaus\.org"

case_ "RCPT blocked by an RBL: the rule in JSON and in the -v trace"
fault rcpt-blocked-rbl
run smtp "${H[@]}" -p "$FS_PORT" --rcpt-to postmaster@example.com -v --output json
json_ok '$j->{category} eq "blacklist" && $j->{reason} eq "provider_block" && (grep { $_->{name} eq "rcpt" && $_->{rule} eq "dnsbl_named" } @{$j->{phases}})'
expect_file_has "$T_TMP/stderr" "* rule dnsbl_named: 554 5.7.1 in rcpt -> CRITICAL blacklist/provider_block"

case_ "empty line after the greeting: skipped, replies stay aligned"
fault empty-line-after-greeting
run smtp "${H[@]}" -p "$FS_PORT" --mail-from a@example.net --rcpt-to nobody@example.com
expect_rc 2
expect_line1 "CRITICAL - \[response\] .*RCPT TO:<nobody@example\.com> rejected: 550 5\.1\.1"
expect_out "empty line in the EHLO reply, skipped"
fault empty-line-after-greeting
run smtp "${H[@]}" -p "$FS_PORT" --output json
expect_rc 1
json_ok '$j->{state} eq "WARNING" && $j->{category} eq "response" && $j->{reason} eq "protocol_violation"'
expect_file_has "$FS_TRANSCRIPT" "C: QUIT"

case_ "healthy server, all three renderers"
fault normal-ok
run smtp "${H[@]}" -p "$FS_PORT" --mail-from a@example.net --rcpt-to b@example.net
expect_rc 0
expect_line1 "^MAILHEALTH OK - 127\.0\.0\.1:$FS_PORT ESMTP ok, envelope ok, [0-9.]+ s response time \| time="
fault normal-ok
run smtp "${H[@]}" -p "$FS_PORT" --output prometheus
expect_rc 0
promtool_ok
expect_out "mailhealth_smtp_phase_duration_seconds{target=\"127.0.0.1:$FS_PORT\",phase=\"ehlo\"}"
expect_out "mailhealth_smtp_reply_code{target=\"127.0.0.1:$FS_PORT\",phase=\"banner\"} 220"

finish
