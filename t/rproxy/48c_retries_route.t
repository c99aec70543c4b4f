# Retries per route. RProxyRetries in <Location> and the RProxyPass
# options retries= and retry_on= win over the pool's RProxyRetries, each
# value on its own (route option > <Location> > pool); one pool serves
# routes with different retries. Configuration:
# t/conf/48_retries_route.conf.in.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use RPTest qw(unavailable_member evil_start evil_stop read_request respond evil_lines evil_log);

plan tests => 11;

# one keep-alive client connection: one child, one round_robin rotation
Apache::TestRequest::user_agent(reset => 1, keep_alive => 1);

my @evils;
my $main = $$;
# (waitpid in evil_stop() sets $?, the test's exit status in END)
END { local $?; $$ == $main and evil_stop($_) for @evils }

# a member that answers every request with 503 (RPTest)
sub unavailable {
    my $e = unavailable_member(@_);
    push @evils, $e;
    return $e;
}

# the codes of n GETs to $path (each a new URL), sorted
sub codes {
    my ($path, $n) = @_;
    return join ' ', sort map { GET("$path$_?count=1")->code } 1 .. $n;
}

# how many requests a member's log holds for paths starting with $prefix
# (the path as the member got it: the route's prefix replaced by the
# pool's target path, "/")
sub seen {
    my ($e, $prefix) = @_;
    return scalar grep { m{^req GET \Q$prefix\E} } evil_lines($e->{log});
}

my $p1 = Apache::Test::vars('ext_backend_port');
my $p2 = Apache::Test::vars('ext_backend2_port');
my $evil2 = unavailable($p2);

# one pool without on=, two routes
ok t_cmp(codes('/rt-plain/a', 2), '200 503',
         'pool without on=: its 503 passes through');
ok t_cmp(codes('/rt-opt-on/b', 4), '200 200 200 200',
         'the same pool, a route with retry_on=503: every 503 retried');
ok t_cmp(seen($evil2, '/b'), 2,
         'the 503 member saw each of its GETs once, another member answered');
ok t_cmp(codes('/rt-loc-on/c', 4), '200 200 200 200',
         'RProxyRetries 1 on=503 in <Location>: retried');

# one pool with on=503, routes that turn it off
ok t_cmp(codes('/rt-on/d', 4), '200 200 200 200', 'the pool retries its 503s');
ok t_cmp(codes('/rt-loc-off/e', 2), '200 503',
         'RProxyRetries 0 in <Location>: the 503 passes through');
ok t_cmp(seen($evil2, '/e'), 1, 'and no other member got it');
ok t_cmp(codes('/rt-opt-none/f', 2), '200 503',
         'retry_on=none on the route: the 503 passes through');
ok t_cmp(codes('/rt-opt-wins/g', 4), '200 200 200 200',
         'retries=1 on the route wins over RProxyRetries 0 in its <Location>');

# both members 503: the pool tries each, retries=0 caps at one try
my $evil1 = unavailable($p1);
GET('/rt-all/h');
ok t_cmp(seen($evil1, '/h') + seen($evil2, '/h'), 2,
         'RProxyRetries 3 on=503 over two members: both tried');
GET("/rt-cap/i$_") for 1 .. 3;
ok t_cmp(seen($evil1, '/rt-cap/') + seen($evil2, '/rt-cap/'), 3,
         'retries=0 on the route: one try per request');
