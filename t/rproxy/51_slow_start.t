# RProxySlowStart: a member back from an ejection gets a small share of the
# traffic at first and its full share once the ramp is over.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use RPTest qw(evil_start evil_stop read_request evil_respond);

plan tests => 4;

# one keep-alive client: under prefork one child serves the whole test
Apache::TestRequest::user_agent(reset => 1, keep_alive => 1);

sub share {
    my ($n) = @_;
    my $revived = 0;
    for (1 .. $n) {
        my $res = GET '/slowstart/?count=1';
        $revived++ if ($res->header('X-Evil') // '') eq 'yes';
    }
    return $revived;
}

# the second member is down: the first failure ejects it for 1s
my @codes = map { GET('/slowstart/?count=1')->code } 1 .. 4;
ok t_cmp("@codes", '200 200 200 200', 'served by b1 meanwhile');

my $evil = evil_start(sub {
    my ($c) = @_;
    while (my @req = read_request($c)) {
        evil_respond($c, "revived\n", 'X-Evil: yes');
    }
});
select(undef, undef, undef, 1.2);
my $early = share(20);
ok t_cmp($early <= 4 ? 1 : 0, 1, "just back: a small share ($early of 20, full share is 10)");
ok $early >= 1;
sleep 4;
my $late = share(20);
ok t_cmp($late >= 9 && $late <= 11 ? 1 : 0, 1, "after the ramp: the full share ($late of 20)");
evil_stop($evil);
