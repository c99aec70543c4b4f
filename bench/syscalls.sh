#!/bin/bash
# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
#
# bench/syscalls.sh - system calls per proxied 100-byte request, by name,
# for mod_rproxy, mod_proxy and (PROXIES=all) nginx and HAProxy configured
# alike (keep-alive to the members, round robin over three, no access log,
# one worker process).
#
# Counts, unlike times, are stable on a shared machine. One client
# connection sends N keep-alive requests one after the other (a perl loop,
# so no wrk is needed); `strace -f -c` is attached to the proxy's one child
# process (all its threads; nginx's and HAProxy's one worker) for exactly
# those N requests, after a warm-up that has opened the member
# connections. Everything the child does is counted: httpd's own MPM and
# request pipeline as well as the module's. CLOSE=1: each request on a new
# client connection (Connection: close), the client reading to the end.
#
#   bench/syscalls.sh                  # N=4000, MPM=event
#   N=2000 MPM=worker bench/syscalls.sh
#   PROXIES=all CLOSE=1 bench/syscalls.sh   # all four, new connections
#   PROXIES="rproxy base" BASE_SO=/tmp/old/.libs/mod_rproxy.so ...
#                                      # against another build of ours
#   BUILD=0 ...                        # use .libs/mod_rproxy.so as it is
#   TRACE=1 N=5 ...                    # the calls themselves, in order
#   PERF=1 N=20000 ...                 # perf record -g instead of strace:
#                                      # CPU by library and by function
#   PERF_OPTS="--call-graph dwarf,16384" PERF=1 N=6000 ...
#                                      # with call graphs (Debian's httpd
#                                      # has no frame pointers): then
#                                      # perf report --children
# Output: a table (calls per request, by name) on stdout; the raw strace
# summaries in bench/results/syscalls/.
set -euo pipefail

N=${N:-4000}
MPM=${MPM:-event}
WARM=${WARM:-50}
BUILD=${BUILD:-1}
TRACE=${TRACE:-0}    # 1: the full trace in $R/NAME.trace instead of counts
PERF=${PERF:-0}      # 1: a perf profile in $R/NAME.perf.* instead of counts
CLOSE=${CLOSE:-0}    # 1: a new client connection per request
PROXIES=${PROXIES:-rproxy mod_proxy}   # or all: + nginx haproxy
[ "$PROXIES" = all ] && PROXIES="rproxy mod_proxy nginx haproxy"
HTTPD=${HTTPD:-/usr/sbin/apache2}
MODDIR=${MODDIR:-/usr/lib/apache2/modules}

BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/lib.sh"
TOP=$(dirname "$BENCH")
R=$BENCH/results/syscalls
MODSO=$TOP/.libs/mod_rproxy.so
PIDS=()
STRACE_PID=

die() { echo "bench: $*" >&2; exit 1; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -n "$STRACE_PID" ] && kill -INT "$STRACE_PID" 2>/dev/null || true
    [ ${#PIDS[@]} -gt 0 ] && httpd_stop "${PIDS[@]}"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

command -v strace >/dev/null || die "strace is needed (apt-get install strace)"
for p in $PROXIES; do
    case "$p" in
        rproxy|mod_proxy|base|rproxy_worker|rproxy_kaproto) ;;
        nginx|haproxy) command -v "$p" >/dev/null \
            || die "$p is not installed (make -f Makefile.apxs deps-bench)" ;;
        *) die "PROXIES: unknown proxy $p (rproxy mod_proxy nginx haproxy base rproxy_worker rproxy_kaproto)" ;;
    esac
done
if [ "$BUILD" = 1 ]; then
    make -C "$TOP" -f Makefile.apxs >/dev/null || die "build failed"
fi
[ -f "$MODSO" ] || die "no $MODSO"

rm -rf "$R"
mkdir -p "$R/conf" "$R/logs" "$R/run" "$R/docroot"
head -c 100 /dev/zero | tr '\0' x >"$R/docroot/100b.txt"
read -r P1 P2 P3 PA PB PC PD PE PF PG <<<"$(free_ports 10)"
[[ " $PROXIES " != *" rproxy_kaproto "* ]] || kaproto_build "$R/kaproto"

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

# one child process (prefork: one process serves one connection anyway)
conf_proxy_mpm() {
    if [ "$MPM" = prefork ]; then
        echo "StartServers 1"; echo "MinSpareServers 1"
        echo "MaxSpareServers 1"; echo "ServerLimit 1"
        echo "MaxRequestWorkers 1"
    else
        echo "StartServers 1"; echo "ServerLimit 1"; echo "ThreadLimit 4"
        echo "ThreadsPerChild 4"; echo "MaxRequestWorkers 4"
        echo "MinSpareThreads 1"; echo "MaxSpareThreads 4"
    fi
    echo "MaxConnectionsPerChild 0"
}

{
    conf_common origin event
    echo "DocumentRoot \"$R/docroot\""
    echo "<Directory \"$R/docroot\">"
    echo "    Require all granted"
    echo "</Directory>"
    for p in $P1 $P2 $P3; do echo "Listen 127.0.0.1:$p"; done
} >"$R/conf/origin.conf"
for p in $PROXIES; do
    if [ "$(proxy_kind "$p")" = httpd ]; then
        { conf_common "$p" "$(proxy_mpm "$p" "$MPM")"; conf_proxy_mpm
          proxy_conf "$p"; } >"$R/conf/$p.conf"
    else
        proxy_conf "$p" >"$R/conf/$p.conf"
    fi
done

start() {   # NAME PORT
    server_start "$(proxy_kind "$1")" "$1" "$R" "$R/conf/$1.conf" \
        "$R/run/$1.pid" "http://127.0.0.1:$2/100b.txt"
    PIDS+=("$HTTPD_PID:$R/conf/$1.conf")
}

# client PORT N: N keep-alive GETs on one connection, each answer read
# whole (by its Content-Length) before the next is sent; a line with the
# count of 200s. It waits for a line on stdin between the warm-up and
# the counted part, so that strace can attach in between.
client() {
    perl -MIO::Socket::INET -e '
        my ($port, $warm, $n, $close) = @ARGV;
        my $s;
        my $ok = 0;
        sub connect_ {
            $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
                or die "connect: $!\n";
        }
        connect_() unless $close;
        sub one {
            return one_close() if $close;
            print $s "GET /100b.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
            my ($head, $buf) = ("", "");
            while ($head !~ /\r\n\r\n/) {
                sysread($s, $buf, 4096) or die "closed\n"; $head .= $buf;
            }
            my ($h, $body) = split /\r\n\r\n/, $head, 2;
            my ($len) = $h =~ /Content-Length: (\d+)/i;
            while (length($body) < $len) {
                sysread($s, $buf, 4096) or die "closed\n"; $body .= $buf;
            }
            $ok++ if $h =~ m{^HTTP/1.1 200 };
        }
        # a new connection, "Connection: close", read to the end
        sub one_close {
            connect_();
            print $s "GET /100b.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                . "Connection: close\r\n\r\n";
            my ($all, $buf) = ("", "");
            $all .= $buf while sysread($s, $buf, 4096);
            close $s;
            $ok++ if $all =~ m{^HTTP/1.1 200 } && $all =~ /\r\n\r\nx{100}$/;
        }
        one() for 1 .. $warm;
        $| = 1; print "warm\n"; <STDIN>;
        $ok = 0;
        one() for 1 .. $n;
        print "$ok\n";' "$@" "$CLOSE"
}

# count NAME PORT: writes $R/NAME.strace
count() {
    local name=$1 port=$2 parent child ok
    parent=$(head -n 1 "$R/run/$name.pid")
    child=$(ps -o pid= --ppid "$parent" | head -1 | tr -d ' ')
    [ -n "$child" ] || die "$name: no child process"
    coproc CL { client "$port" "$WARM" "$N"; }
    read -r _ <&"${CL[0]}"
    if [ "$PERF" = 1 ]; then
        perf record -q ${PERF_OPTS:--g} -F 2999 -o "$R/$name.perf.data" -p "$child" \
            2>"$R/logs/$name.perf.err" &
    elif [ "$TRACE" = 1 ]; then
        strace -f -tt -o "$R/$name.trace" -p "$child" 2>/dev/null &
    else
        strace -f -c -o "$R/$name.strace" -p "$child" 2>"$R/logs/$name.strace.err" &
    fi
    STRACE_PID=$!
    # strace prints nothing when it is attached; wait for its tracer state
    for _ in $(seq 100); do
        [ "$PERF" = 1 ] && break
        grep -q "TracerPid:[[:space:]]*$STRACE_PID" "/proc/$child/status" && break
        sleep 0.05
    done
    [ "$PERF" = 1 ] && sleep 1
    sleep 0.3
    echo go >&"${CL[1]}"
    read -r ok <&"${CL[0]}"
    wait "$CL_PID" 2>/dev/null || true
    kill -INT "$STRACE_PID"
    wait "$STRACE_PID" || true
    STRACE_PID=
    [ "$ok" = "$N" ] || die "$name: $ok of $N requests answered 200"
}

start origin "$P1"
files=()
for p in $PROXIES; do
    start "$p" "$(proxy_port "$p")"
done
for p in $PROXIES; do
    count "$p" "$(proxy_port "$p")"
    files+=("$R/$p.strace")
done
[ "$TRACE" = 1 ] && { echo "traces: $R/*.trace"; exit 0; }
if [ "$PERF" = 1 ]; then
    for p in $PROXIES; do
        perf report -q -i "$R/$p.perf.data" --no-children --sort dso -g none \
            2>/dev/null | grep -v '^$' >"$R/$p.perf.dso"
        perf report -q -i "$R/$p.perf.data" --no-children --sort dso,sym \
            -g none 2>/dev/null | grep -v '^$' >"$R/$p.perf.sym"
        echo "== $p: samples by library ($R/$p.perf.sym: by function)"
        head -n 12 "$R/$p.perf.dso"
    done
    exit 0
fi

# table: per request by name, the proxies side by side
perl -e '
    my ($n, @files) = @ARGV;
    my (%c, %tot);
    for my $f (@files) {
        open my $fh, "<", $f or die "$f: $!\n";
        while (<$fh>) {
            next unless /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$/;
            next if $2 eq "total";
            $c{$2}{$f} = $1; $tot{$f} += $1;
        }
    }
    my @names = sort { ($c{$b}{$files[0]} // 0) <=> ($c{$a}{$files[0]} // 0)
                       || $a cmp $b } keys %c;
    my $f = "%-18s" . (" %10s" x @files) . "\n";
    my $fn = "%-18s" . (" %10.2f" x @files) . "\n";
    printf $f, "per request",
        map { m{([^/]+)\.strace$}; $1 eq "rproxy" ? "mod_rproxy" : $1 } @files;
    for my $s (@names) {
        printf $fn, $s, map { ($c{$s}{$_} // 0) / $n } @files;
    }
    printf $fn, "total", map { ($tot{$_} // 0) / $n } @files;
' "$N" "${files[@]}" | tee "$R/summary.txt"
echo "($N $([ "$CLOSE" = 1 ] && echo "new-connection (Connection: close)" || echo keep-alive) requests of 100 B, httpd MPM $MPM, $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?'))" \
    | tee -a "$R/summary.txt"
