package RPWireMember;
# The connection side of the wire-logging member of RPWire.pm: what runs in
# the process the member forks for each connection it accepts.
#
# serve() parses what the proxy sends strictly per RFC 9112 and logs (the
# records are listed at the top of RPWire.pm), one JSON line per record,
# every request it parsed, with the exact raw bytes, the bytes it cannot
# parse and the bytes left over at a close. It answers each request as its
# X-Script header says (parse_script() below) with a body made by
# wire_body(). RPWire.pm starts, drains and stops the member and reads the
# log; tests use it, not this module.
use strict;
use warnings;
use Exporter 'import';
use IO::Select;
use Socket qw(SOL_SOCKET SO_LINGER SHUT_WR);
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use Time::HiRes ();

our @EXPORT_OK = qw(serve logrec parse_script wire_body);

my $JSON = JSON::PP->new->canonical;
my $TOKEN = qr/[!#\$%&'*+\-.^_`|~0-9A-Za-z]+/;

sub logrec {
    my ($log, $rec) = @_;
    my %r = %$rec;
    for my $k (qw(raw body)) {
        $r{$k} = encode_base64($r{$k}, '') if defined $r{$k};
    }
    my $line = $JSON->encode(\%r) . "\n";
    open my $fh, '>>', $log or die "$log: $!";
    binmode $fh;
    syswrite $fh, $line;        # one write per record: no interleaving
    close $fh;
}

# One connection: parse, log, answer, until EOF, a close, or drain().
sub serve {
    my ($sock, $c, $log, $opt) = @_;
    binmode $sock;
    my $stop = 0;
    $SIG{USR1} = sub { $stop = 1 };
    $SIG{PIPE} = 'IGNORE';
    my $st = { sock => $sock, buf => '', pos => 0, c => $c, i => 0,
               log => $log, stop => \$stop, idle => $opt->{idle} || 30 };
    my $how = eval { serve_loop($st); 'eof' };
    if (!defined $how) {
        my $e = $@;
        $how = ref $e ? $e->{how} : "died: $e";
    }
    logrec($log, { t => 'close', c => $c, how => $how });
    close $sock;
}

# Reads more bytes into the buffer; 0 at EOF. Dies {how => 'drain'} when
# drain() asked us to stop, after logging the incomplete request held.
sub fill {
    my ($st) = @_;
    my $sel = IO::Select->new($st->{sock});
    my $deadline = time + $st->{idle};
    while (1) {
        if (${ $st->{stop} }) {
            # an EOF (or bytes) already there wins: the log must say whether
            # the proxy closed the connection or kept it open
            if ($sel->can_read(0)) {
                my $n = sysread($st->{sock}, my $data, 65536);
                return 0 unless $n;
                $st->{buf} .= $data;
                return 1;
            }
            leftover($st, 'drain');
            die { how => 'drain' };
        }
        die { how => 'idle' } if time > $deadline;
        my @ready = $sel->can_read(0.2);
        next unless @ready;
        my $n = sysread($st->{sock}, my $data, 65536);
        if (!defined $n) {
            next if $!{EINTR} || $!{EAGAIN};
            return 0;       # a reset: like EOF
        }
        return 0 if $n == 0;
        $st->{buf} .= $data;
        return 1;
    }
}

sub leftover {
    my ($st, $why) = @_;
    return unless length $st->{buf};
    logrec($st->{log}, { t => 'partial', c => $st->{c}, i => $st->{i},
                         raw => $st->{buf}, why => $why });
    $st->{buf} = '';
    $st->{pos} = 0;
}

sub bad {
    my ($st, $why) = @_;
    logrec($st->{log}, { t => 'bad', c => $st->{c}, i => $st->{i},
                         raw => $st->{buf}, why => $why });
    $st->{buf} = '';
    my $b = "bad request: $why\n";
    syswrite $st->{sock}, "HTTP/1.1 400 Bad Request\r\nContent-Length: "
        . length($b) . "\r\nConnection: close\r\n\r\n$b";
    die { how => 'bad' };
}

# A CRLF-terminated line from the current position (undef at EOF).
sub need_line {
    my ($st, $max) = @_;
    while (1) {
        my $i = index $st->{buf}, "\r\n", $st->{pos};
        if ($i >= 0) {
            my $l = substr $st->{buf}, $st->{pos}, $i - $st->{pos};
            bad($st, 'bare CR or LF in a line') if $l =~ /[\r\n]/;
            $st->{pos} = $i + 2;
            return $l;
        }
        bad($st, 'line too long') if length($st->{buf}) - $st->{pos} > $max;
        return undef unless fill($st);
    }
}

sub need_bytes {
    my ($st, $n) = @_;
    while (length($st->{buf}) - $st->{pos} < $n) {
        return undef unless fill($st);
    }
    my $d = substr $st->{buf}, $st->{pos}, $n;
    $st->{pos} += $n;
    return $d;
}

# Field lines up to the empty line: [[name, value], ...] (undef at EOF).
sub need_fields {
    my ($st) = @_;
    my @f;
    while (1) {
        my $l = need_line($st, 16384) // return undef;
        return \@f if $l eq '';
        bad($st, 'obs-fold') if $l =~ /^[ \t]/;
        my ($k, $v) = $l =~ /^($TOKEN):[ \t]*(.*?)[ \t]*\z/
            or bad($st, "malformed field line");
        bad($st, "CTL in field value") if $v =~ /[\x00-\x08\x0a-\x1f\x7f]/;
        push @f, [$k, $v];
        bad($st, 'too many fields') if @f > 200;
    }
}

sub field_all {
    my ($fields, $name) = @_;
    return map { $_->[1] } grep { lc $_->[0] eq lc $name } @$fields;
}

# The request head at the buffer's start: a hash, or undef at a clean EOF.
sub read_head {
    my ($st) = @_;
    $st->{pos} = 0;
    # RFC 9112 section 2.2 lets a server skip empty lines before a request
    # line; a correct proxy sends none, so they are logged
    while (1) {
        if ($st->{buf} eq '' || $st->{buf} eq "\r") {
            next if fill($st);
            leftover($st, 'eof');
            return undef;
        }
        my ($j) = $st->{buf} =~ /^((?:\r\n)+)/ or last;
        logrec($st->{log}, { t => 'junk', c => $st->{c}, raw => $j });
        substr($st->{buf}, 0, length $j) = '';
    }
    my $line = need_line($st, 8192);
    if (!defined $line) { leftover($st, 'eof'); return undef }
    my ($m, $u, $v) = $line =~ m{^($TOKEN) (\S+) (HTTP/\d\.\d)\z}
        or bad($st, 'malformed request line');
    my $h = need_fields($st);
    if (!defined $h) { leftover($st, 'eof'); return undef }
    my $req = { m => $m, u => $u, v => $v, h => $h };
    my @te = field_all($h, 'Transfer-Encoding');
    my @cl = field_all($h, 'Content-Length');
    if (@te) {
        bad($st, 'Transfer-Encoding and Content-Length') if @cl;
        bad($st, 'Transfer-Encoding in HTTP/1.0') if $v eq 'HTTP/1.0';
        bad($st, "Transfer-Encoding @te") if @te > 1 || lc $te[0] ne 'chunked';
        $req->{chunked} = 1;
    }
    elsif (@cl) {
        bad($st, 'several Content-Length') if @cl > 1;
        bad($st, "Content-Length $cl[0]") unless $cl[0] =~ /^\d{1,15}\z/;
        $req->{cl} = $cl[0] + 0;
    }
    my ($id) = field_all($h, 'X-Id');
    $req->{id} = $id // '-';
    my ($exp) = field_all($h, 'Expect');
    $req->{expect} = defined $exp && lc $exp eq '100-continue';
    my ($sc) = field_all($h, 'X-Script');
    $req->{script} = parse_script($sc // '');
    return $req;
}

# Reads the body; $hook->() runs once, after half a sized body or after the
# first chunk (the "mid" point of an early answer). Returns 0 at EOF.
sub read_body {
    my ($st, $req, $hook) = @_;
    $req->{body} = '';
    if ($req->{chunked}) {
        my $n = 0;
        while (1) {
            my $l = need_line($st, 4096) // return 0;
            my ($hex, $ext) = $l =~ /^([0-9A-Fa-f]{1,15})((?:[ \t]*;.*)?)\z/
                or bad($st, 'malformed chunk size line');
            bad($st, 'malformed chunk extension')
                if $ext ne '' && $ext !~ /^(?:[ \t]*;[ \t]*$TOKEN(?:[ \t]*=[ \t]*(?:$TOKEN|"(?:[^"\\]|\\.)*"))?)+\z/;
            my $size = hex $hex;
            last if $size == 0;
            my $d = need_bytes($st, $size) // return 0;
            my $crlf = need_bytes($st, 2) // return 0;
            bad($st, 'chunk data not followed by CRLF') if $crlf ne "\r\n";
            $req->{body} .= $d;
            $hook->() if $hook && $n++ == 0;
        }
        my $tr = need_fields($st) // return 0;
        $req->{tr} = $tr;
        $hook->() if $hook && $n == 0;
        return 1;
    }
    my $len = $req->{cl} // 0;
    my $half = $hook ? int($len / 2) : 0;
    if ($half) {
        $req->{body} = need_bytes($st, $half) // return 0;
    }
    $hook->() if $hook;
    my $rest = need_bytes($st, $len - $half) // return 0;
    $req->{body} .= $rest;
    return 1;
}

# The script: "k=v,k=v". Keys (all optional):
#   s=NNN      final status (200)
#   fr=cl|ch|close|none   body framing: Content-Length, chunked,
#              close-delimited (no length: the member closes after it),
#              none (no body and no length field)
#   len=N      body length (at least the "rid=..." text)
#   chunks=N   chunks of a chunked body (2); tr=N trailer fields (0)
#   info=100.103.103   interim responses before the final one
#   early=NNN  final answer before the body is read; at=head|mid
#              (after half the body / the first chunk); after=read|close:
#              then read the body and go on, or close (lingering)
#   cont=0     no "100 Continue" to an Expect request (wait for the body)
#   ka=0       "Connection: close" and close after the response
#   cc=1       say "Connection: close" also for close-delimited bodies
#   hv=1.0     answer with HTTP/1.0
#   lie=N      Content-Length off by N (+: promise more and close, -:
#              stray bytes after the body)
#   gap=MS     wait before the close that ends a response
#   rst=head|body   reset the connection (SO_LINGER 0): after reading the
#              request / in the middle of the response body
sub parse_script {
    my ($s) = @_;
    my %s;
    for (split /[,;]\s*/, $s) {
        my ($k, $v) = /^\s*([a-z]+)=(.*)$/ or next;
        $s{$k} = $v;
    }
    return \%s;
}

# The answer body for a request: who it belongs to and what the member saw.
sub wire_body {
    my ($id, $method, $target, $bodylen, $len) = @_;
    my $b = "rid=$id m=$method u=$target n=$bodylen\n";
    my $p = join '', '0'..'9', 'a'..'z', 'A'..'Z';
    $b .= substr($p x (int(($len // 0) / 62) + 1), 0, $len - length $b)
        if ($len // 0) > length $b;
    return $b;
}

sub reset_conn {
    my ($st, $why) = @_;
    setsockopt($st->{sock}, SOL_SOCKET, SO_LINGER, pack('II', 1, 0));
    close $st->{sock};
    die { how => "rst-$why" };
}

# Sends "Connection: close"-style end: half-close, then read and discard
# what the proxy still sends (logged as disc), as httpd's lingering close.
sub linger_close {
    my ($st, $how) = @_;
    shutdown $st->{sock}, SHUT_WR;
    my $disc = substr $st->{buf}, $st->{pos};
    $st->{buf} = '';
    $st->{pos} = 0;
    my $sel = IO::Select->new($st->{sock});
    my $deadline = Time::HiRes::time() + 2;
    while (Time::HiRes::time() < $deadline && !${ $st->{stop} }) {
        next unless $sel->can_read(0.1);
        my $n = sysread($st->{sock}, my $d, 65536);
        last unless $n;
        $disc .= $d;
    }
    logrec($st->{log}, { t => 'disc', c => $st->{c}, raw => $disc })
        if length $disc;
    die { how => $how };
}

sub send_resp {
    my ($st, $req, $status, %o) = @_;
    my $s = $req->{script};
    my $hv = ($s->{hv} // '') eq '1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
    my $fr = $o{fr} // $s->{fr} // 'cl';
    my $head_only = $req->{m} eq 'HEAD' || $status == 204 || $status == 304
                    || $status < 200;
    my $body = wire_body($req->{id}, $req->{m}, $req->{u},
                         $o{bodylen} // length($req->{body} // ''),
                         $s->{len});
    my $close = $o{close} || ($s->{ka} // 1) eq '0' || $fr eq 'close'
                || $hv eq 'HTTP/1.0';
    my $h = "$hv $status " . reason($status) . "\r\n"
          . "X-Wire-Conn: $st->{c}\r\nX-Wire-Req: $st->{i}\r\n";
    $h .= "Connection: close\r\n"
        if $close && ($fr ne 'close' || $s->{cc});
    my $out;
    my $lie = $s->{lie} // 0;
    if ($fr eq 'cl') {
        $h .= "Content-Length: " . (length($body) + $lie) . "\r\n\r\n";
        $out = $head_only ? $h : $h . $body;
        $out .= "X" x -$lie if $lie < 0 && !$head_only;   # stray bytes
        $close = 1 if $lie > 0;
    }
    elsif ($fr eq 'ch') {
        $h .= "Transfer-Encoding: chunked\r\n";
        my $ntr = $s->{tr} // 0;
        $h .= "Trailer: " . join(', ', map { "X-Tr$_" } 1..$ntr) . "\r\n"
            if $ntr;
        $h .= "\r\n";
        $out = $h;
        if (!$head_only) {
            my $n = $s->{chunks} || 2;
            my $sz = int(length($body) / $n) || 1;
            my $rest = $body;
            while (length $rest) {
                my $c = substr $rest, 0, $sz, '';
                $out .= sprintf("%x;x=%d\r\n", length $c, length $c)
                        . "$c\r\n";
            }
            $out .= "0\r\n" . join('', map { "X-Tr$_: t$_\r\n" } 1..$ntr)
                    . "\r\n";
        }
    }
    elsif ($fr eq 'close') {
        $out = "$h\r\n" . ($head_only ? '' : $body);
        $close = 1;
    }
    else {
        $out = "$h\r\n";
    }
    logrec($st->{log}, { t => 'resp', c => $st->{c}, i => $st->{i},
                         head => "$hv $status $fr" . ($close ? ' close' : '') });
    if (($s->{rst} // '') eq 'body' && $status >= 200) {
        syswrite $st->{sock}, substr($out, 0, length($h) + int(length($body) / 2));
        reset_conn($st, 'body');
    }
    syswrite $st->{sock}, $out;
    # gap=MS: a pause before the close that ends the response, so that
    # the body and the end come in separate reads
    Time::HiRes::sleep($s->{gap} / 1000) if $close && $s->{gap};
    return $close;
}

sub send_info {
    my ($st, $status) = @_;
    my $extra = $status == 103 ? "Link: </s.css>; rel=preload\r\n" : '';
    syswrite $st->{sock}, "HTTP/1.1 $status " . reason($status) . "\r\n"
                          . "$extra\r\n";
}

sub reason {
    my ($s) = @_;
    my %r = (100 => 'Continue', 102 => 'Processing', 103 => 'Early Hints',
             200 => 'OK', 201 => 'Created', 204 => 'No Content',
             304 => 'Not Modified', 400 => 'Bad Request',
             401 => 'Unauthorized', 404 => 'Not Found',
             413 => 'Content Too Large', 417 => 'Expectation Failed',
             500 => 'Internal Server Error');
    return $r{$s} // 'Whatever';
}

sub log_req {
    my ($st, $req, %o) = @_;
    my $raw = substr $st->{buf}, 0, $st->{pos};
    logrec($st->{log}, { t => 'req', c => $st->{c}, i => $st->{i},
                         raw => $raw, m => $req->{m}, u => $req->{u},
                         v => $req->{v}, h => $req->{h},
                         body => $req->{body} // '', tr => $req->{tr} // [],
                         %o });
}

# Consumes what log_req() logged from the buffer.
sub consume {
    my ($st) = @_;
    substr($st->{buf}, 0, $st->{pos}) = '';
    $st->{pos} = 0;
}

sub serve_loop {
    my ($st) = @_;
    while (1) {
        my $req = read_head($st) // return;
        my $s = $req->{script};
        reset_conn($st, 'head') if ($s->{rst} // '') eq 'head';
        my $has_body = $req->{chunked} || ($req->{cl} // 0) > 0;
        my $early = $has_body ? $s->{early} : undef;
        my $at = $s->{at} // 'head';
        my $close = 0;
        my $answered = 0;
        my $answer_early = sub {
            $answered = 1;
            my $after_close = ($s->{after} // 'read') eq 'close';
            # an early answer has a body: "none" is for 204/304 only
            my $fr = ($s->{fr} // 'cl') eq 'none' ? 'cl' : undef;
            $close = send_resp($st, $req, $early, close => $after_close,
                               fr => $fr,
                               bodylen => length($req->{body} // ''));
            if ($after_close) {
                log_req($st, $req, unread => 1);
                linger_close($st, 'early-close');
            }
        };
        if (defined $early && $at eq 'head') {
            $answer_early->();
        }
        elsif ($has_body && $req->{expect} && ($s->{cont} // 1) ne '0') {
            send_info($st, 100);
        }
        if ($has_body) {
            my $hook = defined $early && $at eq 'mid' ? $answer_early : undef;
            if (!read_body($st, $req, $hook)) {
                leftover($st, 'eof');
                return;
            }
        }
        else {
            $req->{body} = '';
        }
        log_req($st, $req);
        consume($st);
        if (!$answered) {
            for my $i (split /\./, $s->{info} // '') {
                send_info($st, $i) if $i =~ /^1\d\d\z/;
            }
            $close = send_resp($st, $req, $s->{s} // 200);
        }
        $st->{i}++;
        linger_close($st, 'close') if $close;
    }
}

1;
