/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * lb_round_robin.c - smooth weighted round robin.
 *
 * The algorithm is the one nginx uses for its upstreams (ngx_http_upstream_
 * round_robin.c, "smooth weighted round-robin balancing", 2012): every pick,
 * each candidate's current weight grows by its configured weight; the
 * candidate with the largest current weight wins and gives back the sum of
 * the weights. Heavier members get proportionally more requests, and they
 * are spread out instead of arriving in bursts.
 *
 * Worked example, weights a=5 b=1 c=1 (sum 7); "current" before each pick
 * after adding the weights, and the winner:
 *
 *     pick  current (a b c)   winner   after subtracting 7
 *       1      5  1  1          a         -2  1  1
 *       2      3  2  2          a         -4  2  2
 *       3      1  3  3          b          1 -4  3
 *       4      6 -3  4          a         -1 -3  4
 *       5      4 -2  5          c          4 -2 -2
 *       6      9 -1 -1          a          2 -1 -1
 *       7      7  0  0          a          0  0  0   (back to the start)
 *
 * so the schedule is a a b a c a a.
 *
 * Across child processes: create() writes that schedule down for the
 * configured weights, once, and a pick takes the slot of a ticket from
 * the counter all children share (rproxy_pool_ticket()), so consecutive
 * requests rotate exactly even when every one lands in another child
 * (prefork). When the slot's member is not a candidate right now (down,
 * draining, tried already, full), or while slow start has some member
 * below its configured weight, the pick is made by the same algorithm on
 * state kept per child process (guarded by the pool's mutex) among the
 * candidates the core offers, so an unusable member neither gains nor
 * loses ground while it is out. Pools whose weights add up to more than
 * RR_SCHEDULE_MAX rotate per child only.
 */

#include "mod_rproxy.h"
#include "apr_thread_mutex.h"

/* Longest shared schedule (the sum of the weights). */
#define RR_SCHEDULE_MAX     10000

typedef struct {
    rproxy_pool_t *pool;
    int *current;       /* by member index; written under the pool mutex */
    int *weight;        /* configured, by member index */
    int *schedule;      /* member indexes, one cycle; NULL: per child only */
    int len;
} rr_state_t;

/* One smooth weighted cycle over all members, for the shared rotation. */
static void
rr_schedule(rr_state_t *st, apr_pool_t *p, int n, int total)
{
    int *current = apr_pcalloc(p, n * sizeof(int));
    int slot, i, best;

    st->schedule = apr_palloc(p, total * sizeof(int));
    st->len = total;
    for (slot = 0; slot < total; slot++) {
        for (best = 0, i = 0; i < n; i++) {
            current[i] += st->weight[i];
            if (current[i] > current[best]) {
                best = i;
            }
        }
        current[best] -= total;
        st->schedule[slot] = best;
    }
}

static const char *
rr_create(void **state, apr_pool_t *p, rproxy_pool_t *pool, const char *args)
{
    rr_state_t *st = apr_pcalloc(p, sizeof(*st));
    int n = rproxy_pool_size(pool), i, total = 0;

    if (args) {
        return "round_robin takes no arguments";
    }
    st->pool = pool;
    st->current = apr_pcalloc(p, n * sizeof(int));
    st->weight = apr_palloc(p, n * sizeof(int));
    for (i = 0; i < n; i++) {
        st->weight[i] = rproxy_member_weight(rproxy_pool_member(pool, i));
        total += st->weight[i];
    }
    if (n > 1 && total <= RR_SCHEDULE_MAX) {
        rr_schedule(st, p, n, total);
    }
    *state = st;
    return NULL;
}

/* The candidate holding the slot of the next shared ticket, or -1 when
 * that member is not a candidate or weights are ramping. */
static int
rr_shared(rr_state_t *st, rproxy_member_t *const *cand, int n)
{
    int i, member;

    if (!st->schedule) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (rproxy_member_weight(cand[i])
            != st->weight[rproxy_member_index(cand[i])]) {
            return -1;
        }
    }
    member = st->schedule[rproxy_pool_ticket(st->pool)
                          % (apr_uint32_t)st->len];
    for (i = 0; i < n; i++) {
        if (rproxy_member_index(cand[i]) == member) {
            return i;
        }
    }
    return -1;
}

static int
rr_pick(void *state, request_rec *r, rproxy_member_t *const *cand, int n)
{
    rr_state_t *st = state;
    apr_thread_mutex_t *mutex = rproxy_pool_lock(st->pool);
    int i, best = 0, total = 0;

    (void)r;
    if ((best = rr_shared(st, cand, n)) >= 0) {
        return best;
    }
    best = 0;
    if (mutex) {
        apr_thread_mutex_lock(mutex);
    }
    for (i = 0; i < n; i++) {
        int idx = rproxy_member_index(cand[i]);

        st->current[idx] += rproxy_member_weight(cand[i]);
        total += rproxy_member_weight(cand[i]);
        if (st->current[idx]
            > st->current[rproxy_member_index(cand[best])]) {
            best = i;
        }
    }
    st->current[rproxy_member_index(cand[best])] -= total;
    if (mutex) {
        apr_thread_mutex_unlock(mutex);
    }
    return best;
}

const rproxy_balancer_t rp_lb_round_robin = {
    "round_robin",
    0,
    rr_create,
    rr_pick,
    NULL
};
