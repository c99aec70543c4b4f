/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_health.h - an RProxyHealthCheck as rproxy_health_config.c reads
 * it and rproxy_health.c runs it. Not API.
 */

#ifndef RPROXY_HEALTH_H
#define RPROXY_HEALTH_H

#include "apr_tables.h"
#include "apr_time.h"

/* A range of HTTP status codes, lo..hi inclusive. */
typedef struct {
    int lo, hi;
} rp_range_t;

/* Read at startup, then only read, by the prober. */
struct rp_health_t {
    const char *uri;
    const char *method;
    const char *host;               /* Host header; NULL: the member's */
    const char *sni;                /* host without port, for TLS */
    apr_interval_time_t interval;
    apr_interval_time_t timeout;
    int rise;
    int fall;
    apr_array_header_t *expect;     /* rp_range_t */
    const char *expect_text;
    const char *file;               /* where the directive is */
    int line;
};

#endif /* RPROXY_HEALTH_H */
