#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Integration tests of `check_mailhealth tls` and `smtp --cert-days`
# certificates made by openssl in the lab (tests/lab/lab.sh),
# served by the real Postfix (STARTTLS, implicit TLS, one smtpd per
# certificate variant) and Dovecot (IMAPS), and by the scripted fault server
# for the field cases BR-09, BR-21, BR-22, BR-25 and BR-26
# (tests/field-cases.md).
#
# The trust store is the lab's root (--ca-file $LAB_CA_FILE) unless a case
# says otherwise.
. "$(dirname "$0")/lib.sh"
needs_lab

: "${LAB_MX_NAME:?}" "${LAB_CA_FILE:?}" "${LAB_RESOLVER:?}"
MX=$LAB_MX_NAME
CA=(--ca-file "$LAB_CA_FILE")
RES=(--resolver "$LAB_RESOLVER")

# perf LABEL: the value of perfdata LABEL in the status line ("" if none).
perf() {
    printf '%s\n' "$LINE1" | sed 's/^[^|]*|//' | tr ' ' '\n' |
        sed -n "s/^'\{0,1\}$1'\{0,1\}=\([^;]*\).*/\1/p" | head -n 1
}

# expect_perf LABEL REGEX: the whole perfdata entry LABEL=... matches.
expect_perf() {
    local entry
    entry=$(printf '%s\n' "$LINE1" | sed 's/^[^|]*|//' | tr ' ' '\n' |
        grep -E "^'?$1'?=" | head -n 1)
    if grep -Eq -- "^'?$1'?=$2\$" <<<"$entry"; then
        ok "perfdata $entry ~ /$2/"
    else
        not_ok "perfdata '$1' is '$entry', wanted /$2/"
    fi
}

# expect_days_about LABEL DAYS: perfdata LABEL is within 0.1 of DAYS.
expect_days_about() {
    local v
    v=$(perf "$1")
    if [ -n "$v" ] && awk -v v="$v" -v d="$2" 'BEGIN { exit !(v - d < 0.1 && d - v < 0.1) }'; then
        ok "$1=$v (about $2 days)"
    else
        not_ok "$1='$v', wanted about $2 days"
    fi
}

# transcript_has / transcript_lacks FIXED: the fault server's transcript
# (the server flushes it when the session ends).
transcript_has() {
    sleep 0.2
    expect_file_has "$FS_TRANSCRIPT" "$1"
}
transcript_lacks() {
    sleep 0.2
    expect_file_lacks "$FS_TRANSCRIPT" "$1"
}

tls_port() { # VARIANT -> port of the lab's smtpd serving that certificate
    local v
    v=LAB_SMTP_TLS_$(echo "$1" | tr 'a-z-' 'A-Z_')_PORT
    echo "${!v}"
}

# ==========================================================================
# Real Postfix / Dovecot
# ==========================================================================

case_ "valid chain, STARTTLS on the real Postfix"
run tls -H "$MX" -p "$LAB_SMTP_PORT" "${RES[@]}" "${CA[@]}"
expect_rc 0
expect_line1 "^MAILHEALTH OK - $MX:$LAB_SMTP_PORT certificate OK: CN=$MX, chain of 3 verified, TLSv1\.[23] "
expect_line1 "earliest expiry in (89\.9|90\.0) days \(20[0-9-]+T[0-9:]+Z, CN=$MX\)"
expect_perf time '[0-9.]+s;;;0'
expect_days_about cert_days_depth0 90
expect_perf cert_days_depth0 '[0-9.]+;30:;14:'
expect_perf cert_days_depth1 '[0-9.]+;30:;14:'
expect_perf cert_days_earliest '[0-9.]+;30:;14:'
expect_days_about cert_days_earliest 90
expect_out "[OK] phase starttls: 220 2.0.0 Ready to start TLS"
expect_out "[OK] cert depth 0: CN=$MX (leaf), issuer CN=mailhealth Lab Intermediate CA, notAfter "
expect_out "EC 256 bits (prime256v1), ecdsa-with-SHA256"
expect_out "[OK] cert depth 1: CN=mailhealth Lab Intermediate CA (intermediate)"
expect_out "[OK] cert depth 2: CN=mailhealth Lab Root CA (root)"
expect_out "[OK] tls verify: chain of 3 verified to CN=mailhealth Lab Root CA, name matches $MX"
if grep -Eq 'notAfter [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z' <<<"$OUT"; then
    ok "notAfter in ISO 8601 UTC"
else
    not_ok "no ISO 8601 UTC notAfter"
fi

case_ "valid chain, implicit TLS (--tls) on the real Postfix"
run tls -H "$MX" -p "$LAB_SMTPS_PORT" --tls "${RES[@]}" "${CA[@]}"
expect_rc 0
expect_line1 "^MAILHEALTH OK - $MX:$LAB_SMTPS_PORT certificate OK: CN=$MX, chain of 3 verified"
expect_out "[OK] phase tls_handshake: TLSv1."
expect_no_out "phase banner"
expect_days_about cert_days_depth0 90

case_ "implicit TLS (--tls) on a plain-text SMTP port: CRITICAL [tls], says what the port speaks"
run tls -H "$MX" -p "$LAB_SMTP_PORT" --tls "${RES[@]}" "${CA[@]}"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \\[tls\\] .*TLS handshake failed: the server did not answer in TLS \\(a plain-text SMTP port\\? --starttls is for those\\)"

case_ "implicit TLS on Dovecot IMAPS (not SMTP: handshake only)"
run tls -H "$MX" -p "$LAB_IMAPS_PORT" --tls "${RES[@]}" "${CA[@]}"
expect_rc 0
expect_line1 "^MAILHEALTH OK - $MX:$LAB_IMAPS_PORT certificate OK: CN=$MX, chain of 3 verified"

case_ "smtp --tls --cert-days runs the same checks inside the dialogue"
run smtp -H "$MX" -p "$LAB_SMTPS_PORT" --tls --cert-days 30,14 "${RES[@]}" "${CA[@]}"
expect_rc 0
expect_line1 "^MAILHEALTH OK - .*ESMTP ok, implicit TLS TLSv1"
expect_out "[OK] phase banner: 220 "
expect_out "[OK] cert depth 0: CN=$MX (leaf)"
expect_perf cert_days_depth0 '[0-9.]+;30:;14:'

case_ "smtp --starttls --cert-days on a certificate expiring in 10 days"
run smtp -H "$MX" -p "$(tls_port soon)" --starttls --cert-days 30,7 "${RES[@]}" "${CA[@]}"
expect_rc 1
expect_line1 "^MAILHEALTH WARNING - \[tls\] .*certificate CN=$MX expires in (9\.9|10\.0) days \(notAfter "
expect_perf cert_days_depth0 '[0-9.]+;30:;7:'

case_ "smtp without --cert-days or a trust option checks no certificate"
run smtp -H "$MX" -p "$(tls_port expired)" --starttls "${RES[@]}"
expect_rc 0
expect_no_out "cert depth"
case_ "smtp: a trust option turns the certificate checks on"
run smtp -H "$MX" -p "$(tls_port expired)" --starttls "${RES[@]}" "${CA[@]}"
expect_rc 2
expect_line1 "CRITICAL - \[tls\] .*certificate has expired"

case_ "expired leaf"
run tls -H "$MX" -p "$(tls_port expired)" "${RES[@]}" "${CA[@]}"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] $MX\[[^]]+\]:[0-9]+: certificate verify failed: CN=$MX: certificate has expired \(notAfter [0-9T:Z-]+, expired (10\.0|9\.9|10\.1) days ago\)"
expect_out "[CRITICAL] [tls] cert depth 0: CN=$MX (leaf)"
expect_days_about cert_days_depth0 -10

case_ "expiring in 10 days: WARNING at 30,7"
run tls -H "$MX" -p "$(tls_port soon)" --cert-days 30,7 "${RES[@]}" "${CA[@]}"
expect_rc 1
expect_line1 "^MAILHEALTH WARNING - \[tls\] .*certificate CN=$MX expires in (9\.9|10\.0) days"
expect_perf cert_days_depth0 '[0-9.]+;30:;7:'

case_ "expiring in 10 days: CRITICAL at 30,14 (and by default)"
run tls -H "$MX" -p "$(tls_port soon)" --cert-days 30,14 "${RES[@]}" "${CA[@]}"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] .*certificate CN=$MX expires in (9\.9|10\.0) days"
run tls -H "$MX" -p "$(tls_port soon)" "${RES[@]}" "${CA[@]}"
expect_rc 2
run tls -H "$MX" -p "$(tls_port soon)" --cert-days 9.5,0.5 "${RES[@]}" "${CA[@]}"
expect_rc 0
expect_perf cert_days_depth0 '[0-9.]+;9\.5:;0\.5:'

case_ "self-signed leaf"
run tls -H "$MX" -p "$(tls_port selfsigned)" "${RES[@]}" "${CA[@]}"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] .*certificate verify failed: CN=$MX: self-signed certificate"
expect_out "[OK] cert depth 0: CN=$MX (leaf), issuer CN=$MX"

case_ "self-signed leaf with --no-verify: a note, expiry still checked"
run tls -H "$MX" -p "$(tls_port selfsigned)" --no-verify "${RES[@]}" "${CA[@]}"
expect_rc 0
expect_line1 "^MAILHEALTH OK - .*certificate OK: CN=$MX, NOT verified \(--no-verify: CN=$MX: self-signed certificate\)"
expect_out "[OK] verify depth 0: not enforced (--no-verify): CN=$MX: self-signed certificate"
run tls -H "$MX" -p "$(tls_port expired)" --no-verify "${RES[@]}" "${CA[@]}"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] .*certificate CN=$MX expired (10\.0|9\.9|10\.1) days ago"

case_ "wrong name"
run tls -H "$MX" -p "$(tls_port wrongname)" "${RES[@]}" "${CA[@]}"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] .*CN=wrong\.lab\.test: hostname mismatch: not valid for $MX \(certificate names: wrong\.lab\.test\)"

case_ "--verify-name: the certificate must match another name"
run tls -H "$MX" -p "$LAB_SMTP_PORT" --verify-name other.lab.test "${RES[@]}" "${CA[@]}"
expect_rc 2
expect_line1 "hostname mismatch: not valid for other\.lab\.test \(certificate names: $MX, localhost, 127\.0\.0\.1\)"

case_ "IP target: the certificate's IP address entry is checked, no SNI sent"
run tls -H 127.0.0.1 -p "$LAB_SMTP_PORT" "${CA[@]}"
expect_rc 0
expect_out "SNI none"

case_ "intermediate not sent (BR-25 on Postfix)"
run tls -H "$MX" -p "$(tls_port leafonly)" "${RES[@]}" "${CA[@]}"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] .*incomplete chain: server did not send the issuer of CN=$MX \(CN=mailhealth Lab Intermediate CA\); mail clients do not fetch missing intermediates \(unable to get local issuer certificate\)"
expect_out "verification failed (1 problem)"
expect_out "[OK] cert depth 0: CN=$MX (leaf)"

case_ "full chain sent, but the root is not in the trust store (system store)"
run tls -H "$MX" -p "$LAB_SMTP_PORT" "${RES[@]}"
expect_rc 2
expect_line1 "unknown issuer: CN=mailhealth Lab Root CA, issuer of CN=mailhealth Lab Intermediate CA, is neither in the trust store nor sent by the server"
expect_no_out "incomplete chain"

case_ "a --ca-file without any certificate in it"
printf 'not a certificate\n' >"$T_TMP/not-a-ca.pem"
run tls -H "$MX" -p "$LAB_SMTP_PORT" "${RES[@]}" --ca-file "$T_TMP/not-a-ca.pem"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] .*cannot load the trust store: no certificate or crl found"
expect_out "[OK] phase tls_handshake: TLSv1.3"

case_ "an intermediate that expires soon warns like a leaf"
run tls -H "$MX" -p "$(tls_port interm-soon)" --cert-days 30,7 "${RES[@]}" "${CA[@]}"
expect_rc 1
expect_line1 "^MAILHEALTH WARNING - \[tls\] .*intermediate CN=mailhealth Lab Intermediate CA \(expires soon\) expires in (9\.9|10\.0) days"
expect_out "[WARNING] [tls] cert depth 1: CN=mailhealth Lab Intermediate CA (expires soon) (intermediate)"
expect_out "[OK] cert depth 0: CN=$MX (leaf)"
expect_days_about cert_days_earliest 10
expect_days_about cert_days_depth1 10

case_ "an expired intermediate"
run tls -H "$MX" -p "$(tls_port interm-expired)" "${RES[@]}" "${CA[@]}"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] .*certificate verify failed: CN=mailhealth Lab Intermediate CA \(expired\): certificate has expired"
expect_out "[CRITICAL] [tls] cert depth 1: CN=mailhealth Lab Intermediate CA (expired) (intermediate)"

case_ "an extra expired certificate not on the verified path: WARNING at most"
run tls -H "$MX" -p "$(tls_port extra-expired)" "${RES[@]}" "${CA[@]}"
expect_rc 1
expect_line1 "^MAILHEALTH WARNING - \[tls\] .*certificate CN=mailhealth Lab Unrelated Expired Certificate sent but not on the verified path \(expired 30\.0 days ago, notAfter [0-9T:Z-]+\); remove it from the chain"
expect_out "[WARNING] [tls] cert extra 2: CN=mailhealth Lab Unrelated Expired Certificate (self-signed, not on the verified path)"
expect_out "[OK] tls verify: chain of 3 verified"
expect_days_about cert_days_earliest 90
run tls -H "$MX" -p "$(tls_port extra-expired)" --output prometheus "${RES[@]}" "${CA[@]}"
expect_no_out "Unrelated"
expect_out "mailhealth_tls_verified{target=\"$MX:$(tls_port extra-expired)\"} 1"

case_ "Prometheus families, promtool"
run tls -H "$MX" -p "$LAB_SMTP_PORT" --output prometheus "${RES[@]}" "${CA[@]}"
expect_rc 0
promtool_ok
expect_out "mailhealth_tls_cert_expiry_timestamp_seconds{target=\"$MX:$LAB_SMTP_PORT\",depth=\"0\",subject=\"CN=$MX\",issuer=\"CN=mailhealth Lab Intermediate CA\"} "
expect_out "mailhealth_tls_cert_expiry_timestamp_seconds{target=\"$MX:$LAB_SMTP_PORT\",depth=\"2\",subject=\"CN=mailhealth Lab Root CA\""
expect_out "mailhealth_tls_earliest_cert_expiry_timestamp_seconds{target=\"$MX:$LAB_SMTP_PORT\"} "
expect_out "mailhealth_tls_verified{target=\"$MX:$LAB_SMTP_PORT\"} 1"
expect_out "mailhealth_tls_version_info{target=\"$MX:$LAB_SMTP_PORT\",version=\"TLSv1."
expect_out "mailhealth_probe_success{target=\"$MX:$LAB_SMTP_PORT\",check=\"tls\"} 1"
run tls -H "$MX" -p "$(tls_port selfsigned)" --output prometheus "${RES[@]}" "${CA[@]}"
expect_rc 2
promtool_ok
expect_out "mailhealth_tls_verified{target=\"$MX:$(tls_port selfsigned)\"} 0"
expect_out "mailhealth_probe_error{target=\"$MX:$(tls_port selfsigned)\",check=\"tls\",category=\"tls\"} 1"

case_ "JSON: the chain with every fact"
run tls -H "$MX" -p "$LAB_SMTP_PORT" --output json "${RES[@]}" "${CA[@]}"
expect_rc 0
if printf '%s\n' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["check"] == "tls" and d["state"] == "OK", d
c = d["chain"]
assert [e["name"] for e in c] == ["depth 0", "depth 1", "depth 2"], c
for e in c:
    for k in ("subject", "issuer", "not_after", "days_left", "key", "signature_algorithm", "depth"):
        assert k in e, (k, e)
assert c[0]["not_after"].endswith("Z") and "T" in c[0]["not_after"]
' 2>"$T_TMP/json.err"; then ok "json chain"; else not_ok "json chain: $(cat "$T_TMP/json.err")"; fi

# ==========================================================================
# Fault server: the field cases
# ==========================================================================

case_ "BR-09: STARTTLS reply text does not matter, valid certificate"
FS_CERT=valid fault br09-starttls-ready
run tls -H 127.0.0.1 -p "$FS_PORT" --sni "$MX" "${CA[@]}"
expect_rc 0
expect_line1 "^MAILHEALTH OK - 127\.0\.0\.1:$FS_PORT certificate OK: CN=$MX"
transcript_has "C: EHLO"
transcript_has "C: QUIT"
fault br09-starttls-exchange-text
run tls -H 127.0.0.1 -p "$FS_PORT" --sni "$MX" "${CA[@]}"
expect_rc 0

case_ "BR-21: STARTTLS not advertised: CRITICAL/tls at once, STARTTLS never sent"
fault br21-no-starttls
run tls -H 127.0.0.1 -p "$FS_PORT" -t 10 --sni "$MX" "${CA[@]}"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] .*STARTTLS not advertised by 127\.0\.0\.1"
expect_elapsed_below 2
transcript_lacks "C: STARTTLS"
fault br21-no-starttls
run tls -H 127.0.0.1 -p "$FS_PORT" --starttls-optional --sni "$MX" "${CA[@]}"
expect_rc 1
expect_line1 "^MAILHEALTH WARNING - \[tls\] .*STARTTLS not advertised"

case_ "BR-22 A/B/C: SNI selects the certificate; every problem listed"
FS_SNI_NAME=$MX fault tls-br22-default-expired 3
run tls -H "$MX" -4 "${RES[@]}" -p "$FS_PORT" "${CA[@]}"
expect_rc 0
expect_line1 "certificate OK: CN=$MX, chain of 3 verified"
run tls -H 127.0.0.1 -p "$FS_PORT" "${CA[@]}"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] 127\.0\.0\.1:$FS_PORT: certificate verify failed: CN=mailhealth Lab Unrelated Expired Certificate: "
expect_line1 "self-signed certificate"
expect_line1 "certificate has expired \(notAfter [0-9T:Z-]+, expired 30\.0 days ago\)"
expect_line1 "IP address mismatch: not valid for 127\.0\.0\.1"
expect_line1 "no SNI sent \(target is an IP; give --sni\)"
expect_out "verification failed (3 problems)"
run tls -H 127.0.0.1 --sni "$MX" -p "$FS_PORT" "${CA[@]}"
expect_rc 0
transcript_has "tls-start sni=-"
transcript_has "tls-start sni=$MX"

case_ "BR-22 (lab scenario): default certificate self-signed"
FS_SNI_NAME=$MX FS_DEFAULT_CERT=selfsigned fault br22-sni-selects-cert 2
run tls -H 127.0.0.1 -p "$FS_PORT" "${CA[@]}"
expect_rc 2
expect_line1 "self-signed certificate.*no SNI sent \(target is an IP; give --sni\)"
run tls -H 127.0.0.1 --sni "$MX" -p "$FS_PORT" "${CA[@]}"
expect_rc 0

case_ "BR-25: intermediate not sent (fault server), then sent"
FS_CERT=valid fault br25-leaf-only
run tls -H 127.0.0.1 --sni "$MX" -p "$FS_PORT" "${CA[@]}"
expect_rc 2
expect_line1 "incomplete chain: server did not send the issuer of CN=$MX \(CN=mailhealth Lab Intermediate CA\); mail clients do not fetch missing intermediates"
FS_CERT=valid fault br09-starttls-ready
run tls -H 127.0.0.1 --sni "$MX" -p "$FS_PORT" "${CA[@]}"
expect_rc 0

case_ "BR-26 A: closed during the handshake"
fault br26a-close-in-handshake
run tls -H 127.0.0.1 --sni "$MX" -p "$FS_PORT" "${CA[@]}"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] .*server accepted STARTTLS \(220\) but closed the connection during the TLS handshake"
expect_no_out "[auth]"

case_ "BR-26 B: self-signed after STARTTLS"
fault br26b-selfsigned
run tls -H 127.0.0.1 --sni "$MX" -p "$FS_PORT" "${CA[@]}"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] .*certificate verify failed: CN=$MX: self-signed certificate"

case_ "BR-26 C: TLS alert: OpenSSL's reason"
fault br26c-alert
run tls -H 127.0.0.1 --sni "$MX" -p "$FS_PORT" "${CA[@]}"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] .*TLS handshake failed: .*handshake failure"
expect_no_out "[auth]"

case_ "BR-26 D: 454 to STARTTLS: CRITICAL/tls at once (WARNING when optional)"
fault br26d-454
run tls -H 127.0.0.1 --sni "$MX" -p "$FS_PORT" -t 10 "${CA[@]}"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] .*STARTTLS refused: 454 4\.7\.0 TLS not available due to local problem"
expect_elapsed_below 2
fault br26d-454
run tls -H 127.0.0.1 --sni "$MX" -p "$FS_PORT" --starttls-optional "${CA[@]}"
expect_rc 1
expect_line1 "^MAILHEALTH WARNING - \[tls\] .*STARTTLS refused: 454 4\.7\.0"

case_ "handshake timeout: category timeout, at the deadline"
fault tls-stall
run tls -H 127.0.0.1 --sni "$MX" -p "$FS_PORT" -t 2 "${CA[@]}"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[timeout\] .*TLS handshake did not complete within 2 s"
expect_elapsed_below 3.5

case_ "implicit TLS on a non-SMTP service: handshake only, nothing sent"
FS_CERT=valid fault tls-implicit-handshake-only
run tls -H 127.0.0.1 --sni "$MX" -p "$FS_PORT" --tls "${CA[@]}"
expect_rc 0
expect_line1 "certificate OK: CN=$MX, chain of 3 verified"
transcript_lacks "C: "
transcript_has "tls-done"

case_ "implicit TLS against a plain-text server: handshake failure reason"
fault br09-starttls-ready
run tls -H 127.0.0.1 --sni "$MX" -p "$FS_PORT" --tls "${CA[@]}"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] .*TLS handshake failed: "

case_ "implicit TLS, expired certificate (fault server)"
FS_CERT=expired fault implicit-tls-ok
run tls -H 127.0.0.1 --sni "$MX" -p "$FS_PORT" --tls "${CA[@]}"
expect_rc 2
expect_line1 "certificate has expired"

finish
