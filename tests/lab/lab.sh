#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# mailhealth integration lab: real Postfix, Dovecot, NSD, rbldnsd and Unbound
# instances plus a silent DNS port, all on loopback, all under one directory.
#
# Usage: tests/lab/lab.sh start|stop|status [LABDIR]
#
#   LABDIR            default ${MH_LAB_DIR:-/tmp/mailhealth-lab}
#   MH_LAB_PORT_BASE  default 24000; every port is BASE + a fixed offset
#                     (see the port table below and tests/lab/README.md)
#   MH_LAB_TIMEOUT    seconds to wait for each service to answer (default 15)
#
# `start` stops a lab already running in LABDIR, wipes LABDIR, generates
# certificates and configuration, starts every daemon, waits until each one
# answers on its port and finally writes LABDIR/lab.env (sourceable
# `export NAME=value` lines). `stop` ends every process the lab started,
# using the pid files under LABDIR. When the daemons' unprivileged users
# cannot reach LABDIR (a clone in root's home directory), the files live in
# a runtime directory of the lab's own below /run/mailhealth-lab and LABDIR
# is a link to it (see "A runtime directory of the lab's own" below).
# Nothing else outside LABDIR is written: the
# system's /etc/postfix, /etc/dovecot, /etc/nsd and /etc/unbound are neither
# read for our instances nor changed, and no system service is touched.
#
# Must run as root (Postfix and Dovecot need root to start and drop
# privileges to their own users).
set -euo pipefail
umask 022

LAB_SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly LAB_SCRIPT_DIR
# The DANE zones, the validating Unbound and the DANE smtpd.
# shellcheck source=tests/lab/dane.sh
. "$LAB_SCRIPT_DIR/dane.sh"

# --------------------------------------------------------------------------
# Fixed names, users and ports
# --------------------------------------------------------------------------
readonly MX_NAME=mx.lab.test
readonly DOMAIN=lab.test
readonly USER1=probe@lab.test
readonly USER2=other@lab.test
# A fixed, lab-only password: the lab is loopback-only and thrown away.
readonly PASSWORD='mailhealth-lab-Passw0rd'
readonly HOST4=127.0.0.1

BASE=${MH_LAB_PORT_BASE:-24000}
TIMEOUT=${MH_LAB_TIMEOUT:-15}

# Port offsets are mnemonic (the usual port number where one fits), so a lab
# occupies BASE+0 .. BASE+999; two labs need bases at least 1000 apart.
# Tests that start servers of their own take fixed offsets too (test_dnsbl
# +70, test_exporter +80..89, test_hostile_text +310..311, test_runner
# +400..409; +999 is never listened on, for "connection refused"): never a
# port number from binding port 0 and closing, which the kernel may hand to
# the fault server of a test running beside it (fault servers bind port 0
# and serve one session).
set_ports() {
    P_SMTP=$((BASE + 25))         # Postfix smtpd, MX style (STARTTLS may)
    P_SMTPS=$((BASE + 465))       # Postfix smtpd, implicit TLS + SASL
    P_SUBMISSION=$((BASE + 587))  # Postfix smtpd, STARTTLS required + SASL
    P_IMAP=$((BASE + 143))        # Dovecot IMAP (STARTTLS)
    P_IMAPS=$((BASE + 993))       # Dovecot IMAPS
    P_RESOLVER=$((BASE + 53))     # Unbound, the resolver the tests use
    P_NSD=$((BASE + 54))          # NSD, authoritative for lab.test
    P_RBL=$((BASE + 55))          # rbldnsd, the DNSBL zones
    P_SILENT=$((BASE + 56))       # never answers (UDP and TCP)
    P_SMTP_NOTLS=$((BASE + 26))   # Postfix smtpd without STARTTLS
    P_SMTP_GREY=$((BASE + 27))    # Postfix smtpd asking postgrey at RCPT
    P_SMTP_ANVIL=$((BASE + 28))   # Postfix smtpd, 1 connection/hour/client
    P_POSTGREY=$((BASE + 60))     # postgrey policy server (greylisting)
    # MX-style smtpd instances serving one special certificate each
    # (STARTTLS, same main.cf otherwise): BASE+100 ..
    TLS_VARIANTS=(leafonly expired soon wrongname selfsigned interm-soon
        interm-expired extra-expired)
    local i=0 v
    declare -gA P_TLS=()
    for v in "${TLS_VARIANTS[@]}"; do
        P_TLS[$v]=$((BASE + 100 + i))
        i=$((i + 1))
    done
}

# The DNSBL zones served by rbldnsd (each gets an Unbound stub-zone).
readonly RBL_ZONES=(bl.lab.test bl6.lab.test dbl.lab.test err.lab.test
    uribl.lab.test all.lab.test out.lab.test multi.bl.lab.test dead.lab.test
    v4only.lab.test both.lab.test rfc6.lab.test two6.lab.test allow.lab.test
    policy.lab.test bits.lab.test)

# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
log() { printf 'lab: %s\n' "$*" >&2; }
die() {
    printf 'lab: ERROR: %s\n' "$*" >&2
    exit 1
}

# alive PID: true if the process exists and is not a zombie (a zombie that
# nobody reaped yet must not count as "still running").
alive() {
    local st
    [ -r "/proc/$1/stat" ] || return 1
    st=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

# descendants PID: all child processes, recursively (Postfix, Dovecot and NSD
# fork workers; we wait for them too so `stop` leaves nothing behind).
descendants() {
    local c
    for c in $(pgrep -P "$1" 2>/dev/null || true); do
        echo "$c"
        descendants "$c"
    done
}

# stop_pidfile NAME PIDFILE PATTERN: stop the process named in PIDFILE if its
# command line contains PATTERN (guards against a recycled pid), then wait
# for it and its descendants; SIGKILL what is left after 5 s.
stop_pidfile() {
    local name=$1 pidfile=$2 pattern=$3 pid cmd pids p i
    [ -s "$pidfile" ] || return 0
    pid=$(tr -dc '0-9' <"$pidfile")
    if [ -z "$pid" ] || ! alive "$pid"; then
        rm -f "$pidfile"
        return 0
    fi
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
    if [[ $cmd != *"$pattern"* ]]; then
        log "$name: pid $pid is '$cmd', not ours; not killing it"
        rm -f "$pidfile"
        return 0
    fi
    pids="$pid $(descendants "$pid" | tr '\n' ' ')"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        local left=
        for p in $pids; do alive "$p" && left="$left $p"; done
        [ -z "$left" ] && break
        sleep 0.1
    done
    for p in $pids; do
        if alive "$p"; then
            log "$name: pid $p did not stop, killing it"
            kill -KILL "$p" 2>/dev/null || true
        fi
    done
    rm -f "$pidfile"
}

# Probes used to decide that a service "really answers". The inner bash
# scripts take their arguments as $1.. (single quotes on purpose).
# shellcheck disable=SC2016
tcp_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }
# shellcheck disable=SC2016
port_open() { # HOST PORT: a TCP connection is accepted
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}
banner_is() { # HOST PORT PREFIX: first line from the server starts with PREFIX
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1
        IFS= read -r -t 2 line <&3 || exit 1
        [[ $line == "$3"* ]]' _ "$1" "$2" "$3" 2>/dev/null
}
tls_banner_is() { # HOST PORT PREFIX BYE: same as banner_is, over implicit TLS
    local line
    line=$(printf '%s\r\n' "$4" | timeout 5 openssl s_client -quiet -connect "$1:$2" \
        2>/dev/null | head -n 1) || true
    [[ $line == "$3"* ]]
}
dns_answers() { # PORT NAME TYPE: the server gives a non-empty answer
    local out
    out=$(dig +time=1 +tries=1 +short -p "$1" @"$HOST4" "$2" "$3" 2>/dev/null) || return 1
    [ -n "$out" ] && [[ $out != *';;'* ]]
}

# wait_for NAME LOGFILE COMMAND...: poll COMMAND every 0.1 s until it
# succeeds or TIMEOUT seconds pass; on failure show the log tail and give up
# (the caller's trap stops whatever was already started).
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
wait_for() {
    local name=$1 logfile=$2 deadline
    deadline=$(($(now_ms) + TIMEOUT * 1000))
    shift 2
    until "$@"; do
        if (($(now_ms) >= deadline)); then
            log "$name did not answer within ${TIMEOUT}s ($*)"
            if [ -f "$logfile" ]; then
                log "last lines of $logfile:"
                tail -n 30 "$logfile" >&2
            fi
            return 1
        fi
        sleep 0.1
    done
}

# Fail early and clearly if something else already holds one of our ports.
check_ports_free() {
    local p busy='' socks
    # One ss call; lines become "tcp PORT" / "udp PORT".
    socks=$(ss -Hlntu 2>/dev/null | awk '{n = split($5, a, ":"); print $1, a[n]}')
    for p in "$P_SMTP" "$P_SMTP_NOTLS" "$P_SMTPS" "$P_SUBMISSION" "$P_IMAP" \
        "$P_IMAPS" "$P_RESOLVER" "$P_NSD" "$P_SILENT" "${P_TLS[@]}" \
        "$P_SMTP_GREY" "$P_SMTP_ANVIL" "$P_POSTGREY" \
        "$P_DANE_RESOLVER" "$P_DANE_SMTP"; do
        grep -qx "tcp $p" <<<"$socks" && busy="$busy $p/tcp"
    done
    for p in "$P_RESOLVER" "$P_NSD" "$P_RBL" "$P_SILENT" "$P_DANE_RESOLVER"; do
        grep -qx "udp $p" <<<"$socks" && busy="$busy $p/udp"
    done
    [ -z "$busy" ] || die "ports already in use:$busy (another lab? set MH_LAB_PORT_BASE)"
}

# LABDIR must be an absolute path without whitespace (it is written into
# Postfix/Dovecot/NSD/Unbound configs), short enough for the Unix socket
# paths Dovecot creates below it (108-byte limit), and every parent must be
# searchable by the unprivileged daemon users (postfix, dovecot, nobody,
# rbldns).
check_labdir() {
    [[ $LABDIR == /* ]] || die "LABDIR must be absolute: $LABDIR"
    [[ $LABDIR =~ ^[A-Za-z0-9._/+-]+$ ]] || die "LABDIR may only contain [A-Za-z0-9._/+-]: $LABDIR"
    [ "${#LABDIR}" -le 60 ] || die "LABDIR is longer than 60 characters (Unix socket paths): $LABDIR"
    refuse_system_dir "$LABDIR"
    local why
    why=$(unsearchable_parent "$LABDIR")
    [ -z "$why" ] || die "$why is not searchable by unprivileged users; choose another LABDIR"
}

refuse_system_dir() {
    case $1 in / | /etc* | /usr* | /var | /bin* | /sbin* | /lib* | /boot* | /proc* | /sys* | /dev*)
        die "refusing to use $1 as a lab directory" ;;
    esac
}

# unsearchable_parent DIR: prints the first parent of DIR (from the top)
# that the daemons' unprivileged users cannot search; nothing when all can.
unsearchable_parent() {
    local d=/ part
    local -a parts
    IFS=/ read -ra parts <<<"$(dirname "$1")"
    for part in "${parts[@]}"; do
        [ -n "$part" ] || continue
        d=${d%/}/$part
        if [ -d "$d" ] && ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$d" 2>/dev/null; then
            echo "$d"
            return
        fi
    done
}

# --------------------------------------------------------------------------
# A runtime directory of the lab's own
# --------------------------------------------------------------------------
# REQDIR is the directory the caller named. When the daemons' users cannot
# reach it (a clone in root's home directory, mode 700 on Debian) or its
# path is too long or unusual for their configuration files, the lab's
# files (queues, sockets, certificates, mail store, logs) go to a directory
# of its own below RUNTIME_BASE (root's, mode 0711), named after REQDIR, and
# REQDIR becomes a symbolic link to it: REQDIR/lab.env and every other path
# below REQDIR keep working for root. `stop` removes that directory and
# leaves the logs in REQDIR/log. LABDIR is where the files really are.
RUNTIME_BASE=/run/mailhealth-lab
[ -d /run ] || RUNTIME_BASE=/tmp/mailhealth-lab-runtime
readonly RUNTIME_BASE

# needs_runtime_dir DIR: true when the daemons could not use DIR itself.
needs_runtime_dir() {
    [ "${#1}" -gt 60 ] || ! [[ $1 =~ ^/[A-Za-z0-9._/+-]+$ ]] ||
        [ -n "$(unsearchable_parent "$1")" ]
}

# runtime_dir_for DIR: the runtime directory of the requested DIR: its last
# component and a hash of the whole path, so two build directories never
# share one.
runtime_dir_for() {
    local base hash
    base=$(basename "$1" | tr -c 'A-Za-z0-9._\n-' _)
    hash=$(printf '%s' "$1" | sha256sum | cut -c1-10)
    printf '%s/%s-%s\n' "$RUNTIME_BASE" "${base:0:20}" "$hash"
}

# make_runtime_dir: creates RUNTIME_BASE (root's, 0711: the daemons may
# traverse it, nobody may list it) and REQDIR's runtime directory, links
# REQDIR to it and makes it LABDIR.
make_runtime_dir() {
    local rt
    rt=$(runtime_dir_for "$REQDIR")
    [ -e "$RUNTIME_BASE" ] || mkdir -m 0711 "$RUNTIME_BASE"
    [ -d "$RUNTIME_BASE" ] && [ ! -L "$RUNTIME_BASE" ] && [ "$(stat -c %u "$RUNTIME_BASE")" = 0 ] ||
        die "$RUNTIME_BASE is not a directory owned by root; not using it"
    chmod 0711 "$RUNTIME_BASE"
    rm -rf "$rt"
    mkdir -m 0755 "$rt"
    ln -s "$rt" "$REQDIR"
    LABDIR=$rt
    log "the daemons' users cannot use $REQDIR; the lab's files are in $rt" \
        "($REQDIR links there; stop removes it and keeps the logs)"
}

# release_runtime_dir: after a stop, replaces REQDIR's link by a plain
# directory holding the logs and removes the runtime directory.
release_runtime_dir() {
    [ -L "$REQDIR" ] && [ "$LABDIR" != "$REQDIR" ] || return 0
    [[ $LABDIR == "$RUNTIME_BASE"/* ]] && [ -e "$LABDIR/.mailhealth-lab" ] || return 0
    rm -f "$REQDIR"
    mkdir -p "$REQDIR"
    touch "$REQDIR/.mailhealth-lab"
    [ -d "$LABDIR/log" ] && cp -a "$LABDIR/log" "$REQDIR/"
    rm -rf "$LABDIR"
    LABDIR=$REQDIR
}

ipv6_loopback() { grep -qi '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null; }

utc() { date -u -d "$1" +%y%m%d%H%M%SZ; } # ASN.1 UTCTime for openssl ca

# --------------------------------------------------------------------------
# Certificates (openssl, EC P-256: fast)
# --------------------------------------------------------------------------
gen_certs() {
    local C=$LABDIR/certs
    mkdir -p "$C/ca-db/new"
    : >"$C/ca-db/index.txt"
    echo 1000 >"$C/ca-db/serial"
    # Used by the [v3_leaf] section; OpenSSL expands $ENV:: at load time, so
    # it must always be set.
    export LAB_SAN=DNS:$MX_NAME
    cat >"$C/openssl.cnf" <<EOF
# mailhealth lab CA configuration (generated by tests/lab/lab.sh)
[ req ]
distinguished_name = req_dn
prompt             = no
[ req_dn ]
CN = unused
[ ca ]
default_ca = lab_ca
[ lab_ca ]
dir             = $C/ca-db
database        = \$dir/index.txt
new_certs_dir   = \$dir/new
serial          = \$dir/serial
default_md      = sha256
policy          = policy_any
unique_subject  = no
email_in_dn     = no
copy_extensions = none
[ policy_any ]
commonName = supplied
[ v3_root ]
basicConstraints       = critical, CA:true
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
[ v3_intermediate ]
basicConstraints       = critical, CA:true, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
[ v3_leaf ]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = serverAuth, clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid, issuer
subjectAltName         = \$ENV::LAB_SAN
[ v3_selfsigned ]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = serverAuth
subjectKeyIdentifier   = hash
subjectAltName         = \$ENV::LAB_SAN
EOF
    # newcert FILE CN EXT ISSUER START END [SAN]
    #   ISSUER "self" makes a self-signed certificate. START/END are date(1)
    #   expressions; `openssl ca` is used because OpenSSL 3.0's `x509 -req`
    #   cannot set notBefore/notAfter in the past.
    newcert() {
        local f=$1 cn=$2 ext=$3 issuer=$4 start=$5 end=$6 san=${7:-}
        local -a sign
        openssl req -config "$C/openssl.cnf" -new -newkey ec \
            -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/$f.key" \
            -subj "/CN=$cn" -out "$C/$f.csr" 2>/dev/null
        chmod 600 "$C/$f.key"
        if [ "$issuer" = self ]; then
            sign=(-selfsign -keyfile "$C/$f.key")
        else
            sign=(-cert "$C/$issuer.pem" -keyfile "$C/$issuer.key")
        fi
        LAB_SAN=${san:-DNS:$MX_NAME} openssl ca -batch -config "$C/openssl.cnf" \
            "${sign[@]}" -in "$C/$f.csr" -out "$C/$f.pem" -notext \
            -extensions "$ext" -startdate "$(utc "$start")" -enddate "$(utc "$end")" \
            -subj "/CN=$cn" -rand_serial >>"$LABDIR/log/openssl.log" 2>&1 ||
            { tail -n 20 "$LABDIR/log/openssl.log" >&2; die "openssl ca failed for $f"; }
        rm -f "$C/$f.csr"
    }
    local san_mx="DNS:$MX_NAME,DNS:localhost,IP:127.0.0.1"
    # CAs. All of them start in the past so that backdated leaves sit inside
    # their issuer's validity.
    newcert ca "mailhealth Lab Root CA" v3_root self '-2 years' '+10 years'
    newcert intermediate "mailhealth Lab Intermediate CA" v3_intermediate ca '-2 years' '+5 years'
    newcert intermediate-soon "mailhealth Lab Intermediate CA (expires soon)" \
        v3_intermediate ca '-1 year' '+10 days'
    newcert intermediate-expired "mailhealth Lab Intermediate CA (expired)" \
        v3_intermediate ca '-2 years' '-1 day'
    # An unrelated, expired, self-signed certificate for the extra-expired set.
    newcert unrelated-expired "mailhealth Lab Unrelated Expired Certificate" \
        v3_selfsigned self '-1 year' '-30 days' "DNS:unrelated.lab.test"

    # Leaves: NAME CN ISSUER START END SAN
    local name cn issuer start end san
    while IFS='|' read -r name cn issuer start end san; do
        [ -n "$name" ] || continue
        if [ "$issuer" = self ]; then
            newcert "$name" "$cn" v3_selfsigned self "$start" "$end" "$san"
        else
            newcert "$name" "$cn" v3_leaf "$issuer" "$start" "$end" "$san"
        fi
        mv "$C/$name.pem" "$C/$name.crt"
        cp "$C/$name.crt" "$C/$name.leafonly.pem"
        case $issuer in
        self) cp "$C/$name.crt" "$C/$name.chain.pem" ;;
        *) cat "$C/$name.crt" "$C/$issuer.pem" >"$C/$name.chain.pem" ;;
        esac
    done <<EOF
valid|$MX_NAME|intermediate|-1 day|+90 days|$san_mx
expired|$MX_NAME|intermediate|-100 days|-10 days|$san_mx
soon|$MX_NAME|intermediate|-80 days|+10 days|$san_mx
wrongname|wrong.lab.test|intermediate|-1 day|+90 days|DNS:wrong.lab.test
selfsigned|$MX_NAME|self|-1 day|+90 days|$san_mx
interm-soon|$MX_NAME|intermediate-soon|-1 day|+90 days|$san_mx
interm-expired|$MX_NAME|intermediate-expired|-30 days|+90 days|$san_mx
extra-expired|$MX_NAME|intermediate|-1 day|+90 days|$san_mx
EOF
    # extra-expired: a correct chain plus an unrelated expired certificate
    # that is not on the verified path.
    cat "$C/unrelated-expired.pem" >>"$C/extra-expired.chain.pem"
    # The "missing intermediate" case: the valid leaf served alone.
    local f
    for f in key crt chain.pem leafonly.pem; do
        case $f in
        chain.pem) cp "$C/valid.crt" "$C/leafonly.$f" ;;
        *) cp -p "$C/valid.$f" "$C/leafonly.$f" ;;
        esac
    done
    chmod 600 "$C"/*.key
}

# --------------------------------------------------------------------------
# Postfix
# --------------------------------------------------------------------------
write_postfix() {
    # Config, queue and data directories are siblings: Postfix's start-up
    # check warns about anything not root-owned below the config directory.
    local PF=$LABDIR/postfix/etc Q=$LABDIR/postfix/spool DATA=$LABDIR/postfix/data
    local C=$LABDIR/certs D=$LABDIR/dovecot/run ifaces protos
    mkdir -p "$PF" "$Q" "$DATA"
    chown postfix:postfix "$DATA"
    chmod 700 "$DATA"
    if ipv6_loopback; then
        ifaces="127.0.0.1, [::1]" protos=all
    else
        ifaces="127.0.0.1" protos=ipv4
    fi
    cat >"$PF/main.cf" <<EOF
# mailhealth lab Postfix instance (generated by tests/lab/lab.sh).
# Started with "postfix -c $PF start"; as root no alternate_config_directories
# entry in the system main.cf is needed.
compatibility_level = 3.6
queue_directory = $Q
data_directory = $DATA
mail_owner = postfix
setgid_group = postdrop

myhostname = $MX_NAME
mydomain = $DOMAIN
myorigin = \$mydomain
# No local delivery: everything for lab.test goes to Dovecot by LMTP.
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = $ifaces
inet_protocols = $protos
# Deliberately NOT loopback: a client on 127.0.0.1 is an ordinary outside
# client, so the relay test means something.
mynetworks = 192.0.2.1/32
relay_domains =
virtual_mailbox_domains = $DOMAIN
virtual_mailbox_maps = texthash:$PF/vmailbox
virtual_alias_maps = texthash:$PF/valias
virtual_transport = lmtp:unix:$D/lmtp-postfix
# Never try to reach the outside world (the lab has no network).
default_transport = error:5.4.4 mailhealth lab does not deliver outside lab.test
relay_transport = \$default_transport

smtpd_banner = \$myhostname ESMTP Postfix (mailhealth lab)
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_peername_lookup = no
smtpd_error_sleep_time = 0
disable_vrfy_command = yes

smtpd_tls_security_level = may
smtpd_tls_chain_files = $C/valid.key, $C/valid.chain.pem
smtpd_tls_auth_only = yes
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $D/auth-postfix
smtpd_sasl_auth_enable = yes
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous

maillog_file = $LABDIR/log/postfix.log
maillog_file_prefixes = $LABDIR/log

# Tests want quick retries and no artificial delays.
in_flow_delay = 0
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 60s
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h
biff = no
append_dot_mydomain = no
readme_directory = no
EOF
    # texthash: no postmap step. The vmailbox values are unused (LMTP
    # delivers), only the keys matter.
    printf '%s\tlab.test/probe/\n%s\tlab.test/other/\n' "$USER1" "$USER2" >"$PF/vmailbox"
    printf 'postmaster@%s\t%s\n' "$DOMAIN" "$USER1" >"$PF/valias"

    # master.cf: nothing chrooted (a chroot would need copies of /etc files
    # inside the queue directory and would hide the LABDIR sockets).
    {
        cat <<EOF
# mailhealth lab Postfix services (generated by tests/lab/lab.sh)
# service type  private unpriv  chroot  wakeup  maxproc command + args
$P_SMTP   inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix/mx
$P_SUBMISSION   inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
$P_SMTPS   inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
$P_SMTP_NOTLS   inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix/notls
  -o smtpd_tls_security_level=none
  -o smtpd_sasl_auth_enable=no
$P_SMTP_GREY   inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix/grey
  -o smtpd_recipient_restrictions=check_policy_service,inet:$HOST4:$P_POSTGREY
$P_SMTP_ANVIL   inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix/anvil
  -o smtpd_client_connection_rate_limit=1
  -o smtpd_client_event_limit_exceptions=
EOF
        local v
        for v in "${TLS_VARIANTS[@]}"; do
            printf '%s   inet  n       -       n       -       -       smtpd\n' "${P_TLS[$v]}"
            printf '  -o syslog_name=postfix/tls-%s\n' "$v"
            printf '  -o smtpd_tls_chain_files=%s/%s.key,%s/%s.chain.pem\n' "$C" "$v" "$C" "$v"
        done
        cat <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
  -o anvil_rate_time_unit=3600s
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    } >"$PF/master.cf"
    # Postfix will not read main.cf or a texthash table modified within the
    # last second or so (it re-reads it every 300 ms until the file has
    # settled, about 2 s here); back-date our fresh files so start-up does
    # not wait.
    touch -d '-1 minute' "$PF/main.cf" "$PF/master.cf" "$PF/vmailbox" "$PF/valias"
}

start_postfix() {
    local PF=$LABDIR/postfix/etc
    # "postfix start" runs the integrity checks first (post-install
    # create-missing makes the queue directories with the ownership Postfix
    # expects), then "master -w", which returns once the master is ready.
    postfix -c "$PF" start </dev/null >>"$LABDIR/log/postfix.start.log" 2>&1 ||
        { tail -n 30 "$LABDIR/log/postfix.start.log" "$LABDIR/log/postfix.log" >&2; die "postfix start failed"; }
    local p
    # P_SMTP_ANVIL is not probed: its one connection an hour is the test's.
    for p in "$P_SMTP" "$P_SUBMISSION" "$P_SMTP_NOTLS" "$P_SMTP_GREY" "${P_TLS[@]}"; do
        wait_for "postfix port $p" "$LABDIR/log/postfix.log" banner_is "$HOST4" "$p" "220 "
    done
    wait_for "postfix smtps" "$LABDIR/log/postfix.log" tls_banner_is "$HOST4" "$P_SMTPS" "220 " QUIT
}

# --------------------------------------------------------------------------
# postgrey: the greylisting policy server the smtpd on P_SMTP_GREY asks at
# RCPT (a first-seen triple is deferred for an hour, so every test run sees
# the real "450 4.2.0 ... Greylisted, see ..." reply).
# --------------------------------------------------------------------------
start_postgrey() {
    local G=$LABDIR/postgrey
    mkdir -p "$G"
    chown postgrey:postgrey "$G"
    : >"$G/empty"
    postgrey --inet="$HOST4:$P_POSTGREY" --dbdir="$G" --pidfile="$G/postgrey.pid" \
        --daemonize --delay=3600 --auto-whitelist-clients=0 \
        --whitelist-clients="$G/empty" --whitelist-recipients="$G/empty" \
        </dev/null >>"$LABDIR/log/postgrey.log" 2>&1 ||
        { tail -n 30 "$LABDIR/log/postgrey.log" >&2; die "postgrey start failed"; }
    wait_for "postgrey" "$LABDIR/log/postgrey.log" port_open "$HOST4" "$P_POSTGREY"
}

# --------------------------------------------------------------------------
# Dovecot
# --------------------------------------------------------------------------
write_dovecot() {
    local DV=$LABDIR/dovecot C=$LABDIR/certs M=$LABDIR/mail listen=127.0.0.1
    ipv6_loopback && listen="127.0.0.1, ::1"
    mkdir -p "$DV/state" "$M/$DOMAIN"
    # Mail is stored as nobody:nogroup: the lab must not create system users,
    # and Dovecot refuses uids below first_valid_uid (500) such as dovecot's.
    chown -R nobody:nogroup "$M"
    # passwd-file: user:password:uid:gid:gecos:home:shell:extra. {PLAIN}
    # storage makes CRAM-MD5 possible. uid/gid/home come from default_fields.
    printf '%s:{PLAIN}%s::::::\n' "$USER1" "$PASSWORD" "$USER2" "$PASSWORD" >"$DV/users"
    chown root:dovecot "$DV/users"
    chmod 640 "$DV/users"
    cat >"$DV/dovecot.conf" <<EOF
# mailhealth lab Dovecot instance (generated by tests/lab/lab.sh).
# Started with "dovecot -c $DV/dovecot.conf"; nothing from /etc/dovecot.
instance_name = mailhealth-lab
base_dir = $DV/run
state_dir = $DV/state
protocols = imap lmtp
listen = $listen
hostname = $MX_NAME
login_greeting = mailhealth lab IMAP ready.
log_path = $LABDIR/log/dovecot.log
info_log_path = $LABDIR/log/dovecot.log
auth_verbose = yes
# No artificial delay after a failed login: tests of bad passwords stay fast.
auth_failure_delay = 0

ssl = yes
ssl_cert = <$C/valid.chain.pem
ssl_key = <$C/valid.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login cram-md5

mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DV/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $DV/users
  default_fields = uid=nobody gid=nogroup home=$M/%d/%n
}

service imap-login {
  inet_listener imap {
    port = $P_IMAP
  }
  inet_listener imaps {
    port = $P_IMAPS
    ssl = yes
  }
}
service lmtp {
  unix_listener lmtp-postfix {
    user = postfix
    group = postfix
    mode = 0600
  }
}
# No auth penalty: after failed logins Dovecot would delay every later
# authentication from 127.0.0.1 by 2..15 s (tests of wrong passwords would
# slow down and break the timing of later tests). This is Dovecot's
# documented way to turn it off.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service auth {
  unix_listener auth-postfix {
    user = postfix
    group = postfix
    mode = 0600
  }
}
protocol lmtp {
  postmaster_address = postmaster@$DOMAIN
}
EOF
}

start_dovecot() {
    local DV=$LABDIR/dovecot
    dovecot -c "$DV/dovecot.conf" </dev/null >>"$LABDIR/log/dovecot.start.log" 2>&1 ||
        { tail -n 30 "$LABDIR/log/dovecot.start.log" "$LABDIR/log/dovecot.log" >&2 2>/dev/null; die "dovecot failed to start"; }
    wait_for "dovecot imap" "$LABDIR/log/dovecot.log" banner_is "$HOST4" "$P_IMAP" "* OK"
    wait_for "dovecot imaps" "$LABDIR/log/dovecot.log" tls_banner_is "$HOST4" "$P_IMAPS" "* OK" "a LOGOUT"
    wait_for "dovecot lmtp socket" "$LABDIR/log/dovecot.log" test -S "$DV/run/lmtp-postfix"
    wait_for "dovecot auth socket" "$LABDIR/log/dovecot.log" test -S "$DV/run/auth-postfix"
}

# --------------------------------------------------------------------------
# NSD: authoritative for lab.test and 2.0.192.in-addr.arpa
# --------------------------------------------------------------------------
write_nsd() {
    local N=$LABDIR/nsd
    mkdir -p "$N"
    cat >"$N/lab.test.zone" <<'EOF'
; lab.test (generated by tests/lab/lab.sh). Small TTLs: tests may restart.
$ORIGIN lab.test.
$TTL 60
@           SOA   ns.lab.test. hostmaster.lab.test. 1 60 60 600 5
@           NS    ns.lab.test.
@           MX    10 mx.lab.test.
ns          A     127.0.0.1
mx          A     127.0.0.1
mx          AAAA  ::1
; 127.0.0.2 is on the loopback interface but nothing listens on it.
mx2         A     127.0.0.2
multi       MX    10 mx.lab.test.
multi       MX    20 mx2.lab.test.
; RFC 7505 null MX
nullmx      MX    0 .
nomx        A     127.0.0.1
txt         TXT   "v=spf1 -all"
v6only      AAAA  ::1
v6mx        MX    10 v6only.lab.test.
; 192.0.2.10 is listed on bl.lab.test (and others)
listed      A     192.0.2.10
; MX whose host name does not exist
badmx       MX    10 nonexistent.lab.test.
; MX host that is 127.0.0.1 but not the name on the certificate
other       A     127.0.0.1
othermx     MX    10 other.lab.test.
alias       CNAME mx.lab.test.
EOF
    cat >"$N/2.0.192.in-addr.arpa.zone" <<'EOF'
$ORIGIN 2.0.192.in-addr.arpa.
$TTL 60
@    SOA   ns.lab.test. hostmaster.lab.test. 1 60 60 600 5
@    NS    ns.lab.test.
10   PTR   listed.lab.test.
EOF
    cat >"$N/nsd.conf" <<EOF
# mailhealth lab NSD instance (generated by tests/lab/lab.sh)
server:
    ip-address: $HOST4@$P_NSD
    do-ip6: no
    reuseport: no
    server-count: 1
    username: ""
    chroot: ""
    database: ""
    zonesdir: "$N"
    zonelistfile: "$N/zone.list"
    xfrdfile: "$N/xfrd.state"
    xfrdir: "$N"
    pidfile: "$LABDIR/run/nsd.pid"
    logfile: "$LABDIR/log/nsd.log"
    verbosity: 1
    hide-version: yes
    refuse-any: no
remote-control:
    control-enable: no
zone:
    name: "lab.test"
    zonefile: "lab.test.zone"
zone:
    name: "2.0.192.in-addr.arpa"
    zonefile: "2.0.192.in-addr.arpa.zone"
EOF
}

start_nsd() {
    local N=$LABDIR/nsd
    nsd-checkconf "$N/nsd.conf" >>"$LABDIR/log/nsd.start.log" 2>&1 ||
        { tail -n 20 "$LABDIR/log/nsd.start.log" >&2; die "nsd-checkconf failed"; }
    nsd -c "$N/nsd.conf" </dev/null >>"$LABDIR/log/nsd.start.log" 2>&1 ||
        { tail -n 20 "$LABDIR/log/nsd.start.log" "$LABDIR/log/nsd.log" >&2 2>/dev/null; die "nsd failed to start"; }
    wait_for nsd "$LABDIR/log/nsd.log" dns_answers "$P_NSD" mx.lab.test A
}

# --------------------------------------------------------------------------
# rbldnsd: the DNSBL zones
# --------------------------------------------------------------------------
write_rbldnsd() {
    local R=$LABDIR/rbldnsd
    mkdir -p "$R"
    # Every dataset carries SOA and NS so that negative answers are proper
    # (cacheable, with an authority section).
    # shellcheck disable=SC2016 # rbldnsd's $SOA/$NS keywords, not variables
    local meta='$SOA 60 ns.lab.test hostmaster.lab.test 1 60 60 600 5
$NS 60 ns.lab.test'
    cat >"$R/bl.zone" <<EOF
$meta
# default: 127.0.0.2 with a TXT naming the address (\$ = queried address)
:127.0.0.2:Listed: test entry for \$
127.0.0.2
192.0.2.10
192.0.2.11 :127.0.0.3
EOF
    cat >"$R/bl6.zone" <<EOF
$meta
:127.0.0.2:Listed: test entry
2001:db8:abc:123::42 :127.0.0.2:Listed: test entry for 2001:db8:abc:123::42
# RFC 5782 test entries: ::2 is used by most IPv6 lists, ::ffff:127.0.0.2
# is the RFC's own; ::1 and ::ffff:127.0.0.1 are NOT listed.
::2 :127.0.0.2:Listed: test entry for ::2
::ffff:7f00:2 :127.0.0.2:Listed: test entry for ::ffff:127.0.0.2
EOF
    {
        echo "$meta"
        echo ':127.0.1.2:Listed domain'
        echo 'listed-domain.test'
        echo '# RFC 5782 domain test entry TEST (INVALID is not listed)'
        echo 'test :127.0.0.2:Test entry (RFC 5782)'
        echo '# Any IP-style query (reversed IPv4, or IPv6 nibbles) is answered'
        echo '# 127.0.1.255 like Spamhaus DBL does: a wildcard for every possible'
        echo '# last label of such a name (0..255 and the hex digits a..f).'
        echo ':127.0.1.255:Error: IP address queried on a domain blocklist'
        for i in $(seq 0 255) a b c d e f; do echo "*.$i"; done
    } >"$R/dbl.zone"
    cat >"$R/err.zone" <<EOF
$meta
:127.0.0.2:Listed: test entry for \$
127.0.0.2
192.0.2.10 :127.255.255.254:Error: open resolver; https://check.example/returnc/pub/198.51.100.53/
192.0.2.11 :127.255.255.255:Error: excessive number of queries
192.0.2.12 :127.255.255.252:Error: typing error in DNSBL name
EOF
    cat >"$R/uribl.zone" <<EOF
$meta
:127.0.0.2:Listed: test entry for \$
127.0.0.2
192.0.2.10 :127.0.0.1:127.0.0.1 -> Query Refused. See http://uribl.example/refused.shtml
EOF
    cat >"$R/all.zone" <<EOF
$meta
:127.0.0.2:Everything is listed here (\$)
0.0.0.0/0
EOF
    cat >"$R/all6.zone" <<'EOF'
:127.0.0.2:Everything is listed here
::/0
EOF
    cat >"$R/out.zone" <<EOF
$meta
:192.0.2.99:Listed with an answer outside 127.0.0.0/8 (\$)
127.0.0.2
192.0.2.10
EOF
    # generic dataset: the only rbldnsd type that can return several A
    # records for one name. Names are relative to the zone.
    cat >"$R/multi.zone" <<EOF
$meta
2.0.0.127 A 127.0.0.2
10.2.0.192 A 127.0.0.4
10.2.0.192 A 127.0.0.2
10.2.0.192 TXT "Listed: multiple codes for 192.0.2.10"
EOF
    cat >"$R/dead.zone" <<EOF
$meta
# Nothing listed, not even the 127.0.0.2 test entry: a list that stopped
# working.
EOF
    # An IPv4-only list that, unlike rbldnsd's ip4set, does not answer the
    # IPv4-mapped IPv6 test point ::FFFF:7F00:2 (generic dataset: exact
    # names only).
    cat >"$R/v4only.zone" <<EOF
$meta
2.0.0.127 A 127.0.0.2
10.2.0.192 A 127.0.0.2
EOF
    # A list answering both names and addresses (like multi.surbl.org):
    # one zone, an ip4set and a dnset.
    cat >"$R/both4.zone" <<EOF
$meta
:127.0.0.2:Listed address \$
127.0.0.2
192.0.2.10
EOF
    cat >"$R/bothd.zone" <<EOF
$meta
:127.0.0.2:Listed name \$
test
mx.lab.test
spammy.lab.test
EOF
    # IPv6 lists: one with the RFC 5782 test point ::FFFF:7F00:2 only, one
    # with ::2 only.
    cat >"$R/rfc6.zone" <<EOF
$meta
:127.0.0.2:Listed: \$
::ffff:7f00:2
2001:db8::42
EOF
    cat >"$R/two6.zone" <<EOF
$meta
:127.0.0.2:Listed: \$
::2
2001:db8::42
EOF
    # An allow list (DNSWL-like): 127.0.0.255 is its over-quota answer.
    cat >"$R/allow.zone" <<EOF
$meta
:127.0.0.2:Allowlisted \$
127.0.0.2
192.0.2.10
192.0.2.11 :127.0.0.255:Over quota
EOF
    # A block list with policy codes (Spamhaus ZEN-like: .10 is PBL).
    cat >"$R/policy.zone" <<EOF
$meta
:127.0.0.2:Listed \$
127.0.0.2
192.0.2.10 :127.0.0.10:Policy listing (dynamic range) for \$
192.0.2.11
EOF
    # A bit-mask domain list (SURBL/URIBL-like): 2 black, 4 grey; the
    # middle octets are reserved and must be ignored.
    cat >"$R/bits.zone" <<EOF
$meta
test :127.0.0.2:Test
black.test :127.0.0.2:Black \$
grey.test :127.0.0.4:Grey \$
both.test :127.1.0.6:Black and grey \$
EOF
    chmod 644 "$R"/*.zone
}

start_rbldnsd() {
    local R=$LABDIR/rbldnsd
    # -u rbldns: rbldnsd refuses to run as root. -a: no NS records in the
    # authority section. -c 0: no periodic reload checks. Zone order matters:
    # a subzone must come before its parent (multi.bl before bl).
    rbldnsd -u rbldns -b "$HOST4/$P_RBL" -p "$LABDIR/run/rbldnsd.pid" -a -c 0 -t 30 -w "$R" \
        multi.bl.lab.test:generic:multi.zone \
        bl.lab.test:ip4set:bl.zone \
        bl6.lab.test:ip6trie:bl6.zone \
        dbl.lab.test:dnset:dbl.zone \
        err.lab.test:ip4set:err.zone \
        uribl.lab.test:ip4set:uribl.zone \
        all.lab.test:ip4trie:all.zone \
        all.lab.test:ip6trie:all6.zone \
        out.lab.test:ip4set:out.zone \
        dead.lab.test:ip4set:dead.zone \
        v4only.lab.test:generic:v4only.zone \
        both.lab.test:ip4set:both4.zone \
        both.lab.test:dnset:bothd.zone \
        rfc6.lab.test:ip6trie:rfc6.zone \
        two6.lab.test:ip6trie:two6.zone \
        allow.lab.test:ip4set:allow.zone \
        policy.lab.test:ip4set:policy.zone \
        bits.lab.test:dnset:bits.zone \
        </dev/null >>"$LABDIR/log/rbldnsd.log" 2>&1 ||
        { tail -n 20 "$LABDIR/log/rbldnsd.log" >&2; die "rbldnsd failed to start"; }
    wait_for rbldnsd "$LABDIR/log/rbldnsd.log" dns_answers "$P_RBL" 2.0.0.127.bl.lab.test A
}

# --------------------------------------------------------------------------
# Silent DNS port
# --------------------------------------------------------------------------
start_silent() {
    perl "$LAB_SCRIPT_DIR/silent-dns.pl" "$HOST4" "$P_SILENT" "$LABDIR/run/silent-dns.pid" \
        </dev/null >>"$LABDIR/log/silent-dns.log" 2>&1 ||
        { tail -n 20 "$LABDIR/log/silent-dns.log" >&2; die "silent DNS server failed to start"; }
    wait_for "silent dns" "$LABDIR/log/silent-dns.log" tcp_open "$HOST4" "$P_SILENT"
}

# --------------------------------------------------------------------------
# Unbound: the resolver the tests use
# --------------------------------------------------------------------------
# unbound_server NAME PORT DIR: the server: clause both lab Unbounds share
# (the plain one and DANE's validating one, tests/lab/dane.sh): loopback
# only, its own files, no chroot or privilege drop, small caches.
unbound_server() {
    local name=$1 port=$2 dir=$3
    cat <<EOF
server:
    interface: $HOST4@$port
    port: $port
    access-control: 127.0.0.0/8 allow
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    so-reuseport: no
    num-threads: 1
    username: ""
    chroot: ""
    directory: "$dir"
    pidfile: "$LABDIR/run/$name.pid"
    logfile: "$LABDIR/log/$name.log"
    use-syslog: no
    log-time-ascii: yes
    verbosity: 1
    # Our authoritative servers are on 127.0.0.1.
    do-not-query-localhost: no
    # DNSBL names are deep; minimisation would ask rbldnsd for
    # intermediate names, get NXDOMAIN and stop there.
    qname-minimisation: no
    harden-below-nxdomain: no
    # Small caches: tests restart the lab and change nothing in between,
    # but nobody should ever debug a stale answer.
    cache-max-ttl: 30
    cache-max-negative-ttl: 5
    # How fast unresponsive/refusing servers are re-tried (silent, servfail).
    infra-host-ttl: 5
    # Random source ports only from the kernel's ephemeral range, never from
    # the range where labs put their listening ports (below 32768), so that
    # one lab's Unbound cannot steal another lab's port.
    outgoing-port-avoid: 0-32767
    hide-identity: yes
    hide-version: yes
EOF
}

write_unbound() {
    local U=$LABDIR/unbound z
    mkdir -p "$U"
    {
        echo "# mailhealth lab Unbound instance (generated by tests/lab/lab.sh)."
        echo "# Own config file: /etc/unbound is not read. No DNSSEC (iterator only), no"
        echo "# root hints needed: every lab name is a stub zone on loopback."
        unbound_server unbound "$P_RESOLVER" "$U"
        cat <<EOF
    module-config: "iterator"
    # Unbound serves "test." (RFC 6761) and the TEST-NET-1 reverse zone
    # itself by default; hand them to our stubs instead.
    local-zone: "test." nodefault
    local-zone: "2.0.192.in-addr.arpa." nodefault
remote-control:
    control-enable: no
stub-zone:
    name: "lab.test."
    stub-addr: $HOST4@$P_NSD
    stub-prime: no
stub-zone:
    name: "2.0.192.in-addr.arpa."
    stub-addr: $HOST4@$P_NSD
    stub-prime: no
EOF
        for z in "${RBL_ZONES[@]}"; do
            printf 'stub-zone:\n    name: "%s."\n    stub-addr: %s@%s\n    stub-prime: no\n' \
                "$z" "$HOST4" "$P_RBL"
        done
        cat <<EOF
# servfail.lab.test is delegated to rbldnsd, which is not authoritative for
# it and answers REFUSED at once: Unbound then answers SERVFAIL quickly.
stub-zone:
    name: "servfail.lab.test."
    stub-addr: $HOST4@$P_RBL
    stub-prime: no
# silent.lab.test is delegated to the silent port: queries time out.
stub-zone:
    name: "silent.lab.test."
    stub-addr: $HOST4@$P_SILENT
    stub-prime: no
EOF
    } >"$U/unbound.conf"
}

start_unbound() {
    local U=$LABDIR/unbound
    unbound-checkconf "$U/unbound.conf" >>"$LABDIR/log/unbound.start.log" 2>&1 ||
        { tail -n 20 "$LABDIR/log/unbound.start.log" >&2; die "unbound-checkconf failed"; }
    unbound -c "$U/unbound.conf" </dev/null >>"$LABDIR/log/unbound.start.log" 2>&1 ||
        { tail -n 20 "$LABDIR/log/unbound.start.log" "$LABDIR/log/unbound.log" >&2 2>/dev/null; die "unbound failed to start"; }
    wait_for unbound "$LABDIR/log/unbound.log" dns_answers "$P_RESOLVER" mx.lab.test A
    wait_for "unbound -> rbldnsd" "$LABDIR/log/unbound.log" dns_answers "$P_RESOLVER" 2.0.0.127.bl.lab.test A
}

# --------------------------------------------------------------------------
# MTA-STS: zone sts.lab.test in NSD and nginx serving the policies
# --------------------------------------------------------------------------
# The policy URL has no port (RFC 8461 3.3), so nginx listens on 443 of a
# loopback address of this lab's own, derived from the port base (Linux
# routes all of 127/8 to lo): two labs with different bases never collide.
sts_set_addr() {
    STS_WEB_ADDR=127.$((BASE >> 8)).$((BASE & 255)).1
}

# The policy domains below sts.lab.test. Each line: NAME|MODE|MX PATTERNS
# (space separated)|how the policy is served. The MX of every domain is
# mx.lab.test except certfail's (other.lab.test: the certificate does not
# name it).
STS_CASES='enforce|enforce|mx.lab.test|ok
testing|testing|mx2.lab.test|ok
missing|enforce|mx2.lab.test|ok
none|none||ok
certfail|enforce|other.lab.test *.lab.test|ok
notfound|enforce|mx.lab.test|404
redirect|enforce|mx.lab.test|301
html|enforce|mx.lab.test|html
big|enforce|mx.lab.test|big
wrongcert|enforce|mx.lab.test|wrongcert
expiredcert|enforce|mx.lab.test|expiredcert
twotxt|enforce|mx.lab.test|ok
edited|enforce|mx.lab.test|ok
badrpt|enforce|mx.lab.test|ok'

# The web host certificates: one valid leaf for every mta-sts.* name, an
# expired one for expiredcert; wrongcert is served the `wrongname` set.
gen_sts_certs() {
    local C=$LABDIR/certs name mode pats how san='' f
    while IFS='|' read -r name mode pats how; do
        case $how in wrongcert | expiredcert) continue ;; esac
        san="${san:+$san,}DNS:mta-sts.$name.sts.lab.test"
    done <<<"$STS_CASES"
    newcert sts-web "mta-sts.enforce.sts.lab.test" v3_leaf intermediate \
        '-1 day' '+90 days' "$san"
    newcert sts-web-expired "mta-sts.expiredcert.sts.lab.test" v3_leaf \
        intermediate '-100 days' '-10 days' "DNS:mta-sts.expiredcert.sts.lab.test"
    for f in sts-web sts-web-expired; do
        cat "$C/$f.pem" "$C/intermediate.pem" >"$C/$f.chain.pem"
    done
    chmod 600 "$C"/*.key
}

# sts_policy MODE PATTERNS: a policy body.
sts_policy() {
    local p
    printf 'version: STSv1\nmode: %s\n' "$1"
    for p in $2; do printf 'mx: %s\n' "$p"; done
    printf 'max_age: 86400\n'
}

# The zone file, the policies under www/NAME/ and nginx.conf.
write_sts() {
    local W=$LABDIR/www N=$LABDIR/nsd C=$LABDIR/certs name mode pats how
    local cert loc
    mkdir -p "$LABDIR/nginx/tmp"
    {
        printf '; sts.lab.test (generated by tests/lab/lab.sh): MTA-STS policy domains.\n'
        printf '$ORIGIN sts.lab.test.\n$TTL 60\n'
        printf '@ SOA ns.lab.test. hostmaster.lab.test. 1 60 60 600 5\n'
        printf '@ NS ns.lab.test.\n'
        while IFS='|' read -r name mode pats how; do
            if [ "$name" = certfail ]; then
                printf '%s MX 10 other.lab.test.\n' "$name"
            else
                printf '%s MX 10 mx.lab.test.\n' "$name"
            fi
            printf 'mta-sts.%s A %s\n' "$name" "$STS_WEB_ADDR"
            printf '_mta-sts.%s TXT "v=STSv1; id=20250101T000000"\n' "$name"
            case $name in
            twotxt) printf '_mta-sts.%s TXT "v=STSv1; id=20250202"\n' "$name" ;;
            badrpt) printf '_smtp._tls.%s TXT "v=TLSRPTv1; rua=ftp://reports.lab.test/tlsrpt"\n' "$name" ;;
            *) printf '_smtp._tls.%s TXT "v=TLSRPTv1; rua=mailto:tlsrpt@lab.test,https://reports.lab.test/tlsrpt"\n' "$name" ;;
            esac
            # Another record at the same name is no MTA-STS record.
            if [ "$name" = enforce ]; then
                printf '_mta-sts.%s TXT "site-verification=abc"\n' "$name"
            fi
        done <<<"$STS_CASES"
    } >"$N/sts.lab.test.zone"
    printf 'zone:\n    name: "sts.lab.test"\n    zonefile: "sts.lab.test.zone"\n' \
        >>"$N/nsd.conf"
    {
        printf '# mailhealth lab nginx (generated by tests/lab/lab.sh): MTA-STS policies.\n'
        printf 'pid %s/run/nginx.pid;\n' "$LABDIR"
        printf 'error_log %s/log/nginx.log;\n' "$LABDIR"
        printf 'user nobody nogroup;\nworker_processes 1;\n'
        printf 'events { worker_connections 64; }\n'
        printf 'http {\n'
        printf '    access_log %s/log/nginx-access.log;\n' "$LABDIR"
        local t
        for t in client_body proxy fastcgi uwsgi scgi; do
            printf '    %s_temp_path %s/nginx/tmp/%s;\n' "$t" "$LABDIR" "$t"
        done
        printf '    types { }\n    default_type text/plain;\n'
        printf '    ssl_protocols TLSv1.2 TLSv1.3;\n'
        printf '    server {\n        listen %s:443 ssl default_server;\n' "$STS_WEB_ADDR"
        printf '        server_name _;\n'
        printf '        ssl_certificate %s/sts-web.chain.pem;\n' "$C"
        printf '        ssl_certificate_key %s/sts-web.key;\n' "$C"
        printf '        return 404;\n    }\n'
        while IFS='|' read -r name mode pats how; do
            mkdir -p "$W/$name/.well-known"
            cert=sts-web loc=''
            case $how in
            ok | wrongcert | expiredcert)
                sts_policy "$mode" "$pats" >"$W/$name/.well-known/mta-sts.txt"
                ;;
            html)
                sts_policy "$mode" "$pats" >"$W/$name/.well-known/mta-sts.txt"
                loc='default_type text/html;'
                ;;
            big) # 70 KiB: more than a sender reads (64 KiB)
                {
                    sts_policy "$mode" "$pats"
                    head -c 71680 /dev/zero | tr '\0' '#' | fold -w 79
                } >"$W/$name/.well-known/mta-sts.txt"
                ;;
            301) loc='return 301 https://mta-sts.enforce.sts.lab.test/.well-known/mta-sts.txt;' ;;
            404) ;;
            esac
            case $how in
            wrongcert) cert=wrongname ;;
            expiredcert) cert=sts-web-expired ;;
            esac
            printf '    server {\n        listen %s:443 ssl;\n' "$STS_WEB_ADDR"
            printf '        server_name mta-sts.%s.sts.lab.test;\n' "$name"
            printf '        ssl_certificate %s/%s.chain.pem;\n' "$C" "$cert"
            printf '        ssl_certificate_key %s/%s.key;\n' "$C" "$cert"
            printf '        root %s/%s;\n' "$W" "$name"
            printf '        location = /.well-known/mta-sts.txt { %s }\n    }\n' "$loc"
        done <<<"$STS_CASES"
        printf '}\n'
    } >"$LABDIR/nginx/nginx.conf"
}

sts_web_answers() {
    curl -sf --max-time 2 --cacert "$LABDIR/certs/ca.pem" \
        --resolve "mta-sts.enforce.sts.lab.test:443:$STS_WEB_ADDR" \
        -o /dev/null https://mta-sts.enforce.sts.lab.test/.well-known/mta-sts.txt
}

start_sts() {
    local n=(-c "$LABDIR/nginx/nginx.conf" -p "$LABDIR/nginx" -e "$LABDIR/log/nginx.log")
    nginx -t -q "${n[@]}" >>"$LABDIR/log/nginx.start.log" 2>&1 ||
        { tail -n 20 "$LABDIR/log/nginx.start.log" >&2; die "nginx -t failed"; }
    nginx "${n[@]}" </dev/null >>"$LABDIR/log/nginx.start.log" 2>&1 ||
        { tail -n 20 "$LABDIR/log/nginx.start.log" "$LABDIR/log/nginx.log" >&2 2>/dev/null; die "nginx failed to start"; }
    wait_for nginx "$LABDIR/log/nginx.log" sts_web_answers
    wait_for "unbound -> nsd sts.lab.test" "$LABDIR/log/nsd.log" \
        dns_answers "$P_RESOLVER" _mta-sts.enforce.sts.lab.test TXT
}

stop_sts() {
    stop_pidfile nginx "$LABDIR/run/nginx.pid" "$LABDIR/nginx/nginx.conf"
}

sts_check_free() {
    if ss -Hlnt 2>/dev/null | awk '{print $4}' | grep -qx "$STS_WEB_ADDR:443"; then
        die "$STS_WEB_ADDR:443 already in use (another lab with the same MH_LAB_PORT_BASE?)"
    fi
}

sts_env() {
    echo "export LAB_STS_WEB_ADDR=$STS_WEB_ADDR"
    echo "export LAB_STS_DOMAIN=sts.lab.test"
    echo "export LAB_STS_WWW=$LABDIR/www"
}

# --------------------------------------------------------------------------
# lab.env
# --------------------------------------------------------------------------
write_env() {
    local C=$LABDIR/certs v V host6=
    ipv6_loopback && host6=::1
    printf '%s\n' "$PASSWORD" >"$LABDIR/password"
    chmod 600 "$LABDIR/password"
    {
        echo "# mailhealth lab environment (generated by tests/lab/lab.sh start)"
        echo "# Source it: . $LABDIR/lab.env   -- see tests/lab/README.md"
        echo "export LAB_DIR=$LABDIR"
        echo "export LAB_HOST=$HOST4"
        echo "export LAB_HOST6=$host6"
        echo "export LAB_MX_NAME=$MX_NAME"
        echo "export LAB_DOMAIN=$DOMAIN"
        echo "export LAB_PORT_BASE=$BASE"
        echo "export LAB_SMTP_PORT=$P_SMTP"
        echo "export LAB_SUBMISSION_PORT=$P_SUBMISSION"
        echo "export LAB_SMTPS_PORT=$P_SMTPS"
        echo "export LAB_SMTP_NOTLS_PORT=$P_SMTP_NOTLS"
        echo "export LAB_SMTP_GREY_PORT=$P_SMTP_GREY"
        echo "export LAB_SMTP_ANVIL_PORT=$P_SMTP_ANVIL"
        echo "export LAB_POSTGREY_PORT=$P_POSTGREY"
        for v in "${TLS_VARIANTS[@]}"; do
            V=$(echo "$v" | tr 'a-z-' 'A-Z_')
            echo "export LAB_SMTP_TLS_${V}_PORT=${P_TLS[$v]}"
        done
        echo "export LAB_IMAP_PORT=$P_IMAP"
        echo "export LAB_IMAPS_PORT=$P_IMAPS"
        echo "export LAB_USER=$USER1"
        echo "export LAB_USER2=$USER2"
        echo "export LAB_PASSWORD=$PASSWORD"
        echo "export LAB_PASSWORD_FILE=$LABDIR/password"
        echo "export LAB_MAILDIR=$LABDIR/mail/$DOMAIN/probe/Maildir"
        echo "export LAB_MAILDIR2=$LABDIR/mail/$DOMAIN/other/Maildir"
        echo "export LAB_FOREIGN_RCPT=x@foreign.test"
        echo "export LAB_CERT_DIR=$C"
        echo "export LAB_CA_FILE=$C/ca.pem"
        echo "export LAB_DNS_PORT=$P_NSD"
        echo "export LAB_RBL_PORT=$P_RBL"
        echo "export LAB_RESOLVER_PORT=$P_RESOLVER"
        echo "export LAB_RESOLVER=$HOST4:$P_RESOLVER"
        echo "export LAB_SILENT_DNS_PORT=$P_SILENT"
        echo "export LAB_RBL_ZONES='${RBL_ZONES[*]}'"
        echo "export LAB_POSTFIX_CONFIG_DIR=$LABDIR/postfix/etc"
        echo "export LAB_POSTFIX_LOG=$LABDIR/log/postfix.log"
        echo "export LAB_DOVECOT_CONFIG=$LABDIR/dovecot/dovecot.conf"
        echo "export LAB_DOVECOT_LOG=$LABDIR/log/dovecot.log"
        sts_env
        dane_env
    } >"$LABDIR/lab.env.tmp"
    mv "$LABDIR/lab.env.tmp" "$LABDIR/lab.env"
}

# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------
do_stop() {
    [ -d "$LABDIR" ] || return 0
    # All in parallel: Dovecot alone needs about a second to shut down.
    stop_pidfile postfix "$LABDIR/postfix/spool/pid/master.pid" /usr/lib/postfix/sbin/master &
    stop_pidfile dovecot "$LABDIR/dovecot/run/master.pid" "$LABDIR/dovecot/dovecot.conf" &
    stop_pidfile unbound "$LABDIR/run/unbound.pid" "$LABDIR/unbound/unbound.conf" &
    stop_pidfile nsd "$LABDIR/run/nsd.pid" "$LABDIR/nsd/nsd.conf" &
    stop_pidfile rbldnsd "$LABDIR/run/rbldnsd.pid" "$LABDIR/run/rbldnsd.pid" &
    stop_pidfile silent-dns "$LABDIR/run/silent-dns.pid" mailhealth-lab-silent-dns &
    stop_sts &
    stop_pidfile postgrey "$LABDIR/postgrey/postgrey.pid" postgrey &
    stop_dane &
    wait
    rm -f "$LABDIR/lab.env"
}

on_start_exit() {
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        log "start failed, stopping the partial lab"
        do_stop
        release_runtime_dir
    fi
}

do_start() {
    local t0
    t0=$(now_ms)
    [ "$(id -u)" -eq 0 ] || die "the lab must be started as root"
    refuse_system_dir "$REQDIR"
    if [ -L "$REQDIR" ]; then
        # The link to the runtime directory a previous start made.
        do_stop
        rm -rf "$LABDIR"
        rm -f "$REQDIR"
        LABDIR=$REQDIR
    fi
    if [ -e "$LABDIR" ]; then
        if [ -e "$LABDIR/.mailhealth-lab" ]; then
            do_stop
            rm -rf "$LABDIR"
        elif [ -n "$(ls -A "$LABDIR" 2>/dev/null)" ]; then
            die "$LABDIR exists, is not empty and is not a mailhealth lab; not touching it"
        fi
    fi
    if needs_runtime_dir "$REQDIR"; then
        [ ! -d "$REQDIR" ] || rmdir "$REQDIR"
        mkdir -p "$(dirname "$REQDIR")"
        make_runtime_dir
    fi
    check_labdir
    check_ports_free
    sts_check_free
    mkdir -p "$LABDIR"/{run,log}
    chmod 755 "$LABDIR"
    touch "$LABDIR/.mailhealth-lab"
    # Remembered for `status`, which must probe this lab's ports even when
    # lab.env was never written (failed start).
    echo "$BASE" >"$LABDIR/run/port-base"
    # If anything below fails, stop what was already started.
    trap on_start_exit EXIT

    gen_certs
    gen_sts_certs
    write_nsd
    write_sts
    write_rbldnsd
    write_unbound
    write_dovecot
    write_postfix
    write_dane

    start_silent
    start_rbldnsd
    start_nsd
    start_unbound
    start_dovecot
    start_postgrey
    start_postfix
    start_sts
    start_dane
    write_env
    trap - EXIT
    local ms=$(($(now_ms) - t0))
    log "lab up in $((ms / 1000)).$(printf '%03d' $((ms % 1000)))s: . $LABDIR/lab.env"
}

do_status() {
    local bad=0 name pidfile pid
    [ -d "$LABDIR" ] || { echo "no lab in $LABDIR"; return 1; }
    # Probe the ports this lab was started with, not the current defaults.
    if [ -s "$LABDIR/run/port-base" ]; then
        BASE=$(cat "$LABDIR/run/port-base")
        set_ports
        dane_set_ports
        sts_set_addr
    fi
    while read -r name pidfile; do
        pid=
        [ -s "$pidfile" ] && pid=$(tr -dc '0-9' <"$pidfile")
        if [ -n "$pid" ] && alive "$pid"; then
            printf '%-10s running (pid %s)\n' "$name" "$pid"
        else
            printf '%-10s NOT running\n' "$name"
            bad=1
        fi
    done <<EOF
postfix $LABDIR/postfix/spool/pid/master.pid
dovecot $LABDIR/dovecot/run/master.pid
unbound $LABDIR/run/unbound.pid
nsd $LABDIR/run/nsd.pid
rbldnsd $LABDIR/run/rbldnsd.pid
silent-dns $LABDIR/run/silent-dns.pid
nginx $LABDIR/run/nginx.pid
unbound-dane $LABDIR/run/unbound-dane.pid
EOF
    local -a checks=(
        "smtp $P_SMTP|banner_is $HOST4 $P_SMTP 220"
        "submission $P_SUBMISSION|banner_is $HOST4 $P_SUBMISSION 220"
        "smtps $P_SMTPS|tls_banner_is $HOST4 $P_SMTPS 220 QUIT"
        "imap $P_IMAP|banner_is $HOST4 $P_IMAP *"
        "imaps $P_IMAPS|tls_banner_is $HOST4 $P_IMAPS * LOGOUT"
        "nsd $P_NSD|dns_answers $P_NSD mx.lab.test A"
        "rbldnsd $P_RBL|dns_answers $P_RBL 2.0.0.127.bl.lab.test A"
        "resolver $P_RESOLVER|dns_answers $P_RESOLVER mx.lab.test A"
        "silent $P_SILENT|tcp_open $HOST4 $P_SILENT"
        "nginx $STS_WEB_ADDR:443|sts_web_answers"
        "dane smtp $P_DANE_SMTP|banner_is $HOST4 $P_DANE_SMTP 220"
        "validating resolver $P_DANE_RESOLVER|dane_validated _$P_DANE_SMTP._tcp.ee.dane.test TLSA"
    )
    local c what cmd
    for c in "${checks[@]}"; do
        what=${c%%|*} cmd=${c#*|}
        # Word splitting of the probe command is intended, globbing is not
        # (the IMAP banner prefix is "*").
        # shellcheck disable=SC2086
        if (set -f && $cmd); then printf '%-22s answers\n' "$what"; else
            printf '%-22s NOT answering\n' "$what"
            bad=1
        fi
    done
    [ -f "$LABDIR/lab.env" ] && echo "env: $LABDIR/lab.env"
    return $bad
}

usage() {
    echo "usage: $0 start|stop|status [LABDIR]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
cmd=$1
REQDIR=${2:-${MH_LAB_DIR:-/tmp/mailhealth-lab}}
# Parents resolved, the last component not: it may be our link.
REQDIR=$(realpath -m "$(dirname "$REQDIR")")/$(basename "$REQDIR")
REQDIR=${REQDIR/#\/\//\/}
LABDIR=$(realpath -m "$REQDIR")
# A link made by hand is followed as before; only ours is replaced.
[[ $LABDIR == "$RUNTIME_BASE"/* ]] || REQDIR=$LABDIR
# Ports stay below 32768, the start of Linux's ephemeral range, so no
# client's source port (or an Unbound query port) can take one of them.
if ! [[ $BASE =~ ^[0-9]+$ ]] || ((BASE < 1024 || BASE + 999 > 32767)); then
    die "MH_LAB_PORT_BASE must be a number from 1024 to 31768"
fi
[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "MH_LAB_TIMEOUT must be a number of seconds"
set_ports
dane_set_ports
sts_set_addr

case $cmd in
start) do_start ;;
stop)
    [ "$(id -u)" -eq 0 ] || die "the lab must be stopped as root"
    do_stop
    release_runtime_dir
    ;;
status) do_status ;;
*) usage ;;
esac
