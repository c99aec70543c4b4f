/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * test_lb.c - unit tests for the balancers in balancers/, run without
 * httpd: the member accessors of mod_rproxy.h are stubbed here with plain
 * fields the tests set, so each algorithm's choices can be checked for
 * exact schedules (least_conn), splits over many draws (random, p2c) and
 * the cost rules of ewma, including its ageing (built with a 50 ms
 * half-life). Prints TAP.
 */

#include "mod_rproxy.h"
#include "apr_general.h"
#include "apr_time.h"

#include <stdio.h>
#include <string.h>

extern const rproxy_balancer_t rp_lb_round_robin, rp_lb_least_conn,
                               rp_lb_random, rp_lb_p2c, rp_lb_ewma;

/* --- the stubbed core ---------------------------------------------- */

struct rproxy_member_t {
    int index;
    int weight;
    apr_uint32_t inflight;
    apr_interval_time_t latency;
};

#define MAX_MEMBERS 4

struct rproxy_pool_t {
    int n;
    rproxy_member_t m[MAX_MEMBERS];
    rproxy_member_t *cand[MAX_MEMBERS];
    apr_uint32_t ticket;
};

int rproxy_member_index(const rproxy_member_t *m) { return m->index; }
int rproxy_member_weight(const rproxy_member_t *m) { return m->weight; }
const char *rproxy_member_name(const rproxy_member_t *m)
{
    (void)m;
    return "stub";
}
apr_uint32_t rproxy_member_inflight(const rproxy_member_t *m)
{
    return m->inflight;
}
apr_interval_time_t rproxy_member_latency(const rproxy_member_t *m)
{
    return m->latency;
}
int rproxy_pool_size(const rproxy_pool_t *pool) { return pool->n; }
const char *rproxy_pool_name(const rproxy_pool_t *pool)
{
    (void)pool;
    return "stub";
}
apr_thread_mutex_t *rproxy_pool_lock(rproxy_pool_t *pool)
{
    (void)pool;
    return NULL;        /* one thread here */
}

rproxy_member_t *rproxy_pool_member(const rproxy_pool_t *pool, int i)
{
    return i >= 0 && i < pool->n ? (rproxy_member_t *)&pool->m[i] : NULL;
}

apr_uint32_t rproxy_pool_ticket(rproxy_pool_t *pool)
{
    return pool->ticket++;
}

/* --- harness ------------------------------------------------------- */

static int test_no;
static int failures;
static apr_pool_t *p;

static void
check(int cond, const char *what)
{
    test_no++;
    printf("%sok %d - %s\n", cond ? "" : "not ", test_no, what);
    failures += !cond;
}

/* A pool of n members with the given weights, and the balancer's state. */
static void *
setup(rproxy_pool_t *pool, const rproxy_balancer_t *lb, int n,
      const int *weights)
{
    void *state = NULL;
    int i;

    memset(pool, 0, sizeof(*pool));
    pool->n = n;
    for (i = 0; i < n; i++) {
        pool->m[i].index = i;
        pool->m[i].weight = weights[i];
        pool->cand[i] = &pool->m[i];
    }
    check(lb->create(&state, p, pool, NULL) == NULL, "create");
    return state;
}

/* Picks `rounds` times; counts[] by member, seq[] the first 64 picks. */
static void
run(const rproxy_balancer_t *lb, void *state, rproxy_pool_t *pool,
    int rounds, int *counts, char *seq)
{
    int i, k;

    memset(counts, 0, MAX_MEMBERS * sizeof(int));
    for (i = 0; i < rounds; i++) {
        k = lb->pick(state, NULL, pool->cand, pool->n);
        if (k < 0 || k >= pool->n) {
            counts[0] = -1000000;       /* fails any check */
            return;
        }
        counts[k]++;
        if (seq && i < 64) {
            seq[i] = (char)('a' + k);
            seq[i + 1] = '\0';
        }
    }
}

static int
near(int got, double expect, double tolerance)
{
    return got >= expect - tolerance && got <= expect + tolerance;
}

/* --- the balancers ------------------------------------------------- */

static void
test_args(void)
{
    const rproxy_balancer_t *all[] = { &rp_lb_round_robin, &rp_lb_least_conn,
                                       &rp_lb_random, &rp_lb_p2c,
                                       &rp_lb_ewma };
    rproxy_pool_t pool = { 1, { { 0, 1, 0, 0 } }, { NULL }, 0 };
    void *state;
    size_t i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        check(all[i]->create(&state, p, &pool, "extra") != NULL,
              "every balancer refuses arguments");
    }
}

/* round_robin: the smooth schedule, one rotation across "children" (two
 * states sharing the pool's ticket), and the fallbacks. */
static void
test_round_robin(void)
{
    static const int w[] = { 5, 1, 1 };
    rproxy_pool_t pool;
    void *one, *two;
    int counts[MAX_MEMBERS], i, k;
    char seq[80];

    one = setup(&pool, &rp_lb_round_robin, 3, w);
    run(&rp_lb_round_robin, one, &pool, 70, counts, seq);
    check(!strncmp(seq, "aabacaaaabacaa", 14), "5:1:1 -> a a b a c a a");
    check(counts[0] == 50 && counts[1] == 10 && counts[2] == 10,
          "5:1:1 exact over 70 picks");

    /* two children: their picks interleave into the one schedule */
    two = NULL;
    check(rp_lb_round_robin.create(&two, p, &pool, NULL) == NULL,
          "create a second child's state");
    pool.ticket = 0;
    for (i = 0; i < 14; i++) {
        k = rp_lb_round_robin.pick(i % 2 ? two : one, NULL, pool.cand, 3);
        seq[i] = (char)('a' + k);
    }
    seq[14] = '\0';
    check(!strcmp(seq, "aabacaaaabacaa"),
          "picks alternating between two children follow one schedule");

    /* c not a candidate: its slots go to the others by weight (5:1) */
    memset(counts, 0, sizeof(counts));
    for (i = 0; i < 700; i++) {
        k = rp_lb_round_robin.pick(one, NULL, pool.cand, 2);
        counts[k]++;
    }
    check(counts[0] + counts[1] == 700 && near(counts[0], 700 * 5.0 / 6, 3),
          "a member out: the rest split its slots by weight");

    /* b ramping (slow start): the per-child rotation on current weights */
    pool.m[1].weight = 3;
    run(&rp_lb_round_robin, one, &pool, 90, counts, NULL);
    check(counts[0] == 50 && counts[1] == 30 && counts[2] == 10,
          "weights below the configured ones: 5:3:1 exact over 90 picks");
}

static void
test_least_conn(void)
{
    static const int equal[] = { 1, 1, 1 }, w211[] = { 2, 1, 1 },
                     w21[] = { 2, 1 };
    rproxy_pool_t pool;
    void *st;
    int c[MAX_MEMBERS], i, ok;
    char seq[72];

    st = setup(&pool, &rp_lb_least_conn, 3, equal);
    run(&rp_lb_least_conn, st, &pool, 300, c, seq);
    check(c[0] == 100 && c[1] == 100 && c[2] == 100,
          "least_conn: idle equal members get exactly a third each");
    for (ok = 1, i = 0; i + 3 <= 63; i += 3) {
        ok &= seq[i] != seq[i + 1] && seq[i + 1] != seq[i + 2]
              && seq[i] != seq[i + 2];
    }
    check(ok, "least_conn: idle equal members rotate");

    st = setup(&pool, &rp_lb_least_conn, 3, w211);
    run(&rp_lb_least_conn, st, &pool, 400, c, seq);
    check(c[0] == 200 && c[1] == 100 && c[2] == 100,
          "least_conn: idle weights 2:1:1 split exactly 200:100:100");
    check(strncmp(seq, "aabcaabc", 8) == 0,
          "least_conn: idle 2:1:1 schedule is a a b c");

    pool.m[0].inflight = 1;
    pool.m[1].inflight = 1;
    run(&rp_lb_least_conn, st, &pool, 50, c, NULL);
    check(c[2] == 50, "least_conn: ratios 1/2 1/1 0/1 pick the idle one");
    pool.m[2].inflight = 1;
    run(&rp_lb_least_conn, st, &pool, 50, c, NULL);
    check(c[0] == 50, "least_conn: ratios 1/2 1/1 1/1 pick the heavier one");

    st = setup(&pool, &rp_lb_least_conn, 3, equal);
    pool.m[0].inflight = 1;
    run(&rp_lb_least_conn, st, &pool, 100, c, NULL);
    check(c[0] == 0 && c[1] == 50 && c[2] == 50,
          "least_conn: two tied idle members alternate, the busy one waits");

    st = setup(&pool, &rp_lb_least_conn, 2, w21);
    pool.m[0].inflight = 3;     /* 3/2 */
    pool.m[1].inflight = 1;     /* 1/1 */
    run(&rp_lb_least_conn, st, &pool, 20, c, NULL);
    check(c[1] == 20, "least_conn: 3/2 loses to 1/1");
}

static void
test_random(void)
{
    static const int w31[] = { 3, 1 }, equal[] = { 1, 1, 1 };
    rproxy_pool_t pool;
    void *st, *st2;
    int c[MAX_MEMBERS];
    char seq[72], seq2[72];

    /* 400000 draws at p = 3/4: sd 274 */
    st = setup(&pool, &rp_lb_random, 2, w31);
    run(&rp_lb_random, st, &pool, 400000, c, seq);
    check(near(c[0], 300000, 2000), "random: weights 3:1 split 3/4");

    st = setup(&pool, &rp_lb_random, 3, equal);
    run(&rp_lb_random, st, &pool, 300000, c, seq);
    check(near(c[0], 100000, 1500) && near(c[1], 100000, 1500)
          && near(c[2], 100000, 1500), "random: equal members a third each");

    /* two children: separately seeded, different choices */
    st2 = setup(&pool, &rp_lb_random, 3, equal);
    run(&rp_lb_random, st, &pool, 64, c, seq);
    run(&rp_lb_random, st2, &pool, 64, c, seq2);
    check(strcmp(seq, seq2) != 0, "random: each instance has its own seed");
}

static void
test_p2c(void)
{
    static const int equal[] = { 1, 1, 1 }, w31[] = { 3, 1 };
    rproxy_pool_t pool;
    void *st;
    int c[MAX_MEMBERS];

    /* the worked example of lb_p2c.c */
    st = setup(&pool, &rp_lb_p2c, 3, equal);
    pool.m[0].inflight = 3;
    pool.m[2].inflight = 1;
    run(&rp_lb_p2c, st, &pool, 300000, c, NULL);
    check(c[0] == 0, "p2c: the strictly busiest member is never chosen");
    check(near(c[1], 200000, 1500) && near(c[2], 100000, 1500),
          "p2c: in flight 3 0 1 gives 0 2/3 1/3");

    st = setup(&pool, &rp_lb_p2c, 2, w31);
    run(&rp_lb_p2c, st, &pool, 400000, c, NULL);
    check(near(c[0], 300000, 2000), "p2c: idle weights 3:1 split 3/4");
    pool.m[0].inflight = 1;     /* 1/3 against 0/1 */
    run(&rp_lb_p2c, st, &pool, 100, c, NULL);
    check(c[1] == 100, "p2c: two members, the less loaded always");
    pool.m[1].inflight = 1;     /* 1/3 against 1/1 */
    run(&rp_lb_p2c, st, &pool, 100, c, NULL);
    check(c[0] == 100, "p2c: load is relative to weight");
}

static void
test_ewma(void)
{
    static const int equal[] = { 1, 1, 1 }, two[] = { 1, 1 },
                     w31[] = { 3, 1 };
    rproxy_pool_t pool;
    void *st;
    int c[MAX_MEMBERS];

    /* the worked example of lb_ewma.c */
    st = setup(&pool, &rp_lb_ewma, 3, equal);
    pool.m[0].latency = 2000;
    pool.m[0].inflight = 1;
    pool.m[1].latency = 10000;
    run(&rp_lb_ewma, st, &pool, 3000, c, NULL);
    check(c[1] == 0, "ewma: 10001 loses to 4002 and to an unknown member");
    check(near(c[2], 2000, 150),
          "ewma: an unknown idle member wins its draws");
    pool.m[2].inflight = 1;
    run(&rp_lb_ewma, st, &pool, 3000, c, NULL);
    check(c[2] == 0, "ewma: an unknown member with a request in flight waits");

    st = setup(&pool, &rp_lb_ewma, 3, equal);
    pool.m[0].latency = 400000;
    pool.m[1].latency = 1000;
    pool.m[2].latency = 1200;
    run(&rp_lb_ewma, st, &pool, 3000, c, NULL);
    check(c[0] == 0 && near(c[1], 2000, 150),
          "ewma: the slow member never, the faster of the others 2/3");

    st = setup(&pool, &rp_lb_ewma, 2, two);
    pool.m[0].latency = 1000;
    pool.m[0].inflight = 3;     /* 1001 * 4 */
    pool.m[1].latency = 2000;   /* 2001 * 1 */
    run(&rp_lb_ewma, st, &pool, 100, c, NULL);
    check(c[1] == 100, "ewma: requests in flight multiply the latency");

    st = setup(&pool, &rp_lb_ewma, 2, w31);
    pool.m[0].latency = 1000;   /* 1001 / 3 */
    pool.m[1].latency = 500;    /* 501 / 1 */
    run(&rp_lb_ewma, st, &pool, 100, c, NULL);
    check(c[0] == 100, "ewma: the cost is divided by the weight");

    /* ageing, with the 50 ms half-life of this build; member b answers
     * steadily at its value, which keeps its age at 0 */
    st = setup(&pool, &rp_lb_ewma, 2, two);
    pool.m[0].latency = 400000;
    pool.m[1].latency = 1000;
    rp_lb_ewma.release(st, NULL, &pool.m[0], RPROXY_OUTCOME_OK, 400000);
    rp_lb_ewma.release(st, NULL, &pool.m[1], RPROXY_OUTCOME_OK, 1000);
    run(&rp_lb_ewma, st, &pool, 100, c, NULL);
    check(c[1] == 100, "ewma: right after its slow answer, a member loses");
    apr_sleep(apr_time_from_msec(600));     /* 12 half-lives: 400000 -> 97 */
    rp_lb_ewma.release(st, NULL, &pool.m[1], RPROXY_OUTCOME_OK, 1000);
    run(&rp_lb_ewma, st, &pool, 100, c, NULL);
    check(c[0] == 100, "ewma: long after, its latency has aged away");
    /* a fast answer moves the core value down by 1/8 only; it is no new
     * peak, so the age keeps running and the member keeps its chance */
    pool.m[0].latency = 350000;
    rp_lb_ewma.release(st, NULL, &pool.m[0], RPROXY_OUTCOME_OK, 1000);
    run(&rp_lb_ewma, st, &pool, 100, c, NULL);
    check(c[0] == 100, "ewma: a fast answer keeps the age running");
    pool.m[0].latency = 500000;
    rp_lb_ewma.release(st, NULL, &pool.m[0], RPROXY_OUTCOME_OK, 500000);
    run(&rp_lb_ewma, st, &pool, 100, c, NULL);
    check(c[1] == 100, "ewma: a new peak restarts the age");
}

int
main(void)
{
    apr_initialize();
    apr_pool_create(&p, NULL);
    test_args();
    test_round_robin();
    test_least_conn();
    test_random();
    test_p2c();
    test_ewma();
    printf("1..%d\n", test_no);
    apr_pool_destroy(p);
    apr_terminate();
    return failures ? 1 : 0;
}
