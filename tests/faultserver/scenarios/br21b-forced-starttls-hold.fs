# SPDX-License-Identifier: MIT
# BR-21 (B, forced STARTTLS) - STARTTLS sent anyway and never answered.
# Expected probe result: CRITICAL / timeout / "no reply to STARTTLS within
# 10 s" (timeout 10 s); the probe ends at its deadline, never hangs.
send 220 mx.example.com ESMTP
expect EHLO
send 250-mx.example.com
send 250 8BITMIME
expect STARTTLS
hold
