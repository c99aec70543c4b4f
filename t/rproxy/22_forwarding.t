# Forwarding headers: a client's copies of every header that describes the
# client or the original request (Forwarded, X-Forwarded-*, X-Real-IP, ...)
# are dropped unless the connection comes from an RProxyTrustedProxies
# address; then the chain is extended. Trust follows the connection's
# peer, not an address mod_remoteip took from a header. Forwarded values
# are quoted and escaped per RFC 7239.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestUtil qw(t_cmp);
use RPTest qw(echo_parse raw_http);

my $port = Apache::Test::vars('port');
my $rip_port = Apache::Test::vars('rp_rip_port');
my $front = "front.example:$port";

sub req {
    my ($path, $headers, %opt) = @_;
    my $raw = "GET $path HTTP/1.1\r\nHost: " . ($opt{host} // $front) . "\r\n"
            . join('', map { "$_\r\n" } @$headers) . "Connection: close\r\n\r\n";
    my (undef, $st, $h, $body) = raw_http($raw, %opt);
    return ($st, echo_parse($body));
}

# what a client may claim (one of each, some twice)
my @claims = (
    'Forwarded: for=192.0.2.66;host=evil.example;proto=https',
    'X-Forwarded-For: 192.0.2.66',
    'X-Forwarded-For: 192.0.2.67',
    'X-Forwarded-Host: evil.example',
    'X-Forwarded-Proto: https',
    'X-Forwarded-Port: 443',
    'X-Forwarded-Prefix: /evil',
    'X-Forwarded-Server: evil.example',
    'X-Forwarded-Ssl: on',
    'X-Forwarded-Scheme: https',
    'X-Forwarded-Anything: x',
    'X-Real-IP: 192.0.2.66',
    'x-real-ip: 192.0.2.68',
    'True-Client-IP: 192.0.2.66',
    'X-Client-IP: 192.0.2.66',
    'Client-IP: 192.0.2.66',
    'X-Cluster-Client-IP: 192.0.2.66',
    'X-Original-Forwarded-For: 192.0.2.66',
    'CF-Connecting-IP: 192.0.2.66',
    'Fastly-Client-IP: 192.0.2.66',
    'Front-End-Https: on',
    'X-Url-Scheme: https',
    'X-Original-URL: /admin',
    'X-Rewrite-URL: /admin',
    'X-Original-Host: evil.example',
    'X-Keep-Me: yes',
);
my @dropped = qw(forwarded x-forwarded-port x-forwarded-prefix
    x-forwarded-server x-forwarded-ssl x-forwarded-scheme
    x-forwarded-anything x-real-ip true-client-ip x-client-ip client-ip
    x-cluster-client-ip x-original-forwarded-for cf-connecting-ip
    fastly-client-ip front-end-https x-url-scheme x-original-url
    x-rewrite-url x-original-host);

plan tests => 4 * @dropped - 2 + 39;

# default (x-forwarded), no trusted proxies: only the proxy's own
my ($st, $e) = req('/b1/d', \@claims);
ok t_cmp($st, 200, 'answered');
ok t_cmp($e->{h}{$_}, undef, "default: client's $_ dropped") for @dropped;
ok t_cmp(join('|', @{ $e->{h}{'x-forwarded-for'} }), '127.0.0.1',
         'default: X-Forwarded-For is the client only, one line');
ok t_cmp(join('|', @{ $e->{h}{'x-forwarded-host'} }), $front, 'default: X-Forwarded-Host');
ok t_cmp(join('|', @{ $e->{h}{'x-forwarded-proto'} }), 'http', 'default: X-Forwarded-Proto');
ok t_cmp($e->{h}{'x-keep-me'}[0], 'yes', 'other headers pass');

# rfc7239, both, none: the same drop
($st, $e) = req('/fwd-rfc/d', \@claims);
ok t_cmp($e->{h}{$_}, undef, "rfc7239: client's $_ dropped")
    for grep { $_ ne 'forwarded' } @dropped;
ok t_cmp(join('|', @{ $e->{h}{forwarded} }), qq{for=127.0.0.1;proto=http;host="$front"},
         "rfc7239: Forwarded is the proxy's element only");
ok t_cmp($e->{h}{'x-forwarded-for'}, undef, 'rfc7239: no X-Forwarded-For');
ok t_cmp($e->{h}{'x-forwarded-host'}, undef, 'rfc7239: no X-Forwarded-Host');

($st, $e) = req('/fwd-none/d', \@claims);
ok t_cmp($e->{h}{$_}, undef, "none: client's $_ dropped") for @dropped;
ok t_cmp($e->{h}{'x-forwarded-for'}, undef, 'none: no X-Forwarded-For');
ok t_cmp($e->{h}{'x-forwarded-proto'}, undef, 'none: no X-Forwarded-Proto');
ok t_cmp($e->{h}{'x-keep-me'}[0], 'yes', 'none: other headers pass');

# a trusted list without this client: dropped as well
($st, $e) = req('/fwd-untrusted/d', \@claims);
ok t_cmp($e->{h}{$_}, undef, "untrusted: client's $_ dropped")
    for grep { $_ ne 'forwarded' } @dropped;
ok t_cmp(join('|', @{ $e->{h}{forwarded} }), qq{for=127.0.0.1;proto=http;host="$front"},
         'untrusted: Forwarded is ours only');
ok t_cmp(join('|', @{ $e->{h}{'x-forwarded-for'} }), '127.0.0.1', 'untrusted: XFF ours only');

# trusted: the chain goes on, every line kept in order; the rest as given
($st, $e) = req('/fwd-trust/d', \@claims);
ok t_cmp(join('|', @{ $e->{h}{'x-forwarded-for'} }), '192.0.2.66, 192.0.2.67, 127.0.0.1',
         'trusted: X-Forwarded-For appended to (both lines)');
ok t_cmp($e->{h}{'x-forwarded-host'}[0], 'evil.example', "trusted: the peer's X-Forwarded-Host kept");
ok t_cmp($e->{h}{'x-forwarded-proto'}[0], 'https', "trusted: the peer's X-Forwarded-Proto kept");
ok t_cmp($e->{h}{forwarded}[0], 'for=192.0.2.66;host=evil.example;proto=https',
         'trusted, x-forwarded mode: Forwarded passes as given');
# (httpd itself joins repeated request fields into one line)
ok t_cmp(join('|', @{ $e->{h}{'x-real-ip'} }), '192.0.2.66, 192.0.2.68', 'trusted: X-Real-IP kept');
ok t_cmp($e->{h}{'x-forwarded-port'}[0], '443', 'trusted: X-Forwarded-Port kept');
ok t_cmp($e->{h}{'true-client-ip'}[0], '192.0.2.66', 'trusted: True-Client-IP kept');
($st, $e) = req('/fwd-trust/d', ['X-Real-IP: 192.0.2.66']);
ok t_cmp($e->{h}{'x-forwarded-host'}[0], $front, 'trusted, none given: X-Forwarded-Host set');
ok t_cmp($e->{h}{'x-forwarded-proto'}[0], 'http', 'trusted, none given: X-Forwarded-Proto set');
# "RProxyTrustedProxies none" in a nested section trusts nobody there
($st, $e) = req('/fwd-trust/off/d', \@claims);
ok t_cmp($st, 200, 'answered');
ok t_cmp($e->{h}{'x-real-ip'}, undef, 'none nested: X-Real-IP dropped');
ok t_cmp(join('|', @{ $e->{h}{'x-forwarded-for'} }), '127.0.0.1', 'none nested: XFF ours only');

($st, $e) = req('/fwd-trust-both/d', \@claims);
ok t_cmp($e->{h}{forwarded}[0],
         qq{for=192.0.2.66;host=evil.example;proto=https, for=127.0.0.1;proto=http;host="$front"},
         'trusted, both: Forwarded appended to');
ok t_cmp($e->{h}{'x-forwarded-for'}[0], '192.0.2.66, 192.0.2.67, 127.0.0.1', 'trusted, both: XFF');
ok t_cmp(scalar @{ $e->{h}{forwarded} }, 1, 'one Forwarded line');

($st, $e) = req('/fwd-none-trust/d', \@claims);
ok t_cmp(join('|', @{ $e->{h}{'x-forwarded-for'} }), '192.0.2.66, 192.0.2.67',
         'none, trusted: X-Forwarded-For as given, nothing added');
ok t_cmp($e->{h}{forwarded}[0], 'for=192.0.2.66;host=evil.example;proto=https',
         'none, trusted: Forwarded as given');
ok t_cmp($e->{h}{'x-real-ip'}[0], '192.0.2.66, 192.0.2.68', 'none, trusted: X-Real-IP as given');

# RFC 7239 quoting: a Host with '"' and '\' (set by mod_headers) is a
# quoted-string with escapes; a host without a port is a token
($st, $e) = req('/fwd-quote/d', []);
ok t_cmp($e->{h}{forwarded}[0], 'for=127.0.0.1;proto=http;host="evil\\"x\\\\y"',
         'host= quoted and escaped');
($st, $e) = req('/fwd-rfc/d', [], host => 'plain.example');
ok t_cmp($e->{h}{forwarded}[0], 'for=127.0.0.1;proto=http;host=plain.example',
         'host= without a port is a token');

# mod_remoteip makes the client 10.1.2.3 (inside RProxyTrustedProxies), but
# the connection comes from 127.0.0.1, which is not trusted there
($st, $e) = req('/rip/d', ['X-Test-Client: 10.1.2.3', 'X-Forwarded-For: 192.0.2.66',
                           'X-Real-IP: 192.0.2.66', 'Forwarded: for=192.0.2.66'],
                port => $rip_port);
ok t_cmp($st, 200, 'answered');
ok t_cmp(join('|', @{ $e->{h}{'x-forwarded-for'} }), '10.1.2.3',
         "trust by the peer: the client's XFF dropped, mod_remoteip's address added");
ok t_cmp($e->{h}{'x-real-ip'}, undef, 'X-Real-IP dropped');
ok t_cmp(join('|', @{ $e->{h}{forwarded} }), qq{for=10.1.2.3;proto=http;host="$front"},
         'Forwarded: ours only');
# an IPv6 client address: bracketed and quoted
($st, $e) = req('/rip/d', ['X-Test-Client: 2001:db8::7'], port => $rip_port);
ok t_cmp($e->{h}{forwarded}[0], qq{for="[2001:db8::7]";proto=http;host="$front"},
         'IPv6 for= bracketed and quoted');
ok t_cmp($e->{h}{'x-forwarded-for'}[0], '2001:db8::7', 'XFF: the bare IPv6 address');
