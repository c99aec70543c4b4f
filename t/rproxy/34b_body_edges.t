# Response bodies at their edges, on every way a body can go (issue 12's
# new paths): spliced (the default route), copied with RProxyZeroCopy off
# (the relay's direct reads off a plain member's socket), through
# mod_deflate, and from a TLS member (its 64 KiB socket bucket); a few
# cases also where RProxyBuffering is outgrown and for a TLS client. One
# scripted member, the same script in clear and over TLS, logs every
# request it parses with its connection; each case checks what the client
# got, byte for byte, that a connection left doubtful is never used again
# (the member sees no second request on it), that a follow-up on the same
# client connection and a victim on another get their own answers, and at
# the end that the member parsed exactly the requests sent.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok have_module);
use Apache::TestUtil qw(t_cmp t_debug);
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use Socket ();
use Time::HiRes qw(time sleep);
use RPTest qw(evil_start evil_stop evil_lines read_request_head proxy_socket
              read_response read_until write_all pattern_chunk status_pool
              error_log_size error_log_since proxy_port);

my $vars = Apache::Test::vars();
my $have_tls = have_module('ssl') && eval { require IO::Socket::SSL; 1 };
my @routes = ('edsplice', 'edcopy', 'eddeflate', $have_tls ? ('edtls') : ());

# per route: 20 glued and TE+CL, 9 cut, 12 refused, 12 no-body, 5 exact,
# 4 client gone
my $PER = 62;
plan tests => @routes * $PER + 13;

$SIG{ALRM} = sub { die "timed out\n" };
my $host = 'localhost:' . proxy_port();
my $FAKE = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled";

# ---- the member -------------------------------------------------------------

sub query { my ($t, $k) = @_; return $t =~ /[?&]$k=([^&]*)/ ? $1 : undef }

# Head lines the framing cases answer with, each with "BADBODY" behind.
my %bad = (
    dupcl    => "Content-Length: 7\r\nContent-Length: 8",
    listcl   => "Content-Length: 7, 7",
    negcl    => "Content-Length: -7",
    pluscl   => "Content-Length: +7",
    hugecl   => "Content-Length: 99999999999999999999999",
    hexcl    => "Content-Length: 0x7",
    spacecl  => "Content-Length : 7",
    foldcl   => "X-A: a\r\n Content-Length: 7",
    emptycl  => "Content-Length:",
    # a transfer coding besides chunked would reach the client unlabelled
    gzipte   => "Transfer-Encoding: gzip, chunked",
    gzipclose => "Transfer-Encoding: gzip",
    twote    => "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
);

sub member_script {
    my ($tls) = @_;
    return sub {
        my ($c, $conn, $log) = @_;
        if ($tls) {
            my $ca = "$vars->{sslca}/asf";
            $c = IO::Socket::SSL->start_SSL($c, SSL_server => 1,
                     SSL_cert_file => "$ca/certs/server.crt",
                     SSL_key_file => "$ca/keys/server.pem") or return;
        }
        my $req = 0;
        while (my ($m, $t) = read_request_head($c)) {
            $req++;
            evil_log_line($log, "req $conn.$req $m $t");
            my ($case, $n) = $t =~ m{^/([a-z0-9]+)(?:/(\d+))?};
            $n //= 0;
            my $ok = eval { serve($c, $conn, $log, $m, $t, $case, $n, $tls) };
            last unless $ok;
        }
        evil_log_line($log, "end $conn");
    };
}

sub evil_log_line {
    my ($log, $line) = @_;
    open my $fh, '>>', $log or die; print $fh "$line\n"; close $fh;
}

sub head200 { my ($len) = @_;
    return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
         . (defined $len ? "Content-Length: $len\r\n" : '') . "\r\n" }

# Serves one request; false when the connection is done with.
sub serve {
    my ($c, $conn, $log, $m, $t, $case, $n, $tls) = @_;
    if ($case eq 'glue') {
        # a whole fake response glued behind the body, in the same write
        write_all($c, head200($n) . pattern_chunk($n) . $FAKE);
        return 1;
    }
    if ($case eq 'gluechunk') {
        # the same behind a chunked body's last chunk
        my $body = pattern_chunk($n);
        write_all($c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      . sprintf('%x', $n) . "\r\n$body\r\n0\r\n\r\n$FAKE");
        return 1;
    }
    if ($case eq 'tecl') {
        # Content-Length and Transfer-Encoding: chunked frames the body
        # (RFC 9112 6.3); the length is not passed on, the connection not kept
        my $body = pattern_chunk($n);
        write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                      . sprintf('%x', $n) . "\r\n$body\r\n0\r\n\r\n");
        return 1;
    }
    if ($case eq 'whole') {
        write_all($c, head200($n) . pattern_chunk($n));
        return 1;
    }
    if ($case eq 'closed') {
        write_all($c, head200(undef) . pattern_chunk($n));
        return 0;
    }
    if ($case eq 'trickle') {
        write_all($c, head200($n));
        for my $ch (split //, pattern_chunk($n)) { write_all($c, $ch); sleep 0.01 }
        return 1;
    }
    if ($case eq 'short') {
        my $send = query($t, 'send');
        write_all($c, head200($n) . pattern_chunk($send));
        my $end = query($t, 'end');
        if ($end eq 'stall') { sleep 4; return 0 }
        sleep 0.05;
        if ($end eq 'rst') {
            setsockopt($c, Socket::SOL_SOCKET(), Socket::SO_LINGER(), pack('ii', 1, 0));
        }
        $tls ? $c->close(SSL_no_shutdown => 1) : close $c;
        return 0;
    }
    if ($case eq 'bad') {
        write_all($c, "HTTP/1.1 200 OK\r\n$bad{query($t, 'k')}\r\n\r\nBADBODY");
        return 1;
    }
    if ($case eq 'nobody') {
        # 204/304/HEAD with bytes behind it anyway, maybe after a 103
        my $st = query($t, 'st');
        my $head = query($t, 'early') ? "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" : '';
        $head .= $st == 204 ? "HTTP/1.1 204 No Content\r\n\r\n"
               : $st == 304 ? "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"
               : "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n";
        write_all($c, $head . ($st == 200 ? 'HEADBODY' : '') . $FAKE);
        return 1;
    }
    if ($case eq 'big') {
        write_all($c, head200($n));
        # incompressible, so that mod_deflate's output is as large
        my ($sent, $piece) = (0, join '', map { chr int rand 256 } 1 .. 65536);
        local $SIG{PIPE} = 'IGNORE';
        # every byte a write took counts, a part of a piece too
        while ($sent < $n) {
            my $w = syswrite($c, $piece, length($piece) - $sent % length($piece),
                             $sent % length($piece));
            last unless $w;
            $sent += $w;
        }
        evil_log_line($log, "big $conn sent $sent of $n");
        return $sent == $n;
    }
    write_all($c, head200(length "answer $t") . "answer $t");
    return 1;
}

my $member = evil_start(member_script(0), port => $vars->{edges_port});
my $tls_member = $have_tls
    ? evil_start(member_script(1), port => $vars->{edges_tls_port}) : undef;
my %mlog = map { $_ => ($_ eq 'edtls' ? $tls_member : $member)->{log} } @routes;
$mlog{edbuf} = $member->{log};

# ---- the client ----------------------------------------------------------------

my $next_id = 0;
my %sent;       # route -> [ "METHOD /target" the member must see, once each ]

sub target {
    my ($route, $path) = @_;
    my $id = ++$next_id;
    my $t = $path . ($path =~ /\?/ ? '&' : '?') . "id=$id";
    return ($t, $id);
}

sub request {
    my ($s, $route, $path, %o) = @_;
    my ($t, $id) = target($route, $path);
    my $m = $o{method} // 'GET';
    push @{ $sent{$route} }, "$m $t";
    write_all($s, "$m /$route$t HTTP/1.1\r\nHost: $host\r\n"
                  . ($route eq 'eddeflate' ? "Accept-Encoding: gzip\r\n" : '')
                  . "\r\n");
    return ($t, $id);
}

# The body as the member sent it (inflated on the deflate route).
sub plain_body {
    my ($h, $body) = @_;
    return $body unless ($h->{'content-encoding'}[0] // '') eq 'gzip';
    my $out;
    gunzip(\$body => \$out) or return "gunzip: $GunzipError";
    return $out;
}

sub exchange {
    my ($s, $route, $path, %o) = @_;
    alarm 30;
    my ($t) = request($s, $route, $path, %o);
    my ($st, $h, $body) = read_response($s, ($o{method} // '') eq 'HEAD');
    alarm 0;
    return ($st // 0, $h // {}, plain_body($h // {}, $body // ''), $t);
}

# A plain request on its own connection, or on $s: its own answer?
sub answered {
    my ($route, $s) = @_;
    my $own = !$s;
    $s //= proxy_socket();
    my ($st, $h, $body, $t) = exchange($s, $route, '/ok');
    close $s if $own;
    return $st == 200 && $body eq "answer $t" ? 'own answer' : "$st '$body'";
}

# The member's connection (number) that carried target $t, and every
# request line it logged on that connection.
sub member_conn {
    my ($route, $t) = @_;
    my ($line) = grep { / \Q$t\E$/ } evil_lines($mlog{$route});
    my ($conn) = ($line // '') =~ /^req (\d+)\./;
    return $conn // -1;
}
# Requests the member got on the connection of target $t after it: none
# when that connection was never used again.
sub used_after {
    my ($route, $t) = @_;
    my $conn = member_conn($route, $t);
    my @on = grep { /^req \Q$conn\E\./ } evil_lines($mlog{$route});
    shift @on while @on && $on[0] !~ / \Q$t\E$/;
    shift @on;
    t_debug("after $t on $conn: @on") if @on;
    return scalar @on;
}

# The access log line of target $t: (status, %b, %O).
sub ed_log {
    my ($route, $t) = @_;
    for (1 .. 50) {
        if (open my $fh, '<', "$vars->{t_logs}/ed_log") {
            my ($l) = grep { m{^/\Q$route$t\E } } <$fh>;
            return ($1, $2 eq '-' ? 0 : $2, $3) if $l && $l =~ / (\d+) (\S+) (\d+)$/;
        }
        sleep 0.1;
    }
    return (0, -1, -1);
}

sub wait_log {
    my ($from, $re) = @_;
    for (1 .. 50) {
        my $l = error_log_since($from);
        return 1 if $l =~ $re;
        sleep 0.1;
    }
    return 0;
}

for my $route (@routes) {
    my $copied = $route ne 'edsplice';
    t_debug("---- $route");

    # -- a whole fake response glued behind a sized body --------------------
    # empty and small: it all came with the head (the core's read-ahead,
    # the spliced path's one pass); large: the rest read off the socket
    # (direct reads, splice) or through mod_ssl
    for my $case (['glue', 0], ['glue', 10], ['glue', 300_000], ['gluechunk', 5000],
                  ['tecl', 20_000]) {
        my ($what, $n) = @$case;
        my $s = proxy_socket();
        my ($st, $h, $body, $t) = exchange($s, $route, "/$what/$n");
        ok t_cmp($st == 200 && $body eq pattern_chunk($n)
                 && ($what ne 'tecl' || ($h->{'content-length'}[0] // '') ne '3')
                 ? 'exact' : "$st " . length $body,
                 'exact', "$route: $what $n B: exactly the body");
        ok t_cmp(answered($route, $s), 'own answer', "$route: follow-up on the client connection");
        ok t_cmp(answered($route), 'own answer', "$route: a victim on another connection");
        close $s;
        ok t_cmp(used_after($route, $t), 0, "$route: the glued connection was never used again");
    }

    # -- a sized body cut short: the member closes, resets or stalls --------
    for my $case (['close', 100_000, 50_000], ['rst', 100_000, 50_000],
                  ['stall', 300_000, 70_000]) {
        my ($end, $n, $send) = @$case;
        my $off = error_log_size();
        my $s = proxy_socket();
        my $t0 = time;
        alarm 30;
        my ($t) = request($s, $route, "/short/$n?send=$send&end=$end");
        my ($raw, $eof) = read_until($s, 15, sub { 0 });
        alarm 0;
        my $took = time - $t0;
        close $s;
        my ($head, $body) = split /\r\n\r\n/, $raw, 2;
        $body //= '';
        my $cut;
        if ($route eq 'eddeflate') {
            # compressed and chunked: never the last chunk
            $cut = $eof && $raw =~ m{^HTTP/1\.1 200 } && $raw !~ /\r\n0\r\n\r\n\z/;
        }
        else {
            $cut = $eof && $raw =~ m{^HTTP/1\.1 200 } && $raw =~ /Content-Length: $n\r\n/
                   && $body eq pattern_chunk($send);
        }
        if ($cut && $route ne 'eddeflate') {
            # %b: what went out, no padding
            my (undef, $b) = ed_log($route, $t);
            $cut = $b == $send;
            t_debug("$route $end: %b=$b") unless $cut;
        }
        ok t_cmp($cut ? 'cut' : "eof=$eof " . length($body), 'cut',
                 "$route: CL $n, $send sent then $end: the client gets what came (%b too), then the close");
        ok t_cmp($took < ($end eq 'stall' ? 8 : 4) ? 'in time' : "took $took s", 'in time',
                 "$route: $end: no wait beyond idle=");
        ok t_cmp(wait_log($off, qr/RP00040/) ? 'logged' : 'not logged', 'logged',
                 "$route: $end: RP00040");
    }

    # -- framing the proxy must refuse -------------------------------------------
    for my $k (sort keys %bad) {
        my $s = proxy_socket();
        my ($st, $h, $body, $t) = exchange($s, $route, "/bad?k=$k");
        my $fu = answered($route, $s);
        close $s;
        ok t_cmp("$st " . ($body =~ /BADBODY/ ? 'leaked' : 'clean') . " $fu",
                 '502 clean own answer', "$route: $k refused, the connection goes on");
    }

    # -- 204/304/HEAD with bytes behind them (and a 103 before) ----------------
    for my $case (['204', 0], ['304', 0], ['200', 0, 'HEAD'], ['204', 1], ['304', 1],
                  ['200', 1, 'HEAD']) {
        my ($code, $early, $m) = @$case;
        my $s = proxy_socket();
        alarm 30;
        my ($t) = request($s, $route, "/nobody?st=$code&early=$early", method => $m // 'GET');
        my ($st, $h) = read_response($s, 1);
        ($st, $h) = read_response($s, 1) while ($st // 0) == 103;
        alarm 0;
        my $fu = answered($route, $s);
        close $s;
        my $label = "$route: " . ($m // 'GET') . " $code" . ($early ? ' after a 103' : '');
        ok t_cmp(($st // 0) . " $fu", "$code own answer", "$label: nothing behind it reaches the next response");
        ok t_cmp(used_after($route, $t), 0, "$label: its connection not reused");
    }

    # -- exact bytes: with the head, trickled, close-delimited ----------------------
    {
        my $s = proxy_socket();
        my $all = 1;
        for my $n (0, 1, 7000, 7930, 7990, 8000, 100_000) {
            my ($st, $h, $body, $t) = exchange($s, $route, "/whole/$n");
            my $ok = $st == 200 && $body eq pattern_chunk($n);
            if ($ok && $route ne 'eddeflate') {
                my ($lst, $b) = ed_log($route, $t);
                $ok = $b == $n;
                t_debug("$route whole $n: %b $b") unless $ok;
            }
            $all &&= $ok;
        }
        ok t_cmp($all, 1, "$route: bodies that came with their head (0 B - 100 KB), exact, %b exact");
        my ($st, $h, $body) = exchange($s, $route, '/trickle/40');
        ok t_cmp($body, pattern_chunk(40), "$route: a body trickled byte by byte, exact");
        ok t_cmp(answered($route, $s), 'own answer', "$route: and the connection goes on");
        close $s;
        $s = proxy_socket();
        ($st, $h, $body) = exchange($s, $route, '/closed/200000');
        ok t_cmp($st == 200 && $body eq pattern_chunk(200_000) ? 'exact' : "$st " . length $body,
                 'exact', "$route: close-delimited 200 KB, exact");
        ok t_cmp(answered($route, $s), 'own answer', "$route: and the client's connection goes on");
        close $s;
    }

    # -- a client that goes away mid-body ------------------------------------------
    {
        my $n = 16 * 1024 * 1024;
        my $off = error_log_size();
        my $p0 = status_pool($route);
        my $s = proxy_socket();
        alarm 30;
        my ($t) = request($s, $route, "/big/$n");
        my ($got) = read_until($s, 10, sub { length($_[0]) >= 200_000 });
        alarm 0;
        setsockopt($s, Socket::SOL_SOCKET(), Socket::SO_LINGER(), pack('ii', 1, 0));
        close $s;
        my $conn = member_conn($route, $t);
        my ($big) = ('');
        for (1 .. 100) {
            ($big) = grep { /^big \Q$conn\E / } evil_lines($mlog{$route});
            last if $big;
            sleep 0.1;
        }
        my ($sent) = ($big // '') =~ /sent (\d+)/;
        ok t_cmp(defined $sent && $sent < $n ? 'broken off' : ($big // 'nothing'), 'broken off',
                 "$route: client gone: the member's connection was closed under it");
        my $p1 = status_pool($route);
        ok t_cmp(answered($route), 'own answer', "$route: client gone: a victim gets its own answer");
        ok t_cmp(used_after($route, $t), 0, "$route: client gone: its connection not reused");
        my $tag = $copied ? qr/RP00390[^\n]*the client went away/ : qr/RP00291[^\n]*the client went away/;
        my $moved = ($p1->{body_bytes}{spliced} + $p1->{body_bytes}{copied})
                  - ($p0->{body_bytes}{spliced} + $p0->{body_bytes}{copied});
        ok t_cmp(wait_log($off, $tag) && $moved <= ($sent // 0) ? 'logged, counted' : "moved $moved",
                 'logged, counted', "$route: client gone: tagged line, counters <= what the member sent");
    }
}

# ---- a body that outgrows RProxyBuffering: the rest copied --------------------------
{
    my $s = proxy_socket();
    my ($st, $h, $body, $t) = exchange($s, 'edbuf', '/glue/300000');
    ok t_cmp($st == 200 && $body eq pattern_chunk(300_000) ? 'exact' : "$st " . length $body,
             'exact', 'buffering outgrown: glued fake behind 300000 B: exactly the body');
    ok t_cmp(answered('edbuf', $s), 'own answer', 'buffering outgrown: follow-up');
    close $s;
    ok t_cmp(used_after('edbuf', $t), 0, 'buffering outgrown: the glued connection never used again');
    my $off = error_log_size();
    $s = proxy_socket();
    alarm 30;
    ($t) = request($s, 'edbuf', '/short/300000?send=150000&end=rst');
    my ($raw, $eof) = read_until($s, 15, sub { 0 });
    alarm 0;
    close $s;
    my (undef, $cut) = split /\r\n\r\n/, $raw, 2;
    ok t_cmp($eof && $raw =~ /Content-Length: 300000\r\n/ && ($cut // '') eq pattern_chunk(150_000)
             ? 'cut' : "eof=$eof " . length($cut // ''),
             'cut', 'buffering outgrown: a reset mid-body cuts the client after what came');
    ok t_cmp(wait_log($off, qr/RP00040/) ? 'logged' : 'not logged', 'logged',
             'buffering outgrown: RP00040');
    ok t_cmp(answered('edbuf'), 'own answer', 'buffering outgrown: a victim');
}

# ---- a TLS client on the spliced route: copied, the same promises -----------------
if ($have_tls) {
    my $tls = sub {
        IO::Socket::SSL->new(PeerAddr => '127.0.0.1', PeerPort => $vars->{mod_ssl_port},
                             SSL_verify_mode => 0, Timeout => 10)
            or die 'ssl connect: ' . IO::Socket::SSL::errstr();
    };
    my $s = $tls->();
    my ($st, $h, $body, $t) = exchange($s, 'edsplice', '/glue/300000');
    ok t_cmp($st == 200 && $body eq pattern_chunk(300_000) ? 'exact' : "$st " . length $body,
             'exact', 'TLS client: glued fake behind 300000 B: exactly the body');
    ok t_cmp(answered('edsplice', $s), 'own answer', 'TLS client: follow-up');
    close $s;
    ok t_cmp(used_after('edsplice', $t), 0, 'TLS client: the glued connection never used again');
    $s = $tls->();
    alarm 30;
    request($s, 'edsplice', '/short/100000?send=50000&end=rst');
    my ($raw, $eof) = read_until($s, 15, sub { 0 });
    alarm 0;
    close $s;
    my (undef, $cut) = split /\r\n\r\n/, $raw, 2;
    ok t_cmp($eof && ($cut // '') eq pattern_chunk(50_000) ? 'cut' : "eof=$eof",
             'cut', 'TLS client: a reset mid-body cuts the client after what came');
}
else {
    ok(1) for 1 .. 4;
}

# ---- the members saw exactly what was sent ----------------------------------------
for my $which ([$member, [(grep { $_ ne 'edtls' } @routes), 'edbuf']], [$tls_member, ['edtls']]) {
    my ($m, $rs) = @$which;
    if (!$m) { ok(1); next }
    my @want = sort map { @{ $sent{$_} // [] } } @$rs;
    my @got = sort map { /^req \S+ (.*)$/ ? $1 : () } evil_lines($m->{log});
    ok t_cmp(join("\n", @got), join("\n", @want),
             'the member parsed exactly the requests sent, each once');
}
ok t_cmp(scalar(grep { !/^(req |end |big )/ } evil_lines($member->{log})), 0,
         'the member logged nothing else');

evil_stop($member);
evil_stop($tls_member) if $tls_member;
