/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * lb_rand.h - the random numbers of the random, p2c and ewma balancers:
 * a per-child generator that any thread may draw from without a lock, and
 * a weighted draw over candidates. Uses only mod_rproxy.h and APR, like
 * any third-party balancer could.
 *
 * The generator is SplitMix64 (Steele, Lea, Flood: "Fast splittable
 * pseudorandom number generators", OOPSLA 2014): the state is a counter
 * that advances by a fixed odd constant, and each output is a bijective
 * mix of the counter. Because the state is just a counter, one
 * apr_atomic_add64() per draw makes it safe for every thread of a child,
 * with no lock and no thread-local storage. It is not for secrets.
 *
 * Seeding: the balancer's create() runs in the parent, before the fork, so
 * a seed drawn there would be shared by every child and they would all
 * make the same choices in step. The seed is drawn instead on a child's
 * first draw (the parent never picks), under the pool's mutex.
 */

#ifndef LB_RAND_H
#define LB_RAND_H

#include "mod_rproxy.h"
#include "apr_strings.h"
#include "apr_atomic.h"
#include "apr_general.h"
#include "apr_thread_mutex.h"
#include "apr_time.h"

#define LB_RAND_GAMMA APR_UINT64_C(0x9e3779b97f4a7c15)

typedef struct {
    rproxy_pool_t *pool;            /* for its mutex, when seeding */
    volatile apr_uint64_t counter;  /* SplitMix64 state, atomic add */
    volatile apr_uint32_t seeded;   /* set once per child, under the mutex */
} lb_rand_t;

static APR_INLINE void
lb_rand_init(lb_rand_t *rnd, rproxy_pool_t *pool)
{
    rnd->pool = pool;
    rnd->counter = 0;
    rnd->seeded = 0;
}

/* create() for balancers whose whole state is one generator and that take
 * no arguments (random, p2c). */
static APR_INLINE const char *
lb_rand_create(void **state, apr_pool_t *p, rproxy_pool_t *pool,
               const char *args)
{
    lb_rand_t *rnd;

    if (args) {
        return apr_psprintf(p, "takes no arguments, got '%s'", args);
    }
    rnd = apr_palloc(p, sizeof(*rnd));
    lb_rand_init(rnd, pool);
    *state = rnd;
    return NULL;
}

static APR_INLINE void
lb_rand_seed(lb_rand_t *rnd)
{
    apr_thread_mutex_t *mutex = rproxy_pool_lock(rnd->pool);
    apr_uint64_t seed;

    if (mutex) {
        apr_thread_mutex_lock(mutex);
    }
    if (!apr_atomic_read32(&rnd->seeded)) {
        if (apr_generate_random_bytes((unsigned char *)&seed, sizeof(seed))
            != APR_SUCCESS) {
            /* no entropy source: the time still differs between children */
            seed = (apr_uint64_t)apr_time_now() * LB_RAND_GAMMA
                   ^ (apr_uint64_t)(apr_uintptr_t)&seed;
        }
        apr_atomic_set64(&rnd->counter, seed);
        apr_atomic_set32(&rnd->seeded, 1);
    }
    if (mutex) {
        apr_thread_mutex_unlock(mutex);
    }
}

/* 64 random bits. */
static APR_INLINE apr_uint64_t
lb_rand_next(lb_rand_t *rnd)
{
    apr_uint64_t z;

    if (!apr_atomic_read32(&rnd->seeded)) {
        lb_rand_seed(rnd);
    }
    z = apr_atomic_add64(&rnd->counter, LB_RAND_GAMMA) + LB_RAND_GAMMA;
    z = (z ^ (z >> 30)) * APR_UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * APR_UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* A number in [0, n), n >= 1: the top 32 bits scaled by n (Lemire's
 * multiply-shift), whose bias of n / 2^32 is far below what a test or a
 * load split could notice for pool-sized n. */
static APR_INLINE apr_uint32_t
lb_rand_below(lb_rand_t *rnd, apr_uint32_t n)
{
    return (apr_uint32_t)(((lb_rand_next(rnd) >> 32) * n) >> 32);
}

/* A candidate drawn with probability weight / (sum of weights), leaving
 * out index skip (-1: none). Needs at least one candidate besides skip. */
static APR_INLINE int
lb_rand_weighted(lb_rand_t *rnd, rproxy_member_t *const *cand, int n,
                 int skip)
{
    apr_uint32_t total = 0, x;
    int i, last = -1;

    for (i = 0; i < n; i++) {
        if (i != skip) {
            total += (apr_uint32_t)rproxy_member_weight(cand[i]);
        }
    }
    x = lb_rand_below(rnd, total);
    for (i = 0; i < n; i++) {
        apr_uint32_t w;

        if (i == skip) {
            continue;
        }
        w = (apr_uint32_t)rproxy_member_weight(cand[i]);
        if (x < w) {
            return i;
        }
        x -= w;
        last = i;
    }
    return last;    /* not reached: x < total */
}

#endif /* LB_RAND_H */
