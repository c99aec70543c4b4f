/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_deadline.c - one deadline for everything a connection reads and
 * writes, as connection filters: what a health check needs (rproxy_health.c)
 * to end at its timeout however the member trickles its bytes.
 */

#include "rproxy_private.h"

#include "util_filter.h"
#include "apr_poll.h"

/* A health check's deadline, enforced on every read and write of its
 * connection. rproxy_member_http.c sets the socket timeout once per
 * response head, and that bounds each wait for bytes, not their sum: a
 * member that trickles a byte now and then would hold a check (and a
 * prober thread) forever and stay up. These filters sit right above the
 * core's, below mod_ssl, so a TLS handshake is bounded too.
 *
 * Each write and each read gets only the time left. A line read
 * (AP_MODE_GETLINE, the response head of a plain-HTTP member) is the one
 * case the socket timeout cannot bound: the core keeps reading until the
 * line is complete, each read with the full timeout. Such a read is made
 * non-blocking here, waiting for the socket with the time left between
 * tries; ap_rgetline() takes the partial lines and asks again. */
#define RP_HC_DEADLINE_FILTER   "rproxy_hc_deadline"
static ap_filter_rec_t *deadline_in_handle;
static ap_filter_rec_t *deadline_out_handle;

typedef struct {
    apr_pool_t *pool;
    apr_socket_t *sock;
    apr_time_t deadline;
} rp_deadline_t;

static apr_status_t
deadline_arm(rp_deadline_t *dl)
{
    apr_interval_time_t left = dl->deadline - apr_time_now();

    if (left <= 0) {
        return APR_TIMEUP;
    }
    apr_socket_timeout_set(dl->sock, left);
    return APR_SUCCESS;
}

/* Waits until the socket is readable, at most until the deadline. */
static apr_status_t
deadline_wait(rp_deadline_t *dl)
{
    apr_interval_time_t left = dl->deadline - apr_time_now();
    apr_pollfd_t pfd;
    apr_int32_t n = 0;
    apr_status_t rv;

    if (left <= 0) {
        return APR_TIMEUP;
    }
    memset(&pfd, 0, sizeof(pfd));
    pfd.p = dl->pool;
    pfd.desc_type = APR_POLL_SOCKET;
    pfd.desc.s = dl->sock;
    pfd.reqevents = APR_POLLIN;
    rv = apr_poll(&pfd, 1, &n, left);
    return rv == APR_SUCCESS && n == 0 ? APR_TIMEUP : rv;
}

static apr_status_t
deadline_in(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
            apr_read_type_e block, apr_off_t readbytes)
{
    rp_deadline_t *dl = f->ctx;
    apr_status_t rv;

    if (mode != AP_MODE_GETLINE || block != APR_BLOCK_READ) {
        rv = deadline_arm(dl);
        return rv != APR_SUCCESS ? rv
               : ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    for (;;) {
        rv = ap_get_brigade(f->next, bb, mode, APR_NONBLOCK_READ, readbytes);
        if (rv != APR_SUCCESS || !APR_BRIGADE_EMPTY(bb)) {
            return rv;
        }
        if ((rv = deadline_wait(dl)) != APR_SUCCESS) {
            return rv;
        }
    }
}

static apr_status_t
deadline_out(ap_filter_t *f, apr_bucket_brigade *bb)
{
    apr_status_t rv = deadline_arm(f->ctx);

    if (rv != APR_SUCCESS) {
        apr_brigade_cleanup(bb);
        return rv;
    }
    return ap_pass_brigade(f->next, bb);
}

void
rp_deadline_register_filters(void)
{
    /* mod_ssl is AP_FTYPE_CONNECTION + 5, the core AP_FTYPE_NETWORK */
    deadline_in_handle = ap_register_input_filter(
        RP_HC_DEADLINE_FILTER, deadline_in, NULL, AP_FTYPE_CONNECTION + 9);
    deadline_out_handle = ap_register_output_filter(
        RP_HC_DEADLINE_FILTER, deadline_out, NULL, AP_FTYPE_CONNECTION + 9);
}

void
rp_deadline_add(apr_pool_t *p, rp_bconn_t *bc, apr_time_t deadline)
{
    rp_deadline_t *dl = apr_palloc(p, sizeof(*dl));

    dl->pool = p;
    dl->sock = bc->sock;
    dl->deadline = deadline;
    ap_add_input_filter_handle(deadline_in_handle, dl, NULL, bc->c);
    ap_add_output_filter_handle(deadline_out_handle, dl, NULL, bc->c);
}
