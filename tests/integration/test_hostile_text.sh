#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Hostile text from every source other than the SMTP greeting and EHLO
# (test_junk covers those): a server certificate whose subject, issuer and
# DNS names carry ANSI escapes, '|', quotes, backslashes and control bytes;
# MX host names with the same bytes from a DNS server (the domain check);
# a DNSBL TXT record with them (the dnsbl check); an RCPT refusal with them,
# seen by the smtp check and by the delivery check through libcurl.
# Asserted for each, in the three output formats: exit code 0..3; the
# hostile text reached the output (its marker is there), escaped: no control
# character in the output but line ends (and JSON's own tabs), at most one
# '|' on the Nagios status line and none after it; every JSON string free of
# control characters; the Prometheus exposition passes promtool.
# Lab parts needed: the CA and certificates, Dovecot (IMAP for delivery),
# rbldnsd, Perl's Net::DNS. Ports: LAB_PORT_BASE+310 .. +311 only.
. "$(dirname "$0")/lib.sh"
needs_lab
P_DNS=$((LAB_PORT_BASE + 310))
P_RBL=$((LAB_PORT_BASE + 311))
ESC=$'\033'

# clean_outputs MARKER ARGS...: runs check_mailhealth ARGS in each format.
clean_outputs() {
    local marker=$1 fmt line1 rest
    shift
    for fmt in nagios json prometheus; do
        run "$@" --output "$fmt"
        if [ "$RC" -le 3 ]; then ok "$fmt: exit code $RC"; else not_ok "$fmt: exit code"; fi
        if LC_ALL=C grep -q '[[:cntrl:]]' <<<"$(printf '%s' "$OUT" | tr -d '\n\t')"; then
            not_ok "$fmt: a control character in the output"
        else
            ok "$fmt: no control character"
        fi
        case $fmt in
        nagios)
            expect_out "$marker"
            line1=${OUT%%$'\n'*}
            rest=${OUT#*$'\n'}
            [ "$rest" = "$OUT" ] && rest=
            if [ "$(tr -cd '|' <<<"$line1" | wc -c)" -le 1 ] && [[ $rest != *"|"* ]]; then
                ok "nagios: '|' only before the perfdata"
            else
                not_ok "nagios: a '|' from the server text"
            fi
            ;;
        json)
            expect_out "$marker"
            if printf '%s' "$OUT" | python3 -c '
import json, sys
def walk(v):
    if isinstance(v, str):
        assert not any(ord(c) < 0x20 or ord(c) == 0x7f for c in v), repr(v)
    elif isinstance(v, dict):
        for x in v.values(): walk(x)
    elif isinstance(v, list):
        for x in v: walk(x)
walk(json.load(sys.stdin))' 2>"$T_TMP/json.err"; then
                ok "json: parses, no control character in any string"
            else
                not_ok "json: $(tail -n 1 "$T_TMP/json.err")"
            fi
            ;;
        prometheus) promtool_ok ;;
        esac
    done
}

# --------------------------------------------------------------------------
case_ "certificate subject, issuer and DNS names"
C=$T_TMP/certs
mkdir -p "$C"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$C/hostile.key" -out "$C/hostile.crt" -days 5 -utf8 \
    -subj "/CN=evil|\"q\"\\\\b${ESC}[31mRED${ESC}[0m"$'\001'"end/O=Org \"quoted\" | pipe" \
    -addext "subjectAltName=DNS:mx|pipe.example.com,DNS:x${ESC}[31mred"$'\001'".example.com" \
    2>"$T_TMP/openssl.err" || fail "openssl req: $(cat "$T_TMP/openssl.err")"
cp "$C/hostile.crt" "$C/hostile.chain.pem"
CERT_DIR=$C FS_CERT=hostile fault normal-tls-ok 3
clean_outputs "RED" tls -H 127.0.0.1 -p "$FS_PORT" --starttls --sni mx.example.com -t 5

# --------------------------------------------------------------------------
case_ "MX host names from DNS"
cat >"$T_TMP/dns.pl" <<'EOF'
use strict;
use warnings;
use Net::DNS;
use Net::DNS::Nameserver;
my ($port) = @ARGV;
my $ns = Net::DNS::Nameserver->new(
    LocalAddr => '127.0.0.1', LocalPort => $port, Verbose => 0,
    ReplyHandler => sub {
        my ($qname, $qclass, $qtype) = @_;
        my @ans;
        if ($qtype eq 'MX' && lc $qname eq 'hostile.test') {
            push @ans, Net::DNS::RR->new(
                'hostile.test. 60 IN MX 10 mx\124pipe\"q\\\\b\027[31mRED.hostile.test.');
            push @ans, Net::DNS::RR->new(
                'hostile.test. 60 IN MX 20 mx2\255\000x.hostile.test.');
        } elsif ($qtype eq 'A') {
            push @ans, Net::DNS::RR->new("$qname. 60 IN A 127.0.0.1");
        }
        return ('NOERROR', \@ans, [], [], { aa => 1 });
    }) or die "dns.pl: cannot listen on $port\n";
$ns->main_loop;
EOF
perl "$T_TMP/dns.pl" "$P_DNS" >"$T_TMP/dns.log" 2>&1 &
T_PIDS+=($!)
# dig +short prints its errors on stdout too: look for the answer itself.
dns_up() { grep -q '^10 ' <<<"$(dig +short +time=1 +tries=1 -p "$P_DNS" @127.0.0.1 hostile.test MX)"; }
if wait_until 10 dns_up; then
    fault silent-after-connect 4
    clean_outputs "RED" domain -D hostile.test --resolver "127.0.0.1:$P_DNS" -p "$FS_PORT" -t 3
else
    fail "the test's DNS server did not answer: $(tail -n 3 "$T_TMP/dns.log")"
fi

# --------------------------------------------------------------------------
case_ "DNSBL TXT record"
printf '$SOA 60 ns.evil.test hostmaster.evil.test 1 60 60 600 5\n:127.0.0.2:Listed %s[31mRED%s[0m |pipe| "q" \\\\ back \001 \377\376 end\n127.0.0.2\n192.0.2.10\n' \
    "$ESC" "$ESC" >"$T_TMP/evil.zone"
chmod 711 "$T_TMP"
chmod 644 "$T_TMP/evil.zone"
rbldnsd -n -u rbldns -b "127.0.0.1/$P_RBL" -a -c 0 -t 30 evil.test:ip4set:"$T_TMP/evil.zone" \
    >"$T_TMP/rbldnsd.log" 2>&1 &
T_PIDS+=($!)
rbl_up() { grep -q '^127\.' <<<"$(dig +short +time=1 +tries=1 -p "$P_RBL" @127.0.0.1 2.0.0.127.evil.test A)"; }
if wait_until 10 rbl_up; then
    clean_outputs "RED" dnsbl -H 192.0.2.10 --zone evil.test --resolver "127.0.0.1:$P_RBL"
else
    fail "rbldnsd did not answer: $(tail -n 3 "$T_TMP/rbldnsd.log")"
fi

# --------------------------------------------------------------------------
case_ "RCPT refusal seen by smtp"
CERT_DIR=$LAB_CERT_DIR fault hostile-rcpt-text 3
clean_outputs "RED" smtp -H 127.0.0.1 -p "$FS_PORT" --mail-from a@example.com \
    --rcpt-to b@example.com -t 5

case_ "RCPT refusal seen by delivery (libcurl)"
printf 'secret\n' >"$T_TMP/pw"
CERT_DIR=$LAB_CERT_DIR fault hostile-rcpt-text 3
clean_outputs "RED" delivery --submit "smtp://$LAB_MX_NAME:$FS_PORT" \
    --imap "imap://$LAB_MX_NAME:$LAB_IMAP_PORT" --resolver "$LAB_RESOLVER" \
    --ca-file "$LAB_CA_FILE" -U probe --auth-password-file "$T_TMP/pw" \
    --imap-user "$LAB_USER" --imap-password-file "$LAB_PASSWORD_FILE" \
    --mail-from a@example.com -r b@example.com -t 8

finish
