# RProxySticky route=JSESSIONID: an application session id that ends in
# ".<route>" (JSESSIONID=abc.n2 as a cookie, or ;jsessionid=abc.n1 in the
# path) goes to the member with that route=, as with mod_proxy_balancer's
# stickysession; an unknown route, or one whose member is disabled or
# down, is balanced as usual, without an error. The application's cookie
# reaches the member unchanged, and mod_rproxy sets no cookie of its own.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use RPTest qw(echo_parse);

plan tests => 16;

sub backends {
    my ($n, $path, @hdr) = @_;
    my (%seen, @codes);
    for (1 .. $n) {
        my $res = GET $path, @hdr;
        push @codes, $res->code;
        $seen{ $res->header('X-Backend') // 'none' }++;
    }
    return (join(',', sort keys %seen), join(',', sort { $a <=> $b } keys %{{ map { $_ => 1 } @codes }}));
}

# the cookie pins to n2 (b2), every time
my ($seen, $codes) = backends(10, '/stickyroute/?count=1', Cookie => 'JSESSIONID=xyz.n2');
ok t_cmp($seen, 'b2', 'JSESSIONID=xyz.n2: every request reaches n2');
ok t_cmp($codes, '200', 'all answered 200');

my $res = GET '/stickyroute/', Cookie => 'a=1; JSESSIONID=xyz.n2; b=2';
ok t_cmp($res->header('X-Backend'), 'b2', 'among other cookies');
ok t_cmp(echo_parse($res->content)->{h}{cookie}[0], 'a=1; JSESSIONID=xyz.n2; b=2',
         'the application cookie reaches the member unchanged');
ok t_cmp($res->header('Set-Cookie'), undef, 'mod_rproxy sets no cookie of its own');

$res = GET '/stickyroute/', Cookie => 'JSESSIONID="xyz.n1"';
ok t_cmp($res->header('X-Backend'), 'b1', 'a quoted value');

# the path parameter, as servlet containers write it without cookies
($seen) = backends(5, '/stickyroute/;jsessionid=xyz.n1');
ok t_cmp($seen, 'b1', ';jsessionid=xyz.n1 in the path reaches n1');
($seen) = backends(3, '/stickyroute/shop/cart;jsessionid=abc.n2?item=7');
ok t_cmp($seen, 'b2', 'in a deeper path, before a query');
$res = GET '/stickyroute/x;jsessionid=abc.n1', Cookie => 'JSESSIONID=abc.n2';
ok t_cmp($res->header('X-Backend'), 'b1', 'the path parameter is looked at before the cookie');

# no route, or an unknown one: the balancer decides (round robin over the
# usable members; the dead one's requests are retried elsewhere)
($seen, $codes) = backends(6, '/stickyroute/?count=1', Cookie => 'JSESSIONID=xyz.n9');
ok t_cmp($seen, 'b1,b2', 'unknown route: balanced over the usable members');
ok t_cmp($codes, '200', 'and answered');
($seen, $codes) = backends(4, '/stickyroute/?count=1', Cookie => 'JSESSIONID=xyz');
ok t_cmp($seen, 'b1,b2', 'no route in the id: balanced');

# the route's member is disabled (n3) or cannot be reached (n4)
($seen, $codes) = backends(4, '/stickyroute/?count=1', Cookie => 'JSESSIONID=xyz.n3');
ok t_cmp($seen =~ /b3/ ? 'b3 reached' : 'elsewhere', 'elsewhere', 'disabled member: served elsewhere');
ok t_cmp($codes, '200', 'without an error');
($seen, $codes) = backends(4, '/stickyroute/?count=1', Cookie => 'JSESSIONID=xyz.n4');
ok t_cmp($seen =~ /^(b1|b2|b1,b2)$/ ? 'b1/b2' : $seen, 'b1/b2', 'unreachable member: served by another');
ok t_cmp($codes, '200', 'without an error');
