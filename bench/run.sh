#!/bin/bash
# bench/run.sh - mod_rproxy against httpd's mod_proxy, in the same run.
#
# One origin httpd (three vhosts on three ports) and two proxy httpds with
# identical MPM settings, each pinned to its own core: A with mod_rproxy,
# B with mod_proxy + mod_proxy_balancer. Measures, interleaving A and B:
#   - memory: proxy child RSS growth while a 256 MiB response streams to a
#     slow client and a 256 MiB request body streams to a slow origin
#   - 100-byte responses over keep-alive: requests/s (wrk)
#   - 1 MiB responses: MB/s (wrk)
# and prints the medians and the ratios rproxy/mod_proxy. Everything it
# writes goes to bench/results/ (summary.txt is the table). See bench/README.
#
# Settings (environment):
#   ROUNDS=3 DURATION=10   wrk runs per proxy and test, seconds per run
#   WARMUP=2               seconds of wrk per proxy and test before measuring
#   CONNS=50 WRK_THREADS=1 wrk connections and threads
#   THREADS=64             ThreadsPerChild of both proxies (one child each)
#   LOAD_CPU=0 PROXY_CPU=1 cores for wrk/origin/curl and for the proxies
#   PROXY_CPU_QUOTA=50     CPU quota of each proxy httpd (parent and children),
#                          percent of one core, through its own cgroup (v1 cpu
#                          controller or v2 cpu.max); 0 or off: no quota. Keeps
#                          the proxy, not wrk+origin, the bottleneck on 2 cores
#   BUILD=1                0: use the existing .libs/mod_rproxy.so as it is
#   MEM_SIZE_MB=256        size of the streamed body in the memory test
#   MEM_RATE=20M           slow client / slow origin rate (curl's units)
#   TESTS="mem small large"  which parts to run
#   LOGLEVEL_A=warn LOGLEVEL_B=warn   LogLevel of each proxy
#                          (e.g. LOGLEVEL_A="warn rproxy:debug")
#   HTTPD=/usr/sbin/apache2  APXS=/usr/bin/apxs
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-50}
WRK_THREADS=${WRK_THREADS:-1}
THREADS=${THREADS:-64}
LOAD_CPU=${LOAD_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
PROXY_CPU_QUOTA=${PROXY_CPU_QUOTA:-50}
BUILD=${BUILD:-1}
MEM_SIZE_MB=${MEM_SIZE_MB:-256}
MEM_RATE=${MEM_RATE:-20M}
TESTS=${TESTS:-mem small large}
LOGLEVEL_A=${LOGLEVEL_A:-warn}
LOGLEVEL_B=${LOGLEVEL_B:-warn}
HTTPD=${HTTPD:-/usr/sbin/apache2}
APXS=${APXS:-/usr/bin/apxs}

BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/lib.sh"
. "$BENCH/runlib.sh"     # files, confs, wrk, medians, cpu_ticks
. "$BENCH/cgroup.sh"     # the proxies' CPU quota (cg_*)
. "$BENCH/memory.sh"     # the memory test (mem_one)
. "$BENCH/summary.sh"    # the summary table (summary)
TOP=$(dirname "$BENCH")
R=$BENCH/results
MODSO=$TOP/.libs/mod_rproxy.so

# --- process bookkeeping: everything started is stopped by its PID --------

PIDS=()        # httpd parents: "pid:conf" (httpd_stop in lib.sh)
BG=()          # background helpers (samplers, clients)

cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in "${BG[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    httpd_stop "${PIDS[@]}"
    # one started but not yet recorded (interrupted while starting)
    for p in origin proxy-a proxy-b; do
        [ -s "$R/run/$p.pid" ] \
            && httpd_stop "$(cat "$R/run/$p.pid"):$R/conf/$p.conf"
    done
    # the cgroups last: rmdir only works once their processes are gone
    for p in "${CG_DIRS[@]}"; do
        cg_remove "$p"
    done
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

die() { echo "bench: $*" >&2; exit 1; }

# --- preparation -----------------------------------------------------------

prepare() {
    # wrk and the rest; as root "make deps-bench" installs what is missing
    "$TOP/tools/deps.sh" check bench 2>/dev/null \
        || make -s -C "$TOP" -f Makefile.apxs deps-bench
    if [ "$BUILD" != 0 ]; then
        make -s -C "$TOP" -f Makefile.apxs >/dev/null
    fi
    [ -f "$MODSO" ] || die "no $MODSO after the build"
    command -v wrk >/dev/null || die "wrk is not installed"
    command -v taskset >/dev/null || die "taskset (util-linux) is missing"
    if [ "$(nproc)" -lt 2 ]; then
        echo "bench: only $(nproc) core(s): proxies and load share it" >&2
        PIN_LOAD=(); PIN_PROXY=()
    else
        PIN_LOAD=(taskset -c "$LOAD_CPU"); PIN_PROXY=(taskset -c "$PROXY_CPU")
    fi
    MODDIR=$("$APXS" -q LIBEXECDIR)

    rm -rf "$R/conf" "$R/logs" "$R/run" "$R/wrk" "$R/cgi-bin"
    mkdir -p "$R/conf" "$R/logs" "$R/run" "$R/wrk" "$R/cgi-bin" "$R/docroot"
    cp "$BENCH/sink.cgi" "$R/cgi-bin/sink.cgi"
    mkfile "$R/docroot/100b.txt" 100 text
    mkfile "$R/docroot/1m.bin" 1048576 /dev/urandom
    mkfile "$R/docroot/big.bin" $((MEM_SIZE_MB * 1048576)) /dev/zero
    chmod -R a+rX "$R"

    # five free ports, held together so they differ
    read -r P1 P2 P3 PA PB < <(free_ports 5)
}

# --- httpd configurations --------------------------------------------------

write_confs() {
    origin_conf >"$R/conf/origin.conf"

    {
        conf_common proxy-a "$LOGLEVEL_A"
        conf_proxy_mpm
        rproxy_conf
    } >"$R/conf/proxy-a.conf"

    {
        conf_common proxy-b "$LOGLEVEL_B"
        conf_proxy_mpm
        mod_proxy_conf
    } >"$R/conf/proxy-b.conf"
}

start_httpd() {   # NAME PORT CGROUP-DIR|- CPU-PREFIX...
    local name=$1 port=$2 cg=$3
    shift 3
    if [ "$cg" != - ]; then
        # a shell that joins the cgroup, then execs (taskset) httpd
        set -- /bin/sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "$@"
    fi
    httpd_start "$name" "$R" "$R/conf/$name.conf" "$R/run/$name.pid" \
        "http://127.0.0.1:$port/" "$@"
    PIDS+=("$HTTPD_PID:$R/conf/$name.conf")
}

# --- checks ----------------------------------------------------------------

SANITY_A=ok SANITY_B=ok

sanity() {   # A|B PORT: same bytes as the origin, spread over the origins
    local who=$1 port=$2 f got origins='' i
    for f in 100b.txt 1m.bin; do
        if ! curl -sf -o "$R/run/sanity.$who" "http://127.0.0.1:$port/$f" \
            || ! cmp -s "$R/run/sanity.$who" "$R/docroot/$f"; then
            echo "bench: proxy $who: /$f differs from the origin's" >&2
            eval "SANITY_$who=FAIL"
        fi
    done
    for i in 1 2 3 4 5 6; do
        got=$(curl -s -D - -o /dev/null "http://127.0.0.1:$port/100b.txt" \
              | tr -d '\r' | sed -n 's/^X-Origin: //Ip')
        origins="$origins ${got:-none}"
    done
    echo "proxy $who: 6 requests went to:$origins"
    rm -f "$R/run/sanity.$who"
}

# --- throughput ------------------------------------------------------------

# TP_<test>_<who> = median; ERR_<who> accumulates wrk errors
ERR_A=0 ERR_B=0
throughput() {   # TEST PATH rps|mbps
    local test=$1 path=$2 what=$3 round who port parent out v e nreq
    local mark breq bconn cpu0 cpu1 t0 t1 busy us cg per0 thr0 per1 thr1 thr
    local -a vals_A=() vals_B=() conns_A=() conns_B=()
    local -a busy_A=() busy_B=() us_A=() us_B=() thr_A=() thr_B=()
    for who in A B; do
        port=$PA; [ "$who" = B ] && port=$PB
        run_wrk "$port" "$path" "$WARMUP" "$R/wrk/$test-$who-warmup.txt"
    done
    for round in $(seq "$ROUNDS"); do
        for who in A B; do
            port=$PA parent=$PID_A cg=$CG_A
            [ "$who" = B ] && port=$PB parent=$PID_B cg=$CG_B
            out=$R/wrk/$test-$who-$round.txt
            mark=$(origin_lines)
            read -r per0 thr0 < <(cg_stat "$cg")
            cpu0=$(cpu_ticks "$parent") t0=$(date +%s%N)
            run_wrk "$port" "$path" "$DURATION" "$out"
            cpu1=$(cpu_ticks "$parent") t1=$(date +%s%N)
            read -r per1 thr1 < <(cg_stat "$cg")
            # share of the quota periods in which the proxy ran out of quota
            thr=$(awk -v p=$((per1 - per0)) -v t=$((thr1 - thr0)) \
                  'BEGIN { if (p > 0) printf "%.0f", 100 * t / p; else print "-" }')
            read -r breq bconn < <(origin_since "$mark")
            read -r v e nreq < <(wrk_value "$out" "$what")
            # proxy CPU: share of its core, and microseconds per request
            busy=$(awk -v t=$((cpu1 - cpu0)) -v hz="$HZ" -v ns=$((t1 - t0)) \
                   'BEGIN { printf "%.0f", 100 * t / hz / (ns / 1e9) }')
            us=$(awk -v t=$((cpu1 - cpu0)) -v hz="$HZ" -v n="$nreq" \
                 'BEGIN { if (n > 0) printf "%.0f", 1e6 * t / hz / n; else print 0 }')
            if [ "$e" != 0 ]; then
                echo "bench: $test proxy $who round $round: wrk errors/non-2xx: $e (see $out)" >&2
                [ "$e" -lt 0 ] && e=1
                eval "ERR_$who=\$((ERR_$who + e))"
            fi
            eval "vals_$who+=(\"\$v\")"
            eval "conns_$who+=(\"\$bconn\") busy_$who+=(\"\$busy\") us_$who+=(\"\$us\") thr_$who+=(\"\$thr\")"
            printf '%-6s round %d proxy %s: %s %s; proxy cpu %s%%, %s us/req, throttled in %s%% of periods; origins got %s requests on %s new connections\n' \
                "$test" "$round" "$who" "$v" \
                "$([ "$what" = rps ] && echo req/s || echo MB/s)" \
                "$busy" "$us" "$thr" "$breq" "$bconn"
        done
    done
    printf -v "TP_${test}_A" '%s' "$(median "${vals_A[@]}")"
    printf -v "TP_${test}_B" '%s' "$(median "${vals_B[@]}")"
    printf -v "ROUNDS_${test}_A" '%s' "${vals_A[*]}"
    printf -v "ROUNDS_${test}_B" '%s' "${vals_B[*]}"
    printf -v "CONNS_${test}_A" '%s' "$(median "${conns_A[@]}")"
    printf -v "CONNS_${test}_B" '%s' "$(median "${conns_B[@]}")"
    printf -v "BUSY_${test}_A" '%s' "$(median "${busy_A[@]}")"
    printf -v "BUSY_${test}_B" '%s' "$(median "${busy_B[@]}")"
    printf -v "US_${test}_A" '%s' "$(median "${us_A[@]}")"
    printf -v "US_${test}_B" '%s' "$(median "${us_B[@]}")"
    if [ "$CG_KIND" != none ]; then
        printf -v "THR_${test}_A" '%s' "$(median "${thr_A[@]}")"
        printf -v "THR_${test}_B" '%s' "$(median "${thr_B[@]}")"
    fi
}

# --- main ------------------------------------------------------------------

main() {
    local pa pb
    prepare
    write_confs
    cg_setup
    : >"$R/memory.txt"
    start_httpd origin "$P1" - "${PIN_LOAD[@]}"
    start_httpd proxy-a "$PA" "$CG_A" "${PIN_PROXY[@]}"
    start_httpd proxy-b "$PB" "$CG_B" "${PIN_PROXY[@]}"
    pa=$(cat "$R/run/proxy-a.pid")
    pb=$(cat "$R/run/proxy-b.pid")
    PID_A=$pa PID_B=$pb
    cg_check "$CG_A" "$pa"
    cg_check "$CG_B" "$pb"
    HZ=$(getconf CLK_TCK)
    echo "origins 127.0.0.1:$P1 :$P2 :$P3; proxy A (mod_rproxy) :$PA pid $pa; proxy B (mod_proxy) :$PB pid $pb"
    echo "proxy cpu quota: $CG_INFO"
    sanity A "$PA"
    sanity B "$PB"
    local kids_a0 kids_b0
    kids_a0=$(ps -o pid= --ppid "$pa" | xargs)
    kids_b0=$(ps -o pid= --ppid "$pb" | xargs)

    case " $TESTS " in *" mem "*)
        # first, while the children are fresh, so VmHWM growth means something
        mem_one A "$PA" "$pa" down
        mem_one B "$PB" "$pb" down
        mem_one A "$PA" "$pa" up
        mem_one B "$PB" "$pb" up ;;
    esac
    case " $TESTS " in *" small "*) throughput small /100b.txt rps ;; esac
    case " $TESTS " in *" large "*) throughput large /1m.bin mbps ;; esac

    local kids_a1 kids_b1 trouble_a trouble_b replaced_a=no replaced_b=no
    kids_a1=$(ps -o pid= --ppid "$pa" | xargs)
    kids_b1=$(ps -o pid= --ppid "$pb" | xargs)
    [ "$kids_a0" = "$kids_a1" ] || replaced_a=yes
    [ "$kids_b0" = "$kids_b1" ] || replaced_b=yes
    trouble_a=$(log_trouble "$R/logs/proxy-a_error.log" | wc -l)
    trouble_b=$(log_trouble "$R/logs/proxy-b_error.log" | wc -l)
    summary "$replaced_a" "$replaced_b" "$trouble_a" "$trouble_b" \
        | tee "$R/summary.txt"
}

main "$@"
