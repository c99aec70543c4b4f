/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_health.c - active health checks (RProxyHealthCheck, read by
 * rproxy_health_config.c).
 *
 * One prober for the whole server: a callback on a singleton mod_watchdog
 * instance, so that exactly one child process (whichever holds the
 * watchdog's mutex) runs the checks, whatever the MPM and the number of
 * children. Every 100 ms it starts the checks that are due on a small
 * thread pool, at most one at a time per member, so a member that hangs
 * until its timeout delays no other member's checks.
 *
 * A check goes through the same member-side HTTP code as a request: a new
 * connection from rproxy_conn.c (TLS through mod_ssl for https members),
 * the request head written and the response head read and parsed by
 * rproxy_member_http.c, then the connection is closed. It passes when a
 * status in `expect` comes back within `timeout` (connect, write and read
 * together, held by the filters of rproxy_deadline.c).
 *
 * Results live in the member's shared record (rp_shm_member_t, hc_*
 * fields), written only by the prober: `fall` failures in a row take the
 * member out of rotation for every child at once, `rise` passes in a row
 * bring it back, and the time of that change starts RProxySlowStart's ramp.
 * A member starts up (the state is kept over a graceful restart), and
 * disabled members are not checked.
 *
 * The same thread also runs the resolver of members named by a host name
 * (rproxy_resolve.c): it is the one thread of the server that exists for
 * such periodic work, and it needs mod_watchdog too.
 *
 * After the child holding the prober exits (prefork reaping idle
 * children), mod_watchdog hands the role to another child, which waits
 * some seconds before it starts: checks pause meanwhile, state is kept.
 */

#include "rproxy_private.h"
#include "rproxy_health.h"

#include "http_core.h"
#include "http_protocol.h"
#include "mod_watchdog.h"
#include "apr_atomic.h"
#include "apr_optional.h"
#include "apr_thread_pool.h"

#include <unistd.h>

#define RP_HC_WATCHDOG      "_rproxy_health_"
#define RP_HC_USER_AGENT    "mod_rproxy-health-check"
/* Threads running checks at once, at most. */
#define RP_HC_THREADS       16
/* Interim (1xx) responses skipped before the final one. */
#define RP_HC_MAX_INTERIM   4

/* The prober, in the child that runs it. */
typedef struct {
    apr_pool_t *pool;               /* own allocator, for the thread pool */
    apr_thread_pool_t *threads;     /* NULL: checks run inline */
    server_rec *s;
} rp_prober_t;

static rp_prober_t prober;

static const rp_health_t *
rp_health_first(void)
{
    int i;

    for (i = 0; i < rp_globals.pools->nelts; i++) {
        rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, i,
                                            rproxy_pool_t *);
        if (pool->hc) {
            return pool->hc;
        }
    }
    return NULL;
}

/* Health checks need mod_watchdog; without it httpd does not start. */
int
rp_health_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                       apr_pool_t *ptemp, server_rec *s)
{
    const rp_health_t *hc = rp_health_first();

    (void)pconf;
    (void)plog;
    (void)ptemp;
    if (hc && (!APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance)
               || !APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback))) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                     RPLOGNO(00100) "RProxyHealthCheck (%s:%d) needs "
                     "mod_watchdog: load it with LoadModule watchdog_module",
                     hc->file, hc->line);
        return !OK;
    }
    return OK;
}

static int
rp_health_expected(const rp_health_t *hc, int status)
{
    int i;

    for (i = 0; i < hc->expect->nelts; i++) {
        const rp_range_t *rg = &APR_ARRAY_IDX(hc->expect, i, rp_range_t);

        if (status >= rg->lo && status <= rg->hi) {
            return 1;
        }
    }
    return 0;
}

/* The request_rec a check runs as: enough of one for the member-side
 * HTTP code and for logging, on the member connection itself. */
static request_rec *
rp_health_request(apr_pool_t *p, rproxy_member_t *m, rp_bconn_t *bc,
                  const rp_health_t *hc)
{
    request_rec *r = apr_pcalloc(p, sizeof(*r));

    r->pool = p;
    r->connection = bc->c;
    r->server = m->pool->s;
    r->method = hc->method;
    r->method_number = ap_method_number_of(hc->method);
    r->header_only = !strcmp(hc->method, "HEAD");
    r->protocol = "HTTP/1.1";
    r->proto_num = HTTP_VERSION(1, 1);
    r->request_time = apr_time_now();
    r->uri = (char *)hc->uri;
    r->headers_in = apr_table_make(p, 1);
    r->headers_out = apr_table_make(p, 1);
    r->err_headers_out = apr_table_make(p, 1);
    r->subprocess_env = apr_table_make(p, 1);
    r->notes = apr_table_make(p, 1);
    r->useragent_ip = bc->c->client_ip;
    r->useragent_addr = bc->c->client_addr;
    r->per_dir_config = r->server->lookup_defaults;
    r->request_config = ap_create_request_config(p);
    return r;
}

static apr_interval_time_t
rp_health_remaining(apr_time_t deadline)
{
    apr_interval_time_t left = deadline - apr_time_now();

    return left > 1000 ? left : 1000;
}

/* Runs one check; returns the status it got (0: none) and says why it
 * failed in *why. */
static int
rp_health_probe(apr_pool_t *p, rproxy_member_t *m, const rp_health_t *hc,
             const char **why)
{
    apr_time_t deadline = apr_time_now() + hc->timeout;
    rp_match_t match;
    rp_exchange_t ex;
    rp_bconn_t *bc;
    apr_status_t rv;
    int got, interim = 0;

    rv = rp_conn_open(m, m->is_tls ? (hc->sni ? hc->sni : m->host) : NULL,
                      hc->timeout, &bc);
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "connect failed (%pm)", &rv);
        return 0;
    }
    /* the socket timeout bounds each wait, not the check's sum of them */
    rp_deadline_add(p, bc, deadline);
    memset(&ex, 0, sizeof(ex));
    memset(&match, 0, sizeof(match));
    match.path = hc->uri;
    ex.r = rp_health_request(p, m, bc, hc);
    ex.match = &match;
    ex.m = m;
    ex.bc = bc;
    ex.bin = apr_brigade_create(bc->pool, bc->ba);
    ex.headers = apr_table_make(p, 4);
    apr_table_setn(ex.headers, "Host", hc->host ? hc->host : m->hostport);
    apr_table_setn(ex.headers, "User-Agent", RP_HC_USER_AGENT);
    apr_table_setn(ex.headers, "Accept", "*/*");
    apr_table_setn(ex.headers, "Connection", "close");
    ex.timeout = rp_health_remaining(deadline);
    rv = rp_member_http_send_head(&ex);
    while (rv == APR_SUCCESS) {
        ex.timeout = rp_health_remaining(deadline);
        rv = rp_member_http_read_head(&ex, &got);
        if (rv != APR_SUCCESS || !ap_is_HTTP_INFO(ex.status)
            || ex.status == HTTP_SWITCHING_PROTOCOLS
            || ++interim > RP_HC_MAX_INTERIM) {
            break;
        }
    }
    rp_conn_release(bc, 0);
    if (rv != APR_SUCCESS) {
        *why = APR_STATUS_IS_TIMEUP(rv)
               ? apr_psprintf(p, "no answer within %" APR_TIME_T_FMT "ms",
                              apr_time_as_msec(hc->timeout))
               : rv == APR_EINVAL ? "malformed response"
               : m->is_tls ? "TLS handshake or connection failed"
               : apr_psprintf(p, "connection failed (%pm)", &rv);
        return 0;
    }
    if (!rp_health_expected(hc, ex.status)) {
        *why = apr_psprintf(p, "status %d, expected %s", ex.status,
                            hc->expect_text);
    }
    return ex.status;
}

/* Counts the result; `fall` failures or `rise` passes in a row change the
 * member's state. Only the prober writes these fields. */
static void
rp_health_record(rproxy_member_t *m, const rp_health_t *hc, int status,
              const char *why)
{
    rp_shm_member_t *sh = m->sh;
    int ok = status && !why;
    int down = rp_shm_hc_down(m);
    apr_uint32_t run;

    apr_atomic_inc64(&sh->hc_checks);
    apr_atomic_set32(&sh->hc_status, (apr_uint32_t)status);
    if (!ok) {
        apr_atomic_inc64(&sh->hc_failed);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, m->pool->s, RPLOGNO(00101)
                     RP_MEMBER_FMT "health check failed: %s",
                     RP_MEMBER_ARGS(m), why);
    }
    if (ok == !down) {
        /* as expected: whatever run was building up is broken */
        apr_atomic_set32(&sh->hc_run, 0);
        return;
    }
    run = apr_atomic_inc32(&sh->hc_run) + 1;
    if (run < (apr_uint32_t)(down ? hc->rise : hc->fall)) {
        return;
    }
    apr_atomic_set32(&sh->hc_run, 0);
    /* the time first: a reader that sees the member up finds the start
     * of its slow start ramp */
    apr_atomic_set64(&sh->hc_changed, (apr_uint64_t)apr_time_now());
    apr_atomic_set32(&sh->hc_down, down ? 0 : 1);
    if (down) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, m->pool->s, RPLOGNO(00102)
                     RP_MEMBER_FMT "passed %d health check%s in a row: "
                     "back in rotation", RP_MEMBER_ARGS(m), hc->rise,
                     hc->rise == 1 ? "" : "s");
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, m->pool->s, RPLOGNO(00103)
                     RP_MEMBER_FMT "failed %d health check%s in a row "
                     "(last: %s): out of rotation", RP_MEMBER_ARGS(m),
                     hc->fall, hc->fall == 1 ? "" : "s", why);
    }
}

static void *APR_THREAD_FUNC
rp_health_task(apr_thread_t *thread, void *data)
{
    rproxy_member_t *m = data;
    const char *why = NULL;
    apr_pool_t *p;
    int status;

    (void)thread;
    /* its own allocator: checks run on several threads at once */
    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) == APR_SUCCESS) {
        apr_pool_tag(p, "rproxy_health_check");
        status = rp_health_probe(p, m, m->pool->hc, &why);
        rp_health_record(m, m->pool->hc, status, why);
        apr_pool_destroy(p);
    }
    apr_atomic_set32(&m->hc_busy, 0);
    return NULL;
}

static void
rp_health_prober_start(void)
{
    int i, n = 0;

    for (i = 0; i < rp_globals.pools->nelts; i++) {
        rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, i,
                                            rproxy_pool_t *);
        n += pool->hc ? pool->members->nelts : 0;
    }
    /* lookups share the threads: one stuck on a slow DNS server must
     * not hold up the checks */
    n += rp_resolve_count();
    prober.threads = NULL;
    if (apr_pool_create_unmanaged_ex(&prober.pool, NULL, NULL)
        != APR_SUCCESS) {
        prober.pool = NULL;
        return;
    }
    if (apr_thread_pool_create(&prober.threads, 1,
                               n < 1 ? 1 : n < RP_HC_THREADS ? n
                                                : RP_HC_THREADS,
                               prober.pool) != APR_SUCCESS) {
        /* checks then run one after the other on the watchdog thread */
        prober.threads = NULL;
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, prober.s, RPLOGNO(00104)
                 "health prober started in process %" APR_PID_T_FMT
                 " for %d members and lookups", getpid(), n);
}

static void
rp_health_prober_stop(void)
{
    if (prober.threads) {
        /* waits for the checks that are running */
        apr_thread_pool_destroy(prober.threads);
        prober.threads = NULL;
    }
    if (prober.pool) {
        apr_pool_destroy(prober.pool);
        prober.pool = NULL;
    }
}

static void
rp_health_prober_tick(void)
{
    apr_time_t now = apr_time_now();
    int i, j;

    for (i = 0; i < rp_globals.pools->nelts; i++) {
        rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, i,
                                            rproxy_pool_t *);

        for (j = 0; pool->hc && j < pool->members->nelts; j++) {
            rproxy_member_t *m = APR_ARRAY_IDX(pool->members, j,
                                               rproxy_member_t *);

            if (m->hc_due > now || (rp_shm_admin(m) & RP_ADMIN_DISABLED)
                || rp_resolve_absent(m)
                || apr_atomic_cas32(&m->hc_busy, 1, 0) != 0) {
                continue;
            }
            m->hc_due = now + pool->hc->interval;
            if (!prober.threads
                || apr_thread_pool_push(prober.threads, rp_health_task, m,
                                        APR_THREAD_TASK_PRIORITY_NORMAL,
                                        NULL) != APR_SUCCESS) {
                rp_health_task(NULL, m);
            }
        }
    }
    /* the resolver rides on the same thread and threads */
    rp_resolve_tick(prober.threads, now);
}

static apr_status_t
rp_health_prober_callback(int state, void *data, apr_pool_t *ptemp)
{
    (void)data;
    (void)ptemp;
    switch (state) {
    case AP_WATCHDOG_STATE_STARTING:
        rp_health_prober_start();
        break;
    case AP_WATCHDOG_STATE_RUNNING:
        rp_health_prober_tick();
        break;
    case AP_WATCHDOG_STATE_STOPPING:
        rp_health_prober_stop();
        break;
    }
    /* anything but success would stop mod_watchdog calling us */
    return APR_SUCCESS;
}

/* Registers the prober with a singleton watchdog of this configuration
 * generation (mod_watchdog starts it in one child process). */
int
rp_health_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                      apr_pool_t *ptemp, server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get_instance;
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *register_cb;
    ap_watchdog_t *wd;
    apr_status_t rv;

    (void)plog;
    (void)ptemp;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG
        || (!rp_health_first() && !rp_resolve_wanted())) {
        return OK;
    }
    if (!APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance)) {
        /* no mod_watchdog (not needed without health checks): names
         * stay resolved as at startup */
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, RPLOGNO(00233)
                     "members named by host name are not re-resolved: "
                     "mod_watchdog is not loaded");
        return OK;
    }
    get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    register_cb = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    prober.s = s;
    rv = get_instance(&wd, RP_HC_WATCHDOG, 0, 1, pconf);
    if (rv == APR_SUCCESS) {
        rv = register_cb(wd, AP_WD_TM_SLICE, &prober,
                         rp_health_prober_callback);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, RPLOGNO(00105)
                     "cannot set up the health prober with mod_watchdog");
        return !OK;
    }
    return OK;
}
