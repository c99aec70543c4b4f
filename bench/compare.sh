#!/bin/bash
# Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
#
# bench/compare.sh - mod_rproxy, mod_proxy, nginx and HAProxy in one
# interleaved run, each held to the same CPU share, with ratios.
#
# One origin httpd (three ports, as in run.sh) and four proxies configured
# alike (keep-alive to the members, round robin over the three, no access
# log; bench/lib.sh has their configurations): mod_rproxy and mod_proxy in
# an httpd each (mpm_event, one child of THREADS threads), nginx (one
# worker process), HAProxy (one worker process, one thread). Each proxy is
# pinned to PROXY_CPU and has its own CPU cgroup with the same quota
# (bench/cgroup.sh), so that the proxy, not wrk and the origin on
# LOAD_CPU, runs out of CPU first. Workloads, in rounds that take the
# proxies in turn (A B C D, A B C D, ...), medians of ROUNDS:
#   small   100 B over keep-alive: requests/s, CPU per request
#   close   100 B, a new client connection per request (wrk with
#           "Connection: close"): requests/s, CPU per request
#   rate    100 B at a fixed rate (RATE requests/s, wrk waiting between
#           requests): CPU per request - the same work for all four
#   large   1 MiB responses: MB/s, CPU per GiB
#   upload  MEM_SIZE_MB MiB request body, dropped by the origin's core
#           (a POST to the static file /discard): MB/s, CPU per GiB
#   mem     RSS growth of the proxy's worker while MEM_SIZE_MB MiB streams
#           to a slow client and from a slow client to a slow origin
#           (bench/memory.sh), once per proxy
#   syscalls  system calls per request by name at a fixed count, keep-alive
#           and new connection per request (bench/syscalls.sh PROXIES=all)
# CPU is user+system time of the proxy's worker processes (the children
# of the httpd parent, of nginx's master, of HAProxy's master) from /proc.
#
#   bench/compare.sh                 # the whole run, about 9 minutes
#   QUICK=1 bench/compare.sh         # one short round of each, ~2 minutes
#   TESTS="small close" PROXIES="rproxy mod_proxy" bench/compare.sh
# Settings (environment; QUICK=1 changes the defaults marked *):
#   ROUNDS=5* DURATION=4* WARMUP=1   rounds, seconds per wrk run
#   CONNS=50 LARGE_CONNS=10 WRK_THREADS=1   wrk connections and threads
#   RATE=2000 RATE_CONNS=20          the fixed-rate test
#   MEM_SIZE_MB=256* MEM_RATE=32M    streamed body size, slow peer's rate
#   SYSCALLS_N=2000*                 requests counted by strace
#   THREADS=64 LOAD_CPU=0 PROXY_CPU=1 PROXY_CPU_QUOTA=50   as in run.sh
#   TESTS="mem small close rate large upload syscalls"
#   PROXIES="rproxy mod_proxy nginx haproxy"   (mod_rproxy is compared to
#                                     the others, so it comes first; add
#                                     "base" with BASE_SO=PATH/mod_rproxy.so
#                                     for another build of ours: before and
#                                     after a change in one run; add
#                                     rproxy_worker for mod_rproxy under
#                                     mpm_worker, rproxy_kaproto for it
#                                     under mpm_event with the prototype
#                                     bench/proto/mod_kaproto.c)
#   BUILD=1 (0: .libs/mod_rproxy.so as it is) HTTPD=/usr/sbin/apache2
# Output: the table on stdout and in bench/results/compare/summary.txt;
# wrk's reports, the configurations and the logs beside it.
set -euo pipefail

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
    q_rounds=1 q_duration=2 q_mem=32 q_sys=300
else
    q_rounds=5 q_duration=4 q_mem=256 q_sys=2000
fi
ROUNDS=${ROUNDS:-$q_rounds}
DURATION=${DURATION:-$q_duration}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-50}
LARGE_CONNS=${LARGE_CONNS:-10}
WRK_THREADS=${WRK_THREADS:-1}
RATE=${RATE:-2000}
RATE_CONNS=${RATE_CONNS:-20}
MEM_SIZE_MB=${MEM_SIZE_MB:-$q_mem}
MEM_RATE=${MEM_RATE:-32M}
SYSCALLS_N=${SYSCALLS_N:-$q_sys}
THREADS=${THREADS:-64}
LOAD_CPU=${LOAD_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
PROXY_CPU_QUOTA=${PROXY_CPU_QUOTA:-50}
TESTS=${TESTS:-mem small close rate large upload syscalls}
PROXIES=${PROXIES:-rproxy mod_proxy nginx haproxy}
BUILD=${BUILD:-1}
HTTPD=${HTTPD:-/usr/sbin/apache2}
APXS=${APXS:-/usr/bin/apxs}

BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/lib.sh"
. "$BENCH/runlib.sh"     # files, confs, wrk, medians, cpu_ticks
. "$BENCH/cgroup.sh"     # the proxies' CPU quota (cg_*)
. "$BENCH/memory.sh"     # the memory test (mem_one)
TOP=$(dirname "$BENCH")
R=$BENCH/results/compare
MODSO=$TOP/.libs/mod_rproxy.so

PIDS=()        # server parents: "pid:conf" (httpd_stop in lib.sh)
BG=()          # background helpers (the RSS sampler)

cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in "${BG[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    [ ${#PIDS[@]} -gt 0 ] && httpd_stop "${PIDS[@]}"
    for p in "${CG_DIRS[@]}"; do
        cg_remove "$p"
    done
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "compare: interrupted" >&2; exit 130' INT TERM

die() { echo "compare: $*" >&2; exit 1; }

label() { case "$1" in rproxy) echo mod_rproxy ;; rproxy_worker) echo rp-worker ;; rproxy_kaproto) echo rp-kaproto ;; *) echo "$1" ;; esac; }
has() { case " $TESTS " in *" $1 "*) return 0 ;; esac; return 1; }

prepare() {
    local p
    "$TOP/tools/deps.sh" check bench 2>/dev/null \
        || make -s -C "$TOP" -f Makefile.apxs deps-bench
    [ "$BUILD" = 0 ] || make -s -C "$TOP" -f Makefile.apxs >/dev/null
    [ -f "$MODSO" ] || die "no $MODSO after the build"
    for p in wrk taskset curl strace; do
        command -v "$p" >/dev/null || die "$p is not installed"
    done
    for p in $PROXIES; do
        case "$p" in
            rproxy|mod_proxy|base|rproxy_worker|rproxy_kaproto) ;;
            nginx|haproxy) command -v "$p" >/dev/null || die "$p is not installed" ;;
            *) die "PROXIES: unknown proxy $p" ;;
        esac
    done
    PIN_LOAD=(taskset -c "$LOAD_CPU") PIN_PROXY=(taskset -c "$PROXY_CPU")
    [ "$(nproc)" -ge 2 ] || { PIN_LOAD=(); PIN_PROXY=(); }
    MODDIR=$("$APXS" -q LIBEXECDIR)
    rm -rf "$R"
    mkdir -p "$R/conf" "$R/logs" "$R/run" "$R/wrk" "$R/cgi-bin" "$R/docroot"
    cp "$BENCH/sink.cgi" "$R/cgi-bin/sink.cgi"
    mkfile "$R/docroot/100b.txt" 100 text
    mkfile "$R/docroot/discard" 100 text
    mkfile "$R/docroot/1m.bin" 1048576 /dev/urandom
    mkfile "$R/docroot/big.bin" $((MEM_SIZE_MB * 1048576)) /dev/zero
    chmod -R a+rX "$R"
    read -r P1 P2 P3 PA PB PC PD PE PF PG < <(free_ports 10)
    [[ " $PROXIES " != *" rproxy_kaproto "* ]] || kaproto_build "$R/kaproto"
    HZ=$(getconf CLK_TCK)
}

write_confs() {
    local p
    origin_conf >"$R/conf/origin.conf"
    for p in $PROXIES; do
        if [ "$(proxy_kind "$p")" = httpd ]; then
            { conf_common "$p" warn "$(proxy_mpm "$p" event)"; conf_proxy_mpm
              proxy_conf "$p"; } >"$R/conf/$p.conf"
        else
            proxy_conf "$p" >"$R/conf/$p.conf"
        fi
    done
}

start_proxy() {   # NAME: in its cgroup, on PROXY_CPU
    local p=$1 cg
    cg=$(eval echo "\${CG_${p^^}:--}")
    local -a pre=("${PIN_PROXY[@]}")
    [ "$cg" = - ] || pre=(/bin/sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "${pre[@]}")
    server_start "$(proxy_kind "$p")" "$p" "$R" "$R/conf/$p.conf" \
        "$R/run/$p.pid" "http://127.0.0.1:$(proxy_port "$p")/100b.txt" \
        "${pre[@]}"
    PIDS+=("$HTTPD_PID:$R/conf/$p.conf")
    printf -v "PID_${p^^}" '%s' "$HTTPD_PID"
    printf -v "KIDS_${p^^}" '%s' "$(ps -o pid= --ppid "$HTTPD_PID" | xargs)"
    cg_check "$cg" "$HTTPD_PID"
}

sanity() {   # NAME: the origin's bytes, spread over the three origins
    local p=$1 port f got origins='' i
    port=$(proxy_port "$p")
    for f in 100b.txt 1m.bin; do
        if ! curl -sf -o "$R/run/sanity" "http://127.0.0.1:$port/$f" \
            || ! cmp -s "$R/run/sanity" "$R/docroot/$f"; then
            echo "compare: $p: /$f differs from the origin's" >&2
            SANITY[$p]=FAIL
        fi
    done
    for i in 1 2 3 4 5 6; do
        got=$(curl -s -D - -o /dev/null "http://127.0.0.1:$port/100b.txt" \
              | tr -d '\r' | sed -n 's/^X-Origin: //Ip')
        origins="$origins ${got:-none}"
    done
    echo "$(label "$p"): 6 requests went to:$origins"
}

# --- one measurement: wrk or curl against one proxy ------------------------

declare -A VAL CPU BUSY ERRS SANITY MEMG MCONN

# wrk_fields FILE: "requests bytes duration_us errors" from the RESULT line
# (%.0f, not %d: mawk's %d stops at 2^31 - 1, and a 4 s run of 1 MiB
# responses moves more bytes than that)
wrk_fields() {
    awk '/^RESULT / {
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            printf "%.0f %.0f %.0f %d\n", v["requests"], v["bytes"], v["duration_us"],
                v["connect"] + v["read"] + v["write"] + v["status"] + v["timeout"]
            found = 1 }
         END { if (!found) print "0 0 0 -1" }' "$1"
}

# record TEST NAME VALUE CPU TICKS NS ERRORS: appends this round's figures
record() {
    local k="$1:$2" busy
    busy=$(awk -v t="$5" -v hz="$HZ" -v ns="$6" 'BEGIN { printf "%.0f", 100 * t / hz / (ns / 1e9) }')
    VAL[$k]="${VAL[$k]:-} $3" CPU[$k]="${CPU[$k]:-} $4" BUSY[$k]="${BUSY[$k]:-} $busy"
    ERRS[$2]=$(( ${ERRS[$2]:-0} + ($7 < 0 ? 1 : $7) ))
    [ "$7" = 0 ] || echo "compare: $1 $2: $7 errors (see $R/wrk/)" >&2
    printf '%-7s %-11s %10s  cpu %6s  (%s%% of a core)\n' "$1" "$(label "$2")" "$3" "$4" "$busy"
}

# one_wrk TEST NAME ROUND PATH WRK-OPTION...: value = req/s (or MB/s for
# large); cpu = us per request (or s per GiB for large)
one_wrk() {
    local test=$1 p=$2 round=$3 path=$4 parent c0 c1 t0 t1 out n b us e v cpu
    local mark breq bconn
    shift 4
    parent=$(eval echo "\$PID_${p^^}")
    out=$R/wrk/$test-$p-$round.txt
    mark=$(origin_lines)
    c0=$(cpu_ticks "$parent") t0=$(date +%s%N)
    run_wrk "$(proxy_port "$p")" "$path" "$DURATION" "$out" "$@"
    c1=$(cpu_ticks "$parent") t1=$(date +%s%N)
    # member connections opened: the origin logs %k, 0 on a new connection
    read -r breq bconn < <(origin_since "$mark")
    MCONN[$test:$p]="${MCONN[$test:$p]:-} $bconn"
    read -r n b us e < <(wrk_fields "$out")
    if [ "$test" = large ]; then
        v=$(awk -v b="$b" -v us="$us" 'BEGIN { printf "%.0f", (us > 0 ? b / us : 0) }')
        cpu=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v b="$b" 'BEGIN { printf "%.3f", (b > 0 ? t / hz / (b / 1073741824) : 0) }')
    else
        v=$(awk -v n="$n" -v us="$us" 'BEGIN { printf "%.0f", (us > 0 ? n / (us / 1e6) : 0) }')
        cpu=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="$n" 'BEGIN { printf "%.1f", (n > 0 ? 1e6 * t / hz / n : 0) }')
    fi
    record "$test" "$p" "$v" "$cpu" $((c1 - c0)) $((t1 - t0)) "$e"
}

# one_upload NAME: the big file POSTed as fast as it goes to /discard,
# where the origin's core reads the body and drops it (a CGI sink, as the
# memory test's, would be slower than any proxy)
one_upload() {
    local p=$1 parent c0 c1 t0 t1 out v cpu e=0 size
    parent=$(eval echo "\$PID_${p^^}")
    size=$((MEM_SIZE_MB * 1048576))
    c0=$(cpu_ticks "$parent") t0=$(date +%s%N)
    out=$("${PIN_LOAD[@]}" curl -sS -o /dev/null -X POST -T "$R/docroot/big.bin" \
          -H 'Content-Type: application/octet-stream' -H 'Expect:' \
          -w '%{http_code} %{size_upload} %{speed_upload}' \
          "http://127.0.0.1:$(proxy_port "$p")/discard" 2>&1) || true
    c1=$(cpu_ticks "$parent") t1=$(date +%s%N)
    set -- $out
    # 405 where the core refuses a POST to a file, 200 where it serves it
    case "$*" in
        "200 $size "*|"405 $size "*) ;;
        *) e=1; echo "compare: upload $p: $out" >&2 ;;
    esac
    v=$(awk -v s="${3:-0}" 'BEGIN { printf "%.0f", s / 1e6 }')
    cpu=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v b="$size" 'BEGIN { printf "%.3f", t / hz / (b / 1073741824) }')
    record upload "$p" "$v" "$cpu" $((c1 - c0)) $((t1 - t0)) "$e"
}

# workload TEST: warm-up, then ROUNDS rounds over the proxies in turn
workload() {
    local test=$1 round p
    local -a opts=()
    case "$test" in
        small) opts=() ;;
        close) opts=(-H "Connection: close") ;;
        rate) opts=(-c "$RATE_CONNS") ;;
        large) opts=(-c "$LARGE_CONNS") ;;
    esac
    if [ "$test" = rate ]; then
        export WRK_REPORT=$BENCH/wrk-report.lua
        export WRK_DELAY_MS=$((RATE_CONNS * 1000 / RATE))
        WRK_SCRIPT=$BENCH/wrk-rate.lua
    else
        WRK_SCRIPT=
    fi
    local path=/100b.txt
    [ "$test" = large ] && path=/1m.bin
    if [ "$test" != upload ]; then
        for p in $PROXIES; do
            run_wrk "$(proxy_port "$p")" "$path" "$WARMUP" "$R/wrk/$test-$p-warmup.txt" "${opts[@]}"
        done
    fi
    for round in $(seq "$ROUNDS"); do
        for p in $PROXIES; do
            if [ "$test" = upload ]; then
                one_upload "$p"
            else
                one_wrk "$test" "$p" "$round" "$path" "${opts[@]}"
            fi
        done
    done
}

# --- the table ---------------------------------------------------------------

med() { [ -n "${1// /}" ] && median $1 || echo -; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b; else print "-" }'; }

row() {   # TITLE ARRAY TEST: medians per proxy, then mod_rproxy / each other
    local title=$1 arr=$2 test=$3 p a line m
    local -n A=$arr
    a=$(med "${A[$test:rproxy]:-}")
    line=$(printf '%-34s' "$title")
    for p in $PROXIES; do
        m=$(med "${A[$test:$p]:-}")
        line+=$(printf ' %10s' "$m")
    done
    for p in $PROXIES; do
        [ "$p" = rproxy ] && continue
        line+=$(printf ' %8s' "$(ratio "$a" "$(med "${A[$test:$p]:-}")")")
    done
    echo "$line"
}

target() {   # TEXT VALUE OP LIMIT
    local ok
    ok=$(awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN {
        if (v == "-" || v == "") { print "n/a"; exit }
        print ((op == "<=" && v <= l) || (op == ">=" && v >= l) || (op == "<" && v < l)) ? "PASS" : "FAIL" }')
    printf '  %-58s %6s %s %-5s %s\n' "$1" "$2" "$3" "$4" "$ok"
}

summary() {
    local p line t
    echo "mod_rproxy against mod_proxy, nginx, HAProxy: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$TOP" diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
    echo "proxies on cpu $PROXY_CPU, each: $CG_INFO; wrk, origin, curl on cpu $LOAD_CPU"
    echo "httpd: mpm_event (rp-worker: mpm_worker) 1 child x $THREADS threads; nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'): 1 worker; HAProxy $(haproxy -v | sed -n '1s/HAProxy version \([^ ]*\).*/\1/p'): 1 worker, 1 thread"
    echo "median of $ROUNDS interleaved rounds of ${DURATION}s; wrk -c$CONNS (1 MiB: -c$LARGE_CONNS, rate: -c$RATE_CONNS); QUICK=$QUICK"
    echo
    line=$(printf '%-34s' "")
    for p in $PROXIES; do line+=$(printf ' %10s' "$(label "$p")"); done
    for p in $PROXIES; do [ "$p" = rproxy ] || line+=$(printf ' %8s' "/$(label "$p" | cut -c1-7)"); done
    echo "$line"
    echo "  (ratio columns: mod_rproxy's figure / the other's; higher is better for req/s and MB/s, lower for cpu)"
    if has small; then
        row "100 B keep-alive, req/s" VAL small
        row "  cpu per request, us" CPU small
        row "  proxy cpu, % of a core" BUSY small
        row "  member connections opened" MCONN small
    fi
    if has close; then
        row "100 B new connection, req/s" VAL close
        row "  cpu per request, us" CPU close
        row "  proxy cpu, % of a core" BUSY close
        row "  member connections opened" MCONN close
    fi
    if has rate; then
        row "100 B at ~$RATE req/s, req/s" VAL rate
        row "  cpu per request, us" CPU rate
        row "  proxy cpu, % of a core" BUSY rate
    fi
    if has large; then
        row "1 MiB, MB/s" VAL large
        row "  cpu per GiB, s" CPU large
        row "  proxy cpu, % of a core" BUSY large
    fi
    if has upload; then
        row "$MEM_SIZE_MB MiB upload, MB/s" VAL upload
        row "  cpu per GiB, s" CPU upload
        row "  proxy cpu, % of a core" BUSY upload
    fi
    if has mem; then
        row "$MEM_SIZE_MB MiB to slow client, RSS+ MiB" MEMG down
        row "$MEM_SIZE_MB MiB slow upload, RSS+ MiB" MEMG up
    fi
    line=$(printf '%-34s' "sanity, errors, crashes")
    for p in $PROXIES; do
        line+=$(printf ' %10s' "${SANITY[$p]:-ok},${ERRS[$p]:-0},$(trouble "$p")")
    done
    echo "$line"
    has syscalls && { echo; cat "$R/syscalls.txt"; }
    echo
    echo "Targets (issue 12), mod_rproxy:"
    med_of() { local -n A=$1; med "${A[$2]:-}"; }
    if has large && [[ " $PROXIES " = *" haproxy "* ]]; then
        target "1 MiB: cpu per GiB / HAProxy's" "$(ratio "$(med_of CPU large:rproxy)" "$(med_of CPU large:haproxy)")" "<=" 0.6
        target "1 MiB: MB/s / HAProxy's" "$(ratio "$(med_of VAL large:rproxy)" "$(med_of VAL large:haproxy)")" ">=" 1.0
    fi
    if has upload && [[ " $PROXIES " = *" haproxy "* ]]; then
        target "upload: MB/s / HAProxy's" "$(ratio "$(med_of VAL upload:rproxy)" "$(med_of VAL upload:haproxy)")" ">=" 1.0
    fi
    if has mem; then
        target "RSS growth, download to a slow client, MiB" "$(med_of MEMG down:rproxy)" "<" 2
        target "RSS growth, upload to a slow origin, MiB" "$(med_of MEMG up:rproxy)" "<" 2
    fi
    if has syscalls; then
        target "100 B keep-alive: system calls per request" "$(awk '/^total/ { print $2; exit }' "$R/syscalls.txt")" "<=" 12
    fi
    if [[ " $PROXIES " = *" mod_proxy "* ]]; then
        has rate && target "fixed rate: cpu per request / mod_proxy's" "$(ratio "$(med_of CPU rate:rproxy)" "$(med_of CPU rate:mod_proxy)")" "<=" 0.85
        has close && target "new connection: cpu per request / mod_proxy's" "$(ratio "$(med_of CPU close:rproxy)" "$(med_of CPU close:mod_proxy)")" "<=" 1.0
    fi
    return 0
}

trouble() {   # NAME: error_log lines that mean trouble, and a replaced worker
    local p=$1 n=0 kids
    case "$p" in
        rproxy|mod_proxy|base|rproxy_worker|rproxy_kaproto) n=$(log_trouble "$R/logs/${p}_error.log" \
                                   | grep -vc AH00484 || true) ;;
        nginx) n=$(grep -cE '\[(emerg|alert|crit|error)\]' "$R/logs/nginx_error.log" || true) ;;
    esac
    kids=$(ps -o pid= --ppid "$(eval echo "\$PID_${p^^}")" | xargs)
    [ "$kids" = "$(eval echo "\$KIDS_${p^^}")" ] || n="$n+replaced"
    echo "$n"
}

main() {
    local p
    prepare
    write_confs
    for p in $PROXIES; do printf -v "CG_${p^^}" '%s' -; done
    # shellcheck disable=SC2086
    cg_setup $PROXIES
    server_start httpd origin "$R" "$R/conf/origin.conf" "$R/run/origin.pid" \
        "http://127.0.0.1:$P1/100b.txt" "${PIN_LOAD[@]}"
    PIDS+=("$HTTPD_PID:$R/conf/origin.conf")
    for p in $PROXIES; do
        start_proxy "$p"
    done
    echo "origins :$P1 :$P2 :$P3; proxies: $(for p in $PROXIES; do printf '%s :%s pid %s; ' "$(label "$p")" "$(proxy_port "$p")" "$(eval echo "\$PID_${p^^}")"; done)"
    echo "cpu quota: $CG_INFO"
    for p in $PROXIES; do sanity "$p"; done
    : >"$R/memory.txt"
    if has mem; then
        for p in $PROXIES; do
            mem_one "$p" "$(proxy_port "$p")" "$(eval echo "\$PID_${p^^}")" down
            MEMG[down:$p]=$(eval echo "\$MEM_${p}_down" | awk '{ print $1 }')
        done
        for p in $PROXIES; do
            mem_one "$p" "$(proxy_port "$p")" "$(eval echo "\$PID_${p^^}")" up
            MEMG[up:$p]=$(eval echo "\$MEM_${p}_up" | awk '{ print $1 }')
        done
    fi
    for t in small close rate large upload; do
        has "$t" && workload "$t"
    done
    if has syscalls; then
        { echo "System calls per 100 B request (bench/syscalls.sh: strace -f -c on the worker processes):"
          BUILD=0 N=$SYSCALLS_N PROXIES="$PROXIES" "$BENCH/syscalls.sh" 2>/dev/null
          BUILD=0 N=$SYSCALLS_N PROXIES="$PROXIES" CLOSE=1 "$BENCH/syscalls.sh" 2>/dev/null
        } >"$R/syscalls.txt" || die "bench/syscalls.sh failed"
    fi
    echo
    summary | tee "$R/summary.txt"
}

main "$@"
