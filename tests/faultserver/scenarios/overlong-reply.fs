# SPDX-License-Identifier: MIT
# Synthetic - a 600-octet greeting line (RFC 5321 4.5.3.1.5 allows 512
# octets for a reply line, CRLF included).
# Expected probe result: CRITICAL / response / "over-long reply line (600
# octets > 512)": a protocol error, never a crash or a hang. The probe does
# not go on with EHLO (VIOLATION if it does); QUIT or close is fine.
long-line 594 220
forbid EHLO
forbid HELO
quit
