/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_tunnel.h - what the synchronous tunnel loop (rproxy_tunnel.c)
 * and its asynchronous half under the event MPM (rproxy_tunnel_async.c)
 * share. Not API.
 */

#ifndef RPROXY_TUNNEL_H
#define RPROXY_TUNNEL_H

#include "rproxy_private.h"
#include "rproxy_splice.h"
#include "apr_poll.h"

/* One end of a tunnel. */
typedef struct {
    const char *name;           /* "client" or "member", for the log */
    conn_rec *c;
    apr_socket_t *sock;         /* NULL on an HTTP/2 stream: not its own */
    apr_pollfd_t pfd;           /* what tells that c has input */
    apr_bucket_brigade *bb;     /* in c's allocator; empty between passes */
    apr_off_t moved;            /* bytes read from this side */
    int read_closed;
    int hup;                    /* poll said hung up or failed */
    int zero_copy;              /* RProxyZeroCopy allows splice(2) */
    /* what the waiting thread left for the loop (rproxy_tunnel_fast.c),
     * which deals with it before it reads this side again */
    char *pend;                 /* read from here, not yet written to the
                                 * other side (malloc'd only then) */
    apr_size_t pend_len;
    apr_status_t pend_failed;   /* writing pend failed so: not retried */
    apr_status_t carried;       /* the waiter's read here ended so
                                 * (APR_EOF or an error) */
} rp_tunnel_side_t;

typedef struct rp_tunnel_async_t rp_tunnel_async_t;

/* A running tunnel; lives in the request's pool. */
typedef struct {
    rp_exchange_t *ex;
    rp_tunnel_side_t sides[2];      /* client, member */
    apr_interval_time_t idle;       /* ends after this long without bytes */
    /* the worker goes back to the MPM after this long without bytes;
     * -1: never (the synchronous loop, for the tunnel's whole life) */
    apr_interval_time_t async_after;
    apr_time_t last_moved;
    rp_tunnel_async_t *async;       /* its waiting state, once suspended */
} rp_tunnel_t;

/**
 * Moves bytes both ways until the tunnel ends or, when t->async_after is
 * not -1, until nothing moved for that long. Logs why a tunnel ended.
 * Runs on one thread at a time per tunnel.
 * @return APR_EAGAIN: idle for async_after, nothing waits in a filter;
 *         APR_SUCCESS: the tunnel is over (rp_tunnel_closed() is next).
 */
apr_status_t rp_tunnel_loop(rp_tunnel_t *t);

/* The end of a tunnel: logs what it moved and marks the client's
 * connection as done (no HTTP/1.1 can follow a tunnel). */
void rp_tunnel_closed(rp_tunnel_t *t);

/* rproxy_tunnel_async.c */
/* Whether this process can wait for tunnels without a worker (the event
 * MPM, and the waiting thread runs). */
int rp_tunnel_async_ready(void);
/**
 * Hands an idle tunnel over: the request's handler returns SUSPENDED,
 * and once the MPM has let go of the connection (the suspend_connection
 * hook) both sockets wait in this process's waiting thread. A worker
 * runs rp_tunnel_loop() again when one side has data or the idle
 * timeout is due; the tunnel is finished there (rp_forward_tunnel_done).
 * @return APR_SUCCESS, or an error when the tunnel must stay on this
 *         thread.
 */
apr_status_t rp_tunnel_async_suspend(rp_tunnel_t *t);
void rp_tunnel_async_register_hooks(void);
void rp_tunnel_async_child_init(apr_pool_t *pchild, server_rec *s);

/* rproxy_tunnel_fast.c: small messages of a waiting tunnel moved by
 * the waiting thread itself */
#define RP_TUNNEL_FAST_BUFSIZE  (16 * 1024)
/* Whether the waiting thread may move t's bytes itself (both ways
 * rp_splice_tunnel_raw(), into raw[0] from the client, raw[1] from the
 * member); each time before t waits. */
int rp_tunnel_fast_prepare(rp_tunnel_t *t, rp_tunnel_raw_t raw[2]);
/**
 * Side i of a waiting tunnel is readable: one non-blocking read into buf
 * (size bytes), one non-blocking write of it to the other side, counted
 * as the filters would have. On the waiting thread.
 * @return 1: all of it went and the read did not fill buf, the tunnel
 *         waits on; 0: a worker's loop is to go on (with what is left in
 *         the sides' pend and carried).
 */
int rp_tunnel_fast_move(rp_tunnel_t *t, int i, const rp_tunnel_raw_t *raw,
                        char *buf, apr_size_t size);
/* Frees what a side still holds of the waiter's (rp_tunnel_closed()). */
void rp_tunnel_fast_release(rp_tunnel_t *t);

/* rproxy_forward.c: the rest of the request after a suspended tunnel
 * ended: the try's accounting and log notes, as when the handler
 * returns. */
void rp_forward_tunnel_done(rp_exchange_t *ex);

#endif /* RPROXY_TUNNEL_H */
