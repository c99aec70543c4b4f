# Location / Content-Location / Refresh / Set-Cookie that name a member are
# rewritten to the public URL; other URLs are left alone; per-route switch.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use URI::Escape qw(uri_escape);

plan tests => 22;

my $b1 = Apache::Test::vars('b1_port');
my $front = 'http://' . Apache::Test::vars('servername') . ':' . Apache::Test::vars('port');

Apache::TestRequest::user_agent(reset => 1, requests_redirectable => 0);

sub hdrs {
    my ($route, %h) = @_;
    my $q = join '&', 'status=302',
        map { my $k = $_; map { 'header=' . uri_escape("$k:$_") } @{ $h{$k} } } sort keys %h;
    return GET "$route?$q";
}

my $res = hdrs('/b1/', Location => ["http://127.0.0.1:$b1/login?next=%2Fhome"]);
ok t_cmp($res->code, 302, 'redirect relayed');
ok t_cmp($res->header('Location'), "$front/b1/login?next=%2Fhome",
         'absolute Location to the member -> public URL');

$res = hdrs('/b1/', Location => ['/account']);
ok t_cmp($res->header('Location'), '/b1/account', 'path-absolute Location mapped');

$res = hdrs('/b1/', Location => ['https://elsewhere.example/x']);
ok t_cmp($res->header('Location'), 'https://elsewhere.example/x', 'foreign URL untouched');

$res = hdrs('/api', Location => ["http://127.0.0.1:$b1/v1/users/9"]);
ok t_cmp($res->header('Location'), "$front/api/users/9", 'target prefix /v1 -> /api');

$res = hdrs('/b1/', 'Content-Location' => ["http://127.0.0.1:$b1/doc"],
                    Refresh => ["3; url=http://127.0.0.1:$b1/next"]);
ok t_cmp($res->header('Content-Location'), "$front/b1/doc", 'Content-Location');
ok t_cmp($res->header('Refresh'), "3; url=$front/b1/next", 'Refresh');

$res = hdrs('/b1/', 'Set-Cookie' => ['sid=42; Domain=127.0.0.1; Path=/; HttpOnly',
                                     'pref=a; Path=/cart', 'other=1; Domain=example.org']);
my @c = $res->header('Set-Cookie');
ok t_cmp(scalar @c, 3, 'three cookies');
ok t_cmp($c[0], 'sid=42; Path=/b1/; HttpOnly', 'member Domain dropped, Path mapped');
ok t_cmp($c[1], 'pref=a; Path=/b1/cart', 'Path mapped');
ok t_cmp($c[2], 'other=1; Domain=example.org', 'foreign Domain kept');

# a member with a base path (/v1): only what is below it, on a segment
# boundary, is the member's; /v10 is not /v1 plus "0"
$res = hdrs('/bp/', Location => ["http://127.0.0.1:$b1/v1/x?y=1"]);
ok t_cmp($res->header('Location'), "$front/bp/x?y=1", 'base path stripped');
$res = hdrs('/bp/', Location => ["http://127.0.0.1:$b1/v1"]);
ok t_cmp($res->header('Location'), "$front/bp/", 'base path itself');
$res = hdrs('/bp/', Location => ["http://127.0.0.1:$b1/v10/x"]);
ok t_cmp($res->header('Location'), "http://127.0.0.1:$b1/v10/x",
         'a sibling of the base path is not rewritten');
$res = hdrs('/bp/', Location => ['/v1/login']);
ok t_cmp($res->header('Location'), '/bp/login', 'path-absolute: base path stripped too');
$res = hdrs('/bp/', Location => ['/v10/x']);
ok t_cmp($res->header('Location'), '/v10/x', 'path-absolute sibling left alone');
$res = hdrs('/bp/', 'Set-Cookie' => ['a=1; Path=/v1/app', 'b=2; Path=/v10', 'c=3; Path=/v1']);
@c = $res->header('Set-Cookie');
ok t_cmp($c[0], 'a=1; Path=/bp/app', 'cookie Path below the base path mapped');
ok t_cmp($c[1], 'b=2; Path=/v10', 'cookie Path beside it left alone');
ok t_cmp($c[2], 'c=3; Path=/bp/', 'cookie Path at the base path mapped');

# switched off per route
$res = hdrs('/norewrite/', Location => ["http://127.0.0.1:$b1/login"],
            'Set-Cookie' => ['sid=1; Domain=127.0.0.1; Path=/']);
ok t_cmp($res->header('Location'), "http://127.0.0.1:$b1/login", 'redirects=off');
ok t_cmp($res->header('Set-Cookie'), 'sid=1; Domain=127.0.0.1; Path=/', 'cookies=off');

# the proxy's own error pages never name a backend
$res = GET '/dead/';
ok !($res->content =~ /127\.0\.0\.1|localhost:\d/);
