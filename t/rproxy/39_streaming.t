# Streaming responses are never held back (issue 10): an SSE event that a
# member writes reaches the client within 50 ms, whatever the framing
# (chunked, close-delimited, Content-Length written in pieces), and a
# long-poll held open for a minute by a member ends with its 200 - not
# early, not a 504 - while other requests are served promptly.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp t_debug);
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use RPTest qw(evil_start evil_stop read_request_head);

my $EVENTS = 20;
my $HOLD   = 60;
my @framings = qw(chunked close length);

plan tests => 3 * @framings + 7;

# one event; the timestamp is fixed-width so that the length is known
sub event {
    my ($i) = @_;
    return sprintf "id: %02d\ndata: %017.6f %02d\n\n", $i, time, $i;
}
my $EVLEN = length event(0);

my $member = evil_start(sub {
    my ($c) = @_;
    my (undef, $target) = read_request_head($c);
    $target //= '';
    if ($target =~ m{^/sse-(\w+)}) {
        my $framing = $1;
        my $head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                 . "Cache-Control: no-cache\r\n";
        $head .= $framing eq 'chunked' ? "Transfer-Encoding: chunked\r\n"
               : $framing eq 'length'
                 ? "Content-Length: " . ($EVENTS * $EVLEN) . "\r\n"
               : "Connection: close\r\n";
        syswrite $c, "$head\r\n";
        for my $i (0 .. $EVENTS - 1) {
            sleep 0.1;
            my $ev = event($i);
            $ev = sprintf("%x\r\n%s\r\n", length $ev, $ev)
                if $framing eq 'chunked';
            syswrite $c, $ev;
        }
        syswrite $c, "0\r\n\r\n" if $framing eq 'chunked';
        return;
    }
    if ($target =~ m{^/hold-(head|body)/(\d+)}) {
        # a long-poll: no head at all, or a head at once, for the hold
        my ($what, $secs) = ($1, $2);
        my $body = "polled after $secs s\n";
        my $head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                 . "Content-Length: " . length($body) . "\r\n\r\n";
        syswrite $c, $head if $what eq 'body';
        sleep $secs;
        syswrite $c, ($what eq 'head' ? $head : '') . $body;
        return;
    }
});

sub client {
    my ($path, $extra) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => Apache::TestRequest::hostport(),
                                  Timeout => 10) or die "connect: $!";
    syswrite $s, "GET $path HTTP/1.1\r\nHost: localhost\r\n"
                 . "Accept: text/event-stream\r\nConnection: close\r\n"
                 . ($extra // '') . "\r\n";
    return $s;
}

# Reads the whole response, noting when each event first shows up.
sub read_events {
    my ($s) = @_;
    my ($raw, %arrived, %written) = ('');
    while (sysread($s, my $b, 65536)) {
        my $now = time;
        $raw .= $b;
        while ($raw =~ /data: (\d+\.\d+) (\d\d)\n\n/g) {
            next if exists $arrived{$2};
            ($arrived{$2}, $written{$2}) = ($now, $1);
        }
    }
    return ($raw, scalar keys %arrived, prompt(\%arrived, \%written));
}

# The latency verdict for a stream. An event held back by the proxy shows
# up with the next one, 100 ms later, or at the end: every event must
# arrive before the member writes the next one. Within 50 ms is the
# target; one event in 20 may miss it, as a loaded machine can delay a
# process that long (a test run here shares two cores).
sub prompt {
    my ($arrived, $written) = @_;
    my @ids = sort keys %$arrived;
    my ($slow, $max) = (0, 0);
    for my $i (0 .. $#ids) {
        my $lat = $arrived->{ $ids[$i] } - $written->{ $ids[$i] };
        $max = $lat if $lat > $max;
        $slow++ if $lat >= 0.050;
        return (0, $max, "event $ids[$i] came after the next was written")
            if $i < $#ids && $arrived->{ $ids[$i] } >= $written->{ $ids[$i + 1] };
    }
    return ($slow <= 1 ? 1 : 0, $max, "$slow events over 50 ms");
}

for my $framing (@framings) {
    my ($raw, $n, $ok, $max, $why) = read_events(client("/evil/sse-$framing"));
    print STDERR sprintf("# 39_streaming %s: max latency %.1f ms (%s)\n",
                         $framing, $max * 1000, $why);
    ok t_cmp(($raw =~ m{^HTTP/1\.1 200}) ? 1 : 0, 1, "$framing: 200");
    ok t_cmp($n, $EVENTS, "$framing: every event arrived");
    ok $ok;
}

# With SetOutputFilter DEFLATE: mod_deflate flushes its compressor on
# each flush, so the events still arrive one by one (gzip in chunks).
{
    require Compress::Raw::Zlib;
    my ($inf) = Compress::Raw::Zlib::Inflate->new(
        -WindowBits => Compress::Raw::Zlib::WANT_GZIP());
    my $s = client('/ssez/sse-chunked', "Accept-Encoding: gzip\r\n");
    my ($buf, $head, $text, %arrived, %written) = ('', undef, '');
    while (sysread($s, my $b, 65536)) {
        my $now = time;
        $buf .= $b;
        if (!defined $head) {
            next unless $buf =~ s/\A(.*?\r\n\r\n)//s;
            $head = $1;
        }
        if ($head !~ /^Transfer-Encoding: chunked/mi) {
            # sized: the whole body came at once
            $inf->inflate($buf, my $out);
            $text .= $out // '';
            $buf = '';
        }
        while ($buf =~ s/\A([0-9a-fA-F]+)\r\n//) {
            my $len = hex $1;
            if (length($buf) < $len + 2) {  # a chunk not all here yet
                $buf = sprintf("%x\r\n", $len) . $buf;
                last;
            }
            my $data = substr($buf, 0, $len, '');
            substr($buf, 0, 2, '');
            $inf->inflate($data, my $out);
            $text .= $out // '';
        }
        while ($text =~ /data: (\d+\.\d+) (\d\d)\n\n/g) {
            next if exists $arrived{$2};
            ($arrived{$2}, $written{$2}) = ($now, $1);
        }
    }
    my ($ok, $max, $why) = prompt(\%arrived, \%written);
    print STDERR sprintf("# 39_streaming deflate: %d events, max latency "
                         . "%.1f ms (%s)\n", scalar keys %arrived, $max * 1000, $why);
    ok t_cmp(($head // '') =~ /Content-Encoding: gzip/i ? 1 : 0, 1,
             'deflate: compressed');
    ok((keys %arrived) == $EVENTS && $ok);
}

# The defaults for a long-poll: header= (60s by default; 2s in the evil
# pool) bounds the wait for the head, so a longer hold gets a 504 then.
{
    my $t0 = time;
    my $r = GET('/evil/hold-head/4');
    my $took = time - $t0;
    ok t_cmp($r->code, 504, 'a hold beyond header= is a 504');
    ok $took < 3.5;
}

# Two long-polls at once on a route with header=90s idle=90s: one whose
# head comes after the hold (header= governs), one whose body does
# (idle= governs); other requests meanwhile are served at once.
my $t0 = time;
my @polls = map { client("/longpoll/hold-$_/$HOLD") } qw(head body);
my $slowest = 0;
my $served = 0;
while (time - $t0 < $HOLD - 5) {
    my $t = time;
    my $r = GET('/b1/while-polling');
    my $lat = time - $t;
    $slowest = $lat if $lat > $slowest;
    $served++ if $r->code == 200;
    sleep 0.5;
}
print STDERR sprintf("# 39_streaming: %d requests during the long-polls, "
                     . "slowest %.3f s\n", $served, $slowest);
ok $served > 0 && $slowest < 1;
for my $s (@polls) {
    my $raw = '';
    while (sysread($s, my $b, 4096)) { $raw .= $b }
    my $took = time - $t0;
    t_debug(sprintf "long-poll took %.1f s", $took);
    ok(($raw =~ m{^HTTP/1\.1 200} && $raw =~ /polled after $HOLD s/
        && $took >= $HOLD - 1 && $took < $HOLD + 10) ? 1 : 0);
}

evil_stop($member);
