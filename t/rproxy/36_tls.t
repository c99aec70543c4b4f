# TLS on both sides, always through mod_ssl: https members verified with
# SSLProxyVerify require against the test CA (and refused when the name does
# not match), and a TLS frontend whose requests reach the backend marked
# X-Forwarded-Proto: https. Bodies and tunnels work over either.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok need need_ssl need_lwp);
use Apache::TestRequest qw(GET POST);
use Apache::TestUtil qw(t_cmp);
use Digest::MD5 qw(md5_hex);
use IO::Socket::INET;
use RPTest qw(echo_parse read_response proxy_port pattern_chunk read_until
              error_log_size error_log_since);

plan tests => 32, need need_ssl, need_lwp;

my $vars = Apache::Test::vars();
my $tls_port = $vars->{b_tls_port};
my $ssl_port = $vars->{mod_ssl_port};
my $ca = "$vars->{sslca}/$vars->{sslcaorg}/certs/ca.crt";
$SIG{ALRM} = sub { die "timed out\n" };

sub hdr { my ($e, $n) = @_; return join ',', @{ $e->{h}{lc $n} || [] } }

# ---- https members -------------------------------------------------------

my $res = GET '/tls/hello?x=1';
my $e = echo_parse($res->content);
ok t_cmp($res->code, 200, '/tls/ reaches the https member');
ok t_cmp($res->header('X-Backend'), 'tls', 'the TLS backend answered');
ok t_cmp($e->{uri}, '/hello?x=1', 'path mapped');
ok t_cmp(hdr($e, 'Host'), "localhost:$tls_port", 'Host names the member as configured');
ok t_cmp(hdr($e, 'X-Forwarded-Proto'), 'http', 'client came in over plain http');

# the member connection is kept and reused over TLS (one keep-alive client
# connection, so that under prefork the same child serves all three)
Apache::TestRequest::user_agent(reset => 1, keep_alive => 1);
my @conns = map { GET('/tls/?count=1')->header('X-Backend-Conn') // '-' } 1 .. 3;
ok t_cmp("$conns[1] $conns[2]", "$conns[0] $conns[0]",
         'sequential requests reuse one TLS connection to the member');

# bodies both ways over the member's TLS
my $up = join '', map { pack 'N', $_ * 7919 } 0 .. 300 * 256;   # ~300 KiB
$res = POST '/tls/upload', content => $up;
$e = echo_parse($res->content);
ok t_cmp("$e->{'body-bytes'} $e->{'body-md5'}", length($up) . ' ' . md5_hex($up),
         'upload over TLS to the member arrives intact');
for my $chunked (0, 1) {
    my $len = 2 * 1024 * 1024 + 5;
    $res = GET "/tls/?size=$len&chunked=$chunked";
    ok t_cmp($res->code, 200, "download chunked=$chunked over TLS from the member");
    ok(($res->content // '') eq pattern_chunk($len))
        or print "# got ", length($res->content // ''), " bytes, want $len\n";
}

# a member whose certificate does not carry the name we connect by
my $log_from = error_log_size();
$res = GET '/tls-badname/?count=1';
ok t_cmp($res->code, 502, 'certificate name mismatch -> 502');
ok t_cmp($res->header('X-Backend'), undef, 'no backend response got through');
ok(!($res->content =~ /127\.0\.0\.1|$tls_port|backend=/))
    or print "# body: ", $res->content, "\n";
my $new_log = error_log_since($log_from);
ok t_cmp(scalar($new_log =~ /AH02411: SSL Proxy: Peer certificate does not match for hostname 127\.0\.0\.1/), 1,
         'refused by mod_ssl\'s peer-name check');

# ---- the TLS frontend (mod_ssl) ------------------------------------------

Apache::TestRequest::scheme('https');
Apache::TestRequest::module('mod_ssl');

$res = GET '/b1/front?y=2';
$e = echo_parse($res->content);
ok t_cmp($res->code, 200, 'https frontend: /b1/ proxied');
ok($res->header('Client-SSL-Cipher'));
ok t_cmp($res->header('X-Backend'), 'b1', 'from b1');
ok t_cmp($e->{uri}, '/front?y=2', 'path mapped');
ok t_cmp(hdr($e, 'X-Forwarded-Proto'), 'https', 'backend told X-Forwarded-Proto: https');
ok t_cmp(hdr($e, 'X-Forwarded-Host'), "localhost:$ssl_port", 'and the public host');

$res = POST '/b1/upload', content => $up;
$e = echo_parse($res->content);
ok t_cmp("$e->{'body-bytes'} $e->{'body-md5'}", length($up) . ' ' . md5_hex($up),
         'upload through the https frontend arrives intact');
$res = GET '/b1/?size=1048576&chunked=1';
ok(($res->content // '') eq pattern_chunk(1048576));

# TLS on both sides at once
$res = GET '/tls/both';
$e = echo_parse($res->content);
ok t_cmp($res->header('X-Backend') . ' ' . hdr($e, 'X-Forwarded-Proto'), 'tls https',
         'https frontend to https member');

Apache::TestRequest::scheme('http');
Apache::TestRequest::module('default');

# ---- tunnels over TLS ----------------------------------------------------

sub tunnel_check {
    my ($s, $path, $hostport, $name, $label) = @_;
    alarm 30;
    print $s "GET $path HTTP/1.1\r\nHost: $hostport\r\nConnection: Upgrade\r\n"
             . "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
             . "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    my ($st, $h) = read_response($s, 1);
    alarm 0;
    ok t_cmp($st // '', 101, "$label: 101");
    my $hello = "hello-from-$name\n";
    my ($got) = read_until($s, 10, sub { length $_[0] >= length $hello });
    ok t_cmp($got, $hello, "$label: backend speaks first");
    my $msg = 'x' x 20000;
    print $s $msg;
    my $strip = sub { (my $x = $_[0]) =~ s/echo://g; $x };
    ($got) = read_until($s, 10, sub { length($strip->($_[0])) >= length $msg });
    my $back = $strip->($got);
    ok t_cmp(length $back, length $msg, "$label: 20000 bytes echoed");
    print $s 'quit';
    ($got) = read_until($s, 10, sub { length $_[0] >= 9 });
    ok t_cmp($got, 'echo:quit', "$label: quit");
}

# websocket to the https member, client on plain http
{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => proxy_port(),
                                  Timeout => 10) or die "connect: $!";
    tunnel_check($s, '/tls/ws?upgrade=1', 'localhost:' . proxy_port(), 'tls',
                 'websocket to the https member');
}

# websocket through the https frontend to b1
{
    require IO::Socket::SSL;
    my $s = IO::Socket::SSL->new(PeerAddr => '127.0.0.1', PeerPort => $ssl_port,
                                 SSL_ca_file => $ca, SSL_hostname => 'localhost',
                                 SSL_verifycn_name => 'localhost',
                                 SSL_verifycn_scheme => 'http', Timeout => 10)
        or die "ssl connect: " . IO::Socket::SSL::errstr();
    tunnel_check($s, '/b1/ws?upgrade=1', "localhost:$ssl_port", 'b1',
                 'websocket through the https frontend');
}
