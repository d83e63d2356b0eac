# SPDX-License-Identifier: MIT
# Hardening - STARTTLS accepted, then junk instead of a TLS
# handshake (plain-text probes see junk as the EHLO/MAIL reply instead).
# Expected probe result: CRITICAL / tls ("server sent N bytes after its
# reply" or a handshake failure) or CRITICAL / response; at once.
# env: FS_JUNK_SEED, FS_JUNK_BYTES
send 220 mx.example.com ESMTP
expect-any
send 250-mx.example.com
send 250-AUTH PLAIN LOGIN
send 250 STARTTLS
expect-any
send 220 2.0.0 Ready to start TLS
junk ${FS_JUNK_SEED:-1} ${FS_JUNK_BYTES:-2048}
