# bench/cgroup.sh - the CPU quota of the proxies in bench/run.sh: one
# cgroup per proxy httpd, v1 cpu controller or v2 cpu.max (sourced, not run;
# uses run.sh's PROXY_CPU_QUOTA and die).
#
# On a 2-core box wrk + origin saturate their core before the proxy does;
# a CFS quota on each proxy (same for both) makes the proxy the bottleneck,
# so requests/s compares proxy CPU efficiency. The httpd is started from a
# shell that first moves itself into the cgroup; everything it forks
# (the daemonized parent, the children) inherits it.

CG_PERIOD=100000   # us
CG_KIND=none       # v1 | v2 | none
CG_INFO=""         # for the summary header
CG_DIRS=()         # cgroups created, removed on exit
CG_A=- CG_B=-      # each proxy's cgroup directory, - for none (CG_<NAME>
                   # for cg_setup NAME...: CG_RPROXY, CG_NGINX, ...)

cg_remove() {   # DIR: rmdir, retrying while the last processes exit
    local d=$1 i
    [ -d "$d" ] || return 0
    for i in $(seq 50); do
        rmdir "$d" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "bench: could not remove cgroup $d (still has: $(xargs <"$d/cgroup.procs" 2>/dev/null))" >&2
}

cg_make() {   # v1|v2 ROOT NAME QUOTA_US: create, set the quota; prints DIR
    local kind=$1 root=$2 dir=$2/$3 q=$4
    mkdir "$dir" 2>/dev/null || return 1
    CG_DIRS+=("$dir")
    if [ "$kind" = v1 ]; then
        { echo "$CG_PERIOD" >"$dir/cpu.cfs_period_us" \
            && echo "$q" >"$dir/cpu.cfs_quota_us"; } 2>/dev/null || return 1
        [ "$(cat "$dir/cpu.cfs_quota_us")" = "$q" ] || return 1
    else
        { echo "$q $CG_PERIOD" >"$dir/cpu.max"; } 2>/dev/null || return 1
        [ "$(cat "$dir/cpu.max")" = "$q $CG_PERIOD" ] || return 1
    fi
    CG_MADE=$dir
}

# cg_setup [NAME...]: one cgroup per name (default: a b), each with the
# quota, in CG_<NAME in capitals>
cg_setup() {
    local q v1 v2 kind root try n ok
    local -a names=("$@")
    [ ${#names[@]} -gt 0 ] || names=(a b)
    case "$PROXY_CPU_QUOTA" in
        0|off|none)
            CG_INFO="none (PROXY_CPU_QUOTA=$PROXY_CPU_QUOTA)"; return 0 ;;
        ''|*[!0-9]*)
            die "PROXY_CPU_QUOTA=$PROXY_CPU_QUOTA: want a percentage of one core (1-100), or 0/off" ;;
    esac
    [ "$PROXY_CPU_QUOTA" -le 100 ] \
        || die "PROXY_CPU_QUOTA=$PROXY_CPU_QUOTA: the proxies are pinned to one core; at most 100"
    q=$((PROXY_CPU_QUOTA * CG_PERIOD / 100))
    v2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
    v1=$(awk '$3 == "cgroup" && ("," $4 ",") ~ /,cpu,/ { print $2; exit }' /proc/mounts)
    try=()
    # v2 where it has the cpu controller (pure v2), else v1's cpu hierarchy
    [ -n "$v2" ] && grep -qw cpu "$v2/cgroup.controllers" 2>/dev/null \
        && try+=("v2:$v2")
    [ -n "$v1" ] && try+=("v1:$v1")
    for kind in "${try[@]}"; do
        root=${kind#*:} kind=${kind%%:*}
        if [ "$kind" = v2 ] && ! grep -qw cpu "$root/cgroup.subtree_control"; then
            { echo +cpu >"$root/cgroup.subtree_control"; } 2>/dev/null || continue
        fi
        ok=1
        for n in "${names[@]}"; do
            cg_make "$kind" "$root" "rproxy-bench-$$-$n" "$q" \
                && printf -v "CG_${n^^}" '%s' "$CG_MADE" || { ok=0; break; }
        done
        if [ "$ok" = 1 ]; then
            CG_KIND=$kind
            if [ "$kind" = v1 ]; then
                CG_INFO="$PROXY_CPU_QUOTA% of one core per proxy (cgroup v1: cpu.cfs_quota_us $q / cpu.cfs_period_us $CG_PERIOD)"
            else
                CG_INFO="$PROXY_CPU_QUOTA% of one core per proxy (cgroup v2: cpu.max \"$q $CG_PERIOD\")"
            fi
            return 0
        fi
        for root in "${CG_DIRS[@]}"; do cg_remove "$root"; done
        CG_DIRS=()
        for n in "${names[@]}"; do printf -v "CG_${n^^}" '%s' -; done
    done
    CG_INFO="NONE - no writable cpu cgroup (v1 cpu: ${v1:-not mounted}; v2: ${v2:-not mounted}); wrk+origin may be the bottleneck"
    echo "bench: WARNING: cannot set PROXY_CPU_QUOTA=$PROXY_CPU_QUOTA%: no writable cgroup v1 cpu controller or v2 cpu.max (need root and the cpu controller); running WITHOUT a quota - the load generator core may limit the proxies and the ratios say less" >&2
}

cg_check() {   # DIR PARENT: the parent and all its children are in DIR
    local dir=$1 parent=$2 p rel
    [ "$dir" = - ] && return 0
    rel=/${dir##*/}
    for p in "$parent" $(ps -o pid= --ppid "$parent"); do
        if [ "$CG_KIND" = v1 ]; then
            grep -Eq "^[0-9]+:([^:]*,)?cpu(,[^:]*)?:.*$rel\$" "/proc/$p/cgroup"
        else
            grep -q "^0::.*$rel\$" "/proc/$p/cgroup"
        fi || die "pid $p is not in cgroup $dir: $(tr '\n' ' ' <"/proc/$p/cgroup")"
    done
}

cg_stat() {   # DIR: "nr_periods nr_throttled" so far (0 0 without a quota)
    [ "$1" = - ] && { echo "0 0"; return 0; }
    awk '$1 == "nr_periods" { p = $2 } $1 == "nr_throttled" { t = $2 }
         END { printf "%d %d\n", p, t }' "$1/cpu.stat"
}
