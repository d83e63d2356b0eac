# SPDX-License-Identifier: MIT
# Synthetic - an implicit-TLS service that is not SMTP (IMAPS, POP3S style):
# TLS from the first byte, then an IMAP greeting; any SMTP command is a
# violation.
# Expected probe result: `tls --tls` -> OK: handshake and certificate checks
# only, nothing is sent inside TLS (no EHLO, no QUIT), the greeting is not
# read. `smtp --tls` here would fail on the greeting (not SMTP).
# Env: CERT_DIR; FS_CERT (default valid).
implicit-tls ${CERT_DIR}/${FS_CERT:-valid}.crt ${CERT_DIR}/${FS_CERT:-valid}.key ${CERT_DIR}/${FS_CERT:-valid}.chain.pem
send * OK [CAPABILITY IMAP4rev1] IMAP ready
forbid EHLO
forbid HELO
forbid QUIT
readall
