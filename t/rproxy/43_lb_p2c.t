# p2c: an idle pool is split by weight; a member held busy by a slow
# request gets none of the requests that arrive meanwhile (of any two
# draws, one is idle and wins), and both idle members share them.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok skip);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use RPTest qw(hold_picked held_backend backends);

plan tests => 5;

Apache::TestRequest::user_agent(reset => 1, keep_alive => 1);

# nothing in flight: the first (weighted) draw wins the tie, so weights
# 3:1 give b1 3/4; over 600, sd 10.6, and 408..492 is 4 sd either way
my %c = (b1 => 0, b2 => 0);
$c{$_}++ for backends('/p2cw/', 600);
print "# b1=$c{b1} b2=$c{b2}\n";
ok t_cmp($c{b1} + $c{b2}, 600, 'every request answered by b1 or b2');
ok $c{b1} >= 408 && $c{b1} <= 492;


my $held = hold_picked('/p2c/?count=1&sleep=2000', 'p2c');
my @quick = backends('/p2c/', 30);
my $busy = held_backend($held);
ok t_cmp($busy, qr/^b[123]$/, 'the slow request was served');
ok t_cmp(scalar(grep { $_ eq $busy } @quick), 0,
         'the busy member gets none of 30 quick requests');
# each quick request goes to either idle member with probability 1/2
my %seen = map { $_ => 1 } @quick;
ok t_cmp(scalar(keys %seen), 2, 'both idle members share them');
