/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_manage.c - runtime management (RProxyStatusManage On): a POST
 * to the rproxy-status location drains, undrains, disables, enables,
 * re-weights or resets a member (or every member of a pool, member "*").
 *
 * The change is written to the member's shared record (rproxy_shm.c), so
 * every child sees it at its next pick; the record marks it overridden,
 * so a graceful restart keeps it and a full restart forgets it.
 *
 * The nonce guards against cross-site requests only: a page on another
 * site can make a browser POST here but cannot read the page to learn the
 * nonce. Who may read the page and post is Require's business. It is made
 * by the parent in post_config, so a generation's children share it, and
 * every restart (graceful too) makes a new one: a nonce is not state worth
 * keeping, and an open page just needs a reload.
 */

#include "rproxy_private.h"

#include "http_core.h"
#include "http_protocol.h"
#include "apr_lib.h"

/* Enough for every field; a bigger body is not a form of ours. */
#define RP_MANAGE_MAX_BODY  8192
#define RP_NONCE_BYTES      16

/* server_rec * -> hex nonce, from pconf; read-only after post_config */
static apr_hash_t *nonces;

typedef enum {
    ACT_ADMIN,                  /* set / clear admin bits */
    ACT_WEIGHT,
    ACT_RESET
} act_kind_e;

static const struct {
    const char *name;
    act_kind_e kind;
    apr_uint32_t set, clear;
} actions[] = {
    { "drain", ACT_ADMIN, RP_ADMIN_DRAIN, 0 },
    { "undrain", ACT_ADMIN, 0, RP_ADMIN_DRAIN },
    { "disable", ACT_ADMIN, RP_ADMIN_DISABLED, 0 },
    /* back to taking requests, whatever stopped it */
    { "enable", ACT_ADMIN, 0, RP_ADMIN_DISABLED | RP_ADMIN_DRAIN },
    { "weight", ACT_WEIGHT, 0, 0 },
    { "reset", ACT_RESET, 0, 0 }
};

/* The request's form fields; what was not sent is NULL. */
typedef struct {
    const char *nonce, *pool, *member, *action, *weight;
} form_t;

const char *
rp_cmd_status_manage(cmd_parms *cmd, void *d, int on)
{
    (void)cmd;
    ((rp_dir_conf *)d)->manage = on ? 1 : 0;
    return NULL;
}

int
rp_manage_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                      apr_pool_t *ptemp, server_rec *s)
{
    unsigned char raw[RP_NONCE_BYTES];
    apr_status_t rv;

    (void)plog;
    (void)ptemp;
    nonces = apr_hash_make(pconf);
    for (; s; s = s->next) {
        char *hex = apr_palloc(pconf, 2 * RP_NONCE_BYTES + 1);
        int i;

        if ((rv = apr_generate_random_bytes(raw, sizeof(raw)))
            != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, RPLOGNO(00164)
                         "RProxyStatusManage: no random bytes for the "
                         "nonce");
            return !OK;
        }
        for (i = 0; i < RP_NONCE_BYTES; i++) {
            apr_snprintf(hex + 2 * i, 3, "%02x", raw[i]);
        }
        apr_hash_set(nonces, apr_pmemdup(pconf, &s, sizeof(s)), sizeof(s),
                     hex);
    }
    return OK;
}

int
rp_manage_enabled(request_rec *r)
{
    return rp_dir_config(r)->manage == 1;
}

const char *
rp_manage_nonce(server_rec *s)
{
    const char *n = nonces ? apr_hash_get(nonces, &s, sizeof(s)) : NULL;

    return n ? n : "";
}

/* Constant time in the length of what we expect, so that the time taken
 * tells nothing about how much of a guess was right. */
static int
nonce_ok(const char *want, const char *got)
{
    apr_size_t i, n = strlen(want), glen = got ? strlen(got) : 0;
    unsigned char diff = (unsigned char)(glen != n || !n);

    for (i = 0; i < n; i++) {
        diff |= (unsigned char)(want[i] ^ (i < glen ? got[i] : 0));
    }
    return !diff;
}

/* Reads the body, at most RP_MANAGE_MAX_BODY bytes: OK, or an HTTP
 * status. */
static int
read_body(request_rec *r, char **out)
{
    char *buf = apr_palloc(r->pool, RP_MANAGE_MAX_BODY + 1);
    apr_size_t len = 0;
    long got;
    int rc;

    if ((rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK) {
        return rc;
    }
    if (ap_should_client_block(r)) {
        while ((got = ap_get_client_block(r, buf + len,
                                          RP_MANAGE_MAX_BODY + 1 - len)) > 0) {
            len += (apr_size_t)got;
            if (len > RP_MANAGE_MAX_BODY) {
                r->connection->keepalive = AP_CONN_CLOSE;
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
            }
        }
        if (got < 0) {
            return HTTP_BAD_REQUEST;
        }
    }
    buf[len] = '\0';
    *out = buf;
    return OK;
}

static void
parse_form(char *body, form_t *f)
{
    char *last, *pair;

    memset(f, 0, sizeof(*f));
    for (pair = apr_strtok(body, "&", &last); pair;
         pair = apr_strtok(NULL, "&", &last)) {
        char *eq = strchr(pair, '='), *v = eq ? eq + 1 : "";

        if (eq) {
            *eq = '\0';
        }
        if (ap_unescape_urlencoded(pair) || ap_unescape_urlencoded(v)) {
            continue;
        }
        if (!strcmp(pair, "nonce")) {
            f->nonce = v;
        }
        else if (!strcmp(pair, "pool")) {
            f->pool = v;
        }
        else if (!strcmp(pair, "member")) {
            f->member = v;
        }
        else if (!strcmp(pair, "action")) {
            f->action = v;
        }
        else if (!strcmp(pair, "weight")) {
            f->weight = v;
        }
    }
}

static int
wants_json(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");

    return accept && ap_strcasestr(accept, "application/json") != NULL;
}

/* An error answer with its status: {"error": "..."} or a line of text. */
static int
refuse(request_rec *r, int status, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, RPLOGNO(00165)
                  "RProxyStatusManage: refused (%d): %s", status, why);
    if (status != HTTP_REQUEST_ENTITY_TOO_LARGE) {
        ap_discard_request_body(r);
    }
    r->status = status;
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (wants_json(r)) {
        ap_set_content_type(r, "application/json");
        ap_rprintf(r, "{\"error\":\"%s\"}\n",
                   ap_escape_quotes(r->pool, why));
    }
    else {
        ap_set_content_type(r, "text/plain; charset=utf-8");
        ap_rprintf(r, "%s\n", why);
    }
    return OK;
}

static rproxy_pool_t *
find_pool(const char *name)
{
    int i;

    for (i = 0; name && i < rp_globals.pools->nelts; i++) {
        rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, i,
                                            rproxy_pool_t *);
        if (!strcmp(pool->name, name)) {
            return pool;
        }
    }
    return NULL;
}

static rproxy_member_t *
find_member(rproxy_pool_t *pool, const char *name)
{
    int i;

    for (i = 0; name && i < pool->members->nelts; i++) {
        rproxy_member_t *m = APR_ARRAY_IDX(pool->members, i,
                                           rproxy_member_t *);
        if (!strcmp(m->name, name)) {
            return m;
        }
    }
    return NULL;
}

/* Makes the change on m and logs it: what it was, what it is, who. */
static void
apply(request_rec *r, rproxy_member_t *m, int act, int weight)
{
    const char *change;

    if (actions[act].kind == ACT_ADMIN) {
        apr_uint32_t before = rp_shm_set_admin(m, actions[act].set,
                                               actions[act].clear);
        change = apr_psprintf(r->pool, "admin %s -> %s",
                              rp_status_admin_word(before),
                              rp_status_admin_word(rp_shm_admin(m)));
    }
    else if (actions[act].kind == ACT_WEIGHT) {
        change = apr_psprintf(r->pool, "weight %u -> %d",
                              rp_shm_set_weight(m, (apr_uint32_t)weight),
                              weight);
    }
    else {
        rp_member_snap_t snap;

        rp_shm_snapshot(m, apr_time_now(), &snap);
        rp_shm_reset_counters(m);
        change = apr_psprintf(r->pool, "counters reset (requests %"
                              APR_UINT64_T_FMT " -> 0)", snap.requests);
    }
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, RPLOGNO(00166)
                  "member %s/%s: %s: %s, by %s%s%s", m->pool->name, m->name,
                  actions[act].name, change, r->useragent_ip,
                  r->user ? " user " : "", r->user ? r->user : "");
}

/* The answer to a change that was made: the member's JSON object (the
 * pool's members for "*"), or a 303 back to the page saying what was
 * done. */
static int
answer(request_rec *r, rproxy_pool_t *pool, rproxy_member_t *m,
       const form_t *f)
{
    int i;

    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!wants_json(r)) {
        const char *done = apr_pstrcat(r->pool, f->action, " ", pool->name,
                                       "/", f->member, ": done", NULL);

        apr_table_setn(r->headers_out, "Location",
                       apr_pstrcat(r->pool, r->uri, "?result=",
                                   ap_escape_urlencoded(r->pool, done),
                                   NULL));
        return HTTP_SEE_OTHER;
    }
    ap_set_content_type(r, "application/json");
    if (m) {
        rp_status_json_member(r, m);
        ap_rputs("\n", r);
        return OK;
    }
    ap_rputs("{\"members\":[", r);
    for (i = 0; i < pool->members->nelts; i++) {
        ap_rputs(i ? "," : "", r);
        rp_status_json_member(r, APR_ARRAY_IDX(pool->members, i,
                                               rproxy_member_t *));
    }
    ap_rputs("]}\n", r);
    return OK;
}

int
rp_manage_handle(request_rec *r)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    rproxy_pool_t *pool;
    rproxy_member_t *m = NULL;
    apr_size_t act;
    form_t f;
    char *body;
    int rc, weight = 0, i;

    if (r->method_number != M_POST || !rp_manage_enabled(r)) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33)) {
        return refuse(r, HTTP_UNSUPPORTED_MEDIA_TYPE,
                      "expects application/x-www-form-urlencoded");
    }
    if ((rc = read_body(r, &body)) != OK) {
        return rc == HTTP_REQUEST_ENTITY_TOO_LARGE
               ? refuse(r, rc, "body too large") : rc;
    }
    parse_form(body, &f);
    if (!nonce_ok(rp_manage_nonce(r->server), f.nonce)) {
        return refuse(r, HTTP_FORBIDDEN, "missing or wrong nonce");
    }
    if (!(pool = find_pool(f.pool))) {
        return refuse(r, HTTP_BAD_REQUEST, "unknown pool");
    }
    if (!f.member || (strcmp(f.member, "*")
                      && !(m = find_member(pool, f.member)))) {
        return refuse(r, HTTP_BAD_REQUEST, "unknown member");
    }
    for (act = 0; act < sizeof(actions) / sizeof(actions[0]); act++) {
        if (f.action && !strcmp(f.action, actions[act].name)) {
            break;
        }
    }
    if (act == sizeof(actions) / sizeof(actions[0])) {
        return refuse(r, HTTP_BAD_REQUEST, "unknown action (drain, undrain, "
                      "disable, enable, weight, reset)");
    }
    if (actions[act].kind == ACT_WEIGHT
        && (!f.weight || rp_parse_int(f.weight, 1, 1000, &weight))) {
        return refuse(r, HTTP_BAD_REQUEST, "bad weight (1..1000)");
    }
    for (i = 0; i < pool->members->nelts; i++) {
        rproxy_member_t *each = APR_ARRAY_IDX(pool->members, i,
                                              rproxy_member_t *);
        if (!m || each == m) {
            apply(r, each, (int)act, weight);
        }
    }
    return answer(r, pool, m, &f);
}
