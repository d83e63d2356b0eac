# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# shellcheck disable=SC2016 # zone files: $ORIGIN and $TTL are keywords
#
# mailhealth lab, DANE part (sourced by tests/lab/lab.sh): DNSSEC-signed
# zones with TLSA records (RFC 6698, RFC 7672) served by the lab's NSD, and
# a validating Unbound (the lab's own trust anchors) beside the lab's
# non-validating one, and a Postfix smtpd port (BASE+125) whose certificate
# (leaf `dane` from the lab intermediate) names every DANE host, so that a
# DANE-TA(2) record's name check (RFC 7672 3.2.2) can pass. Other TLSA
# records name the `soon` port's certificate and the port without STARTTLS.
#
# Zones (all in NSD; the names are the MX host names the tests use):
#   dane.test        signed (ECDSA P-256, one key), valid for 30 days:
#     ee           3 1 1 of the `dane` leaf on the DANE port    -> verified
#     ta           2 1 1 of the lab intermediate on the DANE port -> verified
#     mismatch     3 1 1 of an unrelated key                     -> mismatch
#     rollover     3 1 1 of the dane leaf + 3 1 1 of the next key (next.pub)
#     soon         3 0 1 of the `soon` leaf (expires in 10 days), on the
#                  `soon` TLS port                               -> rollover risk
#     usage1       1 1 1 of the dane leaf only (PKIX-EE: unusable for SMTP)
#     notls        3 1 1 of the valid leaf on the port without STARTTLS
#     bogus        3 1 1 of the dane leaf, rdata changed after signing
#     alias        _PORT._tcp.alias CNAME _PORT._tcp.ee (a signed CNAME)
#     nodane       no TLSA (secure NXDOMAIN)
#     sigexpired   _PORT._tcp CNAME into sigexpired.test (expired RRSIGs)
#     servfail     _PORT._tcp CNAME into servfail.test (SERVFAIL)
#     MX: dane.test -> ee; mixed.dane.test -> ee (10), mismatch (20)
#   sigexpired.test  signed, RRSIGs expired 2 days ago (past Unbound's skew)
#   sigsoon.test     signed, RRSIGs expire in 2 days
#   unsigned.test    not signed, TLSA 3 1 1 of the dane leaf
#   servfail.test    delegated to rbldnsd, which refuses it: SERVFAIL
# Each of sigexpired, sigsoon and unsigned has host mx with the TLSA record on
# the DANE port.

# The validating Unbound BASE+120 and the DANE smtpd BASE+125 (DANE ports
# are BASE+120..139).
dane_set_ports() {
    P_DANE_RESOLVER=$((BASE + 120))
    P_DANE_SMTP=$((BASE + 125))
}

readonly DANE_ZONES=(dane.test sigexpired.test sigsoon.test unsigned.test)

# tlsa_spki FILE: SHA-256 of the SubjectPublicKeyInfo of a certificate (or of
# a PEM public key with -pub).
dane_spki_sha256() {
    if [ "${2:-}" = -pub ]; then
        openssl pkey -pubin -in "$1" -outform DER
    else
        openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER
    fi | sha256sum | cut -d' ' -f1
}
dane_cert_sha256() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }

dane_ymd() { date -u -d "$1" +%Y%m%d%H%M%S; }

# dane_sign ZONE INCEPTION EXPIRATION: signs $N/ZONE.zone into
# $N/ZONE.zone.signed with a new ECDSA key; the DS goes to the trust anchors.
dane_sign() {
    local z=$1 inc=$2 exp=$3 N=$LABDIR/nsd K=$LABDIR/dane/keys key
    mkdir -p "$K"
    key=$(cd "$K" && ldns-keygen -a ECDSAP256SHA256 -k "$z") ||
        die "ldns-keygen failed for $z"
    ldns-signzone -n -i "$(dane_ymd "$inc")" -e "$(dane_ymd "$exp")" \
        -f "$N/$z.zone.signed" "$N/$z.zone" "$K/$key" \
        >>"$LABDIR/log/dane.log" 2>&1 || die "ldns-signzone failed for $z"
    cat "$K/$key.ds" >>"$LABDIR/dane/trust-anchors"
}

write_dane() {
    local N=$LABDIR/nsd C=$LABDIR/certs D=$LABDIR/dane U=$LABDIR/unbound
    local valid ta soon other next z
    mkdir -p "$D" "$U"
    : >"$D/trust-anchors"
    # The next key of a rollover (published beside the current one), and an
    # unrelated key for the mismatch.
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$D/next.key" 2>/dev/null
    openssl pkey -in "$D/next.key" -pubout -out "$D/next.pub"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$D/other.key" 2>/dev/null
    openssl pkey -in "$D/other.key" -pubout -out "$D/other.pub"
    newcert dane ee.dane.test v3_leaf intermediate '-1 day' '+90 days' \
        "DNS:*.dane.test,DNS:mx.sigexpired.test,DNS:mx.sigsoon.test,DNS:mx.unsigned.test,DNS:$MX_NAME"
    cat "$C/dane.pem" "$C/intermediate.pem" >"$C/dane.chain.pem"
    chmod 600 "$C"/*.key
    valid=$(dane_spki_sha256 "$C/dane.pem")
    ta=$(dane_spki_sha256 "$C/intermediate.pem")
    soon=$(dane_cert_sha256 "$C/soon.crt")
    other=$(dane_spki_sha256 "$D/other.pub" -pub)
    next=$(dane_spki_sha256 "$D/next.pub" -pub)
    local s=_$P_DANE_SMTP._tcp
    {
        # shellcheck disable=SC2016 # zone file keywords, not variables
        printf '$ORIGIN dane.test.\n$TTL 60\n'
        printf '@ SOA ns.lab.test. hostmaster.lab.test. 1 60 60 600 5\n'
        printf '@ NS ns.lab.test.\n@ MX 10 ee.dane.test.\n'
        printf 'mixed MX 10 ee.dane.test.\nmixed MX 20 mismatch.dane.test.\n'
        for z in ee ta mismatch rollover soon usage1 notls bogus alias nodane \
            sigexpired servfail; do
            printf '%s A %s\n' "$z" "$HOST4"
        done
        printf '%s.ee TLSA 3 1 1 %s\n' "$s" "$valid"
        printf '%s.ta TLSA 2 1 1 %s\n' "$s" "$ta"
        printf '%s.mismatch TLSA 3 1 1 %s\n' "$s" "$other"
        printf '%s.rollover TLSA 3 1 1 %s\n' "$s" "$valid"
        printf '%s.rollover TLSA 3 1 1 %s\n' "$s" "$next"
        printf '_%s._tcp.soon TLSA 3 0 1 %s\n' "${P_TLS[soon]}" "$soon"
        printf '%s.usage1 TLSA 1 1 1 %s\n' "$s" "$valid"
        printf '_%s._tcp.notls TLSA 3 1 1 %s\n' "$P_SMTP_NOTLS" "$valid"
        printf '%s.bogus TLSA 3 1 1 %s\n' "$s" "$valid"
        printf '%s.alias CNAME %s.ee\n' "$s" "$s"
        printf '%s.sigexpired CNAME %s.mx.sigexpired.test.\n' "$s" "$s"
        printf '%s.servfail CNAME %s.servfail.test.\n' "$s" "$s"
    } >"$N/dane.test.zone"
    for z in sigexpired.test sigsoon.test unsigned.test; do
        {
            printf '$ORIGIN %s.\n$TTL 60\n' "$z"
            printf '@ SOA ns.lab.test. hostmaster.lab.test. 1 60 60 600 5\n'
            printf '@ NS ns.lab.test.\n@ MX 10 mx.%s.\n' "$z"
            printf 'mx A %s\n%s.mx TLSA 3 1 1 %s\n' "$HOST4" "$s" "$valid"
        } >"$N/$z.zone"
    done
    dane_sign dane.test '-1 day' '+30 days'
    dane_sign sigexpired.test '-30 days' '-2 days'
    dane_sign sigsoon.test '-1 day' '+2 days'
    # bogus: the TLSA rdata changed after signing (last hex digit flipped),
    # the signature kept.
    awk -v n="$s.bogus.dane.test." '
        $1 == n && $4 == "TLSA" {
            d = $NF; c = substr(d, length(d), 1);
            $NF = substr(d, 1, length(d) - 1) (c == "0" ? "1" : "0")
        }
        { print }' "$N/dane.test.zone.signed" >"$N/dane.test.zone.bogus"
    mv "$N/dane.test.zone.bogus" "$N/dane.test.zone.signed"
    cp "$N/unsigned.test.zone" "$N/unsigned.test.zone.signed"
    for z in "${DANE_ZONES[@]}"; do
        printf 'zone:\n    name: "%s"\n    zonefile: "%s.zone.signed"\n' "$z" "$z" \
            >>"$N/nsd.conf"
    done
    # The lab's non-validating Unbound serves them too (data without AD).
    for z in "${DANE_ZONES[@]}"; do
        printf 'stub-zone:\n    name: "%s."\n    stub-addr: %s@%s\n    stub-prime: no\n' \
            "$z" "$HOST4" "$P_NSD"
    done >>"$U/unbound.conf"
    dane_write_unbound
    local PF=$LABDIR/postfix/etc
    {
        printf '%s   inet  n       -       n       -       -       smtpd\n' "$P_DANE_SMTP"
        printf '  -o syslog_name=postfix/dane\n'
        printf '  -o smtpd_tls_chain_files=%s/dane.key,%s/dane.chain.pem\n' "$C" "$C"
    } >>"$PF/master.cf"
    touch -d '-1 minute' "$PF/master.cf"
}

# The validating Unbound: the lab's trust anchors, every lab zone.
dane_write_unbound() {
    local D=$LABDIR/dane z
    {
        cat <<EOF
# mailhealth lab validating Unbound (generated by tests/lab/dane.sh).
EOF
        unbound_server unbound-dane "$P_DANE_RESOLVER" "$D"
        cat <<EOF
    val-log-level: 2
    module-config: "validator iterator"
    trust-anchor-file: "$D/trust-anchors"
    val-bogus-ttl: 5
    ede: yes
    local-zone: "test." nodefault
remote-control:
    control-enable: no
EOF
        for z in lab.test "${DANE_ZONES[@]}"; do
            printf 'stub-zone:\n    name: "%s."\n    stub-addr: %s@%s\n    stub-prime: no\n' \
                "$z" "$HOST4" "$P_NSD"
        done
        printf 'stub-zone:\n    name: "servfail.test."\n    stub-addr: %s@%s\n    stub-prime: no\n' \
            "$HOST4" "$P_RBL"
    } >"$D/unbound.conf"
}

dane_validated() { # NAME TYPE: the validating resolver answers with AD
    dig +tries=1 +time=1 +dnssec -p "$P_DANE_RESOLVER" @"$HOST4" "$1" "$2" 2>/dev/null |
        grep -q 'flags:.* ad[ ;]'
}

start_dane() {
    local D=$LABDIR/dane
    unbound-checkconf "$D/unbound.conf" >>"$LABDIR/log/unbound-dane.start.log" 2>&1 ||
        { tail -n 20 "$LABDIR/log/unbound-dane.start.log" >&2; die "unbound-checkconf (dane) failed"; }
    unbound -c "$D/unbound.conf" </dev/null >>"$LABDIR/log/unbound-dane.start.log" 2>&1 ||
        { tail -n 20 "$LABDIR/log/unbound-dane.start.log" "$LABDIR/log/unbound-dane.log" >&2 2>/dev/null; die "validating unbound failed to start"; }
    wait_for "postfix port $P_DANE_SMTP" "$LABDIR/log/postfix.log" \
        banner_is "$HOST4" "$P_DANE_SMTP" "220 "
    wait_for "validating unbound" "$LABDIR/log/unbound-dane.log" \
        dane_validated "_$P_DANE_SMTP._tcp.ee.dane.test" TLSA
}

stop_dane() {
    stop_pidfile unbound-dane "$LABDIR/run/unbound-dane.pid" "$LABDIR/dane/unbound.conf"
}

dane_env() {
    echo "export LAB_DANE_RESOLVER_PORT=$P_DANE_RESOLVER"
    echo "export LAB_DANE_RESOLVER=$HOST4:$P_DANE_RESOLVER"
    echo "export LAB_DANE_ZONE=dane.test"
    echo "export LAB_DANE_SMTP_PORT=$P_DANE_SMTP"
    echo "export LAB_DANE_NEXT_KEY=$LABDIR/dane/next.pub"
    echo "export LAB_DANE_OTHER_KEY=$LABDIR/dane/other.pub"
}
