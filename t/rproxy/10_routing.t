# Routing: which route a request takes and the path the backend receives.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use RPTest qw(echo_parse raw_http);

plan tests => 44;

sub via {
    my ($url, @h) = @_;
    my $res = GET $url, @h;
    return ($res, echo_parse($res->content));
}

# prefix replaced by the target's path
my ($res, $e) = via('/b1/hello/world?x=1&y=%20z');
ok t_cmp($res->code, 200, 'prefix route answers');
ok t_cmp($res->header('X-Backend'), 'b1', 'to b1');
ok t_cmp($e->{uri}, '/hello/world?x=1&y=%20z', 'prefix stripped, query kept raw');

# longest prefix wins, whatever the order
($res, $e) = via('/b1/deeper/x');
ok t_cmp($res->header('X-Backend'), 'b2', 'longer prefix /b1/deeper/ wins');
ok t_cmp($e->{uri}, '/deep/x', 'mapped onto /deep/');

# "!" excludes a sub-path from a route
$res = GET '/b1/static/file.txt';
ok t_cmp($res->code, 404, 'RProxyPass /b1/static ! -> not proxied');
ok t_cmp($res->header('X-Backend'), undef, 'no backend reached');

# segment boundaries: /api matches /api and /api/x, not /apix
($res, $e) = via('/api');
ok t_cmp($e->{uri}, '/v1', '/api -> /v1');
($res, $e) = via('/api/users/7');
ok t_cmp($e->{uri}, '/v1/users/7', '/api/users/7 -> /v1/users/7');
$res = GET '/apix';
ok t_cmp($res->code, 404, '/apix does not match /api');

# a pool target without a path keeps the client's path unchanged
($res, $e) = via('/unchanged/a/b?q');
ok t_cmp($e->{uri}, '/unchanged/a/b?q', 'path unchanged for a bare pool target');

# regex routes with $n substitution
($res, $e) = via('/re/abc/rest/of/it?k=v');
ok t_cmp($res->header('X-Backend'), 'b1', 'regex route');
ok t_cmp($e->{uri}, '/swapped/rest/of/it/abc?k=v', '$1/$2 substituted');
($res, $e) = via('/renosub/zz');
ok t_cmp($e->{uri}, '/renosub/zz', 'regex route to a pool keeps the path');

# encoded paths: decoded once by httpd, encoded once for the backend
($res, $e) = via('/b1/a%20b/c%3Fd/e%23f/%25');
ok t_cmp($e->{uri}, '/a%20b/c%3Fd/e%23f/%25',
         'encoded ? # % and space keep their meaning');
($res, $e) = via('/b1/x/../y/./z');
ok t_cmp($e->{uri}, '/y/z', 'dot segments resolved as httpd did for access control');
($res, $e) = via('/b1/%7Euser/caf%C3%A9');
ok t_cmp($e->{uri}, '/~user/caf%C3%A9', 'unreserved decoded, UTF-8 re-encoded');
$res = GET '/b1/a%2Fb';
ok t_cmp($res->code, 404, 'encoded slash refused as httpd does by default');
ok t_cmp($res->header('X-Backend'), undef, 'and not sent to the backend');

# a target path from the configuration is already encoded: sent as
# written, while the client's part is encoded once
($res, $e) = via('/enc/x%20y?q=%20');
ok t_cmp($e->{uri}, '/a%20b/x%20y?q=%20', 'RProxyPass target /a%20b/ not encoded twice');
($res, $e) = via('/enc/p%25q');
ok t_cmp($e->{uri}, '/a%20b/p%25q', 'a client %25 stays one encoded %');
($res, $e) = via('/encre/one%20two/rest%3F');
ok t_cmp($e->{uri}, '/c%20d/rest%3F/one%20two',
         'RProxyPassMatch: template as written, groups encoded once');
ok t_cmp($res->header('X-Backend'), 'b1', 'to b1');

# <Location> and <If> routes
($res, $e) = via('/loc/sub?a=b');
ok t_cmp($res->header('X-Backend'), 'b2', '<Location> route');
ok t_cmp($e->{uri}, '/inner/sub?a=b', '<Location> prefix replaced');
($res, $e) = via('/canary/p');
ok t_cmp($res->header('X-Backend'), 'b1', '<Location> default route');
ok t_cmp($e->{uri}, '/p', 'mapped');
($res, $e) = via('/canary/p', 'X-Canary' => '1');
ok t_cmp($res->header('X-Backend'), 'b3', '<If> inside <Location> wins');

# no <Directory> walk for a section route; walked after all when the
# final walk takes the route away
($res, $e) = via('/walk/x');
ok t_cmp($res->code . ' ' . ($res->header('X-Backend') // '-') . " " . ($e->{uri} // '-'),
         '200 b1 /x', '<Location> route: <Directory> Require all denied does not apply');
$res = GET '/walk/static.txt';
ok t_cmp($res->code, 403, 'an <If> that takes the route away: <Directory> applies');

# methods travel unchanged
my $ua = Apache::TestRequest::user_agent();
$res = $ua->request(HTTP::Request->new(DELETE => Apache::TestRequest::resolve_url('/b1/thing')));
$e = echo_parse($res->content);
ok t_cmp($e->{method}, 'DELETE', 'DELETE forwarded');
$res = $ua->request(HTTP::Request->new(OPTIONS => Apache::TestRequest::resolve_url('/b1/thing')));
ok t_cmp(echo_parse($res->content)->{method}, 'OPTIONS', 'OPTIONS forwarded');

# never a forward proxy: absolute-form is routed by path, to configured
# members only, whatever host it names
my $b2 = Apache::Test::vars('b2_port');
my ($s, $st, $h, $body) = raw_http("GET http://127.0.0.1:$b2/b1/abs HTTP/1.1\r\n"
                                   . "Host: 127.0.0.1:$b2\r\nConnection: close\r\n\r\n");
ok t_cmp($st, 200, 'absolute-form request answered');
ok t_cmp($h->{'x-backend'}[0], 'b1', 'by the configured route, not the named host');
ok t_cmp(echo_parse($body)->{uri}, '/abs', 'path mapped as usual');
($s, $st, $h, $body) = raw_http("GET http://example.invalid/elsewhere HTTP/1.1\r\n"
                                . "Host: example.invalid\r\nConnection: close\r\n\r\n");
ok t_cmp($st, 404, 'absolute-form for an unrouted path goes nowhere');
ok t_cmp($h->{'x-backend'}, undef, 'no backend reached');

($s, $st, $h) = raw_http("CONNECT 127.0.0.1:$b2 HTTP/1.1\r\nHost: 127.0.0.1:$b2\r\n\r\n");
ok t_cmp($st, qr/^(400|403|405)$/, 'CONNECT refused');
ok t_cmp($h->{'x-backend'}, undef, 'CONNECT reached no backend');

# Routes travel with the server: a vhost without them does not proxy,
# while the main server does (RProxyPass is inherited by the vhosts too,
# but a backend vhost's own SetHandler wins over an inherited route)
Apache::TestRequest::module('b1');
$res = GET '/b1/whatever';
ok t_cmp($res->header('X-Backend'), 'b1', 'SetHandler in a vhost wins');
ok t_cmp(echo_parse($res->content)->{uri}, '/b1/whatever', 'served locally');
Apache::TestRequest::module('default');

# HEAD
$res = Apache::TestRequest::HEAD('/b1/head');
ok t_cmp($res->code, 200, 'HEAD answered');
ok t_cmp($res->content, '', 'HEAD has no body');
ok t_cmp($res->header('X-Backend'), 'b1', 'HEAD reached b1');
