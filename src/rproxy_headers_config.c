/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_headers_config.c - the per-directory header directives that
 * rproxy_headers.c applies: RProxyForwarded, RProxyHideHeader and
 * RProxyTrustedProxies. (RProxyPreserveHost is a plain flag in the
 * directive table.)
 */

#include "rproxy_private.h"

#include "apr_strings.h"

const char *
rp_cmd_forwarded(cmd_parms *cmd, void *d, const char *arg)
{
    rp_dir_conf *dconf = d;

    if (!strcasecmp(arg, "x-forwarded")) {
        dconf->forwarded = RP_FWD_XFF;
    }
    else if (!strcasecmp(arg, "rfc7239")) {
        dconf->forwarded = RP_FWD_RFC7239;
    }
    else if (!strcasecmp(arg, "both")) {
        dconf->forwarded = RP_FWD_BOTH;
    }
    else if (!strcasecmp(arg, "none")) {
        dconf->forwarded = RP_FWD_NONE;
    }
    else {
        return apr_psprintf(cmd->pool, "RProxyForwarded: unknown value '%s' "
                            "(valid: x-forwarded, rfc7239, both, none)", arg);
    }
    return NULL;
}

const char *
rp_cmd_hide_header(cmd_parms *cmd, void *d, const char *arg)
{
    rp_dir_conf *dconf = d;

    if (!*arg || ap_strchr_c(arg, ':')) {
        return apr_psprintf(cmd->pool, "RProxyHideHeader: '%s' is not a "
                            "header name", arg);
    }
    APR_ARRAY_PUSH(dconf->hide, const char *) = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

/* RProxyTrustedProxies: IPv4/IPv6 addresses and CIDR blocks, parsed now
 * so that a typo stops httpd instead of trusting nobody (or everybody).
 * Lines add up within a section; a section that sets it replaces what it
 * inherits, and "none" (alone) trusts nobody there. */
const char *
rp_cmd_trusted_proxies(cmd_parms *cmd, void *d, const char *arg)
{
    rp_dir_conf *dconf = d;
    apr_ipsubnet_t *sub = NULL;
    char *addr = apr_pstrdup(cmd->temp_pool, arg);
    char *mask = ap_strchr(addr, '/');
    apr_status_t rv;

    if (!dconf->trusted) {
        dconf->trusted = apr_array_make(cmd->pool, 4, sizeof(sub));
    }
    if (!strcasecmp(arg, "none")) {
        if (dconf->trusted->nelts) {
            return "RProxyTrustedProxies: 'none' cannot be combined with "
                   "addresses";
        }
        APR_ARRAY_PUSH(dconf->trusted, apr_ipsubnet_t *) = NULL;
        return NULL;
    }
    if (dconf->trusted->nelts
        && !APR_ARRAY_IDX(dconf->trusted, 0, apr_ipsubnet_t *)) {
        return "RProxyTrustedProxies: 'none' cannot be combined with "
               "addresses";
    }
    if (mask) {
        *mask++ = '\0';
    }
    rv = !*addr ? APR_EINVAL : mask && !*mask ? APR_EBADMASK
         : apr_ipsubnet_create(&sub, addr, mask, cmd->pool);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "RProxyTrustedProxies: '%s' is not an "
                            "IP address or CIDR block (%s; valid: such as "
                            "192.0.2.7, 10.0.0.0/8, 2001:db8::/32, or none)",
                            arg, rv == APR_EBADMASK ? "bad prefix length"
                                 : rv == APR_EBADIP ? "bad address"
                                 : "not an IP address");
    }
    APR_ARRAY_PUSH(dconf->trusted, apr_ipsubnet_t *) = sub;
    return NULL;
}
