/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_status_hook.c - mod_rproxy's section of mod_status's
 * server-status page: one line per pool with its members up and in all,
 * the tries in flight, the requests queued, and the tries ended and
 * failed since the shared records were made. Both forms come from the
 * same sums: an HTML table, and for ?auto (AP_STATUS_SHORT) one line per
 * pool,
 *
 *   RProxyPool NAME: members=N up=N inflight=N queued=N requests=N failures=N
 *
 * a fixed order of space-separated key=value pairs after the pool's name
 * and a colon, so that a script can split it (docs/operations.md). The
 * numbers are those of the rproxy-status handler (rproxy_status.c), read
 * the same way: each member's record once, without a lock.
 */

#include "rproxy_private.h"

#include "http_protocol.h"
#include "apr_atomic.h"
#include "mod_status.h"

/* One pool's sums over its members. */
typedef struct {
    int members, up;
    apr_uint64_t inflight, queued, requests, failures;
} pool_sums_t;

static void
pool_sum(const rproxy_pool_t *pool, apr_time_t now, pool_sums_t *t)
{
    rp_member_snap_t s;
    int i;

    memset(t, 0, sizeof(*t));
    t->members = pool->members->nelts;
    t->queued = pool->sh ? apr_atomic_read32(&pool->sh->queued) : 0;
    for (i = 0; i < pool->members->nelts; i++) {
        const rproxy_member_t *m = APR_ARRAY_IDX(pool->members, i,
                                                 rproxy_member_t *);

        if (!m->sh) {
            continue;
        }
        rp_shm_snapshot(m, now, &s);
        /* as the rproxy-status page counts it: a backup that is up is up */
        t->up += s.state == RP_MEMBER_UP || s.state == RP_MEMBER_BACKUP;
        t->inflight += s.inflight;
        t->requests += s.requests;
        t->failures += s.failures;
    }
}

static void
emit_short(request_rec *r, const rproxy_pool_t *pool, const pool_sums_t *t)
{
    ap_rprintf(r, "RProxyPool %s: members=%d up=%d inflight=%" APR_UINT64_T_FMT
               " queued=%" APR_UINT64_T_FMT " requests=%" APR_UINT64_T_FMT
               " failures=%" APR_UINT64_T_FMT "\n", pool->name, t->members,
               t->up, t->inflight, t->queued, t->requests, t->failures);
}

static void
emit_row(request_rec *r, const rproxy_pool_t *pool, const pool_sums_t *t)
{
    ap_rprintf(r, "<tr><td>%s</td><td>%d/%d</td><td>%" APR_UINT64_T_FMT
               "</td><td>%" APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT
               "</td><td>%" APR_UINT64_T_FMT "</td></tr>\n",
               ap_escape_html(r->pool, pool->name), t->up, t->members,
               t->inflight, t->queued, t->requests, t->failures);
}

static int
rp_status_hook(request_rec *r, int flags)
{
    apr_time_t now = apr_time_now();
    int short_form = flags & AP_STATUS_SHORT;
    pool_sums_t t;
    int i;

    if (!rp_globals.pools || !rp_globals.pools->nelts) {
        return OK;
    }
    if (!short_form) {
        ap_rputs("<hr />\n<h2>mod_rproxy pools</h2>\n"
                 "<table border=\"1\"><tr><th>Pool</th><th>Up/members</th>"
                 "<th>In flight</th><th>Queued</th><th>Requests</th>"
                 "<th>Failures</th></tr>\n", r);
    }
    for (i = 0; i < rp_globals.pools->nelts; i++) {
        const rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, i,
                                                  rproxy_pool_t *);

        pool_sum(pool, now, &t);
        if (short_form) {
            emit_short(r, pool, &t);
        }
        else {
            emit_row(r, pool, &t);
        }
    }
    if (!short_form) {
        ap_rputs("</table>\n<p>Requests and failures count tries on the "
                 "pool's members; per member: the rproxy-status "
                 "handler.</p>\n", r);
    }
    return OK;
}

void
rp_status_hook_register(void)
{
    APR_OPTIONAL_HOOK(ap, status_hook, rp_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
