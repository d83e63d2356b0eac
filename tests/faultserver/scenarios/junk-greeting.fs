# SPDX-License-Identifier: MIT
# Hardening - junk instead of a greeting: FS_JUNK_BYTES (default
# 2048) bytes of deterministic junk from seed FS_JUNK_SEED (binary, NUL
# runs, CR without LF, printable runs of up to 3000 octets without a line
# end, invalid UTF-8, bare LFs; no line starts with a digit), then hold.
# Expected probe result: CRITICAL / response ("not an SMTP reply line" or
# "line longer than 510 octets") at once; never EHLO.
# env: FS_JUNK_SEED, FS_JUNK_BYTES (tests/integration/test_junk.sh)
junk ${FS_JUNK_SEED:-1} ${FS_JUNK_BYTES:-2048}
forbid EHLO
forbid HELO
