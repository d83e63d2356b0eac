# SPDX-License-Identifier: MIT
# BR-26 (B) - STARTTLS accepted, handshake with a self-signed leaf.
# Expected probe result: CRITICAL / tls / "certificate verify failed:
# self-signed certificate" (never auth). The server records the client's
# alert as EVENT tls-fail (e.g. "tlsv1 alert unknown ca" or "... bad
# certificate").
# Env: CERT_DIR.
send 220 mx.example.com ESMTP
expect EHLO
send 250-mx.example.com
send 250 STARTTLS
expect STARTTLS
send 220 2.0.0 Ready to start TLS
starttls ${CERT_DIR}/selfsigned.crt ${CERT_DIR}/selfsigned.key
expect EHLO
send 250 mx.example.com
quit
