/*
 * mod_rptest_backend -- TEST-ONLY "echo backend" for the mod_rproxy test
 * suite.  It is never built into or shipped with mod_rproxy; the suite loads
 * it into the backend httpd instances that the proxy under test forwards to,
 * so that tests can see exactly what reached the backend and can make the
 * backend misbehave on demand.
 *
 * Configuration:
 *   SetHandler rptest
 *   RPTestName NAME        identity of this backend (per-dir, child wins)
 *   RPTestDelay MS         default for sleep= below (per-dir): a location
 *                          that is always slow, e.g. one pool member whose
 *                          URL path points there
 *
 * Every response (including the 101 and httpd's own error pages for these
 * requests, e.g. a 413 from LimitRequestBody) carries
 *   X-Backend: NAME
 *   X-Backend-Conn: <pid>-<n>   (one value per backend TCP connection)
 * <n> is a per-process connection serial number rather than c->id: under
 * mpm_event c->id follows the worker thread, so it changes between
 * keep-alive requests and is reused by unrelated connections.
 *
 * The handler serves any path and is driven by the query string.  Keys may
 * repeat; values are percent-decoded (use %20 for a space, '+' is literal):
 *   (none)          200 text/plain echo: backend=, method=, uri=, protocol=,
 *                   h:<Name>: <value> per request header in arrival order,
 *                   body-bytes=, body-md5= of the (streamed) request body,
 *                   trailer:<Name>: <value> per request trailer
 *   status=NNN      response status (200-599); 204/304/HEAD get no body
 *   header=N:V      add response header N with value V (repeatable; also
 *                   works for Server, Date and Content-Type)
 *   size=N          body is N bytes of the 64-byte pattern [0-9a-zA-Z+/]
 *   chunked=0|1     with size=: 0 sends Content-Length, 1 (default) chunks
 *   sleep=MS        wait MS milliseconds before sending anything
 *   sleepbody=MS    with size=: send headers and first 64 KiB, then wait
 *   reject=NNN      answer NNN with "rejected\n" without reading the body
 *   upgrade=1       with a request Upgrade header: raw 101, then push
 *                   "hello-from-NAME\n" and echo every read back as
 *                   "echo:<bytes>" until EOF or "quit" is seen
 *   close=1         close the connection after this response
 *   count=1         body is only "backend=NAME\n"
 * A malformed value for a known key yields a 400 naming the key.
 *
 * Note for test configs: httpd's default LimitRequestBody is 1 GiB, so a
 * backend taking larger uploads needs "LimitRequestBody 0"; the upgraded
 * tunnel is bounded only by the backend's Timeout.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_request.h"
#include "http_log.h"
#include "util_filter.h"

#include "apr_strings.h"
#include "apr_lib.h"
#include "apr_md5.h"
#include "apr_time.h"
#include "apr_atomic.h"

#include <errno.h>
#include <unistd.h>

module AP_MODULE_DECLARE_DATA rptest_backend_module;

APLOG_USE_MODULE(rptest_backend);

/* Size of each body read and each generated body chunk. */
#define RPT_CHUNK (64 * 1024)
/* Size of each read in upgraded (tunnel) mode. */
#define RPT_TUNNEL_READ 8192
/* Upper bound for sleep=/sleepbody= so a typo cannot wedge a test run. */
#define RPT_MAX_SLEEP_MS 600000

static const char rpt_pattern[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/";

typedef struct {
    const char *name;
    int delay_ms;               /* -1: not set here */
} rpt_dir_conf;

/* Everything the query string asked for, plus what we learnt about the
 * request body. */
typedef struct {
    const char *name;
    int status;                  /* 0: default (200) */
    int reject;                  /* 0: do not reject */
    apr_array_header_t *headers; /* "Name:Value" strings from header= */
    apr_off_t size;              /* -1: echo body instead of pattern */
    int chunked;
    apr_int64_t sleep_ms;
    apr_int64_t sleepbody_ms;
    int upgrade;
    int close;
    int count;
    apr_off_t body_bytes;
    char body_md5[APR_MD5_DIGESTSIZE * 2 + 1];
} rpt_req;

/* Baton for apr_table_do when echoing header/trailer tables. */
typedef struct {
    apr_bucket_brigade *bb;
    const char *prefix;
} rpt_echo_baton;

static int
parse_num(const char *val, apr_int64_t min, apr_int64_t max,
          apr_int64_t *out)
{
    char *end;
    apr_int64_t n;

    /* apr_strtoi64 accepts signs and leading blanks; tests should not. */
    if (!apr_isdigit(*val)) {
        return 0;
    }
    errno = 0;
    n = apr_strtoi64(val, &end, 10);
    if (errno || *end || n < min || n > max) {
        return 0;
    }
    *out = n;
    return 1;
}

static int
parse_size(const char *val, apr_off_t *out)
{
    char *end;
    apr_off_t n;

    if (!apr_isdigit(*val)) {
        return 0;
    }
    if (apr_strtoff(&n, val, &end, 10) != APR_SUCCESS || *end || n < 0) {
        return 0;
    }
    *out = n;
    return 1;
}

/* A header= value must be "token:value" without CR/LF, otherwise we would
 * be testing httpd's header sanitising rather than the proxy. */
static int
valid_header_spec(const char *spec)
{
    const char *colon = strchr(spec, ':');
    const char *p;

    if (!colon || colon == spec) {
        return 0;
    }
    for (p = spec; p < colon; p++) {
        if (!apr_isgraph(*p)) {
            return 0;
        }
    }
    return strpbrk(colon, "\r\n") == NULL;
}

/* Integer-valued query keys: where each one is stored and what range it
 * accepts.  Statuses below 200 are refused because httpd cannot send an
 * interim response as the final one. */
static const struct {
    const char *key;
    apr_size_t offset;
    int min;
    int max;
} rpt_int_keys[] = {
    { "status",  APR_OFFSETOF(rpt_req, status),  200, 599 },
    { "reject",  APR_OFFSETOF(rpt_req, reject),  200, 599 },
    { "chunked", APR_OFFSETOF(rpt_req, chunked), 0,   1 },
    { "upgrade", APR_OFFSETOF(rpt_req, upgrade), 0,   1 },
    { "close",   APR_OFFSETOF(rpt_req, close),   0,   1 },
    { "count",   APR_OFFSETOF(rpt_req, count),   0,   1 }
};

/* Returns 0 if the value of a known key is malformed. */
static int
apply_key(rpt_req *rq, const char *key, const char *val)
{
    apr_int64_t n;
    apr_size_t i;

    if (!strcmp(key, "header")) {
        if (!valid_header_spec(val)) {
            return 0;
        }
        APR_ARRAY_PUSH(rq->headers, const char *) = val;
        return 1;
    }
    if (!strcmp(key, "size")) {
        return parse_size(val, &rq->size);
    }
    if (!strcmp(key, "sleep")) {
        return parse_num(val, 0, RPT_MAX_SLEEP_MS, &rq->sleep_ms);
    }
    if (!strcmp(key, "sleepbody")) {
        return parse_num(val, 0, RPT_MAX_SLEEP_MS, &rq->sleepbody_ms);
    }
    for (i = 0; i < sizeof(rpt_int_keys) / sizeof(rpt_int_keys[0]); i++) {
        if (!strcmp(key, rpt_int_keys[i].key)) {
            if (!parse_num(val, rpt_int_keys[i].min, rpt_int_keys[i].max,
                           &n)) {
                return 0;
            }
            *(int *)((char *)rq + rpt_int_keys[i].offset) = (int)n;
            return 1;
        }
    }
    /* Unknown keys are ignored so tests can add cache-busting params. */
    return 1;
}

/* Returns NULL on success, or the name of the first malformed key. */
static const char *
parse_args(request_rec *r, rpt_req *rq)
{
    char *args, *tok, *last, *val;

    if (!r->args) {
        return NULL;
    }
    args = apr_pstrdup(r->pool, r->args);
    for (tok = apr_strtok(args, "&", &last); tok;
         tok = apr_strtok(NULL, "&", &last)) {
        val = strchr(tok, '=');
        if (val) {
            *val++ = '\0';
        }
        else {
            /* Point at the terminator: writable, unlike a "" literal. */
            val = tok + strlen(tok);
        }
        /* The return value only flags %2F / bad escapes; the decoded text
         * is still what the test wrote, so use it regardless. */
        (void)ap_unescape_url(tok);
        (void)ap_unescape_url(val);
        if (!apply_key(rq, tok, val)) {
            return tok;
        }
    }
    return NULL;
}

/* Serial number source for connection identities within this process. */
static apr_uint32_t rpt_conn_serial;

/* Identity of the TCP connection, assigned on its first request and kept
 * in c->notes so every later request on it reports the same value. */
static const char *
conn_identity(conn_rec *c)
{
    const char *id = apr_table_get(c->notes, "rptest-conn-id");

    if (!id) {
        unsigned long n = apr_atomic_inc32(&rpt_conn_serial) + 1;

        id = apr_psprintf(c->pool, "%ld-%lu", (long)getpid(), n);
        apr_table_setn(c->notes, "rptest-conn-id", id);
    }
    return id;
}

static void
set_identity(request_rec *r, const rpt_req *rq, apr_table_t *t)
{
    apr_table_setn(t, "X-Backend", rq->name);
    apr_table_setn(t, "X-Backend-Conn", conn_identity(r->connection));
}

/* Set status, content type and all response headers.  For errors we
 * generate, err_headers_out is used so the headers survive any error
 * document processing. */
static void
start_response(request_rec *r, const rpt_req *rq, int status)
{
    apr_table_t *t;
    int i;

    r->status = status;
    t = status >= 400 ? r->err_headers_out : r->headers_out;
    ap_set_content_type(r, "text/plain");
    set_identity(r, rq, t);
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
         * headers_done() before httpd may discard the request body. */
        if (!strcasecmp(name, "Server") || !strcasecmp(name, "Date")) {
            r->proxyreq = PROXYREQ_RESPONSE;
        }
        apr_table_add(t, name, value);
    }
}

static int
no_body(const request_rec *r)
{
    return r->header_only || r->status == HTTP_NO_CONTENT
           || r->status == HTTP_NOT_MODIFIED;
}

/* Called once the response head has gone through the header filter.  A
 * lingering PROXYREQ_RESPONSE would make httpd's body reader treat the
 * request as a response (read-until-close) when it discards the body. */
static void
headers_done(request_rec *r)
{
    if (r->proxyreq == PROXYREQ_RESPONSE) {
        r->proxyreq = PROXYREQ_NONE;
    }
}

static int
finish(request_rec *r, apr_bucket_brigade *bb)
{
    apr_status_t rv;
    apr_bucket *eos = apr_bucket_eos_create(r->connection->bucket_alloc);

    APR_BRIGADE_INSERT_TAIL(bb, eos);
    rv = ap_pass_brigade(r->output_filters, bb);
    apr_brigade_cleanup(bb);
    headers_done(r);
    /* The filters have already dealt with the failure (usually the client
     * went away); AP_FILTER_ERROR stops httpd adding an error page. */
    return rv == APR_SUCCESS ? OK : AP_FILTER_ERROR;
}

static int
send_text(request_rec *r, const rpt_req *rq, int status, const char *text)
{
    apr_bucket_brigade *bb = apr_brigade_create(r->pool,
                                                r->connection->bucket_alloc);

    start_response(r, rq, status);
    if (!no_body(r)) {
        apr_brigade_puts(bb, NULL, NULL, text);
    }
    return finish(r, bb);
}

/* Read and hash the whole request body in bounded chunks, so multi-GiB
 * uploads through the proxy can be verified without buffering them. */
static int
read_body(request_rec *r, rpt_req *rq)
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

static void
echo_request_head(request_rec *r, const rpt_req *rq,
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

static void
echo_request_tail(request_rec *r, const rpt_req *rq,
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

/* Stream size= bytes of the pattern in RPT_CHUNK pieces, passing each one
 * down immediately so memory stays bounded whatever the size. */
static int
send_pattern(request_rec *r, const rpt_req *rq)
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
    if (no_body(r)) {
        return finish(r, bb);
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
            headers_done(r);
            return AP_FILTER_ERROR;
        }
        if (first && rq->sleepbody_ms) {
            apr_sleep(apr_time_from_msec(rq->sleepbody_ms));
        }
        first = 0;
    } while (left > 0);
    return finish(r, bb);
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

static int
do_upgrade(request_rec *r, const rpt_req *rq, const char *proto)
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
                        proto, rq->name, conn_identity(c));
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

static int
rpt_handler(request_rec *r)
{
    rpt_dir_conf *conf;
    rpt_req *rq;
    apr_bucket_brigade *bb;
    const char *bad, *proto;
    int rc;

    if (!r->handler || strcmp(r->handler, "rptest")) {
        return DECLINED;
    }
    conf = ap_get_module_config(r->per_dir_config, &rptest_backend_module);
    rq = apr_pcalloc(r->pool, sizeof(*rq));
    rq->name = conf->name ? conf->name : "unnamed";
    rq->headers = apr_array_make(r->pool, 4, sizeof(const char *));
    rq->size = -1;
    rq->chunked = 1;
    rq->sleep_ms = conf->delay_ms > 0 ? conf->delay_ms : 0;
    /* Lets rpt_insert_error_filter() find our identity. */
    ap_set_module_config(r->request_config, &rptest_backend_module, rq);

    if ((bad = parse_args(r, rq)) != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "rptest %s: bad value for query key '%s'", rq->name,
                      bad);
        apr_array_clear(rq->headers);
        return send_text(r, rq, HTTP_BAD_REQUEST,
                         apr_pstrcat(r->pool, "bad query key: ", bad, "\n",
                                     NULL));
    }
    if (rq->close) {
        /* Must be set before the header filter runs ap_set_keepalive(). */
        r->connection->keepalive = AP_CONN_CLOSE;
    }
    proto = apr_table_get(r->headers_in, "Upgrade");
    if (rq->upgrade && proto) {
        return do_upgrade(r, rq, proto);
    }
    if (rq->reject) {
        /* Not touching the body means httpd never sends 100 Continue. */
        if (rq->sleep_ms) {
            apr_sleep(apr_time_from_msec(rq->sleep_ms));
        }
        return send_text(r, rq, rq->reject, "rejected\n");
    }

    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    if (rq->size < 0 && !rq->count) {
        /* Snapshot the headers before the body read can add to them. */
        echo_request_head(r, rq, bb);
    }
    if ((rc = read_body(r, rq)) != OK) {
        apr_brigade_cleanup(bb);
        return rc;
    }
    if (rq->sleep_ms) {
        apr_sleep(apr_time_from_msec(rq->sleep_ms));
    }
    start_response(r, rq, rq->status ? rq->status : HTTP_OK);
    if (rq->size >= 0) {
        return send_pattern(r, rq);
    }
    if (rq->count) {
        apr_brigade_printf(bb, NULL, NULL, "backend=%s\n", rq->name);
    }
    else {
        echo_request_tail(r, rq, bb);
    }
    if (no_body(r)) {
        apr_brigade_cleanup(bb);
    }
    return finish(r, bb);
}

/* Error responses httpd builds for our requests (413 from LimitRequestBody,
 * 400 for a broken chunked body, error codes we return) must name the
 * backend too.  Setting err_headers_out here, right before httpd builds the
 * canned response, is the only reliable place: when an input filter fails
 * mid-body, httpd has already folded err_headers_out into headers_out and
 * then drops headers_out for the error page. */
static void
rpt_insert_error_filter(request_rec *r)
{
    const rpt_req *rq = ap_get_module_config(r->request_config,
                                             &rptest_backend_module);

    if (rq) {
        set_identity(r, rq, r->err_headers_out);
    }
}

static void *
rpt_create_dir_conf(apr_pool_t *p, char *dir)
{
    rpt_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    (void)dir;
    conf->delay_ms = -1;
    return conf;
}

static void *
rpt_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    rpt_dir_conf *base = basev, *add = addv;
    rpt_dir_conf *conf = apr_palloc(p, sizeof(*conf));

    conf->name = add->name ? add->name : base->name;
    conf->delay_ms = add->delay_ms >= 0 ? add->delay_ms : base->delay_ms;
    return conf;
}

static const char *
rpt_cmd_delay(cmd_parms *cmd, void *d, const char *arg)
{
    rpt_dir_conf *conf = d;
    apr_int64_t n;

    if (!parse_num(arg, 0, RPT_MAX_SLEEP_MS, &n)) {
        return apr_psprintf(cmd->pool, "RPTestDelay %s: expects 0..%d "
                            "milliseconds", arg, RPT_MAX_SLEEP_MS);
    }
    conf->delay_ms = (int)n;
    return NULL;
}

static const command_rec rpt_cmds[] = {
    AP_INIT_TAKE1("RPTestName", ap_set_string_slot,
                  (void *)APR_OFFSETOF(rpt_dir_conf, name),
                  RSRC_CONF | ACCESS_CONF,
                  "Identity reported by the rptest echo backend"),
    AP_INIT_TAKE1("RPTestDelay", rpt_cmd_delay, NULL, RSRC_CONF | ACCESS_CONF,
                  "Milliseconds to wait before answering (sleep= default)"),
    {NULL}
};

static void
rpt_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(rpt_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(rpt_insert_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA rptest_backend_module = {
    STANDARD20_MODULE_STUFF,
    rpt_create_dir_conf,
    rpt_merge_dir_conf,
    NULL,
    NULL,
    rpt_cmds,
    rpt_register_hooks,
#if AP_MODULE_MAGIC_AT_LEAST(20120211, 70)
    /* Spelled out so -Wextra stays quiet on httpd >= 2.4.30. */
    AP_MODULE_FLAG_NONE
#endif
};
