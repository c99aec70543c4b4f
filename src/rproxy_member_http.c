/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_member_http.c - HTTP/1.1 to a member, over the member's conn_rec
 * (mod_rproxy's side as the member's HTTP client; "client" everywhere
 * else means the user agent): writing the request to the member's
 * connection and reading the response head (the response body goes to
 * the client in rproxy_relay.c).
 * The health prober uses the same functions for its checks.
 *
 * The response is read with httpd's own machinery where it fits: lines come
 * through the backend conn_rec's input filters (core, and mod_ssl for https
 * members) with ap_rgetline(), and the body is decoded by the HTTP_IN
 * filter on a fake request_rec marked PROXYREQ_RESPONSE, which knows
 * Content-Length, chunked and read-until-close. The status line and field
 * lines are checked by the strict parsers of rproxy_http.c.
 *
 * Bodies move in bounded pieces in both directions. Buckets never cross
 * from one connection's allocator to the other: data is handed over as
 * transient buckets, which the receiving side copies if it must keep them.
 */

#include "rproxy_private.h"
#include "rproxy_http.h"
#include "rproxy_splice.h"

#include "http_protocol.h"
#include "http_core.h"
#include "apr_lib.h"
#include "apr_poll.h"

/* How much of a request body is read before the request is sent, and kept
 * so that the request can be sent again if a pooled connection turns out
 * to be dead. */
#define RP_PREFETCH_MAX     (64 * 1024)
/* How long to wait for a backend's "100 Continue" before sending the body
 * anyway (RFC 9110 section 10.1.1: a client must not wait indefinitely). */
#define RP_CONTINUE_WAIT    apr_time_from_msec(1000)
/* Longest status or field line, and most fields, accepted from a backend. */
#define RP_STATUS_LINE_MAX  8192
#define RP_FIELD_LINE_MAX   16384
#define RP_FIELDS_MAX       256
/* Interim (1xx) responses a member may send before its final one, and the
 * bytes their heads may take in all: a member that floods them gets a 502
 * instead of growing the request's memory without end. */
#define RP_INTERIM_MAX      16
#define RP_INTERIM_BYTES    (64 * 1024)
/* A request head up to this size goes to the kernel in one write that is
 * either taken whole or refused, on a pooled connection whose send buffer
 * is empty: when that write fails, the member got nothing. */
#define RP_HEAD_ATOMIC_MAX  4096

apr_status_t
rp_member_http_prefetch(rp_exchange_t *ex)
{
    request_rec *r = ex->r;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool,
                                                r->connection->bucket_alloc);
    apr_off_t have = 0;
    apr_status_t rv;

    ex->prefetch = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    while (have < RP_PREFETCH_MAX && !ex->prefetch_all) {
        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                            APR_BLOCK_READ, RP_PREFETCH_MAX - have);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        while (!APR_BRIGADE_EMPTY(bb)) {
            apr_bucket *b = APR_BRIGADE_FIRST(bb);

            if (APR_BUCKET_IS_EOS(b)) {
                ex->prefetch_all = 1;
                apr_bucket_delete(b);
                continue;
            }
            apr_bucket_setaside(b, r->pool);
            APR_BUCKET_REMOVE(b);
            APR_BRIGADE_INSERT_TAIL(ex->prefetch, b);
        }
        apr_brigade_length(ex->prefetch, 1, &have);
    }
    return APR_SUCCESS;
}

/* Appends one chunk (or, for a sized body, the bare data) of `data` to the
 * backend brigade. Under a Content-Length, never more than was declared:
 * bytes past it would be read by the member as the start of another
 * request. */
static apr_status_t
frame_body(rp_exchange_t *ex, apr_bucket_brigade *data)
{
    apr_bucket_alloc_t *ba = ex->bin->bucket_alloc;
    apr_off_t len = 0;

    apr_brigade_length(data, 1, &len);
    ex->body_out += len;
    if (!ex->chunked && ex->body_out > ex->body_len) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, ex->r, RPLOGNO(00120)
                      RP_MEMBER_FMT "request body longer than the %"
                      APR_OFF_T_FMT " bytes declared to the member; "
                      "connection dropped", RP_MEMBER_ARGS(ex->m),
                      ex->body_len);
        ex->client_error = HTTP_INTERNAL_SERVER_ERROR;
        return APR_EGENERAL;
    }
    if (len && ex->chunked) {
        char *hdr = apr_psprintf(ex->r->pool, "%" APR_UINT64_T_HEX_FMT "\r\n",
                                 (apr_uint64_t)len);
        APR_BRIGADE_INSERT_TAIL(ex->bin, apr_bucket_immortal_create(
                                    hdr, strlen(hdr), ba));
    }
    rp_brigade_transfer(ex->bin, data);
    if (len && ex->chunked) {
        APR_BRIGADE_INSERT_TAIL(ex->bin,
                                apr_bucket_immortal_create("\r\n", 2, ba));
    }
    return APR_SUCCESS;
}

/* The end of the body: under a Content-Length, exactly the declared bytes
 * must have gone, or the member would wait for (or misread) the rest. */
static apr_status_t
frame_end(rp_exchange_t *ex)
{
    apr_bucket_alloc_t *ba = ex->bin->bucket_alloc;

    if (!ex->chunked && ex->body_out != ex->body_len) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, ex->r, RPLOGNO(00121)
                      RP_MEMBER_FMT "request body ended after %" APR_OFF_T_FMT
                      " of the %" APR_OFF_T_FMT " bytes declared to the "
                      "member; connection dropped", RP_MEMBER_ARGS(ex->m),
                      ex->body_out, ex->body_len);
        ex->client_error = HTTP_INTERNAL_SERVER_ERROR;
        return APR_EGENERAL;
    }
    if (ex->chunked) {
        APR_BRIGADE_INSERT_TAIL(ex->bin,
                                apr_bucket_immortal_create("0\r\n\r\n", 5, ba));
    }
    APR_BRIGADE_INSERT_TAIL(ex->bin, apr_bucket_flush_create(ba));
    return APR_SUCCESS;
}

static apr_status_t
pass_to_member(rp_exchange_t *ex)
{
    apr_status_t rv = ap_pass_brigade(ex->bc->c->output_filters, ex->bin);

    apr_brigade_cleanup(ex->bin);
    return rv;
}

static int
add_header_line(void *vbuf, const char *key, const char *val)
{
    struct iovec **vec = vbuf;

    (*vec)[0].iov_base = (void *)key;
    (*vec)[0].iov_len = strlen(key);
    (*vec)[1].iov_base = ": ";
    (*vec)[1].iov_len = 2;
    (*vec)[2].iov_base = (void *)val;
    (*vec)[2].iov_len = strlen(val);
    (*vec)[3].iov_base = "\r\n";
    (*vec)[3].iov_len = 2;
    *vec += 4;
    return 1;
}

apr_status_t
rp_member_http_send_head(rp_exchange_t *ex)
{
    request_rec *r = ex->r;
    const apr_array_header_t *h = apr_table_elts(ex->headers);
    struct iovec *vec = apr_palloc(r->pool, (h->nelts * 4 + 2)
                                   * sizeof(*vec));
    struct iovec *end = vec;
    apr_size_t len;
    apr_status_t rv;
    char *head;

    end->iov_base = apr_pstrcat(r->pool, r->method, " ", ex->m->base_path,
                                ex->match->path, " HTTP/1.1\r\n", NULL);
    end->iov_len = strlen(end->iov_base);
    end++;
    apr_table_do(add_header_line, &end, ex->headers, NULL);
    end->iov_base = "\r\n";
    end->iov_len = 2;
    end++;
    head = apr_pstrcatv(r->pool, vec, end - vec, &len);
    apr_socket_timeout_set(ex->bc->sock, ex->timeout ? ex->timeout
                                                     : ex->to.idle);
    /* what send_head resets belongs to one connection */
    ex->rp = NULL;      /* the fake request is bound to the old one */
    ex->head_refused = 0;
    ex->body_out = 0;
    ex->interim = 0;
    ex->interim_bytes = 0;
    APR_BRIGADE_INSERT_TAIL(ex->bin, apr_bucket_transient_create(
                                head, len, ex->bin->bucket_alloc));
    /* A request that must not be repeated, on a connection that may have
     * gone stale: its head goes alone first, so that a failed write tells
     * for sure that the member got none of it (and it may go again). */
    if (!ex->prefetch || (!ex->may_repeat && ex->bc->requests > 0
                          && len <= RP_HEAD_ATOMIC_MAX)) {
        APR_BRIGADE_INSERT_TAIL(ex->bin,
                                apr_bucket_flush_create(ex->bin->bucket_alloc));
        if ((rv = pass_to_member(ex)) != APR_SUCCESS) {
            ex->head_refused = len <= RP_HEAD_ATOMIC_MAX;
            return rv;
        }
    }
    if (ex->prefetch) {
        if ((rv = frame_body(ex, ex->prefetch)) != APR_SUCCESS
            || (ex->prefetch_all && (rv = frame_end(ex)) != APR_SUCCESS)) {
            apr_brigade_cleanup(ex->bin);
            return rv;
        }
        if (!ex->prefetch_all) {
            APR_BRIGADE_INSERT_TAIL(ex->bin, apr_bucket_flush_create(
                                        ex->bin->bucket_alloc));
        }
        if ((rv = pass_to_member(ex)) == APR_SUCCESS && ex->prefetch_all) {
            /* the whole body went with the head (no send_body) */
            rp_splice_count(ex->m->pool, RP_ZC_REQUEST, 0,
                            (apr_uint64_t)ex->body_out);
        }
        return rv;
    }
    return APR_SUCCESS;
}

/* The copying way of rp_member_http_send_body(). */
static apr_status_t
send_body_copy(rp_exchange_t *ex)
{
    request_rec *r = ex->r;
    apr_bucket_brigade *bb;
    apr_status_t rv;
    int eos = 0;

    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    while (!eos) {
        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                            APR_BLOCK_READ, RP_IOBUFSIZE);
        ex->body_streamed = 1;
        if (rv != APR_SUCCESS) {
            /* a client that resets or stalls mid-body (mod_reqtimeout):
             * the member's connection goes with the request, so that it
             * never takes what it got for a whole request */
            ex->client_error = ap_map_http_request_error(rv,
                                                         HTTP_BAD_REQUEST);
            ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r, RPLOGNO(00124)
                          RP_MEMBER_FMT "the client's request body broke "
                          "off after %" APR_OFF_T_FMT " bytes (%d); member "
                          "connection dropped", RP_MEMBER_ARGS(ex->m),
                          ex->body_out, ex->client_error);
            return rv;
        }
        eos = !APR_BRIGADE_EMPTY(bb)
              && APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(bb));
        if ((rv = frame_body(ex, bb)) != APR_SUCCESS
            || (eos && (rv = frame_end(ex)) != APR_SUCCESS)) {
            apr_brigade_cleanup(bb);
            apr_brigade_cleanup(ex->bin);
            return rv;
        }
        rv = pass_to_member(ex);
        apr_brigade_cleanup(bb);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* Streams the part of the request body not yet sent: in the kernel when
 * nothing needs to see it (rproxy_splice_request.c), else by copying.
 * When reading from the client fails, the HTTP status it deserves is left
 * in ex->client_error. */
apr_status_t
rp_member_http_send_body(rp_exchange_t *ex)
{
    apr_off_t spliced = 0;
    apr_status_t rv = APR_SUCCESS;

    if (!ex->has_body) {
        return APR_SUCCESS;
    }
    if (!ex->prefetch_all
        && (rv = rp_splice_request_body(ex, &spliced)) == APR_ENOTIMPL) {
        rv = send_body_copy(ex);
    }
    rp_splice_count(ex->m->pool, RP_ZC_REQUEST, (apr_uint64_t)spliced,
                    (apr_uint64_t)(ex->body_out - spliced));
    return rv;
}

apr_status_t
rp_member_http_wait_continue(rp_exchange_t *ex, int *ready)
{
    apr_pollfd_t pfd;
    apr_int32_t n = 0;
    apr_status_t rv;

    memset(&pfd, 0, sizeof(pfd));
    pfd.p = ex->r->pool;
    pfd.desc_type = APR_POLL_SOCKET;
    pfd.desc.s = ex->bc->sock;
    pfd.reqevents = APR_POLLIN;
    rv = apr_poll(&pfd, 1, &n, RP_CONTINUE_WAIT);
    *ready = n > 0;
    return APR_STATUS_IS_TIMEUP(rv) ? APR_SUCCESS : rv;
}

static int
parse_status_line(rp_exchange_t *ex, const char *line, apr_size_t len)
{
    apr_size_t reason;

    if (!rp_http_parse_status(line, len, &ex->minor, &ex->status, &reason)
        || ex->status > 599) {
        return 0;
    }
    ex->reason = reason ? line + reason : NULL;
    return 1;
}

/* Reads the header block into rp->headers_in, keeping repeated fields
 * (Set-Cookie) as separate entries. */
static apr_status_t
read_response_fields(rp_exchange_t *ex, apr_size_t *bytes)
{
    request_rec *rp = ex->rp;
    apr_size_t len, name_len, voff, vlen;
    int count = 0;
    apr_status_t rv;
    char *line;

    for (;;) {
        line = NULL;
        rv = ap_rgetline(&line, RP_FIELD_LINE_MAX, &len, rp, 0, ex->bin);
        apr_brigade_cleanup(ex->bin);
        if (rv != APR_SUCCESS) {
            return APR_STATUS_IS_TIMEUP(rv) ? rv : APR_EINVAL;
        }
        *bytes += len + 2;
        if (len == 0) {
            return APR_SUCCESS;
        }
        if (++count > RP_FIELDS_MAX
            || !rp_http_parse_field(line, len, &name_len, &voff, &vlen)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, ex->r, RPLOGNO(00032)
                          RP_MEMBER_FMT "malformed or too many response "
                          "header fields: %.60s", RP_MEMBER_ARGS(ex->m),
                          ap_escape_logitem(ex->r->pool, line));
            return APR_EINVAL;
        }
        line[name_len] = '\0';
        line[voff + vlen] = '\0';
        apr_table_addn(rp->headers_in, line, line + voff);
    }
}

static request_rec *
fake_response_request(rp_exchange_t *ex)
{
    request_rec *r = ex->r, *rp;
    conn_rec *c = ex->bc->c;
    apr_pool_t *p;

    apr_pool_create(&p, r->pool);
    apr_pool_tag(p, "rproxy_response");
    rp = apr_pcalloc(p, sizeof(*rp));
    rp->pool = p;
    rp->status = HTTP_OK;
    rp->headers_in = apr_table_make(p, 16);
    rp->trailers_in = apr_table_make(p, 2);
    rp->subprocess_env = apr_table_make(p, 2);
    rp->headers_out = apr_table_make(p, 2);
    rp->trailers_out = apr_table_make(p, 2);
    rp->err_headers_out = apr_table_make(p, 2);
    rp->notes = apr_table_make(p, 2);
    rp->server = r->server;
    rp->log = r->log;
    rp->proxyreq = PROXYREQ_RESPONSE;
    rp->request_time = r->request_time;
    rp->connection = c;
    rp->output_filters = rp->proto_output_filters = c->output_filters;
    rp->input_filters = rp->proto_input_filters = c->input_filters;
    rp->useragent_ip = c->client_ip;
    rp->useragent_addr = c->client_addr;
    rp->request_config = ap_create_request_config(p);
    rp->per_dir_config = r->server->lookup_defaults;
    return rp;
}

/* Does a comma-separated header value carry token? */
static int
has_token(request_rec *r, const char *value, const char *token)
{
    return value && ap_find_token(r->pool, value, token);
}

static int
same_value(void *vfirst, const char *key, const char *val)
{
    const char **first = vfirst;

    (void)key;
    if (!*first) {
        *first = val;
        return 1;
    }
    return strcmp(*first, val) == 0;
}

static int
count_field(void *vn, const char *key, const char *val)
{
    (void)key;
    (void)val;
    ++*(int *)vn;
    return 1;
}

/* "chunked", whatever its case, with optional whitespace around it, and
 * no other transfer coding. */
static int
is_chunked_only(const char *te)
{
    while (*te == ' ' || *te == '\t') {
        te++;
    }
    if (strncasecmp(te, "chunked", 7)) {
        return 0;
    }
    for (te += 7; *te == ' ' || *te == '\t'; te++) {
    }
    return *te == '\0';
}

/* Framing and reuse, decided from the head just read. */
static apr_status_t
check_response_framing(rp_exchange_t *ex)
{
    apr_table_t *h = ex->rp->headers_in;
    const char *te = apr_table_get(h, "Transfer-Encoding");
    const char *cl = apr_table_get(h, "Content-Length");
    const char *conn = apr_table_get(h, "Connection");
    const char *ka = apr_table_get(h, "Keep-Alive");
    const char *first = NULL;
    apr_off_t len;

    ex->close_delimited = 0;
    /* RFC 9112 6.3: differing Content-Length fields make the message
     * unreadable; identical ones may be taken as one */
    if (cl && !apr_table_do(same_value, &first, h, "Content-Length", NULL)) {
        return APR_EINVAL;
    }

    ex->keepalive = ex->minor == 1 ? !has_token(ex->r, conn, "close")
                                   : has_token(ex->r, conn, "keep-alive");
    if (te) {
        /* Only chunked alone: the relay takes chunked off, and another
         * coding (gzip, chunked; or gzip to the close) would reach the
         * client as bytes nothing says are encoded - refused, as nginx
         * and HAProxy do (and it is one more smuggling shape fewer) */
        int fields = 0;

        apr_table_do(count_field, &fields, h, "Transfer-Encoding", NULL);
        if (fields != 1 || !is_chunked_only(te)) {
            return APR_EINVAL;
        }
        /* RFC 9112 6.3: Transfer-Encoding overrides Content-Length, and
         * such a message must not leave the connection reusable */
        if (cl) {
            apr_table_unset(h, "Content-Length");
            ex->keepalive = 0;
        }
        if (ex->minor == 0) {
            ex->keepalive = 0;
        }
    }
    else if (cl && !ap_parse_strict_length(&len, cl)) {
        return APR_EINVAL;
    }
    else if (!cl && !ap_is_HTTP_INFO(ex->status) && ex->status != 204
             && ex->status != 304 && !ex->r->header_only) {
        ex->keepalive = 0;      /* the body ends when the backend closes */
        ex->close_delimited = 1;
    }
    ex->bc->backend_ka = 0;
    if (ka && (ka = ap_strcasestr(ka, "timeout=")) != NULL) {
        apr_int64_t secs = apr_atoi64(ka + 8);

        if (secs > 0) {
            ex->bc->backend_ka = apr_time_from_sec(secs);
        }
    }
    return APR_SUCCESS;
}

/* Reads one response head. *got_bytes tells whether anything at all came
 * back, which decides whether a request may be sent again. */
apr_status_t
rp_member_http_read_head(rp_exchange_t *ex, int *got_bytes)
{
    char *line = NULL;
    apr_size_t len = 0, bytes = 0;
    apr_status_t rv;

    *got_bytes = 0;
    if (!ex->rp) {
        ex->rp = fake_response_request(ex);
    }
    apr_table_clear(ex->rp->headers_in);
    apr_socket_timeout_set(ex->bc->sock, ex->timeout ? ex->timeout
                                                     : ex->to.header);
    rv = ap_rgetline(&line, RP_STATUS_LINE_MAX, &len, ex->rp, 0, ex->bin);
    apr_brigade_cleanup(ex->bin);
    if (len > 0 && !ex->first_byte_at) {
        ex->first_byte_at = apr_time_now();
    }
    if (rv != APR_SUCCESS) {
        *got_bytes = len > 0;
        return rv;
    }
    *got_bytes = 1;
    if (!parse_status_line(ex, line, len)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, ex->r, RPLOGNO(00030)
                      RP_MEMBER_FMT "malformed status line: %.80s",
                      RP_MEMBER_ARGS(ex->m), ap_escape_logitem(ex->r->pool,
                                                               line));
        return APR_EINVAL;
    }
    bytes = len + 2;
    if ((rv = read_response_fields(ex, &bytes)) != APR_SUCCESS) {
        return rv;
    }
    if (ap_is_HTTP_INFO(ex->status)
        && ex->status != HTTP_SWITCHING_PROTOCOLS
        && (++ex->interim > RP_INTERIM_MAX
            || (ex->interim_bytes += bytes) > RP_INTERIM_BYTES)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, ex->r, RPLOGNO(00122)
                      RP_MEMBER_FMT "more than %d interim responses or %d "
                      "bytes of them", RP_MEMBER_ARGS(ex->m), RP_INTERIM_MAX,
                      RP_INTERIM_BYTES);
        return APR_EINVAL;
    }
    if (check_response_framing(ex) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, ex->r, RPLOGNO(00031)
                      RP_MEMBER_FMT "malformed response header block",
                      RP_MEMBER_ARGS(ex->m));
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}
