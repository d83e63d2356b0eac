# SPDX-License-Identifier: MIT
# BR-28 - the server resets the connection right after the EHLO reply.
# Expected probe result: OK / - / "SMTP OK ... (server closed connection
# before QUIT)", exit 0. The probe ignores SIGPIPE (or uses MSG_NOSIGNAL)
# and never exits outside 0-3.
send 220 mx.example.com ESMTP
expect EHLO
send 250 mx.example.com
rst
