# Tunnels that wait without a worker (RProxyTunnel async_after=, event
# MPM): after the quiet period the tunnel's thread goes back to the MPM
# (RP00240 says so), data still flows both ways, more tunnels than the
# server has threads stay open and echo at once, and the idle timeout,
# half-closes, resets and byte counts behave as in the synchronous loop.
# A graceful restart cuts no open tunnel. Under worker and prefork the
# same checks run on the synchronous loop (only the event-specific ones
# are skipped). Routes: /tasync/ (async_after=50ms idle=2s), /tasyncnow/
# (async_after=0), /tasyncsync/ (async=off); the member is scripted here.
use strict;
BEGIN { delete $ENV{LD_PRELOAD} }
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok skip);
use Apache::TestUtil qw(t_cmp);
use Socket qw(SOL_SOCKET SO_LINGER SHUT_WR);
use Time::HiRes qw(time sleep);
use RPTest qw(read_response proxy_port evil_start evil_stop proxy_socket
              read_until write_all error_log_size error_log_since evil_lines
              status_json next_generation);

plan tests => 47;

my $port = proxy_port();
my $vars = Apache::Test::vars();
my $logs = $vars->{t_logs};
open my $cf, '<', "$vars->{t_conf}/httpd.conf" or die "httpd.conf: $!";
my ($mpm) = map { /^\s*LoadModule\s+mpm_(\w+)_module/ ? $1 : () } <$cf>;
close $cf;
my $event = ($mpm // '') eq 'event';
print "# MPM: ", $mpm // '?', "\n";
$SIG{ALRM} = sub { die "timed out\n" };

sub rst_close {
    my ($s) = @_;
    setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    close $s;
}

# The member: a 101 and "hi\n", then what the last path segment says.
#  echo: after 0.4 s says "tick\n" on its own, then echoes each read as
#        "echo:DATA"; at EOF it answers "bye-after-eof" and closes
#  hold: reads and logs until the proxy ends the connection
#  halfclose: shuts down its sending side at once, then reads and logs
#  rst: resets the connection after 0.4 s
my $evil = evil_start(sub {
    my ($c, $n, $log) = @_;
    my $req = '';
    while ($req !~ /\r\n\r\n/) { sysread($c, my $b, 1) or return; $req .= $b }
    my ($what) = $req =~ m{^GET \S*/(\w+) };
    $what //= '?';
    evil_log_line($log, "peer " . $c->peerport . " $what");
    syswrite($c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 . "Connection: Upgrade\r\n\r\nhi\n");
    if ($what eq 'rst') {
        sleep 0.4;
        setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
        close $c;
        return;
    }
    if ($what eq 'echo') {
        sleep 0.4;
        syswrite($c, "tick\n");
        while (sysread($c, my $b, 65536)) {
            syswrite($c, "echo:$b");
        }
        syswrite($c, "bye-after-eof");
        evil_log_line($log, "end $what eof");
        return;
    }
    shutdown($c, SHUT_WR) if $what eq 'halfclose';
    my $got = '';
    while (1) {
        my $r = sysread($c, my $b, 4096);
        if (!$r) {
            evil_log_line($log, "got $what $got");
            evil_log_line($log, sprintf("end $what %.3f %s", time,
                                        defined $r ? 'eof' : 'error'));
            last;
        }
        $got .= $b;
    }
    sleep 5;
});
my $evil_port = Apache::Test::vars('ext_backend_port');
my $evil_log = "$logs/evil.$evil_port.log";

sub evil_log_line {
    my ($log, $line) = @_;
    open my $fh, '>>', $log or die; print $fh "$line\n"; close $fh;
}

sub open_tunnel {
    my ($path) = @_;
    my $s = proxy_socket(port => $port);
    alarm 20;
    print $s "GET $path HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n"
           . "Upgrade: websocket\r\n\r\n";
    my ($st) = read_response($s, 1);
    my ($got) = read_until($s, 5, sub { $_[0] =~ /\n/ });
    alarm 0;
    return ($s, ($st // 'none') . " $got");
}

sub count_since {
    my ($off, $re) = @_;
    return scalar grep { /$re/ } split /^/m, error_log_since($off);
}

sub plain_request_works {
    my $s = proxy_socket(port => $port);
    print $s "GET /b1/?count=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    alarm 10;
    my ($st, $h, $body) = eval { read_response($s) };
    alarm 0;
    return ($st // 'none') . " " . ($body // '');
}

# The server's child processes (by their parent's PID).
sub children_of {
    my ($ppid) = @_;
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $sf, '<', $stat or next;
        my $line = <$sf> // next;
        my @f = split ' ', substr($line, rindex($line, ')') + 2);
        push @kids, $stat =~ m{/proc/(\d+)/} if $f[1] == $ppid;
    }
    return @kids;
}

# mod_status's machine-readable page, as a hash.
sub server_status {
    my $res = Apache::TestRequest::GET('/server-status?auto');
    return map { /^([^:]+):\s*(.*)$/ ? ($1, $2) : () } split /\n/, $res->content;
}

sub tunnel_member {
    my $j = status_json() or return {};
    my ($p) = grep { $_->{name} eq 'tasync' } @{ $j->{pools} };
    return $p ? $p->{members}[0] : {};
}

my ($s, $got, $eof, $t0, $off, @l);

# ---- data both ways after the thread went back ---------------------------
$off = error_log_size();
my $before = tunnel_member();
($s, $got) = open_tunnel('/tasync/echo');
ok t_cmp($got, "101 hi\n", 'echo: tunnel open');
($got) = read_until($s, 3, sub { $_[0] =~ /tick\n/ });
ok t_cmp($got, "tick\n", 'member -> client after the quiet period');
sleep 0.3;
write_all($s, 'ping-1');
($got) = read_until($s, 3, sub { length $_[0] >= 11 });
ok t_cmp($got, 'echo:ping-1', 'client -> member -> client after the quiet period');
sleep 0.3;
my $blob = join '', map { chr($_ % 256) } 0 .. 100 * 1024 - 1;
write_all($s, $blob);
my $payload = sub { (my $x = $_[0]) =~ s/echo://g; $x };
($got) = read_until($s, 10, sub { length($payload->($_[0])) >= length $blob });
{
    my $pl = $payload->($got);
    my $i = 0;
    $i++ while $i < length($pl) && substr($pl, $i, 1) eq substr($blob, $i, 1);
    print "# echoed: ", length($got), " bytes, payload ", length($pl), ", same up to $i: ",
          unpack('H*', substr($pl, $i, 16)), " vs ", unpack('H*', substr($blob, $i, 16)), "\n";
}
ok($payload->($got) eq $blob);   # 100 KiB binary echoed back after another quiet period
sleep 0.3;
if ($event) {
    # (the small messages are moved by the waiting thread itself, 31c;
    # the 100 KiB one takes a worker, which goes back again)
    ok t_cmp(count_since($off, qr/RP00240: member tasync\/.*tunnel quiet for 50 ms: waits without a worker/) >= 2
             ? 1 : 0, 1, 'event: the worker went back after each quiet period (RP00240)');
}
else {
    ok t_cmp(count_since($off, qr/RP00240/), 0, "$mpm: the tunnel kept its thread");
}
# the client half-closes: the member still answers, then the end
shutdown($s, SHUT_WR);
($got, $eof) = read_until($s, 5, sub { 0 });
ok t_cmp($got, 'bye-after-eof', 'client half-close: the member\'s last bytes arrive');
ok t_cmp($eof, 1, 'and then the end');
close $s;
sleep 0.5;
my ($line) = grep { /RP00142: member tasync\/.*tunnel closed/ } split /^/m, error_log_since($off);
my ($from_client, $from_member) = ($line // '') =~ /closed: (\d+) bytes from the client, (\d+) from the member/;
$from_member //= 0;
ok t_cmp($from_client, 102406, 'tunnel closed, with the client\'s byte count (RP00142)');
# the member's: hi, tick, its echo prefixes (one per read), its last words
ok t_cmp($from_member >= 102432 && ($from_member - 102432) % 5 == 0 ? 1 : 0, 1,
         "and the member's ($from_member)");
my $after = tunnel_member();
my $din = ($after->{bytes_in} // 0) - ($before->{bytes_in} // 0);
my $dout = ($after->{bytes_out} // 0) - ($before->{bytes_out} // 0);
print "# status page: bytes_in +$din, bytes_out +$dout\n";
ok t_cmp($din >= $from_member && $din < $from_member + 400 ? 1 : 0, 1,
         'status page: the member\'s bytes_in counts the tunnel (and the 101)');
ok t_cmp($dout >= 102406 && $dout < 102406 + 400 ? 1 : 0, 1,
         'status page: bytes_out counts the tunnel (and the request)');
ok t_cmp(($after->{inflight} // -1), 0, 'nothing left in flight');

# ---- through mod_ssl: the TLS filters hold nothing back across a wait ----
{
    require IO::Socket::SSL;
    $off = error_log_size();
    my $ts = IO::Socket::SSL->new(
        PeerAddr => '127.0.0.1', PeerPort => $vars->{mod_ssl_port},
        SSL_ca_file => "$vars->{sslca}/$vars->{sslcaorg}/certs/ca.crt",
        SSL_hostname => 'localhost', SSL_verifycn_name => 'localhost',
        SSL_verifycn_scheme => 'http', Timeout => 10)
        or die "ssl connect: " . IO::Socket::SSL::errstr();
    alarm 20;
    print $ts "GET /tasync/echo HTTP/1.1\r\nHost: localhost\r\n"
              . "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    my ($st) = read_response($ts, 1);
    alarm 0;
    ($got) = read_until($ts, 3, sub { $_[0] =~ /tick\n/ });
    ok t_cmp("$st $got", "101 hi\ntick\n", 'https front end: both member messages');
    sleep 0.3;
    print $ts 'ping-tls';
    ($got) = read_until($ts, 3, sub { length $_[0] >= 13 });
    ok t_cmp($got, 'echo:ping-tls', 'https front end: both ways after the quiet period');
    ok t_cmp(count_since($off, qr/RP00240/) >= ($event ? 2 : 0) ? 1 : 0, 1,
             'https front end: the worker went back (event)');
    close $ts;
    sleep 0.3;
}

# ---- async_after=0 and async=off -------------------------------------------
for my $route ('tasyncnow', 'tasyncsync') {
    $off = error_log_size();
    ($s, $got) = open_tunnel("/$route/echo");
    ($got) = read_until($s, 3, sub { $_[0] =~ /tick\n/ });
    write_all($s, 'x');
    ($got) = read_until($s, 3, sub { length $_[0] >= 6 });
    ok t_cmp($got, 'echo:x', "$route: both ways");
    my $n = count_since($off, qr/RP00240: .*quiet for 0 ms/);
    ok t_cmp($n > 0 ? 1 : 0, $event && $route eq 'tasyncnow' ? 1 : 0,
             "$route: RP00240 at once only where async_after=0 under event ($n)");
    close $s;
    sleep 0.5;      # its end is logged before the next one counts
}

# ---- more tunnels than the server has threads ----------------------------
if ($event) {
    my $n = 60;     # ThreadsPerChild 40 in 00_server.conf.in
    my @t;
    for my $i (1 .. $n) {
        my ($ts, $g) = open_tunnel('/tasyncnow/echo');
        push @t, $ts if $g eq "101 hi\n";
    }
    ok t_cmp(scalar @t, $n, "event: $n tunnels open at once with 40 threads");
    sleep 0.6;
    my %st = server_status();
    print "# server-status: ConnsTotal $st{ConnsTotal} BusyWorkers $st{BusyWorkers}\n";
    # (ConnsTotal is only refreshed by the MPM's queue maintenance)
    ok t_cmp($st{BusyWorkers} < 10 ? 1 : 0, 1,
             "mod_status: $st{BusyWorkers} busy threads for $n open tunnels");
    ok t_cmp(plain_request_works(), "200 backend=b1\n",
             'and a plain request is served meanwhile');
    my $echoed = 0;
    for my $i (0 .. $#t) {
        write_all($t[$i], "n$i");
    }
    for my $i (0 .. $#t) {
        my ($g) = read_until($t[$i], 5, sub { $_[0] =~ /echo:n$i$/ });
        $echoed++ if $g =~ /echo:n$i$/;
    }
    ok t_cmp($echoed, $n, "every one of the $n echoes");
    close $_ for @t;
}
else {
    skip "event only: more tunnels than threads ($mpm)" for 1 .. 4;
}

# ---- idle timeout -----------------------------------------------------------
$off = error_log_size();
($s, $got) = open_tunnel('/tasync/hold');
ok t_cmp($got, "101 hi\n", 'idle: tunnel open');
$t0 = time;
($got, $eof) = read_until($s, 6, sub { 0 });
my $took = time - $t0;
print "# idle close after $took s\n";
ok t_cmp($eof, 1, 'idle: the proxy closes a silent tunnel');
ok t_cmp($took > 1.0 && $took < 3.5 ? 1 : 0, 1, "after idle=2s (counted from the last byte the proxy moved, before the client read it)");
close $s;
ok t_cmp(count_since($off, qr/RP00051: member tasync\/.*tunnel idle for 2s; closed/), 1,
         'idle: RP00051 as in the synchronous loop');

# ---- the member half-closes --------------------------------------------
($s, $got) = open_tunnel('/tasync/halfclose');
ok t_cmp($got, "101 hi\n", 'member half-close: tunnel open');
($got, $eof) = read_until($s, 3, sub { 0 });
ok t_cmp($eof, 1, 'member half-close: the client sees the end of its bytes');
sleep 0.3;
write_all($s, 'late');
sleep 0.2;
close $s;
sleep 0.5;
@l = evil_lines($evil_log);
ok t_cmp((grep { /^got halfclose late$/ } @l) ? 1 : 0, 1,
         'member half-close: the client\'s later bytes still reach it');
ok t_cmp((grep { /^end halfclose .* eof$/ } @l) ? 1 : 0, 1, 'and then its end');

# ---- resets from either side after the thread went back ----------------
$off = error_log_size();
($s, $got) = open_tunnel('/tasync/rst');
ok t_cmp($got, "101 hi\n", 'member rst: tunnel open');
$t0 = time;
($got, $eof) = read_until($s, 5, sub { 0 });
ok t_cmp($eof, 1, 'member rst: the client sees the end');
ok t_cmp(time - $t0 < 2 ? 1 : 0, 1, 'at once');
close $s;
ok t_cmp(count_since($off, qr/RP00140: .*tunnel: member connection failed \(read\)/), 1,
         'member rst: RP00140 as in the synchronous loop');

truncate $evil_log, 0;
($s, $got) = open_tunnel('/tasync/hold');
ok t_cmp($got, "101 hi\n", 'client rst: tunnel open');
sleep 0.2;
write_all($s, 'abc');
sleep 0.3;
rst_close($s);
$t0 = time;
my $ended;
for (1 .. 40) {
    sleep 0.05;
    ($ended) = map { /^end hold (\S+)/ ? $1 : () } evil_lines($evil_log);
    last if $ended;
}
ok t_cmp((grep { /^got hold abc$/ } evil_lines($evil_log)) ? 1 : 0, 1,
         'client rst: the bytes before it reached the member');
ok t_cmp(defined $ended && $ended - $t0 < 1.5 ? 1 : 0, 1,
         'client rst: the member connection is closed at once');

# ---- graceful restart with tunnels open --------------------------------
$off = error_log_size();
my @open;
for my $i (1 .. 3) {
    my ($ts, $g) = open_tunnel('/tasynclong/echo');
    read_until($ts, 3, sub { $_[0] =~ /tick\n/ });
    push @open, $ts if $g eq "101 hi\n";
}
ok t_cmp(scalar @open, 3, 'graceful: 3 tunnels open');
sleep 0.3;
my $gen = (status_json() // {})->{generation} // 0;
open my $pf, '<', "$logs/httpd.pid" or die "httpd.pid: $!";
chomp(my $parent = <$pf>);
close $pf;
my @old = children_of($parent);
ok t_cmp(kill('USR1', $parent), 1, 'graceful: SIGUSR1 to the parent');
my $gen2 = next_generation($gen);
ok t_cmp($gen2 > $gen ? 1 : 0, 1, "graceful: a new generation ($gen -> $gen2)");
my $alive = 0;
for my $i (0 .. $#open) {
    write_all($open[$i], "after-restart-$i");
    my ($g) = read_until($open[$i], 5, sub { $_[0] =~ /echo:after-restart-$i$/ });
    $alive++ if $g =~ /echo:after-restart-$i$/;
}
ok t_cmp($alive, 3, 'graceful: every open tunnel still echoes');
shutdown($open[0], SHUT_WR);
($got, $eof) = read_until($open[0], 5, sub { 0 });
ok t_cmp("$got $eof", 'bye-after-eof 1', 'graceful: and ends as usual');
close $_ for @open;
ok t_cmp(plain_request_works(), "200 backend=b1\n", 'graceful: the new generation serves');
my $left = scalar @old;
for (1 .. 100) {
    $left = grep { kill 0, $_ } @old;
    last unless $left;
    sleep 0.1;
}
ok t_cmp($left, 0, 'graceful: the old generation\'s ' . scalar(@old)
         . ' children exit once their tunnels are over');
ok t_cmp(count_since($off, qr/Segmentation fault|exit signal|AH00052|child pid \d+ exit/), 0,
         'graceful: no child crashed when the old generation went');
my $closed = count_since($off, qr/RP00142: member tasync\/.*tunnel closed/);
ok t_cmp($closed, 3, 'graceful: the old generation logged the 3 ends (RP00142)');

evil_stop($evil);
