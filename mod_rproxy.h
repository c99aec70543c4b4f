/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * mod_rproxy.h - the public API of mod_rproxy.
 *
 * Third-party modules include this header to ship their own load-balancing
 * algorithm as an httpd provider:
 *
 *     static const rproxy_balancer_t my_lb = {
 *         "my_lb", 0, my_create, my_pick, NULL
 *     };
 *     ap_register_provider(p, RPROXY_BALANCER_GROUP, "my_lb",
 *                          RPROXY_BALANCER_VERSION, &my_lb);
 *
 * and select it with "RProxyBalancer my_lb [ARGS]" inside <RProxyPool>.
 *
 * Members are opaque handles; a balancer reads them through the accessor
 * functions below. The core does all filtering (usable, not yet tried for
 * this request, backup tier); a balancer only chooses among the candidates
 * it is given.
 */

#ifndef MOD_RPROXY_H
#define MOD_RPROXY_H

#include "httpd.h"
#include "apr_pools.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Provider group under which balancers register. */
#define RPROXY_BALANCER_GROUP   "rproxy_balancer"
/** Provider version; bumped whenever rproxy_balancer_t changes its ABI. */
#define RPROXY_BALANCER_VERSION "1"

/** A backend server of a pool (opaque). */
typedef struct rproxy_member_t rproxy_member_t;
/** A named group of members (opaque). */
typedef struct rproxy_pool_t rproxy_pool_t;

/** How a request to a member ended, reported to rproxy_balancer_t.release. */
typedef enum {
    RPROXY_OUTCOME_OK = 0,      /**< a response was relayed */
    RPROXY_OUTCOME_CONNECT,     /**< the member could not be reached */
    RPROXY_OUTCOME_TIMEOUT,     /**< the member did not answer in time */
    RPROXY_OUTCOME_FAILED       /**< broken or malformed response */
} rproxy_outcome_e;

/*
 * rproxy_balancer_t.flags. 0x01 was RPROXY_LB_USES_WEIGHT ("the algorithm
 * uses member weights"), which nothing ever read: it is gone, and 0x01 is
 * never to be given another meaning, so that a balancer built against the
 * old header still means nothing by it. A balancer that set it drops it
 * (or passes 0); the struct and RPROXY_BALANCER_VERSION are unchanged.
 */
/** rproxy_balancer_t.flags: the algorithm needs an ARGS expression; the
 *  core refuses "RProxyBalancer NAME" without one at startup. */
#define RPROXY_LB_NEEDS_ARGS    0x02

/**
 * A load-balancing algorithm. All callbacks may be NULL except create and
 * pick. Instances are per pool and per child process.
 */
typedef struct rproxy_balancer_t {
    /** Name, as given to RProxyBalancer. */
    const char *name;
    /** RPROXY_LB_* flags. */
    unsigned int flags;

    /**
     * Build the per-pool state at configuration time.
     * @param state   out: the algorithm's private state, allocated from p
     * @param p       the configuration pool (lives as long as the config)
     * @param pool    the pool being configured; its members are known
     * @param args    the words after the name in RProxyBalancer, or NULL
     * @return NULL on success, else an error message (from p) that stops
     *         httpd at startup
     */
    const char *(*create)(void **state, apr_pool_t *p, rproxy_pool_t *pool,
                          const char *args);

    /**
     * Choose one of the candidates for request r.
     * Called concurrently by the threads of one child: the algorithm
     * protects its own mutable state (see rproxy_pool_lock()).
     * @param cand    candidate members, in configuration order
     * @param n       number of candidates, at least 2: the core takes a
     *                lone candidate without asking
     * @return index into cand, or -1 to refuse (the client gets 503)
     */
    int (*pick)(void *state, request_rec *r, rproxy_member_t *const *cand,
                int n);

    /**
     * Told when a request that pick() chose has ended (optional).
     * @param latency time from pick until the member's response head
     *                arrived (or the try failed): the member's own time,
     *                not the client's download
     */
    void (*release)(void *state, request_rec *r, rproxy_member_t *m,
                    rproxy_outcome_e outcome, apr_interval_time_t latency);
} rproxy_balancer_t;

/** The member's position in its pool, 0..rproxy_pool_size()-1. */
int rproxy_member_index(const rproxy_member_t *m);
/**
 * The member's weight now: the configured one (1..1000) or the one an
 * operator set at run time (RProxyStatusManage), or less while
 * RProxySlowStart ramps it up after the member came back. In create() it
 * is always the configured weight.
 */
int rproxy_member_weight(const rproxy_member_t *m);
/** The member's name: its URL as configured ("http://10.0.0.1:8080"). */
const char *rproxy_member_name(const rproxy_member_t *m);
/** Requests in flight to the member right now, across all child
 *  processes (read atomically from shared memory). */
apr_uint32_t rproxy_member_inflight(const rproxy_member_t *m);
/**
 * Smoothed response time of the member in microseconds, across all child
 * processes (shared memory); 0 until known. A peak-EWMA: a response slower
 * than the current value raises it at once, a faster one pulls it down by
 * 1/8 of the difference. Refused connects and malformed responses are not
 * samples; a timeout is. Lock-free, any thread.
 */
apr_interval_time_t rproxy_member_latency(const rproxy_member_t *m);

/** Number of members in the pool. */
int rproxy_pool_size(const rproxy_pool_t *pool);
/**
 * The pool's member at position i (0..rproxy_pool_size()-1, configuration
 * order, the same as rproxy_member_index()), whether usable right now or
 * not; NULL when i is out of range. For create(), which sees every member,
 * e.g. to lay out a hash ring. The handle lives as long as the pool.
 */
rproxy_member_t *rproxy_pool_member(const rproxy_pool_t *pool, int i);
/** The pool's name. */
const char *rproxy_pool_name(const rproxy_pool_t *pool);
/**
 * A thread mutex owned by the pool, for balancers that keep mutable state
 * per child process. Valid from child_init on; NULL before (pick() is only
 * ever called after child_init).
 */
apr_thread_mutex_t *rproxy_pool_lock(rproxy_pool_t *pool);
/**
 * A counter shared by every child process of the server: each call returns
 * the next value (wrapping at 2^32), atomically, lock-free. For rotations
 * that are to be exact across all children rather than within each.
 * Only in pick() and release().
 */
apr_uint32_t rproxy_pool_ticket(rproxy_pool_t *pool);

#ifdef __cplusplus
}
#endif

#endif /* MOD_RPROXY_H */
