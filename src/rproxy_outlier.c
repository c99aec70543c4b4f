/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_outlier.c - passive ejection and its directive (RProxyOutlier
 * fails=N eject=T max_ejected=P%): a member whose tries fail N times in a row is taken out
 * of rotation for a while, without any active check.
 *
 * The state lives in the member's shared record (rproxy_shm.c):
 * consecutive_fails counts failed tries since the last good one in every
 * child; the child whose failure makes it reach N resets it to 0 (so one
 * child, not several, ejects) and sets ejected_until. streak counts the
 * ejections since the member last answered well, and doubles the time out
 * with each one, up to 16 x eject: a member that keeps failing the moment
 * it comes back stays out longer and longer. max_ejected caps the share
 * of the pool that may be out at once, so that a pool-wide problem (a
 * database behind every member) does not eject the whole pool.
 *
 * Worked example, fails=3 eject=30s: three failures in a row eject the
 * member for 30 s; it comes back, fails three times again: 60 s, then
 * 120 s, 240 s and 480 s at most; one good answer resets the streak, so
 * the next ejection is 30 s again.
 *
 * All of it is lock-free and approximate across children by design: two
 * children may see the same count and only one wins the reset.
 */

#include "rproxy_private.h"
#include "rproxy_config.h"

#include "apr_atomic.h"

int
rp_outlier_ejected(const rproxy_member_t *m, apr_time_t now)
{
    return (apr_time_t)apr_atomic_read64(&m->sh->ejected_until) > now;
}

/* One more ejection must leave at most max_ejected percent of the pool
 * out. */
static int
outlier_may_eject(const rproxy_pool_t *pool, apr_time_t now)
{
    int i, out = 0;

    for (i = 0; i < pool->members->nelts; i++) {
        out += rp_outlier_ejected(APR_ARRAY_IDX(pool->members, i,
                                                rproxy_member_t *), now);
    }
    return (out + 1) * 100 <= pool->outlier_max_pct * pool->members->nelts;
}

/* The child whose failure makes the count reach `fails` ejects the member
 * for eject x 2^(ejections since its last success - 1), at most 16 x
 * eject. */
static void
outlier_failed(rproxy_member_t *m)
{
    rp_shm_member_t *sh = m->sh;
    rproxy_pool_t *pool = m->pool;
    apr_time_t now = apr_time_now();
    apr_interval_time_t out;
    apr_uint32_t streak;

    if (!pool->outlier_fails || rp_outlier_ejected(m, now)
        || apr_atomic_inc32(&sh->consecutive_fails) + 1
           != (apr_uint32_t)pool->outlier_fails) {
        return;
    }
    apr_atomic_set32(&sh->consecutive_fails, 0);
    if (!outlier_may_eject(pool, now)) {
        return;
    }
    streak = apr_atomic_inc32(&sh->streak);     /* the value before */
    out = pool->outlier_eject * (1 << (streak < 4 ? streak : 4));
    apr_atomic_set64(&sh->ejected_until, (apr_uint64_t)(now + out));
    apr_atomic_inc64(&sh->ejections);
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, pool->s, RPLOGNO(00071)
                 RP_MEMBER_FMT "ejected for %" APR_TIME_T_FMT "s after %d "
                 "consecutive failures", RP_MEMBER_ARGS(m),
                 apr_time_sec(out), pool->outlier_fails);
}

void
rp_outlier_report(rproxy_member_t *m, rproxy_outcome_e outcome)
{
    rp_shm_member_t *sh = m->sh;

    if (outcome != RPROXY_OUTCOME_OK) {
        outlier_failed(m);
        return;
    }
    /* read first: most answers are good, and a write would bounce the
     * cache line between the children for nothing */
    if (apr_atomic_read32(&sh->consecutive_fails)) {
        apr_atomic_set32(&sh->consecutive_fails, 0);
    }
    if (apr_atomic_read32(&sh->streak)) {
        apr_atomic_set32(&sh->streak, 0);
    }
}

/* RProxyOutlier fails=N [eject=T] [max_ejected=P%] */
static const rp_opt_t rp_outlier_opts[] = {
    { "fails", RP_OPT_INT, APR_OFFSETOF(rproxy_pool_t, outlier_fails),
      1, 1000 },
    { "eject", RP_OPT_INTERVAL, APR_OFFSETOF(rproxy_pool_t, outlier_eject),
      0, RP_INTERVAL_MAX },
    { "max_ejected", RP_OPT_PERCENT,
      APR_OFFSETOF(rproxy_pool_t, outlier_max_pct) },
    { NULL }
};

const char *
rp_cmd_outlier(cmd_parms *cmd, void *d, const char *args)
{
    const char *err;
    rproxy_pool_t *pool = rp_config_pool_scope(cmd, &err);

    (void)d;
    if (!pool || (err = rp_options_parse(cmd, cmd->cmd->name,
                                         rp_outlier_opts, pool, args))) {
        return err;
    }
    if (!pool->outlier_fails) {
        return "RProxyOutlier: needs fails=N";
    }
    return NULL;
}
