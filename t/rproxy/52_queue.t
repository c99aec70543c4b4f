# RProxyQueue: a request that finds every member of its pool at max_conns
# waits for a free slot up to the pool's timeout, then gets 503. The slot
# is held by a request on another connection (under prefork, in another
# child process). max= caps how many wait; a client that leaves stops
# waiting and gives its place back; a pool with no usable member answers
# 503 at once, queue or not.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use Time::HiRes qw(time sleep);
use RPTest qw(hold_request held_backend status_pool status_member);

plan tests => 28;

# Sends a slow request that takes the pool's one slot for $ms, on its own
# connection; returns its socket once the slot is taken.
sub hold {
    my ($pool, $ms) = @_;
    my $s = hold_request("/$pool/?sleep=$ms&count=1&t=held");
    for (1 .. 200) {
        last if status_member($pool)->{inflight} == 1;
        sleep 0.05;
    }
    return $s;
}

# The pool's queue length once it is $want (or what it is after 10 s):
# on a loaded machine a request can take a while to reach the queue.
sub queued_reach {
    my ($pool, $want) = @_;
    my $n;
    for (1 .. 200) {
        $n = status_pool($pool)->{queued};
        last if $n == $want;
        sleep 0.05;
    }
    return $n;
}

sub timed_get {
    my ($path) = @_;
    my $t0 = time;
    my $res = GET $path;
    return ($res, time - $t0);
}

# Tries ended on the pool's member, once it reaches $want (a try is
# counted just after its response went out).
sub tries_reach {
    my ($pool, $want) = @_;
    my $n;
    for (1 .. 20) {
        $n = status_member($pool)->{requests};
        last if $n >= $want;
        sleep 0.05;
    }
    return $n;
}

# %{rproxy-queue-ms}n of a request, from logs/rproxy_queue_log, once the
# line is written (after the response).
sub queue_ms {
    my ($uri) = @_;
    my $log = Apache::Test::vars('t_logs') . '/rproxy_queue_log';
    for (1 .. 40) {
        if (open my $fh, '<', $log) {
            my ($line) = grep { index($_, "$uri ") == 0 } <$fh>;
            return $1 if $line && $line =~ /queue=(\S+)$/;
        }
        sleep 0.05;
    }
    return 'no log line';
}

sub error_logged {
    my ($re) = @_;
    for (1 .. 20) {
        open my $fh, '<', Apache::Test::vars('t_logs') . '/error_log' or die;
        return 1 if grep { /$re/ } <$fh>;
        sleep 0.05;
    }
    return 0;
}

# a free slot: no wait, no queue note (after a first request, so that
# the client's own start-up is not timed)
status_member('queued');
my ($res, $took) = timed_get('/queued/?count=1&t=free');
ok t_cmp($res->code, 200, 'a free slot is taken at once');
ok t_cmp($took < 0.8 ? 1 : 0, 1, sprintf('without waiting (%.2fs)', $took));
ok t_cmp(queue_ms('/queued/?count=1&t=free'), '-', 'rproxy-queue-ms unset');

# timeout=3s: the second request waits for the held one to finish (the
# bounds are loose: hold() may see the slot taken a while after it was,
# and a request served at once takes milliseconds)
my $before = status_member('queued')->{requests};
my $held = hold('queued', 1500);
ok t_cmp(status_member('queued')->{inflight}, 1, 'a slow request holds the slot');
($res, $took) = timed_get('/queued/?count=1&t=waited');
ok t_cmp($res->code, 200, 'the second request waited and was served');
ok t_cmp($res->content, "backend=b4\n", 'by the member');
ok t_cmp($took > 0.5 && $took < 3 ? 1 : 0, 1,
         sprintf('once the held one finished (%.2fs)', $took));
ok t_cmp(held_backend($held), 'b4', 'the held request was answered too');
ok t_cmp(tries_reach('queued', $before + 2), $before + 2,
         'the member served both');
my $ms = queue_ms('/queued/?count=1&t=waited');
ok t_cmp($ms =~ /^\d+$/ && $ms > 500 && $ms < 3000 ? 1 : 0, 1,
         "rproxy-queue-ms $ms");

# timeout=500ms while the slot is held for 2s: 503 after ~0.5s
$held = hold('queueshort', 2000);
($res, $took) = timed_get('/queueshort/?count=1&t=late');
ok t_cmp($res->code, 503, 'no slot within the queue timeout -> 503');
ok t_cmp($took > 0.4 && $took < 1.9 ? 1 : 0, 1,
         sprintf('after the timeout (%.2fs)', $took));
ok t_cmp(error_logged(qr/RP00090: pool queueshort: no member slot free/), 1,
         'logged as RP00090');
$ms = queue_ms('/queueshort/?count=1&t=late');
ok t_cmp($ms =~ /^\d+$/ && $ms >= 450 && $ms < 1900 ? 1 : 0, 1,
         "rproxy-queue-ms $ms");
ok t_cmp(held_backend($held), 'b4', 'the held request was answered');

# max=1: one request waits, a third is refused at once
$held = hold('queueone', 2000);
my $waiting = hold_request('/queueone/?count=1&t=first');
ok t_cmp(queued_reach('queueone', 1), 1, 'the status page counts the waiting request');
ok t_cmp(scalar(GET('/rproxy-status?prometheus')->content =~ /^rproxy_pool_queued\{pool="queueone"\} 1$/m),
         1, 'so does the Prometheus gauge');
($res, $took) = timed_get('/queueone/?count=1&t=second');
ok t_cmp($res->code, 503, 'the queue is full -> 503');
ok t_cmp($took < 1 ? 1 : 0, 1, sprintf('at once, not after the 3 s timeout (%.2fs)', $took));
ok t_cmp(error_logged(qr/RP00091: pool queueone: .*max=1/), 1,
         'logged as RP00091');
ok t_cmp(held_backend($waiting), 'b4', 'the queued one is served');
ok t_cmp(held_backend($held), 'b4', 'and the held one');

# a client that leaves the queue gives its place back
$before = status_member('queueone')->{requests};
$held = hold('queueone', 2000);
my $gone = hold_request('/queueone/?count=1&t=gone');
queued_reach('queueone', 1);
close $gone;
queued_reach('queueone', 0);
($res, $took) = timed_get('/queueone/?count=1&t=after');
ok t_cmp($res->code, 200, 'the place of a client that left is free again');
ok t_cmp($took > 0.5 ? 1 : 0, 1, sprintf('it waited (%.2fs)', $took));
ok t_cmp(error_logged(qr/RP00092: pool queueone: client closed/), 1,
         'the one that left is logged (RP00092, info)');
held_backend($held);
ok t_cmp(tries_reach('queueone', $before + 2), $before + 2,
         'the request that left never reached the member');

# nothing usable (the member is disabled): 503 at once, queue or not
($res, $took) = timed_get('/queueoff/?count=1');
ok t_cmp($res->code, 503, 'disabled member -> 503');
ok t_cmp($took < 0.8 ? 1 : 0, 1, sprintf('without waiting (%.2fs)', $took));
