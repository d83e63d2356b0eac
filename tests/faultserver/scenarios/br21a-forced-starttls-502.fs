# SPDX-License-Identifier: MIT
# BR-21 (A, forced STARTTLS) - STARTTLS is not advertised, the probe sends
# it anyway (forced-STARTTLS option) and gets 502.
# Expected probe result: CRITICAL / tls / "STARTTLS refused: 502 5.5.1 ...".
send 220 mx.example.com ESMTP
expect EHLO
send 250-mx.example.com
send 250 8BITMIME
expect STARTTLS
send 502 5.5.1 Error: command not recognized
quit
