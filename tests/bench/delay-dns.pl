#!/usr/bin/perl
# SPDX-License-Identifier: MIT
#
# Benchmark helper for tests/bench/bench_dnsbl.sh: a DNSBL server on UDP that
# answers every query DELAY_MS after it arrived, however many are in flight
# (one event loop, no per-query sleep), like a resolver with a long round
# trip in front of real DNSBLs.
#
# Zones z1.bench.test .. zN.bench.test (N = ZONES), RFC 5782 style:
#   2.0.0.127.zK.bench.test        A 127.0.0.2 (test entry), TXT
#   10.2.0.192.zK.bench.test       A 127.0.0.2, TXT   for K <= LISTED
#   anything else under zK         NXDOMAIN with the zone's SOA
#   names outside the zones        REFUSED
# Packets are built and parsed with Net::DNS (libnet-dns-perl).
#
# Usage: delay-dns.pl ADDR PORT DELAY_MS ZONES LISTED PIDFILE
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use Net::DNS;
use Socket qw(MSG_DONTWAIT);
use Time::HiRes qw(time);

my ( $addr, $port, $delay_ms, $nzones, $nlisted, $pidfile ) = @ARGV;
die "usage: $0 ADDR PORT DELAY_MS ZONES LISTED PIDFILE\n"
  unless defined $pidfile;
my $delay = $delay_ms / 1000;

my $sock = IO::Socket::INET->new(
    LocalAddr => $addr,
    LocalPort => $port,
    Proto     => 'udp',
    ReuseAddr => 1,
) or die "cannot bind $addr:$port: $!\n";
$sock->setsockopt( SOL_SOCKET, SO_RCVBUF, 1 << 20 );
$sock->setsockopt( SOL_SOCKET, SO_SNDBUF, 1 << 20 );
$0 = 'mailhealth-bench-delay-dns';
open my $pf, '>', $pidfile or die "cannot write $pidfile: $!\n";
print {$pf} "$$\n";
close $pf;
$SIG{TERM} = $SIG{INT} = sub { unlink $pidfile; exit 0 };

sub answer {
    my ($req) = @_;
    my $rep = $req->reply();    # rcode FORMERR until set
    $rep->header->aa(1);
    $rep->header->rcode('NOERROR');
    my ($q) = $req->question;
    return $rep unless $q;
    my $name = lc $q->qname;
    my $type = $q->qtype;
    unless ( $name =~ /^(.*)\.(z(\d+)\.bench\.test)$/ && $3 >= 1 && $3 <= $nzones )
    {
        $rep->header->rcode('REFUSED');
        return $rep;
    }
    my ( $prefix, $zone, $k ) = ( $1, $2, $3 );
    my $listed = $prefix eq '2.0.0.127'
      || ( $prefix eq '10.2.0.192' && $k <= $nlisted );
    if ( !$listed ) {
        $rep->header->rcode('NXDOMAIN');
        $rep->push( authority => Net::DNS::RR->new(
            "$zone 60 IN SOA ns.bench.test hostmaster.bench.test 1 60 60 600 5") );
        return $rep;
    }
    if ( $type eq 'A' ) {
        $rep->push( answer => Net::DNS::RR->new("$name 60 IN A 127.0.0.2") );
    }
    elsif ( $type eq 'TXT' ) {
        $rep->push( answer => Net::DNS::RR->new(
            "$name 60 IN TXT \"Listed on $zone, see https://bench.test/$k\"") );
    }
    return $rep;
}

my $sel = IO::Select->new($sock);
my @queue;    # [due, peer, packet], in arrival order = due order
while (1) {
    my $timeout = @queue ? $queue[0][0] - time : undef;
    $timeout = 0 if defined $timeout && $timeout < 0;
    if ( $sel->can_read($timeout) ) {
        # Take every waiting datagram (and its arrival time) before the
        # slow part, so parsing does not delay the later ones.
        my @in;
        while (1) {
            my $buf;
            my $peer = $sock->recv( $buf, 65535, MSG_DONTWAIT );
            last unless defined $peer && length $peer;
            push @in, [ time, $peer, $buf ];
        }
        for my $m (@in) {
            my $req = eval { Net::DNS::Packet->new( \$m->[2] ) } or next;
            push @queue, [ $m->[0] + $delay, $m->[1], answer($req)->data ];
        }
    }
    my $now = time;
    while ( @queue && $queue[0][0] <= $now ) {
        my $e = shift @queue;
        $sock->send( $e->[2], 0, $e->[1] );
    }
}
