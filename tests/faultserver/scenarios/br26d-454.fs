# SPDX-License-Identifier: MIT
# BR-26 (D) - STARTTLS answered 454 (real Postfix transcript).
# Expected probe result: CRITICAL / tls / "STARTTLS refused: 454 4.7.0 TLS
# not available due to local problem" (WARNING when TLS is not required),
# reported at once, not after the timeout. The probe then QUITs.
send 220 mx.example.com ESMTP
expect EHLO
send 250-mx.example.com
send 250 STARTTLS
expect STARTTLS
send 454 4.7.0 TLS not available due to local problem
quit
