/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_shm.h - the records every child process shares (rproxy_shm.c):
 * per member and per pool, what each field means and who writes it, and
 * the snapshot a reader takes of a member. Included by rproxy_private.h;
 * nothing here is API.
 */

#ifndef RPROXY_SHM_H
#define RPROXY_SHM_H

/* Upper bounds, in milliseconds, of the latency histogram's buckets; one
 * more bucket counts everything slower. */
#define RP_LAT_BUCKETS_MS   1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, \
                            2500, 5000, 10000
#define RP_LAT_NBUCKETS     14
/* The same bounds as an array (rproxy_shm.c), RP_LAT_NBUCKETS - 1 long. */
extern const apr_uint32_t rp_lat_bounds_ms[];

/* Addresses of one answer kept for a member named by a host name (the
 * first ones, tried in order as at startup). */
#define RP_RESOLVE_MAX_ADDRS    4

/* Administrative state bits (rp_shm_member_t.admin): set from the
 * configuration at every start, or at run time by RProxyStatusManage
 * (rproxy_manage.c), which a graceful restart keeps. */
#define RP_ADMIN_DRAIN      0x1u
#define RP_ADMIN_DISABLED   0x2u
/* What an operator changed at run time (rp_shm_member_t.overridden): a
 * graceful restart keeps those values instead of the configuration's. */
#define RP_OVERRIDE_ADMIN   0x1u
#define RP_OVERRIDE_WEIGHT  0x2u

/* A member's state shared by every child process (rproxy_shm.c). Each
 * field is written with APR atomics by the child serving the request (or,
 * for the hc_ fields, by the one health prober); there is no lock and no
 * multi-field snapshot. */
typedef struct {
    char pool[64];                  /* identity, set by the parent */
    char member[256];
    /* RP_ADMIN_* in force: set by the parent at start (configuration, or
     * kept over a graceful restart when overridden), changed by
     * rproxy_manage.c with a compare-and-swap */
    volatile apr_uint32_t admin;
    /* the weight in force (before slow start): same writers as admin,
     * apr_atomic_set32 */
    volatile apr_uint32_t weight;
    /* RP_OVERRIDE_*: set by rproxy_manage.c (compare-and-swap) with the
     * value it changed, cleared by the parent at a full restart */
    volatile apr_uint32_t overridden;
    volatile apr_uint32_t inflight; /* +1 at pick, -1 when the try ends */
    volatile apr_uint32_t ewma_us;  /* peak-EWMA of latency, CAS updated */
    volatile apr_uint32_t consecutive_fails;  /* reset to 0 on success */
    volatile apr_uint32_t streak;   /* ejections since the last success */
    /* active health checks (rproxy_health.c): written by the prober only */
    volatile apr_uint32_t hc_down;  /* 1: failed `fall` checks in a row */
    volatile apr_uint32_t hc_run;   /* passes (up) or failures (down) in a
                                     * row that count towards a change */
    volatile apr_uint32_t hc_status;/* last HTTP status, 0: no answer */
    volatile apr_uint64_t hc_checks;    /* checks run */
    volatile apr_uint64_t hc_failed;    /* checks failed */
    volatile apr_uint64_t hc_changed;   /* apr_time_t of the last up/down */
    volatile apr_uint64_t requests; /* tries ended, atomic add */
    volatile apr_uint64_t failures; /* tries that failed, atomic add */
    volatile apr_uint64_t ejections;    /* times ejected, atomic add */
    volatile apr_uint64_t ejected_until;/* apr_time_t; written only by the
                                         * child that wins the CAS on
                                         * consecutive_fails */
    /* traffic and latency: one atomic add each when a try ends */
    volatile apr_uint64_t bytes_in;     /* response bytes read from it */
    volatile apr_uint64_t bytes_out;    /* request bytes written to it */
    volatile apr_uint64_t lat_sum_us;   /* sum of the histogram's samples */
    /* tries that ended OK or timed out, by latency from the pick: bucket
     * i counts those above bound i-1 and up to bound i (not cumulative) */
    volatile apr_uint64_t lat_hist[RP_LAT_NBUCKETS];
    /* The addresses in use for a member named by a host name, re-resolved
     * by the one resolver (rproxy_resolve.c, on the health prober's
     * watchdog thread), which alone writes these fields. addr_seq is a
     * sequence lock: odd while the resolver writes the slot, even when
     * done, 0 while the answer looked up at startup (rproxy_member_t.addr)
     * is in use (every start and graceful restart sets it to 0). Readers
     * (every child opening a connection, rp_resolve_addr()) retry until
     * they read the same even value before and after the slot; a pooled
     * connection remembers the value it was opened under and is retired
     * when it differs. */
    volatile apr_uint64_t resolved_at;  /* apr_time_t of the last lookup
                                         * that succeeded, 0: at startup */
    volatile apr_uint32_t addr_seq;
    volatile apr_uint32_t addr_failing; /* 1: the last lookup failed (the
                                         * resolver logs changes only) */
    volatile apr_uint32_t addr_count;   /* 0..RP_RESOLVE_MAX_ADDRS */
    volatile apr_uint32_t addr_family[RP_RESOLVE_MAX_ADDRS];
    volatile apr_uint32_t addr_bytes[RP_RESOLVE_MAX_ADDRS][4];
                                        /* network order, 4 or 16 bytes */
} rp_shm_member_t;

/* A pool's state shared by every child (rproxy_shm.c). The retry budget
 * window (written by rproxy_forward.c): counts of client requests and of
 * retries in the current and the previous window; the child that moves
 * window_start by compare-and-swap rolls the counters over. Approximate
 * by design. */
typedef struct {
    char pool[64];
    volatile apr_uint64_t window_start;     /* apr_time_t */
    volatile apr_uint32_t requests;
    volatile apr_uint32_t retries;
    volatile apr_uint32_t prev_requests;
    volatile apr_uint32_t prev_retries;
    volatile apr_uint32_t ticket;   /* rproxy_pool_ticket() */
    volatile apr_uint32_t queued;   /* requests waiting in RProxyQueue: +1
                                     * by compare-and-swap below max=, -1
                                     * when the wait ends (rproxy_queue.c) */
    /* RProxyBuffering and RProxyRequestBuffering (rproxy_buffer.c): one
     * atomic add each, by the child that serves the request */
    volatile apr_uint64_t buf_responses;    /* response bodies held whole
                                             * before the client got them */
    volatile apr_uint64_t buf_resp_spilled; /* of those, with a file */
    volatile apr_uint64_t buf_overflows;    /* too large for memory= +
                                             * file=: streamed */
    volatile apr_uint64_t buf_requests;     /* request bodies held whole
                                             * before a member was picked */
    volatile apr_uint64_t buf_req_spilled;  /* of those, with a file */
    volatile apr_uint64_t buf_refused;      /* over limit=: 413 */
    volatile apr_uint64_t buf_file_bytes;   /* written to temporary files,
                                             * both ways */
    volatile apr_uint64_t buf_held;         /* gauge: bytes held now, added
                                             * when a body is held whole,
                                             * taken off when its request
                                             * ends */
    /* body bytes moved in the kernel by splice(2), or copied through
     * httpd's buffers: responses as the members framed them, requests as
     * the data sent; one atomic add each when a body ends
     * (rp_splice_count()) */
    volatile apr_uint64_t body_spliced;
    volatile apr_uint64_t body_copied;
    volatile apr_uint64_t req_body_spliced;
    volatile apr_uint64_t req_body_copied;
    /* Upgrade tunnels' bytes moved by splice(2), both ways, at the end of
     * each pump (copied ones are not counted) */
    volatile apr_uint64_t tunnel_spliced;
    /* async tunnels (rproxy_tunnel_async.c): waiting without a worker
     * now (a gauge, +1/-1 by the waiting threads), and each time a side
     * had input there: moved by the waiting thread itself
     * (rproxy_tunnel_fast.c) or handed to a worker (any wake-up) */
    volatile apr_uint32_t tunnel_parked;
    volatile apr_uint64_t tunnel_waiter_moves;
    volatile apr_uint64_t tunnel_worker_wakes;
} rp_shm_pool_t;

/* A member's state as the status page shows it, worst first: the reason
 * that keeps it out longest, or that an operator set, wins. */
typedef enum {
    RP_MEMBER_UP,               /* takes requests */
    RP_MEMBER_BACKUP,           /* up, a backup: takes requests when no
                                 * primary can */
    RP_MEMBER_DRAINING,         /* RP_ADMIN_DRAIN: sticky requests only */
    RP_MEMBER_EJECTED,          /* by RProxyOutlier, for a while */
    RP_MEMBER_HEALTH_FAILED,    /* failed `fall` active checks in a row */
    RP_MEMBER_DISABLED,         /* RP_ADMIN_DISABLED: takes nothing */
    RP_MEMBER_ABSENT            /* an expand= slot without an address */
} rp_member_state_e;

/* One member's shared record, each field read once (atomically, but not
 * the record as a whole: see rproxy_shm.c), so that everything made from
 * it agrees with itself. */
typedef struct {
    rp_member_state_e state;
    apr_uint32_t admin;                         /* RP_ADMIN_* */
    int weight;                                 /* in force now */
    apr_uint64_t inflight, requests, failures, ejections, ewma_us;
    apr_uint64_t bytes_in, bytes_out;
    apr_uint64_t lat_hist[RP_LAT_NBUCKETS];     /* not cumulative */
    apr_uint64_t lat_count;                     /* their sum */
    apr_uint64_t lat_sum_us;
    apr_uint64_t hc_checks, hc_failed, hc_status;
} rp_member_snap_t;

/* rproxy_shm.c */
int rp_shm_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                       apr_pool_t *ptemp, server_rec *s);
int rp_shm_pre_mpm(apr_pool_t *p, ap_scoreboard_e sb_type);
/* The end of a try on m: its outcome, latency (from the pick) and the
 * bytes it moved (may be NULL) go into the shared record. Any thread. */
void rp_shm_count(rproxy_member_t *m, rproxy_outcome_e outcome,
                  apr_interval_time_t latency, const rp_bytes_t *io);
int rp_shm_inc_below(volatile apr_uint32_t *gauge, apr_uint32_t cap);
apr_uint32_t rp_shm_admin(const rproxy_member_t *m);
int rp_shm_hc_down(const rproxy_member_t *m);
/* The member's weight in force, before slow start: the configured one or
 * what an operator set. Lock-free, any thread. */
int rp_shm_weight(const rproxy_member_t *m);
/* Runtime management (rproxy_manage.c): set or clear admin bits, set
 * the weight, zero the counters; each marks the value overridden so a
 * graceful restart keeps it. Return the value before. Any thread. */
apr_uint32_t rp_shm_set_admin(rproxy_member_t *m, apr_uint32_t set,
                              apr_uint32_t clear);
apr_uint32_t rp_shm_set_weight(rproxy_member_t *m, apr_uint32_t weight);
void rp_shm_reset_counters(rproxy_member_t *m);
/* Fills *s from m's shared record; its state as of now. Any thread, no
 * lock. */
void rp_shm_snapshot(const rproxy_member_t *m, apr_time_t now,
                     rp_member_snap_t *s);

#endif /* RPROXY_SHM_H */
