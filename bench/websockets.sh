#!/bin/bash
# bench/websockets.sh - N (10,000) WebSockets through mod_rproxy, through
# httpd's own mod_proxy_wstunnel (same httpd binary) and through nginx, in
# the same run. See bench/README ("WebSockets at scale").
#
# One WebSocket echo member (bench/ws-echo.py, python3-websockets), one
# origin httpd with a 100-byte file, and in turn each proxy, with two
# routes: /ws/ to the echo member, /small/ to the origin. The httpd
# proxies run the event MPM with 2 children x 25 threads; nginx 2 worker
# processes. For each proxy:
#   1. wrk on /small/ with no WebSocket open: requests/s, p99
#   2. bench/ws-client.py opens N WebSockets on /ws/ (BATCH at a time,
#      each open given OPEN_TIMEOUT s; after a whole batch opened none it
#      stops trying), then each sends a small message every INTERVAL s for
#      HOLD s and times the echo
#   3. with them open: the proxy's RSS (parent + children) and its busy
#      threads (mod_status BusyWorkers), then wrk on /small/ again
#   4. the client's report: opened, echo round trip p50/p99 (apart:
#      while wrk runs), lost echoes
# Everything goes to bench/results/ws/ (summary.txt is the table).
#
# Settings (environment):
#   N=10000 INTERVAL=10 HOLD=30   WebSockets, seconds between messages,
#                          seconds they stay open and talk once opened
#                          (at least SETTLE + WRK_SECS + 5)
#   BATCH=500 OPEN_TIMEOUT=10     opens at a time, seconds per open
#   WRK_SECS=10 WRK_CONNS=20      the /small/ load
#   SETTLE=3               seconds between "all opened" and measuring
#   PROXIES="direct rproxy wstunnel nginx"  which, in this order; direct
#                          is no proxy at all (the client to the echo
#                          member, wrk to the origin): the load
#                          generator's own floor for the figures
#   THREADS=25 CHILDREN=2  the httpd proxies' MPM (the issue's figures)
#   PROXY_CPU_QUOTA=50 PROXY_CPU=1 LOAD_CPU=0
#                          each proxy on PROXY_CPU, held to that share of
#                          it (a CPU cgroup, bench/cgroup.sh), and the
#                          load generators and members (wrk, the client,
#                          the echo member, the origin) on LOAD_CPU: the
#                          proxy, not the Python client sharing its cores,
#                          is what the /small/ figures measure, as in
#                          compare.sh. PROXY_CPU_QUOTA=off: no quota and
#                          no pinning (the figures before 2026-12-03 16:00)
#   BUILD=1                0: use the existing .libs/mod_rproxy.so
#   LOGLEVEL=warn          LogLevel of the httpd proxies
#   HTTPD=/usr/sbin/apache2 APXS=/usr/bin/apxs NGINX=/usr/sbin/nginx
set -euo pipefail

N=${N:-10000}
INTERVAL=${INTERVAL:-10}
HOLD=${HOLD:-30}
BATCH=${BATCH:-500}
OPEN_TIMEOUT=${OPEN_TIMEOUT:-10}
WRK_SECS=${WRK_SECS:-10}
WRK_CONNS=${WRK_CONNS:-20}
SETTLE=${SETTLE:-3}
PROXIES=${PROXIES:-direct rproxy wstunnel nginx}
THREADS=${THREADS:-25}
CHILDREN=${CHILDREN:-2}
BUILD=${BUILD:-1}
LOGLEVEL=${LOGLEVEL:-warn}
HTTPD=${HTTPD:-/usr/sbin/apache2}
APXS=${APXS:-/usr/bin/apxs}
NGINX=${NGINX:-/usr/sbin/nginx}
PROXY_CPU_QUOTA=${PROXY_CPU_QUOTA:-50}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
PY=/usr/bin/python3

BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/lib.sh"
. "$BENCH/ws-lib.sh"     # configurations, measurements, the summary
. "$BENCH/cgroup.sh"     # the proxies' CPU quota (cg_*)
TOP=$(dirname "$BENCH")
R=$BENCH/results/ws
MODSO=$TOP/.libs/mod_rproxy.so

# --- process bookkeeping: everything started is stopped by its PID --------

PIDS=()        # httpd parents: "pid:conf" (httpd_stop in lib.sh)
BG=()          # the echo member, clients, nginx master

cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in "${BG[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    httpd_stop "${PIDS[@]}"
    nginx_stop
    for p in "${CG_DIRS[@]}"; do
        cg_remove "$p"
    done
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

die() { echo "bench: $*" >&2; exit 1; }

prepare() {
    "$TOP/tools/deps.sh" check bench 2>/dev/null \
        || make -s -C "$TOP" -f Makefile.apxs deps-bench
    if [ "$BUILD" != 0 ]; then
        make -s -C "$TOP" -f Makefile.apxs >/dev/null
    fi
    [ -f "$MODSO" ] || die "no $MODSO after the build"
    command -v wrk >/dev/null || die "wrk is not installed"
    [ -x "$NGINX" ] || die "nginx is not installed ($NGINX)"
    "$PY" -c 'import websockets' 2>/dev/null \
        || die "python3-websockets is not installed"
    MODDIR=$("$APXS" -q LIBEXECDIR)
    # every process started from here inherits it: a proxy child holds two
    # descriptors per tunnel, the client and the member one each
    ulimit -n "$(ulimit -Hn)"
    NOFILE=$(ulimit -n)
    if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt $((N + 1000)) ]; then
        echo "bench: WARNING: only $NOFILE descriptors per process for N=$N" >&2
    fi
    HOLD=$((HOLD > SETTLE + WRK_SECS + 5 ? HOLD : SETTLE + WRK_SECS + 5))
    rm -rf "$R"
    mkdir -p "$R/conf" "$R/logs" "$R/run" "$R/out" "$R/docroot"
    head -c 99 /dev/zero | tr '\0' 'x' >"$R/docroot/small.txt"
    echo >>"$R/docroot/small.txt"
    chmod -R a+rX "$R"
    read -r PE PO PORT_rproxy PORT_wstunnel PORT_nginx < <(free_ports 5)
    PORT_direct=-
    PIN_LOAD=() PIN_PROXY=()
    case "$PROXY_CPU_QUOTA" in
        0|off|none) CG_INFO="none, nothing pinned (PROXY_CPU_QUOTA=$PROXY_CPU_QUOTA)" ;;
        *)
            command -v taskset >/dev/null || die "taskset is not installed (util-linux)"
            PIN_LOAD=(taskset -c "$LOAD_CPU") PIN_PROXY=(taskset -c "$PROXY_CPU")
            # this shell and so everything it starts from here on (the
            # members, wrk, the client) runs on LOAD_CPU; a proxy is
            # started on PROXY_CPU in its cgroup
            taskset -pc "$LOAD_CPU" $$ >/dev/null
            # shellcheck disable=SC2046
            cg_setup $(printf '%s\n' $PROXIES | grep -vx direct) ;;
    esac
}

# PREFIX... for starting proxy NAME: its cgroup, on PROXY_CPU
proxy_prefix() {   # NAME
    local cg
    PREFIX=()
    [ ${#PIN_PROXY[@]} -gt 0 ] || return 0
    cg=$(eval echo "\${CG_${1^^}:--}")
    PREFIX=("${PIN_PROXY[@]}")
    [ "$cg" = - ] || PREFIX=(/bin/sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "${PREFIX[@]}")
}

# --- the members -----------------------------------------------------------

start_members() {
    local i
    write_origin_conf >"$R/conf/origin.conf"
    httpd_start origin "$R" "$R/conf/origin.conf" "$R/run/origin.pid" \
        "http://127.0.0.1:$PO/small.txt"
    PIDS+=("$HTTPD_PID:$R/conf/origin.conf")
    "$PY" "$BENCH/ws-echo.py" "$PE" >"$R/logs/ws-echo.log" 2>&1 &
    BG+=($!)
    for i in $(seq 100); do
        grep -q listening "$R/logs/ws-echo.log" && return 0
        sleep 0.1
    done
    die "the WebSocket echo member did not start; see $R/logs/ws-echo.log"
}

# --- one proxy -------------------------------------------------------------

start_proxy() {   # NAME
    local name=$1 port
    port=$(proxy_port "$name")
    PROXY_PID=
    if [ "$name" = direct ]; then
        return 0
    fi
    proxy_prefix "$name"
    if [ "$name" = nginx ]; then
        write_nginx_conf "$port" >"$R/conf/nginx.conf"
        nginx_start "http://127.0.0.1:$port/small/small.txt" "${PREFIX[@]}"
    else
        write_proxy_conf "$name" "$port" >"$R/conf/$name.conf"
        httpd_start "$name" "$R" "$R/conf/$name.conf" "$R/run/$name.pid" \
            "http://127.0.0.1:$port/small/small.txt" "${PREFIX[@]}"
        PIDS+=("$HTTPD_PID:$R/conf/$name.conf")
        PROXY_PID=$HTTPD_PID
    fi
    cg_check "$(eval echo "\${CG_${name^^}:--}")" "$PROXY_PID"
}

stop_proxy() {   # NAME
    if [ "$1" = direct ]; then
        return 0
    elif [ "$1" = nginx ]; then
        nginx_stop
    else
        httpd_stop "$PROXY_PID:$R/conf/$1.conf"
    fi
}

# wrk on /small/: "requests/s p99_ms timeouts errors" in $R/out/NAME.wrk.WHEN
small_load() {   # NAME WHEN
    local name=$1 when=$2
    wrk -t 2 -c "$WRK_CONNS" -d "${WRK_SECS}s" --timeout 2s --latency \
        -s "$BENCH/wrk-report.lua" "$(small_url "$name")" \
        >"$R/out/$name.wrk-$when.txt" 2>&1 || true
    wrk_figures "$R/out/$name.wrk-$when.txt" >"$R/out/$name.wrk.$when"
}

run_proxy() {   # NAME
    local name=$1 i client
    echo "== $name ($(ws_url "$name"))"
    start_proxy "$name"
    small_load "$name" before
    echo "   /small/ alone: $(cat "$R/out/$name.wrk.before") (req/s p99_ms timeouts errors)"
    proxy_rss "$name" >"$R/out/$name.rss0"
    rm -f "$R/out/$name.ready" "$R/out/$name.json"
    "$PY" "$BENCH/ws-client.py" "$(ws_url "$name")" "$N" "$INTERVAL" \
        "$HOLD" "$R/out/$name.ready" "$R/out/$name.json" "$BATCH" \
        "$OPEN_TIMEOUT" >"$R/logs/$name.client.log" 2>&1 &
    client=$!
    BG+=("$client")
    # every batch ends within OPEN_TIMEOUT (plus the client's own pace)
    for i in $(seq $(( (N / BATCH + 1) * (OPEN_TIMEOUT + 20) * 10 + 600 ))); do
        [ -s "$R/out/$name.ready" ] && break
        alive "$client" || break
        sleep 0.1
    done
    [ -s "$R/out/$name.ready" ] \
        || die "$name: the client never finished opening; see $R/logs/$name.client.log"
    echo "   opened: $(cat "$R/out/$name.ready")"
    sleep "$SETTLE"
    proxy_rss "$name" >"$R/out/$name.rss1"
    proxy_busy "$name" >"$R/out/$name.busy"
    echo "   RSS before/with: $(cat "$R/out/$name.rss0") / $(cat "$R/out/$name.rss1") KiB; busy: $(cat "$R/out/$name.busy")"
    # the echoes meanwhile count apart (the client's SIGUSR1)
    kill -USR1 "$client" 2>/dev/null || true
    small_load "$name" with
    kill -USR1 "$client" 2>/dev/null || true
    echo "   /small/ with the WebSockets open: $(cat "$R/out/$name.wrk.with")"
    for i in $(seq $(( (HOLD + 60) * 10 ))); do
        alive "$client" || break
        sleep 0.1
    done
    alive "$client" && { kill -TERM "$client"; die "$name: the client hung"; }
    wait "$client" || echo "bench: $name: the client failed; see $R/logs/$name.client.log" >&2
    [ -s "$R/out/$name.json" ] && echo "   client: $(cat "$R/out/$name.json")"
    stop_proxy "$name"
    [ "$name" = direct ] \
        || log_trouble "$R/logs/${name}_error.log" >"$R/out/$name.trouble" 2>/dev/null || true
}

prepare
echo "bench: N=$N INTERVAL=${INTERVAL}s HOLD=${HOLD}s BATCH=$BATCH OPEN_TIMEOUT=${OPEN_TIMEOUT}s, $CHILDREN x $THREADS threads, nofile=$NOFILE"
CPU_INFO="proxies' CPU: $CG_INFO${PIN_PROXY:+; proxies on cpu $PROXY_CPU, the rest on cpu $LOAD_CPU}"
echo "bench: $CPU_INFO"
echo "$CPU_INFO" >"$R/out/cpu.txt"
start_members
for p in $PROXIES; do
    run_proxy "$p"
done
summary | tee "$R/summary.txt"
