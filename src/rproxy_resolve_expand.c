/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_resolve_expand.c - one name, several members:
 * `RProxyMember http://app.internal:8080 expand=N` stands for N members
 * ("slots", named URL#1 .. URL#N), one per address the name resolves to,
 * in the spirit of HAProxy's server-template. The slots are made when
 * the configuration is read (rproxy_pool.c), because the shared memory
 * holds one record per member and is sized at startup; each has its own
 * health checks, ejection, counters and status row.
 *
 * At startup the name is looked up once and slot i gets the i-th address
 * of the answer. Then the resolver (rproxy_resolve.c, on the prober's
 * thread) looks it up every resolve=T, on the first slot's behalf, and
 * reassigns: a slot whose address is still in the answer keeps it (its
 * pooled connections, stickiness and numbers stay with it), a slot whose
 * address left the answer becomes absent (no address: it takes no
 * request and is not checked), and an address new to the answer goes to
 * the first absent slot, which starts afresh: in rotation, not ejected.
 * Addresses beyond N are not used, and a warning says so when the
 * assignment changes. Each slot's address lives in its own shared slot
 * (one address, or none), written by the resolver only.
 */

#include "rproxy_private.h"

#include "apr_atomic.h"

/* Slot i (0-based) of the group that starts with first. */
static rproxy_member_t *
slot_of(const rproxy_member_t *first, int i)
{
    return APR_ARRAY_IDX(first->pool->members, first->index + i,
                         rproxy_member_t *);
}

int
rp_resolve_absent(const rproxy_member_t *m)
{
    rp_answer_t a;

    if (!m->group) {
        return 0;
    }
    if (m->resolve <= 0 || !rp_resolve_slot_read(m, &a)) {
        return m->addr == NULL;
    }
    return a.count == 0;
}

/* The answer has more addresses than the group has slots. */
static void
log_overflow(const rproxy_member_t *first, server_rec *s, int n)
{
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, RPLOGNO(00236)
                 "pool %s: %s has %s%d addresses, RProxyMember expand=%d "
                 "uses %d of them", first->pool->name, first->host,
                 n > RP_EXPAND_MAX ? "over " : "", n > RP_EXPAND_MAX
                 ? RP_EXPAND_MAX : n, first->expand, first->expand);
}

apr_status_t
rp_resolve_expand_startup(apr_pool_t *pconf, server_rec *s,
                          rproxy_member_t *first)
{
    rp_addr_t got[RP_EXPAND_MAX + 1];
    apr_sockaddr_t *sa;
    apr_status_t rv;
    int n, i;

    rv = apr_sockaddr_info_get(&sa, first->host, APR_UNSPEC, first->port, 0,
                               pconf);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!(n = rp_resolve_list(got, RP_EXPAND_MAX + 1, sa))) {
        return APR_EINVAL;
    }
    if (n > first->expand) {
        log_overflow(first, s, n);
    }
    for (i = 0; i < first->expand; i++) {
        rproxy_member_t *m = slot_of(first, i);

        m->addr = NULL;
        if (i < n) {
            m->addr = apr_palloc(pconf, sizeof(*m->addr));
            rp_resolve_sockaddr(m->addr, pconf, m, &got[i]);
        }
    }
    return APR_SUCCESS;
}

/* A slot that gets an address starts afresh: a new server, in rotation
 * and not ejected (its counters stay: they are the slot's). */
static void
slot_fresh(rproxy_member_t *m)
{
    rp_shm_member_t *sh = m->sh;

    apr_atomic_set32(&sh->hc_down, 0);
    apr_atomic_set32(&sh->hc_run, 0);
    apr_atomic_set32(&sh->consecutive_fails, 0);
    apr_atomic_set32(&sh->streak, 0);
    apr_atomic_set64(&sh->ejected_until, 0);
}

/* Gives the addresses of got that no slot holds (used[j] == 0) to the
 * slots left without one; returns how many found none. */
static int
fill_absent(rproxy_member_t *first, const rp_addr_t *got, const char *used,
            int n, rp_answer_t *next, char *changed)
{
    int i, j, dropped = 0;

    for (j = 0; j < n; j++) {
        if (used[j]) {
            continue;
        }
        for (i = 0; i < first->expand && next[i].count; i++) {
        }
        if (i == first->expand) {
            dropped++;
            continue;
        }
        next[i].count = 1;
        next[i].addr[0] = got[j];
        changed[i] = 1;
    }
    return dropped;
}

void
rp_resolve_expand_one(rproxy_member_t *first, apr_pool_t *p)
{
    rp_addr_t got[RP_EXPAND_MAX + 1];
    rp_answer_t next[RP_EXPAND_MAX], was;
    char used[RP_EXPAND_MAX + 1] = { 0 }, changed[RP_EXPAND_MAX] = { 0 };
    apr_time_t now = apr_time_now();
    apr_sockaddr_t *sa;
    int n, i, j, any = 0, dropped;

    if (rp_resolve_lookup(first, p, &sa) != APR_SUCCESS) {
        return;
    }
    n = rp_resolve_list(got, RP_EXPAND_MAX + 1, sa);
    /* a slot keeps its address while the answer has it */
    for (i = 0; i < first->expand; i++) {
        rp_resolve_current(slot_of(first, i), &next[i]);
        if (!next[i].count) {
            continue;
        }
        next[i].count = 1;
        for (j = 0; j < n && !rp_resolve_addr_eq(&got[j], &next[i].addr[0]);
             j++) {
        }
        if (j < n && !used[j]) {
            used[j] = 1;
        }
        else {
            memset(&next[i], 0, sizeof(next[i]));
            changed[i] = 1;
        }
    }
    dropped = fill_absent(first, got, used, n, next, changed);
    for (i = 0; i < first->expand; i++) {
        rproxy_member_t *m = slot_of(first, i);

        if (changed[i]) {
            any = 1;
            rp_resolve_current(m, &was);
            if (next[i].count) {
                slot_fresh(m);
            }
            rp_resolve_slot_write(m, &next[i]);
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, m->pool->s,
                         RPLOGNO(00234) RP_MEMBER_FMT "%s",
                         RP_MEMBER_ARGS(m), next[i].count
                         ? apr_psprintf(p, "takes %s, new in the answer "
                                        "for %s",
                                        rp_resolve_text(p, m, &next[i]),
                                        m->host)
                         : apr_psprintf(p, "absent: %s left the answer "
                                        "for %s",
                                        rp_resolve_text(p, m, &was),
                                        m->host));
        }
        apr_atomic_set64(&m->sh->resolved_at, (apr_uint64_t)now);
    }
    if (any && dropped) {
        log_overflow(first, first->pool->s, n);
    }
}
