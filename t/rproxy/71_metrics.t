# Per-member traffic and latency in shared memory, on the status page.
# bytes_in/bytes_out are exactly what went over the member's connections
# (heads and bodies as framed, chunk sizes, tunnelled bytes), checked
# against backends that log every byte; a retried try counts on the member
# it went to; a try lands in the right latency bucket, a timeout too, a
# failed try in none; the Prometheus text parses line by line, with one
# TYPE per family, cumulative buckets and _count equal to the +Inf bucket.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET POST);
use Apache::TestUtil qw(t_cmp);
use IO::Select;
use JSON::PP ();
use RPTest qw(evil_start evil_stop evil_log echo_parse proxy_socket
              read_response status_json status_members status_member);

plan tests => 39;

my @LE_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000);

# A try's numbers reach shared memory when it ends, which may be just after
# the client has its response: wait until the member counts $n tries.
sub member_after {
    my ($pool, $i, $n) = @_;
    my $m;
    for (1 .. 100) {
        $m = status_member($pool, $i);
        last if $m->{requests} >= $n;
        select(undef, undef, undef, 0.05);
    }
    return $m;
}

sub delta {
    my ($after, $before) = @_;
    return { map { $_ => $after->{$_} - $before->{$_} }
             qw(requests failures bytes_in bytes_out) };
}

# ---- backends that log what they read and wrote, byte for byte ------------

# One request off $c as raw bytes: the head and a Content-Length body.
sub raw_request {
    my ($c) = @_;
    my $raw = '';
    while ($raw !~ /\r\n\r\n/) {
        sysread($c, $raw, 1, length $raw) or return;
    }
    my ($len) = $raw =~ /^Content-Length:\s*(\d+)\r$/mi;
    my $want = length($raw) + ($len // 0);
    while (length $raw < $want) {
        sysread($c, $raw, $want - length $raw, length $raw) or last;
    }
    return $raw;
}

my $PLAIN = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
          . "Connection: close\r\nContent-Length: 6\r\n\r\nplain\n";
my $CHUNKED = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
            . "Connection: close\r\n\r\n4\r\nabcd\r\n1a\r\n"
            . ('z' x 26) . "\r\n0\r\n\r\n";
my $SWITCH = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
           . "Connection: Upgrade\r\n\r\nhello\n";

# "<path> read R wrote W", logged before the last byte goes out so that the
# line is there once the proxy has ended the try. With $hangs, /hangup...
# is read and left without an answer.
sub exact_backend {
    my ($hangs, $c, $n, $log) = @_;
    my $req = raw_request($c) // return;
    my ($path) = $req =~ m{^\S+ (\S+)};
    if ($hangs && $path =~ m{^/hangup}) {
        evil_log($log, "$path read " . length($req) . " wrote 0");
        return;
    }
    if ($path =~ m{^/ws}) {             # a tunnel: echo until EOF
        my ($read, $wrote) = (length $req, length $SWITCH);
        syswrite($c, $SWITCH);
        while (sysread($c, my $buf, 4096)) {
            $read += length $buf;
            $wrote += syswrite($c, "echo:$buf");
        }
        evil_log($log, "$path read $read wrote $wrote");
        return;
    }
    my $resp = $path =~ m{^/chunked} ? $CHUNKED : $PLAIN;
    evil_log($log, "$path read " . length($req) . " wrote " . length $resp);
    syswrite($c, $resp);
}

sub logged {
    my ($e, $path) = @_;
    my ($line) = grep { m{^\Q$path\E } } evil_log($e->{log});
    my ($r, $w) = ($line // '') =~ /read (\d+) wrote (\d+)$/;
    return ($r // -1, $w // -1);
}

my $e1 = evil_start(sub { exact_backend(1, @_) },
                    port => Apache::Test::vars('ext_backend_port'));
my $e2 = evil_start(sub { exact_backend(0, @_) },
                    port => Apache::Test::vars('ext_backend2_port'));

# ---- exact counts -----------------------------------------------------------
my $before = status_member('metricsexact');
my $res = GET '/metricsexact/plain';
ok t_cmp($res->content, "plain\n", 'GET through the logging backend');
my $d = delta(member_after('metricsexact', 0, $before->{requests} + 1), $before);
my ($r, $w) = logged($e1, '/plain');
ok t_cmp($d->{bytes_out}, $r, "bytes_out: the request head it read ($r bytes)");
ok t_cmp($d->{bytes_in}, $w, "bytes_in: the whole response it wrote ($w bytes)");

$before = status_member('metricsexact');
my $body = 'b' x 3000;
$res = POST '/metricsexact/post', content => $body;
$d = delta(member_after('metricsexact', 0, $before->{requests} + 1), $before);
($r, $w) = logged($e1, '/post');
ok t_cmp($res->code, 200, 'POST with a 3000-byte body');
ok t_cmp($d->{bytes_out}, $r, "bytes_out: head and body as read ($r bytes)");
ok t_cmp($r > 3000 ? 1 : 0, 1, 'which holds the body');
ok t_cmp($d->{bytes_in}, $w, 'bytes_in: the response');

$before = status_member('metricsexact');
$res = GET '/metricsexact/chunked';
$d = delta(member_after('metricsexact', 0, $before->{requests} + 1), $before);
($r, $w) = logged($e1, '/chunked');
ok t_cmp($res->content, 'abcd' . ('z' x 26), 'a chunked response');
ok t_cmp($d->{bytes_in}, $w, "bytes_in counts the chunk framing ($w bytes for 30 of data)");
ok t_cmp($d->{bytes_out}, $r, 'bytes_out: the request');

# a tunnel: both directions, counted when it closes
$before = status_member('metricsexact');
my $s = proxy_socket();
print $s "GET /metricsexact/ws HTTP/1.1\r\nHost: localhost\r\n"
       . "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
my ($st) = read_response($s);
ok t_cmp($st, 101, 'upgraded');
my $got = '';
my $sel = IO::Select->new($s);
syswrite($s, 'ping-ping');
# the echo may come back in pieces, each with its prefix
while (($got =~ s/echo://gr) ne "hello\nping-ping" && $sel->can_read(5)) {
    sysread($s, $got, 4096, length $got) or last;
}
ok t_cmp($got =~ s/echo://gr, "hello\nping-ping", 'bytes both ways through the tunnel');
shutdown($s, 1);
1 while $sel->can_read(5) && sysread($s, my $rest, 4096);
close $s;
$d = delta(member_after('metricsexact', 0, $before->{requests} + 1), $before);
($r, $w) = logged($e1, '/ws');
ok t_cmp($d->{bytes_out}, $r, "tunnel: bytes_out is the request head and what the client sent ($r)");
ok t_cmp($d->{bytes_in}, $w, "tunnel: bytes_in is the 101 head and what the backend sent ($w)");

# a retried try counts on the member it went to: metricsretry tries the
# member on ext_backend_port first (it hangs up), then ext_backend2_port
my @before = status_members('metricsretry');
$res = GET '/metricsretry/hangup-then-retry';
ok t_cmp($res->content, "plain\n", 'retried on the other member');
my $bad = delta(member_after('metricsretry', 1, $before[1]{requests} + 1), $before[1]);
my $good = delta(member_after('metricsretry', 0, $before[0]{requests} + 1), $before[0]);
my ($br) = logged($e1, '/hangup-then-retry');
my ($gr, $gw) = logged($e2, '/hangup-then-retry');
ok t_cmp("$bad->{requests} $bad->{failures} $bad->{bytes_in}", '1 1 0',
         'the member that hung up: one failed try, nothing read');
ok t_cmp($bad->{bytes_out}, $br, 'and the request it was sent');
ok t_cmp("$good->{requests} $good->{failures}", '1 0', 'the other: one try that worked');
ok t_cmp("$good->{bytes_out} $good->{bytes_in}", "$gr $gw", 'with its own bytes');
my $after_bad = status_member('metricsretry', 1);
ok t_cmp(JSON::PP->new->canonical->encode($after_bad->{latency_histogram}{counts}),
         JSON::PP->new->canonical->encode($before[1]{latency_histogram}{counts}),
         'a failed try is no latency sample');
evil_stop($e1);
evil_stop($e2);

# ---- through the real backend: sizes, and what it echoes --------------------
sub sized {
    my ($size) = @_;
    my $b = status_member('metrics');
    my $res = GET "/metrics/?size=$size&chunked=0";
    my $d = delta(member_after('metrics', 0, $b->{requests} + 1), $b);
    return ($d, $res->header('X-Backend-Conn') // '', length $res->content);
}
my ($d1, $conn1, $len1) = sized(1000);
my ($d5, $conn5, $len5) = sized(5000);
ok t_cmp("$len1 $len5", '1000 5000', 'bodies of 1000 and 5000 bytes');
# the heads differ only in X-Backend-Conn (pid-serial), both lengths have
# four digits; the backend is asked for a new connection each time
ok t_cmp($d5->{bytes_in} - $d1->{bytes_in}, 4000 + length($conn5) - length($conn1),
         'bytes_in differs by the body sizes exactly');
ok t_cmp($d1->{bytes_in} > 1000 ? 1 : 0, 1, "and holds the head ($d1->{bytes_in} for 1000)");
ok t_cmp($d5->{bytes_out}, $d1->{bytes_out}, 'bytes_out: the same request head twice');

$before = status_member('metrics');
$res = GET '/metrics/echo?x=1';
my $echo = echo_parse($res->content);
$d = delta(member_after('metrics', 0, $before->{requests} + 1), $before);
my $head = "$echo->{method} $echo->{uri} $echo->{protocol}\r\n"
         . join('', map { "$_->[0]: $_->[1]\r\n" } @{ $echo->{headers} }) . "\r\n";
ok t_cmp($d->{bytes_out}, length $head, 'bytes_out: the head the backend received, byte for byte');

# ---- latency histogram --------------------------------------------------------
sub idx { my ($ms) = @_; my ($i) = grep { $LE_MS[$_] == $ms } 0 .. $#LE_MS; $i }

$before = status_member('metricsslow');
GET '/metricsslow/?sleep=300&count=1';
my $m = member_after('metricsslow', 0, $before->{requests} + 1);
my $h = $m->{latency_histogram};
ok t_cmp(JSON::PP->new->encode($h->{le_ms}), '[1,2,5,10,25,50,100,250,500,1000,2500,5000,10000,null]',
         'le_ms: the bounds, null for the last bucket');
ok t_cmp($h->{counts}[idx(500)] - $before->{latency_histogram}{counts}[idx(500)], 1,
         '300 ms lands in the 500 ms bucket');
ok t_cmp($h->{counts}[idx(250)] - $before->{latency_histogram}{counts}[idx(250)], 0,
         'not in the 250 ms one');
my $sum = 0;
$sum += $_ for @{ $h->{counts} };
ok t_cmp("$sum " . ($h->{sum_us} - $before->{latency_histogram}{sum_us} >= 300000 ? 'ok' : 'short'),
         "$h->{count} ok", 'count is the sum of the (non-cumulative) counts; sum_us grew by 300 ms at least');
ok t_cmp(JSON::PP->new->canonical->encode($m->{hc}), '{"checks":0,"failed":0,"last_status":0}',
         'hc: no health checks here');

# the HTML estimate, recomputed from the JSON buckets as histogram_quantile does
sub quantile {
    my ($counts, $q) = @_;
    my $total = 0;
    $total += $_ for @$counts;
    my ($rank, $below) = ($q * $total, 0);
    for my $i (0 .. $#LE_MS) {
        if ($counts->[$i] && $below + $counts->[$i] >= $rank) {
            my $lo = $i ? $LE_MS[$i - 1] : 0;
            return sprintf '%.1f', $lo + ($LE_MS[$i] - $lo) * ($rank - $below) / $counts->[$i];
        }
        $below += $counts->[$i];
    }
    return '&gt;10000';
}
my $html = GET('/rproxy-status')->content;
my $counts = status_member('metricsslow')->{latency_histogram}{counts};
my @want = map { quantile($counts, $_) } 0.5, 0.9, 0.99;
my ($row) = $html =~ m{<section class="pool" id="pool-metricsslow">.*?<tbody>\n(<tr.*?</tr>)}s;
my $cells = join '', map { qq{<td data-v="[^"]*">\Q$_\E</td>} } @want;
ok t_cmp($row // '', qr{$cells<td data-v="$m->{bytes_in}"[^>]*>[^<]*</td><td data-v="$m->{bytes_out}"},
         "HTML: p50 / p90 / p99 (@want ms), bytes in and out");

# a timeout is a sample too, in the bucket above the timeout (header=1s)
$before = status_member('metricsslow');
$res = GET '/metricsslow/?sleep=1500&count=1';
ok t_cmp($res->code, 504, 'header timeout');
$m = member_after('metricsslow', 0, $before->{requests} + 1);
ok t_cmp($m->{latency_histogram}{counts}[idx(2500)] - $before->{latency_histogram}{counts}[idx(2500)], 1,
         'a timed-out try lands in the 2500 ms bucket');

# ---- Prometheus ---------------------------------------------------------------
$res = GET '/rproxy-status?prometheus';
my $j = status_json();
my (%type, %seen_family, @bad, $current);
my (%bucket, %count);
my $label = qr/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"/;
my $number = qr/[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|Inf)|NaN/;
for my $line (split /\n/, $res->content) {
    if ($line =~ /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S/) {
        next;
    }
    if ($line =~ /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/) {
        push @bad, "second TYPE: $line" if $type{$1};
        push @bad, "TYPE after its samples: $line" if $seen_family{$1};
        ($current, $type{$1}) = ($1, $2);
        next;
    }
    my ($name, $labels, $value) = $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:$label,)*$label)\} ($number)$/;
    if (!defined $name) { push @bad, "unparsable: $line"; next }
    my $family = $name;
    if ($name =~ /^(.*)_(?:bucket|sum|count)$/ && ($type{$1} // '') eq 'histogram') {
        $family = $1;
    }
    push @bad, "no TYPE before: $line" unless $type{$family};
    push @bad, "family not in one group: $line" if ($current // '') ne $family;
    $seen_family{$family} = 1;
    if ($name =~ /_bucket$/) {
        my ($le) = $labels =~ /,le="([^"]+)"$/;
        (my $series = $labels) =~ s/,le="[^"]+"$//;
        push @{ $bucket{$series} }, [$le, $value];
    }
    elsif ($name =~ /^rproxy_member_latency_seconds_count$/) {
        $count{$labels} = $value;
    }
}
ok t_cmp(join('', @bad), '', 'every line parses; one TYPE per family, before its samples, in one group');
ok t_cmp(join(',', sort keys %type),
         join(',', sort qw(rproxy_pool_queued rproxy_member_up rproxy_member_inflight rproxy_member_requests_total
                           rproxy_member_failures_total rproxy_member_ejections_total
                           rproxy_member_latency_ewma_seconds rproxy_member_bytes_in_total
                           rproxy_member_bytes_out_total rproxy_member_latency_seconds
                           rproxy_member_health_checks_total rproxy_member_health_check_failures_total
                           rproxy_member_weight rproxy_member_config_weight rproxy_member_admin_state
                           rproxy_pool_buffered_responses_total rproxy_pool_buffer_overflows_total
                           rproxy_pool_buffered_requests_total rproxy_pool_buffer_refused_total
                           rproxy_pool_buffer_file_bytes_total rproxy_pool_buffer_held_bytes
                           rproxy_pool_body_bytes_total rproxy_pool_tunnels_parked
                           rproxy_pool_tunnel_wakes_total)),
         'the families');
my @hist_bad;
for my $series (sort keys %bucket) {
    my @b = @{ $bucket{$series} };
    my $les = join ',', map { $_->[0] } @b;
    push @hist_bad, "$series: le $les"
        unless $les eq '0.001,0.002,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10,+Inf';
    for my $i (1 .. $#b) {
        push @hist_bad, "$series: not cumulative at le=$b[$i][0]" if $b[$i][1] < $b[$i - 1][1];
    }
    push @hist_bad, "$series: _count $count{$series} != +Inf $b[-1][1]"
        unless defined $count{$series} && $count{$series} == $b[-1][1];
}
ok t_cmp(join('; ', @hist_bad) . (keys %bucket ? '' : 'no buckets'), '',
         'histograms: the bounds in seconds, cumulative, _count equal to the +Inf bucket');
my ($slow) = grep { /pool="metricsslow"/ } keys %bucket;
my %le = map { $_->[0] => $_->[1] } @{ $bucket{$slow} };
my ($jslow) = grep { $_->{name} eq 'metricsslow' } @{ $j->{pools} };
my $jc = $jslow->{members}[0]{latency_histogram}{counts};
ok t_cmp($le{'0.5'} - $le{'0.25'}, $jc->[idx(500)], 'the 500 ms bucket as in the JSON');
my $content = $res->content;
my ($exact) = grep { $_->{name} eq 'metricsexact' } @{ $j->{pools} };
ok t_cmp(($content =~ /^rproxy_member_bytes_in_total\{pool="metricsexact",member="[^"]+"\} (\d+)$/m)[0] // -1,
         $exact->{members}[0]{bytes_in}, 'bytes_in_total as in the JSON');
ok t_cmp(join(' ', map { ($content =~ /^rproxy_member_up\{pool="$_",member="[^"]+"\} (\d)$/m)[0] // '?' }
                   qw(metrics withbackup)),
         '1 0', 'rproxy_member_up: 1 for an up member, 0 for a disabled one');
