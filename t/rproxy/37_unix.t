# Members behind a Unix socket (RProxyMember unix:PATH, and
# unix:PATH|http://HOST/PREFIX for the Host header and a path prefix; the
# same as an RProxyPass target): the member gets the request line with the
# prefix and the Host the URL after '|' names (localhost without one);
# member connections are kept and reused; a socket that does not exist is
# a member that refuses (a tagged warning, and the other member serves
# with retries); health checks go over the socket; the status page names
# the member by its socket. Configuration: t/conf/37_unix.conf.in.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use Time::HiRes qw(time sleep);
use RPTest qw(evil_start evil_stop read_request respond evil_log
              evil_lines status_member error_log_size error_log_since);

plan tests => 16;

my $dir = Apache::Test::vars('t_logs') . '/uds';
mkdir $dir;
chmod 0777, $dir;           # httpd's children run as another user

# one keep-alive client connection: under prefork one child (and its
# connection pool) serves every request
Apache::TestRequest::user_agent(reset => 1, keep_alive => 1);

# answers every request on a connection with what it saw
sub uds_server {
    my ($path) = @_;
    return evil_start(sub {
        my ($c, $n, $log) = @_;
        while (my ($m, $t, $h) = read_request($c)) {
            evil_log($log, "c$n req $m $t host=" . ($h->{host} // ''));
            if ($t eq '/hc') { respond($c, '200 OK', '') }
            else { respond($c, '200 OK', "uds $t\n", 'X-Backend: uds') }
        }
    }, unix => $path);
}

# the servers go whatever happens (END also runs in their own forks)
my ($app, $hc, $main) = (undef, undef, $$);
END { $$ == $main and evil_stop($_) for grep { $_ && kill 0, $_->{pid} } $app, $hc }
$app = uds_server("$dir/app.sock");
my $res = GET('/uds/a?x=1');
ok t_cmp($res->code, 200, 'served over the Unix socket');
ok t_cmp($res->content, "uds /prefix/a?x=1\n", 'with the prefix after | in the request line');
my @seen = evil_lines($app->{log});
ok t_cmp($seen[-1], 'c1 req GET /prefix/a?x=1 host=app.example',
         'and the Host after |');
$res = GET('/uds/b');
@seen = evil_lines($app->{log});
ok t_cmp($seen[-1], 'c1 req GET /prefix/b host=app.example',
         'the second request reuses the member connection');
ok t_cmp(scalar(grep { /^conn \d+$/ } evil_log($app->{log})), 1, 'one accept for both');

$res = GET('/udsplain/c');
@seen = evil_lines($app->{log});
ok t_cmp(($seen[-1] // '') =~ s/^c\d+ //r, 'req GET /c host=localhost',
         'unix:PATH alone: the path as routed, Host localhost');
$res = GET('/udsurl/d');
ok t_cmp($res->content, "uds /base/d\n", 'an RProxyPass unix: target: its path after |');
@seen = evil_lines($app->{log});
ok t_cmp((($seen[-1] // '') =~ /host=(.*)/)[0] // '', 'url.example', 'and its Host');
evil_stop($app);
undef $app;

# a socket that does not exist: the member refuses, the other serves
my $from = error_log_size();
my @codes = map { GET("/udsfail/f$_?count=1")->code } 1 .. 4;
ok t_cmp("@codes", '200 200 200 200', 'a missing socket: retried on the other member');
my $log = '';
for (1 .. 20) {
    $log = error_log_since($from);
    last if $log =~ /RP00020/;
    sleep 0.05;
}
ok t_cmp($log, qr{RP00020: member udsfail/unix:\S+/missing\.sock: connect failed},
         'a tagged warning names the socket');

# health checks over the socket
sub role { return (status_member('udshc', 0) // {})->{role} // '' }
sub wait_role {
    my ($want) = @_;
    my $t0 = time;
    while (time - $t0 < 5) {
        return 1 if role() eq $want;
        sleep 0.05;
    }
    return 0;
}
ok t_cmp(wait_role('health-failed'), 1, 'no server on the socket: checks fail');
$hc = uds_server("$dir/hc.sock");
ok t_cmp(wait_role('up'), 1, 'a server on it: the checks pass');
ok t_cmp(scalar(grep { m{req GET /hc} } evil_lines($hc->{log})) > 0 ? 1 : 0, 1,
         'the checks came over the socket');
ok t_cmp(status_member('udshc', 0)->{name}, "unix:$dir/hc.sock",
         'the status page names the member by its socket');
evil_stop($hc);
undef $hc;
unlink "$dir/hc.sock";
ok t_cmp(wait_role('health-failed'), 1, 'the server gone: down again');
@codes = map { GET("/udshc/h$_?count=1")->code } 1 .. 3;
ok t_cmp("@codes", '200 200 200', 'the other member serves meanwhile');
