/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * lb_p2c.c - power of two choices on outstanding requests.
 *
 * Draw two distinct candidates at random and send the request to the one
 * with fewer requests in flight relative to its weight. Mitzenmacher ("The
 * Power of Two Choices in Randomized Load Balancing", IEEE TPDS 12(10),
 * 2001) shows that this second choice brings the maximum load down from
 * about log n / log log n to log log n / log 2 above the average, nearly
 * what a full scan achieves, while each pick looks at only two members.
 * The randomness is the point when many balancers (children, proxies) act
 * on slightly stale counts: a full least-loaded scan would have them all
 * herd onto the same "best" member, two random choices spread them.
 *
 * Weights: both draws are weighted (the second among the candidates left),
 * and the comparison is inflight / weight, by cross-multiplication. On a
 * tie the first draw wins, so an idle pool is split by weight exactly as
 * the random balancer splits it. Envoy's LEAST_REQUEST with choice_count 2
 * and nginx's "random two least_conn" are the same algorithm.
 *
 * Worked example, equal weights, in flight a=3 b=0 c=1: the draws (a,b)
 * and (b,a) give b, (a,c) and (c,a) give c, (b,c) and (c,b) give b. The
 * busiest member a is never chosen while it is strictly the busiest; b
 * gets 2/3 of the picks and c 1/3.
 */

#include "lb_rand.h"

#include "apr_strings.h"

static int
p2c_pick(void *state, request_rec *r, rproxy_member_t *const *cand, int n)
{
    int a, b;
    apr_uint64_t load_a, load_b;

    (void)r;
    /* n >= 2 (mod_rproxy.h): the second draw always has one left */
    a = lb_rand_weighted(state, cand, n, -1);
    b = lb_rand_weighted(state, cand, n, a);
    /* in_b / w_b < in_a / w_a, cross-multiplied */
    load_a = (apr_uint64_t)rproxy_member_inflight(cand[a])
             * (apr_uint64_t)rproxy_member_weight(cand[b]);
    load_b = (apr_uint64_t)rproxy_member_inflight(cand[b])
             * (apr_uint64_t)rproxy_member_weight(cand[a]);
    return load_b < load_a ? b : a;
}

const rproxy_balancer_t rp_lb_p2c = {
    "p2c",
    0,
    lb_rand_create,
    p2c_pick,
    NULL
};
