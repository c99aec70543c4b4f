# Faults: refused connects, timeouts and malformed backend responses become
# clean 502/504 answers, logged with a tag, and never corrupt the client's
# connection or leak a backend address.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use IO::Socket::INET;
use Time::HiRes qw(time);
use RPTest qw(evil_start evil_stop read_request read_response echo_parse);

my @malformed = (
    ['bad status code',        "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"],
    ['status below 100',       "HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n"],
    ['not HTTP',               "SSH-2.0-OpenSSH_9.2\r\n\r\n"],
    ['HTTP/2 preface',         "HTTP/2 200\r\n\r\n"],
    ['field without colon',    "HTTP/1.1 200 OK\r\nContent-Length 5\r\n\r\nhello"],
    ['space before colon',     "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello"],
    ['obsolete line folding',  "HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n"],
    ['control char in value',  "HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 0\r\n\r\n"],
    ['two Content-Lengths',    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"],
    ['negative length',        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"],
    ['length with a sign',     "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello"],
    ['closed before a byte',   ""],
    ['half a status line',     "HTTP/1.1 20"],
);

plan tests => 11 + 3 * @malformed;

my $port = Apache::Test::vars('port');

# refused connect: 502, tagged log line, nothing about the backend
my $res = GET '/dead/x';
ok t_cmp($res->code, 502, 'refused connect -> 502');
ok !($res->content =~ /127\.0\.0\.1|\d{5}/);

# A backend that answers each request according to its path.
my %script = map { ("/m$_" => $malformed[$_][1]) } 0 .. $#malformed;
my $evil = evil_start(sub {
    my ($c) = @_;
    while (my ($m, $t) = read_request($c)) {
        my ($path) = $t =~ m{^/([^?]*)};
        $path = "/$path";
        if ($path eq '/slow') { sleep 4; return }
        if ($path eq '/trickle') {
            print $c "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc";
            sleep 4;
            return;
        }
        if ($path eq '/badchunk') {
            print $c "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   . "5\r\nhello\r\nzz\r\n";
            return;
        }
        if ($path eq '/extra') {
            print $c "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n"
                   . "Content-Length: 8\r\n\r\nsmuggled";
            next;
        }
        if ($path eq '/tecl') {
            print $c "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                   . "5\r\nhello\r\n0\r\n\r\n";
            return;
        }
        print $c $script{$path} // "HTTP/1.1 404 Nope\r\nContent-Length: 0\r\n\r\n";
        return;
    }
});

# every malformed response: 502 to the client, whose keep-alive connection
# then serves the next request normally
for my $i (0 .. $#malformed) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 10) or die $!;
    print $s "GET /evil/m$i HTTP/1.1\r\nHost: localhost\r\n\r\n";
    my ($st, $h, $body) = read_response($s);
    ok t_cmp($st, 502, "$malformed[$i][0] -> 502");
    ok !(($body // '') =~ /127\.0\.0\.1|hello|OpenSSH/);
    print $s "GET /b1/after?count=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    ($st, $h, $body) = read_response($s);
    ok t_cmp(($st // 0) . ' ' . ($body // ''), "200 backend=b1\n",
             "$malformed[$i][0]: client connection still sound");
}

# no answer within header=2s -> 504
my $t0 = time;
$res = GET '/evil/slow';
my $took = time - $t0;
ok t_cmp($res->code, 504, 'backend silent past the header timeout -> 504');
ok $took >= 1.5 && $took < 4;

# a body that stalls past idle=2s after the headers went out: the client
# cannot get a clean status any more, but the response must not look
# complete (no 100 bytes) and the connection is closed
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                              Timeout => 10) or die $!;
print $s "GET /evil/trickle HTTP/1.1\r\nHost: localhost\r\n\r\n";
my ($st, $h, $body) = read_response($s);
ok t_cmp($st, 200, 'headers of the stalled response came through');
ok length($body) < 100;

# a broken chunked body: cut off, not passed on as complete
$s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                           Timeout => 10) or die $!;
print $s "GET /evil/badchunk HTTP/1.1\r\nHost: localhost\r\n\r\n";
my $raw = '';
while (sysread($s, my $buf, 4096)) { $raw .= $buf }
ok t_cmp(($raw =~ m{^HTTP/1\.1 200}) ? 1 : 0, 1, 'headers went out before the break');
ok !($raw =~ /\r\n0\r\n\r\n/ || $raw =~ /zz/);

# bytes beyond Content-Length never become the next response
$res = GET '/evil/extra';
ok t_cmp($res->content, 'ok', 'exactly Content-Length bytes relayed');
$res = GET '/evil/m999';
ok t_cmp($res->code, 404, 'the next request gets its own response, not the leftover');

# Transfer-Encoding with Content-Length: chunked wins (RFC 9112 6.3)
$res = GET '/evil/tecl';
ok t_cmp($res->content, 'hello', 'TE+CL: body framed by chunked');
evil_stop($evil);
