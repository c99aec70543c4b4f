/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_exchange.h - rp_exchange_t, one request's trip through
 * mod_rproxy, and the functions of the files that work on it: headers,
 * HTTP/1.1 to the member, the body's relay, buffering, log notes, the
 * request id and tunnels. Included by rproxy_private.h only. Not API.
 */

#ifndef RPROXY_EXCHANGE_H
#define RPROXY_EXCHANGE_H

/* One request's trip through mod_rproxy: what to send, where, and what
 * came back. Lives in r->pool.
 *
 * Each field says who writes it. "forward" is rproxy_forward.c, the
 * handler that owns the exchange; "member_http" is rproxy_member_http.c,
 * which speaks HTTP/1.1 to the member; rproxy_headers.c writes only
 * headers. Nothing else writes a field. A health check runs on an
 * exchange of its own (health_probe() in rproxy_health.c) that sets r,
 * match, m, bc, bin, headers and timeout and leaves the rest zero.
 *
 * Decided in one place each: the request body's framing to the member
 * (chunked, body_len) by decide_framing() in forward, which
 * rp_headers_request() turns into Transfer-Encoding or Content-Length
 * and member_http's frame_body()/frame_end() hold the body to; the
 * response's framing and reuse by check_response_framing() in
 * member_http; the Host header by rp_headers_host() (rproxy_headers.c),
 * set per try by try_member() in forward (a health check sends its own
 * host= or the member's host:port). */
typedef struct {
    /* --- the request, set once by rp_handler() (forward) --- */
    request_rec *r;
    rp_match_t *match;              /* routing's decision (rproxy_route.c) */
    rp_dir_conf *dconf;
    apr_bucket_brigade *bout;       /* to the client (its allocator) */
    int error_status;               /* an ErrorDocument fetched through
                                     * the proxy: the error it stands for,
                                     * else 0 */
    /* --- what to send, decided once for all tries by prepare_request()
     * and decide_framing() (forward), and rp_headers_request() --- */
    apr_table_t *headers;           /* request headers to send: made by
                                     * rp_headers_request(); Host set per
                                     * try by try_member() */
    const char *upgrade;            /* Upgrade token to pass on, or NULL */
    int has_body;                   /* the client declared a body */
    int may_repeat;                 /* idempotent method (RFC 9110 9.2.2) */
    /* timeouts and deadline (0: none): rproxy_policy.c sets them */
    rp_timeouts_t to;
    apr_time_t deadline;
    unsigned char *tried;           /* members tried, by index (forward) */
    int retry_granted;              /* a retry on= allowed, budget taken */
    int expect_100;                 /* wait for the member's 100 first */
    /* the body's framing to the member, from what the input filter chain
     * yields after the prefetch: chunked, or body_len bytes under a
     * Content-Length (decide_framing()) */
    int chunked;
    apr_off_t body_len;             /* the Content-Length sent; -1: chunked */
    /* --- the request body, read by member_http --- */
    apr_bucket_brigade *prefetch;   /* start of the body, kept for a resend
                                     * (rp_member_http_prefetch()) */
    int prefetch_all;               /* prefetch holds the whole body */
    int body_streamed;              /* body bytes past the prefetch are gone
                                     * (rp_member_http_send_body()) */
    int client_error;               /* HTTP status when reading the
                                     * client's body failed, or when it does
                                     * not match body_len, else 0 */
    /* --- the current try --- */
    rproxy_member_t *m;             /* its member: choose_member() */
    rp_bconn_t *bc;                 /* its connection: try_member(), and
                                     * NULL again in release_conn() */
    apr_bucket_brigade *bin;        /* to and from the member (bc->ba):
                                     * try_member() per connection */
    apr_time_t head_at;             /* when the final response head was
                                     * in: 0 at the start of a try
                                     * (try_member()), set by
                                     * exchange_head() */
    rp_bytes_t io;                  /* moved by the try so far: 0 at its
                                     * start (try_member()), each
                                     * connection's added by release_conn() */
    /* --- the try's timings and fate, for the log notes
     * (rproxy_lognotes.c) --- */
    apr_interval_time_t connect_time;   /* of the connection the try's
                                         * request went on, 0 for a
                                         * reused one: try_member() */
    apr_time_t first_byte_at;       /* when the first response line (1xx
                                     * or final) was in: 0 at the start of
                                     * a try (try_member()), set once by
                                     * rp_member_http_read_head() */
    apr_status_t try_rv;            /* why the try got no response head
                                     * (APR_SUCCESS when it got one):
                                     * try_member() */
    /* set by rp_member_http_send_head(), per connection: */
    request_rec *rp;                /* the response, read as a fake request
                                     * bound to bc (rp_member_http_read_head()
                                     * makes it, send_head forgets it) */
    apr_off_t body_out;             /* body bytes handed to the member so
                                     * far (counted by frame_body()) */
    /* the write that failed was the request head alone, so the member
     * got none of the request (a non-idempotent request may then go again
     * on a new connection) */
    int head_refused;
    /* interim (1xx) responses read on this connection, and their head
     * bytes; both capped (counted by rp_member_http_read_head()) */
    int interim;
    apr_size_t interim_bytes;
    /* --- the response head, read by rp_member_http_read_head() --- */
    int status;
    const char *reason;
    int minor;                      /* HTTP/1.minor */
    /* the member lets us reuse the connection, as its head says
     * (check_response_framing()); whether we do is try_member()'s call */
    int keepalive;
    int close_delimited;            /* the body ends when the member closes
                                     * (check_response_framing()) */
    /* --- RProxyBuffering (rproxy_buffer.c) --- */
    /* The response body goes into the request's buffer, not to the
     * client: set by rp_buffer_decide() from the final response head
     * (forward's relay_response()), cleared by rp_buffer_fill() when the
     * body outgrows memory= + file= and the rest is streamed. While it is
     * set, the body must reach rp_buffer_fill() (rp_member_http_relay_body
     * calls it first) and never be spliced or otherwise relayed straight
     * to the client. */
    int buffering;
    /* the body read whole, which rp_buffer_deliver() serves once the
     * member's connection and slot are released; NULL: none */
    struct rp_held_t *held;
    /* --- a tunnel that went on without the handler's thread: what
     * rp_forward_tunnel_done() needs of rp_handler()'s state (forward) */
    apr_time_t try_started;
    apr_time_t first_started;
    int tries;
    /* --- health checks only (health_probe()) --- */
    /* when set, the socket timeout of every step instead of the pool's
     * header and idle timeouts */
    apr_interval_time_t timeout;
} rp_exchange_t;

/* rproxy_headers.c */
void rp_headers_request(rp_exchange_t *ex);
const char *rp_headers_host(rp_exchange_t *ex, int for_sni);
/* The member's response head (ex->rp) as the client's: r->status and
 * r->headers_out, or for a 1xx what ap_send_interim_response() sends. */
void rp_headers_response(rp_exchange_t *ex);
/**
 * Run once per request, after rp_headers_request(): refuses a method that
 * is not a token, a request-target with a space or control character (a
 * module such as mod_lua may have decoded the query) and a header whose
 * name is not a token or whose value has a control character other than
 * HTAB (mod_headers, scripts), so that no byte another module made can
 * split the request at the member. Logs the reason with a tag.
 * @return OK; 400 when the byte may be the client's own (it sent it
 *         percent-encoded, a module decoded it); otherwise 500.
 */
int rp_headers_check(rp_exchange_t *ex);

/* rproxy_member_http.c */
apr_status_t rp_member_http_prefetch(rp_exchange_t *ex);
apr_status_t rp_member_http_send_head(rp_exchange_t *ex);
apr_status_t rp_member_http_send_body(rp_exchange_t *ex);
apr_status_t rp_member_http_wait_continue(rp_exchange_t *ex, int *ready);
apr_status_t rp_member_http_read_head(rp_exchange_t *ex, int *got_bytes);

/* rproxy_relay.c */
/* The size of one read when a body is streamed. */
#define RP_IOBUFSIZE        (64 * 1024)
void rp_brigade_transfer(apr_bucket_brigade *to, apr_bucket_brigade *from);
/* Passes ex->bout to the client, after a FLUSH when flush is set;
 * APR_ECONNABORTED when the client is gone. */
apr_status_t rp_relay_pass(rp_exchange_t *ex, int flush);
/* Reads the next piece of the member's body into ex->bin (HTTP_IN on
 * ex->rp); a close-delimited body's end becomes an EOS. Sets *eos when
 * the piece ends the body; on an error ex->bin is empty. */
apr_status_t rp_relay_read(rp_exchange_t *ex, apr_read_type_e block,
                           int *eos);
apr_status_t rp_member_http_relay_body(rp_exchange_t *ex, int *complete);

/* rproxy_buffer_config.c: RProxyBuffering, RProxyRequestBuffering,
 * RProxyBufferDir */
const char *rp_cmd_buffering(cmd_parms *cmd, void *d, const char *args);
const char *rp_cmd_request_buffering(cmd_parms *cmd, void *d,
                                     const char *args);
const char *rp_cmd_buffer_dir(cmd_parms *cmd, void *d, const char *arg);
void rp_buffering_unset(rp_buffering_t *b);
void rp_buffering_merge(rp_buffering_t *n, const rp_buffering_t *b,
                        const rp_buffering_t *a);
/* Creates a missing RProxyBufferDir, for the user the children run as;
 * from post_config, in the parent. */
int rp_buffer_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s);
/* The status page: a pool's settings in use (its own, its server's,
 * the defaults) and its shared counters, as a JSON member ending in a
 * comma, as HTML (from p), and every pool's Prometheus families (label
 * escapes a label value). */
void rp_buffer_status_json(request_rec *r, const rproxy_pool_t *pool);
const char *rp_buffer_status_html(apr_pool_t *p, const rproxy_pool_t *pool);
void rp_buffer_status_prom(request_rec *r, const char *(*label)(apr_pool_t *,
                                                           const char *));

/* rproxy_buffer.c: response and request buffering at run time */
/* What applies to ex's request, per field: the route's option, the
 * <Location>, the pool, the server, the built-in default (request 0:
 * RProxyBuffering, 1: RProxyRequestBuffering). */
void rp_buffer_settings(const rp_exchange_t *ex, int request,
                        rp_buffering_t *out);
/* From the final response head (before its body): removes
 * X-Accel-Buffering from the client's headers and sets ex->buffering. */
void rp_buffer_decide(rp_exchange_t *ex);
/**
 * With ex->buffering set: reads the response body into the request's
 * buffer (memory, then a temporary file). *complete is 1 when the whole
 * body is held (ex->held); when it outgrows the buffer, what is held goes
 * to the client, ex->buffering is cleared and the caller streams the
 * rest (*complete 0). Errors are the member's, as for the relay.
 */
apr_status_t rp_buffer_fill(rp_exchange_t *ex, int *complete);
/* Serves ex->held, if any, to the client at its own pace; from the
 * handler once the member's connection and slot are released. */
void rp_buffer_deliver(rp_exchange_t *ex);
/**
 * Before a member is picked: with RProxyRequestBuffering on, reads the
 * whole request body into ex->prefetch (memory, then a temporary file)
 * and sets ex->prefetch_all, so that a slow upload holds no member and
 * the request can be sent again.
 * @return OK; 413 over limit= (logged); the client's error otherwise.
 */
int rp_buffer_request(rp_exchange_t *ex);

/* rproxy_lognotes.c: the rproxy-* notes for mod_log_config
 * (docs/directives.md, "Log variables"), from rproxy_forward.c */
/* After each try that started at started: the try's outcome goes onto
 * rproxy-try-list, its timings into the per-try notes. */
void rp_lognotes_try(rp_exchange_t *ex, rproxy_outcome_e outcome,
                     apr_time_t started);
/* When the last try ended: rproxy-tries, and rproxy-member-time from
 * first_started (the first try's start; 0 when none ran). */
void rp_lognotes_done(rp_exchange_t *ex, int tries, apr_time_t first_started);
/* post_config: the notes above are set only when a directive names an
 * rproxy- note. */
int rp_lognotes_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s);

/* rproxy_request_id.c */
const char *rp_cmd_request_id(cmd_parms *cmd, void *d, const char *arg);
/* From rp_headers_request(), once the headers are copied: sets the
 * request id header on ex->headers (trusted: the client's peer is one of
 * RProxyTrustedProxies, whose own id is kept) and the note
 * rproxy-request-id. */
void rp_request_id_apply(rp_exchange_t *ex, int trusted);

/* rproxy_tunnel.c */
/* What tells that c has input, set in *pfd (desc_type, desc; the caller
 * sets p, reqevents, client_data): c's socket, or for an HTTP/2 stream
 * the descriptor mod_http2 gives (httpd 2.4.58+; APR_NO_DESC when the
 * stream has no input). APR_ENOTIMPL when httpd gives none. */
apr_status_t rp_tunnel_pollfd(conn_rec *c, struct apr_pollfd_t *pfd);
/* Runs the tunnel after a 101; *suspended says that it went on without
 * this thread (the handler returns SUSPENDED) and rp_forward_tunnel_done()
 * (rproxy_tunnel.h) finishes the request. */
apr_status_t rp_tunnel_run(rp_exchange_t *ex, int *suspended);

#endif /* RPROXY_EXCHANGE_H */
