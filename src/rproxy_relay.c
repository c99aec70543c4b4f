/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_relay.c - the response body's way from the member's connection to
 * the client's: read without blocking, pass on what came, and FLUSH before
 * waiting so that a streamed response (SSE, long-polls) is never held back.
 *
 * Buckets never cross from one connection's allocator to the other: data
 * is handed over as transient buckets, which the receiving side copies if
 * it must keep them.
 */

#include "rproxy_private.h"

#include "http_protocol.h"

/* Hands the data of `from` to `to` as transient buckets of to's allocator
 * (see above): the member's and the client's connections each have
 * their own. */
void
rp_brigade_transfer(apr_bucket_brigade *to, apr_bucket_brigade *from)
{
    apr_bucket_alloc_t *ba = to->bucket_alloc;
    apr_bucket *b;

    for (b = APR_BRIGADE_FIRST(from); b != APR_BRIGADE_SENTINEL(from);
         b = APR_BUCKET_NEXT(b)) {
        const char *data;
        apr_size_t len;

        if (APR_BUCKET_IS_EOS(b)) {
            APR_BRIGADE_INSERT_TAIL(to, apr_bucket_eos_create(ba));
        }
        else if (APR_BUCKET_IS_FLUSH(b)) {
            APR_BRIGADE_INSERT_TAIL(to, apr_bucket_flush_create(ba));
        }
        else if (APR_BUCKET_IS_FILE(b)) {
            /* a body held in a temporary file (RProxyRequestBuffering):
             * a new bucket for the same bytes, so that the held one is
             * never read into memory (a resend needs it whole) and the
             * core may sendfile it */
            apr_bucket_file *f = b->data;

            APR_BRIGADE_INSERT_TAIL(to, apr_bucket_file_create(
                                        f->fd, b->start, b->length,
                                        f->readpool, ba));
        }
        else if (!APR_BUCKET_IS_METADATA(b)
                 && apr_bucket_read(b, &data, &len, APR_BLOCK_READ)
                    == APR_SUCCESS && len) {
            APR_BRIGADE_INSERT_TAIL(to, apr_bucket_transient_create(data, len,
                                                                    ba));
        }
    }
}

static apr_status_t
pass_to_client(rp_exchange_t *ex, int flush)
{
    apr_status_t rv;

    if (flush) {
        APR_BRIGADE_INSERT_TAIL(ex->bout, apr_bucket_flush_create(
                                    ex->bout->bucket_alloc));
    }
    rv = ap_pass_brigade(ex->r->output_filters, ex->bout);
    apr_brigade_cleanup(ex->bout);
    return rv;
}

/* Relays the response body to the client. Returns an error only for a
 * backend failure; a client that went away ends the relay quietly with
 * *complete == 0. */
apr_status_t
rp_member_http_relay_body(rp_exchange_t *ex, int *complete)
{
    request_rec *rp = ex->rp;
    apr_status_t rv;
    int eos = 0;

    *complete = 0;
    apr_socket_timeout_set(ex->bc->sock, ex->to.idle);
    ap_add_input_filter("HTTP_IN", NULL, rp, rp->connection);
    if (ex->buffering) {
        /* RProxyBuffering: the body goes to the request's buffer; only
         * one too large for it goes on below */
        rv = rp_buffer_fill(ex, complete);
        if (rv != APR_SUCCESS || *complete || ex->r->connection->aborted) {
            return rv;
        }
    }
    while (!eos) {
        rv = ap_get_brigade(rp->input_filters, ex->bin, AP_MODE_READBYTES,
                            APR_NONBLOCK_READ, RP_IOBUFSIZE);
        if (APR_STATUS_IS_EAGAIN(rv)
            || (rv == APR_SUCCESS && APR_BRIGADE_EMPTY(ex->bin))) {
            /* nothing ready: push what we have to the client, then wait */
            if (pass_to_client(ex, 1) != APR_SUCCESS) {
                return APR_SUCCESS;
            }
            rv = ap_get_brigade(rp->input_filters, ex->bin,
                                AP_MODE_READBYTES, APR_BLOCK_READ,
                                RP_IOBUFSIZE);
        }
        if (rv == APR_EOF && ex->close_delimited) {
            /* the member's close is the end of such a body (RFC 9112
             * 6.3, item 8), not a failure */
            apr_brigade_cleanup(ex->bin);
            APR_BRIGADE_INSERT_TAIL(ex->bin, apr_bucket_eos_create(
                                        ex->bin->bucket_alloc));
            rv = APR_SUCCESS;
        }
        if (rv != APR_SUCCESS) {
            apr_brigade_cleanup(ex->bin);
            return rv;
        }
        eos = !APR_BRIGADE_EMPTY(ex->bin)
              && APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(ex->bin));
        rp_brigade_transfer(ex->bout, ex->bin);
        rv = pass_to_client(ex, 0);
        apr_brigade_cleanup(ex->bin);
        if (rv != APR_SUCCESS || ex->r->connection->aborted) {
            return APR_SUCCESS;
        }
    }
    *complete = 1;
    return APR_SUCCESS;
}
