# SPDX-License-Identifier: MIT
# BR-22 (field case as written) - SNI decides which certificate is
# presented, and the default certificate has every problem at once.
# ClientHello SNI == FS_SNI_NAME (default mx.lab.test) -> valid leaf +
# intermediate; no SNI or another name -> the lab's unrelated-expired
# certificate: self-signed, expired 30 days ago, valid only for
# unrelated.lab.test (no IP address).
# Expected probe result (tls, STARTTLS, trust store = lab root):
#   (A) -H <name>, SNI sent          -> OK
#   (B) -H 127.0.0.1, no name given  -> CRITICAL / tls listing all three:
#       "self-signed certificate", "certificate has expired", "IP address
#       mismatch", and "no SNI sent (target is an IP; give --sni)"
#   (C) -H 127.0.0.1 --sni <name>    -> OK
# Env: CERT_DIR; FS_SNI_NAME.
send 220 mx.example.com ESMTP
expect EHLO
send 250-mx.example.com
send 250 STARTTLS
expect STARTTLS
send 220 2.0.0 Ready to start TLS
tls-sni ${FS_SNI_NAME:-mx.lab.test} ${CERT_DIR}/valid.crt ${CERT_DIR}/valid.key ${CERT_DIR}/valid.chain.pem
starttls ${CERT_DIR}/unrelated-expired.pem ${CERT_DIR}/unrelated-expired.key
expect EHLO
send 250 mx.example.com
quit
