#!/usr/bin/perl
# bench/faults-client.pl - the load client of bench/faults.sh.
#
# Sends exactly WORKERS x PER keep-alive GETs to one URL path, from WORKERS
# forked processes, each reusing one HTTP/1.1 connection to the proxy and
# opening a new one only when the proxy closed the old one (a response with
# "Connection: close", the connection found closed while idle) or after a
# failed request. It never retries a request: every request it sends is
# counted once, as ok or as failed.
#
# A request is ok when: status 200, a complete, well-formed response, and a
# body byte-for-byte equal to EXPECT (a file). Anything else is a failure,
# classified: connect (could not connect), send (write failed),
# eof-before-response, eof-mid-response, reset, timeout, parse, status,
# short-body, bad-body.
#
# Pacing (per worker):
#   --rate R        at most R requests/s over all workers (0: as fast as it can)
#   --burst A-B --pause X-Y   after a burst of A..B requests (uniform), sleep
#                   X..Y seconds (uniform); workers are seeded differently
#   --sync W        with --burst/--pause: all workers keep one schedule, so
#                   the pauses are quiet periods for the whole proxy: cycle k
#                   starts at the same moment for every worker, each sends
#                   its burst (the same size for all in that cycle), then
#                   sleeps until W seconds + pause k after the cycle start
# Output: OUTDIR/wN.txt, one line per request:
#   t_send t_done status origin class conn_req
# (origin: the X-Origin header or "-"; conn_req: 1 for the first request on
# a client connection), and on stdout one line:
#   CLIENT requests=N ok=N failed=N reconnects=N idle_closed=N seconds=S
#          [fail_<class>=N ...]
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(time sleep);
use Getopt::Long;
use POSIX qw(_exit);

my %o = (host => '127.0.0.1', workers => 8, per => 1250, rate => 0,
         timeout => 10, seed => 1);
GetOptions(\%o, 'host=s', 'port=i', 'path=s', 'expect=s', 'workers=i',
           'per=i', 'rate=f', 'burst=s', 'pause=s', 'timeout=f', 'out=s',
           'seed=i', 'sync=f') or die "usage\n";
for (qw(port path expect out)) { die "--$_ is required\n" unless defined $o{$_} }

my $expect = do {
    open my $fh, '<', $o{expect} or die "$o{expect}: $!\n";
    binmode $fh; local $/; <$fh>;
};
my ($bmin, $bmax) = defined $o{burst} ? split /-/, $o{burst} : (0, 0);
my ($pmin, $pmax) = defined $o{pause} ? split /-/, $o{pause} : (0, 0);
$bmax //= $bmin; $pmax //= $pmin;

my $req = "GET $o{path} HTTP/1.1\r\nHost: $o{host}:$o{port}\r\n"
        . "User-Agent: rproxy-faults\r\nAccept: */*\r\n\r\n";

# the shared schedule of --sync, drawn before the workers fork
my (@cyc_burst, @cyc_end);
if ($o{sync}) {
    srand($o{seed});
    my $t = 0;
    for (1 .. $o{per} + 1) {
        push @cyc_burst, $bmin + int(rand($bmax - $bmin + 1));
        $t += $o{sync} + $pmin + rand($pmax - $pmin);
        push @cyc_end, $t;
    }
}
my $T0;

sub worker {
    my ($id) = @_;
    srand($o{seed} * 1000 + $id);
    my $cycle = 0;
    open my $out, '>', "$o{out}/w$id.txt" or die "$o{out}/w$id.txt: $!\n";
    $out->autoflush(1);
    my ($sock, $sel, $buf, $nreq) = (undef, undef, '', 0);
    my $per_worker_rate = $o{rate} > 0 ? $o{rate} / $o{workers} : 0;
    my $t0 = time;
    if ($o{sync}) { my $w = $T0 - time; sleep($w) if $w > 0 }
    my $burst_left = !$bmax ? -1
                   : $o{sync} ? $cyc_burst[0]
                   : $bmin + int(rand($bmax - $bmin + 1));
    my $stats = { reconnects => 0, idle_closed => 0 };

    my $drop = sub { close $sock if $sock; $sock = undef; $buf = '' };

    # fills $buf with more bytes; '' on success, else an error class
    my $fill = sub {
        my ($deadline) = @_;
        my $left = $deadline - time;
        return 'timeout' if $left <= 0;
        return 'timeout' unless $sel->can_read($left);
        my $n = sysread($sock, $buf, 65536, length $buf);
        return 'reset' unless defined $n;
        return 'eof' if $n == 0;
        return '';
    };

    for my $i (1 .. $o{per}) {
        if ($per_worker_rate) {
            my $due = $t0 + ($i - 1) / $per_worker_rate;
            my $now = time;
            sleep($due - $now) if $due > $now;
        }
        # a kept connection the proxy closed while it was idle: not a lost
        # request, just reconnect (what any HTTP client does)
        if ($sock && IO::Select->new($sock)->can_read(0)) {
            my $n = sysread($sock, my $junk, 1);
            $stats->{idle_closed}++;
            $drop->();
        }
        my $t_send = time;
        my ($status, $origin, $class) = (0, '-', 'ok');
        RESP: {
            if (!$sock) {
                $sock = IO::Socket::INET->new(PeerAddr => $o{host},
                        PeerPort => $o{port}, Proto => 'tcp',
                        Timeout => $o{timeout});
                if (!$sock) { $class = 'connect'; last RESP }
                setsockopt($sock, IPPROTO_TCP, TCP_NODELAY, 1);
                binmode $sock;
                $sel = IO::Select->new($sock);
                $stats->{reconnects}++ if $i > 1;
                $nreq = 0;
            }
            $nreq++;
            my $w = syswrite($sock, $req);
            if (!defined $w || $w != length $req) { $class = 'send'; last RESP }
            my $deadline = time + $o{timeout};
            my $hend;
            while (($hend = index($buf, "\r\n\r\n")) < 0) {
                my $e = $fill->($deadline);
                if ($e) {
                    $class = $e eq 'eof'
                        ? (length $buf ? 'eof-mid-response' : 'eof-before-response')
                        : $e;
                    last RESP;
                }
            }
            my $head = substr($buf, 0, $hend);
            substr($buf, 0, $hend + 4) = '';
            my @lines = split /\r\n/, $head;
            my $sl = shift @lines;
            if ($sl !~ m{^HTTP/1\.([01]) (\d{3})}) { $class = 'parse'; last RESP }
            my $minor = $1;
            $status = $2;
            my %h;
            for (@lines) {
                my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
                $h{lc $k} = exists $h{lc $k} ? "$h{lc $k}, $v" : $v;
            }
            $origin = $h{'x-origin'} // '-';
            my $close = ($h{connection} // '') =~ /\bclose\b/i
                        || ($minor == 0 && ($h{connection} // '') !~ /keep-alive/i);
            my $body = '';
            if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
                while (1) {
                    my $le;
                    while (($le = index($buf, "\r\n")) < 0) {
                        my $e = $fill->($deadline);
                        if ($e) { $class = $e eq 'eof' ? 'eof-mid-response' : $e; last RESP }
                    }
                    my ($size) = substr($buf, 0, $le) =~ /^([0-9a-fA-F]+)/;
                    if (!defined $size) { $class = 'parse'; last RESP }
                    $size = hex $size;
                    substr($buf, 0, $le + 2) = '';
                    while (length $buf < $size + 2) {
                        my $e = $fill->($deadline);
                        if ($e) { $class = $e eq 'eof' ? 'short-body' : $e; last RESP }
                    }
                    if ($size == 0) {
                        # no trailers expected: the last chunk's CRLF
                        while (index($buf, "\r\n") < 0) {
                            my $e = $fill->($deadline);
                            if ($e) { $class = $e eq 'eof' ? 'eof-mid-response' : $e; last RESP }
                        }
                        substr($buf, 0, index($buf, "\r\n") + 2) = '';
                        last;
                    }
                    $body .= substr($buf, 0, $size);
                    substr($buf, 0, $size + 2) = '';
                }
            }
            elsif (defined $h{'content-length'}) {
                my $len = $h{'content-length'};
                if ($len !~ /^\d+$/) { $class = 'parse'; last RESP }
                while (length $buf < $len) {
                    my $e = $fill->($deadline);
                    if ($e) { $class = $e eq 'eof' ? 'short-body' : $e; last RESP }
                }
                $body = substr($buf, 0, $len);
                substr($buf, 0, $len) = '';
            }
            else {
                # delimited by close
                while (1) {
                    my $e = $fill->($deadline);
                    last if $e eq 'eof';
                    if ($e) { $class = $e; last RESP }
                }
                $body = $buf; $buf = '';
                $close = 1;
            }
            if ($status != 200) { $class = 'status' }
            elsif (length $body != length $expect) { $class = 'short-body' }
            elsif ($body ne $expect) { $class = 'bad-body' }
            $drop->() if $close;
        }
        $drop->() if $class ne 'ok';    # never reuse a connection in doubt
        printf $out "%.6f %.6f %d %s %s %d\n", $t_send, time, $status,
               $origin, $class, $nreq;
        if ($burst_left >= 0 && --$burst_left <= 0) {
            if ($o{sync}) {
                my $left = $T0 + $cyc_end[$cycle] - time;
                sleep($left) if $left > 0;
                $burst_left = $cyc_burst[++$cycle];
            }
            else {
                sleep($pmin + rand($pmax - $pmin));
                $burst_left = $bmin + int(rand($bmax - $bmin + 1));
            }
        }
    }
    $drop->();
    close $out;
    open my $st, '>', "$o{out}/w$id.stats" or die;
    print $st "$stats->{reconnects} $stats->{idle_closed}\n";
    close $st;
}

my $t0 = time;
$T0 = $t0 + 0.2;    # a common start, after all workers are forked
my @kids;
for my $id (1 .. $o{workers}) {
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if (!$pid) {
        my $ok = eval { worker($id); 1 };
        print STDERR "worker $id: $@" unless $ok;
        _exit($ok ? 0 : 1);
    }
    push @kids, $pid;
}
$SIG{TERM} = $SIG{INT} = sub { kill 'TERM', @kids; exit 1 };
my $bad = 0;
for (@kids) { waitpid($_, 0); $bad++ if $? }
my $secs = time - $t0;

my (%n, %fail, $rec, $idle);
$rec = $idle = 0;
for my $id (1 .. $o{workers}) {
    open my $fh, '<', "$o{out}/w$id.txt" or next;
    while (<$fh>) {
        my @f = split;
        $n{all}++;
        if ($f[4] eq 'ok') { $n{ok}++ } else { $n{failed}++; $fail{$f[4]}++ }
    }
    if (open my $st, '<', "$o{out}/w$id.stats") {
        my ($r, $i) = split ' ', scalar <$st>;
        $rec += $r; $idle += $i;
    }
}
printf "CLIENT requests=%d ok=%d failed=%d reconnects=%d idle_closed=%d "
     . "seconds=%.2f workers_failed=%d%s\n",
    $n{all} // 0, $n{ok} // 0, $n{failed} // 0, $rec, $idle, $secs, $bad,
    join('', map { " fail_$_=$fail{$_}" } sort keys %fail);
exit($bad ? 1 : 0);
