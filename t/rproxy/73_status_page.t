# The HTML status page (issue 9), in a real browser: Debian's headless
# Chromium loads it, takes a screenshot (t/logs/status.png, a test
# artifact) and dumps the DOM after its script ran. The DOM has a row per
# member coloured by its state (pools of 73_status_page.conf.in: up,
# draining, disabled, backup, ejected, health-failed), a sparkline per
# pool, the links to ?json and ?prometheus and the meta refresh of
# ?refresh=5; names are HTML-escaped. Without a browser (plain LWP) the
# page refers to nothing outside itself. On /rproxy-manage (72_manage's
# location, RProxyStatusManage On) the browser clicks "drain" and ?json shows the member draining.
# Browser parts skip with a reason when chromium is not installed
# ("make -f Makefile.apxs deps" installs it).
use strict;
# `make test-asan` preloads the sanitizer runtime for httpd through the
# environment; the browser and python3 are not ours to sanitize
BEGIN { delete $ENV{LD_PRELOAD} }
use warnings FATAL => 'all';
use lib 't/lib';
use Apache::Test qw(plan ok skip);
use Apache::TestRequest qw(GET);
use Apache::TestUtil qw(t_cmp);
use File::Temp qw(tempdir);
use RPTest qw(status_member);

plan tests => 31;

my $vars = Apache::Test::vars();
my $base = "http://127.0.0.1:$vars->{port}";
my $chromium = `sh -c 'command -v chromium'`;
chomp $chromium;
my $no_browser = $chromium ? ''
    : 'chromium is not installed (make -f Makefile.apxs deps installs it)';
my $has_websockets = system(q{/usr/bin/python3 -c "import websockets" 2>/dev/null}) == 0;

# a browser check, or its skip
sub browser_ok {
    my ($got, $want, $name) = @_;
    return skip($no_browser, 0) if $no_browser;
    return ok t_cmp($got, $want, $name);
}

# chromium --headless with its own profile, its output to a log; returns
# what it printed on stdout
sub chromium {
    my (@args) = @_;
    my $profile = tempdir(CLEANUP => 1);
    my $log = "$vars->{t_logs}/chromium.log";
    my @cmd = ('timeout', '60', $chromium, '--headless', '--no-sandbox',
               '--disable-gpu', '--no-first-run', "--user-data-dir=$profile",
               @args);
    open my $fh, '-|', join(' ', map { "'$_'" } @cmd) . " 2>>$log"
        or die "chromium: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return $out;
}

sub wait_role {
    my ($pool, $i, $role) = @_;
    for (1 .. 50) {
        my $m = status_member($pool, $i);
        return $m->{role} if $m && $m->{role} eq $role;
        select(undef, undef, undef, 0.1);
    }
    my $m = status_member($pool, $i);
    return $m ? $m->{role} : 'none';
}

# the states: ejected after one failed try, health-failed after a check
for (1 .. 6) {
    last if (status_member('pageout', 0) // {})->{role} eq 'ejected';
    GET '/pageout/?count=1';
}
ok t_cmp(wait_role('pageout', 0, 'ejected'), 'ejected', 'pageout: dead member ejected');
ok t_cmp(wait_role('pagehc', 0, 'health-failed'), 'health-failed',
         'pagehc: dead member fails its checks');
# traffic for the sparkline, in complete seconds by the time the page is read
GET '/pagestates/?count=1' for 1 .. 20;
select(undef, undef, undef, 1.2);

# ---- plain HTTP --------------------------------------------------------
my $res = GET '/rproxy-status?refresh=5';
my $html = $res->content;
ok t_cmp($res->header('Content-Type'), qr{^text/html; charset=utf-8}, 'HTML, UTF-8');
my @external = $html =~ m{\b((?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//[^"'\s>]*)}gi;
ok t_cmp("@external", '', 'no src=/href= to another site');
my @links = grep { !m{\bhref="data:} } $html =~ m{(<link\b[^>]*>)}gi;
ok t_cmp("@links", '', 'no <link> but to data: (no stylesheet, no icon to fetch)');
ok t_cmp(scalar(() = $html =~ m{<style>}g), 1, 'the CSS is inline');
ok t_cmp($html =~ m{x&lt;b&gt;&amp;y} && $html !~ m{x<b>} ? 1 : 0, 1,
         'a member URL with <, > and & is escaped');
my ($refresh) = $html =~ m{<meta http-equiv="refresh" content="(\d+)">};
ok t_cmp($refresh // '', 5, '?refresh=5: meta refresh 5 s');
($refresh) = GET('/rproxy-status?refresh=999999')->content
    =~ m{<meta http-equiv="refresh" content="(\d+)">};
ok t_cmp($refresh // '', 3600, 'refresh bounded to an hour');
ok t_cmp(GET('/rproxy-status')->content =~ /http-equiv="refresh"/ ? 1 : 0, 0,
         'no refresh unless asked');
# the per-second history (shared by every child): the 20 requests above
# within the last 10 s
my ($summary) = $html =~ m{id="pool-pagestates">.*?<p class="summary">(.*?)</p>}s;
ok t_cmp($summary // '', '<b>members up 2/5</b><b>in flight 0</b><b>2.0 req/s</b>'
         . '<b>errors 0 (0.0/s)</b>', 'pool summary: up (and backup) of all, in flight, req/s, errors');
my $b1 = "http://127.0.0.1:$vars->{b1_port}";
my ($rate) = $html =~ m{data-pool="pagestates" data-member="\Q$b1\E">(?:<td[^>]*>.*?</td>){3}<td data-v="([\d.]+)">}s;
ok t_cmp($rate // '', '2.0', 'member req/s');
my $banner = GET('/rproxy-status?result=pagemg%2Fb1%3A+drained+%3Cb%3E%26')->content;
ok t_cmp(($banner =~ m{<p class="banner" role="status">([^<]*)</p>})[0] // '',
         'pagemg/b1: drained &lt;b&gt;&amp;', '?result=: the banner, escaped');

# ---- in the browser ----------------------------------------------------
my $dom = $no_browser ? '' : chromium('--dump-dom', "$base/rproxy-status?refresh=5");
my %state;
while ($dom =~ m{<tr class="member st-([\w-]+)" data-state="[\w-]+" data-pool="([^"]+)" data-member="([^"]+)"}g) {
    $state{"$2 $3"} = $1;
}
my $b = sub { "http://127.0.0.1:$vars->{$_[0]}" };
browser_ok($state{'pagestates ' . $b->('b1_port')}, 'up', 'browser: up member row');
browser_ok($state{'pagestates ' . $b->('b2_port')}, 'draining', 'browser: draining member row');
browser_ok($state{'pagestates ' . $b->('b3_port')}, 'disabled', 'browser: disabled member row');
browser_ok($state{'pagestates ' . $b->('b4_port')}, 'backup', 'browser: backup member row');
browser_ok($state{'pageout ' . $b->('dead_port')}, 'ejected', 'browser: ejected member row');
browser_ok($state{'pagehc ' . $b->('dead_port')}, 'health-failed', 'browser: health-failed member row');
browser_ok($state{'pagestates ' . $b->('dead_port') . '/x&lt;b&gt;&amp;y'}, 'disabled',
           'browser: the escaped name as one row');
my ($spark) = $dom =~ m{<section class="pool" id="pool-pagestates">.*?<svg class="spark"[^>]*>(.*?)</svg>}s;
browser_ok(($spark // '') =~ m{<path class="rps" d="M[\d.,]+(?:L[\d.,]+)+"} ? 1 : 0, 1,
           'browser: the pool sparkline has a requests/s path');
browser_ok(($spark // '') =~ m{<path class="p99" d="M} ? 1 : 0, 1, 'browser: and a p99 path');
browser_ok($dom =~ m{<a href="\?json">} && $dom =~ m{<a href="\?prometheus">} ? 1 : 0, 1,
           'browser: links to ?json and ?prometheus');
browser_ok($dom =~ m{<meta http-equiv="refresh" content="5">} ? 1 : 0, 1,
           'browser: meta refresh of ?refresh=5');

my $png = "$vars->{t_logs}/status.png";
unlink $png;
chromium("--screenshot=$png", "--window-size=1280,900", "$base/rproxy-status")
    unless $no_browser;
my $magic = '';
if (-f $png) {
    open my $fh, '<:raw', $png or die "$png: $!";
    read $fh, $magic, 8;
}
browser_ok((-s $png // 0) > 20000 ? "big enough" : (-s $png // 0), 'big enough',
           'browser: a screenshot in t/logs/status.png, non-trivial');
browser_ok($magic eq "\x89PNG\r\n\x1a\n" ? 'png' : 'not png', 'png', 'browser: it is a PNG');

# ---- drain from the page (RProxyStatusManage, /rproxy-manage of 72) ------
my $manage = GET '/rproxy-manage';
ok t_cmp(($manage->content =~ /class="act act-drain"/) ? 'forms' : 'none', 'forms',
         'the managed page has drain forms');
my $skip = $no_browser
    || ($has_websockets ? '' : 'python3-websockets is not installed');
my $target = $b->('b1_port');
if ($skip) {
    skip($skip, 0) for 1 .. 4;
}
else {
    ok t_cmp(status_member('pagemg', 0)->{role}, 'up', 'pagemg/b1 up before the click');
    my $sel = qq{tr[data-pool="pagemg"][data-member="$target"] form.act-drain button};
    my $out = `/usr/bin/python3 t/lib/cdp_click.py '$base/rproxy-manage' '$sel' 30 2>>$vars->{t_logs}/chromium.log`;
    ok t_cmp($?, 0, 'browser: clicked "drain", a page loaded') or print "# $out";
    ok t_cmp(($out =~ /"url":\s*"([^"]*)"/)[0] // '', qr{^\Q$base\E/rproxy-manage\?},
             'back on the page (303)');
    ok t_cmp(wait_role('pagemg', 0, 'draining'), 'draining', '?json: pagemg/b1 draining');
}
