/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_splice_response.c - zero-copy response bodies: when nothing in
 * httpd's output chain has to see a body's bytes, they go from the
 * member's socket to the client's with splice(2) (rproxy_splice.c).
 *
 * When (decided once per request, before any body byte is read;
 * otherwise rproxy_relay.c copies the body as before):
 * - RProxyZeroCopy is On (the default) where the request is served;
 * - neither side is TLS (mod_ssl has to see the bytes), and the client's
 *   connection is HTTP/1.x itself, not a stream of an HTTP/2 connection;
 * - the member's body is sized (Content-Length) or ends at its close. A
 *   chunked body is copied: splicing it would mean parsing each chunk-size
 *   line off the socket between moves (two more system calls per chunk,
 *   and members write chunks of a few KiB), and writing the client's own
 *   chunk framing around each move;
 * - httpd does not chunk the client's response (it does for a
 *   close-delimited body to an HTTP/1.1 client it keeps), and no Range;
 * - every filter in the client's output chain only frames or writes
 *   (passive_filters): no mod_deflate, mod_sed, mod_include, cache...;
 * - nothing of the exchange asks for the body to be held
 *   (response_may_splice()).
 *
 * The bytes go out in the copying relay's order: the head through the
 * filters, then what the member's connection already read past its head
 * (the core input filter's brigade, rp_bconn_t.core_in) the same way, a
 * FLUSH, and only then the rest with splice. A sized body is spliced to
 * exactly its remaining length, a close-delimited one to the member's
 * close.
 *
 * The accounting stays exact: r->bytes_sent (%b), mod_logio's bytes out
 * (%O), the member's bytes in, and the pool's spliced and copied counters.
 * Timeouts are the copying path's: the pool's idle timeout for each wait
 * on the member, the server's Timeout for each wait on the client. And
 * failures end as there: a client that goes away (or stalls) ends the body
 * quietly with c->aborted, and the member's connection is closed; a member
 * that closes, resets or stalls before the end is an error, on which the
 * handler cuts the client's connection so that it sees the truncation.
 */

#include "rproxy_private.h"
#include "rproxy_splice.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_ssl.h"

#ifdef RP_HAVE_SPLICE

/* Output filters that frame or write a response without looking at its
 * body: those httpd puts on every HTTP/1.x request (byterange passes
 * everything on when there is no Range header, which is checked apart),
 * and mod_reqtimeout's, which only watches for the end of the request
 * (its EOR bucket) to stop the clock. */
static const char *const passive_filters[] = {
    "byterange", "content_length", "http_header", "http_outerror",
    "reqtimeout", "core", NULL
};
#define RP_PASSIVE_MAX 8
/* Their records, looked up once per configuration (rp_splice_filters_
 * resolve()): each response compares pointers, not names. */
static ap_filter_rec_t *passive_frecs[RP_PASSIVE_MAX];
static int passive_nfrecs;

/* Response buffering holds a body in httpd before it goes out: such a
 * response is never spliced. Any other reason of the exchange's own to
 * copy a body goes here too. */
static int
response_may_splice(const rp_exchange_t *ex)
{
    return !ex->buffering;
}

void
rp_splice_filters_resolve(void)
{
    const char *const *name;
    ap_filter_rec_t *frec;

    passive_nfrecs = 0;
    for (name = passive_filters; *name; name++) {
        /* NULL for a module's filter that is not loaded */
        if ((frec = ap_get_output_filter_handle(*name)) != NULL
            && passive_nfrecs < RP_PASSIVE_MAX) {
            passive_frecs[passive_nfrecs++] = frec;
        }
    }
}

static int
filters_passive(const request_rec *r, const char **which)
{
    const ap_filter_t *f;
    int i;

    for (f = r->output_filters; f; f = f->next) {
        for (i = 0; i < passive_nfrecs && f->frec != passive_frecs[i]; i++) {
        }
        if (i == passive_nfrecs) {
            *which = f->frec->name;
            return 0;
        }
    }
    return 1;
}

/* Why the body of ex is copied, or NULL: then mv is set up for it. */
static const char *
why_copied(rp_exchange_t *ex, rp_zc_move_t *mv)
{
    request_rec *r = ex->r;
    conn_rec *c = r->connection;
    apr_table_t *h = ex->rp->headers_in;
    const char *cl = apr_table_get(h, "Content-Length"), *which;
    apr_off_t len;

    if (ex->dconf && ex->dconf->zero_copy == 0) {
        return "RProxyZeroCopy Off";
    }
    if (ex->m->is_tls || c->master || ap_ssl_conn_is_ssl(c)) {
        return "TLS or HTTP/2";
    }
    if (r->main || ex->error_status || !response_may_splice(ex)) {
        return "subrequest, error page or buffered";
    }
    if (apr_table_get(r->headers_in, "Range")) {
        return "Range";
    }
    mv->left = -1;
    if (!ex->close_delimited) {
        const char *out = apr_table_get(r->headers_out, "Content-Length");

        if (!cl || apr_table_get(h, "Transfer-Encoding")
            || !ap_parse_strict_length(&mv->left, cl)
            || !out || !ap_parse_strict_length(&len, out)
            || len != mv->left) {
            return "chunked";
        }
    }
    if (!ex->bc->core_in) {
        return "socket or pipe";
    }
    if (mv->left >= 0 && rp_zc_buffered(ex->bc->core_in) >= mv->left) {
        /* the whole body came with the head (a small response): nothing
         * is left to splice, it goes out as it was read, and the rest of
         * the checks are not needed */
        return NULL;
    }
    if (!filters_passive(r, &which)) {
        return apr_pstrcat(r->pool, "output filter ", which, NULL);
    }
    if (!rp_zc_sock_fd(ex->bc->sock, &mv->in)
        || !rp_zc_sock_fd(ap_get_conn_socket(c), &mv->out)
        || !rp_zc_pipe_ready()) {
        return "socket or pipe";
    }
    mv->in_ms = rp_zc_timeout_ms(ex->to.idle);
    mv->out_ms = rp_zc_timeout_ms(r->server->timeout);
    return NULL;
}

/* Sends what the member's connection already read of the body the
 * copying way (through its filters, which count it), then a FLUSH: the
 * rest is on the socket, in order. When that was the whole body (a small
 * response, as a rule) the EOS goes in the same pass, after the FLUSH
 * (*ended). Each read asks for no more than the core holds, so that the
 * core does not read the socket. The transient buckets point into
 * ex->bin's data: passed before it is cleaned up. Returns
 * APR_ECONNABORTED when the client went away, another error for the
 * member. */
static apr_status_t
drain_read_ahead(rp_exchange_t *ex, rp_zc_move_t *mv, int *ended)
{
    apr_off_t have = rp_zc_buffered(ex->bc->core_in), want, got;
    apr_bucket_alloc_t *ba = ex->bout->bucket_alloc;
    apr_status_t rv;

    *ended = 0;
    while (have > 0 && mv->left != 0) {
        want = mv->left < 0 || mv->left > have ? have : mv->left;
        rv = ap_get_brigade(ex->bc->c->input_filters, ex->bin,
                            AP_MODE_READBYTES, APR_NONBLOCK_READ,
                            want > RP_IOBUFSIZE ? RP_IOBUFSIZE : want);
        got = 0;
        if (rv == APR_SUCCESS) {
            apr_brigade_length(ex->bin, 1, &got);
        }
        if (rv != APR_SUCCESS || got == 0) {
            apr_brigade_cleanup(ex->bin);
            return rv != APR_SUCCESS ? rv : APR_EGENERAL;
        }
        have -= got;
        if (mv->left > 0) {
            mv->left -= got;
        }
        rp_brigade_transfer(ex->bout, ex->bin);
        if (have == 0 || mv->left == 0) {
            break;      /* the last piece goes with the FLUSH, below */
        }
        rv = rp_relay_pass(ex, 0);
        apr_brigade_cleanup(ex->bin);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    APR_BRIGADE_INSERT_TAIL(ex->bout, apr_bucket_flush_create(ba));
    if (mv->left == 0) {
        APR_BRIGADE_INSERT_TAIL(ex->bout, apr_bucket_eos_create(ba));
        *ended = 1;
    }
    rv = rp_relay_pass(ex, 0);
    apr_brigade_cleanup(ex->bin);
    return rv;
}

/* The body from the member's socket on, once the head is out. */
static apr_status_t
splice_rest(rp_exchange_t *ex, rp_zc_move_t *mv, int *complete)
{
    request_rec *r = ex->r;
    int ended;
    apr_status_t rv = drain_read_ahead(ex, mv, &ended);

    if (rv == APR_SUCCESS && ended) {
        *complete = 1;
        return APR_SUCCESS;
    }
    if (rv == APR_SUCCESS) {
        rv = rp_zc_move(mv);
        ex->bc->io.in += (apr_uint64_t)mv->moved_in;
        r->bytes_sent += mv->moved_out;
        rp_zc_logio_out(r->connection, mv->moved_out);
        if (rv != APR_SUCCESS && mv->out_failed) {
            /* the client went away, or took nothing for Timeout */
            rv = APR_ECONNABORTED;
        }
    }
    if (rv == APR_ECONNABORTED) {
        /* a quiet end, as when copying */
        r->connection->aborted = 1;
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    APR_BRIGADE_INSERT_TAIL(ex->bout, apr_bucket_eos_create(
                                ex->bout->bucket_alloc));
    *complete = rp_relay_pass(ex, 0) == APR_SUCCESS;
    return APR_SUCCESS;
}

apr_status_t
rp_splice_relay(rp_exchange_t *ex, int *complete, apr_off_t *spliced)
{
    request_rec *r = ex->r;
    const char *why;
    rp_zc_move_t mv;
    apr_status_t rv;

    *complete = 0;
    *spliced = 0;
    memset(&mv, 0, sizeof(mv));
    why = why_copied(ex, &mv);
    if (!why && mv.left < 0) {
        /* whether httpd chunks the client's response (it does for a
         * body of unknown length to an HTTP/1.1 client it keeps) is
         * known once the head is out */
        if (rp_relay_pass(ex, 1) != APR_SUCCESS) {
            return APR_SUCCESS;
        }
        why = r->chunked ? "chunked to the client" : NULL;
    }
    if (why) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, RPLOGNO(00290)
                      RP_MEMBER_FMT "response body copied: %s",
                      RP_MEMBER_ARGS(ex->m), why);
        return APR_ENOTIMPL;
    }
    apr_socket_timeout_set(ex->bc->sock, ex->to.idle);
    rv = splice_rest(ex, &mv, complete);
    *spliced = mv.moved_in;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, RPLOGNO(00291)
                  RP_MEMBER_FMT "response body: %" APR_OFF_T_FMT " bytes "
                  "spliced, %" APR_OFF_T_FMT " out%s",
                  RP_MEMBER_ARGS(ex->m), mv.moved_in, mv.moved_out,
                  r->connection->aborted ? ", the client went away" : "");
    return rv;
}

#else /* !RP_HAVE_SPLICE */

apr_status_t
rp_splice_relay(rp_exchange_t *ex, int *complete, apr_off_t *spliced)
{
    (void)ex;
    *complete = 0;
    *spliced = 0;
    return APR_ENOTIMPL;
}

#endif /* RP_HAVE_SPLICE */
