/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_resolve.c - members that move: a member named by a host name is
 * looked up again every resolve=T (the member's, else its pool's, else
 * 30 s; never for a literal address or a Unix socket).
 *
 * One resolver per server: the health prober's watchdog thread
 * (rproxy_health.c) calls rp_resolve_tick(), which runs the lookups that
 * are due on the prober's threads, at most one per member at a time. When
 * the answer differs from the one in use, it goes into the member's shared
 * record (rp_shm_member_t addr_*, a sequence lock written only here), and
 * every child connects to the new addresses from then on; rproxy_conn.c
 * retires pooled connections opened under an older sequence, when they
 * are taken or given back. A failed lookup keeps the last good answer;
 * the failure and the recovery are logged once each (the state lives in
 * the shared record, so a prober that moves to another child does not
 * log again).
 *
 * Until the first change the slot's sequence is 0 and the answer looked
 * up at startup (m->addr) is used, so a member that never moves costs one
 * atomic read per connection.
 */

#include "rproxy_private.h"

#include "apr_atomic.h"

#if APR_HAVE_ARPA_INET_H
#include <arpa/inet.h>
#endif

/* Reads of the sequence lock before a reader gives up on a slot that
 * stays odd (a resolver killed while it wrote) and uses m->addr. */
#define RP_RESOLVE_SPINS    1000


void
rp_resolve_config(rproxy_member_t *m)
{
    unsigned char buf[16];

    m->rs_startup = apr_time_now();
    if (m->uds_path || inet_pton(AF_INET, m->host, buf) == 1
        || inet_pton(AF_INET6, m->host, buf) == 1) {
        m->resolve = 0;
    }
    else if (m->resolve == RP_UNSET) {
        m->resolve = m->pool->resolve != RP_UNSET ? m->pool->resolve
                                                  : RP_RESOLVE_DEFAULT;
    }
}

int
rp_resolve_count(void)
{
    int i, j, n = 0;

    for (i = 0; i < rp_globals.pools->nelts; i++) {
        rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, i,
                                            rproxy_pool_t *);

        for (j = 0; j < pool->members->nelts; j++) {
            n += APR_ARRAY_IDX(pool->members, j, rproxy_member_t *)->resolve
                 > 0;
        }
    }
    return n;
}

int
rp_resolve_wanted(void)
{
    return rp_resolve_count() > 0;
}

apr_uint32_t
rp_resolve_seq(const rproxy_member_t *m)
{
    return m->resolve > 0 ? apr_atomic_read32(&m->sh->addr_seq) : 0;
}

apr_uint32_t
rp_resolve_slot_read(const rproxy_member_t *m, rp_answer_t *a)
{
    rp_shm_member_t *sh = m->sh;
    apr_uint32_t s1, s2;
    int i, j, spins = 0;

    do {
        s1 = apr_atomic_read32(&sh->addr_seq);
        if (s1 == 0) {
            return 0;
        }
        a->count = apr_atomic_read32(&sh->addr_count);
        for (i = 0; i < RP_RESOLVE_MAX_ADDRS; i++) {
            a->addr[i].family = apr_atomic_read32(&sh->addr_family[i]);
            for (j = 0; j < 4; j++) {
                a->addr[i].bytes[j]
                    = apr_atomic_read32(&sh->addr_bytes[i][j]);
            }
        }
        s2 = apr_atomic_read32(&sh->addr_seq);
    } while (((s1 & 1) || s1 != s2) && ++spins < RP_RESOLVE_SPINS);
    /* an expand= slot without an address holds 0 of them */
    if (spins == RP_RESOLVE_SPINS || a->count > RP_RESOLVE_MAX_ADDRS) {
        return 0;
    }
    return s1;
}

void
rp_resolve_sockaddr(apr_sockaddr_t *sa, apr_pool_t *p,
                    const rproxy_member_t *m, const rp_addr_t *a)
{
    apr_uint32_t family = a->family;
    const apr_uint32_t *bytes = a->bytes;

    memset(sa, 0, sizeof(*sa));
    sa->pool = p;
    sa->hostname = (char *)m->host;
    sa->port = m->port;
#if APR_HAVE_IPV6
    if (family == APR_INET6) {
        sa->family = APR_INET6;
        sa->sa.sin6.sin6_family = AF_INET6;
        sa->sa.sin6.sin6_port = htons(m->port);
        memcpy(&sa->sa.sin6.sin6_addr, bytes, 16);
        sa->salen = sizeof(struct sockaddr_in6);
        sa->ipaddr_len = 16;
        sa->addr_str_len = 46;
        sa->ipaddr_ptr = &sa->sa.sin6.sin6_addr;
        return;
    }
#endif
    sa->family = APR_INET;
    sa->sa.sin.sin_family = AF_INET;
    sa->sa.sin.sin_port = htons(m->port);
    memcpy(&sa->sa.sin.sin_addr, bytes, 4);
    sa->salen = sizeof(struct sockaddr_in);
    sa->ipaddr_len = 4;
    sa->addr_str_len = 16;
    sa->ipaddr_ptr = &sa->sa.sin.sin_addr;
}

apr_sockaddr_t *
rp_resolve_addr(rproxy_member_t *m, apr_pool_t *p, apr_uint32_t *seq)
{
    apr_sockaddr_t *first = NULL, **link = &first;
    rp_answer_t a;
    apr_uint32_t i;

    *seq = 0;
    if (m->resolve <= 0 || (*seq = rp_resolve_slot_read(m, &a)) == 0) {
        return m->addr;
    }
    for (i = 0; i < a.count; i++) {
        *link = apr_palloc(p, sizeof(**link));
        rp_resolve_sockaddr(*link, p, m, &a.addr[i]);
        link = &(*link)->next;
    }
    return first;
}

int
rp_resolve_list(rp_addr_t *out, int max, const apr_sockaddr_t *sa)
{
    int n = 0, i;

    memset(out, 0, max * sizeof(*out));
    for (; sa && n < max; sa = sa->next) {
        if ((sa->family != APR_INET && sa->family != APR_INET6)
            || sa->ipaddr_len > 16) {
            continue;
        }
        out[n].family = (apr_uint32_t)sa->family;
        memcpy(out[n].bytes, sa->ipaddr_ptr, sa->ipaddr_len);
        for (i = 0; i < n && !rp_resolve_addr_eq(&out[i], &out[n]); i++) {
        }
        if (i == n) {
            n++;                /* not a duplicate */
        }
        else {
            memset(&out[n], 0, sizeof(out[n]));
        }
    }
    return n;
}

int
rp_resolve_addr_eq(const rp_addr_t *a, const rp_addr_t *b)
{
    return a->family == b->family && !memcmp(a->bytes, b->bytes,
                                             sizeof(a->bytes));
}

/* The answer as the slot would hold it. */
static void
answer_from(rp_answer_t *a, const apr_sockaddr_t *sa)
{
    a->count = (apr_uint32_t)rp_resolve_list(a->addr, RP_RESOLVE_MAX_ADDRS,
                                             sa);
}

/* Whether two answers hold the same addresses, in any order: a name
 * served round robin by DNS comes back rotated, which is no move. */
static int
answer_same(const rp_answer_t *a, const rp_answer_t *b)
{
    apr_uint32_t i, j;

    if (a->count != b->count) {
        return 0;
    }
    for (i = 0; i < a->count; i++) {
        for (j = 0; j < b->count; j++) {
            if (rp_resolve_addr_eq(&a->addr[i], &b->addr[j])) {
                break;
            }
        }
        if (j == b->count) {
            return 0;
        }
    }
    return 1;
}

void
rp_resolve_current(const rproxy_member_t *m, rp_answer_t *a)
{
    if (m->resolve <= 0 || !rp_resolve_slot_read(m, a)) {
        answer_from(a, m->addr);
    }
}

const char *
rp_resolve_text(apr_pool_t *p, const rproxy_member_t *m,
                const rp_answer_t *a)
{
    const char *text = "";
    char buf[64];
    apr_uint32_t i;

    for (i = 0; i < a->count; i++) {
        int v6 = a->addr[i].family == APR_INET6;
        const char *ip = inet_ntop(v6 ? AF_INET6 : AF_INET,
                                   a->addr[i].bytes, buf, sizeof(buf));

        text = apr_psprintf(p, v6 ? "%s%s[%s]:%u"
                            : "%s%s%s:%u", text, i ? ", " : "",
                            ip ? ip : "?", m->port);
    }
    return text;
}

const char *
rp_resolve_describe(const rproxy_member_t *m, apr_pool_t *p,
                    apr_time_t *resolved_at)
{
    rp_answer_t a;

    *resolved_at = 0;
    if (m->uds_path) {
        return apr_pstrcat(p, "unix:", m->uds_path, NULL);
    }
    *resolved_at = m->rs_startup;
    if (m->resolve > 0 && m->sh) {
        apr_time_t at = (apr_time_t)apr_atomic_read64(&m->sh->resolved_at);

        *resolved_at = at ? at : m->rs_startup;
    }
    rp_resolve_current(m, &a);
    return rp_resolve_text(p, m, &a);
}

void
rp_resolve_shm_reset(rp_shm_member_t *rec)
{
    apr_size_t from = APR_OFFSETOF(rp_shm_member_t, resolved_at);

    memset((char *)rec + from, 0, APR_OFFSETOF(rp_shm_member_t, addr_bytes)
           + sizeof(rec->addr_bytes) - from);
}

void
rp_resolve_slot_write(rproxy_member_t *m, const rp_answer_t *a)
{
    rp_shm_member_t *sh = m->sh;
    apr_uint32_t seq = apr_atomic_read32(&sh->addr_seq) & ~1u;
    int i, j;

    apr_atomic_set32(&sh->addr_seq, seq + 1);
    apr_atomic_set32(&sh->addr_count, a->count);
    for (i = 0; i < RP_RESOLVE_MAX_ADDRS; i++) {
        apr_atomic_set32(&sh->addr_family[i], a->addr[i].family);
        for (j = 0; j < 4; j++) {
            apr_atomic_set32(&sh->addr_bytes[i][j], a->addr[i].bytes[j]);
        }
    }
    apr_atomic_set32(&sh->addr_seq, seq + 2 ? seq + 2 : 2);
}

apr_status_t
rp_resolve_lookup(rproxy_member_t *m, apr_pool_t *p, apr_sockaddr_t **sa)
{
    rp_shm_member_t *sh = m->sh;
    rp_addr_t one;
    rp_answer_t now;
    apr_status_t rv;

    rv = apr_sockaddr_info_get(sa, m->host, APR_UNSPEC, m->port, 0, p);
    if (rv == APR_SUCCESS && !rp_resolve_list(&one, 1, *sa)) {
        rv = APR_EINVAL;        /* no IPv4 or IPv6 address in the answer */
    }
    if (rv != APR_SUCCESS) {
        if (apr_atomic_cas32(&sh->addr_failing, 1, 0) == 0) {
            rp_resolve_current(m, &now);
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, m->pool->s,
                         RPLOGNO(00230) RP_MEMBER_FMT "cannot resolve %s: "
                         "keeping %s until it resolves again",
                         RP_MEMBER_ARGS(m), m->host,
                         m->group ? "the addresses in use"
                                  : rp_resolve_text(p, m, &now));
        }
        return rv;
    }
    if (apr_atomic_cas32(&sh->addr_failing, 0, 1) == 1) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, m->pool->s, RPLOGNO(00231)
                     RP_MEMBER_FMT "%s resolves again", RP_MEMBER_ARGS(m),
                     m->host);
    }
    return APR_SUCCESS;
}

static void
resolve_one(rproxy_member_t *m, apr_pool_t *p)
{
    rp_answer_t now, got;
    apr_sockaddr_t *sa;

    if (rp_resolve_lookup(m, p, &sa) != APR_SUCCESS) {
        return;
    }
    rp_resolve_current(m, &now);
    answer_from(&got, sa);
    if (!answer_same(&now, &got)) {
        rp_resolve_slot_write(m, &got);
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, m->pool->s, RPLOGNO(00232)
                     RP_MEMBER_FMT "%s now resolves to %s (was %s): new "
                     "connections go there", RP_MEMBER_ARGS(m), m->host,
                     rp_resolve_text(p, m, &got), rp_resolve_text(p, m, &now));
    }
    apr_atomic_set64(&m->sh->resolved_at, (apr_uint64_t)apr_time_now());
}

static void *APR_THREAD_FUNC
resolve_task(apr_thread_t *thread, void *data)
{
    rproxy_member_t *m = data;
    apr_pool_t *p;

    (void)thread;
    /* its own allocator: lookups and checks run on several threads */
    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) == APR_SUCCESS) {
        apr_pool_tag(p, "rproxy_resolve");
        if (m->group) {
            rp_resolve_expand_one(m, p);
        }
        else {
            resolve_one(m, p);
        }
        apr_pool_destroy(p);
    }
    apr_atomic_set32(&m->rs_busy, 0);
    return NULL;
}

void
rp_resolve_tick(apr_thread_pool_t *threads, apr_time_t now)
{
    int i, j;

    for (i = 0; i < rp_globals.pools->nelts; i++) {
        rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, i,
                                            rproxy_pool_t *);

        for (j = 0; j < pool->members->nelts; j++) {
            rproxy_member_t *m = APR_ARRAY_IDX(pool->members, j,
                                               rproxy_member_t *);

            /* an expand= group is looked up once, by its first slot */
            if (m->resolve <= 0 || m->rs_due > now
                || (m->group && m->group != m)
                || apr_atomic_cas32(&m->rs_busy, 1, 0) != 0) {
                continue;
            }
            m->rs_due = now + m->resolve;
            if (!threads
                || apr_thread_pool_push(threads, resolve_task, m,
                                        APR_THREAD_TASK_PRIORITY_NORMAL,
                                        NULL) != APR_SUCCESS) {
                resolve_task(NULL, m);
            }
        }
    }
}
