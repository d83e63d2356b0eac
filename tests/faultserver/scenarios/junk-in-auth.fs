# SPDX-License-Identifier: MIT
# Hardening - AUTH offered; the first command after EHLO (AUTH,
# MAIL or QUIT, whatever the probe sends) gets a 334 challenge that is
# junk, then more junk.
# Expected probe result: CRITICAL (auth or response), no credentials in any
# output; at once.
# env: FS_JUNK_SEED, FS_JUNK_BYTES
send 220 mx.example.com ESMTP
expect-any
send 250-mx.example.com
send 250 AUTH PLAIN LOGIN CRAM-MD5
expect-any
send-raw 334 \xff\xfe\x00\x01=\r\n
junk ${FS_JUNK_SEED:-1} ${FS_JUNK_BYTES:-2048}
