# The timing and try notes (rproxy-tries, rproxy-try-list, the *-time
# notes) are formatted only when a directive names one of them: a server
# whose logs use none spends nothing on them (issue 12). A separate httpd
# is started twice: once logging only rproxy-pool and rproxy-member (set
# always), once also naming rproxy-tries and rproxy-try-list.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestUtil qw(t_cmp);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use RPTest qw(raw_http);

plan tests => 10;

my $httpd = Apache::Test::vars('httpd');
my $top = Apache::Test::vars('top_dir');
my $b1 = Apache::Test::vars('b1_port');
my $m = '/usr/lib/apache2/modules';

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1) or die $!;
    return $s->sockport;
}

# run FORMAT: starts the httpd logging FORMAT, sends one request, stops
# it; returns (status, access log line, error_log text)
sub run {
    my ($format) = @_;
    my $dir = tempdir(CLEANUP => 1);
    my $port = free_port();
    mkdir "$dir/logs";
    chmod 0777, "$dir/logs";
    open my $fh, '>', "$dir/httpd.conf" or die $!;
    print $fh <<"CONF";
LoadModule mpm_event_module $m/mod_mpm_event.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule rproxy_module $top/.libs/mod_rproxy.so
ServerName localhost
Listen 127.0.0.1:$port
PidFile $dir/logs/httpd.pid
ErrorLog $dir/logs/error_log
LogLevel warn rproxy:debug
User nobody
Group nogroup
CustomLog $dir/logs/access_log "$format"
<RProxyPool lazy>
    RProxyMember http://127.0.0.1:$b1
</RProxyPool>
RProxyPass /lazy/ lazy
<Location /rproxy-status>
    SetHandler rproxy-status
</Location>
CONF
    close $fh;
    my $out = `$httpd -d $dir -f $dir/httpd.conf -k start 2>&1`;
    print "# $out" if $?;
    my $pid;
    for (1 .. 50) {
        if (open my $p, '<', "$dir/logs/httpd.pid") { $pid = <$p>; last if $pid }
        select(undef, undef, undef, 0.1);
    }
    chomp $pid if $pid;
    my (undef, $st) = raw_http("GET /lazy/x HTTP/1.1\r\nHost: localhost\r\n"
                               . "Connection: close\r\n\r\n", port => $port);
    if ($pid) {
        # a graceful stop (SIGWINCH): a TERM just after the response raced
        # the event MPM's lingering close of the connection, which then
        # logged AH03092 (EBADF from the pollset already closed) at error
        # level - httpd's, not this module's
        kill 'WINCH', $pid;
        for (1 .. 100) { last unless kill 0, $pid; select(undef, undef, undef, 0.1) }
        kill 'TERM', $pid if kill 0, $pid;
        for (1 .. 50) { last unless kill 0, $pid; select(undef, undef, undef, 0.1) }
    }
    my $line = '';
    if (open my $a, '<', "$dir/logs/access_log") { $line = <$a> // '' }
    chomp $line;
    my $log = '';
    if (open my $e, '<', "$dir/logs/error_log") { local $/; $log = <$e> }
    return ($st, $line, $log);
}

# no directive names a timing or try note (SetHandler rproxy-status does
# not count): pool and member are logged, the rest is "-"
my ($st, $line, $log) = run('pool=%{rproxy-pool}n member=%{rproxy-member}n '
                            . 'tries=%{RPROXY_TRIES}n');
ok t_cmp($st, 200, 'request served (notes off)');
ok t_cmp($line, qr/^pool=lazy member=http:\/\/127\.0\.0\.1:\d+ /,
         'rproxy-pool and rproxy-member are set all the same');
ok t_cmp($line, qr/ tries=-$/, 'a name that is not ours turns nothing on');
ok t_cmp($log, qr/RP00310.*not set: no directive names one/,
         'RP00310 says the notes are off');
my @errors = grep { /\[[a-z_]*:(emerg|alert|crit|error)\]/ } split /\n/, $log;
print "# logged: $_\n" for @errors;
ok t_cmp(scalar @errors, 0, 'no error logged');

# a LogFormat that names rproxy-tries (in any case) turns them all on
($st, $line, $log) = run('pool=%{rproxy-pool}n tries=%{RProxy-Tries}n '
                         . 'list=%{rproxy-try-list}n us=%{rproxy-backend-time}n');
ok t_cmp($st, 200, 'request served (notes on)');
ok t_cmp($line, qr/^pool=lazy tries=1 /, 'rproxy-tries logged');
ok t_cmp($line, qr/ list=lazy\/127\.0\.0\.1:\d+:200 /, 'rproxy-try-list logged');
ok t_cmp($line, qr/ us=\d+$/, 'rproxy-backend-time logged');
ok t_cmp($log, qr/RP00310.*are set: the configuration names one/,
         'RP00310 says the notes are on');
