# ewma: a slow member is avoided after its first slow answer; a member
# busy with a request whose latency is not known yet gets no more until
# it answers, and is avoided afterwards because that answer was slow.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok skip);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use RPTest qw(echo_parse hold_picked held_backend backends);

plan tests => 6;

Apache::TestRequest::user_agent(reset => 1, keep_alive => 1);

# pool ewma: b1, b2, and b3 through its /slow/ path, which answers 400 ms
# late. Each request draws two members: while b3 is unknown it wins its
# draws (cost 1 against ~1 ms), it answers once in 400 ms, and from then
# on it loses every draw (round robin would have sent it 10 of 30).
my (%c, @slow_uris);
for (1 .. 30) {
    my $res = GET('/ewma/x');
    my $b = $res->header('X-Backend') // '-';
    $c{$b}++;
    push @slow_uris, echo_parse($res->content)->{uri} if $b eq 'b3';
}
print "# ", join(' ', map { "$_=$c{$_}" } sort keys %c), "\n";
ok t_cmp(($c{b1} // 0) + ($c{b2} // 0) + ($c{b3} // 0), 30, 'all answered');
ok t_cmp($c{b3} // 0, qr/^[12]$/, 'the slow member got 1 or 2 of 30');
ok t_cmp("@slow_uris", qr{^/slow/x( /slow/x)?$}, 'through its slow path');


# pool ewma2 (b1, b2) is fresh: hold one slow request on it, then send
# quick ones. The held member has a request in flight and no latency yet,
# so it costs the probe penalty and the other member takes them all.
my $held = hold_picked('/ewma2/?count=1&sleep=1500', 'ewma2');
my @quick = backends('/ewma2/', 10);
my $busy = held_backend($held);
my $other = $busy eq 'b1' ? 'b2' : 'b1';
ok t_cmp($busy, qr/^b[12]$/, 'the slow request was served');
ok t_cmp("@quick", join(' ', ($other) x 10),
         'while it is unknown and busy, the other member takes all');
# its one answer took 1.5 s: about 1000 times the other member's
ok t_cmp(join(' ', backends('/ewma2/', 10)), join(' ', ($other) x 10),
         'after its slow answer, still the other member');
