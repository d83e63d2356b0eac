# SPDX-License-Identifier: MIT
# Hardening - a submission server (STARTTLS, AUTH) whose RCPT refusal
# carries hostile text over two lines: ANSI escapes, '|', quotes,
# backslashes, control bytes, DEL, invalid UTF-8, a NUL.
# Expected probe result (smtp --rcpt-to, or delivery submitting to it):
# CRITICAL / response; in every output format the text arrives escaped
# (\xNN), the Nagios status line has no '|' but the perfdata one.
# Env: CERT_DIR; FS_USER, FS_PASS for AUTH (default probe / secret).
send 220 mx.example.com ESMTP
on-plain EHLO 250-mx.example.com
on-plain EHLO 250-8BITMIME
on-plain EHLO 250 STARTTLS
on-tls EHLO 250-mx.example.com
on-tls EHLO 250-8BITMIME
on-tls EHLO 250 AUTH PLAIN LOGIN
on HELO 250 mx.example.com
on MAIL 250 2.1.0 Ok
on RCPT 554-5.7.1 first \x1b[31mRED\x1b[0m |pipe| "q" \\ \x01\x7f\xff\xc3\x28
on RCPT 554 5.7.1 second line \x00 nul
on RSET 250 2.0.0 Ok
on QUIT 221 2.0.0 Bye
on-starttls ${CERT_DIR}/${FS_CERT:-valid}.crt ${CERT_DIR}/${FS_CERT:-valid}.key ${CERT_DIR}/${FS_CERT:-valid}.chain.pem
on-auth ${FS_USER:-probe} ${FS_PASS:-secret}
serve
