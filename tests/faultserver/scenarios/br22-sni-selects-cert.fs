# SPDX-License-Identifier: MIT
# BR-22 - SNI decides which certificate is presented.
# ClientHello SNI == FS_SNI_NAME (default mx.lab.test) -> valid leaf +
# intermediate; no SNI or another name -> FS_DEFAULT_CERT (default
# selfsigned; the field case uses a self-signed, expired CN=localhost).
# Expected probe result: (A) -H <name> -> OK (SNI defaults to the host
# name); (B) -H 127.0.0.1 with no name -> CRITICAL / tls listing every
# problem of the default certificate and "no SNI sent (target is an IP;
# give --sni)"; (C) -H 127.0.0.1 --sni <name> -> OK.
# EVENT tls-start sni=... and tls-done ... cert=<name|default> tell which.
# Env: CERT_DIR; FS_SNI_NAME, FS_DEFAULT_CERT.
send 220 mx.example.com ESMTP
expect EHLO
send 250-mx.example.com
send 250 STARTTLS
expect STARTTLS
send 220 2.0.0 Ready to start TLS
tls-sni ${FS_SNI_NAME:-mx.lab.test} ${CERT_DIR}/valid.crt ${CERT_DIR}/valid.key ${CERT_DIR}/valid.chain.pem
starttls ${CERT_DIR}/${FS_DEFAULT_CERT:-selfsigned}.crt ${CERT_DIR}/${FS_DEFAULT_CERT:-selfsigned}.key
expect EHLO
send 250 mx.example.com
quit
