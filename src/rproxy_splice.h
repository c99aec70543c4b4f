/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_splice.h - zero-copy response bodies (rproxy_splice.c), for the
 * relay (rproxy_relay.c), the status page and the module record. Not API.
 */

#ifndef RPROXY_SPLICE_H
#define RPROXY_SPLICE_H

#include "rproxy_private.h"

/* Looks up mod_logio's byte counter; from register_hooks. */
void rp_splice_register_hooks(void);

/**
 * Relays the response body of ex (head read, not yet sent) with splice(2)
 * when nothing in httpd needs to see its bytes (see the file's comment).
 * Decided once per request; the head goes out through the client's
 * filters either way.
 * @param spliced set to the body bytes moved in the kernel
 * @return APR_ENOTIMPL: not applicable, nothing of the body was read, the
 *         caller relays it by copying (the head may be out already);
 *         otherwise what rp_member_http_relay_body() returns: an error
 *         only for a member failure, *complete as there.
 */
apr_status_t rp_splice_relay(rp_exchange_t *ex, int *complete,
                             apr_off_t *spliced);

/* Adds a body's bytes to its pool's shared counters. Any thread. */
void rp_splice_count(rproxy_pool_t *pool, apr_uint64_t spliced,
                     apr_uint64_t copied);

#endif /* RPROXY_SPLICE_H */
