#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The smtp subcommand against other MTA families than the lab's Postfix, each
# run here with its own configuration file on loopback: Exim 4.96 and
# OpenSMTPD 6.8 unpacked from Debian 12's packages, Haraka 3 from npm
# (tests/lab/mtas.sh fetch puts them in MH_MTA_DIR, default
# /opt/mailhealth-mtas). A family that is not there is skipped with a note.
# Each case checks what a mail engineer expects of the verdict: category,
# reason and state for greylisting-style deferrals, rate and connection
# limits, relay denial, unknown users, a DNSBL reject, STARTTLS and AUTH.
# Lab parts needed: the lab CA and certificates, rbldnsd (a second instance on
# port 53 of a loopback address, since Exim and Haraka ask the system
# resolver, which takes no port; the DNSBL cases are skipped when port 53 is
# taken). Ports: LAB_PORT_BASE+300 .. +309 only. MH_MTA_ONLY=exim, opensmtpd
# or haraka runs one family alone.
. "$(dirname "$0")/lib.sh"
needs_lab
MTA_DIR=${MH_MTA_DIR:-/opt/mailhealth-mtas}
ROOT=$MTA_DIR/root
P_EXIM=$((LAB_PORT_BASE + 300))
P_SMTPD=$((LAB_PORT_BASE + 301))
P_SMTPD_TLS=$((LAB_PORT_BASE + 302))
P_HARAKA=$((LAB_PORT_BASE + 303))
P_HARAKA_RBL=$((LAB_PORT_BASE + 304))
DNS_ADDR=127.77.53.1
HOST=$LAB_HOST
wrongpw=$T_TMP/wrong
printf 'not-the-password\n' >"$wrongpw"

# The daemons drop privileges: their files must be reachable by their users.
chmod 711 "$T_TMP"
W=$T_TMP/mta
mkdir -m 755 "$W"
cp "$LAB_CERT_DIR/valid.chain.pem" "$LAB_CERT_DIR/valid.key" "$W/"

if [ ! -x "$ROOT/usr/sbin/exim4" ] && [ ! -x "$ROOT/usr/sbin/smtpd" ] &&
    [ ! -f "$MTA_DIR/haraka/node_modules/Haraka/bin/haraka" ]; then
    note "no MTA family unpacked in $MTA_DIR (tests/lab/mtas.sh fetch): skipped"
    finish
    exit
fi

# Each daemon runs in a mount namespace of its own (below): without the
# privilege to make one there is nothing to run.
if ! unshare -m true 2>/dev/null; then
    note "unshare -m is not permitted here: skipped"
    finish
    exit
fi

wanted() { [ -z "${MH_MTA_ONLY:-}" ] || [ "$MH_MTA_ONLY" = "$1" ]; }

banner_on() { # PORT: the server greets with 220
    timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"; head -c 3 <&3' _ "$HOST" "$1" 2>/dev/null |
        grep -q 220
}
wait_banner() { # SECONDS PORT: until the server on PORT greets, at most SECONDS
    local end=$((SECONDS + $1))
    while [ "$SECONDS" -lt "$end" ]; do
        banner_on "$2" && return 0
        sleep 0.2
    done
    return 1
}

# The system resolver for Exim and Haraka: a mount namespace of their own in
# which /etc/resolv.conf names an rbldnsd on port 53 of DNS_ADDR serving
# bl.mta.test (listing 127.0.0.1 and the RFC 5782 test point).
printf 'nameserver %s\n' "$DNS_ADDR" >"$W/resolv.conf"
cat >"$W/bl.zone" <<'EOF'
$SOA 60 ns.lab.test hostmaster.lab.test 1 60 60 600 5
:127.0.0.2:Listed: see http://bl.mta.test/lookup?$
127.0.0.2
127.0.0.1
EOF
chmod 644 "$W"/*.zone "$W/resolv.conf"
DNSBL=
# dig +short prints its errors on stdout too: look for the answer itself.
dnsbl_answers() { grep -q '^127\.' <<<"$(dig +short +time=1 +tries=1 @"$DNS_ADDR" 2.0.0.127.bl.mta.test A)"; }
rbldnsd -n -u rbldns -b "$DNS_ADDR/53" -a -c 0 -t 30 bl.mta.test:ip4set:"$W/bl.zone" \
    >"$W/rbldnsd.log" 2>&1 &
T_PIDS+=($!)
if wait_until 5 dnsbl_answers; then
    DNSBL=1
else
    note "rbldnsd on $DNS_ADDR port 53 did not answer: DNSBL cases skipped ($(tail -n 1 "$W/rbldnsd.log"))"
fi
with_resolver() { # COMMAND...: runs COMMAND with the namespace's resolv.conf
    exec unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' \
        "$W/resolv.conf" "$@"
}

# --------------------------------------------------------------------------
# Exim 4.96 (Debian 12 exim4-daemon-light)
# --------------------------------------------------------------------------
exim_start() {
    mkdir -p "$W/exim/spool" "$W/exim/log"
    chown -R mail:mail "$W/exim"
    cp "$W/valid.key" "$W/exim/key.pem"
    chown mail "$W/exim/key.pem"
    chmod 600 "$W/exim/key.pem"
    cat >"$W/exim/exim.conf" <<EOF
keep_environment =
exim_user = mail
exim_group = mail
never_users = root
primary_hostname = $LAB_MX_NAME
qualify_domain = $LAB_DOMAIN
spool_directory = $W/exim/spool
log_file_path = $W/exim/log/%slog
pid_file_path = $W/exim/exim.pid
daemon_smtp_ports = $P_EXIM
local_interfaces = $HOST
domainlist local_domains = $LAB_DOMAIN
tls_advertise_hosts = *
tls_certificate = $W/valid.chain.pem
tls_privatekey = $W/exim/key.pem
smtp_accept_max_per_host = 2
host_lookup =
rfc1413_hosts =
acl_smtp_rcpt = acl_check_rcpt

begin acl
acl_check_rcpt:
  # a greylisting-style deferral, as exim-greylist words it
  defer   local_parts = grey
          message     = Greylisting in progress, please try again later
  # Exim's ratelimit, strict, per recipient: the first one is over
  defer   local_parts = rate
          ratelimit   = 0 / 1h / strict / per_rcpt / \$sender_host_address
          message     = Sender rate overlimit - \$sender_rate / \$sender_rate_period
  # a DNSBL reject with the Exim specification's message
  deny    local_parts = rbl
          message     = rejected because \$sender_host_address is in a black list at \$dnslist_domain\n\$dnslist_text
          dnslists    = bl.mta.test
  accept  authenticated = *
  require message     = relay not permitted
          domains     = +local_domains
  require verify      = recipient
  accept

begin routers
localuser:
  driver = accept
  domains = +local_domains
  local_parts = probe : other : grey : rate : rbl
  transport = devnull

begin transports
devnull:
  driver = appendfile
  file = /dev/null
  user = mail

begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and {{eq{\$auth2}{$LAB_USER}}{eq{\$auth3}{$LAB_PASSWORD}}}}
  server_set_id = \$auth2
  server_advertise_condition = \${if def:tls_in_cipher}
EOF
    chmod 644 "$W/exim/exim.conf"
    local libs
    libs=$(printf '%s:' "$ROOT"/usr/lib/*-linux-gnu)
    # -bdf: the daemon stays in the foreground (its pid is ours to stop).
    (export LD_LIBRARY_PATH=$libs && with_resolver "$ROOT/usr/sbin/exim4" -C "$W/exim/exim.conf" -bdf) \
        >"$W/exim/stdout" 2>&1 &
    T_PIDS+=($!)
    wait_banner 10 "$P_EXIM"
}

if ! wanted exim; then
    :
elif [ ! -x "$ROOT/usr/sbin/exim4" ]; then
    note "Exim not unpacked in $MTA_DIR: skipped"
elif ! id Debian-exim >/dev/null 2>&1; then
    note "user Debian-exim missing (tests/lab/mtas.sh fetch): Exim skipped"
elif ! exim_start; then
    case_ "Exim starts"
    fail "no banner on port $P_EXIM: $(cat "$W/exim/stdout" "$W"/exim/log/* 2>/dev/null | tail -n 5)"
else
    EX=(-H "$LAB_MX_NAME" --resolver "$LAB_RESOLVER" -4 -p "$P_EXIM" --ca-file "$LAB_CA_FILE")
    # mx.lab.test is 127.0.0.1 in the lab's DNS; Exim listens there only.
    case_ "Exim: STARTTLS, verified chain, AUTH, envelope"
    run smtp "${EX[@]}" --starttls --auth-user "$LAB_USER" --auth-password-file "$LAB_PASSWORD_FILE" \
        --mail-from "$LAB_USER" --rcpt-to "$LAB_FOREIGN_RCPT"
    expect_rc 0
    expect_line1 "^MAILHEALTH OK - .*STARTTLS TLSv1\.[23], AUTH ok, envelope ok"
    expect_out "Exim 4."

    case_ "Exim: wrong password"
    run smtp "${EX[@]}" --starttls --auth-user "$LAB_USER" --auth-password-file "$wrongpw"
    expect_rc 2
    expect_line1 "CRITICAL - \[auth\] .*535 Incorrect authentication data"

    case_ "Exim: greylisting-style deferral is a WARNING response, never a blocklist"
    run smtp "${EX[@]}" --output json --mail-from a@example.org --rcpt-to "grey@$LAB_DOMAIN"
    expect_rc 1
    json_ok '$j->{category} eq "response" && $j->{reason} eq "greylisted"'

    case_ "Exim: ratelimit"
    run smtp "${EX[@]}" --output json --mail-from a@example.org --rcpt-to "rate@$LAB_DOMAIN"
    expect_rc 1
    json_ok '$j->{category} eq "response" && $j->{reason} eq "rate_limited"'

    case_ "Exim: relay denied for a recipient that must be accepted"
    run smtp "${EX[@]}" --output json --mail-from a@example.org --rcpt-to "$LAB_FOREIGN_RCPT"
    expect_rc 2
    json_ok '$j->{category} eq "relay" && $j->{reason} eq "relay_denied" && $j->{summary} =~ /550 relay not permitted/'

    case_ "Exim: relay test refused as it must be"
    run smtp "${EX[@]}" --mail-from a@example.org --rcpt-to "$LAB_USER" --relay-test "$LAB_FOREIGN_RCPT"
    expect_rc 0

    case_ "Exim: unknown user"
    run smtp "${EX[@]}" --output json --mail-from a@example.org --rcpt-to "nobody@$LAB_DOMAIN"
    expect_rc 2
    json_ok '$j->{category} eq "response" && $j->{reason} eq "user_unknown"'

    case_ "Exim: the echoed address <rbl> is the client's word, not a blocklist"
    run smtp "${EX[@]}" --output json --mail-from a@example.org --rcpt-to rbl
    expect_rc 2
    json_ok '$j->{category} eq "response" && $j->{reason} eq "command_rejected" && $j->{summary} =~ /501 <rbl>/'

    if [ -n "$DNSBL" ]; then
        case_ "Exim: dnslists reject (multi-line, with the list's TXT)"
        run smtp "${EX[@]}" --output json --mail-from a@example.org --rcpt-to "rbl@$LAB_DOMAIN"
        expect_rc 2
        json_ok '$j->{category} eq "blacklist" && $j->{reason} eq "provider_block" && $j->{summary} =~ /black list at bl\.mta\.test/'
    fi

    case_ "Exim: too many connections from this host"
    exec 7<>"/dev/tcp/$HOST/$P_EXIM" 8<>"/dev/tcp/$HOST/$P_EXIM"
    head -n 1 <&7 >/dev/null
    head -n 1 <&8 >/dev/null
    run smtp "${EX[@]}" --output json
    exec 7>&- 8>&-
    expect_rc 1
    json_ok '$j->{category} eq "response" && $j->{reason} eq "too_many_connections"'
fi

# --------------------------------------------------------------------------
# OpenSMTPD 6.8.0p2 (Debian 12 opensmtpd)
# --------------------------------------------------------------------------
smtpd_start() {
    mkdir -p "$W/smtpd"
    cp "$W/valid.chain.pem" "$W/valid.key" "$W/smtpd/"
    chmod 600 "$W/smtpd/valid.key"
    printf 'probe@%s mail\nother@%s mail\n' "$LAB_DOMAIN" "$LAB_DOMAIN" >"$W/smtpd/vusers"
    cat >"$W/smtpd/smtpd.conf" <<EOF
smtp limit max-rcpt 1
pki $LAB_MX_NAME cert "$W/smtpd/valid.chain.pem"
pki $LAB_MX_NAME key "$W/smtpd/valid.key"
table vusers file:$W/smtpd/vusers
listen on $HOST port $P_SMTPD tls pki $LAB_MX_NAME hostname $LAB_MX_NAME
listen on $HOST port $P_SMTPD_TLS tls-require pki $LAB_MX_NAME hostname $LAB_MX_NAME
action "devnull" mda "cat >/dev/null" virtual <vusers>
match from any for domain "$LAB_DOMAIN" action "devnull"
EOF
    # Its spool and control socket are compiled in (/var/spool/smtpd,
    # /var/run/smtpd.sock): empty ones of its own, in a mount namespace.
    (exec unshare -m sh -c 'mount -t tmpfs tmpfs /var/spool && mount -t tmpfs tmpfs /run &&
        exec "$0" -d -f "$1"' "$ROOT/usr/sbin/smtpd" "$W/smtpd/smtpd.conf") \
        >"$W/smtpd/log" 2>&1 &
    T_PIDS+=($!)
    wait_banner 10 "$P_SMTPD"
}

if ! wanted opensmtpd; then
    :
elif [ ! -x "$ROOT/usr/sbin/smtpd" ]; then
    note "OpenSMTPD not unpacked in $MTA_DIR: skipped"
elif ! id opensmtpd >/dev/null 2>&1 || ! id opensmtpq >/dev/null 2>&1; then
    note "users opensmtpd/opensmtpq missing (tests/lab/mtas.sh fetch): OpenSMTPD skipped"
elif ! smtpd_start; then
    case_ "OpenSMTPD starts"
    fail "no banner on port $P_SMTPD: $(tail -n 5 "$W/smtpd/log")"
else
    OS=(-H "$LAB_MX_NAME" --resolver "$LAB_RESOLVER" -4 --ca-file "$LAB_CA_FILE")
    case_ "OpenSMTPD: envelope accepted"
    run smtp "${OS[@]}" -p "$P_SMTPD" --mail-from a@example.org --rcpt-to "$LAB_USER"
    expect_rc 0
    expect_line1 "^MAILHEALTH OK - .*envelope ok"

    case_ "OpenSMTPD: an unknown or foreign recipient"
    run smtp "${OS[@]}" -p "$P_SMTPD" --output json --mail-from a@example.org \
        --rcpt-to "$LAB_FOREIGN_RCPT"
    expect_rc 2
    json_ok '$j->{category} eq "response" && $j->{reason} eq "user_unknown" && $j->{summary} =~ /550 Invalid recipient/'

    case_ "OpenSMTPD: too many recipients is a WARNING rate limit"
    run smtp "${OS[@]}" -p "$P_SMTPD" --output json --mail-from a@example.org \
        --rcpt-to "$LAB_USER" --rcpt-to "$LAB_USER2"
    expect_rc 1
    json_ok '$j->{category} eq "response" && $j->{reason} eq "rate_limited"'

    case_ "OpenSMTPD: tls-require listener, MAIL before STARTTLS"
    run smtp "${OS[@]}" -p "$P_SMTPD_TLS" --output json --mail-from a@example.org \
        --rcpt-to "$LAB_USER"
    expect_rc 2
    json_ok '$j->{category} eq "tls" && $j->{reason} eq "tls_required"'

    # OpenSMTPD 6.8.0p2 cannot sign with its privilege-separated key under
    # OpenSSL 3 (OpenSMTPD issues 1171, 1239: "missing private key"), so on
    # Debian 12 every STARTTLS handshake ends in an internal_error alert; a
    # fixed build must give OK.
    case_ "OpenSMTPD: STARTTLS"
    run smtp "${OS[@]}" -p "$P_SMTPD" --starttls
    if [ "$RC" -eq 0 ]; then
        ok "STARTTLS works with this OpenSMTPD build"
    else
        expect_rc 2
        expect_line1 "CRITICAL - \[tls\] .*TLS handshake failed: tlsv1 alert internal error"
    fi
fi

# --------------------------------------------------------------------------
# Haraka 3 (npm)
# --------------------------------------------------------------------------
haraka_start() {
    local h=$W/haraka
    # A service directory with Haraka's default configuration files.
    node "$MTA_DIR/haraka/node_modules/Haraka/bin/haraka" -i "$h" >/dev/null 2>&1 ||
        return 1
    mkdir -p "$h/config" "$h/plugins"
    printf 'listen=%s:%s,%s:%s\nnodes=0\n' "$HOST" "$P_HARAKA" "$HOST" "$P_HARAKA_RBL" \
        >"$h/config/smtp.ini"
    echo "$LAB_MX_NAME" >"$h/config/me"
    echo "$LAB_DOMAIN" >"$h/config/host_list"
    printf 'tls\nlab_haraka\nauth/flat_file\n%srcpt_to.in_host_list\n' \
        "${DNSBL:+dns-list$'\n'}" >"$h/config/plugins"
    cp "$W/valid.chain.pem" "$h/config/tls_cert.pem"
    cp "$W/valid.key" "$h/config/tls_key.pem"
    printf 'key=tls_key.pem\ncert=tls_cert.pem\n' >"$h/config/tls.ini"
    # Haraka generates 2048-bit DH parameters at its first start (half a
    # minute); DSA-style ones take a fraction of a second.
    openssl dhparam -dsaparam -out "$h/config/dhparams.pem" 2048 2>/dev/null
    printf '[core]\nmethods=PLAIN,LOGIN\n[users]\n%s=%s\n' "$LAB_USER" "$LAB_PASSWORD" \
        >"$h/config/auth_flat_file.ini"
    printf '[main]\nperiodic_checks=0\nzones[]=bl.mta.test\nsearch=all\n[bl.mta.test]\nloopback_is_rejected=true\n' \
        >"$h/config/dns-list.ini"
    cat >"$h/plugins/lab_haraka.js" <<EOF
// Lab plugin. The greylist plugin needs Redis: this gives its reply the way
// it does, DSN.sec_unauthorized(text, '451') with its default text. And the
// lab's client runs on this host, which Haraka calls private and exempts
// from DNS lists: on the DNSBL port it counts as a remote client.
const DSN = require('haraka-dsn')
exports.hook_rcpt = function (next, connection, params) {
  if (params[0].user === 'grey') {
    return next(DENYSOFT, DSN.sec_unauthorized('Greylisted. Please come back later.', '451'))
  }
  next()
}
exports.hook_connect_init = function (next, connection) {
  if (connection.local.port === $P_HARAKA_RBL) connection.set('remote.is_private', false)
  next()
}
EOF
    (cd "$MTA_DIR/haraka" && with_resolver node node_modules/Haraka/bin/haraka -c "$h") \
        >"$h/log" 2>&1 &
    T_PIDS+=($!)
    wait_banner 20 "$P_HARAKA"
}

if ! wanted haraka; then
    :
elif [ ! -f "$MTA_DIR/haraka/node_modules/Haraka/bin/haraka" ]; then
    note "Haraka not installed in $MTA_DIR/haraka (MH_MTA_HARAKA=1 tests/lab/mtas.sh fetch): skipped"
elif ! command -v node >/dev/null; then
    note "node not installed: Haraka skipped"
elif ! haraka_start; then
    case_ "Haraka starts"
    fail "no banner on port $P_HARAKA: $(grep -a -m 1 -A 3 'ERROR\|CRIT' "$W/haraka/log")"
else
    HA=(-H "$LAB_MX_NAME" --resolver "$LAB_RESOLVER" -4 --ca-file "$LAB_CA_FILE")
    case_ "Haraka: STARTTLS, AUTH, envelope"
    run smtp "${HA[@]}" -p "$P_HARAKA" --starttls --auth-user "$LAB_USER" --auth-password-file "$LAB_PASSWORD_FILE" \
        --mail-from "$LAB_USER" --rcpt-to "$LAB_USER2"
    expect_rc 0
    expect_line1 "^MAILHEALTH OK - .*STARTTLS TLSv1\.[23], AUTH ok, envelope ok"

    case_ "Haraka: wrong password"
    run smtp "${HA[@]}" -p "$P_HARAKA" --starttls --auth-user "$LAB_USER" --auth-password-file "$wrongpw"
    expect_rc 2
    expect_line1 "CRITICAL - \[auth\] .*535 5\.7\.8"

    case_ "Haraka: greylisting"
    run smtp "${HA[@]}" -p "$P_HARAKA" --output json --mail-from a@example.org --rcpt-to "grey@$LAB_DOMAIN"
    expect_rc 1
    json_ok '$j->{category} eq "response" && $j->{reason} eq "greylisted"'

    case_ "Haraka: no plugin allowed relaying (\"I cannot deliver mail for\")"
    run smtp "${HA[@]}" -p "$P_HARAKA" --output json --mail-from a@example.org --rcpt-to "$LAB_FOREIGN_RCPT"
    expect_rc 2
    json_ok '$j->{category} eq "relay" && $j->{reason} eq "relay_denied"'

    if [ -n "$DNSBL" ]; then
        case_ "Haraka: dns-list reject at the greeting"
        run smtp "${HA[@]}" -p "$P_HARAKA_RBL" --output json
        expect_rc 2
        json_ok '$j->{category} eq "blacklist" && $j->{reason} eq "provider_block" && $j->{summary} =~ /is listed on bl\.mta\.test/'
    fi
fi

finish
