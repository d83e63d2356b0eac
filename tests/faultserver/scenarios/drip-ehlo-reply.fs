# SPDX-License-Identifier: MIT
# Synthetic - normal greeting; the EHLO reply (50 octets in three lines)
# arrives one byte every 100 ms, about 5 s in all.
# Expected probe result: -t 10 -> OK; -t 3 -> CRITICAL / timeout / "no
# complete reply to EHLO within 3 s" at the deadline.
send 220 mx.example.com ESMTP
expect EHLO
drip 100 250-mx.example.com
drip 100 250-PIPELINING
drip 100 250 8BITMIME
quit
