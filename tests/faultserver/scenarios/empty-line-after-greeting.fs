# SPDX-License-Identifier: MIT
# Synthetic - an empty line right after the greeting (the kind of server of
# field case BR-11): the line is not a reply (RFC 5321 4.2), so a client
# that reads it as one answers every later command with the reply of the
# one before. Then RCPT is refused as an unknown user.
# Expected probe result (probe run with --mail-from/--rcpt-to): CRITICAL /
# response, reason user_unknown, summary with "550 5.1.1": the RCPT reply is
# read as the RCPT reply; the empty line is a WARNING note
# (protocol_violation) "empty line in the EHLO reply". Without envelope:
# WARNING / response, reason protocol_violation.
send 220 mx.example.com ESMTP
send-raw \r\n
on EHLO 250-mx.example.com
on EHLO 250 ENHANCEDSTATUSCODES
on HELO 250 mx.example.com
on MAIL 250 2.1.0 Ok
on RCPT 550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown
on RSET 250 2.0.0 Ok
serve
