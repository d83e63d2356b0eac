# SPDX-License-Identifier: MIT
# Synthetic - open relay: every RCPT, including a foreign address, gets 250.
# Expected probe result with --relay-test <foreign address>: CRITICAL /
# relay / "open relay: RCPT TO:<foreign address> accepted (250)". Without a
# relay test: OK.
send 220 mx.example.com ESMTP
on EHLO 250-mx.example.com
on EHLO 250-8BITMIME
on EHLO 250 ENHANCEDSTATUSCODES
on HELO 250 mx.example.com
on MAIL 250 2.1.0 Ok
on RCPT 250 2.1.5 Ok
serve
