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
use RPTest qw(evil_start evil_stop read_request_head read_request_body
              respond);

our @EXPORT_OK = qw(member_start member_stop member_log member_reset
                    member_requests text_body hv send_req);

# A response header's values, joined.
sub hv { my ($h, $n) = @_; return join ', ', @{ $h->{lc $n} || [] } }

# Writes a request; a body gets a Content-Length unless one of @h frames it.
sub send_req {
    my ($s, $method, $path, $body, @h) = @_;
    my $head = "$method $path HTTP/1.1\r\nHost: localhost\r\n"
             . join('', map { "$_\r\n" } @h);
    $head .= 'Content-Length: ' . length($body) . "\r\n"
        if defined $body && !grep { /^(Content-Length|Transfer-Encoding):/i } @h;
    print $s "$head\r\n", $body // '';
}

my $json = JSON::PP->new->canonical;

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
    while (my ($m, $t, $h) = read_request_head($c)) {
        $n++;
        my %rec = (conn => $conn, n => $n, method => $m, target => $t,
                   cl => $h->{'content-length'},
                   te => $h->{'transfer-encoding'},
                   ce => $h->{'content-encoding'},
                   expect => $h->{expect});
        if (($h->{expect} // '') =~ /100-continue/i) {
            print $c "HTTP/1.1 100 Continue\r\n\r\n";
        }
        my ($body, $complete) = read_request_body($c, $h);
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
            respond($c, "$1 Member Error", "member says $1\n",
                     'Content-Type: text/plain');
        }
        elsif ($t =~ m{/errorpage}) {
            respond($c, '200 OK', "member error page\n",
                     'Content-Type: text/plain');
        }
        elsif ($t =~ m{/cacheable}) {
            respond($c, '200 OK', "cached answer $conn.$n\n",
                     'Content-Type: text/plain', 'Cache-Control: max-age=60');
        }
        elsif ($t =~ m{/gzipped/(\d+)}) {
            gzip(\text_body($1) => \my $z) or die;
            respond($c, '200 OK', $z, 'Content-Type: text/plain',
                     'Content-Encoding: gzip', 'Vary: Accept-Encoding');
        }
        elsif ($t =~ m{/text/(\d+)}) {
            respond($c, '200 OK', text_body($1), 'Content-Type: text/plain');
        }
        elsif ($t =~ m{/binary/(\d+)}) {
            respond($c, '200 OK', text_body($1),
                     'Content-Type: application/octet-stream');
        }
        else {
            respond($c, '200 OK', $seen, 'Content-Type: text/plain');
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
