# SPDX-License-Identifier: MIT
# Synthetic - the 220 greeting (67 octets with CRLF) arrives one byte every
# 100 ms, about 6.6 s in all; the dialogue is normal afterwards.
# Expected probe result: -t 10 -> OK, time about 6.6 s; -t 3 -> CRITICAL /
# timeout / "no greeting within 3 s" after 3 s: a dripping server cannot
# stretch the check past its deadline. Talking before the line is complete
# shows as EVENT early-talk.
drip 100 220 mx.example.com ESMTP slow greeting dripped one byte per 100ms
expect EHLO
send 250-mx.example.com
send 250 8BITMIME
quit
