#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Integration tests of DANE (`smtp --dane`, `tls --dane`; RFC 7672): the
# lab's DNSSEC-signed zones (tests/lab/dane.sh: NSD serving zones signed by
# ldns-signzone), its validating Unbound (the lab's trust anchors) and its
# non-validating one, and the real Postfix ports the TLSA records name.
# Where a TLS session decides the verdict, `openssl s_client
# -dane_tlsa_rrdata` with the same published records confirms it.
. "$(dirname "$0")/lib.sh"
needs_lab

: "${LAB_DANE_RESOLVER:?}" "${LAB_DANE_SMTP_PORT:?}" "${LAB_RESOLVER:?}"
: "${LAB_DANE_NEXT_KEY:?}" "${LAB_SMTP_NOTLS_PORT:?}" "${LAB_SMTP_TLS_SOON_PORT:?}"
P=$LAB_DANE_SMTP_PORT
V=(--resolver "$LAB_DANE_RESOLVER" --dnssec-probe dane.test)

# dane HOST [PORT] [ARGS...]: smtp --dane against HOST through the
# validating resolver.
dane() {
    local host=$1 port=${2:-$P}
    shift 2 2>/dev/null || shift $#
    run smtp -H "$host" -p "$port" --dane "${V[@]}" "$@"
}

# s_client_dane HOST PORT: the TLSA records published for HOST:PORT (read
# through the validating resolver) given to openssl s_client over STARTTLS;
# prints s_client's DANE verdict line and verify return code.
s_client_dane() {
    local host=$1 port=$2 rr args=()
    while read -r rr; do
        [ -n "$rr" ] || continue
        args+=(-dane_tlsa_rrdata "$rr")
    done < <(dig +short +tries=1 +time=2 -p "${LAB_DANE_RESOLVER#*:}" \
        @"${LAB_DANE_RESOLVER%:*}" "_$port._tcp.$host" TLSA |
        awk '$1 ~ /^[0-9]+$/ { d = ""; for (i = 4; i <= NF; i++) d = d $i; print $1, $2, $3, d }')
    timeout 10 openssl s_client -connect "127.0.0.1:$port" -starttls smtp \
        -dane_tlsa_domain "$host" -dane_ee_no_namechecks "${args[@]}" \
        </dev/null 2>&1 | grep -E '^(DANE TLSA|Verify return code)'
}

# expect_s_client HOST PORT REGEX: s_client's verdict matches.
expect_s_client() {
    local got
    got=$(s_client_dane "$1" "$2" | tr '\n' ' ')
    if grep -Eq -- "$3" <<<"$got"; then
        ok "openssl s_client agrees: $got"
    else
        not_ok "openssl s_client says '$got', wanted /$3/"
    fi
}

case_ "3 1 1 matching the leaf"
dane ee.dane.test
expect_rc 0
expect_line1 '^MAILHEALTH OK'
expect_out 'DANE verified: TLSA 3 1 1 (DANE-EE) matched at depth 0'
expect_out_re 'record 0: TLSA 3 1 1 [0-9a-f]+\.\.\. \(DANE-EE\): matches at depth 0'
expect_out_re 'dane_rrsig_days=(29|30)\.[0-9]+;3:;1:'
expect_s_client ee.dane.test "$P" 'matched EE certificate at depth 0.*Verify return code: 0 \(ok\)'

case_ "2 1 1 on the lab intermediate"
dane ta.dane.test
expect_rc 0
expect_out 'DANE verified: TLSA 2 1 1 (DANE-TA) matched at depth 1'
expect_s_client ta.dane.test "$P" 'matched TA certificate at depth 1.*Verify return code: 0 \(ok\)'

case_ "a record for another key"
dane mismatch.dane.test
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[tls\] .*no TLSA record at _[0-9]+\._tcp\.mismatch\.dane\.test matches'
expect_out 'no match (no matching DANE TLSA records)'
expect_s_client mismatch.dane.test "$P" 'Verify return code: 65 '

case_ "current and next key published"
dane rollover.dane.test "$P" --tlsa-next-key "$LAB_DANE_NEXT_KEY"
expect_rc 0
# The resolver gives the two records in any order.
expect_out_re 'record [01]: TLSA 3 1 1 [0-9a-f.]+ \(DANE-EE\): matches at depth 0'
expect_out_re 'record [01]: TLSA 3 1 1 [0-9a-f.]+ \(DANE-EE\): no match'
expect_out 'a TLSA record matches the next key'
expect_s_client rollover.dane.test "$P" 'matched EE certificate at depth 0'

case_ "next key not published"
dane ee.dane.test "$P" --tlsa-next-key "$LAB_DANE_NEXT_KEY"
expect_rc 1
expect_line1 '^MAILHEALTH WARNING - \[tls\] .*matches the next key'
run smtp --output json -H ee.dane.test -p "$P" --dane "${V[@]}" --tlsa-next-key "$LAB_DANE_NEXT_KEY"
json_ok '$j->{reason} eq "dane_next_key_unpublished"'
json_ok '(grep { $_->{name} eq "record 0" && $_->{status} eq "match" && $_->{depth} == 0 } @{$j->{dane}}) == 1'

case_ "3 0 1 only, leaf expiring in 10 days"
dane soon.dane.test "$LAB_SMTP_TLS_SOON_PORT"
expect_rc 1
expect_line1 '^MAILHEALTH WARNING - \[tls\] .*renewal will break DANE'
expect_out 'TLSA 3 0 1'
expect_s_client soon.dane.test "$LAB_SMTP_TLS_SOON_PORT" 'matched EE certificate at depth 0'

case_ "PKIX-EE (usage 1) only"
dane usage1.dane.test
expect_rc 1
expect_line1 '^MAILHEALTH WARNING - \[tls\] .*none of the 1 TLSA records'
expect_out 'usage PKIX-EE(1) is unsuitable for SMTP (RFC 7672 3.1.3)'

case_ "bogus (tampered) TLSA data"
dane bogus.dane.test
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[tls\] .*TLSA lookup of _[0-9]+\._tcp\.bogus\.dane\.test failed \(SERVFAIL \(EDE 6'
run smtp --output json -H bogus.dane.test -p "$P" --dane "${V[@]}"
json_ok '$j->{reason} eq "dnssec_invalid" && $j->{category} eq "tls"'

case_ "expired RRSIGs (via a signed CNAME)"
dane sigexpired.dane.test
expect_rc 2
expect_line1 'SERVFAIL \(EDE 7'
expect_out 'dane tlsa: TLSA lookup of'

case_ "RRSIGs expiring in two days"
dane mx.sigsoon.test
expect_rc 1
expect_line1 '^MAILHEALTH WARNING - \[tls\] .*DNSSEC signatures over .* expire in (1\.9|2\.0) days'
expect_out_re 'dane_rrsig_days=(1\.9|2\.0)[0-9]*;3:;1:;0'

case_ "TLSA in an unsigned zone"
dane mx.unsigned.test
expect_rc 1
expect_line1 '^MAILHEALTH WARNING - \[tls\] .*not DNSSEC-signed: DANE not in effect'

case_ "SERVFAIL delegation"
dane servfail.dane.test
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[tls\] .*SERVFAIL'
run smtp --output json -H servfail.dane.test -p "$P" --dane "${V[@]}"
json_ok '$j->{reason} eq "dnssec_invalid"'

case_ "a resolver that does not validate"
run smtp -H ee.dane.test -p "$P" --dane --resolver "$LAB_RESOLVER" --dnssec-probe dane.test
expect_rc 3
expect_line1 '^MAILHEALTH UNKNOWN - \[tls\] .*resolver does not validate DNSSEC'

case_ "TLSA published, STARTTLS not offered"
dane notls.dane.test "$LAB_SMTP_NOTLS_PORT"
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[tls\] .*STARTTLS not offered but TLSA records are published'
run smtp --output json -H notls.dane.test -p "$LAB_SMTP_NOTLS_PORT" --dane "${V[@]}"
json_ok '$j->{reason} eq "dane_required"'

case_ "no TLSA records (signed denial)"
dane nodane.dane.test
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[tls\] .*no TLSA records at'

case_ "TLSA name behind a signed CNAME"
dane alias.dane.test
expect_rc 0
expect_out_re 'via CNAME _[0-9]+\._tcp\.ee\.dane\.test'

case_ "tls --dane: DANE authenticates, the Web PKI does not have to"
run tls -H ee.dane.test -p "$P" --dane "${V[@]}"
expect_rc 0
expect_out 'DANE verified'

case_ "Prometheus metrics"
run smtp --output prometheus -H ee.dane.test -p "$P" --dane "${V[@]}"
expect_out_re '^mailhealth_dane_verified\{.*\} 1$'
expect_out_re '^mailhealth_dane_tlsa_records\{.*\} 1$'
expect_out_re '^mailhealth_dane_rrsig_expiry_timestamp_seconds\{.*rrset="TLSA".*\} [0-9.e+]+$'
promtool_ok

case_ "domain --dane: every MX host, the MX RRset signed"
run domain -D dane.test -p "$P" --dane "${V[@]}"
expect_rc 0
expect_out 'the MX RRset of dane.test is DNSSEC-signed; 1 of 1 MX hosts publish signed TLSA records'
expect_out 'DANE verified: TLSA 3 1 1 (DANE-EE) matched at depth 0'
expect_out_re 'dane_mx_rrsig_days=(29|30)\.[0-9]+;3:;1:;0'
run domain -D dane.test -p "$P" --dane "${V[@]}" --output json
json_ok '(grep { $_->{name} eq "mx" && $_->{state} eq "OK" } @{$j->{dane}}) == 1'
json_ok '(grep { $_->{name} eq "verify" } @{$j->{results}[0]{dane}}) == 1'

case_ "domain --dane: one MX host of two does not match"
run domain -D mixed.dane.test -p "$P" --dane "${V[@]}"
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[tls\] mixed\.dane\.test: 1/2 MX hosts healthy; mismatch\.dane\.test'

case_ "domain --dane: RRSIGs expiring in two days"
run domain -D sigsoon.test -p "$P" --dane "${V[@]}"
expect_rc 1
expect_out 'RRSIGs over the MX records expire in'
expect_out_re 'dane_mx_rrsig_days=(1\.9|2\.0)[0-9]*;3:;1:;0'

case_ "domain --dane: an MX host without TLSA is not an error"
run domain -D lab.test -p "$LAB_SMTP_PORT" --dane "${V[@]}"
expect_rc 0
expect_out 'DANE not in use'

case_ "--dane needs a host name"
run smtp -H 127.0.0.1 -p "$P" --dane
expect_rc 3
expect_line1 'needs -H NAME'

finish
