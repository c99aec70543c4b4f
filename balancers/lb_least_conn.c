/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * lb_least_conn.c - weighted least outstanding requests.
 *
 * A request goes to the candidate with the fewest requests in flight
 * relative to its weight, min(inflight / weight), as in HAProxy's
 * "leastconn" (src/lb_fwlc.c) and nginx's "least_conn": a member that
 * answers slowly keeps its requests longer, so it is offered fewer new
 * ones, without the balancer ever measuring time.
 *
 * Ties are common (at low load every member has 0 in flight), and always
 * breaking them toward the first member would pile everything onto it.
 * Tied members take turns instead, in proportion to their weights: a
 * counter advances on each tied pick, and turn mod (sum of the tied
 * weights) selects a member the way a roulette wheel would. Equal members
 * thus rotate exactly, and at low load a weight still means a share.
 *
 * Worked example, weights a=2 b=1 c=1, in flight a=1 b=1 c=0: ratios
 * 1/2, 1/1, 0/1, so c. Then with a=1 b=1 c=1: ratios 1/2, 1, 1, so a.
 * With nothing in flight all three tie (weights 2+1+1 = 4): turns 0,1
 * give a, 2 gives b, 3 gives c, so an idle pool sees a a b c a a b c.
 *
 * Ratios are compared by cross-multiplication (in_a * w_b < in_b * w_a),
 * exact in integers. The in-flight counts are read without a lock: a
 * concurrent request may change one during a pick, which at worst makes
 * that pick as good as a slightly older one.
 */

#include "mod_rproxy.h"
#include "apr_atomic.h"
#include "apr_strings.h"

typedef struct {
    volatile apr_uint32_t turn;     /* tie-breaking counter, atomic inc */
} lc_state_t;

static const char *
lc_create(void **state, apr_pool_t *p, rproxy_pool_t *pool, const char *args)
{
    (void)pool;
    if (args) {
        return apr_psprintf(p, "takes no arguments, got '%s'", args);
    }
    *state = apr_pcalloc(p, sizeof(lc_state_t));
    return NULL;
}

/* <0, 0, >0 as in_a/w_a is below, equal to or above in_b/w_b */
static int
load_cmp(apr_uint32_t in_a, int w_a, apr_uint32_t in_b, int w_b)
{
    apr_uint64_t a = (apr_uint64_t)in_a * (apr_uint64_t)w_b;
    apr_uint64_t b = (apr_uint64_t)in_b * (apr_uint64_t)w_a;

    return a < b ? -1 : a > b;
}

static int
lc_pick(void *state, request_rec *r, rproxy_member_t *const *cand, int n)
{
    lc_state_t *st = state;
    apr_uint32_t best_in, in, tied_weight, turn;
    int i, best = 0, best_w, w;

    (void)r;
    best_in = rproxy_member_inflight(cand[0]);
    best_w = rproxy_member_weight(cand[0]);
    tied_weight = (apr_uint32_t)best_w;
    for (i = 1; i < n; i++) {
        int c;

        in = rproxy_member_inflight(cand[i]);
        w = rproxy_member_weight(cand[i]);
        c = load_cmp(in, w, best_in, best_w);
        if (c < 0) {
            best = i;
            best_in = in;
            best_w = w;
            tied_weight = (apr_uint32_t)w;
        }
        else if (c == 0) {
            tied_weight += (apr_uint32_t)w;
        }
    }
    if (tied_weight == (apr_uint32_t)best_w) {
        return best;                    /* no tie */
    }
    /* walk the tied members (they all come at or after best) */
    turn = apr_atomic_inc32(&st->turn) % tied_weight;
    for (i = best; i < n; i++) {
        if (load_cmp(rproxy_member_inflight(cand[i]),
                     rproxy_member_weight(cand[i]), best_in, best_w)) {
            continue;                   /* not tied (or no longer) */
        }
        w = rproxy_member_weight(cand[i]);
        if (turn < (apr_uint32_t)w) {
            return i;
        }
        turn -= (apr_uint32_t)w;
    }
    return best;    /* a count changed under us: the first minimum */
}

const rproxy_balancer_t rp_lb_least_conn = {
    "least_conn",
    0,
    lc_create,
    lc_pick,
    NULL
};
