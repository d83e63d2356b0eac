#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The smtp and domain subcommands against the lab's real servers.
# Lab parts needed: Postfix (MX port with STARTTLS, a port without TLS,
# submission with Dovecot SASL, implicit TLS), nsd + unbound (lab.test MX,
# A, AAAA records), the lab CA, postgrey behind the greylisting smtpd and the
# anvil-limited smtpd.
. "$(dirname "$0")/lib.sh"
needs_lab
R=(--resolver "$LAB_RESOLVER")
MX=(-H "$LAB_MX_NAME" "${R[@]}" --ca-file "$LAB_CA_FILE")
wrongpw=$T_TMP/wrong
printf 'not-the-password\n' >"$wrongpw"

case_ "MX port: STARTTLS, verified chain, envelope, relay test"
run smtp "${MX[@]}" -p "$LAB_SMTP_PORT" --starttls --cert-days 30,14 \
    --mail-from probe@lab.test --rcpt-to "$LAB_USER" --relay-test "$LAB_FOREIGN_RCPT"
expect_rc 0
expect_line1 "^MAILHEALTH OK - mx\.lab\.test\[(::1|127\.0\.0\.1)\]:$LAB_SMTP_PORT ESMTP ok, STARTTLS TLSv1\.3, envelope ok"
expect_out "phase starttls: 220 2.0.0 Ready to start TLS"
expect_out "relay to <$LAB_FOREIGN_RCPT> refused as it must be: 554 5.7.1"
expect_out "Relay access denied"
expect_out "time_tls_handshake="

case_ "MX port, IPv4 and IPv6 forced"
run smtp "${MX[@]}" -p "$LAB_SMTP_PORT" -4
expect_rc 0
expect_line1 "mx\.lab\.test\[127\.0\.0\.1\]"
run smtp "${MX[@]}" -p "$LAB_SMTP_PORT" -6
expect_rc 0
expect_line1 "mx\.lab\.test\[::1\]"

case_ "relay denial for a recipient that must be accepted"
run smtp "${MX[@]}" -p "$LAB_SMTP_PORT" --starttls --mail-from probe@lab.test \
    --rcpt-to "$LAB_FOREIGN_RCPT"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[relay\] mx\.lab\.test\[.*\]:$LAB_SMTP_PORT RCPT TO:<$LAB_FOREIGN_RCPT> rejected: 554 5\.7\.1 <$LAB_FOREIGN_RCPT>: Relay access denied"

case_ "STARTTLS required on a port without TLS"
run smtp "${MX[@]}" -p "$LAB_SMTP_NOTLS_PORT" --starttls
expect_rc 2
expect_line1 "CRITICAL - \[tls\] .*STARTTLS not advertised by mx\.lab\.test"
run smtp "${MX[@]}" -p "$LAB_SMTP_NOTLS_PORT" --starttls --starttls-optional
expect_rc 1
expect_line1 "WARNING - \[tls\] "

case_ "submission: AUTH over STARTTLS with the right password"
run smtp "${MX[@]}" -p "$LAB_SUBMISSION_PORT" --starttls --auth-user "$LAB_USER" \
    --auth-password-file "$LAB_PASSWORD_FILE" --mail-from "$LAB_USER" \
    --rcpt-to "$LAB_USER2"
expect_rc 0
expect_line1 "OK - .*STARTTLS TLSv1\.3, AUTH ok, envelope ok"
expect_out "AUTH PLAIN ok: 235 2.7.0 Authentication successful"
expect_no_out "$LAB_PASSWORD"

case_ "submission: AUTH from an environment variable, LOGIN and CRAM-MD5"
for mech in LOGIN PLAIN; do
    LAB_PW=$LAB_PASSWORD run smtp "${MX[@]}" -p "$LAB_SUBMISSION_PORT" --starttls \
        --auth-user "$LAB_USER" --auth-password-env LAB_PW --auth-mech "$mech"
    expect_rc 0
    expect_out "AUTH $mech ok"
done

case_ "submission: wrong password is CRITICAL/auth, one attempt"
run smtp "${MX[@]}" -p "$LAB_SUBMISSION_PORT" --starttls --auth-user "$LAB_USER" \
    --auth-password-file "$wrongpw"
expect_rc 2
expect_line1 "CRITICAL - \[auth\] .*credentials rejected \(535 5\.7\.8"
expect_no_out "not-the-password"

case_ "submission: no STARTTLS means no credentials sent"
run smtp "${MX[@]}" -p "$LAB_SUBMISSION_PORT" --auth-user "$LAB_USER" \
    --auth-password-file "$LAB_PASSWORD_FILE"
expect_rc 2
expect_line1 "CRITICAL - \[auth\] .*refusing to send credentials over a plaintext connection"

case_ "submission: no credentials to a certificate that does not verify"
printf 'not a certificate\n' >"$T_TMP/not-a-ca.pem"
run smtp -H "$LAB_MX_NAME" "${R[@]}" -p "$LAB_SUBMISSION_PORT" --starttls -v \
    --auth-user "$LAB_USER" --auth-password-file "$LAB_PASSWORD_FILE"
expect_rc 2
expect_line1 "CRITICAL - \[tls\] .*refusing to send credentials: the server's certificate did not verify \(unable to get local issuer certificate\); give --ca-file"
expect_file_lacks "$T_TMP/stderr" ">>> AUTH"
run smtp -H "$LAB_MX_NAME" "${R[@]}" -p "$LAB_SUBMISSION_PORT" --starttls -v \
    --ca-file "$T_TMP/not-a-ca.pem" --auth-user "$LAB_USER" \
    --auth-password-file "$LAB_PASSWORD_FILE"
expect_rc 2
expect_line1 "CRITICAL - \[tls\] .*cannot load the trust store: no certificate or crl found"
expect_out "refusing to send credentials: the server's certificate could not be verified (cannot load the trust store: no certificate or crl found)"
expect_file_lacks "$T_TMP/stderr" ">>> AUTH"
run smtp -H "$LAB_MX_NAME" "${R[@]}" -p "$LAB_SUBMISSION_PORT" --starttls \
    --no-verify --auth-user "$LAB_USER" --auth-password-file "$LAB_PASSWORD_FILE"
expect_rc 0
expect_line1 "OK - .*AUTH ok"

case_ "submission: RCPT without AUTH is refused and reported with the reply"
run smtp "${MX[@]}" -p "$LAB_SUBMISSION_PORT" --starttls --mail-from "$LAB_USER" \
    --rcpt-to "$LAB_USER2"
expect_rc 2
expect_line1 "CRITICAL - \[response\] .*RCPT TO:<$LAB_USER2> rejected: 554 5\.7\.1 .*Access denied"

case_ "implicit TLS (port 465 style) with AUTH"
run smtp "${MX[@]}" -p "$LAB_SMTPS_PORT" --tls --cert-days 30,14 \
    --auth-user "$LAB_USER" --auth-password-file "$LAB_PASSWORD_FILE"
expect_rc 0
expect_line1 "OK - .*implicit TLS TLSv1\.3, AUTH ok"

case_ "verbose trace redacts credentials"
run smtp "${MX[@]}" -p "$LAB_SUBMISSION_PORT" --starttls -v --auth-user "$LAB_USER" \
    --auth-password-file "$LAB_PASSWORD_FILE"
expect_rc 0
expect_file_has "$T_TMP/stderr" ">>> EHLO"
expect_file_has "$T_TMP/stderr" "<<< 235 2.7.0"
expect_file_has "$T_TMP/stderr" "<credentials redacted>"
expect_file_lacks "$T_TMP/stderr" "$LAB_PASSWORD"
b64=$(printf '\0%s\0%s' "$LAB_USER" "$LAB_PASSWORD" | base64 -w0)
expect_file_lacks "$T_TMP/stderr" "$b64"
expect_file_lacks "$T_TMP/stderr" "* state "

case_ "-vv traces the dialogue's state changes"
run smtp "${MX[@]}" -p "$LAB_SUBMISSION_PORT" --starttls -vv --auth-user "$LAB_USER" \
    --auth-password-file "$LAB_PASSWORD_FILE"
expect_rc 0
for change in "connected -> greeting" "ehlo -> starttls" \
    "starttls -> tls_handshake" "tls_handshake -> ehlo_tls" \
    "ehlo_tls -> auth_plain" "auth_plain -> quit" "quit -> done"; do
    expect_file_has "$T_TMP/stderr" "* state $change"
done

case_ "domain: MX lookup, every address of every MX probed"
run domain -D "$LAB_DOMAIN" "${R[@]}" -p "$LAB_SMTP_PORT" --starttls \
    --ca-file "$LAB_CA_FILE" --cert-days 30,14
expect_rc 0
expect_line1 "^MAILHEALTH OK - lab\.test: 1/1 MX hosts healthy \(mx\.lab\.test\)"
expect_out "[OK] mx.lab.test[127.0.0.1]:$LAB_SMTP_PORT ESMTP ok"
expect_out "[OK] mx.lab.test[::1]:$LAB_SMTP_PORT ESMTP ok"
run domain -D "$LAB_DOMAIN" "${R[@]}" -p "$LAB_SMTP_PORT" --output prometheus
expect_rc 0
promtool_ok
expect_out "mailhealth_probe_success{target=\"lab.test\",check=\"domain\"} 1"
expect_out "mailhealth_probe_success{target=\"mx.lab.test[127.0.0.1]:$LAB_SMTP_PORT\",check=\"smtp\"} 1"
run domain -D "$LAB_DOMAIN" "${R[@]}" -p "$LAB_SMTP_PORT" --output json
expect_rc 0
if printf '%s' "$OUT" | perl -MJSON::PP -e 'my $j = decode_json(join "", <STDIN>);
    exit !($j->{check} eq "domain" && @{$j->{results}} == 2)'; then
    ok "json has results[] with both addresses"
else not_ok "json results"; fi

case_ "domain: one dead MX of two"
run domain -D "multi.$LAB_DOMAIN" "${R[@]}" -p "$LAB_SMTP_PORT"
expect_rc 2
expect_line1 "CRITICAL - \[connection\] multi\.lab\.test: 1/2 MX hosts healthy; mx2\.lab\.test\[127\.0\.0\.2\]"

case_ "domain: null MX, no MX, no domain"
run domain -D "nullmx.$LAB_DOMAIN" "${R[@]}"
expect_rc 2
expect_line1 "CRITICAL - \[connection\] nullmx\.lab\.test publishes a null MX \(RFC 7505\)"
run domain -D "nomx.$LAB_DOMAIN" "${R[@]}" -p "$LAB_SMTP_PORT"
expect_rc 0
expect_out "has no MX records: its own address is the mail exchanger"
run domain -D "nonexistent.$LAB_DOMAIN" "${R[@]}"
expect_rc 2
expect_line1 "CRITICAL - \[connection\] domain nonexistent\.lab\.test does not exist"

case_ "domain: a resolver that never answers ends at the deadline"
run domain -D "$LAB_DOMAIN" --resolver "127.0.0.1:$LAB_SILENT_DNS_PORT" -t 2
expect_rc 2
expect_line1 "CRITICAL - \[timeout\] no DNS answer for the MX of lab\.test"
expect_elapsed_below 2.6

case_ "postgrey greylists the RCPT: WARNING response greylisted, never blacklist"
run smtp -H 127.0.0.1 -p "$LAB_SMTP_GREY_PORT" --mail-from "grey-$$@example.net" \
    --rcpt-to "$LAB_USER" --output json -v
expect_rc 1
json_ok '$j->{state} eq "WARNING" && $j->{category} eq "response" && $j->{reason} eq "greylisted"'
json_ok '(grep { $_->{name} eq "rcpt" && $_->{rule} eq "greylisted" && $_->{enhanced_code} eq "4.2.0" } @{$j->{phases}})'
expect_out "Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/"
expect_file_has "$T_TMP/stderr" "* rule greylisted: 450 4.2.0 in rcpt -> WARNING response/greylisted"

case_ "anvil connection rate limit: the second connection gets a real 421"
run smtp -H 127.0.0.1 -p "$LAB_SMTP_ANVIL_PORT"
run smtp -H 127.0.0.1 -p "$LAB_SMTP_ANVIL_PORT" --output json
expect_rc 1
json_ok '$j->{state} eq "WARNING" && $j->{category} eq "response" && $j->{reason} eq "too_many_connections"'
expect_out "Error: too many connections from 127.0.0.1"

finish
