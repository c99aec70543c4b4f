/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_status_html.c - the status page as people read it: one
 * self-contained HTML document (inline CSS and SVG, no external asset, so
 * that it works where the proxy has no route to the internet), readable
 * without JavaScript; the small script only sorts tables by a column.
 * Refresh is a meta refresh (?refresh=N, as mod_status does it).
 *
 * Per pool: a summary line, a sparkline of requests/s and p99 over the
 * last five minutes (rproxy_history.c), and a row per member coloured by
 * its state. With RProxyStatusManage On (rproxy_manage.c) each row carries
 * small forms that POST to the page's own URL; the answer comes back here
 * as ?result=TEXT, shown in a banner. Every name is HTML-escaped: a member
 * URL's path may hold any character.
 */

#include "rproxy_private.h"
#include "rproxy_history.h"

#include "http_core.h"
#include "http_protocol.h"
#include "apr_atomic.h"

#define REFRESH_MAX     3600    /* seconds: a bound, as for mod_status */
#define SPARK_STEP      5       /* seconds per sparkline point */
#define SPARK_POINTS    (RP_HIST_POOL_SECS / SPARK_STEP)
#define SPARK_W         300
#define SPARK_H         40

/* By rp_member_state_e, and "ramping" last: the word and the CSS class. */
static const char *const state_words[] = {
    "up", "backup", "draining", "ejected", "health-failed", "disabled",
    "absent", "ramping"
};
#define STATE_RAMPING   7

static const char page_css[] =
    "body{font:13px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;"
    "background:#f4f6f9}"
    "header{background:#1d2330;color:#fff;padding:10px 20px}"
    "header h1{font-size:18px;margin:0}header a{color:#9cc3ff}"
    ".meta{margin:2px 0 0;color:#c5ccd8;font-size:12px}"
    "main{padding:12px 20px}"
    ".banner{background:#fff7d6;border:1px solid #e3c65a;padding:8px 12px;"
    "border-radius:4px}"
    ".legend span{margin-right:6px}"
    ".pool{background:#fff;border:1px solid #d8dde6;border-radius:6px;"
    "margin:14px 0;padding:10px 14px;overflow-x:auto}"
    ".pool h2{font-size:16px;margin:0 0 4px}.pool h2 small{color:#667;"
    "font-weight:normal}"
    ".summary{margin:0 0 6px}.summary b{margin-right:14px}"
    ".spark{background:#fafbfd;border:1px solid #e4e8ef;vertical-align:"
    "middle}.spark path{fill:none;stroke-linecap:round;"
    "stroke-linejoin:round}.spark .rps{stroke:#2a6fdb;stroke-width:1.5}"
    ".spark .p99{stroke:#d9822b;stroke-width:1.5}"
    ".sparkkey{font-size:12px;color:#556;margin-left:8px}"
    "table{border-collapse:collapse;width:100%;margin-top:8px;"
    "font-variant-numeric:tabular-nums}"
    "th,td{padding:3px 6px;border-bottom:1px solid #e4e8ef;text-align:right;"
    "white-space:nowrap}td.hc{text-align:left;white-space:normal}"
    "th{background:#eef1f6;cursor:pointer;"
    "user-select:none}td.name,th.name{text-align:left}"
    "tr.member td:first-child{border-left:5px solid var(--c)}"
    ".chip{display:inline-block;padding:0 7px;border-radius:9px;color:#fff;"
    "background:var(--c);font-size:12px}"
    ".st-up{--c:#2e9d4f}.st-backup{--c:#3b7dd8}.st-ramping{--c:#19a3a3}"
    ".st-draining{--c:#e0a100}.st-ejected{--c:#e8590c}"
    ".st-health-failed{--c:#d42a2a}.st-disabled{--c:#7a8290}"
    ".st-absent{--c:#b8bec9}"
    "form.act{display:inline;margin:0 2px}"
    "form.act button{font-size:11px;padding:1px 6px}"
    "form.act input[type=number]{width:4em;font-size:11px}"
    ".addr{display:block;font-size:11px;color:#556}";

/* Sorting only: a click on a header sorts its table by that column
 * (numbers by data-v, text otherwise), a second click reverses. */
static const char page_js[] =
    "document.querySelectorAll('table.members th').forEach(function(th){"
    "th.addEventListener('click',function(){"
    "var tb=th.closest('table').tBodies[0],i=th.cellIndex,"
    "d=th.dataset.dir==='a'?'d':'a';th.dataset.dir=d;"
    "var rows=Array.prototype.slice.call(tb.rows);"
    "rows.sort(function(x,y){var a=x.cells[i],b=y.cells[i],"
    "u=a.dataset.v,v=b.dataset.v,r=(u!==undefined&&v!==undefined)?"
    "parseFloat(u)-parseFloat(v):a.textContent.localeCompare(b.textContent);"
    "return d==='a'?r:-r;});"
    "rows.forEach(function(row){tb.appendChild(row);});});});";

/* The q-quantile of hist (count samples, not cumulative) in ms, estimated
 * as Prometheus' histogram_quantile() does: linear inside the bucket
 * where it falls. -1 when it falls in the last, unbounded bucket. Needs
 * count > 0. */
static double
quantile_ms(const apr_uint64_t *hist, apr_uint64_t count, double q)
{
    double rank = q * (double)count, below = 0, lo, hi;
    int i;

    for (i = 0; i < RP_LAT_NBUCKETS - 1; i++) {
        if (hist[i] && below + (double)hist[i] >= rank) {
            lo = i ? rp_lat_bounds_ms[i - 1] : 0;
            hi = rp_lat_bounds_ms[i];
            return lo + (hi - lo) * (rank - below) / (double)hist[i];
        }
        below += (double)hist[i];
    }
    return -1;
}

/* A quantile as a cell: the value to sort by, and the text. */
static void
quantile_cell(request_rec *r, const rp_member_snap_t *s, double q)
{
    double v;

    if (!s->lat_count) {
        ap_rputs("<td data-v=\"-1\">-</td>", r);
        return;
    }
    v = quantile_ms(s->lat_hist, s->lat_count, q);
    if (v < 0) {
        ap_rprintf(r, "<td data-v=\"%u\">&gt;%u</td>",
                   rp_lat_bounds_ms[RP_LAT_NBUCKETS - 2] + 1,
                   rp_lat_bounds_ms[RP_LAT_NBUCKETS - 2]);
    }
    else {
        ap_rprintf(r, "<td data-v=\"%.1f\">%.1f</td>", v, v);
    }
}

/* A count of bytes as a cell: binary units to read, the exact number to
 * sort by and in the tooltip. */
static void
bytes_cell(request_rec *r, apr_uint64_t n)
{
    static const char units[] = "KMGTP";
    double v = (double)n;
    int u = -1;

    while (v >= 1024 && u < (int)sizeof(units) - 2) {
        v /= 1024;
        u++;
    }
    ap_rprintf(r, "<td data-v=\"%" APR_UINT64_T_FMT "\" title=\"%"
               APR_UINT64_T_FMT " bytes\">", n, n);
    if (u < 0) {
        ap_rprintf(r, "%" APR_UINT64_T_FMT " B</td>", n);
    }
    else {
        ap_rprintf(r, "%.1f %ciB</td>", v, units[u]);
    }
}

/* Up (or backup) but still in its RProxySlowStart ramp, as
 * rproxy_member_weight() in rproxy_balancer.c sees it. */
static int
ramping(const rproxy_member_t *m, const rp_member_snap_t *s, apr_time_t now)
{
    apr_time_t back;

    if (m->pool->slow_start <= 0
        || (s->state != RP_MEMBER_UP && s->state != RP_MEMBER_BACKUP)) {
        return 0;
    }
    back = rp_balancer_back_since(m);
    return back && now > back && now - back < m->pool->slow_start;
}

/* One small form per action: POST to this page, hidden fields only but
 * the weight. */
static void
manage_form(request_rec *r, const char *hidden, const char *action,
            const char *label, int weight)
{
    ap_rprintf(r, "<form class=\"act act-%s\" method=\"post\" action=\"%s\">"
               "%s<input type=\"hidden\" name=\"action\" value=\"%s\">",
               action, ap_escape_html(r->pool, r->uri), hidden, action);
    if (weight > 0) {
        ap_rprintf(r, "<input type=\"number\" name=\"weight\" min=\"1\" "
                   "max=\"1000\" value=\"%d\" aria-label=\"weight\">",
                   weight);
    }
    ap_rprintf(r, "<button type=\"submit\">%s</button></form>", label);
}

static void
manage_cell(request_rec *r, const rproxy_member_t *m, const char *nonce)
{
    apr_uint32_t admin = rp_shm_admin(m);
    const char *hidden;

    hidden = apr_pstrcat(r->pool,
                         "<input type=\"hidden\" name=\"nonce\" value=\"",
                         ap_escape_html(r->pool, nonce), "\">"
                         "<input type=\"hidden\" name=\"pool\" value=\"",
                         ap_escape_html(r->pool, m->pool->name), "\">"
                         "<input type=\"hidden\" name=\"member\" value=\"",
                         ap_escape_html(r->pool, m->name), "\">", NULL);
    ap_rputs("<td class=\"name\">", r);
    if (admin & RP_ADMIN_DRAIN) {
        manage_form(r, hidden, "undrain", "undrain", 0);
    }
    else {
        manage_form(r, hidden, "drain", "drain", 0);
    }
    if (admin & RP_ADMIN_DISABLED) {
        manage_form(r, hidden, "enable", "enable", 0);
    }
    else {
        manage_form(r, hidden, "disable", "disable", 0);
    }
    manage_form(r, hidden, "reset", "reset", 0);
    manage_form(r, hidden, "weight", "set weight", rp_shm_weight(m));
    ap_rputs("</td>", r);
}

/* "12 (1 failed), last 200", or a dash without health checks. */
static const char *
hc_text(request_rec *r, const rp_member_snap_t *s)
{
    if (!s->hc_checks) {
        return "-";
    }
    return apr_psprintf(r->pool, "%" APR_UINT64_T_FMT " (%" APR_UINT64_T_FMT
                        " failed), last %s", s->hc_checks, s->hc_failed,
                        s->hc_status ? apr_psprintf(r->pool, "%"
                                                    APR_UINT64_T_FMT,
                                                    s->hc_status)
                                     : "no answer");
}

/* Under a member named by a host name: the address in use and how long
 * ago the name was looked up (the date in the title). */
static const char *
address_line(request_rec *r, const rproxy_member_t *m, apr_time_t now)
{
    char date[APR_RFC822_DATE_LEN];
    apr_time_t at;
    const char *addr = rp_resolve_describe(m, r->pool, &at);

    if (m->uds_path || !*addr || !strcmp(addr, m->hostport)) {
        return "";
    }
    apr_rfc822_date(date, at);
    return apr_psprintf(r->pool, "<span class=\"addr\" title=\"resolved "
                        "%s\">%s, resolved %" APR_TIME_T_FMT " s ago</span>",
                        date, ap_escape_html(r->pool, addr),
                        apr_time_sec(now - at > 0 ? now - at : 0));
}

static void
member_row(request_rec *r, const rproxy_member_t *m,
           const rp_member_snap_t *s, apr_time_t now, const char *nonce)
{
    int state = ramping(m, s, now) ? STATE_RAMPING : (int)s->state;
    const char *name = ap_escape_html(r->pool, m->name);
    double rate = rp_history_member_rate(m, now);

    ap_rprintf(r, "<tr class=\"member st-%s\" data-state=\"%s\" "
               "data-pool=\"%s\" data-member=\"%s\"><td class=\"name\">%s%s"
               "</td><td class=\"name\"><span class=\"chip\">%s</span></td>"
               "<td data-v=\"%d\">%d%s</td><td data-v=\"%.1f\">%.1f</td>"
               "<td data-v=\"%" APR_UINT64_T_FMT "\">%" APR_UINT64_T_FMT
               "</td><td data-v=\"%" APR_UINT64_T_FMT "\">%" APR_UINT64_T_FMT
               "</td>", state_words[state], state_words[state],
               ap_escape_html(r->pool, m->pool->name), name, name,
               address_line(r, m, now), state_words[state], s->weight, s->weight,
               s->weight != m->weight
                   ? apr_psprintf(r->pool, " (%d)", m->weight) : "",
               rate, rate,
               s->requests, s->requests, s->inflight, s->inflight);
    ap_rprintf(r, "<td data-v=\"%" APR_UINT64_T_FMT "\">%" APR_UINT64_T_FMT
               "</td><td data-v=\"%" APR_UINT64_T_FMT "\">%" APR_UINT64_T_FMT
               "</td><td data-v=\"%.1f\">%.1f</td>", s->failures, s->failures,
               s->ejections, s->ejections, s->ewma_us / 1000.0,
               s->ewma_us / 1000.0);
    quantile_cell(r, s, 0.5);
    quantile_cell(r, s, 0.9);
    quantile_cell(r, s, 0.99);
    bytes_cell(r, s->bytes_in);
    bytes_cell(r, s->bytes_out);
    ap_rprintf(r, "<td class=\"hc\">%s</td>", hc_text(r, s));
    if (nonce) {
        manage_cell(r, m, nonce);
    }
    ap_rputs("</tr>\n", r);
}

/* One sparkline point: requests/s and p99 (ms, -1: no sample) over the
 * SPARK_STEP seconds of point i. */
static void
spark_point(const rp_hist_read_t *h, int i, double *rps, double *p99)
{
    apr_uint64_t hist[RP_LAT_NBUCKETS] = { 0 }, req = 0, count = 0;
    int sec, b;

    for (sec = i * SPARK_STEP; sec < (i + 1) * SPARK_STEP; sec++) {
        req += h->requests[sec];
        for (b = 0; b < RP_LAT_NBUCKETS; b++) {
            hist[b] += h->lat[sec][b];
            count += h->lat[sec][b];
        }
    }
    *rps = (double)req / SPARK_STEP;
    *p99 = -1;
    if (count) {
        *p99 = quantile_ms(hist, count, 0.99);
        if (*p99 < 0) {
            *p99 = rp_lat_bounds_ms[RP_LAT_NBUCKETS - 2];
        }
    }
}

/* The SVG path of a series scaled to max; a point without a value
 * (negative) breaks the line, and a point alone is a dot (a zero-length
 * segment, drawn with round caps). */
static const char *
spark_path(request_rec *r, const double *v, double max)
{
    const char *d = "";
    int i, pen = 0;

    for (i = 0; i < SPARK_POINTS; i++) {
        if (v[i] < 0) {
            pen = 0;
            continue;
        }
        d = apr_psprintf(r->pool, "%s%c%d,%.1f%s", d, pen ? 'L' : 'M',
                         i * SPARK_W / (SPARK_POINTS - 1),
                         SPARK_H - 1 - (max > 0 ? v[i] / max : 0)
                                       * (SPARK_H - 2),
                         !pen && (i + 1 == SPARK_POINTS || v[i + 1] < 0)
                             ? "h0" : "");
        pen = 1;
    }
    return *d ? d : "M0,39";
}

/* The pool's async tunnels (rproxy_tunnel_async.c), once it had any:
 * waiting without a worker now, and their wake-ups, moved by the
 * waiting thread itself or handed to a worker. */
static const char *
tunnels(request_rec *r, const rproxy_pool_t *pool)
{
    apr_uint32_t parked = apr_atomic_read32(&pool->sh->tunnel_parked);
    apr_uint64_t waiter = apr_atomic_read64(&pool->sh->tunnel_waiter_moves);
    apr_uint64_t worker = apr_atomic_read64(&pool->sh->tunnel_worker_wakes);

    if (!parked && !waiter && !worker) {
        return "";
    }
    return apr_psprintf(r->pool, "<p class=\"tunnels\">tunnels waiting "
                        "without a worker: %u; wake-ups: %" APR_UINT64_T_FMT
                        " moved by the waiting thread, %" APR_UINT64_T_FMT
                        " handed to a worker</p>\n", parked, waiter, worker);
}

/* The pool's body bytes, spliced and copied (rproxy_splice.c), the
 * exact numbers in the tooltip; its tunnels' wake-ups before them. */
static const char *
body_bytes(request_rec *r, const rproxy_pool_t *pool)
{
    apr_uint64_t n[5];
    char s[5][6];
    int i;

    n[0] = apr_atomic_read64(&pool->sh->body_spliced);
    n[1] = apr_atomic_read64(&pool->sh->body_copied);
    n[2] = apr_atomic_read64(&pool->sh->req_body_spliced);
    n[3] = apr_atomic_read64(&pool->sh->req_body_copied);
    n[4] = apr_atomic_read64(&pool->sh->tunnel_spliced);
    for (i = 0; i < 5; i++) {
        apr_strfsize((apr_off_t)n[i], s[i]);
    }
    return apr_psprintf(r->pool, "%s<p class=\"bodies\" title=\"responses: %"
                        APR_UINT64_T_FMT " bytes spliced, %" APR_UINT64_T_FMT
                        " copied; requests: %" APR_UINT64_T_FMT " spliced, %"
                        APR_UINT64_T_FMT " copied; tunnels: %" APR_UINT64_T_FMT
                        " spliced\">bodies %s spliced, %s copied (requests "
                        "%s, %s; tunnels %s spliced)</p>\n",
                        tunnels(r, pool), n[0], n[1],
                        n[2], n[3], n[4], s[0], s[1], s[2], s[3], s[4]);
}

/* The pool's last five minutes as SVG; the requests and failures per
 * second of the last RP_HIST_RATE_SECS seconds in *rate and *err_rate. */
static const char *
pool_sparkline(request_rec *r, const rproxy_pool_t *pool, apr_time_t now,
               double *rate, double *err_rate)
{
    rp_hist_read_t *h = apr_palloc(r->pool, sizeof(*h));
    double rps[SPARK_POINTS], p99[SPARK_POINTS], max_rps = 0, max_p99 = 0;
    apr_uint64_t req = 0, fail = 0;
    int i;

    rp_history_read_pool(pool, now, h);
    for (i = 0; i < SPARK_POINTS; i++) {
        spark_point(h, i, &rps[i], &p99[i]);
        max_rps = rps[i] > max_rps ? rps[i] : max_rps;
        max_p99 = p99[i] > max_p99 ? p99[i] : max_p99;
    }
    for (i = RP_HIST_POOL_SECS - RP_HIST_RATE_SECS; i < RP_HIST_POOL_SECS;
         i++) {
        req += h->requests[i];
        fail += h->failures[i];
    }
    *rate = (double)req / RP_HIST_RATE_SECS;
    *err_rate = (double)fail / RP_HIST_RATE_SECS;
    return apr_psprintf(r->pool,
                        "<p><svg class=\"spark\" width=\"%d\" height=\"%d\" "
                        "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\""
                        "requests/s and p99 over the last %d minutes\">"
                        "<path class=\"rps\" d=\"%s\"/>"
                        "<path class=\"p99\" d=\"%s\"/></svg>"
                        "<span class=\"sparkkey\">"
                        "<span style=\"color:#2a6fdb\">&#9644; requests/s"
                        "</span> (max %.1f) <span style=\"color:#d9822b\">"
                        "&#9644; p99</span> (max %.1f ms), last %d min, "
                        "%d s per point</span></p>\n", SPARK_W, SPARK_H,
                        SPARK_W, SPARK_H, RP_HIST_POOL_SECS / 60,
                        spark_path(r, rps, max_rps),
                        spark_path(r, p99, max_p99), max_rps, max_p99,
                        RP_HIST_POOL_SECS / 60, SPARK_STEP);
}

static void
pool_section(request_rec *r, const rproxy_pool_t *pool, apr_time_t now,
             const char *nonce)
{
    rp_member_snap_t *snaps = apr_pcalloc(r->pool, (pool->members->nelts
                                                    ? pool->members->nelts
                                                    : 1) * sizeof(*snaps));
    apr_uint64_t inflight = 0, failures = 0;
    const char *spark;
    double rps, err_rate;
    int j, up = 0;

    for (j = 0; j < pool->members->nelts; j++) {
        rp_shm_snapshot(APR_ARRAY_IDX(pool->members, j, rproxy_member_t *),
                        now, &snaps[j]);
        up += snaps[j].state == RP_MEMBER_UP
              || snaps[j].state == RP_MEMBER_BACKUP;
        inflight += snaps[j].inflight;
        failures += snaps[j].failures;
    }
    ap_rprintf(r, "<section class=\"pool\" id=\"pool-%s\"><h2>pool %s "
               "<small>(%s, %u queued)</small></h2>\n",
               ap_escape_html(r->pool, pool->name),
               ap_escape_html(r->pool, pool->name),
               ap_escape_html(r->pool, pool->lb_name),
               apr_atomic_read32(&pool->sh->queued));
    spark = pool_sparkline(r, pool, now, &rps, &err_rate);
    ap_rprintf(r, "<p class=\"summary\"><b>members up %d/%d</b><b>in flight %"
               APR_UINT64_T_FMT "</b><b>%.1f req/s</b><b>errors %"
               APR_UINT64_T_FMT " (%.1f/s)</b></p>\n<p class=\"summary\">"
               "%s</p>\n%s%s", up, pool->members->nelts, inflight, rps,
               failures, err_rate, rp_buffer_status_html(r->pool, pool),
               body_bytes(r, pool), spark);
    ap_rprintf(r, "<table class=\"members\"><thead><tr><th class=\"name\">"
               "member</th><th class=\"name\">state</th><th>weight</th>"
               "<th>req/s</th><th>requests</th><th>in flight</th>"
               "<th>failures</th><th>ejections</th><th>latency ms</th>"
               "<th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>bytes in</th>"
               "<th>bytes out</th><th class=\"name\">health checks</th>%s</tr></thead>"
               "<tbody>\n", nonce ? "<th class=\"name\">manage</th>" : "");
    for (j = 0; j < pool->members->nelts; j++) {
        member_row(r, APR_ARRAY_IDX(pool->members, j, rproxy_member_t *),
                   &snaps[j], now, nonce);
    }
    ap_rputs("</tbody></table></section>\n", r);
}

/* The value of a query argument, URL-decoded, or NULL. */
static const char *
query_arg(request_rec *r, const char *name)
{
    const char *args = r->args;
    apr_size_t len = strlen(name);

    while (args && *args) {
        const char *end = ap_strchr_c(args, '&');
        apr_size_t n = end ? (apr_size_t)(end - args) : strlen(args);

        if (n > len && !strncmp(args, name, len) && args[len] == '=') {
            char *v = apr_pstrmemdup(r->pool, args + len + 1, n - len - 1);

            return ap_unescape_urlencoded(v) == OK ? v : NULL;
        }
        args = end ? end + 1 : NULL;
    }
    return NULL;
}

/* Head, links and the banner; the meta refresh when ?refresh=N asks. */
static void
page_head(request_rec *r, apr_time_t now)
{
    const char *refresh = query_arg(r, "refresh");
    const char *result = query_arg(r, "result");
    char date[APR_RFC822_DATE_LEN];
    int secs = 0;

    ap_rputs("<!DOCTYPE html>\n<html lang=\"en\"><head>"
             "<meta charset=\"utf-8\">"
             "<meta name=\"viewport\" content=\"width=device-width\">"
             "<title>mod_rproxy status</title>"
             /* no favicon request at every refresh */
             "<link rel=\"icon\" href=\"data:,\">\n", r);
    if (refresh) {
        secs = atoi(refresh);
        secs = secs < 1 ? 1 : secs > REFRESH_MAX ? REFRESH_MAX : secs;
        ap_rprintf(r, "<meta http-equiv=\"refresh\" content=\"%d\">\n", secs);
    }
    apr_rfc822_date(date, now);
    ap_rprintf(r, "<style>%s</style></head><body>\n<header><h1>mod_rproxy "
               "status</h1><p class=\"meta\">%s, generation %d, %s &middot; "
               "<a href=\"?json\">JSON</a> &middot; <a href=\"?prometheus\">"
               "Prometheus</a> &middot; refresh: %s</p></header><main>\n",
               page_css, ap_escape_html(r->pool, ap_get_server_name(r)),
               ap_state_query(AP_SQ_CONFIG_GEN), date,
               secs ? apr_psprintf(r->pool, "every %d s (<a href=\"?\">stop"
                                   "</a>)", secs)
                    : "<a href=\"?refresh=5\">every 5 s</a>");
    if (result) {
        ap_rprintf(r, "<p class=\"banner\" role=\"status\">%s</p>\n",
                   ap_escape_html(r->pool, result));
    }
}

void
rp_status_html(request_rec *r)
{
    const char *nonce = rp_manage_enabled(r)
                        ? rp_manage_nonce(r->server) : NULL;
    apr_time_t now = apr_time_now();
    int i;

    page_head(r, now);
    ap_rputs("<p class=\"legend\">", r);
    for (i = 0; i < (int)(sizeof(state_words) / sizeof(state_words[0]));
         i++) {
        ap_rprintf(r, "<span class=\"chip st-%s\">%s</span>", state_words[i],
                   state_words[i]);
    }
    ap_rputs("</p>\n", r);
    for (i = 0; i < rp_globals.pools->nelts; i++) {
        pool_section(r, APR_ARRAY_IDX(rp_globals.pools, i, rproxy_pool_t *),
                     now, nonce);
    }
    ap_rprintf(r, "</main><script>%s</script></body></html>\n", page_js);
}
