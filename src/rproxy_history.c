/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_history.c - the last few minutes, second by second, for the
 * status page: per pool the requests, failures and a latency histogram of
 * each second (its sparklines of requests/s and p99), per member the
 * requests of the last few seconds (its request rate).
 *
 * Design: a ring of one-second slots, indexed by the second modulo the
 * ring's length, in the shared segment (rproxy_shm.c reserves the space).
 * Every counter is one 64-bit word that carries its own second: the high
 * 32 bits are the second (apr_time_sec, truncated), the low 32 bits the
 * count in that second. The child that serves a request adds to each
 * word with one compare-and-swap: when the word's second is the current
 * one it adds, when it is older (a lap ago, or never written) it replaces
 * the word with the current second and a count of one: a stale slot
 * resets itself, word by word, without a lock and without losing a sample
 * of the current second. A sample whose second is older than the word's
 * (a thread that read the clock long before it counted) is dropped.
 * A reader takes a word only when its second is the one it asks for, so
 * a slot nobody wrote in a lap reads as zero. Bounded: the rings are
 * allocated once, at startup, and zeroed at every start (graceful too).
 */

#include "rproxy_history.h"

#include "apr_atomic.h"

/* Who writes: every field, the child serving the try that ends in that
 * second (rp_history_count), by compare-and-swap of the tagged word. */
typedef struct {
    volatile apr_uint64_t requests;     /* tries ended */
    volatile apr_uint64_t failures;     /* tries that failed */
    volatile apr_uint64_t lat[RP_LAT_NBUCKETS];     /* latency samples,
                                                     * not cumulative */
} rp_hist_slot_t;

struct rp_hist_pool_t {
    rp_hist_slot_t slot[RP_HIST_POOL_SECS];
};

/* Who writes: the child serving the try, as above. */
struct rp_hist_member_t {
    volatile apr_uint64_t requests[RP_HIST_MEMBER_SECS];
};

#define TAG_SEC(w)      ((apr_uint32_t)((w) >> 32))
#define TAG_COUNT(w)    ((apr_uint32_t)((w) & 0xffffffffu))

static apr_uint32_t
now_sec(apr_time_t now)
{
    return (apr_uint32_t)apr_time_sec(now);
}

/* One more in second sec; the count saturates rather than wrap into the
 * tag. */
static void
tagged_inc(volatile apr_uint64_t *w, apr_uint32_t sec)
{
    apr_uint64_t cur, next;

    do {
        cur = apr_atomic_read64(w);
        if (TAG_SEC(cur) == sec) {
            if (TAG_COUNT(cur) == 0xffffffffu) {
                return;
            }
            next = cur + 1;
        }
        else if ((apr_int32_t)(sec - TAG_SEC(cur)) > 0 || !cur) {
            next = ((apr_uint64_t)sec << 32) | 1;
        }
        else {
            return;             /* the slot is already a newer second's */
        }
    } while (apr_atomic_cas64(w, next, cur) != cur);
}

static apr_uint32_t
tagged_read(const volatile apr_uint64_t *w, apr_uint32_t sec)
{
    apr_uint64_t cur = apr_atomic_read64((volatile apr_uint64_t *)w);

    return TAG_SEC(cur) == sec ? TAG_COUNT(cur) : 0;
}

apr_size_t
rp_history_size(apr_size_t npools, apr_size_t nmembers)
{
    return APR_ALIGN(npools * sizeof(rp_hist_pool_t), 8)
           + APR_ALIGN(nmembers * sizeof(rp_hist_member_t), 8);
}

void
rp_history_attach(void *base)
{
    rp_hist_pool_t *ph = base;
    rp_hist_member_t *mh;
    int i, j;

    mh = (rp_hist_member_t *)((char *)base
                              + APR_ALIGN(rp_globals.pools->nelts
                                          * sizeof(rp_hist_pool_t), 8));
    for (i = 0; i < rp_globals.pools->nelts; i++) {
        rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, i,
                                            rproxy_pool_t *);

        pool->hist = ph++;
        for (j = 0; j < pool->members->nelts; j++) {
            APR_ARRAY_IDX(pool->members, j, rproxy_member_t *)->hist = mh++;
        }
    }
}

void
rp_history_count(rproxy_member_t *m, int failed, int lat_bucket,
                 apr_time_t now)
{
    apr_uint32_t sec = now_sec(now);
    rp_hist_slot_t *slot;

    if (!m->hist || !m->pool->hist) {
        return;
    }
    tagged_inc(&m->hist->requests[sec % RP_HIST_MEMBER_SECS], sec);
    slot = &m->pool->hist->slot[sec % RP_HIST_POOL_SECS];
    tagged_inc(&slot->requests, sec);
    if (failed) {
        tagged_inc(&slot->failures, sec);
    }
    if (lat_bucket >= 0 && lat_bucket < RP_LAT_NBUCKETS) {
        tagged_inc(&slot->lat[lat_bucket], sec);
    }
}

void
rp_history_read_pool(const rproxy_pool_t *pool, apr_time_t now,
                     rp_hist_read_t *out)
{
    apr_uint32_t last = now_sec(now) - 1, sec;
    int i, b;

    memset(out, 0, sizeof(*out));
    if (!pool->hist) {
        return;
    }
    for (i = 0; i < RP_HIST_POOL_SECS; i++) {
        const rp_hist_slot_t *slot;

        sec = last - (RP_HIST_POOL_SECS - 1) + i;
        slot = &pool->hist->slot[sec % RP_HIST_POOL_SECS];
        out->requests[i] = tagged_read(&slot->requests, sec);
        out->failures[i] = tagged_read(&slot->failures, sec);
        for (b = 0; b < RP_LAT_NBUCKETS; b++) {
            out->lat[i][b] = tagged_read(&slot->lat[b], sec);
        }
    }
}

double
rp_history_member_rate(const rproxy_member_t *m, apr_time_t now)
{
    apr_uint32_t last = now_sec(now) - 1, sum = 0;
    int i;

    if (!m->hist) {
        return 0;
    }
    for (i = 0; i < RP_HIST_RATE_SECS; i++) {
        apr_uint32_t sec = last - i;

        sum += tagged_read(&m->hist->requests[sec % RP_HIST_MEMBER_SECS],
                           sec);
    }
    return (double)sum / RP_HIST_RATE_SECS;
}
