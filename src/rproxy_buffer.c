/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_buffer.c - response and request buffering (RProxyBuffering,
 * RProxyRequestBuffering): a slow client must not hold a member.
 *
 * Response: when buffering is on for the request and the response can
 * have it (not a HEAD, 1xx, 204 or 304, not a tunnel, not
 * text/event-stream, not X-Accel-Buffering: no, not declared larger than
 * the buffer), its body is read from the member as fast as the member
 * sends it: into memory up to memory=, then into a temporary file up to
 * file=. The member's connection goes back to the pool and its max_conns
 * slot is freed (rp_balancer_release) as soon as the last byte is in; the
 * client is then served from the buffer at its own pace, the file part
 * as file buckets that the core can sendfile, and that the event MPM
 * writes without a worker thread once the handler has returned. A body
 * that outgrows the buffer is streamed from there on, as without
 * buffering: what is held goes to the client first.
 *
 * Request: when request buffering is on, the whole body is read from the
 * client before a member is picked, memory then file, up to limit= (over
 * it: 413). The body is then held whole (ex->prefetch_all), which makes
 * the request one that may be sent again (rproxy_forward.c).
 *
 * Temporary files are made in RProxyBufferDir (default: the system's
 * temporary directory) and unlinked at once: nothing is left behind
 * whatever happens (client gone, error, crash); the descriptor closes with
 * the request's pool, or with the core's when it still writes the file
 * after the handler returned.
 */

#include "rproxy_private.h"
#include "rproxy_config.h"

#include "http_core.h"
#include "http_protocol.h"
#include "apr_atomic.h"
#include "apr_file_io.h"

/* iovecs per write to a temporary file */
#define RP_BUF_IOVECS   64

typedef struct rp_held_t {
    request_rec *r;
    rproxy_pool_t *pool;            /* whose counters */
    rp_buffering_t set;
    apr_bucket_brigade *bb;         /* the memory part, then the file */
    apr_off_t in_memory;
    apr_file_t *file;               /* NULL until the memory is full */
    apr_off_t in_file;
    apr_off_t counted;              /* added to the pool's buf_held */
} rp_held_t;

void
rp_buffer_settings(const rp_exchange_t *ex, int request, rp_buffering_t *out)
{
    const rp_route_t *route = ex->match->route;
    const rp_server_conf *sconf = rp_server_config(ex->r->server);
    const rp_buffering_t *dir = request ? &ex->dconf->reqbuf
                                        : &ex->dconf->buf;
    const rp_buffering_t *pool = request ? &route->pool->reqbuf
                                         : &route->pool->buf;
    const rp_buffering_t *srv = request ? &sconf->reqbuf : &sconf->buf;
    int on = request ? route->request_buffering : route->buffering;

#define RP_PICK(f, d) (dir->f != RP_UNSET ? dir->f : pool->f != RP_UNSET \
                       ? pool->f : srv->f != RP_UNSET ? srv->f : (d))
    out->on = on != RP_UNSET ? on : RP_PICK(on, 0);
    out->memory = RP_PICK(memory, request ? rp_defaults.reqbuf_memory
                                          : rp_defaults.buf_memory);
    out->limit = RP_PICK(limit, request ? rp_defaults.reqbuf_limit
                                        : rp_defaults.buf_file);
#undef RP_PICK
}

/* Takes the held bytes off the pool's gauge when the request ends. */
static apr_status_t
held_cleanup(void *data)
{
    rp_held_t *h = data;

    apr_atomic_sub64(&h->pool->sh->buf_held, h->counted);
    return APR_SUCCESS;
}

static void
held_count(rp_held_t *h)
{
    h->counted = h->in_memory + h->in_file;
    apr_atomic_add64(&h->pool->sh->buf_held, h->counted);
    apr_pool_cleanup_register(h->r->pool, h, held_cleanup,
                              apr_pool_cleanup_null);
    if (h->in_file) {
        apr_atomic_add64(&h->pool->sh->buf_file_bytes, h->in_file);
    }
}

static rp_held_t *
held_new(rp_exchange_t *ex, const rp_buffering_t *set)
{
    request_rec *r = ex->r;
    rp_held_t *h = apr_pcalloc(r->pool, sizeof(*h));

    h->r = r;
    h->pool = ex->match->route->pool;
    h->set = *set;
    h->bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    return h;
}

/* A temporary file in RProxyBufferDir, unlinked at once. Sendfile is
 * allowed on it where EnableSendfile is on. */
static apr_status_t
held_open_file(rp_held_t *h)
{
    request_rec *r = h->r;
    const char *dir = rp_server_config(r->server)->buffer_dir;
    core_dir_config *core = ap_get_core_module_config(r->per_dir_config);
    apr_int32_t flags = APR_FOPEN_CREATE | APR_FOPEN_READ | APR_FOPEN_WRITE
                        | APR_FOPEN_EXCL;
    apr_status_t rv;
    char *path;

    if (!dir && (rv = apr_temp_dir_get(&dir, r->pool)) != APR_SUCCESS) {
        dir = "/tmp";
    }
#if APR_HAS_SENDFILE
    if (core->enable_sendfile == ENABLE_SENDFILE_ON) {
        flags |= APR_FOPEN_SENDFILE_ENABLED;
    }
#else
    (void)core;
#endif
    path = apr_pstrcat(r->pool, dir, "/rproxy-XXXXXX", NULL);
    rv = apr_file_mktemp(&h->file, path, flags, r->pool);
    if (rv != APR_SUCCESS) {
        h->file = NULL;
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, RPLOGNO(00272)
                      "pool %s: cannot create a temporary file in %s "
                      "(RProxyBufferDir); the body is not buffered beyond "
                      "memory=", h->pool->name, dir);
        return rv;
    }
    apr_file_remove(path, r->pool);
    return APR_SUCCESS;
}

/* Writes iovecs to the file, all of them. */
static apr_status_t
held_write(rp_held_t *h, struct iovec *vec, int n)
{
    apr_size_t len;
    apr_status_t rv;

    if (!n) {
        return APR_SUCCESS;
    }
    rv = apr_file_writev_full(h->file, vec, n, &len);
    h->in_file += len;
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, h->r, RPLOGNO(00273)
                      "pool %s: writing a temporary file failed after %"
                      APR_OFF_T_FMT " bytes", h->pool->name, h->in_file);
    }
    return rv;
}

/* Writes the data buckets from b to the end of bb to the file. */
static apr_status_t
held_write_from(rp_held_t *h, apr_bucket *b, apr_bucket_brigade *bb)
{
    struct iovec vec[RP_BUF_IOVECS];
    int n = 0;

    for (; b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
        const char *data;
        apr_size_t len;

        if (APR_BUCKET_IS_METADATA(b)
            || apr_bucket_read(b, &data, &len, APR_BLOCK_READ)
               != APR_SUCCESS || !len) {
            continue;
        }
        vec[n].iov_base = (void *)data;
        vec[n++].iov_len = len;
        if (n == RP_BUF_IOVECS) {
            if (held_write(h, vec, n) != APR_SUCCESS) {
                return APR_EGENERAL;
            }
            n = 0;
        }
    }
    return held_write(h, vec, n);
}

/* Keeps the data of bb (of any allocator): bucket by bucket in memory
 * while it fits and nothing went to the file yet, the rest in the file.
 * APR_ENOSPC when the file would pass the limit, or cannot be made or
 * written: nothing of bb is kept then. */
static apr_status_t
held_add(rp_held_t *h, apr_bucket_brigade *bb)
{
    apr_off_t len = 0, mem = 0, before = h->in_file;
    apr_bucket *b, *split = APR_BRIGADE_FIRST(bb);

    apr_brigade_length(bb, 1, &len);    /* every length is known then */
    for (; !h->file && split != APR_BRIGADE_SENTINEL(bb)
           && h->in_memory + mem + (apr_off_t)split->length <= h->set.memory;
         split = APR_BUCKET_NEXT(split)) {
        mem += split->length;
    }
    /* the file part first: the memory part cannot fail */
    if (split != APR_BRIGADE_SENTINEL(bb)) {
        if (h->in_file + len - mem > h->set.limit
            || (!h->file && held_open_file(h) != APR_SUCCESS)) {
            return APR_ENOSPC;
        }
        if (held_write_from(h, split, bb) != APR_SUCCESS) {
            h->in_file = before;
            return APR_ENOSPC;
        }
    }
    for (b = APR_BRIGADE_FIRST(bb); b != split; b = APR_BUCKET_NEXT(b)) {
        const char *data;
        apr_size_t n;

        if (!APR_BUCKET_IS_METADATA(b)
            && apr_bucket_read(b, &data, &n, APR_BLOCK_READ) == APR_SUCCESS
            && n) {
            apr_brigade_write(h->bb, NULL, NULL, data, n);
        }
    }
    h->in_memory += mem;
    return APR_SUCCESS;
}

/* The file part behind the memory part, as file buckets. They may be
 * mmapped where sendfile is off (EnableMMAP's default): for a 1 MiB
 * response that cost about a quarter less CPU than reading the file back
 * (bench/buffering.sh). */
static void
held_close(rp_held_t *h)
{
    if (h->in_file) {
        apr_brigade_insert_file(h->bb, h->file, 0, h->in_file, h->r->pool);
    }
}

/* Is it a text/event-stream, whatever its parameters? */
static int
is_event_stream(const char *ct)
{
    static const char sse[] = "text/event-stream";

    return ct && !strncasecmp(ct, sse, sizeof(sse) - 1)
           && (!ct[sizeof(sse) - 1] || ct[sizeof(sse) - 1] == ';'
               || ct[sizeof(sse) - 1] == ' ');
}

void
rp_buffer_decide(rp_exchange_t *ex)
{
    apr_table_t *h = ex->rp->headers_in;
    const char *xab, *cl;
    rp_buffering_t set;
    apr_off_t len;

    /* the member's word to us, not to the client (nginx drops it too) */
    apr_table_unset(ex->r->headers_out, "X-Accel-Buffering");
    ex->buffering = 0;
    if (!(rp_globals.buffering_used & RP_BUF_USED_RESPONSE)) {
        return;     /* on nowhere: nothing to look up (the header goes
                     * all the same) */
    }
    xab = apr_table_get(h, "X-Accel-Buffering");
    cl = apr_table_get(h, "Content-Length");
    rp_buffer_settings(ex, 0, &set);
    if (!set.on || ex->r->header_only || ap_is_HTTP_INFO(ex->status)
        || ex->status == HTTP_NO_CONTENT || ex->status == HTTP_NOT_MODIFIED
        || (xab && !strcasecmp(xab, "no"))
        || is_event_stream(apr_table_get(h, "Content-Type"))) {
        return;
    }
    if (cl && !apr_table_get(h, "Transfer-Encoding")
        && ap_parse_strict_length(&len, cl)
        && len > set.memory + set.limit) {
        /* would not fit: streamed from the start rather than after a
         * copy of its first part */
        apr_atomic_inc64(&ex->match->route->pool->sh->buf_overflows);
        return;
    }
    ex->buffering = 1;
}

/* The body outgrew the buffer: what is held, then bin, to the client;
 * the caller streams the rest. */
static apr_status_t
overflow(rp_exchange_t *ex, rp_held_t *h)
{
    apr_status_t rv;

    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, ex->r, RPLOGNO(00274)
                  RP_MEMBER_FMT "response body over the buffer (%"
                  APR_OFF_T_FMT " in memory, %" APR_OFF_T_FMT " in a file); "
                  "the rest is streamed", RP_MEMBER_ARGS(ex->m),
                  h->in_memory, h->in_file);
    apr_atomic_inc64(&h->pool->sh->buf_overflows);
    ex->buffering = 0;
    held_close(h);
    if (h->in_file) {
        apr_atomic_add64(&h->pool->sh->buf_file_bytes, h->in_file);
    }
    rp_brigade_transfer(h->bb, ex->bin);
    rv = ap_pass_brigade(ex->r->output_filters, h->bb);
    apr_brigade_cleanup(h->bb);
    apr_brigade_cleanup(ex->bin);
    return rv;
}

apr_status_t
rp_buffer_fill(rp_exchange_t *ex, int *complete)
{
    rp_buffering_t set;
    rp_held_t *h;
    apr_status_t rv;
    int eos = 0;

    rp_buffer_settings(ex, 0, &set);
    h = held_new(ex, &set);
    while (!eos) {
        if ((rv = rp_relay_read(ex, APR_BLOCK_READ, &eos)) != APR_SUCCESS) {
            return rv;
        }
        if (held_add(h, ex->bin) != APR_SUCCESS) {
            /* a client that is gone ends the relay quietly, as there */
            *complete = overflow(ex, h) == APR_SUCCESS && eos
                        && !ex->r->connection->aborted;
            return APR_SUCCESS;
        }
        apr_brigade_cleanup(ex->bin);
    }
    held_close(h);
    APR_BRIGADE_INSERT_TAIL(h->bb, apr_bucket_eos_create(
                                h->bb->bucket_alloc));
    held_count(h);
    apr_atomic_inc64(&h->pool->sh->buf_responses);
    if (h->in_file) {
        apr_atomic_inc64(&h->pool->sh->buf_resp_spilled);
    }
    ex->held = h;
    *complete = 1;
    return APR_SUCCESS;
}

void
rp_buffer_deliver(rp_exchange_t *ex)
{
    rp_held_t *h = ex->held;

    if (!h) {
        return;
    }
    ex->held = NULL;
    /* a client that went away is no one's error */
    ap_pass_brigade(ex->r->output_filters, h->bb);
    apr_brigade_cleanup(h->bb);
}

/* The body's first bytes say how large it is at most: a Content-Length
 * over the limit is refused before anything is read. */
static int
refuse(rp_exchange_t *ex, const rp_buffering_t *set, apr_off_t len)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, ex->r, RPLOGNO(00275)
                  "pool %s: request body of %s%" APR_OFF_T_FMT " bytes "
                  "over RProxyRequestBuffering limit=%" APR_OFF_T_FMT
                  "; refused with 413", ex->match->route->pool->name,
                  len > set->limit ? "" : "over ", len, set->limit);
    apr_atomic_inc64(&ex->match->route->pool->sh->buf_refused);
    return HTTP_REQUEST_ENTITY_TOO_LARGE;
}

/* No file for the body (RP00272 said why): what is held and bb are the
 * start of the body, and the rest streams from the client as without
 * request buffering. */
static int
held_partial(rp_exchange_t *ex, rp_held_t *h, apr_bucket_brigade *bb,
             int eos)
{
    while (!APR_BRIGADE_EMPTY(bb)) {
        apr_bucket *b = APR_BRIGADE_FIRST(bb);

        if (APR_BUCKET_IS_METADATA(b)) {
            apr_bucket_delete(b);
            continue;
        }
        apr_bucket_setaside(b, ex->r->pool);
        APR_BUCKET_REMOVE(b);
        APR_BRIGADE_INSERT_TAIL(h->bb, b);
    }
    held_close(h);
    ex->prefetch = h->bb;
    ex->prefetch_all = eos;
    ex->expect_100 = 0;
    return OK;
}

int
rp_buffer_request(rp_exchange_t *ex)
{
    request_rec *r = ex->r;
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_bucket_brigade *bb;
    rp_buffering_t set;
    apr_off_t len = 0, total = 0;
    apr_status_t rv;
    rp_held_t *h;
    int eos = 0;

    if (!(rp_globals.buffering_used & RP_BUF_USED_REQUEST)
        || !ex->has_body || ex->upgrade) {
        return OK;  /* on nowhere, or nothing to hold */
    }
    rp_buffer_settings(ex, 1, &set);
    if (!set.on) {
        return OK;
    }
    if (cl && !apr_table_get(r->headers_in, "Transfer-Encoding")
        && ap_parse_strict_length(&len, cl) && len > set.limit) {
        return refuse(ex, &set, len);
    }
    h = held_new(ex, &set);
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    while (!eos) {
        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                            APR_BLOCK_READ, RP_IOBUFSIZE);
        if (rv != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r, RPLOGNO(00276)
                          "pool %s: the client's request body broke off "
                          "after %" APR_OFF_T_FMT " bytes, before a member "
                          "was picked", ex->match->route->pool->name, total);
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
        eos = !APR_BRIGADE_EMPTY(bb) && APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(bb));
        apr_brigade_length(bb, 1, &len);
        total += len;
        if (total > set.limit) {
            return refuse(ex, &set, total);
        }
        /* the memory part may be a little under memory=, never over;
         * total bounds the file part */
        if (held_add(h, bb) != APR_SUCCESS) {
            return held_partial(ex, h, bb, eos);
        }
        apr_brigade_cleanup(bb);
    }
    held_close(h);
    held_count(h);
    apr_atomic_inc64(&h->pool->sh->buf_requests);
    if (h->in_file) {
        apr_atomic_inc64(&h->pool->sh->buf_req_spilled);
    }
    ex->prefetch = h->bb;
    ex->prefetch_all = 1;
    /* the body is here: the member gets no Expect (httpd answered the
     * client's 100-continue when the body was first read) */
    ex->expect_100 = 0;
    return OK;
}
