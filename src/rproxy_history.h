/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_history.h - a short history of per-second samples in shared
 * memory, per pool (the status page's sparklines) and per member (its
 * request rate). Not API. See rproxy_history.c for the design.
 */

#ifndef RPROXY_HISTORY_H
#define RPROXY_HISTORY_H

#include "rproxy_private.h"

/* Seconds a pool's ring holds, and a member's (enough for a rate over
 * RP_HIST_RATE_SECS). */
#define RP_HIST_POOL_SECS   300
#define RP_HIST_MEMBER_SECS 16
#define RP_HIST_RATE_SECS   10

/* One pool's history as read for the page: per second, oldest first,
 * ending with the last complete second. */
typedef struct {
    apr_uint32_t requests[RP_HIST_POOL_SECS];
    apr_uint32_t failures[RP_HIST_POOL_SECS];
    /* latency samples per bucket of rp_lat_bounds_ms, per second */
    apr_uint32_t lat[RP_HIST_POOL_SECS][RP_LAT_NBUCKETS];
} rp_hist_read_t;

/* Bytes the shared segment needs for the history of npools pools and
 * nmembers members; a multiple of 8. */
apr_size_t rp_history_size(apr_size_t npools, apr_size_t nmembers);

/* Points every pool's and member's history at its place in base (zeroed,
 * 8-byte aligned, rp_history_size() long), in configuration order. From
 * post_config, in the parent. */
void rp_history_attach(void *base);

/* The end of a try on m at now: one more request (and failure) in that
 * second of m's and its pool's rings; lat_bucket >= 0 counts a latency
 * sample in that bucket of the pool's ring. Any thread, lock-free. */
void rp_history_count(rproxy_member_t *m, int failed, int lat_bucket,
                      apr_time_t now);

/* Copies pool's ring into *out as of now. Any thread, lock-free. */
void rp_history_read_pool(const rproxy_pool_t *pool, apr_time_t now,
                          rp_hist_read_t *out);

/* Requests per second on m over the last RP_HIST_RATE_SECS complete
 * seconds. Any thread, lock-free. */
double rp_history_member_rate(const rproxy_member_t *m, apr_time_t now);

#endif /* RPROXY_HISTORY_H */
