/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_splice_tunnel.c - zero-copy Upgrade tunnels: what one side of a
 * tunnel has sent goes to the other side's socket with splice(2)
 * (rproxy_splice.c), in place of rproxy_tunnel.c's read through the
 * filters and write.
 *
 * When (decided at each pump, from the connections as they are; the
 * tunnel copies otherwise):
 * - RProxyZeroCopy is On where the request is served (the tunnel asks);
 * - both sides are sockets of their own (not an HTTP/2 stream) and
 *   neither is TLS;
 * - the sending side's core holds nothing it read ahead (bytes that came
 *   behind the 101, say): those go the copying way first, and splicing
 *   starts once they are out;
 * - no filter but httpd's core, mod_logio's and our own counting ones is
 *   on either connection (mod_reqtimeout's the tunnel took out).
 * All but the first is rp_splice_tunnel_raw(), which the async tunnels'
 * waiting thread asks too before it moves a small message itself
 * (rproxy_tunnel_fast.c).
 *
 * A pump moves what the sending socket has, everything read going out
 * before the next read; it ends with APR_EAGAIN when nothing more is
 * there (the pipe then empty), as the copying pump does. A write that
 * would block waits up to the receiving side's socket timeout (the
 * tunnel's idle=), as the copying pump's blocking write does. Bytes are
 * counted where the copying pump's filters count them: the member's
 * bytes in or out, mod_logio's for the client; the tunnel's own count of
 * bytes moved drives its idle deadline.
 */

#include "rproxy_private.h"
#include "rproxy_splice.h"

#include "http_connection.h"
#include "http_core.h"
#include "http_ssl.h"

#ifdef RP_HAVE_SPLICE

/* Filters a tunnelled connection may have that neither look at nor hold
 * its bytes; on output also mod_reqtimeout's, which only watches for the
 * end of a request. */
static int
filters_plain(ap_filter_t *f, int output)
{
    for (; f; f = f->next) {
        const char *name = f->frec->name;

        if (strcasecmp(name, "core_in") && strcasecmp(name, "core")
            && strcasecmp(name, "log_input_output")
            && strncasecmp(name, "rproxy_", 7)
            && (!output || strcasecmp(name, "reqtimeout"))) {
            return 0;
        }
    }
    return 1;
}

/* c's socket, if c may be spliced, with its member connection (or NULL
 * for the client's) and its core's input brigade. */
static int
side_fd(conn_rec *c, int *fd, rp_bconn_t **bc, apr_bucket_brigade **core_in)
{
    *bc = NULL;
    if (c->master || ap_ssl_conn_is_ssl(c)
        || !filters_plain(c->input_filters, 0)
        || !filters_plain(c->output_filters, 1)) {
        return 0;
    }
    if (c->outgoing) {
        *bc = ap_get_module_config(c->conn_config, &rproxy_module);
        *core_in = *bc ? (*bc)->core_in : NULL;
    }
    else {
        *core_in = rp_conn_client_core_in(c);
    }
    return *core_in && rp_zc_sock_fd(ap_get_conn_socket(c), fd);
}

int
rp_splice_tunnel_raw(conn_rec *from, conn_rec *to, rp_tunnel_raw_t *raw)
{
    apr_bucket_brigade *from_in, *to_in;

    raw->from = from;
    raw->to = to;
    return side_fd(from, &raw->from_fd, &raw->fbc, &from_in)
           && side_fd(to, &raw->to_fd, &raw->tbc, &to_in)
           && rp_zc_buffered(from_in) == 0;
}

/* The counts the copying pump's filters would have made. */
void
rp_splice_tunnel_counted(const rp_tunnel_raw_t *raw, apr_off_t in,
                         apr_off_t out)
{
    if (raw->fbc) {
        raw->fbc->io.in += (apr_uint64_t)in;
    }
    else {
        rp_zc_logio_in(raw->from, in);
    }
    if (raw->tbc) {
        raw->tbc->io.out += (apr_uint64_t)out;
    }
    else {
        rp_zc_logio_out(raw->to, out);
    }
}

apr_status_t
rp_splice_tunnel(conn_rec *from, conn_rec *to, apr_off_t *moved,
                 int *to_failed)
{
    rp_tunnel_raw_t raw;
    rp_bconn_t *bc;
    apr_interval_time_t t = 0;
    rp_zc_move_t mv;
    apr_status_t rv;

    *to_failed = 0;
    memset(&mv, 0, sizeof(mv));
    if (!rp_splice_tunnel_raw(from, to, &raw) || !rp_zc_pipe_ready()) {
        return APR_ENOTIMPL;
    }
    mv.in = raw.from_fd;
    mv.out = raw.to_fd;
    apr_socket_timeout_get(ap_get_conn_socket(to), &t);
    mv.in_ms = 0;               /* nothing there: the pump is done */
    mv.out_ms = rp_zc_timeout_ms(t);
    mv.left = -1;
    rv = rp_zc_move(&mv);
    rp_splice_tunnel_counted(&raw, mv.moved_in, mv.moved_out);
    bc = raw.fbc ? raw.fbc : raw.tbc;
    if (bc && mv.moved_out) {
        rp_splice_count(bc->m->pool, RP_ZC_TUNNEL,
                        (apr_uint64_t)mv.moved_out, 0);
    }
    *moved += mv.moved_in;
    if (APR_STATUS_IS_EAGAIN(rv)) {
        return APR_EAGAIN;
    }
    if (rv == APR_SUCCESS) {
        return APR_EOF;         /* the sender's close */
    }
    *to_failed = mv.out_failed;
    return rv;
}

#else /* !RP_HAVE_SPLICE */

int
rp_splice_tunnel_raw(conn_rec *from, conn_rec *to, rp_tunnel_raw_t *raw)
{
    (void)from;
    (void)to;
    (void)raw;
    return 0;
}

void
rp_splice_tunnel_counted(const rp_tunnel_raw_t *raw, apr_off_t in,
                         apr_off_t out)
{
    (void)raw;
    (void)in;
    (void)out;
}

apr_status_t
rp_splice_tunnel(conn_rec *from, conn_rec *to, apr_off_t *moved,
                 int *to_failed)
{
    (void)from;
    (void)to;
    (void)moved;
    *to_failed = 0;
    return APR_ENOTIMPL;
}

#endif /* RP_HAVE_SPLICE */
