# SPDX-License-Identifier: MIT
# Synthetic - a healthy server with STARTTLS (and AUTH after TLS when the
# probe asks for it); the certificate is picked with FS_CERT, so the same
# scenario serves the certificate checks: valid -> OK; expired -> CRITICAL
# / tls; soon -> WARNING / tls (by --cert-days); wrongname / selfsigned ->
# CRITICAL / tls.
# Expected probe result (FS_CERT=valid): OK / - / "STARTTLS ok ...".
# Env: CERT_DIR; FS_CERT (default valid); FS_USER/FS_PASS (default probe /
# secret) for AUTH.
send 220 mx.example.com ESMTP ready
forbid-pipelining
on-plain EHLO 250-mx.example.com
on-plain EHLO 250-PIPELINING
on-plain EHLO 250-SIZE 10240000
on-plain EHLO 250-8BITMIME
on-plain EHLO 250-STARTTLS
on-plain EHLO 250 ENHANCEDSTATUSCODES
on-tls EHLO 250-mx.example.com
on-tls EHLO 250-PIPELINING
on-tls EHLO 250-SIZE 10240000
on-tls EHLO 250-8BITMIME
on-tls EHLO 250-AUTH PLAIN LOGIN CRAM-MD5
on-tls EHLO 250 ENHANCEDSTATUSCODES
on HELO 250 mx.example.com
on MAIL 250 2.1.0 Ok
on RCPT 250 2.1.5 Ok
on RSET 250 2.0.0 Ok
on NOOP 250 2.0.0 Ok
on-starttls ${CERT_DIR}/${FS_CERT:-valid}.crt ${CERT_DIR}/${FS_CERT:-valid}.key ${CERT_DIR}/${FS_CERT:-valid}.chain.pem
on-auth ${FS_USER:-probe} ${FS_PASS:-secret}
serve
