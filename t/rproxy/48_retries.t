# RProxyRetries: an idempotent request that fails before any response byte
# goes to another member; a POST is never sent twice; the budget caps the
# share of retries; the number of tries reaches the log.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET POST);
use Apache::TestUtil qw(t_cmp);
use RPTest qw(evil_start evil_stop read_request evil_log evil_respond);
use Time::HiRes qw(time);

plan tests => 13;

# one keep-alive client connection: under prefork the same child (and its
# round_robin rotation) serves every request of the test
Apache::TestRequest::user_agent(reset => 1, keep_alive => 1);

# a member that takes the request and hangs up without a byte
my $evil = evil_start(sub {
    my ($c, $n, $log) = @_;
    my ($m, $t) = read_request($c) or return;
    evil_log($log, "req $m $t");
}, port => Apache::Test::vars('ext_backend2_port'));

# only this run's lines of the access log count
my $access_log = Apache::Test::vars('t_logs') . '/rproxy_log';
my $log_start = -s $access_log || 0;

my @codes;
@codes = map { GET("/retrying/x$_?count=1")->code } 1 .. 4;
ok t_cmp("@codes", '200 200 200 200', 'GETs meeting the bad member were retried');
my $gets = grep { m{^req GET /x\d} } evil_log($evil->{log});
ok t_cmp($gets, 2, 'the bad member saw every other GET once');
# the access log line is written just after the response: wait for it
my @access;
for (1 .. 40) {
    open my $fh, '<', $access_log or die;
    seek $fh, $log_start, 0;
    @access = grep { m{/retrying/x\d\?} } <$fh>;
    last if @access == 4;
    select(undef, undef, undef, 0.05);
}
ok t_cmp(scalar @access, 4, 'the four requests are in the access log');
ok t_cmp(scalar(grep { /tries=2$/ } @access), 2, 'two of them took two tries (%{rproxy-tries}n)');

# POST: never sent twice
my @posts = map { POST("/retrying/p$_", content => 'once')->code } 1 .. 2;
ok t_cmp(join(' ', sort @posts), '200 502', 'the POST that met the bad member failed');
my $p = grep { m{^req POST /p\d} } evil_log($evil->{log});
ok t_cmp($p, 1, 'the bad member saw it once; nobody else saw it again');

# RProxyRetries 0
@codes = map { GET("/noretry/n$_?count=1")->code } 1 .. 2;
ok t_cmp(join(' ', sort @codes), '200 502', 'no retry with RProxyRetries 0');

# budget=0%: only the few retries every window allows
@codes = map { GET("/budgeted/b$_?count=1")->code } 1 .. 10;
my $failed = grep { $_ == 502 } @codes;
ok t_cmp($failed, 2, 'after 3 retries the budget refuses: 2 of 5 failures reach the client');
ok t_cmp(scalar(grep { $_ == 200 } @codes), 8, 'the rest served');
evil_stop($evil);

# A pooled connection whose member stops answering: the header timeout
# says the member is hung, not that the connection went stale, so the GET
# is not sent to it again on a new connection (a second timeout) but
# retried once on the other member.
$evil = evil_start(sub {
    my ($c, $n, $log) = @_;
    my $i = 0;
    while (my ($m, $t) = read_request($c)) {
        evil_log($log, "conn $n req $m $t");
        if ($i++ == 0) { evil_respond($c, "backend=evil\n") }
        else { 1 while sysread($c, my $buf, 4096) }     # hang until closed
    }
}, port => Apache::Test::vars('ext_backend2_port'));
my @seen = map { GET("/hungretry/h$_?count=1")->content } 1 .. 2;
ok t_cmp(join('', sort @seen), "backend=b2\nbackend=evil\n", 'one request each, on a kept connection');
my $t0 = time;
my $res = GET('/hungretry/h3?count=1');
my $took = time - $t0;
ok t_cmp($res->content, "backend=b2\n", 'the hung member\'s GET is served by the other');
ok t_cmp($took > 0.9 && $took < 1.9 ? 1 : 0, 1, sprintf('after one header timeout (%.2fs)', $took));
ok t_cmp(scalar(grep { m{ req GET /h3} } evil_log($evil->{log})), 1,
         'the hung member got it once, not again on a new connection');
evil_stop($evil);
