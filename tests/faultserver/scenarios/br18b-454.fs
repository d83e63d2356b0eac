# SPDX-License-Identifier: MIT
# BR-18 (B) - AUTH answered 454 (temporary failure on the server side, even
# for correct credentials).
# Expected probe result: WARNING / auth / "temporary authentication failure
# on server side (454 4.7.0 ...)". Only one AUTH attempt (VIOLATION on a
# second one).
# Env: FS_USER, FS_PASS.
send 220 smtp.example.com ESMTP
expect EHLO
send 250-smtp.example.com
send 250 AUTH CRAM-MD5 PLAIN LOGIN
auth-result 454 4.7.0 Temporary authentication failure: Connection lost to authentication server
auth-any-expect ${FS_USER} ${FS_PASS}
forbid AUTH
quit
