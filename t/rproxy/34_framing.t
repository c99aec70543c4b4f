# One request in, one request out (issue 7): the framing cases where a
# member's connection could carry something other than the request sent,
# or a response could reach the client cut or mixed up. The member here
# parses every request strictly and logs what it parsed, per connection,
# so that the tests can say exactly what it saw.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use Socket ();
use Time::HiRes qw(time sleep);
use RPTest qw(evil_start evil_stop evil_log proxy_socket read_response
              pattern_chunk read_n read_request_head read_request_body
              respond status_member error_log_size error_log_since
              evil_lines);

plan tests => 30;

sub esc { my $s = shift; $s =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ge; $s }

# The scripted member: what it does depends on the path.
my $member_script = sub {
    my ($c, $conn, $log) = @_;
    $c->autoflush(1);
    my $req = 0;
    while (my ($m, $t, $h) = read_request_head($c)) {
        $req++;
        my $path = $t;
        if ($path =~ m{^/early}) {
            # answers before the body, then reads the body it was promised
            # from whatever comes next on the connection
            evil_log($log, "req $conn.$req $m $t (head only)");
            respond($c, '401 Unauthorized', 'no', 'WWW-Authenticate: Basic');
            my $len = $h->{'content-length'} // 0;
            my $swallowed = read_n($c, $len);
            evil_log($log, "swallowed $conn " . esc($swallowed));
            next;
        }
        if ($path =~ m{^/partial}) {
            if ($req > 1) {
                evil_log($log, "req $conn.$req $m $t (head only, then reset)");
                sleep 0.5;
                return;
            }
        }
        my ($body) = read_request_body($c, $h);
        if (length($body) < ($h->{'content-length'} // 0)) {
            evil_log($log, "partial $conn.$req $m $t len=" . length $body);
            return;
        }
        evil_log($log, "req $conn.$req $m $t body=" . esc(substr $body, 0, 200));
        if ($path =~ m{^/close(10)?/(\d+)}) {
            my ($v, $n) = ($1 ? '1.0' : '1.1', $2);
            print $c "HTTP/$v 200 OK\r\nContent-Type: text/plain\r\n\r\n";
            my $data = pattern_chunk($n);
            while (length $data) {
                print $c substr($data, 0, 7000, '');
                sleep 0.002;
            }
            return;
        }
        if ($path =~ m{^/flood/(\d+)}) {
            my $link = 'Link: </' . ('s' x 1000) . ".css>; rel=preload\r\n";
            for (1 .. $1) {
                print $c "HTTP/1.1 103 Early Hints\r\n$link\r\n" or last;
            }
            respond($c, '200 OK', 'after-flood');
            next;
        }
        if ($path =~ m{^/stray}) {
            # a 204 with a response behind it, in the same write
            print $c "HTTP/1.1 204 No Content\r\n\r\n"
                   . "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled";
            next;
        }
        if ($path =~ m{^/slowbody}) {
            print $c "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
            for (1 .. 10) { sleep 0.1; print $c 'x' }
            next;
        }
        respond($c, '200 OK', "answer $conn.$req $path");
    }
};
my $member = evil_start($member_script,
                        port => Apache::Test::vars('framing_port'));
my $mlog = $member->{log};

sub member_lines { return evil_lines($mlog) }
sub reset_member_log { open my $fh, '>', $mlog; close $fh }

# ---- Expect: 100-continue answered early -----------------------------------
# The member answers 401 before the body and then reads the promised 40
# bytes from its connection. Had the proxy kept that connection, the next
# request on it (a victim from another client) would be eaten as that
# body.
reset_member_log();
my $smuggle = "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n";
$smuggle .= 'z' x (40 - length $smuggle);
my $early = proxy_socket();
print $early "POST /framing/early HTTP/1.1\r\nHost: localhost\r\n"
       . "Expect: 100-continue\r\nContent-Length: 40\r\n\r\n";
my ($st, $h) = read_response($early);
ok t_cmp($st, 401, 'early final answer to Expect relayed');
ok t_cmp(lc(($h->{connection} // [''])->[0]), 'close',
         'the client connection, still owing its body, is closed');
# a client that sends its body anyway: it never becomes a request
print $early $smuggle;
close $early;
my $v = proxy_socket();
print $v "GET /framing/victim HTTP/1.1\r\nHost: localhost\r\n\r\n";
my ($vst, undef, $vbody) = read_response($v);
close $v;
ok t_cmp($vst, 200, 'the victim on another connection is served');
ok t_cmp($vbody // '', qr{^answer \d+\.1 /victim$},
         'by a fresh member connection, as its own request');
my @ml = member_lines();
ok t_cmp(scalar(grep { m{/admin} } @ml), 0, 'the member never parsed /admin');
ok t_cmp(scalar(grep { /^swallowed/ && /victim/ } @ml), 0,
         'no byte of the victim was read as the early request\'s body');

# ---- close-delimited response bodies ---------------------------------------
# No length, no chunking: the member's close ends the body. Every one must
# arrive whole, properly ended, on a client connection that goes on.
my $off = error_log_size();
my ($whole, $next_ok) = (0, 0);
for my $i (1 .. 6) {
    my $s = proxy_socket();
    print $s "GET /framing/close/100000 HTTP/1.1\r\nHost: localhost\r\n\r\n";
    my ($cst, $ch, $cbody) = read_response($s);
    $whole++ if ($cst // 0) == 200 && ($cbody // '') eq pattern_chunk(100000);
    print $s "GET /framing/next HTTP/1.1\r\nHost: localhost\r\n\r\n";
    my ($nst, undef, $nbody) = read_response($s);
    $next_ok++ if ($nst // 0) == 200 && ($nbody // '') =~ m{/next$};
    close $s;
}
ok t_cmp($whole, 6, 'close-delimited body: 6 of 6 whole');
ok t_cmp($next_ok, 6, 'and the client connection carries the next request');
my $s10 = proxy_socket();
print $s10 "GET /framing/close10/30000 HTTP/1.0\r\nHost: localhost\r\n\r\n";
my ($c10, undef, $b10) = read_response($s10);
close $s10;
ok t_cmp(($c10 // 0) . ' ' . length($b10 // ''), '200 30000',
         'HTTP/1.0 member, HTTP/1.0 client: the whole body');
ok t_cmp(scalar(() = error_log_since($off) =~ /RP00040/g), 0,
         'no "response body broken off" for a close-delimited body');

# ---- interim responses are bounded ------------------------------------------
# Private memory (RssAnon, KiB) of each child of the test server, by PID:
# the heap an unbounded relay would grow. Not VmRSS, which also counts
# shared pages a child touches for the first time (library code, the
# shared-memory segment and its per-second history), which says nothing
# about the cap; a full prefork run once saw VmRSS grow past 1 MiB so.
sub child_rss {
    my $ppid = do {
        open my $fh, '<', Apache::Test::vars('t_logs') . '/httpd.pid' or return {};
        local $/; my $p = <$fh>; $p =~ s/\s+//g; $p;
    };
    my %rss;
    for my $st (glob '/proc/[0-9]*/status') {
        open my $fh, '<', $st or next;
        my $t = do { local $/; <$fh> };
        next unless $t =~ /^PPid:\s+$ppid$/m;
        my ($pid) = $st =~ m{/proc/(\d+)/};
        ($rss{$pid}) = $t =~ /^RssAnon:\s+(\d+)/m;
    }
    return \%rss;
}
my $rss0 = child_rss();
$off = error_log_size();
my $f = proxy_socket();
print $f "GET /framing/flood/20000 HTTP/1.1\r\nHost: localhost\r\n\r\n";
my ($interim, $final) = (0, undef);
while (my ($fst) = read_response($f)) {
    if ($fst == 103) { $interim++; next }
    $final = $fst;
    last;
}
close $f;
my $rss1 = child_rss();
my ($grew) = sort { $b <=> $a } map { ($rss1->{$_} // 0) - $rss0->{$_} }
                                   grep { $rss1->{$_} } keys %$rss0;
print "# the most a child grew: ", $grew // 0, " KiB\n";
ok t_cmp(($grew // 0) < 1024 ? 'bounded' : "grew $grew KiB", 'bounded',
         'no child grew by 1 MiB or more (2.0 MiB of heap without the cap)');
ok t_cmp($final, 502, '20000 interim responses: 502');
ok $interim <= 16;
print "# $interim interim responses relayed\n";
ok t_cmp(error_log_since($off), qr/RP00122: member framing\/[^:]+:\d+: more than 16 interim/,
         'logged with a tag');
ok t_cmp(GET('/framing/after')->code, 200, 'the next request is served');

# ---- stray bytes behind a response -------------------------------------------
# A 204 with a whole response behind it: the connection is not kept, and
# the next request gets its own answer, never "smuggled".
reset_member_log();
$off = error_log_size();
my $sx = proxy_socket();
print $sx "GET /framing/stray HTTP/1.1\r\nHost: localhost\r\n\r\n";
my ($sst) = read_response($sx);
print $sx "GET /framing/after-stray HTTP/1.1\r\nHost: localhost\r\n\r\n";
my ($ast, undef, $abody) = read_response($sx);
close $sx;
ok t_cmp($sst, 204, '204 relayed');
ok t_cmp($ast, 200, 'next request');
ok t_cmp($abody // '', qr{^answer \d+\.1 /after-stray$},
         'answered by a new member connection with its own response');
ok t_cmp(error_log_since($off), qr/RP00123: member framing\/[^:]+:\d+: bytes or a close behind/,
         'the connection was dropped when the response ended');

# ---- latency samples end at the response head ----------------------------------
my $before = status_member('framing');
my $t0 = time;
my $sb = GET '/framing/slowbody';
my $took = time - $t0;
ok t_cmp($sb->content, 'x' x 10, 'slow body relayed');
ok $took >= 0.9;
my $after;
for (1 .. 50) {
    $after = status_member('framing');
    last if $after->{requests} > $before->{requests};
    sleep 0.05;
}
my @d = map { $after->{latency_histogram}{counts}[$_]
              - $before->{latency_histogram}{counts}[$_] } 0 .. 13;
# buckets: 1 2 5 10 25 50 100 250 500 1000 2500 ...; index 7 is <= 250 ms
my $fast = 0;
$fast += $d[$_] for 0 .. 7;
ok t_cmp($fast, 1, 'the sample is the time to the head (<= 250 ms), '
                   . 'not the 1 s of body transfer');
ok t_cmp(($after->{latency_histogram}{sum_us} - $before->{latency_histogram}{sum_us}) < 250000
         ? 'short' : 'long', 'short', 'sum of samples grew by under 250 ms');

# ---- a request that must not be repeated goes at most once -------------------
# On a pooled connection the member reads the head of a POST and then
# resets the connection without reading its body. The POST is not sent
# again (the member may have acted on it): 502.
# That member takes a few KiB at a time (tiny_window), so the proxy's
# write of the head and its 64 KiB prefetch is only partly taken when the
# reset comes.
my $tiny = evil_start($member_script, port => Apache::Test::vars('framing2_port'),
                      tiny_window => 1);
my $p = proxy_socket();
print $p "GET /framing2/warm HTTP/1.1\r\nHost: localhost\r\n\r\n";
my ($wst) = read_response($p);
my $post = 'p' x 200000;
print $p "POST /framing2/partial HTTP/1.1\r\nHost: localhost\r\n"
       . "Content-Length: " . length($post) . "\r\n\r\n$post";
my ($pst) = read_response($p);
close $p;
evil_stop($tiny);
my @tl = evil_lines($tiny->{log});
print "# member: $_\n" for map { substr $_, 0, 60 } @tl;
ok t_cmp($wst, 200, 'warm-up request');
ok t_cmp($pst, 502, 'the POST whose connection broke under it: 502');
ok t_cmp(scalar(grep { m{POST /partial} } @tl), 1,
         'the member saw the POST once');

# ---- a client that resets in the middle of its body ---------------------------
# The member must see its connection end with the body short, never a
# request that looks whole; the proxy logs it and serves the next one.
reset_member_log();
$off = error_log_size();
my $u = proxy_socket();
print $u "POST /framing/upload HTTP/1.1\r\nHost: localhost\r\n"
       . "Content-Length: 1000000\r\n\r\n" . ('u' x 150000);
sleep 0.3;
setsockopt($u, Socket::SOL_SOCKET(), Socket::SO_LINGER(), pack('II', 1, 0));
close $u;
my $up;
for (1 .. 50) {
    last if ($up) = grep { m{/upload} } member_lines();
    sleep 0.05;
}
ok t_cmp($up // '', qr{^partial \d+\.\d+ POST /upload len=\d+$},
         'the member saw the body break off, not a whole request');
ok t_cmp(error_log_since($off), qr/RP00124: member framing\/[^:]+:\d+: the client's request body broke off/,
         'logged with a tag');
ok t_cmp(GET('/framing/after-reset')->content, qr{/after-reset$},
         'the next request is served');

# ---- the member's view: nothing but the requests sent ----------------------------
ok t_cmp(scalar(grep { !/^(req |swallowed |partial \S+ POST \/upload )/ } member_lines()), 0,
         'the member logged nothing it could not parse');

evil_stop($member);
