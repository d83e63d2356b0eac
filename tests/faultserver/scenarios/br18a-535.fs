# SPDX-License-Identifier: MIT
# BR-18 (A) - AUTH answered 535 (bad credentials).
# Expected probe result: CRITICAL / auth / "credentials rejected (535
# 5.7.8)". Only one AUTH attempt: a second AUTH (LOGIN, CRAM-MD5...) is a
# VIOLATION. The server plays whichever mechanism the probe picks, then
# answers 535 whatever the credentials.
# Env: FS_USER, FS_PASS.
send 220 smtp.example.com ESMTP
expect EHLO
send 250-smtp.example.com
send 250 AUTH CRAM-MD5 PLAIN LOGIN
auth-result 535 5.7.8 Error: authentication failed: authentication failure
auth-any-expect ${FS_USER} ${FS_PASS}
forbid AUTH
quit
