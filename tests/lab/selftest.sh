#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Proves that a running lab (tests/lab/lab.sh start) works, using only real
# clients from Debian packages: bash's /dev/tcp for plain SMTP dialogues,
# openssl s_client for TLS and certificate verification, curl for SMTP
# submission with AUTH and for IMAP, dig for DNS.
#
# Usage: tests/lab/selftest.sh [LABDIR]
# Prints one line per check and ends with "N passed, N failed"; exits 1 if
# anything failed.

# The LAB_* variables come from lab.env, sourced below.
# shellcheck disable=SC2153
set -euo pipefail

LABDIR=${1:-${MH_LAB_DIR:-/tmp/mailhealth-lab}}
if [ ! -r "$LABDIR/lab.env" ]; then
    echo "FAIL lab.env not found in $LABDIR (is the lab started?)"
    echo "0 passed, 1 failed"
    exit 1
fi
# shellcheck source=/dev/null
. "$LABDIR/lab.env"

passed=0 failed=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ok() {
    passed=$((passed + 1))
    printf 'ok   %s\n' "$1"
}
bad() {
    failed=$((failed + 1))
    printf 'FAIL %s\n' "$1"
    [ -z "${2:-}" ] || printf '%s\n' "$2" | tail -n 6 | sed 's/^/     | /'
}
# check DESCRIPTION COMMAND...: one result line; on failure the last lines of
# the command's output are shown indented.
check() {
    local d=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$d"; else bad "$d" "$out"; fi
}
# contains TEXT PATTERN (grep -E), printing TEXT when it does not match.
contains() { grep -Eq -- "$2" <<<"$1" || { printf '%s\n' "$1"; return 1; }; }
lacks() { ! grep -Eq -- "$2" <<<"$1" || { printf '%s\n' "$1"; return 1; }; }

# ---------------------------------------------------------------- SMTP ----
# smtp_session HOST PORT CMD...: plain-text SMTP dialogue; prints every reply
# line from the server (banner first), sends each CMD after the previous
# reply is complete.
read_reply() {
    local fd=$1 line
    while IFS= read -r -t 5 line <&"$fd"; do
        line=${line%$'\r'}
        printf '%s\n' "$line"
        [[ $line =~ ^[0-9]{3}(\ |$) ]] && return 0
    done
    echo "(no complete reply within 5 s)"
    return 1
}
smtp_session() {
    local host=$1 port=$2 fd cmd
    shift 2
    exec {fd}<>"/dev/tcp/$host/$port" || return 1
    read_reply "$fd" || true
    for cmd in "$@"; do
        printf '%s\r\n' "$cmd" >&"$fd"
        read_reply "$fd" || break
    done
    exec {fd}>&-
}

# Silence checks take seconds each (they wait for a timeout): start them now,
# in the background, and collect the results at the end.
dig_silent() { # PORT NAME [dig options]: print "TIMEOUT" when no answer came
    local port=$1 name=$2 out
    shift 2
    if out=$(dig +time=2 +tries=1 "$@" -p "$port" @"$LAB_HOST" "$name" A 2>&1); then
        echo "ANSWERED: $out"
    elif grep -Eq 'timed out|no servers could be reached' <<<"$out"; then
        echo TIMEOUT
    else
        echo "OTHER: $out"
    fi
}
dig_silent "$LAB_SILENT_DNS_PORT" probe.example >"$TMP/silent-udp" 2>&1 &
dig_silent "$LAB_SILENT_DNS_PORT" probe.example +tcp >"$TMP/silent-tcp" 2>&1 &
dig_silent "$LAB_RESOLVER_PORT" probe.silent.lab.test >"$TMP/silent-resolver" 2>&1 &

echo "# SMTP (MX port $LAB_SMTP_PORT, plain text)"
mx=$(smtp_session "$LAB_HOST" "$LAB_SMTP_PORT" "EHLO selftest.example" \
    "MAIL FROM:<someone@foreign.test>" "RCPT TO:<$LAB_FOREIGN_RCPT>" \
    "RCPT TO:<$LAB_USER>" "RCPT TO:<nosuchuser@lab.test>" "QUIT" 2>&1 || true)
check "MX greets with 220 $LAB_MX_NAME" contains "$mx" "^220 $LAB_MX_NAME ESMTP"
check "MX offers STARTTLS" contains "$mx" "^250[- ]STARTTLS"
check "MX offers no AUTH before TLS" lacks "$mx" "^250[- ]AUTH"
check "MX denies relay: 554 5.7.1 <$LAB_FOREIGN_RCPT>: Relay access denied" \
    contains "$mx" "^554 5\.7\.1 <$LAB_FOREIGN_RCPT>: Relay access denied$"
check "MX accepts RCPT $LAB_USER" contains "$mx" "^250 2\.1\.5 Ok"
check "MX rejects unknown lab.test user with 550 5.1.1" \
    contains "$mx" "^550 5\.1\.1 <nosuchuser@lab\.test>: Recipient address rejected"

if [ -n "$LAB_HOST6" ]; then
    mx6=$(smtp_session "$LAB_HOST6" "$LAB_SMTP_PORT" "QUIT" 2>&1 || true)
    check "MX also answers on [$LAB_HOST6]" contains "$mx6" "^220 $LAB_MX_NAME"
fi
pm=$(smtp_session "$LAB_HOST" "$LAB_SMTP_PORT" "EHLO selftest.example" \
    "MAIL FROM:<>" "RCPT TO:<postmaster@lab.test>" "QUIT" 2>&1 || true)
check "MX accepts RCPT postmaster@lab.test (alias of $LAB_USER)" contains "$pm" "^250 2\.1\.5 Ok"

sub=$(smtp_session "$LAB_HOST" "$LAB_SUBMISSION_PORT" "EHLO selftest.example" \
    "MAIL FROM:<$LAB_USER>" "QUIT" 2>&1 || true)
starttls_no_auth() {
    if grep -Eq "^250[- ]STARTTLS" <<<"$1" && ! grep -Eq "^250[- ]AUTH" <<<"$1"; then return 0; fi
    printf '%s\n' "$1"
    return 1
}
check "submission offers STARTTLS, no AUTH before TLS" starttls_no_auth "$sub"
check "submission requires TLS (530 5.7.0 before STARTTLS)" contains "$sub" "^530 5\.7\.0 Must issue a STARTTLS command first"
notls=$(smtp_session "$LAB_HOST" "$LAB_SMTP_NOTLS_PORT" "EHLO selftest.example" "QUIT" 2>&1 || true)
ehlo_without_starttls() {
    if grep -q "^250 " <<<"$1" && ! grep -q STARTTLS <<<"$1"; then return 0; fi
    printf '%s\n' "$1"
    return 1
}
check "no-TLS port ($LAB_SMTP_NOTLS_PORT) does not offer STARTTLS" ehlo_without_starttls "$notls"

# ----------------------------------------------------------------- TLS ----
# tls_probe PORT [s_client options]: handshake verifying against the lab CA
# and the MX name; prints s_client's output.
tls_probe() {
    local port=$1
    shift
    timeout 10 openssl s_client -connect "$LAB_HOST:$port" -servername "$LAB_MX_NAME" \
        -verify_hostname "$LAB_MX_NAME" -CAfile "$LAB_CA_FILE" -showcerts "$@" </dev/null 2>&1 || true
}
# verify_code PORT EXPECTED-CODE CERTS-SENT [s_client options]
verify_code() {
    local port=$1 want=$2 ncert=$3 out code n
    shift 3
    out=$(tls_probe "$port" "$@")
    code=$(sed -n 's/^ *Verify return code: \([0-9]*\).*/\1/p' <<<"$out" | tail -n 1)
    n=$(grep -c 'BEGIN CERTIFICATE' <<<"$out" || true)
    if [ "$code" = "$want" ] && [ "$n" = "$ncert" ]; then return 0; fi
    echo "verify code '$code' (want $want), $n certificates sent (want $ncert)"
    grep -E 'Verify return code|verify error|depth=|^ *[0-9] s:' <<<"$out" | head -n 8
    return 1
}
echo "# TLS (verified against $LAB_CA_FILE, name $LAB_MX_NAME)"
check "SMTP STARTTLS: chain verifies (leaf + intermediate sent)" verify_code "$LAB_SMTP_PORT" 0 2 -starttls smtp
check "submission STARTTLS: chain verifies" verify_code "$LAB_SUBMISSION_PORT" 0 2 -starttls smtp
check "SMTPS implicit TLS: chain verifies" verify_code "$LAB_SMTPS_PORT" 0 2
check "IMAP STARTTLS: chain verifies" verify_code "$LAB_IMAP_PORT" 0 2 -starttls imap
check "IMAPS: chain verifies" verify_code "$LAB_IMAPS_PORT" 0 2
smtps_banner=$(printf 'QUIT\r\n' | timeout 10 openssl s_client -quiet -connect "$LAB_HOST:$LAB_SMTPS_PORT" \
    -CAfile "$LAB_CA_FILE" 2>/dev/null | head -n 1 || true)
check "SMTPS greets with 220 inside TLS" contains "$smtps_banner" "^220 $LAB_MX_NAME"
check "tls-leafonly port: missing intermediate (21, leaf only sent)" verify_code "$LAB_SMTP_TLS_LEAFONLY_PORT" 21 1 -starttls smtp
check "tls-expired port: certificate has expired (10)" verify_code "$LAB_SMTP_TLS_EXPIRED_PORT" 10 2 -starttls smtp
check "tls-soon port: verifies" verify_code "$LAB_SMTP_TLS_SOON_PORT" 0 2 -starttls smtp
check "tls-wrongname port: hostname mismatch (62)" verify_code "$LAB_SMTP_TLS_WRONGNAME_PORT" 62 2 -starttls smtp
check "tls-selfsigned port: self-signed (18)" verify_code "$LAB_SMTP_TLS_SELFSIGNED_PORT" 18 1 -starttls smtp
check "tls-interm-soon port: verifies" verify_code "$LAB_SMTP_TLS_INTERM_SOON_PORT" 0 2 -starttls smtp
check "tls-interm-expired port: issuer expired (10)" verify_code "$LAB_SMTP_TLS_INTERM_EXPIRED_PORT" 10 2 -starttls smtp
check "tls-extra-expired port: verifies, 3 certificates sent" verify_code "$LAB_SMTP_TLS_EXTRA_EXPIRED_PORT" 0 3 -starttls smtp

# --------------------------------------------------------- certificates ----
C=$LAB_CERT_DIR
days_left() { # CERTFILE: whole days until notAfter (negative when expired)
    local end
    end=$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)
    echo $((($(date -d "$end" +%s) - $(date +%s)) / 86400))
}
cert_files() {
    local n f
    for n in valid expired soon wrongname selfsigned interm-soon interm-expired extra-expired; do
        for f in key crt chain.pem leafonly.pem; do
            [ -s "$C/$n.$f" ] || { echo "missing $C/$n.$f"; return 1; }
        done
    done
}
subject_is() { # FILE CN
    local s
    s=$(openssl x509 -in "$1" -noout -subject -nameopt RFC2253)
    [ "$s" = "subject=CN=$2" ] || { echo "$1: $s"; return 1; }
}
range_days() { # FILE MIN MAX
    local d
    d=$(days_left "$1")
    if [ "$d" -ge "$2" ] && [ "$d" -le "$3" ]; then return 0; fi
    echo "$1: $d days left, want $2..$3"
    return 1
}
pverify() { # EXPECT(ok|fail) CERT [openssl verify options]
    local want=$1 cert=$2 out
    shift 2
    if out=$(openssl verify -CAfile "$LAB_CA_FILE" "$@" "$cert" 2>&1); then
        [ "$want" = ok ] || { echo "unexpectedly verified: $out"; return 1; }
    else
        [ "$want" = fail ] || { echo "$out"; return 1; }
    fi
}
echo "# certificate files ($C)"
check "every set has .key .crt .chain.pem .leafonly.pem" cert_files
check "ca.pem is CN=mailhealth Lab Root CA" subject_is "$C/ca.pem" "mailhealth Lab Root CA"
check "intermediate.pem is CN=mailhealth Lab Intermediate CA" subject_is "$C/intermediate.pem" "mailhealth Lab Intermediate CA"
check "valid leaf verifies with the intermediate (openssl verify)" pverify ok "$C/valid.crt" -untrusted "$C/intermediate.pem"
check "valid leaf alone does not verify (missing intermediate)" pverify fail "$C/valid.leafonly.pem"
check "valid expires in 85..90 days" range_days "$C/valid.crt" 85 90
check "expired expired 10 days ago" range_days "$C/expired.crt" -11 -9
check "soon expires in 9..10 days" range_days "$C/soon.crt" 9 10
check "interm-soon's intermediate expires in 9..10 days" range_days "$C/intermediate-soon.pem" 9 10
check "interm-expired's intermediate has expired" range_days "$C/intermediate-expired.pem" -3 -1
check "wrongname is CN=wrong.lab.test" subject_is "$C/wrongname.crt" wrong.lab.test

# ----------------------------------------------------- submission, IMAP ----
echo "# mail flow (submission/SMTPS with Dovecot SASL, LMTP to Maildir, IMAP)"
CURL=(curl -sS --max-time 15 --cacert "$LAB_CA_FILE")
token=selftest-$(date +%s)-$$-$RANDOM
mkmsg() { # TO SUBJECT
    printf 'From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@lab.test>\r\n\r\nmailhealth lab selftest %s\r\n' \
        "$LAB_USER" "$1" "$2" "$2" "$2"
}
# send URLSCHEME PORT TO SUBJECT [curl options]
send() {
    local scheme=$1 port=$2 to=$3 subj=$4
    shift 4
    mkmsg "$to" "$subj" >"$TMP/$subj.eml"
    "${CURL[@]}" --resolve "$LAB_MX_NAME:$port:$LAB_HOST" --url "$scheme://$LAB_MX_NAME:$port/selftest.example" \
        --mail-from "$LAB_USER" --mail-rcpt "$to" --upload-file "$TMP/$subj.eml" \
        --user "$LAB_USER:$(cat "$LAB_PASSWORD_FILE")" "$@"
}
# arrives MAILDIR SUBJECT: wait up to 10 s for the message in MAILDIR/new
arrives() {
    local i
    for ((i = 0; i < 100; i++)); do
        grep -lqs "Subject: $2" "$1"/new/* 2>/dev/null && return 0
        sleep 0.1
    done
    echo "no message with subject $2 in $1/new after 10 s"
    tail -n 5 "$LAB_POSTFIX_LOG"
    return 1
}
check "submission: AUTH PLAIN after STARTTLS, message accepted" \
    send smtp "$LAB_SUBMISSION_PORT" "$LAB_USER" "$token-sub" --ssl-reqd
check "submission: AUTH CRAM-MD5 to $LAB_USER2 accepted" \
    send smtp "$LAB_SUBMISSION_PORT" "$LAB_USER2" "$token-cram" --ssl-reqd --login-options AUTH=CRAM-MD5
check "SMTPS: AUTH LOGIN, message accepted" \
    send smtps "$LAB_SMTPS_PORT" "$LAB_USER" "$token-smtps" --login-options AUTH=LOGIN
wrongpw() {
    local out
    if out=$("${CURL[@]}" -v --resolve "$LAB_MX_NAME:$LAB_SUBMISSION_PORT:$LAB_HOST" \
        --url "smtp://$LAB_MX_NAME:$LAB_SUBMISSION_PORT/selftest.example" --ssl-reqd \
        --user "$LAB_USER:wrong-password" --mail-from "$LAB_USER" --mail-rcpt "$LAB_USER" \
        --upload-file /dev/null 2>&1); then
        echo "accepted a wrong password"
        return 1
    fi
    contains "$out" "< 535 5\.7\.8"
}
check "submission: wrong password gets 535 5.7.8" wrongpw
noauth() {
    local out
    if out=$("${CURL[@]}" -v --resolve "$LAB_MX_NAME:$LAB_SUBMISSION_PORT:$LAB_HOST" \
        --url "smtp://$LAB_MX_NAME:$LAB_SUBMISSION_PORT/selftest.example" --ssl-reqd \
        --mail-from "$LAB_USER" --mail-rcpt "$LAB_USER" --upload-file /dev/null 2>&1); then
        echo "accepted a recipient without AUTH"
        return 1
    fi
    contains "$out" "< 554 5\.7\.1"
}
check "submission: RCPT without AUTH rejected (554 5.7.1)" noauth
check "submitted message arrives in $LAB_USER's Maildir (LMTP)" arrives "$LAB_MAILDIR" "$token-sub"
check "CRAM-MD5 message arrives in $LAB_USER2's Maildir" arrives "$LAB_MAILDIR2" "$token-cram"
check "SMTPS message arrives in $LAB_USER's Maildir" arrives "$LAB_MAILDIR" "$token-smtps"

imap_search() { # SCHEME PORT SUBJECT [curl options]
    local scheme=$1 port=$2 subj=$3 out
    shift 3
    out=$("${CURL[@]}" --resolve "$LAB_MX_NAME:$port:$LAB_HOST" \
        --url "$scheme://$LAB_MX_NAME:$port/INBOX" --user "$LAB_USER:$LAB_PASSWORD" \
        -X "SEARCH SUBJECT $subj" "$@" 2>&1) || { echo "$out"; return 1; }
    contains "$out" '^\* SEARCH [0-9]'
}
check "IMAP STARTTLS login + SEARCH finds the message" imap_search imap "$LAB_IMAP_PORT" "$token-sub" --ssl-reqd
check "IMAPS login + SEARCH finds the message" imap_search imaps "$LAB_IMAPS_PORT" "$token-smtps"
imap_badpw() {
    local out
    if out=$("${CURL[@]}" --resolve "$LAB_MX_NAME:$LAB_IMAPS_PORT:$LAB_HOST" \
        --url "imaps://$LAB_MX_NAME:$LAB_IMAPS_PORT/INBOX" --user "$LAB_USER:wrong" \
        -X NOOP 2>&1); then
        echo "IMAP accepted a wrong password"
        return 1
    fi
    contains "$out" "[Ll]ogin denied|67"
}
check "IMAPS rejects a wrong password" imap_badpw
check "Postfix logs to $LAB_POSTFIX_LOG (LMTP status=sent)" \
    grep -q "status=sent (250 2.0.0 <$LAB_USER>" "$LAB_POSTFIX_LOG"
check "Dovecot logs to $LAB_DOVECOT_LOG" grep -q "saved mail to INBOX" "$LAB_DOVECOT_LOG"

# ----------------------------------------------------------------- DNS ----
# dq PORT NAME TYPE: sorted short answers, one line
dq() { dig +time=2 +tries=1 +short -p "$1" @"$LAB_HOST" "$2" "$3" 2>&1 | sort | tr '\n' ' ' | sed 's/ $//'; }
# rcode PORT NAME TYPE
rcode() { dig +time=2 +tries=1 -p "$1" @"$LAB_HOST" "$2" "$3" 2>&1 | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
# answer DESCRIPTION PORT NAME TYPE EXPECTED
answer() {
    local d=$1 got
    got=$(dq "$2" "$3" "$4")
    if [ "$got" = "$5" ]; then ok "$d"; else bad "$d" "$3 $4: got '$got', want '$5'"; fi
}
status_is() { # DESCRIPTION PORT NAME TYPE RCODE
    local d=$1 got
    got=$(rcode "$2" "$3" "$4")
    if [ "$got" = "$5" ]; then ok "$d"; else bad "$d" "$3 $4: status '$got', want '$5'"; fi
}
nib6() { # reversed nibbles of an IPv6 address, as DNSBL queries use them
    perl -MSocket=inet_pton,AF_INET6 -e \
        'print join(".", reverse split //, unpack("H*", inet_pton(AF_INET6, $ARGV[0])))' "$1"
}
r=$LAB_RESOLVER_PORT
echo "# DNS via the resolver ($LAB_RESOLVER)"
answer "lab.test MX 10 mx.lab.test" "$r" lab.test MX "10 mx.lab.test."
answer "mx.lab.test A 127.0.0.1" "$r" mx.lab.test A "127.0.0.1"
answer "mx.lab.test AAAA ::1" "$r" mx.lab.test AAAA "::1"
answer "multi.lab.test has two MX" "$r" multi.lab.test MX "10 mx.lab.test. 20 mx2.lab.test."
answer "mx2.lab.test A 127.0.0.2" "$r" mx2.lab.test A "127.0.0.2"
answer "nullmx.lab.test MX 0 ." "$r" nullmx.lab.test MX "0 ."
answer "nomx.lab.test has no MX" "$r" nomx.lab.test MX ""
status_is "nomx.lab.test MX is NOERROR/NODATA" "$r" nomx.lab.test MX NOERROR
answer "nomx.lab.test A 127.0.0.1" "$r" nomx.lab.test A "127.0.0.1"
answer "txt.lab.test TXT v=spf1 -all" "$r" txt.lab.test TXT '"v=spf1 -all"'
answer "v6only.lab.test AAAA ::1, no A" "$r" v6only.lab.test AAAA "::1"
answer "listed.lab.test A 192.0.2.10" "$r" listed.lab.test A "192.0.2.10"
status_is "nonexistent.lab.test is NXDOMAIN" "$r" nonexistent.lab.test A NXDOMAIN
answer "PTR 192.0.2.10 -> listed.lab.test" "$r" 10.2.0.192.in-addr.arpa PTR "listed.lab.test."
echo "# DNSBL zones via the resolver"
answer "bl: 192.0.2.10 listed 127.0.0.2" "$r" 10.2.0.192.bl.lab.test A "127.0.0.2"
answer "bl: 192.0.2.10 TXT" "$r" 10.2.0.192.bl.lab.test TXT '"Listed: test entry for 192.0.2.10"'
answer "bl: 192.0.2.11 listed 127.0.0.3" "$r" 11.2.0.192.bl.lab.test A "127.0.0.3"
status_is "bl: 192.0.2.20 NXDOMAIN (clean)" "$r" 20.2.0.192.bl.lab.test A NXDOMAIN
answer "bl: test entry 127.0.0.2 listed" "$r" 2.0.0.127.bl.lab.test A "127.0.0.2"
status_is "bl: 127.0.0.1 not listed" "$r" 1.0.0.127.bl.lab.test A NXDOMAIN
answer "bl6: 2001:db8:abc:123::42 listed 127.0.0.2" "$r" "$(nib6 2001:db8:abc:123::42).bl6.lab.test" A "127.0.0.2"
answer "bl6: 2001:db8:abc:123::42 TXT" "$r" "$(nib6 2001:db8:abc:123::42).bl6.lab.test" TXT '"Listed: test entry for 2001:db8:abc:123::42"'
answer "bl6: test entry ::2 listed" "$r" "$(nib6 ::2).bl6.lab.test" A "127.0.0.2"
answer "bl6: test entry ::ffff:127.0.0.2 listed" "$r" "$(nib6 ::ffff:127.0.0.2).bl6.lab.test" A "127.0.0.2"
status_is "bl6: ::1 not listed" "$r" "$(nib6 ::1).bl6.lab.test" A NXDOMAIN
answer "dbl: listed-domain.test 127.0.1.2" "$r" listed-domain.test.dbl.lab.test A "127.0.1.2"
answer "dbl: listed-domain.test TXT" "$r" listed-domain.test.dbl.lab.test TXT '"Listed domain"'
answer "dbl: test entry TEST listed" "$r" test.dbl.lab.test A "127.0.0.2"
status_is "dbl: INVALID not listed" "$r" invalid.dbl.lab.test A NXDOMAIN
answer "dbl: IP query 192.0.2.20 -> 127.0.1.255" "$r" 20.2.0.192.dbl.lab.test A "127.0.1.255"
answer "dbl: IP query 127.0.0.2 -> 127.0.1.255" "$r" 2.0.0.127.dbl.lab.test A "127.0.1.255"
answer "err: 192.0.2.10 -> 127.255.255.254" "$r" 10.2.0.192.err.lab.test A "127.255.255.254"
answer "err: 192.0.2.10 TXT" "$r" 10.2.0.192.err.lab.test TXT '"Error: open resolver; https://check.example/returnc/pub/198.51.100.53/"'
answer "err: 192.0.2.11 -> 127.255.255.255" "$r" 11.2.0.192.err.lab.test A "127.255.255.255"
answer "err: 192.0.2.11 TXT" "$r" 11.2.0.192.err.lab.test TXT '"Error: excessive number of queries"'
answer "err: 192.0.2.12 -> 127.255.255.252" "$r" 12.2.0.192.err.lab.test A "127.255.255.252"
answer "err: test entry 127.0.0.2 listed" "$r" 2.0.0.127.err.lab.test A "127.0.0.2"
answer "uribl: 192.0.2.10 -> 127.0.0.1" "$r" 10.2.0.192.uribl.lab.test A "127.0.0.1"
answer "uribl: 192.0.2.10 TXT" "$r" 10.2.0.192.uribl.lab.test TXT '"127.0.0.1 -> Query Refused. See http://uribl.example/refused.shtml"'
answer "uribl: test entry listed" "$r" 2.0.0.127.uribl.lab.test A "127.0.0.2"
answer "all: 127.0.0.1 listed" "$r" 1.0.0.127.all.lab.test A "127.0.0.2"
answer "all: 192.0.2.20 listed" "$r" 20.2.0.192.all.lab.test A "127.0.0.2"
answer "out: 192.0.2.10 -> 192.0.2.99" "$r" 10.2.0.192.out.lab.test A "192.0.2.99"
answer "out: test entry -> 192.0.2.99" "$r" 2.0.0.127.out.lab.test A "192.0.2.99"
answer "multi.bl: 192.0.2.10 -> 127.0.0.2 and 127.0.0.4" "$r" 10.2.0.192.multi.bl.lab.test A "127.0.0.2 127.0.0.4"
answer "multi.bl: test entry listed" "$r" 2.0.0.127.multi.bl.lab.test A "127.0.0.2"
status_is "dead: test entry 127.0.0.2 NOT listed" "$r" 2.0.0.127.dead.lab.test A NXDOMAIN
status_is "dead: zone exists (SOA)" "$r" dead.lab.test SOA NOERROR
t0=$(date +%s%N)
status_is "servfail.lab.test gives SERVFAIL" "$r" x.servfail.lab.test A SERVFAIL
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$ms" -lt 1500 ]; then ok "SERVFAIL comes quickly (${ms} ms)"; else bad "SERVFAIL comes quickly" "${ms} ms"; fi
echo "# DNS servers queried directly"
answer "nsd ($LAB_DNS_PORT) answers lab.test MX" "$LAB_DNS_PORT" lab.test MX "10 mx.lab.test."
answer "rbldnsd ($LAB_RBL_PORT) answers bl test entry" "$LAB_RBL_PORT" 2.0.0.127.bl.lab.test A "127.0.0.2"

# ---------------------------------------------------------------- MTA-STS ----
echo "# MTA-STS: nginx on $LAB_STS_WEB_ADDR:443, zone $LAB_STS_DOMAIN"
answer "mta-sts.enforce A $LAB_STS_WEB_ADDR" "$r" "mta-sts.enforce.$LAB_STS_DOMAIN" A "$LAB_STS_WEB_ADDR"
answer "_mta-sts.twotxt has two v=STSv1 records" "$r" "_mta-sts.twotxt.$LAB_STS_DOMAIN" TXT \
    '"v=STSv1; id=20250101T000000" "v=STSv1; id=20250202"'
# sts_get NAME: "HTTP-CODE CONTENT-TYPE" of NAME's policy, verified with the lab CA.
sts_get() {
    curl -s --max-time 5 --cacert "$LAB_CA_FILE" -o /dev/null -w '%{http_code} %{content_type}' \
        --resolve "mta-sts.$1.$LAB_STS_DOMAIN:443:$LAB_STS_WEB_ADDR" \
        "https://mta-sts.$1.$LAB_STS_DOMAIN/.well-known/mta-sts.txt"
}
check "enforce policy: 200 text/plain" contains "$(sts_get enforce)" '^200 text/plain$'
check "notfound: 404" contains "$(sts_get notfound)" '^404 '
check "redirect: 301" contains "$(sts_get redirect)" '^301 '
check "html: text/html" contains "$(sts_get html)" '^200 text/html$'
check "wrongcert: curl refuses the certificate" contains "$(sts_get wrongcert)" '^000 '
check "expiredcert: curl refuses the certificate" contains "$(sts_get expiredcert)" '^000 '

wait
for f in silent-udp silent-tcp silent-resolver; do
    if [ "$(cat "$TMP/$f")" = TIMEOUT ]; then ok "$f: query times out"; else bad "$f: query times out" "$(cat "$TMP/$f")"; fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
