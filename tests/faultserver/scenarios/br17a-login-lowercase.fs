# SPDX-License-Identifier: MIT
# BR-17 (A) - AUTH LOGIN with lowercase prompts "username:"/"password:"
# (smtp.163.com style: 334 dXNlcm5hbWU6 / 334 cGFzc3dvcmQ6).
# Expected probe result: OK. LOGIN challenges are ignored apart from their
# order (1st = user, 2nd = password); no initial response with LOGIN
# (VIOLATION if one is sent). Plain-text session (as in the field case).
# Probe run with --auth-mech LOGIN and FS_USER/FS_PASS.
# Env: FS_USER, FS_PASS.
send 220 smtp.example.com ESMTP
expect EHLO
send 250-smtp.example.com
send 250 AUTH LOGIN
auth-login-lower ${FS_USER} ${FS_PASS}
forbid AUTH
quit
