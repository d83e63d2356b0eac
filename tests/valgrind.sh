#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Valgrind memcheck over a representative set of integration invocations:
# the fault-server scenarios (normal, STARTTLS + AUTH + the
# certificate checks, timeouts, drips, TLS stall, junk, rejections, HELO
# fallback, TLS failures), the lab's Postfix (submission with STARTTLS +
# AUTH, SMTPS), the TLS, DNSBL, domain and mta-sts checks through the lab
# resolver, a resolver that never answers, the three output formats and --textfile,
# usage errors, delivery and one runner round. Every run must exit 0..3
# with no memcheck error and no definite leak (valgrind's exit code 97).
#
# Usage: tests/valgrind.sh [BUILD_DIR]     (default: build, a non-sanitizer
#        build; tests/run.sh runs it as its third pass)
#   MH_LAB_DIR       use this running lab instead of starting one
#   MH_LAB_PORT_BASE port base of the lab started here (default 26000; demo.sh uses 25000)
# Ends with "N passed, N failed"; exit 1 on a failure.
set -uo pipefail

if [ "${1:-}" != --cases ]; then
    # ---- driver: binary, wrapper, lab ----
    root=$(cd "$(dirname "$0")/.." && pwd)
    build=$(cd "${1:-$root/build}" && pwd) || exit 1
    command -v valgrind >/dev/null || {
        echo "valgrind.sh: valgrind is missing (packaging/install-deps.sh)" >&2
        exit 1
    }
    export MH_SOURCE_DIR=$root
    export MH_FAULTSERVER=$build/tests/faultserver/mh_faultserver
    export MH_VG_REAL=$build/check_mailhealth
    if grep -q 'MH_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
        echo "valgrind.sh: $build is a sanitizer build; use a plain one" >&2
        exit 1
    fi
    export MH_VG_LOGS
    MH_VG_LOGS=$(mktemp -d /tmp/mh-valgrind.XXXXXX)
    wrapper=$MH_VG_LOGS/check_mailhealth
    cat >"$wrapper" <<'WRAP'
#!/bin/sh
exec valgrind -q --error-exitcode=97 --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite \
    --num-callers=30 --log-file="$MH_VG_LOGS/vg.%p.log" "$MH_VG_REAL" "$@"
WRAP
    chmod 755 "$wrapper"
    export MH_BIN=$wrapper
    started=
    if [ -z "${MH_LAB_DIR:-}" ] || [ ! -f "$MH_LAB_DIR/lab.env" ]; then
        export MH_LAB_DIR=$build/lab-valgrind
        MH_LAB_PORT_BASE=${MH_LAB_PORT_BASE:-26000} \
            "$root/tests/lab/lab.sh" start "$MH_LAB_DIR" >"$MH_LAB_DIR.log" 2>&1 || {
            cat "$MH_LAB_DIR.log" >&2
            exit 1
        }
        started=1
    fi
    bash "$0" --cases
    rc=$?
    [ -n "$started" ] && "$root/tests/lab/lab.sh" stop "$MH_LAB_DIR" >/dev/null 2>&1
    rm -rf "$MH_VG_LOGS"
    exit "$rc"
fi

# ---- the cases (run with the wrapper as MH_BIN) ----
. "$MH_SOURCE_DIR/tests/integration/lib.sh"
needs_lab
H=(-H 127.0.0.1 --ehlo probe.example.net)
CA=(--ca-file "$LAB_CA_FILE" --sni "$LAB_MX_NAME" --verify-name "$LAB_MX_NAME")
R=(--resolver "$LAB_RESOLVER")
export FS_USER=probe@example.net FS_PASS='Vg-S3cret!pw'
printf '%s\n' "$FS_PASS" >"$T_TMP/fspw"
FSA=(-U "$FS_USER" --auth-password-file "$T_TMP/fspw")
LABA=(-U "$LAB_USER" --auth-password-file "$LAB_PASSWORD_FILE")

# vg RC|any ARGS...: runs check_mailhealth under memcheck; checks the exit
# code (any: 0..3) and that valgrind reported nothing.
vg() {
    local want=$1
    shift
    rm -f "$MH_VG_LOGS"/vg.*.log
    run "$@"
    if [ "$RC" = 97 ]; then
        not_ok "valgrind found errors or definite leaks"
        cat "$MH_VG_LOGS"/vg.*.log 2>/dev/null | head -n 60 | sed 's/^/       > /'
        return
    fi
    if [ "$want" = any ]; then
        if [ "$RC" -ge 0 ] && [ "$RC" -le 3 ]; then ok "exit code $RC (0..3)"; else
            not_ok "exit code $RC"
        fi
    else
        expect_rc "$want"
    fi
    if cat "$MH_VG_LOGS"/vg.*.log 2>/dev/null | grep -q .; then
        not_ok "valgrind printed a report"
        cat "$MH_VG_LOGS"/vg.*.log | head -n 60 | sed 's/^/       > /'
    else
        ok "memcheck clean"
    fi
}

case_ "fault server: normal session, three formats, textfile"
fault normal-ok
vg 0 smtp "${H[@]}" -p "$FS_PORT" --mail-from a@example.net --rcpt-to b@example.net
fault normal-ok
vg 0 smtp "${H[@]}" -p "$FS_PORT" --output json -v
fault normal-ok
vg 0 smtp "${H[@]}" -p "$FS_PORT" --output prometheus --textfile "$T_TMP/m.prom"

case_ "fault server: STARTTLS, AUTH, certificate checks"
for mech in PLAIN LOGIN CRAM-MD5; do
    FS_CERT=valid fault normal-tls-ok
    vg 0 smtp "${H[@]}" -p "$FS_PORT" --starttls "${CA[@]}" "${FSA[@]}" \
        --auth-mech "$mech" -vvv
done
FS_CERT=expired fault normal-tls-ok
vg 2 smtp "${H[@]}" -p "$FS_PORT" --starttls "${CA[@]}" --cert-days 30,14
FS_CERT=valid fault implicit-tls-ok
vg 0 smtp "${H[@]}" -p "$FS_PORT" --tls "${CA[@]}"

case_ "fault server: deadlines"
for s in silent-after-connect silent-after-ehlo drip-greeting drip-ehlo-reply; do
    fault "$s"
    vg 2 smtp "${H[@]}" -p "$FS_PORT" -t 2
done
fault tls-stall
vg 2 smtp "${H[@]}" -p "$FS_PORT" -t 2 --starttls

case_ "fault server: rejections and TLS failures"
for s in br04b-554-hold br05-421 br14-mail-530 br21-no-starttls \
    br26a-close-in-handshake br26c-alert br26d-454 overlong-reply \
    garbage-greeting inconsistent-multiline-codes relay-open rcpt-blocked-rbl; do
    fault "$s"
    vg any smtp "${H[@]}" -p "$FS_PORT" --starttls-optional \
        --mail-from a@example.net --rcpt-to b@example.net \
        --relay-test x@foreign.test
done
fault br07-ehlo-502-helo
vg 0 smtp "${H[@]}" -p "$FS_PORT"
fault br18a-535
vg 2 smtp "${H[@]}" -p "$FS_PORT" "${FSA[@]}" --allow-plaintext-auth
fault br26b-selfsigned
vg 2 tls "${H[@]}" -p "$FS_PORT" "${CA[@]}"
fault br28-rst-after-ehlo
vg 0 smtp "${H[@]}" -p "$FS_PORT"

case_ "fault server: junk"
for s in junk-greeting junk-mid-greeting junk-after-ehlo junk-mid-ehlo \
    junk-endless junk-long-line junk-controls; do
    FS_JUNK_SEED=7 fault "$s"
    vg any smtp "${H[@]}" -p "$FS_PORT" -t 3 --output json \
        --mail-from a@example.net --rcpt-to b@example.net
done
FS_JUNK_SEED=7 fault junk-after-starttls
vg any smtp "${H[@]}" -p "$FS_PORT" -t 3 --starttls
FS_JUNK_SEED=7 fault junk-in-auth
vg any smtp "${H[@]}" -p "$FS_PORT" -t 3 "${FSA[@]}" --allow-plaintext-auth -vvv

case_ "lab: Postfix submission and SMTPS, TLS check"
vg 0 smtp -H 127.0.0.1 -p "$LAB_SUBMISSION_PORT" --starttls "${CA[@]}" \
    "${LABA[@]}" --mail-from "$LAB_USER" --rcpt-to "$LAB_USER"
vg 0 smtp -H "$LAB_MX_NAME" -p "$LAB_SMTPS_PORT" --tls "${R[@]}" "${CA[@]}" \
    --output prometheus
vg 0 tls -H "$LAB_MX_NAME" -p "$LAB_SMTP_PORT" "${R[@]}" "${CA[@]}" --output json
vg 2 tls -H "$LAB_MX_NAME" -p "$LAB_SMTP_TLS_EXPIRED_PORT" "${R[@]}" "${CA[@]}"

case_ "lab: DNSBL and domain"
vg 2 dnsbl -H 192.0.2.10 --zone bl.lab.test "${R[@]}"
vg any dnsbl -H "$LAB_MX_NAME" --zone bl.lab.test --zone dbl.lab.test:domain \
    --zone err.lab.test "${R[@]}" --output json
vg any domain -D "$LAB_DOMAIN" "${R[@]}" -p "$LAB_SMTP_PORT" "${CA[@]}" \
    --zone bl.lab.test -t 20
vg 2 domain -D "$LAB_DOMAIN" --resolver "127.0.0.1:$LAB_SILENT_DNS_PORT" -t 2
vg 3 dnsbl -H 192.0.2.10 --zone bl.lab.test \
    --resolver "127.0.0.1:$LAB_SILENT_DNS_PORT" -t 2

case_ "lab: MTA-STS"
STS=(--resolver "$LAB_RESOLVER" -p "$LAB_SMTP_PORT" --ca-file "$LAB_CA_FILE")
vg 0 mta-sts -D "enforce.$LAB_STS_DOMAIN" "${STS[@]}" --output json \
    --sts-state "$T_TMP/sts.json" -t 20
vg 2 mta-sts -D "expiredcert.$LAB_STS_DOMAIN" "${STS[@]}" -t 20
vg 2 mta-sts -D "big.$LAB_STS_DOMAIN" "${STS[@]}" -t 20
vg 2 domain -D "certfail.$LAB_STS_DOMAIN" "${STS[@]}" --output prometheus -t 20

case_ "usage, help, version"
vg 3 smtp
vg 3 smtp -H 127.0.0.1 --auth-password=x
vg 3 smtp --help
vg 3 --version
vg 3 dnsbl -H 192.0.2.10 -w nonsense
vg 3 smtp -H 127.0.0.1 -p 25.0
vg 3 tls -H 127.0.0.1 --tls-min 1.4

case_ "delivery round trip"
vg any delivery --submit "smtp://127.0.0.1:$LAB_SUBMISSION_PORT" \
    --imap "imap://127.0.0.1:$LAB_IMAP_PORT/INBOX" --rcpt-to "$LAB_USER" \
    --auth-user "$LAB_USER" --auth-password-file "$LAB_PASSWORD_FILE" \
    --mail-from "$LAB_USER" --imap-user "$LAB_USER" \
    --imap-password-file "$LAB_PASSWORD_FILE" --ca-file "$LAB_CA_FILE" -t 30

case_ "runner: one round"
fault normal-ok 2
cat >"$T_TMP/run.json" <<JSON
{"timeout_seconds": 10, "concurrency": 2, "resolver": "$LAB_RESOLVER",
 "checks": [
  {"name": "fault", "check": "smtp", "host": "127.0.0.1", "port": $FS_PORT},
  {"name": "rbl", "check": "dnsbl", "host": "192.0.2.10", "zone": "bl.lab.test"}]}
JSON
vg any run --config "$T_TMP/run.json" --once --textfile "$T_TMP/run.prom"

finish
