# Members that move: a member named by a host name is re-resolved every
# resolve=T by the one resolver (the health prober's watchdog thread), and
# every child connects to the new address. The test points the name
# rproxy-test-move.invalid at 127.0.0.1, then at 127.0.0.2, in /etc/hosts
# (as root; the file is replaced whole with rename(), so that other
# programs never read half of it, and restored in END and on signals)
# while a client sends requests, with a small server on each address and
# the same port that answers with its name: traffic moves within seconds
# and no request fails; a member with resolve=off stays where it was; with
# the name gone from /etc/hosts the last address is kept (requests still
# succeed) and the failure and the recovery are logged once each; the
# status JSON and HTML show the address in use and when it was resolved.
#
# expand=3: rproxy-test-grow.invalid has two lines in /etc/hosts
# (127.0.0.3 and .4; glibc returns every line of a name), so slots #1 and
# #2 serve (and are health-checked) and #3 is absent (and is not); a
# third address (.5) fills #3, and when .3 leaves the answer #1 becomes
# absent, with no failed request meanwhile and each slot counting its
# own requests.
#
# The pools come from a file the test writes under t/logs/resolve/
# (t/conf/38_resolve.conf.in includes it), then a graceful restart,
# because httpd refuses to start when a member's name does not resolve.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok need);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use Time::HiRes qw(time sleep);
use RPTest qw(evil_start evil_stop read_request respond status_json
              status_member error_log_size error_log_since next_generation);

my $hosts = '/etc/hosts';
my $name = 'rproxy-test-move.invalid';
my $grow = 'rproxy-test-grow.invalid';
plan tests => 29, need { "root, to rewrite $hosts" => $> == 0,
                         "a writable $hosts" => -w $hosts ? 1 : 0 };

my $port = Apache::Test::vars('resolve_port');
my $dir = Apache::Test::vars('t_logs') . '/resolve';
my $httpd = Apache::Test::vars('httpd');
my $root = Apache::Test::vars('serverroot');
my $conf = "$root/conf/httpd.conf";

open my $fh, '<', $hosts or die "$hosts: $!";
my $saved = do { local $/; <$fh> };
close $fh;
my $mode = (stat $hosts)[2] & 07777;
# a run killed before it could restore the file left its lines behind
$saved =~ s/^[^\n]*\s\Q$_\E\n//mg for $name, $grow;

# /etc/hosts as it was, plus the test's names: $name on $ip, $grow on
# each of @grow; replaced whole, atomically
my @grow;
sub set_hosts {
    my ($ip) = @_;
    my $tmp = "$hosts.rproxy-test.$$";
    open my $out, '>', $tmp or die "$tmp: $!";
    print $out $saved, ($ip ? "$ip $name\n" : ''),
        map { "$_ $grow\n" } @grow;
    close $out or die "$tmp: $!";
    chmod $mode, $tmp;
    rename $tmp, $hosts or die "rename $tmp $hosts: $!";
}

sub graceful {
    my $gen = (status_json() || {})->{generation} // 0;
    my $out = `$httpd -d $root -f $conf -k graceful 2>&1`;
    return 1 if next_generation($gen) > $gen;
    print "# graceful restart: $out";
    return 0;
}

my @servers;
my ($main, $restored) = ($$, 0);
sub restore {
    return if $$ != $main || $restored++;
    @grow = ();
    set_hosts(undef);
    unlink "$dir/move.conf";
    evil_stop($_) for grep { $_ && kill 0, $_->{pid} } @servers;
    graceful();
}
END { restore() }
$SIG{$_} = sub { restore(); exit 1 } for qw(INT TERM HUP);

# answers every request on a connection with its name
sub server {
    my ($addr, $who) = @_;
    return evil_start(sub {
        my ($c) = @_;
        while (my ($m, $t) = read_request($c)) {
            respond($c, '200 OK', "$who\n", "X-Backend: $who");
        }
    }, port => $port, addr => $addr);
}

@servers = (server('127.0.0.1', 'one'), server('127.0.0.2', 'two'),
            server('127.0.0.3', 'three'), server('127.0.0.4', 'four'),
            server('127.0.0.5', 'five'));
@grow = ('127.0.0.3', '127.0.0.4');
set_hosts('127.0.0.1');
mkdir $dir;
open my $cf, '>', "$dir/move.conf" or die "$dir/move.conf: $!";
# the expand slots' checks allow 800 ms: the test members fork a perl
# process per connection, which on a loaded machine (load average 49
# seen) took over 150 ms and put slots out of rotation
print $cf "<RProxyPool move resolve=1s>\n",
          "    RProxyMember http://$name:$port\n",
          "</RProxyPool>\n",
          "<RProxyPool stay resolve=1s>\n",
          "    RProxyMember http://$name:$port resolve=off\n",
          "</RProxyPool>\n",
          "<RProxyPool grow resolve=1s>\n",
          "    RProxyMember http://$grow:$port expand=3\n",
          "    RProxyHealthCheck interval=1s timeout=800ms\n",
          "</RProxyPool>\n",
          "RProxyPass /move/ move/\n",
          "RProxyPass /stay/ stay/\n",
          "RProxyPass /grow/ grow/\n";
close $cf;
ok t_cmp(graceful(), 1, 'graceful restart with the pools')
    or die 'the test configuration was refused';

# one keep-alive client connection: its member connection is pooled and
# must be retired when the name moves
Apache::TestRequest::user_agent(reset => 1, keep_alive => 1);
my $res = GET('/move/x');
ok t_cmp($res->content, "one\n", 'the name resolves to 127.0.0.1 first');
ok t_cmp(GET('/stay/x')->content, "one\n", 'for the resolve=off member too');

# switch while requests flow
my ($sent, $failed, $moved_after) = (0, 0, undef);
my $start = time;
my $switched;
while (time - $start < 15) {
    if (!$switched && time - $start > 1) {
        set_hosts('127.0.0.2');
        $switched = time;
    }
    my $r = GET('/move/x');
    $sent++;
    $failed++ if $r->code != 200;
    if ($switched && $r->content eq "two\n") {
        $moved_after = time - $switched;
        last;
    }
    sleep 0.05;
}
ok t_cmp(defined $moved_after && $moved_after < 5 ? 1 : 0, 1,
         'traffic moved to 127.0.0.2 within 5 s ('
         . (defined $moved_after ? sprintf('%.1f s', $moved_after) : 'never')
         . ", $sent requests)");
ok t_cmp($failed, 0, 'no request failed during the switch');

# every request now goes to the new address, from any child
my @after = map { GET('/move/x')->content } 1 .. 20;
ok t_cmp(scalar(grep { $_ ne "two\n" } @after), 0,
         'all later requests go to 127.0.0.2');
Apache::TestRequest::user_agent(reset => 1, keep_alive => 0);
@after = map { GET('/move/x')->content } 1 .. 10;
ok t_cmp(scalar(grep { $_ ne "two\n" } @after), 0,
         'on new client connections too');
@after = map { GET('/stay/x')->content } 1 .. 5;
ok t_cmp(scalar(grep { $_ ne "one\n" } @after), 0,
         'the resolve=off member stays on 127.0.0.1');

my $m = status_member('move');
ok t_cmp($m->{address}, "127.0.0.2:$port",
         'status JSON shows the address in use');
ok t_cmp(defined $m->{resolved_at} && abs($m->{resolved_at} - time) < 10
         ? 1 : 0, 1, 'and when it was resolved');
ok t_cmp(status_member('stay')->{address}, "127.0.0.1:$port",
         'and the resolve=off member its startup address');
my $html = GET('/rproxy-status')->content;
ok t_cmp($html =~ m{data-pool="move" data-member="[^"]+"><td class="name">[^<]*<span class="addr" title="resolved [^"]+">127\.0\.0\.2:$port, resolved \d+ s ago</span>}
         ? 1 : 0, 1, 'the status page shows the address and its age');

# the name disappears: the last address is kept, logged once
my $from = error_log_size();
set_hosts(undef);
my $bad = 0;
for (1 .. 40) {
    my $r = GET('/move/x');
    $bad++ if $r->code != 200 || $r->content ne "two\n";
    sleep 0.1;
}
ok t_cmp($bad, 0, 'a failed lookup keeps the last address');
my $log = error_log_since($from);
my $n = () = $log =~ /RP00230/g;
ok t_cmp($n, 1, 'the failure is logged once');
set_hosts('127.0.0.2');
# the next lookup (within a second or two) logs the end; a loaded machine
# may take longer, so wait for it, then a little for a second one
for (1 .. 100) {
    last if error_log_since($from) =~ /RP00231/;
    sleep 0.1;
}
sleep 1.5;
$log = error_log_since($from);
$n = () = $log =~ /RP00231/g;
ok t_cmp($n, 1, 'and its end once');
$n = () = $log =~ /RP00232/g;
ok t_cmp($n, 0, 'with no move logged (the address did not change)');

# ---- expand=3 ---------------------------------------------------------------

sub slots {
    return join ' ', map { ($_->{address} || '-') . "=$_->{role}" }
        RPTest::status_members('grow');
}
# requests to /grow/ until the answers are exactly @want (as a set) in
# one round of 12, for up to 8 s; returns that and the failures seen
sub settle {
    my @want = sort @_;
    my $failed = 0;
    my $t0 = time;
    while (time - $t0 < 8) {
        my %seen;
        for (1 .. 12) {
            my $r = GET('/grow/x');
            $failed++ if $r->code != 200;
            $seen{ $r->content =~ s/\n//r }++ if $r->code == 200;
        }
        return (1, $failed) if join(' ', sort keys %seen) eq "@want";
        sleep 0.1;
    }
    return (0, $failed);
}

ok t_cmp(slots(), "127.0.0.3:$port=up 127.0.0.4:$port=up -=absent",
         'expand=3 over two addresses: two slots serve, one is absent');
ok t_cmp(join(' ', map { $_->{name} } RPTest::status_members('grow')),
         join(' ', map { "http://$grow:$port#$_" } 1 .. 3),
         'the slots are named URL#1 .. URL#3');
my @hc = map { $_->{hc}{checks} } RPTest::status_members('grow');
ok t_cmp(($hc[0] > 0 && $hc[1] > 0 && $hc[2] == 0) ? 1 : 0, 1,
         "each slot with an address is health-checked, the absent one not (@hc)");
my $ok;
($ok, $bad) = settle('four', 'three');
ok t_cmp($ok, 1, 'requests go to both addresses, none to the absent slot');
ok t_cmp($bad, 0, 'and none fails');

$from = error_log_size();
@grow = ('127.0.0.3', '127.0.0.4', '127.0.0.5');
set_hosts('127.0.0.2');
($ok, $bad) = settle('five', 'four', 'three');
ok t_cmp($ok, 1, 'a third address appears: the absent slot takes it');
ok t_cmp($bad, 0, 'no request failed meanwhile');
ok t_cmp(slots(), "127.0.0.3:$port=up 127.0.0.4:$port=up 127.0.0.5:$port=up",
         'the status page shows the three slots up');

@grow = ('127.0.0.4', '127.0.0.5');
set_hosts('127.0.0.2');
($ok, $bad) = settle('five', 'four');
ok t_cmp($ok, 1, 'an address leaves: its slot takes no more requests');
ok t_cmp($bad, 0, 'no request failed meanwhile');
ok t_cmp(slots(), "-=absent 127.0.0.4:$port=up 127.0.0.5:$port=up",
         'and is absent, the others keep their addresses');
my @req = map { $_->{requests} } RPTest::status_members('grow');
ok t_cmp(scalar(grep { $_ > 0 } @req), 3,
         "each slot counted its own requests (@req)");
$log = error_log_since($from);
$n = () = $log =~ /RP00234/g;
ok t_cmp($n, 2, 'one log line per slot that changed');
