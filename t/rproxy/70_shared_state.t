# Member state is shared by every child process (counters and in-flight
# requests add up whichever child served them; the suite runs this under
# event, worker and prefork) and survives a graceful restart. Read through
# the rproxy-status handler (JSON, HTML, Prometheus).
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use RPTest qw(raw_http status_json status_members status_member
              next_generation);

plan tests => 17;


# the health pool's second member: nothing listens there once 53_health.t
# is over, so its checks fail and it stays out
sub hc_member {
    return status_member('health', 1) // {};
}

sub app_stats {
    my @members = status_members('app');
    my %s = (requests => 0, inflight => 0, members => scalar @members);
    for my $m (@members) {
        $s{requests} += $m->{requests};
        $s{inflight} += $m->{inflight};
    }
    return \%s;
}

# one fresh connection per request, so that under prefork they land on
# different children
sub burst {
    my ($n, $query) = @_;
    my @kids;
    for (1 .. $n) {
        my $pid = fork // die;
        if (!$pid) {
            raw_http("GET /rr/?$query HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            exit 0;
        }
        push @kids, $pid;
    }
    return @kids;
}

my $before = app_stats();
ok t_cmp($before->{members}, 3, 'pool app listed with its three members');
waitpid $_, 0 for burst(24, 'count=1');
my $after = app_stats();
ok t_cmp($after->{requests} - $before->{requests}, 24,
         'every request counted once, whichever child served it');
ok t_cmp($after->{inflight}, 0, 'nothing left in flight');

# requests in flight are visible to every child (each held 5 s: under
# prefork a new connection may wait for a free child a while)
my @slow = burst(4, 'sleep=5000&count=1');
my $seen = 0;
for (1 .. 100) {
    select(undef, undef, undef, 0.1);
    $seen = app_stats()->{inflight};
    last if $seen == 4;
}
ok t_cmp($seen, 4, '4 slow requests in flight, seen from another connection');
waitpid $_, 0 for @slow;
ok t_cmp(app_stats()->{inflight}, 0, 'and gone when they end');
my $total = app_stats()->{requests};

# graceful restart keeps the counters
my $httpd = Apache::Test::vars('httpd');
my $root = Apache::Test::vars('serverroot');
my $conf = "$root/conf/httpd.conf";
my $hc_before;
for (1 .. 100) {
    $hc_before = hc_member();
    last if $hc_before->{hc}{checks} >= 10 && $hc_before->{role} eq 'health-failed';
    select(undef, undef, undef, 0.1);
}
my $gen = status_json()->{generation};
my $out = `$httpd -d $root -f $conf -k graceful 2>&1`;
ok t_cmp($?, 0, 'graceful restart') or print "# $out";
my $gen2 = next_generation($gen);
my $kept = app_stats()->{requests};
ok t_cmp($kept >= $total && $gen2 > $gen ? 1 : 0, 1,
         "counters kept over the graceful restart ($kept >= $total, generation $gen -> $gen2)");
my $hc_after = hc_member();
ok t_cmp($hc_after->{role}, 'health-failed', 'a member out by its health checks stays out');
ok t_cmp($hc_after->{hc}{checks} >= $hc_before->{hc}{checks} ? 1 : 0, 1,
         "its check counts go on ($hc_before->{hc}{checks} -> $hc_after->{hc}{checks})");
my $res = GET '/rr/?count=1';
ok t_cmp($res->code, 200, 'proxying after the restart');
sleep 1;

# a full (not graceful) restart starts from zero
$out = `$httpd -d $root -f $conf -k restart 2>&1`;
ok t_cmp($?, 0, 'full restart') or print "# $out";
my $gen3 = next_generation($gen2);
ok t_cmp($gen3 > $gen2 ? app_stats()->{requests} : -1, 0, 'counters reset by a full restart');
my $hc_reset = hc_member()->{hc}{checks};
ok t_cmp($hc_reset < $hc_before->{hc}{checks} ? 1 : 0, 1,
         "health checks counted from zero ($hc_reset < $hc_before->{hc}{checks})");

# the other formats
$res = GET '/rproxy-status';
ok t_cmp($res->header('Content-Type'), qr{^text/html}, 'HTML by default');
ok t_cmp($res->content =~ m{<h2>pool app <small>\(round_robin, 0 queued\)</small></h2>} ? 1 : 0, 1, 'HTML lists the pool');
$res = GET '/rproxy-status', Accept => 'text/plain;version=0.0.4';
ok t_cmp($res->content =~ /^rproxy_member_requests_total\{pool="app",member="http:\/\/127\.0\.0\.1:\d+"\} \d+$/m ? 1 : 0,
         1, 'Prometheus exposition by Accept');
$res = Apache::TestRequest::POST('/rproxy-status?json', content => 'x');
ok t_cmp($res->code, 405, 'read-only');
