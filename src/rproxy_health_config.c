/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_health_config.c - RProxyHealthCheck: what a pool's active check
 * sends, how often, and what counts as a pass. rproxy_health.c runs the
 * checks.
 */

#include "rproxy_private.h"
#include "rproxy_config.h"
#include "rproxy_health.h"

#include "mod_watchdog.h"

/* expect=200-399 or expect=200,204,300-302 */
static const char *
rp_health_parse_expect(apr_pool_t *p, const char *v, apr_array_header_t *out)
{
    char *list = apr_pstrdup(p, v), *tok, *last;

    for (tok = apr_strtok(list, ",", &last); tok;
         tok = apr_strtok(NULL, ",", &last)) {
        rp_range_t *rg = apr_array_push(out);
        char *dash = strchr(tok, '-');

        if (dash) {
            *dash++ = '\0';
        }
        if (rp_parse_int(tok, 100, 599, &rg->lo)
            || rp_parse_int(dash ? dash : tok, 100, 599, &rg->hi)
            || rg->hi < rg->lo) {
            return "expects HTTP status codes or ranges between 100 and 599 "
                   "such as 200-399 or 200,204";
        }
    }
    return out->nelts ? NULL : "expects status codes such as 200-399";
}

static const char *
rp_health_opt_expect(cmd_parms *cmd, void *rec, const rp_opt_t *opt,
                     const char *val)
{
    rp_health_t *hc = rec;

    (void)opt;
    hc->expect_text = val;
    return rp_health_parse_expect(cmd->temp_pool, val, hc->expect);
}

static const char *
rp_health_opt_uri(cmd_parms *cmd, void *rec, const rp_opt_t *opt,
                  const char *val)
{
    (void)cmd;
    (void)opt;
    if (*val != '/' || ap_strchr_c(val, ' ') || ap_strchr_c(val, '#')) {
        return "expects a path starting with '/'";
    }
    ((rp_health_t *)rec)->uri = val;
    return NULL;
}

/* host=NAME[:PORT]: the Host header, and without the port the TLS SNI */
static const char *
rp_health_opt_host(cmd_parms *cmd, void *rec, const rp_opt_t *opt,
                   const char *val)
{
    rp_health_t *hc = rec;
    const char *colon = ap_strrchr_c(val, ':');

    (void)opt;
    if (!*val || ap_strchr_c(val, '/') || ap_strchr_c(val, ' ')) {
        return "expects a host name, optionally with :port";
    }
    hc->host = val;
    hc->sni = (colon && *val != '[')
              ? apr_pstrmemdup(cmd->pool, val, colon - val) : val;
    return NULL;
}

/* RProxyHealthCheck [option ...] */
static const rp_opt_t rp_health_opts[] = {
    { "uri", RP_OPT_STRING, 0, 0, 0, "PATH", rp_health_opt_uri },
    { "interval", RP_OPT_INTERVAL, APR_OFFSETOF(rp_health_t, interval),
      AP_WD_TM_SLICE, RP_INTERVAL_MAX },
    { "timeout", RP_OPT_INTERVAL, APR_OFFSETOF(rp_health_t, timeout),
      apr_time_from_msec(1), RP_INTERVAL_MAX },
    { "rise", RP_OPT_INT, APR_OFFSETOF(rp_health_t, rise), 1, 100 },
    { "fall", RP_OPT_INT, APR_OFFSETOF(rp_health_t, fall), 1, 100 },
    { "expect", RP_OPT_STRING, 0, 0, 0, "CODES", rp_health_opt_expect },
    { "method", RP_OPT_ENUM, APR_OFFSETOF(rp_health_t, method), 0, 0,
      "GET|HEAD|OPTIONS" },
    { "host", RP_OPT_STRING, 0, 0, 0, "NAME[:PORT]", rp_health_opt_host },
    { NULL }
};

const char *
rp_cmd_health_check(cmd_parms *cmd, void *d, const char *args)
{
    const char *err;
    rproxy_pool_t *pool = rp_config_pool_scope(cmd, &err);
    rp_health_t *hc;

    (void)d;
    if (!pool) {
        return err;
    }
    if (pool->hc) {
        return "RProxyHealthCheck: only one per pool";
    }
    hc = apr_pcalloc(cmd->pool, sizeof(*hc));
    hc->uri = rp_defaults.hc_uri;
    hc->method = rp_defaults.hc_method;
    hc->interval = rp_defaults.hc_interval;
    hc->timeout = rp_defaults.hc_timeout;
    hc->rise = rp_defaults.hc_rise;
    hc->fall = rp_defaults.hc_fall;
    hc->expect = apr_array_make(cmd->pool, 2, sizeof(rp_range_t));
    hc->file = cmd->directive->filename;
    hc->line = cmd->directive->line_num;
    if ((err = rp_options_parse(cmd, cmd->cmd->name, rp_health_opts, hc,
                                args))) {
        return err;
    }
    if (!hc->expect->nelts) {
        rp_health_parse_expect(cmd->temp_pool, rp_defaults.hc_expect,
                               hc->expect);
        hc->expect_text = rp_defaults.hc_expect;
    }
    if (hc->timeout > hc->interval) {
        return apr_psprintf(cmd->pool, "RProxyHealthCheck: timeout (%"
                            APR_TIME_T_FMT "ms) must not be longer than "
                            "interval (%" APR_TIME_T_FMT "ms)",
                            apr_time_as_msec(hc->timeout),
                            apr_time_as_msec(hc->interval));
    }
    pool->hc = hc;
    return NULL;
}
