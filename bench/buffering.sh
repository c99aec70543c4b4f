#!/bin/bash
# bench/buffering.sh - what RProxyBuffering costs: the proxy child's CPU
# per request and its memory, for 1 MiB responses streamed and buffered.
#
# One origin httpd (event, a 1 MiB file, sendfile) and one mod_rproxy
# httpd (event, one child, THREADS threads) with five routes to it, each
# a <Location>:
#   stream   RProxyBuffering off (the default)
#   memory   RProxyBuffering on memory=2m file=0      (held in memory)
#   default  RProxyBuffering on                       (256k in memory, the
#            rest in a file)
#   file     RProxyBuffering on memory=0 file=64m     (held in a temporary
#            file; EnableSendfile Off, httpd's default: read back)
#   sendfile the same with EnableSendfile On          (sent with sendfile)
# ROUTES="stream file" runs some of them only. For each route, ROUNDS
# times, interleaved: `ab -k -n N -c C` fetches the file; the child's
# utime+stime (/proc/PID/stat) before and after give the CPU per request,
# rss-peak.pl the child's peak RSS during the run (the growth over its RSS
# just before; file pages that a mapped temporary file brings in count
# too). Medians over the rounds are printed. The machine may be shared:
# compare routes within one run, and look at the per-run figures.
#
#   bench/buffering.sh                    # N=2000 C=8 ROUNDS=3
#   N=500 ROUNDS=1 bench/buffering.sh     # quick look
# Results: bench/results/buffering/summary.txt (and logs/, conf/).
set -euo pipefail

N=${N:-2000}
C=${C:-8}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-16}
BUILD=${BUILD:-1}
HTTPD=${HTTPD:-/usr/sbin/apache2}
APXS=${APXS:-/usr/bin/apxs}
ROUTES=${ROUTES:-"stream memory default file sendfile"}

BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/lib.sh"
TOP=$(dirname "$BENCH")
R=$BENCH/results/buffering
MODSO=$TOP/.libs/mod_rproxy.so
PIDS=()
BG=()

cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in "${BG[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    httpd_stop "${PIDS[@]}"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM
die() { echo "bench: $*" >&2; exit 1; }

[ "$BUILD" = 0 ] || make -s -C "$TOP" -f Makefile.apxs >/dev/null
command -v ab >/dev/null || die "ab (apache2-utils) is not installed"
MODDIR=$("$APXS" -q LIBEXECDIR)
rm -rf "$R"
mkdir -p "$R/conf" "$R/logs" "$R/run/origin" "$R/run/proxy" "$R/docroot" \
         "$R/ab"
head -c 1048576 /dev/urandom >"$R/docroot/1m.bin"
chmod -R a+rX "$R"
read -r PO PA < <(free_ports 2)

common() {   # NAME
    cat <<EOF
ServerRoot "$R"
ServerName 127.0.0.1
DefaultRuntimeDir "$R/run/$1"
PidFile "$R/run/$1.pid"
ErrorLog "$R/logs/$1_error.log"
LogLevel warn
LoadModule mpm_event_module "$MODDIR/mod_mpm_event.so"
LoadModule authz_core_module "$MODDIR/mod_authz_core.so"
KeepAlive On
MaxKeepAliveRequests 0
<Directory />
    Require all denied
</Directory>
EOF
    httpd_user_lines
}

{
    common origin
    cat <<EOF
Listen 127.0.0.1:$PO
StartServers 2
ThreadsPerChild 64
MaxRequestWorkers 128
EnableSendfile On
DocumentRoot "$R/docroot"
<Directory "$R/docroot">
    Require all granted
</Directory>
EOF
} >"$R/conf/origin.conf"
{
    common proxy
    cat <<EOF
Listen 127.0.0.1:$PA
LoadModule rproxy_module "$MODSO"
StartServers 1
ServerLimit 1
ThreadLimit $THREADS
ThreadsPerChild $THREADS
MaxRequestWorkers $THREADS
MinSpareThreads 1
MaxSpareThreads $THREADS
RProxyBufferDir "$R/run/proxy/buf"
<RProxyPool origin>
    RProxyMember http://127.0.0.1:$PO
    RProxyKeepalive idle=64
</RProxyPool>
# every route in a <Location>, so that each pays the same section walk
<Directory />
    AllowOverride None
</Directory>
<Location /stream/>
    RProxyPass origin/
    Require all granted
</Location>
<Location /memory/>
    RProxyPass origin/
    Require all granted
    RProxyBuffering on memory=2m file=0
</Location>
<Location /default/>
    RProxyPass origin/
    Require all granted
    RProxyBuffering on
</Location>
<Location /file/>
    RProxyPass origin/
    Require all granted
    RProxyBuffering on memory=0 file=64m
    EnableSendfile Off
</Location>
<Location /sendfile/>
    RProxyPass origin/
    Require all granted
    RProxyBuffering on memory=0 file=64m
    EnableSendfile On
</Location>
<Location /rproxy-status>
    SetHandler rproxy-status
    Require all granted
</Location>
EOF
} >"$R/conf/proxy.conf"

httpd_start origin "$R" "$R/conf/origin.conf" "$R/run/origin.pid" \
    "http://127.0.0.1:$PO/1m.bin"
PIDS+=("$HTTPD_PID:$R/conf/origin.conf")
httpd_start proxy "$R" "$R/conf/proxy.conf" "$R/run/proxy.pid" \
    "http://127.0.0.1:$PA/stream/1m.bin"
PIDS+=("$HTTPD_PID:$R/conf/proxy.conf")
PROXY=$HTTPD_PID
CHILD=$(ps -o pid= --ppid "$PROXY" | head -1 | tr -d ' ')
HZ=$(getconf CLK_TCK)

cpu_ticks() {   # utime + stime of the proxy child
    awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$CHILD/stat"
}
rss_kb() {
    sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$CHILD/status"
}

# warm every route (connections, allocators, the buffers' first use),
# noting the child's RSS after each: what a route's first use added
WARM="start $(rss_kb)"
for route in $ROUTES; do
    ab -q -k -n 200 -c "$C" "http://127.0.0.1:$PA/$route/1m.bin" >/dev/null
    WARM+=", $route $(rss_kb)"
done

run_one() {   # ROUTE ROUND -> "req/s us/request rss_growth_kB"
    local route=$1 round=$2 t0 t1 rss0 peak sampler out
    rss0=$(rss_kb)
    "$BENCH/rss-peak.pl" "$PROXY" 0.02 >"$R/run/peak.$route.$round" &
    sampler=$!
    BG+=("$sampler")
    t0=$(cpu_ticks)
    ab -k -n "$N" -c "$C" "http://127.0.0.1:$PA/$route/1m.bin" \
        >"$R/ab/$route.$round.txt" 2>&1
    t1=$(cpu_ticks)
    kill -TERM "$sampler"
    wait "$sampler" || true
    BG=()
    grep -q "^Failed requests:        0" "$R/ab/$route.$round.txt" \
        || die "$route: failed requests (see $R/ab/$route.$round.txt)"
    grep -q "^Non-2xx" "$R/ab/$route.$round.txt" \
        && die "$route: non-2xx answers (see $R/ab/$route.$round.txt)"
    peak=$(sed -n 's/.*peak_rss_kb=\([0-9]*\).*/\1/p' \
           "$R/run/peak.$route.$round")
    out=$(awk '/^Requests per second/ { print $4 }' "$R/ab/$route.$round.txt")
    echo "$out $(( (t1 - t0) * 1000000 / HZ / N )) $(( ${peak:-0} - rss0 ))"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A RES
for round in $(seq "$ROUNDS"); do
    for route in $ROUTES; do
        RES[$route]+="$(run_one "$route" "$round")"$'\n'
    done
done

{
    echo "1 MiB responses through mod_rproxy: ab -k -n $N -c $C per run," \
         "$ROUNDS round(s), medians"
    echo "proxy: event, 1 child, $THREADS threads; $(nproc) cores, shared"
    printf '%-9s %10s %14s %18s\n' route 'req/s' 'CPU us/req' 'RSS growth MiB'
    for route in $ROUTES; do
        printf '%-9s %10s %14s %18.1f\n' "$route" \
            "$(echo -n "${RES[$route]}" | awk '{ print $1 }' | median)" \
            "$(echo -n "${RES[$route]}" | awk '{ print $2 }' | median)" \
            "$(echo -n "${RES[$route]}" | awk '{ print $3 }' | median \
               | awk '{ print $1 / 1024 }')"
    done
    echo
    echo "child RSS (kB) at start and after warming each route in turn:"
    echo "  $WARM"
    echo "per run (req/s, CPU us/req, RSS growth kB):"
    for route in $ROUTES; do
        echo "$route: $(echo -n "${RES[$route]}" | tr '\n' ';')"
    done
    echo
    echo "error_log trouble (proxy):"
    log_trouble "$R/logs/proxy_error.log"
    curl -s "http://127.0.0.1:$PA/rproxy-status?json" \
        | grep -o '"buffering":{[^}]*}' | head -1
} | tee "$R/summary.txt"
