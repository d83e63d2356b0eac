# SPDX-License-Identifier: MIT
# Synthetic - port-465 style: TLS from the first byte (RFC 8314), then a
# healthy SMTP dialogue inside TLS.
# Expected probe result with --tls (FS_CERT=valid): OK. The cert checks of
# normal-tls-ok.fs apply here too through FS_CERT. A probe that speaks
# plain SMTP here fails the handshake (EVENT tls-fail).
# Env: CERT_DIR; FS_CERT (default valid).
implicit-tls ${CERT_DIR}/${FS_CERT:-valid}.crt ${CERT_DIR}/${FS_CERT:-valid}.key ${CERT_DIR}/${FS_CERT:-valid}.chain.pem
send 220 mx.example.com ESMTP ready
on EHLO 250-mx.example.com
on EHLO 250-8BITMIME
on EHLO 250 AUTH PLAIN LOGIN
on HELO 250 mx.example.com
on MAIL 250 2.1.0 Ok
on RCPT 250 2.1.5 Ok
serve
