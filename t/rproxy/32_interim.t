# 1xx interim responses are relayed (103 Early Hints with its headers), an
# unsolicited 100 is not, and an idle upgraded tunnel is closed after the
# pool's idle timeout.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestUtil qw(t_cmp);
use Time::HiRes qw(time);
use RPTest qw(evil_start evil_stop read_request read_response proxy_socket);

plan tests => 8;

my $evil = evil_start(sub {
    my ($c) = @_;
    while (my ($m, $t, $h) = read_request($c)) {
        if ($t =~ /hints/) {
            print $c "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                   . "HTTP/1.1 100 Continue\r\n\r\n"
                   . "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            next;
        }
        if ($t =~ /ws/) {
            print $c "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   . "Connection: Upgrade\r\n\r\nhi";
            sleep 6;        # silent: the proxy's idle=2s must end it
            return;
        }
    }
});

my $s = proxy_socket();
print $s "GET /evil/hints HTTP/1.1\r\nHost: localhost\r\n\r\n";
my ($st, $h) = read_response($s);
ok t_cmp($st, 103, '103 Early Hints relayed first');
ok t_cmp($h->{link}[0], '</s.css>; rel=preload', 'with its Link header');
($st, $h, my $body) = read_response($s);
ok t_cmp($st, 200, 'then the final response (the unsolicited 100 was not relayed)');
ok t_cmp($body, 'ok', 'body intact');

$s = proxy_socket();
print $s "GET /evil/ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n"
       . "Upgrade: websocket\r\n\r\n";
($st, $h) = read_response($s, 1);
ok t_cmp($st, 101, 'tunnel open');
my $t0 = time;
my $got = '';
while (sysread($s, my $buf, 100)) { $got .= $buf }
my $took = time - $t0;
ok t_cmp($got, 'hi', 'bytes behind the 101 delivered');
ok $took >= 1.5;
ok $took < 5;
evil_stop($evil);
