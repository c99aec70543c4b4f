# Buffering (issue 11): with RProxyBuffering on, a slow client does not
# hold the member - its max_conns=1 slot is free for a second request at
# once while the first client still reads a 5 MiB response at 100 KB/s,
# the body having gone to a temporary file (seen open, unlinked, in
# RProxyBufferDir, and in the pool's counters) and reaching the client
# byte for byte; with buffering off (RProxyPass buffering=off, or
# RProxyBuffering off in the <Location>) the slot stays taken (503). SSE,
# X-Accel-Buffering: no and HEAD are never buffered, X-Accel-Buffering
# never reaches the client, and a body larger than the buffer is streamed
# intact. RProxyRequestBuffering: a trickled upload holds no member; over
# limit= is a 413; a body over memory= goes to a file and reaches the
# member intact. No temporary file is left behind.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET HEAD);
use Apache::TestUtil qw(t_cmp t_debug);
use Digest::MD5 qw(md5_hex);
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Time::HiRes qw(time sleep);
use RPTest qw(status_pool pattern_chunk echo_parse read_response evil_start
              evil_stop read_request_head);

plan tests => 49;

my $BIG = 5 * 1024 * 1024;
my $dir = Apache::Test::vars('t_logs') . '/rpbuf';
my ($host, $port) = split /:/, Apache::TestRequest::hostport();

# A client with a small receive buffer, so that the kernel cannot take
# the response for it: an HTTP/1.0 GET, the body ends at the close.
sub slow_client {
    my ($path) = @_;
    my $s = IO::Socket::INET->new(Proto => 'tcp') or die "socket: $!";
    $s->sockopt(SO_RCVBUF, 8192);
    $s->connect(Socket::pack_sockaddr_in($port, Socket::inet_aton($host)))
        or die "connect: $!";
    syswrite $s, "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    return $s;
}

# Reads at about 100 KB/s for $secs seconds (10 KB every 0.1 s).
sub read_slowly {
    my ($s, $secs) = @_;
    my $got = '';
    my $end = time + $secs;
    while (time < $end) {
        my $n = sysread($s, my $buf, 10240);
        last unless $n;
        $got .= $buf;
        sleep 0.1;
    }
    return $got;
}

sub read_rest {
    my ($s) = @_;
    my $got = '';
    while (sysread($s, my $buf, 262144)) {
        $got .= $buf;
    }
    close $s;
    return $got;
}

# head and body of a raw HTTP/1.0 response
sub split_response {
    my ($raw) = @_;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    return ($head // '', $body // '');
}

# the temporary files of the proxy's children, open now (unlinked)
sub open_spill_files {
    my @files;
    for my $fd (glob '/proc/[0-9]*/fd/*') {
        my $to = readlink $fd or next;
        push @files, $to if index($to, "$dir/rproxy-") == 0;
    }
    return @files;
}

sub buffering { my $p = status_pool($_[0]); return $p ? $p->{buffering} : {} }

# A second request while the first client reads slowly: (code, seconds,
# member) and how much of the first body had been read by then.
sub second_request {
    my ($first, $second) = @_;
    my $s = slow_client($first);
    my $got = read_slowly($s, 1.5);
    my $t0 = time;
    my $res = GET $second;
    my $took = time - $t0;
    my @spill = open_spill_files();
    my $held = buffering('bufpool')->{held_bytes};
    $got .= read_slowly($s, 0.5);
    my $read_then = length $got;
    $got .= read_rest($s);
    return ($res, $took, $read_then, $got, \@spill, $held);
}

my $want_md5 = md5_hex(pattern_chunk($BIG));

# --- buffering on: the member is free at once --------------------------
my $before = buffering('bufpool');
my ($res, $took, $read_then, $got, $spill, $held) =
    second_request("/buf/?size=$BIG&chunked=0", '/buf/?count=1');
my ($head, $body) = split_response($got);
t_debug("second request took ${took}s; first client had $read_then bytes");
ok t_cmp($res->code, 200, 'buffered: a second request is served');
ok t_cmp($res->header('X-Backend'), 'b1', '... by the same member');
ok $took < 1;
ok $read_then < $BIG / 2;   # the first client was far from done
ok t_cmp($head, qr{^HTTP/1\.\d 200}, 'the slow client got a 200');
ok t_cmp(length $body, $BIG, '... and the whole body');
ok t_cmp(md5_hex($body), $want_md5, '... byte for byte');
ok t_cmp(scalar @$spill, 1, 'one temporary file was open during it');
ok t_cmp($spill->[0] // '', qr/\(deleted\)$/, '... already unlinked');
ok $held >= $BIG;           # held while the client read
my $after = buffering('bufpool');
ok t_cmp($after->{responses} - $before->{responses}, 2,
         'the pool counts both responses buffered');
ok t_cmp($after->{responses_spilled} - $before->{responses_spilled}, 1,
         '... the large one with a file');
ok $after->{file_bytes} - $before->{file_bytes} >= $BIG - 65536;
ok t_cmp($after->{response}, 'on', 'the status page shows it on');

# --- a client that leaves mid-response: its file goes with it -----------
{
    my $s = slow_client("/buf/?size=$BIG&chunked=0");
    read_slowly($s, 1);
    my $open = scalar open_spill_files();
    close $s;
    my $left = -1;
    for (1 .. 50) {
        sleep 0.1;
        last if ($left = scalar open_spill_files()) == 0;
    }
    ok t_cmp($open, 1, 'a client that leaves: its file was open');
    ok t_cmp($left, 0, '... and is closed once it has gone');
}

# --- buffering off (route option, <Location>): the slot stays taken ----
for my $route ('/nobuf/', '/locoff/') {
    ($res, $took, $read_then, $got) =
        second_request("$route?size=$BIG&chunked=0", "$route?count=1");
    ($head, $body) = split_response($got);
    ok t_cmp($res->code, 503, "$route: the second request finds no slot");
    ok t_cmp(md5_hex($body), $want_md5, "$route: the slow body is intact");
}

# --- never buffered: SSE, X-Accel-Buffering: no, HEAD -------------------
# the member sends 64 KiB, then waits 1.5 s: unbuffered, the first bytes
# come before the wait ends
for my $case (['sse', 'header=Content-Type:text/event-stream'],
              ['x-accel', 'header=X-Accel-Buffering:no']) {
    my ($name, $q) = @$case;
    $before = buffering('bufpool');
    my $s = slow_client("/buf/?size=200000&sleepbody=1500&$q");
    my $t0 = time;
    sysread($s, my $first, 4096);
    my $first_at = time - $t0;
    my $all = $first . read_rest($s);
    ($head, $body) = split_response($all);
    ok $first_at < 1;
    ok t_cmp(length $body, 200000, "$name: the whole body");
    ok t_cmp(buffering('bufpool')->{responses} - $before->{responses}, 0,
             "$name: not buffered");
    ok $head !~ /X-Accel-Buffering/i;
}
$res = GET '/buf/?count=1&header=X-Accel-Buffering:yes';
ok t_cmp($res->header('X-Accel-Buffering'), undef,
         'X-Accel-Buffering never reaches the client');
$before = buffering('bufpool');
$res = HEAD "/buf/?size=$BIG";
ok t_cmp($res->code, 200, 'HEAD');
ok t_cmp(buffering('bufpool')->{responses} - $before->{responses}, 0,
         '... not buffered');

# --- larger than the buffer: streamed, intact ----------------------------
$before = buffering('bufsmall');
for my $chunked (1, 0) {
    $res = GET "/bufsmall/?size=1048576&chunked=$chunked";
    ok t_cmp(md5_hex($res->content), md5_hex(pattern_chunk(1048576)),
             "over the buffer (chunked=$chunked): streamed intact");
}
$after = buffering('bufsmall');
ok t_cmp($after->{overflows} - $before->{overflows}, 2,
         '... both counted as too large');
ok t_cmp($after->{responses} - $before->{responses}, 0,
         '... none as buffered');

# --- a member that breaks off mid-body: nothing went out yet, a clean 502
{
    my $evil = evil_start(sub {
        my ($c) = @_;
        read_request_head($c);
        syswrite $c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
                     . ('z' x 50000);
    });
    $res = GET '/bufevil/cut';
    evil_stop($evil);
    ok t_cmp($res->code, 502, 'a member that breaks off: a clean 502');
    ok $res->content !~ /z{100}/;
}

# --- request buffering ---------------------------------------------------
# 100 000 bytes at once (more than the 64 KiB read ahead in any case), then
# 100 000 more over 2 s; a GET to the same member half a second in
sub trickle_upload {
    my ($path) = @_;
    my $body = pattern_chunk(200000);
    my $s = IO::Socket::INET->new(PeerAddr => "$host:$port", Timeout => 20)
        or die "connect: $!";
    syswrite $s, "POST $path HTTP/1.0\r\nHost: localhost\r\n"
                 . "Content-Length: 200000\r\n\r\n" . substr($body, 0, 100000);
    sleep 0.5;
    my $t0 = time;
    my $mid = GET "$path?count=1";
    my $took = time - $t0;
    for my $i (0 .. 9) {
        sleep 0.2;
        syswrite $s, substr($body, 100000 + $i * 10000, 10000);
    }
    my ($h, $b) = split_response(read_rest($s));
    return ($mid, $took, $h, echo_parse($b), md5_hex($body));
}

$before = buffering('reqpool');
my ($mid, $mtook, $h, $echo, $md5) = trickle_upload('/reqbuf/');
ok t_cmp($mid->code, 200, 'request buffering: a GET during a slow upload');
ok $mtook < 1;
ok t_cmp($echo->{'body-bytes'}, 200000, '... the upload reaches the member');
ok t_cmp($echo->{'body-md5'}, $md5, '... intact');
$after = buffering('reqpool');
ok t_cmp($after->{requests_spilled} - $before->{requests_spilled}, 1,
         '... through a temporary file');
($mid, $mtook, $h, $echo, $md5) = trickle_upload('/reqnobuf/');
ok t_cmp($mid->code, 503, 'request_buffering=off: the upload holds the slot');
ok t_cmp($echo->{'body-md5'}, $md5, '... and arrives intact');

# over limit=1m: declared, and chunked
$res = Apache::TestRequest::POST('/reqbuf/', content => 'x' x 1100000);
ok t_cmp($res->code, 413, 'a body over limit= by its Content-Length: 413');
{
    my $s = IO::Socket::INET->new(PeerAddr => "$host:$port", Timeout => 20)
        or die "connect: $!";
    local $SIG{PIPE} = 'IGNORE';
    syswrite $s, "POST /reqbuf/ HTTP/1.1\r\nHost: localhost\r\n"
                 . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    for (1 .. 20) {
        last unless defined syswrite $s, sprintf("%x\r\n%s\r\n", 65536,
                                                 'y' x 65536);
    }
    syswrite $s, "0\r\n\r\n";
    my ($code) = read_response($s);
    ok t_cmp($code, 413, 'a chunked body over limit=: 413');
}
ok t_cmp(buffering('reqpool')->{refused} - $after->{refused}, 2,
         '... both counted');

# nothing left behind
sleep 0.5;
ok t_cmp(scalar(() = glob "$dir/*"), 0, 'RProxyBufferDir is empty');
ok t_cmp(scalar(open_spill_files()), 0, 'no temporary file is open');
