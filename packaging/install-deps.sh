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

# One install-deps at a time on a machine (the demo, the suite and a
# developer's build may start it together): a second run waits here, then
# finds nothing missing. Without this, two runs shared apt's log and the
# policy-rc.d file below, and one run's clean-up made the other fail.
exec 9>>/run/lock/mailhealth-install-deps.lock
if ! flock -n 9; then
    echo "install-deps: another install-deps run is installing; waiting" >&2
    flock 9
fi

missing=()
for p in "${build_pkgs[@]}" "${test_pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
        grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# Exim and OpenSMTPD unpacked (not installed: they conflict with Postfix) for
# tests/integration/test_mta_families.sh; a few MB from the same Debian
# mirror, nothing when already there. A failure here only makes that test
# skip them. MH_NO_MTAS=1 leaves them out. Haraka (npm) is not fetched here:
# MH_MTA_HARAKA=1 tests/lab/mtas.sh fetch.
mtas=$(dirname "$0")/../tests/lab/mtas.sh
fetch_mtas() {
    [ "${MH_NO_MTAS:-0}" != 1 ] && [ -f "$mtas" ] || return 0
    $SUDO bash "$mtas" fetch ||
        echo "install-deps: Exim/OpenSMTPD not unpacked; test_mta_families skips them" >&2
}

if [ ${#missing[@]} -eq 0 ]; then
    fetch_mtas
    exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
log=/tmp/mailhealth-apt.log
: >"$log"

# A fresh machine runs apt on its own in its first minutes (unattended-
# upgrades, apt-daily): apt's and debconf's locks are then held for a while.
# locked_retry CMD...: runs CMD; while it fails because one of those locks is
# held, waits 5 s and tries again, for up to MH_APT_LOCK_WAIT seconds
# (default 900); any other failure ends the script with the log's tail.
# apt-get also waits by itself for the dpkg lock (DPkg::Lock::Timeout).
lock_wait=${MH_APT_LOCK_WAIT:-900}
apt_opts=(-o "DPkg::Lock::Timeout=$lock_wait")
locked_retry() {
    local waited=0 said= rc
    while true; do
        rc=0
        "$@" >"$log.try" 2>&1 </dev/null || rc=$?
        cat "$log.try" >>"$log"
        [ "$rc" -ne 0 ] || return 0
        if ! grep -Eqi 'could not get lock|unable to acquire|is locked by another process' "$log.try"; then
            tail -n 40 "$log" >&2
            exit 1
        fi
        if [ "$waited" -ge "$lock_wait" ]; then
            echo "install-deps: apt or debconf still locked after ${waited} s:" >&2
            tail -n 5 "$log" >&2
            exit 1
        fi
        [ -n "$said" ] || echo "install-deps: another apt or dpkg run holds its lock; waiting" >&2
        said=1
        sleep 5
        waited=$((waited + 5))
    done
}

# Postfix must not configure itself as the machine's MTA: the lab runs its own
# instance from tests/lab/.
locked_retry $SUDO sh -c 'echo "postfix postfix/main_mailer_type select No configuration" |
    debconf-set-selections'
# Keep package maintainer scripts from starting daemons (the lab starts its
# own); remove our policy file afterwards if we created it.
policy_created=
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    policy_created=1
fi
trap 'rm -f "$log.try"; [ -n "$policy_created" ] && $SUDO rm -f /usr/sbin/policy-rc.d' EXIT

# The package lists first: a fresh machine's may be missing or stale.
locked_retry $SUDO apt-get "${apt_opts[@]}" update -qq
locked_retry $SUDO apt-get "${apt_opts[@]}" install -y -qq \
    --no-install-recommends "${missing[@]}"
# The system services may have been started by a package on machines without
# a policy file; stop them so they do not hold ports or the lab's resources.
for svc in postfix postgrey dovecot nsd unbound rbldnsd prometheus \
    prometheus-node-exporter prometheus-alertmanager icinga2 nagios4 nginx; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q "$svc" 2>/dev/null; then
        $SUDO systemctl stop "$svc" || true
    fi
done
fetch_mtas
echo "install-deps: done" >&2
