package RPWire;
# A "wire-logging" member for the invariant tests (80_invariant.t) and the
# request-level fuzzer (tools/fuzz_proxy.pl).
#
# The member parses what the proxy sends strictly per RFC 9112 and logs,
# one JSON line per record, every request it parsed on every connection,
# with the exact raw bytes (base64), so that a test can compare what the
# member saw, byte for byte, with what a correct proxy must send. Bytes it
# cannot parse and bytes left over at a close are logged too: a smuggled
# or cut request cannot hide.
#
# Its answers are scripted per request by the X-Script request header (the
# proxy passes it on as an end-to-end header): comma-separated key=value
# pairs, see parse_script() in RPWireMember.pm. Every answer's body starts
# with "rid=<X-Id of the request>" so that a client can tell whose answer it
# got.
#
# Records (field "t"):
#   conn    {c}                         connection c accepted
#   req     {c,i,raw,m,u,v,h,body,tr}   request i on connection c parsed;
#                                       raw/body base64; h/tr [[name,value]]
#                                       unread=1: body left unread (early
#                                       answer, then close)
#   junk    {c,raw}                     empty lines before a request line
#   bad     {c,i,raw,why}               unparseable bytes (answered 400, closed)
#   partial {c,i,raw,why}               an incomplete request at EOF/drain
#   disc    {c,raw}                     bytes discarded in a lingering close
#                                       after "Connection: close" (not parsed)
#   resp    {c,i,head}                  the status line/framing answered
#   close   {c,how}                     the connection ended
#
# The member is a forked acceptor in its own process group that forks one
# process per connection (the evil_start() pattern of RPTest.pm); stop()
# ends all of them by the acceptor's PID. drain() makes every connection
# process close (logging what it holds) and waits until the log says so.
#
# This module is what tests use: the member's start, stop, drain and log,
# and the client side (a connection to the proxy reading responses
# strictly). What a member connection process does, parsing and answering,
# is in RPWireMember.pm; parse_script() and wire_body() come from there
# and are exported from here as well.
use strict;
use warnings;
use Exporter 'import';
use IO::Socket::INET;
use IO::Select;
use JSON::PP ();
use MIME::Base64 qw(decode_base64);
use Time::HiRes ();
use POSIX ();
use RPWireMember qw(parse_script wire_body);

our @EXPORT_OK = qw(wire_start wire_stop wire_drain wire_records wire_mark
                    wire_body client_connect client_read_response
                    client_read_responses parse_script client_closes);

my $JSON = JSON::PP->new->canonical;

# ---------------------------------------------------------------- member --

# Starts the member on $opt{port}, logging to $opt{log}. Listens before it
# forks: no startup race.
sub wire_start {
    my (%opt) = @_;
    my $port = $opt{port} or die "wire_start: port";
    my $log = $opt{log} or die "wire_start: log";
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                    LocalPort => $port, Listen => 128,
                                    ReuseAddr => 1)
        or die "listen on $port: $!";
    unlink $log;
    open my $touch, '>', $log or die "$log: $!"; close $touch;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        setpgrp(0, 0);
        $SIG{CHLD} = 'IGNORE';
        $SIG{USR1} = 'IGNORE';      # drain() is for the connections
        $SIG{TERM} = 'DEFAULT';
        my $n = 0;
        while (1) {
            my $c = $srv->accept or next;
            $n++;
            RPWireMember::logrec($log, { t => 'conn', c => $n });
            my $kid = fork;
            if (defined $kid && !$kid) {
                close $srv;
                RPWireMember::serve($c, $n, $log, \%opt);
                POSIX::_exit(0);
            }
            close $c;
        }
    }
    close $srv;
    return { pid => $pid, log => $log, port => $port };
}

sub wire_stop {
    my ($w) = @_;
    return unless $w && $w->{pid};
    kill 'KILL', -$w->{pid};
    waitpid $w->{pid}, 0;
    $w->{pid} = 0;
}

# The log's current size: records after this mark belong to what follows.
sub wire_mark { my ($w) = @_; return -s $w->{log} || 0 }

# All records from byte offset $from on, raw fields decoded.
sub wire_records {
    my ($w, $from) = @_;
    open my $fh, '<', $w->{log} or return ();
    binmode $fh;
    seek $fh, $from // 0, 0;
    my @r;
    while (my $line = <$fh>) {
        next unless $line =~ /\n\z/;      # a record still being written
        my $rec = eval { $JSON->decode($line) } or next;
        for my $k (qw(raw body)) {
            $rec->{$k} = decode_base64($rec->{$k}) if defined $rec->{$k};
        }
        push @r, $rec;
    }
    return @r;
}

# Makes every open connection of the member close (each logs the bytes it
# holds first) and waits until the log shows a close for every connection
# accepted. Returns 1, or 0 on timeout.
sub wire_drain {
    my ($w, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout || 10);
    $w->{open} //= {};
    $w->{scanned} //= 0;
    while (1) {
        # only the new lines, and only their type and connection: the log
        # holds whole bodies
        if (open my $fh, '<', $w->{log}) {
            seek $fh, $w->{scanned}, 0;
            while (my $line = <$fh>) {
                last unless $line =~ /\n\z/;
                $w->{scanned} += length $line;
                my ($c) = $line =~ /"c":"?(\d+)/ or next;
                $w->{open}{$c} = 1 if $line =~ /"t":"conn"/;
                delete $w->{open}{$c} if $line =~ /"t":"close"/;
            }
        }
        return 1 unless %{ $w->{open} };
        return 0 if Time::HiRes::time() > $deadline;
        kill 'USR1', -$w->{pid};
        Time::HiRes::sleep(0.02);
    }
}

# ---------------------------------------------------------------- client --

# A client connection to the proxy: a socket plus a read buffer.
sub client_connect {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 5) or die "connect $port: $!";
    binmode $s;
    return { sock => $s, buf => '', eof => 0 };
}

sub cfill {
    my ($cl, $deadline) = @_;
    return 0 if $cl->{eof};
    my $sel = IO::Select->new($cl->{sock});
    while (1) {
        my $left = $deadline - Time::HiRes::time();
        return 0 if $left <= 0;
        next unless $sel->can_read($left > 0.5 ? 0.5 : $left);
        my $n = sysread($cl->{sock}, my $d, 65536);
        if (!$n) { $cl->{eof} = 1; return 0 }
        $cl->{buf} .= $d;
        return 1;
    }
}

sub cline {
    my ($cl, $deadline) = @_;
    while (1) {
        my $i = index $cl->{buf}, "\r\n";
        return substr($cl->{buf}, 0, $i + 2, '') =~ s/\r\n\z//r if $i >= 0;
        return undef unless cfill($cl, $deadline);
    }
}

sub cbytes {
    my ($cl, $n, $deadline) = @_;
    while (length $cl->{buf} < $n) {
        return undef unless cfill($cl, $deadline);
    }
    return substr $cl->{buf}, 0, $n, '';
}

# Reads one response (1xx ones are collected into {interim}) to a request
# of $method: {status, h => {lc name => [values]}, body, trailers,
# interim => [statuses], framing, error}. undef if nothing came. With
# $one, a 1xx is returned as it is (for a client waiting for 100 Continue).
sub client_read_response {
    my ($cl, $method, $timeout, $one) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // 5);
    my @interim;
    while (1) {
        my $sl = cline($cl, $deadline);
        return @interim ? { interim => \@interim, error => 'eof after 1xx' }
                        : undef unless defined $sl;
        my ($v, $status) = $sl =~ m{^(HTTP/\d\.\d) (\d{3})}
            or return { error => "bad status line: $sl", interim => \@interim };
        my %h;
        while (1) {
            my $l = cline($cl, $deadline);
            return { status => $status, error => 'eof in head',
                     interim => \@interim } unless defined $l;
            last if $l eq '';
            my ($k, $val) = $l =~ /^([^:]+):[ \t]*(.*?)[ \t]*\z/ or next;
            push @{ $h{lc $k} }, $val;
        }
        if ($status =~ /^1/ && $status != 101) {
            return { status => $status, h => \%h, body => '',
                     interim => \@interim, framing => 'none' } if $one;
            push @interim, $status;
            next;
        }
        my $res = { status => $status, v => $v, h => \%h, body => '',
                    interim => \@interim, trailers => {} };
        if ($method eq 'HEAD' || $status =~ /^(1..|204|304)\z/) {
            $res->{framing} = 'none';
        }
        elsif (($h{'transfer-encoding'}[-1] // '') =~ /chunked/i) {
            $res->{framing} = 'chunked';
            while (1) {
                my $l = cline($cl, $deadline);
                if (!defined $l) { $res->{error} = 'eof in chunked body'; last }
                my ($hex) = $l =~ /^([0-9a-fA-F]+)/;
                if (!defined $hex) { $res->{error} = "bad chunk line"; last }
                my $size = hex $hex;
                if ($size == 0) {
                    while (1) {
                        my $t = cline($cl, $deadline);
                        if (!defined $t) { $res->{error} = 'eof in trailers'; last }
                        last if $t eq '';
                        my ($k, $val) = $t =~ /^([^:]+):[ \t]*(.*)$/ or next;
                        $res->{trailers}{lc $k} = $val;
                    }
                    last;
                }
                my $d = cbytes($cl, $size + 2, $deadline);
                if (!defined $d) {
                    $res->{body} .= $cl->{buf};
                    $cl->{buf} = '';
                    $res->{error} = 'eof in chunk';
                    last;
                }
                $res->{body} .= substr $d, 0, $size;
            }
        }
        elsif (defined $h{'content-length'}) {
            $res->{framing} = 'length';
            my $d = cbytes($cl, $h{'content-length'}[0], $deadline);
            if (defined $d) { $res->{body} = $d }
            else {
                $res->{body} = $cl->{buf}; $cl->{buf} = '';
                $res->{error} = 'eof in sized body';
            }
        }
        else {
            $res->{framing} = 'close';
            1 while cfill($cl, $deadline);
            $res->{error} = 'no EOF' unless $cl->{eof};
            $res->{body} = $cl->{buf};
            $cl->{buf} = '';
        }
        return $res;
    }
}

# Every response on the connection for the methods in @$methods, in order,
# then what is left: (\@responses, $leftover_bytes).
sub client_read_responses {
    my ($cl, $methods, $timeout) = @_;
    my @r;
    for my $m (@$methods) {
        my $res = client_read_response($cl, $m, $timeout) // last;
        push @r, $res;
        last if $res->{error};
    }
    return (\@r, $cl->{buf});
}


# Will the client connection $cl be closed after response $res (none, an
# error, EOF seen, close-delimited, or Connection: close)?
sub client_closes {
    my ($cl, $res) = @_;
    return 1 if !$res || $res->{error} || $cl->{eof};
    return 1 if ($res->{framing} // '') eq 'close';
    return 1 if grep { /close/i } @{ $res->{h}{connection} // [] };
    return 0;
}

1;
