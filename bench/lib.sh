# bench/lib.sh - helpers shared by bench/run.sh and bench/faults.sh: ports,
# the User lines, error_log trouble, and starting and stopping an httpd
# (sourced, not run).

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
    local name=$1 root=$2 conf=$3 pidfile=$4 url=$5 i
    shift 5
    "$HTTPD" -t -d "$root" -f "$conf" >"$root/logs/$name.configtest" 2>&1 \
        || { cat "$root/logs/$name.configtest" >&2; die "$name: bad config $conf"; }
    rm -f "$pidfile"
    "$@" "$HTTPD" -d "$root" -f "$conf" -k start \
        || die "$name: httpd did not start; see $root/logs/"
    for i in $(seq 200); do
        [ -s "$pidfile" ] && break
        sleep 0.05
    done
    [ -s "$pidfile" ] || die "$name: no pid file $pidfile"
    HTTPD_PID=$(cat "$pidfile")
    for i in $(seq 200); do
        curl -s -o /dev/null --max-time 2 "$url" && return 0
        sleep 0.05
    done
    die "$name: not answering at $url"
}

# httpd_stop PID:CONF...: TERM each parent that is still an httpd run with
# its CONF, wait up to 10 s for all, then KILL what is left (parent and
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
