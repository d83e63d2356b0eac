# SPDX-License-Identifier: MIT
# BR-01 - Multi-line 220 greeting with a 3 s pause inside it.
# Expected probe result: OK. The probe sends nothing until the line whose
# fourth character is a space; the greeting is stored as all three lines
# joined; the response time includes the 3 s wait.
# A probe that talks before the last line gets "521 5.5.1 Protocol error"
# (postscreen) and the transcript shows EVENT early-talk + VIOLATION.
send 220-mx.example.com ESMTP
send 220-Unsolicited bulk mail is not accepted on this system,
greet-pause 3 521 5.5.1 Protocol error
send 220 see https://postmaster.example.com/ for policy.
expect EHLO
send 250-mx.example.com
send 250 8BITMIME
quit
