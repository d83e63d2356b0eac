# SPDX-License-Identifier: MIT
# BR-28 (variant) - the server closes (FIN) right after the EHLO reply and
# never answers. Whatever the probe still sends (QUIT) is recorded after
# "EVENT close".
# Expected probe result: OK / - / "SMTP OK ... (server closed connection
# before QUIT)", exit 0; never SIGPIPE/141.
send 220 mx.example.com ESMTP
expect EHLO
send 250 mx.example.com
close
