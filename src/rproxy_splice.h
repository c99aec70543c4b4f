/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_splice.h - zero-copy bodies: the kernel moves a body from one
 * socket to the other with splice(2). rproxy_splice.c has the move itself
 * and the counters, rproxy_splice_response.c and rproxy_splice_request.c
 * decide when a body may go that way and do it, for the relay
 * (rproxy_relay.c) and the request body's sender (rproxy_member_http.c).
 * Not API.
 */

#ifndef RPROXY_SPLICE_H
#define RPROXY_SPLICE_H

#include "rproxy_private.h"

#ifdef __linux__
#define RP_HAVE_SPLICE 1
#endif

/* Looks up mod_logio's byte counters and registers the filter that ends a
 * spliced request body; from register_hooks. */
void rp_splice_register_hooks(void);

/**
 * Relays the response body of ex (head read, not yet sent) with splice(2)
 * when nothing in httpd needs to see its bytes (rproxy_splice_response.c).
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

/**
 * Sends the rest of a sized request body (what the prefetch did not take)
 * to the member with splice(2) when nothing in httpd needs to see it
 * (rproxy_splice_request.c).
 * @param spliced set to the body bytes moved in the kernel
 * @return APR_ENOTIMPL: not applicable, nothing was read, the caller
 *         copies the body; otherwise what rp_member_http_send_body()
 *         returns (ex->client_error set when the client failed).
 */
apr_status_t rp_splice_request_body(rp_exchange_t *ex, apr_off_t *spliced);

/**
 * One pump of an Upgrade tunnel (rproxy_tunnel.c): moves what `from` has
 * sent to `to` with splice(2) when neither needs its bytes seen
 * (rproxy_splice_tunnel.c), adding them to *moved.
 * @return APR_ENOTIMPL: not applicable now, nothing moved, the caller
 *         copies; APR_EAGAIN: nothing more for now; APR_EOF: `from`
 *         finished sending; another error when a side failed
 *         (*to_failed: it was `to`).
 */
apr_status_t rp_splice_tunnel(conn_rec *from, conn_rec *to,
                              apr_off_t *moved, int *to_failed);

/* One way of a tunnel whose bytes may bypass httpd's filters: the
 * condition rp_splice_tunnel() splices under, but for RProxyZeroCopy and
 * the pipe (rproxy_splice_tunnel.c). The waiting thread of the async
 * tunnels (rproxy_tunnel_fast.c) moves small messages that way. */
typedef struct {
    conn_rec *from, *to;
    int from_fd, to_fd;         /* non-blocking sockets */
    rp_bconn_t *fbc, *tbc;      /* a member's connection, NULL: the
                                 * client's */
} rp_tunnel_raw_t;

/* Whether bytes from `from` to `to` may go socket to socket (and how,
 * in *raw): both connections plain sockets of their own, no TLS, no
 * filter that looks at the bytes, nothing read ahead in from's core. */
int rp_splice_tunnel_raw(conn_rec *from, conn_rec *to, rp_tunnel_raw_t *raw);
/* Counts what went around the filters as their counters would have:
 * `in` bytes read from raw->from, `out` written to raw->to. */
void rp_splice_tunnel_counted(const rp_tunnel_raw_t *raw, apr_off_t in,
                              apr_off_t out);

/* Which way a body went, for the pools' counters. */
typedef enum {
    RP_ZC_RESPONSE,
    RP_ZC_REQUEST,
    RP_ZC_TUNNEL            /* spliced bytes only */
} rp_zc_dir_e;

/* Adds a body's bytes to its pool's shared counters. Any thread. */
void rp_splice_count(rproxy_pool_t *pool, rp_zc_dir_e dir,
                     apr_uint64_t spliced, apr_uint64_t copied);

#ifdef RP_HAVE_SPLICE
/* --- for rproxy_splice_*.c only --- */

/* One body's move from socket `in` to socket `out` through the thread's
 * pipe. */
typedef struct {
    int in, out;
    int in_ms, out_ms;          /* each wait's limit; -1: none; in_ms 0:
                                 * no wait, APR_EAGAIN */
    apr_off_t left;             /* bytes still to come, -1: to in's close */
    apr_size_t piped;           /* in the pipe, not yet out */
    apr_off_t moved_in;         /* taken off `in` */
    apr_off_t moved_out;        /* handed to `out` */
    int out_failed;             /* the failure was on `out`'s side */
} rp_zc_move_t;

/* The thread's pipe, made at its first use: 0 when it cannot be had. */
int rp_zc_pipe_ready(void);
/* sock's descriptor in *fd, if sock is non-blocking (else 0). */
int rp_zc_sock_fd(apr_socket_t *sock, int *fd);
/* An APR interval as a poll() timeout in ms (-1: none). */
int rp_zc_timeout_ms(apr_interval_time_t t);
/**
 * Moves mv->left bytes (or up to in's close), everything read going out
 * before the next wait on `in`. The pipe is left empty, or dropped.
 * @return APR_SUCCESS; APR_INCOMPLETE when `in` closed before the end;
 *         APR_TIMEUP when a wait passed its limit; APR_EAGAIN when `in`
 *         has nothing and in_ms is 0 (no wait); another error; with
 *         mv->out_failed saying whose it was.
 */
apr_status_t rp_zc_move(rp_zc_move_t *mv);
/* The bytes a core input brigade holds before its socket bucket: what
 * the core read and nobody took yet. */
apr_off_t rp_zc_buffered(const apr_bucket_brigade *core_in);
/* mod_logio's counters of the client connection (no-ops without it). */
void rp_zc_logio_out(conn_rec *c, apr_off_t n);
void rp_zc_logio_in(conn_rec *c, apr_off_t n);
/* Looks up the records of the output filters a spliced response may
 * pass (rproxy_splice_response.c), once per configuration. */
void rp_splice_filters_resolve(void);
/* The input filter that stands for a spliced request body's HTTP_IN: it
 * answers every read with the end of the body. */
extern ap_filter_rec_t *rp_zc_body_done_filter;
#endif

#endif /* RPROXY_SPLICE_H */
