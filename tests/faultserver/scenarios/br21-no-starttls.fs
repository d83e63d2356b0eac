# SPDX-License-Identifier: MIT
# BR-21 - STARTTLS not offered; probe asked to check the certificate over
# STARTTLS (timeout 10 s).
# Expected probe result: CRITICAL / tls / "STARTTLS not advertised by
# mx.example.com", at once: the probe does not send STARTTLS (if it does:
# 502 and a VIOLATION). For the forced-STARTTLS variants see
# br21a-forced-starttls-502.fs and br21b-forced-starttls-hold.fs.
send 220 mx.example.com ESMTP
expect EHLO
send 250-mx.example.com
send 250 8BITMIME
reject-if STARTTLS 502 5.5.1 Error: command not recognized
quit
