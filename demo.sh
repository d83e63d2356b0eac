#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The demo (README, first command): installs the dependencies, builds
# check_mailhealth, starts the local lab of real servers (Postfix with
# STARTTLS, implicit TLS, Dovecot SASL and postgrey; Dovecot IMAP; nsd and
# unbound for DNS, a DNSSEC-signed zone and a validating unbound for DANE;
# rbldnsd for DNSBL zones; nginx serving MTA-STS policies; the scripted fault
# server), runs checks against it and shows Nagios, JSON and Prometheus
# output, ending with the runner serving /metrics and /probe. Everything runs
# on loopback and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)

packaging/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >build.cmake.log 2>&1 ||
    { cat build.cmake.log; exit 1; }
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

lab=${MH_LAB_DIR:-$root/build/lab-demo}
export MH_LAB_PORT_BASE=${MH_LAB_PORT_BASE:-25000}
echo "Starting the lab in $lab (ports from $MH_LAB_PORT_BASE on 127.0.0.1) ..."
tests/lab/lab.sh start "$lab" >"$root/build/lab-demo.log" 2>&1 ||
    { tail -n 40 "$root/build/lab-demo.log"; exit 1; }
# Where the lab keeps its files when the clone is out of the daemons' reach.
grep -h "cannot use" "$root/build/lab-demo.log" || true
fs_pid=
cleanup() {
    if [ -n "$fs_pid" ]; then
        kill "$fs_pid" 2>/dev/null || true
    fi
    tests/lab/lab.sh stop "$lab" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# shellcheck disable=SC1091
. "$lab/lab.env"

bin=$root/build/check_mailhealth
R=(--resolver "$LAB_RESOLVER")

show() {
    echo
    echo "\$ check_mailhealth $*"
    set +e
    "$bin" "$@"
    local rc=$?
    set -e
    echo "(exit code $rc)"
}

title() {
    echo
    echo "=================================================================="
    echo "== $*"
    echo "=================================================================="
}

title "SMTP: the lab's MX with STARTTLS, certificate chain and relay test"
show smtp -H "$LAB_MX_NAME" -p "$LAB_SMTP_PORT" "${R[@]}" --starttls \
    --ca-file "$LAB_CA_FILE" --cert-days 30,14 --mail-from probe@lab.test \
    --rcpt-to "$LAB_USER" --relay-test someone@foreign.test

title "SMTP submission (port 587 style) with AUTH over STARTTLS, as JSON"
show smtp -H "$LAB_MX_NAME" -p "$LAB_SUBMISSION_PORT" "${R[@]}" --starttls \
    --ca-file "$LAB_CA_FILE" --auth-user "$LAB_USER" \
    --auth-password-file "$LAB_PASSWORD_FILE" --mail-from "$LAB_USER" \
    --rcpt-to "$LAB_USER2" --output json

title "SMTP implicit TLS (port 465 style), Prometheus text format"
show smtp -H "$LAB_MX_NAME" -p "$LAB_SMTPS_PORT" "${R[@]}" --tls \
    --ca-file "$LAB_CA_FILE" --cert-days 30,14 --output prometheus

title "Failures name their category: wrong password, open port missing"
printf 'wrong-password\n' >"$lab/wrong-password"
chmod 600 "$lab/wrong-password"
show smtp -H "$LAB_MX_NAME" -p "$LAB_SUBMISSION_PORT" "${R[@]}" --starttls \
    --ca-file "$LAB_CA_FILE" --auth-user "$LAB_USER" \
    --auth-password-file "$lab/wrong-password"
show smtp -H 127.0.0.1 -p 1
show smtp -H 127.0.0.1 -p 1 --output json

title "A misbehaving server (scripted fault server): 554 greeting, socket held open"
if [ -x build/tests/faultserver/mh_faultserver ]; then
    build/tests/faultserver/mh_faultserver \
        --script tests/faultserver/scenarios/br04b-554-hold.fs --port 0 \
        --port-file "$lab/fs.port" --sessions 1 --max-seconds 30 \
        >/dev/null 2>&1 &
    fs_pid=$!
    for _ in $(seq 1 50); do [ -s "$lab/fs.port" ] && break; sleep 0.1; done
    show smtp -H 127.0.0.1 -p "$(cat "$lab/fs.port")" -t 10
fi

title "Greylisting (real postgrey) is a temporary response, never a blocklist"
show smtp -H "$LAB_HOST" -p "$LAB_SMTP_GREY_PORT" \
    --mail-from "demo-$$@example.net" --rcpt-to "$LAB_USER" -v

title "TLS certificate check (verified chain, expiry of every element)"
show tls -H "$LAB_MX_NAME" -p "$LAB_SMTP_PORT" "${R[@]}" --starttls \
    --ca-file "$LAB_CA_FILE" --cert-days 30,14

title "DNSBL: a listed address, with TXT reason and zone health"
show dnsbl -H 192.0.2.10 --zone bl.lab.test --zone err.lab.test \
    --zone all.lab.test "${R[@]}"
show dnsbl -H 2001:db8:abc:123::42 --zone bl6.lab.test "${R[@]}" --output json
show dnsbl -H 192.0.2.20 --zone bl.lab.test:ip4 --zone multi.bl.lab.test:ip4 \
    "${R[@]}" --output prometheus

title "Domain: MX lookup, then every MX host checked"
show domain -D lab.test "${R[@]}" --starttls --ca-file "$LAB_CA_FILE" \
    -p "$LAB_SMTP_PORT" --zone bl.lab.test:ip4

title "DANE (RFC 7672): TLSA over DNSSEC through a validating resolver"
show smtp -H ee.dane.test -p "$LAB_DANE_SMTP_PORT" --dane \
    --resolver "$LAB_DANE_RESOLVER" --dnssec-probe dane.test

title "MTA-STS (RFC 8461): the policy, its host certificate and the MX it covers"
show mta-sts -D "enforce.$LAB_STS_DOMAIN" "${R[@]}" -p "$LAB_SMTP_PORT" \
    --ca-file "$LAB_CA_FILE"

title "Prometheus textfile for node_exporter (atomic write)"
show smtp -H "$LAB_MX_NAME" -p "$LAB_SMTP_PORT" "${R[@]}" --starttls \
    --ca-file "$LAB_CA_FILE" --textfile "$lab/mailhealth.prom"
echo
echo "\$ cat $lab/mailhealth.prom"
cat "$lab/mailhealth.prom"

title "The runner as a Prometheus exporter: /metrics and blackbox-style /probe"
exp_port=$((MH_LAB_PORT_BASE + 90))
cat >"$lab/exporter.json" <<EOF
{
  "interval_seconds": 30,
  "resolver": "$LAB_RESOLVER",
  "checks": [
    {"name": "mx", "check": "smtp", "host": "$LAB_MX_NAME", "port": $LAB_SMTP_PORT,
     "starttls": true, "ca_file": "$LAB_CA_FILE"}
  ],
  "exporter": {
    "listen": "127.0.0.1:$exp_port",
    "modules": {
      "smtp_starttls": {"check": "smtp", "starttls": true, "ca_file": "$LAB_CA_FILE",
                        "allowed_targets": ["*.lab.test"]}
    }
  }
}
EOF
echo
echo "\$ check_mailhealth run --config $lab/exporter.json &"
"$bin" run --config "$lab/exporter.json" 2>"$lab/exporter.log" &
fs_pid=$!
for _ in $(seq 1 100); do grep -q "round 1:" "$lab/exporter.log" && break; sleep 0.1; done
url=http://127.0.0.1:$exp_port
echo
echo "\$ curl -s $url/metrics | grep '^mailhealth_probe_success'"
curl -s "$url/metrics" | grep '^mailhealth_probe_success' || true
probe="$url/probe?module=smtp_starttls&target=$LAB_MX_NAME:$LAB_SMTP_PORT"
echo
echo "\$ curl -s '$probe' | grep -v '^#' | head -n 8"
curl -s "$probe" | grep -v '^#' | head -n 8 || true
kill "$fs_pid" 2>/dev/null || true
wait "$fs_pid" 2>/dev/null || true
fs_pid=
echo
echo "Demo done; stopping the lab."
