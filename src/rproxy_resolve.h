/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_resolve.h - members that move: re-resolving members named by a
 * host name (rproxy_resolve.c). Included by rproxy_private.h; not API.
 */

#ifndef RPROXY_RESOLVE_H
#define RPROXY_RESOLVE_H

/* resolve= where neither the member nor its pool sets it, for a member
 * named by a host name. */
#define RP_RESOLVE_DEFAULT      apr_time_from_sec(30)

/* Makes m->resolve final once m->addr is resolved (check_config): the
 * member's, else the pool's, else RP_RESOLVE_DEFAULT, for host names; 0
 * for literal addresses and Unix sockets. */
void rp_resolve_config(rproxy_member_t *m);

/* Whether any member is re-resolved (the prober then runs). */
int rp_resolve_wanted(void);

/* How many members are re-resolved (threads for the prober). */
int rp_resolve_count(void);

/* From the prober's tick: starts the lookups that are due, on threads
 * (or inline when threads is NULL), at most one per member at a time. */
void rp_resolve_tick(apr_thread_pool_t *threads, apr_time_t now);

/* The shared slot's sequence (0: the startup answer is in use). */
apr_uint32_t rp_resolve_seq(const rproxy_member_t *m);

/* The addresses to connect to now, in order: from p when the slot holds
 * a newer answer than startup's, else m->addr; *seq receives the slot's
 * sequence. Any thread of any child; no system call. */
apr_sockaddr_t *rp_resolve_addr(rproxy_member_t *m, apr_pool_t *p,
                                apr_uint32_t *seq);

/* The addresses in use as "IP:PORT[, IP:PORT...]" (or "unix:PATH"), and
 * when it was looked up (the startup lookup's time until the resolver
 * has one), for the status pages. */
const char *rp_resolve_describe(const rproxy_member_t *m, apr_pool_t *p,
                                apr_time_t *resolved_at);

/* Graceful restart: the new generation looked the name up at startup,
 * so the record it inherits forgets the old generation's answer. */
void rp_resolve_shm_reset(rp_shm_member_t *rec);

/* expand=N: the most slots one RProxyMember may stand for. */
#define RP_EXPAND_MAX           64

/* Whether m is an expand= slot without an address now: it takes no
 * request and is not health checked. */
int rp_resolve_absent(const rproxy_member_t *m);

/* expand=N at startup (check_config), on the group's first slot: looks
 * the name up once and gives each slot one address of the answer, in
 * order (slots beyond the answer have none: m->addr NULL). */
apr_status_t rp_resolve_expand_startup(apr_pool_t *pconf, server_rec *s,
                                       rproxy_member_t *first);

/* --- shared by rproxy_resolve.c and rproxy_resolve_expand.c ----------- */

/* One address: APR_INET or APR_INET6 and its bytes, network order. */
typedef struct {
    apr_uint32_t family;
    apr_uint32_t bytes[4];
} rp_addr_t;

/* One answer, as a member's shared slot holds it. */
typedef struct {
    apr_uint32_t count;
    rp_addr_t addr[RP_RESOLVE_MAX_ADDRS];
} rp_answer_t;

int rp_resolve_addr_eq(const rp_addr_t *a, const rp_addr_t *b);
/* The IPv4 and IPv6 addresses of a lookup's list, without duplicates, at
 * most max (out is zeroed first); returns how many. */
int rp_resolve_list(rp_addr_t *out, int max, const apr_sockaddr_t *sa);
/* Fills sa for one address as apr_sockaddr_info_get() would, without a
 * lookup. */
void rp_resolve_sockaddr(apr_sockaddr_t *sa, apr_pool_t *p,
                         const rproxy_member_t *m, const rp_addr_t *a);
/* Reads the slot consistently (a sequence lock: the same even value
 * before and after); returns the sequence, 0: the startup answer is in
 * use (a is then not filled). */
apr_uint32_t rp_resolve_slot_read(const rproxy_member_t *m, rp_answer_t *a);
/* Writes a new answer into the slot (the resolver only): the sequence
 * goes odd, then to the next even value, never back to 0. */
void rp_resolve_slot_write(rproxy_member_t *m, const rp_answer_t *a);
/* The answer in use: the slot's, else startup's. */
void rp_resolve_current(const rproxy_member_t *m, rp_answer_t *a);
/* "IP:PORT" of an answer's addresses, ", " between them ("" for none). */
const char *rp_resolve_text(apr_pool_t *p, const rproxy_member_t *m,
                            const rp_answer_t *a);
/* Looks m's name up; a failure, and the first success after failures,
 * are logged once (the state is in m's shared record). */
apr_status_t rp_resolve_lookup(rproxy_member_t *m, apr_pool_t *p,
                               apr_sockaddr_t **sa);
/* The resolver's work for an expand= group, on its first slot. */
void rp_resolve_expand_one(rproxy_member_t *first, apr_pool_t *p);

#endif /* RPROXY_RESOLVE_H */
