/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_config.h - what the directive parsers share besides the records
 * in rproxy_private.h: the key=value option tables and the built-in
 * defaults. Not API.
 */

#ifndef RPROXY_CONFIG_H
#define RPROXY_CONFIG_H

#include "http_config.h"
#include "apr_time.h"

/* The built-in defaults, all in one place (rp_defaults, rproxy_config.c):
 * what a setting is where the configuration does not set it. */
typedef struct {
    /* RProxyTimeouts and RProxyKeepalive, where neither the pool nor its
     * server sets them */
    apr_interval_time_t connect_timeout;
    apr_interval_time_t header_timeout;
    apr_interval_time_t idle_timeout;
    int ka_idle;
    apr_interval_time_t ka_idle_timeout;
    /* RProxyTunnel async_after= (async= is on by default) */
    apr_interval_time_t tunnel_async_after;
    /* a pool and its members */
    const char *balancer;
    int weight;
    int retries;                    /* RProxyRetries N */
    int retry_budget;               /* budget=, -1: none */
    apr_interval_time_t outlier_eject;
    int outlier_max_pct;
    int queue_max;                  /* RProxyQueue max= */
    /* RProxyPass: the Upgrade token a route tunnels */
    const char *upgrade;
    /* RProxyHealthCheck */
    const char *hc_uri;
    const char *hc_method;
    const char *hc_expect;
    apr_interval_time_t hc_interval;
    apr_interval_time_t hc_timeout;
    int hc_rise;
    int hc_fall;
    /* RProxySticky: the Path attribute when path= is not given */
    const char *sticky_attrs;
    /* RProxyBuffering memory= and file=, RProxyRequestBuffering memory=
     * and limit= (both are off by default) */
    apr_off_t buf_memory;
    apr_off_t buf_file;
    apr_off_t reqbuf_memory;
    apr_off_t reqbuf_limit;
} rp_defaults_t;

extern const rp_defaults_t rp_defaults;

/* The longest duration any directive takes (rp_parse_interval). */
#define RP_INTERVAL_MAX     apr_time_from_sec(86400)
/* RProxyQueue: the longest timeout= */
#define RP_QUEUE_TIMEOUT_MAX    apr_time_from_sec(600)

/* key=value options: every directive that takes them describes them in a
 * table of rp_opt_t (ended by an entry with key NULL) and hands the words
 * to rp_options_parse(), which looks each key up, parses the value by its
 * kind within its bounds and stores it in the directive's record, and
 * whose messages list the valid options from the same table. */
typedef enum {
    RP_OPT_FLAG,        /* a bare word: the int field becomes 1 */
    RP_OPT_ONOFF,       /* key=on|off: an int field, 1 or 0 */
    RP_OPT_INT,         /* key=N, min..max: an int field */
    RP_OPT_PERCENT,     /* key=N or N%, 0..100: an int field */
    RP_OPT_INTERVAL,    /* key=T (rp_parse_interval), min..max in
                         * microseconds: an apr_interval_time_t field */
    RP_OPT_ENUM,        /* key=one of the '|'-separated words of shape
                         * (case matters): a const char * field */
    RP_OPT_NAME,        /* key=NAME (rp_valid_name): a const char * field */
    RP_OPT_COOKIE,      /* key=a valid cookie name: a const char * field */
    RP_OPT_STRING       /* key=anything: a const char * field */
} rp_opt_kind_e;

typedef struct rp_opt_t rp_opt_t;

/* A custom option: parses val (NULL for an RP_OPT_FLAG) into rec. Returns
 * NULL or the reason the value is wrong (the caller adds the directive,
 * the word and the valid syntax). */
typedef const char *rp_opt_fn(cmd_parms *cmd, void *rec, const rp_opt_t *opt,
                              const char *val);

struct rp_opt_t {
    const char *key;            /* matched without regard to case */
    rp_opt_kind_e kind;
    apr_size_t off;             /* APR_OFFSETOF() of the field it sets */
    apr_int64_t min, max;       /* RP_OPT_INT and RP_OPT_INTERVAL bounds */
    const char *shape;          /* the value in messages: "PATH"; for
                                 * RP_OPT_ENUM the valid words */
    rp_opt_fn *fn;              /* instead of storing by kind, or NULL */
    const char *arg;            /* for fn */
};

/**
 * Parses the words left in args as options of table into rec. Words are
 * allocated from cmd->pool, so string fields may keep them.
 * @param what the directive as messages name it ("RProxyMember URL")
 * @return NULL, or a message from cmd->pool naming the directive and the
 *         word: "WHAT: unknown option 'WORD' (valid: KEY=... ...)" or
 *         "WHAT WORD: REASON (valid: KEY=... with its bounds)".
 */
const char *rp_options_parse(cmd_parms *cmd, const char *what,
                             const rp_opt_t *table, void *rec,
                             const char *args);

/* RProxyRetries N and the RProxyPass option retries=: the most tries
 * after the first */
#define RP_RETRIES_MAX      100

/* RProxyRetries on= and the RProxyPass option retry_on=: a list of 5xx
 * statuses, or none, into the rp_retry_t at opt->off in rec
 * (rproxy_policy.c). */
const char *rp_policy_retry_on_opt(cmd_parms *cmd, void *rec,
                                   const rp_opt_t *opt, const char *val);

#endif /* RPROXY_CONFIG_H */
