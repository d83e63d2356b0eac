# SPDX-License-Identifier: MIT
# BR-25 - the server sends only the leaf, not the intermediate.
# Expected probe result: CRITICAL / tls / "incomplete chain: server did not
# send the issuer of <leaf> (CN=Intermediate CA); mail clients do not fetch
# missing intermediates" (trust store = root CA only). The same dialogue
# with the intermediate served is br09-starttls-ready.fs -> OK.
# Env: CERT_DIR; FS_CERT (default valid).
send 220 mx.example.com ESMTP
expect EHLO
send 250-mx.example.com
send 250 STARTTLS
expect STARTTLS
send 220 2.0.0 Ready to start TLS
starttls ${CERT_DIR}/${FS_CERT:-valid}.crt ${CERT_DIR}/${FS_CERT:-valid}.key
expect EHLO
send 250 mx.example.com
quit
