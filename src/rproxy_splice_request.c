/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_splice_request.c - zero-copy request bodies: the part of a sized
 * request body that the prefetch did not take goes from the client's
 * socket to the member's with splice(2) (rproxy_splice.c).
 *
 * When (decided once, when the rest of the body is to be sent; otherwise
 * rproxy_member_http.c copies it as before):
 * - RProxyZeroCopy is On where the request is served;
 * - neither side is TLS, and the client's connection is HTTP/1.x itself;
 * - the body is sized, and goes to the member under the client's own
 *   Content-Length (ex->chunked 0). A chunked body is copied: its framing
 *   is HTTP_IN's to parse;
 * - no Expect: 100-continue (HTTP_IN sends the client its 100 at its
 *   first read of the body, which must then go through it), no deadline=
 *   (its filters bound each write to the member, which a splice would
 *   pass by), nothing of the exchange asks for the body to be held
 *   (request_may_splice());
 * - the client's input chain is httpd's HTTP_IN and core (and mod_logio's
 *   counter) alone. mod_reqtimeout's filter makes the body copied: its
 *   minimum rate for bodies (RequestReadTimeout body=...,MinRate=) would no
 *   longer hold. It is absent when RequestReadTimeout sets every stage to
 *   0 in the server the connection came to.
 *
 * HTTP_IN has counted what it gave the prefetch and would still expect the
 * rest: once the rest is spliced, HTTP_IN leaves the request's chain and
 * rp_zc_body_done_filter takes its place, telling whoever reads on
 * (ap_discard_request_body() at the end of the request) that the body has
 * ended. What the client connection's core read of the body along with
 * the prefetch is taken first, by one non-blocking read below HTTP_IN of
 * at most the body's rest (a pipelined request behind the body stays
 * where it is), and copied to the member; the rest is spliced, to exactly
 * the declared length.
 *
 * Failures are the copying path's: a client that closes, resets or stalls
 * (the server's Timeout, for each wait) mid-body fails the request with
 * 400 or 408 (ex->client_error), a member that fails or stalls (idle=) is
 * the member's failure; either way the member's connection is dropped,
 * and the client's is not kept when its body was not read to the end.
 * Bytes: the member's bytes out, mod_logio's bytes in (%I), the pool's
 * request counters.
 */

#include "rproxy_private.h"
#include "rproxy_splice.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_ssl.h"

#ifdef RP_HAVE_SPLICE

/* The client's input chain may hold only these: HTTP_IN, which is taken
 * out once the body is spliced, and filters that neither look at nor
 * hold body bytes. */
static int
input_chain_plain(request_rec *r, ap_filter_t **http_in, const char **which)
{
    ap_filter_t *f;

    *http_in = NULL;
    for (f = r->input_filters; f; f = f->next) {
        if (!strcasecmp(f->frec->name, "http_in")) {
            *http_in = f;
        }
        else if (strcasecmp(f->frec->name, "core_in")
                 && strcasecmp(f->frec->name, "log_input_output")) {
            *which = f->frec->name;
            return 0;
        }
    }
    *which = "no HTTP_IN";
    return *http_in != NULL;
}

/* Request buffering holds a body in httpd before it goes to the member:
 * such a body is never spliced. Any other reason of the exchange's own
 * to copy a request body goes here too. */
static int
request_may_splice(const rp_exchange_t *ex)
{
    return !ex->prefetch_all;
}

/* Why the rest of the body is copied, or NULL: then mv is set up. */
static const char *
why_copied(rp_exchange_t *ex, rp_zc_move_t *mv, ap_filter_t **http_in,
           apr_bucket_brigade **core_in)
{
    request_rec *r = ex->r;
    conn_rec *c = r->connection;
    const char *which;

    if (ex->dconf && ex->dconf->zero_copy == 0) {
        return "RProxyZeroCopy Off";
    }
    if (ex->m->is_tls || c->master || ap_ssl_conn_is_ssl(c)) {
        return "TLS or HTTP/2";
    }
    if (ex->chunked || ex->body_len < 0 || ex->expect_100 || ex->deadline
        || r->main || apr_table_get(r->headers_in, "Transfer-Encoding")) {
        return "chunked, 100-continue or deadline=";
    }
    if (!request_may_splice(ex)) {
        return "buffered";
    }
    if (!input_chain_plain(r, http_in, &which)) {
        return apr_pstrcat(r->pool, "input filter ", which, NULL);
    }
    if (!(*core_in = rp_conn_client_core_in(c))
        || !rp_zc_sock_fd(ap_get_conn_socket(c), &mv->in)
        || !rp_zc_sock_fd(ex->bc->sock, &mv->out) || !rp_zc_pipe_ready()) {
        return "socket or pipe";
    }
    mv->in_ms = rp_zc_timeout_ms(r->server->timeout);
    mv->out_ms = rp_zc_timeout_ms(ex->to.idle);
    mv->left = ex->body_len - ex->body_out;
    return NULL;
}

/* What the client connection's core holds of the body (read along with
 * the prefetch) goes to the member the copying way (its filters count
 * it), then a FLUSH. Each read asks for no more than the core holds, so
 * that the core does not read the socket. */
static apr_status_t
drain_core(rp_exchange_t *ex, ap_filter_t *http_in, rp_zc_move_t *mv,
           apr_bucket_brigade *core_in)
{
    request_rec *r = ex->r;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool,
                                                r->connection->bucket_alloc);
    apr_off_t have = rp_zc_buffered(core_in), want, len;
    apr_status_t rv;

    while (have > 0 && mv->left > 0) {
        want = mv->left < have ? mv->left : have;
        rv = ap_get_brigade(http_in->next, bb, AP_MODE_READBYTES,
                            APR_NONBLOCK_READ,
                            want > RP_IOBUFSIZE ? RP_IOBUFSIZE : want);
        len = 0;
        if (rv == APR_SUCCESS) {
            apr_brigade_length(bb, 1, &len);
        }
        if (rv != APR_SUCCESS || len == 0 || len > want) {
            apr_brigade_cleanup(bb);
            return rv != APR_SUCCESS ? rv : APR_EGENERAL;
        }
        /* transient buckets into bb's data: written before it goes */
        rp_brigade_transfer(ex->bin, bb);
        APR_BRIGADE_INSERT_TAIL(ex->bin, apr_bucket_flush_create(
                                    ex->bin->bucket_alloc));
        rv = ap_pass_brigade(ex->bc->c->output_filters, ex->bin);
        apr_brigade_cleanup(ex->bin);
        apr_brigade_cleanup(bb);
        if (rv != APR_SUCCESS) {
            mv->out_failed = 1;
            return rv;
        }
        ex->body_out += len;
        mv->left -= len;
        have -= len;
    }
    return APR_SUCCESS;
}

/* The body is no longer HTTP_IN's to read. */
static void
body_taken(rp_exchange_t *ex, ap_filter_t *http_in, const rp_zc_move_t *mv)
{
    request_rec *r = ex->r;

    ap_remove_input_filter(http_in);
    ap_add_input_filter_handle(rp_zc_body_done_filter, NULL, r,
                               r->connection);
    ex->body_streamed = 1;
    if (mv->left != 0) {
        /* the rest of the body is still on the connection */
        r->connection->keepalive = AP_CONN_CLOSE;
    }
}

apr_status_t
rp_splice_request_body(rp_exchange_t *ex, apr_off_t *spliced)
{
    request_rec *r = ex->r;
    ap_filter_t *http_in = NULL;
    apr_bucket_brigade *core_in = NULL;
    const char *why;
    rp_zc_move_t mv;
    apr_status_t rv;

    *spliced = 0;
    memset(&mv, 0, sizeof(mv));
    if ((why = why_copied(ex, &mv, &http_in, &core_in)) != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, RPLOGNO(00292)
                      RP_MEMBER_FMT "request body copied: %s",
                      RP_MEMBER_ARGS(ex->m), why);
        return APR_ENOTIMPL;
    }
    rv = drain_core(ex, http_in, &mv, core_in);
    if (rv == APR_SUCCESS) {
        rv = rp_zc_move(&mv);
        ex->bc->io.out += (apr_uint64_t)mv.moved_out;
        ex->body_out += mv.moved_out;
        rp_zc_logio_in(r->connection, mv.moved_in);
        *spliced = mv.moved_out;
    }
    body_taken(ex, http_in, &mv);
    if (rv != APR_SUCCESS && !mv.out_failed) {
        ex->client_error = ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r, RPLOGNO(00293)
                      RP_MEMBER_FMT "the client's request body broke off "
                      "after %" APR_OFF_T_FMT " bytes (%d); member "
                      "connection dropped", RP_MEMBER_ARGS(ex->m),
                      ex->body_out, ex->client_error);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, RPLOGNO(00294)
                  RP_MEMBER_FMT "request body: %" APR_OFF_T_FMT " bytes "
                  "spliced", RP_MEMBER_ARGS(ex->m), mv.moved_out);
    return rv;
}

#else /* !RP_HAVE_SPLICE */

apr_status_t
rp_splice_request_body(rp_exchange_t *ex, apr_off_t *spliced)
{
    (void)ex;
    *spliced = 0;
    return APR_ENOTIMPL;
}

#endif /* RP_HAVE_SPLICE */
