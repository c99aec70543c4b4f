/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_splice.c - zero-copy bodies, the move itself: a body goes from
 * one socket to the other with splice(2) through a pipe, in the kernel; no
 * read into a buffer, no bucket, no write from it. When a body may go that
 * way is decided in rproxy_splice_response.c and rproxy_splice_request.c;
 * this file has what both share: the pipe, the move with its waits, and
 * the counters (the pools' spliced and copied bytes, mod_logio's).
 *
 * The move reads what is there from one socket into the pipe, up to the
 * pipe's size and the body's end, then writes all of it to the other
 * socket before it waits for the first one again: a slow stream is never
 * held back, and the pipe is empty whenever the move waits for input.
 * Both sockets are non-blocking (APR made them so, with their timeouts):
 * a move that would block waits in poll() for that socket alone, up to
 * that side's limit.
 *
 * The pipe is one per thread, made at its first use and kept: pipe2(),
 * fcntl() and two close() per body would add four system calls to the
 * ~15 of a proxied 1 MiB response, for nothing (a pipe holds at most
 * RP_ZC_PIPE_SIZE whoever owns it, and httpd's threads are few and
 * long-lived). It is empty between bodies; one that may not be (a failure
 * mid-body) is closed, and the thread makes a new one next time. Threads
 * end with their process, which closes them. The pipe's size: 256 KiB
 * moves a 1 MiB body in 8 splice() calls instead of the 64 KiB default's
 * 32, for 20 % less CPU; 1 MiB saves no more (bench/README).
 */

#include "rproxy_private.h"
#include "rproxy_splice.h"

#include "http_core.h"
#include "apr_atomic.h"
#include "apr_optional.h"
#include "apr_portable.h"

#ifdef RP_HAVE_SPLICE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#endif

static APR_OPTIONAL_FN_TYPE(ap_logio_add_bytes_out) *logio_add_bytes_out;
static APR_OPTIONAL_FN_TYPE(ap_logio_add_bytes_in) *logio_add_bytes_in;

void
rp_splice_count(rproxy_pool_t *pool, rp_zc_dir_e dir, apr_uint64_t spliced,
                apr_uint64_t copied)
{
    rp_shm_pool_t *sh = pool->sh;

    if (!sh) {
        return;
    }
    if (spliced) {
        apr_atomic_add64(dir == RP_ZC_RESPONSE ? &sh->body_spliced
                         : dir == RP_ZC_REQUEST ? &sh->req_body_spliced
                         : &sh->tunnel_spliced, spliced);
    }
    if (copied && dir != RP_ZC_TUNNEL) {
        apr_atomic_add64(dir == RP_ZC_RESPONSE ? &sh->body_copied
                                               : &sh->req_body_copied,
                         copied);
    }
}

/* (built with or without splice(2): the copying relay uses it too) */
apr_off_t
rp_zc_buffered(const apr_bucket_brigade *core_in)
{
    const apr_bucket *b;
    apr_off_t n = 0;

    for (b = APR_BRIGADE_FIRST(core_in);
         b != APR_BRIGADE_SENTINEL(core_in) && !APR_BUCKET_IS_SOCKET(b);
         b = APR_BUCKET_NEXT(b)) {
        if (b->length != (apr_size_t)-1) {
            n += b->length;
        }
    }
    return n;
}

#ifndef RP_HAVE_SPLICE

void
rp_splice_register_hooks(void)
{
}

#else /* RP_HAVE_SPLICE */

#ifndef RP_ZC_PIPE_SIZE
#define RP_ZC_PIPE_SIZE     (256 * 1024)
#endif

static __thread int zc_pipe[2] = { -1, -1 };
static __thread size_t zc_pipe_size;

ap_filter_rec_t *rp_zc_body_done_filter;

static void
retrieve_optional_fns(void)
{
    logio_add_bytes_out = APR_RETRIEVE_OPTIONAL_FN(ap_logio_add_bytes_out);
    logio_add_bytes_in = APR_RETRIEVE_OPTIONAL_FN(ap_logio_add_bytes_in);
    /* every module's filters are registered by now */
    rp_splice_filters_resolve();
}

/* In place of HTTP_IN once a request body was spliced: the body has
 * ended, whoever asks (ap_discard_request_body() at the end of the
 * request does). Other modes go on down. */
static apr_status_t
body_done_in(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
             apr_read_type_e block, apr_off_t readbytes)
{
    if (mode != AP_MODE_READBYTES && mode != AP_MODE_GETLINE) {
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
    return APR_SUCCESS;
}

void
rp_splice_register_hooks(void)
{
    ap_hook_optional_fn_retrieve(retrieve_optional_fns, NULL, NULL,
                                 APR_HOOK_MIDDLE);
    rp_zc_body_done_filter = ap_register_input_filter(
        "rproxy_body_done", body_done_in, NULL, AP_FTYPE_PROTOCOL);
}

void
rp_zc_logio_out(conn_rec *c, apr_off_t n)
{
    if (logio_add_bytes_out && n) {
        logio_add_bytes_out(c, n);
    }
}

void
rp_zc_logio_in(conn_rec *c, apr_off_t n)
{
    if (logio_add_bytes_in && n) {
        logio_add_bytes_in(c, n);
    }
}

int
rp_zc_sock_fd(apr_socket_t *sock, int *fd)
{
    apr_os_sock_t os;
    apr_int32_t nonblock = 0;

    /* APR knows whether it made the socket non-blocking (a timeout >= 0
     * does): no fcntl() needed */
    if (!sock || apr_os_sock_get(&os, sock) != APR_SUCCESS
        || apr_socket_opt_get(sock, APR_SO_NONBLOCK, &nonblock)
           != APR_SUCCESS || !nonblock) {
        return 0;
    }
    *fd = os;
    return 1;
}

int
rp_zc_timeout_ms(apr_interval_time_t t)
{
    if (t <= 0) {
        return -1;
    }
    return t >= apr_time_from_sec(86400) ? 86400 * 1000
                                         : (int)((t + 999) / 1000);
}

int
rp_zc_pipe_ready(void)
{
    int size;

    if (zc_pipe[0] >= 0) {
        return 1;
    }
    if (pipe2(zc_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        zc_pipe[0] = zc_pipe[1] = -1;
        return 0;
    }
    size = fcntl(zc_pipe[1], F_SETPIPE_SZ, RP_ZC_PIPE_SIZE);
    zc_pipe_size = size > 0 ? (size_t)size : 65536;
    return 1;
}

static void
pipe_drop(void)
{
    close(zc_pipe[0]);
    close(zc_pipe[1]);
    zc_pipe[0] = zc_pipe[1] = -1;
}

static apr_status_t
wait_for(int fd, short events, int ms)
{
    struct pollfd pfd;
    int n;

    pfd.fd = fd;
    pfd.events = events;
    pfd.revents = 0;
    do {
        n = poll(&pfd, 1, ms);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    return n == 0 ? APR_TIMEUP : APR_SUCCESS;
}

/* `in` -> pipe: what is there, up to the pipe's size and the body's end. */
static apr_status_t
splice_in(rp_zc_move_t *mv)
{
    size_t want = zc_pipe_size;
    ssize_t n;

    if (mv->left >= 0 && (apr_off_t)want > mv->left) {
        want = (size_t)mv->left;
    }
    n = splice(mv->in, NULL, zc_pipe[1], NULL, want,
               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
        mv->piped = (apr_size_t)n;
        mv->moved_in += n;
        if (mv->left > 0) {
            mv->left -= n;
        }
        return APR_SUCCESS;
    }
    if (n == 0) {
        /* the peer's close: the end of a close-delimited body, a
         * truncated sized one */
        if (mv->left > 0) {
            return APR_INCOMPLETE;
        }
        mv->left = 0;
        return APR_SUCCESS;
    }
    if (errno == EAGAIN) {
        return mv->in_ms ? wait_for(mv->in, POLLIN, mv->in_ms) : APR_EAGAIN;
    }
    return errno == EINTR ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
}

/* pipe -> `out` */
static apr_status_t
splice_out(rp_zc_move_t *mv)
{
    ssize_t n = splice(zc_pipe[0], NULL, mv->out, NULL, mv->piped,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

    if (n > 0) {
        mv->piped -= (apr_size_t)n;
        mv->moved_out += n;
        return APR_SUCCESS;
    }
    if (n < 0 && errno == EAGAIN) {
        return wait_for(mv->out, POLLOUT, mv->out_ms);
    }
    if (n < 0 && errno == EINTR) {
        return APR_SUCCESS;
    }
    return n < 0 ? APR_FROM_OS_ERROR(errno) : APR_EGENERAL;
}

apr_status_t
rp_zc_move(rp_zc_move_t *mv)
{
    apr_status_t rv = APR_SUCCESS;

    while (rv == APR_SUCCESS && (mv->left != 0 || mv->piped)) {
        mv->out_failed = mv->piped != 0;
        rv = mv->piped ? splice_out(mv) : splice_in(mv);
    }
    if (mv->piped) {
        pipe_drop();
        mv->piped = 0;
    }
    return rv;
}

#endif /* RP_HAVE_SPLICE */
