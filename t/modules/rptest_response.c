/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rptest_response.c - part of the TEST-ONLY mod_rptest_backend (see
 * mod_rptest_backend.c): the identity headers every answer carries, the
 * response head and its end, reading and hashing the request body, and
 * the echo of what the request looked like.
 */

#include "httpd.h"
#include "http_protocol.h"
#include "util_filter.h"

#include "apr_strings.h"
#include "apr_md5.h"
#include "apr_atomic.h"

#include <unistd.h>

#include "rptest_backend.h"

/* Baton for apr_table_do when echoing header/trailer tables. */
typedef struct {
    apr_bucket_brigade *bb;
    const char *prefix;
} rpt_echo_baton;

/* Serial number source for connection identities within this process. */
static apr_uint32_t rpt_conn_serial;

/* Identity of the TCP connection, assigned on its first request and kept
 * in c->notes so every later request on it reports the same value. */
const char *
rpt_conn_identity(conn_rec *c)
{
    const char *id = apr_table_get(c->notes, "rptest-conn-id");

    if (!id) {
        unsigned long n = apr_atomic_inc32(&rpt_conn_serial) + 1;

        id = apr_psprintf(c->pool, "%ld-%lu", (long)getpid(), n);
        apr_table_setn(c->notes, "rptest-conn-id", id);
    }
    return id;
}

void
rpt_set_identity(request_rec *r, const rpt_req *rq, apr_table_t *t)
{
    apr_table_setn(t, "X-Backend", rq->name);
    apr_table_setn(t, "X-Backend-Conn",
                   rpt_conn_identity(r->connection));
}

/* Set status, content type and all response headers.  For errors we
 * generate, err_headers_out is used so the headers survive any error
 * document processing. */
void
rpt_start_response(request_rec *r, const rpt_req *rq, int status)
{
    apr_table_t *t;
    int i;

    r->status = status;
    t = status >= 400 ? r->err_headers_out : r->headers_out;
    ap_set_content_type(r, "text/plain");
    rpt_set_identity(r, rq, t);
    for (i = 0; i < rq->headers->nelts; i++) {
        const char *spec = APR_ARRAY_IDX(rq->headers, i, const char *);
        const char *colon = strchr(spec, ':');
        const char *name = apr_pstrmemdup(r->pool, spec, colon - spec);
        const char *value = colon + 1;

        while (*value == ' ' || *value == '\t') {
            value++;
        }
        /* httpd derives Content-Type from r->content_type, not the table. */
        if (!strcasecmp(name, "Content-Type")) {
            ap_set_content_type(r, value);
            continue;
        }
        /* httpd replaces Server and Date with its own unless it believes
         * it is relaying a proxied response; pretend so, or tests could
         * never see a backend-specific Server header.  This is undone in
         * rpt_headers_done() before httpd may discard the request body. */
        if (!strcasecmp(name, "Server") || !strcasecmp(name, "Date")) {
            r->proxyreq = PROXYREQ_RESPONSE;
        }
        apr_table_add(t, name, value);
    }
}

int
rpt_no_body(const request_rec *r)
{
    return r->header_only || r->status == HTTP_NO_CONTENT
           || r->status == HTTP_NOT_MODIFIED;
}

/* Called once the response head has gone through the header filter.  A
 * lingering PROXYREQ_RESPONSE would make httpd's body reader treat the
 * request as a response (read-until-close) when it discards the body. */
void
rpt_headers_done(request_rec *r)
{
    if (r->proxyreq == PROXYREQ_RESPONSE) {
        r->proxyreq = PROXYREQ_NONE;
    }
}

int
rpt_finish(request_rec *r, apr_bucket_brigade *bb)
{
    apr_status_t rv;
    apr_bucket *eos = apr_bucket_eos_create(r->connection->bucket_alloc);

    APR_BRIGADE_INSERT_TAIL(bb, eos);
    rv = ap_pass_brigade(r->output_filters, bb);
    apr_brigade_cleanup(bb);
    rpt_headers_done(r);
    /* The filters have already dealt with the failure (usually the client
     * went away); AP_FILTER_ERROR stops httpd adding an error page. */
    return rv == APR_SUCCESS ? OK : AP_FILTER_ERROR;
}

int
rpt_send_text(request_rec *r, const rpt_req *rq, int status,
              const char *text)
{
    apr_bucket_brigade *bb = apr_brigade_create(r->pool,
                                                r->connection->bucket_alloc);

    rpt_start_response(r, rq, status);
    if (!rpt_no_body(r)) {
        apr_brigade_puts(bb, NULL, NULL, text);
    }
    return rpt_finish(r, bb);
}

/* Read and hash the whole request body in bounded chunks, so multi-GiB
 * uploads through the proxy can be verified without buffering them. */
int
rpt_read_body(request_rec *r, rpt_req *rq)
{
    apr_md5_ctx_t md5;
    unsigned char digest[APR_MD5_DIGESTSIZE];
    char *buf;
    long n = 0;
    int rc;

    apr_md5_init(&md5);
    rq->body_bytes = 0;
    rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK);
    if (rc != OK) {
        return rc;
    }
    if (ap_should_client_block(r)) {
        buf = apr_palloc(r->pool, RPT_CHUNK);
        while ((n = ap_get_client_block(r, buf, RPT_CHUNK)) > 0) {
            apr_md5_update(&md5, buf, (apr_size_t)n);
            rq->body_bytes += n;
        }
    }
    if (n < 0) {
        /* If an input filter already answered (e.g. 413 for
         * LimitRequestBody) a second response must not follow. */
        return r->eos_sent ? AP_FILTER_ERROR : HTTP_BAD_REQUEST;
    }
    apr_md5_final(digest, &md5);
    ap_bin2hex(digest, sizeof(digest), rq->body_md5);
    return OK;
}

static int
echo_table_line(void *baton, const char *key, const char *val)
{
    rpt_echo_baton *eb = baton;

    apr_brigade_printf(eb->bb, NULL, NULL, "%s%s: %s\n", eb->prefix, key,
                       val);
    return 1;
}

void
rpt_echo_request_head(request_rec *r, const rpt_req *rq,
                  apr_bucket_brigade *bb)
{
    rpt_echo_baton eb;

    apr_brigade_printf(bb, NULL, NULL,
                       "backend=%s\nmethod=%s\nuri=%s\nprotocol=%s\n",
                       rq->name, r->method, r->unparsed_uri, r->protocol);
    eb.bb = bb;
    eb.prefix = "h:";
    apr_table_do(echo_table_line, &eb, r->headers_in, NULL);
}

void
rpt_echo_request_tail(request_rec *r, const rpt_req *rq,
                  apr_bucket_brigade *bb)
{
    rpt_echo_baton eb;

    apr_brigade_printf(bb, NULL, NULL,
                       "body-bytes=%" APR_OFF_T_FMT "\nbody-md5=%s\n",
                       rq->body_bytes, rq->body_md5);
    if (r->trailers_in) {
        eb.bb = bb;
        eb.prefix = "trailer:";
        apr_table_do(echo_table_line, &eb, r->trailers_in, NULL);
    }
}
