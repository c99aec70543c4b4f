/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_tunnel_fast.c - a small message on a waiting tunnel is moved by
 * the waiting thread itself (rproxy_tunnel_async.c): one read, one
 * write, and the tunnel waits on, with no worker, no MPM timer and no
 * async_after quiet period in between - what an event-loop proxy pays.
 *
 * When: both ways of the tunnel could be spliced (rp_splice_tunnel_raw():
 * plain sockets, no TLS, no filter that looks at the bytes, nothing read
 * ahead), whatever RProxyZeroCopy says (nothing is spliced here). A TLS
 * or filtered tunnel waits as before: a worker runs its loop.
 *
 * A worker's loop takes over, exactly as if the waiting thread had only
 * woken it, when:
 * - the read filled the buffer (more is likely there: the worker's pump
 *   moves it in bulk, spliced where allowed);
 * - the write took less than all, or would block: what is left stays in
 *   the sending side's pend (allocated only then) and the loop writes it
 *   first, before it reads that side again, so the order holds;
 * - the write failed: the loop reports that side's failure as its own
 *   write would have (pend_failed, not retried);
 * - the read said EOF or failed: the loop's pump returns that status
 *   (carried) as if its own read had had it, so a reset is not lost to a
 *   second read that would only see EOF.
 * Bytes are counted where the filters would have counted them
 * (rp_splice_tunnel_counted()), and in the tunnel's own count once they
 * are written, which moves its idle deadline.
 */

#include "rproxy_tunnel.h"
#include "rproxy_splice.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

int
rp_tunnel_fast_prepare(rp_tunnel_t *t, rp_tunnel_raw_t raw[2])
{
    rp_tunnel_side_t *s = t->sides;
    int i;

    for (i = 0; i < 2; i++) {
        if (!s[i].sock || s[i].pend_len || s[i].carried || s[i].hup) {
            return 0;
        }
    }
    return rp_splice_tunnel_raw(s[0].c, s[1].c, &raw[0])
           && rp_splice_tunnel_raw(s[1].c, s[0].c, &raw[1]);
}

/* Keeps what the write left (or all of it, when it failed) for the
 * worker's loop. */
static void
keep(rp_tunnel_side_t *from, const char *data, apr_size_t len,
     apr_status_t failed)
{
    from->pend = malloc(len);
    if (!from->pend) {
        /* the bytes cannot be kept: the tunnel cannot go on intact */
        from->pend_failed = APR_ENOMEM;
        from->pend_len = 1;
        return;
    }
    memcpy(from->pend, data, len);
    from->pend_len = len;
    from->pend_failed = failed;
}

int
rp_tunnel_fast_move(rp_tunnel_t *t, int i, const rp_tunnel_raw_t *raw,
                    char *buf, apr_size_t size)
{
    rp_tunnel_side_t *from = &t->sides[i];
    apr_status_t failed = APR_SUCCESS;
    apr_size_t done = 0;
    ssize_t n, w;

    do {
        n = recv(raw->from_fd, buf, size, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return 1;       /* woken for nothing: wait on */
    }
    if (n <= 0) {
        from->carried = n ? APR_FROM_OS_ERROR(errno) : APR_EOF;
        return 0;
    }
    while (done < (apr_size_t)n) {
        w = send(raw->to_fd, buf + done, n - done,
                 MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                failed = APR_FROM_OS_ERROR(errno);
            }
            break;
        }
        done += w;
    }
    rp_splice_tunnel_counted(raw, n, done);
    if (done) {
        from->moved += done;
        t->last_moved = apr_time_now();
    }
    if (done < (apr_size_t)n) {
        keep(from, buf + done, n - done, failed);
        return 0;
    }
    return (apr_size_t)n < size;
}

void
rp_tunnel_fast_release(rp_tunnel_t *t)
{
    int i;

    for (i = 0; i < 2; i++) {
        free(t->sides[i].pend);
        t->sides[i].pend = NULL;
        t->sides[i].pend_len = 0;
    }
}
