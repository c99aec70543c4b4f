# Observability: mod_rproxy's section of mod_status's server-status page
# (HTML and ?auto), the log notes (connect, first byte and member times,
# the list of tries with their outcome), and tracing: traceparent and
# tracestate pass unchanged, mod_unique_id's id goes to the member in
# X-Request-Id (RProxyRequestId: another name, or off) and equals what
# the access log shows; a client's own X-Request-Id is kept only from a
# trusted proxy. Pools of its own (t/conf/74_observability.conf.in).
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok need_module);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use Time::HiRes qw(sleep);
use RPTest qw(echo_parse proxy_socket read_response);

plan tests => 43, need_module('mod_status.c', 'mod_unique_id.c');

my $b1 = Apache::Test::vars('b1_port');
my $dead = Apache::Test::vars('dead_port');

# The ?auto lines of the pools: name => { members => N, up => N, ... }.
sub auto_pools {
    my $body = GET('/server-status?auto')->content;
    my %p;
    while ($body =~ /^RProxyPool (\S+): (.*)$/mg) {
        my ($name, $rest) = ($1, $2);
        $p{$name} = { map { split /=/, $_, 2 } split / /, $rest };
    }
    return \%p;
}

# The pool's ?auto line once its tries reach $want (a try is counted
# just after its response went out).
sub pool_at {
    my ($pool, $want) = @_;
    my $p;
    for (1 .. 40) {
        $p = auto_pools()->{$pool};
        last if $p && $p->{requests} >= $want;
        sleep 0.05;
    }
    return $p || {};
}

# The fields of a request's line in logs/rproxy_obs_log, once written;
# only lines this run wrote (the log outlives a run).
my $obs_log = Apache::Test::vars('t_logs') . '/rproxy_obs_log';
my $obs_log_start = -s $obs_log || 0;
sub logged {
    my ($uri) = @_;
    for (1 .. 40) {
        if (open my $fh, '<', $obs_log) {
            seek $fh, $obs_log_start, 0;
            my ($line) = grep { index($_, "$uri ") == 0 } <$fh>;
            if ($line) {
                chomp $line;
                return { map { /^([a-z]+)=(.*)$/ ? ($1, $2) : () }
                         split / /, $line };
            }
        }
        sleep 0.05;
    }
    return {};
}

sub echo {
    my ($path, @headers) = @_;
    my $res = GET($path, @headers);
    return ($res->code, echo_parse($res->content));
}

# --- server-status: exact counts on pools no other test uses
my $n = 5;
ok t_cmp(GET("/obs/?t=count$_")->code, 200, "request $_ to obs") for 1 .. $n;
my $p = pool_at('obs', $n);
ok t_cmp("members=$p->{members} up=$p->{up} requests=$p->{requests} "
         . "failures=$p->{failures}", "members=2 up=2 requests=$n failures=0",
         '?auto: obs counts every try, no failure');
ok t_cmp($p->{inflight}, 0, '?auto: nothing in flight');
ok t_cmp($p->{queued}, 0, '?auto: nothing queued');

my ($st, $e) = echo('/obsretry/?t=retry');
ok t_cmp($st, 200, 'obsretry: served after the dead member refused');
ok t_cmp($e->{backend}, 'b1', 'by b1');
$p = pool_at('obsretry', 2);
ok t_cmp("members=$p->{members} up=$p->{up} requests=$p->{requests} "
         . "failures=$p->{failures}", 'members=2 up=2 requests=2 failures=1',
         '?auto: the refused try is a failure');
my $html = GET('/server-status')->content;
ok t_cmp($html =~ m{<h2>mod_rproxy pools</h2>} ? 1 : 0, 1,
         'HTML: the section is on the page');
ok t_cmp($html =~ m{<tr><td>obsretry</td><td>2/2</td><td>0</td><td>0</td>
                    <td>2</td><td>1</td></tr>}x ? 1 : 0, 1,
         'HTML: the obsretry row, up/members, in flight, queued, requests, '
         . 'failures');

# --- the log notes
my $l = logged('/obsretry/?t=retry');
ok t_cmp($l->{tries}, "obsretry/127.0.0.1:$dead:refused,obsretry/127.0.0.1:$b1:200",
         'rproxy-try-list: the refused try, then the one that answered');
ok t_cmp($l->{connect} =~ /^\d+$/ ? 1 : 0, 1,
         'rproxy-connect-time: of the try that answered');

ok t_cmp(GET('/obsfresh/?t=fresh')->code, 200, 'obsfresh answered');
$l = logged('/obsfresh/?t=fresh');
ok t_cmp($l->{connect} > 0 ? 1 : 0, 1, "connect time > 0 on a new connection ($l->{connect})");
ok t_cmp($l->{first} > 0 ? 1 : 0, 1, "first byte time > 0 ($l->{first})");
ok t_cmp($l->{first} <= $l->{backend} ? 1 : 0, 1,
         "first byte ($l->{first}) <= the try's time ($l->{backend})");
ok t_cmp($l->{backend} <= $l->{member} ? 1 : 0, 1,
         "the try's time ($l->{backend}) <= member time ($l->{member})");
ok t_cmp($l->{tries}, 'obsfresh/127.0.0.1:' . Apache::Test::vars('b3_port') . ':200',
         'one try, 200');

# a request on a connection kept from an earlier one: connect time 0.
# Three requests on one client connection (one child, under prefork too),
# round robin over two members: the third goes where the first went.
my $s = proxy_socket();
for my $i (1 .. 3) {
    print $s "GET /obs/?t=reuse$i HTTP/1.1\r\nHost: localhost\r\n\r\n";
    my ($code) = read_response($s);
    ok t_cmp($code, 200, "keep-alive request $i");
}
close $s;
$l = logged('/obs/?t=reuse3');
ok t_cmp($l->{connect}, 0, 'connect time 0 on a reused member connection');

# --- tracing
my $tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
my $ts = 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE';
($st, $e) = echo('/obs/?t=trace', traceparent => $tp, tracestate => $ts);
ok t_cmp($e->{h}{traceparent}[0], $tp, 'traceparent reaches the member unchanged');
ok t_cmp($e->{h}{tracestate}[0], $ts, 'tracestate too');

($st, $e) = echo('/obs/?t=rid');
$l = logged('/obs/?t=rid');
my $rid = $e->{h}{'x-request-id'}[0] // '';
ok t_cmp($rid =~ /^[\w\@-]{20,}$/ ? 1 : 0, 1, "X-Request-Id sent ($rid)");
ok t_cmp($l->{uid}, $rid, 'it is the logged UNIQUE_ID');
ok t_cmp($l->{rid}, $rid, 'and the note rproxy-request-id');

($st, $e) = echo('/obs/?t=spoof', 'X-Request-Id' => 'client-chosen');
$l = logged('/obs/?t=spoof');
ok t_cmp(scalar @{ $e->{h}{'x-request-id'} || [] }, 1, 'untrusted client: one X-Request-Id');
ok t_cmp($e->{h}{'x-request-id'}[0], $l->{uid}, "untrusted client: the client's replaced by ours");
ok t_cmp($l->{rid}, $l->{uid}, 'untrusted client: ours logged');

($st, $e) = echo('/obstrusted/?t=trusted', 'X-Request-Id' => 'from-the-lb');
$l = logged('/obstrusted/?t=trusted');
ok t_cmp($e->{h}{'x-request-id'}[0], 'from-the-lb', "trusted proxy: its id kept");
ok t_cmp($l->{rid}, 'from-the-lb', 'trusted proxy: its id logged as rproxy-request-id');
ok t_cmp($l->{uid} ne 'from-the-lb' ? 1 : 0, 1, 'UNIQUE_ID stays our own');

($st, $e) = echo('/obstrusted/?t=trustednone');
$l = logged('/obstrusted/?t=trustednone');
ok t_cmp($e->{h}{'x-request-id'}[0], $l->{uid}, 'trusted proxy without an id: ours');

($st, $e) = echo('/obsnoid/?t=off');
$l = logged('/obsnoid/?t=off');
ok t_cmp($st, 200, 'RProxyRequestId off: answered');
ok t_cmp($e->{h}{'x-request-id'}, undef, 'off: no X-Request-Id');
ok t_cmp($l->{rid}, '-', 'off: no rproxy-request-id note');

($st, $e) = echo('/obsnoid/?t=offclient', 'X-Request-Id' => 'client-own');
ok t_cmp($e->{h}{'x-request-id'}[0], 'client-own',
         "off: a client's header passes as any other");

($st, $e) = echo('/obsname/?t=name');
$l = logged('/obsname/?t=name');
ok t_cmp($e->{h}{'x-trace-id'}[0], $l->{uid}, 'RProxyRequestId X-Trace-Id: the id under that name');
ok t_cmp($e->{h}{'x-request-id'}, undef, 'and not as X-Request-Id');
