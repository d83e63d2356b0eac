# SPDX-License-Identifier: MIT
# BR-17 (B) - the server does not accept an initial response with AUTH
# LOGIN: it ignores any argument and always prompts 334 VXNlcm5hbWU6
# ("Username:") then 334 UGFzc3dvcmQ6 ("Password:").
# Expected probe result: OK. A probe that sends "AUTH LOGIN <b64 user>" gets
# a VIOLATION, then sends the password as the user name and ends with
# "535 5.7.8 Authentication credentials invalid".
# Env: FS_USER, FS_PASS.
send 220 smtp.example.com ESMTP
expect EHLO
send 250-smtp.example.com
send 250 AUTH LOGIN
auth-login-expect ${FS_USER} ${FS_PASS}
forbid AUTH
quit
