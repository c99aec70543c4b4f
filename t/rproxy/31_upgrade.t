# HTTP/1.1 Upgrade: a WebSocket-style tunnel carries bytes both ways, each
# direction on its own; h2c is never tunnelled; a route with upgrade=none
# tunnels nothing; a backend cannot switch protocols on its own.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestUtil qw(t_cmp);
use IO::Socket::INET;
use RPTest qw(echo_parse read_response proxy_port evil_start evil_stop
              proxy_socket read_until write_all);

plan tests => 34;

my $port = proxy_port();
my $host = "localhost:$port";
$SIG{ALRM} = sub { die "timed out\n" };

sub upgrade_request {
    my ($path, $proto, @extra) = @_;
    return join '', "GET $path HTTP/1.1\r\nHost: $host\r\n",
                    "Connection: Upgrade\r\nUpgrade: $proto\r\n",
                    map({ "$_\r\n" } @extra), "\r\n";
}

my @ws = ('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13');

my ($s, $st, $h, $body, $got, $eof);

# ---- the tunnel, both ways -------------------------------------------------
$s = proxy_socket();
alarm 30;
write_all($s, upgrade_request('/b1/ws?upgrade=1', 'websocket', @ws));
($st, $h) = read_response($s, 1);
alarm 0;
ok t_cmp($st, 101, 'websocket upgrade: 101 from the backend');
ok t_cmp(lc($h->{upgrade}[0] // ''), 'websocket', '101 names websocket');
ok t_cmp(lc($h->{connection}[0] // ''), 'upgrade', '101 carries Connection: Upgrade');
ok t_cmp($h->{'x-backend'}[0], 'b1', 'the 101 is b1\'s');

# backend -> client alone: the backend speaks first, unprompted
($got) = read_until($s, 10, sub { length $_[0] >= 14 });
ok t_cmp($got, "hello-from-b1\n", 'backend\'s unsolicited bytes reach the client');

# client -> backend -> client
write_all($s, 'ping-1');
($got) = read_until($s, 10, sub { length $_[0] >= 11 });
ok t_cmp($got, 'echo:ping-1', 'client bytes reach the backend and come back');

# bulk binary, every byte value; the echo prefixes each of its reads, and
# the data can never contain "echo:" (its bytes only ever rise by one)
my $blob = join '', map { chr($_ % 256) } 0 .. 200 * 256 - 1;
write_all($s, $blob);
my $payload = sub { (my $x = $_[0]) =~ s/echo://g; $x };
($got) = read_until($s, 20, sub { length($payload->($_[0])) >= length $blob });
ok t_cmp(length($payload->($got)), length($blob), '51200 binary bytes echoed back');
ok($payload->($got) eq $blob);
ok t_cmp(substr($got, 0, 5), 'echo:', 'as the backend\'s echo');

# "quit" ends it: the backend closes, and so does the tunnel
write_all($s, 'quit');
($got, $eof) = read_until($s, 10, sub { 0 });
ok t_cmp($got, 'echo:quit', 'quit echoed');
ok t_cmp($eof, 1, 'backend close ends the client connection');
close $s;

# the client half-closing is passed on: the backend sees EOF and finishes
$s = proxy_socket();
alarm 30;
write_all($s, upgrade_request('/b1/ws?upgrade=1', 'websocket', @ws));
($st, $h) = read_response($s, 1);
alarm 0;
($got) = read_until($s, 10, sub { length $_[0] >= 14 });
ok t_cmp("$st $got", "101 hello-from-b1\n", 'second tunnel open');
write_all($s, 'last words');
shutdown($s, 1);
($got, $eof) = read_until($s, 10, sub { 0 });
ok t_cmp("$got $eof", 'echo:last words 1',
         'after the client\'s half-close: data delivered, then EOF');
close $s;

# an Upgrade header alone, without Connection: Upgrade, is no upgrade
$s = proxy_socket();
($st, $h, $body) = do {
    alarm 30;
    write_all($s, "GET /b1/plain?upgrade=1 HTTP/1.1\r\nHost: $host\r\nUpgrade: websocket\r\n\r\n");
    my @r = read_response($s);
    alarm 0;
    @r;
};
my $e = echo_parse($body);
ok t_cmp($st, 200, 'Upgrade without Connection: Upgrade: a plain 200');
ok t_cmp($e->{h}{upgrade}, undef, 'backend got no Upgrade header');

# a backend that declines the upgrade answers normally; it was asked for it
$s = proxy_socket();
alarm 30;
write_all($s, upgrade_request('/b1/declined', 'websocket', @ws));
($st, $h, $body) = read_response($s);
alarm 0;
$e = echo_parse($body);
ok t_cmp($st, 200, 'backend not upgrading: its 200 is relayed');
ok t_cmp(join(',', @{ $e->{h}{upgrade} || [] }) . '|' . join(',', @{ $e->{h}{connection} || [] }),
         'websocket|Upgrade', 'backend was sent Upgrade: websocket, Connection: Upgrade');
ok t_cmp(join(',', @{ $e->{h}{'sec-websocket-key'} || [] }), 'dGhlIHNhbXBsZSBub25jZQ==',
         'with the WebSocket handshake headers');

# ---- h2c is never tunnelled ------------------------------------------------
$s = proxy_socket();
alarm 30;
write_all($s, "GET /b1/h2c?upgrade=1 HTTP/1.1\r\nHost: $host\r\n"
              . "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
              . "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n");
($st, $h, $body) = read_response($s);
alarm 0;
$e = echo_parse($body);
ok t_cmp($st, 200, 'Upgrade: h2c -> a normal 200 (the backend would have switched)');
ok t_cmp($e->{h}{upgrade}, undef, 'backend got no Upgrade header');
ok t_cmp($e->{h}{'http2-settings'}, undef, 'nor HTTP2-Settings (named in Connection)');
ok t_cmp(join(',', @{ $e->{h}{connection} || [] }), 'keep-alive',
         "nor the client's Connection (only the proxy's own keep-alive)");
ok t_cmp($h->{upgrade}, undef, 'client gets no Upgrade offer back');
# the connection is still plain HTTP/1.1
alarm 30;
write_all($s, "GET /b1/?count=1 HTTP/1.1\r\nHost: $host\r\n\r\n");
($st, $h, $body) = read_response($s);
alarm 0;
ok t_cmp("$st $body", "200 backend=b1\n", 'same connection serves the next request');

# offered alongside websocket, only websocket goes on
$s = proxy_socket();
alarm 30;
write_all($s, upgrade_request('/b1/ws?upgrade=1', 'h2c, websocket', @ws));
($st, $h) = read_response($s, 1);
alarm 0;
($got) = read_until($s, 10, sub { length $_[0] >= 14 });
ok t_cmp("$st " . lc($h->{upgrade}[0] // ''), '101 websocket',
         '"Upgrade: h2c, websocket": the backend only saw websocket');
ok t_cmp($got, "hello-from-b1\n", 'and the tunnel works');
close $s;

# ---- upgrade=none --------------------------------------------------------
$s = proxy_socket();
alarm 30;
write_all($s, upgrade_request('/noupgrade/ws?upgrade=1', 'websocket', @ws));
($st, $h, $body) = read_response($s);
alarm 0;
$e = echo_parse($body);
ok t_cmp("$st " . ($h->{'x-backend'}[0] // ''), '200 b1',
         'route with upgrade=none: a normal 200 from b1');
ok t_cmp($e->{h}{upgrade}, undef, 'backend got no Upgrade header');
ok t_cmp($h->{upgrade}, undef, 'client gets no Upgrade header');

# ---- a backend cannot switch protocols on its own ------------------------
my $evil = evil_start(sub {
    my ($c) = @_;
    my $req = '';
    while ($req !~ /\r\n\r\n/) { sysread($c, my $b, 1) or return; $req .= $b }
    my $proto = $req =~ m{^GET /mismatch} ? 'h2c' : 'websocket';
    print $c "HTTP/1.1 101 Switching Protocols\r\nUpgrade: $proto\r\n"
             . "Connection: Upgrade\r\n\r\nsurprise-bytes";
    sleep 3;
});
my $evil_port = Apache::Test::vars('ext_backend_port');

# 101 to a request that asked for no upgrade
$s = proxy_socket();
alarm 30;
write_all($s, "GET /evil/unasked HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n");
($st, $h, $body) = read_response($s);
alarm 0;
ok t_cmp($st, 502, 'unsolicited 101 from a backend -> 502');
ok(!($body =~ /surprise/));
ok(!($body =~ /127\.0\.0\.1|$evil_port/));

# 101 for another protocol than the one asked for
$s = proxy_socket();
alarm 30;
write_all($s, upgrade_request('/evil/mismatch', 'websocket', @ws));
($st, $h, $body) = read_response($s);
alarm 0;
ok t_cmp($st, 502, '101 switching to h2c when websocket was asked -> 502');
ok(!($body =~ /surprise/));
evil_stop($evil);
