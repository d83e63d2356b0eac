#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# packaging/: the Debian and RPM packages build from a copy of the tree and
# hold what the monitoring systems look for, offline. Needs no lab. Its own
# CTest test, apart from test_contrib.sh: two builds of the project take
# minutes on a busy machine.
#
#   Debian        dpkg-buildpackage -b -us -uc in a copy of the tree,
#                 dpkg-deb -c/-x: the plugin where Nagios and Icinga look,
#                 the CheckCommands in plugins-contrib.d, units, man page;
#                 lintian: errors fail, warnings are reported.
#   RPM           rpmspec -P, rpmlint (spec), rpmbuild -bb with a shim for
#                 the Fedora macros Debian's rpm lacks; the plugin lands in
#                 %{_libdir}/nagios/plugins.
#
# The package builds do not depend on the sanitizers: under tests/run.sh's
# ASan pass (ASAN_OPTIONS set) they are skipped unless MH_CONTRIB_PACKAGES=1.
. "$(dirname "$0")/lib.sh"

SRC=$MH_SOURCE_DIR
C=$SRC/contrib
W=$T_TMP

for tool in dpkg-buildpackage dpkg-deb lintian rpmspec rpmbuild rpmlint rpm2cpio; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        case_ tools
        fail "$tool not installed (packaging/install-deps.sh)"
    fi
done
[ "$T_FAIL" -eq 0 ] || { finish; exit 1; }

if [ -n "${ASAN_OPTIONS:-}" ] && [ "${MH_CONTRIB_PACKAGES:-0}" != 1 ]; then
    note "sanitizer pass: Debian and RPM package builds skipped (they ran in the first pass; MH_CONTRIB_PACKAGES=1 forces them)"
    finish
    exit
fi

# A copy of the tree: tracked and untracked files that git does not ignore
# (no build directories), or everything but build*/ without git.
TREE=$W/pkg/mailhealth-0.1.0
mkdir -p "$TREE"
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$SRC" && git ls-files -z -co --exclude-standard |
        tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -C "$TREE" -xf -
else
    (cd "$SRC" && tar --exclude='./build*' --exclude=./lab --exclude=./.git -cf - .) | tar -C "$TREE" -xf -
fi
jobs=$(nproc 2>/dev/null || echo 2)

case_ "debian package"
cp -r "$TREE" "$W/pkg/deb-src"
cp -r "$W/pkg/deb-src/packaging/debian" "$W/pkg/deb-src/debian"
LAST_CMD="dpkg-buildpackage -b -us -uc (in $W/pkg/deb-src)"
t0=$(date +%s)
if (cd "$W/pkg/deb-src" && DEB_BUILD_OPTIONS="parallel=$jobs" dpkg-buildpackage -b -us -uc) >"$W/pkg/deb.log" 2>&1; then
    ok "dpkg-buildpackage -b -us -uc ($(($(date +%s) - t0)) s)"
else
    OUT=$(tail -n 40 "$W/pkg/deb.log")
    not_ok "dpkg-buildpackage -b -us -uc"
fi
DEB=$(ls "$W"/pkg/mailhealth_*_*.deb 2>/dev/null | head -n 1)
if [ -n "$DEB" ]; then
    dpkg-deb -c "$DEB" >"$W/pkg/contents"
    echo "dpkg -c $(basename "$DEB"):"
    awk '{ print "       " $1, $6 }' "$W/pkg/contents"
    X=$W/pkg/x
    dpkg-deb -x "$DEB" "$X"
    for f in usr/lib/nagios/plugins/check_mailhealth \
        usr/share/icinga2/include/plugins-contrib.d/mailhealth.conf \
        etc/nagios-plugins/config/mailhealth.cfg \
        usr/share/man/man1/check_mailhealth.1.gz \
        lib/systemd/system/mailhealth.service lib/systemd/system/mailhealth-once.service \
        lib/systemd/system/mailhealth-once.timer \
        usr/lib/sysusers.d/mailhealth.conf usr/lib/tmpfiles.d/mailhealth.conf \
        usr/share/mailhealth/dnsbl-zones.json usr/share/mailhealth/prometheus/mailhealth-rules.yml \
        usr/share/mailhealth/prometheus/mailhealth-rules.test.yml usr/share/mailhealth/prometheus/alertmanager-example.yml \
        usr/share/mailhealth/grafana/mailhealth-dashboard.json usr/share/mailhealth/icinga2/example-services.conf \
        usr/share/mailhealth/icinga2/distributed/master/zones.conf usr/share/mailhealth/nagios/example-services.cfg \
        usr/share/doc/mailhealth/examples/runner-example.json; do
        [ -e "$X/$f" ] || fail "package lacks /$f"
    done
    # Every Prometheus and Grafana file of contrib/, so a new one cannot be
    # left out of mailhealth.install unnoticed (CMake and the spec install
    # them all).
    for f in "$MH_SOURCE_DIR"/contrib/prometheus/* "$MH_SOURCE_DIR"/contrib/grafana/*; do
        d=${f#"$MH_SOURCE_DIR"/contrib/}
        [ -e "$X/usr/share/mailhealth/$d" ] || fail "package lacks /usr/share/mailhealth/$d"
    done
    ok "package contents: plugin, CheckCommands, Nagios commands, man page, units, contrib files"
    LAST_CMD="$X/usr/lib/nagios/plugins/check_mailhealth --version"
    OUT=$("$X/usr/lib/nagios/plugins/check_mailhealth" --version 2>&1)
    RC=$?
    if [ "$RC" = 3 ] && grep -q '^check_mailhealth [0-9]' <<<"$OUT"; then
        ok "/usr/lib/nagios/plugins/check_mailhealth runs ($OUT)"
    else
        not_ok "packaged plugin does not run"
    fi
    OUT=$("$X/usr/lib/nagios/plugins/check_mailhealth" smtp -H 127.0.0.1 -p 1 -t 2 2>&1)
    RC=$?
    if [ "$RC" = 2 ] && grep -q '^MAILHEALTH CRITICAL - \[connection\]' <<<"${OUT%%$'\n'*}"; then
        ok "packaged plugin checks: refused connection is CRITICAL [connection]"
    else
        not_ok "packaged plugin check"
    fi
    cmp -s "$X/usr/share/icinga2/include/plugins-contrib.d/mailhealth.conf" "$C/icinga2/mailhealth.conf" &&
        cmp -s "$X/etc/nagios-plugins/config/mailhealth.cfg" "$C/nagios/mailhealth.cfg" &&
        ok "the packaged Icinga and Nagios files are the validated ones" || fail "packaged Icinga/Nagios files differ from contrib/"
    grep -qx '/etc/nagios-plugins/config/mailhealth.cfg' <(dpkg-deb -I "$DEB" conffiles 2>/dev/null) &&
        ok "/etc/nagios-plugins/config/mailhealth.cfg is a conffile" || fail "mailhealth.cfg is not a conffile"
    # Every shared library the plugin needs, linked (NEEDED) or loaded
    # with dlopen() (a soname in its strings, e.g. libcurl.so.4), comes
    # from a package in Depends.
    deps=$(dpkg-deb -f "$DEB" Depends)
    undeclared=""
    for so in $( (objdump -p "$X/usr/lib/nagios/plugins/check_mailhealth" | awk '$1 == "NEEDED" { print $2 }'
        strings "$X/usr/lib/nagios/plugins/check_mailhealth" | grep -E '^lib[a-z0-9_+-]+\.so\.[0-9]+$') | sort -u); do
        pkg=$(dpkg -S "*/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/$so" 2>/dev/null | head -n 1 | cut -d: -f1)
        if [ -z "$pkg" ]; then
            undeclared="$undeclared $so(no package)"
        elif ! printf '%s\n' "$deps" | tr ',|' '\n\n' | sed -E 's/^ *([^ ]+).*/\1/' | grep -qx "$pkg"; then
            undeclared="$undeclared $so($pkg)"
        fi
    done
    if [ -z "$undeclared" ]; then
        ok "Depends covers every library the plugin links or loads: $deps"
    else
        fail "libraries without a Depends:$undeclared (Depends: $deps)"
    fi
    # The packaged man page is the one built from this binary's table.
    grep -q 'Generated by packaging/man/mkman.sh' <<<"$(zcat "$X/usr/share/man/man1/check_mailhealth.1.gz")" &&
        ok "packaged man page generated from --help" || fail "packaged man page"

    case_ "lintian"
    CHANGES=$(ls "$W"/pkg/mailhealth_*.changes | head -n 1)
    LAST_CMD="lintian --fail-on error -I --pedantic $(basename "$CHANGES")"
    lintian --fail-on error -I --pedantic "$CHANGES" >"$W/pkg/lintian.log" 2>&1
    RC=$?
    OUT=$(grep -v 'running with root privileges' "$W/pkg/lintian.log")
    grep -E '^[EWIPX]:' <<<"$OUT" | sed 's/^/       lintian: /'
    nerr=$(grep -c '^E:' <<<"$OUT")
    nwarn=$(grep -c '^W:' <<<"$OUT")
    if [ "$RC" = 0 ] && [ "$nerr" = 0 ]; then
        ok "lintian: 0 errors, $nwarn warnings"
    else
        not_ok "lintian: $nerr errors"
    fi
fi

case_ "rpm spec"
SPEC=$SRC/packaging/rpm/check_mailhealth.spec
check_cmd "rpmspec -P parses the spec" rpmspec -P "$SPEC"
LAST_CMD="rpmlint -r check_mailhealth.rpmlintrc $SPEC"
OUT=$(rpmlint -r "$SRC/packaging/rpm/check_mailhealth.rpmlintrc" "$SPEC" 2>&1)
RC=$?
grep -E ': [EW]: ' <<<"$OUT" | sed 's/^/       rpmlint: /'
if [ "$RC" = 0 ] && ! grep -q ': E: ' <<<"$OUT"; then ok "rpmlint: no errors"; else not_ok "rpmlint"; fi
# Debian's rpm has no Fedora macros (systemd-rpm-macros, cmake-rpm-macros):
# a small shim stands in for them, so %build, %install and %files run.
RT=$W/rpmbuild
mkdir -p "$RT/SOURCES"
tar -C "$W/pkg" -czf "$RT/SOURCES/mailhealth-0.1.0.tar.gz" mailhealth-0.1.0
cat >"$RT/fedora-shim.macros" <<EOF
%_unitdir /usr/lib/systemd/system
%_sysusersdir /usr/lib/sysusers.d
%_tmpfilesdir /usr/lib/tmpfiles.d
%systemd_requires %{nil}
%systemd_post() %{nil}
%systemd_preun() %{nil}
%systemd_postun() %{nil}
%systemd_postun_with_restart() %{nil}
%tmpfiles_create() %{nil}
%__cmake_builddir redhat-linux-build
%cmake cmake -S . -B %{__cmake_builddir} -DCMAKE_INSTALL_PREFIX=%{_prefix} -DCMAKE_BUILD_TYPE=RelWithDebInfo
%cmake_build cmake --build %{__cmake_builddir} -j$jobs
EOF
LAST_CMD="rpmbuild -bb --nodeps (Fedora macro shim) $SPEC"
t0=$(date +%s)
if rpmbuild -bb --nodeps --load "$RT/fedora-shim.macros" --define "_topdir $RT" \
    --define 'debug_package %{nil}' "$SPEC" >"$W/rpmbuild.log" 2>&1; then
    ok "rpmbuild -bb ($(($(date +%s) - t0)) s)"
else
    OUT=$(tail -n 40 "$W/rpmbuild.log")
    not_ok "rpmbuild -bb"
fi
RPM=$(ls "$RT"/RPMS/*/nagios-plugins-mailhealth-*.rpm 2>/dev/null | head -n 1)
if [ -n "$RPM" ]; then
    files=$(rpm -qlp "$RPM" 2>/dev/null)
    miss=""
    for f in /usr/lib64/nagios/plugins/check_mailhealth /usr/share/icinga2/include/plugins-contrib.d/mailhealth.conf \
        /usr/lib/systemd/system/mailhealth.service /usr/share/man/man1/check_mailhealth.1 /usr/share/mailhealth/dnsbl-zones.json; do
        grep -qx -- "$f" <<<"$files" || miss="$miss $f"
    done
    if [ -z "$miss" ]; then ok "RPM: plugin in %{_libdir}/nagios/plugins, CheckCommands, units, man page"; else fail "RPM lacks:$miss"; fi
    mkdir -p "$RT/x"
    (cd "$RT/x" && rpm2cpio "$RPM" | cpio -idm --quiet 2>/dev/null)
    u=$RT/x/usr/lib/systemd/system/mailhealth.service
    tf=/var/lib/node_exporter/textfile_collector
    grep -qx "ExecStart=/usr/lib64/nagios/plugins/check_mailhealth run --config /etc/mailhealth/runner.json --textfile $tf/mailhealth.prom" "$u" 2>/dev/null &&
        grep -qx "ReadWritePaths=$tf" "$u" && grep -q "^a+ $tf " "$RT/x/usr/lib/tmpfiles.d/mailhealth.conf" &&
        ok "RPM units start %{_libdir}/nagios/plugins/check_mailhealth and write %{textfile_dir} ($tf)" ||
        fail "RPM unit paths"
    [ "$(rpm -qp --qf '%{NAME}' "$RPM" 2>/dev/null)" = nagios-plugins-mailhealth ] && rpm -qp --requires "$RPM" 2>/dev/null | grep -qx 'nagios-plugins' &&
        ok "RPM nagios-plugins-mailhealth requires nagios-plugins (owner of the plugin directory)" || fail "RPM name/requires"
fi

finish
