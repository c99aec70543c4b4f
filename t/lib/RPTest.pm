package RPTest;
# Helpers for the mod_rproxy suite: parsing what the echo backend saw,
# raw HTTP exchanges, and small misbehaving backends started by a test.
use strict;
use warnings;
use Exporter 'import';
use IO::Socket::INET;
use Apache::Test ();
use Apache::TestRequest ();
use JSON::PP ();
use Time::HiRes ();
use IO::Select;

our @EXPORT_OK = qw(echo_parse raw_http proxy_port evil_start evil_stop
                    read_response pattern_chunk read_request evil_log
                    proxy_socket evil_respond hold_request held_backend
                    pool_inflight hold_picked read_n read_request_head
                    read_request_body respond read_until);

# The echo backend answers "key=value" lines and "h:Name: value" lines.
sub echo_parse {
    my ($body) = @_;
    my %e = (headers => [], h => {});
    for my $line (split /\n/, $body // '') {
        if ($line =~ /^h:([^:]+): ?(.*)$/) {
            push @{ $e{headers} }, [$1, $2];
            push @{ $e{h}{lc $1} }, $2;
        }
        elsif ($line =~ /^([a-z0-9-]+)=(.*)$/) {
            $e{$1} = $2;
        }
    }
    return \%e;
}

sub proxy_port {
    my $cfg = Apache::Test::config();
    return $cfg->{vars}{port};
}

# Reads one HTTP/1.1 response from a socket: (status, headers hash with
# lowercased names and arrays of values, body, raw head).
sub read_response {
    my ($sock, $head_only) = @_;
    my $head = '';
    while ($head !~ /\r\n\r\n/) {
        my $n = sysread($sock, my $buf, 1);
        return unless $n;
        $head .= $buf;
    }
    my ($status_line, @lines) = split /\r\n/, $head;
    my ($status) = $status_line =~ m{^HTTP/1\.\d (\d{3})};
    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        push @{ $h{lc $k} }, $v;
    }
    my $body = '';
    if ($head_only || $status =~ /^(1..|204|304)$/) {
        return ($status, \%h, $body, $head);
    }
    if (my $cl = $h{'content-length'}) {
        my $want = $cl->[0];
        while (length($body) < $want) {
            my $n = sysread($sock, my $buf, $want - length $body) or last;
            $body .= $buf;
        }
    }
    elsif (($h{'transfer-encoding'}[0] // '') =~ /chunked/i) {
        while (1) {
            my $line = '';
            while ($line !~ /\r\n$/) {
                sysread($sock, my $c, 1) or return ($status, \%h, $body, $head);
                $line .= $c;
            }
            my ($hex) = $line =~ /^([0-9a-fA-F]+)/;
            my $size = hex($hex // '0');
            last if $size == 0;
            my $chunk = '';
            while (length($chunk) < $size + 2) {
                sysread($sock, my $buf, $size + 2 - length $chunk) or last;
                $chunk .= $buf;
            }
            $body .= substr($chunk, 0, $size);
        }
        my $trailer = '';
        while ($trailer !~ /\r\n$/) {
            sysread($sock, my $c, 1) or last;
            $trailer .= $c;
        }
    }
    else {
        while (sysread($sock, my $buf, 65536)) { $body .= $buf }
    }
    return ($status, \%h, $body, $head);
}

# Reads from $s until $done->($got) is true, EOF, or $secs pass.
# Returns (bytes, eof seen).
sub read_until {
    my ($s, $secs, $done) = @_;
    my ($got, $eof) = ('', 0);
    my $sel = IO::Select->new($s);
    my $until = Time::HiRes::time() + $secs;
    while (!$done->($got)) {
        my $left = $until - Time::HiRes::time();
        last if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($s, $got, 65536, length $got);
        if (!$n) { $eof = 1; last }
    }
    return ($got, $eof);
}

# A raw connection to the proxy (or to another port of the test server).
sub proxy_socket {
    my (%opt) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $opt{port} || proxy_port(),
                                  Timeout => 10) or die "connect: $!";
    binmode $s;
    return $s;
}

# Balancer tests: sends a request through the proxy and returns its socket
# without waiting for the answer, so that (with ?sleep=MS) the member that
# got it stays busy until held_backend() collects the response.
sub hold_request {
    my ($path) = @_;
    my $s = proxy_socket();
    print $s "GET $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    return $s;
}

# Requests in flight to a pool's members, across all children, as the
# status page shows them.
sub pool_inflight {
    my ($pool) = @_;
    my $res = Apache::TestRequest::GET('/rproxy-status?json');
    my $j = JSON::PP::decode_json($res->content);
    my ($p) = grep { $_->{name} eq $pool } @{ $j->{pools} };
    my $n = 0;
    $n += $_->{inflight} for @{ $p->{members} };
    return $n;
}

# hold_request(), then wait until the proxy has picked a member for it
# (the pool counts one more in flight). A fixed pause is not enough: under
# prefork a new connection can wait a second or more for a free child
# (idle keep-alive connections from the proxy hold backend children), and
# would be picked after requests sent later.
sub hold_picked {
    my ($path, $pool) = @_;
    my $before = pool_inflight($pool);
    my $s = hold_request($path);
    my $t0 = Time::HiRes::time();
    Time::HiRes::sleep(0.02)
        while pool_inflight($pool) <= $before
              && Time::HiRes::time() - $t0 < 10;
    return $s;
}

# The backend that answered a held request ("status N" if it failed).
sub held_backend {
    my ($s) = @_;
    my ($status, $h) = read_response($s);
    close $s;
    return "status " . ($status // 'none') unless ($status // 0) == 200;
    return $h->{'x-backend'}[0] // '-';
}

# For misbehaving backends: one well-formed response with a sized body.
sub evil_respond {
    my ($sock, $body, @headers) = @_;
    print $sock "HTTP/1.1 200 OK\r\n", map({ "$_\r\n" } @headers),
                "Content-Length: ", length($body), "\r\n\r\n", $body;
}

# Sends raw bytes to the proxy, returns the socket and the first response.
sub raw_http {
    my ($request, %opt) = @_;
    my $sock = proxy_socket(%opt);
    print $sock $request;
    my @r = read_response($sock, $opt{head_only});
    return ($sock, @r);
}

# A small backend that misbehaves as told. $handler->($client, $conn_no)
# serves one accepted connection. Connections are counted in a file so the
# test can see how many the proxy opened.
sub evil_start {
    my ($handler, %opt) = @_;
    my $port = $opt{port} || Apache::Test::vars('ext_backend_port');
    my $srv = $opt{tiny_window} ? tiny_window_listener($port)
        : IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                LocalPort => $port, Listen => 64,
                                ReuseAddr => 1);
    die "listen on $port: $!" unless $srv;
    my $log = Apache::Test::vars('t_logs') . "/evil.$port.log";
    unlink $log;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        # its own process group: evil_stop ends it and every connection it
        # forked in one kill, by the acceptor's PID
        setpgrp(0, 0);
        local $SIG{CHLD} = 'IGNORE';
        my $n = 0;
        while (1) {
            my $c = $srv->accept or next;
            $n++;
            open my $fh, '>>', $log; print $fh "conn $n\n"; close $fh;
            my $kid = fork;
            if (defined $kid && !$kid) {
                close $srv;     # only the acceptor holds the port
                $handler->($c, $n, $log);
                close $c;
                exit 0;
            }
            close $c;
        }
        exit 0;
    }
    close $srv;
    return { pid => $pid, log => $log };
}

# A listener whose connections take little at a time: the smallest
# segment size and receive buffer, so that a peer's write of some tens of
# KiB blocks in the kernel instead of being taken whole (loopback's send
# buffers are otherwise larger than any request we prefetch).
sub tiny_window_listener {
    my ($port) = @_;
    require Socket;
    my $srv = IO::Socket::INET->new(Proto => 'tcp') or return;
    setsockopt($srv, Socket::IPPROTO_TCP(), Socket::TCP_MAXSEG(), 88) or return;
    setsockopt($srv, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 1) or return;
    setsockopt($srv, Socket::SOL_SOCKET(), Socket::SO_REUSEADDR(), 1);
    bind($srv, Socket::pack_sockaddr_in($port, Socket::inet_aton('127.0.0.1')))
        or return;
    listen($srv, 64) or return;
    return $srv;
}

sub evil_stop {
    my ($e) = @_;
    kill 'KILL', -$e->{pid};
    waitpid $e->{pid}, 0;
}

# For misbehaving and logging members: reading requests off a socket.
# Up to $n bytes (fewer when the peer closes).
sub read_n {
    my ($c, $n) = @_;
    my $d = '';
    while (length($d) < $n) {
        my $got = sysread($c, my $b, $n - length $d);
        last unless $got;
        $d .= $b;
    }
    return $d;
}

sub read_crlf_line {
    my ($c) = @_;
    my $line = '';
    while ($line !~ /\r\n\z/) {
        sysread($c, my $b, 1) or return;
        $line .= $b;
    }
    return $line;
}

# One request head: (method, target, \%headers with lowercased names,
# repeated ones joined with ", ", raw head), or () at EOF.
sub read_request_head {
    my ($c) = @_;
    my $head = '';
    while ($head !~ /\r\n\r\n\z/) {
        my $n = sysread($c, my $b, 1);
        return unless $n;
        $head .= $b;
    }
    my ($line, @lines) = split /\r\n/, $head;
    my ($m, $t) = split / /, $line;
    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $h{lc $k} = exists $h{lc $k} ? "$h{lc $k}, $v" : $v;
    }
    return ($m, $t, \%h, $head);
}

# The body as framed (Content-Length or chunked, trailers skipped):
# (body, 1 if it arrived whole).
sub read_request_body {
    my ($c, $h) = @_;
    if (($h->{'transfer-encoding'} // '') =~ /chunked/i) {
        my $body = '';
        while (1) {
            my $line = read_crlf_line($c) // return ($body, 0);
            my $size = hex(($line =~ /^([0-9a-fA-F]+)/)[0] // 0);
            if (!$size) {
                while (1) {
                    my $t = read_crlf_line($c) // return ($body, 0);
                    last if $t eq "\r\n";
                }
                return ($body, 1);
            }
            my $d = read_n($c, $size);
            $body .= $d;
            return ($body, 0) if length($d) < $size;
            return ($body, 0) if read_n($c, 2) ne "\r\n";
        }
    }
    my $len = $h->{'content-length'} // 0;
    my $body = read_n($c, $len);
    return ($body, length($body) == $len);
}

# One request, head and body: (method, target, headers, body) or ().
sub read_request {
    my ($sock) = @_;
    my ($method, $target, $h) = read_request_head($sock) or return;
    my ($body) = read_request_body($sock, $h);
    return ($method, $target, $h, $body);
}

# A response with a sized body.
sub respond {
    my ($c, $status, $body, @h) = @_;
    print $c "HTTP/1.1 $status\r\n", map({ "$_\r\n" } @h),
             "Content-Length: ", length($body), "\r\n\r\n", $body;
}

# Appends a line to the misbehaving backend's log / reads it back.
sub evil_log {
    my ($log, $line) = @_;
    if (defined $line) {
        open my $fh, '>>', $log or die; print $fh "$line\n"; close $fh;
        return;
    }
    open my $fh, '<', $log or return ();
    chomp(my @l = <$fh>);
    return @l;
}

# The echo backend's size= pattern.
sub pattern_chunk {
    my ($len) = @_;
    my $p = join '', '0'..'9', 'a'..'z', 'A'..'Z', '+', '/';
    return substr($p x (int($len / 64) + 1), 0, $len);
}

1;
