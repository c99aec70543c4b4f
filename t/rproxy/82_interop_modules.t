# Interop (issue 7): the modules users load next to mod_rproxy - mod_rewrite
# (both LoadModule orders), mod_headers, mod_ssl in front, mod_reqtimeout,
# mod_cache and ErrorDocument. Each case asserts what the member parsed
# (t/lib/RPInterop.pm logs every request) and what the client got.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok need need_ssl);
use Apache::TestUtil qw(t_cmp);
use Digest::MD5 qw(md5_hex);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::SSL ();
use Time::HiRes qw(time sleep);
use RPTest qw(proxy_socket read_response echo_parse);
use RPInterop qw(member_start member_stop member_reset member_requests
                 text_body hv send_req);

plan tests => 42, need need_ssl;

my $vars = Apache::Test::vars();
my $member = member_start();
$SIG{ALRM} = sub { die "timed out\n" };

# One request on a new connection: (status, headers, body).
sub one {
    my ($method, $path, $body, @h) = @_;
    my %o;
    %o = %{ shift @h } if @h && ref $h[0];
    my $s = proxy_socket(%o);
    send_req($s, $method, $path, $body, @h, 'Connection: close');
    my @r = read_response($s);
    close $s;
    return @r;
}

# What the member parsed, one "METHOD target len md5 complete|partial"
# per request.
sub parsed {
    return map { "$_->{method} $_->{target} $_->{len} $_->{md5} "
                 . ($_->{partial} ? 'partial' : 'complete') } member_requests($member);
}
my $EMPTY = md5_hex('');

# ---- mod_rewrite, loaded before mod_rproxy (modules.conf) ----------------------
member_reset($member);
my ($st, $h, $body) = one('GET', '/ia/forbidden/x');
ok t_cmp($st, 403, 'server-level RewriteRule [F] on a proxied path: 403');
($st) = one('POST', '/ia/forbidden/y', 'a body for nobody');
ok t_cmp($st, 403, 'and for a POST with a body');
($st, $h, $body) = one('GET', '/ia/old/moved?q=1');
ok t_cmp("$st " . ($body // ''), qr{^200 seen \d+\.\d+ GET /moved\?q=1 len=0 },
         'a path rewritten [PT] into another route is routed by the new path');
ok t_cmp(join(' | ', parsed()), "GET /moved?q=1 0 $EMPTY complete",
         'the member saw the rewritten request only, nothing of the denied ones');

# ---- mod_rewrite in both LoadModule orders (an httpd of its own) ------------------
# Hook order follows LoadModule order within a priority: the order where
# mod_rproxy is loaded first is the one issue 7 found broken.
sub rewrite_httpd {
    my ($order) = @_;
    my $dir = tempdir(CLEANUP => 1);
    mkdir "$dir/logs";
    chmod 0777, "$dir/logs";
    my $m = '/usr/lib/apache2/modules';
    my %lm = (rproxy => "LoadModule rproxy_module $vars->{top_dir}/.libs/mod_rproxy.so",
              rewrite => "LoadModule rewrite_module $m/mod_rewrite.so");
    my $port = $vars->{interop_httpd_port};
    open my $fh, '>', "$dir/httpd.conf" or die $!;
    print $fh join("\n",
        "LoadModule mpm_event_module $m/mod_mpm_event.so",
        "LoadModule authz_core_module $m/mod_authz_core.so",
        (map { $lm{$_} } @$order),
        'ServerName localhost', "Listen 127.0.0.1:$port",
        "PidFile $dir/logs/httpd.pid", "ErrorLog $dir/logs/error_log",
        'User nobody', 'Group nogroup',
        'RewriteEngine on',
        'RewriteRule ^/ia/forbidden/ - [F]',
        'RewriteRule ^/ia/old/(.*)$ /ia/new/$1 [PT]',
        "RProxyPass /ia/forbidden/ http://127.0.0.1:$vars->{interop_port}/",
        "RProxyPass /ia/old/ http://127.0.0.1:$vars->{b2_port}/",
        "RProxyPass /ia/new/ http://127.0.0.1:$vars->{interop_port}/",
        ''), "\n";
    close $fh;
    my $out = `$vars->{httpd} -d $dir -f $dir/httpd.conf -k start 2>&1`;
    my $pid;
    for (1 .. 50) {
        if (open my $p, '<', "$dir/logs/httpd.pid") { $pid = <$p>; last if $pid }
        sleep 0.1;
    }
    print "# $out" unless $pid;
    chomp $pid if $pid;
    return ($pid, $port);
}

for my $order ([qw(rewrite rproxy)], [qw(rproxy rewrite)]) {
    my $label = "LoadModule $order->[0] then $order->[1]";
    member_reset($member);
    my ($pid, $port) = rewrite_httpd($order);
    ok t_cmp($pid ? 'started' : 'not started', 'started', "$label: httpd starts");
    ($st) = one('GET', '/ia/forbidden/x', undef, { port => $port });
    ok t_cmp($st, 403, "$label: RewriteRule [F] on a proxied path: 403");
    ($st, $h, $body) = one('GET', '/ia/old/moved', undef, { port => $port });
    ok t_cmp(($st // 'none') . ' ' . ($body // ''), qr{^200 seen \d+\.\d+ GET /moved len=0 },
             "$label: the rewritten path is routed by the new path");
    ok t_cmp(join(' | ', parsed()), "GET /moved 0 $EMPTY complete",
             "$label: the member saw the rewritten request only");
    if ($pid) {
        kill 'TERM', $pid;
        for (1 .. 50) { last unless kill 0, $pid; sleep 0.1 }
    }
}

# ---- mod_headers -------------------------------------------------------------------
($st, $h, $body) = one('GET', '/ia/hdr/?header=X-Secret:s3cret&header=X-Ia-Member-Drop:m'
                              . '&header=X-Kept:k', undef,
                       'X-Ia-Drop: from-client', 'X-Ia-App: client', 'X-Ia-Set: client');
my $e = echo_parse($body);
sub eh { my ($n) = @_; return join ' | ', @{ $e->{h}{lc $n} || [] } }
ok t_cmp($st, 200, 'mod_headers route: 200');
ok t_cmp(eh('X-Ia-Set'), 'set-by-proxy', 'RequestHeader set replaced the client\'s value at the member');
ok t_cmp(eh('X-Ia-Drop'), '', 'RequestHeader unset: the member never saw it');
ok t_cmp(eh('X-Ia-App'), 'client, appended', 'RequestHeader append reached the member');
ok t_cmp(hv($h, 'X-Ia-Resp'), 'added', 'Header set on the response reached the client');
ok t_cmp(hv($h, 'X-Ia-Member-Drop') . '|' . hv($h, 'X-Secret') . '|' . hv($h, 'X-Kept'), '||k',
         'Header unset and RProxyHideHeader hide the member\'s headers; others pass');

# ---- mod_ssl in front: a POST body through TLS, byte for byte ------------------------
{
    my $ca = "$vars->{sslca}/$vars->{sslcaorg}/certs/ca.crt";
    my $s = IO::Socket::SSL->new(PeerAddr => '127.0.0.1', PeerPort => $vars->{mod_ssl_port},
                                 SSL_ca_file => $ca, SSL_hostname => 'localhost',
                                 SSL_verifycn_name => 'localhost', Timeout => 10)
        or die "TLS connect: $IO::Socket::SSL::SSL_ERROR";
    member_reset($member);
    my $data = text_body(300000, 11);
    alarm 30;
    send_req($s, 'POST', '/ia/plain/tls-cl', $data);
    my ($a_st, undef, $a_body) = read_response($s);
    my $chunks = join '', map { sprintf("%x\r\n%s\r\n", length $_, $_) }
                          unpack '(a40000)*', $data;
    send_req($s, 'POST', '/ia/plain/tls-chunked', "${chunks}0\r\n\r\n",
             'Transfer-Encoding: chunked');
    my ($b_st, undef, $b_body) = read_response($s);
    send_req($s, 'GET', '/ia/plain/tls-next');
    my ($c_st, undef, $c_body) = read_response($s);
    alarm 0;
    close $s;
    my $sum = length($data) . ' md5=' . md5_hex($data);
    ok t_cmp("$a_st $a_body", qr{^200 seen \d+\.\d+ POST /tls-cl len=\Q$sum\E\n$},
             'TLS front end: a POST with Content-Length, answered');
    ok t_cmp("$b_st $b_body", qr{^200 seen \d+\.\d+ POST /tls-chunked len=\Q$sum\E\n$},
             'TLS front end: a chunked POST, answered');
    ok t_cmp("$c_st $c_body", qr{^200 seen \d+\.\d+ GET /tls-next len=0 },
             'and the next request on the TLS connection');
    ok t_cmp(join(' | ', parsed()),
             join(' | ', "POST /tls-cl " . length($data) . ' ' . md5_hex($data) . ' complete',
                         "POST /tls-chunked " . length($data) . ' ' . md5_hex($data) . ' complete',
                         "GET /tls-next 0 $EMPTY complete"),
             'the member parsed exactly the three requests, bodies byte for byte');
}

# ---- mod_reqtimeout: a client that trickles its body ---------------------------------
# The vhost interop_rt waits one second for a request body. The client
# sends part of it and then a byte every 0.3 s. It must get 408 (or a
# close), and the member must never parse a complete request from it.
sub trickle {
    my ($first, $total) = @_;
    my $s = proxy_socket(port => $vars->{interop_rt_port});
    my $id = int rand 1e9;
    my $t0 = time;
    print $s "POST /ia/rt/trickle-$id HTTP/1.1\r\nHost: localhost\r\n"
           . "Content-Length: $total\r\n\r\n", 'x' x $first;
    local $SIG{PIPE} = 'IGNORE';
    # a byte every 0.3 s until the proxy answers or closes
    my $sel = IO::Select->new($s);
    for (1 .. 12) {
        last if $sel->can_read(0.3);
        last unless print $s 'y';
    }
    alarm 15;
    my ($tst) = eval { read_response($s) };
    alarm 0;
    close $s;
    return ($id, $tst, time - $t0);
}
for my $case ([10, 1000, 'small body'], [200000, 300000, 'body past the prefetch']) {
    my ($first, $total, $label) = @$case;
    member_reset($member);
    my ($id, $tst, $took) = trickle($first, $total);
    ok t_cmp($tst // 'closed', qr/^(408|closed)$/, "RequestReadTimeout, $label: 408 or closed");
    printf "# after %.1f s\n", $took;
    my @r = grep { $_->{target} eq "/trickle-$id" } member_requests($member);
    ok t_cmp(scalar(grep { !$_->{partial} } @r), 0,
             "RequestReadTimeout, $label: the member parsed no complete request");
    print "# member: $_->{method} $_->{target} len=$_->{len}",
          ($_->{partial} ? ' partial' : ''), "\n" for @r;
}
ok t_cmp(join(' ', (one('GET', '/ia/plain/after-rt'))[0, 2]), qr{^200 seen },
         'the next request is served');

# ---- mod_cache ----------------------------------------------------------------------
{
    member_reset($member);
    my $k = int rand 1e9;
    my @a = one('GET', "/ia/cache/cacheable?k=$k");
    my @b = one('GET', "/ia/cache/cacheable?k=$k");
    ok t_cmp("$a[0] " . hv($a[1], 'X-Cache'), qr/^200 MISS/, 'mod_cache: first GET is a miss');
    ok t_cmp("$b[0] " . hv($b[1], 'X-Cache'), qr/^200 HIT/, 'the second is a hit');
    ok t_cmp($b[2], $a[2], 'with the same body');
    ok t_cmp(join(' | ', parsed()), "GET /cacheable?k=$k 0 $EMPTY complete",
             'the member saw the first GET only');
    member_reset($member);
    my @p = map { [ one('POST', "/ia/cache/cacheable?k=p$k", "post $_") ] } 1 .. 2;
    ok t_cmp(join(' ', map { $_->[0] } @p), '200 200', 'two POSTs to a cacheable URL');
    ok t_cmp($p[1][2] ne $p[0][2] ? 'distinct' : 'same', 'distinct',
             'each got its own answer');
    ok t_cmp(join(' | ', parsed()),
             join(' | ', map { "POST /cacheable?k=p$k 6 " . md5_hex("post $_") . ' complete' } 1 .. 2),
             'the member saw both POSTs: a POST is never answered from the cache');
}

# ---- ErrorDocument ----------------------------------------------------------------------
# The location has ErrorDocument 500 and 502: a member's own 500/502 is
# its answer, passed with its body; the proxy's own errors get the local
# page.
for my $code (500, 502) {
    ($st, $h, $body) = one('GET', "/ia/err/?status=$code");
    ok t_cmp("$st " . hv($h, 'X-Backend'), "$code b1", "member's $code relayed");
    ok t_cmp(echo_parse($body)->{uri} // $body, "/?status=$code",
             "with the member's own body, not the ErrorDocument");
}
($st, $h, $body) = one('GET', '/ia/errdead/');
ok t_cmp("$st $body", "502 custom 503 page\n",
         'the proxy\'s own 502 (member refuses connections): the local ErrorDocument');
($st, $h, $body) = one('GET', '/ia/errnobody/');
ok t_cmp("$st $body", "503 custom 503 page\n",
         'the proxy\'s own 503 (no usable member): the local ErrorDocument');
member_reset($member);
($st, $h, $body) = one('POST', '/ia/errproxied/x', 'posted');
# The error page comes through the proxy with the error's status, as a
# local ErrorDocument would (and as mod_proxy does): a 200 from the member
# does not turn the 503 into a success.
ok t_cmp("$st $body", "503 member error page\n",
         'an ErrorDocument at a proxied URL: the member\'s page, with the error\'s status');
my @r = member_requests($member);
ok t_cmp(join(' | ', map { "$_->{method} $_->{target} $_->{len}" } @r), 'GET /errorpage 0',
         'the member got one GET for the page, without the POST\'s body');

member_stop($member);
