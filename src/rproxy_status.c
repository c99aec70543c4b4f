/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_status.c - the "rproxy-status" handler: every pool and member
 * with its configured role and the shared counters, as an HTML table, as
 * JSON (?json) or as Prometheus text (?prometheus, or Accept:
 * text/plain;version=0.0.4). Read-only; it takes no lock (see rproxy_shm.c
 * for what a reader can expect of the numbers).
 */

#include "rproxy_private.h"

#include "http_core.h"
#include "http_protocol.h"
#include "apr_atomic.h"

#define RP_STATUS_HANDLER   "rproxy-status"

typedef enum { FMT_HTML, FMT_JSON, FMT_PROM } fmt_e;

/* "backup" for a backup member that is up, else its state. */
static const char *
member_role(const rproxy_member_t *m)
{
    const char *state = rp_shm_state(m, apr_time_now());

    return m->backup && !strcmp(state, "up") ? "backup" : state;
}

/* JSON string body: quotes, backslashes and control characters escaped
 * as \u00XX. Names rarely need it, so the common case allocates nothing. */
static const char *
json_str(apr_pool_t *p, const char *s)
{
    const unsigned char *c;
    apr_size_t extra = 0;
    char *out, *d;

    for (c = (const unsigned char *)s; *c; c++) {
        extra += (*c == '"' || *c == '\\' || *c < 0x20) ? 5 : 0;
    }
    if (!extra) {
        return s;
    }
    d = out = apr_palloc(p, strlen(s) + extra + 1);
    for (c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\' || *c < 0x20) {
            apr_snprintf(d, 7, "\\u%04x", *c);
            d += 6;
        }
        else {
            *d++ = (char)*c;
        }
    }
    *d = '\0';
    return out;
}

static void
emit_member(request_rec *r, fmt_e fmt, const rproxy_member_t *m, int first)
{
    rp_shm_member_t *sh = m->sh;
    apr_uint64_t req = apr_atomic_read64(&sh->requests);
    apr_uint64_t fail = apr_atomic_read64(&sh->failures);
    apr_uint32_t inflight = apr_atomic_read32(&sh->inflight);
    apr_uint32_t ewma = apr_atomic_read32(&sh->ewma_us);
    apr_uint64_t ej = apr_atomic_read64(&sh->ejections);

    if (fmt == FMT_JSON) {
        ap_rprintf(r, "%s{\"name\":\"%s\",\"weight\":%d,\"role\":\"%s\","
                   "\"inflight\":%u,\"requests\":%" APR_UINT64_T_FMT ","
                   "\"failures\":%" APR_UINT64_T_FMT ",\"ejections\":%"
                   APR_UINT64_T_FMT ",\"latency_us\":%u}",
                   first ? "" : ",", json_str(r->pool, m->name), m->weight,
                   member_role(m), inflight, req, fail, ej, ewma);
    }
    else if (fmt == FMT_PROM) {
        const char *l = apr_psprintf(r->pool, "{pool=\"%s\",member=\"%s\"}",
                                     json_str(r->pool, m->pool->name),
                                     json_str(r->pool, m->name));
        ap_rprintf(r, "rproxy_member_inflight%s %u\n"
                   "rproxy_member_requests_total%s %" APR_UINT64_T_FMT "\n"
                   "rproxy_member_failures_total%s %" APR_UINT64_T_FMT "\n"
                   "rproxy_member_ejections_total%s %" APR_UINT64_T_FMT "\n"
                   "rproxy_member_latency_ewma_seconds%s %.6f\n",
                   l, inflight, l, req, l, fail, l, ej, l, ewma / 1e6);
    }
    else {
        ap_rprintf(r, "<tr><td>%s</td><td>%d</td><td>%s</td><td>%u</td>"
                   "<td>%" APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT
                   "</td><td>%.1f</td></tr>\n",
                   ap_escape_html(r->pool, m->name), m->weight,
                   member_role(m), inflight, req, fail, ewma / 1000.0);
    }
}

static void
emit_pool(request_rec *r, fmt_e fmt, const rproxy_pool_t *pool, int first)
{
    int i;

    if (fmt == FMT_JSON) {
        ap_rprintf(r, "%s{\"name\":\"%s\",\"balancer\":\"%s\",\"members\":[",
                   first ? "" : ",", json_str(r->pool, pool->name),
                   json_str(r->pool, pool->lb_name));
    }
    else if (fmt == FMT_HTML) {
        ap_rprintf(r, "<h2>pool %s (%s)</h2>\n<table border=\"1\">"
                   "<tr><th>member</th><th>weight</th><th>role</th>"
                   "<th>in flight</th><th>requests</th><th>failures</th>"
                   "<th>latency ms</th></tr>\n",
                   ap_escape_html(r->pool, pool->name),
                   ap_escape_html(r->pool, pool->lb_name));
    }
    for (i = 0; i < pool->members->nelts; i++) {
        emit_member(r, fmt, APR_ARRAY_IDX(pool->members, i,
                                          rproxy_member_t *), i == 0);
    }
    ap_rputs(fmt == FMT_JSON ? "]}" : fmt == FMT_HTML ? "</table>\n" : "", r);
}

static fmt_e
wanted_format(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");

    if (r->args && !strcmp(r->args, "json")) {
        return FMT_JSON;
    }
    if ((r->args && !strcmp(r->args, "prometheus"))
        || (accept && ap_strstr_c(accept, "version=0.0.4"))) {
        return FMT_PROM;
    }
    return FMT_HTML;
}

int
rp_status_handler(request_rec *r)
{
    static const char *const types[] = {
        "text/html; charset=utf-8", "application/json",
        "text/plain; version=0.0.4; charset=utf-8"
    };
    fmt_e fmt;
    int i;

    if (!r->handler || strcmp(r->handler, RP_STATUS_HANDLER)) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    fmt = wanted_format(r);
    ap_set_content_type(r, types[fmt]);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only) {
        return OK;
    }
    if (fmt == FMT_PROM) {
        ap_rputs("# TYPE rproxy_member_inflight gauge\n"
                 "# TYPE rproxy_member_requests_total counter\n"
                 "# TYPE rproxy_member_failures_total counter\n"
                 "# TYPE rproxy_member_ejections_total counter\n"
                 "# TYPE rproxy_member_latency_ewma_seconds gauge\n", r);
    }
    if (fmt == FMT_JSON) {
        ap_rprintf(r, "{\"generation\":%d,\"pools\":[",
                   ap_state_query(AP_SQ_CONFIG_GEN));
    }
    ap_rputs(fmt == FMT_JSON ? ""
             : fmt == FMT_HTML ? "<!DOCTYPE html>\n<html><head><title>"
               "mod_rproxy status</title></head><body>\n" : "", r);
    for (i = 0; i < rp_globals.pools->nelts; i++) {
        emit_pool(r, fmt, APR_ARRAY_IDX(rp_globals.pools, i, rproxy_pool_t *),
                  i == 0);
    }
    ap_rputs(fmt == FMT_JSON ? "]}\n" : fmt == FMT_HTML ? "</body></html>\n"
             : "", r);
    return OK;
}
