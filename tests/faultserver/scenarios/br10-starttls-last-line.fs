# SPDX-License-Identifier: MIT
# BR-10 - STARTTLS advertised on the last EHLO line ("250 STARTTLS").
# Expected probe result: OK. Capabilities are parsed from every line
# (4th character '-' or ' '), case-insensitively, parameters allowed.
# Env: CERT_DIR; FS_CERT (default valid).
send 220 mx.example.com ESMTP
expect EHLO
send 250-mx.example.com Hello probe.example.net [192.0.2.10]
send 250-SIZE 69920427
send 250-AUTH LOGIN PLAIN
send 250 STARTTLS
expect STARTTLS
send 220 OK
starttls ${CERT_DIR}/${FS_CERT:-valid}.crt ${CERT_DIR}/${FS_CERT:-valid}.key ${CERT_DIR}/${FS_CERT:-valid}.chain.pem
expect EHLO
send 250-mx.example.com
send 250 AUTH LOGIN PLAIN
quit
