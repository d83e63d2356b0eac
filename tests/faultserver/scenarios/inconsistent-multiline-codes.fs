# SPDX-License-Identifier: MIT
# Synthetic - a multi-line EHLO reply whose lines carry different codes
# ("250-a" then "251 b"; RFC 5321 4.2.1 requires the same code on every
# line).
# Expected probe result: CRITICAL / response / "inconsistent codes in
# multi-line reply (250, 251)". The probe may QUIT or close.
send 220 mx.example.com ESMTP
expect EHLO
send 250-a
send 251 b
quit
