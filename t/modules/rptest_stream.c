/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rptest_stream.c - part of the TEST-ONLY mod_rptest_backend (see
 * mod_rptest_backend.c): the answers that stream or stall, size= pattern
 * bodies (sleepbody= stalls one after its first 64 KiB) and upgrade=1, a
 * raw 101 followed by an echo tunnel.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_log.h"
#include "util_filter.h"

#include "apr_strings.h"
#include "apr_time.h"

#include "rptest_backend.h"

APLOG_USE_MODULE(rptest_backend);

static const char rpt_pattern[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/";

/* Stream size= bytes of the pattern in RPT_CHUNK pieces, passing each one
 * down immediately so memory stays bounded whatever the size. */
int
rpt_send_pattern(request_rec *r, const rpt_req *rq)
{
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, ba);
    apr_off_t left = rq->size;
    apr_status_t rv;
    int first = 1;
    char *chunk;
    apr_size_t i;

    if (!rq->chunked) {
        ap_set_content_length(r, rq->size);
    }
    if (rpt_no_body(r)) {
        return rpt_finish(r, bb);
    }
    /* RPT_CHUNK is a multiple of 64, so every chunk starts at pattern
     * offset 0 and one prepared buffer serves the whole body. */
    chunk = apr_palloc(r->pool, RPT_CHUNK);
    for (i = 0; i < RPT_CHUNK; i++) {
        chunk[i] = rpt_pattern[i % 64];
    }
    do {
        apr_size_t n = left > RPT_CHUNK ? RPT_CHUNK : (apr_size_t)left;

        if (n) {
            APR_BRIGADE_INSERT_TAIL(bb,
                                    apr_bucket_transient_create(chunk, n, ba));
            left -= n;
        }
        /* A flush before EOS stops httpd computing a Content-Length, so it
         * commits to chunked encoding; sleepbody needs the data on the wire
         * before sleeping. */
        if (first && (rq->chunked || rq->sleepbody_ms)) {
            APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(ba));
        }
        rv = ap_pass_brigade(r->output_filters, bb);
        apr_brigade_cleanup(bb);
        if (rv != APR_SUCCESS) {
            rpt_headers_done(r);
            return AP_FILTER_ERROR;
        }
        if (first && rq->sleepbody_ms) {
            apr_sleep(apr_time_from_msec(rq->sleepbody_ms));
        }
        first = 0;
    } while (left > 0);
    return rpt_finish(r, bb);
}

/* Write prefix+data straight to the connection and flush it. */
static apr_status_t
write_conn(conn_rec *c, apr_bucket_brigade *bb, const char *prefix,
           const char *data, apr_size_t len)
{
    apr_status_t rv;

    if (prefix) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_immortal_create(
                                        prefix, strlen(prefix),
                                        c->bucket_alloc));
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_heap_create(data, len, NULL,
                                                       c->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(c->bucket_alloc));
    rv = ap_pass_brigade(c->output_filters, bb);
    apr_brigade_cleanup(bb);
    return rv;
}

static int
has_quit(const char *buf, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i + 4 <= len; i++) {
        if (!memcmp(buf + i, "quit", 4)) {
            return 1;
        }
    }
    return 0;
}

/* Echo everything read from the client until EOF, error or "quit".  The
 * last 3 bytes of each read are kept in front of the next one so a "quit"
 * split across reads is still noticed. */
static void
tunnel_echo(conn_rec *c, apr_bucket_brigade *out, apr_bucket_brigade *in)
{
    char buf[3 + RPT_TUNNEL_READ];
    apr_size_t carry = 0, len, total;
    apr_status_t rv;
    int eos;

    for (;;) {
        rv = ap_get_brigade(c->input_filters, in, AP_MODE_READBYTES,
                            APR_BLOCK_READ, RPT_TUNNEL_READ);
        if (rv != APR_SUCCESS || APR_BRIGADE_EMPTY(in)) {
            break;
        }
        eos = APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(in));
        len = RPT_TUNNEL_READ;
        rv = apr_brigade_flatten(in, buf + carry, &len);
        apr_brigade_cleanup(in);
        if (rv != APR_SUCCESS || len == 0) {
            break;
        }
        if (write_conn(c, out, "echo:", buf + carry, len) != APR_SUCCESS) {
            break;
        }
        total = carry + len;
        if (eos || has_quit(buf, total)) {
            break;
        }
        carry = total < 3 ? total : 3;
        memmove(buf, buf + total - carry, carry);
    }
}

int
rpt_do_upgrade(request_rec *r, const rpt_req *rq, const char *proto)
{
    conn_rec *c = r->connection;
    apr_bucket_brigade *out = apr_brigade_create(r->pool, c->bucket_alloc);
    apr_bucket_brigade *in = apr_brigade_create(r->pool, c->bucket_alloc);
    const char *head, *hello;

    if (rq->sleep_ms) {
        apr_sleep(apr_time_from_msec(rq->sleep_ms));
    }
    /* Only for the access log: the 101 itself bypasses httpd's filters. */
    r->status = HTTP_SWITCHING_PROTOCOLS;
    head = apr_psprintf(r->pool,
                        "HTTP/1.1 101 Switching Protocols\r\n"
                        "Upgrade: %s\r\n"
                        "Connection: Upgrade\r\n"
                        "X-Backend: %s\r\n"
                        "X-Backend-Conn: %s\r\n"
                        "\r\n",
                        proto, rq->name, rpt_conn_identity(c));
    hello = apr_pstrcat(r->pool, "hello-from-", rq->name, "\n", NULL);
    if (write_conn(c, out, NULL, head, strlen(head)) == APR_SUCCESS
        && write_conn(c, out, NULL, hello, strlen(hello)) == APR_SUCCESS) {
        /* The tunnel may idle far longer than a request would; the header
         * and body read timeouts no longer apply. */
        (void)ap_remove_input_filter_byhandle(c->input_filters, "reqtimeout");
        tunnel_echo(c, out, in);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "rptest %s: upgraded connection finished", rq->name);
    /* The connection now carries a foreign protocol: make sure httpd
     * neither reuses it nor appends an HTTP response to it. */
    c->keepalive = AP_CONN_CLOSE;
    c->aborted = 1;
    return DONE;
}
