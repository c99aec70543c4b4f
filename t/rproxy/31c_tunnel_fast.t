# Small messages on a waiting tunnel are moved by the waiting thread
# itself (event MPM, plain sockets: rproxy_tunnel_fast.c), and whatever
# it cannot finish goes to a worker's loop exactly as before: messages
# both ways are echoed byte for byte and the pool's status counts them as
# moved by the waiter; a message larger than its buffer and 4 MiB to a
# client that stops reading arrive whole and in order (through a worker);
# half-closes and resets from either side end the tunnel as the
# synchronous loop does (same log tags, byte counts, status); the idle
# timeout runs from the last byte the waiter moved; a TLS tunnel takes
# the worker's path. Under worker and prefork the same exchanges run on
# the synchronous loop and the waiter's counters stay at 0. Route:
# /tfast/ (async_after=20ms idle=3s); the member is scripted here.
use strict;
BEGIN { delete $ENV{LD_PRELOAD} }
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok skip);
use Apache::TestUtil qw(t_cmp);
use Socket qw(SOL_SOCKET SO_LINGER SO_RCVBUF SHUT_WR);
use Time::HiRes qw(time sleep);
use RPTest qw(read_response proxy_port evil_start evil_stop proxy_socket
              read_until write_all error_log_size error_log_since evil_lines
              status_json);

plan tests => 41;

my $port = proxy_port();
my $vars = Apache::Test::vars();
my $logs = $vars->{t_logs};
open my $cf, '<', "$vars->{t_conf}/httpd.conf" or die "httpd.conf: $!";
my ($mpm) = map { /^\s*LoadModule\s+mpm_(\w+)_module/ ? $1 : () } <$cf>;
close $cf;
my $event = ($mpm // '') eq 'event';
print "# MPM: ", $mpm // '?', "\n";
$SIG{ALRM} = sub { die "timed out\n" };

my $FLOOD = 4 * 1024 * 1024;
sub flood_bytes { my $x = ''; $x .= pack('N', $_) for 0 .. $FLOOD / 4 - 1; $x }

# The member: a 101 and "hi\n", then what the last path segment says.
#  echo: echoes each read as it is; at EOF "bye-after-eof", then closes
#  flood: after "go", 4 MiB (32-bit counters) in messages of 15000
#         bytes, 2 ms apart (on /tfastlong/ the tunnel waits as soon as
#         nothing is ready: each reaches the waiting thread)
#  hold: reads and logs until the proxy ends the connection
#  halfclose: shuts down its sending side after 0.3 s, reads and logs
#  rst: "x" after 0.3 s, then resets the connection after 0.3 s more
my $evil = evil_start(sub {
    my ($c, $n, $log) = @_;
    my $req = '';
    while ($req !~ /\r\n\r\n/) { sysread($c, my $b, 1) or return; $req .= $b }
    my ($what) = $req =~ m{^GET \S*/(\w+) };
    $what //= '?';
    syswrite($c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 . "Connection: Upgrade\r\n\r\nhi\n");
    if ($what eq 'echo') {
        while (sysread($c, my $b, 65536)) {
            my $off = 0;
            $off += syswrite($c, $b, length($b) - $off, $off) while $off < length $b;
        }
        syswrite($c, "bye-after-eof");
        return;
    }
    if ($what eq 'flood') {
        my $go = '';
        while (length($go) < 2) { sysread($c, $go, 2, length $go) or return }
        my $all = flood_bytes();
        my $off = 0;
        while ($off < length $all) {
            my $w = syswrite($c, $all, 15000, $off);
            die "flood: $!" unless defined $w;
            $off += $w;
            sleep 0.002;    # one message at a time for the waiting thread
        }
        sysread($c, my $b, 1);      # until the client goes
        return;
    }
    if ($what eq 'rst') {
        sleep 0.3;
        syswrite($c, "x");
        sleep 0.3;
        setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
        close $c;
        return;
    }
    if ($what eq 'halfclose') {
        sleep 0.3;
        shutdown($c, SHUT_WR);
    }
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
    my ($path, $s) = @_;
    $s //= proxy_socket(port => $port);
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

# The pool's status: its tunnels' counters and its member's bytes.
sub pool_status {
    my $j = status_json() or return {};
    my ($p) = grep { $_->{name} eq 'tfast' } @{ $j->{pools} };
    return { %{ $p->{tunnels} // {} },
             bytes_in => $p->{members}[0]{bytes_in} // 0,
             bytes_out => $p->{members}[0]{bytes_out} // 0 };
}

sub delta {
    my ($a, $b, $k) = @_;
    return ($b->{$k} // 0) - ($a->{$k} // 0);
}

# Under event: until the pool has $n tunnels waiting (up to 5 s).
sub wait_parked {
    my ($n) = @_;
    return 1 unless $event;
    for (1 .. 100) {
        return 1 if (pool_status()->{parked} // 0) >= $n;
        sleep 0.05;
    }
    return 0;
}

sub tunnel_closed_counts {
    my ($off) = @_;
    for (1 .. 50) {
        my ($line) = grep { /RP00142: member tfast\/.*tunnel closed/ } split /^/m, error_log_since($off);
        return $line =~ /closed: (\d+) bytes from the client, (\d+) from the member/ if $line;
        sleep 0.1;
    }
    return (-1, -1);
}

my ($s, $got, $eof, $t0, $off, $st0, $st1);

# ---- small messages both ways: moved by the waiting thread ----------------
$off = error_log_size();
$st0 = pool_status();
($s, $got) = open_tunnel('/tfast/echo');
ok t_cmp($got, "101 hi\n", 'echo: tunnel open');
ok t_cmp(wait_parked(1), 1, 'the tunnel waits without a worker (event)');
my $sent = 0;
my $same = 0;
my $mid = pool_status();
for my $i (1 .. 20) {
    my $msg = join '', map { chr(($i * 7 + $_) % 256) } 0 .. 20 + $i * 13;
    write_all($s, $msg);
    $sent += length $msg;
    ($got) = read_until($s, 5, sub { length $_[0] >= length $msg });
    $same++ if $got eq $msg;
}
ok t_cmp($same, 20, '20 binary messages echoed byte for byte');
$st1 = pool_status();
my ($dw, $dk) = (delta($mid, $st1, 'waiter_moves'), delta($mid, $st1, 'worker_wakes'));
print "# waiter moves +$dw, worker wakes +$dk\n";
if ($event) {
    ok t_cmp($dw >= 38 ? 1 : 0, 1, "event: moved by the waiting thread, both ways ($dw of 40)");
    ok t_cmp($dk <= 2 ? 1 : 0, 1, "event: hardly a worker woken ($dk)");
    ok t_cmp($st1->{parked}, 1, 'event: and the tunnel still waits');
}
else {
    ok t_cmp($dw, 0, "$mpm: nothing moved by a waiting thread");
    ok t_cmp($dk, 0, "$mpm: no wake-up");
    ok t_cmp($st1->{parked} // 0, 0, "$mpm: nothing waits");
}

# ---- a message larger than the waiter's buffer: through a worker -----------
my $blob = join '', map { chr(($_ * 31) % 251) } 0 .. 200 * 1024 - 1;
$mid = pool_status();
write_all($s, $blob);
($got) = read_until($s, 15, sub { length $_[0] >= length $blob });
ok($got eq $blob);  # 200 KiB echoed exactly
$sent += length $blob;
ok t_cmp(delta($mid, pool_status(), 'worker_wakes') >= ($event ? 1 : 0) ? 1 : 0, 1,
         'the bulk message took a worker (event)');
ok t_cmp(wait_parked(1), 1, 'and the tunnel waits again (event)');
write_all($s, 'after-bulk');
($got) = read_until($s, 5, sub { length $_[0] >= 10 });
ok t_cmp($got, 'after-bulk', 'a small message after it');
$sent += 10;

# ---- the client half-closes a tunnel the waiter served --------------------
shutdown($s, SHUT_WR);
($got, $eof) = read_until($s, 5, sub { 0 });
ok t_cmp("$got $eof", 'bye-after-eof 1', 'client half-close: the member\'s last bytes, then the end');
close $s;
my ($from_client, $from_member) = tunnel_closed_counts($off);
ok t_cmp($from_client, $sent, 'RP00142: the client\'s bytes, exactly');
ok t_cmp($from_member, 3 + $sent + 13, 'RP00142: the member\'s bytes, exactly');
$st1 = pool_status();
my ($din, $dout) = (delta($st0, $st1, 'bytes_in'), delta($st0, $st1, 'bytes_out'));
print "# status page: bytes_in +$din, bytes_out +$dout\n";
ok t_cmp($din >= $from_member && $din < $from_member + 400 ? 1 : 0, 1,
         'status page: the member\'s bytes_in counts every tunnelled byte (and the 101)');
ok t_cmp($dout >= $from_client && $dout < $from_client + 400 ? 1 : 0, 1,
         'status page: bytes_out too (and the request)');
ok t_cmp($st1->{parked} // 0, 0, 'nothing waits once it ended');

# ---- 4 MiB to a client that stops reading ---------------------------------
$off = error_log_size();
$s = proxy_socket(port => $port);
setsockopt($s, SOL_SOCKET, SO_RCVBUF, 32768);
($s, $got) = open_tunnel('/tfastlong/flood', $s);
ok t_cmp($got, "101 hi\n", 'flood: tunnel open');
wait_parked(1);
write_all($s, 'go');
sleep 3;            # not reading: the proxy's writes to the client fill up
($got, $eof) = read_until($s, 30, sub { length $_[0] >= $FLOOD });
ok t_cmp(length $got, $FLOOD, 'flood: every byte arrives');
ok($got eq flood_bytes());  # and in order
my $pend = count_since($off, qr/RP00320: member tfast\/.*bytes from the member wait to be written by a worker/);
print "# RP00320: $pend\n";
# The member writes 15000 bytes at a time, under the waiting thread's
# 16 KiB; on a loaded machine its writes can pile up, a read then fills
# the buffer and the tunnel goes to a worker as bulk, with no short write
# in the waiting thread to see (seen once). The bytes above are checked
# either way.
if ($event && !$pend) {
    skip("no short write in the waiting thread this run: the member's writes were read as bulk");
}
else {
    ok t_cmp($pend >= ($event ? 1 : 0) ? 1 : 0, 1,
             "flood: the waiting thread left unwritten bytes to a worker (event: $pend)");
}
close $s;
($from_client, $from_member) = tunnel_closed_counts($off);
ok t_cmp($from_member, 3 + $FLOOD, 'flood: RP00142 counts the member\'s bytes exactly');

# ---- the member half-closes, the client sends on ---------------------------
truncate $evil_log, 0;
$off = error_log_size();
($s, $got) = open_tunnel('/tfast/halfclose');
ok t_cmp($got, "101 hi\n", 'member half-close: tunnel open');
($got, $eof) = read_until($s, 5, sub { 0 });
ok t_cmp($eof, 1, 'member half-close: the client sees the end of its bytes');
wait_parked(1);
$mid = pool_status();
write_all($s, 'late');
for (1 .. 20) {     # (well within idle=3s)
    last if !$event || (pool_status()->{waiter_moves} // 0) > ($mid->{waiter_moves} // 0);
    sleep 0.05;
}
sleep 0.2;
shutdown($s, SHUT_WR);
for (1 .. 50) {
    last if grep { /^end halfclose/ } evil_lines($evil_log);
    sleep 0.05;
}
close $s;
my @l = evil_lines($evil_log);
ok t_cmp((grep { /^got halfclose late$/ } @l) ? 1 : 0, 1,
         'member half-close: the client\'s later bytes still reach it');
ok t_cmp((grep { /^end halfclose .* eof$/ } @l) ? 1 : 0, 1, 'and then the client\'s end');
ok t_cmp(delta($mid, pool_status(), 'waiter_moves') >= ($event ? 1 : 0) ? 1 : 0, 1,
         'member half-close: the waiting thread moved them (event)');
($from_client, $from_member) = tunnel_closed_counts($off);
ok t_cmp("$from_client $from_member", '4 3', 'member half-close: RP00142 counts');

# ---- resets from either side ------------------------------------------------
$off = error_log_size();
($s, $got) = open_tunnel('/tfast/rst');
ok t_cmp($got, "101 hi\n", 'member rst: tunnel open');
($got, $eof) = read_until($s, 5, sub { 0 });
ok t_cmp("$got $eof", 'x 1', 'member rst: its byte, then the end');
close $s;
sleep 0.3;
ok t_cmp(count_since($off, qr/RP00140: member tfast\/.*tunnel: member connection failed \(read\)/), 1,
         'member rst: RP00140 as in the synchronous loop');

truncate $evil_log, 0;
$off = error_log_size();
($s, $got) = open_tunnel('/tfast/hold');
ok t_cmp($got, "101 hi\n", 'client rst: tunnel open');
wait_parked(1);
$mid = pool_status();
write_all($s, 'abc');
for (1 .. 20) {     # (well within idle=3s)
    last if !$event || (pool_status()->{waiter_moves} // 0) > ($mid->{waiter_moves} // 0);
    sleep 0.05;
}
sleep 0.3;
setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
close $s;
$t0 = time;
my $ended;
for (1 .. 40) {
    sleep 0.05;
    ($ended) = map { /^end hold (\S+)/ ? $1 : () } evil_lines($evil_log);
    last if $ended;
}
ok t_cmp((grep { /^got hold abc$/ } evil_lines($evil_log)) ? 1 : 0, 1,
         'client rst: the bytes before it reached the member');
ok t_cmp(defined $ended && $ended > $t0 - 0.05 && $ended - $t0 < 1.5 ? 1 : 0, 1,
         'client rst: the member connection is closed at once (not before)');
sleep 0.3;
ok t_cmp(count_since($off, qr/RP00140: member tfast\/.*tunnel: client connection failed \(read\)/)
         + count_since($off, qr/RP00142: member tfast\/.*closed: 3 bytes from the client, 3 from the member/), 2,
         'client rst: RP00140 (read) and RP00142 with the counts');

# ---- idle timeout on a tunnel only the waiter served ---------------------
$off = error_log_size();
($s, $got) = open_tunnel('/tfast/echo');
ok t_cmp($got, "101 hi\n", 'idle: tunnel open');
wait_parked(1);
$mid = pool_status();
my $alive = 0;
for my $i (1 .. 5) {        # 4 s of traffic with idle=3s
    write_all($s, "m$i");
    ($got) = read_until($s, 3, sub { length $_[0] >= 2 });
    $alive++ if $got eq "m$i";
    sleep 0.8 if $i < 5;
}
$t0 = time;
ok t_cmp($alive, 5, 'idle: the tunnel outlives idle= while the waiter moves bytes');
ok t_cmp(delta($mid, pool_status(), 'waiter_moves') >= ($event ? 9 : 0) ? 1 : 0, 1,
         'idle: moved by the waiting thread (event)');
($got, $eof) = read_until($s, 8, sub { 0 });
my $took = time - $t0;
print "# idle close after $took s\n";
ok t_cmp($eof && $took > 2.0 && $took < 5.5 ? 1 : 0, 1,
         'idle: closed idle=3s after the last byte the waiter moved');
close $s;
ok t_cmp(count_since($off, qr/RP00051: member tfast\/.*tunnel idle for 3s; closed/), 1,
         'idle: RP00051 as in the synchronous loop');

# ---- TLS: the worker's path --------------------------------------------------
{
    require IO::Socket::SSL;
    my $ts = IO::Socket::SSL->new(
        PeerAddr => '127.0.0.1', PeerPort => $vars->{mod_ssl_port},
        SSL_ca_file => "$vars->{sslca}/$vars->{sslcaorg}/certs/ca.crt",
        SSL_hostname => 'localhost', SSL_verifycn_name => 'localhost',
        SSL_verifycn_scheme => 'http', Timeout => 10)
        or die "ssl connect: " . IO::Socket::SSL::errstr();
    ($ts, $got) = open_tunnel('/tfast/echo', $ts);
    wait_parked(1);
    $mid = pool_status();
    my $ok = 0;
    for my $i (1 .. 3) {
        print $ts "tls-$i";
        ($got) = read_until($ts, 5, sub { length $_[0] >= 5 });
        $ok++ if $got eq "tls-$i";
        wait_parked(1);
    }
    $st1 = pool_status();
    ok t_cmp($ok, 3, 'https front end: echoed');
    ok t_cmp(delta($mid, $st1, 'waiter_moves') . ' '
             . (delta($mid, $st1, 'worker_wakes') >= ($event ? 3 : 0) ? 'workers' : 'none'),
             '0 workers', 'https front end: every wake-up taken by a worker, none by the waiter');
    close $ts;
}

evil_stop($evil);
