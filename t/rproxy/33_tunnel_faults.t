# Upgrade tunnels with hostile or broken peers: a member or a client that
# resets its connection ends the tunnel at once (no busy loop, nothing
# held open), a half-close in either direction still lets the other
# direction finish, and the idle timeout fires when nothing moves although
# one side is done. The route is /evil/ (pool evil: idle=2s).
use strict;
# `make test-asan` preloads the sanitizer runtime for httpd through the
# environment; the clients this test runs (curl, python3) are not ours to
# sanitize, and curl hangs with it preloaded
BEGIN { delete $ENV{LD_PRELOAD} }
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestUtil qw(t_cmp);
use Socket qw(SOL_SOCKET SO_LINGER SHUT_WR);
use Time::HiRes qw(time sleep);
use Digest::SHA ();
use MIME::Base64 ();
use RPTest qw(read_response proxy_port evil_start evil_stop proxy_socket
              evil_log raw_http read_until error_log_size error_log_since
              evil_lines);

plan tests => 37;

my $port = proxy_port();
my $logs = Apache::Test::vars('t_logs');
$SIG{ALRM} = sub { die "timed out\n" };

sub rst_close {
    my ($s) = @_;
    setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    close $s;
}

# A WebSocket member as RFC 6455 has it: a GET with "Upgrade: websocket"
# gets a 101 with the right Sec-WebSocket-Accept, then an echo; any other
# request a 426. It logs the handshake headers it was sent.
sub ws_member {
    my ($c, $log, $path, $req) = @_;
    my %h = map { /^([^:]+):\s*(.*?)\s*$/ ? (lc $1, $2) : () } split /\r\n/, $req;
    evil_log($log, "ws $path upgrade=" . ($h{upgrade} // '-') . " connection="
                   . ($h{connection} // '-') . " key=" . ($h{'sec-websocket-key'} ? 1 : 0));
    if (lc($h{upgrade} // '') ne 'websocket' || !$h{'sec-websocket-key'}) {
        print $c "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\n"
                 . "Content-Length: 0\r\nConnection: close\r\n\r\n";
        return;
    }
    my $accept = MIME::Base64::encode_base64(Digest::SHA::sha1(
        $h{'sec-websocket-key'} . '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'), '');
    syswrite($c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 . "Connection: Upgrade\r\nSec-WebSocket-Accept: $accept\r\n\r\n");
    while (sysread($c, my $b, 4096)) {
        syswrite($c, "echo:$b");
        return if $b eq 'bye';      # and closes
    }
}

# The member: answers the upgrade with a 101 and then does what the path
# says, logging what it sees (with times) for the test to check.
my $evil = evil_start(sub {
    my ($c, $n, $log) = @_;
    my $req = '';
    while ($req !~ /\r\n\r\n/) { sysread($c, my $b, 1) or return; $req .= $b }
    my ($path) = $req =~ m{^GET /(?:evil/)?(\S+)};
    evil_log($log, "peer " . $c->peerport . " $path");
    return ws_member($c, $log, $path, $req) if $path =~ m{(^|/)ws$};
    syswrite($c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 . "Connection: Upgrade\r\n\r\nhi-from-member\n");
    if ($path eq 'rst') {           # resets while the client stays
        sleep 0.3;
        rst_close($c);
        return;
    }
    if ($path eq 'halfclose') {     # done sending, still reading
        shutdown($c, SHUT_WR);
    }
    # read and log until the proxy ends the connection, then stay silent
    # (a member that does not close on its own)
    my $got = '';
    while (1) {
        my $r = sysread($c, my $b, 4096);
        if (!$r) {
            evil_log($log, "got $path $got");
            evil_log($log, sprintf("end $path %.3f %s", time,
                                   defined $r ? 'eof' : 'error'));
            last;
        }
        $got .= $b;
    }
    sleep 8;
});

my $evil_port = Apache::Test::vars('ext_backend_port');
my $evil_log = "$logs/evil.$evil_port.log";

sub open_tunnel {
    my ($path) = @_;
    my $s = proxy_socket(port => $port);
    alarm 20;
    print $s "GET /evil/$path HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n"
           . "Upgrade: websocket\r\n\r\n";
    my ($st) = read_response($s, 1);
    my ($got) = read_until($s, 5, sub { $_[0] =~ /\n/ });
    alarm 0;
    return ($s, "$st $got");
}

# CPU seconds (user + system) used so far by the server's children.
sub children_cpu {
    open my $fh, '<', "$logs/httpd.pid" or die "httpd.pid: $!";
    chomp(my $parent = <$fh>);
    my $ticks = 0;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $sf, '<', $stat or next;
        my $line = <$sf> // next;
        # the name may hold spaces: the fields after it are fixed
        my @f = split ' ', substr($line, rindex($line, ')') + 2);
        next unless $f[1] == $parent;           # ppid
        $ticks += $f[11] + $f[12];              # utime + stime
    }
    return $ticks / 100;                        # USER_HZ
}

# Is the proxy's end of a TCP connection (local port $lport, peer port
# $rport) still held open by the server (its socket has an inode)? An
# orphan left in FIN-WAIT after close() has inode 0.
sub proxy_holds {
    my ($lport, $rport) = @_;
    open my $fh, '<', '/proc/net/tcp' or die "/proc/net/tcp: $!";
    <$fh>;
    while (<$fh>) {
        my @f = split;
        my ($l) = $f[1] =~ /:([0-9A-F]{4})$/;
        my ($r) = $f[2] =~ /:([0-9A-F]{4})$/;
        return 1 if hex($l) == $lport && hex($r) == $rport && $f[9];
    }
    return 0;
}

sub released_within {
    my ($secs, $lport, $rport) = @_;
    my $until = time + $secs;
    while (time < $until) {
        return 1 unless proxy_holds($lport, $rport);
        sleep 0.05;
    }
    return 0;
}

# how many lines the error_log got from offset $off on that match $re
sub logged_since {
    my ($off, $re) = @_;
    return scalar grep { /$re/ } split /^/m, error_log_since($off);
}

sub next_request_works {
    my ($s, $st, $h, $body) = raw_http("GET /b1/?count=1 HTTP/1.1\r\nHost: localhost\r\n"
                                       . "Connection: close\r\n\r\n");
    return "$st $body";
}

my ($s, $got, $eof, $t0, $cpu, @l);
my $log_off = error_log_size();

# ---- the member resets; the client keeps its side open -----------------
($s, $got) = open_tunnel('rst');
ok t_cmp($got, "101 hi-from-member\n", 'rst: tunnel open, member\'s bytes delivered');
$t0 = time;
($got, $eof) = read_until($s, 5, sub { 0 });
ok t_cmp($eof, 1, 'rst: the client sees the end');
ok time - $t0 < 2;
ok t_cmp(released_within(1.5, $port, $s->sockport), 1,
         'rst: the proxy closed the client connection (not just half-closed it)');
$cpu = children_cpu();
sleep 3;                # the client still holds its end
$cpu = children_cpu() - $cpu;
print "# CPU of the children over 3 s after the reset: $cpu s\n";
ok $cpu < 0.5;
close $s;
ok t_cmp(logged_since($log_off, qr/RP00140: .*tunnel: member connection failed \(read\)/), 1,
         'rst: one tagged line says the member connection failed');
ok t_cmp(next_request_works(), "200 backend=b1\n", 'rst: the next request works');

# ---- the client resets; the member stays -------------------------------
$log_off = error_log_size();
($s, $got) = open_tunnel('hold');
ok t_cmp($got, "101 hi-from-member\n", 'client rst: tunnel open');
print $s "abc";
sleep 0.3;
rst_close($s);
$t0 = time;
sleep 1;
@l = evil_lines($evil_log);
my ($peer) = map { /^peer (\d+) hold$/ ? $1 : () } @l;
ok t_cmp((grep { /^got hold abc$/ } @l) ? 1 : 0, 1,
         'client rst: bytes sent before the reset reached the member');
my ($end) = map { /^end hold (\S+)/ ? $1 : () } @l;
ok defined $end && $end - $t0 < 1;
ok t_cmp(released_within(1, $peer, $evil_port), 1,
         'client rst: the proxy closed the member connection');
$cpu = children_cpu();
sleep 3;
$cpu = children_cpu() - $cpu;
print "# CPU of the children over 3 s after the client's reset: $cpu s\n";
ok $cpu < 0.5;
ok t_cmp(logged_since($log_off, qr/RP00140: .*tunnel: client connection failed \(read\)/), 1,
         'client rst: one tagged line says the client connection failed');
ok t_cmp(next_request_works(), "200 backend=b1\n", 'client rst: the next request works');

# ---- the member half-closes: the client's direction still works --------
($s, $got) = open_tunnel('halfclose');
ok t_cmp($got, "101 hi-from-member\n", 'member half-close: tunnel open');
($got, $eof) = read_until($s, 5, sub { 0 });
ok t_cmp("[$got] $eof", '[] 1', 'member half-close: the client sees EOF');
print $s "after-eof";
shutdown($s, SHUT_WR);
sleep 1;
@l = evil_lines($evil_log);
ok t_cmp((grep { /^got halfclose after-eof$/ } @l) ? 1 : 0, 1,
         'member half-close: the client\'s later bytes still reach the member');
ok t_cmp((grep { /^end halfclose \S+ eof$/ } @l) ? 1 : 0, 1,
         'and its half-close after them');
close $s;

# ---- the client half-closes: the member's direction still works --------
# (31_upgrade.t: the member answers after the client's half-close)

# ---- one side done, the other silent: the idle timeout fires -----------
$log_off = error_log_size();
($s, $got) = open_tunnel('halfclose');
($got, $eof) = read_until($s, 5, sub { 0 });
$t0 = time;
ok t_cmp("$eof", '1', 'idle: the member is done sending');
sleep 3.5;              # idle=2s; the client sends nothing, keeps its end
@l = evil_lines($evil_log);
my @ends = map { /^end halfclose (\S+) eof$/ ? $1 : () } @l;
ok t_cmp(scalar @ends, 2, 'idle: the member connection was closed');
ok $ends[-1] - $t0 > 1.5 && $ends[-1] - $t0 < 3.5;
($peer) = (map { /^peer (\d+) halfclose$/ ? $1 : () } @l)[-1];
ok t_cmp(proxy_holds($port, $s->sockport) || proxy_holds($peer, $evil_port), 0,
         'idle: neither connection is held by the proxy');
ok t_cmp(logged_since($log_off, qr/RP00051: member evil\/[^ ]+ tunnel idle for 2s; closed/), 1,
         'idle: the tagged idle line');
close $s;
ok t_cmp(next_request_works(), "200 backend=b1\n", 'idle: the next request works');
# ---- HTTP/2 front end: WebSockets over h2 (RFC 8441) ---------------------
# mod_http2 turns an extended CONNECT into a GET with "Upgrade: websocket"
# on a secondary connection whose socket is not its own: the tunnel must
# wait on the stream's own descriptor, never on (or shut down) a socket,
# and end the stream, not the client's HTTP/2 connection.
my $h2port = Apache::Test::vars('h2ws_port');
my $h2why = !$h2port ? 'mod_http2 not loaded'
          : system('/usr/bin/python3 -c "import h2" 2>/dev/null') ? 'python3-h2 not installed'
          : '';
my %r;
$log_off = error_log_size();
$cpu = undef;
if (!$h2why) {
    open my $py, '-|', '/usr/bin/python3', 't/h2ws_client.py', $h2port,
         '/h2ws/ws', '/b1/?count=1', 5 or die "python3: $!";
    while (my $line = <$py>) {
        chomp $line;
        my ($k, $v) = $line =~ /^(\S+) ?(.*)$/ or next;
        $r{$k} = $v;
        if ($k eq 'ws-data') {      # the tunnel is open and nothing moves
            $cpu = children_cpu();
            sleep 1.5;
            $cpu = children_cpu() - $cpu;
        }
    }
    close $py;
    print "# h2 client: ", join(', ', map { "$_=$r{$_}" } sort keys %r), "\n";
    print "# CPU of the children over 1.5 s of an idle h2 tunnel: ", $cpu // '-', " s\n";
}
# skipped where the server offers no extended CONNECT (mod_http2 missing,
# or a build without H2WebSockets); under prefork it warns but works
my $skip = $h2why || (($r{'settings-connect-protocol'} // '') eq '1' ? ''
                      : 'h2 with extended CONNECT not offered by this server');
my @member = grep { /^ws ws / } evil_lines($evil_log);
Apache::Test::skip($skip, $r{'settings-connect-protocol'}, '1',
                   'h2: the server offers extended CONNECT');
Apache::Test::skip($skip, $r{'ws-status'}, '200', 'h2: the WebSocket is accepted');
Apache::Test::skip($skip, "@member", 'ws ws upgrade=websocket connection=Upgrade key=1',
                   'h2: the member got the HTTP/1.1 handshake');
Apache::Test::skip($skip, $r{'ws-data'}, 'echo:ping', 'h2: bytes go both ways');
Apache::Test::skip($skip, ($cpu // 9) < 0.3 ? 1 : 0, 1,
                   'h2: an open, idle tunnel does not spin');
# the end of the response, then RST_STREAM(NO_ERROR): "stop sending"
my $after = $r{'ws-end-after'} // 0;
Apache::Test::skip($skip, ($r{'ws-end'} // '') . ($after > 1.5 && $after < 3.5 ? ' at idle=2s' : " after $after s"),
                   qr/^ended(,reset:0)? at idle=2s$/, 'h2: the idle timeout ends the stream');
Apache::Test::skip($skip, logged_since($log_off, qr/RP00051: /), 1,
                   'h2: with the tagged idle line');
Apache::Test::skip($skip, ($r{'get-status'} // '') . ' ' . ($r{'get-body'} // '')
                   . ' ' . ($r{closed} // 'open'), '200 backend=b1 open',
                   'h2: the client\'s connection goes on serving streams');
Apache::Test::skip($skip, logged_since($log_off, qr/RP00143|RP00144/), 0,
                   'h2: this httpd can poll the stream: no refusal');
# the member closes: the stream ends at once, the connection goes on
%r = ();
$log_off = error_log_size();
if (!$skip) {
    for (`/usr/bin/python3 t/h2ws_client.py $h2port /h2ws/ws /b1/?count=1 5 bye 2>&1`) {
        chomp;
        my ($k, $v) = /^(\S+) ?(.*)$/ or next;
        $r{$k} = $v;
    }
    print "# h2 client: ", join(', ', map { "$_=$r{$_}" } sort keys %r), "\n";
}
Apache::Test::skip($skip, "$r{'ws-status'} $r{'ws-data'}", '200 echo:bye',
                   'h2, member closes: its last bytes delivered');
Apache::Test::skip($skip, $r{'ws-end'}, qr/^ended(,reset:0)?$/,
                   'h2, member closes: the stream ends');
Apache::Test::skip($skip, ($r{'ws-end-after'} // 9) < 1 ? 1 : 0, 1,
                   'h2, member closes: at once, not at the idle timeout');
Apache::Test::skip($skip, ($r{'get-status'} // '') . ' ' . ($r{'get-body'} // '')
                   . ' ' . ($r{closed} // 'open'), '200 backend=b1 open',
                   'h2, member closes: the connection goes on');
evil_stop($evil);
