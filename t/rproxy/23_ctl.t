# Control characters that other modules put into the outgoing request
# (mod_headers from an expression or the environment, a query string that
# mod_rewrite decoded) are refused before anything is written to the
# member: never a split request. 400 when the byte can be the client's own
# (percent-encoded in its request line), 500 when only the configuration
# made it. The member logs every byte it parsed.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestUtil qw(t_cmp);
use RPTest qw(evil_start evil_stop evil_log read_response proxy_socket
              error_log_size error_log_since);

plan tests => 40;

my $ctl_port = Apache::Test::vars('rp_ctl_port');

# the member: logs each request head it parsed, escaped, then answers
my $evil = evil_start(sub {
    my ($c, $n, $log) = @_;
    my $buf = '';
    while (1) {
        while ($buf !~ /\r\n\r\n/) {
            my $rin = '';
            vec($rin, fileno($c), 1) = 1;
            select(my $rout = $rin, undef, undef, 1) or last;
            sysread($c, my $more, 4096) or last;
            $buf .= $more;
        }
        last unless $buf =~ s/^(.*?\r\n\r\n)//s;
        (my $head = $1) =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
        evil_log($log, "head $head");
        print $c "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    }
});


# one request on a fresh client connection: (status, body, member heads,
# error log lines written meanwhile)
sub try_req {
    my ($target, %opt) = @_;
    unlink $evil->{log};
    my $from = error_log_size();
    my $s = proxy_socket($opt{port} ? (port => $opt{port}) : ());
    print $s "GET $target HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    my ($st, undef, $body) = read_response($s);
    close $s;
    select undef, undef, undef, 0.2;
    my @heads = grep { /^head / } evil_log($evil->{log});
    print "# the member got: $_\n" for @heads;
    return ($st, $body, \@heads, error_log_since($from));
}

# a header set by mod_headers from a configured expression: CRLF
my ($st, $body, $heads, $log) = try_req('/ctl-hdr/x');
ok t_cmp($st, 500, 'CRLF in a header only the configuration made: 500');
ok t_cmp(scalar @$heads, 0, 'nothing reached the member');
ok t_cmp($log, qr/\[rproxy:error\] .*RP00151: .*request header X-Inj: value has a control character \(0x0d\) at byte 1; refused/,
         'error logged with its tag, naming the header');
ok t_cmp($log =~ /X-Smuggled: 1\r?\n/ ? 1 : 0, 0, 'the log line itself has no raw CRLF');

# a header name that is not a token
($st, $body, $heads, $log) = try_req('/ctl-name/x');
ok t_cmp($st, 500, 'header name with a space: 500');
ok t_cmp(scalar @$heads, 0, 'nothing reached the member');
ok t_cmp($log, qr/RP00151: .*request header X-Bad Name: name is not a token/, 'logged');

# a query that a module decoded (mod_lua here): the client's %0d%0a
# becomes CRLF
($st, $body, $heads, $log) = try_req('/ctl-lua/?a%0d%0aGET%20/admin%20HTTP/1.1%0d%0aX:%20y');
ok t_cmp($st, 400, 'CRLF in a decoded query, from the client: 400');
ok t_cmp(scalar @$heads, 0, 'nothing reached the member (no second request)');
ok t_cmp($log, qr/\[rproxy:info\] .*RP00150: .*request target: query has a control character \(0x0d\) at byte 3; refused/,
         'info logged with its tag');

# a space there would split the request line just as well
($st, $body, $heads, $log) = try_req('/ctl-lua/?a%20HTTP/1.0');
ok t_cmp($st, 400, 'space in a decoded query: 400');
ok t_cmp(scalar @$heads, 0, 'nothing reached the member');
ok t_cmp($log, qr/RP00150: .*query has a space \(0x20\) at byte 3/, 'logged');

# mod_rewrite refuses that itself (since 2.4.56): nothing reaches the member
($st, $body, $heads, $log) =
    try_req('/ctl-q/a%0d%0aGET%20/admin%20HTTP/1.1', port => $ctl_port);
ok t_cmp($st, 403, 'CRLF in a query rewritten by mod_rewrite: its 403');
ok t_cmp(scalar @$heads, 0, 'nothing reached the member');

# a header that a script (mod_lua) filled from the decoded query
($st, $body, $heads, $log) = try_req('/ctl-lua-hdr/?a%0d%0aX-Smuggled:%201');
ok t_cmp($st, 400, 'CRLF in a header from client data: 400');
ok t_cmp(scalar @$heads, 0, 'nothing reached the member');
ok t_cmp($log, qr/RP00150: .*request header X-Inj: value has a control character \(0x0d\) at byte 1; refused/,
         'logged');
($st, $body, $heads, $log) = try_req('/ctl-lua/?a%0ab');
ok t_cmp($st, 400, 'LF alone in a decoded query: 400');
ok t_cmp(scalar @$heads, 0, 'nothing reached the member');
# NUL cannot be carried by httpd's strings at all: %00 is not decoded
($st, $body, $heads, $log) = try_req('/ctl-lua-hdr/?a%00b');
ok t_cmp($st, 200, 'NUL: not decoded, nothing to split');
ok t_cmp(scalar(grep { /\\x00/ } @$heads), 0, 'no NUL at the member');

# a header filled from the environment, which mod_rewrite filled from the
# decoded path: mod_headers makes CR and LF spaces (one request, one
# header), a DEL it passes on, and the proxy refuses it
($st, $body, $heads, $log) =
    try_req('/ctl-env/a%0d%0aX-Smuggled:%201', port => $ctl_port);
ok t_cmp($st, 200, 'mod_headers flattened CR LF from the environment');
ok t_cmp(scalar @$heads, 1, 'one request at the member');
ok t_cmp($heads->[0], qr{\\x0d\\x0aX-Inj: a  X-Smuggled: 1\\x0d\\x0a}, 'in one header line');
($st, $body, $heads, $log) = try_req('/ctl-env/a%7fb', port => $ctl_port);
ok t_cmp($st, 400, 'DEL: 400');
ok t_cmp(scalar @$heads, 0, 'nothing reached the member');
ok t_cmp($log, qr/RP00150: .*request header X-Inj: value has a control character \(0x7f\) at byte 1; refused/,
         'logged');

# what is fine passes as it is: an encoded query is not decoded, a tab in
# a value is allowed (RFC 9110 field-value), the rewritten clean query
($st, $body, $heads) = try_req('/ctl-ok/?q=a%0d%0a');
ok t_cmp($st, 200, 'an encoded CRLF in the query passes');
ok t_cmp(scalar @$heads, 1, 'exactly one request at the member');
ok t_cmp($heads->[0], qr{^head GET /\?q=a%0d%0a HTTP/1\.1\\x0d\\x0a}, 'query unchanged');
ok t_cmp($heads->[0], qr{\\x0d\\x0aX-Tab: a\\x09b\\x0d\\x0a}, 'HTAB in a value passes');
my @lines = split /\\x0d\\x0a/, $heads->[0];
ok t_cmp(scalar(grep { /^X-Smuggled/i } @lines), 0, 'no smuggled header');

($st, $body, $heads) = try_req('/ctl-lua/?q=a%41b');
ok t_cmp($heads->[0], qr{^head GET /\?q=aAb HTTP/1\.1\\x0d\\x0a}, 'a clean decoded query passes');
($st, $body, $heads) = try_req('/ctl-q/plain', port => $ctl_port);
ok t_cmp($st, 200, 'a clean rewritten query passes');
ok t_cmp(scalar @$heads, 1, 'one request');
ok t_cmp($heads->[0], qr{^head GET /\?q=plain HTTP/1\.1\\x0d\\x0a}, 'with the rewritten query');
($st, $body, $heads) = try_req('/ctl-env/clean', port => $ctl_port);
ok t_cmp($st, 200, 'a clean header from the environment passes');
ok t_cmp(scalar @$heads, 1, 'one request');
ok t_cmp($heads->[0], qr{\\x0d\\x0aX-Inj: clean\\x0d\\x0a}, 'with its value');

evil_stop($evil);
