# SPDX-License-Identifier: MIT
# BR-07 (variant) - EHLO answered "500 Command unrecognized" (no enhanced
# status code): the probe must fall back to HELO.
# Expected probe result: OK / - / "HELO accepted (server does not support
# ESMTP)"; with STARTTLS or AUTH required -> CRITICAL / tls (or auth) /
# "STARTTLS/AUTH unavailable: server rejected EHLO (500)".
send 220 legacy.example.com SMTP ready
expect EHLO
send 500 Command unrecognized
on HELO 250 legacy.example.com
on EHLO 500 Command unrecognized
on STARTTLS 500 Command unrecognized
on AUTH 500 Command unrecognized
on MAIL 250 Ok
on RCPT 250 Ok
serve
