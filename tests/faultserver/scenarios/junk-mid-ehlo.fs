# SPDX-License-Identifier: MIT
# Hardening - an EHLO reply that turns into junk after two valid
# continuation lines (one with NULs and a lone CR in its text).
# Expected probe result: CRITICAL / response at once.
# env: FS_JUNK_SEED, FS_JUNK_BYTES
send 220 mx.example.com ESMTP
expect-any
send 250-mx.example.com
send-raw 250-PIPE\x00LINING \rSIZE\r\n
junk ${FS_JUNK_SEED:-1} ${FS_JUNK_BYTES:-2048}
