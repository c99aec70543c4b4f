# The copying relay (src/rproxy_relay.c), where a body is not spliced: a
# plain member's sized or close-delimited body is read off its socket in
# blocks of up to 128 KiB, a TLS member's through mod_ssl, and the client
# is handed such blocks. Sized bodies (0 B - 8 MiB, on one keep-alive
# connection), a body through mod_deflate, close-delimited bodies, and
# 5 MiB from a TLS member to a TLS client with mod_deflate on and off
# arrive byte-exact, with the pool's copied counter the body's bytes and
# %b/%O exact; a member that closes or stalls mid-body cuts the client's
# connection after exactly what it sent.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok have_module);
use Apache::TestUtil qw(t_cmp t_debug);
use Digest::MD5 qw(md5_hex);
use IO::Uncompress::Gunzip qw(gunzip);
use Time::HiRes qw(sleep time);
use RPTest qw(read_response proxy_port pattern_chunk proxy_socket write_all
              status_pool error_log_size error_log_since evil_start
              evil_stop read_request_head);

plan tests => 33;

my $host = 'localhost:' . proxy_port();
my $MiB = 1024 * 1024;
my $vars = Apache::Test::vars();
$SIG{ALRM} = sub { die "timed out\n" };

# The pool's body counters (spliced, copied). Given the counts before a
# request and the bytes it moves, waits (up to 10 s) until they moved that
# much: a body is counted when the handler ends, which can be just after
# the client read its last byte.
sub counters {
    my ($pool, $sp0, $cp0, $want) = @_;
    my $until = time + 10;
    while (1) {
        my $p = status_pool($pool) or return (-1, -1);
        my @now = ($p->{body_bytes}{spliced}, $p->{body_bytes}{copied});
        return @now if !defined $want || $now[0] + $now[1] - $sp0 - $cp0 >= $want
                        || time > $until;
        select undef, undef, undef, 0.05;
    }
}

sub get_head {
    my ($path, @h) = @_;
    return join '', "GET $path HTTP/1.1\r\nHost: $host\r\n",
                    map({ "$_\r\n" } @h), "\r\n";
}

sub exchange {
    my ($s, $head) = @_;
    alarm 120;
    write_all($s, $head);
    my @r = read_response($s);
    alarm 0;
    return @r;
}

# the access log lines (rc_log) written since $from bytes, once $n are in
sub rc_log_since {
    my ($from, $n) = @_;
    my $f = "$vars->{t_logs}/rc_log";
    my @l;
    for (1 .. 100) {
        if (open my $fh, '<', $f) {
            seek $fh, $from, 0;
            @l = map { chomp; $_ } <$fh>;
        }
        last if @l >= $n;
        sleep 0.1;
    }
    return @l;
}
sub rc_log_size { return -s "$vars->{t_logs}/rc_log" || 0 }

# ---- sized bodies, plain member: read in blocks, byte-exact -------------

my @sizes = (0, 1, 4096, 70001, 128 * 1024, 128 * 1024 + 1, $MiB, 8 * $MiB + 7);
my ($sp0, $cp0) = counters('rcopy');
my $log0 = rc_log_size();
my $s = proxy_socket();
my ($all_ok, $total, @heads) = (1, 0);
for my $len (@sizes) {
    my ($st, $h, $body, $head) = exchange($s, get_head("/rcopy/?size=$len&chunked=0"));
    my $ok = ($st // 0) == 200 && length($body) == $len
             && ($h->{'content-length'}[0] // -1) == $len
             && md5_hex($body) eq md5_hex(pattern_chunk($len));
    t_debug("size $len: " . ($ok ? 'ok' : 'BAD ' . length($body // '')));
    $all_ok &&= $ok;
    push @heads, length($head // '');
    $total += $len;
}
ok t_cmp($all_ok, 1, 'sized bodies of 0 B to 8 MiB, copied, arrive whole and exact');
my ($st, $h, $body) = exchange($s, get_head("/rcopy/?size=10&chunked=0"));
ok t_cmp($body, pattern_chunk(10), 'the connection carries the next request');
close $s;
my ($sp1, $cp1) = counters('rcopy', $sp0, $cp0, $total + 10);
ok t_cmp($sp1 - $sp0, 0, 'nothing spliced');
ok t_cmp($cp1 - $cp0, $total + 10, 'copied = the body bytes the member sent');
my @lines = grep { m{^/rcopy/\?size=\d+&chunked=0 } } rc_log_since($log0, @sizes + 1);
my $exact = @lines == @sizes + 1;
for my $i (0 .. $#sizes) {
    my ($b, $o) = ($lines[$i] // '') =~ /^\S+ 200 (\S+) (\d+)$/;
    $b = 0 if ($b // '') eq '-';
    $exact &&= defined $o && $b == $sizes[$i] && $o == $sizes[$i] + $heads[$i];
    t_debug('log: ' . ($lines[$i] // '-') . " head $heads[$i]");
}
ok t_cmp($exact, 1, '%b is the body, %O the head and the body');

# a chunked body through the same relay (HTTP_IN de-chunks it)
($sp0, $cp0) = counters('rcopy');
$s = proxy_socket();
($st, $h, $body) = exchange($s, get_head("/rcopy/?size=" . (3 * $MiB + 5) . "&chunked=1"));
ok t_cmp(md5_hex($body), md5_hex(pattern_chunk(3 * $MiB + 5)), 'chunked 3 MiB exact');
close $s;
($sp1, $cp1) = counters('rcopy', $sp0, $cp0, 3 * $MiB + 5);
ok(($cp1 - $cp0) >= 3 * $MiB + 5);      # with the chunk framing

# ---- mod_deflate on the route ---------------------------------------------

($sp0, $cp0) = counters('rcdeflate');
$s = proxy_socket();
($st, $h, $body) = exchange($s, get_head("/rcdeflate/?size=" . (5 * $MiB) . "&chunked=0",
                                         'Accept-Encoding: gzip'));
ok t_cmp($h->{'content-encoding'}[0] // '', 'gzip', 'deflate: compressed');
my $plain;
gunzip(\$body => \$plain);
ok t_cmp(md5_hex($plain // ''), md5_hex(pattern_chunk(5 * $MiB)), 'deflate: 5 MiB exact once inflated');
close $s;
($sp1, $cp1) = counters('rcdeflate', $sp0, $cp0, 5 * $MiB);
ok t_cmp(($sp1 - $sp0) . ' ' . ($cp1 - $cp0), '0 ' . 5 * $MiB, 'deflate: all of it copied');

# ---- a scripted member: close-delimited, breaking off, stalling ------------

my $CLOSE_LEN = 2 * $MiB + 3;
my $member = evil_start(sub {
    my ($c) = @_;
    my (undef, $target) = read_request_head($c);
    $target //= '';
    if ($target =~ m{^/close}) {
        syswrite $c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n";
        write_all($c, pattern_chunk($CLOSE_LEN));
        return;
    }
    if ($target =~ m{^/stall}) {
        syswrite $c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                   . "Content-Length: $MiB\r\n\r\n";
        write_all($c, pattern_chunk(100 * 1024));
        sleep 5;
        return;
    }
    if ($target =~ m{^/break}) {
        syswrite $c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                   . "Content-Length: " . (4 * $MiB) . "\r\n\r\n";
        write_all($c, pattern_chunk($MiB));
        sleep 0.2;
        return;
    }
});

for my $v ('1.0', '1.1') {
    ($sp0, $cp0) = counters('rcevil');
    $s = proxy_socket();
    alarm 60;
    write_all($s, "GET /rcevil/close HTTP/$v\r\nHost: $host\r\n\r\n");
    ($st, $h, $body) = read_response($s);
    alarm 0;
    ok t_cmp(md5_hex($body // ''), md5_hex(pattern_chunk($CLOSE_LEN)),
             "close-delimited to HTTP/$v: whole and exact");
    ($sp1, $cp1) = counters('rcevil', $sp0, $cp0, $CLOSE_LEN);
    ok t_cmp(($sp1 - $sp0) . ' ' . ($cp1 - $cp0), "0 $CLOSE_LEN", "HTTP/$v: copied, counted");
    close $s;
}

my $errlog = error_log_size();
$s = proxy_socket();
alarm 60;
write_all($s, get_head('/rcevil/break'));
($st, $h, $body) = read_response($s);
my $eof = !sysread($s, my $more, 1);
alarm 0;
ok t_cmp("$st " . ($h->{'content-length'}[0] // ''), '200 ' . 4 * $MiB,
         'member breaks off: the head went out with the declared length');
ok t_cmp(length $body, $MiB, 'the client got what the member sent');
ok(md5_hex($body) eq md5_hex(pattern_chunk($MiB)));
ok t_cmp($eof, 1, 'and the connection closed before the declared length');
for (1 .. 50) { last if error_log_since($errlog) =~ /RP00040/; sleep 0.1 }
ok(error_log_since($errlog) =~ /RP00040/);
close $s;

$errlog = error_log_size();
$s = proxy_socket();
alarm 60;
my $t_start = time;
write_all($s, get_head('/rcevil/stall'));
($st, $h, $body) = read_response($s);
$eof = !sysread($s, $more, 1);
my $t_took = time - $t_start;
alarm 0;
ok t_cmp(length($body) . " $eof", 100 * 1024 . " 1", 'member stalls: cut after what it sent');
ok t_cmp($t_took >= 1.5 && $t_took < 10 ? 1 : 0, 1, "after idle= ($t_took s)");
for (1 .. 50) { last if error_log_since($errlog) =~ /RP00040/; sleep 0.1 }
ok(error_log_since($errlog) =~ /\(70007\)[^\n]*RP00040/);
close $s;
evil_stop($member);

# ---- TLS: 5 MiB from a TLS member to a TLS client, deflate off and on -------

sub tls_socket {
    my $t = IO::Socket::SSL->new(PeerAddr => '127.0.0.1',
                                 PeerPort => $vars->{mod_ssl_port},
                                 SSL_verify_mode => 0, Timeout => 10)
        or die "ssl connect: " . IO::Socket::SSL::errstr();
    return $t;
}

if (have_module('ssl') && eval { require IO::Socket::SSL; 1 }) {
    my $len = 5 * $MiB + 3;
    # the member over TLS, the client over TLS; then a plain member to
    # the TLS client
    for my $case (['rctls', 'TLS member to TLS client'],
                  ['rcopy', 'plain member to TLS client']) {
        my ($pool, $label) = @$case;
        ($sp0, $cp0) = counters($pool);
        my $t = tls_socket();
        ($st, $h, $body) = exchange($t, get_head("/$pool/?size=$len&chunked=0"));
        ok t_cmp(($st // 0) . ' ' . md5_hex($body // ''), '200 ' . md5_hex(pattern_chunk($len)),
                 "$label: 5 MiB exact");
        # and a chunked one on the same connection
        ($st, $h, $body) = exchange($t, get_head("/$pool/?size=$len&chunked=1"));
        ok t_cmp(md5_hex($body // ''), md5_hex(pattern_chunk($len)), "$label: chunked, exact");
        close $t;
        ($sp1, $cp1) = counters($pool, $sp0, $cp0, 2 * $len);
        ok t_cmp($sp1 - $sp0, 0, "$label: nothing spliced");
        ok(($cp1 - $cp0) >= 2 * $len && ($cp1 - $cp0) < 2 * $len + 64 * 1024)
            or t_debug("copied " . ($cp1 - $cp0));
    }
    ($sp0, $cp0) = counters('rctlsdeflate');
    my $t = tls_socket();
    ($st, $h, $body) = exchange($t, get_head("/rctlsdeflate/?size=$len&chunked=0",
                                             'Accept-Encoding: gzip'));
    close $t;
    ok t_cmp($h->{'content-encoding'}[0] // '', 'gzip', 'TLS both sides, deflate: compressed');
    gunzip(\$body => \$plain);
    ok t_cmp(md5_hex($plain // ''), md5_hex(pattern_chunk($len)),
             'TLS both sides, deflate: 5 MiB exact once inflated');
    ($sp1, $cp1) = counters('rctlsdeflate', $sp0, $cp0, $len);
    ok t_cmp(($sp1 - $sp0) . ' ' . ($cp1 - $cp0), "0 $len", 'TLS, deflate: copied, counted');
}
else {
    ok(1) for 1 .. 11;
}
