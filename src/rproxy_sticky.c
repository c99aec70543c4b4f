/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_sticky.c - sticky sessions by an inserted cookie.
 *
 * The cookie names a member by an opaque token: the first 16 bytes of
 * HMAC-SHA256(secret, pool name "\n" member name), base64url. It reveals
 * neither the backend's address nor its name, cannot be forged without the
 * secret, and is the same in every child and across restarts as long as
 * the secret is (secret=file:PATH or a literal; without one a random
 * secret is made at startup, so sessions are pinned only until a restart).
 * Tokens are computed once per member at startup; a request's cookie is
 * compared with each in constant time.
 *
 * A request with a valid token goes to its member while that member can
 * take it (draining members still take their sticky requests); otherwise
 * the balancer picks and the cookie is issued anew. The cookie is removed
 * from the request before it is forwarded.
 *
 * route=NAME is mod_proxy_balancer's stickysession: the application's own
 * session id (cookie NAME, or the path parameter ;NAME= that servlet
 * containers write when cookies are off) ends in ".<route>", as Tomcat's
 * jvmRoute makes it ("JSESSIONID=abc123.node2"), and the member whose
 * route= that is takes the request on the first try if it can, like a
 * valid token. The proxy neither sets nor removes that cookie: it is the
 * application's. With both cookie= and route=, the route is asked first.
 */

#include "rproxy_private.h"
#include "rproxy_config.h"

#include "util_cookies.h"
#include "apr_lib.h"
#include "apr_base64.h"
#include "apr_file_io.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define RP_TOKEN_BYTES  16

struct rp_sticky_t {
    const char *cookie;         /* cookie=: the one we issue, or NULL */
    const char *route;          /* route=: the application's session id
                                 * (cookie and path parameter), or NULL */
    const char *secret;         /* NULL: made at startup */
    apr_size_t secret_len;
    const char *attrs;          /* "; Path=/; HttpOnly ..." */
    const char **tokens;        /* by member index, from post_config */
};

/* The longest secret a file may hold (HMAC takes any length; a longer
 * file is more likely the wrong file than a better secret). */
#define RP_SECRET_MAX   1024

/* APR's permission bits (one hex digit per class) as a Unix mode. */
static unsigned int
rp_sticky_perms_mode(apr_fileperms_t prot)
{
    return ((prot >> 8) & 7) << 6 | ((prot >> 4) & 7) << 3 | (prot & 7);
}

/* Reads secret=file:PATH. The file must be private to the user httpd
 * starts as: one that group or others can read (or write) leaks the key
 * that signs every sticky cookie, so httpd refuses to start rather than
 * use it. A file longer than RP_SECRET_MAX is refused, not cut short.
 * httpd puts the configuration file and line in front of the message. */
static const char *
rp_sticky_read_secret(cmd_parms *cmd, const char *path, rp_sticky_t *st)
{
    char buf[RP_SECRET_MAX + 3];    /* room for CRLF, and one more byte */
    const char *full = ap_server_root_relative(cmd->temp_pool, path);
    apr_finfo_t fi;
    apr_file_t *f;
    apr_size_t len = 0;
    apr_status_t rv;

    if (!full || (rv = apr_file_open(&f, full, APR_FOPEN_READ, 0,
                                     cmd->temp_pool)) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "cannot open the secret file %s",
                            full ? full : path);
    }
    /* the mode of the file opened, not of whatever the path names now */
    rv = apr_file_info_get(&fi, APR_FINFO_PROT, f);
    if (rv == APR_SUCCESS
        && (fi.protection & (APR_GREAD | APR_GWRITE | APR_WREAD
                             | APR_WWRITE))) {
        apr_file_close(f);
        return apr_psprintf(cmd->pool, "the secret file %s can be read or "
                            "written by group or others (mode %04o): make "
                            "it private to the user httpd starts as, e.g. "
                            "chmod 0600 (or 0400) %s", full,
                            rp_sticky_perms_mode(fi.protection),
                            full);
    }
    rv = apr_file_read_full(f, buf, sizeof(buf), &len);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        return apr_psprintf(cmd->pool, "cannot read the secret file %s",
                            full);
    }
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) {
        len--;
    }
    if (len > RP_SECRET_MAX) {
        return apr_psprintf(cmd->pool, "the secret file %s is longer than "
                            "%d bytes", full, RP_SECRET_MAX);
    }
    if (len < 16) {
        return "the secret must be at least 16 bytes";
    }
    st->secret = apr_pmemdup(cmd->pool, buf, len);
    st->secret_len = len;
    return NULL;
}

/* secret=S or secret=file:PATH */
static const char *
rp_sticky_secret(cmd_parms *cmd, void *rec, const rp_opt_t *opt,
                 const char *val)
{
    rp_sticky_t *st = rec;

    (void)opt;
    if (!strncmp(val, "file:", 5)) {
        return rp_sticky_read_secret(cmd, val + 5, st);
    }
    st->secret = val;
    st->secret_len = strlen(val);
    return st->secret_len >= 16 ? NULL
           : "the secret must be at least 16 bytes";
}

/* A cookie attribute (opt->arg), with the value or alone for a flag. */
static const char *
rp_sticky_attr(cmd_parms *cmd, void *rec, const rp_opt_t *opt,
               const char *val)
{
    rp_sticky_t *st = rec;

    if (val && (ap_strchr_c(val, ';') || ap_strchr_c(val, ','))) {
        return "attribute values cannot contain ';' or ','";
    }
    st->attrs = apr_pstrcat(cmd->pool, st->attrs, "; ", opt->arg,
                            val ? "=" : "", val, NULL);
    return NULL;
}

/* RProxySticky cookie=NAME|route=NAME [option ...] */
static const rp_opt_t rp_sticky_opts[] = {
    { "cookie", RP_OPT_COOKIE, APR_OFFSETOF(rp_sticky_t, cookie), 0, 0,
      "NAME" },
    { "route", RP_OPT_COOKIE, APR_OFFSETOF(rp_sticky_t, route), 0, 0,
      "NAME" },
    { "secret", RP_OPT_STRING, 0, 0, 0, "S|file:PATH", rp_sticky_secret },
    { "path", RP_OPT_STRING, 0, 0, 0, "PATH", rp_sticky_attr, "Path" },
    { "domain", RP_OPT_STRING, 0, 0, 0, "DOMAIN", rp_sticky_attr, "Domain" },
    { "samesite", RP_OPT_STRING, 0, 0, 0, "VALUE", rp_sticky_attr,
      "SameSite" },
    { "max_age", RP_OPT_STRING, 0, 0, 0, "SECONDS", rp_sticky_attr,
      "Max-Age" },
    { "secure", RP_OPT_FLAG, 0, 0, 0, NULL, rp_sticky_attr, "Secure" },
    { "httponly", RP_OPT_FLAG, 0, 0, 0, NULL, rp_sticky_attr, "HttpOnly" },
    { NULL }
};

const char *
rp_cmd_sticky(cmd_parms *cmd, void *d, const char *args)
{
    const char *err;
    rproxy_pool_t *pool = rp_config_pool_scope(cmd, &err);
    rp_sticky_t *st;

    (void)d;
    if (!pool) {
        return err;
    }
    st = apr_pcalloc(cmd->pool, sizeof(*st));
    st->attrs = "";
    if ((err = rp_options_parse(cmd, cmd->cmd->name, rp_sticky_opts, st,
                                args))) {
        return err;
    }
    if (!st->cookie && !st->route) {
        return "RProxySticky: needs cookie=NAME or route=NAME";
    }
    if (st->cookie && st->route && !strcmp(st->cookie, st->route)) {
        return "RProxySticky: cookie= and route= name the same cookie "
               "(cookie= is one mod_rproxy sets, route= the application's)";
    }
    if (!ap_strstr_c(st->attrs, "Path=")) {
        st->attrs = apr_pstrcat(cmd->pool, rp_defaults.sticky_attrs,
                                st->attrs, NULL);
    }
    pool->sticky = st;
    return NULL;
}

static const char *
member_token(apr_pool_t *p, const rp_sticky_t *st, const rproxy_member_t *m)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    const char *msg = apr_pstrcat(p, m->pool->name, "\n", m->name, NULL);
    char *out = apr_palloc(p, apr_base64_encode_len(RP_TOKEN_BYTES));
    char *c;

    HMAC(EVP_sha256(), st->secret, (int)st->secret_len,
         (const unsigned char *)msg, strlen(msg), mac, &mac_len);
    apr_base64_encode_binary(out, mac, RP_TOKEN_BYTES);
    /* base64url without padding: safe in a cookie value */
    for (c = out; *c; c++) {
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
    }
    while (c > out && c[-1] == '=') {
        *--c = '\0';
    }
    return out;
}

apr_status_t
rp_sticky_init(apr_pool_t *pconf, rproxy_pool_t *pool)
{
    rp_sticky_t *st = pool->sticky;
    int i;

    if (!st || !st->cookie) {
        return APR_SUCCESS;
    }
    if (!st->secret) {
        unsigned char *rnd = apr_palloc(pconf, 32);

        if (RAND_bytes(rnd, 32) != 1) {
            return APR_EGENERAL;
        }
        st->secret = (const char *)rnd;
        st->secret_len = 32;
    }
    st->tokens = apr_palloc(pconf, pool->members->nelts * sizeof(char *));
    for (i = 0; i < pool->members->nelts; i++) {
        st->tokens[i] = member_token(pconf, st, APR_ARRAY_IDX(
                                         pool->members, i, rproxy_member_t *));
    }
    return APR_SUCCESS;
}

static int
add_back(void *vt, const char *key, const char *val)
{
    apr_table_addn(vt, key, val);
    return 1;
}

/* What a Cookie header holds for the sticky cookie. */
typedef struct {
    request_rec *r;
    const char *prefix;             /* "NAME=" */
    apr_size_t prefix_len;
    apr_array_header_t *values;     /* every value given, in order */
    apr_table_t *kept;              /* the headers without them */
} cookie_scan_t;

/* Takes every instance of the sticky cookie out of one Cookie (or Cookie2)
 * header and keeps the rest as it came. Pairs are split on ';' and, as
 * httpd's own cookie code and old RFC 2965 clients do, on ','; what
 * remains is rejoined with the separators it had, so that other cookies
 * reach the member unchanged. "$Path"-style attributes right after a
 * removed cookie go with it. */
static int
strip_cookie(void *vscan, const char *key, const char *val)
{
    cookie_scan_t *scan = vscan;
    apr_pool_t *p = scan->r->pool;
    const char *seg = val, *out = NULL;
    int eating = 0;

    while (seg) {
        const char *end = strpbrk(seg, ";,");
        apr_size_t len = end ? (apr_size_t)(end - seg) : strlen(seg);
        const char *trim = seg;

        while (trim < seg + len && apr_isspace(*trim)) {
            trim++;
        }
        if ((apr_size_t)(seg + len - trim) >= scan->prefix_len
            && !strncmp(trim, scan->prefix, scan->prefix_len)) {
            APR_ARRAY_PUSH(scan->values, const char *) = apr_pstrmemdup(
                p, trim + scan->prefix_len,
                seg + len - trim - scan->prefix_len);
            eating = 1;
        }
        else if (!(eating && *trim == '$')) {
            eating = 0;
            if (trim < seg + len) {
                out = out ? apr_pstrcat(p, out, apr_pstrmemdup(
                                            p, seg - 1, len + 1), NULL)
                          : apr_pstrmemdup(p, trim, seg + len - trim);
            }
        }
        seg = end ? end + 1 : NULL;
    }
    if (out) {
        apr_table_addn(scan->kept, key, out);
    }
    return 1;
}

/* A cookie value without trailing blanks or its quotes: *len bytes from
 * the pointer returned. */
static const char *
cookie_value(const char *val, apr_size_t *len)
{
    *len = strlen(val);
    while (*len && apr_isspace(val[*len - 1])) {
        (*len)--;
    }
    if (*len >= 2 && val[0] == '"' && val[*len - 1] == '"') {
        val++;
        *len -= 2;
    }
    return val;
}

/* The member a token names, or NULL. The token may come quoted. */
static rproxy_member_t *
token_member(const rp_sticky_t *st, rproxy_pool_t *pool, const char *val)
{
    apr_size_t len;
    int i;

    val = cookie_value(val, &len);
    for (i = 0; i < pool->members->nelts; i++) {
        if (len == strlen(st->tokens[i])
            && !CRYPTO_memcmp(val, st->tokens[i], len)) {
            return APR_ARRAY_IDX(pool->members, i, rproxy_member_t *);
        }
    }
    return NULL;
}

static int
has_cookies(request_rec *r)
{
    return apr_table_get(r->headers_in, "Cookie")
           || apr_table_get(r->headers_in, "Cookie2");
}

/* Every value of the cookie `name` in the request, in order, and the
 * Cookie headers without it. */
static void
cookie_scan(request_rec *r, const char *name, cookie_scan_t *scan)
{
    scan->r = r;
    scan->prefix = apr_pstrcat(r->pool, name, "=", NULL);
    scan->prefix_len = strlen(scan->prefix);
    scan->values = apr_array_make(r->pool, 1, sizeof(const char *));
    scan->kept = apr_table_make(r->pool, 2);
    apr_table_do(strip_cookie, scan, r->headers_in, "Cookie", "Cookie2",
                 NULL);
}

/* The member the request's sticky cookie (cookie=) names. Every instance
 * of the cookie is removed from the request first, whatever it holds: the
 * member never sees the token. With several values (two cookies of that
 * name, in one header or in two), the first that names a member wins; a
 * client's bad or repeated cookie is its own business, logged at debug
 * only. */
static rproxy_member_t *
token_cookie_member(request_rec *r, rproxy_pool_t *pool)
{
    rp_sticky_t *st = pool->sticky;
    rproxy_member_t *m = NULL;
    cookie_scan_t scan;
    int i;

    if (!has_cookies(r)) {
        return NULL;
    }
    cookie_scan(r, st->cookie, &scan);
    if (!scan.values->nelts) {
        return NULL;
    }
    apr_table_unset(r->headers_in, "Cookie");
    apr_table_unset(r->headers_in, "Cookie2");
    apr_table_do(add_back, r->headers_in, scan.kept, NULL);
    for (i = 0; i < scan.values->nelts && !m; i++) {
        m = token_member(st, pool, APR_ARRAY_IDX(scan.values, i,
                                                 const char *));
    }
    if (scan.values->nelts > 1 || !m) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, RPLOGNO(00162)
                      "pool %s: sticky cookie %s given %d time%s, %s",
                      pool->name, st->cookie, scan.values->nelts,
                      scan.values->nelts == 1 ? "" : "s",
                      m ? apr_psprintf(r->pool, "taken for member %s",
                                       m->name)
                        : "none names a member");
    }
    return m;
}

/* The first member, in configuration order, whose route= ends the
 * session id (len bytes) after a dot: "abc123.node2" names route node2
 * (and a route may itself hold dots: "a.b" matches "abc123.a.b"). */
static rproxy_member_t *
route_member(rproxy_pool_t *pool, const char *id, apr_size_t len)
{
    int i;

    for (i = 0; i < pool->members->nelts; i++) {
        rproxy_member_t *m = APR_ARRAY_IDX(pool->members, i,
                                           rproxy_member_t *);
        apr_size_t rlen = m->route ? strlen(m->route) : 0;

        if (rlen && len > rlen && id[len - rlen - 1] == '.'
            && !memcmp(id + len - rlen, m->route, rlen)) {
            return m;
        }
    }
    return NULL;
}

/* ;NAME=VALUE in the request's path as the client sent it (not decoded),
 * NAME without regard to case: servlet containers write JSESSIONID's id
 * as ;jsessionid= when the browser takes no cookies. */
static const char *
route_path_param(const request_rec *r, const char *name, apr_size_t *len)
{
    const char *p = r->parsed_uri.path;
    apr_size_t nlen = strlen(name);

    while (p && (p = ap_strchr_c(p, ';')) != NULL) {
        p++;
        if (!strncasecmp(p, name, nlen) && p[nlen] == '=') {
            p += nlen + 1;
            *len = strcspn(p, ";/?");
            return p;
        }
    }
    return NULL;
}

/* The member the application's session id names by its route (route=):
 * the path parameter first, then the cookie, as mod_proxy_balancer
 * looks. The cookie stays in the request: it is the application's. */
static rproxy_member_t *
session_route_member(request_rec *r, rproxy_pool_t *pool)
{
    const char *name = pool->sticky->route, *id;
    rproxy_member_t *m = NULL;
    cookie_scan_t scan;
    apr_size_t len;
    int i;

    if ((id = route_path_param(r, name, &len)) != NULL) {
        m = route_member(pool, id, len);
    }
    if (!m && has_cookies(r)) {
        cookie_scan(r, name, &scan);
        for (i = 0; i < scan.values->nelts && !m; i++) {
            id = cookie_value(APR_ARRAY_IDX(scan.values, i, const char *),
                              &len);
            m = route_member(pool, id, len);
        }
    }
    if (m) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, RPLOGNO(00163)
                      "pool %s: session id %s names route %s, member %s",
                      pool->name, name, m->route, m->name);
    }
    return m;
}

/* The member the request is pinned to, if any: by the application's
 * session id (route=), else by our cookie (cookie=), which is removed
 * from the request either way. */
rproxy_member_t *
rp_sticky_member(request_rec *r, rproxy_pool_t *pool)
{
    rp_sticky_t *st = pool->sticky;
    rproxy_member_t *by_token, *by_route;

    if (!st) {
        return NULL;
    }
    by_token = st->cookie ? token_cookie_member(r, pool) : NULL;
    by_route = st->route ? session_route_member(r, pool) : NULL;
    return by_route ? by_route : by_token;
}

typedef struct {
    const char *drop;
    apr_table_t *keep;
} cookie_filter_t;

static int
keep_other(void *vctx, const char *key, const char *val)
{
    cookie_filter_t *ctx = vctx;

    if (strcmp(val, ctx->drop)) {
        apr_table_addn(ctx->keep, key, val);
    }
    return 1;
}

/* Sets the cookie for m; *issued remembers it, so that a later try on
 * another member replaces it rather than adding a second one. */
void
rp_sticky_issue(request_rec *r, rproxy_member_t *m, const char **issued)
{
    rp_sticky_t *st = m->pool->sticky;

    if (!st->cookie) {
        return;         /* route= only: the application's cookie pins */
    }
    if (*issued) {
        cookie_filter_t ctx;

        ctx.drop = *issued;
        ctx.keep = apr_table_make(r->pool, 2);
        apr_table_do(keep_other, &ctx, r->err_headers_out, "Set-Cookie",
                     NULL);
        apr_table_unset(r->err_headers_out, "Set-Cookie");
        apr_table_do(add_back, r->err_headers_out, ctx.keep, NULL);
    }
    *issued = apr_pstrcat(r->pool, st->cookie, "=", st->tokens[m->index],
                          st->attrs, NULL);
    apr_table_addn(r->err_headers_out, "Set-Cookie", *issued);
}
