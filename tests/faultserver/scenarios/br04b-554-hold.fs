# SPDX-License-Identifier: MIT
# BR-04 (B) - 554 greeting, then the socket stays open and silent.
# Expected probe result: CRITICAL / response / "greeting 554 5.7.1 ...
# connection refused by policy", straight after the 554 line (well under
# 1 s), not at the timeout. No EHLO/HELO is sent (VIOLATION if it is).
# The server keeps holding until the probe closes (EVENT client-closed).
send 554 5.7.1 mx.example.com: connection refused by policy
forbid EHLO
forbid HELO
hold
