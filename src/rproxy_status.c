/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_status.c - the "rproxy-status" handler: every pool and member
 * with its role and the shared counters (tries, failures, bytes, latency
 * as a smoothed value and as a histogram, health checks), as an HTML
 * page (rproxy_status_html.c), as JSON (?json) or as Prometheus text
 * (?prometheus, or Accept: text/plain;version=0.0.4), where each family
 * comes once, with every member's samples, as the format requires.
 * Read-only; it takes no lock (see rproxy_shm.c for what a reader can
 * expect of the numbers). A POST goes to runtime management
 * (rproxy_manage.c).
 */

#include "rproxy_private.h"

#include "http_core.h"
#include "http_protocol.h"
#include "apr_atomic.h"

#define RP_STATUS_HANDLER   "rproxy-status"

typedef enum { FMT_HTML, FMT_JSON, FMT_PROM } fmt_e;

/* One member's numbers (rp_shm_snapshot reads each field once), so that
 * every format (and every Prometheus family, the histogram's buckets and
 * its _count) agrees with itself. */
typedef struct {
    const rproxy_member_t *m;
    const char *labels;             /* Prometheus, set by emit_prometheus */
    apr_uint64_t up;                /* 1: up, or backup and up */
    apr_uint64_t weight, config_weight;
    rp_member_snap_t snap;
} snap_t;

/* The state as the page words it ("role"), by rp_member_state_e. */
static const char *const state_words[] = {
    "up", "backup", "draining", "ejected", "health-failed", "disabled",
    "absent"
};

const char *
rp_status_admin_word(apr_uint32_t admin)
{
    return (admin & RP_ADMIN_DISABLED) ? "disabled"
           : (admin & RP_ADMIN_DRAIN) ? "draining" : "enabled";
}

static void
snap_read(snap_t *s, const rproxy_member_t *m, apr_time_t now)
{
    s->m = m;
    rp_shm_snapshot(m, now, &s->snap);
    s->up = s->snap.state == RP_MEMBER_UP || s->snap.state == RP_MEMBER_BACKUP;
    s->weight = (apr_uint64_t)s->snap.weight;
    s->config_weight = (apr_uint64_t)m->weight;
}

/* Every member of every pool, in configuration order. */
static snap_t *
snap_all(request_rec *r, int *count)
{
    apr_time_t now = apr_time_now();
    snap_t *snaps;
    int i, j, n = 0;

    for (i = 0; i < rp_globals.pools->nelts; i++) {
        n += APR_ARRAY_IDX(rp_globals.pools, i, rproxy_pool_t *)
                 ->members->nelts;
    }
    snaps = apr_pcalloc(r->pool, (n ? n : 1) * sizeof(*snaps));
    n = 0;
    for (i = 0; i < rp_globals.pools->nelts; i++) {
        rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, i,
                                            rproxy_pool_t *);

        for (j = 0; j < pool->members->nelts; j++) {
            snap_read(&snaps[n++], APR_ARRAY_IDX(pool->members, j,
                                                 rproxy_member_t *), now);
        }
    }
    *count = n;
    return snaps;
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

/* "latency_histogram": the bounds in ms (null: the last bucket has none)
 * and the samples per bucket, not cumulative. */
static void
json_histogram(request_rec *r, const snap_t *s)
{
    int i;

    ap_rputs(",\"latency_histogram\":{\"le_ms\":[", r);
    for (i = 0; i < RP_LAT_NBUCKETS - 1; i++) {
        ap_rprintf(r, "%u,", rp_lat_bounds_ms[i]);
    }
    ap_rputs("null],\"counts\":[", r);
    for (i = 0; i < RP_LAT_NBUCKETS; i++) {
        ap_rprintf(r, "%s%" APR_UINT64_T_FMT, i ? "," : "",
                   s->snap.lat_hist[i]);
    }
    ap_rprintf(r, "],\"count\":%" APR_UINT64_T_FMT ",\"sum_us\":%"
               APR_UINT64_T_FMT "}", s->snap.lat_count, s->snap.lat_sum_us);
}

/* The address in use and when the resolver last looked it up (seconds
 * since the epoch, null: not since startup). */
static void
json_address(request_rec *r, const rproxy_member_t *m)
{
    apr_time_t at;
    const char *addr = rp_resolve_describe(m, r->pool, &at);

    ap_rprintf(r, ",\"address\":\"%s\",\"resolved_at\":",
               json_str(r->pool, addr));
    if (at) {
        ap_rprintf(r, "%" APR_TIME_T_FMT, apr_time_sec(at));
    }
    else {
        ap_rputs("null", r);
    }
}

static void
json_member(request_rec *r, const snap_t *s, int first)
{
    ap_rprintf(r, "%s{\"name\":\"%s\",\"weight\":%d,\"config_weight\":%d,"
               "\"admin\":\"%s\",\"role\":\"%s\","
               "\"inflight\":%" APR_UINT64_T_FMT ",\"requests\":%"
               APR_UINT64_T_FMT ",\"failures\":%" APR_UINT64_T_FMT
               ",\"ejections\":%" APR_UINT64_T_FMT ",\"latency_us\":%"
               APR_UINT64_T_FMT ",\"bytes_in\":%" APR_UINT64_T_FMT
               ",\"bytes_out\":%" APR_UINT64_T_FMT,
               first ? "" : ",", json_str(r->pool, s->m->name),
               s->snap.weight, s->m->weight,
               rp_status_admin_word(s->snap.admin), state_words[s->snap.state], s->snap.inflight,
               s->snap.requests, s->snap.failures, s->snap.ejections,
               s->snap.ewma_us, s->snap.bytes_in, s->snap.bytes_out);
    json_histogram(r, s);
    ap_rprintf(r, ",\"hc\":{\"checks\":%" APR_UINT64_T_FMT ",\"failed\":%"
               APR_UINT64_T_FMT ",\"last_status\":%" APR_UINT64_T_FMT "}",
               s->snap.hc_checks, s->snap.hc_failed, s->snap.hc_status);
    json_address(r, s->m);
    ap_rputs("}", r);
}

void
rp_status_json_member(request_rec *r, const rproxy_member_t *m)
{
    snap_t s;

    snap_read(&s, m, apr_time_now());
    json_member(r, &s, 1);
}

/* JSON: pool by pool, with the pool's members' snapshots. */
static void
emit_pools(request_rec *r, const snap_t *snaps)
{
    int i, j, k = 0;

    for (i = 0; i < rp_globals.pools->nelts; i++) {
        const rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, i,
                                                  rproxy_pool_t *);

        ap_rprintf(r, "%s{\"name\":\"%s\",\"balancer\":\"%s\","
                   "\"queued\":%u,\"body_bytes\":{\"spliced\":%"
                   APR_UINT64_T_FMT ",\"copied\":%" APR_UINT64_T_FMT
                   ",\"request_spliced\":%" APR_UINT64_T_FMT
                   ",\"request_copied\":%" APR_UINT64_T_FMT
                   ",\"tunnel_spliced\":%" APR_UINT64_T_FMT "},"
                   "\"tunnels\":{\"parked\":%u,\"waiter_moves\":%"
                   APR_UINT64_T_FMT ",\"worker_wakes\":%" APR_UINT64_T_FMT
                   "},",
                   i ? "," : "",
                   json_str(r->pool, pool->name),
                   json_str(r->pool, pool->lb_name),
                   apr_atomic_read32(&pool->sh->queued),
                   apr_atomic_read64(&pool->sh->body_spliced),
                   apr_atomic_read64(&pool->sh->body_copied),
                   apr_atomic_read64(&pool->sh->req_body_spliced),
                   apr_atomic_read64(&pool->sh->req_body_copied),
                   apr_atomic_read64(&pool->sh->tunnel_spliced),
                   apr_atomic_read32(&pool->sh->tunnel_parked),
                   apr_atomic_read64(&pool->sh->tunnel_waiter_moves),
                   apr_atomic_read64(&pool->sh->tunnel_worker_wakes));
        rp_buffer_status_json(r, pool);
        ap_rputs("\"members\":[", r);
        for (j = 0; j < pool->members->nelts; j++, k++) {
            json_member(r, &snaps[k], j == 0);
        }
        ap_rputs("]}", r);
    }
}

/* Prometheus families with one sample per member, in the order shown. */
static const struct {
    const char *name;
    const char *type;
    const char *help;
    apr_size_t off;             /* an apr_uint64_t in snap_t */
    double scale;               /* 0: the integer as it is */
} prom_scalars[] = {
    { "rproxy_member_up", "gauge",
      "1 while the member takes requests (state up, or backup and up)",
      APR_OFFSETOF(snap_t, up), 0 },
    { "rproxy_member_weight", "gauge",
      "Weight in force (runtime or configured, slow start applied)",
      APR_OFFSETOF(snap_t, weight), 0 },
    { "rproxy_member_config_weight", "gauge", "Configured weight",
      APR_OFFSETOF(snap_t, config_weight), 0 },
    { "rproxy_member_inflight", "gauge", "Tries in flight to the member",
      APR_OFFSETOF(snap_t, snap.inflight), 0 },
    { "rproxy_member_requests_total", "counter", "Tries ended on the member",
      APR_OFFSETOF(snap_t, snap.requests), 0 },
    { "rproxy_member_failures_total", "counter", "Tries that failed",
      APR_OFFSETOF(snap_t, snap.failures), 0 },
    { "rproxy_member_ejections_total", "counter",
      "Times the member was ejected",
      APR_OFFSETOF(snap_t, snap.ejections), 0 },
    { "rproxy_member_latency_ewma_seconds", "gauge",
      "Peak EWMA of the try latency",
      APR_OFFSETOF(snap_t, snap.ewma_us), 1e-6 },
    { "rproxy_member_bytes_in_total", "counter",
      "Response bytes read from the member (HTTP/1.1 framing included)",
      APR_OFFSETOF(snap_t, snap.bytes_in), 0 },
    { "rproxy_member_bytes_out_total", "counter",
      "Request bytes written to the member (HTTP/1.1 framing included)",
      APR_OFFSETOF(snap_t, snap.bytes_out), 0 },
    { "rproxy_member_health_checks_total", "counter",
      "Active health checks run", APR_OFFSETOF(snap_t, snap.hc_checks), 0 },
    { "rproxy_member_health_check_failures_total", "counter",
      "Active health checks failed", APR_OFFSETOF(snap_t, snap.hc_failed), 0 }
};

#define PROM_HIST   "rproxy_member_latency_seconds"

/* A bound in ms as seconds, without trailing zeros: "0.025", "2.5", "10"
 * (apr_snprintf's %g would drop the leading zero). */
static const char *
le_seconds(apr_pool_t *p, apr_uint32_t ms)
{
    char *s = apr_psprintf(p, "%u.%03u", ms / 1000, ms % 1000);
    apr_size_t len = strlen(s);

    while (s[len - 1] == '0') {
        s[--len] = '\0';
    }
    if (s[len - 1] == '.') {
        s[len - 1] = '\0';
    }
    return s;
}

/* Cumulative buckets, le in seconds, then _sum and _count. */
static void
prom_histogram(request_rec *r, const snap_t *snaps, int n)
{
    const char *le[RP_LAT_NBUCKETS];
    apr_uint64_t cum;
    int i, k;

    for (i = 0; i < RP_LAT_NBUCKETS - 1; i++) {
        le[i] = le_seconds(r->pool, rp_lat_bounds_ms[i]);
    }
    le[i] = "+Inf";

    ap_rputs("# HELP " PROM_HIST " Try latency from the pick to the end of "
             "the try, of tries that ended OK or timed out\n"
             "# TYPE " PROM_HIST " histogram\n", r);
    for (k = 0; k < n; k++) {
        const snap_t *s = &snaps[k];

        for (i = 0, cum = 0; i < RP_LAT_NBUCKETS; i++) {
            cum += s->snap.lat_hist[i];
            ap_rprintf(r, PROM_HIST "_bucket{%s,le=\"%s\"} %"
                       APR_UINT64_T_FMT "\n", s->labels, le[i], cum);
        }
        ap_rprintf(r, PROM_HIST "_sum{%s} %.6f\n" PROM_HIST "_count{%s} %"
                   APR_UINT64_T_FMT "\n", s->labels, s->snap.lat_sum_us / 1e6,
                   s->labels, s->snap.lat_count);
    }
}

/* A label value as the text format wants it: backslash, double quote and
 * newline escaped, nothing else. */
static const char *
prom_label(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, 2 * strlen(s) + 1), *d = out;

    for (; *s; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n') {
            *d++ = '\\';
            *d++ = *s == '\n' ? 'n' : *s;
        }
        else {
            *d++ = *s;
        }
    }
    *d = '\0';
    return out;
}

/* One sample per member and admin state, 1 for the state it is in (the
 * kube-state-metrics way), so that a query can select on the label. */
static void
prom_admin(request_rec *r, const snap_t *snaps, int n)
{
    static const char *const words[] = { "enabled", "draining", "disabled" };
    int k, w;

    ap_rputs("# HELP rproxy_member_admin_state Administrative state "
             "(configured, or set by RProxyStatusManage)\n"
             "# TYPE rproxy_member_admin_state gauge\n", r);
    for (k = 0; k < n; k++) {
        const char *now = rp_status_admin_word(snaps[k].snap.admin);

        for (w = 0; w < 3; w++) {
            ap_rprintf(r, "rproxy_member_admin_state{%s,state=\"%s\"} %d\n",
                       snaps[k].labels, words[w], !strcmp(now, words[w]));
        }
    }
}

/* The async tunnels per pool (rproxy_tunnel_async.c): waiting without
 * a worker now, and what their wake-ups were. */
static void
prom_tunnels(request_rec *r)
{
    int k;

    ap_rputs("# HELP rproxy_pool_tunnels_parked Upgrade tunnels waiting "
             "without a worker now\n"
             "# TYPE rproxy_pool_tunnels_parked gauge\n", r);
    for (k = 0; k < rp_globals.pools->nelts; k++) {
        const rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, k,
                                                  rproxy_pool_t *);

        ap_rprintf(r, "rproxy_pool_tunnels_parked{pool=\"%s\"} %u\n",
                   prom_label(r->pool, pool->name),
                   apr_atomic_read32(&pool->sh->tunnel_parked));
    }
    ap_rputs("# HELP rproxy_pool_tunnel_wakes_total Input on a waiting "
             "tunnel: moved by the waiting thread itself (waiter) or "
             "handed to a worker (worker; also idle timeouts and hang-ups)\n"
             "# TYPE rproxy_pool_tunnel_wakes_total counter\n", r);
    for (k = 0; k < rp_globals.pools->nelts; k++) {
        const rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, k,
                                                  rproxy_pool_t *);
        const char *name = prom_label(r->pool, pool->name);

        ap_rprintf(r, "rproxy_pool_tunnel_wakes_total{pool=\"%s\","
                   "by=\"waiter\"} %" APR_UINT64_T_FMT "\n", name,
                   apr_atomic_read64(&pool->sh->tunnel_waiter_moves));
        ap_rprintf(r, "rproxy_pool_tunnel_wakes_total{pool=\"%s\","
                   "by=\"worker\"} %" APR_UINT64_T_FMT "\n", name,
                   apr_atomic_read64(&pool->sh->tunnel_worker_wakes));
    }
}

/* Text exposition 0.0.4: each family once, with its HELP and TYPE, then
 * every member's sample. */
static void
emit_prometheus(request_rec *r, snap_t *snaps, int n)
{
    apr_size_t f;
    int k;

    for (k = 0; k < n; k++) {
        snaps[k].labels = apr_psprintf(r->pool, "pool=\"%s\",member=\"%s\"",
                                       prom_label(r->pool,
                                                  snaps[k].m->pool->name),
                                       prom_label(r->pool, snaps[k].m->name));
    }
    ap_rputs("# HELP rproxy_pool_queued Requests waiting in the pool's "
             "RProxyQueue\n# TYPE rproxy_pool_queued gauge\n", r);
    for (k = 0; k < rp_globals.pools->nelts; k++) {
        const rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, k,
                                                  rproxy_pool_t *);

        ap_rprintf(r, "rproxy_pool_queued{pool=\"%s\"} %u\n",
                   prom_label(r->pool, pool->name),
                   apr_atomic_read32(&pool->sh->queued));
    }
    rp_buffer_status_prom(r, prom_label);
    ap_rputs("# HELP rproxy_pool_body_bytes_total Body bytes between the "
             "pool's members and clients, moved in the kernel (spliced) "
             "or through httpd's buffers (copied); tunnels: spliced only\n"
             "# TYPE rproxy_pool_body_bytes_total counter\n", r);
    for (k = 0; k < rp_globals.pools->nelts; k++) {
        const rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, k,
                                                  rproxy_pool_t *);
        const char *name = prom_label(r->pool, pool->name);
        const char *fmt = "rproxy_pool_body_bytes_total{pool=\"%s\","
                          "direction=\"%s\",path=\"%s\"} %"
                          APR_UINT64_T_FMT "\n";

        ap_rprintf(r, fmt, name, "response", "spliced",
                   apr_atomic_read64(&pool->sh->body_spliced));
        ap_rprintf(r, fmt, name, "response", "copied",
                   apr_atomic_read64(&pool->sh->body_copied));
        ap_rprintf(r, fmt, name, "request", "spliced",
                   apr_atomic_read64(&pool->sh->req_body_spliced));
        ap_rprintf(r, fmt, name, "request", "copied",
                   apr_atomic_read64(&pool->sh->req_body_copied));
        ap_rprintf(r, fmt, name, "tunnel", "spliced",
                   apr_atomic_read64(&pool->sh->tunnel_spliced));
    }
    prom_tunnels(r);
    for (f = 0; f < sizeof(prom_scalars) / sizeof(prom_scalars[0]); f++) {
        ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", prom_scalars[f].name,
                   prom_scalars[f].help, prom_scalars[f].name,
                   prom_scalars[f].type);
        for (k = 0; k < n; k++) {
            apr_uint64_t v = *(const apr_uint64_t *)
                ((const char *)&snaps[k] + prom_scalars[f].off);

            if (prom_scalars[f].scale) {
                ap_rprintf(r, "%s{%s} %.6f\n", prom_scalars[f].name,
                           snaps[k].labels, v * prom_scalars[f].scale);
            }
            else {
                ap_rprintf(r, "%s{%s} %" APR_UINT64_T_FMT "\n",
                           prom_scalars[f].name, snaps[k].labels, v);
            }
        }
    }
    prom_admin(r, snaps, n);
    prom_histogram(r, snaps, n);
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
    snap_t *snaps;
    fmt_e fmt;
    int n;

    if (!r->handler || strcmp(r->handler, RP_STATUS_HANDLER)) {
        return DECLINED;
    }
    if (r->method_number == M_POST) {
        return rp_manage_handle(r);
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
    if (fmt == FMT_HTML) {
        rp_status_html(r);
        return OK;
    }
    snaps = snap_all(r, &n);
    if (fmt == FMT_PROM) {
        emit_prometheus(r, snaps, n);
    }
    else {
        ap_rprintf(r, "{\"generation\":%d,", ap_state_query(AP_SQ_CONFIG_GEN));
        if (rp_manage_enabled(r)) {
            ap_rprintf(r, "\"nonce\":\"%s\",", rp_manage_nonce(r->server));
        }
        ap_rputs("\"pools\":[", r);
        emit_pools(r, snaps);
        ap_rputs("]}\n", r);
    }
    return OK;
}
