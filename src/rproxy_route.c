/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_route.c - which route a request takes, and the path it is sent
 * with.
 *
 * Precedence (documented in docs/proxying.md, "Routing"):
 *   1. RProxyPass inside <Location>, <LocationMatch> or <If> that applies to
 *      the request wins; "RProxyPass !" there turns proxying off.
 *   2. else the first RProxyPassMatch, in configuration order, that matches;
 *   3. else the longest RProxyPass PATH prefix. A prefix matches on segment
 *      boundaries: "/app" takes "/app" and "/app/x", never "/apple".
 *   An "!" target that wins a step stops the search: the request is not
 *   proxied.
 *
 * Matching uses r->uri, the path httpd decoded and normalised (and checked
 * access against). That path is encoded again exactly once for the backend,
 * so the backend sees what access control saw: no double decoding, and an
 * encoded '?' or '#' keeps its meaning. The query string is passed as the
 * client sent it.
 */

#include "rproxy_private.h"

#include "http_core.h"
#include "apr_lib.h"

/* A TRACE on a section route, for rp_map_to_storage(). */
#define RP_NOTE_SECTION_TRACE   "rproxy-section-trace"
/* A section route seen by the early <Location> walk: the URI it was seen
 * for (rp_translate_name), then "skipped" once rp_map_to_storage() has
 * left out the <Directory> walk for it (rp_post_perdir_config). */
#define RP_NOTE_SECTION_ROUTE   "rproxy-section-route"
#define RP_WALK_SKIPPED         "skipped"

rp_match_t *
rp_match_get(request_rec *r)
{
    return ap_get_module_config(r->request_config, &rproxy_module);
}

/* Characters that travel unencoded in a path (RFC 3986 pchar and '/'). */
static int
rp_route_path_safe(unsigned char c)
{
    return apr_isalnum(c) || ap_strchr_c("-._~!$&'()*+,;=:@/", c);
}

/* How rp_route_encode_path treats '%'. */
typedef enum {
    RP_ENC_DECODED,     /* a decoded path: '%' is a character, "%25" */
    RP_ENC_KEEP_2F,     /* the same, but an undecoded "%2F" stays */
    RP_ENC_TARGET       /* a path from the configuration, already encoded:
                         * '%' stays, only what never travels raw (space,
                         * controls, non-ASCII, ...) is encoded */
} rp_enc_e;

/* Encodes a path once. With encoded slashes kept undecoded by httpd
 * (AllowEncodedSlashes NoDecode), "%2F" in r->uri is still an encoded
 * slash and is passed on as such (RP_ENC_KEEP_2F). */
static const char *
rp_route_encode_path(apr_pool_t *p, const char *path, rp_enc_e mode)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s;
    apr_size_t extra = 0;
    char *out, *d;

    for (s = (const unsigned char *)path; *s; s++) {
        extra += rp_route_path_safe(*s) || (*s == '%' && mode == RP_ENC_TARGET)
                 ? 0 : 2;
    }
    if (!extra) {
        return path;
    }
    d = out = apr_palloc(p, strlen(path) + extra + 1);
    for (s = (const unsigned char *)path; *s; s++) {
        if (rp_route_path_safe(*s) || (*s == '%' && mode == RP_ENC_TARGET)) {
            *d++ = *s;
        }
        else if (*s == '%' && mode == RP_ENC_KEEP_2F && s[1] == '2'
                 && (s[2] == 'F' || s[2] == 'f')) {
            *d++ = '%';
        }
        else {
            *d++ = '%';
            *d++ = hex[*s >> 4];
            *d++ = hex[*s & 15];
        }
    }
    *d = '\0';
    return out;
}

/* The mode for the client's part of the path, which r->uri has decoded. */
static rp_enc_e
rp_route_enc_mode(request_rec *r)
{
    core_dir_config *cd = ap_get_core_module_config(r->per_dir_config);

    return cd->allow_encoded_slashes && !cd->decode_encoded_slashes
           ? RP_ENC_KEEP_2F : RP_ENC_DECODED;
}

/* Does prefix match uri on a segment boundary? */
static int
rp_route_prefix_matches(const char *prefix, const char *uri)
{
    apr_size_t len = strlen(prefix);

    if (strncmp(prefix, uri, len)) {
        return 0;
    }
    return prefix[len - 1] == '/' || uri[len] == '\0' || uri[len] == '/'
           || uri[len] == '?';
}

/* Joins a target path and the rest of the client's path with one '/'. */
static const char *
rp_route_join_path(apr_pool_t *p, const char *target, const char *rest)
{
    apr_size_t tlen = strlen(target);

    if (tlen && target[tlen - 1] == '/' && *rest == '/') {
        rest++;
    }
    else if ((!tlen || target[tlen - 1] != '/') && *rest && *rest != '/') {
        return apr_pstrcat(p, target, "/", rest, NULL);
    }
    return apr_pstrcat(p, target, rest, NULL);
}

const char *
rp_route_unmap(apr_pool_t *p, const rp_route_t *route, const char *path)
{
    if (!route->target_path || !route->prefix
        || !rp_route_prefix_matches(route->target_path, path)) {
        return NULL;
    }
    return rp_route_join_path(p, route->prefix,
                              path + strlen(route->target_path));
}

/* path: what the member gets, already encoded, without the query. */
static rp_match_t *
rp_route_make_match(request_rec *r, rp_route_t *route, const char *path)
{
    rp_match_t *match = apr_pcalloc(r->pool, sizeof(*match));

    if (!*path) {
        path = "/";
    }
    match->route = route;
    match->path = r->args ? apr_pstrcat(r->pool, path, "?", r->args, NULL)
                          : path;
    return match;
}

/* Maps r->uri through a prefix route (path may be NULL for sections that
 * are not a literal prefix, <LocationMatch> and <If>). The target path is
 * sent as configured (it is already encoded: "/a%20b" stays "/a%20b"); the
 * client's part, decoded in r->uri, is encoded once. */
static rp_match_t *
rp_route_map_prefix(request_rec *r, rp_route_t *route)
{
    const char *prefix = route->prefix;
    const char *rest = r->uri;

    if (!route->target_path) {
        return rp_route_make_match(r, route,
                                   rp_route_encode_path(r->pool, r->uri,
                                                        rp_route_enc_mode(r)));
    }
    if (prefix && rp_route_prefix_matches(prefix, r->uri)) {
        rest = r->uri + strlen(prefix);
    }
    return rp_route_make_match(r, route, rp_route_join_path(
               r->pool,
               rp_route_encode_path(r->pool, route->target_path,
                                    RP_ENC_TARGET),
               rp_route_encode_path(r->pool, rest, rp_route_enc_mode(r))));
}

/* ap_pregsub() for a target path: the template is sent as configured,
 * each substituted group (decoded, from r->uri) is encoded once. The same
 * syntax: $0..$9 and & for the groups, a backslash quotes the next
 * character; a group that did not take part in the match is empty. */
static const char *
rp_route_subst_target(request_rec *r, const char *tmpl, const char *uri,
                      ap_regmatch_t *pm)
{
    rp_enc_e mode = rp_route_enc_mode(r);
    apr_array_header_t *parts = apr_array_make(r->pool, 8,
                                               sizeof(const char *));
    const char *s = tmpl, *lit = tmpl;

    while (*s) {
        int no = -1;

        if (*s == '&') {
            no = 0;
        }
        else if (*s == '$' && apr_isdigit(s[1])) {
            no = s[1] - '0';
        }
        else if (*s == '\\' && s[1]) {
            APR_ARRAY_PUSH(parts, const char *) = rp_route_encode_path(
                r->pool, apr_pstrmemdup(r->pool, lit, s - lit),
                RP_ENC_TARGET);
            lit = ++s;      /* the quoted character starts the next run */
            s++;
            continue;
        }
        if (no < 0) {
            s++;
            continue;
        }
        APR_ARRAY_PUSH(parts, const char *) = rp_route_encode_path(
            r->pool, apr_pstrmemdup(r->pool, lit, s - lit), RP_ENC_TARGET);
        if (pm[no].rm_so >= 0 && pm[no].rm_eo >= pm[no].rm_so) {
            APR_ARRAY_PUSH(parts, const char *) = rp_route_encode_path(
                r->pool, apr_pstrmemdup(r->pool, uri + pm[no].rm_so,
                                        pm[no].rm_eo - pm[no].rm_so), mode);
        }
        s += no == 0 && *s == '&' ? 1 : 2;
        lit = s;
    }
    APR_ARRAY_PUSH(parts, const char *) = rp_route_encode_path(
        r->pool, lit, RP_ENC_TARGET);
    return apr_array_pstrcat(r->pool, parts, 0);
}

static rp_match_t *
rp_route_match_regex(request_rec *r, apr_array_header_t *routes, int *stop)
{
    ap_regmatch_t pm[AP_MAX_REG_MATCH];
    int i;

    for (i = 0; i < routes->nelts; i++) {
        rp_route_t *route = APR_ARRAY_IDX(routes, i, rp_route_t *);
        const char *path;

        if (ap_regexec(route->regex, r->uri, AP_MAX_REG_MATCH, pm, 0)) {
            continue;
        }
        if (route->excluded) {
            *stop = 1;
            return NULL;
        }
        path = route->target_path
               ? rp_route_subst_target(r, route->target_path, r->uri, pm)
               : rp_route_encode_path(r->pool, r->uri, rp_route_enc_mode(r));
        return rp_route_make_match(r, route, path);
    }
    return NULL;
}

static rp_match_t *
rp_route_match_server(request_rec *r)
{
    rp_server_conf *sconf = rp_server_config(r->server);
    rp_route_t *best = NULL;
    apr_size_t best_len = 0;
    rp_match_t *match;
    int i, stop = 0;

    match = rp_route_match_regex(r, sconf->regex_routes, &stop);
    if (match || stop) {
        return match;
    }
    for (i = 0; i < sconf->prefix_routes->nelts; i++) {
        rp_route_t *route = APR_ARRAY_IDX(sconf->prefix_routes, i,
                                          rp_route_t *);
        apr_size_t len = strlen(route->path);

        if (len > best_len && rp_route_prefix_matches(route->path, r->uri)) {
            best = route;
            best_len = len;
        }
    }
    if (!best || best->excluded) {
        return NULL;
    }
    return rp_route_map_prefix(r, best);
}

/* Requests mod_rproxy never routes: forward-proxy shapes and non-paths. */
static int
rp_route_routable(request_rec *r)
{
    return !r->proxyreq && r->method_number != M_CONNECT
           && r->uri && r->uri[0] == '/';
}

int
rp_translate_name(request_rec *r)
{
    rp_dir_conf *dconf = rp_dir_config(r);
    rp_match_t *match;

    if (!rp_route_routable(r)) {
        return DECLINED;
    }
    /* a section route (seen through the early <Location> walk) wins;
     * it is applied in fixups, after <If> is known too. map_to_storage
     * sees only the server's defaults, so a TRACE is flagged for it. */
    if (dconf->route) {
        if (r->method_number == M_TRACE && !dconf->route->excluded) {
            apr_table_setn(r->notes, RP_NOTE_SECTION_TRACE, "1");
        }
        else if (!dconf->route->excluded) {
            apr_table_setn(r->notes, RP_NOTE_SECTION_ROUTE, r->uri);
        }
        return DECLINED;
    }
    match = rp_route_match_server(r);
    if (!match) {
        return DECLINED;
    }
    ap_set_module_config(r->request_config, &rproxy_module, match);
    r->filename = apr_pstrcat(r->pool, "rproxy:", match->route->pool->name,
                              NULL);
    r->handler = RP_HANDLER;
    return OK;
}

/* TRACE on a proxied path, as httpd's core answers it elsewhere
 * (ap_send_http_trace, which this module's map_to_storage skips):
 * TraceEnable Off refuses it with 405 (the error response's Allow then
 * leaves TRACE out), On refuses a TRACE with a body with 413, extended
 * lets the body through. TraceEnable is per server and read from the
 * initial request, like the core does. */
static int
rp_route_trace_allowed(request_rec *r)
{
    request_rec *first = r;
    core_server_config *conf;
    const char *cl;
    apr_off_t len;

    while (first->prev) {
        first = first->prev;
    }
    conf = ap_get_core_module_config(first->server->module_config);
    if (conf->trace_enable == AP_TRACE_DISABLE) {
        apr_table_setn(r->notes, "error-notes",
                       "TRACE denied by server configuration");
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, RPLOGNO(00160)
                      "TRACE %s refused: TraceEnable Off", r->uri);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    cl = apr_table_get(r->headers_in, "Content-Length");
    if (conf->trace_enable != AP_TRACE_EXTENDED
        && (apr_table_get(r->headers_in, "Transfer-Encoding")
            || (cl && !(ap_parse_strict_length(&len, cl) && len == 0)))) {
        apr_table_setn(r->notes, "error-notes",
                       "TRACE with a request body is not allowed");
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, RPLOGNO(00161)
                      "TRACE %s with a body refused: TraceEnable is not "
                      "extended", r->uri);
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    return OK;
}

int
rp_map_to_storage(request_rec *r)
{
    if (!rp_match_get(r)) {
        const char *uri;

        /* a section route is applied in fixups; a TRACE for it is decided
         * here, or the core would answer it itself (ap_send_http_trace) */
        if (r->method_number == M_TRACE
            && apr_table_get(r->notes, RP_NOTE_SECTION_TRACE)) {
            return rp_route_trace_allowed(r);
        }
        /* no file behind it either (as below): the walk is left out, and
         * done after all by rp_post_perdir_config() if the final
         * <Location>/<If> walk does not route the request */
        uri = apr_table_get(r->notes, RP_NOTE_SECTION_ROUTE);
        if (uri && !strcmp(uri, r->uri)) {
            apr_table_setn(r->notes, RP_NOTE_SECTION_ROUTE, RP_WALK_SKIPPED);
            return OK;
        }
        return DECLINED;
    }
    if (r->method_number == M_TRACE) {
        return rp_route_trace_allowed(r);
    }
    /* a proxied request has no file behind it: skip the directory walk
     * (<Directory>, <Files>, .htaccess), as mod_proxy does; <Location>
     * and <If> still apply */
    return OK;
}

/* After the final <Location>/<If> walk: a request whose <Directory> walk
 * rp_map_to_storage() left out for a section route, and which that walk
 * does not route after all (an <If> that reads what translation set, such
 * as REQUEST_FILENAME), gets the walk the core would have given it -
 * <Directory>, <Files>, .htaccess, then <Location> and <If> again on top -
 * before any access check runs. */
int
rp_post_perdir_config(request_rec *r)
{
    const char *skipped = apr_table_get(r->notes, RP_NOTE_SECTION_ROUTE);
    rp_dir_conf *dconf;
    int rv;

    if (!skipped || strcmp(skipped, RP_WALK_SKIPPED)) {
        return OK;
    }
    dconf = rp_dir_config(r);
    if (dconf->route && !dconf->route->excluded && rp_route_routable(r)) {
        return OK;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, RPLOGNO(00380)
                  "%s: the final <Location>/<If> walk has no route for it: "
                  "<Directory> walked after all", r->uri);
    apr_table_unset(r->notes, RP_NOTE_SECTION_ROUTE);
    r->per_dir_config = r->server->lookup_defaults;
    if ((rv = ap_directory_walk(r)) != OK || (rv = ap_file_walk(r)) != OK
        || (rv = ap_location_walk(r)) != OK || (rv = ap_if_walk(r)) != OK) {
        return rv;
    }
    return OK;
}

int
rp_fixups(request_rec *r)
{
    rp_dir_conf *dconf = rp_dir_config(r);
    rp_match_t *match = rp_match_get(r);

    if (dconf->route && rp_route_routable(r)) {
        if (dconf->route->excluded) {
            if (match && r->handler && !strcmp(r->handler, RP_HANDLER)) {
                r->handler = NULL;
            }
            ap_set_module_config(r->request_config, &rproxy_module, NULL);
            return DECLINED;
        }
        match = rp_route_map_prefix(r, dconf->route);
        ap_set_module_config(r->request_config, &rproxy_module, match);
        r->handler = RP_HANDLER;
    }
    return DECLINED;
}
