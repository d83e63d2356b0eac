# SPDX-License-Identifier: MIT
# Synthetic - 4096 bytes of non-SMTP junk instead of a greeting (binary,
# NULs, CR without LF, lines longer than 512 octets, invalid UTF-8; no line
# starts with a digit), then the server holds.
# Expected probe result: CRITICAL / response / "garbage greeting (not an
# SMTP reply)" without waiting for the timeout; no crash. No EHLO after it
# (VIOLATION).
junk 1 4096
forbid EHLO
forbid HELO
