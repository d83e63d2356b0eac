# SPDX-License-Identifier: MIT
# BR-05 - 421 on connect (too many connections), then close.
# Expected probe result: WARNING (transient) / response / "greeting 421
# 4.7.0 mx.example.com Error: too many connections from 192.0.2.10". Never
# "not an SMTP server"; no TLS attempt. Anything the probe sends after the
# 421 is recorded after "EVENT close"; EHLO/HELO/STARTTLS there is a
# VIOLATION (QUIT is fine).
send 421 4.7.0 mx.example.com Error: too many connections from 192.0.2.10
forbid EHLO
forbid HELO
forbid STARTTLS
close
