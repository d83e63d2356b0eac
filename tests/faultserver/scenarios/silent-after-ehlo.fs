# SPDX-License-Identifier: MIT
# Synthetic - normal greeting, then silence after EHLO.
# Expected probe result: CRITICAL / timeout / "no reply to EHLO within T s",
# ending at the probe's deadline.
send 220 mx.example.com ESMTP
expect EHLO
hold
