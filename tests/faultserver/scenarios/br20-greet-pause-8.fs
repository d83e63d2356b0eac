# SPDX-License-Identifier: MIT
# BR-20 - 8 s greet pause (sendmail greet_pause / postscreen greet_wait),
# then a normal dialogue with STARTTLS.
# Expected probe result: timeout 10 s -> OK, perfdata time about 8 s; with
# the response-time warning at 5 s -> WARNING / response / "slow greeting:
# 8.0 s"; with the timeout at 6 s -> CRITICAL / timeout / "no greeting
# within 6 s". Talking during the pause -> 554 + VIOLATION.
# The rest is served by rules, so runs with and without --starttls work.
# Env: CERT_DIR; FS_CERT (default valid).
greet-pause 8
send 220 mx.example.com ESMTP
on-plain EHLO 250-mx.example.com
on-plain EHLO 250 STARTTLS
on-tls EHLO 250-mx.example.com
on-tls EHLO 250 8BITMIME
on HELO 250 mx.example.com
on MAIL 250 2.1.0 Ok
on RCPT 250 2.1.5 Ok
on-starttls ${CERT_DIR}/${FS_CERT:-valid}.crt ${CERT_DIR}/${FS_CERT:-valid}.key ${CERT_DIR}/${FS_CERT:-valid}.chain.pem
serve
