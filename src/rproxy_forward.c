/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_forward.c - the "rproxy" handler: picks a member, sends the
 * request, relays the response, and decides what may be tried again.
 *
 * Retry rules (nothing is ever sent twice unless that is safe):
 *  - a member that cannot be reached is tried no further for this request,
 *    and the next member is picked: nothing was sent;
 *  - an idempotent request whose body is held whole and that failed before
 *    any response byte reached the client goes to another member;
 *  - an idempotent request whose member answered a status listed in
 *    RProxyRetries on=, before anything reached the client, goes to
 *    another member when there is one (rproxy_policy.c);
 *  - all within RProxyRetries (tries after the first), its budget and the
 *    route's deadline;
 *  - a pooled connection that fails before any response byte is replaced
 *    by a fresh one to the same member, once: when writing the request
 *    failed (none of it reached the backend), or when the request is
 *    idempotent and its body (if any) is still held in full;
 *  - a retry never waits in RProxyQueue (only the first pick does);
 *  - anything else is answered: 502 for a broken or malformed response,
 *    504 for a timeout, 503 when no member is usable (or none became free
 *    within the queue timeout).
 * Status codes exist only here; the functions below return apr_status_t.
 */

#include "rproxy_private.h"
#include "rproxy_policy.h"

#include "http_protocol.h"
#include "http_core.h"
#include "apr_atomic.h"
#include "apr_lib.h"

/* Methods that RFC 9110 section 9.2.2 lets us repeat. */
static int
method_idempotent(const request_rec *r)
{
    switch (r->method_number) {
    case M_GET: case M_PUT: case M_DELETE: case M_OPTIONS: case M_TRACE:
        return 1;
    default:
        return r->header_only;      /* HEAD */
    }
}

/* The Upgrade token to pass on, if the client asks for one the route
 * allows and the tunnel can run on the client's connection. */
static const char *
wanted_upgrade(request_rec *r, rp_route_t *route)
{
    const char *conn = apr_table_get(r->headers_in, "Connection");
    const char *up = apr_table_get(r->headers_in, "Upgrade");
    const char *tok = NULL;
    int i;

    if (!up || !conn || !ap_find_token(r->pool, conn, "upgrade")
        || r->proto_num < HTTP_VERSION(1, 1)) {
        return NULL;
    }
    for (i = 0; i < route->upgrades->nelts && !tok; i++) {
        tok = APR_ARRAY_IDX(route->upgrades, i, const char *);
        tok = ap_find_token(r->pool, up, tok) ? tok : NULL;
    }
    return tok;
}

/* An upgrade on an HTTP/2 stream (mod_http2's H2WebSockets turns an RFC
 * 8441 extended CONNECT into a GET with "Upgrade: websocket") can only
 * be tunnelled where httpd gives a descriptor for the stream's own input
 * (2.4.58+): the stream has no socket of its own, and the client's is
 * shared by its other streams. Without one the request is refused with
 * 501 rather than passed on as a plain GET: the member would answer it
 * as one, and the client would get an error that names no cause. A
 * stream that ended with its request has no input at all: a WebSocket
 * whose client can never send (not even its Close frame) is a bad
 * request. */
static int
upgrade_possible(request_rec *r, const char *upgrade)
{
    apr_pollfd_t pfd;

    if (!upgrade || !r->connection->master) {
        return OK;
    }
    memset(&pfd, 0, sizeof(pfd));
    pfd.p = r->pool;
    if (rp_tunnel_pollfd(r->connection, &pfd) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, RPLOGNO(00143)
                      "upgrade to %s on an HTTP/2 stream refused (501): "
                      "this httpd cannot wait on a stream's input", upgrade);
        return HTTP_NOT_IMPLEMENTED;
    }
    if (pfd.desc_type == APR_NO_DESC) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, RPLOGNO(00260)
                      "upgrade to %s on an HTTP/2 stream that ended with "
                      "its request refused (400): it can send nothing",
                      upgrade);
        return HTTP_BAD_REQUEST;
    }
    return OK;
}

/* A 101 is only good as the answer to the upgrade we asked for (RFC 9110
 * section 7.8): anything else would hand the client a tunnel it never
 * requested, or to a protocol it did not offer. */
static int
upgrade_agreed(rp_exchange_t *ex)
{
    const char *up = apr_table_get(ex->rp->headers_in, "Upgrade");

    return ex->upgrade && up && ap_find_token(ex->r->pool, up, ex->upgrade);
}

static int
status_for(apr_status_t rv)
{
    return APR_STATUS_IS_TIMEUP(rv) ? HTTP_GATEWAY_TIME_OUT
                                    : HTTP_BAD_GATEWAY;
}

static rproxy_outcome_e
outcome_for(apr_status_t rv)
{
    return APR_STATUS_IS_TIMEUP(rv) ? RPROXY_OUTCOME_TIMEOUT
                                    : RPROXY_OUTCOME_FAILED;
}

/* Sends the body that is still owed unless (with Expect: 100-continue)
 * the member answers within a moment: it then reads that answer first. */
static apr_status_t
send_owed_body(rp_exchange_t *ex, int continued, int *body_sent)
{
    apr_status_t rv;
    int ready = 0;

    if (*body_sent) {
        return APR_SUCCESS;
    }
    if (ex->expect_100 && !continued
        && (rv = rp_member_http_wait_continue(ex, &ready)) != APR_SUCCESS) {
        return rv;
    }
    if (ready) {
        return APR_SUCCESS;
    }
    *body_sent = 1;
    return rp_member_http_send_body(ex);
}

/* Sends the request on ex->bc and reads the final response head, passing
 * 1xx responses on. Sets *resend when the failure allows a fresh try.
 *
 * A final answer can come before the body was sent (an early 401, 413 or
 * 417 to Expect: 100-continue). The member may then still read the body
 * it was promised, and would read whatever comes next on the connection
 * in its place: *body_owed says so, and such a connection is never
 * reused. */
static apr_status_t
exchange_head(rp_exchange_t *ex, int *resend, int *body_owed)
{
    apr_status_t rv;
    int got = 0, continued = 0, body_sent = !ex->has_body || ex->prefetch_all;

    *resend = 0;
    if ((rv = rp_member_http_send_head(ex)) != APR_SUCCESS) {
        /* on a connection that went stale: a request that is safe to
         * repeat and that we still hold whole, or one of which the member
         * got nothing at all, goes again on a new connection */
        *resend = ex->bc->requests > 0 && !APR_STATUS_IS_TIMEUP(rv)
                  && !ex->client_error
                  && (ex->head_refused || (ex->may_repeat && body_sent));
        return rv;
    }
    for (;;) {
        if ((rv = send_owed_body(ex, continued, &body_sent)) != APR_SUCCESS) {
            return rv;
        }
        rv = rp_member_http_read_head(ex, &got);
        if (rv != APR_SUCCESS) {
            /* the backend may have acted on it: only a request that is
             * safe to repeat, and that we still hold whole, goes again;
             * and not after a timeout, which says the member is slow or
             * hung, not that the kept connection went stale (a new
             * connection to it would wait as long again) */
            *resend = !got && ex->bc->requests > 0 && !ex->body_streamed
                      && ex->may_repeat && !APR_STATUS_IS_TIMEUP(rv);
            return rv;
        }
        if (ex->status == HTTP_CONTINUE) {
            continued = 1;      /* go on with the body */
            continue;
        }
        if (ap_is_HTTP_INFO(ex->status)
            && ex->status != HTTP_SWITCHING_PROTOCOLS) {
            ex->r->status = ex->status;
            rp_headers_response(ex);
            ap_send_interim_response(ex->r, 1);
            continue;
        }
        if (ex->status == HTTP_SWITCHING_PROTOCOLS && !upgrade_agreed(ex)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, ex->r, RPLOGNO(00060)
                          RP_MEMBER_FMT "101 Switching Protocols to \"%s\" "
                          "not asked for; refused",
                          RP_MEMBER_ARGS(ex->m), ap_escape_logitem(
                              ex->r->pool, apr_table_get(ex->rp->headers_in,
                                                         "Upgrade")));
            return APR_EINVAL;
        }
        *body_owed = !body_sent;
        ex->head_at = apr_time_now();
        return APR_SUCCESS;
    }
}

/* Relays the response whose head was read; *complete says that the
 * member's side of it ended as it should (a whole body, or none), which
 * a connection needs to be reused. */
static int
relay_response(rp_exchange_t *ex, rproxy_outcome_e *outcome, int *complete)
{
    request_rec *r = ex->r;
    apr_status_t rv;

    *complete = 0;

    rp_headers_response(ex);
    rp_buffer_decide(ex);
    if (ex->error_status && ap_is_HTTP_SUCCESS(ex->status)) {
        /* the page for an error keeps that error's status, as a local
         * ErrorDocument does: a 503 must not become a 200 */
        r->status = ex->error_status;
        r->status_line = NULL;
    }
    if (ex->status == HTTP_SWITCHING_PROTOCOLS) {
        if (rp_tunnel_run(ex) != APR_SUCCESS) {
            /* it could not start: nothing went to the client yet */
            *outcome = RPROXY_OUTCOME_FAILED;
            apr_table_clear(r->headers_out);
            return HTTP_BAD_GATEWAY;
        }
        return DONE;
    }
    if (r->header_only || ex->status == HTTP_NO_CONTENT
        || ex->status == HTTP_NOT_MODIFIED) {
        APR_BRIGADE_INSERT_TAIL(ex->bout,
                                apr_bucket_eos_create(ex->bout->bucket_alloc));
        ap_pass_brigade(r->output_filters, ex->bout);
        apr_brigade_cleanup(ex->bout);
        *complete = 1;
    }
    else if ((rv = rp_member_http_relay_body(ex, complete)) != APR_SUCCESS) {
        /* headers are out: all we can do is cut the client off */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, RPLOGNO(00040)
                      RP_MEMBER_FMT "response body broken off",
                      RP_MEMBER_ARGS(ex->m));
        r->connection->keepalive = AP_CONN_CLOSE;
        apr_brigade_cleanup(ex->bout);
        APR_BRIGADE_INSERT_TAIL(ex->bout, ap_bucket_error_create(
                                    HTTP_BAD_GATEWAY, NULL, r->pool,
                                    ex->bout->bucket_alloc));
        APR_BRIGADE_INSERT_TAIL(ex->bout,
                                apr_bucket_eos_create(ex->bout->bucket_alloc));
        ap_pass_brigade(r->output_filters, ex->bout);
        *outcome = outcome_for(rv);
        return DONE;
    }
    return OK;
}

/* Gives the try's connection back (to the idle list when reusable), and
 * keeps what it carried for the member's byte counters. */
static void
release_conn(rp_exchange_t *ex, int reusable)
{
    ex->io.in += ex->bc->io.in;
    ex->io.out += ex->bc->io.out;
    rp_conn_release(ex->bc, reusable);
    ex->bc = NULL;
}

/* One try on member ex->m; returns an HTTP status or OK/DONE, and tells
 * the balancer's side of the story in *outcome (a connect failure is the
 * one that lets the next member be tried). */
static int
try_member(rp_exchange_t *ex, rproxy_outcome_e *outcome)
{
    request_rec *r = ex->r;
    apr_status_t rv;
    int attempt, resend = 0, body_owed = 0, complete = 0, rc;

    *outcome = RPROXY_OUTCOME_OK;
    ex->io.in = ex->io.out = 0;
    ex->head_at = ex->first_byte_at = 0;
    ex->connect_time = 0;
    apr_table_setn(ex->headers, "Host", rp_headers_host(ex, 0));
    for (attempt = 0; attempt < 2; attempt++) {
        rp_policy_arm(ex, 0);
        rv = rp_conn_acquire(r, ex->m, ex->m->is_tls ? rp_headers_host(ex, 1)
                                                     : NULL,
                             attempt > 0, ex->to.connect, &ex->bc);
        ex->try_rv = rv;
        if (rv != APR_SUCCESS) {
            *outcome = RPROXY_OUTCOME_CONNECT;
            return status_for(rv);
        }
        ex->connect_time = ex->bc->requests ? 0 : ex->bc->connect_time;
        ex->bin = apr_brigade_create(r->pool, ex->bc->ba);
        rv = ex->try_rv = exchange_head(ex, &resend, &body_owed);
        if (rv == APR_SUCCESS) {
            break;
        }
        release_conn(ex, 0);
        if (!resend) {
            if (ex->client_error) {
                /* the client's fault (or our filters'), not the member's */
                return ex->client_error;
            }
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, RPLOGNO(00041)
                          RP_MEMBER_FMT "no valid response",
                          RP_MEMBER_ARGS(ex->m));
            *outcome = outcome_for(rv);
            return status_for(rv);
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, RPLOGNO(00042)
                      RP_MEMBER_FMT "pooled connection failed before any "
                      "response byte; sending again on a new one",
                      RP_MEMBER_ARGS(ex->m));
    }
    if (!ex->bc) {
        return HTTP_BAD_GATEWAY;
    }
    if (rp_policy_retry_status(ex)) {
        /* RProxyRetries on=: the client sees none of it; its body is left
         * unread, so the connection goes */
        ex->bc->requests++;
        release_conn(ex, 0);
        *outcome = RPROXY_OUTCOME_FAILED;
        return ex->status;
    }
    rp_policy_arm(ex, 1);
    rc = relay_response(ex, outcome, &complete);
    if (ex->status == HTTP_BAD_GATEWAY || ex->status == HTTP_SERVICE_UNAVAILABLE
        || ex->status == HTTP_GATEWAY_TIME_OUT) {
        /* relayed as it is, but a gateway failure for outlier detection */
        *outcome = RPROXY_OUTCOME_FAILED;
    }
    ex->bc->requests++;
    /* reused only when the member allows it and nothing of this exchange
     * is left on the connection (a tunnel, a broken or unread body, a
     * body still owed) */
    release_conn(ex, ex->keepalive && !body_owed && complete && rc == OK);
    return rc;
}

/* Can a filter between the client and this handler (mod_deflate's
 * inflation, mod_sed, mod_lua, ...) change the body's bytes, and so its
 * length? Every filter above the protocol level may. */
static int
body_filtered(const request_rec *r)
{
    const ap_filter_t *f;

    for (f = r->input_filters; f && f != r->proto_input_filters;
         f = f->next) {
        if (f->frec->ftype < AP_FTYPE_PROTOCOL) {
            return 1;
        }
    }
    return 0;
}

/* The body's framing to the member, decided once, after the prefetch and
 * from what the input filters yield, never from the client's framing
 * alone: a Content-Length when the whole body is held, or when no filter
 * can change the client's; otherwise chunked. rp_member_http_send_body()
 * holds the body to a declared length. */
static void
decide_framing(rp_exchange_t *ex, int filtered)
{
    request_rec *r = ex->r;
    const char *cl = apr_table_get(r->headers_in, "Content-Length");

    ex->chunked = 0;
    ex->body_len = 0;
    if (!ex->has_body) {
        return;
    }
    if (ex->prefetch_all) {
        apr_brigade_length(ex->prefetch, 1, &ex->body_len);
    }
    else if (!cl || apr_table_get(r->headers_in, "Transfer-Encoding")
             || filtered || !ap_parse_strict_length(&ex->body_len, cl)) {
        ex->chunked = 1;
        ex->body_len = -1;
    }
}

/* What the request carries, decided once for all tries. */
static int
prepare_request(rp_exchange_t *ex)
{
    request_rec *r = ex->r;
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    int filtered = body_filtered(r);
    apr_status_t rv;
    int rc;

    ex->has_body = apr_table_get(r->headers_in, "Transfer-Encoding")
                   || (cl && strcmp(cl, "0"));
    ex->may_repeat = method_idempotent(r);
    /* With an input filter on the body, the body is read ahead like any
     * other, which answers the client's Expect: the filter must have seen
     * the body before its headers (mod_deflate drops Content-Encoding and
     * Content-Length on its first read) and the framing are decided. */
    ex->expect_100 = ex->has_body && r->expecting_100 && !filtered;
    ex->upgrade = wanted_upgrade(r, ex->match->route);
    if ((rc = upgrade_possible(r, ex->upgrade)) != OK) {
        return rc;
    }
    /* RProxyRequestBuffering: the whole body before a member is picked */
    if ((rc = rp_buffer_request(ex)) != OK) {
        return rc;
    }
    if (ex->has_body && !ex->expect_100 && !ex->prefetch) {
        if ((rv = rp_member_http_prefetch(ex)) != APR_SUCCESS) {
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
    }
    decide_framing(ex, filtered);
    rp_headers_request(ex);
    return rp_headers_check(ex);
}

/* The member for the next try: on the first, the sticky one if it can
 * take the request, else the balancer's choice; only the first try waits
 * in the pool's queue when every member is full (rproxy_queue.c). */
static apr_status_t
choose_member(rp_exchange_t *ex, rproxy_member_t *sticky,
              const unsigned char *tried, int tries)
{
    rproxy_pool_t *pool = ex->match->route->pool;

    ex->m = tries == 0 && sticky ? rp_balancer_take(sticky, tried) : NULL;
    if (ex->m || (ex->m = rp_balancer_pick(ex->r, pool, tried))) {
        return APR_SUCCESS;
    }
    return tries == 0 ? rp_queue_wait(ex->r, pool, tried, &ex->m)
                      : APR_ENOENT;
}

int
rp_handler(request_rec *r)
{
    rp_match_t *match;
    rp_exchange_t *ex;
    rproxy_pool_t *pool;
    unsigned char *tried;
    rproxy_outcome_e outcome = RPROXY_OUTCOME_OK;
    rproxy_member_t *sticky;
    const char *issued = NULL;
    apr_status_t picked = APR_SUCCESS;
    apr_time_t first_started = 0;
    int rc, tries = 0;

    if (!r->handler || strcmp(r->handler, RP_HANDLER)
        || !(match = rp_match_get(r))) {
        return DECLINED;
    }
    pool = match->route->pool;
    /* read (and removed from the request) before the headers are built */
    sticky = rp_sticky_member(r, pool);
    ex = apr_pcalloc(r->pool, sizeof(*ex));
    ex->r = r;
    ex->match = match;
    ex->dconf = rp_dir_config(r);
    /* an internal redirect to an ErrorDocument carries the error's status */
    ex->error_status = r->prev && ap_is_HTTP_ERROR(r->status) ? r->status : 0;
    ex->bout = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    if ((rc = prepare_request(ex)) != OK) {
        return rc;
    }
    rc = HTTP_SERVICE_UNAVAILABLE;
    tried = apr_pcalloc(r->pool, pool->members->nelts);
    /* The rproxy-* notes are for mod_log_config (%{rproxy-pool}n, ...,
     * docs/directives.md "Log variables"), with rproxy_queue.c's
     * rproxy-queue-ms and rproxy_lognotes.c's; no code of ours reads them
     * back. */
    apr_table_setn(r->notes, "rproxy-pool", pool->name);
    ex->tried = tried;
    rp_policy_begin(ex);
    while (tries == 0 || rp_policy_retry(ex, rc, outcome, tries)) {
        apr_time_t started;

        picked = choose_member(ex, sticky, tried, tries);
        if (picked != APR_SUCCESS) {
            break;
        }
        started = apr_time_now();
        first_started = first_started ? first_started : started;
        if (pool->sticky && ex->m != sticky) {
            rp_sticky_issue(r, ex->m, &issued);
        }
        tried[ex->m->index] = 1;
        tries++;
        apr_table_setn(r->notes, "rproxy-member", ex->m->name);
        rc = try_member(ex, &outcome);
        rp_balancer_release(r, ex->m, outcome,
                            (ex->head_at ? ex->head_at : apr_time_now())
                            - started, &ex->io);
        rp_lognotes_try(ex, outcome, started);
    }
    rp_lognotes_done(ex, tries, first_started);
    if (!tries && picked == APR_ECONNABORTED) {
        /* it left while queued: nobody to answer */
        r->connection->aborted = 1;
    }
    else if (!tries && picked == APR_ENOENT) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, RPLOGNO(00043)
                      "pool %s: no usable member", pool->name);
    }
    else if (outcome == RPROXY_OUTCOME_CONNECT) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, RPLOGNO(00044)
                      "pool %s: no member could be reached (%d tried)",
                      pool->name, tries);
    }
    /* a buffered response, now that the member is free (rproxy_buffer.c) */
    rp_buffer_deliver(ex);
    return rc;
}
