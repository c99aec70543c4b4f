# TraceEnable holds for proxied paths as it does for httpd's own: Off
# refuses TRACE with 405 and an Allow without TRACE (the member sees
# nothing), On (the default) refuses a TRACE with a body with 413 and
# proxies one without, extended proxies the body too. The main server has
# TraceEnable On; vhosts trace_off and trace_ext the others. /rw/ is routed
# to a member this test starts, which logs every request it parses.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestUtil qw(t_cmp);
use RPTest qw(evil_start evil_stop read_request evil_respond evil_log
              raw_http evil_lines);

plan tests => 14;

my $vars = Apache::Test::config()->{vars};
my $be = evil_start(sub {
    my ($c, $n, $log) = @_;
    while (my ($method, $target, $h, $body) = read_request($c)) {
        evil_log($log, "$method $target body=$body");
        evil_respond($c, "seen $method $target\n");
    }
}, port => $vars->{log_backend_port});

sub seen { evil_lines($be->{log}) }

sub trace {
    my ($port, $path, $body) = @_;
    my $req = "TRACE $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
    $req .= defined $body ? "Content-Length: " . length($body) . "\r\n\r\n$body" : "\r\n";
    my ($sock, $status, $h, $content) = raw_http($req, port => $port);
    close $sock;
    return ($status // 0, $h, $content // '');
}

my $off = Apache::Test::config()->{vhosts}{trace_off}{port};
my $ext = Apache::Test::config()->{vhosts}{trace_ext}{port};

# Off: refused before routing, exactly as for a path httpd serves itself
my ($st, $h) = trace($off, '/rw/x');
ok t_cmp($st, 405, 'TraceEnable Off: 405 on a proxied path');
my $allow = $h->{allow}[0];
ok t_cmp(defined $allow && $allow !~ /TRACE/ ? 1 : 0, 1,
         'Allow does not list TRACE (' . ($allow // 'none') . ')');
my (undef, $hcore) = trace($off, '/not-proxied');
ok t_cmp($allow // 'none', $hcore->{allow}[0] // 'none', 'the same Allow as the core gives');
($st) = trace($off, '/rw/x', 'hello');
ok t_cmp($st, 405, 'TraceEnable Off: 405 with a body too');
ok t_cmp(scalar(seen()), 0, 'the member saw nothing');

# On: no body is proxied, a body is refused
($st, undef, my $body) = trace($vars->{port}, '/rw/on');
ok t_cmp("$st $body", "200 seen TRACE /on\n", 'TraceEnable On: TRACE without a body is proxied');
($st) = trace($vars->{port}, '/rw/onbody', 'hello');
ok t_cmp($st, 413, 'TraceEnable On: TRACE with a body is refused with 413');
my $req = "TRACE /rw/onchunked HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
my ($sock, $cst) = raw_http($req);
close $sock;
ok t_cmp($cst, 413, 'and a chunked one too');
ok t_cmp(join('|', seen()), 'TRACE /on body=', 'the member saw only the TRACE without a body');

# a route in <Location>: the same (it reaches b2, whose own httpd core
# answers TRACE by echoing the request it got)
($st, undef, $body) = trace($vars->{port}, '/loc/x');
ok t_cmp("$st " . (split /\r\n/, $body)[0], '200 TRACE /inner/x HTTP/1.1',
         'TraceEnable On: TRACE on a <Location> route is proxied');
($st) = trace($off, '/loc/x');
ok t_cmp($st, 405, 'TraceEnable Off: 405 on a <Location> route');

# extended: the body goes through
($st, undef, $body) = trace($ext, '/rw/ext', 'hello');
ok t_cmp("$st $body", "200 seen TRACE /ext\n", 'TraceEnable extended: TRACE with a body is proxied');
ok t_cmp((seen())[-1], 'TRACE /ext body=hello', 'with its body');
($st) = trace($ext, '/rw/ext0');
ok t_cmp($st, 200, 'and one without');

evil_stop($be);
