# SPDX-License-Identifier: MIT
# Hardening - a multi-line greeting whose second line is junk.
# Expected probe result: CRITICAL / response at once; never EHLO.
# env: FS_JUNK_SEED, FS_JUNK_BYTES
send 220-mx.example.com ESMTP
junk ${FS_JUNK_SEED:-1} ${FS_JUNK_BYTES:-2048}
forbid EHLO
