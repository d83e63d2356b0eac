# SPDX-License-Identifier: MIT
# BR-07 - EHLO not recognised (502): the probe must fall back to HELO.
# Expected probe result: OK / - / "HELO accepted (server does not support
# ESMTP)"; the transcript shows "C: HELO" after the 502. When the probe was
# told STARTTLS or AUTH is required -> CRITICAL / tls (or auth) /
# "STARTTLS/AUTH unavailable: server rejected EHLO (502)"; then it may QUIT
# at once (serve answers 221).
send 220 legacy.example.com SMTP ready
expect EHLO
send 502 5.5.2 Error: command not recognized
on HELO 250 legacy.example.com
on EHLO 502 5.5.2 Error: command not recognized
on STARTTLS 502 5.5.2 Error: command not recognized
on AUTH 502 5.5.2 Error: command not recognized
on MAIL 250 2.1.0 Ok
on RCPT 250 2.1.5 Ok
serve
