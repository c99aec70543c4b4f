/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * test_history.c - unit tests for src/rproxy_history.c, run without
 * httpd: one pool of two members over a zeroed buffer as the shared
 * segment would give it. Counts land in their second, a slot a lap old
 * resets itself on the next write and reads as zero before, a late
 * writer does not clobber a newer second, the member rate covers the
 * last complete seconds, and threads counting at once lose nothing.
 * Prints TAP.
 */

#include "rproxy_history.h"
#include "apr_general.h"
#include "apr_thread_proc.h"

#include <stdio.h>
#include <stdlib.h>

rp_globals_t rp_globals;
/* rproxy_private.h's APLOG_USE_MODULE refers to it; nothing logs here */
module AP_MODULE_DECLARE_DATA rproxy_module;

static int failed, tests;

static void
ok(int cond, const char *name)
{
    tests++;
    failed += !cond;
    printf("%sok %d - %s\n", cond ? "" : "not ", tests, name);
}

static rproxy_pool_t pool;
static rproxy_member_t m0, m1;
static rp_hist_read_t h;

#define T0  apr_time_from_sec(1700000000)
#define LAST (RP_HIST_POOL_SECS - 1)

static void *APR_THREAD_FUNC
hammer(apr_thread_t *t, void *arg)
{
    int i;

    (void)arg;
    for (i = 0; i < 100000; i++) {
        rp_history_count(&m1, i & 1, 2, T0 + apr_time_from_sec(1000));
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static void
threads(apr_pool_t *p)
{
    apr_thread_t *t[4];
    apr_status_t rv;
    int i;

    for (i = 0; i < 4; i++) {
        apr_thread_create(&t[i], NULL, hammer, NULL, p);
    }
    for (i = 0; i < 4; i++) {
        apr_thread_join(&rv, t[i]);
    }
    rp_history_read_pool(&pool, T0 + apr_time_from_sec(1001), &h);
    ok(h.requests[LAST] == 400000 && h.failures[LAST] == 200000
       && h.lat[LAST][2] == 400000,
       "4 threads x 100000 in one second: none lost");
}

int
main(void)
{
    apr_pool_t *p;
    void *base;

    apr_initialize();
    apr_pool_create(&p, NULL);
    rp_globals.pools = apr_array_make(p, 1, sizeof(rproxy_pool_t *));
    APR_ARRAY_PUSH(rp_globals.pools, rproxy_pool_t *) = &pool;
    pool.members = apr_array_make(p, 2, sizeof(rproxy_member_t *));
    APR_ARRAY_PUSH(pool.members, rproxy_member_t *) = &m0;
    APR_ARRAY_PUSH(pool.members, rproxy_member_t *) = &m1;
    m0.pool = m1.pool = &pool;
    base = calloc(1, rp_history_size(1, 2));
    rp_history_attach(base);
    ok(pool.hist && m0.hist && m1.hist && (void *)m0.hist != (void *)m1.hist,
       "attach: a ring per pool and per member");

    rp_history_count(&m0, 0, 3, T0);
    rp_history_count(&m0, 0, 3, T0 + 1000);
    rp_history_count(&m0, 1, -1, T0);
    rp_history_count(&m1, 0, 0, T0 + apr_time_from_sec(1));
    rp_history_read_pool(&pool, T0 + apr_time_from_sec(2), &h);
    ok(h.requests[LAST - 1] == 3 && h.failures[LAST - 1] == 1
       && h.lat[LAST - 1][3] == 2, "three tries in T0, one failed");
    ok(h.requests[LAST] == 1 && h.lat[LAST][0] == 1, "one in T0+1");
    rp_history_read_pool(&pool, T0 + apr_time_from_sec(1), &h);
    ok(h.requests[LAST] == 3 && h.requests[LAST - 1] == 0,
       "the current second is not read yet");
    ok(rp_history_member_rate(&m0, T0 + apr_time_from_sec(1)) == 0.3,
       "m0: 3 requests over the last 10 s");
    ok(rp_history_member_rate(&m0, T0 + apr_time_from_sec(10)) == 0.3
       && rp_history_member_rate(&m0, T0 + apr_time_from_sec(11)) == 0,
       "m0: out of the rate after 10 s");

    /* T0 + 300 s uses T0's slot */
    rp_history_read_pool(&pool, T0 + apr_time_from_sec(301), &h);
    ok(h.requests[LAST] == 0, "a slot a lap old reads as zero");
    rp_history_count(&m0, 0, 5, T0 + apr_time_from_sec(300));
    rp_history_read_pool(&pool, T0 + apr_time_from_sec(301), &h);
    ok(h.requests[LAST] == 1 && h.failures[LAST] == 0 && h.lat[LAST][3] == 0
       && h.lat[LAST][5] == 1, "the next write resets it: only the new try");
    rp_history_count(&m0, 1, 3, T0);
    rp_history_read_pool(&pool, T0 + apr_time_from_sec(301), &h);
    ok(h.requests[LAST] == 1 && h.failures[LAST] == 0 && h.lat[LAST][3] == 0,
       "a late write for T0 does not clobber T0+300");
    rp_history_read_pool(&pool, T0 + apr_time_from_sec(2), &h);
    ok(h.requests[LAST - 1] == 0, "nor does T0 read back");

    threads(p);
    printf("1..%d\n", tests);
    free(base);
    apr_terminate();
    return failed != 0;
}
