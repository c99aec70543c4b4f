# Interop (issue 7): mod_http2 in front of mod_rproxy. h2c with prior
# knowledge (vhost interop_h2c) and h2 over TLS (vhost interop_h2tls):
# POST bodies with and without Content-Length reach the member byte for
# byte, a large response arrives intact, and streams in parallel on one
# connection each get their own answer. The client is curl (its
# --parallel over h2c prior knowledge fails in curl 7.88 even for a static
# file, so the parallel streams go over TLS). mod_http2 does not run under
# prefork: skipped there.
use strict;
# `make test-asan` preloads the sanitizer runtime for httpd through the
# environment; the clients this test runs (curl, python3) are not ours to
# sanitize, and curl hangs with it preloaded
BEGIN { delete $ENV{LD_PRELOAD} }
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok need need_module skip_reason);
use Apache::TestUtil qw(t_cmp);
use Digest::MD5 qw(md5_hex);
use File::Temp qw(tempdir);
use IO::Compress::Gzip qw(gzip);
use Time::HiRes qw(time);
use RPTest qw(pattern_chunk);
use RPInterop qw(member_start member_stop member_reset member_requests
                 text_body);

my $vars = Apache::Test::vars();
my $cfg = Apache::Test::config();
my $mpm = $cfg->server->{mpm} // '';
my $curl = `sh -c 'command -v curl'`;
chomp $curl;
my $curl_h2 = $curl && `$curl --version` =~ /\bHTTP2\b/;
plan tests => 28,
    need(($mpm ne 'prefork') || skip_reason('mod_http2 does not run under prefork'),
         $curl_h2 || skip_reason('curl with HTTP/2 support is needed'),
         need_module('http2'));

my $member = member_start();
my $dir = tempdir(CLEANUP => 1);
my $ca = "$vars->{sslca}/$vars->{sslcaorg}/certs/ca.crt";
my $h2c = "http://127.0.0.1:$vars->{interop_h2c_port}";
my $h2s = "https://localhost:$vars->{interop_h2tls_port}";

sub spew { my ($f, $d) = @_; open my $fh, '>', $f or die; binmode $fh; print $fh $d; close $fh }
sub slurp { my ($f) = @_; open my $fh, '<', $f or return ''; binmode $fh; local $/; return <$fh> // '' }

# Runs curl; returns its -w lines.
sub curl {
    my (@args) = @_;
    my $cmd = join ' ', $curl, '-s', '-S', '--no-progress-meter', '--max-time', '20', '--cacert', $ca,
                        map { "'$_'" } @args;
    my $out = `$cmd 2>$dir/curl.err`;
    print "# curl: $_" for grep { !/^\s*$/ } split /^/, slurp("$dir/curl.err");
    return split /\n/, $out;
}

my $W = '%{http_version} %{response_code} %{num_connects}\n';

# POST bodies, with Content-Length (--data-binary) and without (-T from
# stdin: curl does not know the size and sends none over h2)
for my $front (['h2c', $h2c, '--http2-prior-knowledge'], ['h2', $h2s, '--http2']) {
    my ($name, $base, $opt) = @$front;
    member_reset($member);
    my $data = text_body(200000, 5) . join('', map { chr } 0 .. 255);
    spew("$dir/up", $data);
    my $sum = length($data) . ' md5=' . md5_hex($data);
    my ($w) = curl($opt, '-o', "$dir/r1", '-w', $W, '--data-binary', "\@$dir/up",
                   '-H', 'Content-Type: application/octet-stream', "$base/ia/plain/$name-cl");
    ok t_cmp($w // '', qr/^2 200 /, "$name: POST with Content-Length, answered over HTTP/2");
    ok t_cmp(slurp("$dir/r1"), qr{^seen \d+\.\d+ POST /$name-cl len=\Q$sum\E\n$},
             "$name: the member's answer to exactly the body sent");
    # -T from stdin: curl does not know the size
    my $cmd = "$curl -s -S --max-time 20 --cacert $ca $opt -o $dir/r2 -w '$W' "
            . "-X POST -T - $base/ia/plain/$name-nocl <$dir/up";
    ($w) = split /\n/, `$cmd`;
    ok t_cmp($w // '', qr/^2 200 /, "$name: POST without Content-Length, answered");
    ok t_cmp(slurp("$dir/r2"), qr{^seen \d+\.\d+ POST /$name-nocl len=\Q$sum\E\n$},
             "$name: the member's answer to exactly the body sent");
    my @r = member_requests($member);
    my ($nocl) = grep { $_->{target} eq "/$name-nocl" } @r;
    ok t_cmp(join(' | ', map { "$_->{method} $_->{target} $_->{len} $_->{md5}"
                               . ($_->{partial} ? ' partial' : '') } @r),
             join(' | ', map { "POST /$name-$_ " . length($data) . ' ' . md5_hex($data) }
                             qw(cl nocl)),
             "$name: the member parsed the two POSTs, byte for byte, and nothing else");
    ok t_cmp($nocl ? ($nocl->{te} // "CL $nocl->{cl}") : 'none', qr/^(chunked|CL ${\ length $data})$/,
             "$name: the body without length went chunked or with its exact length");

    # a gzip body inflated by SetInputFilter DEFLATE, with and without
    # Content-Length: the member gets the inflated bytes, and no
    # Content-Encoding
    member_reset($member);
    my $text = text_body(300000, 9);
    gzip(\$text => "$dir/up.gz") or die;
    my $tsum = length($text) . ' md5=' . md5_hex($text);
    ($w) = curl($opt, '-o', "$dir/g1", '-w', $W, '--data-binary', "\@$dir/up.gz",
                '-H', 'Content-Encoding: gzip', "$base/ia/inflate/$name-gz-cl");
    $cmd = "$curl -s -S --max-time 20 --cacert $ca $opt -o $dir/g2 -w '$W' "
         . "-H 'Content-Encoding: gzip' -X POST -T - $base/ia/inflate/$name-gz-nocl <$dir/up.gz";
    `$cmd`;
    ok t_cmp(slurp("$dir/g1"), qr{^seen \d+\.\d+ POST /$name-gz-cl len=\Q$tsum\E\n$},
             "$name: a gzip body with Content-Length reaches the member inflated");
    ok t_cmp(slurp("$dir/g2"), qr{^seen \d+\.\d+ POST /$name-gz-nocl len=\Q$tsum\E\n$},
             "$name: a gzip body without Content-Length reaches the member inflated");
    ok t_cmp(join(' | ', map { "$_->{target} " . ($_->{ce} // 'no-CE') . ' '
                               . ($_->{te} // "CL $_->{cl}") } member_requests($member)),
             "/$name-gz-cl no-CE chunked | /$name-gz-nocl no-CE chunked",
             "$name: both went chunked, without Content-Encoding, and nothing else");

    # a large response, intact
    my $len = 1048576 + 7;
    ($w) = curl($opt, '-o', "$dir/down", '-w', $W, "$base/ia/echo/?size=$len&chunked=1");
    ok t_cmp($w // '', qr/^2 200 /, "$name: 1 MiB download");
    ok t_cmp(md5_hex(slurp("$dir/down")), md5_hex(pattern_chunk($len)),
             "$name: the member's bytes, intact");
}

# Streams in parallel on one TLS connection: each uploads its own body
# and must get the member's answer to exactly that body. The member
# answers each 0.4 s late (echo backend, sleep=): in parallel they take
# well under the 2 s they would take one after another.
{
    member_reset($member);
    my @bodies = map { text_body(20000 * $_, 100 + $_) } 1 .. 5;
    my @args;
    for my $i (0 .. $#bodies) {
        spew("$dir/p$i", $bodies[$i]);
        push @args, '-T', "$dir/p$i", '-o', "$dir/o$i", "$h2s/ia/plain/par-$i";
    }
    my @w = curl('--http2', '--parallel', '--parallel-max', '10', '-X', 'POST',
                 '-w', '%{http_version} %{response_code} %{num_connects} %{url_effective}\n', @args);
    my $ok = 0;
    for my $i (0 .. $#bodies) {
        my $want = qr{^seen \d+\.\d+ POST /par-$i len=} . length($bodies[$i])
                 . ' md5=' . md5_hex($bodies[$i]) . "\n\$";
        $ok++ if slurp("$dir/o$i") =~ $want;
    }
    ok t_cmp(scalar(grep { /^2 200 / } @w), 5, 'five parallel streams, each 200 over HTTP/2');
    my $conns = 0;
    $conns += (split / /)[2] for @w;
    ok t_cmp($conns, 1, 'on one connection');
    ok t_cmp($ok, 5, 'each stream got the answer to its own body');
    my @r = member_requests($member);
    ok t_cmp(join(' ', sort map { "$_->{target}:$_->{len}:$_->{md5}" } @r),
             join(' ', sort map { "/par-$_:" . length($bodies[$_]) . ':' . md5_hex($bodies[$_]) } 0 .. 4),
             'the member parsed each body once, byte for byte');

    my $t0 = time;
    @w = curl('--http2', '--parallel', '--parallel-max', '10',
              '-w', '%{http_version} %{response_code} %{num_connects}\n',
              map { ('-o', "$dir/s$_", "$h2s/ia/echo/?sleep=400&count=1&id=$_") } 1 .. 5);
    my $took = time - $t0;
    ok t_cmp(join(' ', map { slurp("$dir/s$_") } 1 .. 5), join(' ', ("backend=b1\n") x 5),
             'five slow answers in parallel');
    ok t_cmp($took < 1.6 ? 'parallel' : sprintf('%.1f s', $took), 'parallel',
             'served in parallel (5 x 0.4 s in under 1.6 s)');
}

member_stop($member);
