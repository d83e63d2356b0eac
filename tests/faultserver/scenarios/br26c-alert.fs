# SPDX-License-Identifier: MIT
# BR-26 (C) - "220 TLS go ahead", then a fatal TLS alert handshake_failure
# (raw record 15 03 03 00 02 02 28, as for "no shared cipher").
# Expected probe result: CRITICAL / tls / "TLS handshake failed: alert
# handshake_failure". Never auth; the 220 is not the failure.
send 220 mx.example.com ESMTP
expect EHLO
send 250-mx.example.com
send 250 STARTTLS
expect STARTTLS
send 220 TLS go ahead
tls-alert
