# Runtime management (RProxyStatusManage On): every action and error code,
# the change seen by every child (the suite runs under event, worker and
# prefork), kept over a graceful restart and forgotten by a full one.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use HTTP::Request::Common ();
use JSON::PP ();
use RPTest qw(status_member error_log_size error_log_since
              next_generation);

plan tests => 52;

my $URL = '/rproxy-manage';

sub manage_json {
    my $res = GET("$URL?json");
    return $res->code == 200 ? JSON::PP::decode_json($res->content) : undef;
}

sub nonce { return (manage_json() // {})->{nonce} }

# POST the form; json => 1 asks for JSON. Returns the response.
sub post {
    my (%f) = @_;
    my $json = delete $f{json};
    my $req = HTTP::Request::Common::POST(
        Apache::TestRequest::resolve_url($URL), [%f],
        $json ? (Accept => 'application/json') : ());
    return Apache::TestRequest::user_agent()->simple_request($req);
}

sub body { my $c = $_[0]->content; return eval { JSON::PP::decode_json($c) } // {} }

# one new connection per request: under prefork, mostly another child each
sub hits {
    my ($path, $n, @hdr) = @_;
    Apache::TestRequest::user_agent(reset => 1, keep_alive => 0);
    my %c;
    $c{ GET("$path?count=1", @hdr)->header('X-Backend') // '-' }++ for 1 .. $n;
    return \%c;
}


my $m1 = status_member('manage', 0);
my $m2 = status_member('manage', 1);
my ($b1, $b2) = ($m1->{name}, $m2->{name});
ok t_cmp("$m1->{admin} $m1->{weight} $m1->{config_weight}", 'enabled 1 1',
         'JSON: admin, weight and config_weight');

# off where RProxyStatusManage is not set
my $res = Apache::TestRequest::POST('/rproxy-status', content => 'action=drain');
ok t_cmp($res->code, 405, 'POST without RProxyStatusManage: 405');
ok t_cmp(GET('/rproxy-status?json')->content =~ /"nonce"/ ? 1 : 0, 0,
         'no nonce in ?json without RProxyStatusManage');
my $nonce = nonce();
ok t_cmp($nonce, qr/^[0-9a-f]{32}$/, 'a nonce in ?json with RProxyStatusManage');

my %base = (nonce => $nonce, pool => 'manage', member => $b1);

# errors change nothing
my %no_nonce = %base;
delete $no_nonce{nonce};
$res = post(%no_nonce, action => 'disable', json => 1);
ok t_cmp($res->code, 403, 'no nonce: 403');
ok t_cmp(body($res)->{error}, qr/nonce/, 'with a JSON error');
$res = post(%base, nonce => 'f' x 32, action => 'disable', json => 1);
ok t_cmp($res->code, 403, 'wrong nonce: 403');
ok t_cmp(status_member('manage', 0)->{admin}, 'enabled', 'and no change');
ok t_cmp(post(%base, pool => 'nosuch', action => 'drain', json => 1)->code, 400, 'unknown pool: 400');
ok t_cmp(post(%base, member => 'http://nosuch', action => 'drain', json => 1)->code, 400,
         'unknown member: 400');
ok t_cmp(post(%base, action => 'explode', json => 1)->code, 400, 'unknown action: 400');
for my $w ('0', '1001', 'abc', undef) {
    my $r = post(%base, action => 'weight', defined $w ? (weight => $w) : (), json => 1);
    ok t_cmp($r->code, 400, 'bad weight ' . ($w // '(none)') . ': 400');
}
ok t_cmp(body(post(%base, action => 'explode', json => 1))->{error}, qr/unknown action/,
         'the error says what');
$res = post(%base, action => 'drain', filler => 'x' x 9000, json => 1);
ok t_cmp($res->code, 413, 'a body over 8 KiB: 413');
$res = GET("$URL?json&nonce=$nonce&pool=manage&member=$b1&action=disable");
ok t_cmp($res->code, 200, 'GET with action parameters answers');
$res = GET("$URL?nonce=$nonce&pool=manage&member=$b1&action=disable");
ok t_cmp(status_member('manage', 0)->{admin}, 'enabled', 'GET changes nothing');
$res = HTTP::Request::Common::POST(Apache::TestRequest::resolve_url($URL),
                                   Content_Type => 'text/plain', Content => 'x');
ok t_cmp(Apache::TestRequest::user_agent()->simple_request($res)->code, 415,
         'not a form: 415');

# drain: no new requests, sticky ones go on
my $log_at = error_log_size();
$res = post(%base, action => 'drain', json => 1);
ok t_cmp($res->code, 200, 'drain: 200');
my $j = body($res);
ok t_cmp("$j->{name} $j->{admin} $j->{role}", "$b1 draining draining",
         "the member's JSON object after the change");
my $c = hits('/manage/', 20);
ok t_cmp($c->{b1} // 0, 0, 'a drained member takes no new request, in any child');
ok t_cmp($c->{b2} // 0, 20, 'the other takes them all');
select(undef, undef, undef, 0.3);
my @log = grep { /RP00166/ } split /\n/, error_log_since($log_at);
ok t_cmp($log[0] // '', qr/\[rproxy:notice\].*member manage\/\Q$b1\E: drain: admin enabled -> draining, by 127\.0\.0\.1/,
         'the change is logged at notice with the client address');
my $prom = GET('/rproxy-status?prometheus')->content;
ok t_cmp($prom =~ /^rproxy_member_admin_state\{pool="manage",member="\Q$b1\E",state="draining"\} 1$/m ? 1 : 0,
         1, 'Prometheus: admin state');
ok t_cmp(post(%base, action => 'undrain', json => 1)->code, 200, 'undrain');
$c = hits('/manage/', 10);
ok t_cmp(($c->{b1} // 0) > 0 ? 1 : 0, 1, 'back in rotation');

# sticky: a client pinned to a drained member keeps going there
Apache::TestRequest::user_agent(reset => 1, keep_alive => 0);
$res = GET('/managesticky/?count=1');
my ($tok) = ($res->header('Set-Cookie') // '') =~ /^RPMANAGE=([^;]+)/;
my $pinned = $res->header('X-Backend') // '';
my $pm = status_member('managesticky', $pinned eq 'b3' ? 0 : 1)->{name};
post(nonce => $nonce, pool => 'managesticky', member => $pm, action => 'drain', json => 1);
$c = hits('/managesticky/', 10, Cookie => "RPMANAGE=$tok");
ok t_cmp($c->{$pinned} // 0, 10, "the sticky client stays on its drained member $pinned");
$c = hits('/managesticky/', 10);
ok t_cmp($c->{$pinned} // 0, 0, 'new clients do not');
post(nonce => $nonce, pool => 'managesticky', member => $pm, action => 'enable', json => 1);

# disable by a form post: 303 back to the page
$res = post(%base, member => $b2, action => 'disable');
ok t_cmp($res->code, 303, 'a form post: 303');
ok t_cmp($res->header('Location'), qr{^/rproxy-manage\?result=disable}, 'back to the page');
ok t_cmp(GET($res->header('Location'))->content, qr{<p class="banner" role="status">disable manage/\Q$b2\E: done</p>},
         'the page shows what was done');
ok t_cmp(status_member('manage', 1)->{admin}, 'disabled', 'disabled');
$c = hits('/manage/', 30);
ok t_cmp($c->{b2} // 0, 0, 'a disabled member takes nothing, in any child');
ok t_cmp(body(post(%base, member => $b2, action => 'enable', json => 1))->{admin}, 'enabled',
         'enable');

# weight: 1:1 -> 3:1
$j = body(post(%base, action => 'weight', weight => 3, json => 1));
ok t_cmp("$j->{weight} $j->{config_weight}", '3 1', 'weight 3, configured 1');
$c = hits('/manage/', 40);
ok t_cmp(($c->{b1} // 0) >= 25 && ($c->{b1} // 0) <= 35 ? 1 : 0, 1,
         "weight 3:1 splits about 30:10 ($c->{b1}:" . ($c->{b2} // 0) . ')');
$prom = GET('/rproxy-status?prometheus')->content;
ok t_cmp($prom =~ /^rproxy_member_weight\{pool="manage",member="\Q$b1\E"\} 3$/m
         && $prom =~ /^rproxy_member_config_weight\{pool="manage",member="\Q$b1\E"\} 1$/m ? 1 : 0,
         1, 'Prometheus: weight and config_weight');

# reset zeroes the counters
ok t_cmp(status_member('manage', 0)->{requests} > 0 ? 1 : 0, 1, 'counted requests');
$j = body(post(%base, action => 'reset', json => 1));
ok t_cmp("$j->{requests} $j->{latency_histogram}{count}", '0 0', 'reset zeroes them');

# the whole pool at once
$j = body(post(%base, member => '*', action => 'drain', json => 1));
ok t_cmp(join(' ', map { $_->{admin} } @{ $j->{members} }), 'draining draining',
         'member "*" drains the whole pool');
ok t_cmp(GET('/manage/?count=1')->code, 503, 'nobody left to take a request');
post(%base, member => '*', action => 'enable', json => 1);
ok t_cmp(GET('/manage/?count=1')->code, 200, 'member "*" enables the whole pool');

# kept over a graceful restart, forgotten by a full one
post(%base, member => $b2, action => 'disable', json => 1);
my $httpd = Apache::Test::vars('httpd');
my $root = Apache::Test::vars('serverroot');
my $conf = "$root/conf/httpd.conf";
my $gen = manage_json()->{generation};
my $out = `$httpd -d $root -f $conf -k graceful 2>&1`;
ok t_cmp($?, 0, 'graceful restart') or print "# $out";
my $gen2 = next_generation($gen, $URL);
ok t_cmp($gen2 > $gen ? 1 : 0, 1, 'a new generation');
my $after = manage_json();
my ($mp) = grep { $_->{name} eq 'manage' } @{ $after->{pools} };
ok t_cmp("$mp->{members}[0]{weight} $mp->{members}[1]{admin}", '3 disabled',
         'weight and disable kept over a graceful restart');
ok t_cmp($after->{nonce} ne $nonce ? 1 : 0, 1, 'a new nonce');
ok t_cmp(post(%base, action => 'drain', json => 1)->code, 403, 'the old one is refused');
$c = hits('/manage/', 10);
ok t_cmp($c->{b2} // 0, 0, 'still disabled in the new children');
sleep 1;
$out = `$httpd -d $root -f $conf -k restart 2>&1`;
ok t_cmp($?, 0, 'full restart') or print "# $out";
next_generation($gen2, $URL);
($mp) = grep { $_->{name} eq 'manage' } @{ manage_json()->{pools} };
ok t_cmp("$mp->{members}[0]{weight} $mp->{members}[1]{admin}", '1 enabled',
         'back to the configuration after a full restart');
