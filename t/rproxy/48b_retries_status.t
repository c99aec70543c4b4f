# Policy per route. RProxyRetries on=: an idempotent request whose member
# answered a listed 5xx goes to another member, the client gets the last
# answer, a POST is never resent, the budget applies. RProxyTimeouts per
# route: in <Location> and as RProxyPass options they win over the pool's;
# deadline= bounds all tries. Configuration: t/conf/48_policy.conf.in.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET POST);
use Apache::TestUtil qw(t_cmp);
use Time::HiRes qw(time);
use RPTest qw(unavailable_member evil_start evil_stop read_request respond evil_lines
              evil_log error_log_size error_log_since);

plan tests => 15;

# one keep-alive client connection: one child, one round_robin rotation
Apache::TestRequest::user_agent(reset => 1, keep_alive => 1);

my @evils;
my $main = $$;
END { local $?; $$ == $main and evil_stop($_) for @evils }

# a member that answers every request with 503 (RPTest)
sub unavailable {
    my $e = unavailable_member(@_);
    push @evils, $e;
    return $e;
}

my $p2 = Apache::Test::vars('ext_backend2_port');
my $evil = unavailable($p2);
my @codes = map { GET("/onstatus/s$_?count=1")->code } 1 .. 4;
ok t_cmp("@codes", '200 200 200 200', 'GETs answered 503 were retried');
ok t_cmp(scalar(grep { m{^req GET /s\d} } evil_lines($evil->{log})), 2,
         'the 503 member saw each of its GETs once');
@codes = map { POST("/onstatus/p$_", content => 'x')->code } 1 .. 2;
ok t_cmp(join(' ', sort @codes), '200 503', 'a POST answered 503 is not retried');
ok t_cmp(scalar(grep { m{^req POST} } evil_lines($evil->{log})), 1, 'and was sent once');
@codes = map { GET("/nostatus/n$_?count=1")->code } 1 .. 2;
ok t_cmp(join(' ', sort @codes), '200 503', 'without on= a 503 is passed through');
@codes = map { GET("/statusbudget/b$_?count=1")->code } 1 .. 10;
ok t_cmp(scalar(grep { $_ == 503 } @codes), 2,
         'budget=0%: after the few retries a window allows, the 503s pass');

my $p1 = Apache::Test::vars('ext_backend_port');
my $evil1 = unavailable($p1);
my $from = error_log_size();
my $res = GET('/allbad/a');
ok t_cmp($res->code, 503, 'every member 503: the client gets 503');
ok t_cmp($res->content, qr/^busy \d+\n\z/, 'the last member\'s, body intact');
my $saw = grep { m{^req GET /a$} } evil_lines($evil->{log}), evil_lines($evil1->{log});
ok t_cmp($saw, 2, 'each member tried once');
ok t_cmp(error_log_since($from), qr/RP00202: member allbad\/\S+: answered 503/,
         'the retry is logged with a tag');
evil_stop($_) for @evils;
@evils = ();

# timeouts per route
my $t0 = time;
$res = GET('/slowloc/?sleep=3000');
my $took = time - $t0;
ok t_cmp($res->code, 504, 'RProxyTimeouts header=1s in <Location>: 504');
ok t_cmp($took < 2.5 ? 1 : 0, 1, sprintf('after about 1 s (%.2fs), not the pool\'s 10 s', $took));
$t0 = time;
$res = GET('/slowopt/?sleep=3000');
$took = time - $t0;
ok t_cmp($res->code . ($took < 2.5 ? ' fast' : ' slow'), '504 fast',
         sprintf('header=1s as an RProxyPass option (%.2fs)', $took));

# deadline=2s over two tries of 1.5 s each
$from = error_log_size();
$t0 = time;
$res = GET('/deadline/?sleep=4000');
$took = time - $t0;
ok t_cmp($res->code . ($took > 1.8 && $took < 2.8 ? ' at 2s' : sprintf(' at %.2fs', $took)),
         '504 at 2s', 'deadline=2s: 504 at 2 s, not 3 s');
my $log = '';
for (1 .. 20) {
    $log = error_log_since($from);
    last if $log =~ /RP00200/;
    select(undef, undef, undef, 0.05);
}
ok t_cmp($log, qr/RP00200: pool stalling: deadline of 2000ms passed/, 'logged with a tag');
