/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_conn_bucket.c - the socket bucket of a TLS member's connection
 * (insert_network_bucket in rproxy_conn.c): it reads up to RP_SOCK_READ
 * bytes a read() where APR's socket bucket reads 8000. mod_ssl asks the
 * core for a record's 5-byte header, then for its body (up to ~16 KiB),
 * and the core reads the socket until it has that much: two or three
 * read() calls a record with APR's bucket, one for several records with
 * this one; the rest waits in the heap bucket the read leaves behind.
 *
 * It behaves as APR's socket bucket does otherwise: a read turns it into
 * a heap bucket of what came, followed by a new socket bucket; the end
 * of the connection into an empty bucket and no successor; a
 * non-blocking read that finds nothing returns APR_EAGAIN and leaves it
 * as it is. Plain members keep APR's socket bucket: their sized bodies
 * are read off the socket by the relay itself (rproxy_relay.c), and the
 * reuse check and the splice path look for APR_BUCKET_IS_SOCKET.
 */

#include "rproxy_private.h"

/* Four full TLS records and their headers */
#define RP_SOCK_READ        (64 * 1024 + 512)

static apr_status_t
sock_bucket_read(apr_bucket *b, const char **str, apr_size_t *len,
                 apr_read_type_e block)
{
    apr_socket_t *sock = b->data;
    apr_interval_time_t timeout = 0;
    apr_status_t rv;
    char *buf;

    *str = NULL;
    *len = RP_SOCK_READ;
    if (block == APR_NONBLOCK_READ) {
        apr_socket_timeout_get(sock, &timeout);
        apr_socket_timeout_set(sock, 0);
    }
    buf = apr_bucket_alloc(RP_SOCK_READ, b->list);
    rv = apr_socket_recv(sock, buf, len);
    if (block == APR_NONBLOCK_READ) {
        apr_socket_timeout_set(sock, timeout);
    }
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        apr_bucket_free(buf);
        *len = 0;
        return rv;
    }
    if (*len > 0) {
        apr_bucket_heap_make(b, buf, *len, apr_bucket_free);
        APR_BUCKET_INSERT_AFTER(b, rp_sock_bucket_create(sock, b->list));
        *str = buf;
    }
    else {
        /* the member closed: no more socket bucket, as the core expects */
        apr_bucket_free(buf);
        apr_bucket_immortal_make(b, "", 0);
        *str = b->data;
    }
    return APR_SUCCESS;
}

static const apr_bucket_type_t sock_bucket_type = {
    "RPROXY_SOCKET", 5, APR_BUCKET_DATA,
    apr_bucket_destroy_noop,
    sock_bucket_read,
    apr_bucket_setaside_notimpl,
    apr_bucket_split_notimpl,
    apr_bucket_copy_notimpl
};

apr_bucket *
rp_sock_bucket_create(apr_socket_t *sock, apr_bucket_alloc_t *list)
{
    apr_bucket *b = apr_bucket_alloc(sizeof(*b), list);

    APR_BUCKET_INIT(b);
    b->free = apr_bucket_free;
    b->list = list;
    b->type = &sock_bucket_type;
    b->length = (apr_size_t)-1;
    b->start = -1;
    b->data = sock;
    return b;
}
