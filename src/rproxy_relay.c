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
#include "rproxy_splice.h"

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

/* Passes ex->bout to the client, after a FLUSH when flush is set.
 * APR_ECONNABORTED when the client is gone. */
apr_status_t
rp_relay_pass(rp_exchange_t *ex, int flush)
{
    apr_status_t rv;

    if (flush) {
        APR_BRIGADE_INSERT_TAIL(ex->bout, apr_bucket_flush_create(
                                    ex->bout->bucket_alloc));
    }
    rv = ap_pass_brigade(ex->r->output_filters, ex->bout);
    apr_brigade_cleanup(ex->bout);
    return rv != APR_SUCCESS || ex->r->connection->aborted
           ? APR_ECONNABORTED : APR_SUCCESS;
}

/* Reads the next piece of the member's body into ex->bin, through
 * HTTP_IN on ex->rp. The member's close is the end of a close-delimited
 * body (RFC 9112 6.3, item 8), not a failure: it becomes an EOS. Sets
 * *eos when the piece ends the body; on an error ex->bin is empty. */
apr_status_t
rp_relay_read(rp_exchange_t *ex, apr_read_type_e block, int *eos)
{
    apr_status_t rv = ap_get_brigade(ex->rp->input_filters, ex->bin,
                                     AP_MODE_READBYTES, block, RP_IOBUFSIZE);

    if (rv == APR_EOF && ex->close_delimited) {
        apr_brigade_cleanup(ex->bin);
        APR_BRIGADE_INSERT_TAIL(ex->bin, apr_bucket_eos_create(
                                    ex->bin->bucket_alloc));
        rv = APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        apr_brigade_cleanup(ex->bin);
        return rv;
    }
    *eos = !APR_BRIGADE_EMPTY(ex->bin)
           && APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(ex->bin));
    return APR_SUCCESS;
}

/* The copying relay. */
static apr_status_t
relay_copy(rp_exchange_t *ex, int *complete)
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
        rv = rp_relay_read(ex, APR_NONBLOCK_READ, &eos);
        if (APR_STATUS_IS_EAGAIN(rv)
            || (rv == APR_SUCCESS && APR_BRIGADE_EMPTY(ex->bin))) {
            /* nothing ready: push what we have to the client, then wait */
            if (rp_relay_pass(ex, 1) != APR_SUCCESS) {
                return APR_SUCCESS;
            }
            rv = rp_relay_read(ex, APR_BLOCK_READ, &eos);
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        rp_brigade_transfer(ex->bout, ex->bin);
        rv = rp_relay_pass(ex, 0);
        apr_brigade_cleanup(ex->bin);
        if (rv != APR_SUCCESS) {
            return APR_SUCCESS;
        }
    }
    *complete = 1;
    return APR_SUCCESS;
}

/* Relays the response body to the client: in the kernel when nothing
 * needs to see it (rproxy_splice.c), else by copying. Returns an error
 * only for a backend failure; a client that went away ends the relay
 * quietly with *complete == 0. */
apr_status_t
rp_member_http_relay_body(rp_exchange_t *ex, int *complete)
{
    apr_uint64_t in = ex->bc->io.in;
    apr_off_t spliced;
    apr_status_t rv = rp_splice_relay(ex, complete, &spliced);

    if (rv == APR_ENOTIMPL) {
        rv = relay_copy(ex, complete);
    }
    rp_splice_count(ex->m->pool, RP_ZC_RESPONSE, (apr_uint64_t)spliced,
                    ex->bc->io.in - in - (apr_uint64_t)spliced);
    return rv;
}
