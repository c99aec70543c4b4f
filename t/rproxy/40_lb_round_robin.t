# round_robin: the exact rotation, the weighted split, backup/drain/disabled
# members, and 503 when nobody is usable.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use RPTest qw(backends);

plan tests => 11;

# one keep-alive client connection: under prefork every request then meets
# the same child, whose connection pool and rotation the test observes
Apache::TestRequest::user_agent(reset => 1, keep_alive => 1);

# find where the rotation stands, then check two full turns exactly
my $first = GET('/rr/?count=1')->header('X-Backend');
my %next = (b1 => 'b2', b2 => 'b3', b3 => 'b1');
my @want;
my $cur = $first;
for (1 .. 6) { $cur = $next{$cur}; push @want, $cur }
ok t_cmp(join(' ', backends('/rr/', 6)), "@want", 'equal weights rotate b1 b2 b3 in order');

# weights 5:1:1 follow the smooth schedule a a b a c a a; find the phase
my @sched = qw(b1 b1 b2 b1 b3 b1 b1);
my @got = backends('/w/', 21);
my $phase;
for my $p (0 .. 6) {
    my @exp = map { $sched[($p + $_) % 7] } 0 .. 20;
    $phase = $p, last if "@exp" eq "@got";
}
ok t_cmp(defined $phase ? 1 : 0, 1, "the smooth 5:1:1 schedule: @got");
my %count;
$count{$_}++ for @got;
ok t_cmp("$count{b1} $count{b2} $count{b3}", '15 3 3', 'weights 5:1:1 give 15:3:3 over 21');

# the rotation is shared by all children: with a new connection for every
# request (under prefork, mostly another child each time) it stays exact
Apache::TestRequest::user_agent(reset => 1, keep_alive => 0);
@got = backends('/w/', 14);
undef $phase;
for my $p (0 .. 6) {
    my @exp = map { $sched[($p + $_) % 7] } 0 .. 13;
    $phase = $p, last if "@exp" eq "@got";
}
ok t_cmp(defined $phase ? 1 : 0, 1, "the 5:1:1 schedule holds across connections: @got");
$first = GET('/rr/?count=1')->header('X-Backend');
@want = ();
$cur = $first;
for (1 .. 6) { $cur = $next{$cur}; push @want, $cur }
ok t_cmp(join(' ', backends('/rr/', 6)), "@want", 'and so does the equal rotation');
Apache::TestRequest::user_agent(reset => 1, keep_alive => 1);

# disabled and draining members take nothing; the backup steps in when no
# primary is usable
ok t_cmp(join(' ', backends('/backup/', 4)), 'b3 b3 b3 b3', 'backup serves when primaries are out');

# no usable member: 503, with the ErrorDocument, and no backend detail
my $res = GET '/nobody/';
ok t_cmp($res->code, 503, 'no usable member -> 503');
ok t_cmp($res->content, "custom 503 page\n", 'ErrorDocument applies');
ok !($res->content =~ /127\.0\.0\.1|:\d{4,5}/);

# a refused member is skipped and the request goes on to the next one
$res = GET '/partlydead/?count=1';
ok t_cmp($res->header('X-Backend'), 'b2', 'connect refused -> next member');
$res = GET '/partlydead/?count=1';
ok t_cmp($res->header('X-Backend'), 'b2', 'again, whatever the rotation');
