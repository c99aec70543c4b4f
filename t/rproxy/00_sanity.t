# The suite's prerequisites: without them later tests would skip and the
# run would still look green.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(plan ok have_lwp have_module);
use Apache::TestRequest qw(GET);

plan tests => 4;

ok have_lwp;
# mod_rproxy is loaded from 00_server.conf: prove it by a proxied request
ok((GET('/b1/sanity')->header('X-Backend') // '') eq 'b1');
ok have_module('ssl');
ok eval { require IO::Socket::SSL; 1 };
