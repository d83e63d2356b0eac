#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The mta-sts subcommand (RFC 8461 MTA-STS, RFC 8460 TLS-RPT) and the same
# checks inside domain, against the lab's nginx serving the policies of
# sts.lab.test with lab certificates, NSD's records through Unbound, and
# Postfix as the MX (mx.lab.test; other.lab.test for a certificate that
# does not name the MX).
# Lab parts needed: nginx on LAB_STS_WEB_ADDR:443 (policies under
# LAB_STS_WWW), NSD zone sts.lab.test, Unbound (LAB_RESOLVER), Postfix on
# LAB_SMTP_PORT with the valid chain, the silent DNS port.
. "$(dirname "$0")/lib.sh"
needs_lab

R=$LAB_RESOLVER
D=$LAB_STS_DOMAIN
SILENT=127.0.0.1:$LAB_SILENT_DNS_PORT

# sts NAME ARGS...: the mta-sts check of NAME.sts.lab.test.
sts() {
    local name=$1
    shift
    run mta-sts -D "$name.$D" --resolver "$R" -p "$LAB_SMTP_PORT" \
        --ca-file "$LAB_CA_FILE" -t 10 "$@"
}

case_ "valid enforce policy"
sts enforce
expect_rc 0
expect_line1 "^MAILHEALTH OK - enforce\.$D: MTA-STS enforce policy \(id 20250101T000000, max_age 86400 s\) valid, 1/1 MX covered, 1/1 with a verified certificate \| time="
expect_out "[OK] mta-sts record: MTA-STS record at _mta-sts.enforce.$D: id 20250101T000000"
expect_out "mode enforce, max_age 86400 s (1.0 days), mx mx.lab.test"
expect_out "[OK] cert policy depth 0: CN=mta-sts.enforce.$D (leaf)"
expect_out "[OK] mx mx.lab.test: MX mx.lab.test covered by mx.lab.test, STARTTLS certificate verified on"
expect_out "[OK] tls-rpt record: TLS-RPT record at _smtp._tls.enforce.$D valid: 2 report URIs"
sts enforce --output json
json_ok '$j->{state} eq "OK" && $j->{check} eq "mta-sts"'
json_ok '(grep { $_->{name} eq "policy" && $_->{mode} eq "enforce" && $_->{max_age} == 86400 && $_->{id} eq "20250101T000000" } @{$j->{mta_sts}}) == 1'
json_ok '(grep { $_->{name} eq "mx.lab.test" && $_->{covered} == 1 && $_->{verified} == 1 && $_->{pattern} eq "mx.lab.test" } @{$j->{hosts}}) == 1'
json_ok '$j->{tls_rpt}[0]{state} eq "OK"'
sts enforce --output prometheus
promtool_ok
expect_out_re "^mailhealth_mtasts_policy_info\{target=\"enforce\.$D\",id=\"20250101T000000\",mode=\"enforce\"\} 1$"
expect_out_re "^mailhealth_mtasts_max_age_seconds\{target=\"enforce\.$D\"\} 86400$"
expect_out_re "^mailhealth_mtasts_mx_covered\{target=\"enforce\.$D\",mx=\"mx\.lab\.test\"\} 1$"
expect_out_re "^mailhealth_mtasts_mx_verified\{target=\"enforce\.$D\",mx=\"mx\.lab\.test\"\} 1$"
expect_out_re "^mailhealth_mtasts_policy_cert_expiry_timestamp_seconds\{target=\"enforce\.$D\"\} [0-9]+$"
expect_out_re "^mailhealth_mtasts_tlsrpt_valid\{target=\"enforce\.$D\"\} 1$"

case_ "testing mode: an MX not covered is WARNING"
sts testing
expect_rc 1
expect_line1 "^MAILHEALTH WARNING - \[tls\] testing\.$D: MX mx\.lab\.test is not covered by the MTA-STS policy's mx patterns: testing senders report every delivery to it as a failure \|"
sts testing --output prometheus
expect_out_re "^mailhealth_probe_failure_info\{target=\"testing\.$D\",check=\"mta-sts\",category=\"tls\",reason=\"sts_mx_not_covered\"\} 1$"
expect_out_re "^mailhealth_mtasts_mx_covered\{target=\"testing\.$D\",mx=\"mx\.lab\.test\"\} 0$"

case_ "enforce policy missing an MX"
sts missing
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] missing\.$D: MX mx\.lab\.test is not covered by the MTA-STS policy's mx patterns: enforce senders refuse to deliver to it \|"
expect_out "mx mx2.lab.test"

case_ "enforce: an MX whose certificate does not name it"
sts certfail
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] certfail\.$D: MTA-STS enforce: MX other\.lab\.test \(pattern other\.lab\.test\) failed on 1 of 1 address: .*hostname mismatch: not valid for other\.lab\.test"
sts certfail --output prometheus
expect_out_re "reason=\"cert_name_mismatch\"\} 1$"
expect_out_re "^mailhealth_mtasts_mx_verified\{target=\"certfail\.$D\",mx=\"other\.lab\.test\"\} 0$"

case_ "mode none: said so, OK"
sts none
expect_rc 0
expect_line1 "^MAILHEALTH OK - none\.$D: MTA-STS mode none \(id 20250101T000000\): the domain withdraws its policy, senders enforce nothing"
expect_out "[OK] mta-sts mx: mode none: senders apply no MTA-STS policy; the MX hosts are not checked against it"

case_ "policy not found (404)"
sts notfound
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] notfound\.$D: policy fetch from https://mta-sts\.notfound\.$D/\.well-known/mta-sts\.txt failed: HTTP status 404 \(senders need 200\)"
sts notfound --output prometheus
expect_out_re "reason=\"sts_policy_fetch_error\"\} 1$"

case_ "301 redirect: not followed, the Location named"
sts redirect
expect_rc 2
expect_line1 "failed: HTTP 301 redirect to https://mta-sts\.enforce\.$D/\.well-known/mta-sts\.txt, which senders must not follow \(RFC 8461 3\.3\)"

case_ "text/html instead of text/plain"
sts html
expect_rc 2
expect_line1 "failed: media type text/html, not text/plain \(RFC 8461 3\.3\)"

case_ "a 70 KB policy: the transfer is cut at 64 KiB"
sts big
expect_rc 2
expect_line1 "failed: the body exceeds 65536 bytes \(RFC 8461 3\.3\); transfer aborted"

case_ "policy host certificate for another name"
sts wrongcert
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] wrongcert\.$D: policy fetch from https://mta-sts\.wrongcert\.$D/\.well-known/mta-sts\.txt failed: certificate verify failed: CN=wrong\.lab\.test: hostname mismatch: not valid for mta-sts\.wrongcert\.$D"
expect_out "[CRITICAL] [tls] verify policy depth 0: CN=wrong.lab.test: hostname mismatch"
sts wrongcert --output prometheus
expect_out_re "reason=\"sts_webpki_invalid\"\} 1$"

case_ "expired policy host certificate"
sts expiredcert
expect_rc 2
expect_line1 "failed: certificate verify failed: CN=mta-sts\.expiredcert\.$D: certificate has expired \(notAfter [0-9T:Z-]+, expired 10\.0 days ago\)"
expect_line1 " sts_cert_days=-10(\.[0-9]+)?;30:;14:"
sts expiredcert --output prometheus
expect_out_re "^mailhealth_mtasts_policy_cert_expiry_timestamp_seconds\{target=\"expiredcert\.$D\"\} [0-9]+$"

case_ "policy host certificate days with --cert-days"
sts enforce --cert-days 100,95
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] enforce\.$D: policy host certificate: .*expires in (89\.9|90\.0) days"
sts enforce --output prometheus --cert-days 100,50
expect_out_re "reason=\"cert_expiring\"\} 1$"

case_ "two v=STSv1 TXT records"
sts twotxt
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] twotxt\.$D: 2 v=STSv1 TXT records at _mta-sts\.twotxt\.$D: senders see no policy \(RFC 8461 3\.1\)"
sts twotxt --output prometheus
expect_out_re "reason=\"sts_record_invalid\"\} 1$"

case_ "policy edited with the same id (--sts-state)"
POLICY=$LAB_STS_WWW/edited/.well-known/mta-sts.txt
STATE=$T_TMP/sts-state.json
printf 'version: STSv1\nmode: enforce\nmx: mx.lab.test\nmax_age: 86400\n' >"$POLICY"
sts edited --sts-state "$STATE"
expect_rc 0
if perl -MJSON::PP -e 'my $j = decode_json(join "", <STDIN>);
    my $e = $j->{domains}{"edited.'"$D"'"};
    exit !($j->{version} == 1 && $e->{id} eq "20250101T000000" &&
           $e->{mode} eq "enforce" && $e->{sha256} =~ /^[0-9a-f]{64}$/)' <"$STATE"; then
    ok "state file records the policy"
else
    not_ok "state file: $(cat "$STATE")"
fi
printf 'version: STSv1\nmode: enforce\nmx: mx.lab.test\nmax_age: 604800\n' >"$POLICY"
sts edited --sts-state "$STATE"
expect_rc 1
expect_line1 "^MAILHEALTH WARNING - \[tls\] edited\.$D: policy changed since [0-9T:Z-]+ but its id is still 20250101T000000: senders that cached the old policy keep it for up to max_age \(604800 s\); publish a new id \(RFC 8461 3\.1\)"
sts edited --sts-state "$STATE" --output prometheus
expect_out_re "reason=\"sts_id_unchanged\"\} 1$"
# Reverting the body clears the warning.
printf 'version: STSv1\nmode: enforce\nmx: mx.lab.test\nmax_age: 86400\n' >"$POLICY"
sts edited --sts-state "$STATE"
expect_rc 0
# A state file that is not one is a usage problem, not a policy problem.
echo '[1, 2]' >"$T_TMP/bad-state.json"
sts edited --sts-state "$T_TMP/bad-state.json"
expect_rc 3
expect_line1 "^MAILHEALTH UNKNOWN - --sts-state: the MTA-STS state file .* is not a version 1 state"

case_ "TXT lookup that times out"
# -t 1 ends the lookups long before c-ares would give up (3 tries of
# 1.5 s); the bound leaves a busy machine's process overhead room.
run mta-sts -D "enforce.$D" --resolver "$SILENT" -t 1
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[timeout\] enforce\.$D: no DNS answer for the TXT record of _mta-sts\.enforce\.$D within the deadline"
expect_elapsed_below 3.5

case_ "TLS-RPT record broken"
sts badrpt
expect_rc 1
expect_line1 "^MAILHEALTH WARNING - \[tls\] badrpt\.$D: TLS-RPT record at _smtp\._tls\.badrpt\.$D invalid: rua URI is neither mailto: nor https: \(RFC 8460 3\): 'ftp://reports\.lab\.test/tlsrpt'"
sts badrpt --output prometheus
expect_out_re "^mailhealth_mtasts_tlsrpt_valid\{target=\"badrpt\.$D\"\} 0$"
expect_out_re "reason=\"tlsrpt_invalid\"\} 1$"

case_ "no policy published: mta-sts CRITICAL, domain a note"
run mta-sts -D "$LAB_DOMAIN" --resolver "$R"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] $LAB_DOMAIN: no MTA-STS policy published \(no v=STSv1 TXT record at _mta-sts\.$LAB_DOMAIN\)"
run domain -D "$LAB_DOMAIN" --resolver "$R" -p "$LAB_SMTP_PORT"
expect_rc 0
expect_out "[OK] mta-sts record: no MTA-STS policy published (no v=STSv1 TXT record at _mta-sts.$LAB_DOMAIN)"

case_ "domain checks a published policy"
run domain -D "enforce.$D" --resolver "$R" -p "$LAB_SMTP_PORT" --ca-file "$LAB_CA_FILE"
expect_rc 0
expect_line1 "^MAILHEALTH OK - enforce\.$D: 1/1 MX hosts healthy \(mx\.lab\.test\)"
expect_out "[OK] mx mx.lab.test: MX mx.lab.test covered by mx.lab.test, STARTTLS certificate verified on"
run domain -D "certfail.$D" --resolver "$R" -p "$LAB_SMTP_PORT" --ca-file "$LAB_CA_FILE"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[tls\] certfail\.$D: 1/1 MX hosts healthy; MTA-STS enforce: MX other\.lab\.test"
run domain -D "testing.$D" --resolver "$R" -p "$LAB_SMTP_PORT" --ca-file "$LAB_CA_FILE"
expect_rc 1
expect_line1 "^MAILHEALTH WARNING - \[tls\] testing\.$D: 1/1 MX hosts healthy; MX mx\.lab\.test is not covered"
# The domain's own probes already verify as MTA-STS does: no second
# session per MX address (one EHLO per address in the trace).
run domain -D "enforce.$D" --resolver "$R" -p "$LAB_SMTP_PORT" --ca-file "$LAB_CA_FILE" --starttls --cert-days 30,14 -v
expect_rc 0
n=$(grep -c '^>>> EHLO' "$T_TMP/stderr")
naddr=$(grep -c 'phase connect: connected' <<<"$OUT")
if [ "$n" -eq $((2 * naddr)) ]; then ok "$n EHLO for $naddr addresses (one session each)"; else
    not_ok "$n EHLO for $naddr addresses"
fi

case_ "the runner: mta-sts checks, its own memory, no sts_state"
cat >"$T_TMP/runner.json" <<EOF
{ "timeout_seconds": 10, "resolver": "$R", "ca_file": "$LAB_CA_FILE",
  "checks": [ { "check": "mta-sts", "domain": "enforce.$D", "port": $LAB_SMTP_PORT },
              { "check": "mta-sts", "domain": "testing.$D", "port": $LAB_SMTP_PORT } ] }
EOF
run run --config "$T_TMP/runner.json" --once --output prometheus
expect_rc 0
promtool_ok
expect_out_re "^mailhealth_mtasts_policy_info\{target=\"enforce\.$D\",id=\"20250101T000000\",mode=\"enforce\"\} 1$"
expect_out_re "^mailhealth_mtasts_policy_info\{target=\"testing\.$D\",id=\"20250101T000000\",mode=\"testing\"\} 1$"
cat >"$T_TMP/runner2.json" <<EOF
{ "textfile": "$T_TMP/x.prom",
  "checks": [ { "check": "mta-sts", "domain": "enforce.$D", "sts_state": "/tmp/x" } ] }
EOF
run run --config "$T_TMP/runner2.json" --once
expect_rc 3
if grep -Fq 'key "sts_state" is not allowed in a check (the runner remembers the MTA-STS policies itself)' "$T_TMP/stderr"; then
    ok "sts_state refused in a runner check"
else
    not_ok "stderr: $(cat "$T_TMP/stderr")"
fi

case_ "usage"
run mta-sts
expect_rc 3
expect_line1 "^MAILHEALTH UNKNOWN - usage: mta-sts needs -D DOMAIN"

finish
