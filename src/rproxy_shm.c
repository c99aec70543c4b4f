/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_shm.c - the per-member state every child process shares: in
 * flight requests, counters and smoothed latency.
 *
 * Layout: one anonymous shared segment, made by the parent in post_config
 * and inherited by the children it forks: a header (magic, version, record
 * size, count) and one rp_shm_member_t per configured member, found by the
 * pool and member names, then one rp_shm_pool_t per pool (retry budget
 * window, RProxyQueue's count of waiting requests), zeroed at every start,
 * then the per-second history of pools and members (rproxy_history.c),
 * zeroed at every start too.
 *
 * Consistency model: every field is written with APR atomics by whichever
 * child serves the request, without locks; readers see each field
 * atomically but not a snapshot of all fields together. Counters only
 * grow; inflight is a gauge (incremented when a member is picked,
 * decremented when the try ends). A try adds its bytes and its latency
 * sample when it ends, one atomic add per counter, so a long response
 * or tunnel shows in bytes_in/bytes_out only once it is over.
 *
 * Full restart (and first start): pre_mpm zeroes every record.
 * Graceful restart: the segment is made anew for the new configuration,
 * and each member whose pool and name existed before takes over the old
 * record: counters, latency, ejection and health state (inflight starts
 * at 0: requests of the old generation finish on the old segment, which
 * those children still map; the address a re-resolved member moved to is
 * forgotten, as the new generation looked its name up at startup). The administrative state (drain, disabled)
 * and the weight are the new configuration's, unless an operator changed
 * them at run time (RProxyStatusManage, rproxy_manage.c marks them in
 * `overridden`): those changes are kept, until a full restart.
 * The old segment is then released by the parent.
 *
 * Only the records live here, with their atomic helpers and a reader that
 * copies one member's record (rp_shm_snapshot). What the numbers mean for
 * routing lives with the code that decides: ejection in rproxy_outlier.c,
 * the retry budget next to the retry decision in rproxy_forward.c, slow
 * start in rproxy_balancer.c, health state in rproxy_health.c.
 */

#include "rproxy_private.h"
#include "rproxy_history.h"

#include "http_core.h"
#include "apr_atomic.h"
#include "apr_shm.h"

#define RP_SHM_MAGIC    0x52505348u     /* "RPSH" */
#define RP_SHM_VERSION  6u
#define RP_SHM_KEY      "mod_rproxy-shm"

const apr_uint32_t rp_lat_bounds_ms[] = { RP_LAT_BUCKETS_MS };

/* one bucket per bound, and the last one for everything slower */
typedef char rp_lat_buckets_match[(sizeof(rp_lat_bounds_ms)
                                   / sizeof(rp_lat_bounds_ms[0])
                                   == RP_LAT_NBUCKETS - 1) ? 1 : -1];

typedef struct {
    apr_uint32_t magic;
    apr_uint32_t version;
    apr_uint32_t record_size;
    apr_uint32_t count;             /* member records, then pool records */
    apr_uint32_t pool_count;
} rp_shm_header_t;

/* Survives reconfiguration in the parent process. */
typedef struct {
    apr_shm_t *shm;
} rp_shm_retained_t;

/* Records start 8-byte aligned, as their 64-bit atomics need (a 64-bit
 * atomic on a misaligned address is not atomic across cache lines). */
#define RP_SHM_RECORDS_OFF  APR_ALIGN(sizeof(rp_shm_header_t), 8)

static rp_shm_member_t *
shm_records(rp_shm_header_t *h)
{
    return (rp_shm_member_t *)((char *)h + RP_SHM_RECORDS_OFF);
}

static rp_shm_header_t *
valid_header(apr_shm_t *shm)
{
    rp_shm_header_t *h = shm ? apr_shm_baseaddr_get(shm) : NULL;

    if (!h || h->magic != RP_SHM_MAGIC || h->version != RP_SHM_VERSION
        || h->record_size != sizeof(rp_shm_member_t)) {
        return NULL;
    }
    return h;
}

/* The old record of the same pool and member, if there was one. */
static rp_shm_member_t *
find_old(rp_shm_header_t *old, const rproxy_member_t *m)
{
    apr_uint32_t i;

    for (i = 0; old && i < old->count; i++) {
        rp_shm_member_t *o = &shm_records(old)[i];

        if (!strcmp(o->pool, m->pool->name) && !strcmp(o->member, m->name)) {
            return o;
        }
    }
    return NULL;
}

static apr_uint32_t
config_admin(const rproxy_member_t *m)
{
    return (m->drain ? RP_ADMIN_DRAIN : 0)
           | (m->disabled ? RP_ADMIN_DISABLED : 0);
}

static void
fill_record(rp_shm_member_t *rec, rproxy_member_t *m, rp_shm_header_t *old)
{
    rp_shm_member_t *o = find_old(old, m);

    if (o) {
        memcpy(rec, o, sizeof(*rec));
        /* requests of the old generation end on the old segment */
        rec->inflight = 0;
        rec->consecutive_fails = 0;
        /* the new generation looked the member's name up at startup */
        rp_resolve_shm_reset(rec);
    }
    apr_cpystrn(rec->pool, m->pool->name, sizeof(rec->pool));
    apr_cpystrn(rec->member, m->name, sizeof(rec->member));
    /* the new configuration wins for what it sets, unless an operator
     * changed it at run time */
    if (!(rec->overridden & RP_OVERRIDE_ADMIN)) {
        rec->admin = config_admin(m);
    }
    if (!(rec->overridden & RP_OVERRIDE_WEIGHT)) {
        rec->weight = (apr_uint32_t)m->weight;
    }
    m->sh = rec;
}

static apr_size_t
member_count(void)
{
    apr_size_t n = 0;
    int i;

    for (i = 0; i < rp_globals.pools->nelts; i++) {
        n += APR_ARRAY_IDX(rp_globals.pools, i, rproxy_pool_t *)
                 ->members->nelts;
    }
    return n;
}

int
rp_shm_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                   server_rec *s)
{
    rp_shm_retained_t *kept = ap_retained_data_get(RP_SHM_KEY);
    apr_size_t n = member_count(), k = 0, pools_off;
    rp_shm_header_t *h, *old;
    apr_shm_t *shm;
    apr_status_t rv;
    int i, j;

    (void)pconf;
    (void)plog;
    (void)ptemp;
    if (!kept) {
        kept = ap_retained_data_create(RP_SHM_KEY, sizeof(*kept));
    }
    pools_off = RP_SHM_RECORDS_OFF + (n ? n : 1) * sizeof(rp_shm_member_t);
    rv = apr_shm_create(&shm, pools_off + rp_globals.pools->nelts
                        * sizeof(rp_shm_pool_t)
                        + rp_history_size(rp_globals.pools->nelts, n),
                        NULL, s->process->pool);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, RPLOGNO(00070)
                     "cannot create shared memory for %" APR_SIZE_T_FMT
                     " members", n);
        return !OK;
    }
    h = apr_shm_baseaddr_get(shm);
    memset(h, 0, apr_shm_size_get(shm));
    old = valid_header(kept->shm);
    for (i = 0; i < rp_globals.pools->nelts; i++) {
        rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, i,
                                            rproxy_pool_t *);

        for (j = 0; j < pool->members->nelts; j++) {
            fill_record(&shm_records(h)[k++],
                        APR_ARRAY_IDX(pool->members, j, rproxy_member_t *),
                        old);
        }
    }
    for (i = 0; i < rp_globals.pools->nelts; i++) {
        rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, i,
                                            rproxy_pool_t *);

        pool->sh = (rp_shm_pool_t *)(shm_records(h) + (n ? n : 1)) + i;
        apr_cpystrn(pool->sh->pool, pool->name, sizeof(pool->sh->pool));
    }
    rp_history_attach((char *)h + pools_off + rp_globals.pools->nelts
                      * sizeof(rp_shm_pool_t));
    h->count = (apr_uint32_t)n;
    h->pool_count = (apr_uint32_t)rp_globals.pools->nelts;
    h->record_size = sizeof(rp_shm_member_t);
    h->version = RP_SHM_VERSION;
    h->magic = RP_SHM_MAGIC;
    if (kept->shm) {
        apr_shm_destroy(kept->shm);
    }
    kept->shm = shm;
    return OK;
}

/* The MPMs run pre_mpm at the first start and on every restart that is
 * not graceful, in the parent, before any child is forked: the place to
 * forget what the previous generation learned. */
int
rp_shm_pre_mpm(apr_pool_t *p, ap_scoreboard_e sb_type)
{
    int i, j;

    (void)p;
    (void)sb_type;
    for (i = 0; i < rp_globals.pools->nelts; i++) {
        rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, i,
                                            rproxy_pool_t *);

        for (j = 0; j < pool->members->nelts; j++) {
            rproxy_member_t *m = APR_ARRAY_IDX(pool->members, j,
                                               rproxy_member_t *);
            rp_shm_member_t *rec = m->sh;
            apr_size_t id = APR_OFFSETOF(rp_shm_member_t, admin);

            if (!rec) {
                continue;
            }
            /* keep the identity (pool and member names lead the record);
             * runtime changes go back to the configuration */
            memset((char *)rec + id, 0, sizeof(*rec) - id);
            rec->admin = config_admin(m);
            rec->weight = (apr_uint32_t)m->weight;
        }
    }
    return OK;
}

/* Raises a shared gauge by one unless it has reached cap; the check and
 * the increment are one compare-and-swap, so the cap holds across all
 * children. Returns whether it was raised. */
int
rp_shm_inc_below(volatile apr_uint32_t *gauge, apr_uint32_t cap)
{
    apr_uint32_t cur;

    do {
        cur = apr_atomic_read32(gauge);
        if (cur >= cap) {
            return 0;
        }
    } while (apr_atomic_cas32(gauge, cur + 1, cur) != cur);
    return 1;
}

apr_uint32_t
rp_shm_admin(const rproxy_member_t *m)
{
    return apr_atomic_read32(&m->sh->admin);
}

int
rp_shm_weight(const rproxy_member_t *m)
{
    apr_uint32_t w = apr_atomic_read32(&m->sh->weight);

    return w ? (int)w : m->weight;
}

apr_uint32_t
rp_shm_set_admin(rproxy_member_t *m, apr_uint32_t set, apr_uint32_t clear)
{
    apr_uint32_t cur, o;

    do {
        cur = apr_atomic_read32(&m->sh->admin);
    } while (apr_atomic_cas32(&m->sh->admin, (cur | set) & ~clear, cur)
             != cur);
    do {
        o = apr_atomic_read32(&m->sh->overridden);
    } while (apr_atomic_cas32(&m->sh->overridden, o | RP_OVERRIDE_ADMIN, o)
             != o);
    return cur;
}

apr_uint32_t
rp_shm_set_weight(rproxy_member_t *m, apr_uint32_t weight)
{
    apr_uint32_t o, before = apr_atomic_xchg32(&m->sh->weight, weight);

    do {
        o = apr_atomic_read32(&m->sh->overridden);
    } while (apr_atomic_cas32(&m->sh->overridden, o | RP_OVERRIDE_WEIGHT, o)
             != o);
    return before ? before : (apr_uint32_t)m->weight;
}

/* Counters only: the gauges (in flight, latency EWMA) and the ejection
 * and health state say what is true now and stay. */
void
rp_shm_reset_counters(rproxy_member_t *m)
{
    rp_shm_member_t *sh = m->sh;
    int i;

    apr_atomic_set64(&sh->requests, 0);
    apr_atomic_set64(&sh->failures, 0);
    apr_atomic_set64(&sh->ejections, 0);
    apr_atomic_set64(&sh->bytes_in, 0);
    apr_atomic_set64(&sh->bytes_out, 0);
    apr_atomic_set64(&sh->lat_sum_us, 0);
    for (i = 0; i < RP_LAT_NBUCKETS; i++) {
        apr_atomic_set64(&sh->lat_hist[i], 0);
    }
    apr_atomic_set64(&sh->hc_checks, 0);
    apr_atomic_set64(&sh->hc_failed, 0);
}

int
rp_shm_hc_down(const rproxy_member_t *m)
{
    return apr_atomic_read32(&m->sh->hc_down) != 0;
}

/* Absent (an expand= slot without an address) first, then disabled,
 * failed health checks, ejected, draining: the reason that keeps the
 * member out longest, or that an operator set. */
static rp_member_state_e
member_state(const rproxy_member_t *m, apr_time_t now)
{
    apr_uint32_t admin = rp_shm_admin(m);

    if (rp_resolve_absent(m)) {
        return RP_MEMBER_ABSENT;
    }
    if (admin & RP_ADMIN_DISABLED) {
        return RP_MEMBER_DISABLED;
    }
    if (rp_shm_hc_down(m)) {
        return RP_MEMBER_HEALTH_FAILED;
    }
    if ((apr_time_t)apr_atomic_read64(&m->sh->ejected_until) > now) {
        return RP_MEMBER_EJECTED;
    }
    if (admin & RP_ADMIN_DRAIN) {
        return RP_MEMBER_DRAINING;
    }
    return m->backup ? RP_MEMBER_BACKUP : RP_MEMBER_UP;
}

void
rp_shm_snapshot(const rproxy_member_t *m, apr_time_t now,
                rp_member_snap_t *s)
{
    rp_shm_member_t *sh = m->sh;
    int i;

    s->state = member_state(m, now);
    s->admin = rp_shm_admin(m);
    s->weight = rproxy_member_weight(m);
    s->inflight = apr_atomic_read32(&sh->inflight);
    s->requests = apr_atomic_read64(&sh->requests);
    s->failures = apr_atomic_read64(&sh->failures);
    s->ejections = apr_atomic_read64(&sh->ejections);
    s->ewma_us = apr_atomic_read32(&sh->ewma_us);
    s->bytes_in = apr_atomic_read64(&sh->bytes_in);
    s->bytes_out = apr_atomic_read64(&sh->bytes_out);
    s->lat_count = 0;
    for (i = 0; i < RP_LAT_NBUCKETS; i++) {
        s->lat_hist[i] = apr_atomic_read64(&sh->lat_hist[i]);
        s->lat_count += s->lat_hist[i];
    }
    s->lat_sum_us = apr_atomic_read64(&sh->lat_sum_us);
    s->hc_checks = apr_atomic_read64(&sh->hc_checks);
    s->hc_failed = apr_atomic_read64(&sh->hc_failed);
    s->hc_status = apr_atomic_read32(&sh->hc_status);
}

/* The latency histogram's bucket of a sample: the first whose bound it
 * does not exceed (Prometheus' "le"), else the last one. */
static int
latency_bucket(apr_uint64_t us)
{
    int i = 0;

    while (i < RP_LAT_NBUCKETS - 1
           && us > (apr_uint64_t)rp_lat_bounds_ms[i] * 1000) {
        i++;
    }
    return i;
}

void
rp_shm_count(rproxy_member_t *m, rproxy_outcome_e outcome,
             apr_interval_time_t latency, const rp_bytes_t *io)
{
    rp_shm_member_t *sh = m->sh;
    apr_uint32_t cur, next, sample;
    apr_uint64_t us;
    int bucket;

    apr_atomic_inc64(&sh->requests);
    if (io && io->in) {
        apr_atomic_add64(&sh->bytes_in, io->in);
    }
    if (io && io->out) {
        apr_atomic_add64(&sh->bytes_out, io->out);
    }
    if (outcome != RPROXY_OUTCOME_OK) {
        apr_atomic_inc64(&sh->failures);
    }
    /* a refused connect or a malformed answer says nothing about how fast
     * the member responds; a timeout does (it lands in the bucket of the
     * timeout that ran out, or above) */
    if (outcome != RPROXY_OUTCOME_OK && outcome != RPROXY_OUTCOME_TIMEOUT) {
        rp_history_count(m, 1, -1, apr_time_now());
        return;
    }
    us = latency > 0 ? (apr_uint64_t)latency : 0;
    bucket = latency_bucket(us);
    apr_atomic_inc64(&sh->lat_hist[bucket]);
    apr_atomic_add64(&sh->lat_sum_us, us);
    rp_history_count(m, outcome != RPROXY_OUTCOME_OK, bucket,
                     apr_time_now());
    /* peak EWMA: a slower sample counts at once, a faster one decays in
     * with weight 1/8, so a member that turns slow is noticed quickly */
    sample = latency > APR_UINT32_MAX ? APR_UINT32_MAX
                                      : (apr_uint32_t)(latency > 0 ? latency
                                                                   : 1);
    do {
        cur = apr_atomic_read32(&sh->ewma_us);
        next = (sample >= cur || !cur) ? sample
                                       : cur - (cur - sample + 7) / 8;
    } while (apr_atomic_cas32(&sh->ewma_us, next, cur) != cur);
}
