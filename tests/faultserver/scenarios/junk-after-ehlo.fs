# SPDX-License-Identifier: MIT
# Hardening - a normal greeting, then junk as the EHLO reply.
# Expected probe result: CRITICAL / response at once.
# env: FS_JUNK_SEED, FS_JUNK_BYTES
send 220 mx.example.com ESMTP
expect-any
junk ${FS_JUNK_SEED:-1} ${FS_JUNK_BYTES:-2048}
