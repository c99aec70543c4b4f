# Last: the server's error log has no crash, no sanitizer report and no
# mod_rproxy warning or error outside the ones the suite provokes on purpose.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(plan ok);
use Apache::TestUtil qw(t_cmp);

plan tests => 3;

# tags the fault tests trigger deliberately
my %expected = map { $_ => 1 } qw(
    RP00020 RP00021 RP00030 RP00031 RP00032 RP00040 RP00041 RP00043 RP00044
    RP00045 RP00051 RP00060 RP00071 RP00090 RP00091 RP00103 RP00122
    RP00151 RP00200 RP00201 RP00230 RP00275
);

# httpd's parent logs a child's crash (AH00052) only when it reaps the
# child, in its once-a-second maintenance: give it that time.
select undef, undef, undef, 1.5;

my $log = Apache::Test::vars('t_logs') . '/error_log';
open my $fh, '<', $log or die "$log: $!";
my (@crash, @untagged, @unexpected);
while (my $line = <$fh>) {
    push @crash, $line
        if $line =~ /Segmentation fault|exit signal|AddressSanitizer|runtime error:|
                     LeakSanitizer|pool concurrency check|double free|Assertion .* failed/x;
    next unless $line =~ /\[rproxy:(warn|error|crit|alert|emerg)\]/;
    my ($tag) = $line =~ /\b(RP\d{5}):/;
    if (!$tag) { push @untagged, $line }
    elsif (!$expected{$tag}) { push @unexpected, $line }
}
print "# $_" for @crash, @untagged, @unexpected;
ok t_cmp(scalar @crash, 0, 'no crash or sanitizer report');
ok t_cmp(scalar @untagged, 0, 'every mod_rproxy warning/error carries a tag');
ok t_cmp(scalar @unexpected, 0, 'no unexpected mod_rproxy warning/error');
