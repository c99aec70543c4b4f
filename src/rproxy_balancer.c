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

int
rproxy_member_weight(const rproxy_member_t *m)
{
    return m->weight;
}

const char *
rproxy_member_name(const rproxy_member_t *m)
{
    return m->name;
}

apr_uint32_t
rproxy_member_inflight(const rproxy_member_t *m)
{
    return apr_atomic_read32(&((rproxy_member_t *)m)->inflight);
}

apr_interval_time_t
rproxy_member_latency(const rproxy_member_t *m)
{
    return apr_atomic_read32(&((rproxy_member_t *)m)->ewma_us);
}

int
rproxy_pool_size(const rproxy_pool_t *pool)
{
    return pool->members->nelts;
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

static int
usable(const rproxy_member_t *m, int backup, const unsigned char *tried)
{
    return !m->disabled && !m->drain && m->backup == backup
           && !(tried && tried[m->index]);
}

rproxy_member_t *
rp_balancer_pick(request_rec *r, rproxy_pool_t *pool,
                 const unsigned char *tried)
{
    int n = pool->members->nelts, count = 0, tier, i, chosen;
    rproxy_member_t **cand = apr_palloc(r->pool, n * sizeof(*cand));
    rproxy_member_t *m;

    for (tier = 0; tier < 2 && !count; tier++) {
        for (i = 0; i < n; i++) {
            m = APR_ARRAY_IDX(pool->members, i, rproxy_member_t *);
            if (usable(m, tier, tried)) {
                cand[count++] = m;
            }
        }
    }
    if (!count) {
        return NULL;
    }
    chosen = count == 1 ? 0 : pool->lb->pick(pool->lb_state, r, cand, count);
    if (chosen < 0 || chosen >= count) {
        return NULL;
    }
    m = cand[chosen];
    apr_atomic_inc32(&m->inflight);
    return m;
}

/* Peak-EWMA: a slow response counts in full at once, so a member that
 * turns slow is avoided from its first slow answer; faster ones pull the
 * value down by 1/8 of the difference (rounded so that it converges), so
 * it takes a run of fast answers to look fast again. A CAS loop because
 * other threads (and, with shared state, other children) update it too. */
static void
observe_latency(rproxy_member_t *m, apr_interval_time_t latency)
{
    apr_uint32_t sample, old, upd;

    sample = latency <= 0 ? 1
             : latency >= APR_UINT32_MAX ? APR_UINT32_MAX
             : (apr_uint32_t)latency;       /* 0 means "not known yet" */
    do {
        old = apr_atomic_read32(&m->ewma_us);
        upd = sample >= old ? sample
              : old - (apr_uint32_t)(((apr_uint64_t)old - sample + 7) / 8);
    } while (apr_atomic_cas32(&m->ewma_us, upd, old) != old);
}

void
rp_balancer_release(request_rec *r, rproxy_member_t *m,
                    rproxy_outcome_e outcome, apr_time_t started)
{
    rproxy_pool_t *pool = m->pool;
    apr_interval_time_t latency = apr_time_now() - started;

    apr_atomic_dec32(&m->inflight);
    /* a refused connect or a malformed answer says nothing about how fast
     * the member responds; a timeout does */
    if (outcome == RPROXY_OUTCOME_OK || outcome == RPROXY_OUTCOME_TIMEOUT) {
        observe_latency(m, latency);
    }
    if (pool->lb->release) {
        pool->lb->release(pool->lb_state, r, m, outcome, latency);
    }
}
