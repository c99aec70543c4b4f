# Interop (issue 7): httpd's filters that change a proxied body on its way,
# mod_deflate and mod_sed, on the response and on the request. Each case
# asserts what the member parsed (t/lib/RPInterop.pm logs every request,
# byte-exactly, per connection) and what the client got, and that the
# client connection carries a next request soundly.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestUtil qw(t_cmp);
use Digest::MD5 qw(md5_hex);
use IO::Compress::Gzip qw(gzip $GzipError);
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use RPTest qw(proxy_socket read_response pattern_chunk);
use RPInterop qw(member_start member_stop member_reset member_requests
                 text_body hv send_req);

plan tests => 78;

my $member = member_start();
$SIG{ALRM} = sub { die "timed out\n" };

sub gunzipped {
    my ($z) = @_;
    my $out;
    gunzip(\$z => \$out) or return "gunzip failed: $GunzipError";
    return $out;
}

sub gzipped { my ($d) = @_; gzip(\$d => \my $z) or die $GzipError; return $z }

# The framing a response came with is one the client can trust: either
# chunked without Content-Length, or a Content-Length equal to the body.
sub framing_ok {
    my ($h, $body) = @_;
    my $cl = hv($h, 'Content-Length');
    my $te = hv($h, 'Transfer-Encoding');
    return 'chunked' if $te =~ /^chunked$/i && $cl eq '';
    return 'length' if $te eq '' && $cl ne '' && $cl == length $body;
    return "inconsistent (CL '$cl', TE '$te', " . length($body) . " bytes)";
}

# A GET that must be served soundly on a client connection after a case.
sub next_ok {
    my ($s, $label) = @_;
    my $tag = int rand 1e9;
    send_req($s, 'GET', "/ia/echo/?count=1&next=$tag");
    my ($st, undef, $body) = read_response($s);
    ok t_cmp(($st // 'none') . ' ' . ($body // ''), "200 backend=b1\n",
             "$label: the next request on the client connection is sound");
}

# ---- mod_deflate on the response -------------------------------------------
for my $chunked (1, 0) {
    my $len = 200000;
    my $s = proxy_socket();
    send_req($s, 'GET', "/ia/gz/?size=$len&chunked=$chunked", undef,
             'Accept-Encoding: gzip');
    my ($st, $h, $body) = read_response($s);
    my $label = "DEFLATE output, member " . ($chunked ? 'chunked' : 'with length');
    ok t_cmp($st, 200, "$label: 200");
    ok t_cmp(hv($h, 'Content-Encoding'), 'gzip', "$label: gzip");
    ok t_cmp(framing_ok($h, $body), qr/^(chunked|length)$/, "$label: framing consistent");
    ok t_cmp(md5_hex(gunzipped($body)), md5_hex(pattern_chunk($len)),
             "$label: inflates to the member's $len bytes");
    ok t_cmp(hv($h, 'Vary'), qr/Accept-Encoding/i, "$label: Vary: Accept-Encoding");
    next_ok($s, $label);
    close $s;
}
{
    # an HTTP/1.0 client: no chunks possible, so a length or the close
    my $s = proxy_socket();
    print $s "GET /ia/gz/?size=100000&chunked=1 HTTP/1.0\r\nHost: localhost\r\n"
           . "Accept-Encoding: gzip\r\n\r\n";
    my ($st, $h, $body) = read_response($s);
    close $s;
    ok t_cmp("$st " . hv($h, 'Content-Encoding') . ' [' . hv($h, 'Transfer-Encoding') . ']',
             '200 gzip []', 'DEFLATE output to an HTTP/1.0 client: gzip, not chunked');
    ok t_cmp(md5_hex(gunzipped($body)), md5_hex(pattern_chunk(100000)),
             'HTTP/1.0 client: the whole body, inflating to the member\'s bytes');
}
{
    # no Accept-Encoding: the member's bytes as they are
    my $s = proxy_socket();
    send_req($s, 'GET', '/ia/gz/?size=70000&chunked=0');
    my ($st, $h, $body) = read_response($s);
    ok t_cmp(hv($h, 'Content-Encoding') . ' ' . framing_ok($h, $body),
             qr/^ (chunked|length)$/, 'no Accept-Encoding: not compressed, framing consistent');
    ok t_cmp(md5_hex($body // ''), md5_hex(pattern_chunk(70000)), 'the member\'s bytes unchanged');
    next_ok($s, 'uncompressed');
    close $s;
}
{
    member_reset($member);
    my $s = proxy_socket();
    # AddOutputFilterByType: text/plain compressed, another type not
    send_req($s, 'GET', '/ia/gztype/text/100000', undef, 'Accept-Encoding: gzip');
    my ($st, $h, $body) = read_response($s);
    ok t_cmp("$st " . hv($h, 'Content-Encoding') . ' ' . framing_ok($h, $body),
             qr/^200 gzip (chunked|length)$/, 'AddOutputFilterByType text/plain: gzip');
    ok t_cmp(md5_hex(gunzipped($body)), md5_hex(text_body(100000)), 'inflates to the member\'s body');
    send_req($s, 'GET', '/ia/gztype/binary/30000', undef, 'Accept-Encoding: gzip');
    ($st, $h, $body) = read_response($s);
    ok t_cmp("$st [" . hv($h, 'Content-Encoding') . '] ' . framing_ok($h, $body),
             '200 [] length', 'another type is not compressed');
    ok t_cmp(md5_hex($body // ''), md5_hex(text_body(30000)), 'and arrives byte for byte');
    # a member that compresses itself: compressed once, not twice
    send_req($s, 'GET', '/ia/gztype/gzipped/20000', undef, 'Accept-Encoding: gzip');
    ($st, $h, $body) = read_response($s);
    ok t_cmp("$st " . hv($h, 'Content-Encoding') . ' ' . framing_ok($h, $body),
             qr/^200 gzip (chunked|length)$/, 'a gzip body from the member: one gzip');
    ok t_cmp(md5_hex(gunzipped($body)), md5_hex(text_body(20000)),
             'which inflates once to the member\'s text');
    next_ok($s, 'AddOutputFilterByType');
    close $s;
    my @r = member_requests($member);
    ok t_cmp(join(' ', map { $_->{target} } @r), '/text/100000 /binary/30000 /gzipped/20000',
             'the member got the three requests, one each');
}

# ---- mod_sed on the response -------------------------------------------------
{
    my $s = proxy_socket();
    my $text = text_body(150000);
    (my $want = $text) =~ s/a/bb/g;
    send_req($s, 'GET', '/ia/osed/text/150000');
    my ($st, $h, $body) = read_response($s);
    ok t_cmp("$st " . framing_ok($h, $body), qr/^200 (chunked|length)$/,
             'OutputSed: 200, framing consistent');
    $body //= '';
    # mod_sed ends its last line with a newline the member did not send
    $body =~ s/\n\z// unless $want =~ /\n\z/;
    ok t_cmp(length($body) . ' ' . md5_hex($body), length($want) . ' ' . md5_hex($want),
             'OutputSed: the member\'s body with s/a/bb/g applied');
    next_ok($s, 'OutputSed');
    close $s;
}

# ---- input filters that change the request body -------------------------------
# Each case: a request through the filter, a follow-up on the same client
# connection, a victim on another. The member must have parsed exactly
# these three requests, the first with exactly the filtered bytes, framed
# by chunks or by a Content-Length equal to their size.
sub body_case {
    my (%c) = @_;
    my $label = $c{label};
    member_reset($member);
    my $id = int rand 1e9;
    my $s = proxy_socket();
    my @h = @{ $c{headers} || [] };
    my $wire = $c{wire};
    if ($c{chunked}) {
        # the client's own chunks, 7000 bytes each
        $wire = join('', map { sprintf("%x\r\n%s\r\n", length $_, $_) }
                         unpack '(a7000)*', $wire) . "0\r\n\r\n";
        push @h, 'Transfer-Encoding: chunked';
    }
    my ($st, $h, $body);
    alarm 30;
    eval {
        if ($c{expect}) {
            send_req($s, 'POST', "$c{path}case-$id", undef, @h,
                     'Content-Length: ' . length($wire), 'Expect: 100-continue');
            ($st) = read_response($s);
            if (($st // 0) == 100) {
                print $s $wire;
                ($st, $h, $body) = read_response($s);
            }
        }
        else {
            send_req($s, 'POST', "$c{path}case-$id", $wire, @h);
            ($st, $h, $body) = read_response($s);
        }
        alarm 0;
        1;
    } or print "# $label: $@";
    alarm 0;
    my $want_seen = qr{^200 seen \d+\.\d+ POST /case-$id len=}
                  . length($c{want}) . ' md5=' . md5_hex($c{want}) . "\n\$";
    ok t_cmp(($st // 'none') . ' ' . ($body // ''), qr/$want_seen/,
             "$label: 200, the member's answer to exactly the filtered body");

    my ($fst, $fbody);
    if (($st // 0) == 200) {
        send_req($s, 'GET', "$c{path}follow-$id");
        ($fst, undef, $fbody) = read_response($s);
    }
    close $s;
    ok t_cmp(($fst // 'none') . ' ' . ($fbody // ''), qr{^200 seen \d+\.\d+ GET /follow-$id len=0 },
             "$label: the follow-up on the same client connection gets its own answer");
    my $v = proxy_socket();
    send_req($v, 'GET', "/ia/plain/victim-$id");
    my ($vst, undef, $vbody) = read_response($v);
    close $v;
    ok t_cmp(($vst // 'none') . ' ' . ($vbody // ''), qr{^200 seen \d+\.\d+ GET /victim-$id len=0 },
             "$label: a victim on another connection gets its own answer");

    my @r = member_requests($member);
    my @want = ("POST /case-$id " . length($c{want}) . ' ' . md5_hex($c{want}) . ' complete',
                "GET /follow-$id 0 " . md5_hex('') . ' complete',
                "GET /victim-$id 0 " . md5_hex('') . ' complete');
    my @got = map { "$_->{method} $_->{target} $_->{len} $_->{md5} "
                    . ($_->{partial} ? 'partial' : 'complete') } @r;
    ok t_cmp(join(' | ', @got), join(' | ', @want),
             "$label: the member parsed exactly the three requests sent");
    my ($p) = grep { $_->{target} eq "/case-$id" } @r;
    my $framing = !$p ? 'none'
        : ($p->{te} // '') =~ /^chunked$/i && !defined $p->{cl} ? 'chunked'
        : !defined $p->{te} && defined $p->{cl} && $p->{cl} == length $c{want}
            ? 'length' : 'wrong: CL ' . ($p->{cl} // '-') . ' TE ' . ($p->{te} // '-');
    ok t_cmp($framing, $c{framing} // qr/^(chunked|length)$/,
             "$label: framed to the member by chunks or its own length");
    ok t_cmp($p ? $p->{ce} // '' : 'none', '', "$label: no Content-Encoding left for the member")
        if $c{gzip};
}

my $small = text_body(5000);
my $large = text_body(1024 * 1024, 7);
body_case(label => 'DEFLATE input, small (5000 bytes inflated)',
          path => '/ia/inflate/', wire => gzipped($small), want => $small,
          headers => ['Content-Encoding: gzip'], gzip => 1, framing => 'length');
body_case(label => 'DEFLATE input, large (1 MiB inflated)',
          path => '/ia/inflate/', wire => gzipped($large), want => $large,
          headers => ['Content-Encoding: gzip'], gzip => 1, framing => 'chunked');
body_case(label => 'DEFLATE input, large, the client\'s body chunked',
          path => '/ia/inflate/', wire => gzipped($large), want => $large,
          headers => ['Content-Encoding: gzip'], gzip => 1, chunked => 1,
          framing => 'chunked');
body_case(label => 'DEFLATE input, small, Expect: 100-continue',
          path => '/ia/inflate/', wire => gzipped($small), want => $small,
          headers => ['Content-Encoding: gzip'], gzip => 1, expect => 1);
body_case(label => 'DEFLATE input, large, Expect: 100-continue',
          path => '/ia/inflate/', wire => gzipped($large), want => $large,
          headers => ['Content-Encoding: gzip'], gzip => 1, expect => 1);

my $stext = text_body(3000) . "\n";
(my $swant = $stext) =~ s/a/bb/g;
my $ltext = text_body(300000, 3) . "\n";
(my $lwant = $ltext) =~ s/a/bb/g;
body_case(label => 'InputSed, small', path => '/ia/sed/', wire => $stext, want => $swant,
          framing => 'length');
body_case(label => 'InputSed, large (300 KB)', path => '/ia/sed/', wire => $ltext,
          want => $lwant, framing => 'chunked');
body_case(label => 'InputSed, small, the client\'s body chunked', path => '/ia/sed/',
          wire => $stext, want => $swant, chunked => 1, framing => 'length');
body_case(label => 'InputSed, Expect: 100-continue', path => '/ia/sed/', wire => $stext,
          want => $swant, expect => 1);

member_stop($member);
