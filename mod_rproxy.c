/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * mod_rproxy.c - the module record: hooks and directives, nothing else.
 * The work is done in src/ (one file per concern) and balancers/ (one file
 * per algorithm).
 */

#define RP_MODULE_FILE
#include "src/rproxy_private.h"
#include "src/rproxy_splice.h"
#include "src/rproxy_tunnel.h"

#include "ap_provider.h"

extern const rproxy_balancer_t rp_lb_round_robin;
extern const rproxy_balancer_t rp_lb_least_conn;
extern const rproxy_balancer_t rp_lb_random;
extern const rproxy_balancer_t rp_lb_p2c;
extern const rproxy_balancer_t rp_lb_ewma;
extern const rproxy_balancer_t rp_lb_hash;

/* the built-in balancers, registered like any third-party one */
static const rproxy_balancer_t *const rproxy_balancers[] = {
    &rp_lb_round_robin, &rp_lb_least_conn, &rp_lb_random, &rp_lb_p2c,
    &rp_lb_ewma, &rp_lb_hash
};

static const command_rec rproxy_cmds[] = {
    AP_INIT_RAW_ARGS("<RProxyPool", rp_cmd_pool_section, NULL, RSRC_CONF,
        "<RProxyPool NAME> ... </RProxyPool>: a named group of backends"),
    AP_INIT_RAW_ARGS("RProxyMember", rp_cmd_member, NULL, RSRC_CONF,
        "URL [weight=N] [backup] [drain] [disabled] [max_conns=N] "
        "[route=ID]"),
    AP_INIT_RAW_ARGS("RProxyBalancer", rp_cmd_balancer, NULL, RSRC_CONF,
        "NAME [ARGS]: the pool's load-balancing algorithm"),
    AP_INIT_RAW_ARGS("RProxyTimeouts", rp_cmd_timeouts, NULL,
        RSRC_CONF | ACCESS_CONF,
        "connect=T header=T idle=T deadline=T"),
    AP_INIT_RAW_ARGS("RProxyTunnel", rp_cmd_tunnel, NULL,
        RSRC_CONF | ACCESS_CONF,
        "[async=on|off] [async_after=T] [idle=T]: Upgrade tunnels; an idle "
        "one gives its worker back to the event MPM"),
    AP_INIT_RAW_ARGS("RProxyKeepalive", rp_cmd_keepalive, NULL, RSRC_CONF,
        "idle=N idle_timeout=T: pooled backend connections"),
    AP_INIT_RAW_ARGS("RProxyRetries", rp_cmd_retries, NULL,
        RSRC_CONF | ACCESS_CONF,
        "N [budget=P%] [on=5xx,...|none]: tries on other members after a "
        "failure (budget= only in <RProxyPool>)"),
    AP_INIT_RAW_ARGS("RProxySticky", rp_cmd_sticky, NULL, RSRC_CONF,
        "cookie=NAME|route=NAME [secret=S|file:PATH] [path=] [domain=] "
        "[secure] [httponly] [samesite=] [max_age=]: sticky sessions"),
    AP_INIT_TAKE1("RProxySlowStart", rp_cmd_slow_start, NULL, RSRC_CONF,
        "T: a member coming back ramps its weight up over T"),
    AP_INIT_RAW_ARGS("RProxyHealthCheck", rp_cmd_health_check, NULL,
        RSRC_CONF, "[uri=PATH] [interval=T] [timeout=T] [rise=N] [fall=N] "
        "[expect=CODES] [method=GET|HEAD|OPTIONS] [host=NAME]: active "
        "health checks"),
    AP_INIT_RAW_ARGS("RProxyOutlier", rp_cmd_outlier, NULL, RSRC_CONF,
        "fails=N [eject=T] [max_ejected=P%]: passive ejection"),
    AP_INIT_RAW_ARGS("RProxyQueue", rp_cmd_queue, NULL, RSRC_CONF,
        "timeout=T [max=N]: wait up to T for a slot when every member is "
        "at max_conns"),
    AP_INIT_RAW_ARGS("RProxyBuffering", rp_cmd_buffering, NULL,
        RSRC_CONF | ACCESS_CONF, "on|off [memory=SIZE] [file=SIZE]: read "
        "responses whole before the client gets them"),
    AP_INIT_RAW_ARGS("RProxyRequestBuffering", rp_cmd_request_buffering,
        NULL, RSRC_CONF | ACCESS_CONF, "on|off [memory=SIZE] [limit=SIZE]: "
        "read request bodies whole before a member is picked"),
    AP_INIT_TAKE1("RProxyBufferDir", rp_cmd_buffer_dir, NULL, RSRC_CONF,
        "PATH: where buffered bodies' temporary files go"),
    AP_INIT_RAW_ARGS("RProxyPass", rp_cmd_pass, NULL, RSRC_CONF | ACCESS_CONF,
        "PATH TARGET [key=value ...], or TARGET inside <Location>/<If>"),
    AP_INIT_RAW_ARGS("RProxyPassMatch", rp_cmd_pass_match, NULL, RSRC_CONF,
        "REGEX TARGET [key=value ...], $1... substituted into TARGET"),
    AP_INIT_FLAG("RProxyPreserveHost", ap_set_flag_slot,
        (void *)APR_OFFSETOF(rp_dir_conf, preserve_host),
        RSRC_CONF | ACCESS_CONF,
        "On: send the client's Host to the backend (default Off)"),
    AP_INIT_TAKE1("RProxyForwarded", rp_cmd_forwarded, NULL,
        RSRC_CONF | ACCESS_CONF, "x-forwarded | rfc7239 | both | none"),
    AP_INIT_ITERATE("RProxyHideHeader", rp_cmd_hide_header, NULL,
        RSRC_CONF | ACCESS_CONF, "response headers the client never sees"),
    AP_INIT_ITERATE("RProxyTrustedProxies", rp_cmd_trusted_proxies, NULL,
        RSRC_CONF | ACCESS_CONF, "ADDRESS[/BITS] ... | none: peers whose "
        "forwarding headers are kept and extended"),
    AP_INIT_FLAG("RProxyStatusManage", rp_cmd_status_manage, NULL,
        ACCESS_CONF, "On: the rproxy-status page takes POSTed changes "
        "(drain, disable, weight...) (default Off)"),
    AP_INIT_FLAG("RProxyZeroCopy", ap_set_flag_slot,
        (void *)APR_OFFSETOF(rp_dir_conf, zero_copy),
        RSRC_CONF | ACCESS_CONF, "Off: response bodies always go through "
        "httpd's buffers, never splice(2) (default On)"),
    AP_INIT_TAKE1("RProxyRequestId", rp_cmd_request_id, NULL,
        RSRC_CONF | ACCESS_CONF, "Header-Name | off: the header that "
        "sends mod_unique_id's id to the member (default X-Request-Id)"),
    { NULL }
};

static void
rproxy_child_init(apr_pool_t *pchild, server_rec *s)
{
    rp_conn_child_init(pchild, s);
    rp_tunnel_async_child_init(pchild, s);
}

static void
rproxy_register_hooks(apr_pool_t *p)
{
    /* the prober registers with mod_watchdog before its post_config runs */
    static const char *const watchdog[] = { "mod_watchdog.c", NULL };
    /* Routes are chosen after mod_rewrite's server-level rules, whatever
     * the LoadModule order, so that a [F] or a rewrite of r->uri ([PT])
     * is seen by routing; and before mod_alias (Alias, Redirect), as
     * mod_proxy's ProxyPass is, so that a routed path is not aliased. See
     * docs/security.md, "Composing with other modules". */
    static const char *const rewrite[] = { "mod_rewrite.c", NULL };
    static const char *const alias[] = { "mod_alias.c", NULL };
    apr_size_t i;

    for (i = 0; i < sizeof(rproxy_balancers) / sizeof(rproxy_balancers[0]);
         i++) {
        ap_register_provider(p, RPROXY_BALANCER_GROUP,
                             rproxy_balancers[i]->name,
                             RPROXY_BALANCER_VERSION, rproxy_balancers[i]);
    }
    rp_conn_register_hooks();
    rp_splice_register_hooks();
    rp_tunnel_async_register_hooks();
    rp_deadline_register_filters();
    ap_hook_pre_config(rp_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(rp_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(rp_health_check_config, NULL, NULL,
                         APR_HOOK_MIDDLE);
    ap_hook_post_config(rp_shm_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(rp_manage_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(rp_buffer_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(rp_lognotes_post_config, NULL, NULL,
                        APR_HOOK_MIDDLE);
    ap_hook_post_config(rp_health_post_config, NULL, watchdog,
                        APR_HOOK_MIDDLE);
    ap_hook_pre_mpm(rp_shm_pre_mpm, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(rproxy_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(rp_translate_name, rewrite, alias,
                           APR_HOOK_FIRST);
    ap_hook_map_to_storage(rp_map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_post_perdir_config(rp_post_perdir_config, NULL, NULL,
                               APR_HOOK_FIRST);
    ap_hook_fixups(rp_fixups, NULL, NULL, APR_HOOK_LAST);
    ap_hook_handler(rp_handler, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(rp_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    rp_status_hook_register();
}

AP_DECLARE_MODULE(rproxy) = {
    STANDARD20_MODULE_STUFF,
    rp_create_dir_conf,
    rp_merge_dir_conf,
    rp_create_server_conf,
    rp_merge_server_conf,
    rproxy_cmds,
    rproxy_register_hooks,
    AP_MODULE_FLAG_NONE
};
