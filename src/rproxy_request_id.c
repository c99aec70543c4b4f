/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_request_id.c - RProxyRequestId: the request's id, from
 * mod_unique_id, goes to the member in a header (X-Request-Id unless
 * named otherwise), so that the member's logs and ours can be joined.
 *
 * A client's own header of that name is kept only when its peer is one of
 * RProxyTrustedProxies (a proxy in front of us that set the id for the
 * whole chain, as it keeps X-Forwarded-For); from anyone else it is
 * replaced, so that a client cannot choose the id our logs file it under.
 * Without mod_unique_id there is no id of ours: the header passes as any
 * other. Whichever id went to the member is the note rproxy-request-id.
 * W3C traceparent and tracestate need nothing here: they are end-to-end
 * headers and pass unchanged (rp_headers_request()).
 */

#include "rproxy_private.h"

#define RP_REQUEST_ID_DEFAULT   "X-Request-Id"

/* RProxyRequestId Header-Name | off */
const char *
rp_cmd_request_id(cmd_parms *cmd, void *d, const char *arg)
{
    rp_dir_conf *dconf = d;

    if (!strcasecmp(arg, "off")) {
        dconf->request_id = "";
        return NULL;
    }
    if (!*arg || *ap_scan_http_token(arg)) {
        return apr_psprintf(cmd->pool, "RProxyRequestId: '%s' is not a "
                            "header name (valid: a header name such as "
                            "X-Request-Id, or off)", arg);
    }
    dconf->request_id = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

/* mod_unique_id's id of the request; an internal redirect (an
 * ErrorDocument) or a subrequest has the id of the request it serves. */
static const char *
unique_id(const request_rec *r)
{
    const char *id = NULL;

    for (; r && !id; r = r->prev ? r->prev : r->main) {
        id = apr_table_get(r->subprocess_env, "UNIQUE_ID");
    }
    return id;
}

void
rp_request_id_apply(rp_exchange_t *ex, int trusted)
{
    request_rec *r = ex->r;
    const char *name = ex->dconf->request_id ? ex->dconf->request_id
                                             : RP_REQUEST_ID_DEFAULT;
    const char *id = NULL;

    if (!*name) {
        return;                     /* off */
    }
    if (trusted) {
        id = apr_table_get(ex->headers, name);
    }
    if (!id) {
        if (!(id = unique_id(r))) {
            return;
        }
        apr_table_setn(ex->headers, name, id);
    }
    apr_table_setn(r->notes, "rproxy-request-id", id);
}
