#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Exit codes in every path and the TLS defaults.
#
# Exit codes are 0..3 whatever happens: stdout closed early (SIGPIPE is
# ignored), SIGTERM/SIGINT during a check (UNKNOWN), a crash (the fatal
# signal handler prints UNKNOWN and exits 3; not on sanitizer builds, whose
# handlers report instead), usage errors, --help, --version, and every
# allocation failure: the LD_PRELOAD shim tests/fuzz/failmalloc.c fails the
# N-th malloc/calloc/realloc for N across the whole run (non-sanitizer
# builds only).
#
# TLS: 1.2 is the minimum unless --tls-min says otherwise, and a server
# that offers only older versions is reported as such (CRITICAL/tls);
# with --tls-min 1.0 such a server is reachable and its version shown.
# openssl s_server plays the old servers.
# Lab parts needed: the certificates, the lab resolver.
. "$(dirname "$0")/lib.sh"
needs_lab
H=(-H 127.0.0.1 --ehlo probe.example.net)
CA=(--ca-file "$LAB_CA_FILE" --sni "$LAB_MX_NAME" --verify-name "$LAB_MX_NAME")
SHIM=$(dirname "$MH_BIN")/tests/fuzz/libmh_failmalloc.so
sanitized=
# A here-string, not a pipe: with pipefail, grep -q leaving at the first
# match made ldd die of SIGPIPE now and then, and a sanitizer build was
# taken for a plain one (the crash case then failed under ASan).
if grep -Eq 'libasan|libubsan' <<<"$(ldd "$MH_BIN" 2>/dev/null)"; then
    sanitized=1
fi

# ---------------------------------------------------------------------
case_ "stdout closed before the result is written (SIGPIPE)"
fault silent-after-connect
"$MH_BIN" smtp "${H[@]}" -p "$FS_PORT" -t 0.5 --output json 2>"$T_TMP/err" | true
rc=${PIPESTATUS[0]}
if [ "$rc" -le 3 ]; then ok "exit code $rc (0..3), not 141"; else
    not_ok "exit code $rc"
fi

for sig in TERM INT; do
    case_ "SIG$sig during a check"
    fault silent-after-connect
    "$MH_BIN" smtp "${H[@]}" -p "$FS_PORT" -t 10 >"$T_TMP/out" 2>&1 &
    pid=$!
    sleep 0.5
    kill -"$sig" "$pid"
    wait "$pid"
    RC=$?
    OUT=$(cat "$T_TMP/out")
    LINE1=$(head -n 1 "$T_TMP/out")
    expect_rc 3
    expect_line1 "^MAILHEALTH UNKNOWN - terminated by a signal"
done

case_ "a crash ends as UNKNOWN (exit 3)"
if [ -n "$sanitized" ]; then
    ok "skipped on a sanitizer build (its own SEGV report applies)"
else
    fault silent-after-connect
    "$MH_BIN" smtp "${H[@]}" -p "$FS_PORT" -t 10 >"$T_TMP/out" 2>&1 &
    pid=$!
    sleep 0.5
    kill -SEGV "$pid"
    wait "$pid"
    RC=$?
    OUT=$(cat "$T_TMP/out")
    LINE1=$(head -n 1 "$T_TMP/out")
    expect_rc 3
    expect_line1 "^MAILHEALTH UNKNOWN - internal error \(fatal signal\)"
fi

case_ "usage errors, --help, --version"
for args in "" "smtp" "smtp -H" "nosuch -H x" "smtp -H x -t -1" "smtp -H x -w 5:1" \
    "dnsbl -H 192.0.2.1 --zone ..bad" "smtp --help" "--version" "run"; do
    # shellcheck disable=SC2086
    run $args
    if [ "$RC" = 3 ]; then ok "'$args': exit 3"; else not_ok "'$args': exit $RC"; fi
done

# ---------------------------------------------------------------------
# failmalloc RUNS ARGS...: fails the N-th allocation for about RUNS values
# of N spread over the whole run (each of the first 50, then evenly to the
# end); every run must exit 0..3 without a crash.
failmalloc() {
    local runs=$1 total n step bad=0 ooms=0 count=0 out rc first
    shift
    total=$(MH_FAILMALLOC_COUNT=1 LD_PRELOAD=$SHIM "$MH_BIN" "$@" 2>&1 >/dev/null |
        sed -n 's/^failmalloc: calls=//p')
    if [ -z "$total" ]; then
        not_ok "the shim did not count ($SHIM)"
        return
    fi
    step=$(((total - 50) / runs + 1))
    [ "$step" -ge 1 ] || step=1
    first=""
    for ((n = 1; n <= total; n += (n < 50 ? 1 : step))); do
        out=$(MH_FAILMALLOC_N=$n LD_PRELOAD=$SHIM timeout 20 "$MH_BIN" "$@" 2>&1)
        rc=$?
        count=$((count + 1))
        if [ "$rc" -gt 3 ] || printf '%s\n' "$out" | grep -q 'fatal signal'; then
            bad=$((bad + 1))
            [ -z "$first" ] && first="N=$n rc=$rc: $(printf '%s\n' "$out" | head -n 1)"
        fi
        printf '%s\n' "$out" | grep -q 'out of memory' && ooms=$((ooms + 1))
    done
    if [ "$bad" -eq 0 ]; then
        ok "$count runs (of $total allocations): all exit 0..3, no crash ($ooms said 'out of memory')"
    else
        not_ok "$bad of $count runs crashed or left 0..3; first: $first"
    fi
}

if [ -n "$sanitized" ] || [ ! -f "$SHIM" ]; then
    case_ "allocation failures"
    ok "skipped (sanitizer build or no $SHIM)"
else
    export FS_USER=probe@example.net FS_PASS='Fm-S3cret!pw'
    printf '%s\n' "$FS_PASS" >"$T_TMP/pw"
    case_ "allocation failures: smtp, STARTTLS, AUTH, envelope, certificate checks"
    # lib.sh's fault server lives 60 s; these runs may take longer.
    "$MH_FAULTSERVER" --script "$MH_SOURCE_DIR/tests/faultserver/scenarios/normal-tls-ok.fs" \
        --port 0 --port-file "$T_TMP/fm.port" --transcript /dev/null \
        --max-seconds 900 >/dev/null 2>&1 &
    T_PIDS+=($!)
    for _i in $(seq 1 100); do
        [ -s "$T_TMP/fm.port" ] && break
        sleep 0.05
    done
    FS_PORT=$(cat "$T_TMP/fm.port")
    failmalloc "$(soak_size 80 250)" smtp "${H[@]}" -p "$FS_PORT" --starttls "${CA[@]}" \
        --cert-days 30,14 -U "$FS_USER" --auth-password-file "$T_TMP/pw" \
        --mail-from a@example.net --rcpt-to b@example.net --output json
    case_ "allocation failures: dnsbl through the lab resolver"
    failmalloc "$(soak_size 40 120)" dnsbl -H 192.0.2.10 --zone bl.lab.test --zone err.lab.test \
        --resolver "$LAB_RESOLVER" --output prometheus
    case_ "allocation failures: domain (MX, smtp, tls, dnsbl)"
    failmalloc "$(soak_size 40 120)" domain -D "$LAB_DOMAIN" --resolver "$LAB_RESOLVER" \
        -p "$LAB_SMTP_PORT" --zone bl.lab.test -t 10
fi

# ---------------------------------------------------------------------
# old_tls_server OPTION [CIPHERS [TLS13SUITES]]: openssl s_server speaking
# only that version (security level 0, as old servers need) for one
# connection, with only those cipher suites when given; sets OPORT.
# The port is above the kernel's ephemeral range (32768-60999 by default),
# so no outgoing connection holds it; one that is taken anyway (another
# listener) is replaced by the next pick, up to 5.
old_tls_server() {
    local suites=()
    [ -z "${3:-}" ] || suites=(-ciphersuites "$3")
    local _try _i pid
    for _try in 1 2 3 4 5; do
        OPORT=$((61000 + RANDOM % 4000))
        openssl s_server -accept "127.0.0.1:$OPORT" -naccept 1 -quiet \
            -cert "$LAB_CERT_DIR/valid.crt" -key "$LAB_CERT_DIR/valid.key" \
            -cert_chain "$LAB_CERT_DIR/valid.chain.pem" "$1" \
            -cipher "${2:-DEFAULT}:@SECLEVEL=0" "${suites[@]}" </dev/null \
            >"$T_TMP/s_server.log" 2>&1 &
        pid=$!
        T_PIDS+=($pid)
        for _i in $(seq 1 100); do
            ss -ltn 2>/dev/null | grep -q "127.0.0.1:$OPORT " && return
            kill -0 "$pid" 2>/dev/null || break # it could not bind
            sleep 0.05
        done
    done
    echo "openssl s_server did not start" >&2
    cat "$T_TMP/s_server.log" >&2
}

for v in 1 1_1; do
    name=${v/_/.}
    case_ "TLS $name-only server, default minimum 1.2"
    old_tls_server "-tls$v"
    run tls -H 127.0.0.1 -p "$OPORT" --tls "${CA[@]}" --output json
    expect_rc 2
    expect_out '"category":	"tls"'
    old_tls_server "-tls$v"
    run tls -H 127.0.0.1 -p "$OPORT" --tls "${CA[@]}"
    expect_rc 2
    expect_line1 "CRITICAL - \[tls\] .*server offers no TLS version the probe accepts \(minimum TLS 1\.2, --tls-min lowers it\)"

    case_ "TLS $name-only server, --tls-min 1.0"
    old_tls_server "-tls$v"
    run tls -H 127.0.0.1 -p "$OPORT" --tls "${CA[@]}" --tls-min 1.0 --output prometheus
    expect_out "mailhealth_tls_version_info{target=\"127.0.0.1:$OPORT\",version=\"TLSv$name\""
    old_tls_server "-tls$v"
    run tls -H 127.0.0.1 -p "$OPORT" --tls "${CA[@]}" --tls-min 1.0
    expect_out "TLSv$name"
    expect_no_out "server offers no TLS version"
done

# OpenSSL is initialised without the legacy cipher-name table
# (OPENSSL_INIT_NO_ADD_ALL_CIPHERS, transport.c): every family of cipher
# suites OpenSSL's default list offers (CBC with SHA-1 and SHA-384, GCM,
# ChaCha20-Poly1305; CCM is not in it) must still be negotiated, TLS 1.2
# and 1.3 alike.
for suite in ECDHE-ECDSA-AES128-SHA ECDHE-ECDSA-AES256-SHA384 \
    ECDHE-ECDSA-CHACHA20-POLY1305 ECDHE-ECDSA-AES256-GCM-SHA384; do
    case_ "TLS 1.2 server offering only $suite"
    old_tls_server -tls1_2 "$suite"
    run tls -H 127.0.0.1 -p "$OPORT" --tls "${CA[@]}"
    expect_rc 0
    expect_out "TLSv1.2 $suite"
done
for suite in TLS_CHACHA20_POLY1305_SHA256 TLS_AES_128_GCM_SHA256; do
    case_ "TLS 1.3 server offering only $suite"
    old_tls_server -tls1_3 DEFAULT "$suite"
    run tls -H 127.0.0.1 -p "$OPORT" --tls "${CA[@]}"
    expect_rc 0
    expect_out "TLSv1.3 $suite"
done

case_ "TLS 1.2 server: accepted by default, refused with --tls-min 1.3"
old_tls_server -tls1_2
run tls -H 127.0.0.1 -p "$OPORT" --tls "${CA[@]}"
expect_rc 0
expect_out "TLSv1.2"
old_tls_server -tls1_2
run tls -H 127.0.0.1 -p "$OPORT" --tls "${CA[@]}" --tls-min 1.3
expect_rc 2
expect_line1 "\[tls\] .*server offers no TLS version the probe accepts \(minimum TLS 1\.3\)"

finish
