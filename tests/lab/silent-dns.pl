#!/usr/bin/perl
# SPDX-License-Identifier: MIT
#
# silent-dns.pl ADDRESS PORT PIDFILE
#
# A "DNS server" that receives every query (UDP datagrams and TCP
# connections) and never answers: the lab's way to make a resolver or a
# DNSBL client run into its timeout. TCP connections are accepted and kept
# open until the client closes them, so a TCP fallback hangs too.
#
# It binds both sockets first and only then daemonizes and writes PIDFILE,
# so when the command returns with status 0 the port is ready.
# Only core Perl modules are used (perl-base is on every Debian system).
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use POSIX ();

my ($addr, $port, $pidfile) = @ARGV;
die "usage: $0 ADDRESS PORT PIDFILE\n" unless defined $pidfile;

my $udp = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => $port,
    Proto => 'udp', ReuseAddr => 1) or die "silent-dns: udp $addr:$port: $@\n";
my $tcp = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => $port,
    Proto => 'tcp', Listen => 64, ReuseAddr => 1)
    or die "silent-dns: tcp $addr:$port: $@\n";

# Daemonize: the parent exits once the child's pid is on disk.
defined(my $pid = fork) or die "silent-dns: fork: $!\n";
if ($pid) {
    open my $fh, '>', "$pidfile.tmp" or die "silent-dns: $pidfile: $!\n";
    print $fh "$pid\n";
    close $fh;
    rename "$pidfile.tmp", $pidfile or die "silent-dns: $pidfile: $!\n";
    exit 0;
}
POSIX::setsid();
$0 = "mailhealth-lab-silent-dns $addr:$port";
$SIG{TERM} = $SIG{INT} = sub { exit 0 };

my $sel = IO::Select->new($udp, $tcp);
while (1) {
    for my $fh ($sel->can_read) {
        if ($fh == $udp) {
            my $buf;
            $udp->recv($buf, 65535);    # swallow the query
        } elsif ($fh == $tcp) {
            my $c = $tcp->accept;
            $sel->add($c) if $c;
        } else {
            my $n = sysread($fh, my $buf, 4096);
            next if $n;                 # swallow; close only on EOF/error
            $sel->remove($fh);
            close $fh;
        }
    }
}
