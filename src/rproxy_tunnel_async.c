/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_tunnel_async.c - an idle tunnel waits without a worker thread
 * under the event MPM.
 *
 * httpd 2.4 has no way to have the MPM poll a module's own sockets
 * (ap_mpm_register_poll_callback_timeout is trunk's), and a suspended
 * connection has no way back into the MPM (ap_mpm_resume_suspended is
 * trunk's too). What 2.4 does give:
 *  - a handler may return SUSPENDED: the event MPM keeps the connection
 *    (its pool, and its count, which a gracefully stopping process waits
 *    for) and frees the thread;
 *  - ap_mpm_register_timed_callback(), which is thread-safe and runs the
 *    callback on a worker.
 * So each process that serves tunnels has one thread of its own here
 * that waits on the sockets of every suspended tunnel (one pollset, its
 * timers in a skiplist by idle deadline). When a side has input, hangs
 * up, or the idle deadline comes, it takes both sockets out and asks the
 * MPM for a worker, which runs the very loop of rproxy_tunnel.c until the
 * tunnel is quiet again (async_after) or over. A tunnel that is over
 * finishes its request as the handler would have (the try's accounting,
 * the log notes, the access log) and then closes the client's
 * connection and destroys its pool: the MPM made that pool for the
 * connection and forgets it with it (the count goes down by a cleanup
 * the MPM registered on it). The waiting thread's record of a tunnel is
 * only recycled between two polls, so an event in the batch being read
 * never points to a tunnel that ended meanwhile.
 *
 * Memory while idle: the request and both connections as the handler
 * left them, with empty brigades (buffers go back to the system after
 * each pass: the allocators keep no free block, rp_tunnel_run()), and
 * one record here; the member's parsed 101 is gone and the tunnel's own
 * records are in the client connection's pool. Five 8 KiB blocks in
 * all: the client connection's pool and bucket allocator, the request's
 * pool (two with a real WebSocket client's header fields), the member
 * connection's pool and bucket allocator (28.7 KiB of RSS per tunnel,
 * bench/README).
 */

#include "rproxy_tunnel.h"

#include "ap_mpm.h"
#include "mpm_common.h"
#include "http_connection.h"
#include "http_main.h"
#include "http_protocol.h"
#include "apr_atomic.h"
#include "apr_skiplist.h"
#include "apr_thread_proc.h"

/* The MPM still writes to the connection's state for a moment after the
 * suspend_connection hook returns: its pool is never destroyed earlier
 * than this after the hook ran. */
#define RP_ASYNC_GRACE      apr_time_from_msec(200)

struct rp_tunnel_async_t {
    rp_tunnel_t *t;
    conn_rec *c;                /* the client's */
    apr_pollfd_t pfd[2];        /* client, member; the pollset keeps
                                 * pointers to these (APR_POLLSET_NOCOPY) */
    int polled[2];              /* pfd[i] is in the pollset */
    int armed;                  /* waiting here (pollset and timers) */
    int hup[2];                 /* the poll said hung up or failed */
    int failed;                 /* could not wait: ends at the next wake */
    int fast;                   /* the waiting thread moves small
                                 * messages itself (rproxy_tunnel_fast.c) */
    rp_tunnel_raw_t raw[2];     /* how, from each side (here, not in the
                                 * request's pool: no block of it for
                                 * this) */
    apr_time_t due;             /* the idle deadline, while armed */
    apr_time_t suspended_at;    /* when the MPM let go of the connection */
    rp_tunnel_async_t *next;    /* on the dead or the spare list */
};

/* The waiting thread and what it shares, per process; the mutex guards
 * the timers, the lists and each record's armed state. */
static struct {
    apr_pollset_t *ps;
    apr_thread_mutex_t *mutex;
    apr_skiplist *timers;           /* armed records by due */
    rp_tunnel_async_t *dead;        /* over; spare after the next poll */
    rp_tunnel_async_t *spare;
    apr_pool_t *pool;               /* pchild */
    apr_time_t wakes_at;            /* when the poll under way ends by
                                     * itself; 0: not before an event */
    apr_thread_t *thread;
    volatile int stop;
    int ready;
    char buf[RP_TUNNEL_FAST_BUFSIZE];   /* the waiting thread's */
} rx;

static const char rp_async_key[] = "rproxy-tunnel-async";

static int
due_cmp(void *x, void *y)
{
    const rp_tunnel_async_t *a = x, *b = y;

    if (a->due != b->due) {
        return a->due < b->due ? -1 : 1;
    }
    return a == b ? 0 : (a < b ? -1 : 1);
}

int
rp_tunnel_async_ready(void)
{
    return rx.ready;
}

/* The tunnel's pool's shared counters, if any. */
static rp_shm_pool_t *
pool_sh(const rp_tunnel_async_t *a)
{
    return a->t && a->t->ex->m ? a->t->ex->m->pool->sh : NULL;
}

/* Under the mutex. */
static void
disarm(rp_tunnel_async_t *a)
{
    rp_shm_pool_t *sh = pool_sh(a);
    int i;

    if (a->armed && sh) {
        apr_atomic_dec32(&sh->tunnel_parked);
    }

    for (i = 0; i < 2; i++) {
        if (a->polled[i]) {
            apr_pollset_remove(rx.ps, &a->pfd[i]);
            a->polled[i] = 0;
        }
    }
    apr_skiplist_remove(rx.timers, a, NULL);
    a->armed = 0;
}

/* Puts the tunnel's open sides into the pollset and its deadline into
 * the timers. Under the mutex. */
static apr_status_t
arm(rp_tunnel_async_t *a)
{
    rp_tunnel_t *t = a->t;
    apr_status_t rv;
    int i;

    for (i = 0; i < 2; i++) {
        if (t->sides[i].read_closed) {
            continue;
        }
        a->pfd[i] = t->sides[i].pfd;
        a->pfd[i].client_data = a;
        a->pfd[i].rtnevents = 0;
        if ((rv = apr_pollset_add(rx.ps, &a->pfd[i])) != APR_SUCCESS) {
            disarm(a);
            return rv;
        }
        a->polled[i] = 1;
    }
    a->due = t->last_moved + t->idle;
    apr_skiplist_insert(rx.timers, a);
    a->armed = 1;
    if (pool_sh(a)) {
        apr_atomic_inc32(&pool_sh(a)->tunnel_parked);
    }
    if (!rx.wakes_at || a->due < rx.wakes_at) {
        /* the poll under way would sleep past this deadline */
        rx.wakes_at = a->due;
        apr_pollset_wakeup(rx.ps);
    }
    return APR_SUCCESS;
}

static void tunnel_wake(void *baton);

/* Takes a record out of the wait and hands it to a worker. Under the
 * mutex. */
static void
dispatch(rp_tunnel_async_t *a)
{
    if (pool_sh(a)) {
        apr_atomic_add64(&pool_sh(a)->tunnel_worker_wakes, 1);
    }
    disarm(a);
    ap_mpm_register_timed_callback(0, tunnel_wake, a);
}

/* Side i of an armed tunnel has input: the waiting thread moves a small
 * message itself where it may (rproxy_tunnel_fast.c); the tunnel then
 * waits on, its deadline moved. Else a worker takes it. Under the
 * mutex. */
static void
input(rp_tunnel_async_t *a, int i, apr_int16_t events)
{
    rp_tunnel_t *t = a->t;
    apr_off_t before = t->sides[i].moved;

    if (events & (APR_POLLHUP | APR_POLLERR | APR_POLLNVAL)) {
        a->hup[i] = 1;
    }
    else if (a->fast && rp_tunnel_fast_move(t, i, &a->raw[i], rx.buf,
                                               sizeof(rx.buf))) {
        /* the deadline moves with t->last_moved; its place among the
         * timers is corrected only when it comes (wait_round()), not
         * per message */
        if (t->sides[i].moved != before && pool_sh(a)) {
            apr_atomic_add64(&pool_sh(a)->tunnel_waiter_moves, 1);
        }
        return;
    }
    else if (t->sides[i].pend_len) {
        /* (on the waiting thread: the request is not used but by it) */
        ap_log_error(APLOG_MARK, APLOG_DEBUG, t->sides[i].pend_failed,
                     t->ex->r->server, RPLOGNO(00320) RP_MEMBER_FMT
                     "tunnel: %" APR_SIZE_T_FMT " bytes from the %s wait "
                     "to be written by a worker", RP_MEMBER_ARGS(t->ex->m),
                     t->sides[i].pend_len, t->sides[i].name);
    }
    dispatch(a);
}

/* Waits for the next event; returns 0 when the thread is to end. */
static int
wait_round(void)
{
    const apr_pollfd_t *out = NULL;
    rp_tunnel_async_t *a;
    apr_interval_time_t wait = -1;
    apr_int32_t n = 0, i;
    apr_status_t rv;
    apr_time_t now;

    apr_thread_mutex_lock(rx.mutex);
    while ((a = rx.dead)) {         /* no event of the last batch is left */
        rx.dead = a->next;
        a->next = rx.spare;
        rx.spare = a;
    }
    rx.wakes_at = 0;
    if ((a = apr_skiplist_peek(rx.timers))) {
        rx.wakes_at = a->due;
        wait = a->due - apr_time_now();
        wait = wait < 0 ? 0 : wait;
    }
    apr_thread_mutex_unlock(rx.mutex);
    rv = apr_pollset_poll(rx.ps, wait, &n, &out);
    if (rx.stop) {
        return 0;
    }
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EINTR(rv)
        && !APR_STATUS_IS_TIMEUP(rv)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ap_server_conf,
                     RPLOGNO(00241) "tunnels: waiting for the sockets of "
                     "idle tunnels failed");
        apr_sleep(apr_time_from_msec(100));
        n = 0;
    }
    apr_thread_mutex_lock(rx.mutex);
    for (i = 0; rv == APR_SUCCESS && i < n; i++) {
        a = out[i].client_data;
        if (!a->armed) {
            continue;   /* the other side woke it already */
        }
        input(a, out[i].desc.s == a->pfd[0].desc.s ? 0 : 1,
              out[i].rtnevents);
    }
    now = apr_time_now();
    while ((a = apr_skiplist_peek(rx.timers)) && a->due <= now) {
        if (a->t->last_moved + a->t->idle > now) {
            /* bytes moved here since it was keyed (input()): not idle */
            apr_skiplist_remove(rx.timers, a, NULL);
            a->due = a->t->last_moved + a->t->idle;
            apr_skiplist_insert(rx.timers, a);
            continue;
        }
        dispatch(a);    /* the loop logs the idle timeout */
    }
    apr_thread_mutex_unlock(rx.mutex);
    return 1;
}

static void *APR_THREAD_FUNC
waiter_main(apr_thread_t *thd, void *data)
{
    (void)thd;
    (void)data;
    while (wait_round()) {
    }
    /* a plain return, not apr_thread_exit(): its pthread_exit() unwinds
     * past frames whose stack ASan still marks, and ASan then reports the
     * thread's own exit as a stack-buffer-underflow */
    return NULL;
}

/* Closes the client's connection and destroys its pool, which the MPM
 * made for it; then the record may be recycled. */
static void
close_client(void *baton)
{
    rp_tunnel_async_t *a = baton;

    ap_lingering_close(a->c);       /* aborted: closes at once */
    /* ap_process_request_after_handler() moved the state on, but the MPM
     * counted the connection as suspended: its cleanup counts it down by
     * the state it finds */
    a->c->cs->state = CONN_STATE_SUSPENDED;
    apr_pool_destroy(a->c->pool);
    apr_thread_mutex_lock(rx.mutex);
    a->t = NULL;
    a->c = NULL;
    a->next = rx.dead;
    rx.dead = a;
    apr_thread_mutex_unlock(rx.mutex);
}

/* The tunnel is over: the rest of the request, as after the handler. */
static void
tunnel_finish(rp_tunnel_async_t *a)
{
    rp_tunnel_t *t = a->t;
    request_rec *r = t->ex->r;
    apr_interval_time_t grace;

    rp_tunnel_closed(t);
    rp_forward_tunnel_done(t->ex);
    ap_finalize_request_protocol(r);
    ap_process_request_after_handler(r);    /* r and t are gone */
    grace = a->suspended_at + RP_ASYNC_GRACE - apr_time_now();
    if (grace > 0) {
        ap_mpm_register_timed_callback(grace, close_client, a);
    }
    else {
        close_client(a);
    }
}

/* Gives the worker back; with the mutex held, a side may wake the
 * tunnel on another worker at once, so t is not touched after arm(). */
static void
tunnel_rest(rp_tunnel_async_t *a)
{
    rp_tunnel_t *t = a->t;
    apr_status_t rv;

    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, t->ex->r, RPLOGNO(00240)
                  RP_MEMBER_FMT "tunnel quiet for %" APR_TIME_T_FMT " ms: "
                  "waits without a worker", RP_MEMBER_ARGS(t->ex->m),
                  apr_time_as_msec(t->async_after));
    a->fast = rp_tunnel_fast_prepare(t, a->raw);
    apr_thread_mutex_lock(rx.mutex);
    rv = arm(a);
    if (rv != APR_SUCCESS) {
        a->failed = 1;
        ap_mpm_register_timed_callback(0, tunnel_wake, a);
    }
    apr_thread_mutex_unlock(rx.mutex);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ap_server_conf,
                     RPLOGNO(00242) "tunnels: cannot wait on a tunnel's "
                     "sockets; it is closed");
    }
}

/* On a worker: a side has input or hung up, or the deadline came. */
static void
tunnel_wake(void *baton)
{
    rp_tunnel_async_t *a = baton;
    rp_tunnel_t *t = a->t;
    int i;

    for (i = 0; i < 2; i++) {
        t->sides[i].hup |= a->hup[i];
        a->hup[i] = 0;
    }
#if AP_MODULE_MAGIC_AT_LEAST(20120211, 122)
    a->c->current_thread = ap_thread_current();
#endif
    if (!a->failed && rp_tunnel_loop(t) == APR_EAGAIN) {
        tunnel_rest(a);
        return;
    }
    tunnel_finish(a);
}

apr_status_t
rp_tunnel_async_suspend(rp_tunnel_t *t)
{
    request_rec *r = t->ex->r;
    rp_tunnel_async_t *a;

    /* only the request the connection's handler runs can be suspended,
     * not an internal redirect or a subrequest, and only where httpd
     * serves the connection asynchronously (not with a clogging input
     * filter: it would read the next request), and not on a connection
     * the MPM would close on our return (aborted) */
    if (!rx.ready || r->main || r->prev || r->next || !r->connection->cs
        || r->connection->clogging_input_filters || r->connection->aborted) {
        return APR_ENOTIMPL;
    }
    apr_thread_mutex_lock(rx.mutex);
    if ((a = rx.spare)) {
        rx.spare = a->next;
    }
    apr_thread_mutex_unlock(rx.mutex);
    if (!a) {
        a = malloc(sizeof(*a));     /* kept for reuse until exit */
        if (!a) {
            return APR_ENOMEM;
        }
    }
    memset(a, 0, sizeof(*a));
    a->t = t;
    a->c = r->connection;
    t->async = a;
    apr_pool_userdata_setn(a, rp_async_key, NULL, r->pool);
    return APR_SUCCESS;
}

/* The MPM has let go of the connection of a request whose handler
 * returned SUSPENDED: its tunnel may wait now. */
static void
tunnel_suspended(conn_rec *c, request_rec *r)
{
    rp_tunnel_async_t *a = NULL;

    (void)c;
    if (!r || !r->handler || strcmp(r->handler, RP_HANDLER)) {
        return;
    }
    apr_pool_userdata_get((void **)&a, rp_async_key, r->pool);
    if (!a || a->suspended_at) {
        return;
    }
    a->suspended_at = apr_time_now();
    tunnel_rest(a);
}

void
rp_tunnel_async_register_hooks(void)
{
    ap_hook_suspend_connection(tunnel_suspended, NULL, NULL,
                               APR_HOOK_MIDDLE);
}

static apr_status_t
waiter_stop(void *data)
{
    rp_tunnel_async_t *a;
    apr_status_t rv;

    (void)data;
    rx.ready = 0;
    rx.stop = 1;
    apr_pollset_wakeup(rx.ps);
    apr_thread_join(&rv, rx.thread);
    while ((a = apr_skiplist_pop(rx.timers, NULL))) {
        if (a->armed && pool_sh(a)) {       /* no longer waiting here */
            apr_atomic_dec32(&pool_sh(a)->tunnel_parked);
        }
    }
    while ((a = rx.spare)) {
        rx.spare = a->next;
        free(a);
    }
    return APR_SUCCESS;
}

void
rp_tunnel_async_child_init(apr_pool_t *pchild, server_rec *s)
{
    int async = 0;
    apr_status_t rv;

    if (ap_mpm_query(AP_MPMQ_IS_ASYNC, &async) != APR_SUCCESS || !async) {
        return;     /* worker, prefork: the synchronous loop */
    }
    rx.pool = pchild;
    if ((rv = apr_thread_mutex_create(&rx.mutex, APR_THREAD_MUTEX_DEFAULT,
                                      pchild)) != APR_SUCCESS
        || (rv = apr_skiplist_init(&rx.timers, pchild)) != APR_SUCCESS
        || (rv = apr_pollset_create(&rx.ps, 1024, pchild,
                                    APR_POLLSET_THREADSAFE
                                    | APR_POLLSET_NOCOPY
                                    | APR_POLLSET_WAKEABLE)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, RPLOGNO(00243)
                     "tunnels: cannot wait for idle tunnels without "
                     "a worker here; every tunnel keeps its thread");
        return;
    }
    apr_skiplist_set_compare(rx.timers, due_cmp, due_cmp);
    if ((rv = apr_thread_create(&rx.thread, NULL, waiter_main, NULL,
                                pchild)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, RPLOGNO(00244)
                     "tunnels: cannot start the thread that waits for "
                     "idle tunnels; every tunnel keeps its thread");
        return;
    }
    apr_pool_pre_cleanup_register(pchild, NULL, waiter_stop);
    rx.ready = 1;
}
