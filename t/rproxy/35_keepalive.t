# Backend keep-alive: connections are reused, a pooled connection that died
# is replaced without a client error for requests safe to repeat, and a
# non-idempotent request is never sent twice.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestRequest qw(GET POST);
use Apache::TestUtil qw(t_cmp);
use Socket ();
use RPTest qw(evil_start evil_stop read_request evil_log evil_respond echo_parse);

plan tests => 27;

# one keep-alive client connection: under prefork every request then meets
# the same child, whose connection pool and rotation the test observes
Apache::TestRequest::user_agent(reset => 1, keep_alive => 1);


# reuse: sequential requests ride one backend connection
my %conns;
$conns{ GET('/b1/?count=1')->header('X-Backend-Conn') }++ for 1 .. 10;
ok t_cmp(scalar keys %conns, 1, '10 sequential requests used 1 backend connection');

# the backend closing (Connection: close) is honoured: next one is new
my $before = GET('/b1/?count=1')->header('X-Backend-Conn');
my $closing = GET('/b1/?count=1&close=1')->header('X-Backend-Conn');
my $after = GET('/b1/?count=1')->header('X-Backend-Conn');
ok t_cmp($closing, $before, 'the closing response came on the pooled connection');
ok $after ne $closing;

# our own idle_timeout: a connection idle past it is not used again
my $c1 = GET('/shortidle/?count=1')->header('X-Backend-Conn');
my $c2 = GET('/shortidle/?count=1')->header('X-Backend-Conn');
select(undef, undef, undef, 1.5);
my $c3 = GET('/shortidle/?count=1')->header('X-Backend-Conn');
ok t_cmp($c2, $c1, 'reused within idle_timeout=1s');
ok $c3 ne $c2;

# idle=0: nothing is kept
my %nk;
$nk{ GET('/nokeep/?count=1')->header('X-Backend-Conn') }++ for 1 .. 4;
ok t_cmp(scalar keys %nk, 4, 'RProxyKeepalive idle=0 -> a new connection each time');
ok t_cmp(echo_parse(GET('/nokeep/')->content)->{h}{connection}[0], 'close',
         'and the member is told so (Connection: close)');

# A backend that serves one request per connection and then drops the
# connection as soon as the next request arrives (the keep-alive race: the
# pooled connection looks alive until the request is written).
my $evil = evil_start(sub {
    my ($c, $n, $log) = @_;
    my $served = 0;
    while (my ($m, $t, $h, $body) = read_request($c)) {
        evil_log($log, "req $n $m $t " . length $body);
        if ($served++) { close $c; return }
        evil_respond($c, "conn=$n\n");
    }
});
my $r1 = GET '/evil/first';
ok t_cmp($r1->code, 200, 'first request served');
my $r2 = GET '/evil/second';
ok t_cmp($r2->code, 200, 'GET on a dead pooled connection: no client error');
ok t_cmp($r2->content, "conn=2\n", 'answered on a fresh connection');
my @log = evil_log($evil->{log});
ok t_cmp(scalar(grep { /^req \d+ GET \/second/ } @log), 2,
         'the GET was sent twice: once on the dead connection, once on a new one');

# POST: must not be repeated once it may have reached the backend
my $r3 = POST '/evil/post-it', content => 'payload';
my @posts = grep { m{^req \d+ POST /post-it} } evil_log($evil->{log});
ok t_cmp($r3->code, 502, 'POST lost on a dead pooled connection -> 502');
ok t_cmp(scalar @posts, 1, 'and it was sent exactly once');
evil_stop($evil);

# A backend that advertises a short keep-alive timeout and closes idle
# connections early: the proxy does not keep them past it.
$evil = evil_start(sub {
    my ($c, $n, $log) = @_;
    while (my ($m, $t) = read_request($c)) {
        evil_log($log, "req $n $m $t");
        evil_respond($c, "conn=$n\n", 'Keep-Alive: timeout=1');
    }
});
# (a short timeout keeps a quarter of it as margin: reuse within 750 ms)
my @codes = map { GET("/evil/ka$_")->code } 1 .. 2;
select(undef, undef, undef, 0.9);
push @codes, GET('/evil/ka3')->code;
ok t_cmp("@codes", '200 200 200', 'all answered');
my %conn_of = map { /^req (\d+) GET \/(ka\d)/ ? ($2 => $1) : () } evil_log($evil->{log});
ok t_cmp($conn_of{ka2} == $conn_of{ka1} && $conn_of{ka3} != $conn_of{ka2} ? 1 : 0, 1,
         "Keep-Alive: timeout=1 -> reused at once, not after 0.9 s (conns @conn_of{qw(ka1 ka2 ka3)})");
evil_stop($evil);

# A backend whose idle connections die while pooled: the pooled
# connection is probed before use and the request goes on a new one.
$evil = evil_start(sub {
    my ($c, $n, $log) = @_;
    while (my ($m, $t) = read_request($c)) {
        evil_log($log, "req $n $m $t");
        evil_respond($c, "conn=$n\n");
        select(undef, undef, undef, 0.3);
        close $c;
        return;
    }
});
my $a1 = GET '/evil/idle1';
select(undef, undef, undef, 0.6);
my $a2 = POST '/evil/idle2', content => 'x';
ok t_cmp($a1->code, 200, 'first');
ok t_cmp($a2->code, 200, 'POST after the pooled connection died: no error');
ok t_cmp($a2->content, "conn=2\n", 'sent on a fresh connection, once');
evil_stop($evil);

# What a member does to a connection after the response has been read, in
# a write of its own (so it is still in the kernel, not in httpd's input
# buffer, when the connection is released): bytes nobody asked for, a
# reset, a close at once. The check at reuse must see each, so that a
# POST (never repeated) goes on a new connection and gets its own answer.
for my $case (['late stray bytes', sub {
                   my ($c) = @_;
                   select(undef, undef, undef, 0.2);
                   print $c "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled";
                   return 1;     # keeps serving on this connection
               }],
              ['a reset', sub {
                   my ($c) = @_;
                   select(undef, undef, undef, 0.2);
                   setsockopt($c, Socket::SOL_SOCKET(), Socket::SO_LINGER(),
                              pack('ii', 1, 0));
                   close $c;
                   return 0;
               }],
              ['a close right after the response', sub {
                   my ($c) = @_;
                   close $c;
                   return 0;
               }]) {
    my ($what, $after) = @$case;
    $evil = evil_start(sub {
        my ($c, $n, $log) = @_;
        while (my ($m, $t) = read_request($c)) {
            evil_log($log, "req $n $m $t");
            evil_respond($c, "conn=$n\n");
            $after->($c) or return;
        }
    });
    my $b1 = GET '/evil/after1';
    select(undef, undef, undef, 0.5);
    my $b2 = POST '/evil/after2', content => 'x';
    ok t_cmp($b1->code . ' ' . $b2->code, '200 200', "$what: both answered");
    ok t_cmp($b2->content, "conn=2\n", "$what: the POST went on a new connection");
    ok t_cmp(scalar(grep { m{^req \d+ POST /after2} } evil_log($evil->{log})), 1,
             "$what: and was sent once");
    evil_stop($evil);
}
