# SPDX-License-Identifier: MIT
# Synthetic - every RCPT is refused with "554 5.7.1 Relay access denied".
# Expected probe result: with --rcpt-to (a recipient that must be accepted)
# -> CRITICAL / relay / "RCPT TO:<...> rejected: 554 5.7.1 Relay access
# denied"; with only --relay-test <foreign address> -> OK (relay correctly
# refused).
send 220 mx.example.com ESMTP
on EHLO 250-mx.example.com
on EHLO 250-8BITMIME
on EHLO 250 ENHANCEDSTATUSCODES
on HELO 250 mx.example.com
on MAIL 250 2.1.0 Ok
on RCPT 554 5.7.1 Relay access denied
serve
