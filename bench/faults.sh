#!/bin/bash
# bench/faults.sh - mod_rproxy under backend faults: failed client requests
# while members die and while members close idle keep-alive connections.
#
# Three origin httpds (one process tree each, mpm_event, a small static
# file, "X-Origin: oN" on every response) and one proxy httpd with
# mod_rproxy:
#     <RProxyPool f>  the three members, RProxyRetries 2,
#         RProxyOutlier fails=2 eject=2s max_ejected=50%,
#         RProxyKeepalive idle=32 idle_timeout=30s,
#         RProxyTimeouts connect=1s header=5s idle=5s
#     RProxyPass / f
# and a Perl client (bench/faults-client.pl) that sends exactly
# WORKERS x PER keep-alive GETs (default 8 x 1250 = 10,000), never
# retrying one, and counts every non-200, connection error and short or
# wrong body as failed.
#
#   1 "kill": origin 2 is killed with SIGKILL (its parent and children, by
#     PID) once KILL_AFTER requests are done (or KILL_MAX_WAIT s passed),
#     and started again RESTART_AFTER s later. Paced at RATE1 requests/s so
#     the run covers before, during and after.
#   2 "idle-close": origins in KA_ORIGINS restarted with KeepAliveTimeout 1
#     (they close idle connections after 1 s, without telling the proxy:
#     httpd sends "Keep-Alive: timeout=" only to a request that asked for
#     keep-alive, and mod_rproxy does not), a fresh proxy, and the client
#     runs in cycles shared by all workers: each sends a burst of BURST
#     requests within WINDOW s, then all are quiet for PAUSE s, so every
#     pooled proxy->origin connection sits idle for about PAUSE s - around
#     the origins' 1 s - in every cycle.
#   3 "race": the close and the request crossing on the wire, on purpose.
#     With httpd origins that race is rare (httpd reads a request that
#     arrived before it checks the keep-alive timeout), so origin 1 is
#     replaced by bench/faults-racy-origin.pl, which closes every
#     connection on its DROP_EVERY-th request instead of answering it
#     (alternately reading it first -> FIN, and leaving it unread -> RST),
#     without warning. mod_rproxy must send such a GET again on a new
#     connection (RP00042). Origins 2 and 3 are the httpds. Paced at RATE3.
#   4/5 "hang": origin 2 stops answering (SIGSTOP on its processes, by
#     PID: the kernel still accepts connections, nothing answers) once
#     HANG_AFTER requests are done, for HANG_FOR s, then goes on (SIGCONT).
#     A request sent to it fails only by the header timeout (5 s) and is
#     then retried elsewhere. Run twice: "hang" with passive ejection
#     only, "hang-hc" with RProxyHealthCheck (HC_LINE) as well. Paced at
#     RATE4. Also reported: requests slower than 1 s, and when origin 2
#     left and rejoined the rotation (the status page, polled).
#
# Target for all: zero failed client requests. Prints a summary table and
# writes it to bench/results/faults/summary.txt; exits 1 if any scenario
# had failures (or could not run). Everything goes under
# bench/results/faults/; every process started is stopped by its PID.
# See bench/FAULTS.
#
# Settings (environment):
#   WORKERS=8 PER=1250          client processes x requests each
#   RATE1=800                   scenario 1 pace, requests/s over all workers
#   KILL_AFTER=2000 KILL_MAX_WAIT=5 RESTART_AFTER=3
#   KA_ORIGINS="1 2 3"          origins with KeepAliveTimeout 1 in scenario 2
#   BURST=45-55 WINDOW=0.3 PAUSE=0.85-1.2   scenario 2 cycles: requests per
#                               worker per cycle, burst window (s), quiet (s)
#   DROP_EVERY=20 RATE3=1500    scenario 3
#   HANG_AFTER=2000 HANG_FOR=20 RATE4=800  scenarios 4 and 5
#   HC_LINE="RProxyHealthCheck uri=/f.txt interval=500ms timeout=400ms rise=2 fall=2"
#   SCENARIOS="kill idle-close race hang hang-hc"  which to run
#   LOGLEVEL="warn rproxy:debug"  proxy LogLevel (RP00022/RP00042 are debug)
#   PROXY_THREADS=16 PROXY_CHILDREN=2
#   HTTPD=/usr/sbin/apache2  MODDIR=/usr/lib/apache2/modules
#   MODSO=<top>/.libs/mod_rproxy.so (used as it is; nothing is built)
set -euo pipefail

WORKERS=${WORKERS:-8}
PER=${PER:-1250}
RATE1=${RATE1:-800}
KILL_AFTER=${KILL_AFTER:-2000}
KILL_MAX_WAIT=${KILL_MAX_WAIT:-5}
RESTART_AFTER=${RESTART_AFTER:-3}
KA_ORIGINS=${KA_ORIGINS:-1 2 3}
BURST=${BURST:-45-55}
WINDOW=${WINDOW:-0.3}
PAUSE=${PAUSE:-0.85-1.2}
DROP_EVERY=${DROP_EVERY:-20}
RATE3=${RATE3:-1500}
HANG_AFTER=${HANG_AFTER:-2000}
HANG_FOR=${HANG_FOR:-20}
RATE4=${RATE4:-800}
HC_LINE=${HC_LINE:-RProxyHealthCheck uri=/f.txt interval=500ms timeout=400ms rise=2 fall=2}
SCENARIOS=${SCENARIOS:-kill idle-close race hang hang-hc}
LOGLEVEL=${LOGLEVEL:-warn rproxy:debug}
PROXY_THREADS=${PROXY_THREADS:-16}
PROXY_CHILDREN=${PROXY_CHILDREN:-2}
HTTPD=${HTTPD:-/usr/sbin/apache2}
MODDIR=${MODDIR:-/usr/lib/apache2/modules}

BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/lib.sh"
TOP=$(dirname "$BENCH")
F=$BENCH/results/faults
MODSO=${MODSO:-$TOP/.libs/mod_rproxy.so}
NREQ=$((WORKERS * PER))

# --- process bookkeeping: everything started is stopped by its PID --------

CLIENT_PID=

# The httpds: run/NAME.pid and run/NAME.conf say which process runs which
# conf (alive, is_our_httpd, httpd_start and httpd_stop are in lib.sh).
stop_httpd() {   # NAME...: stop those that run, all at once
    local name
    local -a pids=()
    for name in "$@"; do
        [ -s "$F/run/$name.pid" ] && [ -s "$F/run/$name.conf" ] || continue
        pids+=("$(cat "$F/run/$name.pid"):$(cat "$F/run/$name.conf")")
        rm -f "$F/run/$name.pid"
    done
    httpd_stop "${pids[@]}"
}

cleanup() {
    local rc=$? n
    trap - EXIT INT TERM
    if [ -n "$CLIENT_PID" ] && alive "$CLIENT_PID"; then
        kill -TERM "$CLIENT_PID" 2>/dev/null || true
        wait "$CLIENT_PID" 2>/dev/null || true
    fi
    # a stopped origin (scenarios 4, 5) would not see its TERM
    [ -s "$F/run/origin2.pid" ] && signal_origin origin2 CONT 2>/dev/null || true
    stop_httpd proxy origin1 origin2 origin3
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "faults: interrupted" >&2; exit 130' INT TERM

die() { echo "faults: $*" >&2; exit 1; }
now() { date +%s.%N; }

# --- preparation -----------------------------------------------------------

prepare() {
    [ -x "$HTTPD" ] || die "no $HTTPD (apache2-bin)"
    [ -f "$MODSO" ] || die "no $MODSO: build the module first (make -f Makefile.apxs)"
    local m
    for m in mpm_event authz_core mime headers; do
        [ -f "$MODDIR/mod_$m.so" ] || die "no $MODDIR/mod_$m.so"
    done
    command -v curl >/dev/null || die "curl is not installed"
    perl -MIO::Socket::INET -MTime::HiRes -e1 || die "perl with IO::Socket, Time::HiRes needed"
    # leftovers of an interrupted run: stop them by their PID files first
    stop_httpd proxy origin1 origin2 origin3
    rm -rf "$F/conf" "$F/logs" "$F/run" "$F/client" "$F/docroot"
    mkdir -p "$F/conf" "$F/logs" "$F/run" "$F/client" "$F/docroot"
    # 1 KiB that differs from byte to byte, so a wrong body shows
    perl -e 'print join("", map { chr(32 + ($_ * 7) % 95) } 0 .. 1022), "\n"' \
        >"$F/docroot/f.txt"
    echo "text/plain txt" >"$F/conf/mime.types"
    chmod -R a+rX "$F"
    # four free ports, held together so they differ
    read -r P1 P2 P3 PP < <(free_ports 4)
    PORT_origin1=$P1 PORT_origin2=$P2 PORT_origin3=$P3 PORT_proxy=$PP
}

# --- configurations --------------------------------------------------------

conf_common() {   # NAME TAG LOGLEVEL
    cat <<EOF
# generated by bench/faults.sh
ServerRoot "$F"
ServerName 127.0.0.1
DefaultRuntimeDir "$F/run/$1"
PidFile "$F/run/$1.pid"
ErrorLog "$F/logs/$1-$2_error.log"
LogLevel $3
LoadModule mpm_event_module "$MODDIR/mod_mpm_event.so"
LoadModule authz_core_module "$MODDIR/mod_authz_core.so"
Timeout 30
KeepAlive On
MaxKeepAliveRequests 0
<Directory />
    Require all denied
</Directory>
EOF
    httpd_user_lines
    mkdir -p "$F/run/$1"
}

write_origin() {   # N TAG KEEPALIVE_TIMEOUT
    local n=$1 tag=$2 ka=$3 port
    eval "port=\$P$n"
    {
        conf_common "origin$n" "$tag" warn
        cat <<EOF
LoadModule mime_module "$MODDIR/mod_mime.so"
LoadModule headers_module "$MODDIR/mod_headers.so"
TypesConfig "$F/conf/mime.types"
Listen 127.0.0.1:$port
KeepAliveTimeout $ka
StartServers 1
ServerLimit 1
ThreadLimit 32
ThreadsPerChild 32
MaxRequestWorkers 32
MinSpareThreads 1
MaxSpareThreads 32
MaxConnectionsPerChild 0
DocumentRoot "$F/docroot"
<Directory "$F/docroot">
    Require all granted
</Directory>
Header always set X-Origin o$n
# %k = 0: first request on a connection, i.e. a connection the proxy opened
LogFormat "%{sec}t.%{msec_frac}t %k %>s ka=%{Keep-Alive}o" faults
CustomLog "$F/logs/origin$n-$tag.log" faults
EOF
    } >"$F/conf/origin$n-$tag.conf"
    echo "$F/conf/origin$n-$tag.conf"
}

write_proxy() {   # TAG [POOL_LINE]
    local tag=$1 extra=${2:-}
    {
        conf_common proxy "$tag" "$LOGLEVEL"
        cat <<EOF
LoadModule rproxy_module "$MODSO"
Listen 127.0.0.1:$PP
KeepAliveTimeout 30
StartServers $PROXY_CHILDREN
ServerLimit $PROXY_CHILDREN
ThreadLimit $PROXY_THREADS
ThreadsPerChild $PROXY_THREADS
MaxRequestWorkers $((PROXY_CHILDREN * PROXY_THREADS))
MinSpareThreads 1
MaxSpareThreads $((PROXY_CHILDREN * PROXY_THREADS))
MaxConnectionsPerChild 0
LogFormat "%{sec}t.%{msec_frac}t %>s %B member=%{rproxy-member}n tries=%{rproxy-tries}n us=%D" faults
CustomLog "$F/logs/proxy-$tag.log" faults
<RProxyPool f>
    RProxyMember http://127.0.0.1:$P1
    RProxyMember http://127.0.0.1:$P2
    RProxyMember http://127.0.0.1:$P3
    RProxyRetries 2
    RProxyOutlier fails=2 eject=2s max_ejected=50%
    RProxyKeepalive idle=32 idle_timeout=30s
    RProxyTimeouts connect=1s header=5s idle=5s
    $extra
</RProxyPool>
RProxyPass /rproxy-status !
RProxyPass / f
<Location /rproxy-status>
    SetHandler rproxy-status
    Require all granted
</Location>
EOF
    } >"$F/conf/proxy-$tag.conf"
    echo "$F/conf/proxy-$tag.conf"
}

start_httpd() {   # NAME CONF
    local name=$1 conf=$2 port
    eval "port=\$PORT_$name"
    echo "$conf" >"$F/run/$name.conf"
    httpd_start "$name" "$F" "$conf" "$F/run/$name.pid" \
        "http://127.0.0.1:$port/rproxy-status"
}

# SIGKILL an origin: its parent and children, by PID, all at once (a
# killed parent alone leaves its children serving)
kill_origin() {   # NAME
    local name=$1 pid kids
    pid=$(cat "$F/run/$name.pid")
    is_our_httpd "$pid" "$(cat "$F/run/$name.conf")" || die "$name: pid $pid is not ours"
    kids=$(ps -o pid= --ppid "$pid" | xargs)
    kill -KILL "$pid" $kids
    now    # the moment of the kill, for the before/during split
    local i p up
    for i in $(seq 50); do
        up=0
        for p in $pid $kids; do alive "$p" && up=1; done
        [ "$up" = 0 ] && break
        sleep 0.02
    done
    rm -f "$F/run/$name.pid"
    echo "$pid $kids" | xargs
}

# SIGSTOP or SIGCONT an origin's parent and children, by PID
signal_origin() {   # NAME SIG
    local name=$1 pid
    pid=$(cat "$F/run/$name.pid")
    is_our_httpd "$pid" "$(cat "$F/run/$name.conf")" || die "$name: pid $pid is not ours"
    kill "-$2" "$pid" $(ps -o pid= --ppid "$pid" | xargs)
}

# origin 2's role on the proxy's status page
o2_role() {
    curl -s --max-time 1 "http://127.0.0.1:$PP/rproxy-status?json" \
        | perl -MJSON::PP -e 'my $j = eval { decode_json(join "", <STDIN>) } or exit;
              my ($p) = grep { $_->{name} eq "f" } @{ $j->{pools} };
              print $p->{members}[1]{role}' || true
}

proxy_kids() { ps -o pid= --ppid "$(cat "$F/run/proxy.pid")" | xargs; }
count_tag() { grep -c "RP$1" "$2" || true; }   # RP tag count in a log

# all client records of a run, by send time: t_send t_done status origin class
records() { cat "$F/client/$1"/w*.txt | sort -n; }

# "o1 N o2 N o3 N" for the records with T0 <= t_send < T1
distribution() {   # RUN T0 T1
    records "$1" | awk -v a="$2" -v b="$3" '
        $1 >= a && $1 < b { n[$4]++; t++ }
        END { if (!t) { print "(none)"; exit }
              s = ""
              for (i = 1; i <= 3; i++) { o = "o" i; s = s sprintf("  %s %d (%.0f%%)", o, n[o], 100 * n[o] / t); delete n[o] }
              for (o in n) s = s sprintf("  %s %d", o, n[o])
              print t " requests:" s }'
}

run_client() {   # RUN ARGS...: runs the client in the background
    local run=$1
    shift
    mkdir -p "$F/client/$run"
    perl "$BENCH/faults-client.pl" --port "$PP" --path /f.txt \
        --expect "$F/docroot/f.txt" --workers "$WORKERS" --per "$PER" \
        --out "$F/client/$run" "$@" >"$F/client/$run.out" 2>"$F/client/$run.err" &
    CLIENT_PID=$!
}

wait_client() {   # RUN: waits; sets CL_* from its CLIENT line
    local run=$1 rc=0 kv
    wait "$CLIENT_PID" || rc=$?
    CLIENT_PID=
    [ -s "$F/client/$run.err" ] && sed "s/^/faults: client: /" "$F/client/$run.err" >&2
    kv=$(grep '^CLIENT ' "$F/client/$run.out" || true)
    [ -n "$kv" ] || die "$run: the client printed no result (rc $rc)"
    CL_LINE=${kv#CLIENT }
    CL_requests=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$kv")
    CL_failed=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' <<<"$kv")
    CL_seconds=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$kv")
    CL_classes=$(grep -o 'fail_[a-z-]*=[0-9]*' <<<"$kv" | xargs || true)
    if [ "$rc" != 0 ] || [ "$CL_requests" != "$NREQ" ]; then
        echo "faults: $run: client rc $rc, $CL_requests of $NREQ requests recorded" >&2
        CL_failed=$((CL_failed + NREQ - CL_requests))
        [ "$CL_failed" -gt 0 ] || CL_failed=1
    fi
}

# proxy access log: "statuses; tries>1 N"
proxy_log_summary() {   # TAG
    awk '{ s[$2]++; split($5, t, "="); if (t[2] + 0 > 1) r++; n++ }
         END { o = ""; for (k in s) o = o k "x" s[k] " "
               printf "%d logged, status %s; requests with tries>1: %d\n", n, o, r }' \
        "$F/logs/proxy-$1.log"
}

# per origin: "oN R requests on C new connections"
origin_log_summary() {   # TAG
    local n f
    for n in 1 2 3; do
        f=$F/logs/origin$n-$1.log
        [ -f "$f" ] || continue
        awk -v o="o$n" '{ r++; if ($2 == 0) c++; if ($4 != "ka=-") ka++ }
             END { printf "%s %d requests on %d new connections, %d with a Keep-Alive header; ", o, r, c, ka }' "$f"
    done
    echo
}

SUMMARY_ROWS=()
DETAILS=()
FAILED_ANY=0
KIDS0=

# The end of every scenario, after its own DETAILS: the proxy's status
# page saved, its summary row, whether its children survived (KIDS0: as
# they were at its start), the verdict, and every httpd stopped.
end_scenario() {   # TAG TITLE
    local tag=$1 title=$2 kids1
    kids1=$(proxy_kids)
    curl -s --max-time 5 "http://127.0.0.1:$PP/rproxy-status?json" \
        >"$F/logs/proxy-$tag-status.json" || true
    SUMMARY_ROWS+=("$(printf '%-34s %9s %7s %8s' "$title" \
        "$CL_requests" "$CL_failed" "$CL_seconds")")
    DETAILS+=("  proxy children $( [ "$KIDS0" = "$kids1" ] && echo "unchanged ($KIDS0)" || echo "REPLACED: $KIDS0 -> $kids1")")
    [ "$CL_failed" = 0 ] && [ "$KIDS0" = "$kids1" ] || FAILED_ANY=1
    stop_httpd proxy origin1 origin2 origin3
}

# --- scenario 1: kill an origin and start it again --------------------------

scenario_kill() {
    local tag=kill n conf t_start t_kill t_restart t_up done_n killed
    local i first_o2
    echo "== scenario 1: kill origin 2 (SIGKILL) after ~$KILL_AFTER requests, restart ${RESTART_AFTER}s later; $NREQ GETs at ~$RATE1/s"
    for n in 1 2 3; do
        conf=$(write_origin "$n" "$tag" 60)
        start_httpd "origin$n" "$conf"
    done
    start_httpd proxy "$(write_proxy "$tag")"
    KIDS0=$(proxy_kids)
    curl -s -o /dev/null -w '' "http://127.0.0.1:$PP/f.txt" >/dev/null \
        || die "proxy does not answer"
    t_start=$(now)
    run_client "$tag" --rate "$RATE1" --seed 1
    # kill after KILL_AFTER requests are done, or KILL_MAX_WAIT seconds
    for i in $(seq $((KILL_MAX_WAIT * 20))); do
        done_n=$( (cat "$F/client/$tag"/w*.txt 2>/dev/null || true) | wc -l)
        [ "$done_n" -ge "$KILL_AFTER" ] && break
        alive "$CLIENT_PID" || break
        sleep 0.05
    done
    killed=$(kill_origin origin2 | xargs)
    t_kill=${killed%% *} killed=${killed#* }
    echo "   killed origin 2 (pids $killed) after $done_n requests, at +$(awk -v a="$t_kill" -v b="$t_start" 'BEGIN{printf "%.2f", a-b}')s"
    sleep "$RESTART_AFTER"
    t_restart=$(now)
    start_httpd origin2 "$F/conf/origin2-$tag.conf"
    t_up=$(now)
    echo "   origin 2 started again at +$(awk -v a="$t_restart" -v b="$t_start" 'BEGIN{printf "%.2f", a-b}')s (pid $(cat "$F/run/origin2.pid")), answering at +$(awk -v a="$t_up" -v b="$t_start" 'BEGIN{printf "%.2f", a-b}')s"
    wait_client "$tag"
    first_o2=$(records "$tag" | awk -v t="$t_up" '!f && $1 >= t && $4 == "o2" { print $1; f = 1 }')
    local el="$F/logs/proxy-${tag}_error.log"
    DETAILS+=("scenario 1 (kill): client: $CL_LINE"
        "  X-Origin before the kill:        $(distribution "$tag" 0 "$t_kill")"
        "  X-Origin origin 2 down:          $(distribution "$tag" "$t_kill" "$t_up")"
        "  X-Origin after origin 2 is back: $(distribution "$tag" "$t_up" 9e99)"
        "  X-Origin from its first response: $( [ -n "$first_o2" ] && distribution "$tag" "$first_o2" 9e99 || echo "(none)")"
        "  origin 2 down for $(awk -v a="$t_up" -v b="$t_kill" 'BEGIN{printf "%.2f", a-b}')s; first o2 response $( [ -n "$first_o2" ] && awk -v a="$first_o2" -v b="$t_up" 'BEGIN{printf "%.2fs after it answered again", a-b}' || echo "never, after the restart")"
        "  proxy: $(proxy_log_summary "$tag")"
        "  proxy error_log: RP00020 connect failed $(count_tag 00020 "$el"), RP00022 pooled conn closed $(count_tag 00022 "$el"), RP00041 no valid response $(count_tag 00041 "$el"), RP00042 resent $(count_tag 00042 "$el"), RP00044 none reachable $(count_tag 00044 "$el"), RP00071 ejections $(count_tag 00071 "$el"); other error-level lines $(log_trouble "$el" | grep -Evc 'RP000(20|41|44)' || true)"
        "  origins: $(origin_log_summary "$tag")")
    end_scenario "$tag" "1 kill -9 + restart of origin 2"
}

# --- scenario 2: origins close idle keep-alive connections after 1 s --------

scenario_idle_close() {
    local tag=idle-close n conf ka
    echo "== scenario 2: origins $KA_ORIGINS with KeepAliveTimeout 1; $NREQ GETs in cycles: $BURST per worker within ${WINDOW}s, then ${PAUSE}s quiet"
    for n in 1 2 3; do
        ka=60
        case " $KA_ORIGINS " in *" $n "*) ka=1 ;; esac
        conf=$(write_origin "$n" "$tag" "$ka")
        start_httpd "origin$n" "$conf"
    done
    start_httpd proxy "$(write_proxy "$tag")"
    KIDS0=$(proxy_kids)
    run_client "$tag" --burst "$BURST" --pause "$PAUSE" --sync "$WINDOW" --seed 2
    wait_client "$tag"
    local el="$F/logs/proxy-${tag}_error.log"
    DETAILS+=("scenario 2 (idle-close): client: $CL_LINE"
        "  X-Origin: $(distribution "$tag" 0 9e99)"
        "  proxy: $(proxy_log_summary "$tag")"
        "  proxy error_log: RP00022 pooled conn found closed by the probe $(count_tag 00022 "$el"), RP00042 pooled conn failed, resent on a new one $(count_tag 00042 "$el"), RP00041 no valid response $(count_tag 00041 "$el"), RP00071 ejections $(count_tag 00071 "$el"); error-level lines $(log_trouble "$el" | wc -l)"
        "  origins: $(origin_log_summary "$tag")")
    end_scenario "$tag" "2 origins close idle conns at 1s"
}

# --- scenario 3: the close and the request cross, every DROP_EVERY-th time -

start_racy_origin() {   # TAG: origin 1 as bench/faults-racy-origin.pl
    local tag=$1 i
    rm -f "$F/run/origin1.pid"
    echo "faults-racy-origin.pl" >"$F/run/origin1.conf"
    # detached (its parent exits at once), so init reaps it when it stops;
    # it is stopped by the PID it writes, like the httpds
    (perl "$BENCH/faults-racy-origin.pl" --port "$P1" --file "$F/docroot/f.txt" \
        --name o1 --drop-every "$DROP_EVERY" --pidfile "$F/run/origin1.pid" \
        --log "$F/logs/origin1-$tag.log" </dev/null >/dev/null \
        2>"$F/logs/origin1-${tag}_error.log" &)
    for i in $(seq 100); do
        [ -s "$F/run/origin1.pid" ] \
            && curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$P1/" && return 0
        sleep 0.05
    done
    die "racy origin did not start; see $F/logs/origin1-${tag}_error.log"
}

scenario_race() {
    local tag=race n drops
    echo "== scenario 3: origin 1 closes every connection on its ${DROP_EVERY}th request instead of answering (FIN/RST in turn); $NREQ GETs at ~$RATE3/s"
    start_racy_origin "$tag"
    for n in 2 3; do
        start_httpd "origin$n" "$(write_origin "$n" "$tag" 60)"
    done
    start_httpd proxy "$(write_proxy "$tag")"
    KIDS0=$(proxy_kids)
    run_client "$tag" --rate "$RATE3" --seed 3
    wait_client "$tag"
    local el="$F/logs/proxy-${tag}_error.log"
    drops=$(awk '$3 == "000" { n[$5]++; t++ }
                 END { printf "%d (%d after reading it: FIN, %d unread: RST)", t, n["fin"], n["rst"] }' \
            "$F/logs/origin1-$tag.log")
    DETAILS+=("scenario 3 (race): client: $CL_LINE"
        "  X-Origin: $(distribution "$tag" 0 9e99)"
        "  origin 1 dropped requests: $drops"
        "  proxy: $(proxy_log_summary "$tag")"
        "  proxy error_log: RP00042 pooled conn failed, resent on a new one $(count_tag 00042 "$el"), RP00022 pooled conn found closed by the probe $(count_tag 00022 "$el"), RP00041 no valid response $(count_tag 00041 "$el"), RP00071 ejections $(count_tag 00071 "$el"); error-level lines $(log_trouble "$el" | wc -l)"
        "  origins: $(origin_log_summary "$tag")")
    end_scenario "$tag" "3 close/request race, origin 1"
}

# --- scenarios 4 and 5: origin 2 hangs, without and with health checks ------

scenario_hang() {   # TAG NUMBER TITLE [POOL_LINE]
    local tag=$1 num=$2 title=$3 extra=${4:-} n i done_n
    local t_start t_hang t_cont t_out= t_back= role slow
    echo "== scenario $num: origin 2 stops answering (SIGSTOP) after ~$HANG_AFTER requests for ${HANG_FOR}s${extra:+; $extra}; $NREQ GETs at ~$RATE4/s"
    for n in 1 2 3; do
        start_httpd "origin$n" "$(write_origin "$n" "$tag" 60)"
    done
    start_httpd proxy "$(write_proxy "$tag" "$extra")"
    KIDS0=$(proxy_kids)
    t_start=$(now)
    run_client "$tag" --rate "$RATE4" --seed "$num"
    for i in $(seq 100); do
        done_n=$( (cat "$F/client/$tag"/w*.txt 2>/dev/null || true) | wc -l)
        [ "$done_n" -ge "$HANG_AFTER" ] && break
        alive "$CLIENT_PID" || break
        sleep 0.05
    done
    signal_origin origin2 STOP
    t_hang=$(now)
    # when origin 2 leaves the rotation, while it hangs
    while awk -v a="$(now)" -v b="$t_hang" -v d="$HANG_FOR" 'BEGIN { exit !(a - b < d) }'; do
        role=$(o2_role)
        if [ -z "$t_out" ] && [ -n "$role" ] && [ "$role" != up ]; then
            t_out=$(now)
            echo "   origin 2 out of rotation ($role) $(awk -v a="$t_out" -v b="$t_hang" 'BEGIN{printf "%.2f", a-b}')s after it stopped"
        fi
        sleep 0.1
    done
    signal_origin origin2 CONT
    t_cont=$(now)
    for i in $(seq 200); do
        [ "$(o2_role)" = up ] && { t_back=$(now); break; }
        sleep 0.05
    done
    wait_client "$tag"
    slow=$(records "$tag" | awk '{ d = $2 - $1; if (d > 1) n++; if (d > m) m = d }
                                 END { printf "%d, the slowest %.2fs", n, m }')
    local el="$F/logs/proxy-${tag}_error.log"
    DETAILS+=("scenario $num ($tag): client: $CL_LINE"
        "  requests slower than 1 s: $slow"
        "  origin 2 out of rotation: $( [ -n "$t_out" ] && awk -v a="$t_out" -v b="$t_hang" 'BEGIN{printf "%.2fs after it stopped answering", a-b}' || echo "not while it hung (${HANG_FOR}s)")"
        "  origin 2 back in rotation: $( [ -n "$t_back" ] && awk -v a="$t_back" -v b="$t_cont" 'BEGIN{printf "%.2fs after it went on", a-b}' || echo "not seen")"
        "  X-Origin while it hung: $(distribution "$tag" "$t_hang" "$t_cont")"
        "  proxy: $(proxy_log_summary "$tag")"
        "  proxy error_log: RP00041 no valid response $(count_tag 00041 "$el"), RP00071 ejections $(count_tag 00071 "$el"), RP00103 health checks failed $(count_tag 00103 "$el"), RP00102 health checks passed $(count_tag 00102 "$el"); other error-level lines $(log_trouble "$el" | grep -Evc 'RP000(41)' || true)")
    end_scenario "$tag" "$num $title"
}

# --- main ------------------------------------------------------------------

main() {
    prepare
    echo "origins 127.0.0.1:$P1 :$P2 :$P3, proxy :$PP; module $MODSO"
    case " $SCENARIOS " in *" kill "*) scenario_kill ;; esac
    case " $SCENARIOS " in *" idle-close "*) scenario_idle_close ;; esac
    case " $SCENARIOS " in *" race "*) scenario_race ;; esac
    case " $SCENARIOS " in *" hang "*)
        scenario_hang hang 4 "origin 2 hangs, passive only" ;; esac
    case " $SCENARIOS " in *" hang-hc "*)
        scenario_hang hang-hc 5 "origin 2 hangs, health checks" "$HC_LINE" ;; esac
    [ ${#SUMMARY_ROWS[@]} -gt 0 ] || die "no scenario in SCENARIOS=$SCENARIOS"
    {
        echo "mod_rproxy fault bench, $(date -u '+%Y-%m-%d %H:%M UTC'), $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$TOP" diff --quiet HEAD -- src mod_rproxy.c mod_rproxy.h 2>/dev/null || echo ' (+ uncommitted changes)')"
        echo "proxy: mpm_event $PROXY_CHILDREN x $PROXY_THREADS threads; client: $WORKERS keep-alive connections x $PER GETs of 1 KiB; target: 0 failed"
        echo
        printf '%-34s %9s %7s %8s\n' "scenario" "requests" "failed" "seconds"
        printf '%s\n' "${SUMMARY_ROWS[@]}"
        echo
        printf '%s\n' "${DETAILS[@]}"
        echo
        echo "result: $([ "$FAILED_ANY" = 0 ] && echo PASS || echo FAIL)"
    } | tee "$F/summary.txt"
    [ "$FAILED_ANY" = 0 ] || exit 1
}

main "$@"
