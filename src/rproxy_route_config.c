/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_route_config.c - the route directives: RProxyPass (with a PATH,
 * or alone inside <Location>, <LocationMatch> and <If>), RProxyPassMatch,
 * their options, and the pool made for a URL target. rproxy_route.c
 * matches requests against the routes these build.
 */

#include "rproxy_private.h"
#include "rproxy_config.h"

#include "http_core.h"

/* The pool for a URL target: one per origin and server, shared by every
 * route that names it, so the routes share its connections. */
static const char *
rp_route_implicit_pool(cmd_parms *cmd, const char *url, rp_route_t *route)
{
    rp_server_conf *sconf = rp_server_config(cmd->server);
    rproxy_member_t probe, *m;
    rproxy_pool_t *pool;
    const char *err;

    memset(&probe, 0, sizeof(probe));
    if ((err = rp_pool_member_url(cmd->pool, url, &probe))) {
        return err;
    }
    /* the URL's own path is the route's target path, kept as written;
     * for unix:PATH|http://host/path, the one after '|' */
    {
        const char *bar = probe.uds_path ? ap_strchr_c(url, '|') : NULL;
        apr_uri_t uri;

        memset(&uri, 0, sizeof(uri));
        if (!probe.uds_path || bar) {
            apr_uri_parse(cmd->temp_pool, bar ? bar + 1 : url, &uri);
        }
        route->target_path = uri.path && *uri.path
                             ? apr_pstrdup(cmd->pool, uri.path) : NULL;
    }
    route->pool_name = apr_psprintf(cmd->pool, "%s%s%s://%s",
                                    probe.uds_path ? probe.label : "",
                                    probe.uds_path ? "|" : "", probe.scheme,
                                    probe.hostport);
    pool = apr_hash_get(sconf->pool_by_name, route->pool_name,
                        APR_HASH_KEY_STRING);
    if (!pool || pool->s != cmd->server) {
        pool = rp_pool_new(cmd, route->pool_name);
        m = rp_pool_member_add(cmd->pool, pool);
        *m = probe;
        m->pool = pool;
        m->weight = rp_defaults.weight;
        m->base_path = "";
        m->name = route->pool_name;
        APR_ARRAY_IDX(pool->members, 0, rproxy_member_t *) = m;
    }
    route->pool = pool;
    return NULL;
}

/* upgrade=PROTO[,PROTO...]|none: the Upgrade tokens the route tunnels. */
static const char *
rp_route_upgrades(cmd_parms *cmd, void *rec, const rp_opt_t *opt,
                  const char *val)
{
    rp_route_t *route = rec;
    char *list = apr_pstrdup(cmd->pool, val), *tok, *last;

    (void)opt;
    apr_array_clear(route->upgrades);
    if (!strcasecmp(list, "none")) {
        return NULL;
    }
    for (tok = apr_strtok(list, ",", &last); tok;
         tok = apr_strtok(NULL, ",", &last)) {
        ap_str_tolower(tok);
        if (!strcmp(tok, "h2c")) {
            return "upgrade=h2c is never tunnelled (HTTP/2 cleartext "
                   "upgrade cannot be proxied as an opaque stream)";
        }
        APR_ARRAY_PUSH(route->upgrades, const char *) = tok;
    }
    return NULL;
}

/* RProxyPass ... TARGET [option ...] */
static const rp_opt_t rp_route_opts[] = {
    { "redirects", RP_OPT_ONOFF, APR_OFFSETOF(rp_route_t, rewrite_redirects) },
    { "cookies", RP_OPT_ONOFF, APR_OFFSETOF(rp_route_t, rewrite_cookies) },
    { "upgrade", RP_OPT_STRING, 0, 0, 0, "PROTO[,PROTO...]|none",
      rp_route_upgrades },
    /* RProxyBuffering and RProxyRequestBuffering, on or off for this
     * route alone (their sizes come from the <Location>, pool or server) */
    { "buffering", RP_OPT_ONOFF, APR_OFFSETOF(rp_route_t, buffering) },
    { "request_buffering", RP_OPT_ONOFF,
      APR_OFFSETOF(rp_route_t, request_buffering) },
    /* RProxyTimeouts' keys and bounds, for this route alone */
#define RP_ROUTE_TO(key, f) { key, RP_OPT_INTERVAL, \
        APR_OFFSETOF(rp_route_t, to) + APR_OFFSETOF(rp_timeouts_t, f), \
        apr_time_from_msec(1), RP_INTERVAL_MAX }
    RP_ROUTE_TO("connect", connect),
    RP_ROUTE_TO("header", header),
    RP_ROUTE_TO("idle", idle),
    RP_ROUTE_TO("deadline", deadline),
#undef RP_ROUTE_TO
    /* RProxyRetries N and on=, for this route alone (the budget stays
     * the pool's) */
    { "retries", RP_OPT_INT, APR_OFFSETOF(rp_route_t, retry)
      + APR_OFFSETOF(rp_retry_t, n), 0, RP_RETRIES_MAX },
    { "retry_on", RP_OPT_STRING, APR_OFFSETOF(rp_route_t, retry), 0, 0,
      "STATUS[,STATUS...]|none", rp_policy_retry_on_opt },
    { NULL }
};

/* Parses "TARGET [key=value ...]" into a new route; what is the
 * directive as messages name it ("RProxyPass /app"). */
static const char *
rp_route_parse(cmd_parms *cmd, const char *what, const char *target,
               const char *args, rp_route_t **out)
{
    rp_route_t *route = apr_pcalloc(cmd->pool, sizeof(*route));
    const char *err = NULL;

    route->rewrite_redirects = 1;
    route->rewrite_cookies = 1;
    rp_timeouts_unset(&route->to);
    route->retry.n = RP_UNSET;
    route->buffering = route->request_buffering = RP_UNSET;
    route->upgrades = apr_array_make(cmd->pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(route->upgrades, const char *) = rp_defaults.upgrade;
    route->s = cmd->server;
    route->file = cmd->directive->filename;
    route->line = cmd->directive->line_num;
    if (!strcmp(target, "!")) {
        route->excluded = 1;
    }
    else if (ap_strstr_c(target, "://")
             || !strncasecmp(target, "unix:", 5)) {
        err = rp_route_implicit_pool(cmd, target, route);
    }
    else {
        const char *slash = ap_strchr_c(target, '/');
        char *name = slash ? apr_pstrmemdup(cmd->pool, target, slash - target)
                           : apr_pstrdup(cmd->pool, target);

        ap_str_tolower(name);
        if (!rp_valid_name(name)) {
            err = "expects a pool name, a URL (http://host:port/prefix, "
                  "unix:/path|http://host/prefix) or '!'";
        }
        route->pool_name = name;
        route->target_path = slash ? apr_pstrdup(cmd->pool, slash) : NULL;
    }
    if (err) {
        return apr_psprintf(cmd->pool, "%s: TARGET '%s': %s", what, target,
                            err);
    }
    if ((err = rp_options_parse(cmd, what, rp_route_opts, route, args))) {
        return err;
    }
    if (route->buffering == 1) {
        rp_globals.buffering_used |= RP_BUF_USED_RESPONSE;
    }
    if (route->request_buffering == 1) {
        rp_globals.buffering_used |= RP_BUF_USED_REQUEST;
    }
    APR_ARRAY_PUSH(rp_globals.routes, rp_route_t *) = route;
    *out = route;
    return NULL;
}

/* RProxyPass is a per-directory directive inside <Location>,
 * <LocationMatch> and <If>, and a server one elsewhere. */
static const char *
rp_route_check_section(cmd_parms *cmd)
{
    const ap_directive_t *dir;

    for (dir = cmd->directive->parent; dir; dir = dir->parent) {
        if (!strncasecmp(dir->directive, "<Directory", 10)
            || !strncasecmp(dir->directive, "<Files", 6)
            || !strncasecmp(dir->directive, "<Proxy", 6)) {
            return "is valid in <Location>, <LocationMatch> and <If>, "
                   "not in <Directory>, <Files> or <Proxy>";
        }
    }
    return NULL;
}

/* The path of the nearest enclosing plain <Location PATH> (an <If> inside
 * it included): the prefix a section route replaces. NULL for
 * <LocationMatch>, <Location ~ RE> and sections outside any <Location>. */
static const char *
rp_route_location_prefix(cmd_parms *cmd)
{
    const ap_directive_t *dir;

    for (dir = cmd->directive->parent; dir; dir = dir->parent) {
        if (!strcasecmp(dir->directive, "<Location")) {
            const char *args = dir->args;
            char *path = ap_getword_conf(cmd->pool, &args);
            apr_size_t len = strlen(path);

            if (len && path[len - 1] == '>') {
                path[--len] = '\0';
            }
            return *path == '/' ? path : NULL;
        }
        if (!strcasecmp(dir->directive, "<LocationMatch")) {
            return NULL;
        }
    }
    return NULL;
}

const char *
rp_cmd_pass(cmd_parms *cmd, void *d, const char *args)
{
    rp_dir_conf *dconf = d;
    const char *first = ap_getword_conf(cmd->pool, &args);
    const char *err, *target;
    rp_route_t *route;

    if (!*first) {
        return "RProxyPass: expects PATH TARGET (or TARGET inside "
               "<Location>)";
    }
    if (cmd->path) {
        if ((err = rp_route_check_section(cmd))) {
            return apr_pstrcat(cmd->pool, "RProxyPass ", err, NULL);
        }
        if ((err = rp_route_parse(cmd, "RProxyPass", first, args, &route))) {
            return err;
        }
        route->path = cmd->path;
        route->prefix = rp_route_location_prefix(cmd);
        dconf->route = route;
        return NULL;
    }
    if (*first != '/') {
        return apr_psprintf(cmd->pool, "RProxyPass: PATH '%s' must start "
                            "with '/' (TARGET alone is only valid inside "
                            "<Location>)", first);
    }
    target = ap_getword_conf(cmd->pool, &args);
    if (!*target) {
        return apr_psprintf(cmd->pool, "RProxyPass %s: expects a TARGET "
                            "after the PATH", first);
    }
    if ((err = rp_route_parse(cmd, apr_pstrcat(cmd->temp_pool, "RProxyPass ",
                                            first, NULL),
                           target, args, &route))) {
        return err;
    }
    route->path = route->prefix = first;
    {
        apr_array_header_t *own = rp_server_config(cmd->server)->prefix_routes;
        int i;

        for (i = 0; i < own->nelts; i++) {
            rp_route_t *o = APR_ARRAY_IDX(own, i, rp_route_t *);

            if (o->s == cmd->server && !strcmp(o->path, first)) {
                return apr_psprintf(cmd->pool, "RProxyPass %s: this path is "
                                    "already routed at %s:%d", first,
                                    o->file, o->line);
            }
        }
    }
    APR_ARRAY_PUSH(rp_server_config(cmd->server)->prefix_routes,
                   rp_route_t *) = route;
    return NULL;
}

const char *
rp_cmd_pass_match(cmd_parms *cmd, void *d, const char *args)
{
    const char *re = ap_getword_conf(cmd->pool, &args);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    const char *target;
    rp_route_t *route;

    (void)d;
    if (err) {
        return err;
    }
    if (!*re) {
        return "RProxyPassMatch: expects REGEX TARGET";
    }
    target = ap_getword_conf(cmd->pool, &args);
    if (!*target) {
        return "RProxyPassMatch: expects REGEX TARGET";
    }
    if ((err = rp_route_parse(cmd, apr_pstrcat(cmd->temp_pool,
                                            "RProxyPassMatch ", re, NULL),
                           target, args, &route))) {
        return err;
    }
    route->path = re;
    route->regex = ap_pregcomp(cmd->pool, re, AP_REG_EXTENDED);
    if (!route->regex) {
        return apr_psprintf(cmd->pool, "RProxyPassMatch: '%s' is not a "
                            "valid regular expression", re);
    }
    APR_ARRAY_PUSH(rp_server_config(cmd->server)->regex_routes,
                   rp_route_t *) = route;
    return NULL;
}
