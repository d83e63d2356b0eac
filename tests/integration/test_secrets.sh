#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Secrets: passwords come only from a file or an environment
# variable, and never appear in any output: the Nagios, JSON and Prometheus
# renderings, the --textfile, the -v/-vv/-vvv trace on stderr, usage
# errors. Checked for the password itself and for its wire forms, the
# base64 of AUTH PLAIN's "\0user\0password" and of AUTH LOGIN's password,
# against the lab's submission port (Postfix + Dovecot SASL, STARTTLS
# required: PLAIN, LOGIN, CRAM-MD5; a wrong password too) and against the
# fault server (PLAIN, LOGIN, CRAM-MD5 after STARTTLS, LOGIN in plain text,
# a 535, junk in the AUTH exchange).
# Lab parts needed: Postfix submission + Dovecot, the certificates.
. "$(dirname "$0")/lib.sh"
needs_lab
CA=(--ca-file "$LAB_CA_FILE" --sni "$LAB_MX_NAME" --verify-name "$LAB_MX_NAME")

# forms USER PASSWORD: the strings that must never be printed.
forms() {
    printf '%s\n' "$2"
    printf '%s' "$2" | base64 -w0
    echo
    printf '\0%s\0%s' "$1" "$2" | base64 -w0
    echo
    printf '%s\0%s' "$1" "$2" | base64 -w0
    echo
}

# no_secret USER PASSWORD FILE...: none of the forms is in any FILE.
no_secret() {
    local user=$1 pw=$2 hit="" f s
    shift 2
    while IFS= read -r s; do
        [ -n "$s" ] || continue
        for f in "$@"; do
            if grep -Fq -- "$s" "$f" 2>/dev/null; then
                hit+="$(basename "$f") has '$s'; "
            fi
        done
    done < <(forms "$user" "$pw")
    if [ -z "$hit" ]; then ok "no password form in $(for f in "$@"; do basename "$f"; done | tr '\n' ' ')"; else
        not_ok "secret leaked: $hit"
    fi
}

# nagios_line1 REGEX: the status line of the last each_format's Nagios run.
nagios_line1() {
    if head -n 1 "$T_TMP/stdout.nagios" | grep -Eq -- "$1"; then
        ok "status line ~ /$1/"
    else
        not_ok "status line $(head -n 1 "$T_TMP/stdout.nagios") !~ /$1/"
    fi
}

# each_format USER PASSWORD RC ARGS...: runs ARGS in the three formats with
# -vvv and --textfile; checks the exit code, the trace redaction and that
# no secret is in stdout, stderr or the textfile.
each_format() {
    local user=$1 pw=$2 want=$3 fmt n=0
    shift 3
    for fmt in nagios json prometheus; do
        n=$((n + 1))
        rm -f "$T_TMP/metrics.prom"
        run "$@" -vvv --output "$fmt" --textfile "$T_TMP/metrics.prom"
        expect_rc "$want"
        printf '%s\n' "$OUT" >"$T_TMP/stdout.$fmt"
        cp "$T_TMP/stderr" "$T_TMP/stderr.$fmt"
        no_secret "$user" "$pw" "$T_TMP/stdout.$fmt" "$T_TMP/stderr.$fmt" \
            "$T_TMP/metrics.prom"
    done
    # The trace shows the exchange, with the credentials replaced.
    if grep -q '^>>> <credentials redacted>' "$T_TMP/stderr.nagios"; then
        ok "-vvv trace redacts the AUTH lines"
    else
        not_ok "-vvv trace has no redacted AUTH line"
        sed 's/^/       > /' "$T_TMP/stderr.nagios" | head -n 40
    fi
}

pwfile=$T_TMP/password
printf '%s\n' "$LAB_PASSWORD" >"$pwfile"
chmod 600 "$pwfile"

for mech in PLAIN LOGIN CRAM-MD5; do
    case_ "lab submission, AUTH $mech, password file"
    each_format "$LAB_USER" "$LAB_PASSWORD" 0 smtp -H 127.0.0.1 \
        -p "$LAB_SUBMISSION_PORT" --starttls "${CA[@]}" -U "$LAB_USER" \
        --auth-password-file "$pwfile" --auth-mech "$mech"
    nagios_line1 "AUTH ok"
done

case_ "lab submission, password from the environment"
export MH_TEST_SECRET=$LAB_PASSWORD
each_format "$LAB_USER" "$LAB_PASSWORD" 0 smtp -H 127.0.0.1 \
    -p "$LAB_SUBMISSION_PORT" --starttls "${CA[@]}" -U "$LAB_USER" \
    --auth-password-env MH_TEST_SECRET
unset MH_TEST_SECRET

case_ "lab submission, wrong password (535)"
wrong='Wr0ng-Lab-Secret!x'
printf '%s\n' "$wrong" >"$T_TMP/wrong"
for mech in PLAIN LOGIN; do
    each_format "$LAB_USER" "$wrong" 2 smtp -H 127.0.0.1 \
        -p "$LAB_SUBMISSION_PORT" --starttls "${CA[@]}" -U "$LAB_USER" \
        --auth-password-file "$T_TMP/wrong" --auth-mech "$mech"
    nagios_line1 "\[auth\] .*535"
done

# The fault server decodes what the probe sent, so these runs also prove
# the credentials went out (EVENT auth ... result=ok).
export FS_USER=probe@example.net FS_PASS='Fs-S3cret!pw'
printf '%s\n' "$FS_PASS" >"$T_TMP/fspw"
FSA=(-U "$FS_USER" --auth-password-file "$T_TMP/fspw")
for mech in PLAIN LOGIN CRAM-MD5; do
    case_ "fault server, STARTTLS, AUTH $mech"
    for fmt in nagios json prometheus; do
        FS_CERT=valid fault normal-tls-ok
        run smtp -H 127.0.0.1 -p "$FS_PORT" --starttls "${CA[@]}" "${FSA[@]}" \
            --auth-mech "$mech" -vvv --output "$fmt"
        expect_rc 0
        printf '%s\n' "$OUT" >"$T_TMP/stdout"
        no_secret "$FS_USER" "$FS_PASS" "$T_TMP/stdout" "$T_TMP/stderr"
    done
    sleep 0.2
    expect_file_has "$FS_TRANSCRIPT" "result=ok"
done

case_ "fault server, plain-text LOGIN (lower-case prompts)"
fault br17a-login-lowercase
run smtp -H 127.0.0.1 -p "$FS_PORT" "${FSA[@]}" --auth-mech LOGIN \
    --allow-plaintext-auth -vvv --output json
expect_rc 0
printf '%s\n' "$OUT" >"$T_TMP/stdout"
no_secret "$FS_USER" "$FS_PASS" "$T_TMP/stdout" "$T_TMP/stderr"

case_ "fault server, 535 after a complete exchange"
fault br18a-535
run smtp -H 127.0.0.1 -p "$FS_PORT" "${FSA[@]}" --allow-plaintext-auth -vvv
expect_rc 2
printf '%s\n' "$OUT" >"$T_TMP/stdout"
no_secret "$FS_USER" "$FS_PASS" "$T_TMP/stdout" "$T_TMP/stderr"

case_ "fault server, junk in the AUTH exchange"
for seed in 1 2 3; do
    FS_JUNK_SEED=$seed fault junk-in-auth
    run smtp -H 127.0.0.1 -p "$FS_PORT" "${FSA[@]}" --allow-plaintext-auth \
        -vvv --output json
    printf '%s\n' "$OUT" >"$T_TMP/stdout"
    no_secret "$FS_USER" "$FS_PASS" "$T_TMP/stdout" "$T_TMP/stderr"
done

case_ "no password on the command line"
argv_secret='Argv-S3cret!pw'
for opt in --auth-password --authpass --password; do
    run smtp -H 127.0.0.1 -U u "$opt" "$argv_secret"
    expect_rc 3
    expect_line1 "^MAILHEALTH UNKNOWN - usage: "
    run smtp -H 127.0.0.1 -U u "$opt=$argv_secret"
    expect_rc 3
    printf '%s\n' "$OUT" >"$T_TMP/stdout"
    no_secret u "$argv_secret" "$T_TMP/stdout" "$T_TMP/stderr"
done
run smtp -H 127.0.0.1 -U u
expect_rc 3
expect_line1 "needs --auth-password-file or --auth-password-env"
# A flag given a value: the value is not echoed either.
run smtp -H 127.0.0.1 --starttls="$argv_secret"
expect_rc 3
printf '%s\n' "$OUT" >"$T_TMP/stdout"
no_secret u "$argv_secret" "$T_TMP/stdout" "$T_TMP/stderr"

finish
