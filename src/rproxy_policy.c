/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_policy.c - what a request may spend: its retries (RProxyRetries,
 * on a failure or on a listed 5xx answer, within a budget) and its
 * timeouts, with a deadline over all its tries.
 *
 * Precedence, per setting: an RProxyPass option, then RProxyTimeouts in
 * the <Location> the request is in, then the pool (which took what it did
 * not set from its server, then the built-in defaults: rproxy_pool.c).
 * Retries likewise (rp_policy_retries()): retries= and retry_on=, then
 * RProxyRetries in the <Location>, then the pool's; budget= is only ever
 * the pool's, a share of all its requests whatever their route.
 *
 * The deadline (deadline=T) bounds the tries up to a response head, as
 * Envoy's route timeout does its per-try ones: each connect, write and
 * header wait gets the smaller of its own timeout and what is left, and
 * no retry starts once it has passed. The body then streams under the
 * idle timeout alone.
 */

#include "rproxy_private.h"
#include "rproxy_policy.h"
#include "rproxy_config.h"

#include "apr_atomic.h"

/* The RProxyRetries budget: a retry is allowed while retries stay within
 * budget=P percent of the requests of the current and the previous window
 * (plus a few per window, so that a quiet pool can still retry). The
 * counters are the pool's shared record (rp_shm_pool_t); the child that
 * moves window_start by compare-and-swap rolls them over. Approximate by
 * design: a few retries more or less than P% across children are fine,
 * a retry storm that multiplies the load of a failing pool is not. */
#define RP_BUDGET_WINDOW    apr_time_from_sec(10)
#define RP_BUDGET_MIN       3

/* Every client request counts once, whatever its tries. */
static void
budget_count_request(rproxy_pool_t *pool)
{
    apr_time_t now = apr_time_now();
    rp_shm_pool_t *sh = pool->sh;
    apr_uint64_t start = apr_atomic_read64(&sh->window_start);

    if (now - (apr_time_t)start > RP_BUDGET_WINDOW
        && apr_atomic_cas64(&sh->window_start, now, start) == start) {
        apr_atomic_set32(&sh->prev_requests, apr_atomic_xchg32(&sh->requests,
                                                               0));
        apr_atomic_set32(&sh->prev_retries, apr_atomic_xchg32(&sh->retries,
                                                              0));
    }
    apr_atomic_inc32(&sh->requests);
}

/* May one more retry go? If so, it is counted. */
static int
budget_take(rproxy_pool_t *pool)
{
    rp_shm_pool_t *sh = pool->sh;
    apr_uint64_t req, ret;

    if (pool->retry_budget < 0) {
        return 1;
    }
    req = (apr_uint64_t)apr_atomic_read32(&sh->requests)
          + apr_atomic_read32(&sh->prev_requests);
    ret = (apr_uint64_t)apr_atomic_read32(&sh->retries)
          + apr_atomic_read32(&sh->prev_retries);
    if (ret >= RP_BUDGET_MIN
        && (ret + 1) * 100 > (apr_uint64_t)pool->retry_budget * req) {
        return 0;
    }
    apr_atomic_inc32(&sh->retries);
    return 1;
}

/* Has the request's deadline passed? Logs it once, with the tries. */
static int
deadline_passed(rp_exchange_t *ex, int tries)
{
    /* poll() takes whole milliseconds, rounded down: a wait the deadline
     * bounded can end a little before it; what is left then is no time
     * for another try either */
    if (!ex->deadline
        || apr_time_now() + apr_time_from_msec(5) < ex->deadline) {
        return 0;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, ex->r, RPLOGNO(00200)
                  "pool %s: deadline of %" APR_TIME_T_FMT "ms passed "
                  "before a response (%d tr%s)", ex->match->route->pool->name,
                  apr_time_as_msec(ex->to.deadline), tries,
                  tries == 1 ? "y" : "ies");
    return 1;
}

/* Per value, the first place that sets it (rproxy_policy.h). */
void
rp_policy_retries(const rp_exchange_t *ex, int *n, const apr_uint64_t **on)
{
    const rp_retry_t *route = &ex->match->route->retry;
    const rp_retry_t *dir = &ex->dconf->retry;
    const rp_retry_t *pool = &ex->match->route->pool->retry;

    *n = route->n != RP_UNSET ? route->n
         : dir->n != RP_UNSET ? dir->n : pool->n;
    *on = route->on_set ? route->on : dir->on_set ? dir->on : pool->on;
}

/* After a failed try: may the request go to another member? A member that
 * could not be reached got nothing. Otherwise only an idempotent request
 * whose body we still hold whole, and that failed before any of the
 * response went to the client (rc is still an error status), goes again.
 * RProxyRetries caps the tries and its budget the share of retries; the
 * deadline, when set, must not have passed. A retry that
 * rp_policy_retry_status() granted was checked and counted already. */
int
rp_policy_retry(rp_exchange_t *ex, int rc, rproxy_outcome_e outcome,
                int tries)
{
    rproxy_pool_t *pool = ex->match->route->pool;
    const apr_uint64_t *on;
    int retries;

    if (ex->retry_granted) {
        ex->retry_granted = 0;
        return 1;
    }
    rp_policy_retries(ex, &retries, &on);
    if (outcome == RPROXY_OUTCOME_OK || deadline_passed(ex, tries)
        || tries > retries) {
        return 0;
    }
    if (outcome != RPROXY_OUTCOME_CONNECT
        && (rc == OK || rc == DONE || !ex->may_repeat
            || (ex->has_body && !ex->prefetch_all) || ex->upgrade)) {
        return 0;
    }
    if (!budget_take(pool)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, ex->r, RPLOGNO(00045)
                      "pool %s: retry budget exhausted; not retrying",
                      pool->name);
        return 0;
    }
    return 1;
}


/* How many members the request has tried (each try takes a new one). */
static int
tries_so_far(const rp_exchange_t *ex)
{
    int i, n = 0;

    for (i = 0; i < ex->match->route->pool->members->nelts; i++) {
        n += ex->tried[i];
    }
    return n;
}

/* A listed 5xx is a failure like a broken connection, with one more
 * condition: the answer is dropped only when another member can take the
 * request now, so that the client gets the last member's answer (with its
 * body) rather than one of ours. Interim responses already passed on
 * mean something reached the client: no retry then. */
int
rp_policy_retry_status(rp_exchange_t *ex)
{
    rproxy_pool_t *pool = ex->match->route->pool;
    const apr_uint64_t *on;
    int tries, retries;

    rp_policy_retries(ex, &retries, &on);
    if (!RP_RETRY_ON(on, ex->status) || !ex->may_repeat || ex->upgrade
        || (ex->has_body && !ex->prefetch_all) || ex->interim
        || ex->error_status) {
        return 0;
    }
    tries = tries_so_far(ex);
    if (tries > retries || (ex->deadline
                                  && apr_time_now() >= ex->deadline)
        || rp_balancer_slots(pool, ex->tried) != RP_SLOTS_FREE) {
        return 0;
    }
    if (!budget_take(pool)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, ex->r, RPLOGNO(00201)
                      "pool %s: retry budget exhausted; the member's %d "
                      "goes to the client", pool->name, ex->status);
        return 0;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, ex->r, RPLOGNO(00202)
                  RP_MEMBER_FMT "answered %d (RProxyRetries on=); trying "
                  "another member", RP_MEMBER_ARGS(ex->m), ex->status);
    ex->retry_granted = 1;
    return 1;
}

void
rp_policy_begin(rp_exchange_t *ex)
{
    const rp_timeouts_t *route = &ex->match->route->to;
    const rp_timeouts_t *dir = &ex->dconf->to;
    const rp_timeouts_t *pool = &ex->match->route->pool->to;

    budget_count_request(ex->match->route->pool);
#define RP_PICK(f) ex->to.f = route->f != RP_UNSET ? route->f \
                            : dir->f != RP_UNSET ? dir->f : pool->f
    RP_PICK(connect);
    RP_PICK(header);
    RP_PICK(idle);
    RP_PICK(deadline);
    RP_PICK(tunnel_async);
    RP_PICK(tunnel_async_after);
    RP_PICK(tunnel_idle);
#undef RP_PICK
    ex->deadline = ex->to.deadline > 0 ? apr_time_now() + ex->to.deadline
                                       : 0;
}

/* The smaller of t and what the deadline leaves, at least a millisecond
 * (a socket timeout of 0 would mean "do not wait" for some calls and
 * "never" for none: a step that starts late still fails as a timeout). */
static apr_interval_time_t
cut(apr_interval_time_t t, apr_interval_time_t left)
{
    if (left < apr_time_from_msec(1)) {
        left = apr_time_from_msec(1);
    }
    return t < left ? t : left;
}

void
rp_policy_arm(rp_exchange_t *ex, int head_in)
{
    const rp_timeouts_t *route = &ex->match->route->to;
    const rp_timeouts_t *dir = &ex->dconf->to;
    const rp_timeouts_t *pool = &ex->match->route->pool->to;
    apr_interval_time_t left, idle;

    idle = route->idle != RP_UNSET ? route->idle
           : dir->idle != RP_UNSET ? dir->idle : pool->idle;
    if (head_in || !ex->deadline) {
        ex->to.idle = idle;
        return;
    }
    left = ex->deadline - apr_time_now();
    ex->to.connect = cut(ex->to.connect, left);
    ex->to.header = cut(ex->to.header, left);
    ex->to.idle = cut(idle, left);
}

/* on=STATUS[,STATUS...]|none (retry_on= on a route): 5xx answers to
 * retry; none clears a list a pool or a <Location> would give. */
const char *
rp_policy_retry_on_opt(cmd_parms *cmd, void *rec, const rp_opt_t *opt,
                       const char *val)
{
    rp_retry_t *rt = (rp_retry_t *)((char *)rec + opt->off);
    char *list = apr_pstrdup(cmd->temp_pool, val), *tok, *last;
    int st;

    rt->on_set = 1;
    rt->on[0] = rt->on[1] = 0;
    if (!strcasecmp(list, "none")) {
        return NULL;
    }
    for (tok = apr_strtok(list, ",", &last); tok;
         tok = apr_strtok(NULL, ",", &last)) {
        if (rp_parse_int(tok, 500, 599, &st)) {
            return apr_psprintf(cmd->pool, "'%s' is not a status from 500 "
                                "to 599 (only a 5xx answer is retried)", tok);
        }
        rt->on[(st - 500) / 64] |= (apr_uint64_t)1 << ((st - 500) % 64);
    }
    if (!rt->on[0] && !rt->on[1]) {
        return "an empty list (none: no status is retried)";
    }
    return NULL;
}

/* budget= outside <RProxyPool>: the budget is a share of the pool's
 * requests, one for every route to it */
static const char *
retry_budget_not_here(cmd_parms *cmd, void *rec, const rp_opt_t *opt,
                      const char *val)
{
    (void)cmd;
    (void)rec;
    (void)opt;
    (void)val;
    return "the retry budget is pool-wide: set it in <RProxyPool>";
}

/* RProxyRetries N [budget=P%] [on=5xx,...] in <RProxyPool> */
static const rp_opt_t rp_retries_opts[] = {
    { "budget", RP_OPT_PERCENT, APR_OFFSETOF(rproxy_pool_t, retry_budget) },
    { "on", RP_OPT_STRING, APR_OFFSETOF(rproxy_pool_t, retry), 0, 0,
      "STATUS[,STATUS...]|none", rp_policy_retry_on_opt },
    { NULL }
};

/* RProxyRetries N [on=5xx,...] in <Location> and the other per-directory
 * sections */
static const rp_opt_t rp_retries_dir_opts[] = {
    { "budget", RP_OPT_PERCENT, 0, 0, 0, "P%", retry_budget_not_here },
    { "on", RP_OPT_STRING, APR_OFFSETOF(rp_dir_conf, retry), 0, 0,
      "STATUS[,STATUS...]|none", rp_policy_retry_on_opt },
    { NULL }
};

/* Per pool, and in <Location> where it wins over the pool's
 * (rp_policy_retries()). */
const char *
rp_cmd_retries(cmd_parms *cmd, void *d, const char *args)
{
    const char *word, *err;
    rproxy_pool_t *pool = NULL;
    int *n;

    if (cmd->path) {
        n = &((rp_dir_conf *)d)->retry.n;
    }
    else if ((pool = rp_config_current_pool())) {
        n = &pool->retry.n;
    }
    else {
        return "RProxyRetries is only valid inside <RProxyPool> or "
               "<Location>";
    }
    word = ap_getword_conf(cmd->temp_pool, &args);
    if ((err = rp_parse_int(word, 0, RP_RETRIES_MAX, n))) {
        return apr_psprintf(cmd->pool, "RProxyRetries '%s': %s (expects N "
                            "%s[on=5xx,...|none])", word, err,
                            pool ? "[budget=P%] " : "");
    }
    return pool ? rp_options_parse(cmd, cmd->cmd->name, rp_retries_opts,
                                   pool, args)
                : rp_options_parse(cmd, cmd->cmd->name, rp_retries_dir_opts,
                                   d, args);
}
