/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_tunnel.c - after a backend answered 101 Switching Protocols, the
 * two connections carry opaque bytes both ways until either side closes or
 * nothing moves for the pool's idle timeout.
 *
 * Both sides are read through their connection filters (so mod_ssl works
 * on either side, and bytes the backend sent right behind its 101 are not
 * lost), with non-blocking reads driven by apr_poll. Writes are blocking
 * and flushed, bounded by the sockets' timeouts.
 *
 * How a tunnel ends, and why:
 * - A side that reads EOF is done sending: the other side is told with a
 *   write shutdown (half-close protocols work) and the closed side leaves
 *   the poll set - poll() reports POLLHUP/POLLERR even for a descriptor
 *   that asks for no events, so keeping it there would wake us forever.
 * - A read error (a reset) or a failed write means that side is gone both
 *   ways: nothing it sends will come, nothing sent to it will arrive. The
 *   tunnel ends.
 * - POLLHUP/POLLERR with nothing left to read is EOF, so that a wakeup
 *   always makes progress.
 * - The idle deadline runs from the last time bytes moved, not from the
 *   last wakeup: no spurious wakeup can postpone it.
 *
 * Under the event MPM a tunnel that has been idle for RProxyTunnel
 * async_after leaves this loop and waits without a worker
 * (rproxy_tunnel_async.c); a worker runs the same loop again when a side
 * has data, so a tunnel ends, counts and logs the same either way.
 */

#include "rproxy_tunnel.h"
#include "rproxy_splice.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_connection.h"

#include <stdlib.h>

#define RP_TUNNEL_BUFSIZE   (64 * 1024)

typedef rp_tunnel_side_t side_t;

/* A failed write, never to be taken for "nothing yet" or "finished". */
static apr_status_t
write_failed(apr_status_t rv)
{
    return APR_STATUS_IS_EAGAIN(rv) || APR_STATUS_IS_EOF(rv)
           ? APR_ECONNABORTED : rv;
}

/* What the waiting thread left of `from` (rproxy_tunnel_fast.c), first:
 * the bytes it could not write, then how its read ended, as the pump's
 * own write and read would have had them. APR_SUCCESS: nothing left. */
static apr_status_t
tunnel_carried(side_t *from, side_t *to, side_t **broken)
{
    apr_status_t rv = from->pend_failed;

    if (from->pend_len) {
        if (rv == APR_SUCCESS) {
            APR_BRIGADE_INSERT_TAIL(to->bb, apr_bucket_transient_create(
                from->pend, from->pend_len, to->bb->bucket_alloc));
            APR_BRIGADE_INSERT_TAIL(to->bb, apr_bucket_flush_create(
                to->bb->bucket_alloc));
            rv = ap_pass_brigade(to->c->output_filters, to->bb);
            apr_brigade_cleanup(to->bb);
        }
        if (rv != APR_SUCCESS) {
            *broken = to;
            return write_failed(rv);
        }
        from->moved += from->pend_len;
        free(from->pend);
        from->pend = NULL;
        from->pend_len = 0;
    }
    if ((rv = from->carried) != APR_SUCCESS) {
        from->carried = APR_SUCCESS;
        *broken = from;
    }
    return rv;
}

/* Moves what `from` has ready into `to`. Returns APR_EAGAIN when `from`
 * has nothing more for now, APR_EOF when it finished sending, any other
 * status when a side failed (*broken says which). */
static apr_status_t
tunnel_pump(side_t *from, side_t *to, side_t **broken)
{
    apr_bucket_alloc_t *ba = to->bb->bucket_alloc;
    apr_status_t rv;
    apr_bucket *b;
    apr_off_t len;
    int eos;

    if ((rv = tunnel_carried(from, to, broken)) != APR_SUCCESS) {
        return rv;
    }
    /* zero-copy when neither side needs the bytes seen */
    rv = from->zero_copy ? rp_splice_tunnel(from->c, to->c, &from->moved,
                                            &eos)
                         : APR_ENOTIMPL;
    if (rv != APR_ENOTIMPL) {
        *broken = eos ? to : from;
        return rv;
    }
    for (;;) {
        rv = ap_get_brigade(from->c->input_filters, from->bb,
                            AP_MODE_READBYTES, APR_NONBLOCK_READ,
                            RP_TUNNEL_BUFSIZE);
        if (rv != APR_SUCCESS) {
            apr_brigade_cleanup(from->bb);
            *broken = from;
            return rv;
        }
        if (APR_BRIGADE_EMPTY(from->bb)) {
            return APR_EAGAIN;
        }
        /* the other side gets the bytes, never our end-of-stream: how an
         * end is passed on is the loop's decision (a write shutdown) */
        eos = 0;
        len = 0;
        for (b = APR_BRIGADE_FIRST(from->bb);
             b != APR_BRIGADE_SENTINEL(from->bb); b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t n;

            if (APR_BUCKET_IS_EOS(b)) {
                eos = 1;
            }
            else if (!APR_BUCKET_IS_METADATA(b)
                     && apr_bucket_read(b, &data, &n, APR_BLOCK_READ)
                        == APR_SUCCESS && n) {
                APR_BRIGADE_INSERT_TAIL(to->bb, apr_bucket_transient_create(
                                            data, n, ba));
                len += n;
            }
        }
        if (len) {
            APR_BRIGADE_INSERT_TAIL(to->bb, apr_bucket_flush_create(ba));
            rv = ap_pass_brigade(to->c->output_filters, to->bb);
        }
        apr_brigade_cleanup(to->bb);
        apr_brigade_cleanup(from->bb);
        if (rv != APR_SUCCESS) {
            *broken = to;
            return write_failed(rv);
        }
        from->moved += len;
        if (eos) {
            return APR_EOF;
        }
    }
}

/* A primary connection is polled on its socket. An HTTP/2 stream (a
 * secondary connection) shares the client's socket with every other
 * stream, and mod_http2 gives it a socket that is not even connected:
 * polling that, setting its timeout or shutting it down would be wrong;
 * httpd 2.4.58+ gives a descriptor that signals the stream's own input
 * (APR_NO_DESC: the stream has no input at all). APR_ENOTIMPL where
 * httpd has none (upgrade_possible() in rproxy_forward.c then
 * refuses the upgrade). */
apr_status_t
rp_tunnel_pollfd(conn_rec *c, apr_pollfd_t *pfd)
{
    if (!c->master) {
        pfd->desc_type = APR_POLL_SOCKET;
        pfd->desc.s = ap_get_conn_socket(c);
        return APR_SUCCESS;
    }
#if AP_MODULE_MAGIC_AT_LEAST(20120211, 129)
    if (ap_get_pollfd_from_conn(c, pfd, NULL) == APR_SUCCESS) {
        return APR_SUCCESS;
    }
#endif
    return APR_ENOTIMPL;
}

static apr_status_t
side_init(side_t *s, const char *name, conn_rec *c, apr_pool_t *p)
{
    apr_status_t rv;

    memset(s, 0, sizeof(*s));
    s->name = name;
    s->c = c;
    s->bb = apr_brigade_create(p, c->bucket_alloc);
    s->pfd.p = p;
    s->pfd.reqevents = APR_POLLIN;
    s->pfd.client_data = s;
    if ((rv = rp_tunnel_pollfd(c, &s->pfd)) != APR_SUCCESS) {
        return rv;
    }
    if (!c->master) {
        s->sock = s->pfd.desc.s;
    }
    s->read_closed = s->pfd.desc_type == APR_NO_DESC;
    return APR_SUCCESS;
}

/* The other side is done sending. A socket is shut down for writing; an
 * HTTP/2 stream cannot be half-closed from here (its end is the end of
 * the response, when the handler returns), so the tunnel ends. */
static int
pass_eof(side_t *to)
{
    if (to->sock) {
        apr_socket_shutdown(to->sock, APR_SHUTDOWN_WRITE);
        return 1;
    }
    return 0;
}

/* Drains both sides. Returns APR_SUCCESS while the tunnel goes on,
 * APR_EOF when both sides finished sending, an error when one failed. */
static apr_status_t
tunnel_drain(rp_exchange_t *ex, side_t *sides, apr_time_t *last_moved)
{
    apr_status_t rv;
    side_t *broken;
    apr_off_t before;
    request_rec *r = ex->r;
    int i;

    for (i = 0; i < 2; i++) {
        side_t *from = &sides[i], *to = &sides[1 - i];

        if (from->read_closed) {
            continue;
        }
        before = from->moved;
        broken = NULL;
        rv = tunnel_pump(from, to, &broken);
        if (from->moved != before) {
            *last_moved = apr_time_now();
        }
        if (APR_STATUS_IS_EAGAIN(rv) && from->hup) {
            rv = APR_EOF;       /* hung up, and nothing left to read */
        }
        if (APR_STATUS_IS_EOF(rv)) {
            from->read_closed = 1;
            if (!pass_eof(to)) {
                return APR_EOF;
            }
        }
        else if (!APR_STATUS_IS_EAGAIN(rv)) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r, RPLOGNO(00140)
                          RP_MEMBER_FMT "tunnel: %s connection failed (%s); "
                          "closed", RP_MEMBER_ARGS(ex->m), broken->name,
                          broken == from ? "read" : "write");
            return rv;
        }
    }
    return sides[0].read_closed && sides[1].read_closed ? APR_EOF
                                                          : APR_SUCCESS;
}

/* Waits for a side that may still send, until the idle deadline. */
static apr_status_t
wait_for_input(side_t *sides, apr_interval_time_t left)
{
    apr_pollfd_t pfds[2];
    apr_int32_t n = 0, nev, i;
    apr_status_t rv;

    for (i = 0; i < 2; i++) {
        if (!sides[i].read_closed) {
            pfds[n++] = sides[i].pfd;
        }
    }
    do {
        rv = apr_poll(pfds, n, &nev, left);
    } while (APR_STATUS_IS_EINTR(rv));
    for (i = 0; rv == APR_SUCCESS && i < n; i++) {
        if (pfds[i].rtnevents & (APR_POLLHUP | APR_POLLERR | APR_POLLNVAL)) {
            ((side_t *)pfds[i].client_data)->hup = 1;
        }
    }
    return rv;
}

apr_status_t
rp_tunnel_loop(rp_tunnel_t *t)
{
    rp_exchange_t *ex = t->ex;
    request_rec *r = ex->r;
    apr_interval_time_t left, quiet;
    apr_time_t now;
    apr_status_t rv;

    /* drain first on every round: filters may already hold data (bytes
     * behind the 101, or buffered TLS records) that poll cannot see */
    while ((rv = tunnel_drain(ex, t->sides, &t->last_moved))
           == APR_SUCCESS) {
        now = apr_time_now();
        left = t->last_moved + t->idle - now;
        if (left <= 0) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, RPLOGNO(00051)
                          RP_MEMBER_FMT "tunnel idle for %" APR_TIME_T_FMT
                          "s; closed", RP_MEMBER_ARGS(ex->m),
                          apr_time_sec(t->idle));
            break;
        }
        if (t->async_after >= 0) {
            /* everything that was ready has moved: a worker is no
             * longer needed once the quiet lasts */
            quiet = now - t->last_moved;
            if (quiet >= t->async_after) {
                return APR_EAGAIN;
            }
            left = left < t->async_after - quiet ? left
                                                 : t->async_after - quiet;
        }
        rv = wait_for_input(t->sides, left);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_TIMEUP(rv)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, RPLOGNO(00141)
                          RP_MEMBER_FMT "tunnel: poll failed; closed",
                          RP_MEMBER_ARGS(ex->m));
            break;
        }
    }
    return APR_SUCCESS;
}

void
rp_tunnel_closed(rp_tunnel_t *t)
{
    request_rec *r = t->ex->r;

    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, RPLOGNO(00142)
                  RP_MEMBER_FMT "tunnel closed: %" APR_OFF_T_FMT
                  " bytes from the client, %" APR_OFF_T_FMT
                  " from the member", RP_MEMBER_ARGS(t->ex->m),
                  t->sides[0].moved, t->sides[1].moved);
    rp_tunnel_fast_release(t);
    /* the connection carried another protocol: no HTTP/1.1 can follow on
     * it. An HTTP/2 stream just ends with the response; its connection
     * serves the other streams on. */
    if (!r->connection->master) {
        r->connection->keepalive = AP_CONN_CLOSE;
        r->connection->aborted = 1;
    }
}

/* An allocator keeps no free block from now on, none of those it
 * already has either: apr_allocator_max_free_set() only applies to the
 * blocks freed after it (a connection's allocator may hold one or two a
 * request gave back, which an idle tunnel would keep for its life). So
 * the free ones are taken out, one after the other (the allocator hands
 * out the smallest free block that is large enough, of any size), and
 * freed to the system; a block that comes back at the address of the one
 * just freed came from malloc: none was left. */
static void
allocator_max_free_1(apr_allocator_t *a)
{
    apr_memnode_t *n;
    void *last = NULL;
    int i;

    apr_allocator_max_free_set(a, 1);
    for (i = 0; i < 16 && (n = apr_allocator_alloc(a, 1)); i++) {
        apr_allocator_free(a, n);
        if (n == last) {
            break;
        }
        last = n;
    }
}

/* The tunnel's timeouts: RProxyTunnel idle= or else the route's idle=;
 * async_after only where the MPM can wait for the client's connection
 * (a primary one) and async= is on. */
static void
tunnel_times(rp_tunnel_t *t)
{
    rp_exchange_t *ex = t->ex;

    t->idle = ex->to.tunnel_idle > 0 ? ex->to.tunnel_idle : ex->to.idle;
    t->async_after = -1;
    if (ex->to.tunnel_async > 0 && !ex->r->connection->master
        && ex->r->connection->cs && rp_tunnel_async_ready()) {
        t->async_after = ex->to.tunnel_async_after;
    }
}

apr_status_t
rp_tunnel_run(rp_exchange_t *ex, int *suspended)
{
    request_rec *r = ex->r;
    /* the tunnel's records go where they live as long as it does, not
     * into the request's pool, whose first block the request has about
     * filled (a second block, most of it empty, for the tunnel's life):
     * a client's connection closes with its tunnel; an HTTP/2 stream's
     * (a secondary connection) is mod_http2's, so its tunnel stays in
     * the request; the member's connection is never reused after */
    apr_pool_t *cp = r->connection->master ? r->pool : r->connection->pool;
    rp_tunnel_t *t = apr_pcalloc(cp, sizeof(*t));
    side_t *sides = t->sides;
    apr_status_t rv;
    int i;

    *suspended = 0;
    t->ex = ex;
    tunnel_times(t);
    if ((rv = side_init(&sides[0], "client", r->connection, cp))
        != APR_SUCCESS
        || (rv = side_init(&sides[1], "member", ex->bc->c, ex->bc->pool))
           != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, RPLOGNO(00144)
                      RP_MEMBER_FMT "tunnel: cannot wait on the connection",
                      RP_MEMBER_ARGS(ex->m));
        return rv;
    }
    /* the 101 itself, with the protocol we agreed on (on an HTTP/2
     * stream, mod_http2 turns it into the 200 RFC 8441 wants) */
    apr_table_setn(r->headers_out, "Connection", "Upgrade");
    apr_table_setn(r->headers_out, "Upgrade", ex->upgrade ? ex->upgrade
                   : "websocket");
    ap_send_interim_response(r, 1);
    ap_remove_input_filter_byhandle(r->connection->input_filters,
                                    "reqtimeout");
    for (i = 0; i < 2; i++) {
        if (sides[i].sock) {
            apr_socket_timeout_set(sides[i].sock, t->idle);
        }
        sides[i].zero_copy = !ex->dconf || ex->dconf->zero_copy != 0;
    }
    if (t->async_after >= 0) {
        /* what a pass reads goes back to the system after it, not onto
         * the connections' free lists where an idle tunnel would keep
         * it: neither allocator serves anything after the tunnel (the
         * client's connection closes with it, the member's is not
         * reused) */
        allocator_max_free_1(apr_pool_allocator_get(r->connection->pool));
        allocator_max_free_1(apr_pool_allocator_get(ex->bc->pool));
    }
    /* the member's 101 is out (ap_send_interim_response() cleared
     * r->headers_out, which pointed into it) and nothing reads it again:
     * its pool is not kept for the tunnel's life (a block of its own;
     * after max_free above, or the allocator would keep the block) */
    if (ex->rp) {
        apr_pool_destroy(ex->rp->pool);
        ex->rp = NULL;
        ex->reason = NULL;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, RPLOGNO(00050)
                  RP_MEMBER_FMT "tunnel open (%s)", RP_MEMBER_ARGS(ex->m),
                  ex->upgrade ? ex->upgrade : "?");
    t->last_moved = apr_time_now();
    while (rp_tunnel_loop(t) == APR_EAGAIN) {
        if (rp_tunnel_async_suspend(t) == APR_SUCCESS) {
            *suspended = 1;
            return APR_SUCCESS;
        }
        t->async_after = -1;    /* this thread it is, then */
    }
    rp_tunnel_closed(t);
    return APR_SUCCESS;
}
