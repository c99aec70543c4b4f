#!/usr/bin/perl
# Origin-side upload sink for bench/run.sh (run by the origin httpd as CGI).
# Reads the whole request body, at most RATE bytes/s when the query string
# says rate=RATE (a slow origin, so the proxy in front must hold the client
# back instead of buffering), and answers with the number of bytes it got.
use strict;
use warnings;
use Time::HiRes qw(time sleep);

binmode STDIN;
my ($rate) = ($ENV{QUERY_STRING} // '') =~ /\brate=(\d+)/;
my ($n, $buf, $t0) = (0, '', time);
while (1) {
    my $got = sysread(STDIN, $buf, 65536);
    die "sink.cgi: read: $!\n" unless defined $got;
    last if $got == 0;
    $n += $got;
    if ($rate) {
        my $ahead = $n / $rate - (time - $t0);
        sleep($ahead) if $ahead > 0;
    }
}
my $cl = $ENV{CONTENT_LENGTH} // '-';
print "Content-Type: text/plain\r\n\r\nreceived $n content-length $cl\n";
