# SPDX-License-Identifier: MIT
# BR-16 - AUTH is advertised only after STARTTLS: the probe must send EHLO
# again after the handshake (RFC 3207 4.2) before AUTH.
# Expected probe result: OK / - / "STARTTLS ok, AUTH PLAIN ok" (the
# transcript shows "EVENT auth mech=PLAIN ... result=ok"). AUTH before the
# new EHLO gets "503 5.5.1 AUTH command used when not advertised" and a
# VIOLATION. Probe run with --starttls and credentials FS_USER/FS_PASS.
# Env: CERT_DIR, FS_USER, FS_PASS; FS_CERT (default valid).
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
send 250 AUTH PLAIN LOGIN
auth-any-expect ${FS_USER} ${FS_PASS}
forbid AUTH
quit
