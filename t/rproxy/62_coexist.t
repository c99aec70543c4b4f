# mod_rproxy next to httpd's own mod_proxy: both load into one httpd and
# each serves its own routes. (The main suite runs without mod_proxy.)
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestUtil qw(t_cmp);
use File::Temp qw(tempdir);
use RPTest qw(raw_http echo_parse);

plan tests => 6;

my $httpd = Apache::Test::vars('httpd');
my $top = Apache::Test::vars('top_dir');
my $port = Apache::Test::vars('ext_backend2_port');
my $b1 = Apache::Test::vars('b1_port');
my $b2 = Apache::Test::vars('b2_port');
my $dir = tempdir(CLEANUP => 1);
mkdir "$dir/logs";
chmod 0777, "$dir/logs";
my $m = '/usr/lib/apache2/modules';
open my $fh, '>', "$dir/httpd.conf" or die $!;
print $fh <<"CONF";
LoadModule mpm_event_module $m/mod_mpm_event.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule proxy_module $m/mod_proxy.so
LoadModule proxy_http_module $m/mod_proxy_http.so
LoadModule rproxy_module $top/.libs/mod_rproxy.so
ServerName localhost
Listen 127.0.0.1:$port
PidFile $dir/logs/httpd.pid
ErrorLog $dir/logs/error_log
User nobody
Group nogroup
ProxyPass /mp/ http://127.0.0.1:$b1/
RProxyPass /rp/ http://127.0.0.1:$b2/
CONF
close $fh;

my $out = `$httpd -d $dir -f $dir/httpd.conf -k start 2>&1`;
ok t_cmp($?, 0, 'httpd with both modules starts') or print "# $out";
my $pid;
for (1 .. 50) {
    if (open my $p, '<', "$dir/logs/httpd.pid") { $pid = <$p>; last if $pid }
    select(undef, undef, undef, 0.1);
}
chomp $pid if $pid;

my (undef, $st, $h, $body) = raw_http("GET /mp/x HTTP/1.1\r\nHost: localhost\r\n"
                                      . "Connection: close\r\n\r\n", port => $port);
ok t_cmp($st, 200, 'mod_proxy route answers');
ok t_cmp($h->{'x-backend'}[0], 'b1', 'mod_proxy reached its backend');
(undef, $st, $h, $body) = raw_http("GET /rp/y HTTP/1.1\r\nHost: localhost\r\n"
                                   . "Connection: close\r\n\r\n", port => $port);
ok t_cmp($st, 200, 'mod_rproxy route answers');
ok t_cmp($h->{'x-backend'}[0], 'b2', 'mod_rproxy reached its backend');
ok t_cmp(echo_parse($body)->{uri}, '/y', 'and mapped the path');

if ($pid) {
    kill 'TERM', $pid;
    for (1 .. 50) { last unless kill 0, $pid; select(undef, undef, undef, 0.1) }
}
