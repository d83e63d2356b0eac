# SPDX-License-Identifier: MIT
# BR-09 - STARTTLS answered "220 2.0.0 Ready to start TLS"; the probe runs
# with "banner expect = ESMTP".
# Expected probe result: OK. The expect string applies to the greeting only;
# the STARTTLS step is judged on the code (220) alone. After TLS the probe
# sends EHLO again (RFC 3207 4.2), then QUIT.
# Env: CERT_DIR (lab PKI); FS_CERT picks the certificate (default "valid";
# expired/soon/wrongname/selfsigned reuse this dialogue for cert checks).
send 220 mx.example.com ESMTP Postfix
expect EHLO
send 250-mx.example.com
send 250 STARTTLS
expect STARTTLS
send 220 2.0.0 Ready to start TLS
starttls ${CERT_DIR}/${FS_CERT:-valid}.crt ${CERT_DIR}/${FS_CERT:-valid}.key ${CERT_DIR}/${FS_CERT:-valid}.chain.pem
expect EHLO
send 250 mx.example.com
quit
