# SPDX-License-Identifier: MIT
# BR-02 - Early talker / pipelining detection (Exim/postscreen greet pause).
# Expected probe result: OK, response time about 2 s. The probe never writes
# before it has the complete greeting, sends exactly one command per round
# trip (even though PIPELINING is advertised) and waits for the 221 before
# closing (no "EVENT closed-before-reply").
# Bytes during the 2 s pause -> EVENT early-talk, VIOLATION, 554 and close.
# A second command in the same write -> EVENT pipelined, VIOLATION, 554.
greet-pause 2
send 220 mx.example.com ESMTP
forbid-pipelining 554 5.5.1 SMTP synchronization error
expect EHLO
send 250-mx.example.com
send 250-PIPELINING
send 250 STARTTLS
quit
