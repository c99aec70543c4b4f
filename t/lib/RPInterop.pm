package RPInterop;
# The member of the interop tests (81_ to 83_interop*.t): it parses every
# request strictly (Content-Length or chunked), logs what it parsed, one
# JSON line per request with its connection and position on it, and
# answers as the path asks. A body the connection ends before its framing
# does is logged as "partial", never as a request.
use strict;
use warnings;
use Exporter 'import';
use Digest::MD5 qw(md5_hex);
use IO::Compress::Gzip qw(gzip);
use JSON::PP ();
use Apache::Test ();
use RPTest qw(evil_start evil_stop);

our @EXPORT_OK = qw(member_start member_stop member_log member_reset
                    member_requests text_body);

my $json = JSON::PP->new->canonical;

sub _read_n {
    my ($c, $n) = @_;
    my $d = '';
    while (length($d) < $n) {
        my $got = sysread($c, my $b, $n - length $d);
        last unless $got;
        $d .= $b;
    }
    return $d;
}

sub _read_line {
    my ($c) = @_;
    my $line = '';
    while ($line !~ /\r\n\z/) {
        sysread($c, my $b, 1) or return;
        $line .= $b;
    }
    return $line;
}

# Returns (method, target, \%headers (lowercased, joined with ", ")) or ().
sub _read_head {
    my ($c) = @_;
    my $head = '';
    while ($head !~ /\r\n\r\n\z/) {
        my $n = sysread($c, my $b, 1);
        return unless $n;
        $head .= $b;
    }
    my ($line, @lines) = split /\r\n/, $head;
    my ($m, $t) = split / /, $line;
    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $h{lc $k} = exists $h{lc $k} ? "$h{lc $k}, $v" : $v;
    }
    return ($m, $t, \%h);
}

# The body as framed; (body, complete?).
sub _read_body {
    my ($c, $h) = @_;
    if (($h->{'transfer-encoding'} // '') =~ /chunked/i) {
        my $body = '';
        while (1) {
            my $line = _read_line($c) // return ($body, 0);
            my $size = hex(($line =~ /^([0-9a-fA-F]+)/)[0] // 0);
            if (!$size) {
                while (1) {
                    my $t = _read_line($c) // return ($body, 0);
                    last if $t eq "\r\n";
                }
                return ($body, 1);
            }
            my $d = _read_n($c, $size);
            $body .= $d;
            return ($body, 0) if length($d) < $size;
            return ($body, 0) if _read_n($c, 2) ne "\r\n";
        }
    }
    my $len = $h->{'content-length'} // 0;
    my $body = _read_n($c, $len);
    return ($body, length($body) == $len);
}

sub _respond {
    my ($c, $status, $body, @h) = @_;
    print $c "HTTP/1.1 $status\r\n", map({ "$_\r\n" } @h),
             "Content-Length: ", length($body), "\r\n\r\n", $body;
}

# Deterministic text of $n bytes: words of letters, spaces and newlines,
# compressible about 2:1 (mod_deflate refuses bodies that inflate more
# than 200 times).
sub text_body {
    my ($n, $seed) = @_;
    my $s = $seed // 1;
    my $out = '';
    my @w = qw(alpha banana carrot data echo fabric gamma hat ink java kilo
               lama mango nadir oak papaya quasar radar salsa tapa);
    while (length($out) < $n) {
        $s = ($s * 1103515245 + 12345) % 2147483648;
        $out .= $w[$s % @w] . (($s >> 8) % 9 ? ' ' : "\n");
    }
    return substr($out, 0, $n);
}

sub _log {
    my ($log, $rec) = @_;
    open my $fh, '>>', $log or die "$log: $!";
    print $fh $json->encode($rec), "\n";
    close $fh;
}

my $script = sub {
    my ($c, $conn, $log) = @_;
    $c->autoflush(1);
    my $n = 0;
    while (my ($m, $t, $h) = _read_head($c)) {
        $n++;
        my %rec = (conn => $conn, n => $n, method => $m, target => $t,
                   cl => $h->{'content-length'},
                   te => $h->{'transfer-encoding'},
                   ce => $h->{'content-encoding'},
                   expect => $h->{expect});
        if (($h->{expect} // '') =~ /100-continue/i) {
            print $c "HTTP/1.1 100 Continue\r\n\r\n";
        }
        my ($body, $complete) = _read_body($c, $h);
        $rec{len} = length $body;
        $rec{md5} = md5_hex($body);
        $rec{body} = $body if length($body) <= 256;
        if (!$complete) {
            $rec{partial} = 1;
            _log($log, \%rec);
            return;
        }
        _log($log, \%rec);
        my $seen = "seen $conn.$n $m $t len=$rec{len} md5=$rec{md5}\n";
        if ($t =~ m{/status/(\d{3})}) {
            _respond($c, "$1 Member Error", "member says $1\n",
                     'Content-Type: text/plain');
        }
        elsif ($t =~ m{/errorpage}) {
            _respond($c, '200 OK', "member error page\n",
                     'Content-Type: text/plain');
        }
        elsif ($t =~ m{/cacheable}) {
            _respond($c, '200 OK', "cached answer $conn.$n\n",
                     'Content-Type: text/plain', 'Cache-Control: max-age=60');
        }
        elsif ($t =~ m{/gzipped/(\d+)}) {
            gzip(\text_body($1) => \my $z) or die;
            _respond($c, '200 OK', $z, 'Content-Type: text/plain',
                     'Content-Encoding: gzip', 'Vary: Accept-Encoding');
        }
        elsif ($t =~ m{/text/(\d+)}) {
            _respond($c, '200 OK', text_body($1), 'Content-Type: text/plain');
        }
        elsif ($t =~ m{/binary/(\d+)}) {
            _respond($c, '200 OK', text_body($1),
                     'Content-Type: application/octet-stream');
        }
        else {
            _respond($c, '200 OK', $seen, 'Content-Type: text/plain');
        }
    }
};

sub member_start {
    return evil_start($script, port => Apache::Test::vars('interop_port'));
}

sub member_stop { evil_stop(@_) }

sub member_reset {
    my ($m) = @_;
    open my $fh, '>', $m->{log} or die; close $fh;
}

# Every record the member logged since the last reset.
sub member_requests {
    my ($m) = @_;
    open my $fh, '<', $m->{log} or return ();
    my @r;
    while (my $l = <$fh>) {
        next if $l =~ /^conn /;
        push @r, $json->decode($l);
    }
    return @r;
}

1;
