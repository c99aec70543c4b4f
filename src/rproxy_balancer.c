/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_balancer.c - the core side of the balancer provider API: finding
 * providers by name, filtering the candidates, and the accessors that
 * mod_rproxy.h promises to balancers.
 *
 * The core decides who may take a request (not disabled, not draining, not
 * already tried for this request; backups only when no primary is left);
 * the balancer only chooses among those.
 */

#include "rproxy_private.h"

#include "ap_provider.h"
#include "apr_atomic.h"

int
rproxy_member_index(const rproxy_member_t *m)
{
    return m->index;
}

apr_time_t
rp_balancer_back_since(const rproxy_member_t *m)
{
    apr_time_t ejected = (apr_time_t)apr_atomic_read64(&m->sh->ejected_until);
    apr_time_t hc_up = rp_shm_hc_down(m)
                       ? 0 : (apr_time_t)apr_atomic_read64(&m->sh->hc_changed);

    return ejected > hc_up ? ejected : hc_up;
}

/* With RProxySlowStart T, a member back from an ejection ramps its weight
 * linearly from 1 to the one in force over T, so that it is not hit by a
 * full share of the traffic while its caches are cold. The weight in
 * force is the configured one or what an operator set at run time
 * (rp_shm_weight); slow start scales either. */
int
rproxy_member_weight(const rproxy_member_t *m)
{
    apr_interval_time_t ramp = m->pool->slow_start;
    apr_time_t back, now;
    apr_int64_t w;
    int full;

    /* no shared state yet: create() at configuration time */
    if (!m->sh) {
        return m->weight;
    }
    full = rp_shm_weight(m);
    if (ramp <= 0 || !(back = rp_balancer_back_since(m))) {
        return full;
    }
    now = apr_time_now();
    if (now <= back || now - back >= ramp) {
        return full;
    }
    w = (apr_int64_t)full * (now - back) / ramp;
    return w < 1 ? 1 : (int)w;
}

const char *
rproxy_member_name(const rproxy_member_t *m)
{
    return m->name;
}

apr_uint32_t
rproxy_member_inflight(const rproxy_member_t *m)
{
    return apr_atomic_read32(&m->sh->inflight);
}

apr_interval_time_t
rproxy_member_latency(const rproxy_member_t *m)
{
    return apr_atomic_read32(&m->sh->ewma_us);
}

int
rproxy_pool_size(const rproxy_pool_t *pool)
{
    return pool->members->nelts;
}

rproxy_member_t *
rproxy_pool_member(const rproxy_pool_t *pool, int i)
{
    if (i < 0 || i >= pool->members->nelts) {
        return NULL;
    }
    return APR_ARRAY_IDX(pool->members, i, rproxy_member_t *);
}

const char *
rproxy_pool_name(const rproxy_pool_t *pool)
{
    return pool->name;
}

apr_thread_mutex_t *
rproxy_pool_lock(rproxy_pool_t *pool)
{
    return pool->mutex;
}

apr_uint32_t
rproxy_pool_ticket(rproxy_pool_t *pool)
{
    return apr_atomic_inc32(&pool->sh->ticket);
}

const char *
rp_balancer_lookup(apr_pool_t *p, const char *name,
                   const rproxy_balancer_t **lb)
{
    apr_array_header_t *names;
    const char *list = "";
    int i;

    *lb = ap_lookup_provider(RPROXY_BALANCER_GROUP, name,
                             RPROXY_BALANCER_VERSION);
    if (*lb) {
        return NULL;
    }
    names = ap_list_provider_names(p, RPROXY_BALANCER_GROUP,
                                   RPROXY_BALANCER_VERSION);
    for (i = 0; names && i < names->nelts; i++) {
        list = apr_pstrcat(p, list, i ? ", " : "",
                           APR_ARRAY_IDX(names, i,
                                         ap_list_provider_names_t).provider_name,
                           NULL);
    }
    return apr_psprintf(p, "unknown balancer '%s' (registered: %s)",
                        name, list);
}

/* Could m take the request if it had a free slot? Not disabled or
 * draining, not tried yet, not failing its health check, not ejected. */
static int
member_eligible(const rproxy_member_t *m, const unsigned char *tried,
                apr_time_t now)
{
    return !rp_shm_admin(m) && !tried[m->index] && !rp_shm_hc_down(m)
           && !rp_outlier_ejected(m, now) && !rp_resolve_absent(m);
}

static int
member_below_cap(const rproxy_member_t *m)
{
    return !m->max_conns || apr_atomic_read32(&m->sh->inflight)
                            < (apr_uint32_t)m->max_conns;
}

/* May m take a request now? Eligible, in the tier being filled, below its
 * max_conns. */
static int
member_usable(const rproxy_member_t *m, int backup,
              const unsigned char *tried, apr_time_t now)
{
    return m->backup == backup && member_eligible(m, tried, now)
           && member_below_cap(m);
}

rp_slots_e
rp_balancer_slots(const rproxy_pool_t *pool, const unsigned char *tried)
{
    apr_time_t now = apr_time_now();
    rp_slots_e slots = RP_SLOTS_NONE;
    int i;

    for (i = 0; i < pool->members->nelts; i++) {
        const rproxy_member_t *m = APR_ARRAY_IDX(pool->members, i,
                                                 rproxy_member_t *);
        if (!member_eligible(m, tried, now)) {
            continue;
        }
        if (member_below_cap(m)) {
            return RP_SLOTS_FREE;
        }
        slots = RP_SLOTS_FULL;
    }
    return slots;
}

/* Takes an in-flight slot; with max_conns, only while one is free (the
 * cap holds across all children, so the check and the increment are one
 * compare-and-swap). */
static int
member_claim(rproxy_member_t *m)
{
    if (!m->max_conns) {
        apr_atomic_inc32(&m->sh->inflight);
        return 1;
    }
    return rp_shm_inc_below(&m->sh->inflight, (apr_uint32_t)m->max_conns);
}

rproxy_member_t *
rp_balancer_take(rproxy_member_t *m, const unsigned char *tried)
{
    /* a draining member still takes the requests pinned to it */
    if ((rp_shm_admin(m) & RP_ADMIN_DISABLED) || tried[m->index]
        || rp_shm_hc_down(m) || rp_outlier_ejected(m, apr_time_now())
        || rp_resolve_absent(m) || !member_claim(m)) {
        return NULL;
    }
    return m;
}

static int
pool_candidates(rproxy_pool_t *pool, const unsigned char *tried,
                rproxy_member_t **cand)
{
    apr_time_t now = apr_time_now();
    int n = pool->members->nelts, count = 0, tier, i;

    for (tier = 0; tier < 2 && !count; tier++) {
        for (i = 0; i < n; i++) {
            rproxy_member_t *m = APR_ARRAY_IDX(pool->members, i,
                                               rproxy_member_t *);
            if (member_usable(m, tier, tried, now)) {
                cand[count++] = m;
            }
        }
    }
    return count;
}

rproxy_member_t *
rp_balancer_pick(request_rec *r, rproxy_pool_t *pool,
                 const unsigned char *tried)
{
    int n = pool->members->nelts, count, chosen, round;
    rproxy_member_t **cand = apr_palloc(r->pool, n * sizeof(*cand));
    unsigned char *skip = apr_pmemdup(r->pool, tried, n);
    rproxy_member_t *m;

    /* a member that filled up between the filter and the claim is left
     * out and the balancer asked again */
    for (round = 0; round < n; round++) {
        if (!(count = pool_candidates(pool, skip, cand))) {
            return NULL;
        }
        /* a lone candidate is taken without asking: pick() always gets
         * two or more (mod_rproxy.h) */
        chosen = count == 1 ? 0
                 : pool->lb->pick(pool->lb_state, r, cand, count);
        if (chosen < 0 || chosen >= count) {
            return NULL;
        }
        m = cand[chosen];
        if (member_claim(m)) {
            return m;
        }
        skip[m->index] = 1;
    }
    return NULL;
}

void
rp_balancer_release(request_rec *r, rproxy_member_t *m,
                    rproxy_outcome_e outcome, apr_interval_time_t latency,
                    const rp_bytes_t *io)
{
    rproxy_pool_t *pool = m->pool;

    apr_atomic_dec32(&m->sh->inflight);
    rp_shm_count(m, outcome, latency, io);
    rp_outlier_report(m, outcome);
    if (pool->lb->release) {
        pool->lb->release(pool->lb_state, r, m, outcome, latency);
    }
}
