/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * mod_rptest_backend -- TEST-ONLY "echo backend" for the mod_rproxy test
 * suite.  It is never built into or shipped with mod_rproxy; the suite loads
 * it into the backend httpd instances that the proxy under test forwards to,
 * so that tests can see exactly what reached the backend and can make the
 * backend misbehave on demand.
 *
 * Files (one module, mod_rptest_backend.so; rptest_backend.h lists them):
 * this one has the directives, the query parsing and the handler;
 * rptest_response.c the response head, body read and echo; rptest_stream.c
 * the streamed pattern bodies and the upgraded tunnel.
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

#include "apr_strings.h"
#include "apr_lib.h"
#include "apr_time.h"

#include <errno.h>

#include "rptest_backend.h"

module AP_MODULE_DECLARE_DATA rptest_backend_module;

APLOG_USE_MODULE(rptest_backend);

typedef struct {
    const char *name;
    int delay_ms;               /* -1: not set here */
} rpt_dir_conf;

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
        return rpt_send_text(r, rq, HTTP_BAD_REQUEST,
                             apr_pstrcat(r->pool, "bad query key: ", bad,
                                         "\n", NULL));
    }
    if (rq->close) {
        /* Must be set before the header filter runs ap_set_keepalive(). */
        r->connection->keepalive = AP_CONN_CLOSE;
    }
    proto = apr_table_get(r->headers_in, "Upgrade");
    if (rq->upgrade && proto) {
        return rpt_do_upgrade(r, rq, proto);
    }
    if (rq->reject) {
        /* Not touching the body means httpd never sends 100 Continue. */
        if (rq->sleep_ms) {
            apr_sleep(apr_time_from_msec(rq->sleep_ms));
        }
        return rpt_send_text(r, rq, rq->reject, "rejected\n");
    }

    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    if (rq->size < 0 && !rq->count) {
        /* Snapshot the headers before the body read can add to them. */
        rpt_echo_request_head(r, rq, bb);
    }
    if ((rc = rpt_read_body(r, rq)) != OK) {
        apr_brigade_cleanup(bb);
        return rc;
    }
    if (rq->sleep_ms) {
        apr_sleep(apr_time_from_msec(rq->sleep_ms));
    }
    rpt_start_response(r, rq, rq->status ? rq->status : HTTP_OK);
    if (rq->size >= 0) {
        return rpt_send_pattern(r, rq);
    }
    if (rq->count) {
        apr_brigade_printf(bb, NULL, NULL, "backend=%s\n", rq->name);
    }
    else {
        rpt_echo_request_tail(r, rq, bb);
    }
    if (rpt_no_body(r)) {
        apr_brigade_cleanup(bb);
    }
    return rpt_finish(r, bb);
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
        rpt_set_identity(r, rq, r->err_headers_out);
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
