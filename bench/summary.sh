# bench/summary.sh - the summary table of bench/run.sh (results/summary.txt)
# from what the tests left in TP_*, CONNS_*, BUSY_*, US_*, THR_*, ROUNDS_*,
# MEM_*, SANITY_* and ERR_* (sourced, not run).

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
atleast() { awk -v r="$1" -v t="$2" 'BEGIN { print (r != "n/a" && r + 0 >= t) ? "PASS" : "FAIL" }'; }
below() { awk -v g="$1" -v t="$2" -v ok="$3" 'BEGIN { print (ok == "ok" && g + 0 < t) ? "PASS" : "FAIL" }'; }

# summary REPLACED_A REPLACED_B TROUBLE_A TROUBLE_B: the table on stdout;
# REPLACED_x is yes/no (a proxy child replaced during the run), TROUBLE_x
# the number of error_log lines that mean trouble.
summary() {
    local replaced_a=$1 replaced_b=$2 trouble_a=$3 trouble_b=$4 t
    echo "mod_rproxy bench, $(date -u '+%Y-%m-%d %H:%M UTC'), $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?')"
    if [ ${#PIN_PROXY[@]} -gt 0 ]; then
        echo "proxies: mpm_event 1 child x $THREADS threads on cpu $PROXY_CPU; wrk -t$WRK_THREADS -c$CONNS, origin and clients on cpu $LOAD_CPU"
    else
        echo "proxies: mpm_event 1 child x $THREADS threads; wrk -t$WRK_THREADS -c$CONNS; nothing pinned (one core)"
    fi
    echo "proxy cpu quota: $CG_INFO"
    echo "throughput: median of $ROUNDS interleaved runs of ${DURATION}s; memory: ${MEM_SIZE_MB} MiB at $MEM_RATE/s"
    echo
    printf '%-34s %12s %12s %7s  %s\n' "" "mod_rproxy" "mod_proxy" "ratio" "target"
    case " $TESTS " in *" small "*)
        t=$(ratio "$TP_small_A" "$TP_small_B")
        printf '%-34s %12s %12s %7s  %s\n' "100 B keep-alive, req/s" \
            "$TP_small_A" "$TP_small_B" "$t" ">= 1.0x $(atleast "$t" 1.0)"
        printf '%-34s %12s %12s\n' "  new backend connections/run" \
            "$CONNS_small_A" "$CONNS_small_B"
        printf '%-34s %12s %12s\n' "  proxy core busy, %" \
            "$BUSY_small_A" "$BUSY_small_B"
        printf '%-34s %12s %12s\n' "  proxy cpu per request, us" \
            "$US_small_A" "$US_small_B"
        [ "$CG_KIND" = none ] \
            || printf '%-34s %12s %12s\n' "  quota periods throttled, %" \
                "$THR_small_A" "$THR_small_B"
        printf '    rounds A: %s\n    rounds B: %s\n' "$ROUNDS_small_A" "$ROUNDS_small_B" ;;
    esac
    case " $TESTS " in *" large "*)
        t=$(ratio "$TP_large_A" "$TP_large_B")
        printf '%-34s %12s %12s %7s  %s\n' "1 MiB, MB/s" \
            "$TP_large_A" "$TP_large_B" "$t" ">= 2.0x $(atleast "$t" 2.0)"
        printf '%-34s %12s %12s\n' "  new backend connections/run" \
            "$CONNS_large_A" "$CONNS_large_B"
        printf '%-34s %12s %12s\n' "  proxy core busy, %" \
            "$BUSY_large_A" "$BUSY_large_B"
        printf '%-34s %12s %12s\n' "  proxy cpu per request, us" \
            "$US_large_A" "$US_large_B"
        [ "$CG_KIND" = none ] \
            || printf '%-34s %12s %12s\n' "  quota periods throttled, %" \
                "$THR_large_A" "$THR_large_B"
        printf '    rounds A: %s\n    rounds B: %s\n' "$ROUNDS_large_A" "$ROUNDS_large_B" ;;
    esac
    case " $TESTS " in *" mem "*)
        local d label ma mb
        for d in down up; do
            label="${MEM_SIZE_MB} MiB download (slow client)"
            [ "$d" = up ] && label="${MEM_SIZE_MB} MiB upload (slow origin)"
            eval "ma=\$MEM_A_$d mb=\$MEM_B_$d"
            set -- $ma; local ga=$1 ha=$2 oka=$3
            set -- $mb; local gb=$1 hb=$2 okb=$3
            printf '%-34s %12s %12s %7s  %s\n' "$label" "" "" "" ""
            printf '%-34s %12s %12s %7s  %s\n' "  RSS growth (peak), MiB" \
                "$ga" "$gb" "" "< 2 $(below "$ga" 2 "$oka")"
            printf '%-34s %12s %12s\n' "  VmHWM growth, MiB" "$ha" "$hb"
            printf '%-34s %12s %12s\n' "  transfer complete" "$oka" "$okb"
        done ;;
    esac
    printf '%-34s %12s %12s\n' "sanity (bytes match origin)" "$SANITY_A" "$SANITY_B"
    printf '%-34s %12s %12s\n' "wrk errors + non-2xx" "$ERR_A" "$ERR_B"
    printf '%-34s %12s %12s\n' "error_log lines >= error/crash" "$trouble_a" "$trouble_b"
    printf '%-34s %12s %12s\n' "child replaced during run" \
        "$([ "$kids_a0" = "$kids_a1" ] && echo no || echo "yes")" \
        "$([ "$kids_b0" = "$kids_b1" ] && echo no || echo "yes")"
    if [ "$trouble_a" != 0 ]; then
        echo; echo "proxy A error_log (first 10 of $trouble_a):"
        log_trouble "$R/logs/proxy-a_error.log" | head -n 10
    fi
    if [ "$trouble_b" != 0 ]; then
        echo; echo "proxy B error_log (first 10 of $trouble_b):"
        log_trouble "$R/logs/proxy-b_error.log" | head -n 10
    fi
}
