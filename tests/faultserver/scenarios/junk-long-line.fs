# SPDX-License-Identifier: MIT
# Hardening - an enormous greeting line: "220 " + FS_JUNK_LEN
# (default 100000) x's + CRLF, then close.
# Expected probe result: CRITICAL / response ("line longer than 510
# octets") as soon as 512 octets arrived; bounded memory.
# env: FS_JUNK_LEN
long-line ${FS_JUNK_LEN:-100000} 220
close
