# Sticky sessions: an opaque signed cookie pins a client to a member while
# it can serve; forged tokens are ignored; a draining member keeps its
# sticky clients; an unreachable one loses them to another member, with a
# new cookie. A sticky cookie given more than once (in one Cookie header
# or in two) never reaches the member: every instance is removed, the
# first that names a member wins, and nothing is logged as an error.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);
use RPTest qw(echo_parse raw_http);

plan tests => 22;

my %port;
for my $n (qw(b1 b2 b3 dead)) { $port{$n} = Apache::Test::vars("${n}_port") }
# what the proxy computes: HMAC-SHA256(secret, pool "\n" member), 16 bytes
sub token {
    my ($member) = @_;
    my $mac = hmac_sha256("sticky\nhttp://127.0.0.1:$port{$member}",
                          'test-secret-0123456789');
    return encode_base64url(substr($mac, 0, 16));
}

my $res = GET '/sticky/?count=1';
my $cookie = $res->header('Set-Cookie') // '';
my ($tok) = $cookie =~ /^RPROUTE=([A-Za-z0-9_-]+);/;
ok defined $tok;
ok t_cmp($cookie, qr/; Path=\/; HttpOnly; SameSite=Lax$/, 'cookie attributes');
ok !(($tok // '') =~ /127|\d{4,5}|b[123]/);
my $first = $res->header('X-Backend');
my %seen;
$seen{ GET('/sticky/?count=1', Cookie => "RPROUTE=$tok")->header('X-Backend') }++
    for 1 .. 8;
ok t_cmp(join(',', keys %seen), $first, 'every request with the cookie goes to the same member');
$res = GET '/sticky/', Cookie => "other=1; RPROUTE=$tok";
ok t_cmp($res->header('Set-Cookie'), undef, 'no new cookie while it holds');
ok t_cmp(echo_parse($res->content)->{h}{cookie}[0], 'other=1',
         'the sticky cookie is not passed to the backend');

# tokens are what the documented HMAC gives, for each member
ok t_cmp($tok, token($first), 'token = base64url(HMAC-SHA256)[0..16)');
$res = GET '/sticky/?count=1', Cookie => 'RPROUTE=' . token('b2');
ok t_cmp($res->header('X-Backend'), 'b2', 'a token for b2 goes to b2');

# forged: ignored, balanced, and a valid cookie issued
$res = GET '/sticky/?count=1', Cookie => 'RPROUTE=AAAAAAAAAAAAAAAAAAAAAA';
ok t_cmp(($res->header('Set-Cookie') // '') =~ /^RPROUTE=/ ? 1 : 0, 1, 'forged token: new cookie');
ok $res->header('X-Backend') ne 'b3';

# draining b3 takes no new clients but keeps its sticky ones
$res = GET '/sticky/?count=1', Cookie => 'RPROUTE=' . token('b3');
ok t_cmp($res->header('X-Backend'), 'b3', 'draining member keeps its sticky client');

# the member behind the token cannot be reached: served elsewhere, re-pinned
$res = GET '/sticky/?count=1', Cookie => 'RPROUTE=' . token('dead');
ok t_cmp($res->code, 200, 'pinned member down: served by another');
my ($new) = ($res->header('Set-Cookie') // '') =~ /^RPROUTE=([^;]+)/;
ok t_cmp($new, token($res->header('X-Backend')), 'and the cookie now names that one');

# the sticky cookie twice: stripped whatever happens, first valid one wins
my $elog = Apache::Test::vars('t_logs') . '/error_log';
my $log_from = -s $elog;
sub cookies_seen {
    my ($e) = @_;
    return join ' | ', map { $_->[1] } grep { lc $_->[0] eq 'cookie' } @{ $e->{headers} };
}
$res = GET '/sticky/', Cookie => 'RPROUTE=AAAAAAAAAAAAAAAAAAAAAA; a=1; RPROUTE=' . token('b2') . '; b=2';
ok t_cmp($res->header('X-Backend'), 'b2', 'forged then valid in one header: the valid one wins');
ok t_cmp(cookies_seen(echo_parse($res->content)), 'a=1; b=2',
         'the member gets the other cookies, unchanged, and no token');
ok t_cmp($res->header('Set-Cookie'), undef, 'no new cookie: the pinned member took it');

# two Cookie header lines (httpd joins them with ", ")
my ($sock, $status, $h, $body) = raw_http(
    "GET /sticky/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    . "Cookie: RPROUTE=" . token('b1') . "; x=1\r\n"
    . "Cookie: y=2; RPROUTE=" . token('b2') . "\r\n\r\n");
close $sock;
ok t_cmp($h->{'x-backend'}[0], 'b1', 'two Cookie headers, two valid tokens: the first wins');
my $seen = cookies_seen(echo_parse($body));
ok t_cmp($seen, 'x=1, y=2', 'the member gets the other cookies only');
ok t_cmp($seen =~ /RPROUTE/ ? 1 : 0, 0, 'no instance of the sticky cookie reaches the member');

# two bad ones: ignored, both stripped, a new cookie issued
$res = GET '/sticky/', Cookie => 'RPROUTE=AAAAAAAAAAAAAAAAAAAAAA;RPROUTE="BBBBBBBBBBBBBBBBBBBBBB"';
ok t_cmp(cookies_seen(echo_parse($res->content)), '', 'two forged tokens: no Cookie reaches the member');
ok t_cmp(($res->header('Set-Cookie') // '') =~ /^RPROUTE=/ ? 1 : 0, 1, 'and a new cookie is issued');

# a client's cookies are its business: no error line for any of this
open my $lf, '<', $elog or die;
seek $lf, $log_from, 0;
my @errors = grep { /\[[a-z_]*:(?:error|warn)\]/ && /cookie/i } <$lf>;
ok t_cmp(scalar(@errors), 0, 'no warning or error logged for repeated cookies: ' . join('', @errors));
