# SPDX-License-Identifier: MIT
# Synthetic - the EHLO reply never ends: "250-x" lines every millisecond
# until the client leaves (RFC 5321 4.2.1: only a line with a space after
# the code ends a reply).
# Expected probe result: CRITICAL / response (reply too long / too many
# lines) or CRITICAL / timeout at the deadline; bounded memory, no hang.
send 220 mx.example.com ESMTP
expect EHLO
endless-continuation 250
