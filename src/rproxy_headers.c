/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_headers.c - header translation in both directions.
 *
 * Request: hop-by-hop headers and every header named in Connection are
 * dropped first; only then does the proxy add its own Host, framing and
 * X-Forwarded-* / Forwarded headers, so a client cannot strip those by
 * naming them in Connection. The forwarding headers a client sends are
 * kept only when its connection comes from an RProxyTrustedProxies
 * address: anyone else could claim any address, host or scheme. Before
 * anything is written, rp_headers_check() refuses a request line or header
 * that another module filled with control characters.
 *
 * Response: the same hop-by-hop rule, then the headers that identify the
 * backend (RProxyHideHeader plus a built-in list) are hidden, and
 * Location, Content-Location, Refresh and Set-Cookie that name a member are
 * rewritten to the public URL, so that the backends stay masked.
 */

#include "rproxy_private.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_ssl.h"
#include "apr_lib.h"

static const char *const hop_by_hop[] = {
    "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
    "Transfer-Encoding", "Upgrade", "Proxy-Authorization",
    "Proxy-Authenticate", NULL
};

/* Headers the proxy sets itself on requests. */
static const char *const request_own[] = {
    "Host", "Content-Length", "Expect", NULL
};

/* Headers httpd sets itself on responses. */
static const char *const response_own[] = {
    "Date", "Server", "Content-Length", "Content-Type", NULL
};

/* Headers that describe the client or the original request as an earlier
 * proxy saw it, and that applications trust for that (client address
 * allow-lists, absolute URLs in password-reset mails, https redirects):
 * besides every X-Forwarded-*, the ones below. Kept from trusted peers
 * only (docs/security.md "Forwarding headers" lists them). */
static const char *const forwarding[] = {
    "Forwarded", "X-Real-IP", "True-Client-IP", "X-Client-IP", "Client-IP",
    "X-Cluster-Client-IP", "X-Original-Forwarded-For", "CF-Connecting-IP",
    "Fastly-Client-IP", "Front-End-Https", "X-Url-Scheme", "X-Original-URL",
    "X-Rewrite-URL", "X-Original-Host", NULL
};

static const char *const hidden_by_default[] = {
    "X-Powered-By", "X-AspNet-Version", "X-AspNetMvc-Version", "X-Runtime",
    "X-Backend-Server", "X-Served-By", NULL
};

static int
in_list(const char *const *list, const char *name)
{
    for (; *list; list++) {
        if (!strcasecmp(*list, name)) {
            return 1;
        }
    }
    return 0;
}

static int
in_array(const apr_array_header_t *arr, const char *name)
{
    int i;

    for (i = 0; arr && i < arr->nelts; i++) {
        if (!strcasecmp(APR_ARRAY_IDX(arr, i, const char *), name)) {
            return 1;
        }
    }
    return 0;
}

/* Is name one of the tokens of a Connection header value? */
static int
named_in_connection(apr_pool_t *p, const char *connection, const char *name)
{
    return connection && ap_find_token(p, connection, name);
}

/* The Host header for the backend; for_sni drops the port. */
const char *
rp_headers_host(rp_exchange_t *ex, int for_sni)
{
    request_rec *r = ex->r;
    rproxy_member_t *m = ex->m;
    const char *host;

    if (ex->dconf->preserve_host == 1 && r->hostname) {
        if (for_sni) {
            return r->hostname;
        }
        host = apr_table_get(r->headers_in, "Host");
        return host ? host : r->hostname;
    }
    if (for_sni) {
        return m->host;
    }
    if (m->port == (m->is_tls ? 443 : 80)) {
        return ap_strchr_c(m->host, ':')
               ? apr_pstrcat(r->pool, "[", m->host, "]", NULL) : m->host;
    }
    return m->hostport;
}

static int
is_forwarding(const char *name)
{
    return !strncasecmp(name, "X-Forwarded-", 12) || in_list(forwarding, name);
}

/* Is the connection's peer (not r->useragent_ip, which mod_remoteip may
 * have taken from a header) one of RProxyTrustedProxies? */
static int
peer_trusted(rp_exchange_t *ex)
{
    const apr_array_header_t *t = ex->dconf->trusted;
    apr_sockaddr_t *peer = ex->r->connection->client_addr;
    int i;

    for (i = 0; t && peer && i < t->nelts; i++) {
        apr_ipsubnet_t *sub = APR_ARRAY_IDX(t, i, apr_ipsubnet_t *);

        if (sub && apr_ipsubnet_test(sub, peer)) {
            return 1;
        }
    }
    return 0;
}

typedef struct {
    rp_exchange_t *ex;
    const char *connection;
    int trusted;
} copy_ctx_t;

static int
copy_request_header(void *vctx, const char *key, const char *val)
{
    copy_ctx_t *ctx = vctx;
    request_rec *r = ctx->ex->r;

    if (in_list(hop_by_hop, key) || in_list(request_own, key)
        || named_in_connection(r->pool, ctx->connection, key)
        || (!ctx->trusted && is_forwarding(key))) {
        return 1;
    }
    apr_table_addn(ctx->ex->headers, key, val);
    return 1;
}

/* RFC 7239 section 4: a value is a token, or else a quoted-string in
 * which '"' and '\' are escaped. */
static const char *
fwd_value(apr_pool_t *p, const char *v)
{
    const char *s;
    char *out, *d;

    if (*v && !*ap_scan_http_token(v)) {
        return v;
    }
    d = out = apr_palloc(p, 2 * strlen(v) + 3);
    *d++ = '"';
    for (s = v; *s; s++) {
        if (*s == '"' || *s == '\\') {
            *d++ = '\\';
        }
        *d++ = *s;
    }
    *d++ = '"';
    *d = '\0';
    return out;
}

/* The chain header h with elem appended; every line the client sent (a
 * trusted one: the others were dropped) is kept, in order. */
static void
append_chain(rp_exchange_t *ex, const char *h, const char *elem)
{
    const char *prev = apr_table_getm(ex->r->pool, ex->headers, h);

    apr_table_setn(ex->headers, h, prev ? apr_pstrcat(ex->r->pool, prev,
                                                      ", ", elem, NULL)
                                        : elem);
}

/* Each mode adds its own headers: x-forwarded appends the client to
 * X-Forwarded-For and sets X-Forwarded-Host/-Proto (a trusted peer's
 * values describe the original request better than ours and are kept),
 * rfc7239 appends to Forwarded, none adds nothing. What an untrusted
 * client sent of them is gone already (copy_request_header). */
static void
add_forwarded(rp_exchange_t *ex, int trusted)
{
    request_rec *r = ex->r;
    int mode = ex->dconf->forwarded == RP_FWD_UNSET ? RP_FWD_XFF
                                                     : ex->dconf->forwarded;
    const char *proto = ap_ssl_conn_is_ssl(r->connection) ? "https" : "http";
    const char *host = apr_table_get(r->headers_in, "Host");
    const char *ip = r->useragent_ip && *r->useragent_ip ? r->useragent_ip
                                                         : "unknown";

    if (mode & RP_FWD_XFF) {
        append_chain(ex, "X-Forwarded-For", ip);
        if (!trusted || !apr_table_get(ex->headers, "X-Forwarded-Host")) {
            if (host) {
                apr_table_setn(ex->headers, "X-Forwarded-Host", host);
            }
            else {
                apr_table_unset(ex->headers, "X-Forwarded-Host");
            }
        }
        if (!trusted || !apr_table_get(ex->headers, "X-Forwarded-Proto")) {
            apr_table_setn(ex->headers, "X-Forwarded-Proto", proto);
        }
    }
    if (mode & RP_FWD_RFC7239) {
        /* section 6: an IPv6 node is bracketed, hence quoted */
        const char *node = ap_strchr_c(ip, ':')
                           ? apr_pstrcat(r->pool, "[", ip, "]", NULL) : ip;

        append_chain(ex, "Forwarded", apr_pstrcat(
                         r->pool, "for=", fwd_value(r->pool, node),
                         ";proto=", proto, host ? ";host=" : NULL,
                         host ? fwd_value(r->pool, host) : NULL, NULL));
    }
}

void
rp_headers_request(rp_exchange_t *ex)
{
    request_rec *r = ex->r;
    copy_ctx_t ctx;

    ex->headers = apr_table_make(r->pool,
                                 apr_table_elts(r->headers_in)->nelts + 8);
    ctx.ex = ex;
    ctx.connection = apr_table_get(r->headers_in, "Connection");
    ctx.trusted = peer_trusted(ex);
    apr_table_do(copy_request_header, &ctx, r->headers_in, NULL);
    /* set per try: Host depends on the member */
    apr_table_setn(ex->headers, "Host", "");
    /* the framing decide_framing() decided (rproxy_forward.c) */
    if (ex->has_body) {
        if (ex->chunked) {
            apr_table_setn(ex->headers, "Transfer-Encoding", "chunked");
        }
        else {
            apr_table_setn(ex->headers, "Content-Length",
                           apr_off_t_toa(r->pool, ex->body_len));
        }
    }
    else if (apr_table_get(r->headers_in, "Content-Length")) {
        /* an empty body stays explicitly empty (a POST with no body) */
        apr_table_setn(ex->headers, "Content-Length", "0");
    }
    if (ex->expect_100) {
        apr_table_setn(ex->headers, "Expect", "100-continue");
    }
    if (ex->upgrade) {
        apr_table_setn(ex->headers, "Connection", "Upgrade");
        apr_table_setn(ex->headers, "Upgrade", ex->upgrade);
    }
    else {
        /* asking for keep-alive explicitly makes httpd-like backends
         * announce their Keep-Alive timeout, which the pool honours */
        apr_table_setn(ex->headers, "Connection",
                       ex->match->route->pool->to.ka_idle ? "keep-alive"
                                                          : "close");
    }
    add_forwarded(ex, ctx.trusted);
    rp_request_id_apply(ex, ctx.trusted);
}

/* --- what may be written ----------------------------------------------- */

/* Did the client's request line carry byte c percent-encoded? Then a
 * module decoded the client's own bytes into it (mod_rewrite backrefs, an
 * expression's unescape, a script): the request is bad, 400. Otherwise
 * only the configuration can have made it, 500. r->the_request survives
 * internal redirects. */
static int
client_sent_encoded(const request_rec *r, unsigned char c)
{
    const char *s = r->the_request;

    while (s && (s = ap_strchr_c(s, '%')) != NULL) {
        if (apr_isxdigit(s[1]) && apr_isxdigit(s[2])) {
            char hex[3] = { s[1], s[2], '\0' };

            if (strtol(hex, NULL, 16) == c) {
                return 1;
            }
        }
        s++;
    }
    return 0;
}

/* Logs why what was to be written is refused; returns the status. */
static int
refuse_send(rp_exchange_t *ex, const char *what, const char *problem,
            const char *s, const char *at)
{
    request_rec *r = ex->r;
    unsigned char c = (unsigned char)*at;
    const char *pool = ex->match->route->pool->name;
    const char *shown = ap_escape_logitem(r->pool,
                                          apr_pstrndup(r->pool, s, 64));

    if (!client_sent_encoded(r, c)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, RPLOGNO(00151)
                      "pool %s: %s: %s (0x%02x) at byte %" APR_SIZE_T_FMT
                      "; refused, a module or the configuration made it: "
                      "'%s'", pool, what, problem, c,
                      (apr_size_t)(at - s), shown);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, RPLOGNO(00150)
                  "pool %s: %s: %s (0x%02x) at byte %" APR_SIZE_T_FMT
                  "; refused, a module decoded it from the client's "
                  "request: '%s'", pool, what, problem, c,
                  (apr_size_t)(at - s), shown);
    return HTTP_BAD_REQUEST;
}

int
rp_headers_check(rp_exchange_t *ex)
{
    request_rec *r = ex->r;
    const apr_array_header_t *h = apr_table_elts(ex->headers);
    const apr_table_entry_t *e = (const apr_table_entry_t *)h->elts;
    const char *target = ex->match->path, *at;
    int i;

    at = ap_scan_http_token(r->method);
    if (at == r->method || *at) {
        return refuse_send(ex, "request method", "not a token", r->method, at);
    }
    /* a space ends the request-target as surely as CR LF ends the line */
    if (*(at = ap_scan_vchar_obstext(target))) {
        const char *q = ap_strchr_c(target, '?');

        return refuse_send(ex, "request target", apr_pstrcat(
                    r->pool, q && q < at ? "query has " : "path has ",
                    *at == ' ' ? "a space" : "a control character",
                    NULL), target, at);
    }
    for (i = 0; i < h->nelts; i++) {
        const char *problem = NULL, *s = e[i].key;

        if (!s) {
            continue;
        }
        at = ap_scan_http_token(s);
        if (at == s || *at) {
            problem = "name is not a token";
        }
        else if (*(at = ap_scan_http_field_content(s = e[i].val))) {
            problem = "value has a control character";
        }
        if (problem) {
            return refuse_send(ex, apr_pstrcat(r->pool, "request header ",
                                               ap_escape_logitem(r->pool,
                                                                 e[i].key),
                                               NULL), problem, s, at);
        }
    }
    if (ex->dconf->preserve_host == 1
        && (at = apr_table_get(r->headers_in, "Host")) != NULL
        && *ap_scan_http_field_content(at)) {
        return refuse_send(ex, "request header Host", "value has a control "
                           "character", at, ap_scan_http_field_content(at));
    }
    return OK;
}

/* --- response --------------------------------------------------------- */

/* A member's path with its base path taken off, or NULL when the path is
 * not below it: the base path /v1 holds /v1, /v1/x and /v1?q, never /v10
 * (a segment boundary, as routes match). */
static const char *
below_base(apr_pool_t *p, const rproxy_member_t *m, const char *path)
{
    apr_size_t len = strlen(m->base_path);

    if (!len) {
        return path;
    }
    if (strncmp(path, m->base_path, len)
        || (path[len] && path[len] != '/' && path[len] != '?')) {
        return NULL;
    }
    path += len;
    return *path == '/' ? path : apr_pstrcat(p, "/", path, NULL);
}

/* If url points at a member of the pool, below its base path, the public
 * URL for it; anything else is left as it is. */
static const char *
rewrite_url(rp_exchange_t *ex, const char *url)
{
    request_rec *r = ex->r;
    rproxy_pool_t *pool = ex->m->pool;
    const char *path = NULL;
    int i;

    if (url[0] == '/' && url[1] != '/') {
        const char *mapped = below_base(r->pool, ex->m, url);

        mapped = mapped ? rp_route_unmap(r->pool, ex->match->route, mapped)
                        : NULL;
        return mapped ? mapped : url;
    }
    for (i = 0; i < pool->members->nelts && !path; i++) {
        rproxy_member_t *m = APR_ARRAY_IDX(pool->members, i,
                                           rproxy_member_t *);
        const char *origins[2];
        int j;

        origins[0] = apr_pstrcat(r->pool, m->scheme, "://", m->hostport,
                                 NULL);
        origins[1] = m->port == (m->is_tls ? 443 : 80)
                     ? apr_pstrcat(r->pool, m->scheme, "://", m->host, NULL)
                     : NULL;
        for (j = 0; j < 2 && origins[j] && !path; j++) {
            apr_size_t len = strlen(origins[j]);

            if (!strncasecmp(url, origins[j], len)
                && (!url[len] || url[len] == '/' || url[len] == '?')) {
                path = below_base(r->pool, m, url[len] == '/' ? url + len
                                  : apr_pstrcat(r->pool, "/", url + len,
                                                NULL));
            }
        }
    }
    if (!path) {
        return url;
    }
    url = rp_route_unmap(r->pool, ex->match->route, path);
    return ap_construct_url(r->pool, url ? url : path, r);
}

/* Refresh: "5; url=http://backend/x" */
static const char *
rewrite_refresh(rp_exchange_t *ex, const char *val)
{
    const char *u = ap_strcasestr(val, "url=");

    if (!u) {
        return val;
    }
    return apr_pstrcat(ex->r->pool, apr_pstrmemdup(ex->r->pool, val,
                                                   u + 4 - val),
                       rewrite_url(ex, u + 4), NULL);
}

static int
names_member(rproxy_pool_t *pool, const char *domain)
{
    int i;

    while (*domain == '.') {
        domain++;
    }
    for (i = 0; i < pool->members->nelts; i++) {
        rproxy_member_t *m = APR_ARRAY_IDX(pool->members, i,
                                           rproxy_member_t *);
        if (!strcasecmp(m->host, domain)) {
            return 1;
        }
    }
    return 0;
}

/* Set-Cookie: a Domain naming a member is dropped (the cookie becomes the
 * public host's), a Path under the route's target moves to the public
 * prefix. */
static const char *
rewrite_cookie(rp_exchange_t *ex, const char *val)
{
    apr_pool_t *p = ex->r->pool;
    char *copy = apr_pstrdup(p, val), *attr, *last;
    const char *out = NULL;

    for (attr = apr_strtok(copy, ";", &last); attr;
         attr = apr_strtok(NULL, ";", &last)) {
        while (apr_isspace(*attr)) {
            attr++;
        }
        if (out && !strncasecmp(attr, "domain=", 7)
            && names_member(ex->m->pool, attr + 7)) {
            continue;
        }
        if (out && !strncasecmp(attr, "path=", 5)) {
            const char *mapped = below_base(p, ex->m, attr + 5);

            mapped = mapped ? rp_route_unmap(p, ex->match->route, mapped)
                            : NULL;
            if (mapped) {
                attr = apr_pstrcat(p, "Path=", mapped, NULL);
            }
        }
        out = out ? apr_pstrcat(p, out, "; ", attr, NULL) : attr;
    }
    return out ? out : val;
}

typedef struct {
    rp_exchange_t *ex;
    const char *connection;
} resp_ctx_t;

static int
copy_response_header(void *vctx, const char *key, const char *val)
{
    resp_ctx_t *ctx = vctx;
    rp_exchange_t *ex = ctx->ex;
    rp_route_t *route = ex->match->route;
    request_rec *r = ex->r;

    if (in_list(hop_by_hop, key) || in_list(response_own, key)
        || named_in_connection(r->pool, ctx->connection, key)
        || in_list(hidden_by_default, key) || in_array(ex->dconf->hide, key)) {
        return 1;
    }
    if (route->rewrite_redirects && (!strcasecmp(key, "Location")
                                     || !strcasecmp(key, "Content-Location"))) {
        val = rewrite_url(ex, val);
    }
    else if (route->rewrite_redirects && !strcasecmp(key, "Refresh")) {
        val = rewrite_refresh(ex, val);
    }
    else if (route->rewrite_cookies && !strcasecmp(key, "Set-Cookie")) {
        val = rewrite_cookie(ex, val);
    }
    apr_table_addn(r->headers_out, key, val);
    return 1;
}

/* An interim (1xx) response goes out with ap_send_interim_response(),
 * which sends r->headers_out and clears it: its headers go there and
 * nowhere else. Its Content-Type, Content-Length (meaningless on a 1xx)
 * and status line must not become the final response's. */
static void
interim_response(rp_exchange_t *ex, resp_ctx_t *ctx)
{
    request_rec *r = ex->r;

    apr_table_clear(r->headers_out);
    apr_table_do(copy_response_header, ctx, ex->rp->headers_in, NULL);
    r->status_line = apr_psprintf(r->pool, "%03d %s", ex->status,
                                  ex->reason ? ex->reason : "");
}

void
rp_headers_response(rp_exchange_t *ex)
{
    request_rec *r = ex->r;
    apr_table_t *h = ex->rp->headers_in;
    const char *ct = apr_table_get(h, "Content-Type");
    const char *cl = apr_table_get(h, "Content-Length");
    resp_ctx_t ctx;
    apr_off_t len;

    ctx.ex = ex;
    ctx.connection = apr_table_get(h, "Connection");
    if (ap_is_HTTP_INFO(ex->status)
        && ex->status != HTTP_SWITCHING_PROTOCOLS) {
        interim_response(ex, &ctx);
        return;
    }
    apr_table_clear(r->headers_out);
    apr_table_do(copy_response_header, &ctx, h, NULL);
    /* the member's type or none: not one left by an interim response or
     * guessed by mod_mime from the request's path */
    ap_set_content_type(r, ct ? apr_pstrdup(r->pool, ct) : NULL);
    if (cl && !apr_table_get(h, "Transfer-Encoding")
        && ap_parse_strict_length(&len, cl)) {
        ap_set_content_length(r, len);
    }
    r->status = ex->status;
    r->status_line = ex->reason
                     ? apr_psprintf(r->pool, "%03d %s", ex->status,
                                    ex->reason)
                     : NULL;
}
