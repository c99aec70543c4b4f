# Headers both ways: hop-by-hop and Connection-named headers dropped,
# X-Forwarded-* / Forwarded added after that, Host, hidden response headers.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use RPTest qw(echo_parse raw_http evil_start evil_stop read_request read_response
              proxy_socket);

plan tests => 44;

my $b1 = Apache::Test::vars('b1_port');
my $port = Apache::Test::vars('port');

sub req {
    my ($path, @headers) = @_;
    my $raw = "GET $path HTTP/1.1\r\nHost: front.example:$port\r\n"
            . join('', map { "$_\r\n" } @headers) . "Connection: close\r\n\r\n";
    my (undef, $st, $h, $body) = raw_http($raw);
    return ($st, $h, echo_parse($body));
}

# request side: hop-by-hop and Connection-named headers never reach the backend
my ($st, $h, $e) = req('/b1/hop',
    'Connection: X-Drop-Me, close',
    'X-Drop-Me: secret',
    'Keep-Alive: timeout=300',
    'TE: trailers',
    'Proxy-Connection: keep-alive',
    'Proxy-Authorization: Basic Zm9vOmJhcg==',
    'Upgrade: foo/1',
    'Trailer: X-T',
    'X-Keep-Me: yes');
ok t_cmp($st, 200, 'answered');
ok t_cmp($e->{h}{connection}[0], 'keep-alive',
         "the client's Connection is replaced by the proxy's own");
for my $gone (qw(x-drop-me keep-alive te proxy-connection
                 proxy-authorization upgrade trailer)) {
    ok t_cmp($e->{h}{$gone}, undef, "$gone not forwarded");
}
ok t_cmp($e->{h}{'x-keep-me'}[0], 'yes', 'end-to-end header forwarded');
ok t_cmp($e->{h}{host}[0], "127.0.0.1:$b1", 'Host is the member by default');

# X-Forwarded-*: set by the proxy; what an untrusted client sent is
# dropped (appending for trusted peers: 22_forwarding.t)
($st, $h, $e) = req('/b1/xff', 'X-Forwarded-For: 192.0.2.7',
                    'X-Forwarded-Host: spoofed.example', 'X-Forwarded-Proto: https');
ok t_cmp($e->{h}{'x-forwarded-for'}[0], '127.0.0.1', "untrusted client's XFF replaced");
ok t_cmp($e->{h}{'x-forwarded-host'}[0], "front.example:$port", 'XFH is the client Host');
ok t_cmp($e->{h}{'x-forwarded-proto'}[0], 'http', 'XFP is the real scheme');
ok t_cmp(scalar @{ $e->{h}{'x-forwarded-for'} }, 1, 'one XFF header');

# naming them in Connection cannot strip what the proxy adds
($st, $h, $e) = req('/b1/strip',
    'Connection: X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto, Forwarded',
    'X-Forwarded-For: 192.0.2.9');
ok t_cmp($e->{h}{'x-forwarded-for'}[0], '127.0.0.1',
         'client XFF named in Connection dropped, proxy XFF still added');
ok t_cmp($e->{h}{'x-forwarded-host'}[0], "front.example:$port", 'XFH still added');
ok t_cmp($e->{h}{'x-forwarded-proto'}[0], 'http', 'XFP still added');

# RFC 7239
($st, $h, $e) = req('/fwd-rfc/x', 'Forwarded: for=192.0.2.1');
ok t_cmp($e->{h}{forwarded}[0],
         qq{for=127.0.0.1;proto=http;host="front.example:$port"},
         "untrusted client's Forwarded replaced");
ok t_cmp($e->{h}{'x-forwarded-for'}, undef, 'no XFF in rfc7239 mode');
($st, $h, $e) = req('/fwd-both/x');
ok t_cmp($e->{h}{forwarded}[0], qq{for=127.0.0.1;proto=http;host="front.example:$port"},
         'both: Forwarded');
ok t_cmp($e->{h}{'x-forwarded-for'}[0], '127.0.0.1', 'both: XFF');
($st, $h, $e) = req('/fwd-none/x', 'X-Forwarded-For: 192.0.2.7');
ok t_cmp($e->{h}{'x-forwarded-for'}, undef, "none: adds nothing, the untrusted client's dropped");
ok t_cmp($e->{h}{forwarded}, undef, 'none: no Forwarded');

# RProxyPreserveHost
($st, $h, $e) = req('/preserve/x');
ok t_cmp($e->{h}{host}[0], "front.example:$port", 'PreserveHost sends the client Host');

# response side
my $q = join '&', map { "header=$_" }
    'Connection:%20X-Bar', 'X-Bar:1', 'Keep-Alive:%20timeout=99',
    'X-Powered-By:%20PHP/8', 'X-Secret:1', 'X-Other:2', 'X-Keep:1',
    'Proxy-Authenticate:%20Basic', 'Server:%20Backend/1.0', 'Trailer:%20X-T';
($st, $h) = req("/hide/?$q");
ok t_cmp($st, 200, 'answered');
ok t_cmp($h->{'x-bar'}, undef, 'Connection-named response header dropped');
ok t_cmp(($h->{'keep-alive'} // [''])->[0] =~ /99/ ? 1 : 0, 0, "backend's Keep-Alive dropped");
ok t_cmp($h->{'proxy-authenticate'}, undef, 'Proxy-Authenticate dropped');
ok t_cmp($h->{trailer}, undef, 'Trailer dropped');
ok t_cmp($h->{'x-powered-by'}, undef, 'X-Powered-By hidden by default');
ok t_cmp($h->{'x-secret'}, undef, 'RProxyHideHeader X-Secret');
ok t_cmp($h->{'x-other'}, undef, 'RProxyHideHeader X-Other');
ok t_cmp($h->{'x-keep'}[0], '1', 'other headers pass');
ok t_cmp(($h->{server}[0] // '') =~ /Backend/ ? 1 : 0, 0, "backend's Server masked");

# interim responses do not leak into the final one: a 103's Content-Type
# (and other headers) are not the final response's
my $evil = evil_start(sub {
    my ($c) = @_;
    while (my ($m, $t) = read_request($c)) {
        my $final = $t =~ /typed/ ? "Content-Type: text/plain\r\n" : '';
        my $reason = $t =~ /noreason/ ? '' : 'Early Hints';
        print $c "HTTP/1.1 103 $reason\r\nContent-Type: text/x-leak\r\n"
               . "Link: </s.css>; rel=preload\r\nX-Hint: 1\r\n\r\n"
               . "HTTP/1.1 200 OK\r\n${final}Content-Length: 2\r\n\r\nok";
    }
});
for my $case (['leak', undef], ['typed', 'text/plain']) {
    my $s = proxy_socket();
    print $s "GET /evil/$case->[0] HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    my ($st1, $h1) = read_response($s);
    my ($st2, $h2, $body) = read_response($s);
    close $s;
    if ($case->[0] eq 'leak') {
        ok t_cmp($st1, 103, '103 relayed');
        ok t_cmp($h1->{link}[0], '</s.css>; rel=preload', 'with its Link');
    }
    ok t_cmp("$st2 $body", '200 ok', "$case->[0]: final response");
    ok t_cmp($h2->{'content-type'} ? $h2->{'content-type'}[0] : undef, $case->[1],
             "$case->[0]: the 103's Content-Type is not the final one's");
    ok t_cmp($h2->{'x-hint'}, undef, "$case->[0]: nor its other headers");
}
# a 103 with an empty reason phrase still makes a well-formed status line
{
    my $s = proxy_socket();
    print $s "GET /evil/noreason HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    my ($st1, $h1, undef, $head) = read_response($s);
    close $s;
    ok t_cmp($head, qr{^HTTP/1\.1 103 [^\r\n]*\r\nLink: </s\.css>; rel=preload\r\n}, '103 without a reason');
}
evil_stop($evil);
