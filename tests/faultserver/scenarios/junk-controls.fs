# SPDX-License-Identifier: MIT
# Hardening - valid reply codes carrying hostile text: NULs, CR
# without LF, '|', quotes and backslashes, ANSI escapes, invalid UTF-8,
# bare LF line ends; then the session is served normally.
# Expected probe result: OK (or the state of whatever the probe asked);
# every output format stays valid: no '|' or control characters on the
# Nagios status line, JSON parses, Prometheus label values escaped.
send-raw 220-mx\x00.example.com |ESMTP| \x1b[31mred\x1b[0m \xc3\x28\xed\xa0\x80 "q" \\back\\ \rCR\r\n
send-raw 220 \xff\xfe\xf8\x88\x80\x80\x80 done\n
expect-any
send-raw 250-mx.example.com \x00\x00\x00\r\n
send-raw 250-AUTH PL\x00AIN\r\r\n
send-raw 250-SIZE 99999999999999999999999\n
send-raw 250 8BITMIME |x|\r\n
on MAIL 250 2.1.0 Ok \x7f|"\\
on RCPT 554 5.7.1 <x>: Relay access denied | "quoted" \\ \x01
on RSET 250 2.0.0 Ok
serve
