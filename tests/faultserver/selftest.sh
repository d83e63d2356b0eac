#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# selftest.sh - checks mh_faultserver itself: drives it with small clients
# (bash /dev/tcp, openssl s_client -starttls smtp) and checks the replies
# and the transcripts. Ends with "N passed, N failed"; exit 1 on a failure.
# Field cases BR-NN are in tests/field-cases.md.
#
# Usage: tests/faultserver/selftest.sh [path/to/mh_faultserver]
#        tests/faultserver/selftest.sh --make-certs DIR
# FS_SELFTEST_ONLY=REGEX limits the run to the matching t_* cases.
# Without a binary it builds one with cmake in a temporary directory.
# --make-certs writes a throwaway PKI with the lab's file names (ca.pem;
# valid/wrongname/selfsigned .key .crt .chain.pem; leaf names mx.lab.test,
# localhost, 127.0.0.1).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

make_certs() {
    local d=$1 n
    mkdir -p "$d" || return 1
    (
        cd "$d" || exit 1
        ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
        ec ca.key
        openssl req -x509 -new -key ca.key -out ca.pem -days 3650 \
            -subj "/CN=FS Test Root CA" \
            -addext basicConstraints=critical,CA:TRUE \
            -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null || exit 1
        ec int.key
        openssl req -new -key int.key -out int.csr \
            -subj "/CN=FS Test Intermediate CA" 2>/dev/null || exit 1
        printf '%s\n' 'basicConstraints=critical,CA:TRUE,pathlen:0' \
            'keyUsage=critical,keyCertSign,cRLSign' \
            'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid' >int.ext
        openssl x509 -req -in int.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
            -out int.pem -days 3650 -extfile int.ext 2>/dev/null || exit 1
        leaf() { # name cn san
            ec "$1.key"
            openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null || exit 1
            printf '%s\n' 'basicConstraints=CA:FALSE' \
                'keyUsage=critical,digitalSignature' \
                'extendedKeyUsage=serverAuth' "subjectAltName=$3" >"$1.ext"
            openssl x509 -req -in "$1.csr" -CA int.pem -CAkey int.key \
                -CAcreateserial -out "$1.crt" -days 90 -extfile "$1.ext" 2>/dev/null || exit 1
            cat "$1.crt" int.pem >"$1.chain.pem"
        }
        leaf valid mx.lab.test "DNS:mx.lab.test,DNS:localhost,IP:127.0.0.1"
        leaf wrongname other.lab.test "DNS:other.lab.test"
        ec selfsigned.key
        openssl req -x509 -new -key selfsigned.key -out selfsigned.crt -days 90 \
            -subj "/CN=mx.lab.test" \
            -addext subjectAltName=DNS:mx.lab.test,DNS:localhost,IP:127.0.0.1 2>/dev/null || exit 1
        cp selfsigned.crt selfsigned.chain.pem
        for n in expired soon; do # stand-ins: same files, other names
            cp valid.key "$n.key"; cp valid.crt "$n.crt"; cp valid.chain.pem "$n.chain.pem"
        done
    )
}

if [ "${1:-}" = "--make-certs" ]; then
    make_certs "${2:?usage: selftest.sh --make-certs DIR}" || exit 1
    exit 0
fi

WORK=$(mktemp -d /tmp/fs-selftest.XXXXXX)
SRV=
cleanup() {
    [ -n "$SRV" ] && kill "$SRV" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

BIN=${1:-}
if [ -z "$BIN" ]; then
    echo "building mh_faultserver in $WORK/build"
    if ! cmake -S "$HERE" -B "$WORK/build" >"$WORK/build.log" 2>&1 ||
        ! cmake --build "$WORK/build" >>"$WORK/build.log" 2>&1; then
        cat "$WORK/build.log"
        echo "0 passed, 1 failed"
        exit 1
    fi
    BIN=$WORK/build/mh_faultserver
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
SC=$HERE/scenarios

export CERT_DIR=$WORK/certs FS_USER=probe@example.com FS_PASS='s3cret!'
make_certs "$CERT_DIR" || { echo "cannot make test certificates"; echo "0 passed, 1 failed"; exit 1; }

PASSED=0
FAILED=0
N=0
TR=
PORT=
SRV_RC=

# --- helpers ---------------------------------------------------------

# start_server SCRIPT [ARGS...]: starts the server, waits for the port file.
start_server() {
    local script=$1 i
    shift
    N=$((N + 1))
    TR=$WORK/tr.$N
    local pf=$WORK/port.$N
    "$BIN" --script "$script" --port-file "$pf" --transcript "$TR" \
        --max-seconds "${MAXS:-20}" "$@" 2>"$WORK/err.$N" &
    SRV=$!
    for i in $(seq 200); do
        [ -s "$pf" ] && break
        kill -0 "$SRV" 2>/dev/null || break
        sleep 0.025
    done
    PORT=$(cat "$pf" 2>/dev/null)
    [ -n "$PORT" ]
}

# wait_server [SECONDS]: waits for the server to exit; SRV_RC = its status.
wait_server() {
    local t=${1:-10} i
    for ((i = 0; i < t * 20; i++)); do
        kill -0 "$SRV" 2>/dev/null || break
        sleep 0.05
    done
    kill "$SRV" 2>/dev/null
    wait "$SRV"
    SRV_RC=$?
    SRV=
}

conn() { exec {C}<>"/dev/tcp/127.0.0.1/$PORT"; }
disconnect() { exec {C}>&-; }
say() { printf '%s\r\n' "$1" >&"$C"; }
# reply: reads one (multi-line) reply into LAST (lines joined by |).
reply() {
    local line
    LAST=
    while IFS= read -r -t "${RT:-5}" -u "$C" line; do
        line=${line%$'\r'}
        LAST=${LAST:+$LAST|}$line
        [ "${line:3:1}" != "-" ] && return 0
    done
    return 1
}
has() { grep -qE -- "$1" "$TR"; }
hasnt() { ! grep -qE -- "$1" "$TR"; }
count() { grep -cE -- "$1" "$TR"; }

run() {
    local name=$1
    shift
    # FS_SELFTEST_ONLY=REGEX runs only the cases whose function matches.
    [ -n "${FS_SELFTEST_ONLY:-}" ] && ! [[ $1 =~ $FS_SELFTEST_ONLY ]] && return 0
    TR=
    if "$@" >"$WORK/out" 2>&1; then
        PASSED=$((PASSED + 1))
        echo "ok   - $name"
    else
        FAILED=$((FAILED + 1))
        echo "FAIL - $name"
        sed 's/^/    out: /' "$WORK/out"
        [ -n "$TR" ] && [ -f "$TR" ] && sed 's/^/    tr:  /' "$TR"
    fi
    [ -n "$SRV" ] && { kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; SRV=; }
    return 0
}

# --- cases -----------------------------------------------------------

t_check_scenarios() {
    local f bad=0 msg missing
    for f in "$SC"/*.fs; do
        if ! msg=$("$BIN" --check --script "$f" 2>&1); then
            # A certificate that only the lab has (not in the throwaway PKI
            # made here) is not the script's fault: note it, do not fail.
            missing=$(printf '%s\n' "$msg" | grep -o "$CERT_DIR/[^ :]*" | head -1)
            if [ -n "$missing" ] && [ ! -e "$missing" ]; then
                echo "note: $(basename "$f") needs lab file $(basename "$missing")"
            else
                echo "$msg"
                bad=1
            fi
        fi
        head -1 "$f" | grep -q 'SPDX-License-Identifier: MIT' || { echo "no SPDX: $f"; bad=1; }
        grep -qi 'expected probe result' "$f" || { echo "no expected result: $f"; bad=1; }
    done
    return $bad
}

t_load_errors() {
    printf 'send ${FS_NOT_SET_ANYWHERE}\n' >"$WORK/bad1.fs"
    printf 'sned 220 x\n' >"$WORK/bad2.fs"
    printf 'starttls /nonexistent.crt /nonexistent.key\n' >"$WORK/bad3.fs"
    local out rc
    out=$("$BIN" --check --script "$WORK/bad1.fs" 2>&1); rc=$?
    [ $rc -eq 2 ] && echo "$out" | grep -q 'FS_NOT_SET_ANYWHERE' || { echo "bad1 rc=$rc $out"; return 1; }
    out=$("$BIN" --check --script "$WORK/bad2.fs" 2>&1); rc=$?
    [ $rc -eq 2 ] && echo "$out" | grep -q 'bad2.fs:1: unknown directive' || { echo "bad2 rc=$rc $out"; return 1; }
    out=$("$BIN" --check --script "$WORK/bad3.fs" 2>&1); rc=$?
    [ $rc -eq 2 ] && echo "$out" | grep -q 'cannot load certificate' || { echo "bad3 rc=$rc $out"; return 1; }
}

# The port file never exists half-written, and it appears only once the
# port accepts connections.
t_port_file_atomic() {
    local i pf content
    for i in 1 2 3 4 5; do
        pf=$WORK/pfa.$i
        "$BIN" --script "$SC/normal-ok.fs" --port-file "$pf" --max-seconds 5 \
            --sessions 1 2>/dev/null &
        SRV=$!
        content=
        while kill -0 "$SRV" 2>/dev/null; do
            if [ -e "$pf" ]; then
                content=$(cat "$pf")
                break
            fi
        done
        [[ $content =~ ^[0-9]+$ ]] || { echo "run $i: partial or empty port file: '$content'"; return 1; }
        PORT=$content
        conn || { echo "run $i: port $content not accepting when the file appeared"; return 1; }
        reply && [ "$LAST" = "220 mx.example.com ESMTP ready" ] || { echo "run $i: greeting '$LAST'"; return 1; }
        say QUIT; reply; disconnect
        wait_server 5
        ls "$WORK" | grep -q "pfa.$i.tmp" && { echo "temporary file left"; return 1; }
    done
    return 0
}

t_normal_ok() {
    start_server "$SC/normal-ok.fs" --sessions 1 || return 1
    conn
    reply && [ "$LAST" = "220 mx.example.com ESMTP ready" ] || return 1
    say "EHLO probe.example.net"; reply
    [[ $LAST == *"250-STARTTLS|250 ENHANCEDSTATUSCODES" ]] || { echo "ehlo: $LAST"; return 1; }
    say "MAIL FROM:<a@example.net>"; reply; [ "$LAST" = "250 2.1.0 Ok" ] || return 1
    say "RCPT TO:<b@example.com>"; reply; [ "$LAST" = "250 2.1.5 Ok" ] || return 1
    say "RSET"; reply; [ "$LAST" = "250 2.0.0 Ok" ] || return 1
    say "QUIT"; reply; [ "$LAST" = "221 2.0.0 Bye" ] || return 1
    disconnect
    wait_server 5
    [ "$SRV_RC" -eq 0 ] || { echo "rc=$SRV_RC"; return 1; }
    hasnt VIOLATION && hasnt 'EVENT pipelined' && has '^1 C: RCPT TO:<b@example.com>$' &&
        has '^1 S: 221 2.0.0 Bye$' && has '^1 EVENT close$' && has '^0 EVENT exit sessions=1 violations=0'
}

t_early_talker() {
    start_server "$SC/br02-early-talker.fs" --sessions 1 || return 1
    conn
    say "EHLO early.example.net"
    reply && [ "$LAST" = "554 5.5.1 SMTP synchronization error" ] || { echo "got '$LAST'"; return 1; }
    disconnect
    wait_server 5
    [ "$SRV_RC" -eq 1 ] || { echo "rc=$SRV_RC (want 1: violation)"; return 1; }
    has '^1 EVENT early-talk bytes=24 data=EHLO early.example.net\\x0d\\x0a$' &&
        has '^1 C: EHLO early.example.net$' && has '^1 VIOLATION client talked during the greet pause'
}

t_patient_client_ok() {
    local t0 t1
    start_server "$SC/br02-early-talker.fs" --sessions 1 || return 1
    t0=$(date +%s%N)
    conn
    reply && [ "$LAST" = "220 mx.example.com ESMTP" ] || return 1
    t1=$(date +%s%N)
    [ $(((t1 - t0) / 1000000)) -ge 1900 ] || { echo "greeting after $(((t1 - t0) / 1000000)) ms"; return 1; }
    say "EHLO probe.example.net"; reply
    say "QUIT"; reply; [ "$LAST" = "221 2.0.0 Bye" ] || return 1
    disconnect
    wait_server 5
    [ "$SRV_RC" -eq 0 ] && hasnt VIOLATION && hasnt 'EVENT early-talk' && hasnt 'EVENT pipelined' &&
        hasnt 'EVENT closed-before-reply'
}

t_pipelining() {
    start_server "$SC/br02-early-talker.fs" --sessions 1 || return 1
    conn
    reply || return 1
    printf 'EHLO probe.example.net\r\nQUIT\r\n' >&"$C"
    reply && [ "$LAST" = "554 5.5.1 SMTP synchronization error" ] || { echo "got '$LAST'"; return 1; }
    disconnect
    wait_server 5
    has '^1 EVENT pipelined bytes=6$' && has '^1 VIOLATION client sent more after EHLO' &&
        has '^1 C: QUIT$'
}

t_pipelining_event_only() {
    # Without forbid-pipelining the event is recorded and the dialogue goes on.
    printf '%s\n' 'send 220 x' 'expect EHLO' 'send 250 x' 'quit' >"$WORK/pipe.fs"
    start_server "$WORK/pipe.fs" --sessions 1 || return 1
    conn
    reply || return 1
    printf 'EHLO a\r\nQUIT\r\n' >&"$C"
    reply && [ "$LAST" = "250 x" ] || return 1
    reply && [ "$LAST" = "221 2.0.0 Bye" ] || return 1
    disconnect
    wait_server 5
    [ "$SRV_RC" -eq 0 ] && has '^1 EVENT pipelined bytes=6$' && hasnt VIOLATION
}

t_multiline_greeting_early() {
    start_server "$SC/br01-multiline-greeting.fs" --sessions 1 || return 1
    local l1 l2
    conn
    read -r -t 2 -u "$C" l1 && read -r -t 2 -u "$C" l2 || return 1
    [[ $l2 == 220-Unsolicited* ]] || return 1
    say "EHLO impatient.example.net"
    RT=3 reply
    [[ $LAST == "521 5.5.1 Protocol error" ]] || { echo "got '$LAST'"; return 1; }
    disconnect
    wait_server 5
    has '^1 EVENT early-talk' && has '^1 VIOLATION' && hasnt 'S: 220 see'
}

t_expect_mismatch() {
    start_server "$SC/br14-mail-530.fs" --sessions 1 || return 1
    conn
    reply
    say "HELO probe.example.net"
    reply && [ "$LAST" = "503 5.5.1 Bad sequence of commands" ] || return 1
    disconnect
    wait_server 5
    has '^1 VIOLATION expected EHLO got HELO probe.example.net$'
}

t_mail_530_close() {
    start_server "$SC/br14-mail-530.fs" --sessions 1 || return 1
    conn
    reply; say "EHLO p"; reply
    say "MAIL FROM:<probe@example.com>"; reply
    [[ $LAST == "530 5.7.57 "* ]] || return 1
    say "QUIT"
    RT=3 reply && { echo "unexpected reply to QUIT: $LAST"; return 1; }
    disconnect
    wait_server 5
    [ "$SRV_RC" -eq 0 ] && has '^1 C: QUIT$' && hasnt 'S: 221'
}

t_reject_if() {
    start_server "$SC/br21-no-starttls.fs" --sessions 1 || return 1
    conn
    reply; say "EHLO p"; reply
    say "STARTTLS"; reply
    [ "$LAST" = "502 5.5.1 Error: command not recognized" ] || return 1
    disconnect
    wait_server 5
    has '^1 VIOLATION reject-if STARTTLS'
}

t_forbid_second_auth() {
    local b64
    b64=$(printf '\0%s\0%s' "$FS_USER" "$FS_PASS" | base64 -w0)
    start_server "$SC/br18a-535.fs" --sessions 1 || return 1
    conn
    reply; say "EHLO p"; reply
    say "AUTH PLAIN $b64"; reply
    [ "$LAST" = "535 5.7.8 Error: authentication failed: authentication failure" ] || return 1
    say "AUTH LOGIN"; reply
    [ "$LAST" = "503 5.5.1 Bad sequence of commands" ] || return 1
    disconnect
    wait_server 5
    has '^1 EVENT auth mech=PLAIN user=probe@example.com result=forced\(credentials-ok\)$' &&
        has '^1 VIOLATION forbidden command \(forbid AUTH'
}

auth_script() {
    printf '%s\n' 'send 220 x' 'expect EHLO' 'send 250-x' 'send 250 AUTH PLAIN LOGIN CRAM-MD5' \
        "$1 \${FS_USER} \${FS_PASS}" 'quit' >"$WORK/auth.fs"
}

t_auth_plain() {
    local ok bad
    ok=$(printf 'admin\0%s\0%s' "$FS_USER" "$FS_PASS" | base64 -w0)
    bad=$(printf '\0%s\0wrong' "$FS_USER" | base64 -w0)
    auth_script auth-plain-expect
    start_server "$WORK/auth.fs" --sessions 3 || return 1
    conn; reply; say "EHLO p"; reply; say "AUTH PLAIN $ok"; reply
    [ "$LAST" = "235 2.7.0 Authentication successful" ] || { echo "ir: $LAST"; return 1; }
    say QUIT; reply; disconnect
    conn; reply; say "EHLO p"; reply; say "AUTH PLAIN"; reply
    [ "$LAST" = "334 " ] || { echo "challenge: '$LAST'"; return 1; }
    say "$bad"; reply
    [ "$LAST" = "535 5.7.8 Authentication credentials invalid" ] || return 1
    say QUIT; reply; disconnect
    conn; reply; say "EHLO p"; reply; say "AUTH PLAIN"; reply; say "*"; reply
    [ "$LAST" = "501 5.7.0 Authentication cancelled" ] || return 1
    disconnect
    wait_server 5
    has '^1 EVENT auth mech=PLAIN user=probe@example.com result=ok$' &&
        has '^2 EVENT auth mech=PLAIN user=probe@example.com result=bad-credentials$' &&
        has '^3 EVENT auth mech=PLAIN result=cancelled$'
}

t_auth_login() {
    auth_script auth-login-lower
    start_server "$WORK/auth.fs" --sessions 2 || return 1
    conn; reply; say "EHLO p"; reply; say "AUTH LOGIN"; reply
    [ "$LAST" = "334 dXNlcm5hbWU6" ] || return 1
    say "$(printf %s "$FS_USER" | base64 -w0)"; reply
    [ "$LAST" = "334 cGFzc3dvcmQ6" ] || return 1
    say "$(printf %s "$FS_PASS" | base64 -w0)"; reply
    [ "$LAST" = "235 2.7.0 Authentication successful" ] || return 1
    say QUIT; reply; disconnect
    # BR-17 B: an initial response is a violation, ignored by the server.
    conn; reply; say "EHLO p"; reply
    say "AUTH LOGIN $(printf %s "$FS_USER" | base64 -w0)"; reply
    [ "$LAST" = "334 dXNlcm5hbWU6" ] || return 1
    say "$(printf %s "$FS_PASS" | base64 -w0)"; reply
    say "$(printf %s "$FS_PASS" | base64 -w0)"; reply
    [ "$LAST" = "535 5.7.8 Authentication credentials invalid" ] || return 1
    disconnect
    wait_server 5
    has '^1 EVENT auth mech=LOGIN user=probe@example.com result=ok$' &&
        has '^2 VIOLATION AUTH LOGIN sent with an initial response' &&
        has '^2 EVENT auth mech=LOGIN user=s3cret! result=bad-credentials$'
}

t_auth_cram() {
    local chal digest
    auth_script auth-cram-expect
    start_server "$WORK/auth.fs" --sessions 1 || return 1
    conn; reply; say "EHLO p"; reply; say "AUTH CRAM-MD5"; reply
    [[ $LAST == "334 "* ]] || return 1
    chal=$(printf %s "${LAST#334 }" | base64 -d)
    [[ $chal =~ ^\<[0-9]+\.[0-9]+@fault\>$ ]] || { echo "challenge '$chal'"; return 1; }
    digest=$(printf %s "$chal" | openssl dgst -md5 -hmac "$FS_PASS" | sed 's/.*= //')
    say "$(printf '%s %s' "$FS_USER" "$digest" | base64 -w0)"; reply
    [ "$LAST" = "235 2.7.0 Authentication successful" ] || { echo "got $LAST"; return 1; }
    say QUIT; reply; disconnect
    wait_server 5
    [ "$SRV_RC" -eq 0 ] && has '^1 EVENT auth mech=CRAM-MD5 user=probe@example.com result=ok$'
}

# s_client STARTTLS dialogue; $1 scenario, rest s_client options.
sclient() {
    local sc=$1
    shift
    # one command per round trip (the server may forbid pipelining)
    { printf 'EHLO probe.example.net\n'; sleep 0.5; printf 'QUIT\n'; } |
        timeout 10 openssl s_client -starttls smtp -connect "127.0.0.1:$PORT" \
            -CAfile "$CERT_DIR/ca.pem" -crlf -ign_eof "$@" >"$WORK/sc.out" 2>&1
}

t_starttls_verified() {
    start_server "$SC/br09-starttls-ready.fs" --sessions 1 || return 1
    sclient br09 -servername mx.lab.test -verify_return_error -verify_hostname mx.lab.test
    wait_server 5
    grep -q 'Verify return code: 0 (ok)' "$WORK/sc.out" || { cat "$WORK/sc.out"; return 1; }
    grep -q '^221 2.0.0 Bye' "$WORK/sc.out" || { cat "$WORK/sc.out"; return 1; }
    [ "$SRV_RC" -eq 0 ] && has '^1 EVENT tls-start sni=mx.lab.test$' &&
        has '^1 EVENT tls-done version=TLSv1\.[23] cipher=[A-Z0-9_-]+ cert=default$' &&
        has '^1 C: EHLO probe.example.net$' && hasnt VIOLATION
}

t_sni_selects_cert() {
    start_server "$SC/br22-sni-selects-cert.fs" --sessions 2 || return 1
    sclient br22 -servername mx.lab.test
    grep -q 'subject=CN = mx.lab.test' "$WORK/sc.out" &&
        grep -q 'Verify return code: 0 (ok)' "$WORK/sc.out" || { cat "$WORK/sc.out"; return 1; }
    sclient br22 -noservername
    grep -q 'Verify return code: 18 (self-signed certificate)\|Verify return code: 18 (self signed certificate)' "$WORK/sc.out" ||
        { cat "$WORK/sc.out"; return 1; }
    wait_server 5
    has '^1 EVENT tls-done .* cert=mx.lab.test$' && has '^2 EVENT tls-start sni=-$' &&
        has '^2 EVENT tls-done .* cert=default$'
}

t_selfsigned_rejected() {
    start_server "$SC/br26b-selfsigned.fs" --sessions 1 || return 1
    sclient br26b -servername mx.lab.test -verify_return_error
    wait_server 5
    grep -qi 'verify error\|self.signed' "$WORK/sc.out" || { cat "$WORK/sc.out"; return 1; }
    has '^1 EVENT tls-fail .*(unknown ca|bad certificate|certificate)' && has '^1 EVENT close$'
}

t_tls_alert() {
    start_server "$SC/br26c-alert.fs" --sessions 1 || return 1
    sclient br26c -servername mx.lab.test
    wait_server 5
    grep -q 'alert handshake failure' "$WORK/sc.out" || { cat "$WORK/sc.out"; return 1; }
    has '^1 S: 220 TLS go ahead$' && has '^1 EVENT tls-clienthello bytes=[0-9]+ sni=mx.lab.test$' &&
        has '^1 EVENT tls-alert sent=handshake_failure$'
}

t_close_before_hello() {
    start_server "$SC/br26a-close-in-handshake.fs" --sessions 1 || return 1
    sclient br26a -servername mx.lab.test
    wait_server 5
    grep -q 'CONNECTED' "$WORK/sc.out" && grep -q 'Cipher is (NONE)' "$WORK/sc.out" || { cat "$WORK/sc.out"; return 1; }
    has '^1 EVENT tls-clienthello bytes=[0-9]+ sni=mx.lab.test$' && has '^1 EVENT close$' &&
        hasnt 'tls-done'
}

t_tls_stall() {
    local t0 t1
    start_server "$SC/tls-stall.fs" --sessions 1 || return 1
    t0=$(date +%s)
    printf 'EHLO x\n' | timeout 3 openssl s_client -starttls smtp -connect "127.0.0.1:$PORT" \
        -servername mx.lab.test -ign_eof >"$WORK/sc.out" 2>&1
    t1=$(date +%s)
    wait_server 5
    [ $((t1 - t0)) -ge 2 ] || { echo "handshake ended after $((t1 - t0)) s"; return 1; }
    has '^1 EVENT tls-clienthello bytes=[0-9]+ sni=mx.lab.test$' && has '^1 EVENT hold-end bytes=0$' &&
        has '^1 EVENT client-closed'
}

t_implicit_tls() {
    start_server "$SC/implicit-tls-ok.fs" --sessions 1 || return 1
    printf 'EHLO probe.example.net\nQUIT\n' |
        timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername mx.lab.test \
            -CAfile "$CERT_DIR/ca.pem" -crlf -ign_eof >"$WORK/sc.out" 2>&1
    wait_server 5
    grep -q '^220 mx.example.com ESMTP ready' "$WORK/sc.out" && grep -q '^221 2.0.0 Bye' "$WORK/sc.out" ||
        { cat "$WORK/sc.out"; return 1; }
    has '^1 EVENT tls-done' && has '^1 C: EHLO probe.example.net$'
}

t_serve_starttls_reehlo() {
    start_server "$SC/normal-tls-ok.fs" --sessions 1 || return 1
    sclient normal -servername mx.lab.test -verify_return_error
    wait_server 5
    grep -q '^250-AUTH PLAIN LOGIN CRAM-MD5' "$WORK/sc.out" || { cat "$WORK/sc.out"; return 1; }
    # EHLO before TLS advertises STARTTLS, after TLS AUTH.
    has '^1 S: 250-STARTTLS$' && has '^1 S: 250-AUTH PLAIN LOGIN CRAM-MD5$' && has '^1 EVENT tls-done'
}

t_serve_requires_ehlo_after_tls() {
    printf '%s\n' 'send 220 x' 'expect EHLO' 'send 250 STARTTLS' 'expect STARTTLS' \
        'send 220 go' "starttls $CERT_DIR/valid.crt $CERT_DIR/valid.key" 'on MAIL 250 ok' 'serve' >"$WORK/reehlo.fs"
    start_server "$WORK/reehlo.fs" --sessions 1 || return 1
    printf 'MAIL FROM:<a@b>\n' |
        timeout 10 openssl s_client -starttls smtp -connect "127.0.0.1:$PORT" -crlf -ign_eof >"$WORK/sc.out" 2>&1
    wait_server 5
    grep -q '^503 5.5.1 Error: send HELO/EHLO first' "$WORK/sc.out" || { cat "$WORK/sc.out"; return 1; }
    has '^1 VIOLATION MAIL FROM:<a@b> before EHLO/HELO after STARTTLS'
}

t_overlong_client_line() {
    start_server "$SC/normal-ok.fs" --sessions 1 || return 1
    conn; reply
    printf 'EHLO %05000d\r\n' 0 >&"$C"
    reply && [ "$LAST" = "500 5.5.2 Line too long" ] || { echo "got $LAST"; return 1; }
    disconnect
    wait_server 5
    has '^1 EVENT overlong-line limit=4096$' && has '^1 VIOLATION client line longer than 4096'
}

t_rst() {
    start_server "$SC/br28-rst-after-ehlo.fs" --sessions 1 || return 1
    conn; reply; say "EHLO p"; reply
    [ "$LAST" = "250 mx.example.com" ] || return 1
    sleep 0.2
    say QUIT 2>/dev/null
    RT=2 reply && return 1
    disconnect 2>/dev/null
    wait_server 5
    [ "$SRV_RC" -eq 0 ] && has '^1 EVENT rst$' && hasnt 'EVENT close'
}

t_close_after_ehlo_records_quit() {
    start_server "$SC/br28-close-after-ehlo.fs" --sessions 1 || return 1
    conn; reply; say "EHLO p"; reply
    say QUIT
    RT=2 reply && return 1
    disconnect
    wait_server 5
    # EVENT close (our FIN) comes before the QUIT the client still sent.
    [ "$(grep -nE '^1 (EVENT close|C: QUIT)$' "$TR" | cut -d: -f2- | tr '\n' ,)" = "1 EVENT close,1 C: QUIT," ]
}

t_forbid_after_close() {
    start_server "$SC/br05-421.fs" --sessions 1 || return 1
    conn; reply
    [[ $LAST == "421 4.7.0 "* ]] || return 1
    say "EHLO p"
    sleep 0.3
    disconnect
    wait_server 5
    [ "$SRV_RC" -eq 1 ] && has '^1 VIOLATION forbidden command after close \(forbid EHLO'
}

t_hold_max_seconds() {
    local t0 t1
    MAXS=2 start_server "$SC/silent-after-connect.fs" --sessions 1 || return 1
    t0=$(date +%s)
    conn
    wait_server 10
    t1=$(date +%s)
    disconnect
    [ $((t1 - t0)) -le 5 ] || { echo "server lived $((t1 - t0)) s"; return 1; }
    [ "$SRV_RC" -eq 3 ] && has '^1 EVENT timeout in=hold' && has '^0 EVENT exit .*reason=max-seconds rc=3$'
}

t_sigterm() {
    start_server "$SC/silent-after-connect.fs" || return 1
    conn
    sleep 0.3
    kill -TERM "$SRV"
    wait_server 5
    disconnect
    [ "$SRV_RC" -eq 0 ] && has '^1 EVENT stopped$' && has 'reason=signal'
}

t_concurrent_sessions() {
    local t0 t1 c1 c2 l1 l2
    printf '%s\n' 'wait 1.5' 'send 220 slow' 'quit' >"$WORK/slow.fs"
    start_server "$WORK/slow.fs" --sessions 2 || return 1
    t0=$(date +%s%N)
    exec {c1}<>"/dev/tcp/127.0.0.1/$PORT"
    exec {c2}<>"/dev/tcp/127.0.0.1/$PORT"
    read -r -t 5 -u "$c1" l1
    read -r -t 5 -u "$c2" l2
    t1=$(date +%s%N)
    exec {c1}>&- {c2}>&-
    wait_server 5
    [ "${l1%$'\r'}" = "220 slow" ] && [ "${l2%$'\r'}" = "220 slow" ] || return 1
    [ $(((t1 - t0) / 1000000)) -lt 2800 ] || { echo "took $(((t1 - t0) / 1000000)) ms"; return 1; }
    has '^2 S: 220 slow$' && has '^1 S: 220 slow$'
}

t_junk_deterministic() {
    local i
    for i in 1 2; do
        start_server "$SC/garbage-greeting.fs" --sessions 1 || return 1
        conn
        timeout 5 head -c 4096 <&"$C" >"$WORK/junk.$i"
        disconnect
        wait_server 5
    done
    [ "$(stat -c %s "$WORK/junk.1")" -eq 4096 ] && cmp -s "$WORK/junk.1" "$WORK/junk.2" || return 1
    # no line starts with a digit, there are NULs and lone CRs
    ! LC_ALL=C grep -qaE '^[0-9]' "$WORK/junk.1" &&
        [ "$(tr -cd '\000' <"$WORK/junk.1" | wc -c)" -gt 0 ] && has '^1 EVENT junk seed=1 bytes=4096$'
}

t_drip() {
    local t0 t1
    printf '%s\n' 'drip 30 220 drip' 'quit' >"$WORK/drip.fs"
    start_server "$WORK/drip.fs" --sessions 1 || return 1
    t0=$(date +%s%N)
    conn; reply
    t1=$(date +%s%N)
    [ "$LAST" = "220 drip" ] || return 1
    # 10 bytes, 9 pauses of 30 ms
    [ $(((t1 - t0) / 1000000)) -ge 260 ] || { echo "dripped in $(((t1 - t0) / 1000000)) ms"; return 1; }
    say QUIT; reply; disconnect
    wait_server 5
    has '^1 S: 220 drip$'
}

t_endless() {
    local i
    start_server "$SC/endless-ehlo-reply.fs" --sessions 1 || return 1
    conn; reply; say "EHLO p"
    for i in $(seq 50); do read -r -t 2 -u "$C" _ || return 1; done
    disconnect
    wait_server 5
    has '^1 S: 250-x$' && has '^1 EVENT endless-continuation lines=[0-9]+$'
}

t_raw_bytes() {
    printf '%s\n' 'send-raw 220 a\x00b\r\n' 'line-end lf' 'send 250 lf' 'long-line 10 500' 'send-lf 221 x' >"$WORK/raw.fs"
    start_server "$WORK/raw.fs" --sessions 1 || return 1
    conn
    timeout 3 cat <&"$C" >"$WORK/raw.out"
    disconnect
    wait_server 5
    [ "$(od -An -tx1 "$WORK/raw.out" | tr -d ' \n')" = \
        "$(printf '220 a\0b\r\n250 lf\n500 xxxxxxxxxx\n221 x\n' | od -An -tx1 | tr -d ' \n')" ] ||
        { od -c "$WORK/raw.out"; return 1; }
    has '^1 S: 220 a\\x00b\\x0d\\x0a$' && has '^1 EVENT long-line octets=15$'
}

t_bare_lf_client() {
    start_server "$SC/normal-ok.fs" --sessions 1 || return 1
    conn; reply
    printf 'EHLO p\n' >&"$C"; reply
    printf 'QUIT\r\n' >&"$C"; reply
    disconnect
    wait_server 5
    has '^1 C: EHLO p$' && [ "$(count '^1 EVENT bare-lf$')" -eq 1 ]
}

t_quit_tolerates_close() {
    start_server "$SC/br04a-554-multiline.fs" --sessions 1 || return 1
    conn; reply
    [ "$LAST" = "554-mx.example.com Service not available|554-No SMTP service|554 See https://postmaster.example.com/" ] || return 1
    disconnect
    wait_server 5
    [ "$SRV_RC" -eq 0 ] && has '^1 EVENT client-closed$' && hasnt VIOLATION
}

# Run last: a sanitizer build (MH_FAULTSERVER_SANITIZE=ON) reports on the
# server's stderr, which start_server keeps in $WORK/err.N.
t_no_sanitizer_reports() {
    ! grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK"/err.* 2>/dev/null | grep -q . ||
        { grep -hE -A20 'Sanitizer|runtime error' "$WORK"/err.*; return 1; }
}

# --- run -------------------------------------------------------------

run "every scenario loads (--check), has SPDX and an expected result" t_check_scenarios
run "load errors: unset variable, unknown directive, bad certificate" t_load_errors
run "port file is written atomically, only once listening" t_port_file_atomic
run "normal-ok: a patient client gets a clean transcript" t_normal_ok
run "br02: early talker gets 554, EVENT early-talk + VIOLATION" t_early_talker
run "br02: a patient client waits out the 2 s greet pause, no violation" t_patient_client_ok
run "br02: two commands in one write -> EVENT pipelined + 554" t_pipelining
run "pipelining without forbid-pipelining is only recorded" t_pipelining_event_only
run "br01: talking inside the multi-line greeting -> 521" t_multiline_greeting_early
run "expect mismatch -> 503 + VIOLATION" t_expect_mismatch
run "br14: 530 to MAIL, QUIT left unanswered" t_mail_530_close
run "reject-if answers its text and records a VIOLATION" t_reject_if
run "br18a: 535 forced, a second AUTH is forbidden" t_forbid_second_auth
run "AUTH PLAIN: initial response, 334 challenge, cancel" t_auth_plain
run "AUTH LOGIN: lowercase prompts; initial response is a violation" t_auth_login
run "AUTH CRAM-MD5: HMAC-MD5 verified" t_auth_cram
run "br09: STARTTLS with verified chain via openssl s_client" t_starttls_verified
run "br22: tls-sni picks the certificate by SNI" t_sni_selects_cert
run "br26b: self-signed leaf, client alert recorded as tls-fail" t_selfsigned_rejected
run "br26c: raw handshake_failure alert after the ClientHello" t_tls_alert
run "br26a: close after the ClientHello, no ServerHello" t_close_before_hello
run "tls-stall: handshake stalls until the client gives up" t_tls_stall
run "implicit TLS (port 465 style)" t_implicit_tls
run "serve: on-plain/on-tls EHLO rules and on-starttls" t_serve_starttls_reehlo
run "serve: MAIL right after TLS without EHLO is a violation" t_serve_requires_ehlo_after_tls
run "client line over 4096 octets: 500 + VIOLATION" t_overlong_client_line
run "br28: rst resets the connection" t_rst
run "br28: close sends FIN and still records the late QUIT" t_close_after_ehlo_records_quit
run "br05: forbid applies to what arrives after close" t_forbid_after_close
run "hold ends at --max-seconds, exit 3" t_hold_max_seconds
run "SIGTERM stops the server and its sessions" t_sigterm
run "two connections are served at the same time" t_concurrent_sessions
run "junk is deterministic binary without reply lines" t_junk_deterministic
run "drip sends one byte at a time" t_drip
run "endless-continuation until the client leaves" t_endless
run "send-raw escapes, line-end lf, long-line, send-lf bytes" t_raw_bytes
run "bare-LF client line accepted and recorded" t_bare_lf_client
run "quit tolerates a client that just closes" t_quit_tolerates_close
run "no sanitizer report on the server's stderr" t_no_sanitizer_reports

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
