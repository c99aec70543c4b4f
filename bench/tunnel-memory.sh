#!/bin/bash
# bench/tunnel-memory.sh [N]: what an idle WebSocket-style tunnel costs.
#
# Opens N (default 500) tunnels through one event-MPM httpd child to an
# echo member, lets them go quiet, and reports the growth of the
# children's RSS divided by N, and the threads in use. Three proxies in
# turn, same member, same client:
#   async  mod_rproxy, RProxyTunnel defaults (the worker goes back after
#          10 ms quiet; ASYNC_AFTER=T sets async_after=T)
#   sync   mod_rproxy, RProxyTunnel async=off (a thread per tunnel)
#   wstun  mod_proxy_wstunnel (httpd 2.4 holds a thread per tunnel too)
# The synchronous ones get ThreadsPerChild N+25. Needs python3.
# WS_HEADERS=1: the client's upgrade request and the member's 101 carry
# what a WebSocket client and server send besides (Sec-WebSocket-Key,
# -Version, -Extensions, -Accept, User-Agent, Date, Server: python3-
# websockets' set), as in bench/websockets.sh; the default is the bare
# minimum.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$BENCH")
. "$BENCH/lib.sh"
die() {
    echo "tunnel-memory: $*" >&2
    tail -5 "$R"/logs/*error_log >&2 2>/dev/null
    exit 1
}
N=${1:-500}
HTTPD=${HTTPD:-/usr/sbin/apache2}
APXS=${APXS:-/usr/bin/apxs}
MODDIR=$("$APXS" -q LIBEXECDIR)
MODSO=$TOP/.libs/mod_rproxy.so
[ -f "$MODSO" ] || die "build first: make -f Makefile.apxs"
ulimit -n $((N * 4 + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
R=$(mktemp -d /tmp/rp-tunnel-mem.XXXXXX)
mkdir -p "$R/logs"
read -r PP PM <<<"$(free_ports 2)"
PIDS=()
cleanup() {
    [ ${#PIDS[@]} -gt 0 ] && httpd_stop "${PIDS[@]}"
    [ -n "${MEMBER:-}" ] && kill "$MEMBER" 2>/dev/null
    rm -rf "$R"
}
trap cleanup EXIT

# the member: a 101, then an echo, any number of connections, one process
cat >"$R/member.py" <<'EOF'
import asyncio, sys
EXTRA = (b'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n'
         b'Sec-WebSocket-Extensions: permessage-deflate\r\n'
         b'Date: Thu, 03 Dec 2026 16:00:00 GMT\r\n'
         b'Server: Python/3.11 websockets/10.4\r\n') if sys.argv[2] == '1' else b''
async def serve(r, w):
    head = b''
    while b'\r\n\r\n' not in head:
        b = await r.read(4096)
        if not b:
            w.close(); return
        head += b
    w.write(b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'
            b'Connection: Upgrade\r\n' + EXTRA + b'\r\nhi\n')
    while True:
        b = await r.read(65536)
        if not b:
            break
        w.write(b'echo:' + b)
    w.close()
async def main():
    s = await asyncio.start_server(serve, '127.0.0.1', int(sys.argv[1]),
                                   backlog=4096)
    await s.serve_forever()
asyncio.run(main())
EOF
# the client: opens N tunnels, holds them until a line on stdin, then
# has each echo one message, one tunnel after the other (the round trip of
# a quiet tunnel: for async ones, the wake-up of a worker included)
cat >"$R/client.py" <<'EOF'
import socket, sys, time
port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
extra = ('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
         'Sec-WebSocket-Version: 13\r\n'
         'Sec-WebSocket-Extensions: permessage-deflate; '
         'client_max_window_bits\r\n'
         'User-Agent: Python/3.11 websockets/10.4\r\n'
         if sys.argv[4] == '1' else '')
req = ('GET %s HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n'
       'Upgrade: websocket\r\n%s\r\n' % (path, extra)).encode()
socks = []
for i in range(n):
    s = socket.create_connection(('127.0.0.1', port), timeout=20)
    s.sendall(req)
    got = b''
    while not got.endswith(b'hi\n'):
        b = s.recv(4096)
        if not b:
            break
        got += b
    if b' 101 ' not in got.split(b'\r\n')[0] + b' ':
        print('tunnel %d: %r' % (i, got[:60]), file=sys.stderr)
        sys.exit(1)
    socks.append(s)
print('open', flush=True)
sys.stdin.readline()            # the script measures meanwhile
ok, rtt = 0, []
for i, s in enumerate(socks):
    t0 = time.time()
    s.sendall(b'n%d' % i)
    want = b'echo:n%d' % i
    got = b''
    while len(got) < len(want):
        b = s.recv(4096)
        if not b:
            break
        got += b
    rtt.append(time.time() - t0)
    ok += got == want
rtt.sort()
print('echoed %d, round trip p50 %.2f ms p99 %.2f ms' % (ok,
      rtt[len(rtt) // 2] * 1000, rtt[len(rtt) * 99 // 100] * 1000), flush=True)
EOF

WS_HEADERS=${WS_HEADERS:-0}
python3 "$R/member.py" "$PM" "$WS_HEADERS" &
MEMBER=$!
for i in $(seq 100); do
    (exec 9<>"/dev/tcp/127.0.0.1/$PM") 2>/dev/null && break
    sleep 0.1
done

proxy_conf() {   # MODE: the httpd configuration on stdout
    local threads=25 factor=$((N / 25 + 20))
    [ "$1" != async ] && threads=$((N + 25)) && factor=2
    cat <<EOF
ServerRoot "$R"
PidFile "$R/logs/$1.pid"
ErrorLog "$R/logs/$1.error_log"
LogLevel warn
ServerName localhost
$(httpd_user_lines)
LoadModule mpm_event_module "$MODDIR/mod_mpm_event.so"
LoadModule authz_core_module "$MODDIR/mod_authz_core.so"
Listen 127.0.0.1:$PP
StartServers 1
ServerLimit 1
ThreadLimit $threads
ThreadsPerChild $threads
MaxRequestWorkers $threads
MinSpareThreads 1
MaxSpareThreads $threads
AsyncRequestWorkerFactor $factor
EOF
    case $1 in
    async|sync)
        echo "LoadModule rproxy_module \"$MODSO\""
        echo "<RProxyPool echo>"
        echo "    RProxyMember http://127.0.0.1:$PM"
        echo "    RProxyTunnel idle=10m$([ "$1" = sync ] && echo ' async=off')$([ "$1" = async ] && [ -n "${ASYNC_AFTER:-}" ] && echo " async_after=$ASYNC_AFTER")"
        echo "</RProxyPool>"
        echo "RProxyPass / echo"
        ;;
    wstun)
        echo "LoadModule proxy_module \"$MODDIR/mod_proxy.so\""
        echo "LoadModule proxy_wstunnel_module \"$MODDIR/mod_proxy_wstunnel.so\""
        echo "ProxyPass / ws://127.0.0.1:$PM/ timeout=600"
        ;;
    esac
}

children_kb() {   # PARENT FIELD: FIELD (kB) summed over the children
    local pid sum=0 v
    for pid in $(ps -o pid= --ppid "$1"); do
        v=$(sed -n "s/^$2:[[:space:]]*\([0-9]*\).*/\1/p" "/proc/$pid/status" 2>/dev/null)
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}

printf '%-6s %7s %9s %9s %10s %8s %s\n' proxy tunnels "rss0 KiB" "rss KiB" \
    "KiB/tunnel" threads "echoed (one after the other)"
for mode in ${MODES:-async sync wstun}; do
    proxy_conf "$mode" >"$R/$mode.conf"
    httpd_start "$mode" "$R" "$R/$mode.conf" "$R/logs/$mode.pid" \
        "http://127.0.0.1:$PP/"
    PIDS=("$HTTPD_PID:$R/$mode.conf")
    # warm up: a few tunnels opened and closed, so first-use allocations
    # are not counted
    echo | python3 "$R/client.py" "$PP" /warm 20 "$WS_HEADERS" >/dev/null \
        || die "$mode: warm-up tunnels failed"
    sleep 1
    rss0=$(children_kb "$HTTPD_PID" VmRSS)
    exec 3> >(python3 "$R/client.py" "$PP" /t "$N" "$WS_HEADERS" \
                >"$R/client.out")
    for i in $(seq 600); do
        grep -q open "$R/client.out" 2>/dev/null && break
        sleep 0.1
    done
    grep -q open "$R/client.out" || die "$mode: the tunnels did not open"
    sleep 2         # past async_after: every tunnel quiet
    rss=$(children_kb "$HTTPD_PID" VmRSS)
    threads=$(children_kb "$HTTPD_PID" Threads)
    echo >&3
    exec 3>&-
    for i in $(seq 300); do
        grep -q echoed "$R/client.out" && break
        sleep 0.1
    done
    printf '%-6s %7d %9d %9d %10.1f %8d %s\n' "$mode" "$N" "$rss0" "$rss" \
        "$(echo "($rss - $rss0) / $N" | bc -l)" "$threads" \
        "$(sed -n 's/echoed //p' "$R/client.out")"
    log_trouble "$R/logs/$mode.error_log"
    httpd_stop "${PIDS[@]}"
    PIDS=()
done
