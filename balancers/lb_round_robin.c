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
 * so the schedule is a a b a c a a. Only the candidates the core offers
 * take part in a pick, so an unusable member neither gains nor loses
 * ground while it is out. The state is per child process and guarded by
 * the pool's mutex.
 */

#include "mod_rproxy.h"
#include "apr_thread_mutex.h"

typedef struct {
    rproxy_pool_t *pool;
    int *current;       /* by member index; written under the pool mutex */
} rr_state_t;

static const char *
rr_create(void **state, apr_pool_t *p, rproxy_pool_t *pool, const char *args)
{
    rr_state_t *st = apr_pcalloc(p, sizeof(*st));

    if (args) {
        return "round_robin takes no arguments";
    }
    st->pool = pool;
    st->current = apr_pcalloc(p, rproxy_pool_size(pool) * sizeof(int));
    *state = st;
    return NULL;
}

static int
rr_pick(void *state, request_rec *r, rproxy_member_t *const *cand, int n)
{
    rr_state_t *st = state;
    apr_thread_mutex_t *mutex = rproxy_pool_lock(st->pool);
    int i, best = 0, total = 0;

    (void)r;
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
    RPROXY_LB_USES_WEIGHT,
    rr_create,
    rr_pick,
    NULL
};
