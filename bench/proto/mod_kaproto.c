/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * bench/proto/mod_kaproto.c - a prototype for measurements only, not part
 * of mod_rproxy and never loaded by it (bench/compare.sh and syscalls.sh
 * build it for their "rproxy_kaproto" proxy).
 *
 * Under mpm_event a worker thread serves one request of a keep-alive
 * connection and hands the connection back to the listener thread, which
 * waits for the next request in epoll and wakes a worker again: per
 * request an epoll_ctl pair, an epoll_wait and several futex calls. This
 * module's process_connection hook, run before httpd's own, keeps the
 * worker on the connection instead: after a request whose connection
 * stays open, it waits up to KAProtoWait milliseconds (default 100) in
 * poll() for the next request and serves it in the same thread; only when
 * none comes (or output is still pending, or the request was not
 * successful) does the connection go back to the MPM as before. It is what
 * mpm_worker does, inside mpm_event, for a short while.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "scoreboard.h"
#include "apr_poll.h"
#include "apr_strings.h"

module AP_MODULE_DECLARE_DATA kaproto_module;

static apr_interval_time_t wait_time = 100 * 1000;

static const char *
cmd_wait(cmd_parms *cmd, void *d, const char *arg)
{
    (void)cmd;
    (void)d;
    wait_time = apr_time_from_msec(apr_atoi64(arg));
    return NULL;
}

/* Does the next request arrive within wait_time? */
static int
next_request_ready(conn_rec *c)
{
    apr_pollfd_t pfd;
    apr_int32_t n = 0;

    if (c->data_in_input_filters) {
        return 1;                   /* pipelined: already read */
    }
    memset(&pfd, 0, sizeof(pfd));
    pfd.p = c->pool;
    pfd.desc_type = APR_POLL_SOCKET;
    pfd.desc.s = ap_get_conn_socket(c);
    pfd.reqevents = APR_POLLIN;
    return apr_poll(&pfd, 1, &n, wait_time) == APR_SUCCESS && n > 0;
}

static int
kaproto_process_connection(conn_rec *c)
{
    conn_state_t *cs = c->cs;
    request_rec *r;

    if (!cs || c->master || c->clogging_input_filters
        || cs->state != CONN_STATE_PROCESSING) {
        return DECLINED;
    }
    for (;;) {
        ap_update_child_status_from_conn(c->sbh, SERVER_BUSY_READ, c);
        if ((r = ap_read_request(c)) == NULL) {
            cs->state = CONN_STATE_LINGER;
            break;
        }
        if (r->status == HTTP_OK) {
            cs->state = CONN_STATE_HANDLER;
            ap_update_child_status(c->sbh, SERVER_BUSY_WRITE, r);
            /* as mpm_worker's loop: the request, then a flush unless
             * the next request is already read (pipelined), so that
             * nothing of this response is left for the MPM to write */
            ap_process_request(r);
        }
        r = NULL;                   /* its pool is gone */
        if (cs->state != CONN_STATE_WRITE_COMPLETION) {
            if (cs->state != CONN_STATE_SUSPENDED) {
                cs->state = CONN_STATE_LINGER;
            }
            break;
        }
        /* the MPM completes pending writes and closes connections; only
         * a finished, kept-alive exchange stays here */
        if (c->keepalive != AP_CONN_KEEPALIVE || c->aborted
            || c->data_in_output_filters || !next_request_ready(c)) {
            break;
        }
        cs->state = CONN_STATE_PROCESSING;
    }
    return OK;
}

static void
kaproto_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_process_connection(kaproto_process_connection, NULL, NULL,
                               APR_HOOK_REALLY_FIRST);
}

static const command_rec kaproto_cmds[] = {
    AP_INIT_TAKE1("KAProtoWait", cmd_wait, NULL, RSRC_CONF,
                  "milliseconds a worker waits on a kept-alive connection"),
    { NULL }
};

AP_DECLARE_MODULE(kaproto) = {
    STANDARD20_MODULE_STUFF,
    NULL, NULL, NULL, NULL,
    kaproto_cmds,
    kaproto_register_hooks
};
