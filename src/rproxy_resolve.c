/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_resolve.c - members that move: a member named by a host name is
 * looked up again every resolve=T (default 30 s; never for a literal
 * address or a Unix socket).
 *
 * One resolver per server: the health prober's watchdog thread
 * (rproxy_health.c) calls rp_resolve_tick(), which runs the lookups that
 * are due on the prober's threads, at most one per member at a time. The
 * result goes into the member's shared record (rp_shm_member_t addr_*,
 * a sequence lock written only here) when the address changes, so that
 * every child connects to the new address; rproxy_conn.c retires pooled
 * connections opened under an older sequence. A failed lookup keeps the
 * last good address and is logged when the state changes, not per try.
 */

#include "rproxy_private.h"
#include "rproxy_config.h"

#include "apr_atomic.h"

#if APR_HAVE_ARPA_INET_H
#include <arpa/inet.h>
#endif

/* resolve= for a host name where the member does not set it. */
#define RP_RESOLVE_DEFAULT  apr_time_from_sec(30)

void
rp_resolve_config(rproxy_member_t *m)
{
    unsigned char buf[16];

    if (m->uds_path || inet_pton(AF_INET, m->host, buf) == 1
        || inet_pton(AF_INET6, m->host, buf) == 1) {
        m->resolve = 0;
    }
    else if (m->resolve == RP_UNSET) {
        m->resolve = RP_RESOLVE_DEFAULT;
    }
}

int
rp_resolve_wanted(void)
{
    int i, j;

    for (i = 0; i < rp_globals.pools->nelts; i++) {
        rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, i,
                                            rproxy_pool_t *);

        for (j = 0; j < pool->members->nelts; j++) {
            if (APR_ARRAY_IDX(pool->members, j, rproxy_member_t *)->resolve
                > 0) {
                return 1;
            }
        }
    }
    return 0;
}

apr_uint32_t
rp_resolve_seq(const rproxy_member_t *m)
{
    return m->resolve > 0 ? apr_atomic_read32(&m->sh->addr_seq) : 0;
}

/* Reads the slot consistently: the same even sequence before and after.
 * Returns the sequence (0: nothing written yet). */
static apr_uint32_t
slot_read(const rproxy_member_t *m, apr_uint32_t *family, apr_port_t *port,
          apr_uint32_t bytes[4])
{
    rp_shm_member_t *sh = m->sh;
    apr_uint32_t s1, s2;
    int i;

    do {
        s1 = apr_atomic_read32(&sh->addr_seq);
        *family = apr_atomic_read32(&sh->addr_family);
        *port = (apr_port_t)apr_atomic_read32(&sh->addr_port);
        for (i = 0; i < 4; i++) {
            bytes[i] = apr_atomic_read32(&sh->addr_bytes[i]);
        }
        s2 = apr_atomic_read32(&sh->addr_seq);
    } while ((s1 & 1) || s1 != s2);
    return s1;
}

/* The numeric form of the slot's address. */
static const char *
slot_ip(apr_pool_t *p, apr_uint32_t family, const apr_uint32_t bytes[4])
{
    char buf[64];

    if (!inet_ntop(family == APR_INET6 ? AF_INET6 : AF_INET, bytes, buf,
                   sizeof(buf))) {
        return NULL;
    }
    return apr_pstrdup(p, buf);
}

apr_sockaddr_t *
rp_resolve_addr(rproxy_member_t *m, apr_pool_t *p, apr_uint32_t *seq)
{
    apr_uint32_t family, bytes[4];
    apr_port_t port;
    apr_sockaddr_t *sa;
    const char *ip;

    *seq = 0;
    if (m->resolve <= 0
        || (*seq = slot_read(m, &family, &port, bytes)) == 0) {
        return m->addr;
    }
    /* a numeric host: getaddrinfo() converts it without a lookup */
    ip = slot_ip(p, family, bytes);
    if (!ip || apr_sockaddr_info_get(&sa, ip, (int)family, port, 0, p)
               != APR_SUCCESS) {
        return m->addr;
    }
    return sa;
}

const char *
rp_resolve_describe(const rproxy_member_t *m, apr_pool_t *p,
                    apr_time_t *resolved_at)
{
    apr_uint32_t family, bytes[4];
    apr_port_t port;
    const char *ip;
    char *buf;

    *resolved_at = 0;
    if (m->uds_path) {
        return apr_pstrcat(p, "unix:", m->uds_path, NULL);
    }
    if (m->resolve > 0) {
        *resolved_at = (apr_time_t)apr_atomic_read64(&m->sh->resolved_at);
        if (slot_read(m, &family, &port, bytes)) {
            ip = slot_ip(p, family, bytes);
            return apr_psprintf(p, family == APR_INET6 ? "[%s]:%u" : "%s:%u",
                                ip ? ip : "?", port);
        }
    }
    if (!m->addr || apr_sockaddr_ip_get(&buf, m->addr) != APR_SUCCESS) {
        return "";
    }
    return apr_psprintf(p, m->addr->family == APR_INET6 ? "[%s]:%u"
                        : "%s:%u", buf, m->addr->port);
}

/* Writes a new address into the slot (the resolver only). */
static void
slot_write(rproxy_member_t *m, const apr_sockaddr_t *sa)
{
    rp_shm_member_t *sh = m->sh;
    apr_uint32_t seq = apr_atomic_read32(&sh->addr_seq), bytes[4] = {0};
    int i;

    memcpy(bytes, sa->ipaddr_ptr, sa->ipaddr_len > 16 ? 16
                                                      : sa->ipaddr_len);
    apr_atomic_set32(&sh->addr_seq, seq + 1);
    apr_atomic_set32(&sh->addr_family, (apr_uint32_t)sa->family);
    apr_atomic_set32(&sh->addr_port, m->port);
    for (i = 0; i < 4; i++) {
        apr_atomic_set32(&sh->addr_bytes[i], bytes[i]);
    }
    apr_atomic_set32(&sh->addr_seq, seq + 2);
}

/* The address in use now, as the status shows it, to compare. */
static int
same_addr(rproxy_member_t *m, apr_pool_t *p, const apr_sockaddr_t *sa)
{
    apr_time_t at;
    char *ip;

    if (apr_sockaddr_ip_get(&ip, (apr_sockaddr_t *)sa) != APR_SUCCESS) {
        return 1;
    }
    return !strcmp(rp_resolve_describe(m, p, &at),
                   apr_psprintf(p, sa->family == APR_INET6 ? "[%s]:%u"
                                : "%s:%u", ip, m->port));
}

static void
resolve_one(rproxy_member_t *m, apr_pool_t *p)
{
    apr_sockaddr_t *sa;
    apr_status_t rv;
    apr_time_t at;

    rv = apr_sockaddr_info_get(&sa, m->host, APR_UNSPEC, m->port, 0, p);
    if (rv != APR_SUCCESS) {
        if (!m->rs_failing) {
            m->rs_failing = 1;
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, m->pool->s,
                         RPLOGNO(00230) RP_MEMBER_FMT "cannot resolve %s "
                         "any more; keeping %s", RP_MEMBER_ARGS(m), m->host,
                         rp_resolve_describe(m, p, &at));
        }
        return;
    }
    if (m->rs_failing) {
        m->rs_failing = 0;
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, m->pool->s, RPLOGNO(00231)
                     RP_MEMBER_FMT "%s resolves again", RP_MEMBER_ARGS(m),
                     m->host);
    }
    if (!same_addr(m, p, sa)) {
        const char *was = rp_resolve_describe(m, p, &at);

        slot_write(m, sa);
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, m->pool->s, RPLOGNO(00232)
                     RP_MEMBER_FMT "%s now resolves to %s (was %s); new "
                     "connections go there", RP_MEMBER_ARGS(m), m->host,
                     rp_resolve_describe(m, p, &at), was);
    }
    apr_atomic_set64(&m->sh->resolved_at, (apr_uint64_t)apr_time_now());
}

static void *APR_THREAD_FUNC
resolve_task(apr_thread_t *thread, void *data)
{
    rproxy_member_t *m = data;
    apr_pool_t *p;

    (void)thread;
    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) == APR_SUCCESS) {
        apr_pool_tag(p, "rproxy_resolve");
        resolve_one(m, p);
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

            if (m->resolve <= 0 || m->rs_due > now
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
