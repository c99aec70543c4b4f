# A third-party balancer: t/modules/mod_rptest_lb.so, a separate module
# built with only mod_rproxy.h, registers "rptest_last" (always the last
# candidate) and pools select it by name.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use RPTest qw(backends httpd_config_test);
use File::Temp qw(tempdir);

plan tests => 11;

Apache::TestRequest::user_agent(reset => 1, keep_alive => 1);

# the core offers b1 b2 b3 in configuration order; the module takes the last
ok t_cmp(join(' ', backends('/last/', 6)), 'b3 b3 b3 b3 b3 b3', 'rptest_last picks b3 of b1 b2 b3');
# b3 disabled: the core leaves it out, the last candidate is b2
ok t_cmp(join(' ', backends('/lastno3/', 4)), 'b2 b2 b2 b2', 'with b3 disabled, b2');
# the last member refuses connections: the retry's candidates leave out
# the member already tried, so the module's second pick is b2
ok t_cmp(join(' ', backends('/lastdead/', 2)), 'b2 b2', 'a refused pick is retried on the next-to-last');

# startup: the name exists only while the module is loaded. LoadModule
# takes effect while httpd reads the file, before any pool is configured,
# so its place among the pools does not matter; it must follow mod_rproxy's,
# whose accessors it uses.
my $top = Apache::Test::vars('top_dir');
my $dir = tempdir(CLEANUP => 1);
mkdir "$dir/logs";
my $rproxy = "LoadModule rproxy_module $top/.libs/mod_rproxy.so\n";
my $lb = "LoadModule rptest_lb_module $top/t/modules/.libs/mod_rptest_lb.so\n";

sub pool { "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyBalancer $_[0]\n</RProxyPool>\n" }

# (1 if httpd -t failed, its output)
sub try_config {
    my ($rc, $out) = httpd_config_test($dir, $_[0]);
    return ($rc != 0 ? 1 : 0, $out);
}

my ($failed, $out) = try_config($rproxy . $lb . pool('nosuch'));
ok t_cmp($failed, 1, 'unknown balancer: httpd refuses to start');
ok t_cmp($out, qr/unknown balancer 'nosuch' \(registered: [^)]*\brptest_last\b/,
         'the error lists rptest_last among the registered balancers');
ok t_cmp($out, qr/\(registered: [^)]*\bround_robin\b/, '... and the built-in ones');

($failed, $out) = try_config($rproxy . pool('rptest_last'));
ok t_cmp("$failed $out", qr/^1 .*unknown balancer 'rptest_last' \(registered: (?![^)]*rptest_last)/s,
         'without the module, rptest_last is unknown');

($failed, $out) = try_config($rproxy . pool('rptest_last') . $lb);
ok t_cmp("$failed $out", qr/^0 Syntax OK/, 'LoadModule after the pool is still in time');

($failed, $out) = try_config($lb . $rproxy . pool('rptest_last'));
ok t_cmp("$failed $out", qr/^1 .*mod_rptest_lb\.so: undefined symbol: rproxy_pool_size/s,
         'loaded before mod_rproxy, its accessors are missing');

($failed, $out) = try_config($rproxy . $lb . pool('rptest_last extra'));
ok t_cmp("$failed $out", qr/^1 .*pool a: RProxyBalancer rptest_last: rptest_last takes no arguments/s,
         "the module's create() refuses ARGS, and httpd with it");

($failed, $out) = try_config($rproxy . $lb . pool('rptest_last'));
ok t_cmp("$failed $out", qr/^0 Syntax OK/, 'loaded first, rptest_last is accepted');
