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

#endif /* RPROXY_RESOLVE_H */
