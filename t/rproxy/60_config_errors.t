# A bad configuration stops httpd at startup, naming the directive, the
# file and the line, the bad value and the valid ones.
use strict;
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok);
use Apache::TestUtil qw(t_cmp);
use File::Temp qw(tempdir);
use RPTest qw(httpd_config_test);

my $top = Apache::Test::vars('top_dir');
my $dir = tempdir(CLEANUP => 1);
mkdir "$dir/logs";

# secret files for RProxySticky secret=file: (the test runs as root or as
# the owner: the mode is what counts)
sub secret_file {
    my ($name, $mode, $content) = @_;
    open my $fh, '>', "$dir/$name" or die $!;
    print $fh $content;
    close $fh;
    chmod $mode, "$dir/$name";
}
secret_file('secret-0644', 0644, "0123456789abcdef0123\n");
secret_file('secret-0620', 0620, "0123456789abcdef0123\n");
secret_file('secret-long', 0600, ('x' x 1025) . "\n");
secret_file('secret-ok', 0400, ('s' x 1024) . "\r\n");

my @cases = (
    ['unknown balancer', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyBalancer nosuch\n</RProxyPool>",
     qr/line 7 of .*:\sRProxyBalancer: unknown balancer 'nosuch' \(registered: .*round_robin/],
    (map { ["$_ with an argument", "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyBalancer $_ extra-arg\n</RProxyPool>",
            qr/pool a: RProxyBalancer $_: takes no arguments, got 'extra-arg' \(.*:5\)/] }
         qw(least_conn random p2c ewma)),
    ['unknown balancer lists the built-in ones', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyBalancer nosuch\n</RProxyPool>",
     qr/registered: (?=.*\bround_robin\b)(?=.*\bleast_conn\b)(?=.*\brandom\b)(?=.*\bp2c\b)(?=.*\bewma\b)/],
    ['hash without expression', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyBalancer hash\n</RProxyPool>",
     qr/line 7 of .*:\sRProxyBalancer hash: needs an argument/],
    ['bad hash expression', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyBalancer hash \"%{HTTP:X-Key\"\n</RProxyPool>",
     qr/pool a: RProxyBalancer hash: expression '%\{HTTP:X-Key': Unterminated .* \(.*:5\)/],
    ['unknown hash variable', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyBalancer hash %{NOSUCH}\n</RProxyPool>",
     qr/RProxyBalancer hash: expression '%\{NOSUCH\}': Variable 'NOSUCH' does not exist \(.*:5\)/],
    ['hash bound range', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyBalancer hash %{REMOTE_ADDR} bound=0.5\n</RProxyPool>",
     qr/RProxyBalancer hash: 'bound=0\.5': the bound is a number from 1 to 100 .*, or off \(.*:5\)/],
    ['hash option', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyBalancer hash %{REMOTE_ADDR} spread=2\n</RProxyPool>",
     qr/RProxyBalancer hash: unknown option 'spread=2' \(valid: bound=F .*bound=off\)/],
    ['hash option first', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyBalancer hash bound=2\n</RProxyPool>",
     qr/RProxyBalancer hash: expects an expression first/],
    ['member scheme', "<RProxyPool a>\nRProxyMember ftp://127.0.0.1:1\n</RProxyPool>",
     qr/line 6 of .*:\sRProxyMember ftp:\/\/127\.0\.0\.1:1: URL scheme must be http or https/],
    ['weight range', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1 weight=0\n</RProxyPool>",
     qr/line 6 of .*:\sRProxyMember http:\/\/127\.0\.0\.1:1 weight=0: out of range \(valid: weight=1\.\.1000\)/],
    ['unknown member option', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1 heavy\n</RProxyPool>",
     qr/RProxyMember http:\/\/127\.0\.0\.1:1: unknown option 'heavy' \(valid: weight=1\.\.1000 backup drain disabled max_conns=0\.\.1000000 route=ID resolve=T\|off expand=1\.\.64\)/],
    ['member outside a pool', "RProxyMember http://127.0.0.1:1",
     qr/line 5 of .*:\sRProxyMember is only valid inside <RProxyPool>/],
    ['empty pool', "<RProxyPool a>\n</RProxyPool>",
     qr/<RProxyPool a>: no RProxyMember in the pool/],
    ['undefined pool', "\n\nRProxyPass /x nosuchpool",
     qr/RProxyPass \/x: no <RProxyPool nosuchpool> is defined for this server \(.*:7\)/],
    ['bad timeout', "RProxyTimeouts connect=abc",
     qr/line 5 of .*:\sRProxyTimeouts connect=abc: expects a duration/],
    ['unknown timeout', "RProxyTimeouts read=5s",
     qr/RProxyTimeouts: unknown option 'read=5s' \(valid: connect=T header=T idle=T deadline=T\)/],
    ['bad tunnel option', "RProxyTunnel async_after=soon",
     qr/line 5 of .*:\sRProxyTunnel async_after=soon: expects a duration/],
    ['tunnel async_after above its bound', "RProxyTunnel async_after=2h",
     qr/RProxyTunnel async_after=2h: out of range \(valid: async_after=T from 0us to 1h\)/],
    ['unknown tunnel option', "RProxyTunnel after=1s",
     qr/RProxyTunnel: unknown option 'after=1s' \(valid: async=on\|off async_after=T idle=T\)/],
    ['bad keepalive', "RProxyKeepalive idle=lots",
     qr/RProxyKeepalive idle=lots: not a number/],
    ['health check outside a pool', "RProxyHealthCheck uri=/hc",
     qr/line 5 of .*:\sRProxyHealthCheck is only valid inside <RProxyPool>/],
    ['health check interval', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyHealthCheck interval=soon\n</RProxyPool>",
     qr/line 7 of .*:\sRProxyHealthCheck interval=soon: expects a duration/],
    ['health check interval too short', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyHealthCheck interval=50ms\n</RProxyPool>",
     qr/RProxyHealthCheck interval=50ms: out of range \(valid: interval=T from 100ms to 24h\)/],
    ['health check rise', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyHealthCheck rise=0\n</RProxyPool>",
     qr/RProxyHealthCheck rise=0: out of range/],
    ['health check expect', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyHealthCheck expect=2xx\n</RProxyPool>",
     qr/RProxyHealthCheck expect=2xx: expects HTTP status codes or ranges between 100 and 599/],
    ['health check expect range', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyHealthCheck expect=399-200\n</RProxyPool>",
     qr/RProxyHealthCheck expect=399-200: expects HTTP status codes or ranges/],
    ['health check method', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyHealthCheck method=POST\n</RProxyPool>",
     qr/RProxyHealthCheck method=POST: expects GET, HEAD or OPTIONS/],
    ['health check uri', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyHealthCheck uri=health\n</RProxyPool>",
     qr/RProxyHealthCheck uri=health: expects a path starting with '\/'/],
    ['health check timeout over interval', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyHealthCheck interval=1s timeout=2s\n</RProxyPool>",
     qr/RProxyHealthCheck: timeout \(2000ms\) must not be longer than interval \(1000ms\)/],
    ['health check option', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyHealthCheck port=81\n</RProxyPool>",
     qr/RProxyHealthCheck: unknown option 'port=81' \(valid: uri=PATH interval=T timeout=T rise=1\.\.100 fall=1\.\.100 expect=CODES method=GET\|HEAD\|OPTIONS host=NAME\[:PORT\]\)/],
    ['two health checks', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyHealthCheck\nRProxyHealthCheck uri=/x\n</RProxyPool>",
     qr/line 8 of .*:\sRProxyHealthCheck: only one per pool/],
    ['path without target', "RProxyPass /x",
     qr/RProxyPass \/x: expects a TARGET after the PATH/],
    ['relative path', "RProxyPass x http://127.0.0.1:1/",
     qr/PATH 'x' must start with '\/'/],
    ['duplicate path', "RProxyPass /x http://127.0.0.1:1/\nRProxyPass /x http://127.0.0.1:2/",
     qr/line 6 of .*:\sRProxyPass \/x: this path is already routed at .*:5/],
    ['h2c upgrade', "RProxyPass /x http://127.0.0.1:1/ upgrade=h2c",
     qr/upgrade=h2c is never tunnelled/],
    ['unknown route option', "RProxyPass /x http://127.0.0.1:1/ retry=0",
     qr/unknown option 'retry=0' \(valid: redirects=on\|off/],
    ['bad regex', "RProxyPassMatch ^/(x http://127.0.0.1:1/",
     qr/RProxyPassMatch: '\^\/\(x' is not a valid regular expression/],
    ['in Directory', "<Directory />\nRProxyPass http://127.0.0.1:1/\n</Directory>",
     qr/line 6 of .*:\sRProxyPass is valid in <Location>, <LocationMatch> and <If>/],
    ['forwarded value', "RProxyForwarded sometimes",
     qr/RProxyForwarded: unknown value 'sometimes' \(valid: x-forwarded, rfc7239, both, none\)/],
    ['request id header name', "RProxyRequestId X-Request:Id",
     qr/RProxyRequestId: 'X-Request:Id' is not a header name \(valid: a header name such as X-Request-Id, or off\)/],
    ['trusted proxy host name', "RProxyTrustedProxies 10.0.0.0/8 proxy.example",
     qr/line 5 of .*:\sRProxyTrustedProxies: 'proxy\.example' is not an IP address or CIDR block \(not an IP address; valid: such as 192\.0\.2\.7, 10\.0\.0\.0\/8, 2001:db8::\/32, or none\)/],
    ['trusted proxy mask', "RProxyTrustedProxies 10.0.0.0/33",
     qr/line 5 of .*:\sRProxyTrustedProxies: '10\.0\.0\.0\/33' is not an IP address or CIDR block \(bad prefix length; valid: /],
    ['trusted proxy IPv6 mask', "<Location /x>\nRProxyTrustedProxies 2001:db8::/129\n</Location>",
     qr/line 6 of .*:\sRProxyTrustedProxies: '2001:db8::\/129' is not an IP address or CIDR block/],
    ['trusted proxy bad address', "RProxyTrustedProxies 10.0.0.300",
     qr/RProxyTrustedProxies: '10\.0\.0\.300' is not an IP address or CIDR block/],
    ['trusted proxy empty mask', "RProxyTrustedProxies 10.0.0.0/",
     qr/RProxyTrustedProxies: '10\.0\.0\.0\/' is not an IP address or CIDR block/],
    ['trusted proxy none mixed', "RProxyTrustedProxies 10.0.0.1 none",
     qr/line 5 of .*:\sRProxyTrustedProxies: 'none' cannot be combined with addresses/],
    ['bad pool name', "<RProxyPool a/b>\nRProxyMember http://127.0.0.1:1\n</RProxyPool>",
     qr/a pool name uses letters, digits/],
    ['queue outside a pool', "RProxyQueue timeout=1s",
     qr/line 5 of .*:\sRProxyQueue is only valid inside <RProxyPool>/],
    ['queue without timeout', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1 max_conns=1\nRProxyQueue max=5\n</RProxyPool>",
     qr/line 7 of .*:\sRProxyQueue: needs timeout=T \(such as 500ms or 3s\)/],
    ['queue timeout not a duration', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1 max_conns=1\nRProxyQueue timeout=soon\n</RProxyPool>",
     qr/line 7 of .*:\sRProxyQueue timeout=soon: expects a duration such as 500ms, 5s, 2m or 1h \(valid: timeout=T from 1ms to 10m\)/],
    ['queue timeout zero', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1 max_conns=1\nRProxyQueue timeout=0\n</RProxyPool>",
     qr/line 7 of .*:\sRProxyQueue timeout=0: out of range \(valid: timeout=T from 1ms to 10m/],
    ['queue timeout too long', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1 max_conns=1\nRProxyQueue timeout=11m\n</RProxyPool>",
     qr/RProxyQueue timeout=11m: out of range \(valid: timeout=T from 1ms to 10m/],
    ['queue max range', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1 max_conns=1\nRProxyQueue timeout=1s max=0\n</RProxyPool>",
     qr/line 7 of .*:\sRProxyQueue max=0: out of range \(valid: max=1\.\.1000000\)/],
    ['queue max not a number', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1 max_conns=1\nRProxyQueue timeout=1s max=lots\n</RProxyPool>",
     qr/RProxyQueue max=lots: not a number \(valid: max=1\.\.1000000\)/],
    ['queue option', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1 max_conns=1\nRProxyQueue timeout=1s order=fifo\n</RProxyPool>",
     qr/line 7 of .*:\sRProxyQueue: unknown option 'order=fifo' \(valid: timeout=T max=1\.\.1000000\)/],
    ['buffering not on or off', "RProxyBuffering maybe",
     qr/line 5 of .*:\sRProxyBuffering 'maybe': expects on or off, then \[memory=SIZE\] \[file=SIZE\]/],
    ['buffering size over its bound', "RProxyBuffering on memory=2g",
     qr/line 5 of .*:\sRProxyBuffering memory=2g: out of range \(0 to 1g\) \(valid: memory=SIZE\)/],
    ['buffering size not a size', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyBuffering on file=lots\n</RProxyPool>",
     qr/line 7 of .*:\sRProxyBuffering file=lots: expects a size such as 65536, 512k, 64m or 1g \(valid: file=SIZE\)/],
    ['request buffering option', "RProxyRequestBuffering on file=1m",
     qr/line 5 of .*:\sRProxyRequestBuffering: unknown option 'file=1m' \(valid: memory=SIZE limit=SIZE\)/],
    ['route buffering option', "RProxyPass /x/ http://127.0.0.1:1/ buffering=maybe",
     qr/line 5 of .*:\sRProxyPass \/x\/ buffering=maybe: expects on or off/],
    ['buffer dir relative', "RProxyBufferDir tmp/buf",
     qr/line 5 of .*:\sRProxyBufferDir 'tmp\/buf': expects an absolute path/],
    ['buffer dir a file', "RProxyBufferDir /etc/hostname",
     qr/line 5 of .*:\sRProxyBufferDir '\/etc\/hostname': exists and is not a directory/],
    ['duration over a day', "RProxyTimeouts idle=90000s",
     qr/line 5 of .*:\sRProxyTimeouts idle=90000s: duration out of range \(at most 1 day: 86400s, 1440m or 24h\)/],
    ['duration over a day in ms', "RProxyKeepalive idle_timeout=86400001ms",
     qr/RProxyKeepalive idle_timeout=86400001ms: duration out of range \(at most 1 day/],
    ['duration over a day in hours', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyHealthCheck interval=25h\n</RProxyPool>",
     qr/RProxyHealthCheck interval=25h: duration out of range \(at most 1 day/],
    ['huge duration', "RProxyTimeouts connect=99999999999999999999",
     qr/RProxyTimeouts connect=9+: duration out of range/],
    ['secret file readable by others', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxySticky cookie=S secret=file:$dir/secret-0644\n</RProxyPool>",
     qr/line 7 of .*httpd\.conf:\sRProxySticky secret=file:\S+: the secret file \Q$dir\E\/secret-0644 can be read or written by group or others \(mode 0644\): make it private .* chmod 0600 \(or 0400\) \Q$dir\E\/secret-0644/],
    ['secret file writable by group', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxySticky cookie=S secret=file:$dir/secret-0620\n</RProxyPool>",
     qr/the secret file \S+secret-0620 can be read or written by group or others \(mode 0620\)/],
    ['secret file too long', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxySticky cookie=S secret=file:$dir/secret-long\n</RProxyPool>",
     qr/RProxySticky secret=file:\S+: the secret file \S+secret-long is longer than 1024 bytes/],
    ['sticky without cookie= or route=', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxySticky httponly\n</RProxyPool>",
     qr/RProxySticky: needs cookie=NAME or route=NAME/],
    ['sticky cookie= and route= the same', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxySticky cookie=SID route=SID\n</RProxyPool>",
     qr/RProxySticky: cookie= and route= name the same cookie/],
    ['sticky route= not a cookie name', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxySticky route=a;b\n</RProxyPool>",
     qr/RProxySticky route=a;b: not a valid cookie name/],
    # the option table: an unknown key lists the valid ones with their
    # bounds, a bad value names the bounds of its key
    ['outlier option', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyOutlier fails=3 window=10s\n</RProxyPool>",
     qr/line 7 of .*:\sRProxyOutlier: unknown option 'window=10s' \(valid: fails=1\.\.1000 eject=T max_ejected=0\.\.100%\)/],
    ['outlier fails range', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyOutlier fails=0\n</RProxyPool>",
     qr/line 7 of .*:\sRProxyOutlier fails=0: out of range \(valid: fails=1\.\.1000\)/],
    ['keepalive option', "RProxyKeepalive max=5",
     qr/line 5 of .*:\sRProxyKeepalive: unknown option 'max=5' \(valid: idle=0\.\.100000 idle_timeout=T\)/],
    ['keepalive idle range', "RProxyKeepalive idle=100001",
     qr/line 5 of .*:\sRProxyKeepalive idle=100001: out of range \(valid: idle=0\.\.100000\)/],
    ['timeout zero', "RProxyTimeouts connect=0",
     qr/line 5 of .*:\sRProxyTimeouts connect=0: out of range \(valid: connect=T from 1ms to 24h\)/],
    ['sticky option', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxySticky cookie=S ttl=5\n</RProxyPool>",
     qr/line 7 of .*:\sRProxySticky: unknown option 'ttl=5' \(valid: cookie=NAME route=NAME secret=S\|file:PATH path=PATH domain=DOMAIN samesite=VALUE max_age=SECONDS secure httponly\)/],
    ['sticky flag with a value', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxySticky cookie=S secure=yes\n</RProxyPool>",
     qr/line 7 of .*:\sRProxySticky secure=yes: takes no value \(valid: secure\)/],
    ['retries option', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyRetries 2 when=5xx\n</RProxyPool>",
     qr/line 7 of .*:\sRProxyRetries: unknown option 'when=5xx' \(valid: budget=0\.\.100% on=STATUS\[,STATUS\.\.\.\]\|none\)/],
    ['retries on= not 5xx', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyRetries 2 on=503,404\n</RProxyPool>",
     qr/line 7 of .*:\sRProxyRetries on=503,404: '404' is not a status from 500 to 599/],
    ['retries outside a pool or <Location>', "RProxyRetries 2",
     qr/line 5 of .*:\sRProxyRetries is only valid inside <RProxyPool> or <Location>/],
    ['retries budget in <Location>', "<Location /x>\nRProxyRetries 1 budget=10%\n</Location>",
     qr/line 6 of .*:\sRProxyRetries budget=10%: the retry budget is pool-wide: set it in <RProxyPool>/],
    ['retries on= in <Location> not 5xx', "<Location /x>\nRProxyRetries 1 on=503,302\n</Location>",
     qr/line 6 of .*:\sRProxyRetries on=503,302: '302' is not a status from 500 to 599/],
    ['route retries= range', "RProxyPass /x http://127.0.0.1:1/ retries=101",
     qr/line 5 of .*:\sRProxyPass \/x retries=101: out of range \(valid: retries=0\.\.100\)/],
    ['route retries= not a number', "RProxyPass /x http://127.0.0.1:1/ retries=two",
     qr/line 5 of .*:\sRProxyPass \/x retries=two: .*\(valid: retries=0\.\.100\)/],
    ['route retry_on= not 5xx', "RProxyPass /x http://127.0.0.1:1/ retry_on=502,600",
     qr/line 5 of .*:\sRProxyPass \/x retry_on=502,600: '600' is not a status from 500 to 599/],
    ['route retry_on= empty', "RProxyPassMatch ^/x http://127.0.0.1:1/ retry_on=,",
     qr/line 5 of .*:\sRProxyPassMatch \^\/x retry_on=,: an empty list/],
    ['retries budget range', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyRetries 2 budget=150%\n</RProxyPool>",
     qr/line 7 of .*:\sRProxyRetries budget=150%: out of range \(valid: budget=0\.\.100%\)/],
    ['unix member over TLS', "<RProxyPool a>\nRProxyMember unix:/run/app.sock|https://app/\n</RProxyPool>",
     qr/line 6 of .*:\sRProxyMember unix:\/run\/app\.sock\|https:\/\/app\/: after '\|' comes an http:\/\/ URL \(TLS over a Unix socket is not supported\)/],
    ['unix member relative path', "<RProxyPool a>\nRProxyMember unix:run/app.sock\n</RProxyPool>",
     qr/line 6 of .*:\sRProxyMember unix:run\/app\.sock: a Unix socket's path must be absolute/],
    ['unix member path too long', "<RProxyPool a>\nRProxyMember unix:/" . ('s' x 120) . "\n</RProxyPool>",
     qr/line 6 of .*:\sRProxyMember unix:\/s+: a Unix socket's path has at most 107 bytes/],
    ['route timeout option', "RProxyPass /a/ http://127.0.0.1:1/ header=0s",
     qr/line 5 of .*:\sRProxyPass \/a\/ header=0s: out of range/],
    ['route deadline option', "RProxyPass /a/ http://127.0.0.1:1/ deadline=soon",
     qr/line 5 of .*:\sRProxyPass \/a\/ deadline=soon: /],
    ['health check fall range', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\nRProxyHealthCheck fall=101\n</RProxyPool>",
     qr/line 7 of .*:\sRProxyHealthCheck fall=101: out of range \(valid: fall=1\.\.100\)/],
    ['route option value', "RProxyPass /x http://127.0.0.1:1/ redirects=maybe",
     qr/line 5 of .*:\sRProxyPass \/x redirects=maybe: expects on or off \(valid: redirects=on\|off\)/],
    ['member route name', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1 route=a/b\n</RProxyPool>",
     qr/line 6 of .*:\sRProxyMember http:\/\/127\.0\.0\.1:1 route=a\/b: uses letters, digits, '_', '-' and '\.' only \(valid: route=ID\)/],
    ['option without its value', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1 weight\n</RProxyPool>",
     qr/line 6 of .*:\sRProxyMember http:\/\/127\.0\.0\.1:1 weight: needs a value \(valid: weight=1\.\.1000\)/],
    ['member resolve range', "<RProxyPool a>\nRProxyMember http://localhost:1 resolve=500ms\n</RProxyPool>",
     qr/line 6 of .*:\sRProxyMember http:\/\/localhost:1 resolve=500ms: expects off or a duration from 1s to 86400s \(valid: resolve=T\|off\)/],
    ['pool resolve value', "<RProxyPool a resolve=never>\nRProxyMember http://localhost:1\n</RProxyPool>",
     qr/line 5 of .*:\s<RProxyPool a> resolve=never: .* \(valid: resolve=T\|off\)/],
    ['pool option unknown', "<RProxyPool a weight=2>\nRProxyMember http://localhost:1\n</RProxyPool>",
     qr/line 5 of .*:\s<RProxyPool a>: unknown option 'weight=2' \(valid: resolve=T\|off\)/],
    ['expand on an address', "<RProxyPool a>\nRProxyMember http://127.0.0.1:1 expand=2\n</RProxyPool>",
     qr/line 6 of .*:\sRProxyMember http:\/\/127\.0\.0\.1:1: expand= needs a host name/],
    ['expand with route', "<RProxyPool a>\nRProxyMember http://localhost:1 expand=2 route=r\n</RProxyPool>",
     qr/line 6 of .*:\sRProxyMember http:\/\/localhost:1: expand= and route= do not go together/],
    ['expand listed twice', "<RProxyPool a>\nRProxyMember http://localhost:1 expand=2\nRProxyMember http://localhost:1\n</RProxyPool>",
     qr/line 7 of .*:\sRProxyMember http:\/\/localhost:1: listed twice in pool a/],
    ['expand range', "<RProxyPool a>\nRProxyMember http://localhost:1 expand=65\n</RProxyPool>",
     qr/line 6 of .*:\sRProxyMember http:\/\/localhost:1 expand=65: out of range \(valid: expand=1\.\.64\)/],
    ['unresolvable member', "<RProxyPool a>\nRProxyMember http://no-such-host.invalid:80\n</RProxyPool>",
     qr/cannot resolve no-such-host\.invalid/],
);

plan tests => 2 * @cases + 3;

# (exit status of httpd -t, its output); $body starts at line 5
sub try_config {
    my ($body) = @_;
    return httpd_config_test($dir, "LoadModule rproxy_module $top/.libs/mod_rproxy.so\n$body\n");
}

for my $c (@cases) {
    my ($rc, $out) = try_config($c->[1]);
    ok t_cmp($rc != 0 ? 1 : 0, 1, "$c->[0]: httpd refuses to start");
    ok t_cmp($out, $c->[2], "$c->[0]: message");
}

# and a good one passes, so the failures above are the directives' doing
my ($rc, $out) = try_config("<RProxyPool a>\nRProxyMember http://127.0.0.1:1 max_conns=2\n"
                            . "RProxyQueue timeout=500ms max=10\n</RProxyPool>\n"
                            . "<RProxyPool h>\nRProxyMember http://127.0.0.1:1\n"
                            . "RProxyBalancer hash \"%{HTTP:X-User}\" bound=1.5\n"
                            . "RProxyHealthCheck uri=/hc interval=2s timeout=1s rise=1 fall=5 "
                            . "expect=200,204,300-302 method=OPTIONS host=app.example:8080\n</RProxyPool>\n"
                            . "<RProxyPool o>\nRProxyMember http://127.0.0.1:1 weight=5 max_conns=2 route=r1\n"
                            . "RProxyMember http://127.0.0.1:2 backup drain disabled\n"
                            . "RProxyOutlier fails=3 eject=10s max_ejected=30%\nRProxyRetries 1 budget=20%\n"
                            . "RProxyKeepalive idle=8 idle_timeout=30s\nRProxyTimeouts connect=1s header=5s idle=5s\n"
                            . "RProxySticky cookie=S path=/app domain=example.com samesite=Lax max_age=60 secure httponly\n"
                            . "</RProxyPool>\n"
                            . "RProxyPass /x a redirects=off cookies=on upgrade=websocket,foo\n"
                            . "<Location /y>\nRProxyPass http://127.0.0.1:1/\n</Location>\n"
                            . "RProxyTrustedProxies 10.0.0.0/8 192.0.2.7 2001:db8::/32 ::1\n"
                            . "<Location /y/z>\nRProxyTrustedProxies none\n</Location>");
ok t_cmp("$rc $out", qr/^0 Syntax OK/, 'a valid configuration passes');

# the limits themselves are accepted: a day, and a private secret file
# of 1024 bytes
($rc, $out) = try_config("RProxyTimeouts idle=86400s connect=24h header=1440m\n"
                         . "RProxyKeepalive idle_timeout=86400000ms\n"
                         . "<RProxyPool a>\nRProxyMember http://127.0.0.1:1\n"
                         . "RProxySticky cookie=S secret=file:$dir/secret-ok\n</RProxyPool>");
ok t_cmp("$rc $out", qr/^0 Syntax OK/, 'a day and a 1024-byte private secret file pass');

# a queue with nothing to wait for starts, with a warning
($rc, $out) = try_config("<RProxyPool a>\nRProxyMember http://127.0.0.1:1\n"
                         . "RProxyQueue timeout=1s\n</RProxyPool>");
ok t_cmp("$rc $out", qr/^0 .*RP00094: pool a: RProxyQueue has no effect: no member has max_conns=N \(.*:5\).*Syntax OK/s,
         'RProxyQueue without max_conns: a warning');
