# least_conn: idle members take turns by weight; while slow requests hold
# members busy, new requests go to the least loaded one, inflight/weight.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok skip);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use RPTest qw(hold_picked held_backend backends);

plan tests => 7;

# one keep-alive client connection: under prefork every request then meets
# the same child, whose counters the test observes
Apache::TestRequest::user_agent(reset => 1, keep_alive => 1);

sub tally {
    my %c;
    $c{$_}++ for @_;
    return join ' ', map { "$_=$c{$_}" } sort keys %c;
}

# nothing in flight: every pick is a tie, and tied members take turns
my @got = backends('/lc/', 9);
ok t_cmp(tally(@got), 'b1=3 b2=3 b3=3', 'idle, equal weights: 3 each of 9');
ok t_cmp(join(' ', map { join ',', sort @got[3 * $_ .. 3 * $_ + 2] } 0 .. 2),
         'b1,b2,b3 b1,b2,b3 b1,b2,b3', 'in rotation: every 3 in a row cover all');
ok t_cmp(tally(backends('/lcw/', 9)), 'b1=6 b2=3', 'idle, weights 2:1: 6 and 3 of 9');


# Two slow requests to each pool, one after the other so that the second
# sees the first in flight (each picked before the next is sent); then
# quick requests while they are held.
my @lc = (hold_picked('/lc/?count=1&sleep=3000', 'lc'));
push @lc, hold_picked('/lc/?count=1&sleep=3000', 'lc');
my @lcw = (hold_picked('/lcw/?count=1&sleep=3000', 'lcw'));
push @lcw, hold_picked('/lcw/?count=1&sleep=3000', 'lcw');
my @quick_lc = backends('/lc/', 6);
my @quick_lcw = backends('/lcw/', 6);
my @busy_lc = map { held_backend($_) } @lc;
my @busy_lcw = map { held_backend($_) } @lcw;

my %idle = map { $_ => 1 } qw(b1 b2 b3);
delete @idle{@busy_lc};
my ($idle) = keys %idle;
ok t_cmp(join(' ', sort @busy_lc) . ' idle=' . keys(%idle),
         qr/^b\d b\d idle=1$/, 'the two slow requests hold two different members');
ok t_cmp("@quick_lc", join(' ', ($idle // 'none') x 6),
         'meanwhile every quick request goes to the idle member');

# b1 (weight 2) with one in flight is at 1/2, b2 (weight 1) at 1/1
ok t_cmp(join(' ', sort @busy_lcw), 'b1 b2', 'weights 2:1: one slow request each');
ok t_cmp("@quick_lcw", 'b1 b1 b1 b1 b1 b1',
         'meanwhile the heavier member takes every quick request');
