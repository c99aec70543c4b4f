# make -f Makefile.apxs install, into a DESTDIR: the module, and on
# Debian's layout rproxy.load and rproxy.conf in mods-available that httpd
# accepts as they are, and with the commented example turned on.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(plan ok skip);
use Apache::TestUtil qw(t_cmp);
use File::Temp qw(tempdir);
use File::Find qw(find);
use File::Compare qw(compare);

my $httpd = Apache::Test::vars('httpd');
my $apxs = Apache::Test::vars('apxs');
my $top = Apache::Test::vars('top_dir');
my $dest = tempdir(CLEANUP => 1);
chomp(my $libexecdir = `$apxs -q LIBEXECDIR`);
chomp(my $sysconfdir = `$apxs -q SYSCONFDIR`);

plan tests => 7;

# This runs inside "make test": the sub-make must not take that make's
# flags, overrides (TEST_ARGS, MPM) or jobserver, nor the sanitizer
# runtime that make test-asan preloads for httpd (httpd -t below keeps it).
my $out;
{
    my @drop = qw(MAKEFLAGS MFLAGS MAKEOVERRIDES MAKELEVEL LD_PRELOAD);
    local @ENV{@drop};
    delete @ENV{@drop};
    $out = `make -s -C $top -f Makefile.apxs install DESTDIR=$dest APXS=$apxs 2>&1`;
}
my $rc = $?;
print map { "# $_\n" } split /\n/, $out if $rc;
ok t_cmp($rc, 0, 'make install DESTDIR=... succeeds');

my $so = "$dest$libexecdir/mod_rproxy.so";
ok t_cmp(-f $so && compare($so, "$top/.libs/mod_rproxy.so") == 0 ? 1 : 0, 1,
         "the module is $libexecdir/mod_rproxy.so under DESTDIR");

my $avail = "$dest$sysconfdir/mods-available";
my $debian = -d $avail;
my $why = "not Debian's layout (no mods-available, a2enmod or Debian apxs): "
        . 'install prints the LoadModule line instead';
my $load_line = "LoadModule rproxy_module $libexecdir/mod_rproxy.so";

# nothing but these lands in DESTDIR (apxs -i leaves no .la behind)
my @files;
find(sub { push @files, substr($File::Find::name, length $dest) if -f }, $dest);
my @want = ("$libexecdir/mod_rproxy.so",
            $debian ? ("$sysconfdir/mods-available/rproxy.conf",
                       "$sysconfdir/mods-available/rproxy.load") : ());
ok t_cmp(join(' ', sort @files), join(' ', sort @want), 'the files installed');

if (!$debian) {
    ok t_cmp($out, qr/\Q$load_line\E/, 'not Debian: the LoadModule line is printed');
    skip $why for 1 .. 3;
    exit 0;
}

open my $fh, '<', "$avail/rproxy.load" or die $!;
my $load = do { local $/; <$fh> };
close $fh;
ok t_cmp($load, "$load_line\n", 'rproxy.load loads the module from LIBEXECDIR');

# httpd -t with the two files as a2enmod would include them, the module
# path pointed at the DESTDIR copy
sub configtest {
    my ($conf_text) = @_;
    my $dir = tempdir(CLEANUP => 1);
    mkdir "$dir/logs";
    (my $l = $load) =~ s{ \Q$libexecdir\E/}{ $dest$libexecdir/};
    open my $c, '>', "$dir/rproxy.conf" or die $!;
    print $c $conf_text;
    close $c;
    open my $h, '>', "$dir/httpd.conf" or die $!;
    print $h "LoadModule mpm_event_module $libexecdir/mod_mpm_event.so\n"
           . "LoadModule authz_core_module $libexecdir/mod_authz_core.so\n"
           . "LoadModule authz_host_module $libexecdir/mod_authz_host.so\n"
           . "ServerName localhost\n$l"
           . "Include $dir/rproxy.conf\n";
    close $h;
    my $res = `$httpd -t -d $dir -f $dir/httpd.conf 2>&1`;
    return "$? $res";
}

open $fh, '<', "$avail/rproxy.conf" or die $!;
my $conf = do { local $/; <$fh> };
close $fh;
ok t_cmp(configtest($conf), qr/^0 Syntax OK/, 'httpd -t accepts rproxy.conf as installed');

# the commented example, turned on, is valid too
(my $example = $conf) =~ s/^(\s*)#(\s*<\/?RProxy|\s*RProxy)/$1$2/mg;
ok t_cmp(scalar(() = $example =~ /^\s*<RProxyPool/mg), 1, 'the example has a pool');
ok t_cmp(configtest($example), qr/^0 Syntax OK/, 'httpd -t accepts the example turned on');
