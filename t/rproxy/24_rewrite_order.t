# mod_rewrite composes with routing whatever the LoadModule order: a
# server-level RewriteRule runs before mod_rproxy picks a route, so [F]
# denies a proxied path (the member sees nothing) and a rewrite with [PT]
# is routed by the new path. The suite's server loads mod_rewrite before
# mod_rproxy (t/conf/modules.conf); this test also starts an httpd of its
# own, on order_httpd_port, that loads mod_rproxy first. <Files> does not
# apply to proxied paths (no file is mapped).
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok need_module);
use Apache::TestUtil qw(t_cmp);
use IO::Socket::INET;
use Time::HiRes qw(sleep);
use RPTest qw(evil_start evil_stop read_request evil_respond evil_log
              raw_http evil_lines);

plan tests => 12, need_module('rewrite');

my $vars = Apache::Test::config()->{vars};
my $logport = $vars->{log_backend_port};
my $own_port = $vars->{order_httpd_port};

# the member: logs every request line it parses, answers with it
my $be = evil_start(sub {
    my ($c, $n, $log) = @_;
    while (my ($method, $target) = read_request($c)) {
        evil_log($log, "$method $target");
        evil_respond($c, "seen $method $target\n");
    }
}, port => $logport);

sub seen { evil_lines($be->{log}) }

sub get {
    my ($port, $path) = @_;
    my ($sock, $status, $h, $body) = raw_http(
        "GET $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        port => $port);
    close $sock;
    return ($status // 0, $body // '');
}

# an httpd of our own: mod_rproxy loaded BEFORE mod_rewrite
sub start_own {
    my $dir = "$vars->{t_logs}/order";
    mkdir $dir;
    open my $in, '<', "$vars->{t_conf}/httpd.conf" or die $!;
    my ($mpm) = grep { /^\s*LoadModule\s+mpm_/ } <$in>;
    close $in;
    my $mods = '/usr/lib/apache2/modules';
    open my $fh, '>', "$dir/httpd.conf" or die $!;
    print $fh <<"CONF";
$mpm
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule rproxy_module $vars->{top_dir}/.libs/mod_rproxy.so
LoadModule rewrite_module $mods/mod_rewrite.so
ServerName localhost
Listen 127.0.0.1:$own_port
User $vars->{user}
Group $vars->{group}
PidFile $dir/httpd.pid
ErrorLog $dir/error_log
DefaultRuntimeDir $dir
LogLevel info
StartServers 1
RewriteEngine On
RewriteRule ^/rw/forbidden - [F]
RewriteRule ^/rwold/(.*)\$ /rw/new/\$1 [PT]
RProxyPass /rw/ http://127.0.0.1:$logport/
CONF
    close $fh;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        # its own process group: prefork's parent signals its whole group
        # when it stops, which would otherwise include this test and t/TEST
        setpgrp(0, 0);
        open STDOUT, '>', "$dir/stdout";
        open STDERR, '>&', \*STDOUT;
        exec $vars->{httpd}, '-d', $dir, '-f', "$dir/httpd.conf",
             '-DFOREGROUND';
        exit 1;
    }
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $own_port);
        if ($s) { close $s; return $pid }
        sleep 0.1;
    }
    kill 'TERM', $pid;
    waitpid $pid, 0;
    die "own httpd did not start: " . `cat $dir/stdout $dir/error_log`;
}

sub check_order {
    my ($port, $name) = @_;
    my $before = () = seen();
    my ($st, $body) = get($port, '/rw/forbidden/x');
    ok t_cmp($st, 403, "$name: RewriteRule [F] on a proxied path: 403");
    ($st, $body) = get($port, '/rw/plain?a=1');
    ok t_cmp("$st $body", "200 seen GET /plain?a=1\n", "$name: a plain proxied path");
    ($st, $body) = get($port, '/rwold/x/y?q=1');
    ok t_cmp("$st $body", "200 seen GET /new/x/y?q=1\n",
             "$name: rewritten with [PT] to /rw/new/..., routed by the new path");
    my @all = seen();
    my @new = @all[$before .. $#all];
    ok t_cmp(join('|', @new), 'GET /plain?a=1|GET /new/x/y?q=1',
             "$name: the member saw exactly those two, not the denied one");
}

check_order($vars->{port}, 'mod_rewrite loaded first');

my $pid = start_own();
my $conf = do { local $/; open my $f, '<', "$vars->{t_logs}/order/httpd.conf"; <$f> };
ok t_cmp($conf =~ /rproxy_module.*\n(?:.*\n)*LoadModule rewrite_module/ ? 1 : 0, 1,
         'the own httpd loads mod_rproxy before mod_rewrite');
check_order($own_port, 'mod_rproxy loaded first');
kill 'TERM', $pid;
waitpid $pid, 0;
ok t_cmp($? >> 8, 0, 'own httpd stopped cleanly');

# <Files> is not walked for a proxied path: no file is behind it
my ($st, $body) = get($vars->{port}, '/rw/private.txt');
ok t_cmp("$st $body", "200 seen GET /private.txt\n",
         '<Files "private.txt"> Require all denied does not apply to a proxied path');

evil_stop($be);

# the own server logged no crash
my $elog = do { local $/; open my $f, '<', "$vars->{t_logs}/order/error_log"; <$f> // '' };
ok t_cmp($elog =~ /Segmentation fault|exit signal|AddressSanitizer/ ? 1 : 0, 0,
         'own httpd: no crash in its error log');
