/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_relay.c - the response body's way from the member's connection to
 * the client's: read without blocking, pass on what came, and FLUSH before
 * waiting so that a streamed response (SSE, long-polls) is never held back.
 *
 * Buckets never cross from one connection's allocator to the other: data
 * is handed over as transient buckets, which the receiving side copies if
 * it must keep them, or, by the copying relay, copied once into blocks of
 * the client's allocator (relay_block_t).
 */

#include "rproxy_private.h"
#include "rproxy_splice.h"

#include "http_protocol.h"

#include <stdlib.h>

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

/* Reads up to readbytes of the member's body into ex->bin, through
 * HTTP_IN on ex->rp; see rp_relay_read(). */
static apr_status_t
relay_read(rp_exchange_t *ex, apr_read_type_e block, int *eos,
           apr_off_t readbytes)
{
    apr_status_t rv = ap_get_brigade(ex->rp->input_filters, ex->bin,
                                     AP_MODE_READBYTES, block, readbytes);

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

/* Reads the next piece of the member's body into ex->bin, through
 * HTTP_IN on ex->rp. The member's close is the end of a close-delimited
 * body (RFC 9112 6.3, item 8), not a failure: it becomes an EOS. Sets
 * *eos when the piece ends the body; on an error ex->bin is empty. */
apr_status_t
rp_relay_read(rp_exchange_t *ex, apr_read_type_e block, int *eos)
{
    return relay_read(ex, block, eos, RP_IOBUFSIZE);
}

/* The copying relay hands the client's output filters blocks of up to
 * RP_RELAY_BLOCK bytes: what the member's connection gives while more is
 * ready (mod_ssl at most 8 KiB a read, the core up to what is asked) is
 * copied into one heap bucket. A block is one writev() to a plain client
 * where each 8 KiB piece was one, 16 KiB TLS records to a TLS client where
 * each piece was a record of its own, and the core sets a heap bucket
 * aside without copying it again (it copied every transient bucket that
 * the socket did not take at once).
 *
 * The block comes from malloc(), not from the client connection's
 * allocator: an allocator keeps the blocks freed into it (up to
 * MaxMemFree) for as long as the connection lives, and a kept-alive
 * client that had one large response then held 128 KiB more while idle
 * (182 KiB per idle connection against 55 before the blocks, measured);
 * malloc() serves the next response, on any connection, from them. */
#define RP_RELAY_BLOCK      (128 * 1024)

typedef struct {
    char *buf;                  /* NULL: no block started */
    apr_size_t len;
} relay_block_t;

/* Ends the block being filled: onto ex->bout when it holds anything. */
static void
block_end(rp_exchange_t *ex, relay_block_t *blk)
{
    if (blk->buf && blk->len) {
        APR_BRIGADE_INSERT_TAIL(ex->bout, apr_bucket_heap_create(
                                    blk->buf, blk->len, free,
                                    ex->bout->bucket_alloc));
    }
    else if (blk->buf) {
        free(blk->buf);
    }
    blk->buf = NULL;
    blk->len = 0;
}

/* Copies the data of ex->bin into blocks on ex->bout (a full block is
 * ended), and its EOS or FLUSH after them. */
static void
block_add(rp_exchange_t *ex, relay_block_t *blk)
{
    apr_bucket_alloc_t *ba = ex->bout->bucket_alloc;
    apr_bucket *b;

    for (b = APR_BRIGADE_FIRST(ex->bin); b != APR_BRIGADE_SENTINEL(ex->bin);
         b = APR_BUCKET_NEXT(b)) {
        const char *data;
        apr_size_t len, n;

        if (APR_BUCKET_IS_EOS(b) || APR_BUCKET_IS_FLUSH(b)) {
            block_end(ex, blk);
            APR_BRIGADE_INSERT_TAIL(ex->bout, APR_BUCKET_IS_EOS(b)
                                    ? apr_bucket_eos_create(ba)
                                    : apr_bucket_flush_create(ba));
            continue;
        }
        if (APR_BUCKET_IS_METADATA(b)
            || apr_bucket_read(b, &data, &len, APR_BLOCK_READ)
               != APR_SUCCESS) {
            continue;
        }
        while (len) {
            if (!blk->buf) {
                blk->buf = ap_malloc(RP_RELAY_BLOCK);
            }
            n = RP_RELAY_BLOCK - blk->len < len ? RP_RELAY_BLOCK - blk->len
                                                : len;
            memcpy(blk->buf + blk->len, data, n);
            blk->len += n;
            data += n;
            len -= n;
            if (blk->len == RP_RELAY_BLOCK) {
                block_end(ex, blk);
            }
        }
    }
    apr_brigade_cleanup(ex->bin);
}

/* A plain member's sized or close-delimited body is read off its socket
 * straight into the blocks, up to a block a read, where the core would
 * read 8000 bytes a read() into buckets of its own that are then copied
 * again (once what the core already holds is taken through HTTP_IN,
 * below). Sets *left to the body's length, -1 for "to the member's
 * close"; returns 0 for a chunked body or a TLS member (HTTP_IN and
 * mod_ssl read those). */
static int
direct_body(rp_exchange_t *ex, apr_off_t *left)
{
    apr_table_t *h = ex->rp->headers_in;
    const char *cl = apr_table_get(h, "Content-Length");

    *left = -1;
    return !ex->m->is_tls && ex->bc->core_in
           && (ex->close_delimited
               || (cl && !apr_table_get(h, "Transfer-Encoding")
                   && ap_parse_strict_length(left, cl)));
}

/* One read() of the body's next bytes into blk, waiting (the pool's idle
 * timeout) or not (APR_EAGAIN); the member's bytes in count them, as
 * its input filter would. Sets *eos at the body's end. */
static apr_status_t
direct_read(rp_exchange_t *ex, relay_block_t *blk, int wait,
            apr_off_t *left, int *eos)
{
    apr_size_t n = RP_RELAY_BLOCK - blk->len;
    apr_status_t rv;

    if (*left == 0) {
        *eos = 1;
        return APR_SUCCESS;
    }
    if (*left > 0 && (apr_off_t)n > *left) {
        n = (apr_size_t)*left;
    }
    if (!blk->buf) {
        blk->buf = ap_malloc(RP_RELAY_BLOCK);
    }
    if (!wait) {
        /* no system call: APR's socket is non-blocking either way */
        apr_socket_timeout_set(ex->bc->sock, 0);
    }
    rv = apr_socket_recv(ex->bc->sock, blk->buf + blk->len, &n);
    apr_socket_timeout_set(ex->bc->sock, ex->to.idle);
    if (n > 0) {
        blk->len += n;
        ex->bc->io.in += n;
        if (*left > 0) {
            *left -= (apr_off_t)n;
        }
        rv = APR_SUCCESS;
    }
    else if (rv == APR_EOF) {
        /* the end of a close-delimited body, else one cut short */
        rv = *left < 0 ? APR_SUCCESS : APR_INCOMPLETE;
        *left = 0;
    }
    *eos = rv == APR_SUCCESS && *left == 0;
    return rv;
}

/* Reads the body's next piece: through HTTP_IN into ex->bin, at most
 * held bytes (held > 0), or straight into blk. When nothing is ready,
 * what the client was given is pushed out with a FLUSH before the wait,
 * so that a streamed response is never held back; *gone says that the
 * client went away then. */
static apr_status_t
relay_next(rp_exchange_t *ex, relay_block_t *blk, apr_off_t held,
           apr_off_t *left, int *eos, int *gone)
{
    apr_status_t rv = held ? relay_read(ex, APR_NONBLOCK_READ, eos, held)
                           : direct_read(ex, blk, 0, left, eos);

    if (APR_STATUS_IS_EAGAIN(rv)
        || (rv == APR_SUCCESS && held && APR_BRIGADE_EMPTY(ex->bin))) {
        block_end(ex, blk);
        if (rp_relay_pass(ex, 1) != APR_SUCCESS) {
            *gone = 1;
            return APR_SUCCESS;
        }
        rv = held ? relay_read(ex, APR_BLOCK_READ, eos, held)
                  : direct_read(ex, blk, 1, left, eos);
    }
    return rv;
}

/* The copying relay: reads while the member has more ready, gathering
 * it into blocks (above) that go to the client as they fill. What was
 * read goes to the client before a member's error is returned too. */
static apr_status_t
relay_copy(rp_exchange_t *ex, int *complete)
{
    request_rec *rp = ex->rp;
    relay_block_t blk = { NULL, 0 };
    apr_off_t left, held;
    apr_status_t rv;
    int eos = 0, gone = 0, direct;

    *complete = 0;
    apr_socket_timeout_set(ex->bc->sock, ex->to.idle);
    ap_add_input_filter("HTTP_IN", NULL, rp, rp->connection);
    /* before any of the body is read: the rest of one that outgrew the
     * buffer goes on through HTTP_IN, which knows how much is left */
    direct = !ex->buffering && direct_body(ex, &left);
    if (ex->buffering) {
        /* RProxyBuffering: the body goes to the request's buffer; only
         * one too large for it goes on below */
        rv = rp_buffer_fill(ex, complete);
        if (rv != APR_SUCCESS || *complete || ex->r->connection->aborted) {
            return rv;
        }
    }
    while (!eos) {
        /* through HTTP_IN: the whole body, or what the core holds */
        held = direct ? rp_zc_buffered(ex->bc->core_in)
                      : RP_RELAY_BLOCK;
        if (held > RP_RELAY_BLOCK - (apr_off_t)blk.len) {
            held = RP_RELAY_BLOCK - (apr_off_t)blk.len;
        }
        rv = relay_next(ex, &blk, held, &left, &eos, &gone);
        if (gone) {
            return APR_SUCCESS;
        }
        if (rv != APR_SUCCESS) {
            block_end(ex, &blk);
            rp_relay_pass(ex, 1);
            return rv;
        }
        if (held) {
            if (direct && left > 0) {
                apr_off_t got = 0;

                apr_brigade_length(ex->bin, 1, &got);
                left -= got;
            }
            block_add(ex, &blk);
        }
        else if (eos || blk.len == RP_RELAY_BLOCK) {
            block_end(ex, &blk);
            if (eos) {
                APR_BRIGADE_INSERT_TAIL(ex->bout, apr_bucket_eos_create(
                                            ex->bout->bucket_alloc));
            }
        }
        /* a block is full, or the body ended */
        if (blk.len == 0 && !APR_BRIGADE_EMPTY(ex->bout)
            && rp_relay_pass(ex, 0) != APR_SUCCESS) {
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
        if (rv == APR_SUCCESS && !*complete) {
            /* as the splice path's RP00291 says it: the member's
             * connection goes, with what it still had to send */
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, ex->r, RPLOGNO(00390)
                          RP_MEMBER_FMT "response body: %" APR_UINT64_T_FMT
                          " bytes copied, the client went away",
                          RP_MEMBER_ARGS(ex->m), ex->bc->io.in - in);
        }
    }
    rp_splice_count(ex->m->pool, RP_ZC_RESPONSE, (apr_uint64_t)spliced,
                    ex->bc->io.in - in - (apr_uint64_t)spliced);
    return rv;
}
