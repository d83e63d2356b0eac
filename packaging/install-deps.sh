#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Installs every package the build, the test suite, the lab and the demo need
# on a Debian 12 machine. Idempotent: when everything is already installed it
# prints nothing and asks no package server.
#
# Usage: packaging/install-deps.sh            (as root, or with sudo available)
#
# Services shipped by these packages (postfix, dovecot, nsd, prometheus...)
# are not started or reconfigured by us: the lab runs its own instances with
# their own configuration directories and ports (tests/lab/).
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config clang-format
    libssl-dev libc-ares-dev libcurl4-openssl-dev libcjson-dev libcmocka-dev
    libmicrohttpd-dev libcrypt-dev zlib1g-dev
    openssl ca-certificates)
test_pkgs=(postfix postgrey dovecot-core dovecot-imapd dovecot-lmtpd rbldnsd nsd
    prometheus locales iproute2 procps psmisc unbound bind9-dnsutils curl
    monitoring-plugins-contrib monitoring-plugins-standard
    prometheus-node-exporter prometheus-alertmanager time python3-minimal
    icinga2-bin icinga2-common nagios4-core systemd debhelper dpkg-dev
    fakeroot lintian rpm rpmlint jq cpio groff-base
    libnet-dns-perl libmonitoring-plugin-perl libreadonly-perl libnet-ip-perl
    python3 valgrind clang libclang-rt-14-dev nginx-light
    ldnsutils)

missing=()
for p in "${build_pkgs[@]}" "${test_pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
        grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Postfix must not configure itself as the machine's MTA: the lab runs its own
# instance from tests/lab/.
echo "postfix postfix/main_mailer_type select No configuration" |
    $SUDO debconf-set-selections
# Keep package maintainer scripts from starting daemons (the lab starts its
# own); remove our policy file afterwards if we created it.
policy_created=
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    policy_created=1
fi
trap '[ -n "$policy_created" ] && $SUDO rm -f /usr/sbin/policy-rc.d' EXIT

$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/tmp/mailhealth-apt.log 2>&1 || {
    tail -n 40 /tmp/mailhealth-apt.log >&2
    exit 1
}
# The system services may have been started by a package on machines without
# a policy file; stop them so they do not hold ports or the lab's resources.
for svc in postfix postgrey dovecot nsd unbound rbldnsd prometheus \
    prometheus-node-exporter prometheus-alertmanager icinga2 nagios4 nginx; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q "$svc" 2>/dev/null; then
        $SUDO systemctl stop "$svc" || true
    fi
done
echo "install-deps: done" >&2
