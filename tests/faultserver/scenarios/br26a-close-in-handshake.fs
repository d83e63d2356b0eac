# SPDX-License-Identifier: MIT
# BR-26 (A) - STARTTLS accepted (220), then the server reads the ClientHello
# and closes before any ServerHello (Stalwart without a certificate).
# Expected probe result: CRITICAL / tls / "server accepted STARTTLS (220)
# but closed the connection during the TLS handshake". Never auth, and the
# message must not present the 220 as the failure.
send 220 mx.example.com ESMTP
expect EHLO
send 250-mx.example.com
send 250 STARTTLS
expect STARTTLS
send 220 2.0.0 Ready to start TLS
tls-close-before-hello
