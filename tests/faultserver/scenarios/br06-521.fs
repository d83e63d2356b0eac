# SPDX-License-Identifier: MIT
# BR-06 - The server greets with 521 and closes.
# Expected probe result: with "expected greeting code = 521" -> OK / - /
# "greeting 521 as expected"; without it -> CRITICAL / response / "greeting
# 521 5.3.2 mx-old.example.com does not accept mail". In both runs no EHLO
# or HELO is sent (VIOLATION if it is) and the result never says "recv()
# failed".
send 521 5.3.2 mx-old.example.com does not accept mail
forbid EHLO
forbid HELO
close
