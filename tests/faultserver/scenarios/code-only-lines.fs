# SPDX-License-Identifier: MIT
# Synthetic - reply lines made of the code alone: the last EHLO line is
# "250" (RFC 5321 4.2: the text after the code is optional), MAIL/RCPT/RSET
# answers are "250", and the empty AUTH PLAIN challenge is "334" without the
# space RFC 4954 asks for (seen only when the probe sends AUTH PLAIN without
# an initial response).
# Expected probe result: OK (AUTH, if tried with FS_USER/FS_PASS: ok).
# Env: FS_USER, FS_PASS optional (defaults probe / secret).
send 220 mx.example.com ESMTP
on EHLO 250-mx.example.com
on EHLO 250-AUTH PLAIN LOGIN
on EHLO 250
on HELO 250
on MAIL 250
on RCPT 250
on RSET 250
on NOOP 250
auth-empty-challenge 334
on-auth ${FS_USER:-probe} ${FS_PASS:-secret}
serve
