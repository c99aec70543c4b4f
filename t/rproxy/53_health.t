# Active health checks (RProxyHealthCheck): one prober for the whole
# server takes a failing member out within fall x interval and brings it
# back after rise passes, with slow start; what the prober sends is what
# the directive says. Pool "health": b1 and a backend this test runs on
# hc_backend_port; checks every 300 ms, timeout 200 ms, rise=2 fall=2,
# expect=200,204, HEAD /hc with Host health.example, RProxySlowStart 3s.
# Pool "hctrickle": one member on hc_trickle_port, checked every 500 ms
# with timeout=500ms, rise=1 fall=2 (the timeout bounds the whole check).
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use Time::HiRes qw(time sleep);
use RPTest qw(evil_start evil_stop read_request evil_respond evil_log
              status_member);

plan tests => 22;

my $port = Apache::Test::vars('hc_backend_port');
my $control = Apache::Test::vars('t_logs') . '/hc_status';

sub role {
    my ($pool, $i) = @_;
    return status_member($pool // 'health', $i // 1)->{role};
}

# seconds until the member's role is $want (undef if not within $limit)
sub wait_role {
    my ($want, $limit) = @_;
    my $t0 = time;
    while (time - $t0 < $limit) {
        return time - $t0 if role() eq $want;
        sleep 0.05;
    }
    return undef;
}

# how many of $n requests the test's member answered
sub share {
    my ($n) = @_;
    my $mine = 0;
    for (1 .. $n) {
        $mine++ if GET('/health/?count=1')->content =~ /^backend=hc$/m;
    }
    return $mine;
}

sub start_backend {
    return evil_start(sub {
        my ($c, $n, $log) = @_;
        while (my ($method, $target, $h) = read_request($c)) {
            evil_log($log, "$method $target host=" . ($h->{host} // '')
                           . ' ua=' . ($h->{'user-agent'} // ''));
            if ($target eq '/hc') {
                my $st = 200;
                if (open my $fh, '<', $control) { chomp($st = <$fh>) }
                print $c "HTTP/1.1 $st Check\r\nContent-Length: 0\r\n\r\n";
                last;
            }
            evil_respond($c, "backend=hc\n");
        }
    }, port => $port);
}

sub set_status {
    open my $fh, '>', $control or die "$control: $!";
    print $fh "$_[0]\n";
    close $fh;
}

# one keep-alive client: the rotation is seen by one child
Apache::TestRequest::user_agent(reset => 1, keep_alive => 1);
set_status(200);

# nothing listens on the port yet: refused checks take the member out
ok t_cmp(defined wait_role('health-failed', 5) ? 1 : 0, 1, 'a member nobody answers for is taken out');
ok t_cmp(share(10), 0, 'while out, it gets no request');

# it answers: back after two passes, that is after one interval at least
my $be = start_backend();
my $up = wait_role('up', 5);
ok t_cmp(defined $up ? 1 : 0, 1, 'back in rotation once the checks pass');
ok t_cmp(($up // 99) < 2.5 ? 1 : 0, 1, "within rise x interval (+ slack): ${\ ($up // 'never')}s");

# slow start: a small share first, the full share (10 of 20) after 3 s
my $early = share(20);
ok t_cmp($early <= 5 ? 1 : 0, 1, "just back: a small share ($early of 20)");
sleep 3.2;
my $late = share(20);
ok t_cmp($late >= 8 && $late <= 12 ? 1 : 0, 1, "after the ramp: the full share ($late of 20)");

# what the prober sent
my @checks = grep { /^HEAD / } evil_log($be->{log});
ok t_cmp($checks[0] // '', 'HEAD /hc host=health.example ua=mod_rproxy-health-check',
         'method, uri, Host and User-Agent as configured');
ok t_cmp(scalar(grep { !/^(?:conn \d+|HEAD \/hc .*|GET \/\?count=1 .*)$/ } evil_log($be->{log})), 0,
         'nothing else reached the member');

# one prober for the whole server, whatever the number of children:
# 3 s at one check every 300 ms is about 10 checks
my $before = grep { /^HEAD / } evil_log($be->{log});
sleep 3;
my $checks = grep({ /^HEAD / } evil_log($be->{log})) - $before;
ok t_cmp($checks >= 6 && $checks <= 14 ? 1 : 0, 1, "about 10 checks in 3 s ($checks)");

# a status outside expect= fails the check: out within fall x interval
set_status(503);
my $down = wait_role('health-failed', 5);
ok t_cmp(defined $down ? 1 : 0, 1, 'a 503 from the health URI takes it out');
ok t_cmp(($down // 99) < 1.5 ? 1 : 0, 1, "within fall x interval (+ slack): ${\ ($down // 'never')}s");
my $served = grep { /^GET / } evil_log($be->{log});
ok t_cmp(share(10), 0, 'no request while it fails its checks');
ok t_cmp(scalar(grep { /^GET / } evil_log($be->{log})), $served, 'not one reached it');

# 204 is in expect=200,204
set_status(204);
ok t_cmp(defined wait_role('up', 5) ? 1 : 0, 1, 'an expected 204 brings it back');

# killed: refused connects take it out again
evil_stop($be);
my $gone = wait_role('health-failed', 5);
ok t_cmp(defined $gone ? 1 : 0, 1, 'a stopped member is taken out');
ok t_cmp(($gone // 99) < 1.5 ? 1 : 0, 1, "within fall x interval (+ slack): ${\ ($gone // 'never')}s");
unlink $control;

# over TLS, through mod_ssl as requests go: a verified member passes, one
# whose certificate does not match its name fails
ok t_cmp(role('health_tls', 0), 'up', 'TLS checks pass for a verified member');
ok t_cmp(role('health_tls', 1), 'health-failed', 'and fail on a name mismatch');

# timeout= bounds the whole check, not each read: a member that answers
# its checks a byte every 200 ms (never finishing the head) is taken out
# within fall x (interval + timeout) + slack, and checks go on meanwhile
# (no prober thread stays stuck in one check)
my $tport = Apache::Test::vars('hc_trickle_port');
my $tmode = Apache::Test::vars('t_logs') . '/hc_trickle_mode';
unlink $tmode;
my $tb = evil_start(sub {
    my ($c, $n, $log) = @_;
    local $SIG{PIPE} = 'IGNORE';
    my ($method) = read_request($c);
    return unless defined $method;
    if (!-e $tmode) {
        print $c "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        return;
    }
    $c->autoflush(1);
    for my $byte (split //, "HTTP/1.1 200 OK\r\nX-Pad: ", -1) {
        syswrite($c, $byte) or return;
        sleep 0.2;
    }
    while (1) { syswrite($c, 'a') or return; sleep 0.2 }
}, port => $tport);
sub trole { role('hctrickle', 0) }
my $t0 = time;
sleep 0.05 until trole() eq 'up' || time - $t0 > 5;
ok t_cmp(trole(), 'up', 'trickle member: up while it answers at once');
open my $mf, '>', $tmode or die; close $mf;
$t0 = time;
sleep 0.05 until trole() eq 'health-failed' || time - $t0 > 8;
my $took = time - $t0;
ok t_cmp(trole(), 'health-failed', 'a member that trickles its answer is taken out');
ok t_cmp($took < 2 * (0.5 + 0.5) + 1 ? 1 : 0, 1,
         sprintf('within fall x (interval + timeout) + 1 s slack: %.1fs', $took));
my $conns = grep { /^conn / } evil_log($tb->{log});
sleep 2;
$conns = grep({ /^conn / } evil_log($tb->{log})) - $conns;
ok t_cmp($conns >= 2 ? 1 : 0, 1, "checks go on every interval ($conns in 2 s)");
evil_stop($tb);
unlink $tmode;
