/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_tunnel.c - after a backend answered 101 Switching Protocols, the
 * two connections carry opaque bytes both ways until either side closes or
 * nothing moves for the pool's idle timeout.
 *
 * Both sides are read through their connection filters (so mod_ssl works
 * on either side, and bytes the backend sent right behind its 101 are not
 * lost), with non-blocking reads driven by apr_poll. Writes are blocking
 * and flushed, bounded by the sockets' timeouts. When one side closes, the
 * other is told with a write shutdown, so half-closed protocols work.
 */

#include "rproxy_private.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_connection.h"
#include "apr_poll.h"

#define RP_TUNNEL_BUFSIZE   (64 * 1024)

typedef struct {
    conn_rec *c;
    apr_socket_t *sock;
    apr_bucket_brigade *bb;     /* in c's allocator */
    int read_closed;
} side_t;

/* Moves what `from` has ready into `to`. Returns APR_EOF when `from` is
 * closed, APR_EAGAIN when it has nothing more for now. */
static apr_status_t
pump(side_t *from, side_t *to)
{
    apr_status_t rv;

    for (;;) {
        rv = ap_get_brigade(from->c->input_filters, from->bb,
                            AP_MODE_READBYTES, APR_NONBLOCK_READ,
                            RP_TUNNEL_BUFSIZE);
        if (rv == APR_SUCCESS && APR_BRIGADE_EMPTY(from->bb)) {
            rv = APR_EAGAIN;
        }
        if (rv != APR_SUCCESS) {
            apr_brigade_cleanup(from->bb);
            return APR_STATUS_IS_EAGAIN(rv) ? APR_EAGAIN : APR_EOF;
        }
        rp_client_transfer(to->bb, from->bb);
        apr_brigade_cleanup(from->bb);
        APR_BRIGADE_INSERT_TAIL(to->bb,
                                apr_bucket_flush_create(to->bb->bucket_alloc));
        rv = ap_pass_brigade(to->c->output_filters, to->bb);
        apr_brigade_cleanup(to->bb);
        if (rv != APR_SUCCESS) {
            return APR_EOF;
        }
    }
}

static void
side_init(side_t *s, conn_rec *c, apr_pool_t *p)
{
    s->c = c;
    s->sock = ap_get_conn_socket(c);
    s->bb = apr_brigade_create(p, c->bucket_alloc);
    s->read_closed = 0;
}

apr_status_t
rp_tunnel_run(rp_exchange_t *ex)
{
    request_rec *r = ex->r;
    apr_interval_time_t idle = ex->m->pool->to.idle;
    side_t sides[2];
    apr_pollfd_t pfds[2];
    apr_status_t rv = APR_SUCCESS;
    int i, n;

    /* the 101 itself, with the protocol we agreed on */
    apr_table_setn(r->headers_out, "Connection", "Upgrade");
    apr_table_setn(r->headers_out, "Upgrade", ex->upgrade ? ex->upgrade
                   : "websocket");
    ap_send_interim_response(r, 1);
    ap_remove_input_filter_byhandle(r->connection->input_filters,
                                    "reqtimeout");
    side_init(&sides[0], r->connection, r->pool);
    side_init(&sides[1], ex->bc->c, r->pool);
    memset(pfds, 0, sizeof(pfds));
    for (i = 0; i < 2; i++) {
        apr_socket_timeout_set(sides[i].sock, idle);
        pfds[i].p = r->pool;
        pfds[i].desc_type = APR_POLL_SOCKET;
        pfds[i].desc.s = sides[i].sock;
        pfds[i].reqevents = APR_POLLIN;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, RPLOGNO(00050)
                  RP_MEMBER_FMT "tunnel open (%s)", RP_MEMBER_ARGS(ex->m),
                  ex->upgrade ? ex->upgrade : "?");
    while (!sides[0].read_closed || !sides[1].read_closed) {
        /* drain first: filters may already hold data (bytes behind the
         * 101, or buffered TLS records) that poll cannot see */
        for (i = 0; i < 2; i++) {
            if (!sides[i].read_closed
                && pump(&sides[i], &sides[1 - i]) == APR_EOF) {
                sides[i].read_closed = 1;
                apr_socket_shutdown(sides[1 - i].sock, APR_SHUTDOWN_WRITE);
                pfds[i].reqevents = 0;
            }
        }
        if (sides[0].read_closed && sides[1].read_closed) {
            break;
        }
        rv = apr_poll(pfds, 2, &n, idle);
        if (APR_STATUS_IS_TIMEUP(rv)) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, RPLOGNO(00051)
                          RP_MEMBER_FMT "tunnel idle for %" APR_TIME_T_FMT
                          "s; closed", RP_MEMBER_ARGS(ex->m),
                          apr_time_sec(idle));
            break;
        }
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EINTR(rv)) {
            break;
        }
    }
    r->connection->keepalive = AP_CONN_CLOSE;
    r->connection->aborted = 1;
    return APR_SUCCESS;
}
