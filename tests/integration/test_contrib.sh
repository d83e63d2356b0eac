#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# contrib/ and packaging/: every file is accepted by the tool that consumes
# it, offline. Needs no lab (runs with it started or not).
#
#   man page      packaging/man/mkman.sh writes check_mailhealth(1) from the
#                 binary's --help (the option table); every long option of
#                 every subcommand must be in it; groff -ww finds nothing.
#   Icinga 2      every option of every subcommand has an argument in its
#                 CheckCommand, in ITL style (prefix, set_if, repeat_key);
#                 `icinga2 daemon -C` accepts the single-node example, the
#                 distributed master (zones.d, command_endpoint) and the
#                 satellite's and agent's zones.conf, and refuses a
#                 misplaced command_endpoint; then a real Icinga 2 daemon
#                 runs every example service against a stub plugin and the
#                 command lines it builds are compared and fed to the real
#                 option parser.
#   Nagios 4      `nagios4 -v` on a minimal config with the stock templates;
#                 a real Nagios runs every example service against the stub.
#   Prometheus    promtool check rules, promtool test rules (every alert has
#                 a firing test case), the rules fed with the real plugin's
#                 output, amtool check-config and routing tests, metric names
#                 against probes/metric_names.h.
#   Grafana       valid dashboard JSON, every query parses (promtool) and
#                 uses known metrics.
#   systemd       systemd-analyze verify on the units (ExecStart pointed at
#                 the built binary, man page on MANPATH), the sandbox
#                 directives, systemd-sysusers and systemd-tmpfiles on a
#                 scratch root.
#
# The Debian and RPM package builds are their own CTest test
# (test_packages.sh).
. "$(dirname "$0")/lib.sh"

SRC=$MH_SOURCE_DIR
C=$SRC/contrib
W=$T_TMP
COMMANDS="smtp tls dnsbl domain delivery mta-sts"
# Options that have no place in a CheckCommand or Nagios command: aliases,
# help, and output selection (Nagios/Icinga read the nagios output).
NOT_IN_CHECKCOMMAND=" hostname require-starttls help version output textfile verbose "

# json_lines FILE: Icinga's netstring files (state, objects) as JSON lines.
json_lines() {
    perl -e 'local $/; $_ = <STDIN>; while (/\G(\d+):/gc) { my $n = $1;
        print substr($_, pos($_), $n), "\n"; pos($_) += $n + 1; }' <"$1"
}

# parser_accepts ARGS...: the real option parser takes the command line
# (options and values): with --help appended it prints the help, exit 3,
# instead of a usage error.
parser_accepts() {
    local out rc
    out=$("$MH_BIN" "$@" --help 2>&1)
    rc=$?
    # First line via parameter expansion and a here-string: a pipe into
    # head under pipefail could fail with SIGPIPE when head exits early.
    [ "$rc" = 3 ] && grep -q '^check_mailhealth .* - mail delivery health checks' <<<"${out%%$'\n'*}"
}

# long_opts CMD: the long options of a subcommand, from its --help.
long_opts() {
    "$MH_BIN" "$1" --help 2>/dev/null |
        sed -nE 's/^  (-[A-Za-z0-9], )? *--([a-z0-9][a-z0-9-]*).*/\2/p'
}
# opt_line CMD LONG: the --help line of that option.
opt_line() {
    "$MH_BIN" "$1" --help 2>/dev/null | grep -E "^  (-[A-Za-z0-9], )? *--$2( |$)"
}

for tool in icinga2 nagios4 promtool amtool systemd-analyze systemd-sysusers \
    systemd-tmpfiles jq groff; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        case_ tools
        fail "$tool not installed (packaging/install-deps.sh)"
    fi
done
[ "$T_FAIL" -eq 0 ] || { finish; exit 1; }

# ---------------------------------------------------------------- man page
case_ "man page"
MAN=$W/man/man1/check_mailhealth.1
mkdir -p "$W/man/man1"
check_cmd "mkman.sh writes check_mailhealth.1 from --help" sh "$SRC/packaging/man/mkman.sh" "$MH_BIN" "$MAN"
for cmd in $COMMANDS run; do
    missing=""
    section=$(awk -v c="$cmd" '$0 == ".B check_mailhealth " c { on = 1; next } on && /^\.TP/ { exit } on' "$MAN")
    n=0
    for o in $(long_opts "$cmd"); do
        n=$((n + 1))
        esc=$(printf '%s' "--$o" | sed 's/-/\\-/g')
        grep -qF -- "\\fB$esc\\fR" "$MAN" || missing="$missing --$o"
        grep -qF -- "\\fB$esc\\fR" <<<"$section" || missing="$missing --$o(in $cmd's list)"
    done
    if [ "$n" -lt 5 ]; then
        fail "$cmd --help lists only $n options: help format changed?"
    elif [ -z "$missing" ]; then
        ok "all $n long options of $cmd are in the man page"
    else
        fail "options of $cmd missing from the man page:$missing"
    fi
done
# The examples of the page are command lines the parser accepts.
rejected=""
nex=0
while IFS= read -r ex; do
    nex=$((nex + 1))
    read -r -a argv <<<"$ex"
    parser_accepts "${argv[@]:1}" || rejected="$rejected [$ex]"
done < <(awk '/^\.SH EXAMPLES/ { on = 1; next } on && /^\.SH/ { exit } on && !/^\./' "$MAN" |
    sed -e 's/\\-/-/g' -e 's/\\e/\\/g' | sed -e ':a' -e '/\\$/N; s/\\\n//; ta')
if [ "$nex" -gt 3 ] && [ -z "$rejected" ]; then ok "the $nex examples of the man page parse"; else fail "man page examples refused:$rejected"; fi
if warn=$(LC_ALL=C.UTF-8 groff -man -ww -z "$MAN" 2>&1) && [ -z "$warn" ]; then
    ok "groff -man -ww: no warnings"
else
    OUT=$warn
    not_ok "groff -man -ww warns"
fi

# ---------------------------------------------------------------- Icinga 2
case_ "icinga2 CheckCommands"
IC=$W/icinga
mkdir -p "$IC/cache" "$IC/data" "$IC/log" "$IC/run" "$IC/spool" "$IC/plugins" "$IC/nozones"
# A private copy of the ITL with our file where the package puts it (and no
# mailhealth.conf of an installed package).
cp -r /usr/share/icinga2/include "$IC/include"
rm -f "$IC/include/plugins-contrib.d/mailhealth.conf"
cp "$C/icinga2/mailhealth.conf" "$IC/include/plugins-contrib.d/mailhealth.conf"
ICD=(-DRunAsUser="$(id -un)" -DRunAsGroup="$(id -gn)"
    -DConfiguration.DataDir="$IC/data" -DConfiguration.CacheDir="$IC/cache"
    -DConfiguration.LogDir="$IC/log" -DConfiguration.SpoolDir="$IC/spool"
    -DConfiguration.InitRunDir="$IC/run" -DConfiguration.PidPath="$IC/run/icinga2.pid"
    -DConfiguration.StatePath="$IC/data/icinga2.state"
    -DConfiguration.ModAttrPath="$IC/data/modified-attributes.conf"
    -DConfiguration.VarsPath="$IC/cache/icinga2.vars"
    -DConfiguration.IncludeConfDir="$IC/include")

# icinga_conf FILE NODE ZONE PLUGINDIR [LINES...]: a minimal icinga2.conf.
icinga_conf() {
    local f=$1 node=$2 zone=$3 pdir=$4
    shift 4
    {
        printf 'const PluginDir = "%s"\nconst PluginContribDir = "%s"\nconst ManubulonPluginDir = "%s"\n' "$pdir" "$pdir" "$pdir"
        printf 'const NodeName = "%s"\nconst ZoneName = "%s"\n' "$node" "$zone"
        printf 'include <itl>\ninclude <plugins>\ninclude <plugins-contrib>\n'
        printf '%s\n' "$@"
    } >"$f"
}
# icinga_validate WHAT CONF ZONESDIR: icinga2 daemon -C must accept it.
icinga_validate() {
    LAST_CMD="icinga2 daemon -C -c $2"
    OUT=$(icinga2 daemon -C -c "$2" "${ICD[@]}" -DConfiguration.ZonesDir="$3" 2>&1)
    RC=$?
    if [ "$RC" = 0 ] && grep -q 'Finished validating the configuration' <<<"$OUT"; then
        ok "icinga2 daemon -C: $1"
    else
        not_ok "icinga2 daemon -C: $1"
    fi
}

icinga_conf "$IC/single.conf" localhost master /usr/lib/nagios/plugins \
    'object Endpoint NodeName { }' 'object Zone ZoneName { endpoints = [ NodeName ] }' \
    "include \"$C/icinga2/example-services.conf\""
icinga_validate "CheckCommands + example hosts and apply rules" "$IC/single.conf" "$IC/nozones"
json_lines "$IC/cache/icinga2.debug" >"$IC/objects.jsonl"
n=$(jq -r 'select(.type == "CheckCommand" and (.name | startswith("mailhealth_"))) | .name' "$IC/objects.jsonl" | sort | tr '\n' ' ')
if [ "$n" = "mailhealth_delivery mailhealth_dnsbl mailhealth_domain mailhealth_mta_sts mailhealth_smtp mailhealth_tls " ]; then
    ok "CheckCommands $n"
else
    fail "CheckCommands found: '$n'"
fi

# Every option of every subcommand, in ITL style: an argument keyed by its
# short or long flag; flags use set_if, options with a value use value,
# repeatable ones repeat_key; every macro is prefixed with the command name.
for cmd in $COMMANDS; do
    # Icinga names cannot hold '-': mta-sts is mailhealth_mta_sts.
    icn=${cmd//-/_}
    jq -c --arg n "mailhealth_$icn" 'select(.type == "CheckCommand" and .name == $n) | .properties' \
        "$IC/objects.jsonl" >"$IC/cc.$cmd.json"
    problems=""
    nopt=0
    for o in $(long_opts "$cmd"); do
        case "$NOT_IN_CHECKCOMMAND" in *" $o "*) continue ;; esac
        nopt=$((nopt + 1))
        line=$(opt_line "$cmd" "$o")
        short=$(printf '%s\n' "$line" | sed -nE 's/^  -([A-Za-z0-9]), .*/\1/p')
        key=$(jq -r --arg l "--$o" --arg s "-$short" \
            '.arguments | if has($l) then $l elif ($s != "-" and has($s)) then $s else "" end' "$IC/cc.$cmd.json")
        if [ -z "$key" ]; then
            problems="$problems --$o(no argument)"
            continue
        fi
        takes_arg=$(grep -qE -- "--$o [^ ]" <<<"$line" && echo 1 || echo 0)
        kind=$(jq -r --arg k "$key" '.arguments[$k] | if has("value") then "value" elif has("set_if") then "set_if" else "none" end' "$IC/cc.$cmd.json")
        if [ "$takes_arg" = 1 ] && [ "$kind" != value ]; then problems="$problems $key(needs value)"; fi
        if [ "$takes_arg" = 0 ] && [ "$kind" != set_if ]; then problems="$problems $key(flag needs set_if)"; fi
        if grep -q '\[repeatable\]' <<<"$line"; then
            [ "$(jq -r --arg k "$key" '.arguments[$k].repeat_key' "$IC/cc.$cmd.json")" = true ] ||
                problems="$problems $key(repeatable: repeat_key)"
        fi
    done
    bad_macros=$(jq -r '[.arguments[] | (.value, .set_if) | strings] + [(.env // {})[] | strings]
        | map(scan("\\$([^$]*)\\$") | .[0]) | .[]' "$IC/cc.$cmd.json" | grep -v "^mailhealth_${icn}_" | sort -u | tr '\n' ' ')
    [ -z "$bad_macros" ] || problems="$problems macros-without-prefix:$bad_macros"
    cmdline=$(jq -r '.command | join(" ")' "$IC/cc.$cmd.json")
    [ "$cmdline" = "/usr/lib/nagios/plugins/check_mailhealth $cmd" ] || problems="$problems command='$cmdline'"
    if [ -z "$problems" ]; then
        ok "mailhealth_$icn covers all $nopt options of '$cmd' in ITL style"
    else
        fail "mailhealth_$icn:$problems"
    fi
done
for cmd in smtp tls dnsbl; do
    if [ "$(jq -r '.vars["mailhealth_'$cmd'_address"]' "$IC/cc.$cmd.json")" = '$check_address$' ] &&
        [ "$(jq -r '.vars.check_ipv6' "$IC/cc.$cmd.json")" = "\$mailhealth_${cmd}_ipv6\$" ]; then
        ok "mailhealth_$cmd imports ipv4-or-ipv6, address defaults to \$check_address\$"
    else
        fail "mailhealth_$cmd: address defaults"
    fi
done

case_ "icinga2 distributed"
D=$C/icinga2/distributed
icinga_conf "$IC/master.conf" master1.example.net master /usr/lib/nagios/plugins "include \"$D/master/zones.conf\""
icinga_validate "master: zones, satellite zones.d, global apply rules" "$IC/master.conf" "$D/master/zones.d"
json_lines "$IC/cache/icinga2.debug" >"$IC/objects.jsonl"
in_master=$(jq -r 'select(.type == "Service" and .properties.zone == "master") | .name' "$IC/objects.jsonl" | wc -l)
spread=$(jq -r 'select(.type == "Service") | .properties.zone' "$IC/objects.jsonl" | sort -u | tr '\n' ' ')
if [ "$in_master" = 0 ] && [ "$spread" = "satellite-eu satellite-us " ]; then
    ok "every service is checked by a satellite zone ($spread), none by the master"
else
    fail "services by zone: master $in_master, zones '$spread'"
fi
ep=$(jq -r 'select(.type == "Service" and .properties.check_command == "mailhealth_delivery") | "\(.properties.host_name) \(.properties.zone) \(.properties.command_endpoint)"' "$IC/objects.jsonl")
if [ "$ep" = "mx1.example.net satellite-eu mx1.example.net" ]; then
    ok "delivery runs on the agent (command_endpoint mx1.example.net, zone satellite-eu)"
else
    fail "delivery service placement: '$ep'"
fi
# A command_endpoint outside the host's zone and its children is refused:
# the validation really checks the placement.
cp -r "$D/master/zones.d" "$IC/zones.bad"
cat >>"$IC/zones.bad/satellite-us/hosts.conf" <<'EOF'
object Host "misplaced.example.com" {
	check_command = "dummy"
	vars.agent_endpoint = "mx1.example.net"
	vars.mail_delivery["x"] = { submit = "smtp://a", imap = "imap://a", user = "u", rcpt_to = "u", password_file = "/f" }
}
EOF
OUT=$(icinga2 daemon -C -c "$IC/master.conf" "${ICD[@]}" -DConfiguration.ZonesDir="$IC/zones.bad" 2>&1)
RC=$?
if [ "$RC" != 0 ] && grep -q 'Command endpoint must be in zone' <<<"$OUT"; then
    ok "a command_endpoint outside the zone tree is refused"
else
    not_ok "misplaced command_endpoint was not refused"
fi
icinga_conf "$IC/satellite.conf" sat-eu-1.example.net satellite-eu /usr/lib/nagios/plugins "include \"$D/satellite/zones.conf\""
icinga_validate "satellite zones.conf" "$IC/satellite.conf" "$IC/nozones"
icinga_conf "$IC/agent.conf" mx1.example.net mx1.example.net /usr/lib/nagios/plugins "include \"$D/agent/zones.conf\""
icinga_validate "agent zones.conf" "$IC/agent.conf" "$IC/nozones"

# A real Icinga 2 runs every example service (forced checks through the
# command pipe) against a stub that records nothing but prints its
# MAILHEALTH_* environment; Icinga keeps the command line of each check
# result in its state file.
case_ "icinga2 runs the checks"
cat >"$IC/plugins/check_mailhealth" <<'EOF'
#!/bin/sh
echo "OK - stub"
env | grep '^MAILHEALTH' | grep -v '=$'
echo x >>"${0%/*}/calls"
exit 0
EOF
printf '#!/bin/sh\necho "PING OK - stub"\n' >"$IC/plugins/check_ping"
chmod 755 "$IC/plugins/check_mailhealth" "$IC/plugins/check_ping"
cat >"$IC/harness.conf" <<'EOF'
/* Services beyond the examples: arrays, IPv6, passwords through env. */
object Host "harness" {
	check_command = "dummy"
	address = "192.0.2.99"
	address6 = "2001:db8::99"
}
object Service "rcpt-array" {
	host_name = "harness"
	check_command = "mailhealth_smtp"
	vars.mailhealth_smtp_rcpt_to = [ "a@example.net", "b@example.net" ]
	vars.mailhealth_smtp_auth_user = "probe"
	vars.mailhealth_smtp_auth_password = "s3cret-pw"
}
object Service "ipv6" {
	host_name = "harness"
	check_command = "mailhealth_tls"
	vars.mailhealth_tls_ipv6 = true
	vars.mailhealth_tls_tls = true
	vars.mailhealth_tls_port = 465
}
object Service "zones" {
	host_name = "harness"
	check_command = "mailhealth_dnsbl"
	vars.mailhealth_dnsbl_zone = [ "zen.spamhaus.org", "dbl.spamhaus.org:domain" ]
}
object Service "imap-env" {
	host_name = "harness"
	check_command = "mailhealth_delivery"
	vars.mailhealth_delivery_submit = "smtps://mx1.example.net"
	vars.mailhealth_delivery_imap = "imaps://mx1.example.net"
	vars.mailhealth_delivery_imap_user = "probe"
	vars.mailhealth_delivery_imap_password = "imap-s3cret"
	vars.mailhealth_delivery_auth_user = "probe"
	vars.mailhealth_delivery_auth_password_env = "MY_PW_VAR"
	vars.mailhealth_delivery_insecure_plaintext = false
}
EOF
icinga_conf "$IC/run.conf" localhost master "$IC/plugins" \
    'object Endpoint NodeName { }' 'object Zone ZoneName { endpoints = [ NodeName ] }' \
    'object CheckerComponent "checker" { }' \
    "object ExternalCommandListener \"command\" { command_path = \"$IC/run/icinga2.cmd\" }" \
    "include \"$C/icinga2/example-services.conf\"" "include \"$IC/harness.conf\""
icinga_validate "run configuration" "$IC/run.conf" "$IC/nozones"
nsvc=$(json_lines "$IC/cache/icinga2.debug" | jq -r 'select(.type == "Service") | .name' | wc -l)
hosts=$(json_lines "$IC/cache/icinga2.debug" | jq -r 'select(.type == "Host") | .name')
icinga2 daemon -c "$IC/run.conf" "${ICD[@]}" -DConfiguration.ZonesDir="$IC/nozones" >"$IC/daemon.log" 2>&1 &
icpid=$!
T_PIDS+=("$icpid")
for _ in $(seq 1 200); do [ -p "$IC/run/icinga2.cmd" ] && break; sleep 0.05; done
now=$(date +%s)
for h in $hosts; do
    printf '[%s] SCHEDULE_FORCED_HOST_SVC_CHECKS;%s;%s\n' "$now" "$h" "$now" >"$IC/run/icinga2.cmd"
done
for _ in $(seq 1 300); do
    [ "$(cat "$IC/plugins/calls" 2>/dev/null | wc -l)" -ge "$nsvc" ] && break
    sleep 0.1
done
sleep 0.5
kill -TERM "$icpid" 2>/dev/null
wait "$icpid" 2>/dev/null
json_lines "$IC/data/icinga2.state" |
    jq -c 'select(.type == "Service") | {name, cmd: .update.last_check_result.command, out: .update.last_check_result.output}' >"$IC/results.jsonl"
ran=$(jq -r 'select(.cmd != null) | .name' "$IC/results.jsonl" | wc -l)
if [ "$nsvc" -gt 0 ] && [ "$ran" = "$nsvc" ]; then
    ok "Icinga ran all $nsvc services"
else
    OUT=$(tail -n 20 "$IC/daemon.log")
    not_ok "Icinga ran $ran of $nsvc services"
fi
rejected=""
while IFS= read -r line; do
    name=$(jq -r .name <<<"$line")
    mapfile -t argv < <(jq -r '.cmd[1:][]' <<<"$line")
    parser_accepts "${argv[@]}" || rejected="$rejected [$name: ${argv[*]}]"
done < <(jq -c 'select(.cmd != null)' "$IC/results.jsonl")
if [ -z "$rejected" ] && [ "$ran" -gt 0 ]; then
    ok "check_mailhealth's parser accepts every command line Icinga built"
else
    fail "command lines refused by check_mailhealth:$rejected"
fi
# cmd_of NAME: the command line (without the plugin path) of a service.
cmd_of() { jq -r --arg n "$1" 'select(.name == $n) | .cmd[1:] | join(" ")' "$IC/results.jsonl"; }
out_of() { jq -r --arg n "$1" 'select(.name == $n) | .out' "$IC/results.jsonl"; }
expect_icinga() {
    local got
    got=$(cmd_of "$1")
    if [ "$got" = "$2" ]; then ok "$1: $2"; else
        OUT=$got
        not_ok "$1: wanted '$2'"
    fi
}
expect_icinga "mx1.example.net!smtp" "smtp --mail-from postmaster@example.net --rcpt-to postmaster@example.net --relay-test relay-test@example.com --starttls -H 192.0.2.25 -c 15 -t 30 -w 5"
expect_icinga "mx1.example.net!smtps" "tls --cert-days 20,7 --tls -H 192.0.2.25 -p 465"
expect_icinga "mx2.example.net!dnsbl" "dnsbl --zones-file /usr/share/mailhealth/dnsbl-zones.json -H 192.0.2.26 -c 0"
expect_icinga "example.net!mail-domain example.org" "domain --cert-days 20,7 --starttls --zones-file /usr/share/mailhealth/dnsbl-zones.json -D example.org -t 60"
expect_icinga "example.net!mta-sts example.org" "mta-sts --cert-days 20,7 --sts-state /var/lib/icinga2/mailhealth-mta-sts-example.org.json -D example.org -t 60"
expect_icinga "example.net!delivery roundtrip" "delivery --auth-password-file /etc/icinga2/secrets/mailhealth-probe --auth-user probe@example.net --imap imaps://mx1.example.net/INBOX --imap-password-file /etc/icinga2/secrets/mailhealth-probe --imap-user probe@example.net --mail-from probe@example.net --rcpt-to probe@example.net --submit smtp://mx1.example.net:587 -c 180 -t 240 -w 60"
expect_icinga "harness!rcpt-array" "smtp --auth-password-env MAILHEALTH_SMTP_AUTH_PASSWORD --auth-user probe --rcpt-to a@example.net --rcpt-to b@example.net -H 192.0.2.99"
expect_icinga "harness!ipv6" "tls --tls -6 -H 2001:db8::99 -p 465"
expect_icinga "harness!zones" "dnsbl --zone zen.spamhaus.org --zone dbl.spamhaus.org:domain -H 192.0.2.99"
expect_icinga "harness!imap-env" "delivery --auth-password-env MY_PW_VAR --auth-user probe --imap imaps://mx1.example.net --imap-password-env MAILHEALTH_DELIVERY_IMAP_PASSWORD --imap-user probe --submit smtps://mx1.example.net"
if out_of "harness!rcpt-array" | grep -qx 'MAILHEALTH_SMTP_AUTH_PASSWORD=s3cret-pw' &&
    out_of "harness!imap-env" | grep -qx 'MAILHEALTH_DELIVERY_IMAP_PASSWORD=imap-s3cret' &&
    ! grep -q 's3cret' <(jq -r '.cmd[]?' "$IC/results.jsonl"); then
    ok "passwords reach the plugin in its environment, never in argv"
else
    OUT=$(cat "$IC/results.jsonl")
    not_ok "password handling"
fi

# ---------------------------------------------------------------- Nagios 4
case_ "nagios4"
NG=$W/nagios
mkdir -p "$NG/spool" "$NG/pluginconf" "$NG/plugins" "$NG/out"
# The stock command definitions of the installed plugin packages (and not
# an installed mailhealth.cfg), as Debian's nagios.cfg reads them.
for f in /etc/nagios-plugins/config/*.cfg; do
    [ "$(basename "$f")" = mailhealth.cfg ] || cp "$f" "$NG/pluginconf/"
done
nagios_cfg() {
    cat <<EOF
log_file=$NG/nagios.log
cfg_dir=$NG/pluginconf
cfg_file=/etc/nagios4/objects/commands.cfg
cfg_file=/etc/nagios4/objects/contacts.cfg
cfg_file=/etc/nagios4/objects/timeperiods.cfg
cfg_file=/etc/nagios4/objects/templates.cfg
cfg_file=$C/nagios/mailhealth.cfg
cfg_file=$C/nagios/example-services.cfg
resource_file=$1
object_cache_file=$NG/objects.cache
precached_object_file=$NG/objects.precache
status_file=$NG/status.dat
state_retention_file=$NG/retention.dat
temp_file=$NG/nagios.tmp
temp_path=$NG
lock_file=$NG/nagios.lock
check_result_path=$NG/spool
command_file=$NG/nagios.cmd
query_socket=$NG/nagios.qh
nagios_user=$(id -un)
nagios_group=$(id -gn)
illegal_macro_output_chars=\`~\$&|'"<>
EOF
}
echo '$USER1$=/usr/lib/nagios/plugins' >"$NG/resource.cfg"
nagios_cfg "$NG/resource.cfg" >"$NG/nagios.cfg"
LAST_CMD="nagios4 -v $NG/nagios.cfg"
OUT=$(nagios4 -v "$NG/nagios.cfg" 2>&1)
RC=$?
if [ "$RC" = 0 ] && grep -q 'Total Errors: *0' <<<"$OUT" && grep -q 'Total Warnings: *0' <<<"$OUT"; then
    ok "nagios4 -v: commands and example services, 0 warnings, 0 errors"
else
    not_ok "nagios4 -v"
fi

# A real Nagios runs every example service (forced checks through the
# command file) against a stub that records its argv.
cat >"$NG/plugins/check_mailhealth" <<EOF
#!/bin/sh
n=\$(printf '%s!%s' "\$NAGIOS_HOSTNAME" "\$NAGIOS_SERVICEDESC" | tr -c 'A-Za-z0-9_.!\n-' _)
printf '%s\n' "\$@" >"$NG/out/\$n.tmp" && mv "$NG/out/\$n.tmp" "$NG/out/\$n.argv"
echo "OK - stub"
EOF
chmod 755 "$NG/plugins/check_mailhealth"
echo "\$USER1\$=$NG/plugins" >"$NG/resource-run.cfg"
{
    nagios_cfg "$NG/resource-run.cfg"
    printf '%s\n' check_external_commands=1 enable_environment_macros=1 execute_host_checks=0 \
        enable_notifications=0 check_result_reaper_frequency=1 interval_length=1
} >"$NG/run.cfg"
# host;service pairs of the examples (services of a hostgroup run on every member)
pairs=$(awk '
    /^define hostgroup/ { t = "hg" } /^define host / || /^define host\{/ { t = "h" } /^define service/ { t = "s"; hn = ""; hg = ""; sd = "" }
    t == "h" && $1 == "host_name" { h = $2 } t == "h" && $1 == "hostgroups" { members[$2] = members[$2] " " h }
    t == "s" && $1 == "host_name" { hn = $2 } t == "s" && $1 == "hostgroup_name" { hg = $2 }
    t == "s" && $1 == "service_description" { sd = $0; sub(/^[ \t]*service_description[ \t]+/, "", sd) }
    t == "s" && /^}/ { if (hn != "") print hn ";" sd; else { n = split(members[hg], m, " "); for (i = 1; i <= n; i++) print m[i] ";" sd } t = "" }
' "$C/nagios/example-services.cfg")
npairs=$(grep -c . <<<"$pairs")
nagios4 "$NG/run.cfg" >"$NG/daemon.log" 2>&1 &
ngpid=$!
T_PIDS+=("$ngpid")
for _ in $(seq 1 200); do [ -p "$NG/nagios.cmd" ] && break; sleep 0.05; done
now=$(date +%s)
while IFS= read -r p; do
    printf '[%s] SCHEDULE_FORCED_SVC_CHECK;%s;%s\n' "$now" "$p" "$now" >"$NG/nagios.cmd"
done <<<"$pairs"
for _ in $(seq 1 300); do
    [ "$(find "$NG/out" -name '*.argv' | wc -l)" -ge "$npairs" ] && break
    sleep 0.1
done
kill -TERM "$ngpid" 2>/dev/null
wait "$ngpid" 2>/dev/null
got=$(find "$NG/out" -name '*.argv' | wc -l)
if [ "$npairs" -gt 0 ] && [ "$got" = "$npairs" ]; then
    ok "Nagios ran all $npairs example services"
else
    OUT=$(tail -n 20 "$NG/daemon.log")
    not_ok "Nagios ran $got of $npairs example services"
fi
rejected=""
for f in "$NG"/out/*.argv; do
    [ -f "$f" ] || continue
    mapfile -t argv <"$f"
    parser_accepts "${argv[@]}" || rejected="$rejected [$(basename "$f" .argv): ${argv[*]}]"
done
if [ -z "$rejected" ] && [ "$got" -gt 0 ]; then
    ok "check_mailhealth's parser accepts every command line Nagios built"
else
    fail "command lines refused by check_mailhealth:$rejected"
fi
expect_nagios() {
    local got
    got=$(tr '\n' ' ' <"$NG/out/$1.argv" 2>/dev/null | sed 's/ $//')
    if [ "$got" = "$2" ]; then ok "$1: $2"; else
        OUT=$got
        not_ok "$1: wanted '$2'"
    fi
}
expect_nagios "mx1.example.net!SMTP" "smtp -H 192.0.2.25 -p 25 --starttls --cert-days 20,7 --relay-test relay-test@example.com -w 5 -c 15 -t 30"
expect_nagios "mx1.example.net!Submissions__TLS_" "smtp -H 192.0.2.25 -p 465 --tls --cert-days 20,7"
expect_nagios "example.net!Mail_delivery" "delivery --submit smtp://mx1.example.net:587 --imap imaps://mx1.example.net/INBOX --auth-user probe@example.net --auth-password-file /etc/nagios4/mailhealth-probe.pass --imap-user probe@example.net --imap-password-file /etc/nagios4/mailhealth-probe.pass --mail-from probe@example.net --rcpt-to probe@example.net -w 20 -c 40 -t 50"

# ---------------------------------------------------------------- Prometheus
case_ "prometheus rules"
P=$C/prometheus
check_cmd "promtool check rules" promtool check rules "$P/mailhealth-rules.yml"
check_cmd "promtool test rules" promtool test rules "$P/mailhealth-rules.test.yml"
alerts=$(sed -nE 's/^ *- alert: *([A-Za-z0-9_]+).*/\1/p' "$P/mailhealth-rules.yml" | sort -u)
untested=""
for a in $alerts; do
    # a test case for the alert whose exp_alerts is not empty
    awk -v a="$a" '$0 ~ "alertname: *" a "$" { on = 1; next } on && /exp_alerts: *\[\]/ { on = 0 } on && /exp_labels:/ { found = 1 } /alertname:/ { on = 0 } END { exit !found }' \
        "$P/mailhealth-rules.test.yml" || untested="$untested $a"
done
if [ -z "$untested" ]; then ok "every alert ($(echo $alerts | wc -w)) has a test case where it fires"; else fail "alerts without a firing test:$untested"; fi
nrules=$(grep -cE '^ *- alert:' "$P/mailhealth-rules.yml")
nsum=$(grep -cE '^ +summary:' "$P/mailhealth-rules.yml")
ndesc=$(grep -cE '^ +description:' "$P/mailhealth-rules.yml")
if [ "$nrules" = "$nsum" ] && [ "$nrules" = "$ndesc" ]; then ok "all $nrules rules have summary and description"; else fail "rules $nrules, summaries $nsum, descriptions $ndesc"; fi
missing=""
for a in MailHealthCheckFailing MailHealthCertificateExpiresSoon MailHealthCertificateExpiresVerySoon \
    MailHealthDnsblListed MailHealthDeliveryFailing MailHealthDeliverySlow MailHealthTextfileStale MailHealthRunnerSilent; do
    grep -qx "$a" <<<"$alerts" || missing="$missing $a"
done
if [ -z "$missing" ]; then ok "alerts: check failing per category, certificate 20/7 days, DNSBL, delivery slow/failing, textfile stale, runner silent"; else fail "alerts missing:$missing"; fi
grep -qF 'node_textfile_mtime_seconds{file=~".*/mailhealth\\.prom"}' "$P/mailhealth-rules.yml" &&
    ok "staleness from node_textfile_mtime_seconds{file=~\".*/mailhealth\\\\.prom\"}" ||
    fail "MailHealthTextfileStale does not use node_textfile_mtime_seconds{file=~\".*/mailhealth\\\\.prom\"}"
grep -qE '< *20$' "$P/mailhealth-rules.yml" && grep -qE '< *7$' "$P/mailhealth-rules.yml" &&
    ok "certificate alerts at 20 and 7 days" || fail "certificate thresholds 20 and 7 days"

# Metric names in rules and dashboard exist: the families of
# probes/metric_names.h (every family is defined there once), or
# node_exporter's textfile metrics.
known=$( (grep -oE '"mailhealth_[a-z_]+"' "$SRC/probes/metric_names.h" | tr -d '"'
    printf '%s\n' node_textfile_mtime_seconds node_textfile_scrape_error) | sort -u)
used=$( (grep -vE '^ *(#|summary:|description:)' "$P/mailhealth-rules.yml"
    jq -r '.panels[].targets[]?.expr, (.templating.list[] | select(.type == "query") | .query.query)' "$C/grafana/mailhealth-dashboard.json") |
    grep -oE '\b(mailhealth|node_textfile)_[a-z_]+\b' | sort -u)
unknown=$(grep -vxF -f <(printf '%s\n' "$known") <<<"$used" || true)
if [ -n "$used" ] && [ -z "$unknown" ]; then
    ok "rules and dashboard use only metrics that mailhealth and node_exporter export ($(echo $used | wc -w))"
else
    fail "unknown metrics: $unknown"
fi

# The rules against the real plugin's exposition: a refused connection is
# a CRITICAL connection failure and must fire MailHealthCheckFailing with
# the labels the plugin writes (plus instance/job from the scrape).
case_ "prometheus rules on real output"
expo=$("$MH_BIN" smtp -H 127.0.0.1 -p 1 -t 2 --output prometheus 2>/dev/null)
target=$(printf '%s\n' "$expo" | sed -nE 's/^mailhealth_probe_error\{target="([^"]*)",check="smtp",category="connection"\} 1$/\1/p')
if [ -n "$target" ]; then
    {
        printf 'rule_files: [%s]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n' "$P/mailhealth-rules.yml"
        grep -v '^#' <<<"$expo" | grep -v '^mailhealth_last_run_timestamp_seconds' | awk '
            NF == 2 {
                n = $1; v = $2
                lbl = "instance=\"mon:9100\",job=\"node\""
                if (n ~ /\}$/) { sub(/\}$/, "," lbl "}", n) } else { n = n "{" lbl "}" }
                gsub(/\x27/, "\x27\x27", n)
                printf "      - series: \x27%s\x27\n        values: \x27%sx20\x27\n", n, v
            }'
        cat <<EOF
    alert_rule_test:
      - eval_time: 10m
        alertname: MailHealthCheckFailing
        exp_alerts:
          - exp_labels: {severity: critical, instance: "mon:9100", job: node, target: "$target", check: smtp, category: connection}
            exp_annotations:
              summary: "Mail check smtp of $target is CRITICAL: connection"
              description: "The smtp check of $target (reported by mon:9100) has failed with error category connection for 5 minutes. Run \`check_mailhealth smtp -v\` against the target for the dialogue."
      - eval_time: 10m
        alertname: MailHealthCheckUnknown
        exp_alerts: []
      - eval_time: 10m
        alertname: MailHealthDeliveryFailing
        exp_alerts: []
EOF
    } >"$W/real.test.yml"
    check_cmd "MailHealthCheckFailing{category=\"connection\"} fires on the plugin's own metrics" promtool test rules "$W/real.test.yml"
else
    OUT=$expo
    not_ok "no connection failure in the plugin's exposition"
fi

case_ "exporter scrape jobs"
# promtool check config also checks every scrape job and relabelling.
check_cmd "promtool check config exporter-scrape.yml" promtool check config "$P/exporter-scrape.yml"

case_ "alertmanager"
check_cmd "amtool check-config" amtool check-config "$P/alertmanager-example.yml"
route() { amtool config routes test --config.file="$P/alertmanager-example.yml" "$@" 2>/dev/null; }
[ "$(route alertname=MailHealthDnsblListed severity=critical target=mx1)" = "oncall-pager,mail-team" ] &&
    ok "critical mailhealth alerts page on-call (and reach the team)" || fail "critical route: $(route alertname=MailHealthDnsblListed severity=critical)"
[ "$(route alertname=MailHealthCertificateExpiresSoon severity=warning target=mx1)" = "mail-team" ] &&
    ok "warnings go to the team only" || fail "warning route: $(route alertname=MailHealthCertificateExpiresSoon severity=warning)"

# ---------------------------------------------------------------- Grafana
case_ "grafana dashboard"
G=$C/grafana/mailhealth-dashboard.json
if jq -e '(.title | length > 0) and (.uid | length > 0) and (.schemaVersion >= 30) and (.panels | length > 0)
    and ([.panels[].id] | length == (unique | length))
    and all(.panels[]; (.type | length > 0) and (.gridPos.w > 0) and (.gridPos.h > 0))
    and all(.panels[] | select(.type != "row"); (.targets | length > 0) and (.datasource.uid == "${datasource}"))
    and any(.templating.list[]; .type == "datasource" and .query == "prometheus")' "$G" >/dev/null; then
    ok "dashboard JSON: title, uid, unique panel ids, every panel has a query and the datasource variable"
else
    fail "dashboard JSON structure"
fi
# Every query parses: as recording rules, with the template variables set.
{
    echo 'groups:'
    echo '  - name: dashboard'
    echo '    rules:'
    jq -r '.panels[].targets[]?.expr, (.templating.list[] | select(.type == "query") | .query.query | capture("^label_values\\((?<e>.*), *[a-z_]+\\)$").e)' "$G" |
        sed -e 's/\$__rate_interval/5m/g' -e 's/\$[a-z_]*/.*/g' |
        awk '{ gsub(/\x27/, "\x27\x27"); printf "      - record: dashboard:q%d\n        expr: \x27%s\x27\n", NR, $0 }'
} >"$W/dashboard-queries.yml"
check_cmd "every dashboard query parses (promtool check rules)" promtool check rules "$W/dashboard-queries.yml"
missing=""
for want in mailhealth_probe_status mailhealth_probe_error mailhealth_smtp_phase_duration_seconds \
    mailhealth_tls_earliest_cert_expiry_timestamp_seconds mailhealth_dnsbl_listed mailhealth_delivery_duration_seconds; do
    grep -q "$want" <<<"$(jq -r '.panels[].targets[]?.expr' "$G")" || missing="$missing $want"
done
if [ -z "$missing" ]; then ok "panels: state, failures per category, SMTP phases, certificate days, DNSBL listings, delivery delay"; else fail "no dashboard panel on:$missing"; fi

# ---------------------------------------------------------------- systemd
case_ "systemd units"
S=$C/systemd
SU=$W/units
mkdir -p "$SU"
for u in mailhealth.service mailhealth-once.service mailhealth-once.timer; do
    # ExecStart must exist for verify: point it at the binary under test.
    sed "s|/usr/lib/nagios/plugins/check_mailhealth|$MH_BIN|" "$S/$u" >"$SU/$u"
done
LAST_CMD="systemd-analyze verify $SU/*"
if OUT=$(cd "$SU" && MANPATH="$W/man:" SYSTEMD_LOG_LEVEL=notice systemd-analyze verify \
    mailhealth.service mailhealth-once.service mailhealth-once.timer 2>&1) && [ -z "$OUT" ]; then
    ok "systemd-analyze verify: mailhealth.service, mailhealth-once.service, mailhealth-once.timer (man page found)"
else
    not_ok "systemd-analyze verify"
fi
for u in mailhealth.service mailhealth-once.service; do
    miss=""
    for d in "User=mailhealth" "ProtectSystem=strict" "ReadWritePaths=/var/lib/prometheus/node-exporter" \
        "NoNewPrivileges=yes" "CapabilityBoundingSet=" "AmbientCapabilities=" "PrivateTmp=yes" "ProtectHome=yes" \
        "ExecStart=/usr/lib/nagios/plugins/check_mailhealth run --config /etc/mailhealth/runner.json --textfile /var/lib/prometheus/node-exporter/mailhealth.prom"; do
        grep -q "^$d" "$S/$u" || miss="$miss $d"
    done
    rw=$(grep -c '^ReadWritePaths=' "$S/$u")
    [ "$rw" = 1 ] || miss="$miss (ReadWritePaths lines: $rw)"
    grep -qE '^CapabilityBoundingSet=.+' "$S/$u" && miss="$miss (CapabilityBoundingSet not empty)"
    if [ -z "$miss" ]; then ok "$u: own user, no capabilities, read-only system but the textfile directory"; else fail "$u lacks:$miss"; fi
done
grep -q '^Type=oneshot' "$S/mailhealth-once.service" && grep -q -- '--once$' "$S/mailhealth-once.service" &&
    grep -q '^TimeoutStartSec=' "$S/mailhealth-once.service" && ok "mailhealth-once.service: oneshot, --once, start timeout" ||
    fail "mailhealth-once.service is not a bounded oneshot --once"
# systemd-sysusers and systemd-tmpfiles on a scratch root: the user is
# created; the ACL entry applies (for an existing user: the scratch root's
# users are not in the host's NSS, which libacl consults).
R=$W/root
mkdir -p "$R/etc" "$R/var/lib/prometheus/node-exporter"
check_cmd "systemd-sysusers creates the user mailhealth" systemd-sysusers --root="$R" "$S/sysusers.d/mailhealth.conf"
grep -q '^mailhealth:x:[0-9]*:[0-9]*:' "$R/etc/passwd" 2>/dev/null && ok "user mailhealth in the scratch root's passwd" ||
    fail "no mailhealth in $R/etc/passwd"
sed 's/u:mailhealth:/u:nobody:/' "$S/tmpfiles.d/mailhealth.conf" >"$W/tmpfiles.conf"
LAST_CMD="systemd-tmpfiles --root=$R --create $W/tmpfiles.conf"
# ls marks a directory with an ACL with '+' after the mode.
if OUT=$(systemd-tmpfiles --root="$R" --create "$W/tmpfiles.conf" 2>&1) && [ -z "$OUT" ] &&
    ls -ld "$R/var/lib/prometheus/node-exporter" | grep -q '^d.........+'; then
    ok "systemd-tmpfiles applies the textfile directory ACL"
else
    not_ok "systemd-tmpfiles ACL"
fi

finish
