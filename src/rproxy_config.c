/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_config.c - configuration records (create/merge), the state of the
 * configuration being read, and the parsing helpers every directive
 * shares (the key=value option table among them). Each concern's own
 * directives live next to the code that runs them: rproxy_pool.c,
 * rproxy_route_config.c, rproxy_headers_config.c, rproxy_queue.c,
 * rproxy_sticky.c, rproxy_outlier.c, rproxy_health_config.c.
 */

#include "rproxy_private.h"
#include "rproxy_config.h"

#include "http_core.h"
#include "util_cookies.h"
#include "apr_hash.h"
#include "apr_lib.h"

rp_globals_t rp_globals;

const rp_defaults_t rp_defaults = {
    .connect_timeout = apr_time_from_sec(5),
    .header_timeout = apr_time_from_sec(60),
    .idle_timeout = apr_time_from_sec(60),
    .ka_idle = 32,
    .ka_idle_timeout = apr_time_from_sec(60),
    .tunnel_async_after = apr_time_from_msec(10),
    .balancer = "round_robin",
    .weight = 1,
    .retries = 2,
    .retry_budget = -1,
    .outlier_eject = apr_time_from_sec(30),
    .outlier_max_pct = 50,
    .queue_max = 100,
    .upgrade = "websocket",
    .hc_uri = "/",
    .hc_method = "GET",
    .hc_expect = "200-399",
    .hc_interval = apr_time_from_sec(5),
    .hc_timeout = apr_time_from_sec(2),
    .hc_rise = 2,
    .hc_fall = 3,
    .sticky_attrs = "; Path=/",
    .buf_memory = 256 * 1024,
    .buf_file = 128 * 1024 * 1024,
    .reqbuf_memory = 256 * 1024,
    .reqbuf_limit = 128 * 1024 * 1024
};

/* The <RProxyPool> being read; configuration parsing is single-threaded. */
static rproxy_pool_t *current_pool;

rproxy_pool_t *
rp_config_current_pool(void)
{
    return current_pool;
}

void
rp_config_set_current_pool(rproxy_pool_t *pool)
{
    current_pool = pool;
}

rproxy_pool_t *
rp_config_pool_scope(cmd_parms *cmd, const char **err)
{
    *err = current_pool ? NULL
           : apr_pstrcat(cmd->pool, cmd->cmd->name, " is only valid inside "
                         "<RProxyPool>", NULL);
    return current_pool;
}

void
rp_timeouts_unset(rp_timeouts_t *to)
{
    to->connect = to->header = to->idle = to->deadline = RP_UNSET;
    to->ka_idle = RP_UNSET;
    to->ka_idle_timeout = RP_UNSET;
    to->tunnel_async = RP_UNSET;
    to->tunnel_async_after = to->tunnel_idle = RP_UNSET;
}

void
rp_timeouts_merge(rp_timeouts_t *n, const rp_timeouts_t *b,
                  const rp_timeouts_t *a)
{
    RP_MERGE(n, b, a, connect);
    RP_MERGE(n, b, a, header);
    RP_MERGE(n, b, a, idle);
    RP_MERGE(n, b, a, deadline);
    RP_MERGE(n, b, a, ka_idle);
    RP_MERGE(n, b, a, ka_idle_timeout);
    RP_MERGE(n, b, a, tunnel_async);
    RP_MERGE(n, b, a, tunnel_async_after);
    RP_MERGE(n, b, a, tunnel_idle);
}

void *
rp_create_server_conf(apr_pool_t *p, server_rec *s)
{
    rp_server_conf *conf = apr_pcalloc(p, sizeof(*conf));

    (void)s;
    conf->pools = apr_array_make(p, 4, sizeof(rproxy_pool_t *));
    conf->pool_by_name = apr_hash_make(p);
    conf->prefix_routes = apr_array_make(p, 4, sizeof(rp_route_t *));
    conf->regex_routes = apr_array_make(p, 2, sizeof(rp_route_t *));
    rp_timeouts_unset(&conf->to);
    rp_buffering_unset(&conf->buf);
    rp_buffering_unset(&conf->reqbuf);
    return conf;
}

void *
rp_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    rp_server_conf *base = basev, *add = addv;
    rp_server_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->pools = add->pools;
    conf->pool_by_name = apr_hash_overlay(p, add->pool_by_name,
                                          base->pool_by_name);
    conf->prefix_routes = apr_array_append(p, add->prefix_routes,
                                           base->prefix_routes);
    conf->regex_routes = apr_array_append(p, add->regex_routes,
                                          base->regex_routes);
    rp_timeouts_merge(&conf->to, &base->to, &add->to);
    rp_buffering_merge(&conf->buf, &base->buf, &add->buf);
    rp_buffering_merge(&conf->reqbuf, &base->reqbuf, &add->reqbuf);
    RP_MERGE_PTR(conf, base, add, buffer_dir);
    return conf;
}

void *
rp_create_dir_conf(apr_pool_t *p, char *dir)
{
    rp_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    (void)dir;
    conf->preserve_host = RP_UNSET;
    conf->manage = RP_UNSET;
    conf->zero_copy = RP_UNSET;
    conf->forwarded = RP_FWD_UNSET;
    conf->hide = apr_array_make(p, 2, sizeof(const char *));
    rp_timeouts_unset(&conf->to);
    conf->retry.n = RP_UNSET;
    rp_buffering_unset(&conf->buf);
    rp_buffering_unset(&conf->reqbuf);
    return conf;
}

void *
rp_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    rp_dir_conf *base = basev, *add = addv;
    rp_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    RP_MERGE_PTR(conf, base, add, route);
    RP_MERGE(conf, base, add, preserve_host);
    RP_MERGE(conf, base, add, manage);
    RP_MERGE(conf, base, add, zero_copy);
    RP_MERGE(conf, base, add, forwarded);
    conf->hide = apr_array_append(p, base->hide, add->hide);
    RP_MERGE_PTR(conf, base, add, trusted);
    RP_MERGE_PTR(conf, base, add, request_id);
    rp_timeouts_merge(&conf->to, &base->to, &add->to);
    RP_MERGE(&conf->retry, &base->retry, &add->retry, n);
    if (add->retry.on_set) {
        conf->retry.on_set = 1;
        memcpy(conf->retry.on, add->retry.on, sizeof(conf->retry.on));
    }
    else {
        conf->retry.on_set = base->retry.on_set;
        memcpy(conf->retry.on, base->retry.on, sizeof(conf->retry.on));
    }
    rp_buffering_merge(&conf->buf, &base->buf, &add->buf);
    rp_buffering_merge(&conf->reqbuf, &base->reqbuf, &add->reqbuf);
    return conf;
}

rp_server_conf *
rp_server_config(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &rproxy_module);
}

rp_dir_conf *
rp_dir_config(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &rproxy_module);
}

int
rp_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    rp_globals.routes = apr_array_make(pconf, 8, sizeof(rp_route_t *));
    rp_globals.pools = apr_array_make(pconf, 8, sizeof(rproxy_pool_t *));
    current_pool = NULL;
    rp_globals.buffering_used = 0;
    return OK;
}

/* "5", "5s", "250ms", "2m", "1h" -> microseconds, at most a day
 * (RP_INTERVAL_MAX). Durations end up as poll() and socket timeouts in
 * milliseconds in an int (about 24.8 days): a longer one would wrap round
 * to a negative value, an infinite wait. A day is far more than any sane
 * timeout or interval. */
const char *
rp_parse_interval(const char *v, apr_interval_time_t *out)
{
    char *end;
    apr_int64_t n, unit;

    if (!v || !apr_isdigit(*v)) {
        return "expects a duration such as 500ms, 5s, 2m or 1h";
    }
    n = apr_strtoi64(v, &end, 10);
    if (!*end || !strcasecmp(end, "s")) {
        unit = APR_USEC_PER_SEC;
    }
    else if (!strcasecmp(end, "ms")) {
        unit = 1000;
    }
    else if (!strcasecmp(end, "m")) {
        unit = 60 * APR_USEC_PER_SEC;
    }
    else if (!strcasecmp(end, "h")) {
        unit = 3600 * APR_USEC_PER_SEC;
    }
    else {
        return "expects a duration such as 500ms, 5s, 2m or 1h";
    }
    /* compared before multiplying: no overflow whatever the digits */
    if (n < 0 || n > RP_INTERVAL_MAX / unit) {
        return "duration out of range (at most 1 day: 86400s, 1440m or "
               "24h)";
    }
    *out = n * unit;
    return NULL;
}

const char *
rp_parse_int(const char *v, int min, int max, int *out)
{
    char *end;
    apr_int64_t n;

    if (!v || !apr_isdigit(*v)) {
        return "not a number";
    }
    n = apr_strtoi64(v, &end, 10);
    if (*end || n < min || n > max) {
        return "out of range";
    }
    *out = (int)n;
    return NULL;
}

/* "50%" or "50" -> 50, within 0..100. */
static const char *
rp_opt_percent(apr_pool_t *p, const char *v, int *out)
{
    char *num = apr_pstrdup(p, v);
    apr_size_t len = strlen(num);

    if (len && num[len - 1] == '%') {
        num[len - 1] = '\0';
    }
    return rp_parse_int(num, 0, 100, out);
}

/* Splits "key=value"; returns the value (inside word) or NULL when there
 * is no '='; *key is word itself then, else a copy from p. */
static const char *
rp_opt_split_kv(apr_pool_t *p, const char *word, const char **key)
{
    const char *eq = strchr(word, '=');

    if (!eq) {
        *key = word;
        return NULL;
    }
    *key = apr_pstrmemdup(p, word, eq - word);
    return eq + 1;
}

int
rp_valid_name(const char *name)
{
    const char *c;

    if (!*name) {
        return 0;
    }
    for (c = name; *c; c++) {
        if (!apr_isalnum(*c) && *c != '_' && *c != '-' && *c != '.') {
            return 0;
        }
    }
    return 1;
}

/* --- key=value options --------------------------------------------------- */

/* A duration in the largest unit that divides it: "10m", "100ms". */
static const char *
rp_opt_duration(apr_pool_t *p, apr_interval_time_t t)
{
    static const struct {
        apr_interval_time_t usec;
        const char *unit;
    } units[] = {
        { apr_time_from_sec(3600), "h" }, { apr_time_from_sec(60), "m" },
        { apr_time_from_sec(1), "s" }, { apr_time_from_msec(1), "ms" }
    };
    apr_size_t i;

    for (i = 0; t && i < sizeof(units) / sizeof(units[0]); i++) {
        if (t % units[i].usec == 0) {
            return apr_psprintf(p, "%" APR_TIME_T_FMT "%s", t / units[i].usec,
                                units[i].unit);
        }
    }
    return apr_psprintf(p, "%" APR_TIME_T_FMT "us", t);
}

/* One option as the messages show it: in the list of valid ones, or, with
 * bounds, after a wrong value. */
static const char *
rp_opt_syntax(apr_pool_t *p, const rp_opt_t *opt, int bounds)
{
    switch (opt->kind) {
    case RP_OPT_FLAG:
        return opt->key;
    case RP_OPT_ONOFF:
        return apr_pstrcat(p, opt->key, "=on|off", NULL);
    case RP_OPT_INT:
        return apr_psprintf(p, "%s=%" APR_INT64_T_FMT "..%" APR_INT64_T_FMT,
                            opt->key, opt->min, opt->max);
    case RP_OPT_PERCENT:
        return apr_pstrcat(p, opt->key, "=0..100%", NULL);
    case RP_OPT_INTERVAL:
        return !bounds ? apr_pstrcat(p, opt->key, "=T", NULL)
               : apr_psprintf(p, "%s=T from %s to %s", opt->key,
                              rp_opt_duration(p, opt->min),
                              rp_opt_duration(p, opt->max));
    default:
        return apr_pstrcat(p, opt->key, "=", opt->shape, NULL);
    }
}

/* "key=T key2=1..10 flag": every option of the table. */
static const char *
rp_opt_list(apr_pool_t *p, const rp_opt_t *table)
{
    const char *list = rp_opt_syntax(p, table, 0);

    while ((++table)->key) {
        list = apr_pstrcat(p, list, " ", rp_opt_syntax(p, table, 0), NULL);
    }
    return list;
}

/* RP_OPT_ENUM: val must be one of the words of opt->shape. */
static const char *
rp_opt_enum(apr_pool_t *p, const rp_opt_t *opt, const char *val,
            const char **out)
{
    char *words = apr_pstrdup(p, opt->shape), *w, *last;
    const char *list = NULL, *prev = NULL;

    for (w = apr_strtok(words, "|", &last); w;
         w = apr_strtok(NULL, "|", &last)) {
        if (!strcmp(w, val)) {
            *out = val;
            return NULL;
        }
        if (prev) {
            list = list ? apr_pstrcat(p, list, ", ", prev, NULL) : prev;
        }
        prev = w;
    }
    return apr_pstrcat(p, "expects ", list ? list : "", list ? " or " : "",
                       prev, NULL);
}

static const rp_opt_t *
rp_opt_find(const rp_opt_t *table, const char *key)
{
    for (; table->key; table++) {
        if (!strcasecmp(table->key, key)) {
            return table;
        }
    }
    return NULL;
}

/* Parses val by opt's kind and stores it in rec; NULL or the reason. */
static const char *
rp_opt_set(cmd_parms *cmd, const rp_opt_t *opt, void *rec, const char *val)
{
    void *field = (char *)rec + opt->off;
    apr_interval_time_t t;
    const char *err;

    if ((opt->kind == RP_OPT_FLAG) != (val == NULL)) {
        return opt->kind == RP_OPT_FLAG ? "takes no value" : "needs a value";
    }
    if (opt->fn) {
        return opt->fn(cmd, rec, opt, val);
    }
    switch (opt->kind) {
    case RP_OPT_FLAG:
        *(int *)field = 1;
        return NULL;
    case RP_OPT_ONOFF:
        if (strcasecmp(val, "on") && strcasecmp(val, "off")) {
            return "expects on or off";
        }
        *(int *)field = !strcasecmp(val, "on");
        return NULL;
    case RP_OPT_INT:
        return rp_parse_int(val, (int)opt->min, (int)opt->max, field);
    case RP_OPT_PERCENT:
        return rp_opt_percent(cmd->temp_pool, val, field);
    case RP_OPT_INTERVAL:
        if ((err = rp_parse_interval(val, &t))) {
            return err;
        }
        if (t < opt->min || t > opt->max) {
            return "out of range";
        }
        *(apr_interval_time_t *)field = t;
        return NULL;
    case RP_OPT_ENUM:
        return rp_opt_enum(cmd->temp_pool, opt, val, field);
    case RP_OPT_NAME:
        if (!rp_valid_name(val)) {
            return "uses letters, digits, '_', '-' and '.' only";
        }
        *(const char **)field = val;
        return NULL;
    case RP_OPT_COOKIE:
        if (ap_cookie_check_string(val) != APR_SUCCESS) {
            return "not a valid cookie name";
        }
        /* fall through */
    default:
        *(const char **)field = val;
        return NULL;
    }
}

const char *
rp_options_parse(cmd_parms *cmd, const char *what, const rp_opt_t *table,
                 void *rec, const char *args)
{
    const char *word, *key, *val, *err;
    const rp_opt_t *opt;

    while (*(word = ap_getword_conf(cmd->pool, &args))) {
        val = rp_opt_split_kv(cmd->pool, word, &key);
        if (!(opt = rp_opt_find(table, key))) {
            return apr_psprintf(cmd->pool, "%s: unknown option '%s' (valid: "
                                "%s)", what, word,
                                rp_opt_list(cmd->temp_pool, table));
        }
        if ((err = rp_opt_set(cmd, opt, rec, val))) {
            return apr_psprintf(cmd->pool, "%s %s: %s (valid: %s)", what, word,
                                err, rp_opt_syntax(cmd->temp_pool, opt, 1));
        }
    }
    return NULL;
}
