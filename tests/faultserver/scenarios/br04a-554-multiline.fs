# SPDX-License-Identifier: MIT
# BR-04 (A) - Multi-line 554 "no SMTP service" greeting.
# Expected probe result: CRITICAL / response / message with the code and the
# joined text ("greeting 554: Service not available; No SMTP service; See
# ..."). No EHLO/HELO/STARTTLS is sent (forbidden here: VIOLATION). QUIT is
# optional and answered 221; closing without QUIT is fine. Exit code 2.
send 554-mx.example.com Service not available
send 554-No SMTP service
send 554 See https://postmaster.example.com/
forbid EHLO
forbid HELO
forbid STARTTLS
quit
