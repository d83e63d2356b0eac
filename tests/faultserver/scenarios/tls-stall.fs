# SPDX-License-Identifier: MIT
# Synthetic - STARTTLS accepted, the ClientHello is read, and then nothing:
# the handshake stalls.
# Expected probe result: CRITICAL / timeout / "TLS handshake did not
# complete within T s" (category timeout, the TLS phase named), at the
# probe's deadline.
send 220 mx.example.com ESMTP
expect EHLO
send 250-mx.example.com
send 250 STARTTLS
expect STARTTLS
send 220 2.0.0 Ready to start TLS
tls-stall
