# Zero-copy response bodies (splice(2), src/rproxy_splice.c): sized and
# close-delimited bodies are spliced byte-exact, and the pool's counters
# say so; chunked bodies, a chunking client response, RProxyZeroCopy off,
# mod_deflate, Range, a TLS client and a TLS member fall back to copying,
# byte-exact too; sized request bodies are spliced where mod_reqtimeout is
# not on the connection, chunked ones copied. %b and %O stay exact; a client that leaves mid-body ends
# it quietly (the member connection is not reused), a member that closes
# mid-body cuts the client's connection before the declared length.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok have_module);
use Apache::TestUtil qw(t_cmp t_debug);
use Digest::MD5 qw(md5_hex);
use IO::Socket::INET;
use IO::Uncompress::Gunzip qw(gunzip);
use Time::HiRes qw(sleep time);
use RPTest qw(read_response proxy_port pattern_chunk proxy_socket write_all
              status_pool status_json error_log_size error_log_since
              evil_start evil_stop read_request_head read_until);

plan tests => 70;

my $port = proxy_port();
my $host = "localhost:$port";
my $MiB = 1024 * 1024;
my $vars = Apache::Test::vars();
$SIG{ALRM} = sub { die "timed out\n" };

# The pool's body counters. Given the counts before a request, waits (up to
# 5 s) until they moved: a body is counted when the handler ends, which
# can be just after the client has read its last byte.
sub counters {
    my ($pool, @before) = @_;
    my $until = time + 5;
    while (1) {
        my $p = status_pool($pool) or return (-1, -1);
        my @now = ($p->{body_bytes}{spliced}, $p->{body_bytes}{copied});
        return @now if !@before || $now[0] + $now[1] != $before[0] + $before[1]
                        || time > $until;
        select undef, undef, undef, 0.05;
    }
}

sub exchange {
    my ($s, $head) = @_;
    alarm 60;
    write_all($s, $head);
    my @r = read_response($s, $head =~ /^HEAD /);
    alarm 0;
    return @r;
}

sub get_head {
    my ($path, @h) = @_;
    return join '', "GET $path HTTP/1.1\r\nHost: $host\r\n",
                    map({ "$_\r\n" } @h), "\r\n";
}

# the access log lines (zc_log) written since $from bytes
sub zc_log_since {
    my ($from) = @_;
    my $f = "$vars->{t_logs}/zc_log";
    for (1 .. 50) { last if -s $f && -s $f > $from; sleep 0.1 }
    open my $fh, '<', $f or return ();
    seek $fh, $from, 0;
    return map { chomp; $_ } <$fh>;
}
sub zc_log_size { return -s "$vars->{t_logs}/zc_log" || 0 }

# ---- sized bodies: spliced, byte-exact, on one keep-alive connection ----

my @sizes = (1, 4096, 70001, $MiB, 8 * $MiB + 7);
my ($sp0, $cp0) = counters('zc');
my $log0 = zc_log_size();
my $s = proxy_socket();
my @heads;
my ($total, $all_ok) = (0, 1);
for my $len (@sizes) {
    my ($st, $h, $body, $head) = exchange($s, get_head("/zc/?size=$len&chunked=0"));
    $all_ok &&= ($st // 0) == 200 && length($body) == $len
                && md5_hex($body) eq md5_hex(pattern_chunk($len));
    push @heads, length $head;
    $total += $len;
}
ok t_cmp($all_ok, 1, 'sized bodies of 1 B to 8 MiB arrive whole and exact');
my ($sp1, $cp1) = counters('zc', $sp0, $cp0);
ok t_cmp(($sp1 - $sp0) + ($cp1 - $cp0), $total,
         'spliced + copied = the body bytes the member sent');
ok(($sp1 - $sp0) > $total * 0.9);
t_debug("spliced " . ($sp1 - $sp0) . ", copied " . ($cp1 - $cp0));

# %b and %O: the body, and the head plus the body, exactly
my @lines = grep { m{^/zc/\?size=\d+&chunked=0 } } zc_log_since($log0);
ok t_cmp(scalar @lines, scalar @sizes, 'one access log line per request');
my $exact = 1;
for my $i (0 .. $#sizes) {
    my ($b, $o) = ($lines[$i] // '') =~ /^\S+ 200 (\d+) (\d+) \d+$/;
    $exact &&= defined $o && $b == $sizes[$i] && $o == $sizes[$i] + $heads[$i];
    t_debug("log: " . ($lines[$i] // '-') . " head $heads[$i]");
}
ok t_cmp($exact, 1, '%b is the body, %O the head and the body');

# the connection stays usable after spliced bodies
my ($st, $h, $body) = exchange($s, get_head("/zc/?size=10&chunked=0"));
ok t_cmp($body, pattern_chunk(10), 'the next request on the connection');
close $s;

# ---- chunked from the member: copied, exact -----------------------------

($sp0, $cp0) = counters('zc');
$s = proxy_socket();
($st, $h, $body) = exchange($s, get_head("/zc/?size=" . (3 * $MiB) . "&chunked=1"));
ok t_cmp(md5_hex($body), md5_hex(pattern_chunk(3 * $MiB)), 'chunked 3 MiB exact');
($sp1, $cp1) = counters('zc', $sp0, $cp0);
ok t_cmp($sp1 - $sp0, 0, 'a chunked body is not spliced');
ok(($cp1 - $cp0) > 3 * $MiB);     # the chunk framing is counted too
close $s;

# ---- RProxyZeroCopy off --------------------------------------------------

($sp0, $cp0) = counters('zcoff');
$s = proxy_socket();
($st, $h, $body) = exchange($s, get_head("/zcoff/?size=$MiB&chunked=0"));
ok t_cmp(md5_hex($body), md5_hex(pattern_chunk($MiB)), 'off: 1 MiB exact');
($sp1, $cp1) = counters('zcoff', $sp0, $cp0);
ok t_cmp($sp1 - $sp0, 0, 'off: nothing spliced');
ok t_cmp($cp1 - $cp0, $MiB, 'off: all of it copied');
close $s;

# ---- mod_deflate on the route --------------------------------------------

($sp0, $cp0) = counters('zcdeflate');
$s = proxy_socket();
($st, $h, $body) = exchange($s, get_head("/zcdeflate/?size=$MiB&chunked=0",
                                         'Accept-Encoding: gzip'));
ok t_cmp($h->{'content-encoding'}[0] // '', 'gzip', 'deflate: compressed');
my $plain;
gunzip(\$body => \$plain);
ok t_cmp(md5_hex($plain // ''), md5_hex(pattern_chunk($MiB)), 'deflate: exact once inflated');
($sp1, $cp1) = counters('zcdeflate', $sp0, $cp0);
ok t_cmp($sp1 - $sp0, 0, 'deflate: nothing spliced');
ok t_cmp($cp1 - $cp0, $MiB, 'deflate: all of it copied');
close $s;

# a body small enough to come with its head is never spliced (nothing is
# left on the socket) and goes out as read, past the filter check: the
# filters still see it
($sp0, $cp0) = counters('zcdeflate');
$s = proxy_socket();
($st, $h, $body) = exchange($s, get_head("/zcdeflate/?size=300&chunked=0",
                                         'Accept-Encoding: gzip'));
ok t_cmp($h->{'content-encoding'}[0] // '', 'gzip',
         'deflate, a body that came with its head: compressed');
$plain = undef;
gunzip(\$body => \$plain);
ok t_cmp($plain // '', pattern_chunk(300),
         'deflate, a body that came with its head: exact once inflated');
($sp1, $cp1) = counters('zcdeflate', $sp0, $cp0);
ok t_cmp(($sp1 - $sp0) . '/' . ($cp1 - $cp0), '0/300',
         'deflate, a body that came with its head: copied');
close $s;

# an empty sized body, then a small one, on one connection: each ends
# once (its end goes out with the flush) and the connection goes on
$s = proxy_socket();
($st, $h, $body) = exchange($s, get_head("/zc/?size=0&chunked=0"));
ok t_cmp(($st // 0) . ' ' . length($body // 'x'), '200 0', 'an empty sized body');
($st, $h, $body) = exchange($s, get_head("/zc/?size=7&chunked=0"));
ok t_cmp($body // '', pattern_chunk(7), 'the next request after an empty body');
close $s;

# ---- Range: copied (the byterange filter sees the body) -----------------

($sp0, $cp0) = counters('zc');
$s = proxy_socket();
($st, $h, $body) = exchange($s, get_head("/zc/?size=100000&chunked=0", 'Range: bytes=100-199'));
# httpd's byterange filter cuts only a body it gets whole in one brigade,
# as a relayed one may or may not come: either answer is exact
ok t_cmp($st == 206 ? $body eq substr(pattern_chunk(100000), 100, 100)
                    : $st == 200 && $body eq pattern_chunk(100000), 1,
         "Range: the range or the whole body ($st)");
($sp1, $cp1) = counters('zc', $sp0, $cp0);
ok t_cmp($sp1 - $sp0, 0, 'Range: nothing spliced');
ok t_cmp($cp1 - $cp0, 100000, 'Range: copied');
close $s;

# ---- a close-delimited member body --------------------------------------

my $CLOSE_LEN = 2 * $MiB + 3;
my $member = evil_start(sub {
    my ($c) = @_;
    my (undef, $target) = read_request_head($c);
    $target //= '';
    if ($target =~ m{^/close}) {
        syswrite $c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n";
        write_all($c, pattern_chunk($CLOSE_LEN));
        return;
    }
    if ($target =~ m{^/stall}) {
        # declares 1 MiB, sends 100 KiB, then nothing for longer than idle=
        syswrite $c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                   . "Content-Length: $MiB\r\n\r\n";
        write_all($c, pattern_chunk(100 * 1024));
        sleep 5;
        return;
    }
    if ($target =~ m{^/break}) {
        # declares 4 MiB, sends 1 MiB, closes
        syswrite $c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                   . "Content-Length: " . (4 * $MiB) . "\r\n\r\n";
        write_all($c, pattern_chunk($MiB));
        sleep 0.2;
        return;
    }
});

# to an HTTP/1.0 client (not chunked): spliced to the member's close
($sp0, $cp0) = counters('zcevil');
$s = proxy_socket();
alarm 60;
write_all($s, "GET /zcevil/close HTTP/1.0\r\nHost: $host\r\n\r\n");
($st, $h, $body) = read_response($s);
alarm 0;
ok t_cmp(length($body // ''), $CLOSE_LEN, 'close-delimited to HTTP/1.0: whole');
ok t_cmp(md5_hex($body // ''), md5_hex(pattern_chunk($CLOSE_LEN)), 'and exact');
($sp1, $cp1) = counters('zcevil', $sp0, $cp0);
ok t_cmp(($sp1 - $sp0) + ($cp1 - $cp0), $CLOSE_LEN, 'close-delimited: counted');
ok(($sp1 - $sp0) > $CLOSE_LEN / 2);
close $s;

# to an HTTP/1.1 client that keeps its connection, httpd chunks it: copied
($sp0, $cp0) = counters('zcevil');
$s = proxy_socket();
($st, $h, $body) = exchange($s, get_head('/zcevil/close'));
ok t_cmp($h->{'transfer-encoding'}[0] // '', 'chunked', 'to HTTP/1.1: chunked by httpd');
ok t_cmp(md5_hex($body // ''), md5_hex(pattern_chunk($CLOSE_LEN)), 'and exact');
($sp1, $cp1) = counters('zcevil', $sp0, $cp0);
ok t_cmp($sp1 - $sp0, 0, 'to HTTP/1.1: copied');
close $s;

# ---- a member that closes mid-body ---------------------------------------

my $errlog = error_log_size();
$s = proxy_socket();
alarm 60;
write_all($s, get_head('/zcevil/break'));
($st, $h, $body) = read_response($s);
my $eof = !sysread($s, my $more, 1);
alarm 0;
ok t_cmp($st, 200, 'member breaks off: the head went out');
ok t_cmp($h->{'content-length'}[0], 4 * $MiB, 'with the declared length');
ok t_cmp(length $body, $MiB, 'the client got what the member sent');
ok t_cmp($eof, 1, 'and the connection closed before the declared length');
ok(error_log_since($errlog) =~ /RP00040/);
close $s;

# a member that stalls mid-body past idle= (2s): the same, after ~2 s
$errlog = error_log_size();
$s = proxy_socket();
alarm 60;
my $t_start = time;
write_all($s, get_head('/zcevil/stall'));
($st, $h, $body) = read_response($s);
$eof = !sysread($s, $more, 1);
my $t_took = time - $t_start;
alarm 0;
ok t_cmp(length($body) . " $eof", 100 * 1024 . " 1", 'member stalls: cut after what it sent');
ok t_cmp($t_took >= 1.5 && $t_took < 4.5 ? 1 : 0, 1, "after idle= ($t_took s)");
ok(error_log_since($errlog) =~ /\(70007\)[^\n]*RP00040/);
close $s;
evil_stop($member);

# ---- a client that goes away mid-body ------------------------------------

$errlog = error_log_size();
($sp0, $cp0) = counters('zc');
$s = proxy_socket();
alarm 60;
write_all($s, get_head("/zc/?size=" . (64 * $MiB) . "&chunked=0"));
($st, $h) = read_response($s, 1);
sysread($s, my $some, 65536);
my $gone_conn = $h->{'x-backend-conn'}[0] // '';
alarm 0;
close $s;
sleep 0.5;
($sp1, $cp1) = counters('zc', $sp0, $cp0);
ok t_cmp($st, 200, 'client leaves: it had the head');
ok(($sp1 - $sp0) + ($cp1 - $cp0) < 64 * $MiB);
ok(error_log_since($errlog) !~ /RP00040|\[(error|crit|alert|emerg)\]/);
# the member connection it used is gone: new requests get other ones
my %conns;
for (1 .. 4) {
    my $s2 = proxy_socket();
    my ($st2, $h2, $b2) = exchange($s2, get_head("/zc/?size=$MiB&chunked=0"));
    $conns{$h2->{'x-backend-conn'}[0] // '-'} = 1 if md5_hex($b2) eq md5_hex(pattern_chunk($MiB));
    close $s2;
}
ok t_cmp(scalar(keys %conns) >= 1 && !$conns{$gone_conn}, 1,
         'after it, requests are served, never on its member connection');

# ---- TLS: the client, then the member ------------------------------------

if (have_module('ssl') && eval { require IO::Socket::SSL; 1 }) {
    ($sp0, $cp0) = counters('zc');
    my $t = IO::Socket::SSL->new(PeerAddr => '127.0.0.1',
                                 PeerPort => $vars->{mod_ssl_port},
                                 SSL_verify_mode => 0, Timeout => 10)
        or die "ssl connect: " . IO::Socket::SSL::errstr();
    alarm 60;
    print $t get_head("/zc/?size=$MiB&chunked=0");
    my $raw = '';
    while ($raw !~ /\r\n\r\n/ || length($raw) - index($raw, "\r\n\r\n") - 4 < $MiB) {
        my $n = sysread($t, my $buf, 65536) or last;
        $raw .= $buf;
    }
    alarm 0;
    my $tb = substr($raw, index($raw, "\r\n\r\n") + 4);
    ok t_cmp(md5_hex($tb), md5_hex(pattern_chunk($MiB)), 'TLS client: exact');
    ($sp1, $cp1) = counters('zc', $sp0, $cp0);
    ok t_cmp($sp1 - $sp0, 0, 'TLS client: nothing spliced');
    ok t_cmp($cp1 - $cp0, $MiB, 'TLS client: copied');
    close $t;

    ($sp0, $cp0) = counters('zctls');
    $s = proxy_socket();
    ($st, $h, $body) = exchange($s, get_head("/zctls/?size=$MiB&chunked=0"));
    ok t_cmp(md5_hex($body), md5_hex(pattern_chunk($MiB)), 'TLS member: exact');
    ($sp1, $cp1) = counters('zctls', $sp0, $cp0);
    ok t_cmp($sp1 - $sp0, 0, 'TLS member: nothing spliced');
    ok t_cmp($cp1 - $cp0, $MiB, 'TLS member: copied');
    close $s;
}
else {
    ok(1) for 1 .. 6;
}

# ---- request bodies --------------------------------------------------------

sub framed_body {
    my ($data, $chunked) = @_;
    return $data unless $chunked;
    my $framed = '';
    for (my $o = 0; $o < length $data; $o += 100000) {
        my $c = substr($data, $o, 100000);
        $framed .= sprintf("%x\r\n", length $c) . $c . "\r\n";
    }
    return $framed . "0\r\n\r\n";
}

sub post {
    my ($s, $data, $chunked, $extra) = @_;
    my $head = "POST /zc/ HTTP/1.1\r\nHost: $host\r\n"
             . ($chunked ? "Transfer-Encoding: chunked\r\n"
                         : "Content-Length: " . length($data) . "\r\n") . "\r\n";
    alarm 60;
    write_all($s, $head . framed_body($data, $chunked) . ($extra // ''));
    my ($st, $h, $body) = read_response($s);
    alarm 0;
    my ($md5) = ($body // '') =~ /^body-md5=(\w+)$/m;
    return $md5 // '';
}

# The request body counters; given the counts before, waits as counters().
sub req_counters {
    my @before = @_;
    my $until = time + 5;
    while (1) {
        my $p = status_pool('zc') or return (-1, -1);
        my @now = ($p->{body_bytes}{request_spliced}, $p->{body_bytes}{request_copied});
        return @now if !@before || $now[0] + $now[1] != $before[0] + $before[1]
                        || time > $until;
        select undef, undef, undef, 0.05;
    }
}

my $plain_port = $vars->{zcplain_port};
my $data = pattern_chunk(3 * $MiB + 1);

# with mod_reqtimeout on the connection (the main server): copied
($sp0, $cp0) = req_counters();
for my $chunked (0, 1) {
    $s = proxy_socket();
    ok t_cmp(post($s, $data, $chunked), md5_hex($data),
             "reqtimeout, request body " . ($chunked ? 'chunked' : 'sized') . ": exact at the member");
    close $s;
}
($sp1, $cp1) = req_counters($sp0, $cp0);
ok t_cmp($sp1 - $sp0, 0, 'with mod_reqtimeout: nothing spliced');
ok t_cmp($cp1 - $cp0, 2 * length $data, 'with mod_reqtimeout: all copied');

# without it: sized bodies spliced, then the connection goes on (a body
# and a pipelined GET behind it in one write), chunked ones copied
($sp0, $cp0) = req_counters();
$s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$plain_port", Timeout => 10) or die "connect: $!";
ok t_cmp(post($s, $data, 0, "GET /zc/?size=10&chunked=0 HTTP/1.1\r\nHost: $host\r\n\r\n"),
         md5_hex($data), 'sized request body spliced: exact at the member');
alarm 60;
($st, $h, $body) = read_response($s);
alarm 0;
ok t_cmp($body, pattern_chunk(10), 'the pipelined request behind it is answered');
ok t_cmp(post($s, $data, 1), md5_hex($data), 'chunked request body on the same connection: exact');
my $small = pattern_chunk(1000);
ok t_cmp(post($s, $small, 0), md5_hex($small), 'a small sized body (prefetched whole)');
close $s;
($sp1, $cp1) = req_counters($sp0, $cp0);
ok(($sp1 - $sp0) > length($data) * 0.9);
ok t_cmp(($sp1 - $sp0) + ($cp1 - $cp0), 2 * length($data) + 1000,
         'request bytes spliced + copied = the bodies');

# a client that stops mid-body: the member connection goes, the next is fine
$errlog = error_log_size();
$s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$plain_port", Timeout => 10) or die "connect: $!";
write_all($s, "POST /zc/ HTTP/1.1\r\nHost: $host\r\nContent-Length: " . (8 * $MiB) . "\r\n\r\n"
              . pattern_chunk($MiB));
sleep 0.3;
close $s;
for (1 .. 30) { last if error_log_since($errlog) =~ /RP00293/; sleep 0.1 }
ok(error_log_since($errlog) =~ /RP00293: .* broke off after \d+ bytes \(400\)/);
my $log1 = zc_log_size();
$s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$plain_port", Timeout => 10) or die "connect: $!";
ok t_cmp(post($s, $data, 0), md5_hex($data), 'the next request body is whole');
close $s;
# %I: the request's head and its (spliced) body, exactly
my ($in) = map { /^\/zc\/ 200 \d+ \d+ (\d+)$/ ? $1 : () } zc_log_since($log1);
ok t_cmp($in, length("POST /zc/ HTTP/1.1\r\nHost: $host\r\nContent-Length: "
                     . length($data) . "\r\n\r\n") + length($data),
         '%I is the request head and body');

# ---- Upgrade tunnels ------------------------------------------------------

# bytes both ways through a WebSocket tunnel; the member echoes each read
# as "echo:<bytes>" (the data never contains "echo:": its bytes only rise)
sub tunnel_round {
    my ($path) = @_;
    my $t = proxy_socket();
    alarm 30;
    write_all($t, "GET $path HTTP/1.1\r\nHost: $host\r\nConnection: Upgrade\r\n"
                  . "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  . "Sec-WebSocket-Version: 13\r\n\r\n");
    my ($tst) = read_response($t, 1);
    my ($got) = read_until($t, 10, sub { length $_[0] >= 14 });
    my $blob = join '', map { chr($_ % 256) } 0 .. 1024 * 256 - 1;
    write_all($t, $blob);
    ($got) = read_until($t, 20, sub { (my $x = $_[0]) =~ s/echo://g; length($x) >= length $blob });
    alarm 0;
    (my $payload = $got // '') =~ s/echo://g;
    close $t;
    return ($tst, $payload eq $blob ? 1 : 0);
}

my ($t0) = (status_pool('zc') // {})->{body_bytes}{tunnel_spliced} // -1;
my ($tst, $same) = tunnel_round('/zc/ws?upgrade=1');
ok t_cmp("$tst $same", '101 1', 'tunnel: 256 KiB each way, exact');
my ($t1) = (status_pool('zc') // {})->{body_bytes}{tunnel_spliced} // -1;
# (under event the waiting thread copies the first 16 KiB of a burst that
# reaches a waiting tunnel before a worker splices the rest: at least
# half of the 512 KiB is spliced, whatever the timing)
ok(($t1 - $t0) >= 1024 * 256);
t_debug("tunnel spliced " . ($t1 - $t0));
($t0) = (status_pool('zcoff') // {})->{body_bytes}{tunnel_spliced} // -1;
($tst, $same) = tunnel_round('/zcoff/ws?upgrade=1');
ok t_cmp("$tst $same", '101 1', 'tunnel with RProxyZeroCopy off: exact');
($t1) = (status_pool('zcoff') // {})->{body_bytes}{tunnel_spliced} // -1;
ok t_cmp($t1 - $t0, 0, 'and nothing spliced');

# ---- the status page -------------------------------------------------------

my $page = Apache::TestRequest::GET('/rproxy-status')->content;
ok($page =~ /bodies [^<]* spliced, [^<]* copied \(requests [^<]*; tunnels [^<]* spliced\)/);
my $prom = Apache::TestRequest::GET('/rproxy-status?prometheus')->content;
ok($prom =~ /^rproxy_pool_body_bytes_total\{pool="zc",direction="response",path="spliced"\} [1-9]\d*$/m);
ok($prom =~ /^rproxy_pool_body_bytes_total\{pool="zc",direction="request",path="spliced"\} [1-9]\d*$/m);
ok($prom =~ /^rproxy_pool_body_bytes_total\{pool="zc",direction="tunnel",path="spliced"\} [1-9]\d*$/m);
