# SPDX-License-Identifier: MIT
# Hardening - an EHLO reply of endless "250-x" continuation lines.
# Expected probe result: CRITICAL / response ("more than 100 lines in one
# reply") at once, not at the deadline; bounded memory.
send 220 mx.example.com ESMTP
expect-any
endless-continuation 250
