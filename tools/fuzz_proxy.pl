#!/usr/bin/perl
# A request-level fuzzer through the real httpd (issue 7): random client
# requests, valid and malformed, against random member answers scripted on
# the wire-logging member of t/lib/RPWire.pm, checking on every exchange
# that one request in is one request out:
#   smuggle   the member parsed a request nobody sent (unknown X-Id, or a
#             target /smuggled or /admin hidden in a body)
#   request   a request reached the member with another method, target or
#             body than sent, or a non-idempotent one twice
#   framing   the member could not parse what the proxy sent, or held
#             bytes of no request at a close
#   cross     a client got a response that belongs to another request
#   response  a clean exchange (valid request, well-behaved member) gave
#             the wrong status or body, or a cut one
#   crash     a crash or sanitizer report in t/logs/error_log
#
# Run through `make -f Makefile.apxs fuzz-proxy FUZZ_SECONDS=N FUZZ_SEED=S`,
# which builds with ASan/UBSan and starts/stops the test server. By hand,
# with the test server running (perl t/TEST -start-httpd ...):
#   perl tools/fuzz_proxy.pl --seconds 60 --seed 42 --out /tmp/fz
#   perl tools/fuzz_proxy.pl --replay /tmp/fz/batch-000123.json
# Each failing batch is saved as JSON (client bytes, member scripts, what
# each side saw) for --replay. Exit status 1 on any finding.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Getopt::Long;
use JSON::PP ();
use MIME::Base64 qw(encode_base64 decode_base64);
use Time::HiRes ();
use File::Path qw(make_path);
use Apache::Test ();
use RPWire qw(client_closes wire_start wire_stop wire_drain wire_records wire_mark
              wire_body client_connect client_read_response parse_script);

my %o = (seconds => 60, seed => undef, out => '/tmp/fuzz-proxy', verbose => 0,
         replay => undef, lanes => 2);
GetOptions(\%o, 'seconds=i', 'seed=i', 'out=s', 'verbose!', 'replay=s',
           'lanes=i') or die "usage: $0 [--seconds N] [--seed S] [--out DIR] "
                          . "[--replay FILE]\n";
$o{seed} //= time ^ $$;
$o{lanes} = 2 if $o{lanes} > 2;     # the machine is shared
srand $o{seed};

my $JSON = JSON::PP->new->canonical->pretty;
my $PROXY = Apache::Test::vars('port');
my $LOGS = Apache::Test::vars('t_logs');
my $ERROR_LOG = "$LOGS/error_log";
my $SMUGGLE = "GET /smuggled HTTP/1.1\r\nHost: x\r\nX-Id: smuggled\r\n\r\n";

my $w = wire_start(port => Apache::Test::vars('wire_backend_port'),
                   log => "$LOGS/wire.fuzz.log", idle => 10);
$SIG{INT} = $SIG{TERM} = sub { wire_stop($w); exit 2 };

my (%count, %known, $batches, $exchanges);
$batches = $exchanges = 0;
my $t_end = Time::HiRes::time() + $o{seconds};
print "fuzz-proxy: " . ($o{replay} ? "replay of $o{replay}"
                                    : "seed $o{seed}, $o{seconds} s")
      . ", proxy port $PROXY, findings in $o{out}\n";

if ($o{replay}) {
    open my $fh, '<', $o{replay} or die "$o{replay}: $!";
    my $b = JSON::PP->new->decode(do { local $/; <$fh> });
    for my $g (@{ $b->{groups} }) {
        for my $st (@$g) {
            for my $rq (@{ $st->{reqs} }) {
                defined $rq->{$_} and $rq->{$_} = decode_base64($rq->{$_})
                    for qw(bytes body tail);
            }
        }
    }
    run_batch($b, 1);
}
else {
    my $n = 0;
    while (Time::HiRes::time() < $t_end) {
        run_batch(gen_batch($n++), 0);
    }
}
wire_stop($w);
my $total = 0;
$total += $_ for values %count;
print "fuzz-proxy: seed $o{seed}: $batches batches, $exchanges exchanges, "
      . "$total findings" . ($total ? ' (' . join(', ', map { "$_=$count{$_}" }
                                                      sort keys %count) . ')'
                                    : '') . "\n";
print "fuzz-proxy: by known defect: " . join(', ', map { "$_=$known{$_}" }
                                              sort keys %known) . "\n" if $total;
exit($total ? 1 : 0);

# ------------------------------------------------------------ generation --

sub pick { return $_[int rand @_] }
sub chance { return rand() < $_[0] }

sub rand_bytes {
    my ($len) = @_;
    my $kind = rand;
    return join '', map { chr(int rand 256) } 1 .. $len if $kind < 0.3;
    return substr(("abcdefghij\r\n" x (int($len / 12) + 1)), 0, $len) if $kind < 0.5;
    my $p = join '', 'a' .. 'z', 0 .. 9;
    return substr($p x (int($len / 36) + 1), 0, $len);
}

sub rand_body {
    my $len = pick(0, 1, 2, 10, 100, 1000, 5000, 70000, int rand 3000);
    my $b = rand_bytes($len);
    # requests hidden in bodies: a proxy that loses the framing makes the
    # member parse them
    $b = $SMUGGLE . $b if chance(0.3);
    $b .= "\r\n0\r\n\r\n$SMUGGLE" if chance(0.2);
    return $b;
}

sub rand_script {
    my ($rq) = @_;
    my %s;
    $s{s} = pick(200, 200, 200, 201, 404, 500, 204, 304);
    $s{fr} = pick('cl', 'cl', 'ch', 'close');
    $s{fr} = pick('cl', 'ch', 'none') if $s{s} =~ /^(204|304)$/;
    $s{len} = pick(0, 10, 100, 3000, 70000, int rand 9000);
    $s{chunks} = 1 + int rand 5 if $s{fr} eq 'ch';
    $s{tr} = int rand 3 if $s{fr} eq 'ch' && chance(0.3);
    $s{info} = join '.', map { pick(100, 103, 102) } 1 .. 1 + int rand 3
        if chance(0.2);
    if ($rq->{has_body} && chance(0.3)) {
        $s{early} = pick(401, 413, 417);
        $s{at} = pick('head', 'head', 'mid');
        $s{after} = pick('read', 'close');
    }
    $s{cont} = 0 if $rq->{expect} && chance(0.05);
    $s{ka} = 0 if chance(0.1);
    $s{cc} = 1 if $s{fr} eq 'close' && chance(0.5);
    $s{hv} = '1.0' if $s{fr} =~ /^(cl|close)$/ && chance(0.1);
    $s{lie} = pick(-3, 5) if $s{fr} eq 'cl' && chance(0.05);
    $s{rst} = pick('head', 'body') if chance(0.04);
    return join ',', map { "$_=$s{$_}" } sort keys %s;
}

# One client request: {id, m, path, target, v, body, bytes (head+body as
# sent; for Expect, head in bytes, body in tail), expect, malformed, script}
sub gen_request {
    my ($id) = @_;
    my $rq = { id => $id };
    $rq->{m} = pick(qw(GET GET GET POST POST PUT HEAD DELETE OPTIONS PATCH FUZZ));
    $rq->{v} = chance(0.15) ? '1.0' : '1.1';
    my $pool = chance(0.25) ? 'wirefresh' : 'wire';
    my $q = chance(0.3) ? '?' . join('&', map { "k$_=" . int rand 1000 } 1 .. 1 + int rand 3) : '';
    $rq->{path} = "/$pool/f/$id$q";
    ($rq->{target} = $rq->{path}) =~ s{^/$pool}{};
    my $frame = pick('none', 'cl', 'cl', 'ch');
    $frame = 'none' if $rq->{m} =~ /^(GET|HEAD|DELETE|OPTIONS)$/ && chance(0.7);
    $frame = 'cl' if $frame eq 'ch' && $rq->{v} eq '1.0';
    my $body = $frame eq 'none' ? '' : rand_body();
    $rq->{has_body} = length($body) > 0 || $frame eq 'ch';
    $rq->{expect} = $rq->{has_body} && $rq->{v} eq '1.1' && chance(0.3);
    $rq->{script} = rand_script($rq);
    my @h = ("Host: localhost", "X-Id: $id", "X-Script: $rq->{script}");
    push @h, "X-R$_: " . rand_bytes(int rand 40) =~ s/[\x00-\x1f\x7f-\xff]/x/gr
        for 1 .. int rand 4;
    push @h, pick('Connection: keep-alive', 'Connection: close',
                  'Connection: X-Hop', 'Connection: keep-alive')
        if chance(0.3);
    push @h, "X-Hop: hop" if chance(0.2);
    push @h, "Expect: 100-continue" if $rq->{expect};
    my $framed = '';
    if ($frame eq 'cl') {
        push @h, "Content-Length: " . length $body;
        $framed = $body;
    }
    elsif ($frame eq 'ch') {
        push @h, "Transfer-Encoding: chunked";
        $framed = chunk($body);
    }
    $rq->{body} = $body;

    # malformed: the proxy (or httpd's core in front of it) must refuse it
    # or forward one well-framed request; never a second one
    if (chance(0.2)) {
        $rq->{malformed} = pick(qw(cl_te dup_cl dup_cl_same bad_chunk big_chunk
                                   te_identity te_1.0 neg_cl plus_cl bare_lf
                                   obs_fold space_colon cl_short chunk_nocrlf));
        my $mf = $rq->{malformed};
        $rq->{expect} = 0;
        @h = grep { !/^Expect:/ } @h;
        if ($mf eq 'cl_te') {
            @h = grep { !/^(Content-Length|Transfer-Encoding):/ } @h;
            push @h, "Content-Length: 4", "Transfer-Encoding: chunked";
            $framed = chunk($body);
        }
        elsif ($mf =~ /^dup_cl/) {
            @h = grep { !/^(Content-Length|Transfer-Encoding):/ } @h;
            push @h, "Content-Length: " . length($body),
                     "Content-Length: " . (length($body) + ($mf eq 'dup_cl' ? 7 : 0));
            $framed = $body;
        }
        elsif ($mf eq 'bad_chunk' || $mf eq 'big_chunk' || $mf eq 'chunk_nocrlf') {
            @h = grep { !/^(Content-Length|Transfer-Encoding):/ } @h;
            push @h, "Transfer-Encoding: chunked";
            $framed = $mf eq 'bad_chunk' ? "5\r\nabcde\r\nzz\r\nhello\r\n0\r\n\r\n"
                    : $mf eq 'big_chunk' ? "fffffffffffffffffffff\r\nabc\r\n0\r\n\r\n"
                    : "5\r\nabcdefgh\r\n0\r\n\r\n";
        }
        elsif ($mf eq 'te_identity' || $mf eq 'te_1.0') {
            @h = grep { !/^(Content-Length|Transfer-Encoding):/ } @h;
            push @h, $mf eq 'te_identity' ? "Transfer-Encoding: chunked, identity"
                                          : "Transfer-Encoding: chunked";
            $rq->{v} = '1.0' if $mf eq 'te_1.0';
            $framed = chunk($body);
        }
        elsif ($mf eq 'neg_cl' || $mf eq 'plus_cl') {
            @h = grep { !/^(Content-Length|Transfer-Encoding):/ } @h;
            push @h, "Content-Length: " . ($mf eq 'neg_cl' ? '-1' : '+' . length $body);
            $framed = $body;
        }
        elsif ($mf eq 'obs_fold') {
            push @h, "X-Fold: a", " folded: b";
        }
        elsif ($mf eq 'space_colon') {
            push @h, "Content-Length : 5";
        }
        elsif ($mf eq 'cl_short') {
            @h = grep { !/^(Content-Length|Transfer-Encoding):/ } @h;
            push @h, "Content-Length: " . (length($body) + 3);
            $framed = $body;    # the client promises more than it sends
        }
    }
    my $eol = ($rq->{malformed} // '') eq 'bare_lf' ? "\n" : "\r\n";
    my $head = "$rq->{m} $rq->{path} HTTP/$rq->{v}$eol"
             . join('', map { "$_$eol" } @h) . $eol;
    if ($rq->{expect}) {
        $rq->{bytes} = $head;
        $rq->{tail} = $framed;
    }
    else {
        $rq->{bytes} = $head . $framed;
    }
    return $rq;
}

sub chunk {
    my ($body) = @_;
    my $out = '';
    my $rest = $body;
    while (length $rest) {
        my $c = substr $rest, 0, 1 + int rand 9000, '';
        my $ext = chance(0.3) ? ';e=' . int(rand 9) . (chance(0.5) ? ';q="x y"' : '') : '';
        $out .= sprintf("%x%s\r\n%s\r\n", length $c, $ext, $c);
    }
    return $out . "0\r\n" . (chance(0.3) ? "X-Client-Trailer: t\r\n" : '') . "\r\n";
}

# A batch: groups of at most $o{lanes} steps, each step on its own lane
# (client connection) and holding one or two pipelined requests; the steps
# of a group are all sent before any response is read.
sub gen_batch {
    my ($bn) = @_;
    my @groups;
    my $k = 0;
    for (1 .. 1 + int rand 3) {
        my @g;
        for my $lane (0 .. int rand $o{lanes}) {
            my @reqs = (gen_request(sprintf 'b%06d-%02d', $bn, $k++));
            push @reqs, gen_request(sprintf 'b%06d-%02d', $bn, $k++)
                if !$reqs[0]{expect} && chance(0.2);
            pop @reqs if @reqs == 2 && ($reqs[1]{expect}
                                        || ($reqs[0]{malformed} // '') eq 'cl_short');
            push @g, { lane => $lane, reqs => \@reqs };
        }
        push @groups, \@g;
    }
    return { n => $bn, seed => $o{seed}, groups => \@groups };
}

# ------------------------------------------------------------- execution --

sub run_batch {
    my ($b, $replay) = @_;
    $batches++;
    my $t0 = Time::HiRes::time();
    my @pre;
    wire_drain($w, 10) or push @pre, ['framing', 'member connections did not close'];
    my $mark = wire_mark($w);
    my $emark = -s $ERROR_LOG || 0;
    my %lane;
    my @done;       # [req, response or undef, note]
    for my $g (@{ $b->{groups} }) {
        for my $st (@$g) {
            my $l = $lane{ $st->{lane} } //= eval { client_connect($PROXY) };
            if (!$l) { push @done, [$_, undef, 'connect failed'] for @{ $st->{reqs} }; next }
            my $bytes = join '', map { $_->{bytes} } @{ $st->{reqs} };
            syswrite $l->{sock}, $bytes;
            # a client that promised more body than it sends, then stops
            # sending: the server must see the end, not wait for it
            shutdown $l->{sock}, 1
                if grep { ($_->{malformed} // '') eq 'cl_short' } @{ $st->{reqs} };
        }
        for my $st (@$g) {
            my $l = $lane{ $st->{lane} } or next;
            my $dead = 0;
            for my $rq (@{ $st->{reqs} }) {
                $exchanges++;
                if ($dead) { push @done, [$rq, undef, 'connection closed before']; next }
                my $res;
                if ($rq->{expect}) {
                    $res = client_read_response($l, $rq->{m}, 3, 1);
                    if (!$res || $res->{status} == 100) {
                        syswrite $l->{sock}, $rq->{tail};
                        $res = client_read_response($l, $rq->{m}, 8);
                    }
                    elsif (!client_closes($l, $res)) {
                        syswrite $l->{sock}, $rq->{tail};
                    }
                }
                else {
                    $res = client_read_response($l, $rq->{m}, 8);
                }
                push @done, [$rq, $res, $res ? '' : ($l->{eof} ? 'eof' : 'timeout')];
                $dead = client_closes($l, $res);
            }
            if ($dead) {
                close $l->{sock};
                delete $lane{ $st->{lane} };
            }
        }
    }
    close $_->{sock} for values %lane;
    wire_drain($w, 10) or push @pre, ['framing', 'member connections did not close'];
    my @rec = wire_records($w, $mark);
    my @f = (@pre, check($b, \@done, \@rec, $emark));
    label($b, \@f);
    if (@f || $replay) {
        save($b, \@done, \@rec, \@f);
        print "batch $b->{n}: $_->[0]" . ($_->[2] ? " [$_->[2]]" : '')
              . ": $_->[1]\n" for @f;
        print "batch $b->{n}: clean\n" if $replay && !@f;
    }
    $count{ $_->[0] }++ for @f;
    $known{ $_->[2] // 'new' }++ for @f;
    printf "batch %d: %.2f s: %s\n", $b->{n}, Time::HiRes::time() - $t0,
        join(' | ', map { my $d = $_; "$d->[0]{m} $d->[0]{script}"
                          . ($d->[0]{expect} ? ' expect' : '')
                          . ($d->[0]{malformed} ? " mal=$d->[0]{malformed}" : '')
                          . ' -> ' . ($d->[1] ? $d->[1]{status} : $d->[2]) } @done)
        if $o{verbose};
}

# ---------------------------------------------------------------- checks --

# Which known defect of issue 7 a finding is a sign of (still a finding):
# D1 an Expect request answered early while the member then reads the
# promised body, in the same batch; D3 a close-delimited response cut.
sub label {
    my ($b, $f) = @_;
    my $d1 = grep { my $s = parse_script($_->{script});
                    $_->{expect} && defined $s->{early}
                    && ($s->{at} // 'head') eq 'head'
                    && ($s->{after} // 'read') eq 'read' }
             map { @{ $_->{reqs} } } map { @$_ } @{ $b->{groups} };
    for my $x (@$f) {
        if ($x->[0] eq 'response' && $x->[1] =~ /eof in chunked body|RP00040/
            && $x->[1] =~ /fr=close/) {
            $x->[2] = 'D3';
        }
        elsif ($d1 && $x->[0] ne 'crash') {
            $x->[2] = 'D1?';
        }
    }
}

sub idempotent { return $_[0] =~ /^(GET|HEAD|PUT|DELETE|OPTIONS)$/ }

sub rec_id {
    my ($r) = @_;
    my ($id) = map { $_->[1] } grep { lc $_->[0] eq 'x-id' } @{ $r->{h} // [] };
    return $id // '-';
}

sub member_has_body {
    my ($r) = @_;
    for (@{ $r->{h} }) {
        return 1 if lc $_->[0] eq 'transfer-encoding';
        return 1 if lc $_->[0] eq 'content-length' && $_->[1] > 0;
    }
    return 0;
}

sub clean_script {
    my ($s) = @_;
    return !defined $s->{lie} && !defined $s->{rst};
}

sub check {
    my ($b, $done, $rec, $emark) = @_;
    my @f;
    my %sent = map { $_->[0]{id} => $_ } @$done;
    my (%reqs);
    for my $r (@$rec) {
        if ($r->{t} eq 'req') {
            my $id = rec_id($r);
            push @{ $reqs{$id} }, $r;
            push @f, ['smuggle', "member parsed $r->{m} $r->{u} (X-Id $id) that no client sent"]
                if !$sent{$id} || $r->{u} =~ m{^/(smuggled|admin)};
        }
        elsif ($r->{t} eq 'bad' || $r->{t} eq 'junk') {
            push @f, ['framing', "member could not parse ($r->{t}"
                      . ($r->{why} ? ": $r->{why}" : '') . "): " . esc($r->{raw})];
        }
        elsif ($r->{t} eq 'partial') {
            my ($m, $u) = $r->{raw} =~ m{^(\S+) (\S+) HTTP/1\.1\r\n};
            my ($id) = $r->{raw} =~ /\r\nX-Id: ([^\r]*)\r\n/;
            my $d = $sent{ $id // '' };
            my $ok = $d && defined $u && $u eq $d->[0]{target}
                     && (partial_ok($d));
            push @f, ['framing', "member held bytes of no request at a close: "
                      . esc($r->{raw})] unless $ok;
        }
    }
    for my $d (@$done) {
        my ($rq, $res, $note) = @$d;
        my $s = parse_script($rq->{script});
        my $got = $reqs{ $rq->{id} } // [];
        for my $r (@$got) {
            push @f, ['request', "$rq->{id}: method $r->{m}, sent $rq->{m}"] if $r->{m} ne $rq->{m};
            push @f, ['request', "$rq->{id}: target $r->{u}, sent $rq->{target}"] if $r->{u} ne $rq->{target};
            next if $rq->{malformed};
            if ($r->{unread}) {
                push @f, ['request', "$rq->{id}: body read before the early answer is not what was sent"]
                    if substr($rq->{body}, 0, length $r->{body}) ne $r->{body};
            }
            elsif ($r->{body} ne $rq->{body}) {
                push @f, ['request', sprintf "%s: body differs: %d bytes at the member, %d sent: %s",
                          $rq->{id}, length $r->{body}, length $rq->{body},
                          esc(substr $r->{body}, 0, 80)];
            }
        }
        push @f, ['request', "$rq->{id}: $rq->{m} reached the member " . scalar(@$got) . " times"]
            if @$got > 1 && !idempotent($rq->{m});
        next unless $res;
        my ($rid) = ($res->{body} // '') =~ /^rid=(\S+) m=/;
        if (defined $rid && $rid ne $rq->{id}) {
            push @f, ['cross', "$rq->{id}: got the response of $rid ($res->{status})"];
            next;
        }
        # a clean exchange must come out exactly as the member answered
        next if $rq->{malformed} || !clean_script($s) || !@$got;
        # the member answers early only to a request that has a body as
        # it got it (an empty chunked body may arrive as no body at all)
        my $early = defined $s->{early} && member_has_body($got->[0]);
        my $status = $early ? $s->{early} : $s->{s};
        if ($res->{status} != $status) {
            push @f, ['response', "$rq->{id}: status $res->{status}, member answered $status"
                      . " ($rq->{script})"];
            next;
        }
        push @f, ['response', "$rq->{id}: $res->{error} ($rq->{script})"] if $res->{error};
        my $want = '';
        if ($rq->{m} ne 'HEAD' && $status !~ /^(204|304)$/) {
            my $n = $early ? ($got->[-1]{unread} ? length $got->[-1]{body} : undef)
                           : length $rq->{body};
            $want = wire_body($rq->{id}, $rq->{m}, $rq->{target}, $n // 'N', $s->{len});
            if (!defined $n) {
                # the length at the early answer is the member's to say
                my ($gn) = ($res->{body} // '') =~ /^rid=\S+ m=\S+ u=\S+ n=(\d+)\n/;
                $want = wire_body($rq->{id}, $rq->{m}, $rq->{target}, $gn // 'N', $s->{len});
            }
        }
        push @f, ['response', sprintf "%s: body of %d bytes, expected %d (%s): %s",
                  $rq->{id}, length($res->{body} // ''), length $want, $rq->{script},
                  esc(substr $res->{body} // '', 0, 60)]
            if ($res->{body} // '') ne $want && !$res->{error};
    }
    # crashes and sanitizer reports
    if (open my $fh, '<', $ERROR_LOG) {
        seek $fh, $emark, 0;
        while (my $l = <$fh>) {
            push @f, ['crash', $l =~ s/\s+\z//r]
                if $l =~ /Segmentation fault|exit signal|AddressSanitizer|runtime error:|LeakSanitizer|double free|Assertion .* failed/;
        }
    }
    return @f;
}

# May the member hold part of this request at a close? When the exchange
# went wrong on purpose (malformed request, an early answer, a member that
# resets) or the proxy said so (an error status).
sub partial_ok {
    my ($d) = @_;
    my ($rq, $res) = @$d;
    my $s = parse_script($rq->{script});
    return 1 if $rq->{malformed} || defined $s->{early} || defined $s->{rst};
    return 1 if !$res || $res->{status} >= 400 || $res->{error};
    return 0;
}

sub esc {
    my ($s) = @_;
    $s = substr($s, 0, 300) . '...' if length $s > 300;
    $s =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ge;
    return "\"$s\"";
}

sub save {
    my ($b, $done, $rec, $f) = @_;
    make_path($o{out});
    my $file = sprintf '%s/batch-%06d.json', $o{out}, $b->{n};
    my %copy = (n => $b->{n}, seed => $b->{seed}, findings => $f);
    for my $g (@{ $b->{groups} }) {
        my @steps;
        for my $st (@$g) {
            my @reqs;
            for my $rq (@{ $st->{reqs} }) {
                my %r = %$rq;
                defined $r{$_} and $r{$_} = encode_base64($r{$_}, '')
                    for qw(bytes body tail);
                push @reqs, \%r;
            }
            push @steps, { lane => $st->{lane}, reqs => \@reqs };
        }
        push @{ $copy{groups} }, \@steps;
    }
    # what each side saw, for reading (a replay needs only the groups)
    for my $d (@$done) {
        my ($rq, $res, $note) = @$d;
        push @{ $copy{client} }, {
            id => $rq->{id}, note => $note,
            status => $res ? $res->{status} : undef,
            error => $res ? $res->{error} : undef,
            interim => $res ? $res->{interim} : undef,
            body => $res ? esc(substr $res->{body} // '', 0, 200) : undef,
        };
    }
    for my $r (@$rec) {
        my %m = %$r;
        $m{$_} = esc($m{$_} // '') for qw(raw body);
        push @{ $copy{member} }, \%m;
    }
    open my $fh, '>', $file or die "$file: $!";
    print $fh $JSON->encode(\%copy);
    close $fh;
}
