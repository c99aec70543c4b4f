#!/usr/bin/perl
# Samples the resident memory of the children of one httpd parent process.
#   rss-peak.pl PARENT_PID [INTERVAL_SECONDS]
# Every interval it sums VmRSS over the parent's current children and keeps
# the highest sum; on SIGTERM/SIGINT it prints
#   peak_rss_kb=N samples=N children=PID,PID...
# (children = every child seen, so a crashed and respawned child shows up).
use strict;
use warnings;
use Time::HiRes qw(sleep);

my ($parent, $interval) = @ARGV;
die "usage: $0 PARENT_PID [INTERVAL]\n" unless $parent && $parent =~ /^\d+$/;
$interval ||= 0.05;

sub children {
    my @kids;
    opendir(my $d, '/proc') or die "/proc: $!\n";
    for my $pid (grep { /^\d+$/ } readdir $d) {
        open(my $f, '<', "/proc/$pid/stat") or next;
        my $stat = <$f> // next;
        # pid (comm) state ppid ... ; comm may contain spaces and parens
        push @kids, $pid if $stat =~ /\)\s+\S+\s+(\d+)/ && $1 == $parent;
    }
    return @kids;
}

sub rss_kb {
    my ($pid) = @_;
    open(my $f, '<', "/proc/$pid/status") or return 0;
    while (<$f>) { return $1 if /^VmRSS:\s+(\d+)/ }
    return 0;
}

my ($stop, $peak, $samples, %seen) = (0, 0, 0);
$SIG{TERM} = $SIG{INT} = sub { $stop = 1 };
until ($stop) {
    my $sum = 0;
    for my $pid (children()) {
        $seen{$pid} = 1;
        $sum += rss_kb($pid);
    }
    $peak = $sum if $sum > $peak;
    $samples++;
    sleep($interval) unless $stop;
}
printf "peak_rss_kb=%d samples=%d children=%s\n", $peak, $samples,
    join(',', sort { $a <=> $b } keys %seen);
