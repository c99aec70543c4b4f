#!/bin/bash
# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
#
# bench/zerocopy.sh - the proxy's CPU per GiB of 1 MiB responses, with
# zero-copy (splice(2)) and without (RProxyZeroCopy off), in one run.
#
# One origin httpd serves a 1 MiB static file on three ports; one
# mod_rproxy httpd (one child process) has the same pool of the three on
# two routes: /on/ (the default, bodies spliced) and /off/ (RProxyZeroCopy
# off, bodies copied). Rounds alternate on, off, on, off, ... (ROUNDS
# each); each round is N keep-alive GETs of 1 MiB on CONNS connections
# (perl clients that read and drop the body), and costs the child's user
# + system CPU time (/proc/PID/stat, before and after). The proxy is
# pinned to PROXY_CPU, the clients and the origin to LOAD_CPU. The table
# gives the median per route, in CPU seconds per GiB of body, and the
# ratio on/off; the status page's spliced/copied counters after the run
# show that each route took the path it should.
#
#   bench/zerocopy.sh                  # N=1024 (1 GiB) per round, ROUNDS=5
#   N=256 ROUNDS=3 bench/zerocopy.sh   # a quick look
#   MPM=worker BUILD=0 bench/zerocopy.sh
#   STRACE=50 ...                      # and the system calls per request
#   UPLOAD_MB=64 ...                   # and 1 GiB uploads per round, in
#                                      # POSTs of 64 MiB
# Output: a table on stdout and in bench/results/zerocopy/summary.txt.
set -euo pipefail

N=${N:-1024}
ROUNDS=${ROUNDS:-5}
CONNS=${CONNS:-2}
MPM=${MPM:-event}
BUILD=${BUILD:-1}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
HTTPD=${HTTPD:-/usr/sbin/apache2}
MODDIR=${MODDIR:-/usr/lib/apache2/modules}

BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/lib.sh"
TOP=$(dirname "$BENCH")
R=$BENCH/results/zerocopy
MODSO=$TOP/.libs/mod_rproxy.so
PIDS=()

die() { echo "bench: $*" >&2; exit 1; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ ${#PIDS[@]} -gt 0 ] && httpd_stop "${PIDS[@]}"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

if [ "$BUILD" = 1 ]; then
    make -C "$TOP" -f Makefile.apxs >/dev/null || die "build failed"
fi
[ -f "$MODSO" ] || die "no $MODSO"
PIN_PROXY=(); PIN_LOAD=()
if command -v taskset >/dev/null; then
    PIN_PROXY=(taskset -c "$PROXY_CPU"); PIN_LOAD=(taskset -c "$LOAD_CPU")
fi

rm -rf "$R"
mkdir -p "$R/conf" "$R/logs" "$R/run" "$R/docroot"
head -c $((1024 * 1024)) /dev/urandom >"$R/docroot/1m.bin"
read -r P1 P2 P3 PA <<<"$(free_ports 4)"

conf_common() {   # NAME MPM
    cat <<EOC
ServerRoot "$R"
ServerName 127.0.0.1
DefaultRuntimeDir "$R/run/$1"
PidFile "$R/run/$1.pid"
ErrorLog "$R/logs/$1_error.log"
LogLevel warn
LoadModule mpm_$2_module "$MODDIR/mod_mpm_$2.so"
LoadModule authz_core_module "$MODDIR/mod_authz_core.so"
LoadModule authz_host_module "$MODDIR/mod_authz_host.so"
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
<Directory />
    Require all denied
</Directory>
EOC
    httpd_user_lines
    mkdir -p "$R/run/$1"
}

mkdir -p "$R/cgi-bin" "$R/run/origin"
cp "$BENCH/sink.cgi" "$R/cgi-bin/sink.cgi"
{
    conf_common origin event
    echo "DocumentRoot \"$R/docroot\""
    echo "<Directory \"$R/docroot\">"
    echo "    Require all granted"
    echo "</Directory>"
    # UPLOAD_MB: request bodies go to a CGI that reads and counts them
    echo "LoadModule alias_module \"$MODDIR/mod_alias.so\""
    echo "LoadModule cgid_module \"$MODDIR/mod_cgid.so\""
    echo "ScriptSock \"$R/run/origin/cgid.sock\""
    echo "ScriptAlias /upload \"$R/cgi-bin/sink.cgi\""
    echo "<Directory \"$R/cgi-bin\">"
    echo "    Require all granted"
    echo "</Directory>"
    for p in $P1 $P2 $P3; do echo "Listen 127.0.0.1:$p"; done
} >"$R/conf/origin.conf"
{
    conf_common rproxy "$MPM"
    if [ "$MPM" = prefork ]; then
        echo "StartServers 1"; echo "MinSpareServers 1"
        echo "MaxSpareServers 1"; echo "ServerLimit 1"
        echo "MaxRequestWorkers 1"
        CONNS=1
    else
        echo "StartServers 1"; echo "ServerLimit 1"; echo "ThreadLimit 8"
        echo "ThreadsPerChild 8"; echo "MaxRequestWorkers 8"
        echo "MinSpareThreads 1"; echo "MaxSpareThreads 8"
    fi
    echo "MaxConnectionsPerChild 0"
    cat <<EOC
LoadModule rproxy_module "$MODSO"
Listen 127.0.0.1:$PA
<RProxyPool origins>
    RProxyMember http://127.0.0.1:$P1
    RProxyMember http://127.0.0.1:$P2
    RProxyMember http://127.0.0.1:$P3
    RProxyKeepalive idle=64
</RProxyPool>
# both routes alike but for RProxyZeroCopy
<Location /on/>
    RProxyPass origins/
    Require all granted
</Location>
<Location /off/>
    RProxyPass origins/
    RProxyZeroCopy off
    Require all granted
</Location>
<Location /rproxy-status>
    SetHandler rproxy-status
    Require ip 127.0.0.1
</Location>
EOC
} >"$R/conf/rproxy.conf"

httpd_start origin "$R" "$R/conf/origin.conf" "$R/run/origin.pid" \
    "http://127.0.0.1:$P1/1m.bin" "${PIN_LOAD[@]}"
PIDS+=("$HTTPD_PID:$R/conf/origin.conf")
httpd_start rproxy "$R" "$R/conf/rproxy.conf" "$R/run/rproxy.pid" \
    "http://127.0.0.1:$PA/on/1m.bin" "${PIN_PROXY[@]}"
PIDS+=("$HTTPD_PID:$R/conf/rproxy.conf")
CHILD=$(ps -o pid= --ppid "$HTTPD_PID" | head -1 | tr -d ' ')
[ -n "$CHILD" ] || die "rproxy: no child process"

# client PATH N: N keep-alive GETs of PATH on one connection, each body
# read whole (by its Content-Length) and dropped; prints the 200s.
client() {
    "${PIN_LOAD[@]}" perl -MIO::Socket::INET -e '
        my ($port, $path, $n) = @ARGV;
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
            or die "connect: $!\n";
        my $ok = 0;
        for (1 .. $n) {
            print $s "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
            my ($head, $buf) = ("", "");
            while ($head !~ /\r\n\r\n/) {
                sysread($s, $buf, 65536) or die "closed\n"; $head .= $buf;
            }
            my ($h, $body) = split /\r\n\r\n/, $head, 2;
            my ($len) = $h =~ /Content-Length: (\d+)/i;
            my $got = length $body;
            while ($got < $len) {
                my $r = sysread($s, $buf, 262144) or die "closed\n"; $got += $r;
            }
            $ok++ if $h =~ m{^HTTP/1.1 200 };
        }
        print "$ok\n";' "$PA" "$@"
}

# upload PATH N MB: N POSTs of MB MiB each on one connection (the body
# sent from one buffer), each answer checked; prints the good ones.
upload() {
    "${PIN_LOAD[@]}" perl -MIO::Socket::INET -e '
        my ($port, $path, $n, $mb) = @ARGV;
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
            or die "connect: $!\n";
        my $len = $mb * 1048576;
        my $blk = "x" x 1048576;
        my $ok = 0;
        for (1 .. $n) {
            print $s "POST $path HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   . "Content-Length: $len\r\n\r\n";
            for (1 .. $mb) {
                my $off = 0;
                while ($off < length $blk) {
                    my $w = syswrite($s, $blk, length($blk) - $off, $off)
                        or die "write: $!\n";
                    $off += $w;
                }
            }
            my ($head, $buf) = ("", "");
            while ($head !~ /\r\n\r\n/) {
                sysread($s, $buf, 65536) or die "closed\n"; $head .= $buf;
            }
            my ($h, $body) = split /\r\n\r\n/, $head, 2;
            my ($cl) = $h =~ /Content-Length: (\d+)/i;
            # the CGI answer is chunked when it has no length
            while (defined $cl ? length($body) < $cl : $body !~ /\r\n0\r\n\r\n$/) {
                sysread($s, $buf, 65536) or die "closed\n"; $body .= $buf;
            }
            if ($body =~ /received $len /) { $ok++ } else { print STDERR "upload: $h\n$body\n" }
        }
        print "$ok\n";' "$PA" "$@"
}

# the child's user + system CPU, in clock ticks
cpu_ticks() {
    sed 's/.*) //' "/proc/$CHILD/stat" | awk '{ print $12 + $13 }'
}

# round ROUTE: prints the CPU seconds per GiB of that round
round() {
    local route=$1 before after per ok=0 i
    local -a pids=()
    per=$(( (N + CONNS - 1) / CONNS ))
    before=$(cpu_ticks)
    for i in $(seq "$CONNS"); do
        client "/$route/1m.bin" "$per" >"$R/run/client.$i" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i"; done
    after=$(cpu_ticks)
    for i in $(seq "$CONNS"); do ok=$((ok + $(cat "$R/run/client.$i"))); done
    [ "$ok" = $((per * CONNS)) ] || die "$route: $ok of $((per * CONNS)) answered 200"
    perl -e 'printf "%.3f\n", ($ARGV[1] - $ARGV[0]) / $ARGV[3] / ($ARGV[2] / 1024)' \
        "$before" "$after" $((per * CONNS)) "$(getconf CLK_TCK)"
}

client /on/1m.bin 20 >/dev/null      # warm-up: member connections open
client /off/1m.bin 20 >/dev/null
: >"$R/rounds.txt"
for r in $(seq "$ROUNDS"); do
    echo "on $(round on)" | tee -a "$R/rounds.txt"
    echo "off $(round off)" | tee -a "$R/rounds.txt"
done
# UPLOAD_MB=M: the same for request bodies, 1 GiB per round in POSTs of
# M MiB to a CGI that reads them (sized bodies: spliced past the first
# 64 KiB, there being no mod_reqtimeout here)
if [ "${UPLOAD_MB:-0}" -gt 0 ]; then
    : >"$R/uploads.txt"
    for r in $(seq "$ROUNDS"); do
        for route in on off; do
            before=$(cpu_ticks)
            n=$(( (1024 + UPLOAD_MB - 1) / UPLOAD_MB ))
            ok=$(upload "/$route/upload" "$n" "$UPLOAD_MB")
            after=$(cpu_ticks)
            [ "$ok" = "$n" ] || die "upload $route: $ok of $n"
            perl -e 'printf "%s %.3f\n", $ARGV[0], ($ARGV[2] - $ARGV[1]) / $ARGV[4] / ($ARGV[3] * $ARGV[5] / 1024)' \
                "$route" "$before" "$after" "$n" "$(getconf CLK_TCK)" "$UPLOAD_MB" \
                | tee -a "$R/uploads.txt"
        done
    done
fi
curl -s "http://127.0.0.1:$PA/rproxy-status?json" >"$R/status.json"

# STRACE=N: the system calls per request of N more requests on each route
# (strace -f -c on the child; the CPU figures above are without strace)
if [ "${STRACE:-0}" -gt 0 ] && command -v strace >/dev/null; then
    for route in on off; do
        strace -f -c -o "$R/$route.strace" -p "$CHILD" 2>/dev/null &
        sp=$!
        sleep 0.5
        client "/$route/1m.bin" "$STRACE" >/dev/null
        kill -INT "$sp"; wait "$sp" || true
        perl -ne 'BEGIN { $n = shift } next unless /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$/;
                  printf "%s %-10s %7.2f\n", $ARGV, $2, $1 / $n if $2 ne "total"' \
            "$STRACE" "$R/$route.strace" | sed "s|$R/||" | sort -k3 -rn \
            | tee -a "$R/syscalls.txt"
    done
fi

perl -MJSON::PP -e '
    my ($rounds, $status) = @ARGV;
    my %v;
    open my $fh, "<", $rounds or die; while (<$fh>) { my ($k, $x) = split; push @{ $v{$k} }, $x }
    sub med { my @s = sort { $a <=> $b } @_; return $s[$#s / 2] }
    my ($on, $off) = (med(@{ $v{on} }), med(@{ $v{off} }));
    printf "CPU s per GiB (median)  splice %.3f   copy %.3f   ratio %.2f\n", $on, $off, $off ? $on / $off : 0;
    printf "rounds: on %s | off %s\n", join(" ", @{ $v{on} }), join(" ", @{ $v{off} });
    open $fh, "<", $status or die; local $/; my $j = decode_json(<$fh>);
    my ($p) = grep { $_->{name} eq "origins" } @{ $j->{pools} };
    printf "pool body bytes: spliced %d, copied %d\n", $p->{body_bytes}{spliced}, $p->{body_bytes}{copied};
    if (open $fh, "<", $ARGV[2] and -s $ARGV[2]) {
        my %u; local $/ = "\n";
        while (<$fh>) { my ($k, $x) = split; push @{ $u{$k} }, $x }
        my ($uon, $uoff) = (med(@{ $u{on} }), med(@{ $u{off} }));
        printf "uploads: CPU s per GiB (median)  splice %.3f   copy %.3f   ratio %.2f\n", $uon, $uoff, $uoff ? $uon / $uoff : 0;
        printf "rounds: on %s | off %s\n", join(" ", @{ $u{on} }), join(" ", @{ $u{off} });
        printf "pool request bytes: spliced %d, copied %d\n", $p->{body_bytes}{request_spliced}, $p->{body_bytes}{request_copied};
    }
' "$R/rounds.txt" "$R/status.json" "$R/uploads.txt" | tee "$R/summary.txt"
echo "($N x 1 MiB per round, $ROUNDS rounds each, CONNS=$CONNS, MPM $MPM, $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?'))" \
    | tee -a "$R/summary.txt"
log_trouble "$R/logs/rproxy_error.log"
