# SPDX-License-Identifier: MIT
# Synthetic - RCPT refused because the client is on a DNSBL.
# Expected probe result (probe run with --rcpt-to): CRITICAL / blacklist /
# "RCPT TO rejected: client blocked using zen.spamhaus.org (554 5.7.1 ...)":
# an SMTP reply with 5.7.1 and "blocked using" is a blacklist finding, not a
# relay or response one.
send 220 mx.example.com ESMTP
on EHLO 250-mx.example.com
on EHLO 250-8BITMIME
on EHLO 250 ENHANCEDSTATUSCODES
on HELO 250 mx.example.com
on MAIL 250 2.1.0 Ok
on RCPT 554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org
serve
