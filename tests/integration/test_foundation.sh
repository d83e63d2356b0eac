#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Foundation behaviour of the binary: command line, exit codes, the three
# renderers on a refused connection, promtool, locale independence, the
# atomic textfile. Lab parts needed: the resolver (unbound) for the name
# that does not resolve; the rest uses a closed loopback port.
. "$(dirname "$0")/lib.sh"

# A port nothing listens on: the lab's reserved closed port (BASE+999, below
# the kernel's ephemeral range). Not bind-and-close on port 0: the kernel may
# hand that number to a fault server of a test running beside this one, and
# these connections would then use up its one session.
closed_port=$((${LAB_PORT_BASE:-24000} + 999))

case_ "no arguments"
run
expect_rc 3
expect_out "Usage: check_mailhealth COMMAND"

case_ "unknown command"
run frobnicate
expect_rc 3
expect_line1 "^MAILHEALTH UNKNOWN - usage: unknown command 'frobnicate'$"

case_ "usage error is one line"
run smtp -H 127.0.0.1 -w 10:5
expect_rc 3
expect_line1 "usage: invalid --warning '10:5'"
run smtp
expect_rc 3
expect_line1 "usage: smtp needs -H HOST"
run smtp -H x --bogus
expect_rc 3
expect_line1 "unknown option '--bogus' for smtp"
run smtp -H x -p 70000
expect_rc 3
run smtp -H x --starttls --tls
expect_rc 3
run smtp -H x --auth-user u
expect_rc 3
expect_line1 "passwords never come from argv"

# Every value the option table refuses is a usage error naming the option,
# on the command line and, with the same words, in the runner's config
# (the check and the key named; exit 3, the textfile left alone).
case_ "bad values are usage errors naming the option"
bad_values=(
    "port 25.0" "port 0" "port 65536" "port 25x" "port -1" "port ''"
    "timeout abc" "timeout -1" "timeout 0" "timeout 1e3" "timeout 3601"
    "expect-greeting 99" "expect-greeting 600" "expect-greeting 2200"
    "tls-min 1.4" "tls-min TLS1.2" "auth-mech FOO" "auth-mech PLAIN,LOGIN"
    "max-line-length 63" "max-line-length 10.5" "cert-days 14,30"
    "cert-days x" "resolver not-an-ip" "resolver 127.0.0.1:0"
    "output xml" "warning 10:5" "critical x")
for bv in "${bad_values[@]}"; do
    opt=${bv%% *}
    val=${bv#* }
    [ "$val" = "''" ] && val=
    run smtp -H 127.0.0.1 --ehlo probe.example.net "--$opt" "$val"
    expect_rc 3
    expect_line1 "^MAILHEALTH UNKNOWN - usage: invalid --$opt '"
done
run smtp -H 127.0.0.1 -p 25.0
expect_rc 3
expect_line1 "^MAILHEALTH UNKNOWN - usage: invalid --port '25\.0' \(a port number, 1\.\.65535\)$"
run smtp -H 127.0.0.1 -4 -6
expect_rc 3
expect_line1 "usage: --use-ipv4 and --use-ipv6 exclude each other"
# With --output json or prometheus (before or after the bad value) a
# program reads the output: the usage error comes in that format.
run smtp -H 127.0.0.1 --output json -p 25.0
expect_rc 3
json_ok '$j->{state} eq "UNKNOWN" && $j->{exit_code} == 3 && $j->{reason} eq "usage_error" && $j->{summary} =~ /invalid --port .25\.0./'
run smtp -H 127.0.0.1 -p 25.0 --output=prometheus
expect_rc 3
promtool_ok
expect_out 'mailhealth_probe_status{target="127.0.0.1:25",check="smtp"} 3'
run run --config /dev/null --once --interval 5
expect_rc 3
expect_line1 "usage: --once and --interval exclude each other"
mkdir -p "$T_TMP/cfg"
printf '# sentinel\n' >"$T_TMP/cfg/keep.prom"
for bv in "${bad_values[@]}"; do
    opt=${bv%% *}
    val=${bv#* }
    [ "$val" = "''" ] && val=
    key=${opt//-/_}
    [ "$key" = output ] && continue # not a key of a check
    printf '{"checks":[{"name":"mx1","check":"smtp","host":"127.0.0.1","%s":"%s"}]}\n' \
        "$key" "$val" >"$T_TMP/cfg/bad.json"
    LAST_CMD="run --config bad.json ($key=$val)"
    OUT=$("$MH_BIN" run --config "$T_TMP/cfg/bad.json" --textfile "$T_TMP/cfg/keep.prom" --once 2>&1)
    RC=$?
    expect_rc 3
    expect_out "checks[0] \"mx1\": key \"$key\": invalid value '"
done
if [ "$(cat "$T_TMP/cfg/keep.prom")" = "# sentinel" ]; then
    ok "textfile left alone"
else
    not_ok "textfile changed"
fi

case_ "help and version exit 3"
run --help
expect_rc 3
expect_out "Commands:"
run smtp --help
expect_rc 3
expect_out "--starttls"
run -V
expect_rc 3
expect_line1 "^check_mailhealth [0-9]+\.[0-9]+\.[0-9]+$"

case_ "refused connection, nagios"
run smtp -H 127.0.0.1 -p "$closed_port"
expect_rc 2
expect_line1 "^MAILHEALTH CRITICAL - \[connection\] 127\.0\.0\.1:$closed_port: connect failed: Connection refused \| time="
expect_elapsed_below 2

case_ "refused connection, json"
run smtp -H 127.0.0.1 -p "$closed_port" --output json
expect_rc 2
if printf '%s' "$OUT" | perl -MJSON::PP -e 'my $j = decode_json(join "", <STDIN>);
    exit !($j->{state} eq "CRITICAL" && $j->{exit_code} == 2 && $j->{category} eq "connection"
           && $j->{check} eq "smtp" && defined $j->{summary} && $j->{target} ne "")'; then
    ok "json state/category/exit_code/check/target"
else
    not_ok "json fields"
fi

case_ "refused connection, prometheus"
run smtp -H 127.0.0.1 -p "$closed_port" --output prometheus
expect_rc 2
promtool_ok
expect_out "mailhealth_probe_error{target=\"127.0.0.1:$closed_port\",check=\"smtp\",category=\"connection\"} 1"
for c in timeout auth response relay blacklist tls; do
    expect_out "mailhealth_probe_error{target=\"127.0.0.1:$closed_port\",check=\"smtp\",category=\"$c\"} 0"
done
expect_out "mailhealth_probe_success{target=\"127.0.0.1:$closed_port\",check=\"smtp\"} 0"
expect_out "mailhealth_probe_status{target=\"127.0.0.1:$closed_port\",check=\"smtp\"} 2"

case_ "name that does not resolve"
# The lab's resolver answers NXDOMAIN for .invalid (RFC 6761 6.4) on any
# machine, with or without a network or a system resolver.
run smtp -H nonexistent.invalid -p 25 -t 5 --resolver "$LAB_RESOLVER"
expect_rc 2
expect_line1 "\[connection\] .*does not resolve"

case_ "perfdata identical in a comma-decimal locale"
if locale -a 2>/dev/null | grep -qi '^de_DE\.utf8$'; then
    a=$(LC_ALL=C "$MH_BIN" smtp -H 127.0.0.1 -p "$closed_port" -w 1.5 -c 2.5 |
        head -n 1 | sed 's/.*| //; s/=[0-9.]*s/=Xs/g')
    b=$(LC_ALL=de_DE.UTF-8 LANG=de_DE.UTF-8 "$MH_BIN" smtp -H 127.0.0.1 \
        -p "$closed_port" -w 1.5 -c 2.5 | head -n 1 | sed 's/.*| //; s/=[0-9.]*s/=Xs/g')
    if [ "$a" = "$b" ] && [[ "$a" == *"time=Xs;1.5;2.5;0"* ]]; then
        ok "perfdata '$a' identical under LC_ALL=C and de_DE.UTF-8"
    else
        not_ok "perfdata differs: C='$a' de_DE='$b'"
    fi
    c=$(LC_ALL=de_DE.UTF-8 "$MH_BIN" smtp -H 127.0.0.1 -p "$closed_port" --output prometheus)
    if printf '%s\n' "$c" | grep -E '_seconds\{' | grep -q ','"[0-9]"'*$'; then
        not_ok "prometheus values with a comma under de_DE"
    else
        ok "prometheus values keep '.' under de_DE"
    fi
else
    not_ok "locale de_DE.UTF-8 missing (tests/run.sh generates it)"
fi

case_ "atomic textfile"
tf_dir=$T_TMP/textfile
mkdir -p "$tf_dir"
run smtp -H 127.0.0.1 -p "$closed_port" --textfile "$tf_dir/mailhealth.prom"
expect_rc 2
if promtool check metrics <"$tf_dir/mailhealth.prom" >/dev/null 2>&1; then
    ok "textfile passes promtool"
else
    not_ok "textfile fails promtool"
fi
left=$(find "$tf_dir" -name '.*tmp*' | wc -l)
[ "$left" -eq 0 ] && ok "no temporary file left" || not_ok "$left temporary files left"
perm=$(stat -c %a "$tf_dir/mailhealth.prom")
[ "$perm" = 644 ] && ok "mode 0644" || not_ok "mode $perm"
# A reader polling the file while it is rewritten never sees a partial file.
bad=0
(for _ in $(seq 1 40); do
    "$MH_BIN" smtp -H 127.0.0.1 -p "$closed_port" --textfile "$tf_dir/mailhealth.prom" >/dev/null
done) &
writer=$!
while kill -0 "$writer" 2>/dev/null; do
    if ! tail -c 1 "$tf_dir/mailhealth.prom" | od -An -c | grep -q '\\n'; then
        bad=$((bad + 1))
    fi
    grep -q '^mailhealth_build_info' "$tf_dir/mailhealth.prom" || bad=$((bad + 1))
done
wait "$writer"
[ "$bad" -eq 0 ] && ok "reader never saw a partial file" || not_ok "$bad partial reads"
run smtp -H 127.0.0.1 -p "$closed_port" --textfile /nonexistent-dir/x.prom
expect_rc 3
expect_out "cannot create a temporary file in /nonexistent-dir"

finish
