/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_pool.c - pools, their members and balancers: <RProxyPool>,
 * RProxyMember, RProxyBalancer, the pool-wide settings (RProxyTimeouts and
 * RProxyKeepalive, which a server may also set, RProxySlowStart,
 * RProxyRetries) and the startup checks that need the whole
 * configuration: pool names used before they are defined, balancer
 * instances, address resolution.
 *
 * Errors found while parsing are returned to httpd, which prints them with
 * the file and the line. Errors found in check_config (a route naming a pool
 * that never appears) carry the file and line saved when the directive was
 * read, and stop httpd the same way, before it forks.
 */

#include "rproxy_private.h"
#include "rproxy_config.h"

#include "http_ssl.h"
#include "apr_lib.h"

#if APR_HAVE_ARPA_INET_H
#include <arpa/inet.h>
#endif
#if APR_HAVE_SYS_UN_H
#include <sys/un.h>
#endif

rproxy_pool_t *
rp_pool_new(cmd_parms *cmd, const char *name)
{
    rp_server_conf *sconf = rp_server_config(cmd->server);
    rproxy_pool_t *pool = apr_pcalloc(cmd->pool, sizeof(*pool));

    pool->name = name;
    pool->members = apr_array_make(cmd->pool, 4, sizeof(rproxy_member_t *));
    pool->lb_name = rp_defaults.balancer;
    pool->s = cmd->server;
    pool->file = cmd->directive->filename;
    pool->line = cmd->directive->line_num;
    pool->retry.n = rp_defaults.retries;
    pool->retry_budget = rp_defaults.retry_budget;
    pool->outlier_eject = rp_defaults.outlier_eject;
    pool->outlier_max_pct = rp_defaults.outlier_max_pct;
    pool->queue_max = rp_defaults.queue_max;
    rp_timeouts_unset(&pool->to);
    pool->resolve = RP_UNSET;
    rp_buffering_unset(&pool->buf);
    rp_buffering_unset(&pool->reqbuf);
    APR_ARRAY_PUSH(sconf->pools, rproxy_pool_t *) = pool;
    APR_ARRAY_PUSH(rp_globals.pools, rproxy_pool_t *) = pool;
    apr_hash_set(sconf->pool_by_name, name, APR_HASH_KEY_STRING, pool);
    return pool;
}

/* resolve=T|off (a member's or a pool's): how often a member named by a
 * host name is looked up again (rproxy_resolve.c); off: never. */
static const char *
rp_pool_resolve_opt(cmd_parms *cmd, void *rec, const rp_opt_t *opt,
                    const char *val)
{
    apr_interval_time_t *field = (void *)((char *)rec + opt->off);
    const char *err;

    (void)cmd;
    if (!strcasecmp(val, "off")) {
        *field = 0;
        return NULL;
    }
    if ((err = rp_parse_interval(val, field))) {
        return err;
    }
    if (*field < apr_time_from_sec(1) || *field > RP_INTERVAL_MAX) {
        return "expects off or a duration from 1s to 86400s";
    }
    return NULL;
}

/* <RProxyPool NAME [option ...]>: the defaults of its members */
static const rp_opt_t rp_pool_opts[] = {
    { "resolve", RP_OPT_STRING, APR_OFFSETOF(rproxy_pool_t, resolve), 0, 0,
      "T|off", rp_pool_resolve_opt },
    { NULL }
};

const char *
rp_cmd_pool_section(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    const char *endp = ap_strrchr_c(arg, '>');
    rp_server_conf *sconf = rp_server_config(cmd->server);
    rproxy_pool_t *pool;
    const char *args;
    char *name;

    if (err) {
        return err;
    }
    if (rp_config_current_pool()) {
        return "<RProxyPool> sections cannot be nested";
    }
    if (!endp) {
        return "<RProxyPool> directive missing closing '>'";
    }
    args = apr_pstrmemdup(cmd->temp_pool, arg, endp - arg);
    name = ap_getword_conf(cmd->pool, &args);
    ap_str_tolower(name);
    if (!rp_valid_name(name)) {
        return apr_psprintf(cmd->pool, "<RProxyPool %s>: a pool name uses "
                            "letters, digits, '_', '-' and '.' only", name);
    }
    pool = apr_hash_get(sconf->pool_by_name, name, APR_HASH_KEY_STRING);
    if (pool && pool->s == cmd->server) {
        return apr_psprintf(cmd->pool, "<RProxyPool %s>: already defined "
                            "at %s:%d", name, pool->file, pool->line);
    }
    pool = rp_pool_new(cmd, name);
    if ((err = rp_options_parse(cmd, apr_pstrcat(cmd->temp_pool,
                                                 "<RProxyPool ", name, ">",
                                                 NULL),
                                rp_pool_opts, pool, args))) {
        return err;
    }
    rp_config_set_current_pool(pool);
    err = ap_walk_config(cmd->directive->first_child, cmd, d);
    rp_config_set_current_pool(NULL);
    if (err) {
        return err;
    }
    if (pool->members->nelts == 0) {
        return apr_psprintf(cmd->pool, "<RProxyPool %s>: no RProxyMember "
                            "in the pool", name);
    }
    return NULL;
}

/* unix:PATH[|http://HOST[:PORT][/PREFIX]]: a member behind a Unix
 * socket, mod_proxy's form. The part after '|' gives the Host header and
 * the path prefix; without it, requests say "Host: localhost" as
 * mod_proxy's do (RProxyPreserveHost on still sends the client's). TLS
 * over the socket is refused: the socket is local, and mod_ssl's SNI and
 * certificate checks would have no host to go by. */
static const char *
rp_pool_member_uds(apr_pool_t *p, const char *url, rproxy_member_t *m)
{
#if APR_HAVE_SOCKADDR_UN
    const char *bar = ap_strchr_c(url + 5, '|');
    const char *path = bar ? apr_pstrmemdup(p, url + 5, bar - (url + 5))
                           : apr_pstrdup(p, url + 5);
    const char *err;

    if (*path != '/') {
        return "a Unix socket's path must be absolute (unix:/run/app.sock)";
    }
    if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        return apr_psprintf(p, "a Unix socket's path has at most %d bytes",
                            (int)sizeof(((struct sockaddr_un *)0)->sun_path)
                            - 1);
    }
    if (bar && (err = rp_pool_member_url(p, bar + 1, m))) {
        return apr_pstrcat(p, "after '|': ", err, NULL);
    }
    if (bar && (m->is_tls || m->uds_path)) {
        return "after '|' comes an http:// URL (TLS over a Unix socket is "
               "not supported)";
    }
    if (!bar) {
        m->scheme = "http";
        m->host = "localhost";
        m->port = 80;
        m->hostport = "localhost:80";
        m->base_path = "";
    }
    m->uds_path = path;
    m->label = apr_pstrcat(p, "unix:", path, NULL);
    m->name = bar ? apr_pstrcat(p, m->label, "|", m->name, NULL) : m->label;
    return NULL;
#else
    (void)p; (void)url; (void)m;
    return "Unix sockets are not supported on this platform";
#endif
}

/* Fills m's address fields from an http:// or https:// URL, or a
 * unix:PATH one. */
const char *
rp_pool_member_url(apr_pool_t *p, const char *url, rproxy_member_t *m)
{
    apr_uri_t uri;

    if (!strncasecmp(url, "unix:", 5)) {
        return rp_pool_member_uds(p, url, m);
    }
    if (apr_uri_parse(p, url, &uri) != APR_SUCCESS || !uri.scheme
        || !uri.hostname || !*uri.hostname) {
        return "expects a URL such as http://10.0.0.1:8080";
    }
    ap_str_tolower(uri.scheme);
    if (strcmp(uri.scheme, "http") && strcmp(uri.scheme, "https")) {
        return "URL scheme must be http or https";
    }
    if (uri.user || uri.password || uri.query || uri.fragment) {
        return "URL must not carry user info, a query or a fragment";
    }
    m->scheme = uri.scheme;
    m->is_tls = !strcmp(uri.scheme, "https");
    m->host = uri.hostname;
    m->port = uri.port ? uri.port : (m->is_tls ? 443 : 80);
    m->hostport = apr_psprintf(p, ap_strchr_c(m->host, ':') ? "[%s]:%u"
                               : "%s:%u", m->host, m->port);
    m->base_path = "";
    if (uri.path && strcmp(uri.path, "/")) {
        apr_size_t len = strlen(uri.path);
        m->base_path = apr_pstrmemdup(p, uri.path,
                                      uri.path[len - 1] == '/' ? len - 1
                                      : len);
    }
    m->name = apr_psprintf(p, "%s://%s%s", m->scheme, m->hostport,
                           m->base_path);
    m->label = m->hostport;
    return NULL;
}

/* RProxyMember URL [option ...] */
static const rp_opt_t rp_member_opts[] = {
    { "weight", RP_OPT_INT, APR_OFFSETOF(rproxy_member_t, weight), 1, 1000 },
    { "backup", RP_OPT_FLAG, APR_OFFSETOF(rproxy_member_t, backup) },
    { "drain", RP_OPT_FLAG, APR_OFFSETOF(rproxy_member_t, drain) },
    { "disabled", RP_OPT_FLAG, APR_OFFSETOF(rproxy_member_t, disabled) },
    { "max_conns", RP_OPT_INT, APR_OFFSETOF(rproxy_member_t, max_conns),
      0, 1000000 },
    { "route", RP_OPT_NAME, APR_OFFSETOF(rproxy_member_t, route), 0, 0,
      "ID" },
    { "resolve", RP_OPT_STRING, APR_OFFSETOF(rproxy_member_t, resolve),
      0, 0, "T|off", rp_pool_resolve_opt },
    { "expand", RP_OPT_INT, APR_OFFSETOF(rproxy_member_t, expand), 1,
      RP_EXPAND_MAX },
    { NULL }
};

rproxy_member_t *
rp_pool_member_add(apr_pool_t *p, rproxy_pool_t *pool)
{
    rproxy_member_t *m = apr_pcalloc(p, sizeof(*m));

    m->pool = pool;
    m->index = pool->members->nelts;
    m->weight = rp_defaults.weight;
    m->resolve = RP_UNSET;
    APR_ARRAY_PUSH(pool->members, rproxy_member_t *) = m;
    return m;
}

/* expand=N: m becomes slot 1 of N, named URL#1, and N - 1 copies follow
 * it (rproxy_resolve_expand.c gives each an address). */
static const char *
rp_pool_member_expand(cmd_parms *cmd, rproxy_pool_t *pool,
                      rproxy_member_t *m, const char *word)
{
    const char *name, *label;
    unsigned char buf[16];
    int i;

    if (m->uds_path || inet_pton(AF_INET, m->host, buf) == 1
        || inet_pton(AF_INET6, m->host, buf) == 1) {
        return apr_psprintf(cmd->pool, "RProxyMember %s: expand= needs a "
                            "host name", word);
    }
    if (m->route) {
        return apr_psprintf(cmd->pool, "RProxyMember %s: expand= and "
                            "route= do not go together (each slot would "
                            "have the same route)", word);
    }
    name = m->name;
    label = m->label;
    m->group = m;
    for (i = 1; i <= m->expand; i++) {
        rproxy_member_t *c = i == 1 ? m : rp_pool_member_add(cmd->pool, pool);
        int index = c->index;

        if (c != m) {
            *c = *m;
            c->index = index;
        }
        c->slot = i;
        c->name = apr_psprintf(cmd->pool, "%s#%d", name, i);
        c->label = apr_psprintf(cmd->pool, "%s#%d", label, i);
    }
    return NULL;
}

const char *
rp_cmd_member(cmd_parms *cmd, void *d, const char *args)
{
    const char *word, *err;
    rproxy_pool_t *pool = rp_config_pool_scope(cmd, &err);
    rproxy_member_t *m;
    int i;

    (void)d;
    if (!pool) {
        return err;
    }
    word = ap_getword_conf(cmd->temp_pool, &args);
    if (!*word) {
        return "RProxyMember: expects URL [weight=N] [backup] [drain] "
               "[disabled] [max_conns=N] [route=ID] [resolve=T|off] "
               "[expand=N]";
    }
    m = rp_pool_member_add(cmd->pool, pool);
    if ((err = rp_pool_member_url(cmd->pool, word, m))) {
        return apr_psprintf(cmd->pool, "RProxyMember %s: %s", word, err);
    }
    for (i = 0; i < m->index; i++) {
        rproxy_member_t *o = APR_ARRAY_IDX(pool->members, i,
                                           rproxy_member_t *);
        apr_size_t len = strlen(m->name);

        /* an expand= member's slots are named URL#1 .. URL#N */
        if (!strcmp(o->name, m->name) || (o->group
            && !strncmp(o->name, m->name, len) && o->name[len] == '#')) {
            return apr_psprintf(cmd->pool, "RProxyMember %s: listed twice "
                                "in pool %s", word, pool->name);
        }
    }
    if ((err = rp_options_parse(cmd, apr_pstrcat(cmd->temp_pool,
                                                 "RProxyMember ", m->name,
                                                 NULL),
                                rp_member_opts, m, args))) {
        return err;
    }
    return m->expand ? rp_pool_member_expand(cmd, pool, m, word) : NULL;
}

const char *
rp_cmd_balancer(cmd_parms *cmd, void *d, const char *args)
{
    const char *name, *err;
    rproxy_pool_t *pool = rp_config_pool_scope(cmd, &err);
    const rproxy_balancer_t *lb;

    (void)d;
    if (!pool) {
        return err;
    }
    name = ap_getword_conf(cmd->pool, &args);
    if ((err = rp_balancer_lookup(cmd->temp_pool, name, &lb))) {
        return apr_pstrcat(cmd->pool, "RProxyBalancer: ", err, NULL);
    }
    while (apr_isspace(*args)) {
        args++;
    }
    pool->lb_name = name;
    pool->lb_args = *args ? apr_pstrdup(cmd->pool, args) : NULL;
    pool->lb = lb;
    if ((lb->flags & RPROXY_LB_NEEDS_ARGS) && !pool->lb_args) {
        return apr_psprintf(cmd->pool, "RProxyBalancer %s: needs an "
                            "argument", name);
    }
    return NULL;
}

/* Settings that go to the current pool inside <RProxyPool>, else to the
 * server. */
static rp_timeouts_t *
rp_pool_timeouts_target(cmd_parms *cmd)
{
    rproxy_pool_t *pool = rp_config_current_pool();

    return pool ? &pool->to : &rp_server_config(cmd->server)->to;
}

/* RProxyTimeouts connect=T header=T idle=T deadline=T; the same keys and
 * bounds are RProxyPass options (rproxy_route_config.c) */
static const rp_opt_t rp_timeouts_opts[] = {
    { "connect", RP_OPT_INTERVAL, APR_OFFSETOF(rp_timeouts_t, connect),
      apr_time_from_msec(1), RP_INTERVAL_MAX },
    { "header", RP_OPT_INTERVAL, APR_OFFSETOF(rp_timeouts_t, header),
      apr_time_from_msec(1), RP_INTERVAL_MAX },
    { "idle", RP_OPT_INTERVAL, APR_OFFSETOF(rp_timeouts_t, idle),
      apr_time_from_msec(1), RP_INTERVAL_MAX },
    { "deadline", RP_OPT_INTERVAL, APR_OFFSETOF(rp_timeouts_t, deadline),
      apr_time_from_msec(1), RP_INTERVAL_MAX },
    { NULL }
};

/* In <Location> (and the other per-directory sections) the settings are
 * the route's, and win over the pool's (rp_policy_begin()). */
const char *
rp_cmd_timeouts(cmd_parms *cmd, void *d, const char *args)
{
    rp_timeouts_t *to = cmd->path ? &((rp_dir_conf *)d)->to
                                  : rp_pool_timeouts_target(cmd);

    return rp_options_parse(cmd, cmd->cmd->name, rp_timeouts_opts, to, args);
}

/* RProxyTunnel async=on|off async_after=T idle=T: where a pool's tunnels
 * wait (rproxy_tunnel_async.c) and for how long */
static const rp_opt_t rp_tunnel_opts[] = {
    { "async", RP_OPT_ONOFF, APR_OFFSETOF(rp_timeouts_t, tunnel_async) },
    { "async_after", RP_OPT_INTERVAL,
      APR_OFFSETOF(rp_timeouts_t, tunnel_async_after), 0,
      apr_time_from_sec(3600) },
    { "idle", RP_OPT_INTERVAL, APR_OFFSETOF(rp_timeouts_t, tunnel_idle),
      apr_time_from_msec(1), RP_INTERVAL_MAX },
    { NULL }
};

/* Like RProxyTimeouts: per server, per pool, and in <Location>. */
const char *
rp_cmd_tunnel(cmd_parms *cmd, void *d, const char *args)
{
    rp_timeouts_t *to = cmd->path ? &((rp_dir_conf *)d)->to
                                  : rp_pool_timeouts_target(cmd);

    return rp_options_parse(cmd, cmd->cmd->name, rp_tunnel_opts, to, args);
}

/* RProxyKeepalive idle=N idle_timeout=T */
static const rp_opt_t rp_keepalive_opts[] = {
    { "idle", RP_OPT_INT, APR_OFFSETOF(rp_timeouts_t, ka_idle), 0, 100000 },
    { "idle_timeout", RP_OPT_INTERVAL,
      APR_OFFSETOF(rp_timeouts_t, ka_idle_timeout), 0, RP_INTERVAL_MAX },
    { NULL }
};

const char *
rp_cmd_keepalive(cmd_parms *cmd, void *d, const char *args)
{
    (void)d;
    return rp_options_parse(cmd, cmd->cmd->name, rp_keepalive_opts,
                            rp_pool_timeouts_target(cmd), args);
}

const char *
rp_cmd_slow_start(cmd_parms *cmd, void *d, const char *arg)
{
    const char *err;
    rproxy_pool_t *pool = rp_config_pool_scope(cmd, &err);

    (void)d;
    if (!pool) {
        return err;
    }
    if ((err = rp_parse_interval(arg, &pool->slow_start))) {
        return apr_psprintf(cmd->pool, "RProxySlowStart %s: %s", arg, err);
    }
    return NULL;
}

/* --- startup checks ---------------------------------------------------- */

/* RProxyQueue waits only for members with max_conns. */
static int
rp_pool_any_capped(const rproxy_pool_t *pool)
{
    int i;

    for (i = 0; i < pool->members->nelts; i++) {
        if (APR_ARRAY_IDX(pool->members, i, rproxy_member_t *)->max_conns) {
            return 1;
        }
    }
    return 0;
}

static apr_status_t
rp_pool_resolve(apr_pool_t *pconf, server_rec *s, rproxy_pool_t *pool)
{
    rp_server_conf *sconf = rp_server_config(pool->s);
    const char *err;
    int i;

    /* pool settings, then the defining server's, then the defaults */
    rp_timeouts_merge(&pool->to, &sconf->to, &pool->to);
#define RP_DEFAULT(f, v) if (pool->to.f == RP_UNSET) pool->to.f = (v)
    RP_DEFAULT(connect, rp_defaults.connect_timeout);
    RP_DEFAULT(header, rp_defaults.header_timeout);
    RP_DEFAULT(idle, rp_defaults.idle_timeout);
    RP_DEFAULT(deadline, 0);
    RP_DEFAULT(ka_idle, rp_defaults.ka_idle);
    RP_DEFAULT(ka_idle_timeout, rp_defaults.ka_idle_timeout);
    RP_DEFAULT(tunnel_async, 1);
    RP_DEFAULT(tunnel_async_after, rp_defaults.tunnel_async_after);
#undef RP_DEFAULT

    for (i = 0; i < pool->members->nelts; i++) {
        rproxy_member_t *m = APR_ARRAY_IDX(pool->members, i,
                                           rproxy_member_t *);
        /* a socket path is only copied: the file may appear later,
         * and until it does the member fails to connect like a TCP
         * member that refuses */
        apr_status_t rv = m->uds_path
            ? apr_sockaddr_info_get(&m->addr, m->uds_path, APR_UNIX, 0, 0,
                                    pconf)
            /* expand=: the first slot looks up for all of them */
            : m->group ? (m->group == m
                          ? rp_resolve_expand_startup(pconf, s, m)
                          : APR_SUCCESS)
            : apr_sockaddr_info_get(&m->addr, m->host, APR_UNSPEC, m->port,
                                    0, pconf);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, RPLOGNO(00001)
                         RP_MEMBER_FMT "cannot resolve %s (%s:%d)",
                         RP_MEMBER_ARGS(m), m->uds_path ? m->uds_path
                         : m->host, pool->file, pool->line);
            return rv;
        }
        rp_resolve_config(m);
        if (m->is_tls && !ap_ssl_has_outgoing_handlers()) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, RPLOGNO(00002)
                         RP_MEMBER_FMT "https:// members need mod_ssl "
                         "loaded and SSLProxyEngine on (%s:%d)",
                         RP_MEMBER_ARGS(m), pool->file, pool->line);
            return APR_EINVAL;
        }
    }
    if (pool->queue_timeout && !rp_pool_any_capped(pool)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, RPLOGNO(00094)
                     "pool %s: RProxyQueue has no effect: no member has "
                     "max_conns=N (%s:%d)", pool->name, pool->file,
                     pool->line);
    }
    if (!pool->lb && (err = rp_balancer_lookup(pconf, pool->lb_name,
                                               &pool->lb))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, RPLOGNO(00003)
                     "pool %s: %s (%s:%d)", pool->name, err, pool->file,
                     pool->line);
        return APR_EINVAL;
    }
    if (rp_sticky_init(pconf, pool) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, RPLOGNO(00006)
                     "pool %s: RProxySticky: no random secret available "
                     "(%s:%d)", pool->name, pool->file, pool->line);
        return APR_EGENERAL;
    }
    if ((err = pool->lb->create(&pool->lb_state, pconf, pool,
                                pool->lb_args))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, RPLOGNO(00004)
                     "pool %s: RProxyBalancer %s: %s (%s:%d)", pool->name,
                     pool->lb_name, err, pool->file, pool->line);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

int
rp_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                server_rec *s)
{
    int i;

    (void)plog;
    (void)ptemp;
    for (i = 0; i < rp_globals.routes->nelts; i++) {
        rp_route_t *route = APR_ARRAY_IDX(rp_globals.routes, i, rp_route_t *);

        if (route->excluded || route->pool) {
            continue;
        }
        route->pool = apr_hash_get(rp_server_config(route->s)->pool_by_name,
                                   route->pool_name, APR_HASH_KEY_STRING);
        if (!route->pool) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, RPLOGNO(00005)
                         "RProxyPass %s: no <RProxyPool %s> is defined for "
                         "this server (%s:%d)", route->path, route->pool_name,
                         route->file, route->line);
            return !OK;
        }
    }
    for (i = 0; i < rp_globals.pools->nelts; i++) {
        rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, i,
                                            rproxy_pool_t *);
        if (rp_pool_resolve(pconf, s, pool) != APR_SUCCESS) {
            return !OK;
        }
    }
    return OK;
}
