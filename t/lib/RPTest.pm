package RPTest;
# Helpers for the mod_rproxy suite: parsing what the echo backend saw,
# raw HTTP exchanges, small misbehaving backends started by a test, the
# status page and the error_log, and httpd -t on a configuration of its own.
use strict;
use warnings;
use Exporter 'import';
use IO::Socket::INET;
use Apache::Test ();
use Apache::TestRequest ();
use JSON::PP ();
use Time::HiRes ();
use IO::Select;
use Scalar::Util qw(blessed);

our @EXPORT_OK = qw(echo_parse raw_http proxy_port evil_start evil_stop
                    unavailable_member
                    read_response pattern_chunk read_request evil_log
                    proxy_socket evil_respond hold_request held_backend
                    pool_inflight hold_picked read_n read_request_head
                    read_request_body respond read_until write_all
                    evil_lines backends status_json status_pool
                    status_members status_member error_log_size
                    error_log_since httpd_config_test next_generation);

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

# Reads from $s (a plain or an IO::Socket::SSL socket) until $done->($got)
# is true, EOF, or $secs pass. Returns (bytes, eof seen).
sub read_until {
    my ($s, $secs, $done) = @_;
    my ($got, $eof) = ('', 0);
    my $sel = IO::Select->new($s);
    my $until = Time::HiRes::time() + $secs;
    while (!$done->($got)) {
        my $left = $until - Time::HiRes::time();
        last if $left <= 0;
        # TLS may hold decrypted bytes that select() cannot see
        my $pending = blessed($s) && $s->can('pending') ? $s->pending : 0;
        last unless $pending || $sel->can_read($left);
        my $n = sysread($s, $got, 65536, length $got);
        if (!$n) { $eof = 1; last }
    }
    return ($got, $eof);
}

# Writes all of $data to $s (syswrite may take a part at a time).
sub write_all {
    my ($s, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($s, $data, length($data) - $off, $off);
        die "write: $!" unless defined $n;
        $off += $n;
    }
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
    my $n = 0;
    $n += $_->{inflight} for status_members($pool);
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
# test can see how many the proxy opened. unix => PATH listens on a Unix
# socket instead (made reachable for httpd's children, which run as
# another user); addr => IP listens on that loopback address instead of
# 127.0.0.1.
# A scripted member on $port that answers every request with 503 and
# "busy PORT", logging "req METHOD TARGET" (48b, 48c).
sub unavailable_member {
    my ($port) = @_;
    return evil_start(sub {
        my ($c, $n, $log) = @_;
        while (my ($m, $t) = read_request($c)) {
            evil_log($log, "req $m $t");
            respond($c, '503 Busy', "busy $port\n");
        }
    }, port => $port);
}

sub evil_start {
    my ($handler, %opt) = @_;
    my $port = $opt{port} || Apache::Test::vars('ext_backend_port');
    my $srv;
    if ($opt{unix}) {
        require IO::Socket::UNIX;
        unlink $opt{unix};
        $srv = IO::Socket::UNIX->new(Local => $opt{unix}, Listen => 64);
        chmod 0777, $opt{unix} if $srv;
        ($port = $opt{unix}) =~ s{.*/}{};
    }
    else {
        $srv = $opt{tiny_window} ? tiny_window_listener($port)
            : IO::Socket::INET->new(LocalAddr => $opt{addr} || '127.0.0.1',
                                    LocalPort => $port, Listen => 64,
                                    ReuseAddr => 1);
    }
    die "listen on $port: $!" unless $srv;
    my $log = Apache::Test::vars('t_logs') . "/evil."
        . ($opt{addr} ? "$opt{addr}." : '') . "$port.log";
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

# What a logging member wrote with evil_log(), without the "conn N" line
# evil_start() writes for each connection.
sub evil_lines {
    my ($log) = @_;
    return grep { !/^conn / } evil_log($log);
}

# The echo backend's size= pattern.
sub pattern_chunk {
    my ($len) = @_;
    my $p = join '', '0'..'9', 'a'..'z', 'A'..'Z', '+', '/';
    return substr($p x (int($len / 64) + 1), 0, $len);
}

# ---- balancer tests ------------------------------------------------------

# The member (its X-Backend name) that answered each of $n GETs of
# "$url?count=1", in order; "-" where none did.
sub backends {
    my ($url, $n) = @_;
    return map {
        Apache::TestRequest::GET("$url?count=1")->header('X-Backend') // '-'
    } 1 .. $n;
}

# ---- the status page -----------------------------------------------------

# /rproxy-status?json, decoded; undef if it did not answer 200 (while the
# server restarts, say).
sub status_json {
    my ($url) = @_;
    my $res = Apache::TestRequest::GET(($url // '/rproxy-status') . '?json');
    return $res->code == 200 ? JSON::PP::decode_json($res->content) : undef;
}

# After a restart signal: waits (up to 10 s) until the status page at $url
# (default /rproxy-status) answers from a generation after $gen; returns
# the new generation, or $gen when none came.
sub next_generation {
    my ($gen, $url) = @_;
    for (1 .. 100) {
        select(undef, undef, undef, 0.1);
        my $j = status_json($url) or next;
        return $j->{generation} if $j->{generation} > $gen;
    }
    return $gen;
}

# One pool as the status page shows it (name, balancer, queued, members);
# undef if the page or the pool is missing.
sub status_pool {
    my ($pool) = @_;
    my $j = status_json() or return undef;
    my ($p) = grep { $_->{name} eq $pool } @{ $j->{pools} };
    return $p;
}

# A pool's members as the status page shows them, in configuration order.
sub status_members {
    my ($pool) = @_;
    my $p = status_pool($pool) or return ();
    return @{ $p->{members} };
}

# A pool's member $i (0, the first, by default) as the status page shows it.
sub status_member {
    my ($pool, $i) = @_;
    return (status_members($pool))[$i // 0];
}

# ---- the test server's error_log -----------------------------------------

sub error_log_path { return Apache::Test::vars('t_logs') . '/error_log' }

# Its size now: where what a test provokes will start.
sub error_log_size { return -s error_log_path() || 0 }

# What it got from offset $from (an error_log_size()) on; '' if nothing.
sub error_log_since {
    my ($from) = @_;
    open my $fh, '<', error_log_path() or return '';
    seek $fh, $from, 0;
    local $/;
    return <$fh> // '';
}

# ---- httpd -t on a configuration of a test's own -------------------------

# Writes $dir/httpd.conf (the MPM, authz_core, a ServerName, then $body)
# and runs httpd -t on it: (exit status, output).
sub httpd_config_test {
    my ($dir, $body) = @_;
    my $mods = '/usr/lib/apache2/modules';
    open my $fh, '>', "$dir/httpd.conf" or die $!;
    print $fh "LoadModule mpm_event_module $mods/mod_mpm_event.so\n",
              "LoadModule authz_core_module $mods/mod_authz_core.so\n",
              "ServerName localhost\n", $body;
    close $fh;
    my $httpd = Apache::Test::vars('httpd');
    my $out = `$httpd -t -d $dir -f $dir/httpd.conf 2>&1`;
    return ($? >> 8, $out);
}

1;
