/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_conn.c - connections to members: opening them as httpd conn_recs
 * (so the core's filters and mod_ssl's outgoing TLS apply), and keeping
 * idle ones for reuse.
 *
 * Each member has, per child process, a LIFO of idle connections shared by
 * the child's threads: the most recently used connection is the one least
 * likely to have been closed by the backend. A connection leaves the list
 * when it is taken, when it has been idle past the pool's idle_timeout or
 * past the backend's own advertised Keep-Alive timeout (minus a margin), or
 * when the list is full. Before a pooled connection is handed out it is
 * checked: a backend that closed it, or sent anything unasked, loses it
 * here rather than in the middle of a request (see conn_reusable).
 *
 * Every connection lives in its own pool with its own allocator, so it can
 * move between threads and outlive the request that opened it.
 *
 * Two connection filters count the bytes each connection carries, for the
 * members' bytes_in and bytes_out. They sit above mod_ssl, so they count
 * HTTP/1.1 as framed (status and header lines with their CRLFs, chunk
 * sizes), tunnelled bytes too, not TLS records; and below everything that
 * parses, so what is counted is what was taken off the connection or
 * handed to it, in the order it happened. The counters are plain integers
 * in the connection (one request owns it at a time); the exchange adds
 * them up per try and the shared record gets them once (rp_shm_count).
 */

#include "rproxy_private.h"

#include "http_connection.h"
#include "http_core.h"
#include "http_ssl.h"
#include "apr_atomic.h"
#include "apr_poll.h"
#include "apr_portable.h"

#include <errno.h>
#include <sys/socket.h>

struct rp_connpool_t {
    apr_thread_mutex_t *mutex;
    rp_bconn_t *idle;           /* most recently released first */
    int nidle;
};

static volatile apr_uint32_t next_conn_id;

#define RP_COUNT_FILTER     "rproxy_count"
static ap_filter_rec_t *count_in_handle;
static ap_filter_rec_t *count_out_handle;

/* Data bytes in [b, sentinel). A bucket of unknown length (a socket or
 * pipe bucket, which the core only returns in AP_MODE_EXHAUSTIVE, unused
 * here) is not counted rather than read. */
static apr_uint64_t
data_bytes(apr_bucket *b, apr_bucket_brigade *bb)
{
    apr_uint64_t n = 0;

    for (; b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
        if (b->length != (apr_size_t)-1) {
            n += b->length;
        }
    }
    return n;
}

/* Counts what the lower filters append to bb; a speculative read (the
 * liveness probe) leaves the data where it was and counts nothing. */
static apr_status_t
count_in(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
         apr_read_type_e block, apr_off_t readbytes)
{
    rp_bconn_t *bc = f->ctx;
    /* the sentinel when bb is empty: its next is then the first bucket */
    apr_bucket *last = APR_BRIGADE_LAST(bb);
    apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, readbytes);

    if (rv == APR_SUCCESS && mode != AP_MODE_SPECULATIVE) {
        bc->io.in += data_bytes(APR_BUCKET_NEXT(last), bb);
    }
    return rv;
}

/* Counts what the connection accepted: a failed write counts nothing,
 * since how much of it left is unknown. */
static apr_status_t
count_out(ap_filter_t *f, apr_bucket_brigade *bb)
{
    rp_bconn_t *bc = f->ctx;
    apr_uint64_t n = data_bytes(APR_BRIGADE_FIRST(bb), bb);
    apr_status_t rv = ap_pass_brigade(f->next, bb);

    if (rv == APR_SUCCESS) {
        bc->io.out += n;
    }
    return rv;
}

/* The core seeds its input brigade with the socket bucket through this
 * hook, the first time a connection is read: for ours, the brigade is
 * remembered, so that what the core holds unread can be seen without a
 * read (core_in_clean). A client's connection (not outgoing, as ours
 * are) gets its brigade remembered in the same slot, for a zero-copy
 * request body (rp_conn_client_core_in()), and is left to the core. */
static apr_status_t
insert_network_bucket(conn_rec *c, apr_bucket_brigade *bb,
                      apr_socket_t *sock)
{
    rp_bconn_t *bc;

    if (!c->outgoing) {
        ap_set_module_config(c->conn_config, &rproxy_module, bb);
        return AP_DECLINED;
    }
    bc = ap_get_module_config(c->conn_config, &rproxy_module);
    if (!bc || bc->sock != sock) {
        return AP_DECLINED;
    }
    bc->core_in = bb;
    /* a TLS member's in reads of up to 64 KiB (rproxy_conn_bucket.c) */
    APR_BRIGADE_INSERT_TAIL(bb, bc->m->is_tls
                            ? rp_sock_bucket_create(sock, c->bucket_alloc)
                            : apr_bucket_socket_create(sock,
                                                       c->bucket_alloc));
    return APR_SUCCESS;
}

apr_bucket_brigade *
rp_conn_client_core_in(conn_rec *c)
{
    return c->outgoing ? NULL
                       : ap_get_module_config(c->conn_config, &rproxy_module);
}

void
rp_conn_register_hooks(void)
{
    ap_hook_insert_network_bucket(insert_network_bucket, NULL, NULL,
                                  APR_HOOK_MIDDLE);
    /* AP_FTYPE_CONNECTION: above mod_ssl (AP_FTYPE_CONNECTION + 5) */
    count_in_handle = ap_register_input_filter(RP_COUNT_FILTER, count_in,
                                               NULL, AP_FTYPE_CONNECTION);
    count_out_handle = ap_register_output_filter(RP_COUNT_FILTER, count_out,
                                                 NULL, AP_FTYPE_CONNECTION);
}

void
rp_conn_child_init(apr_pool_t *pchild, server_rec *s)
{
    int i, j;

    (void)s;
    for (i = 0; i < rp_globals.pools->nelts; i++) {
        rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, i,
                                            rproxy_pool_t *);

        apr_thread_mutex_create(&pool->mutex, APR_THREAD_MUTEX_DEFAULT,
                                pchild);
        for (j = 0; j < pool->members->nelts; j++) {
            rproxy_member_t *m = APR_ARRAY_IDX(pool->members, j,
                                               rproxy_member_t *);

            m->conns = apr_pcalloc(pchild, sizeof(*m->conns));
            apr_thread_mutex_create(&m->conns->mutex,
                                    APR_THREAD_MUTEX_DEFAULT, pchild);
        }
    }
}

/* Closes the socket and frees everything the connection owned; mod_ssl
 * sends its close_notify from a cleanup of the same pool. */
static void
conn_close(rp_bconn_t *bc)
{
    apr_pool_destroy(bc->pool);
}

/* Is anything (data, or the backend's FIN) waiting on the socket? */
static int
sock_readable(rp_bconn_t *bc)
{
    apr_pollfd_t pfd;
    apr_int32_t n = 0;

    memset(&pfd, 0, sizeof(pfd));
    pfd.p = bc->pool;
    pfd.desc_type = APR_POLL_SOCKET;
    pfd.desc.s = bc->sock;
    pfd.reqevents = APR_POLLIN;
    return apr_poll(&pfd, 1, &n, 0) == APR_SUCCESS && n > 0;
}

/* A pooled connection is good if nothing is waiting to be read on it:
 * neither bytes the core input filter already buffered (a backend that
 * sent more than its response said), nor anything on the socket. httpd's
 * core filter answers a non-blocking read that finds nothing with success
 * and an empty brigade, and reports the peer's close only on a later read,
 * so the socket itself is asked too. A TLS record without data (a session
 * ticket) makes the socket readable but is consumed by the read, hence a
 * second round. */
static int
conn_alive(rp_bconn_t *bc)
{
    apr_status_t rv;
    apr_off_t len;
    int i;

    for (i = 0; i < 2; i++) {
        len = 0;
        rv = ap_get_brigade(bc->c->input_filters, bc->probe,
                            AP_MODE_SPECULATIVE, APR_NONBLOCK_READ, 1);
        if (rv == APR_SUCCESS) {
            apr_brigade_length(bc->probe, 1, &len);
        }
        apr_brigade_cleanup(bc->probe);
        if ((rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)) || len > 0) {
            return 0;
        }
        if (!sock_readable(bc)) {
            return 1;
        }
    }
    return 0;
}

/* Nothing unread in the core input filter: bytes the core took off the
 * socket sit in its brigade as data buckets before the socket bucket; a
 * read that met the end of the connection consumed the socket bucket. */
static int
core_in_clean(rp_bconn_t *bc)
{
    apr_bucket *b;

    for (b = APR_BRIGADE_FIRST(bc->core_in);
         b != APR_BRIGADE_SENTINEL(bc->core_in); b = APR_BUCKET_NEXT(b)) {
        if (APR_BUCKET_IS_SOCKET(b)) {
            return 1;
        }
        if (b->length != 0) {
            return 0;
        }
    }
    return 0;
}

/* Nothing on the socket: one recv(MSG_PEEK) that does not wait sees
 * bytes (> 0), the backend's FIN (0) and a reset (ECONNRESET) alike, and
 * leaves them where they are; only "nothing yet" (EAGAIN) is good. */
static int
sock_idle(rp_bconn_t *bc)
{
    apr_os_sock_t fd;
    char byte;
    ssize_t n;

    if (apr_os_sock_get(&fd, bc->sock) != APR_SUCCESS) {
        return 0;
    }
    do {
        n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Is a connection fit to keep (at release) or to reuse (at acquire)?
 *
 * Without TLS, once the core's brigade is known, this asks the same two
 * questions as conn_alive() for at most one system call: what the core
 * holds unread is looked at in its brigade instead of by a speculative
 * read (which, when it holds nothing, costs a read() that returns EAGAIN),
 * and the socket is asked by one recv(MSG_PEEK) instead of a read and a
 * poll(). At release only the brigade is looked at: bytes that came in
 * the same read as the end of the response (a body behind a 204, bytes
 * past the Content-Length) are there, and the connection is dropped at
 * once, as before. What is still in the kernel (bytes or a close that came
 * after the last read) stays there until the connection is next taken,
 * and the check at reuse, which has to ask the socket anyway for what
 * came while it was idle, sees it then: the connection is never handed
 * out, it only waits in the idle list (counted against idle=) until then.
 *
 * With TLS the socket's bytes are records that mod_ssl must read (a
 * session ticket is readable but carries no data), so conn_alive()'s read
 * through the filters stays, at release and at reuse. */
static int
conn_reusable(rp_bconn_t *bc, int reuse)
{
    if (bc->m->is_tls || !bc->core_in) {
        return conn_alive(bc);
    }
    if (!core_in_clean(bc)) {
        return 0;
    }
    return !reuse || sock_idle(bc);
}

/* Takes the most recent idle connection opened with the same TLS name,
 * and drops the expired ones on the way. */
static rp_bconn_t *
conn_pool_take(rproxy_member_t *m, const char *sni)
{
    rp_connpool_t *cp = m->conns;
    apr_time_t now = apr_time_now();
    rp_bconn_t *bc, *stale = NULL, *found = NULL, **link = &cp->idle;

    apr_thread_mutex_lock(cp->mutex);
    while ((bc = *link) != NULL) {
        int expired = bc->expires <= now;

        if (expired || (!found && (!sni || (bc->sni
                                            && !strcmp(sni, bc->sni))))) {
            *link = bc->next;
            cp->nidle--;
            if (expired) {
                bc->next = stale;
                stale = bc;
            }
            else {
                found = bc;
            }
            continue;
        }
        link = &bc->next;
    }
    apr_thread_mutex_unlock(cp->mutex);
    while (stale) {
        bc = stale->next;
        conn_close(stale);
        stale = bc;
    }
    return found;
}

static apr_status_t
conn_connect(rproxy_member_t *m, rp_bconn_t *bc, apr_interval_time_t timeout)
{
    apr_sockaddr_t *addr = rp_resolve_addr(m, bc->pool, &bc->addr_seq);
    apr_status_t rv = APR_EGENERAL;

    /* APR 1.7 makes the address given to connect a Unix socket's local
     * address, which getsockname() (the core's, in create_connection)
     * then overwrites: each connection gets its own copy */
    if (m->uds_path && (rv = apr_sockaddr_info_get(&addr, m->uds_path,
                                                   APR_UNIX, 0, 0, bc->pool))
                       != APR_SUCCESS) {
        return rv;
    }
    for (; addr; addr = addr->next) {
        /* a Unix socket (APR_UNIX, m->uds_path) has no protocol number
         * and no Nagle to turn off */
        rv = apr_socket_create(&bc->sock, addr->family, SOCK_STREAM,
                               m->uds_path ? 0 : APR_PROTO_TCP, bc->pool);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (!m->uds_path) {
            apr_socket_opt_set(bc->sock, APR_TCP_NODELAY, 1);
        }
        apr_socket_timeout_set(bc->sock, timeout);
        rv = apr_socket_connect(bc->sock, addr);
        if (rv == APR_SUCCESS) {
            return rv;
        }
        apr_socket_close(bc->sock);
    }
    return rv;
}

/* Opens a connection; r, when given, is where failures are logged. */
static apr_status_t
conn_open(request_rec *r, rproxy_member_t *m, const char *sni,
          apr_interval_time_t timeout, rp_bconn_t **out)
{
    apr_allocator_t *alloc;
    apr_pool_t *p;
    rp_bconn_t *bc;
    apr_status_t rv;
    int rc;

    if ((rv = apr_allocator_create(&alloc)) != APR_SUCCESS) {
        return rv;
    }
    apr_allocator_max_free_set(alloc, 256 * 1024);
    apr_pool_create_ex(&p, NULL, NULL, alloc);
    apr_allocator_owner_set(alloc, p);
    apr_pool_tag(p, "rproxy_bconn");
    bc = apr_pcalloc(p, sizeof(*bc));
    bc->pool = p;
    bc->m = m;
    bc->sni = sni ? apr_pstrdup(p, sni) : NULL;
    bc->connect_time = apr_time_now();
    rv = conn_connect(m, bc, timeout);
    bc->connect_time = apr_time_now() - bc->connect_time;
    if (rv != APR_SUCCESS) {
        /* a warning: the request may still be served by another member;
         * when it is not, the handler logs the error (RP00044) */
        if (r) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r, RPLOGNO(00020)
                          RP_MEMBER_FMT "connect failed", RP_MEMBER_ARGS(m));
        }
        apr_pool_destroy(p);
        return rv;
    }
    bc->ba = apr_bucket_alloc_create(p);
    bc->probe = apr_brigade_create(p, bc->ba);
    bc->c = ap_run_create_connection(p, m->pool->s, bc->sock,
                                     apr_atomic_inc32(&next_conn_id), NULL,
                                     bc->ba);
    if (!bc->c) {
        apr_pool_destroy(p);
        return APR_ECONNRESET;
    }
    /* for insert_network_bucket: client connections have none */
    ap_set_module_config(bc->c->conn_config, &rproxy_module, bc);
    if (ap_ssl_bind_outgoing(bc->c, NULL, m->is_tls) != OK && m->is_tls) {
        if (r) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, RPLOGNO(00021)
                          RP_MEMBER_FMT "cannot start TLS: is SSLProxyEngine "
                          "on in the server that defines the pool?",
                          RP_MEMBER_ARGS(m));
        }
        apr_pool_destroy(p);
        return APR_EGENERAL;
    }
    if (m->is_tls && bc->sni) {
        apr_table_setn(bc->c->notes, "proxy-request-hostname", bc->sni);
    }
    rc = ap_run_pre_connection(bc->c, bc->sock);
    if (rc != OK && rc != DONE) {
        apr_pool_destroy(p);
        return APR_EGENERAL;
    }
    ap_add_input_filter_handle(count_in_handle, bc, NULL, bc->c);
    ap_add_output_filter_handle(count_out_handle, bc, NULL, bc->c);
    /* the core set the server's Timeout; ours applies from here on */
    apr_socket_timeout_set(bc->sock, m->pool->to.idle);
    *out = bc;
    return APR_SUCCESS;
}

apr_status_t
rp_conn_acquire(request_rec *r, rproxy_member_t *m, const char *sni,
                int fresh, apr_interval_time_t connect_timeout,
                rp_bconn_t **out)
{
    rp_bconn_t *bc;

    while (!fresh && (bc = conn_pool_take(m, sni)) != NULL) {
        /* opened before the member's name moved: retired */
        if (bc->addr_seq == rp_resolve_seq(m) && conn_reusable(bc, 1)) {
            bc->next = NULL;
            bc->io.in = bc->io.out = 0;
            *out = bc;
            return APR_SUCCESS;
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, RPLOGNO(00022)
                      RP_MEMBER_FMT "pooled connection was closed by the "
                      "backend; discarded", RP_MEMBER_ARGS(m));
        conn_close(bc);
    }
    return conn_open(r, m, sni, connect_timeout, out);
}

apr_status_t
rp_conn_open(rproxy_member_t *m, const char *sni,
             apr_interval_time_t timeout, rp_bconn_t **out)
{
    return conn_open(NULL, m, sni, timeout, out);
}

void
rp_conn_release(rp_bconn_t *bc, int reusable)
{
    rproxy_member_t *m = bc->m;
    rp_connpool_t *cp = m->conns;
    apr_interval_time_t keep = m->pool->to.ka_idle_timeout;

    if (bc->backend_ka) {
        /* a second before theirs, or a quarter of a short one */
        apr_interval_time_t theirs = bc->backend_ka
            - (bc->backend_ka >= 4 * RP_KA_MARGIN ? RP_KA_MARGIN
                                                  : bc->backend_ka / 4);

        if (theirs < keep) {
            keep = theirs;
        }
    }
    if (!reusable || bc->c->aborted || keep <= 0
        || m->pool->to.ka_idle == 0 || bc->addr_seq != rp_resolve_seq(m)) {
        conn_close(bc);
        return;
    }
    /* Anything behind the response (bytes past its length, a body after
     * HEAD, 204 or 304, or the member's close) makes the connection
     * doubtful: it would be read as the next request's answer. What the
     * core has read by now is caught here, the rest when it is reused. */
    if (!conn_reusable(bc, 0)) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, m->pool->s, RPLOGNO(00123)
                     RP_MEMBER_FMT "bytes or a close behind the response; "
                     "connection not kept", RP_MEMBER_ARGS(m));
        conn_close(bc);
        return;
    }
    bc->expires = apr_time_now() + keep;
    apr_thread_mutex_lock(cp->mutex);
    if (cp->nidle < m->pool->to.ka_idle) {
        bc->next = cp->idle;
        cp->idle = bc;
        cp->nidle++;
        bc = NULL;
    }
    apr_thread_mutex_unlock(cp->mutex);
    if (bc) {
        conn_close(bc);
    }
}
