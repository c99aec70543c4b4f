#!/bin/bash
# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
#
# bench/zerocopy.sh - the proxy's CPU per GiB of 1 MiB responses, with
# zero-copy (splice(2)) and without (RProxyZeroCopy off), and on the paths
# where splice cannot be used (TLS on either side, a content filter), next
# to mod_proxy in the same httpd, in one run.
#
# One origin httpd serves a 1 MiB file of random bytes on three plain
# ports (and, for the TLS rows, on three https ports through mod_ssl); one
# proxy httpd (one child process) has mod_rproxy's pools of the three
# (plain and https) and, for the mod_proxy rows, mod_proxy balancers of
# the same, on <Location>s that differ only in what the row measures. Its
# plain port and, for the TLS-client rows, its https port (mod_ssl) serve
# the same locations. The rows (ROWS, or from TLS and FILTER):
#
#   splice         plain client, plain member, RProxyZeroCopy on (default)
#   copy           the same with RProxyZeroCopy off (the copying relay)
#   tls_member     plain client, https member
#   tls_client     https client (mod_ssl vhost), plain member
#   tls_both       https client, https member
#   deflate        plain both sides, SetOutputFilter DEFLATE (level 1) on
#                  the incompressible body: the filter path (N/DEFLATE_DIV
#                  requests a round, zlib's cost dominating)
#   mp_<row>       the row through mod_proxy (mod_proxy_http, balancer
#                  byrequests, SSLProxyEngine for https members) instead
#
# Rounds go through all rows in turn (ROUNDS rounds, interleaved); a round
# of a row is N keep-alive GETs of 1 MiB on CONNS connections (curl, which
# drops the bodies; with -k and HTTP/1.1 for https) and costs the child's
# user + system CPU time (/proc/PID/stat, before and after). The proxy is
# pinned to PROXY_CPU, the clients and the origin to LOAD_CPU. The table
# gives the median per row in CPU seconds per GiB of body, the ratio to
# the copy row (mod_rproxy's plain copying relay) and to mod_proxy's row;
# the status page's spliced/copied counters show that each row took the
# path it should.
#
#   bench/zerocopy.sh                  # splice, copy: N=1024 (1 GiB), ROUNDS=5
#   TLS=all FILTER=deflate bench/zerocopy.sh   # every row, with mod_proxy's
#   TLS=both MP=0 N=256 ROUNDS=3 bench/zerocopy.sh   # a quick look
#   MPM=worker BUILD=0 bench/zerocopy.sh
#   STRACE=50 ...                      # and the system calls per request
#   PERF="tls_both copy" ...           # and a perf profile (-g) of a round
#                                      # of each (results/zerocopy/perf.*)
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
TLS=${TLS:-}                # member, client, both or all: the TLS rows
FILTER=${FILTER:-}          # deflate: the filter row
MP=${MP:-auto}              # 1: mod_proxy's rows beside the copied ones
                            # (auto: when TLS or FILTER asks for rows)
DEFLATE_DIV=${DEFLATE_DIV:-16}
PERF=${PERF:-}              # rows to profile after the rounds

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

if [ -z "${ROWS:-}" ]; then
    ROWS="splice copy"
    case "$TLS" in
        "") ;;
        member) ROWS="$ROWS tls_member" ;;
        client) ROWS="$ROWS tls_client" ;;
        both) ROWS="$ROWS tls_both" ;;
        all) ROWS="$ROWS tls_member tls_client tls_both" ;;
        *) die "TLS=$TLS: member, client, both or all" ;;
    esac
    case "$FILTER" in
        "") ;; deflate) ROWS="$ROWS deflate" ;;
        *) die "FILTER=$FILTER: deflate" ;;
    esac
    if [ "$MP" = 1 ] || { [ "$MP" = auto ] && [ -n "$TLS$FILTER" ]; }; then
        for row in $ROWS; do
            [ "$row" = splice ] || ROWS="$ROWS mp_$row"
        done
    fi
fi
NEED_TLS=0
case " $ROWS " in *" tls_"*|*" mp_tls_"*) NEED_TLS=1 ;; esac

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
read -r P1 P2 P3 PA S1 S2 S3 PT <<<"$(free_ports 8)"
if [ "$NEED_TLS" = 1 ]; then
    # one certificate for the origin's https ports and the proxy's
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -days 2 -subj /CN=127.0.0.1 -keyout "$R/conf/key.pem" \
        -out "$R/conf/cert.pem" >/dev/null 2>&1 || die "openssl req failed"
fi

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
    if [ "$NEED_TLS" = 1 ]; then
        echo "LoadModule socache_shmcb_module \"$MODDIR/mod_socache_shmcb.so\""
        echo "LoadModule ssl_module \"$MODDIR/mod_ssl.so\""
        echo "SSLSessionCache shmcb:$R/run/origin/ssl_scache(512000)"
        for p in $S1 $S2 $S3; do
            echo "Listen 127.0.0.1:$p https"
            echo "<VirtualHost 127.0.0.1:$p>"
            echo "    SSLEngine on"
            echo "    SSLCertificateFile \"$R/conf/cert.pem\""
            echo "    SSLCertificateKeyFile \"$R/conf/key.pem\""
            echo "</VirtualHost>"
        done
    fi
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
LoadModule deflate_module "$MODDIR/mod_deflate.so"
LoadModule slotmem_shm_module "$MODDIR/mod_slotmem_shm.so"
LoadModule proxy_module "$MODDIR/mod_proxy.so"
LoadModule proxy_http_module "$MODDIR/mod_proxy_http.so"
LoadModule proxy_balancer_module "$MODDIR/mod_proxy_balancer.so"
LoadModule lbmethod_byrequests_module "$MODDIR/mod_lbmethod_byrequests.so"
Listen 127.0.0.1:$PA
DeflateCompressionLevel 1
ProxyRequests Off
<RProxyPool origins>
    RProxyMember http://127.0.0.1:$P1
    RProxyMember http://127.0.0.1:$P2
    RProxyMember http://127.0.0.1:$P3
    RProxyKeepalive idle=64
</RProxyPool>
<Proxy balancer://origins>
    BalancerMember http://127.0.0.1:$P1
    BalancerMember http://127.0.0.1:$P2
    BalancerMember http://127.0.0.1:$P3
    ProxySet lbmethod=byrequests
</Proxy>
# the rows' routes, alike but for what the row measures
<Location /on/>
    RProxyPass origins/
    Require all granted
</Location>
<Location /off/>
    RProxyPass origins/
    RProxyZeroCopy off
    Require all granted
</Location>
<Location /deflate/>
    RProxyPass origins/
    SetOutputFilter DEFLATE
    Require all granted
</Location>
<Location /mp/>
    ProxyPass balancer://origins/
    Require all granted
</Location>
<Location /mpdeflate/>
    ProxyPass balancer://origins/
    SetOutputFilter DEFLATE
    Require all granted
</Location>
<Location /rproxy-status>
    SetHandler rproxy-status
    Require ip 127.0.0.1
</Location>
EOC
    if [ "$NEED_TLS" = 1 ]; then
        cat <<EOC
LoadModule socache_shmcb_module "$MODDIR/mod_socache_shmcb.so"
LoadModule ssl_module "$MODDIR/mod_ssl.so"
SSLSessionCache shmcb:$R/run/rproxy/ssl_scache(512000)
SSLProxyEngine on
SSLProxyVerify none
SSLProxyCheckPeerName off
SSLProxyCheckPeerCN off
SSLProxyCheckPeerExpire off
<RProxyPool tlsorigins>
    RProxyMember https://127.0.0.1:$S1
    RProxyMember https://127.0.0.1:$S2
    RProxyMember https://127.0.0.1:$S3
    RProxyKeepalive idle=64
</RProxyPool>
<Proxy balancer://tlsorigins>
    BalancerMember https://127.0.0.1:$S1
    BalancerMember https://127.0.0.1:$S2
    BalancerMember https://127.0.0.1:$S3
    ProxySet lbmethod=byrequests
</Proxy>
<Location /tm/>
    RProxyPass tlsorigins/
    Require all granted
</Location>
<Location /mptm/>
    ProxyPass balancer://tlsorigins/
    Require all granted
</Location>
# the TLS clients' port: the same locations (mod_ssl on the client side)
Listen 127.0.0.1:$PT https
<VirtualHost 127.0.0.1:$PT>
    SSLEngine on
    SSLCertificateFile "$R/conf/cert.pem"
    SSLCertificateKeyFile "$R/conf/key.pem"
    SSLProxyEngine on
    SSLProxyVerify none
    SSLProxyCheckPeerName off
    SSLProxyCheckPeerCN off
    SSLProxyCheckPeerExpire off
</VirtualHost>
EOC
    fi
} >"$R/conf/rproxy.conf"

httpd_start origin "$R" "$R/conf/origin.conf" "$R/run/origin.pid" \
    "http://127.0.0.1:$P1/1m.bin" "${PIN_LOAD[@]}"
PIDS+=("$HTTPD_PID:$R/conf/origin.conf")
httpd_start rproxy "$R" "$R/conf/rproxy.conf" "$R/run/rproxy.pid" \
    "http://127.0.0.1:$PA/on/1m.bin" "${PIN_PROXY[@]}"
PIDS+=("$HTTPD_PID:$R/conf/rproxy.conf")
CHILD=$(ps -o pid= --ppid "$HTTPD_PID" | head -1 | tr -d ' ')
[ -n "$CHILD" ] || die "rproxy: no child process"
# BASE_SO: the same proxy with another build of the module, on ports of
# its own; its rows are base_<row>
BCHILD=
if [ -n "${BASE_SO:-}" ]; then
    [ -f "$BASE_SO" ] || die "BASE_SO=$BASE_SO is not a file"
    read -r PBA PBT <<<"$(free_ports 2)"
    mkdir -p "$R/run/base"
    sed -E -e "s|$MODSO|$BASE_SO|" -e "s/:$PA([^0-9]|\$)/:$PBA\1/g" \
        -e "s/:$PT([^0-9]|\$)/:$PBT\1/g" -e "s|/run/rproxy|/run/base|g" \
        -e "s|rproxy_error.log|base_error.log|" "$R/conf/rproxy.conf" >"$R/conf/base.conf"
    httpd_start base "$R" "$R/conf/base.conf" "$R/run/base.pid" \
        "http://127.0.0.1:$PBA/on/1m.bin" "${PIN_PROXY[@]}"
    PIDS+=("$HTTPD_PID:$R/conf/base.conf")
    BCHILD=$(ps -o pid= --ppid "$HTTPD_PID" | head -1 | tr -d ' ')
    [ -n "$BCHILD" ] || die "base: no child process"
    for row in $ROWS; do
        case "$row" in mp_*) ;; *) ROWS="$ROWS base_$row" ;; esac
    done
fi

# row_target ROW: the URL of ROW's 1 MiB file and the curl options it
# needs
row_target() {
    local proto=http port=$PA path
    if [ "${1#base_}" != "$1" ]; then
        PA=$PBA PT=$PBT row_target "${1#base_}"
        return
    fi
    case "$1" in
        splice) path=on ;; copy) path=off ;; tls_member) path=tm ;;
        tls_client) proto=https port=$PT path=on ;;
        tls_both) proto=https port=$PT path=tm ;;
        deflate) path=deflate ;;
        mp_copy) path=mp ;; mp_tls_member) path=mptm ;;
        mp_tls_client) proto=https port=$PT path=mp ;;
        mp_tls_both) proto=https port=$PT path=mptm ;;
        mp_deflate) path=mpdeflate ;;
        *) die "unknown row $1" ;;
    esac
    echo "$proto://127.0.0.1:$port/$path/1m.bin"
}

# row_n ROW: the requests of a round of ROW
row_n() {
    case "$1" in *deflate) echo $(( (N + DEFLATE_DIV - 1) / DEFLATE_DIV )) ;;
                 *) echo "$N" ;; esac
}

# client ROW N: N keep-alive GETs of ROW's file on one connection (curl,
# bodies dropped); prints how many came back 200 with a whole body (for
# deflate: gzip-encoded, at least the file's size, the body being random)
client() {
    local url extra=()
    url=$(row_target "$1")
    case "$1" in *deflate) extra=(-H "Accept-Encoding: gzip") ;; esac
    "${PIN_LOAD[@]}" curl -s -k --http1.1 "${extra[@]}" "$url?[1-$2]" \
        -w '%{stderr}%{http_code} %{size_download}\n' 2>&1 >/dev/null \
        | awk '$1 == 200 && $2 >= 1048576 { ok++ } END { print ok + 0 }'
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

# row_child ROW: the proxy child that serves ROW
row_child() {
    if [ "${1#base_}" != "$1" ]; then echo "$BCHILD"; else echo "$CHILD"; fi
}

# the user + system CPU of ROW's proxy child, in clock ticks
cpu_ticks() {
    sed 's/.*) //' "/proc/$(row_child "$1")/stat" | awk '{ print $12 + $13 }'
}

# round ROW: prints the CPU seconds per GiB of that round
round() {
    local row=$1 before after per ok=0 i n
    local -a pids=()
    n=$(row_n "$row")
    per=$(( (n + CONNS - 1) / CONNS ))
    before=$(cpu_ticks "$row")
    for i in $(seq "$CONNS"); do
        client "$row" "$per" >"$R/run/client.$i" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i"; done
    after=$(cpu_ticks "$row")
    for i in $(seq "$CONNS"); do ok=$((ok + $(cat "$R/run/client.$i"))); done
    [ "$ok" = $((per * CONNS)) ] || die "$row: $ok of $((per * CONNS)) answered 200 whole"
    perl -e 'printf "%.3f\n", ($ARGV[1] - $ARGV[0]) / $ARGV[3] / ($ARGV[2] / 1024)' \
        "$before" "$after" $((per * CONNS)) "$(getconf CLK_TCK)"
}

for row in $ROWS; do                # warm-up: member connections open
    [ "$(client "$row" 10)" = 10 ] || die "$row: warm-up failed ($(row_target "$row"))"
done
: >"$R/rounds.txt"
for r in $(seq "$ROUNDS"); do
    for row in $ROWS; do
        echo "$row $(round "$row")" | tee -a "$R/rounds.txt"
    done
done
# PERF=ROWS: a profile of one more round of each (perf record -g on the
# child; the figures above are without it)
for row in $PERF; do
    command -v perf >/dev/null || break
    perf record -q -g -o "$R/perf.$row.data" -p "$(row_child "$row")" 2>/dev/null &
    pp=$!
    sleep 0.5
    round "$row" >/dev/null
    kill -INT "$pp"; wait "$pp" || true
    perf report -i "$R/perf.$row.data" --no-children --sort dso,sym \
        --stdio 2>/dev/null | grep -v '^$' | head -60 >"$R/perf.$row.txt" || true
done
# UPLOAD_MB=M: the same for request bodies, 1 GiB per round in POSTs of
# M MiB to a CGI that reads them (sized bodies: spliced past the first
# 64 KiB, there being no mod_reqtimeout here)
if [ "${UPLOAD_MB:-0}" -gt 0 ]; then
    : >"$R/uploads.txt"
    for r in $(seq "$ROUNDS"); do
        for route in on off; do
            before=$(cpu_ticks "$route")
            n=$(( (1024 + UPLOAD_MB - 1) / UPLOAD_MB ))
            ok=$(upload "/$route/upload" "$n" "$UPLOAD_MB")
            after=$(cpu_ticks "$route")
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
    for route in $ROWS; do
        strace -f -c -o "$R/$route.strace" -p "$(row_child "$route")" 2>/dev/null &
        sp=$!
        sleep 0.5
        client "$route" "$STRACE" >/dev/null
        kill -INT "$sp"; wait "$sp" || true
        perl -ne 'BEGIN { $n = shift } next unless /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$/;
                  printf "%s %-10s %7.2f\n", $ARGV, $2, $1 / $n if $2 ne "total"' \
            "$STRACE" "$R/$route.strace" | sed "s|$R/||" | sort -k3 -rn \
            | tee -a "$R/syscalls.txt"
    done
fi

perl -MJSON::PP -e '
    my ($rounds, $status, $uploads, @rows) = @ARGV;
    my %v;
    open my $fh, "<", $rounds or die; while (<$fh>) { my ($k, $x) = split; push @{ $v{$k} }, $x }
    sub med { my @s = sort { $a <=> $b } @_; return $s[$#s / 2] }
    my %m = map { $_ => med(@{ $v{$_} }) } grep { $v{$_} } @rows;
    my $r = sub { my ($x, $y) = @_; return $y && $y > 0 ? sprintf("%.2f", $x / $y) : "-" };
    printf "%-19s %9s %7s %11s %7s   %s\n", "row", "s per GiB", "/ copy", "/ mod_proxy", "/ base", "rounds";
    for my $row (@rows) {
        next unless defined $m{$row};
        (my $plain = $row) =~ s/^base_//;
        my $mp = $m{"mp_$plain"} // ($plain eq "splice" ? $m{mp_copy} : undef);
        printf "%-19s %9.3f %7s %11s %7s   %s\n", $row, $m{$row}, $r->($m{$row}, $m{copy}),
            $r->($m{$row}, $mp), $r->($m{$row}, $m{"base_$row"}), join(" ", @{ $v{$row} });
    }
    open $fh, "<", $status or die; local $/; my $j = decode_json(<$fh>);
    for my $name ("origins", "tlsorigins") {
        my ($p) = grep { $_->{name} eq $name } @{ $j->{pools} } or next;
        printf "pool %s body bytes: spliced %d, copied %d\n", $name,
            $p->{body_bytes}{spliced}, $p->{body_bytes}{copied};
    }
    my ($p) = grep { $_->{name} eq "origins" } @{ $j->{pools} };
    if (open $fh, "<", $uploads and -s $uploads) {
        my %u; local $/ = "\n";
        while (<$fh>) { my ($k, $x) = split; push @{ $u{$k} }, $x }
        my ($uon, $uoff) = (med(@{ $u{on} }), med(@{ $u{off} }));
        printf "uploads: CPU s per GiB (median)  splice %.3f   copy %.3f   ratio %.2f\n", $uon, $uoff, $uoff ? $uon / $uoff : 0;
        printf "rounds: on %s | off %s\n", join(" ", @{ $u{on} }), join(" ", @{ $u{off} });
        printf "pool request bytes: spliced %d, copied %d\n", $p->{body_bytes}{request_spliced}, $p->{body_bytes}{request_copied};
    }
' "$R/rounds.txt" "$R/status.json" "$R/uploads.txt" $ROWS | tee "$R/summary.txt"
echo "($N x 1 MiB per round (deflate rows N/$DEFLATE_DIV), $ROUNDS rounds each, CONNS=$CONNS, MPM $MPM, $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?'))" \
    | tee -a "$R/summary.txt"
log_trouble "$R/logs/rproxy_error.log"
