# random: the weighted split within statistical tolerance, and no fixed
# schedule (a light member sometimes gets two requests in a row).
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use RPTest qw(backends);

plan tests => 5;

Apache::TestRequest::user_agent(reset => 1, keep_alive => 1);

# weights 3:1 over 1000 picks: b1 expects 750, sd 13.7; 700..800 is
# 3.6 sd either way, so a false failure is about 1 run in 3,000
my @got = backends('/rnd/', 1000);
my %c = (b1 => 0, b2 => 0);
$c{$_}++ for @got;
ok t_cmp($c{b1} + $c{b2}, 1000, 'every request answered by b1 or b2');
print "# b1=$c{b1} b2=$c{b2}\n";
ok $c{b1} >= 700 && $c{b1} <= 800;
# a schedule like round robin's would never repeat b2; random does, about
# 1000/16 times here
my $repeats = () = "@got" =~ /(?=\bb2 b2\b)/g;
print "# b2 twice in a row: $repeats times\n";
ok $repeats > 0;

# equal weights, three members, 600 picks: 200 each expected, sd 11.5;
# 140..260 is over 5 sd
%c = (b1 => 0, b2 => 0, b3 => 0);
$c{$_}++ for backends('/rnd3/', 600);
print "# b1=$c{b1} b2=$c{b2} b3=$c{b3}\n";
ok t_cmp($c{b1} + $c{b2} + $c{b3}, 600, 'every request answered');
ok !grep { $_ < 140 || $_ > 260 } values %c;
