# SPDX-License-Identifier: MIT
# BR-16 (negative) - the post-TLS EHLO does not offer AUTH either.
# Expected probe result: CRITICAL / auth / "AUTH not offered after
# STARTTLS". The probe must not try AUTH anyway (VIOLATION if it does).
# Env: CERT_DIR; FS_CERT (default valid).
send 220 smtp.example.com ESMTP
expect EHLO
send 250-smtp.example.com
send 250-PIPELINING
send 250 STARTTLS
reject-if AUTH 503 5.5.1 AUTH command used when not advertised
expect STARTTLS
send 220 2.0.0 Ready to start TLS
starttls ${CERT_DIR}/${FS_CERT:-valid}.crt ${CERT_DIR}/${FS_CERT:-valid}.key ${CERT_DIR}/${FS_CERT:-valid}.chain.pem
reject-if AUTH 503 5.5.1 AUTH command used when not advertised
expect EHLO
send 250-smtp.example.com
send 250 8BITMIME
forbid AUTH
quit
