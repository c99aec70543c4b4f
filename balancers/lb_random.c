/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * lb_random.c - weighted random.
 *
 * Each pick draws x uniformly from [0, sum of the candidates' weights) and
 * walks the candidates, subtracting weights, until x falls inside one:
 * "roulette-wheel selection" (Goldberg, "Genetic Algorithms in Search,
 * Optimization and Machine Learning", 1989; nginx's "random" upstream
 * without "two" does the same). Each member gets weight / total of the
 * requests in the long run, with no shared schedule to keep: many proxies
 * (or many children) picking independently still add up to the right
 * split, which is the reason to prefer it over round robin there.
 *
 * Worked example, weights a=3 b=1 (total 4): x in {0,1,2} lands on a,
 * x = 3 on b. Draws 2, 3, 0, 0, 1 give a b a a a; over many picks a gets
 * 3/4, and unlike round robin b may also come twice in a row.
 *
 * The generator (lb_rand.h) is per child and lock-free.
 */

#include "lb_rand.h"

#include "apr_strings.h"

static int
random_pick(void *state, request_rec *r, rproxy_member_t *const *cand, int n)
{
    (void)r;
    return lb_rand_weighted(state, cand, n, -1);
}

const rproxy_balancer_t rp_lb_random = {
    "random",
    0,
    lb_rand_create,
    random_pick,
    NULL
};
