# Passive ejection (RProxyOutlier): consecutive failures take a member out
# for a while, doubling on a repeat, never more than max_ejected of the
# pool at once; max_conns caps a member across all children, and a request
# finding every member full gets 503 at once.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use Time::HiRes qw(time);
use RPTest qw(raw_http status_members);

plan tests => 14;

my @codes = map { GET('/outlier/?count=1')->code } 1 .. 8;
ok t_cmp("@codes", '200 ' x 7 . '200', 'clients never saw the dead member');
my ($dead, $live) = status_members('outlier');
ok t_cmp($dead->{failures}, 2, 'two consecutive failures...');
ok t_cmp($dead->{role}, 'ejected', '...eject it');
ok t_cmp($dead->{ejections}, 1, 'once');
ok t_cmp($live->{requests} >= 8 ? 1 : 0, 1, 'the live member took every request');

# back after eject=2s; two more failures eject it again, now for 4s
select(undef, undef, undef, 2.3);
($dead) = status_members('outlier');
ok t_cmp($dead->{role}, 'up', 'back after the ejection time');
# The second ejection is looked at 2.2 s after it is seen: longer than
# the first one lasted, well within 4 s. Each request is followed by a
# look at the status, so the ejection is seen at most one request after
# it happened, however slow the machine.
my $seen;
for (1 .. 6) {
    GET('/outlier/?count=1');
    ($dead) = status_members('outlier');
    $seen //= time if $dead->{ejections} >= 2;
}
ok t_cmp($dead->{ejections}, 2, 'ejected again after two more failures');
select(undef, undef, undef, $seen + 2.2 - time) if $seen && $seen + 2.2 > time;
($dead) = status_members('outlier');
ok t_cmp($dead->{role}, 'ejected', 'the second ejection lasts longer (doubled)');

# max_ejected=34% of 3: only one of the two dead members may be out
@codes = map { GET('/outliercap/?count=1')->code } 1 .. 6;
ok t_cmp("@codes", join(' ', ('200') x 6), 'all answered by the live member');
my @m = status_members('outliercap');
ok t_cmp(scalar(grep { $_->{role} eq 'ejected' } @m[0, 1]), 1,
         'one dead member ejected, the other kept in by the cap');

# max_conns=2 across children: hold two slow requests on separate
# connections, then a third gets 503 at once
my @kids;
for (1 .. 2) {
    my $pid = fork // die;
    if (!$pid) {
        raw_http("GET /capped/?sleep=2000&count=1 HTTP/1.1\r\nHost: localhost\r\n"
                 . "Connection: close\r\n\r\n");
        exit 0;
    }
    push @kids, $pid;
}
my $inflight = 0;
for (1 .. 30) {
    select(undef, undef, undef, 0.05);
    $inflight = (status_members('capped'))[0]{inflight};
    last if $inflight == 2;
}
ok t_cmp($inflight, 2, 'two requests hold both slots');
my $t0 = time;
my $res = GET '/capped/?count=1';
my $took = time - $t0;
ok t_cmp($res->code, 503, 'a third finds the member full -> 503');
ok $took < 1;
waitpid $_, 0 for @kids;
ok t_cmp(GET('/capped/?count=1')->code, 200, 'served again once a slot is free');
