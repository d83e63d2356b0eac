#!/usr/bin/perl
# SPDX-License-Identifier: MIT
#
# count-relay.pl ADDRESS PORT UPSTREAM_ADDRESS UPSTREAM_PORT READYFILE LOG [DROP]
#
# A UDP DNS relay for the tests: every query from a client is written to
# LOG, then forwarded to the
# upstream server with an ID of the relay's own, and the answer goes back
# to the client with the client's ID. Log lines are "SECONDS TYPE NAME"
# (seconds since the epoch with microseconds; TYPE A, TXT, AAAA or the
# number). DROP, a Perl regular expression, makes the relay
# lose the first query for every "TYPE NAME" it matches (the packet is
# logged as "drop TYPE NAME" and never forwarded): a lost UDP answer,
# which the client must retry within its deadline. Writes READYFILE once
# the socket is bound; runs in the foreground until killed. Only core Perl
# modules (perl-base).
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes ();

my ($addr, $port, $up_addr, $up_port, $ready, $logfile, $drop) = @ARGV;
die "usage: $0 ADDRESS PORT UPSTREAM_ADDRESS UPSTREAM_PORT READYFILE LOG [DROP]\n"
    unless defined $logfile;

my $cl = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => $port,
    Proto => 'udp', ReuseAddr => 1) or die "count-relay: $addr:$port: $@\n";
my $up = IO::Socket::INET->new(PeerAddr => $up_addr, PeerPort => $up_port,
    Proto => 'udp') or die "count-relay: upstream: $@\n";
open my $log, '>>', $logfile or die "count-relay: $logfile: $!\n";
$log->autoflush(1);
open my $fh, '>', $ready or die "count-relay: $ready: $!\n";
print $fh "$$\n";
close $fh;
$SIG{TERM} = $SIG{INT} = sub { exit 0 };

# question DATAGRAM: "TYPE NAME" of the question (RFC 1035 4.1.2).
my %types = (1 => 'A', 16 => 'TXT', 28 => 'AAAA');
sub question {
    my ($p) = @_;
    my ($o, @l) = (12);
    while ($o < length $p) {
        my $n = ord substr($p, $o, 1);
        last if $n == 0 || $n > 63;
        push @l, substr($p, $o + 1, $n);
        $o += 1 + $n;
    }
    my $t = $o + 3 <= length $p ? unpack('n', substr($p, $o + 1, 2)) : 0;
    return ($types{$t} // $t) . ' ' . (@l ? lc join('.', @l) : '?');
}

my (%pending, %seen);
my $next = int rand 65536;
my $sel = IO::Select->new($cl, $up);
while (1) {
    for my $s ($sel->can_read) {
        my $buf;
        if ($s == $cl) {
            my $from = $cl->recv($buf, 65535);
            next unless defined $from && length $buf >= 12;
            my $name = question($buf);
            if (defined $drop && $name =~ /$drop/ && !$seen{$name}++) {
                printf $log "%.6f drop %s\n", Time::HiRes::time(), $name;
                next;
            }
            printf $log "%.6f %s\n", Time::HiRes::time(), $name;
            my $id = $next++ & 0xffff;
            $pending{$id} = [$from, substr($buf, 0, 2)];
            $up->send(pack('n', $id) . substr($buf, 2));
        } else {
            $up->recv($buf, 65535);
            next unless defined $buf && length $buf >= 12;
            my $p = delete $pending{unpack 'n', $buf} or next;
            $cl->send($p->[1] . substr($buf, 2), 0, $p->[0]);
        }
    }
}
