# bench/memory.sh - the memory test of bench/run.sh: proxy child RSS
# growth while a big body streams to a slow client or from a slow origin
# (sourced, not run; uses run.sh's settings, R, BENCH, PIN_LOAD and BG).

child_status() {   # PARENT FIELD: sum of FIELD (kB) over the children
    local pid sum=0 v
    for pid in $(ps -o pid= --ppid "$1"); do
        v=$(sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$pid/status" 2>/dev/null)
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}

rate_bytes() {   # curl-style rate (20M, 500K, 1G, 123) -> bytes/s
    local n=${1%[kKmMgG]}
    case "$1" in
        *[kK]) echo $((n * 1024)) ;;
        *[mM]) echo $((n * 1048576)) ;;
        *[gG]) echo $((n * 1073741824)) ;;
        *) echo "$n" ;;
    esac
}

# MEM_<who>_<dir> = "growth_MiB hwm_growth_MiB ok|FAIL"
mem_one() {   # A|B PORT PARENT down|up
    local who=$1 port=$2 parent=$3 dir=$4 i out ok=ok size
    local rss0 hwm0 hwm1 peak sampler
    size=$((MEM_SIZE_MB * 1048576))
    # warm the child so first-use allocations are not counted as growth
    for i in 1 2 3 4 5; do
        curl -s -o /dev/null "http://127.0.0.1:$port/100b.txt"
        curl -s -o /dev/null "http://127.0.0.1:$port/1m.bin"
    done
    curl -s -o /dev/null -X POST --data-binary @"$R/docroot/1m.bin" \
        "http://127.0.0.1:$port/upload"
    sleep 0.5
    rss0=$(child_status "$parent" VmRSS)
    hwm0=$(child_status "$parent" VmHWM)
    "${PIN_LOAD[@]}" "$BENCH/rss-peak.pl" "$parent" 0.02 \
        >"$R/run/peak.$who.$dir" &
    sampler=$!
    BG+=("$sampler")
    if [ "$dir" = down ]; then
        out=$("${PIN_LOAD[@]}" curl -sS -o /dev/null --limit-rate "$MEM_RATE" \
              -w '%{http_code} %{size_download}' \
              "http://127.0.0.1:$port/big.bin" 2>&1) || true
        [ "$out" = "200 $size" ] || ok=FAIL
    else
        out=$("${PIN_LOAD[@]}" curl -sS -X POST -T "$R/docroot/big.bin" \
              -H 'Content-Type: application/octet-stream' \
              -w ' %{http_code} %{size_upload}' \
              "http://127.0.0.1:$port/upload?rate=$(rate_bytes "$MEM_RATE")" \
              2>&1) || true
        out=$(echo $out)
        [ "$out" = "received $size content-length $size 200 $size" ] \
            || ok=FAIL
    fi
    kill -TERM "$sampler"
    wait "$sampler" || true
    BG=()
    peak=$(sed -n 's/.*peak_rss_kb=\([0-9]*\).*/\1/p' "$R/run/peak.$who.$dir")
    hwm1=$(child_status "$parent" VmHWM)
    printf -v "MEM_${who}_${dir}" '%s %s %s' \
        "$(awk -v a="$peak" -v b="$rss0" 'BEGIN{printf "%.1f", (a-b)/1024}')" \
        "$(awk -v a="$hwm1" -v b="$hwm0" 'BEGIN{printf "%.1f", (a-b)/1024}')" \
        "$ok"
    echo "proxy $who $dir: rss before ${rss0} kB, peak ${peak} kB, hwm ${hwm0} -> ${hwm1} kB; client: $out [$ok] ($(cat "$R/run/peak.$who.$dir"))" \
        | tee -a "$R/memory.txt"
}
