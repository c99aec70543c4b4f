/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * lb_hash.c - consistent hashing on a request expression, with bounded
 * loads.
 *
 *     RProxyBalancer hash EXPR [bound=F|off]
 *
 * EXPR is an ap_expr string ("%{REMOTE_ADDR}", "%{HTTP:X-User}",
 * "%{REQUEST_URI}"), parsed once at startup and evaluated per request; the
 * result is the request's key.
 *
 * Consistent hashing (Karger et al., "Consistent Hashing and Random Trees",
 * STOC 1997): every member owns 160 points per unit of weight on a 32-bit
 * ring (the hash of "URL#i", the count nginx uses), and a key belongs to
 * the member owning the first point at or after the key's hash, wrapping
 * around. Adding a member only takes over the arcs in front of its own
 * points, so of N+1 members about 1/(N+1) of the keys move - all of them
 * to the new member - and removing one moves only the keys it had. The
 * points depend on a member's URL and weight alone, never on its position
 * or on the other members.
 *
 * Bounded loads (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with
 * Bounded Loads", arXiv 1608.01350, 2016, SODA 2018; Google Research blog,
 * 2017; HAProxy's hash-balance-factor): with T requests in flight over the
 * candidates, a member of weight w out of a candidate weight W may take the
 * request only if it has fewer than
 *
 *     cap = ceil(bound * (T + 1) * w / W)
 *
 * in flight, i.e. after taking it, it holds at most `bound` times its fair
 * share. A member at its cap is passed over and the walk goes on clockwise
 * to the next member's point. The caps add up to more than T, so someone
 * always has room; a hot key spills onto its ring neighbours instead of
 * piling onto one member, and returns home as soon as the load falls.
 * bound=off gives plain consistent hashing (strict affinity, no spill).
 *
 * Worked example, three members of weight 1, bound 1.25, every request
 * with the same key, whose home is A and whose clockwise neighbour is B
 * (none finishing meanwhile):
 *
 *     T  cap  in flight A B C  goes to
 *     0   1             0 0 0     A
 *     1   1             1 0 0     B   (A is at its cap of 1)
 *     2   2             1 1 0     A
 *     3   2             2 1 0     B
 *     4   3             2 2 0     A
 *     5   3             3 2 0     B
 *     6   3             3 3 0     C   (A and B both full)
 *
 * Members the core did not offer as candidates (disabled, draining,
 * already tried for this request, backups) are skipped on the walk, so a
 * retry lands on the key's next member, the same one every time. In-flight
 * counts are those of rproxy_member_inflight() (this child process). The
 * ring is built at startup and only read afterwards, so pick() takes no
 * lock; it costs 8 bytes a point, 1.25 MiB for a member of weight 1000.
 * Only the public API is used: the expression logs as no module's, so its
 * debug line follows the server's LogLevel, not "rproxy:debug".
 */

#include "mod_rproxy.h"

#include "http_log.h"
#include "ap_expr.h"
#include "apr_strings.h"

#include <stdlib.h>
#include <string.h>

/* Log tags, as in the rest of mod_rproxy (tools/check-lognos). */
#define RPLOGNO(n)              "RP" #n ": "

/* Ring points per unit of weight: nginx's number for its "hash ...
 * consistent". With 160 points a member's share of the keys is within
 * a few percent of its weight's share. */
#define HASH_POINTS_PER_WEIGHT  160
/* Default bound: at most 25% above a fair share (the paper's c = 1.25). */
#define HASH_DEFAULT_BOUND      1250
/* bound is kept in thousandths so that the cap is computed exactly. */
#define HASH_BOUND_SCALE        1000

typedef struct {
    apr_uint32_t point;
    int member;                 /* member index */
} hash_point_t;

typedef struct {
    rproxy_pool_t *pool;
    ap_expr_info_t expr;
    const char *expr_text;
    int bound;                  /* thousandths; 0: no bound */
    hash_point_t *ring;         /* sorted by point, then member */
    int ring_size;
} hash_state_t;

/* 64-bit FNV-1a, finished with MurmurHash3's fmix64: FNV alone leaves
 * strings that differ in their last byte ("URL#1", "URL#2") close
 * together in the high bits, which would bunch a member's points. */
static apr_uint64_t
hash64(const char *s, apr_size_t len)
{
    apr_uint64_t h = APR_UINT64_C(0xcbf29ce484222325);
    apr_size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= APR_UINT64_C(0x100000001b3);
    }
    h ^= h >> 33;
    h *= APR_UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= APR_UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

static apr_uint32_t
hash_point(const char *s, apr_size_t len)
{
    return (apr_uint32_t)(hash64(s, len) >> 32);
}

static int
point_cmp(const void *a, const void *b)
{
    const hash_point_t *x = a, *y = b;

    if (x->point != y->point) {
        return x->point < y->point ? -1 : 1;
    }
    return x->member - y->member;
}

/* Every member's points, sorted. Built once per configuration load. */
static void
build_ring(hash_state_t *st, apr_pool_t *p, apr_pool_t *ptemp)
{
    int size = rproxy_pool_size(st->pool), i, j, k = 0;

    for (i = 0; i < size; i++) {
        const rproxy_member_t *m = rproxy_pool_member(st->pool, i);

        st->ring_size += HASH_POINTS_PER_WEIGHT * rproxy_member_weight(m);
    }
    st->ring = apr_palloc(p, st->ring_size * sizeof(*st->ring));
    for (i = 0; i < size; i++) {
        const rproxy_member_t *m = rproxy_pool_member(st->pool, i);
        int n = HASH_POINTS_PER_WEIGHT * rproxy_member_weight(m);

        for (j = 0; j < n; j++) {
            const char *id = apr_psprintf(ptemp, "%s#%d",
                                          rproxy_member_name(m), j);

            st->ring[k].point = hash_point(id, strlen(id));
            st->ring[k].member = i;
            k++;
        }
    }
    qsort(st->ring, st->ring_size, sizeof(*st->ring), point_cmp);
}

/* "bound=F" (1 <= F <= 100, up to three decimals) or "bound=off". */
static const char *
parse_option(hash_state_t *st, apr_pool_t *p, const char *word)
{
    const char *val;
    char *end;
    double f;

    if (strncmp(word, "bound=", 6)) {
        return apr_psprintf(p, "unknown option '%s' (valid: bound=F with "
                            "1 <= F <= 100, bound=off)", word);
    }
    val = word + 6;
    if (!strcmp(val, "off")) {
        st->bound = 0;
        return NULL;
    }
    f = strtod(val, &end);
    if (!*val || *end || !(f >= 1.0 && f <= 100.0)) {
        return apr_psprintf(p, "'%s': the bound is a number from 1 to 100 "
                            "(a member takes at most that many times its "
                            "fair share), or off", word);
    }
    st->bound = (int)(f * HASH_BOUND_SCALE + 0.5);
    return NULL;
}

static const char *
parse_args(hash_state_t *st, apr_pool_t *p, apr_pool_t *ptemp,
           const char *args)
{
    const char *word, *err;

    st->expr_text = ap_getword_conf(p, &args);
    if (!*st->expr_text || !strncmp(st->expr_text, "bound=", 6)) {
        return "expects an expression first, e.g. "
               "hash \"%{REMOTE_ADDR}\" [bound=F]";
    }
    while (*(word = ap_getword_conf(ptemp, &args))) {
        if ((err = parse_option(st, p, word))) {
            return err;
        }
    }
    /* The key picks a backend, it does not change the content: requests
     * that differ only in the key's header must not get a Vary for it. */
    st->expr.flags = AP_EXPR_FLAG_STRING_RESULT | AP_EXPR_FLAG_DONT_VARY;
    st->expr.module_index = APLOG_NO_MODULE;
    st->expr.filename = apr_psprintf(p, "<RProxyPool %s>",
                                     rproxy_pool_name(st->pool));
    err = ap_expr_parse(p, ptemp, &st->expr, st->expr_text, NULL);
    if (err) {
        return apr_psprintf(p, "expression '%s': %s", st->expr_text, err);
    }
    return NULL;
}

static const char *
hash_create(void **state, apr_pool_t *p, rproxy_pool_t *pool,
            const char *args)
{
    hash_state_t *st = apr_pcalloc(p, sizeof(*st));
    apr_pool_t *ptemp;
    const char *err;

    st->pool = pool;
    st->bound = HASH_DEFAULT_BOUND;
    apr_pool_create(&ptemp, p);
    err = parse_args(st, p, ptemp, args ? args : "");
    if (!err) {
        build_ring(st, p, ptemp);
        *state = st;
    }
    apr_pool_destroy(ptemp);
    return err;
}

/* Whether m may take one more request: fewer than its cap in flight. */
static int
has_room(const hash_state_t *st, const rproxy_member_t *m,
         apr_uint64_t total, apr_uint64_t weights)
{
    apr_uint64_t num = (apr_uint64_t)st->bound * (total + 1)
                       * (apr_uint64_t)rproxy_member_weight(m);
    apr_uint64_t den = HASH_BOUND_SCALE * weights;

    return rproxy_member_inflight(m) < (num + den - 1) / den;
}

/* The first point at or after h, wrapping to 0. */
static int
ring_find(const hash_state_t *st, apr_uint32_t h)
{
    int lo = 0, hi = st->ring_size;

    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;

        if (st->ring[mid].point < h) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo == st->ring_size ? 0 : lo;
}

static const char *
request_key(const hash_state_t *st, request_rec *r)
{
    const char *err = NULL;
    const char *key = ap_expr_str_exec(r, &st->expr, &err);

    if (err || !key) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, RPLOGNO(00061)
                      "pool %s: hash expression '%s' failed, using an "
                      "empty key: %s", rproxy_pool_name(st->pool),
                      st->expr_text, err ? err : "no result");
        return "";
    }
    return key;
}

static int
hash_pick(void *state, request_rec *r, rproxy_member_t *const *cand, int n)
{
    const hash_state_t *st = state;
    const char *key = request_key(st, r);
    int size = rproxy_pool_size(st->pool);
    int *slot = apr_palloc(r->pool, size * sizeof(int));
    apr_uint64_t total = 0, weights = 0;
    int i, k, start, left = n, home = -1;

    /* slot: member index -> candidate index, -1 once seen or when the
     * member is not a candidate */
    for (i = 0; i < size; i++) {
        slot[i] = -1;
    }
    for (i = 0; i < n; i++) {
        slot[rproxy_member_index(cand[i])] = i;
        total += rproxy_member_inflight(cand[i]);
        weights += rproxy_member_weight(cand[i]);
    }
    start = ring_find(st, hash_point(key, strlen(key)));
    for (k = 0; k < st->ring_size && left; k++) {
        int c = slot[st->ring[(start + k) % st->ring_size].member];

        if (c < 0) {
            continue;
        }
        slot[rproxy_member_index(cand[c])] = -1;
        left--;
        if (home < 0) {
            home = c;
        }
        if (!st->bound || has_room(st, cand[c], total, weights)) {
            return c;
        }
    }
    /* only when in-flight counts moved under our feet: stay home */
    return home < 0 ? 0 : home;
}

const rproxy_balancer_t rp_lb_hash = {
    "hash",
    RPROXY_LB_NEEDS_ARGS,
    hash_create,
    hash_pick,
    NULL
};
