#!/usr/bin/perl
# bench/faults-racy-origin.pl - an HTTP/1.1 origin for bench/faults.sh that
# plays the keep-alive close race on purpose.
#
# A backend that closes an idle keep-alive connection just as the proxy
# sends the next request on it: the request is lost and the proxy sees the
# connection end (FIN, or RST since the request was unread) before any
# response byte. With a real httpd the close and the request rarely cross
# (httpd reads a request that arrived before it checks the keep-alive
# timeout), so this origin makes it happen: the DROP_EVERY-th request on
# every connection is not answered; the connection is closed instead,
# alternately after reading the request (the proxy gets a FIN) and without
# reading it (the kernel answers with a RST). It never says beforehand that
# it will close (no Connection: close, no Keep-Alive header).
#
# Otherwise it answers every GET/HEAD with 200 and the file FILE,
# "X-Origin: NAME". One process, one select loop.
#   faults-racy-origin.pl --port P --file F --name o1 --drop-every 20
#                         --pidfile PF --log L
# LOG: one line per request, like the httpd origins' "%t %k %>s ka=..":
#   time requests_before_on_this_connection status ka=- [fin|rst]
# (status 000: dropped unanswered)
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(time);
use Getopt::Long;

my %o = (name => 'o1', 'drop-every' => 20);
GetOptions(\%o, 'port=i', 'file=s', 'name=s', 'drop-every=i', 'pidfile=s',
           'log=s') or die "usage\n";
for (qw(port file pidfile log)) { die "--$_ is required\n" unless defined $o{$_} }

my $body = do { open my $fh, '<', $o{file} or die "$o{file}: $!\n";
                binmode $fh; local $/; <$fh> };
my $head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
         . "Content-Length: " . length($body) . "\r\nX-Origin: $o{name}\r\n\r\n";

my $ls = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $o{port},
                               Listen => 128, ReuseAddr => 1)
    or die "listen 127.0.0.1:$o{port}: $!\n";
$ls->blocking(0);
open my $log, '>>', $o{log} or die "$o{log}: $!\n";
$log->autoflush(1);
{ open my $pf, '>', $o{pidfile} or die "$o{pidfile}: $!\n"; print $pf "$$\n" }
my $running = 1;
$SIG{TERM} = $SIG{INT} = sub { $running = 0 };
$SIG{PIPE} = 'IGNORE';

my $sel = IO::Select->new($ls);
my %c;          # fileno => { s, in, out, n, drops }
my $rst_turn = 1;   # alternate: RST, FIN, RST, ...

sub drop_conn { my ($fd) = @_; $sel->remove($c{$fd}{s}); close $c{$fd}{s}; delete $c{$fd} }

while ($running) {
    my @r = $sel->can_read(0.5);
    for my $s (@r) {
        if ($s == $ls) {
            while (my $n = $ls->accept) {
                $n->blocking(0);
                setsockopt($n, IPPROTO_TCP, TCP_NODELAY, 1);
                $c{fileno $n} = { s => $n, in => '', n => 0 };
                $sel->add($n);
            }
            next;
        }
        my $fd = fileno $s;
        defined $fd or next;            # closed earlier in this round
        my $st = $c{$fd} or next;
        # the request that will be dropped without being read: look at the
        # first byte only (MSG_PEEK), then close with it unread -> RST
        my $next = $st->{n} + 1;
        if ($rst_turn && $next >= 2 && $next % $o{'drop-every'} == 0
            && $st->{in} eq '') {
            my $peek = '';
            recv($s, $peek, 1, Socket::MSG_PEEK());
            if (length $peek) {
                printf $log "%.6f %d 000 ka=- rst\n", time, $next - 1;
                $rst_turn = 0;
                drop_conn($fd);
                next;
            }
        }
        my $got = sysread($s, $st->{in}, 65536, length $st->{in});
        if (!$got) { drop_conn($fd); next }
        while ((my $e = index($st->{in}, "\r\n\r\n")) >= 0) {
            my $req = substr($st->{in}, 0, $e);
            substr($st->{in}, 0, $e + 4) = '';
            $st->{n}++;
            if ($st->{n} >= 2 && $st->{n} % $o{'drop-every'} == 0) {
                # read, then closed unanswered -> FIN
                printf $log "%.6f %d 000 ka=- fin\n", time, $st->{n} - 1;
                $rst_turn = 1;
                drop_conn($fd);
                last;
            }
            my $resp = $req =~ /^HEAD / ? $head : $head . $body;
            # small responses on loopback: one blocking write is enough
            $s->blocking(1);
            my $w = syswrite($s, $resp);
            $s->blocking(0);
            printf $log "%.6f %d 200 ka=-\n", time, $st->{n} - 1;
            if (!defined $w || $w != length $resp) { drop_conn($fd); last }
        }
    }
}
close $_->{s} for values %c;
unlink $o{pidfile};
