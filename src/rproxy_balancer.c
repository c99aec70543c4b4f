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

void
rp_balancer_release(request_rec *r, rproxy_member_t *m,
                    rproxy_outcome_e outcome, apr_time_t started)
{
    rproxy_pool_t *pool = m->pool;

    apr_atomic_dec32(&m->inflight);
    if (pool->lb->release) {
        pool->lb->release(pool->lb_state, r, m, outcome,
                          apr_time_now() - started);
    }
}
