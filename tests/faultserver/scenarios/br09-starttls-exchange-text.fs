# SPDX-License-Identifier: MIT
# BR-09 (second run) - STARTTLS answered "220 2.0.0 SMTP server ready"
# (Exchange wording); the probe runs with "banner expect = ESMTP".
# Expected probe result: OK; the STARTTLS reply is judged on its code only.
# Env: CERT_DIR; FS_CERT (default valid).
send 220 mx.example.com ESMTP Postfix
expect EHLO
send 250-mx.example.com
send 250 STARTTLS
expect STARTTLS
send 220 2.0.0 SMTP server ready
starttls ${CERT_DIR}/${FS_CERT:-valid}.crt ${CERT_DIR}/${FS_CERT:-valid}.key ${CERT_DIR}/${FS_CERT:-valid}.chain.pem
expect EHLO
send 250 mx.example.com
quit
