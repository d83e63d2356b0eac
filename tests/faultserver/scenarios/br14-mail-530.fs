# SPDX-License-Identifier: MIT
# BR-14 - MAIL FROM answered 530 (Exchange: anonymous mail not allowed); the
# server then closes without answering QUIT. Probe run with --mail-from.
# Expected probe result: CRITICAL / auth / "MAIL FROM rejected: 530 5.7.57
# ... not authenticated". The missing QUIT reply is noted at most in verbose
# output; it must not turn the result into OK or replace the 530.
send 220 mx.example.com Microsoft ESMTP MAIL Service ready
expect EHLO
send 250-mx.example.com Hello [192.0.2.10]
send 250-AUTH GSSAPI NTLM LOGIN
send 250 8BITMIME
expect MAIL FROM:
send 530 5.7.57 SMTP; Client was not authenticated to send anonymous mail during MAIL FROM
expect QUIT
close
