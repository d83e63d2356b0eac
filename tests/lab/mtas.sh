#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Other MTA families for tests/integration/test_mta_families.sh: Exim and
# OpenSMTPD unpacked from Debian 12's own packages (they conflict with the
# installed Postfix as packages, so they are never installed: `apt-get
# download` and `dpkg-deb -x` into one directory), and optionally Haraka from
# npm. Nothing is configured or started here; the test runs each daemon with
# its own configuration file on lab ports and stops it.
#
# Usage: tests/lab/mtas.sh fetch [DIR]     (root; DIR default $MH_MTA_DIR or
#                                          /opt/mailhealth-mtas)
#        MH_MTA_HARAKA=1 tests/lab/mtas.sh fetch [DIR]   (also Haraka, npm)
#
# Idempotent: what is already unpacked is neither downloaded nor touched.
# The daemons look up their users by compiled-in names, so fetch creates them
# the way the packages' maintainer scripts do (system users without a login
# or home): Debian-exim, opensmtpd, opensmtpq, and OpenSMTPD's empty chroot
# /var/lib/opensmtpd/empty.
set -euo pipefail

die() {
    echo "mtas: $*" >&2
    exit 1
}

debian_pkgs=(exim4-daemon-light exim4-base exim4-config libidn12 opensmtpd)

fetch_debs() { # DIR
    local dir=$1 tmp p
    if [ -x "$dir/root/usr/sbin/exim4" ] && [ -x "$dir/root/usr/sbin/smtpd" ]; then
        return 0
    fi
    tmp=$(mktemp -d)
    # apt-get download writes as _apt when it can; a directory it may write
    # avoids the "download is performed unsandboxed" warning.
    chmod 777 "$tmp"
    if ! (cd "$tmp" && apt-get download -qq "${debian_pkgs[@]}" >/dev/null 2>&1); then
        # The package lists may be missing or stale on a fresh machine.
        apt-get update -qq >/dev/null 2>&1 || true
        (cd "$tmp" && apt-get download -qq "${debian_pkgs[@]}" >/dev/null) ||
            { rm -rf "$tmp"; die "apt-get download ${debian_pkgs[*]} failed"; }
    fi
    mkdir -p "$dir/root"
    for p in "$tmp"/*.deb; do
        dpkg-deb -x "$p" "$dir/root"
    done
    rm -rf "$tmp"
}

system_user() { # NAME HOME
    getent group "$1" >/dev/null || groupadd --system "$1"
    id "$1" >/dev/null 2>&1 ||
        useradd --system --gid "$1" --no-create-home --home-dir "$2" \
            --shell /usr/sbin/nologin "$1"
}

fetch_haraka() { # DIR
    local dir=$1
    [ "${MH_MTA_HARAKA:-0}" = 1 ] || return 0
    [ -f "$dir/haraka/node_modules/Haraka/bin/haraka" ] && return 0
    command -v npm >/dev/null || die "MH_MTA_HARAKA=1 but npm is not installed"
    mkdir -p "$dir/haraka"
    (cd "$dir/haraka" && npm install --no-audit --no-fund --silent Haraka@3 >/dev/null) ||
        die "npm install Haraka failed"
}

cmd=${1:-}
dir=${2:-${MH_MTA_DIR:-/opt/mailhealth-mtas}}
case $cmd in
fetch)
    [ "$(id -u)" -eq 0 ] || die "fetch must run as root"
    fetch_debs "$dir"
    system_user Debian-exim /nonexistent
    system_user opensmtpd /var/lib/opensmtpd/empty
    system_user opensmtpq /var/lib/opensmtpd/empty
    mkdir -p /var/lib/opensmtpd/empty
    fetch_haraka "$dir"
    ;;
*)
    echo "usage: $0 fetch [DIR]" >&2
    exit 2
    ;;
esac
