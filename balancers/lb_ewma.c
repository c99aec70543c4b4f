/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * lb_ewma.c - peak-EWMA latency times outstanding requests, two choices.
 *
 * Twitter's Finagle (its "p2cPeakEwma" balancer) and Linkerd (Buoyant, "Beyond
 * Round Robin: Load Balancing for Latency", 2016; tower's PeakEwma in
 * linkerd2-proxy) estimate what a new request would cost on a member as
 *
 *     cost = (latency + 1) * (inflight + 1) / weight
 *
 * where latency is the member's peak-EWMA response time in microseconds
 * (rproxy_member_latency(): it jumps to a slower sample at once and comes
 * down by 1/8 per faster one, so a member that starts to stall is avoided
 * from its first slow answer). The product is the expected wait behind the
 * requests already queued there. Like lb_p2c.c, two weighted random
 * candidates are compared rather than all of them, so children acting on
 * the same numbers do not all rush to the one cheapest member.
 *
 * Two refinements, both Finagle's:
 * - A member with no latency yet but requests in flight costs a huge
 *   penalty, so a new member gets one probe at a time until its first
 *   answer says how fast it is, not a flood because it looks free.
 * - The latency ages: Finagle decays its cost with time, e^(-t/10s). The
 *   core's value moves only on samples, and a member that was slow once
 *   would then never be picked again at low load, so never measured again.
 *   Here the value counts for half per EWMA_HALFLIFE_MS since the member
 *   last got slower (a sample at or above its value, as this child's
 *   release() saw it). A member in use gets such samples every few
 *   answers, as they catch up with the value the faster ones pulled down,
 *   so its age stays short; an avoided one gets none, so its value fades.
 *   It is then probed again; if it recovered, its fast answers pull the
 *   core value down while the age keeps running, so it wins ever more.
 *
 * Worked example, equal weights: a answers in 2000 us with 1 in flight,
 * cost 2001 * 2 = 4002; b in 10000 us, idle, cost 10001; c is new and
 * idle, cost 1 * 1 = 1. The draws (a,b) give a, any pair with c gives c.
 * Once c is in flight and still unknown it costs the penalty: (a,c) gives
 * a, (b,c) gives b, until c answers. Had b last got slower 14 s ago, its
 * 10000 us would count as 2500, cost 2501, and (a,b) would give b.
 */

#include "lb_rand.h"

#include "apr_strings.h"

/* Finagle's default decay time of 10 s, as a half-life (t/unit/test_lb.c
 * builds with a shorter one) */
#ifndef EWMA_HALFLIFE_MS
#define EWMA_HALFLIFE_MS    7000
#endif
/* the cost of an unknown member with requests in flight: more than any
 * real latency times any real queue */
#define EWMA_PENALTY        1e15

typedef struct {
    lb_rand_t rnd;
    /* by member index: when the member last got slower, in ms (wrapping);
     * 0 for not seen yet. Per child, atomic set. */
    volatile apr_uint32_t *peak_ms;
} ewma_state_t;

static apr_uint32_t
now_ms(void)
{
    apr_uint32_t t = (apr_uint32_t)apr_time_as_msec(apr_time_now());

    return t ? t : 1;
}

static const char *
ewma_create(void **state, apr_pool_t *p, rproxy_pool_t *pool,
            const char *args)
{
    ewma_state_t *st;

    if (args) {
        return apr_psprintf(p, "takes no arguments, got '%s'", args);
    }
    st = apr_palloc(p, sizeof(*st));
    lb_rand_init(&st->rnd, pool);
    st->peak_ms = apr_pcalloc(p, rproxy_pool_size(pool)
                                 * sizeof(*st->peak_ms));
    *state = st;
    return NULL;
}

/* us halved per EWMA_HALFLIFE_MS of age, linear in between */
static apr_uint64_t
aged(apr_uint64_t us, apr_uint32_t age_ms)
{
    apr_uint32_t halves = age_ms / EWMA_HALFLIFE_MS;

    if (halves >= 40) {
        return 0;
    }
    us >>= halves;
    return us - us * (age_ms % EWMA_HALFLIFE_MS) / (2 * EWMA_HALFLIFE_MS);
}

static double
cost(ewma_state_t *st, const rproxy_member_t *m, apr_uint32_t now)
{
    apr_uint64_t latency = (apr_uint64_t)rproxy_member_latency(m);
    apr_uint32_t inflight = rproxy_member_inflight(m);
    volatile apr_uint32_t *peak = &st->peak_ms[rproxy_member_index(m)];
    apr_uint32_t since, age;

    if (!latency) {
        return inflight ? EWMA_PENALTY + inflight
                        : 1.0 / rproxy_member_weight(m);
    }
    since = apr_atomic_read32(peak);
    if (!since) {
        /* measured by another child: start its age from now */
        apr_atomic_cas32(peak, now, 0);
        since = now;
    }
    age = now - since;
    if ((apr_int32_t)age < 0) {
        age = 0;        /* stamped by another thread after our reading */
    }
    latency = aged(latency, age);
    return ((double)latency + 1.0) * ((double)inflight + 1.0)
           / rproxy_member_weight(m);
}

static int
ewma_pick(void *state, request_rec *r, rproxy_member_t *const *cand, int n)
{
    ewma_state_t *st = state;
    apr_uint32_t now = now_ms();
    int a, b;

    (void)r;
    /* n >= 2 (mod_rproxy.h): the second draw always has one left */
    a = lb_rand_weighted(&st->rnd, cand, n, -1);
    b = lb_rand_weighted(&st->rnd, cand, n, a);
    return cost(st, cand[b], now) < cost(st, cand[a], now) ? b : a;
}

static void
ewma_release(void *state, request_rec *r, rproxy_member_t *m,
             rproxy_outcome_e outcome, apr_interval_time_t latency)
{
    ewma_state_t *st = state;

    (void)r;
    /* A sample at or above the member's value made it jump (whether the
     * core counted it before or after this call): the age restarts. */
    if ((outcome == RPROXY_OUTCOME_OK || outcome == RPROXY_OUTCOME_TIMEOUT)
        && latency >= rproxy_member_latency(m)) {
        apr_atomic_set32(&st->peak_ms[rproxy_member_index(m)], now_ms());
    }
}

const rproxy_balancer_t rp_lb_ewma = {
    "ewma",
    0,
    ewma_create,
    ewma_pick,
    ewma_release
};
