# Every configuration example in the documentation is valid: each fenced
# block with the info string "apache" in README and docs/*.md is put,
# alone, into a minimal httpd.conf with mod_rproxy and the modules the
# test server loads, and `httpd -t` must say "Syntax OK". One check per
# block, named by file and line. (t/README, "Documentation examples".)
#
# Markers on the line before a fence:
#   <!-- not checked: REASON -->     skipped, with the reason
#   <!-- checked with: mod_proxy --> mod_proxy and its balancer, health
#                                    check and lbmethod modules loaded too
# Paths under /etc/apache2/ and /etc/ssl/ in an example are read from a
# temporary directory where this test creates them, so that a sticky
# secret file or a certificate named in an example exists, with the right
# mode.
use strict;
use warnings FATAL => 'all';
# Test::More behind Apache::Test: named checks, skip with a reason
use Apache::Test qw(-withtestmore);
use File::Temp qw(tempdir);
use File::Path qw(make_path);
use File::Basename qw(dirname);

my $vars = Apache::Test::config()->{vars};
my $top = $vars->{top_dir};
my $httpd = $vars->{httpd};
my $mods = '/usr/lib/apache2/modules';

# --- the blocks ------------------------------------------------------------

sub blocks_of {
    my ($path) = @_;
    (my $name = $path) =~ s{^\Q$top\E/}{};
    open my $fh, '<', $path or die "$path: $!";
    my @lines = <$fh>;
    close $fh;
    my (@out, $prev);
    for (my $i = 0; $i < @lines; $i++) {
        my $line = $lines[$i];
        if ($line =~ /^```apache\s*$/) {
            my $b = { file => $name, line => $i + 1, text => '' };
            if (defined $prev && $prev =~ /<!--\s*not checked:\s*(.*?)\s*-->/) {
                $b->{skip} = $1;
            }
            elsif (defined $prev && $prev =~ /<!--\s*checked with:\s*(.*?)\s*-->/) {
                $b->{with} = $1;
            }
            for ($i++; $i < @lines && $lines[$i] !~ /^```\s*$/; $i++) {
                $b->{text} .= $lines[$i];
            }
            $b->{unclosed} = 1 if $i >= @lines;
            push @out, $b;
            undef $prev;
            next;
        }
        $prev = $line if $line =~ /\S/;
    }
    return @out;
}

my @files = ("$top/README", sort glob("$top/docs/*.md"));
my @blocks = map { blocks_of($_) } @files;

# --- the httpd.conf around each block --------------------------------------

my $dir = tempdir(CLEANUP => 1);
make_path("$dir/logs", "$dir/etc/apache2", "$dir/etc/ssl");

# the MPM of this run (as the test server was configured), then the
# other modules the test server loads
open my $in, '<', "$vars->{t_conf}/httpd.conf" or die $!;
my ($mpm) = grep { /^\s*LoadModule\s+mpm_/ } <$in>;
close $in;
open $in, '<', "$top/t/conf/modules.conf" or die $!;
my @loads = grep { /^\s*LoadModule\s/ && !/\bmpm_/ } <$in>;
close $in;

my %with = (
    'mod_proxy' => join('', map { "LoadModule ${_}_module $mods/mod_$_.so\n" }
                        qw(proxy proxy_http slotmem_shm proxy_balancer
                           lbmethod_byrequests lbmethod_bybusyness
                           proxy_hcheck)),
);

sub wrap {
    my ($b) = @_;
    my $text = $b->{text};
    # example paths of a real server, made to exist here
    $text =~ s{(?<![\w/])/etc/(apache2|ssl)/}{$dir/etc/$1/}g;
    for my $f ($text =~ m{(\Q$dir\E/etc/(?:apache2|ssl)/[^\s"]+)}g) {
        next if -e $f;
        make_path(dirname($f));
        open my $fh, '>', $f or die "$f: $!";
        # a sticky secret (at least 16 bytes) or a placeholder certificate
        print $fh ('0123456789abcdef' x 4) . "\n";
        close $fh;
        chmod 0600, $f;
    }
    return $mpm . join('', @loads)
        . "LoadModule rproxy_module $top/.libs/mod_rproxy.so\n"
        . "LoadModule rptest_lb_module $top/t/modules/.libs/mod_rptest_lb.so\n"
        . ($b->{with} ? $with{$b->{with}} // '' : '')
        . "ServerName localhost\n"
        . "ErrorLog $dir/logs/error_log\n"
        . "PidFile $dir/logs/httpd.pid\n"
        . "DefaultRuntimeDir $dir/logs\n"
        . "Define APACHE_LOG_DIR $dir/logs\n"
        . "# $b->{file} line $b->{line}\n"
        . $text;
}

# --- the checks ---------------------------------------------------------

plan tests => 1 + @blocks;

# a change of convention must not turn this test into a no-op
ok(scalar(grep { !$_->{skip} } @blocks) >= 20,
   scalar(@blocks) . ' apache blocks found in README and docs/*.md');

for my $b (@blocks) {
    my $name = "$b->{file} line $b->{line}";
    SKIP: {
        skip "$name: $b->{skip}", 1 if $b->{skip};
        if ($b->{unclosed}) {
            fail("$name: the fence is not closed");
            next;
        }
        if ($b->{with} && !$with{$b->{with}}) {
            fail("$name: unknown marker 'checked with: $b->{with}'");
            next;
        }
        my $conf = "$dir/httpd.conf";
        open my $fh, '>', $conf or die $!;
        print $fh wrap($b);
        close $fh;
        my $out = `$httpd -t -d $dir -f $conf 2>&1`;
        my $rc = $? >> 8;
        ok($rc == 0 && $out =~ /Syntax OK/, "$name: httpd -t")
            or diag("httpd -t exit $rc:\n$out");
    }
}
