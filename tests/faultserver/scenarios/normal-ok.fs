# SPDX-License-Identifier: MIT
# Synthetic - a complete, healthy plain-text server.
# Greeting, then a rule-driven session: EHLO (PIPELINING, SIZE, 8BITMIME,
# STARTTLS, ENHANCEDSTATUSCODES), HELO, MAIL, RCPT, RSET, NOOP and QUIT are
# answered in any order, so a probe that skips MAIL/RCPT passes too. The
# probe must still wait for every reply (forbid-pipelining) and must not
# send MAIL/RCPT before EHLO/HELO. STARTTLS is advertised but answered 502
# here: use normal-tls-ok.fs for TLS runs.
# Expected probe result: OK / - / "SMTP OK", no VIOLATION.
send 220 mx.example.com ESMTP ready
forbid-pipelining
on EHLO 250-mx.example.com
on EHLO 250-PIPELINING
on EHLO 250-SIZE 10240000
on EHLO 250-8BITMIME
on EHLO 250-STARTTLS
on EHLO 250 ENHANCEDSTATUSCODES
on HELO 250 mx.example.com
on MAIL 250 2.1.0 Ok
on RCPT 250 2.1.5 Ok
on RSET 250 2.0.0 Ok
on NOOP 250 2.0.0 Ok
serve
