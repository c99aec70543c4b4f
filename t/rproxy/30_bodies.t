# Bodies both ways: sized and chunked request bodies (and how they reach the
# backend), sized and chunked responses, 100 MiB streamed each way with
# bounded memory, Expect: 100-continue end to end, and bodiless responses
# (HEAD, 204, 304) that leave the connection usable.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestUtil qw(t_cmp);
use Digest::MD5 qw(md5_hex);
use IO::Select;
use IO::Socket::INET;
use RPTest qw(echo_parse read_response proxy_port pattern_chunk proxy_socket
              write_all);

plan tests => 86;

my $port = proxy_port();
my $host = "localhost:$port";
my $KiB = 1024;
my $MiB = 1024 * $KiB;

# Every socket exchange runs under an alarm: a proxy that stalls must fail
# the test, not hang the suite.
$SIG{ALRM} = sub { die "timed out\n" };

# One request on an open socket; returns (status, headers, body, head).
sub exchange {
    my ($s, $head, $body) = @_;
    alarm 60;
    write_all($s, $head . ($body // ''));
    my @r = read_response($s, $head =~ /^HEAD /);
    alarm 0;
    return @r;
}

sub post_head {
    my ($path, @h) = @_;
    return join '', "POST $path HTTP/1.1\r\nHost: $host\r\n",
                    map({ "$_\r\n" } @h), "\r\n";
}

# $data framed as chunks of at most $size bytes.
sub chunked {
    my ($data, $size) = @_;
    my $out = '';
    for (my $o = 0; $o < length $data; $o += $size) {
        my $c = substr($data, $o, $size);
        $out .= sprintf("%x\r\n", length $c) . $c . "\r\n";
    }
    return $out . "0\r\n\r\n";
}

sub one_header { my ($e, $name) = @_; return join ',', @{ $e->{h}{lc $name} || [] } }

# deterministic non-repeating test data
sub data_of {
    my ($len) = @_;
    my $d = pack('N*', map { ($_ * 2654435761) % 4294967296 } 0 .. $len / 4);
    return substr($d, 0, $len);
}

# md5 of the backend's size= pattern, computed in blocks
sub pattern_md5 {
    my ($len) = @_;
    my $blk = pattern_chunk(64 * $KiB);
    my $m = Digest::MD5->new;
    for (; $len >= length $blk; $len -= length $blk) { $m->add($blk) }
    $m->add(substr($blk, 0, $len));
    return $m->hexdigest;
}

# The peak resident size of the test server's child processes, in KiB.
# The backends are vhosts of the same server, so this covers both sides.
sub child_peak_kib {
    my $ppid = do {
        open my $fh, '<', Apache::Test::vars('t_logs') . '/httpd.pid' or return;
        my $p = <$fh>; chomp $p; $p;
    };
    my $max = 0;
    for my $st (glob '/proc/[0-9]*/status') {
        open my $fh, '<', $st or next;
        local $/;
        my $t = <$fh> // next;
        next unless $t =~ /^PPid:\s+$ppid$/m;
        my ($hwm) = $t =~ /^VmHWM:\s+(\d+)/m or next;
        $max = $hwm if $hwm > $max;
    }
    return $max;
}

my ($s, $st, $h, $body, $e);

# ---- request bodies ------------------------------------------------------

# sized bodies keep their Content-Length, below and above the prefetch size
for my $len (1, 1000, 64 * $KiB - 1, 64 * $KiB + 1, 1 * $MiB + 7) {
    my $data = data_of($len);
    $s = proxy_socket();
    ($st, $h, $body) = exchange($s, post_head('/b1/sized', "Content-Length: $len",
                                              'Content-Type: application/octet-stream'),
                                $data);
    $e = echo_parse($body);
    ok t_cmp("$st $e->{method} $e->{'body-bytes'} $e->{'body-md5'}",
             "200 POST $len " . md5_hex($data), "sized body of $len bytes arrives intact");
    ok t_cmp(one_header($e, 'Content-Length') . '|' . one_header($e, 'Transfer-Encoding'),
             "$len|", "backend saw Content-Length: $len and no Transfer-Encoding");
}

# an empty body stays empty
$s = proxy_socket();
($st, $h, $body) = exchange($s, post_head('/b1/empty', 'Content-Length: 0'));
$e = echo_parse($body);
ok t_cmp("$st $e->{'body-bytes'} $e->{'body-md5'}", '200 0 ' . md5_hex(''),
         'empty POST body');
ok t_cmp(one_header($e, 'Transfer-Encoding'), '', 'no Transfer-Encoding for an empty body');

# a small chunked body is prefetched whole and sent with a Content-Length
for my $case ([1, 1], [5000, 1000], [60000, 7000]) {
    my ($len, $csize) = @$case;
    my $data = data_of($len);
    $s = proxy_socket();
    ($st, $h, $body) = exchange($s, post_head('/b1/chunked-small', 'Transfer-Encoding: chunked'),
                                chunked($data, $csize));
    $e = echo_parse($body);
    ok t_cmp("$st $e->{'body-bytes'} $e->{'body-md5'}", "200 $len " . md5_hex($data),
             "small chunked body ($len bytes in $csize-byte chunks) arrives intact");
    ok t_cmp(one_header($e, 'Content-Length') . '|' . one_header($e, 'Transfer-Encoding'),
             "$len|", 'and reaches the backend with a Content-Length instead');
}

# a larger chunked body is streamed, still chunked
for my $case ([64 * $KiB + 1, 64 * $KiB + 1], [300 * $KiB + 3, 8 * $KiB], [3 * $MiB, 100 * $KiB]) {
    my ($len, $csize) = @$case;
    my $data = data_of($len);
    $s = proxy_socket();
    ($st, $h, $body) = exchange($s, post_head('/b1/chunked-big', 'Transfer-Encoding: chunked'),
                                chunked($data, $csize));
    $e = echo_parse($body);
    ok t_cmp("$st $e->{'body-bytes'} $e->{'body-md5'}", "200 $len " . md5_hex($data),
             "large chunked body ($len bytes in $csize-byte chunks) arrives intact");
    ok t_cmp(one_header($e, 'Content-Length') . '|' . one_header($e, 'Transfer-Encoding'),
             '|chunked', 'and is streamed to the backend chunked');
}

# ---- response bodies -----------------------------------------------------

for my $len (0, 1, 64 * $KiB, 64 * $KiB + 1, 1 * $MiB + 13) {
    for my $chunked (0, 1) {
        $s = proxy_socket();
        ($st, $h, $body) = exchange($s, "GET /b1/?size=$len&chunked=$chunked HTTP/1.1\r\n"
                                        . "Host: $host\r\n\r\n");
        ok t_cmp($st, 200, "size=$len chunked=$chunked: 200");
        ok($body eq pattern_chunk($len))
            or print "# got ", length($body), " bytes, want $len of the pattern\n";
        my $te = $h->{'transfer-encoding'}[0] // '';
        my $cl = $h->{'content-length'}[0] // '';
        if (!$chunked) {
            ok t_cmp("$cl|$te", "$len|", 'sized response relayed with its Content-Length');
        }
        elsif ($len > 128 * $KiB) {
            ok t_cmp("$cl|$te", '|chunked', 'large chunked response streamed chunked');
        }
        else {
            # one up to a relay block (128 KiB, rproxy_relay.c) may have
            # arrived whole, httpd then gives it a length: either is right
            ok(($te eq 'chunked' && $cl eq '') || ($te eq '' && $cl eq $len));
        }
    }
}

# ---- 100 MiB each way, streamed ------------------------------------------

my $big = 100 * $MiB + 4321;
my $peak_before = child_peak_kib();

# download: read and hash as it arrives, never holding the body
{
    $s = proxy_socket();
    alarm 300;
    write_all($s, "GET /b1/?size=$big&chunked=1 HTTP/1.1\r\nHost: $host\r\n\r\n");
    ($st, $h) = read_response($s, 1);
    my $md5 = Digest::MD5->new;
    my ($got, $buf, $bad) = (0, '', 0);
    my $fill = sub {                       # ensure $buf holds $want bytes
        my $want = shift;
        while (length $buf < $want) {
            my $n = sysread($s, $buf, 256 * $KiB, length $buf);
            die "eof after $got bytes\n" unless $n;
        }
    };
    eval {
        while (1) {
            my $i;
            $fill->(length($buf) + 1) while ($i = index($buf, "\r\n")) < 0;
            my $line = substr($buf, 0, $i + 2, '');
            $line =~ /^([0-9a-fA-F]+)\r\n$/ or do { $bad = 1; last };
            my $size = hex $1;
            if ($size == 0) { $fill->(2); $bad = 1 if substr($buf, 0, 2, '') ne "\r\n"; last }
            while ($size > 0) {
                $fill->(1) unless length $buf;
                my $take = $size < length $buf ? $size : length $buf;
                $md5->add(substr($buf, 0, $take, ''));
                $got += $take;
                $size -= $take;
            }
            $fill->(2);
            $bad = 1, last if substr($buf, 0, 2, '') ne "\r\n";
        }
        1;
    } or print "# download: $@";
    alarm 0;
    ok t_cmp("$st " . ($h->{'transfer-encoding'}[0] // ''), '200 chunked',
             '100 MiB download: 200, chunked');
    ok t_cmp("$got $bad", "$big 0", '100 MiB download: every byte, clean chunking');
    ok t_cmp($md5->hexdigest, pattern_md5($big), '100 MiB download: md5 of the pattern');
    # the connection is still good for another request
    ($st, $h, $body) = exchange($s, "GET /b1/?size=10&chunked=0 HTTP/1.1\r\nHost: $host\r\n\r\n");
    ok t_cmp("$st $body", '200 ' . pattern_chunk(10), 'same connection serves the next request');
}

# upload: generated block by block, with a Content-Length
{
    my $blocks = int($big / (64 * $KiB));
    my $tail = $big % (64 * $KiB);
    my $md5 = Digest::MD5->new;
    $s = proxy_socket();
    alarm 300;
    eval {
        write_all($s, post_head('/b1/upload', "Content-Length: $big"));
        for my $i (0 .. $blocks) {
            my $blk = pack('N', $i) x (16 * $KiB);
            $blk = substr($blk, 0, $tail) if $i == $blocks;
            $md5->add($blk);
            write_all($s, $blk);
        }
        ($st, $h, $body) = read_response($s);
        1;
    } or print "# upload: $@";
    alarm 0;
    $e = echo_parse($body);
    ok t_cmp("$st $e->{'body-bytes'}", "200 $big", '100 MiB upload: every byte reached the backend');
    ok t_cmp($e->{'body-md5'}, $md5->hexdigest, '100 MiB upload: md5 as sent');
    ok t_cmp(one_header($e, 'Content-Length'), $big, 'sent on with its Content-Length');
}

# bounded memory: neither transfer grew the server by anything like 100 MiB
my $peak_after = child_peak_kib();
print "# server child peak RSS: $peak_before KiB before, $peak_after KiB after\n";
ok($peak_before > 0 && ($peak_after - $peak_before) < 32 * 1024);

# ---- Expect: 100-continue ------------------------------------------------

# the client must see "100 Continue" before it sends anything, then the
# final response for the body it sent
sub wait_readable {
    my ($s, $secs) = @_;
    return IO::Select->new($s)->can_read($secs);
}

for my $case (['sized', 5000], ['sized', 200 * $KiB], ['chunked', 5000], ['chunked', 200 * $KiB]) {
    my ($kind, $len) = @$case;
    my $data = data_of($len);
    $s = proxy_socket();
    write_all($s, post_head('/b1/expect', 'Expect: 100-continue',
                            $kind eq 'sized' ? "Content-Length: $len"
                                             : 'Transfer-Encoding: chunked'));
    my $interim = '';
    if (wait_readable($s, 10)) {
        alarm 30;
        while ($interim !~ /\r\n\r\n/) {
            sysread($s, my $c, 1) or last;
            $interim .= $c;
        }
        alarm 0;
    }
    ok t_cmp($interim, "HTTP/1.1 100 Continue\r\n\r\n",
             "$kind $len: 100 Continue before the body is sent");
    ($st, $h, $body) = exchange($s, '', $kind eq 'sized' ? $data : chunked($data, 16 * $KiB));
    $e = echo_parse($body);
    ok t_cmp("$st $e->{'body-bytes'} $e->{'body-md5'}", "200 $len " . md5_hex($data),
             "$kind $len: then the final response for the whole body");
    ok t_cmp(one_header($e, 'Expect'), '100-continue', 'backend was asked for 100-continue too');
}

# a backend that refuses the body: the client gets its 417, never a 100
{
    $s = proxy_socket();
    alarm 30;
    write_all($s, post_head('/b1/expect?reject=417', 'Expect: 100-continue',
                            'Content-Length: 5000'));
    my $raw;
    ($st, $h, $body, $raw) = read_response($s);
    alarm 0;
    ok t_cmp($st, 417, 'reject=417: the client gets 417');
    ok t_cmp($raw =~ /^HTTP\/1\.1 417 /, 1, 'as the first and only status line (no 100 Continue)');
    ok t_cmp("$body|" . ($h->{'x-backend'}[0] // ''), "rejected\n|b1", 'with the backend\'s own answer');
}

# ---- bodiless responses keep the connection in step ----------------------

{
    $s = proxy_socket();
    my @conns;
    ($st, $h, $body) = exchange($s, "HEAD /b1/?size=1000&chunked=0 HTTP/1.1\r\nHost: $host\r\n\r\n");
    ok t_cmp("$st " . ($h->{'content-length'}[0] // '-'), '200 1000',
             'HEAD: 200 with the Content-Length a GET would have');
    push @conns, $h->{'x-backend-conn'}[0];
    ($st, $h, $body) = exchange($s, "HEAD /b1/?size=100000&chunked=1 HTTP/1.1\r\nHost: $host\r\n\r\n");
    ok t_cmp($st, 200, 'HEAD of a chunked resource: 200');
    push @conns, $h->{'x-backend-conn'}[0];
    for my $code (204, 304) {
        ($st, $h, $body) = exchange($s, "GET /b1/?status=$code&header=X-Mark:$code HTTP/1.1\r\n"
                                        . "Host: $host\r\n\r\n");
        ok t_cmp("$st " . ($h->{'x-mark'}[0] // '') . " $body", "$code $code ",
                 "$code relayed without a body");
        ok t_cmp(($h->{'content-length'}[0] // '') . ($h->{'transfer-encoding'}[0] // ''), '',
                 "$code has no framing headers");
        push @conns, $h->{'x-backend-conn'}[0];
    }
    # nothing extra was left on the wire: the next response parses cleanly
    ($st, $h, $body) = exchange($s, "GET /b1/?size=77&chunked=0 HTTP/1.1\r\nHost: $host\r\n\r\n");
    ok t_cmp("$st $body", '200 ' . pattern_chunk(77), 'same client connection: next response intact');
    push @conns, $h->{'x-backend-conn'}[0];
    ok t_cmp($h->{connection}, undef, 'and the client connection stays open');
    my %distinct = map { ($_ // '') => 1 } @conns;
    ok t_cmp(scalar(keys %distinct), 1, 'one backend connection carried all five requests')
        or print "# backend connections: @{[ map { $_ // '-' } @conns ]}\n";
}
