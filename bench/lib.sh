# bench/lib.sh - helpers shared by the bench/ scripts: ports, the User
# lines, error_log trouble, starting and stopping an httpd (nginx, HAProxy),
# and the proxies' configurations for the comparisons (compare.sh,
# syscalls.sh, run.sh) - sourced, not run.

# free_ports N: N distinct free 127.0.0.1 ports on one line (all held open
# together while they are picked, so they differ).
free_ports() {
    perl -MIO::Socket::INET -e '
        my @s = map { IO::Socket::INET->new(Listen => 1, ReuseAddr => 1,
                LocalAddr => "127.0.0.1", LocalPort => 0) or die "$!\n" } 1..$ARGV[0];
        print join(" ", map { $_->sockport } @s), "\n"' "$1"
}

# httpd_user_lines: the User/Group lines an httpd started as root needs.
httpd_user_lines() {
    if [ "$(id -u)" = 0 ]; then
        if getent passwd www-data >/dev/null; then
            echo "User www-data"; echo "Group www-data"
        else
            echo "User nobody"; echo "Group nogroup"
        fi
    fi
}

# log_trouble FILE: the lines of an error_log that mean trouble (error
# level and above, crashes).
log_trouble() {
    grep -E '\[[a-z_]*:(emerg|alert|crit|error)\]|exit signal|Segmentation fault|pool concurrency check' "$1" || true
}

# --- httpd processes: started with a given conf, stopped by their PID -----
# These use the caller's HTTPD (the binary) and die (print, exit 1).

# alive PID: running, not a zombie (init here may take a second or two to
# reap what it inherits, so "exists in /proc" is not enough)
alive() {
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "${st%% *}" != Z ]
}

# is_our_httpd PID CONF: that process is an httpd run with CONF (a PID
# file left behind may name a process that is something else by now)
is_our_httpd() {
    [ -r "/proc/$1/cmdline" ] \
        && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"
}

# httpd_start NAME ROOT CONF PIDFILE URL [PREFIX...]: checks CONF
# (httpd -t, output in ROOT/logs/NAME.configtest), starts httpd as a
# daemon with PREFIX in front (taskset, a shell that joins a cgroup), and
# waits for PIDFILE and for URL to answer. Sets HTTPD_PID to the parent.
httpd_start() {
    local name=$1 root=$2 conf=$3 pidfile=$4 url=$5
    shift 5
    "$HTTPD" -t -d "$root" -f "$conf" >"$root/logs/$name.configtest" 2>&1 \
        || { cat "$root/logs/$name.configtest" >&2; die "$name: bad config $conf"; }
    daemon_start "$name" "$pidfile" "$url" "$@" "$HTTPD" -d "$root" -f "$conf" -k start
}

# daemon_start NAME PIDFILE URL COMMAND...: runs COMMAND (a server that
# daemonizes and writes PIDFILE: httpd, nginx, haproxy -D) and waits for
# PIDFILE and for URL to answer. Sets HTTPD_PID to the PID in PIDFILE.
daemon_start() {
    local name=$1 pidfile=$2 url=$3 i
    shift 3
    rm -f "$pidfile"
    "$@" || die "$name: did not start ($*)"
    for i in $(seq 200); do
        [ -s "$pidfile" ] && break
        sleep 0.05
    done
    [ -s "$pidfile" ] || die "$name: no pid file $pidfile"
    HTTPD_PID=$(head -n 1 "$pidfile")
    for i in $(seq 200); do
        curl -s -o /dev/null --max-time 2 "$url" && return 0
        sleep 0.05
    done
    die "$name: not answering at $url"
}

# httpd_stop PID:CONF...: TERM each parent that is still a server (httpd,
# nginx, haproxy) run with its CONF, wait up to 10 s for all, then KILL what is left (parent and
# children).
httpd_stop() {
    local p i left
    local -a pids=()
    for p in "$@"; do
        is_our_httpd "${p%%:*}" "${p#*:}" || continue
        kill -TERM "${p%%:*}" 2>/dev/null && pids+=("${p%%:*}:${p#*:}")
    done
    for i in $(seq 200); do
        left=0
        for p in "${pids[@]}"; do
            alive "${p%%:*}" && left=1
        done
        [ "$left" = 0 ] && return 0
        sleep 0.05
    done
    for p in "${pids[@]}"; do
        alive "${p%%:*}" || continue
        echo "bench: httpd ${p%%:*} (${p#*:}) ignored TERM; killing" >&2
        kill -KILL "${p%%:*}" $(ps -o pid= --ppid "${p%%:*}") 2>/dev/null || true
    done
}

# The mod_rproxy side of a comparison, on stdout: a pool of the three
# origins $P1 $P2 $P3 (round robin, kept connections), listening on $PA,
# the module from $MODSO.
rproxy_conf() {
    cat <<EOF
LoadModule rproxy_module "$MODSO"
Listen 127.0.0.1:$PA
<RProxyPool origins>
    RProxyMember http://127.0.0.1:$P1
    RProxyMember http://127.0.0.1:$P2
    RProxyMember http://127.0.0.1:$P3
    RProxyKeepalive idle=64
</RProxyPool>
RProxyPass / origins
EOF
}

# The mod_proxy side of a comparison, on stdout: a balancer of the three
# origins $P1 $P2 $P3 (round robin: byrequests), listening on $PB, modules
# from $MODDIR. Backend connections are pooled and reused by default
# (disablereuse=Off), as mod_rproxy's are.
mod_proxy_conf() {
    cat <<EOF
LoadModule slotmem_shm_module "$MODDIR/mod_slotmem_shm.so"
LoadModule proxy_module "$MODDIR/mod_proxy.so"
LoadModule proxy_http_module "$MODDIR/mod_proxy_http.so"
LoadModule proxy_balancer_module "$MODDIR/mod_proxy_balancer.so"
LoadModule lbmethod_byrequests_module "$MODDIR/mod_lbmethod_byrequests.so"
Listen 127.0.0.1:$PB
ProxyRequests Off
<Proxy balancer://origins>
    BalancerMember http://127.0.0.1:$P1
    BalancerMember http://127.0.0.1:$P2
    BalancerMember http://127.0.0.1:$P3
    ProxySet lbmethod=byrequests
</Proxy>
ProxyPass / balancer://origins/
EOF
}

# The nginx side of a comparison, on stdout (nginx -p DIR -c ...): one
# worker process, round robin (nginx's default) over $P1 $P2 $P3 with kept
# connections (upstream keepalive, HTTP/1.1 and no Connection header to
# the members; 192 idle ones in all, as RProxyKeepalive idle=64 keeps per
# member), listening on $PC, no access log, pid file and error log
# under DIR. Request bodies stream (proxy_request_buffering off), as they
# do through the others; responses use nginx's default buffering (memory,
# then a temporary file for a slow client) - its normal mode. Keep-alive
# limits are lifted as httpd's MaxKeepAliveRequests 0 does.
nginx_conf() {
    local d=$1
    httpd_user_lines | awk '{ u[$1] = $2 } END { if (u["User"]) print "user " u["User"] " " u["Group"] ";" }'
    cat <<EOF
worker_processes 1;
pid $d/run/nginx.pid;
error_log $d/logs/nginx_error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $d/run/nginx-body;
    proxy_temp_path $d/run/nginx-proxy;
    fastcgi_temp_path $d/run/nginx-fastcgi;
    uwsgi_temp_path $d/run/nginx-uwsgi;
    scgi_temp_path $d/run/nginx-scgi;
    keepalive_timeout 30s;
    keepalive_requests 1000000000;
    client_max_body_size 0;
    upstream origins {
        server 127.0.0.1:$P1;
        server 127.0.0.1:$P2;
        server 127.0.0.1:$P3;
        keepalive 192;
        keepalive_requests 1000000000;
        keepalive_timeout 60s;
    }
    server {
        listen 127.0.0.1:$PC;
        location / {
            proxy_pass http://origins;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_request_buffering off;
        }
    }
}
EOF
}

# The HAProxy side of a comparison, on stdout (haproxy -W -D: a master
# and one worker process with one thread): round robin over $P1 $P2 $P3,
# listening on $PD, no log. http-reuse always: any idle member connection
# serves any request, as with the other three (HAProxy's default, safe,
# sends a client connection's first request on a connection of its own,
# which would open one member connection per client connection).
haproxy_conf() {
    local d=$1 user
    user=$(httpd_user_lines | awk '{ u[$1] = $2 } END { if (u["User"]) print "    user " u["User"] "\n    group " u["Group"] }')
    cat <<EOF
global
    quiet
    nbthread 1
    maxconn 4096
    pidfile $d/run/haproxy.pid
$user
defaults
    mode http
    timeout connect 10s
    timeout client 120s
    timeout server 120s
    timeout http-keep-alive 30s
    http-reuse always
frontend fe
    bind 127.0.0.1:$PD
    default_backend origins
backend origins
    balance roundrobin
    server o1 127.0.0.1:$P1
    server o2 127.0.0.1:$P2
    server o3 127.0.0.1:$P3
EOF
}

# server_start KIND NAME ROOT CONF PIDFILE URL [PREFIX...]: httpd_start for
# KIND httpd; for nginx and haproxy the same steps with their own config
# check and daemon flags (nginx: master and one worker; haproxy -W -D:
# master and one worker). The PID file names the master in all three, and
# the measured processes are its children.
server_start() {
    local kind=$1 name=$2 root=$3 conf=$4 pidfile=$5 url=$6
    shift 6
    case "$kind" in
        httpd)
            httpd_start "$name" "$root" "$conf" "$pidfile" "$url" "$@" ;;
        nginx)
            nginx -t -p "$root" -c "$conf" -e "$root/logs/${name}_error.log" \
                >"$root/logs/$name.configtest" 2>&1 \
                || { cat "$root/logs/$name.configtest" >&2; die "$name: bad config $conf"; }
            daemon_start "$name" "$pidfile" "$url" "$@" \
                nginx -p "$root" -c "$conf" -e "$root/logs/${name}_error.log" ;;
        haproxy)
            haproxy -c -q -f "$conf" >"$root/logs/$name.configtest" 2>&1 \
                || { cat "$root/logs/$name.configtest" >&2; die "$name: bad config $conf"; }
            daemon_start "$name" "$pidfile" "$url" "$@" \
                haproxy -W -D -f "$conf" ;;
        *) die "server_start: unknown kind $kind" ;;
    esac
}

# The proxies of a comparison: name -> kind of server and port variable.
# "base" is mod_rproxy again, built from another commit (BASE_SO: its .so),
# to compare a change before and after in one run; "rproxy_worker" is this
# mod_rproxy under mpm_worker instead of mpm_event (a worker thread stays
# on its client connection between keep-alive requests: what a path that
# does not hand the connection back to event's listener would save);
# "rproxy_kaproto" is this mod_rproxy under mpm_event with the prototype
# bench/proto/mod_kaproto.c, which does that inside mpm_event.
proxy_kind() {
    case "$1" in nginx|haproxy) echo "$1" ;; *) echo httpd ;; esac
}
proxy_port() {
    case "$1" in
        rproxy) echo "$PA" ;; mod_proxy) echo "$PB" ;;
        nginx) echo "$PC" ;; haproxy) echo "$PD" ;; base) echo "$PE" ;;
        rproxy_worker) echo "$PF" ;; rproxy_kaproto) echo "$PG" ;;
    esac
}

# proxy_conf NAME: the proxy-specific part of NAME's configuration (after
# conf_common and conf_proxy_mpm for the httpd ones), in DIR $R
proxy_conf() {
    case "$1" in
        rproxy) rproxy_conf ;;
        rproxy_worker) PA=$PF rproxy_conf ;;
        rproxy_kaproto)
            echo "LoadModule kaproto_module \"$KAPROTO_SO\""
            echo "KAProtoWait ${KAPROTO_WAIT:-100}"
            PA=$PG rproxy_conf ;;
        base) [ -f "${BASE_SO:-}" ] || die "base: BASE_SO=${BASE_SO:-} is not a file"
              MODSO=$BASE_SO PA=$PE rproxy_conf ;;
        mod_proxy) mod_proxy_conf ;;
        nginx) nginx_conf "$R" ;;
        haproxy) haproxy_conf "$R" ;;
        *) die "unknown proxy $1 (rproxy mod_proxy nginx haproxy base rproxy_worker rproxy_kaproto)" ;;
    esac
}

# proxy_mpm NAME DEFAULT: the MPM of an httpd proxy
proxy_mpm() { [ "$1" = rproxy_worker ] && echo worker || echo "$2"; }

# kaproto_build DIR: builds bench/proto/mod_kaproto.c in DIR (apxs), sets
# KAPROTO_SO
kaproto_build() {
    mkdir -p "$1"
    cp "$BENCH/proto/mod_kaproto.c" "$1/"
    (cd "$1" && "${APXS:-/usr/bin/apxs}" -c mod_kaproto.c >build.log 2>&1) \
        || { cat "$1/build.log" >&2; die "mod_kaproto did not build"; }
    KAPROTO_SO=$1/.libs/mod_kaproto.so
}
