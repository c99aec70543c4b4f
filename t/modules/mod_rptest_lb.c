/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * mod_rptest_lb -- TEST-ONLY third-party balancer for the mod_rproxy suite.
 *
 * It proves the provider API from the outside: a separate module, built
 * apart from mod_rproxy with nothing but mod_rproxy.h, registers a
 * balancer that a pool then selects by name:
 *
 *   LoadModule rproxy_module     .../mod_rproxy.so
 *   LoadModule rptest_lb_module  .../mod_rptest_lb.so   (after mod_rproxy)
 *   <RProxyPool p>
 *       RProxyMember ...
 *       RProxyBalancer rptest_last
 *   </RProxyPool>
 *
 * "rptest_last" always picks the last candidate the core offers, so its
 * choice is trivially observable: b3 of b1 b2 b3, and b2 once b3 is
 * disabled or already tried. It takes no ARGS.
 */

#include "httpd.h"
#include "http_config.h"
#include "ap_provider.h"

#include "mod_rproxy.h"

static const char *
last_create(void **state, apr_pool_t *p, rproxy_pool_t *pool,
            const char *args)
{
    (void)p;
    if (args) {
        return "rptest_last takes no arguments";
    }
    /* an accessor, resolved from mod_rproxy.so at load time */
    if (rproxy_pool_size(pool) < 1) {
        return "rptest_last needs a member";
    }
    *state = pool;
    return NULL;
}

static int
last_pick(void *state, request_rec *r, rproxy_member_t *const *cand, int n)
{
    (void)state;
    (void)r;
    (void)cand;
    return n - 1;
}

static const rproxy_balancer_t last_balancer = {
    "rptest_last",
    0,
    last_create,
    last_pick,
    NULL
};

static void
rptest_lb_register_hooks(apr_pool_t *p)
{
    ap_register_provider(p, RPROXY_BALANCER_GROUP, "rptest_last",
                         RPROXY_BALANCER_VERSION, &last_balancer);
}

AP_DECLARE_MODULE(rptest_lb) = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    rptest_lb_register_hooks,
    AP_MODULE_FLAG_NONE
};
