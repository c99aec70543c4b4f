# WebSockets over an HTTP/2 front end (RFC 8441; mod_http2 H2WebSockets).
# mod_http2 turns an extended CONNECT (:protocol websocket) into an
# HTTP/1.1-style GET with "Upgrade: websocket" and a Sec-WebSocket-Key of
# its own on a secondary connection, and turns the 101 into the 200 RFC
# 8441 wants. On one h2c connection (t/h2ws_echo.py): two WebSockets at
# once, each carrying RFC 6455 frames both ways (a 100,000-byte binary
# message crosses the flow-control windows) to a scripted echo member, a
# plain GET answered while both are open, a route without upgrades and a
# WebSocket stream that ends with its request (400, RP00260) each failing
# only their own stream, and the closing handshakes; the member's log
# says what it received. The tunnel waits on the stream's own descriptor
# (33_tunnel_faults.t checks it does not spin, and the idle end). Skipped
# under prefork (mod_http2 does not run there) and without python3-h2.
use strict;
# `make test-asan` preloads the sanitizer runtime for httpd through the
# environment; python3 is not ours to sanitize
BEGIN { delete $ENV{LD_PRELOAD} }
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok need need_module skip_reason);
use Apache::TestUtil qw(t_cmp);
use Digest::MD5 qw(md5_hex);
use Digest::SHA ();
use MIME::Base64 ();
use RPTest qw(evil_start evil_stop evil_log evil_lines read_request_head
              read_n error_log_size error_log_since);

my $mpm = Apache::Test::config()->server->{mpm} // '';
my $h2port = Apache::Test::vars('h2_websocket_port');
plan tests => 30,
    need(($mpm ne 'prefork') || skip_reason('mod_http2 does not run under prefork'),
         need_module('http2'),
         !system('/usr/bin/python3 -c "import h2" 2>/dev/null')
             || skip_reason('python3-h2 is needed (tools/deps.sh test)'));

# One frame off the socket: (opcode, payload, masked) or () at EOF.
sub ws_read {
    my ($c) = @_;
    my $h = read_n($c, 2);
    return if length $h < 2;
    my ($b0, $b1) = unpack 'CC', $h;
    my $n = $b1 & 0x7f;
    $n = unpack 'n', read_n($c, 2) if $n == 126;
    $n = unpack 'Q>', read_n($c, 8) if $n == 127;
    my $mask = $b1 & 0x80 ? read_n($c, 4) : '';
    my $p = read_n($c, $n);
    return if length $p < $n;
    if ($mask) {
        my $m = $mask x (int($n / 4) + 1);
        $p ^= substr($m, 0, $n);
    }
    return ($b0 & 0x0f, $p, $mask ? 1 : 0);
}

# A server frame: FIN, unmasked.
sub ws_frame {
    my ($op, $p) = @_;
    my $n = length $p;
    my $len = $n < 126 ? pack('C', $n)
            : $n < 65536 ? pack('Cn', 126, $n) : pack('CQ>', 127, $n);
    return pack('C', 0x80 | $op) . $len . $p;
}

# The member, RFC 6455: logs the handshake it got, answers 101 with the
# Sec-WebSocket-Accept for the key it got (mod_http2 checks it), says
# hello, then logs and echoes every frame (a ping gets its pong, a close
# its close, and the connection ends). A request without the upgrade gets
# a 426.
my $member = evil_start(sub {
    my ($c, $n, $log) = @_;
    my ($m, $target, $h, $head) = read_request_head($c) or return;
    (my $path = $target) =~ s{^/}{};
    my $key = $h->{'sec-websocket-key'} // '';
    my $raw = MIME::Base64::decode_base64($key);
    # a pseudo-header, or one an upgrade request must not carry (a body:
    # the bytes after the handshake are the WebSocket's; mod_http2 may
    # say "Content-Length: 0", which is right)
    my @bad = grep { /^(:|http2-settings$|te$|transfer-encoding$)/
                     || $_ eq 'content-length' && $h->{$_} ne '0' } keys %$h;
    evil_log($log, "hs $path $m upgrade=" . ($h->{upgrade} // '-')
                   . " connection=" . ($h->{connection} // '-')
                   . " version=" . ($h->{'sec-websocket-version'} // '-')
                   . " key16=" . (length($raw) == 16 ? 1 : 0)
                   . " bad=" . (join(',', map { "$_:$h->{$_}" } sort @bad) || '-'));
    evil_log($log, "key $path $key");
    if (lc($h->{upgrade} // '') ne 'websocket' || length($raw) != 16) {
        print $c "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\n"
                 . "Content-Length: 0\r\nConnection: close\r\n\r\n";
        return;
    }
    my $accept = MIME::Base64::encode_base64(Digest::SHA::sha1(
        $key . '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'), '');
    syswrite($c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 . "Connection: Upgrade\r\nSec-WebSocket-Accept: $accept\r\n\r\n"
                 . ws_frame(1, "hello $path"));
    while (my ($op, $p, $masked) = ws_read($c)) {
        my $what = $op == 2 ? length($p) . ':' . md5_hex($p) : $p;
        $what = unpack('n', $p) if $op == 8;
        evil_log($log, "frame $path op=$op masked=$masked $what");
        if ($op == 9) { syswrite($c, ws_frame(10, $p)); next }
        syswrite($c, ws_frame($op, $p));
        return if $op == 8;
    }
    evil_log($log, "eof $path");
});
my $log = Apache::Test::vars('t_logs') . '/evil.' . Apache::Test::vars('ext_backend_port') . '.log';

my $log_off = error_log_size();
my %r;
my @recv;
for (`/usr/bin/python3 t/h2ws_echo.py $h2port /ws/ /b1/?count=1 /noup/x 2>&1`) {
    chomp;
    print "# client: $_\n";
    my ($k, $v) = /^(\S+) ?(.*)$/ or next;
    if ($k =~ /^[ab]-recv$/) { push @recv, "$k $v" } else { $r{$k} = $v }
}
evil_stop($member);
my @m = evil_lines($log);
print "# member: $_\n" for @m;

ok t_cmp($r{'settings-connect-protocol'}, '1', 'the server offers extended CONNECT');
ok t_cmp("$r{'a-status'} $r{'b-status'}", '200 200',
         'both WebSockets are accepted with 200 (not 101)');
ok t_cmp($r{'a-headers'}, qr/^(?!.*(upgrade|connection|sec-websocket-accept))/,
         'no HTTP/1.1 upgrade header reaches the h2 client');
my @hs = sort grep { /^hs / } @m;
ok t_cmp($hs[0], 'hs a GET upgrade=websocket connection=Upgrade version=13 key16=1 bad=-',
         'a: the member got an HTTP/1.1 WebSocket handshake');
ok t_cmp($hs[1], 'hs b GET upgrade=websocket connection=Upgrade version=13 key16=1 bad=-',
         'b: the member got an HTTP/1.1 WebSocket handshake');
my %key = map { /^key (\S+) (\S*)$/ ? ($1, $2) : () } @m;
ok $key{a} && $key{b} && $key{a} ne $key{b};    # a fresh key per stream
ok t_cmp(join(' | ', @recv[0, 1]), 'a-recv text:hello a | b-recv text:hello b',
         'the member speaks first: on each stream its own greeting');
ok t_cmp($recv[2], 'a-recv text:one', 'a: a text message echoed');
ok t_cmp($recv[3], 'b-recv text:two', 'b: its own message, not a\'s');
my ($size, $md5) = $r{'a-sent'} =~ /^binary:(\d+):(\w+)$/;
ok t_cmp($recv[4], "a-recv binary:$size:$md5",
         'a: a 100,000-byte binary message echoed intact');
ok t_cmp("$r{'get-status'} $r{'get-body'}", '200 backend=b1',
         'a GET on the same connection is answered while both are open');
ok t_cmp($recv[5], 'a-recv text:after-get', 'a: still echoing after that GET');
ok t_cmp($recv[6], 'a-recv pong:p', 'a: a ping gets the member\'s pong');
ok t_cmp($r{'noup-status'}, '426', 'a route without upgrades: the member\'s 426');
ok t_cmp((grep { /^hs x / } @m)[0] // '', qr/^hs x GET upgrade=- connection=(?![^ ]*[Uu]pgrade)/,
         'there, the member got a plain GET');
# an extended CONNECT with END_STREAM: a WebSocket that can never send
ok t_cmp($r{'es-status'}, '400', 'a WebSocket stream ended with its request: 400');
ok t_cmp(scalar(grep { /^hs es / } @m), 0, 'without asking the member');
ok t_cmp(scalar(() = error_log_since($log_off) =~ /RP00260: upgrade to websocket on an HTTP\/2 stream that ended with its request refused \(400\)/g),
         1, 'the tagged line says why');
ok t_cmp($recv[7], 'a-recv close:1000', 'a: the closing handshake');
ok t_cmp($r{'a-end'}, qr/^ended(,reset:0)?$/, 'a: then its stream ends');
ok t_cmp($recv[8], 'b-recv text:still', 'b: goes on after a ended');
ok t_cmp($recv[9], 'b-recv close:1000', 'b: the closing handshake');
ok t_cmp($r{'b-end'}, qr/^ended(,reset:0)?$/, 'b: then its stream ends');
ok t_cmp("$r{'get2-status'} " . ($r{closed} // 'open'), '200 open',
         'the connection goes on serving streams');
# what the member received, frame by frame, all masked as RFC 6455 wants
my @fa = grep { /^frame a / } @m;
ok t_cmp(join(' | ', @fa), "frame a op=1 masked=1 one | frame a op=2 masked=1 "
                           . "$size:$md5 | frame a op=1 masked=1 after-get | "
                           . "frame a op=9 masked=1 p | frame a op=8 masked=1 1000",
         'a: the member got exactly the frames sent, in order');
ok t_cmp(join(' | ', grep { /^frame b / } @m),
         'frame b op=1 masked=1 two | frame b op=1 masked=1 still | frame b op=8 masked=1 1000',
         'b: the member got exactly its frames');
ok t_cmp(scalar(grep { /^hs / } @m), 3, 'one member connection per stream');
my $elog = error_log_since($log_off);
ok t_cmp(scalar(() = $elog =~ /RP00050: [^\n]*tunnel open \(websocket\)/g), 2,
         'two tunnels were opened');
ok t_cmp(scalar(() = $elog =~ /RP00142: [^\n]*tunnel closed/g), 2,
         'and both closed');
ok t_cmp(scalar(() = $elog =~ /RP0014[034]/g), 0,
         'no tunnel failure, no refusal');
