# SPDX-License-Identifier: MIT
# Synthetic - every reply ends with LF only (RFC 5321 2.3.8 wants CRLF);
# otherwise a normal, healthy dialogue.
# Expected probe result: OK (the reply parser accepts a bare LF as a line
# end, as most MTAs do; at most a note in verbose output). The session is
# served by rules: EHLO, HELO, MAIL, RCPT, RSET, NOOP, QUIT in any order.
line-end lf
send 220 mx.example.com ESMTP
on EHLO 250-mx.example.com
on EHLO 250-PIPELINING
on EHLO 250-SIZE 10240000
on EHLO 250 8BITMIME
on HELO 250 mx.example.com
on MAIL 250 2.1.0 Ok
on RCPT 250 2.1.5 Ok
serve
