#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The dnsbl subcommand against the lab's rbldnsd zones through the lab's
# Unbound (field cases BR-29, BR-31, BR-33, BR-34, BR-35 of
# tests/field-cases.md).
# Lab parts needed: Unbound (LAB_RESOLVER) forwarding the *.lab.test DNSBL
# zones to rbldnsd, servfail.lab.test (SERVFAIL), silent.lab.test (never
# answers), the silent DNS port (LAB_SILENT_DNS_PORT), NSD for lab.test
# (nozone.lab.test does not exist) and mx.lab.test (127.0.0.1, ::1).
. "$(dirname "$0")/lib.sh"
needs_lab

R=${LAB_RESOLVER:-127.0.0.1:${LAB_RESOLVER_PORT:-24053}}
SILENT=127.0.0.1:${LAB_SILENT_DNS_PORT:-24056}

# dnsbl ARGS...: runs the dnsbl subcommand through the lab resolver.
dnsbl() { run dnsbl --resolver "$R" "$@"; }

# strip_time: output without the run's lookup time, for comparing runs.
strip_time() { printf '%s\n' "$OUT" | sed -E 's/ time=[0-9.]+s;;;0//; /^mailhealth_(probe_duration_seconds|last_run_timestamp_seconds)/d'; }

# The zones served by the lab's rbldnsd (tests/lab/lab.sh write_rbldnsd):
# bl (IPv4), bl6 (IPv6, both IPv6 test points), dbl (names; 127.0.1.255 for
# addresses), err (Spamhaus error codes), uribl (127.0.0.1 refused), all
# (lists everything), out (answers outside 127/8), multi.bl (several
# codes), dead (no test entry), v4only (IPv4 only, no mapped test point),
# both (names and addresses, like multi.surbl.org), rfc6 (IPv6 with the
# RFC's ::FFFF:7F00:2 only), two6 (IPv6 with ::2 only), allow (an allow
# list with DNSWL's 127.0.0.255), policy (a block list with a policy code),
# bits (a bit-mask domain list).

# Through Unbound, silent.lab.test times out the first time; once Unbound's
# infrastructure cache has marked the silent server as down it answers
# SERVFAIL at once. Both are "lookup failed" (UNKNOWN, never "not listed");
# the pure timeout is asserted against the silent port used as resolver.
SILENT_FAIL='(no DNS answer for silent\.lab\.test within [0-9.]+ s|SERVFAIL from resolver for silent\.lab\.test)'

# ---- listings, codes, families and name zones ---------------------------

case_ "listed address with TXT reason"
dnsbl -H 192.0.2.10 --zone bl.lab.test
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[blacklist\] 192\.0\.2\.10 listed on bl\.lab\.test \(127\.0\.0\.2\): Listed: test entry for 192\.0\.2\.10 \| listed=1;;~:0;0;1 errors=0;;;0;1 time=[0-9.]+s;;;0$'
expect_out '[CRITICAL] [blacklist] zone bl.lab.test: 192.0.2.10 listed (127.0.0.2): Listed: test entry for 192.0.2.10'

case_ "second listing code on the same zone"
dnsbl -H 192.0.2.11 --zone bl.lab.test
expect_rc 2
expect_out 'zone bl.lab.test: 192.0.2.11 listed (127.0.0.3)'

case_ "clean address (BR-33 D)"
dnsbl -H 192.0.2.20 --zone bl.lab.test
expect_rc 0
expect_line1 '^MAILHEALTH OK - 192\.0\.2\.20 not listed on bl\.lab\.test \| listed=0;;~:0;0;1 errors=0;;;0;1 time='
expect_out '[OK] zone bl.lab.test: 192.0.2.20 not listed'
expect_elapsed_below 2

case_ "IPv6 listing, 32 nibbles (BR-34)"
nibbles=2.4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.2.1.0.c.b.a.0.8.b.d.0.1.0.0.2
dnsbl -H 2001:db8:abc:123::42 --zone bl6.lab.test -v
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[blacklist\] 2001:db8:abc:123::42 listed on bl6\.lab\.test \(127\.0\.0\.2\): Listed: test entry for 2001:db8:abc:123::42 \|'
expect_file_has "$T_TMP/stderr" "dns> A $nibbles.bl6.lab.test"
expect_file_lacks "$T_TMP/stderr" "ip6.arpa"
first=$(strip_time)
dnsbl -H 2001:DB8:ABC:123:0:0:0:42 --zone bl6.lab.test -v
expect_rc 2
expect_file_has "$T_TMP/stderr" "dns> A $nibbles.bl6.lab.test"
if [ "$(strip_time)" = "$first" ]; then ok "same output for both spellings"; else not_ok "output differs between spellings"; fi

case_ "IPv6 test entry ::2 on an IPv6 zone, ::1 not listed"
dnsbl -H 2001:db8::99 --zone bl6.lab.test
expect_rc 0
expect_line1 '^MAILHEALTH OK - 2001:db8::99 not listed on bl6\.lab\.test'

case_ "domain on a domain list"
dnsbl -H listed-domain.test --zone dbl.lab.test:domain
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[blacklist\] listed-domain\.test listed on dbl\.lab\.test \(127\.0\.1\.2\): Listed domain \|'
dnsbl -H Clean-Domain.TEST. --zone dbl.lab.test:domain
expect_rc 0
expect_line1 '^MAILHEALTH OK - clean-domain\.test not listed on dbl\.lab\.test'
dnsbl -H 192.0.2.10 --zone dbl.lab.test:domain
expect_rc 3
expect_line1 'no zone applies to 192\.0\.2\.10'
expect_out 'zone dbl.lab.test: not queried: domain list, and the target is an address'

case_ "IP queried on a domain list: 127.0.1.255"
dnsbl -H 192.0.2.10 --zone dbl.lab.test:ip
expect_rc 3
expect_line1 '^MAILHEALTH UNKNOWN - \[blacklist\] dbl\.lab\.test refused the query \(127\.0\.1\.255: IP address queried on a domain blocklist\) - give this zone type domain'
expect_line1 'listed=0;;~:0;0;1 errors=1;;;0;1'
# Type not given: 127.0.1.255 says the zone lists names, so it does not
# apply to an address.
dnsbl -H 192.0.2.10 --zone dbl.lab.test
expect_rc 3
expect_line1 '^MAILHEALTH UNKNOWN - no zone applies to 192\.0\.2\.10'
expect_out 'zone dbl.lab.test: 192.0.2.10 not applicable: the zone lists names, not addresses'


case_ "open-resolver error 127.255.255.254 (BR-29)"
dnsbl -H 192.0.2.10 --zone err.lab.test
expect_rc 3
expect_line1 '^MAILHEALTH UNKNOWN - \[blacklist\] err\.lab\.test refused the query \(127\.255\.255\.254: query via public/open resolver\) - use a private resolver'
expect_line1 ' listed=0;;~:0;0;1 errors=1;;;0;1 '
expect_out 'Error: open resolver; https://check.example/returnc/pub/198.51.100.53/'
expect_no_out 'CRITICAL'

case_ "excessive-queries error 127.255.255.255 (BR-29 variant)"
dnsbl -H 192.0.2.11 --zone err.lab.test
expect_rc 3
expect_line1 'err\.lab\.test refused the query \(127\.255\.255\.255: excessive number of queries\)'
expect_out 'Error: excessive number of queries'

case_ "typo error 127.255.255.252"
dnsbl -H 192.0.2.12 --zone err.lab.test
expect_rc 3
expect_line1 '127\.255\.255\.252: typo in the DNSBL zone name\) - check the zone name'

case_ "URIBL query refused 127.0.0.1 (BR-31)"
dnsbl -H 192.0.2.10 --zone uribl.lab.test
expect_rc 3
expect_line1 '^MAILHEALTH UNKNOWN - \[blacklist\] uribl\.lab\.test refused the query \(127\.0\.0\.1: query refused\)'
expect_line1 '127\.0\.0\.1 -> Query Refused\. See http://uribl\.example/refused\.shtml'
expect_line1 'listed=0;'

case_ "zone that lists everything: zone health, WARNING zone_unhealthy"
dnsbl -H 192.0.2.20 --zone all.lab.test --output json
expect_rc 1
json_ok '$j->{state} eq "WARNING" && $j->{reason} eq "zone_unhealthy" && $j->{summary} =~ /^all\.lab\.test lists everything \(test entry 127\.0\.0\.1 is listed\)/'
dnsbl -H 2001:db8::99 --zone all.lab.test
expect_rc 1
expect_line1 'test entry ::ffff:7f00:1 is listed'


case_ "answer outside 127.0.0.0/8"
dnsbl -H 192.0.2.10 --zone out.lab.test
expect_rc 3
expect_line1 '^MAILHEALTH UNKNOWN - \[blacklist\] out\.lab\.test answered 192\.0\.2\.99 for 192\.0\.2\.10, outside 127\.0\.0\.0/8: broken zone or a resolver rewriting NXDOMAIN'
expect_line1 'listed=0;'

case_ "several A records, sorted and stable (BR-35)"
dnsbl -H 192.0.2.10 --zone multi.bl.lab.test
expect_rc 2
expect_line1 'listed on multi\.bl\.lab\.test \(127\.0\.0\.2, 127\.0\.0\.4\): Listed: multiple codes for 192\.0\.2\.10'
first=$(strip_time)
dnsbl -H 192.0.2.10 --zone multi.bl.lab.test --output prometheus
first_prom=$(strip_time)
same=1
for i in 1 2 3 4 5; do
    dnsbl -H 192.0.2.10 --zone multi.bl.lab.test
    [ "$(strip_time)" = "$first" ] || same=0
    dnsbl -H 192.0.2.10 --zone multi.bl.lab.test --output prometheus
    [ "$(strip_time)" = "$first_prom" ] || same=0
done
if [ $same = 1 ]; then ok "5 runs: identical text, perfdata and metrics"; else not_ok "output changed between runs"; fi

case_ "zone that does not exist (BR-33 A): zone health, never 'not listed'"
dnsbl -H 192.0.2.10 --zone nozone.lab.test
expect_rc 1
expect_line1 '^MAILHEALTH WARNING - \[blacklist\] nozone\.lab\.test does not look like a DNSBL \(zone does not exist / test entry 127\.0\.0\.2 not listed\)'
expect_no_out 'not listed on nozone'

case_ "zone that stopped working: 127.0.0.2 not listed"
dnsbl -H 192.0.2.10 --zone dead.lab.test
expect_rc 1
expect_line1 'dead\.lab\.test does not look like a DNSBL'

case_ "zone health: its own long-output line, JSON object and metric"
dnsbl -H 192.0.2.20 --zone bl.lab.test --zone dead.lab.test --output prometheus
promtool_ok
expect_out 'mailhealth_dnsbl_zone_up{target="192.0.2.20",zone="bl.lab.test"} 1'
expect_out 'mailhealth_dnsbl_zone_up{target="192.0.2.20",zone="dead.lab.test"} 0'
dnsbl -H 192.0.2.20 --zone bl.lab.test --zone dead.lab.test --output json
json_ok '@{$j->{zone_health}} == 2 && $j->{zone_health}[0]{status} eq "up" && $j->{zone_health}[1]{status} eq "down"'
dnsbl -H 192.0.2.20 --zone bl.lab.test --zone dead.lab.test
expect_out '[OK] health bl.lab.test: zone up: test entry 127.0.0.2 listed'
expect_out 'health dead.lab.test: zone down: fails its test entries'

case_ "unhealthy zone: WARNING once, the other zones' verdicts stand"
dnsbl -H 192.0.2.20 --zone bl.lab.test --zone dead.lab.test
expect_rc 1
expect_line1 '^MAILHEALTH WARNING - \[blacklist\] dead\.lab\.test does not look like a DNSBL .*; 192\.0\.2\.20 not listed on the other 1 zone \|'
expect_out '[OK] zone bl.lab.test: 192.0.2.20 not listed'
dnsbl -H 192.0.2.10 --zone bl.lab.test --zone dead.lab.test
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[blacklist\] 192\.0\.2\.10 listed on bl\.lab\.test .*; 1 zone unhealthy: dead\.lab\.test \|'

case_ "IPv4-only zone asked about IPv6: not applicable"
dnsbl -H 2001:db8::99 --zone v4only.lab.test
expect_rc 3
expect_line1 'no zone applies to 2001:db8::99'
expect_out '[OK] zone v4only.lab.test: 2001:db8::99 not applicable: the zone lists no IPv6 addresses (test entry ::ffff:7f00:2 or ::2 not listed)'
dnsbl -H 2001:db8::99 --zone bl.lab.test:ip4
expect_rc 3
expect_line1 'no zone applies to 2001:db8::99'
case_ "dual-stack host on an IPv4-only zone: OK, IPv6 not applicable"
dnsbl -H mx.lab.test --zone v4only.lab.test
expect_rc 0
expect_line1 '^MAILHEALTH OK - mx\.lab\.test \(127\.0\.0\.1, ::1\) not listed on v4only\.lab\.test \|'
expect_out 'zone v4only.lab.test: ::1 not applicable: the zone lists no IPv6 addresses'

case_ "RFC 5782 IPv6 test point ::FFFF:7F00:2, and ::2 accepted too"
dnsbl -H 2001:db8::99 --zone rfc6.lab.test --zone two6.lab.test -v
expect_rc 0
expect_line1 '^MAILHEALTH OK - 2001:db8::99 not listed on 2 zones \|'
expect_file_has "$T_TMP/stderr" "dns> A 2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.rfc6.lab.test"
dnsbl -H 2001:db8::42 --zone rfc6.lab.test --zone two6.lab.test
expect_rc 2
expect_line1 'listed on 2 of 2 zones'
# An IPv6-only zone of unknown type asked about an IPv4 address: not
# applicable, not unhealthy.
dnsbl -H 192.0.2.10 -H 2001:db8::99 --zone rfc6.lab.test
expect_rc 0
expect_out 'zone rfc6.lab.test: 192.0.2.10 not applicable'
expect_no_out 'unhealthy'


case_ "SERVFAIL (BR-33 B)"
dnsbl -H 192.0.2.10 --zone servfail.lab.test
expect_rc 3
expect_line1 '^MAILHEALTH UNKNOWN - \[blacklist\] lookup failed: SERVFAIL from resolver for servfail\.lab\.test'
expect_out 'zone servfail.lab.test: lookup failed for 192.0.2.10: SERVFAIL from resolver for servfail.lab.test'
expect_elapsed_below 3

case_ "zone that never answers (BR-33 C)"
dnsbl -H 192.0.2.10 --zone silent.lab.test -t 3
expect_rc 3
expect_line1 "^MAILHEALTH UNKNOWN - \[(timeout|blacklist)\] lookup failed: $SILENT_FAIL"
expect_no_out 'not listed'
expect_elapsed_below 3.8

case_ "mixed zones, no listing: failed zones make it UNKNOWN (BR-33)"
dnsbl -H 192.0.2.20 --zone bl.lab.test --zone servfail.lab.test --zone silent.lab.test -t 3
expect_rc 3
expect_line1 '^MAILHEALTH UNKNOWN - \[blacklist\] lookup failed: SERVFAIL from resolver for servfail\.lab\.test \(and 1 more zone failed: silent\.lab\.test\); 192\.0\.2\.20 not listed on the other 1 zone'
expect_line1 'listed=0;;~:0;0;3 errors=2;;;0;3'
expect_out '[OK] zone bl.lab.test: 192.0.2.20 not listed'
expect_out_re "^\[UNKNOWN\] \[(timeout|blacklist)\] zone silent\.lab\.test: lookup failed for 192\.0\.2\.20: $SILENT_FAIL"
expect_elapsed_below 3.8

case_ "mixed zones with a listing: CRITICAL, errors still named (BR-33)"
dnsbl -H 192.0.2.10 --zone bl.lab.test --zone servfail.lab.test --zone silent.lab.test -t 3
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[blacklist\] 192\.0\.2\.10 listed on bl\.lab\.test \(127\.0\.0\.2\): Listed: test entry for 192\.0\.2\.10; 2 zones failed: servfail\.lab\.test, silent\.lab\.test'
expect_line1 'listed=1;;~:0;0;3 errors=2;;;0;3'
expect_elapsed_below 3.8

case_ "resolver that never answers: UNKNOWN/timeout at the deadline (BR-33 C)"
run dnsbl -H 192.0.2.10 --zone bl.lab.test --zone bl6.lab.test --resolver "$SILENT" -t 2
expect_rc 3
expect_line1 '^MAILHEALTH UNKNOWN - \[timeout\] lookup failed: no DNS answer for bl\.lab\.test within 2 s \(and 1 more zone failed: bl6\.lab\.test\)'
expect_line1 'listed=0;;~:0;0;2 errors=2;;;0;2'
expect_elapsed_below 2.8
if awk -v e="$ELAPSED" 'BEGIN { exit !(e >= 1.9) }'; then ok "waited for the deadline (${ELAPSED}s)"; else not_ok "returned before the deadline"; fi

# ---- a lost UDP answer ----------------------------------------------------

# start_relay NAME [DROP]: a counting relay (count-relay.pl) in front of
# rbldnsd on the next free port; sets RELAY (IP:PORT) and RELAY_LOG.
relay_port=$((${LAB_PORT_BASE:-24000} + 70))
start_relay() {
    local name=$1 drop=${2:-}
    relay_port=$((relay_port + 1))
    RELAY=127.0.0.1:$relay_port
    RELAY_LOG=$T_TMP/relay-$name.log
    perl "$(dirname "$0")/count-relay.pl" 127.0.0.1 "$relay_port" 127.0.0.1 \
        "${LAB_RBL_PORT:-24055}" "$T_TMP/relay-$name.ready" "$RELAY_LOG" ${drop:+"$drop"} &
    T_PIDS+=($!)
    for _ in $(seq 1 50); do
        [ -s "$T_TMP/relay-$name.ready" ] && return 0
        sleep 0.1
    done
    not_ok "relay $name did not start"
}

case_ "lost UDP answer: retried within the deadline (tries and timeout from the time left)"
start_relay drop '^A 10\.2\.0\.192\.bl\.lab\.test$'
run dnsbl -H 192.0.2.10 --zone bl.lab.test --resolver "$RELAY" -t 1 -v
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[blacklist\] 192\.0\.2\.10 listed on bl\.lab\.test \(127\.0\.0\.2\)'
expect_elapsed_below 0.9
# a lost answer is seen (the window stays at its floor, the start: 256)
expect_file_has "$T_TMP/stderr" "dns= window 256 (an answer was lost)"
expect_file_has "$RELAY_LOG" "drop A 10.2.0.192.bl.lab.test"
if [ "$(grep -c '^[0-9.]* A 10\.2\.0\.192\.bl\.lab\.test$' "$RELAY_LOG")" = 1 ]; then ok "asked again once"; else not_ok "not asked again once: $(cat "$RELAY_LOG")"; fi

case_ "zone query budget: at most N queries per zone, the rest WARNING zone_budget"
start_relay budget
run dnsbl -H 192.0.2.0/28 --zone bl.lab.test --zone-query-budget 10 --resolver "$RELAY" --output json
expect_rc 1
json_ok '$j->{state} eq "WARNING" && $j->{reason} eq "zone_budget" && $j->{summary} =~ /^bl\.lab\.test not asked for 192\.0\.2\.9: the zone.s query budget \(10 per round\) is spent/'
json_ok '(grep { $_->{status} eq "not_asked" } @{$j->{zones}}) == 7'
if [ "$(grep -c 'bl\.lab\.test$' "$RELAY_LOG")" = 10 ]; then ok "10 queries reached the zone"; else not_ok "$(grep -c 'bl\.lab\.test$' "$RELAY_LOG") queries reached the zone"; fi

case_ "--max-in-flight: one query at a time, all at once on 16 channels, or adapting (0), the same answers"
run dnsbl -H 192.0.2.0/28 --zone bl.lab.test --zone multi.bl.lab.test --resolver "$R"
expect_rc 2
paced=$OUT
for n in 0 1 100000; do
    run dnsbl -H 192.0.2.0/28 --zone bl.lab.test --zone multi.bl.lab.test --resolver "$R" --max-in-flight "$n"
    expect_rc 2
    if [ "$(sed 's/time=[0-9.]*s/time/' <<<"$OUT")" = "$(sed 's/time=[0-9.]*s/time/' <<<"$paced")" ]; then
        ok "--max-in-flight $n: same output"
    else
        not_ok "--max-in-flight $n: $OUT"
    fi
done
run dnsbl -H 192.0.2.0/28 --zone bl.lab.test --zone multi.bl.lab.test --resolver "$R" --max-in-flight 100000 -v
expect_file_has "$T_TMP/stderr" "dns= window 100000, up to 16 channels"
run dnsbl -H 192.0.2.10 --zone bl.lab.test --resolver "$R" --max-in-flight many
expect_rc 3

case_ "runner: test entries cached, back-off after a refusal, ~1 query per address and zone"
start_relay runner
rcfg=$T_TMP/runner.json
cat >"$rcfg" <<EOF
{ "interval_seconds": 1, "timeout_seconds": 0.8, "resolver": "$RELAY",
  "textfile": "$T_TMP/runner.prom",
  "checks": [ { "name": "relays", "check": "dnsbl", "host": "192.0.2.0/28",
                "zone": ["bl.lab.test", "multi.bl.lab.test", "err.lab.test"] } ] }
EOF
"$MH_BIN" run --config "$rcfg" 2>"$T_TMP/runner.log" &
runner_pid=$!
T_PIDS+=($runner_pid)
# rounds: runs of queries less than half an interval apart
rounds_seen() { awk 'NR > 1 && $1 - t > 0.5 { n++ } { t = $1 } END { print n + 1 }' "$RELAY_LOG"; }
# four rounds: the first learns, the next ones are steady
four_rounds() { [ "$(rounds_seen)" -ge 4 ]; }
wait_until 20 four_rounds
sleep 0.3
kill "$runner_pid" 2>/dev/null
wait "$runner_pid" 2>/dev/null
awk 'NR > 1 && $1 - t > 0.5 { r++ } { t = $1; print r + 1, $2, $3 }' "$RELAY_LOG" >"$T_TMP/rounds"
count() { awk -v r="$1" -v re="$2" '$1 == r && ($2 " " $3) ~ re { n++ } END { print n + 0 }' "$T_TMP/rounds"; }
# round 1: 16 A per zone, each zone's positive test entry, TXT after
# listings and error codes (bl: .10 .11; multi: .10; err: .10 .11 .12)
r1=$(count 1 '^A ')
if [ "$(count 1 '^A 2\.0\.0\.127\.')" = 3 ] && [ "$r1" -ge 48 ]; then
    ok "round 1: $r1 A queries, the test entries asked"
else
    not_ok "round 1: $(grep -c '^1 ' "$T_TMP/rounds") queries: $(grep '^1 ' "$T_TMP/rounds" | head -5)"
fi
# round 2: no test entry (kept), err.lab.test backs off after refusing
a2=$(count 2 '^A ') t2=$(count 2 '^TXT ')
if [ "$(count 2 '^A [12]\.0\.0\.127\.')" = 0 ]; then ok "round 2: no test entry asked"; else not_ok "round 2 asked test entries again"; fi
if [ "$(count 2 'err\.lab\.test$')" = 0 ]; then ok "round 2: err.lab.test backs off"; else not_ok "round 2 asked err.lab.test"; fi
if [ "$a2" = 32 ] && [ "$t2" = 3 ]; then
    ok "round 2: 32 A + 3 TXT for 32 address x zone pairs ($(awk -v q=$((a2 + t2)) 'BEGIN { printf "%.2f", q / 32 }') per pair)"
else
    not_ok "round 2: $a2 A, $t2 TXT: $(grep '^2 ' "$T_TMP/rounds" | head -5)"
fi
# round 3: err.lab.test asked again, its health checked again at once
if [ "$(count 3 '^A 2\.0\.0\.127\.err\.lab\.test$')" = 1 ]; then
    ok "round 3: err.lab.test and its test entry asked again"
else
    not_ok "round 3: $(grep '^3 .*err' "$T_TMP/rounds" | head -3)"
fi
OUT=$(cat "$T_TMP/runner.prom")
expect_out 'mailhealth_dnsbl_listed_zones{target="relays"} 2'

# ---- thresholds -----------------------------------------------------------

case_ "two listings, default: CRITICAL"
dnsbl -H 192.0.2.10 --zone bl.lab.test --zone multi.bl.lab.test
expect_rc 2
expect_line1 '192\.0\.2\.10 listed on 2 of 2 zones: bl\.lab\.test \(127\.0\.0\.2\), multi\.bl\.lab\.test \(127\.0\.0\.2, 127\.0\.0\.4\) \| listed=2;;~:0;0;2'

case_ "-w 0 -c 2: two listings are WARNING"
dnsbl -H 192.0.2.10 --zone bl.lab.test --zone multi.bl.lab.test -w 0 -c 2
expect_rc 1
expect_line1 '^MAILHEALTH WARNING - \[blacklist\] 192\.0\.2\.10 listed on 2 of 2 zones'
expect_line1 'listed=2;0;2;0;2'

case_ "-w 0 alone: listings are WARNING at most"
dnsbl -H 192.0.2.10 --zone bl.lab.test -w 0
expect_rc 1
expect_line1 'listed=1;0;;0;1'

case_ "-c 5: listings within thresholds are OK"
dnsbl -H 192.0.2.10 --zone bl.lab.test --zone multi.bl.lab.test -c 5
expect_rc 0
expect_line1 '^MAILHEALTH OK - 192\.0\.2\.10 listed on 2 of 2 zones \(within thresholds\)'
expect_out '[OK] zone bl.lab.test: 192.0.2.10 listed (127.0.0.2)'

case_ "a listing within thresholds does not hide a failed zone"
dnsbl -H 192.0.2.10 --zone bl.lab.test --zone servfail.lab.test -c 5
expect_rc 3
expect_line1 'SERVFAIL from resolver for servfail\.lab\.test; 192\.0\.2\.10 listed on 1 zone within thresholds: bl\.lab\.test \(127\.0\.0\.2\)'

# ---- host names -----------------------------------------------------------

case_ "host name: every address checked, and which one"
dnsbl -H mx.lab.test --zone bl.lab.test:ip4 --zone bl6.lab.test:ip6
expect_rc 0
expect_line1 '^MAILHEALTH OK - mx\.lab\.test \(127\.0\.0\.1, ::1\) not listed on 2 zones'
expect_out 'zone bl.lab.test: 127.0.0.1 not listed'
expect_out 'zone bl6.lab.test: ::1 not listed'

case_ "host name, -4: only the IPv4 address"
dnsbl -H mx.lab.test --zone bl.lab.test -4
expect_rc 0
expect_line1 '^MAILHEALTH OK - mx\.lab\.test \(127\.0\.0\.1\) not listed on bl\.lab\.test'

case_ "host name on a zone that lists everything: says which address"
dnsbl -H mx.lab.test --zone all.lab.test
expect_rc 1
expect_out 'zone all.lab.test: lists everything (test entry 127.0.0.1 is listed): its answer for 127.0.0.1 is not counted'
expect_out 'zone all.lab.test: lists everything (test entry ::ffff:7f00:1 is listed): its answer for ::1 is not counted'

case_ "host name that does not resolve"
dnsbl -H nohost.lab.test --zone bl.lab.test
expect_rc 3
expect_line1 '^MAILHEALTH UNKNOWN - \[connection\] nohost\.lab\.test has no IPv4 or IPv6 address'
dnsbl -H nohost.lab.test --zone bl.lab.test --zone dbl.lab.test:domain
expect_rc 0
expect_line1 '^MAILHEALTH OK - nohost\.lab\.test not listed on dbl\.lab\.test'
expect_out 'note nohost.lab.test: nohost.lab.test has no IPv4 or IPv6 address: checked as a domain only'
expect_out 'zone bl.lab.test: nohost.lab.test not applicable: the zone lists addresses, not names (test entry TEST not listed)'

case_ "host name through a resolver that never answers"
run dnsbl -H mx.lab.test --zone bl.lab.test --resolver "$SILENT" -t 1.5
expect_rc 3
expect_line1 '^MAILHEALTH UNKNOWN - \[timeout\] no DNS answer for mx\.lab\.test within 1\.5 s'
expect_elapsed_below 2.3

# ---- zones file -----------------------------------------------------------

zf=$T_TMP/zones.json
cat >"$zf" <<'EOF'
{"zones": [
  {"zone": "bl.lab.test", "type": "ip4",
   "codes": {"127.0.0.2": "lab test listing", "127.0.0.3": "second code"}},
  {"zone": "multi.bl.lab.test", "type": "ip4", "bitmask": true,
   "codes": {"127.0.0.2": "bit one", "127.0.0.4": "bit two"}},
  {"zone": "err.lab.test", "type": "ip4", "enabled": false},
  {"zone": "dbl.lab.test", "type": "domain",
   "codes": {"127.0.1.2": "spam domain"}},
  {"zone": "bl6.lab.test", "type": "ip6"}
]}
EOF

case_ "zones file: enabled zones, codes with meanings"
run dnsbl -H 192.0.2.10 --zones-file "$zf" --resolver "$R"
expect_rc 2
expect_line1 '192\.0\.2\.10 listed on 2 of 2 zones: bl\.lab\.test \(127\.0\.0\.2\), multi\.bl\.lab\.test \(127\.0\.0\.2, 127\.0\.0\.4\)'
expect_out 'zone bl.lab.test: 192.0.2.10 listed (127.0.0.2: lab test listing): Listed: test entry for 192.0.2.10'
expect_out 'zone multi.bl.lab.test: 192.0.2.10 listed (127.0.0.2, 127.0.0.4: bit one; bit two)'
expect_out 'zone dbl.lab.test: not queried: domain list, and the target is an address'
expect_out 'zone bl6.lab.test: not queried: lists IPv6 addresses only'
expect_no_out 'err.lab.test'

case_ "zones file + --zone: only the named zones, with the file's meanings"
run dnsbl -H 192.0.2.11 --zones-file "$zf" --zone bl.lab.test --zone err.lab.test --resolver "$R"
expect_rc 2
expect_out 'zone bl.lab.test: 192.0.2.11 listed (127.0.0.3: second code)'
expect_out 'zone err.lab.test: refused the query for 192.0.2.11 (127.255.255.255: excessive number of queries)'
expect_no_out 'multi.bl.lab.test'

case_ "zones file errors are UNKNOWN"
printf '{"zones": [{"zone": "bl.lab.test", "type": "rhsbl"}]}' >"$T_TMP/bad.json"
run dnsbl -H 192.0.2.10 --zones-file "$T_TMP/bad.json" --resolver "$R"
expect_rc 3
expect_line1 '^MAILHEALTH UNKNOWN - zones file .*bad\.json: zone bl\.lab\.test: "type" must be'
run dnsbl -H 192.0.2.10 --zones-file "$T_TMP/missing.json" --resolver "$R"
expect_rc 3
expect_line1 'cannot read zones file'

case_ "default zones file of contrib/ loads"
run dnsbl -H 192.0.2.10 --zones-file "$MH_SOURCE_DIR/contrib/dnsbl-zones.json" --zone bl.lab.test --resolver "$R"
expect_rc 2

case_ "zone with a customer key (DQS, Abusix): queried as PREFIX.KEY.ZONE, the key never shown"
printf 'BL\n' >"$T_TMP/lab.key"
printf '{"version": 2, "zones": [{"zone": "lab.test", "type": "ip4", "key_file": "%s", "codes": {"127.0.0.2": "keyed listing"}}]}\n' "$T_TMP/lab.key" >"$T_TMP/keyed.json"
run dnsbl -H 192.0.2.10 --zones-file "$T_TMP/keyed.json" --zone lab.test --resolver "$R" -v --output json
expect_rc 2
json_ok '$j->{summary} =~ /^192\.0\.2\.10 listed on lab\.test \(127\.0\.0\.2: keyed listing\)/ && $j->{zones}[0]{query} eq "10.2.0.192.<key>.lab.test"'
expect_file_has "$T_TMP/stderr" "dns> A 10.2.0.192.<key>.lab.test"
expect_file_lacks "$T_TMP/stderr" "bl.lab.test"
printf '{"zones": [{"zone": "lab.test", "key_file": "%s/none.key"}]}\n' "$T_TMP" >"$T_TMP/nokey.json"
run dnsbl -H 192.0.2.10 --zones-file "$T_TMP/nokey.json" --resolver "$R"
expect_rc 3
expect_line1 'cannot read key file of zone lab\.test, .*none\.key'

# ---- output formats -------------------------------------------------------

case_ "JSON: zones with codes, reason, status"
dnsbl -H 192.0.2.10 --zone bl.lab.test --zone err.lab.test --zone multi.bl.lab.test --output json
expect_rc 2
json_ok '$j->{check} eq "dnsbl" && $j->{target} eq "192.0.2.10" && $j->{state} eq "CRITICAL" && $j->{category} eq "blacklist"'
json_ok '@{$j->{zones}} == 3'
json_ok '$j->{zones}[0]{status} eq "listed" && $j->{zones}[0]{codes} eq "127.0.0.2" && $j->{zones}[0]{reason} eq "Listed: test entry for 192.0.2.10" && $j->{zones}[0]{query} eq "10.2.0.192.bl.lab.test"'
json_ok '$j->{zones}[1]{status} eq "error" && $j->{zones}[1]{state} eq "UNKNOWN" && $j->{zones}[1]{error} =~ /127\.255\.255\.254/ && $j->{zones}[1]{reason} =~ /open resolver/'
json_ok '$j->{zones}[2]{codes} eq "127.0.0.2, 127.0.0.4"'
json_ok '(grep { $_->{label} eq "listed" && $_->{value} == 2 } @{$j->{perfdata}}) && (grep { $_->{label} eq "errors" && $_->{value} == 1 } @{$j->{perfdata}})'

case_ "Prometheus: per-zone series, promtool"
dnsbl -H 192.0.2.10 --zone bl.lab.test --zone err.lab.test --zone silent.lab.test -t 2 --output prometheus
expect_rc 2
promtool_ok
expect_out 'mailhealth_dnsbl_listed{target="192.0.2.10",address="192.0.2.10",zone="bl.lab.test"} 1'
expect_out 'mailhealth_dnsbl_listed{target="192.0.2.10",address="192.0.2.10",zone="err.lab.test"} 0'
expect_out 'mailhealth_dnsbl_error{target="192.0.2.10",address="192.0.2.10",zone="err.lab.test"} 1'
expect_out 'mailhealth_dnsbl_error{target="192.0.2.10",address="192.0.2.10",zone="silent.lab.test"} 1'
expect_out 'mailhealth_dnsbl_error{target="192.0.2.10",address="192.0.2.10",zone="bl.lab.test"} 0'
expect_out 'mailhealth_dnsbl_listed_zones{target="192.0.2.10"} 1'
expect_out 'mailhealth_probe_error{target="192.0.2.10",check="dnsbl",category="blacklist"} 1'

case_ "Prometheus: host name, one series per address"
dnsbl -H mx.lab.test --zone bl.lab.test:ip4 --zone bl6.lab.test:ip6 --output prometheus
expect_rc 0
promtool_ok
expect_out 'mailhealth_dnsbl_listed{target="mx.lab.test",address="127.0.0.1",zone="bl.lab.test"} 0'
expect_out 'mailhealth_dnsbl_listed{target="mx.lab.test",address="::1",zone="bl6.lab.test"} 0'
expect_out 'mailhealth_dnsbl_listed_zones{target="mx.lab.test"} 0'

case_ "perfdata keeps '.' under a comma locale"
if locale -a 2>/dev/null | grep -qi '^de_DE\.utf8$'; then
    LC_ALL=de_DE.UTF-8 dnsbl -H 192.0.2.10 --zone bl.lab.test
    expect_line1 ' time=[0-9]+\.[0-9]+s;;;0$'
else
    ok "skipped: no de_DE.UTF-8 locale"
fi

# ---- all zones at once ----------------------------------------------------

case_ "nine zones at once: one line each, about one round trip"
dnsbl -H 192.0.2.10 --zone bl.lab.test --zone bl6.lab.test:ip6 --zone dbl.lab.test:domain \
    --zone err.lab.test --zone uribl.lab.test --zone all.lab.test --zone out.lab.test \
    --zone multi.bl.lab.test --zone dead.lab.test
expect_rc 2
expect_line1 'listed on 2 of 7 zones: bl\.lab\.test \(127\.0\.0\.2\), multi\.bl\.lab\.test \(127\.0\.0\.2, 127\.0\.0\.4\); 2 zones unhealthy: all\.lab\.test, dead\.lab\.test; 3 zones failed: err\.lab\.test, uribl\.lab\.test, out\.lab\.test \| listed=2;;~:0;0;7 errors=5;;;0;7 '
expect_out 'zone bl6.lab.test: not queried: lists IPv6 addresses only'
expect_out 'zone dbl.lab.test: not queried: domain list, and the target is an address'
if [ "$(grep -cE '^\[[A-Z]+\] (\[[a-z]+\] )?zone ' <<<"$OUT")" = 9 ]; then ok "nine zone lines"; else not_ok "not nine zone lines"; fi
expect_elapsed_below 1.5

# ---- many targets, zone types, kinds --------------------------------------

case_ "repeated -H: every target is checked"
dnsbl -H 192.0.2.20 -H 192.0.2.10 --zone bl.lab.test
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[blacklist\] 192\.0\.2\.10 listed on bl\.lab\.test \(127\.0\.0\.2\)'
expect_out '[OK] zone bl.lab.test: 192.0.2.20 not listed'
dnsbl -H 192.0.2.10 -H 192.0.2.20 --zone bl.lab.test --output prometheus
expect_out 'mailhealth_dnsbl_listed{target="192.0.2.10",address="192.0.2.10",zone="bl.lab.test"} 1'
expect_out 'mailhealth_dnsbl_listed{target="192.0.2.10",address="192.0.2.20",zone="bl.lab.test"} 0'
dnsbl -H 192.0.2.20 -H 192.0.2.21 --zone bl.lab.test
expect_rc 0
expect_line1 '^MAILHEALTH OK - 192\.0\.2\.20, 192\.0\.2\.21 not listed on bl\.lab\.test \|'

case_ "CIDR block: one summary, lines and metrics for listed addresses only"
dnsbl -H 192.0.2.0/24 --zone bl.lab.test --zone multi.bl.lab.test --zone dead.lab.test
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[blacklist\] 2 of 256 addresses listed on 2 zones: 192\.0\.2\.10 \(bl\.lab\.test, multi\.bl\.lab\.test\), 192\.0\.2\.11 \(bl\.lab\.test\); 1 zone unhealthy: dead\.lab\.test \| listed=2;;~:0;0;3 errors=1;;;0;3 listed_addresses=2;;;0;256 time='
expect_out '[CRITICAL] [blacklist] zone bl.lab.test: 192.0.2.11 listed (127.0.0.3): Listed: test entry for 192.0.2.11'
expect_out '[OK] zone bl.lab.test: not listed: 254 of 256'
expect_out '[OK] zone multi.bl.lab.test: not listed: 255 of 256'
expect_out '[WARNING] [blacklist] zone dead.lab.test: no usable answer: 256 of 256, e.g. does not look like a DNSBL'
if [ "$(wc -l <<<"$OUT")" -le 12 ]; then ok "long output stays short"; else not_ok "long output has $(wc -l <<<"$OUT") lines"; fi
dnsbl -H 192.0.2.0/24 --zone bl.lab.test --zone multi.bl.lab.test --zone servfail.lab.test --output prometheus
expect_rc 2
promtool_ok
expect_out 'mailhealth_dnsbl_listed{target="192.0.2.0/24",address="192.0.2.11",zone="bl.lab.test"} 1'
expect_out 'mailhealth_dnsbl_listed_addresses{target="192.0.2.0/24"} 2'
expect_out 'mailhealth_dnsbl_zone_errors{target="192.0.2.0/24",zone="servfail.lab.test"} 256'
expect_out 'mailhealth_dnsbl_zone_errors{target="192.0.2.0/24",zone="bl.lab.test"} 0'
expect_no_out 'address="192.0.2.20"'
if [ "$(grep -c '^mailhealth_dnsbl_listed{' <<<"$OUT")" = 3 ]; then ok "three listed series"; else not_ok "not three listed series"; fi
dnsbl -H 192.0.2.0/24 --zone bl.lab.test --output json
json_ok '@{$j->{zones}} == 3 && $j->{zones}[2]{status} eq "not_listed" && $j->{zones}[2]{count} == 254'

case_ "IPv6 block and a /22 at once: paced, at most 256 queries in flight"
dnsbl -H 2001:db8::/120 --zone rfc6.lab.test
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[blacklist\] 1 of 256 addresses listed on 1 zone: 2001:db8::42 \(rfc6\.lab\.test\) \|'
dnsbl -H 10.0.0.0/22 --zone bl.lab.test --zone multi.bl.lab.test -v --max-in-flight 256
expect_rc 0
expect_line1 '^MAILHEALTH OK - 10\.0\.0\.0/22 \(1,024 addresses\) not listed on 2 zones \|'
expect_out '[OK] zone bl.lab.test: not listed: 1,024 of 1,024'
inflight=$(awk '/dns> A /{n++; if (n > m) m = n} /dns< A /{n--} END {print m + 0}' "$T_TMP/stderr")
sent=$(grep -c 'dns> A ' "$T_TMP/stderr")
if [ "$inflight" -le 256 ] && [ "$inflight" -ge 1 ]; then ok "at most 256 in flight ($inflight)"; else not_ok "in flight: $inflight"; fi
expect_file_has "$T_TMP/stderr" "dns= window 256, 1 channel"
if [ "$sent" = 2050 ]; then ok "2,048 subject queries and 2 test entries"; else not_ok "$sent queries"; fi

case_ "default window: starts at 256, grows while a resolver 50 ms away answers evenly"
# delay_dnsrelay (the benchmarks' relay) in front of rbldnsd answers every
# query 50 ms after it came; built here from tests/bench.
delay_port=$((${LAB_PORT_BASE:-24000} + 90))
if cc -O2 -std=gnu11 -o "$T_TMP/delay_dnsrelay" "${MH_SOURCE_DIR:-.}/tests/bench/delay_dnsrelay.c" 2>"$T_TMP/cc.log"; then
    "$T_TMP/delay_dnsrelay" --listen "127.0.0.1:$delay_port" --upstream "127.0.0.1:${LAB_RBL_PORT:-24055}" \
        --rtt-ms 50 >"$T_TMP/delay.log" 2>&1 &
    T_PIDS+=($!)
    sleep 0.3
    dnsbl -H 10.0.0.0/22 --zone bl.lab.test --zone multi.bl.lab.test -v --resolver "127.0.0.1:$delay_port"
    expect_rc 0
    expect_line1 '^MAILHEALTH OK - 10\.0\.0\.0/22 \(1,024 addresses\) not listed on 2 zones \|'
    expect_file_has "$T_TMP/stderr" "dns= window 256 (adapts), up to 4 channels"
    expect_file_has "$T_TMP/stderr" "dns= window 512"
    # in flight never more than twice the last window traced (it is traced
    # at every power of two and when cut), and more than 256 at some point
    inflight=$(awk '/dns= window /{w = $3 + 0} /dns> A /{n++; if (n > 2 * w) bad++; if (n > m) m = n} /dns< A /{n--} END {print (bad ? "over" : m + 0)}' "$T_TMP/stderr")
    if [ "$inflight" != over ] && [ "$inflight" -gt 256 ]; then ok "within the window, beyond 256 ($inflight at most)"; else not_ok "in flight: $inflight"; fi
    # all 2,050 at once through a relay 1.5 s away (all sent before the
    # first answer even on a busy machine, where tracing 2,050 queries took
    # over 400 ms; -t 20 makes c-ares' per-try timeout its 2 s ceiling, so
    # nothing is asked twice): three channels, the same answers
    adaptive=$OUT
    "$T_TMP/delay_dnsrelay" --listen "127.0.0.1:$((delay_port + 1))" --upstream "127.0.0.1:${LAB_RBL_PORT:-24055}" \
        --rtt-ms 1500 >"$T_TMP/delay1500.log" 2>&1 &
    T_PIDS+=($!)
    sleep 0.3
    dnsbl -H 10.0.0.0/22 --zone bl.lab.test --zone multi.bl.lab.test -v --resolver "127.0.0.1:$((delay_port + 1))" \
        --max-in-flight 4096 -t 20
    expect_rc 0
    expect_file_has "$T_TMP/stderr" "dns= channel 2 opened (1024 queries in flight)"
    expect_file_has "$T_TMP/stderr" "dns= channel 3 opened (2048 queries in flight)"
    if [ "$(sed 's/time=[0-9.]*s/time/' <<<"$OUT")" = "$(sed 's/time=[0-9.]*s/time/' <<<"$adaptive")" ]; then
        ok "three channels: same output as the adaptive window"
    else
        not_ok "three channels: $OUT"
    fi
else
    not_ok "cannot build delay_dnsrelay: $(cat "$T_TMP/cc.log")"
fi

case_ "--hosts-file: targets one per line, comments"
hf=$T_TMP/hosts.txt
printf '# outbound relays\n192.0.2.8/29   # the relay range\n\n  2001:db8::40/126\r\nmx.lab.test\n' >"$hf"
run dnsbl --hosts-file "$hf" --zone bl.lab.test:ip4 --zone rfc6.lab.test:ip6 --resolver "$R" --output json
expect_rc 2
json_ok '$j->{target} eq "'"$hf"'" && $j->{summary} =~ /^192\.0\.2\.10, 192\.0\.2\.11, 2001:db8::42 listed on 2 of 2 zones/ && $j->{summary} !~ /mx\.lab\.test/'
run dnsbl -H 192.0.2.20 --hosts-file "$hf" --zone bl.lab.test:ip4 --resolver "$R"
expect_rc 2
expect_out '[OK] zone bl.lab.test: 192.0.2.20 not listed'
case_ "several targets: the summary names only the listed ones"
run dnsbl -H 192.0.2.8/30 -H 192.0.2.10 -z bl.lab.test --resolver "$R"
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[blacklist\] 192\.0\.2\.10, 192\.0\.2\.11 listed on 1 of 1 zones: '
expect_no_line1 '192\.0\.2\.8,|192\.0\.2\.9,'

case_ "an info listing is a note in the summary, never 'not listed', and OK"
run dnsbl -H 192.0.2.10 -z bl.lab.test:info --resolver "$R"
expect_rc 0
expect_line1 '^MAILHEALTH OK - 192\.0\.2\.10 listed \(info\) on bl\.lab\.test'
expect_no_line1 'not listed'
case_ "--hosts-file: a line that is no target is a usage error naming it"
printf '192.0.2.1\nbad host\n' >"$T_TMP/bad-hosts.txt"
run dnsbl --hosts-file "$T_TMP/bad-hosts.txt" --zone bl.lab.test --resolver "$R"
expect_rc 3
expect_line1 "^MAILHEALTH UNKNOWN - --hosts-file .*bad-hosts\.txt: line 2: 'bad host' is not an IP address, an address block \(CIDR\) or a DNS name"

case_ "size limit: more than 4,096 addresses is a usage error naming the option"
dnsbl -H 10.0.0.0/16 --zone bl.lab.test
expect_rc 3
expect_line1 '^MAILHEALTH UNKNOWN - -H 10\.0\.0\.0/16 has 65,536 addresses, more than the 4,096 one check takes'
printf '10.0.0.0/20\n10.1.0.0\n' >"$T_TMP/big-hosts.txt"
run dnsbl --hosts-file "$T_TMP/big-hosts.txt" --zone bl.lab.test --resolver "$R"
expect_rc 3
expect_line1 'the targets of -H and --hosts-file come to more than 4,096 addresses'
dnsbl -H 2001:db8::/64 --zone bl.lab.test
expect_rc 3
expect_line1 'has 2\^64 addresses'

case_ "-w/-c judge each address by the zones listing it"
dnsbl -H 192.0.2.11 -H 2001:db8::42 --zone bl.lab.test:ip4 --zone rfc6.lab.test:ip6 -c 1
expect_rc 0
expect_line1 '^MAILHEALTH OK - 192\.0\.2\.11, 2001:db8::42 listed on 2 of 2 zones \(within thresholds\)'
dnsbl -H 192.0.2.0/28 --zone bl.lab.test --zone multi.bl.lab.test -w 0 -c 1
expect_rc 2
expect_out '[CRITICAL] [blacklist] zone bl.lab.test: 192.0.2.10 listed'
expect_out '[WARNING] [blacklist] zone bl.lab.test: 192.0.2.11 listed'

case_ "zone of unknown type answering names and addresses: the name is checked (multi.surbl case)"
dnsbl -H mx.lab.test --zone both.lab.test
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[blacklist\] mx\.lab\.test listed on both\.lab\.test \(127\.0\.0\.2\): Listed name mx\.lab\.test \|'
expect_out '[OK] zone both.lab.test: 127.0.0.1 not listed'
dnsbl -H mx.lab.test --zone both.lab.test:ip
expect_rc 0

case_ "allow list: a listing is good news, never CRITICAL"
dnsbl -H 192.0.2.10 --zone allow.lab.test:ip4,allow --zone bl.lab.test:ip4 -c 5
expect_rc 0
expect_line1 '^MAILHEALTH OK - 192\.0\.2\.10 listed on 1 of 2 zones \(within thresholds\): bl\.lab\.test \(127\.0\.0\.2\); 192\.0\.2\.10 allowlisted on allow\.lab\.test'
dnsbl -H 192.0.2.10 --zone allow.lab.test:allow --output json
expect_rc 0
json_ok '$j->{state} eq "OK" && $j->{zones}[0]{status} eq "listed" && $j->{zones}[0]{kind} eq "allow"'

case_ "DNSWL 127.0.0.255 on an allow list: WARNING zone_refused, not a listing"
dnsbl -H 192.0.2.11 --zone allow.lab.test:allow --output json
expect_rc 1
json_ok '$j->{state} eq "WARNING" && $j->{reason} eq "zone_refused" && $j->{zones}[0]{status} eq "error"'
json_ok '(grep { $_->{label} eq "listed" && $_->{value} == 0 } @{$j->{perfdata}})'

kf=$T_TMP/kinds.json
cat >"$kf" <<'JSON'
{"version": 2, "zones": [
 {"zone": "policy.lab.test", "type": "ip4", "kind": "block",
  "codes": {"127.0.0.2": "block listing",
            "127.0.0.10": {"meaning": "dynamic range", "kind": "policy"}}},
 {"zone": "bits.lab.test", "type": "domain", "bitmask": true,
  "codes": {"127.0.0.2": "black",
            "127.0.0.4": {"meaning": "grey", "kind": "policy", "severity": "warning"}}}
]}
JSON

case_ "policy code (PBL-like): a note, not CRITICAL; block code of the same zone is"
run dnsbl -H 192.0.2.10 --zones-file "$kf" --zone policy.lab.test --resolver "$R"
expect_rc 0
expect_line1 '^MAILHEALTH OK - 192\.0\.2\.10 policy-listed on policy\.lab\.test \(127\.0\.0\.10: dynamic range\)'
run dnsbl -H 192.0.2.11 --zones-file "$kf" --zone policy.lab.test --resolver "$R"
expect_rc 2
dnsbl -H 192.0.2.10 --zone policy.lab.test:ip4,policy
expect_rc 0
expect_out '[OK] zone policy.lab.test: 192.0.2.10 policy-listed (127.0.0.10)'

case_ "bit-mask list: last octet decoded, policy bit with severity warning"
run dnsbl -H grey.test --zones-file "$kf" --zone bits.lab.test --resolver "$R"
expect_rc 1
expect_line1 '^MAILHEALTH WARNING - \[blacklist\] grey\.test policy-listed on bits\.lab\.test \(127\.0\.0\.4: grey\)'
run dnsbl -H both.test --zones-file "$kf" --zone bits.lab.test --resolver "$R"
expect_rc 2
expect_line1 'both\.test listed on bits\.lab\.test \(127\.1\.0\.6: black; grey\)'

# ---- usage ----------------------------------------------------------------

case_ "usage errors"
run dnsbl -H 192.0.2.10
expect_rc 3
expect_line1 'usage: dnsbl needs --zone ZONE or --zones-file'
run dnsbl --zone bl.lab.test
expect_rc 3
expect_line1 'usage: dnsbl needs -H HOST'
run dnsbl -H 192.0.2.10 --zone bl.lab.test:rhsbl --resolver "$R"
expect_rc 3
expect_line1 "^MAILHEALTH UNKNOWN - usage: invalid --zone 'bl.lab.test:rhsbl': type must be ip, ip4, ip6, domain or any, kind block, policy, allow or info"
run dnsbl -H 'bad host' --zone bl.lab.test --resolver "$R"
expect_rc 3
expect_line1 "^MAILHEALTH UNKNOWN - usage: invalid --host 'bad host': not an IP address, an address block \(CIDR\) or a DNS name"
run dnsbl -H 192.0.2.10 --zone bl.lab.test -c 5:1
expect_rc 3
run dnsbl -H 192.0.2.10 --zone bl.lab.test --resolver not-an-ip
expect_rc 3
expect_line1 "invalid --resolver 'not-an-ip'"

finish
