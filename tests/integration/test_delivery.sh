#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Integration test of `check_mailhealth delivery` against the
# lab's real Postfix (submission 587-style STARTTLS port and implicit-TLS
# port, Dovecot SASL) and Dovecot (IMAP STARTTLS and IMAPS), with LMTP
# delivery into Maildirs.
#
# Order matters: the lab's Dovecot delays every login from an address for
# 2, 4, 8, 15 s after failed authentications (its auth penalty, forgotten
# after 29 s), and Postfix's SASL goes through the same Dovecot. So the
# cases with wrong passwords run last, and every run that logs in has a
# deadline well above that penalty.
. "$(dirname "$0")/lib.sh"
needs_lab

SUBMIT=smtp://127.0.0.1:$LAB_SUBMISSION_PORT
SUBMITS=smtps://127.0.0.1:$LAB_SMTPS_PORT
IMAP=imap://127.0.0.1:$LAB_IMAP_PORT/INBOX
IMAPS=imaps://127.0.0.1:$LAB_IMAPS_PORT
T=30 # deadline for runs that must succeed (see the penalty note above)

# The options every delivery run shares; the submission/IMAP URLs and the
# recipient come from the caller.
common=(--auth-user "$LAB_USER" --auth-password-file "$LAB_PASSWORD_FILE"
    --mail-from "$LAB_USER" --imap-user "$LAB_USER"
    --imap-password-file "$LAB_PASSWORD_FILE" --ca-file "$LAB_CA_FILE")

WRONG=$T_TMP/wrong-password
printf 'not-the-password\n' >"$WRONG"
chmod 600 "$WRONG"

# probe_mails DIR: number of probe mails (by their fixed Subject prefix) in
# the Maildir DIR.
probe_mails() {
    grep -l '^Subject: mailhealth probe ' "$1"/new/* "$1"/cur/* 2>/dev/null | wc -l
}

# perf LABEL: the value of a perfdata label in the status line ("" if none).
perf() {
    printf '%s\n' "$LINE1" | tr ' ' '\n' | sed -n "s/^$1=\([^;s]*\)s\{0,1\};.*/\1/p" | head -n 1
}

# expect_delay: the status line has a numeric delay between 0 and 10 s;
# prints it for the record.
expect_delay() {
    local d
    d=$(perf delay)
    if [[ $d =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v d="$d" 'BEGIN { exit !(d >= 0 && d < 10) }'; then
        ok "delay $d s"
        echo "# measured: $T_NAME: delay=${d}s time_submit=$(perf time_submit)s time_imap=$(perf time_imap)s"
    else
        not_ok "no plausible delay in the perfdata (got '$d')"
    fi
}

# token_of_last_run: the probe token the last -v run printed on stderr.
token_of_last_run() {
    sed -n 's/^\* probe token \([0-9a-f]\{32\}\)$/\1/p' "$T_TMP/stderr" | head -n 1
}

# plant NAME AGE: puts a probe mail of an earlier run into the probe
# mailbox, received AGE ago (Maildir: the file's mtime is the IMAP
# INTERNALDATE).
plant() {
    local f=$LAB_MAILDIR/new/$1.mailhealth-test
    printf 'Date: Mon, 01 Jan 2024 00:00:00 +0000\r\nFrom: <%s>\r\nTo: <%s>\r\nSubject: mailhealth probe %s\r\nMessage-ID: <%s@lab.test>\r\n\r\nplanted by test_delivery.sh\r\n' \
        "$LAB_USER" "$LAB_USER" "$1" "$1" >"$f"
    chown nobody:nogroup "$f"
    chmod 600 "$f"
    touch -d "$2" "$f"
}

# ---------------------------------------------------------------------------
case_ "usage: --imap missing"
run delivery --submit "$SUBMIT" --rcpt-to "$LAB_USER" "${common[@]}"
expect_rc 3
expect_line1 '^MAILHEALTH UNKNOWN - usage: .*--imap'

case_ "usage: password in the URL"
run delivery --submit "smtp://u:p@127.0.0.1:$LAB_SUBMISSION_PORT" --imap "$IMAP" \
    --rcpt-to "$LAB_USER" "${common[@]}"
expect_rc 3
expect_line1 'must not contain a user or password'

case_ "usage: wrong scheme"
run delivery --submit "http://127.0.0.1:$LAB_SUBMISSION_PORT" --imap "$IMAP" \
    --rcpt-to "$LAB_USER" "${common[@]}"
expect_rc 3
expect_line1 'smtp:// \(STARTTLS\) or smtps://'

case_ "usage: exactly one recipient"
run delivery --submit "$SUBMIT" --imap "$IMAP" --rcpt-to "$LAB_USER" \
    --rcpt-to "$LAB_USER2" "${common[@]}"
expect_rc 3
expect_line1 'exactly one --rcpt-to'

# ---------------------------------------------------------------------------
before=$(probe_mails "$LAB_MAILDIR")
tokens=()

case_ "587 STARTTLS + 143 STARTTLS"
run delivery --submit "$SUBMIT" --imap "$IMAP" --rcpt-to "$LAB_USER" \
    "${common[@]}" -t "$T" -v
expect_rc 0
expect_line1 '^MAILHEALTH OK - probe@lab.test: delivered via 127\.0\.0\.1:[0-9]+ to 127\.0\.0\.1:[0-9]+/INBOX in [0-9.]+ s'
expect_delay
expect_out "phase submit: accepted by 127.0.0.1:$LAB_SUBMISSION_PORT (STARTTLS TLSv1."
expect_out "phase imap_login: logged in to 127.0.0.1:$LAB_IMAP_PORT/INBOX as probe@lab.test, mailbox INBOX selected (STARTTLS TLSv1."
expect_out "phase cleanup: deleted the probe mail"
tokens+=("$(token_of_last_run)")

case_ "465 implicit TLS + 993 implicit TLS, passwords from the environment"
run delivery --submit "$SUBMITS" --imap "$IMAPS" --rcpt-to "$LAB_USER" \
    --auth-user "$LAB_USER" --auth-password-env LAB_PASSWORD \
    --mail-from "$LAB_USER" --imap-user "$LAB_USER" --imap-password-env LAB_PASSWORD \
    --ca-file "$LAB_CA_FILE" -t "$T" -v
expect_rc 0
expect_line1 '^MAILHEALTH OK - probe@lab.test: delivered via 127\.0\.0\.1:[0-9]+ to 127\.0\.0\.1:[0-9]+/INBOX'
expect_delay
expect_out "(implicit TLS TLSv1."
expect_out "phase cleanup: deleted the probe mail"
tokens+=("$(token_of_last_run)")

case_ "host names through --resolver, certificate checked against mx.lab.test"
run delivery --submit "smtp://$LAB_MX_NAME:$LAB_SUBMISSION_PORT" \
    --imap "imaps://$LAB_MX_NAME:$LAB_IMAPS_PORT/INBOX" --resolver "$LAB_RESOLVER" \
    --rcpt-to "$LAB_USER" "${common[@]}" -t "$T" -4 -v
expect_rc 0
expect_line1 "^MAILHEALTH OK - probe@lab.test: delivered via $LAB_MX_NAME:$LAB_SUBMISSION_PORT"
expect_delay
tokens+=("$(token_of_last_run)")

case_ "thresholds on the delay"
run delivery --submit "$SUBMIT" --imap "$IMAP" --rcpt-to "$LAB_USER" \
    "${common[@]}" -t "$T" -w 0.000001 -c 60 -v
expect_rc 1
expect_line1 '^MAILHEALTH WARNING - \[timeout\] probe@lab.test via .*: slow delivery, delay in s: [0-9.]+ \(warning range 0.000001\)'
expect_out 'delay='
expect_out ';0.000001;60;0'
tokens+=("$(token_of_last_run)")

case_ "json output"
run delivery --submit "$SUBMIT" --imap "$IMAP" --rcpt-to "$LAB_USER" \
    "${common[@]}" -t "$T" --output json -v
expect_rc 0
if printf '%s\n' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["check"] == "delivery" and d["state"] == "OK" and d["category"] is None, d
names = [p["name"] for p in d["phases"]]
assert names == ["imap_login", "submit", "poll", "cleanup"], names
assert any(p["label"] == "delay" for p in d["perfdata"]), d["perfdata"]
'; then ok "json has the phases and the delay"; else not_ok "json output"; fi
tokens+=("$(token_of_last_run)")

case_ "prometheus output"
run delivery --submit "$SUBMIT" --imap "$IMAP" --rcpt-to "$LAB_USER" \
    "${common[@]}" -t "$T" --output prometheus -v
expect_rc 0
promtool_ok
expect_out 'mailhealth_delivery_duration_seconds{target="probe@lab.test via 127.0.0.1:'
expect_out 'mailhealth_probe_success{target="probe@lab.test via 127.0.0.1:'
expect_out 'check="delivery"} 1'
tokens+=("$(token_of_last_run)")

# -vv shows libcurl's own trace; neither the password nor any base64 form
# of it (AUTH PLAIN / LOGIN) may appear.
for mech in PLAIN LOGIN; do
    case_ "-vv trace with AUTH $mech hides the credentials"
    run delivery --submit "$SUBMIT" --imap "$IMAP" --rcpt-to "$LAB_USER" \
        "${common[@]}" --auth-mech "$mech" -t "$T" -vv
    expect_rc 0
    expect_file_has "$T_TMP/stderr" "AUTH $mech [redacted]"
    expect_file_has "$T_TMP/stderr" "MAIL FROM:<$LAB_USER>"
    expect_file_has "$T_TMP/stderr" "UID SEARCH HEADER Subject"
    leaked=$(python3 - "$T_TMP/stderr" "$LAB_USER" "$LAB_PASSWORD" <<'EOF'
import base64, sys
data = open(sys.argv[1], "rb").read() + b"\n"
user, pw = sys.argv[2].encode(), sys.argv[3].encode()
forms = [pw, base64.b64encode(pw), base64.b64encode(b"\0" + user + b"\0" + pw),
         base64.b64encode(user + b"\0" + user + b"\0" + pw)]
# base64 of the password at every alignment (inner part, no padding)
for off in range(3):
    forms.append(base64.b64encode(b"\0" * off + pw)[4:-4])
print(sum(1 for f in forms if f in data))
EOF
)
    if [ "$leaked" = 0 ]; then ok "no password form in the trace"; else not_ok "password leaked into the -vv trace ($leaked forms)"; fi
    tokens+=("$(token_of_last_run)")
done

# Leftovers of earlier runs: one older than an hour is deleted, one a few
# minutes old (it may belong to a run still waiting for it) is not.
case_ "leftover probe mails of earlier runs"
old_tok=00000000000000000000000000000001
young_tok=00000000000000000000000000000002
plant "$old_tok" "2 hours ago"
plant "$young_tok" "5 minutes ago"
run delivery --submit "$SUBMIT" --imap "$IMAP" --rcpt-to "$LAB_USER" \
    "${common[@]}" -t "$T" -v
expect_rc 0
expect_out "and 1 leftover probe mail of earlier runs"
if grep -rqs "$old_tok" "$LAB_MAILDIR"/new "$LAB_MAILDIR"/cur; then
    not_ok "the old leftover is still in the mailbox"
else ok "the old leftover was deleted"; fi
if grep -rqs "$young_tok" "$LAB_MAILDIR"/new "$LAB_MAILDIR"/cur; then
    ok "the recent probe mail (another run's) was kept"
else not_ok "the recent probe mail was deleted"; fi
grep -rls "$young_tok" "$LAB_MAILDIR"/new "$LAB_MAILDIR"/cur | xargs -r rm -f
tokens+=("$(token_of_last_run)")

case_ "the mailbox holds no probe mails after the successful runs"
after=$(probe_mails "$LAB_MAILDIR")
if [ "$after" -le "$before" ] && [ "$after" -eq 0 ]; then
    ok "no probe mails left ($before before, $after after)"
else
    not_ok "$after probe mails in $LAB_MAILDIR ($before before)"
fi
missing=0
for t in "${tokens[@]}"; do
    if [ -z "$t" ]; then missing=$((missing + 1)); continue; fi
    if grep -rqs "$t" "$LAB_MAILDIR"/new "$LAB_MAILDIR"/cur; then
        not_ok "probe mail $t is still in the mailbox"
    fi
done
if [ "$missing" -eq 0 ]; then ok "${#tokens[@]} runs, each probe mail deleted"; else
    not_ok "$missing runs printed no token"; fi

# ---------------------------------------------------------------------------
case_ "mail to another mailbox ends at the deadline as timeout"
run delivery --submit "$SUBMIT" --imap "$IMAP" --rcpt-to "$LAB_USER2" \
    "${common[@]}" -t 6
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[timeout\] mail to other@lab.test not found in 127\.0\.0\.1:[0-9]+/INBOX within the 6 s deadline \(waited [0-9.]+ s after submission, [0-9]+ polls\)'
expect_out 'delay=U'
expect_out 'phase submit: accepted by'
expect_elapsed_below 7.5
# The probe mail did arrive in the other mailbox: remove it.
grep -ls '^Subject: mailhealth probe ' "$LAB_MAILDIR2"/new/* "$LAB_MAILDIR2"/cur/* 2>/dev/null | xargs -r rm -f

case_ "a mailbox that does not exist: response, nothing submitted"
run delivery --submit "$SUBMIT" --imap "imap://127.0.0.1:$LAB_IMAP_PORT/NoSuchBox" \
    --rcpt-to "$LAB_USER" "${common[@]}" -t "$T"
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[response\] 127\.0\.0\.1:[0-9]+/NoSuchBox: cannot open the mailbox: Select failed'
expect_no_out 'phase submit'

case_ "STARTTLS not offered by the submission server"
run delivery --submit "smtp://127.0.0.1:$LAB_SMTP_NOTLS_PORT" --imap "$IMAP" \
    --rcpt-to "$LAB_USER" "${common[@]}" -t "$T"
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[tls\] 127\.0\.0\.1:[0-9]+: submission failed: STARTTLS not supported'

case_ "--insecure-plaintext: plaintext accepted, the missing AUTH is a warning"
run delivery --submit "smtp://127.0.0.1:$LAB_SMTP_NOTLS_PORT" --imap "$IMAP" \
    --insecure-plaintext --rcpt-to "$LAB_USER" "${common[@]}" -t "$T"
expect_rc 1
expect_line1 '^MAILHEALTH WARNING - \[auth\] 127\.0\.0\.1:[0-9]+ offered no AUTH'
expect_out 'submission without TLS (--insecure-plaintext)'
expect_out 'phase cleanup: deleted the probe mail'

case_ "untrusted certificate (system CA store)"
run delivery --submit "$SUBMIT" --imap "$IMAP" --rcpt-to "$LAB_USER" \
    --auth-user "$LAB_USER" --auth-password-file "$LAB_PASSWORD_FILE" \
    --mail-from "$LAB_USER" --imap-user "$LAB_USER" \
    --imap-password-file "$LAB_PASSWORD_FILE" -t "$T"
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[tls\] .*certificate'

case_ "submission port closed"
run delivery --submit "smtp://127.0.0.1:$((LAB_PORT_BASE + 999))" --imap "$IMAP" \
    --rcpt-to "$LAB_USER" "${common[@]}" -t "$T"
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[connection\] 127\.0\.0\.1:[0-9]+: submission failed: '
expect_elapsed_below 10

case_ "relay refused for a foreign recipient"
run delivery --submit "$SUBMIT" --imap "$IMAP" --rcpt-to "$LAB_FOREIGN_RCPT" \
    "${common[@]}" -t "$T"
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[(response|relay)\] 127\.0\.0\.1:[0-9]+: submission failed: RCPT failed: 5[0-9][0-9]; server: 5'

# ---------------------------------------------------------------------------
# Scripted servers (tests/faultserver): silence and drips end at the
# deadline, never later; rejections are classified by the SMTP classifier.
if [ -x "$MH_FAULTSERVER" ]; then
    case_ "IMAP server that never greets: timeout at the deadline"
    fault silent-after-connect
    run delivery --submit "$SUBMIT" --imap "imap://127.0.0.1:$FS_PORT/INBOX" \
        --rcpt-to "$LAB_USER" "${common[@]}" -t 3
    expect_rc 2
    expect_line1 '^MAILHEALTH CRITICAL - \[timeout\] 127\.0\.0\.1:[0-9]+/INBOX: IMAP session failed: no answer within 3 s'
    expect_no_out 'phase submit'
    expect_elapsed_below 3.8

    case_ "submission server that never greets: timeout at the deadline"
    fault silent-after-connect
    run delivery --submit "smtp://127.0.0.1:$FS_PORT" --imap "$IMAP" \
        --rcpt-to "$LAB_USER" "${common[@]}" -t 3
    expect_rc 2
    expect_line1 '^MAILHEALTH CRITICAL - \[timeout\] 127\.0\.0\.1:[0-9]+: submission failed: no answer within 3 s'
    expect_elapsed_below 3.8

    case_ "submission greeting dripped byte by byte: timeout at the deadline"
    fault drip-greeting
    run delivery --submit "smtp://127.0.0.1:$FS_PORT" --imap "$IMAP" \
        --rcpt-to "$LAB_USER" "${common[@]}" -t 3
    expect_rc 2
    expect_line1 '^MAILHEALTH CRITICAL - \[timeout\] '
    expect_elapsed_below 3.8

    case_ "TLS handshake after STARTTLS stalls: timeout at the deadline"
    fault tls-stall
    run delivery --submit "smtp://127.0.0.1:$FS_PORT" --imap "$IMAP" \
        --rcpt-to "$LAB_USER" "${common[@]}" -t 3
    expect_rc 2
    expect_line1 '^MAILHEALTH CRITICAL - \[timeout\] 127\.0\.0\.1:[0-9]+: submission failed: no answer within 3 s'
    expect_elapsed_below 3.8

    case_ "RCPT refused because the client is on a DNSBL: blacklist"
    fault rcpt-blocked-rbl
    run delivery --submit "smtp://127.0.0.1:$FS_PORT" --insecure-plaintext \
        --imap "$IMAP" --rcpt-to "$LAB_USER" --mail-from "$LAB_USER" \
        --imap-user "$LAB_USER" --imap-password-file "$LAB_PASSWORD_FILE" \
        --ca-file "$LAB_CA_FILE" -t "$T"
    expect_rc 2
    expect_line1 '^MAILHEALTH CRITICAL - \[blacklist\] 127\.0\.0\.1:[0-9]+: submission failed: RCPT failed: 554; server: 554 5\.7\.1 .*blocked using zen\.spamhaus\.org'

    case_ "RCPT refused as relaying: relay"
    fault relay-denied
    run delivery --submit "smtp://127.0.0.1:$FS_PORT" --insecure-plaintext \
        --imap "$IMAP" --rcpt-to "$LAB_USER" --mail-from "$LAB_USER" \
        --imap-user "$LAB_USER" --imap-password-file "$LAB_PASSWORD_FILE" \
        --ca-file "$LAB_CA_FILE" -t "$T"
    expect_rc 2
    expect_line1 '^MAILHEALTH CRITICAL - \[relay\] .*Relay access denied'
else
    echo "# fault server $MH_FAULTSERVER not built: scripted cases skipped"
fi

# ---------------------------------------------------------------------------
# Wrong passwords last (Dovecot's auth penalty, see the top).
case_ "wrong submission password"
run delivery --submit "$SUBMIT" --imap "$IMAP" --rcpt-to "$LAB_USER" \
    --auth-user "$LAB_USER" --auth-password-file "$WRONG" \
    --mail-from "$LAB_USER" --imap-user "$LAB_USER" \
    --imap-password-file "$LAB_PASSWORD_FILE" --ca-file "$LAB_CA_FILE" -t "$T"
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[auth\] 127\.0\.0\.1:[0-9]+: submission failed: .*535'
expect_no_out 'not-the-password'

case_ "wrong IMAP password: auth, and no mail is submitted"
run delivery --submit "$SUBMIT" --imap "$IMAP" --rcpt-to "$LAB_USER" \
    --auth-user "$LAB_USER" --auth-password-file "$LAB_PASSWORD_FILE" \
    --mail-from "$LAB_USER" --imap-user "$LAB_USER" \
    --imap-password-file "$WRONG" --ca-file "$LAB_CA_FILE" -t "$T"
expect_rc 2
expect_line1 '^MAILHEALTH CRITICAL - \[auth\] 127\.0\.0\.1:[0-9]+/INBOX: IMAP login failed: .*AUTHENTICATIONFAILED'
expect_no_out 'phase submit'
expect_no_out 'not-the-password'

case_ "no probe mails left at the end"
n=$(probe_mails "$LAB_MAILDIR")
if [ "$n" -eq 0 ]; then ok "mailbox clean"; else not_ok "$n probe mails left in $LAB_MAILDIR"; fi

finish
