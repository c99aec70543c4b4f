/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_queue.c - RProxyQueue: a request that finds every member of its
 * pool at max_conns waits for a free slot, up to the pool's queue
 * timeout, instead of getting 503 at once.
 *
 * Why polling: a slot is a member's shared inflight counter, freed by
 * whichever child process ends a try, often another one (prefork). APR
 * offers no cross-process wake-up that works under every MPM without a
 * lock on the request path, so a waiting request polls: it sleeps 2 ms,
 * then each time half as long again up to 20 ms (never past its
 * deadline), and after each sleep reads the members' counters. Only when
 * a slot looks free does it run the ordinary pick (balancer, lock,
 * allocations from r->pool), so a long wait costs a few atomic reads per
 * round and no memory. A slot freed in any child is seen within ~20 ms.
 *
 * Order: not FIFO. Waiters in every child, and requests just arriving,
 * race for a freed slot with the same compare-and-swap as any pick; a
 * newcomer may get a slot before a request that has waited. The timeout
 * bounds every wait.
 *
 * Size: pool->sh->queued counts the requests waiting for the pool in all
 * children. It is raised by compare-and-swap only while below max=, so
 * the cap holds exactly, and lowered when the wait ends for any reason.
 * (A child killed while requests wait in it leaves the count too high
 * until the next restart, graceful or not, which starts it from 0.)
 * Each waiting request holds its worker thread or process.
 *
 * Who waits: only a request's first pick, and only while some member
 * that could take it is held back by nothing but its max_conns. A pool
 * whose members are all disabled, draining, ejected or failing their
 * health check answers 503 at once, and a waiter stops when that becomes
 * true during its wait; so does a request that a balancer refused while
 * a slot was free. A retry after a failed try does not queue: the
 * client has already waited for one member, and the try's own status is
 * the answer.
 *
 * A client that goes away stops the wait: each round checks c->aborted
 * and whether the client's socket reads end-of-file (peeked, nothing is
 * consumed). As with nginx's default, a client that half-closes its
 * connection after sending the request counts as gone.
 */

#include "rproxy_private.h"
#include "rproxy_config.h"

#include "http_core.h"
#include "apr_atomic.h"
#include "apr_poll.h"

#include <sys/socket.h>

#define RP_QUEUE_NAP_FIRST  apr_time_from_msec(2)
#define RP_QUEUE_NAP_MAX    apr_time_from_msec(20)

/* Takes a place in the pool's queue unless max= requests already wait. */
static int
rp_queue_enter(rproxy_pool_t *pool)
{
    return rp_shm_inc_below(&pool->sh->queued, (apr_uint32_t)pool->queue_max);
}

/* Has the client closed its connection? A pending request byte (a
 * pipelined request, TLS records) means it is still there; only the end
 * of the stream, a hangup or an error means it left. Secondary
 * connections (HTTP/2 streams) have no socket of their own: their
 * aborted flag is all there is. */
static int
rp_queue_client_gone(conn_rec *c)
{
    apr_socket_t *sock;
    apr_pollfd_t pfd;
    apr_sockaddr_t from;
    apr_int32_t n = 0;
    apr_size_t len = 1;
    apr_status_t rv;
    char byte;

    if (c->aborted) {
        return 1;
    }
    if (c->master || !(sock = ap_get_conn_socket(c))) {
        return 0;
    }
    memset(&pfd, 0, sizeof(pfd));
    pfd.p = c->pool;
    pfd.desc_type = APR_POLL_SOCKET;
    pfd.desc.s = sock;
    pfd.reqevents = APR_POLLIN;
    if (apr_poll(&pfd, 1, &n, 0) != APR_SUCCESS || n < 1) {
        return 0;
    }
    if (pfd.rtnevents & (APR_POLLHUP | APR_POLLERR)) {
        return 1;
    }
    /* readable: peek at one byte, which stays for whoever reads next */
    rv = apr_socket_recvfrom(&from, sock, MSG_PEEK, &byte, &len);
    return rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)
           && !APR_STATUS_IS_EINTR(rv);
}

/* Polls for a slot until one is claimed or the wait must end. */
static apr_status_t
rp_queue_poll_slot(request_rec *r, rproxy_pool_t *pool,
                   const unsigned char *tried, apr_time_t deadline,
                   rproxy_member_t **out)
{
    apr_interval_time_t nap = RP_QUEUE_NAP_FIRST;
    apr_time_t now;

    for (;;) {
        if (rp_queue_client_gone(r->connection)) {
            return APR_ECONNABORTED;
        }
        if ((now = apr_time_now()) >= deadline) {
            return APR_TIMEUP;
        }
        apr_sleep(nap < deadline - now ? nap : deadline - now);
        nap = nap + nap / 2 < RP_QUEUE_NAP_MAX ? nap + nap / 2
                                               : RP_QUEUE_NAP_MAX;
        /* the pick (which allocates from r->pool, and may evaluate the
         * balancer's expression) only once a slot looks free */
        switch (rp_balancer_slots(pool, tried)) {
        case RP_SLOTS_NONE:
            return APR_ENOENT;
        case RP_SLOTS_FREE:
            if ((*out = rp_balancer_pick(r, pool, tried))) {
                return APR_SUCCESS;
            }
            break;      /* another request was quicker */
        case RP_SLOTS_FULL:
            break;
        }
    }
}

apr_status_t
rp_queue_wait(request_rec *r, rproxy_pool_t *pool,
              const unsigned char *tried, rproxy_member_t **out)
{
    apr_time_t start;
    apr_status_t rv;
    long ms;

    *out = NULL;
    /* a free slot that the pick did not take was refused by the
     * balancer (or freed this very moment): no reason to wait */
    if (!pool->queue_timeout
        || rp_balancer_slots(pool, tried) != RP_SLOTS_FULL) {
        return APR_ENOENT;
    }
    if (!rp_queue_enter(pool)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, RPLOGNO(00091)
                      "pool %s: every member full and the queue too "
                      "(RProxyQueue max=%d); 503", pool->name,
                      pool->queue_max);
        return APR_ENOSPC;
    }
    start = apr_time_now();
    rv = rp_queue_poll_slot(r, pool, tried, start + pool->queue_timeout, out);
    apr_atomic_dec32(&pool->sh->queued);
    ms = (long)apr_time_as_msec(apr_time_now() - start);
    apr_table_setn(r->notes, "rproxy-queue-ms", apr_ltoa(r->pool, ms));
    if (rv == APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, RPLOGNO(00093)
                      RP_MEMBER_FMT "slot free after %ldms in the queue",
                      RP_MEMBER_ARGS(*out), ms);
    }
    else if (rv == APR_TIMEUP) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, RPLOGNO(00090)
                      "pool %s: no member slot free within the queue "
                      "timeout (%ldms); 503", pool->name, ms);
    }
    else if (rv == APR_ECONNABORTED) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, RPLOGNO(00092)
                      "pool %s: client closed the connection after %ldms "
                      "in the queue", pool->name, ms);
    }
    /* APR_ENOENT: the members went out while it waited; the caller says
     * so as for any request that finds no usable member */
    return rv;
}

/* RProxyQueue timeout=T [max=N]: the directive of the wait above. */
typedef struct {
    apr_interval_time_t timeout;
    int max;
} rp_queue_conf_t;

static const rp_opt_t rp_queue_opts[] = {
    { "timeout", RP_OPT_INTERVAL, APR_OFFSETOF(rp_queue_conf_t, timeout),
      apr_time_from_msec(1), RP_QUEUE_TIMEOUT_MAX },
    { "max", RP_OPT_INT, APR_OFFSETOF(rp_queue_conf_t, max), 1, 1000000 },
    { NULL }
};

const char *
rp_cmd_queue(cmd_parms *cmd, void *d, const char *args)
{
    const char *err;
    rproxy_pool_t *pool = rp_config_pool_scope(cmd, &err);
    rp_queue_conf_t conf = { 0, rp_defaults.queue_max };

    (void)d;
    if (!pool || (err = rp_options_parse(cmd, cmd->cmd->name, rp_queue_opts,
                                         &conf, args))) {
        return err;
    }
    if (!conf.timeout) {
        return "RProxyQueue: needs timeout=T (such as 500ms or 3s)";
    }
    pool->queue_timeout = conf.timeout;
    pool->queue_max = conf.max;
    return NULL;
}
