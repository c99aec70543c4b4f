/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_private.h - types and helpers shared by mod_rproxy's own files.
 * Nothing here is API: third parties use mod_rproxy.h only.
 */

#ifndef RPROXY_PRIVATE_H
#define RPROXY_PRIVATE_H

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_request.h"
#include "ap_regex.h"
#include "apr_hash.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"
#include "apr_uri.h"
#include "scoreboard.h"

#include "mod_rproxy.h"

#ifndef RP_MODULE_FILE
APLOG_USE_MODULE(rproxy);
#endif
extern module AP_MODULE_DECLARE_DATA rproxy_module;

/* Every log line at debug or above carries a unique tag; tools/check-lognos
 * keeps them unique and RPLOGNO.next says which number comes next. */
#define RPLOGNO(n)              "RP" #n ": "

/* Log prefixes: a line starts with the object it concerns. */
#define RP_MEMBER_FMT           "member %s/%s: "
#define RP_MEMBER_ARGS(m)       (m)->pool->name, (m)->label

/* The one "not set here" value for merged integer settings. */
#define RP_UNSET                (-1)
/* Merge one field: the more specific value wins when it is set. */
#define RP_MERGE(n, b, a, f)    (n)->f = ((a)->f != RP_UNSET ? (a)->f : (b)->f)
#define RP_MERGE_PTR(n, b, a, f) (n)->f = ((a)->f != NULL ? (a)->f : (b)->f)

/* Closed a little before the backend's own advertised keep-alive timeout,
 * so that we never write into a connection the backend is closing. */
#define RP_KA_MARGIN                apr_time_from_msec(1000)

/* Handler name set on requests that mod_rproxy serves. */
#define RP_HANDLER              "rproxy"

typedef enum {
    RP_FWD_UNSET = RP_UNSET,
    RP_FWD_NONE = 0,
    RP_FWD_XFF = 1,
    RP_FWD_RFC7239 = 2,
    RP_FWD_BOTH = 3
} rp_forwarded_e;

/* Timeouts and keepalive, settable per server and per pool; a pool takes
 * what it does not set from its server, then from the built-in defaults.
 * A route may set the first four (rproxy_policy.c says which wins). */
typedef struct {
    apr_interval_time_t connect;
    apr_interval_time_t header;
    apr_interval_time_t idle;
    apr_interval_time_t deadline;   /* all tries up to a response head;
                                     * 0: none */
    int ka_idle;
    apr_interval_time_t ka_idle_timeout;
} rp_timeouts_t;

typedef struct rp_connpool_t rp_connpool_t;
typedef struct rp_sticky_t rp_sticky_t;
typedef struct rp_health_t rp_health_t;
typedef struct rp_hist_pool_t rp_hist_pool_t;      /* rproxy_history.c */
typedef struct rp_hist_member_t rp_hist_member_t;

/* Bytes moved over a member's connections, as HTTP/1.1 frames them (above
 * TLS): counted per connection by its filters (rproxy_conn.c), summed per
 * try by the exchange and added to the member's shared record once, when
 * the try ends (rp_shm_count). */
typedef struct {
    apr_uint64_t in;            /* read: response heads, bodies as framed,
                                 * tunnelled bytes */
    apr_uint64_t out;           /* written: request head, body as framed,
                                 * tunnelled bytes */
} rp_bytes_t;

/* The shared records and their accessors. */
#include "rproxy_shm.h"

struct rproxy_member_t {
    rproxy_pool_t *pool;
    int index;
    const char *name;           /* URL as configured */
    const char *hostport;       /* "host:port", for Host headers */
    const char *label;          /* for logs: hostport, or "unix:PATH" */
    const char *uds_path;       /* a Unix socket's path, or NULL: TCP */
    const char *scheme;         /* "http" or "https" */
    const char *host;
    apr_port_t port;
    int is_tls;
    const char *base_path;      /* path of the member URL, "" when none */
    apr_sockaddr_t *addr;       /* resolved at startup (or APR_UNIX) */

    int weight;
    int backup;
    int drain;
    int disabled;
    int max_conns;              /* 0: no cap */
    const char *route;          /* route=ID, or NULL: the suffix of the
                                 * application's session id that names it
                                 * (RProxySticky route=, rproxy_sticky.c) */

    rp_shm_member_t *sh;        /* shared by all children (post_config) */
    rp_hist_member_t *hist;     /* its recent requests, shared, likewise */
    /* Per child process, set up in child_init. */
    rp_connpool_t *conns;
    /* The health prober's own (in the child that runs it) */
    volatile apr_uint32_t hc_busy;  /* a check is running */
    apr_time_t hc_due;              /* when the next check starts */
};

struct rproxy_pool_t {
    const char *name;
    apr_array_header_t *members;    /* rproxy_member_t * */
    const char *lb_name;
    const char *lb_args;
    const rproxy_balancer_t *lb;
    void *lb_state;
    rp_timeouts_t to;
    server_rec *s;                  /* where it was defined */
    const char *file;
    int line;
    apr_thread_mutex_t *mutex;      /* per child, from child_init */
    rp_shm_pool_t *sh;              /* shared, from post_config */
    rp_hist_pool_t *hist;           /* the last minutes, shared, likewise */
    rp_sticky_t *sticky;            /* RProxySticky, or NULL */
    rp_health_t *hc;                /* RProxyHealthCheck, or NULL */
    /* RProxyRetries: tries after the first, and the budget in percent of
     * recent requests (-1: no budget) */
    int retries;
    int retry_budget;
    /* on=: the 5xx answers that count as failures to retry, one bit per
     * status from 500 (RP_RETRY_ON()) */
    apr_uint64_t retry_on[2];
    apr_interval_time_t slow_start;     /* RProxySlowStart, 0: off */
    /* RProxyOutlier: passive ejection; fails == 0 turns it off */
    int outlier_fails;
    apr_interval_time_t outlier_eject;
    int outlier_max_pct;
    /* RProxyQueue: how long a request may wait for a member slot when
     * every member is at max_conns (0: no queue, 503 at once), and how
     * many may wait at once across all children */
    apr_interval_time_t queue_timeout;
    int queue_max;
};

typedef struct {
    const char *path;           /* as configured, for logs */
    const char *prefix;         /* literal path prefix, or NULL */
    ap_regex_t *regex;          /* RProxyPassMatch */
    int excluded;               /* TARGET "!" */
    const char *pool_name;      /* resolved at check_config */
    rproxy_pool_t *pool;
    const char *target_path;    /* NULL: the client's path unchanged */
    int rewrite_redirects;
    int rewrite_cookies;
    apr_array_header_t *upgrades;   /* allowed Upgrade tokens, lowercase */
    rp_timeouts_t to;           /* connect= header= idle= deadline=, or
                                 * RP_UNSET */
    server_rec *s;              /* where it was defined */
    const char *file;
    int line;
} rp_route_t;

typedef struct {
    apr_array_header_t *pools;      /* rproxy_pool_t * defined here */
    apr_hash_t *pool_by_name;       /* own and inherited */
    apr_array_header_t *prefix_routes;  /* rp_route_t *, own then inherited */
    apr_array_header_t *regex_routes;
    rp_timeouts_t to;
} rp_server_conf;

typedef struct {
    rp_route_t *route;              /* RProxyPass inside a section */
    int preserve_host;
    int forwarded;                  /* rp_forwarded_e */
    apr_array_header_t *hide;       /* response headers to remove */
    /* RProxyTrustedProxies: apr_ipsubnet_t *, the peers whose forwarding
     * headers are kept; NULL: not set here; a NULL element: "none" */
    apr_array_header_t *trusted;
    int manage;                     /* RProxyStatusManage: 1 On, 0 Off */
    /* RProxyRequestId: the header that carries the request's id to the
     * member; NULL: not set here (X-Request-Id); "": off */
    const char *request_id;
    rp_timeouts_t to;               /* RProxyTimeouts in <Location> */
} rp_dir_conf;

/* What routing decided for a request; kept in r->request_config. */
typedef struct {
    rp_route_t *route;
    const char *path;           /* path + query to send, already encoded */
} rp_match_t;

/* Configuration-wide lists, rebuilt on every configuration pass. */
typedef struct {
    apr_array_header_t *routes;     /* every rp_route_t */
    apr_array_header_t *pools;      /* every rproxy_pool_t */
} rp_globals_t;

extern rp_globals_t rp_globals;

/* rproxy_config.c */
void *rp_create_server_conf(apr_pool_t *p, server_rec *s);
void *rp_merge_server_conf(apr_pool_t *p, void *base, void *add);
void *rp_create_dir_conf(apr_pool_t *p, char *dir);
void *rp_merge_dir_conf(apr_pool_t *p, void *base, void *add);
const char *rp_cmd_forwarded(cmd_parms *cmd, void *d, const char *arg);
const char *rp_cmd_hide_header(cmd_parms *cmd, void *d, const char *arg);
const char *rp_cmd_trusted_proxies(cmd_parms *cmd, void *d, const char *arg);
/* The <RProxyPool> being read, or NULL (configuration parsing is
 * single-threaded); set by rp_cmd_pool_section(). */
rproxy_pool_t *rp_config_current_pool(void);
void rp_config_set_current_pool(rproxy_pool_t *pool);
/* The pool a directive that is only valid inside <RProxyPool> configures:
 * NULL with *err set to a message naming the directive outside one. */
rproxy_pool_t *rp_config_pool_scope(cmd_parms *cmd, const char **err);
int rp_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp);
rp_server_conf *rp_server_config(const server_rec *s);
rp_dir_conf *rp_dir_config(const request_rec *r);
const char *rp_parse_interval(const char *v, apr_interval_time_t *out);
const char *rp_parse_int(const char *v, int min, int max, int *out);
/* A pool or member route name: letters, digits, '_', '-' and '.'. */
int rp_valid_name(const char *name);
void rp_timeouts_unset(rp_timeouts_t *to);
void rp_timeouts_merge(rp_timeouts_t *n, const rp_timeouts_t *b,
                       const rp_timeouts_t *a);

/* rproxy_pool.c */
rproxy_pool_t *rp_pool_new(cmd_parms *cmd, const char *name);
rproxy_member_t *rp_pool_member_add(apr_pool_t *p, rproxy_pool_t *pool);
/* Fills m's address fields from an http:// or https:// URL. */
const char *rp_pool_member_url(apr_pool_t *p, const char *url,
                               rproxy_member_t *m);
const char *rp_cmd_pool_section(cmd_parms *cmd, void *d, const char *arg);
const char *rp_cmd_member(cmd_parms *cmd, void *d, const char *args);
const char *rp_cmd_balancer(cmd_parms *cmd, void *d, const char *args);
const char *rp_cmd_timeouts(cmd_parms *cmd, void *d, const char *args);
const char *rp_cmd_keepalive(cmd_parms *cmd, void *d, const char *args);
const char *rp_cmd_slow_start(cmd_parms *cmd, void *d, const char *arg);
const char *rp_cmd_retries(cmd_parms *cmd, void *d, const char *args);
const char *rp_cmd_outlier(cmd_parms *cmd, void *d, const char *args);
int rp_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                    server_rec *s);

/* rproxy_route_config.c */
const char *rp_cmd_pass(cmd_parms *cmd, void *d, const char *args);
const char *rp_cmd_pass_match(cmd_parms *cmd, void *d, const char *args);

/* rproxy_route.c */
int rp_translate_name(request_rec *r);
int rp_map_to_storage(request_rec *r);
int rp_fixups(request_rec *r);
rp_match_t *rp_match_get(request_rec *r);
/* The public path for a backend path under the route's target path, or
 * NULL when the route does not map it (the reverse of the request map). */
const char *rp_route_unmap(apr_pool_t *p, const rp_route_t *route,
                           const char *path);

/* rproxy_balancer.c */
/* When m last came back into rotation, from an ejection or a failed
 * health check (0: never out): where RProxySlowStart's ramp starts. */
apr_time_t rp_balancer_back_since(const rproxy_member_t *m);
rproxy_member_t *rp_balancer_pick(request_rec *r, rproxy_pool_t *pool,
                                  const unsigned char *tried);
rproxy_member_t *rp_balancer_take(rproxy_member_t *m,
                                  const unsigned char *tried);
/* The end of a try: latency is from the pick to the response head (or
 * to the failure), never the body's or a tunnel's transfer time. */
void rp_balancer_release(request_rec *r, rproxy_member_t *m,
                         rproxy_outcome_e outcome,
                         apr_interval_time_t latency, const rp_bytes_t *io);
const char *rp_balancer_lookup(apr_pool_t *p, const char *name,
                               const rproxy_balancer_t **lb);
/* Where the members that could take a request (not disabled, draining,
 * ejected, failing health checks or already tried) stand. */
typedef enum {
    RP_SLOTS_NONE,      /* there is no such member */
    RP_SLOTS_FULL,      /* every one is at its max_conns */
    RP_SLOTS_FREE       /* one at least has a free slot (or no cap) */
} rp_slots_e;
/* Reads shared state only, without locks; any thread. */
rp_slots_e rp_balancer_slots(const rproxy_pool_t *pool,
                             const unsigned char *tried);

/* rproxy_queue.c */
const char *rp_cmd_queue(cmd_parms *cmd, void *d, const char *args);
/**
 * Called when rp_balancer_pick() found no member for a request's first
 * try: with RProxyQueue, and while some member is only full, waits for a
 * slot, polling the shared counters, up to the pool's queue timeout.
 * Sets the note rproxy-queue-ms when it waited. Any thread.
 * @return APR_SUCCESS with the claimed member in *out; APR_ENOENT: no
 *         queue, or nothing to wait for (no member could take the request
 *         even with a free slot, or the balancer refused a free one);
 *         APR_ENOSPC: max= requests already wait; APR_TIMEUP: no slot
 *         within the timeout; APR_ECONNABORTED: the client left.
 */
apr_status_t rp_queue_wait(request_rec *r, rproxy_pool_t *pool,
                           const unsigned char *tried,
                           rproxy_member_t **out);

/* A connection to a member; owned by one request at a time. */
typedef struct rp_bconn_t {
    apr_pool_t *pool;           /* own allocator; destroyed on close */
    apr_bucket_alloc_t *ba;
    apr_socket_t *sock;
    conn_rec *c;                /* mod_ssl's filters bind to it */
    apr_bucket_brigade *probe;  /* for the liveness check, reused */
    apr_bucket_brigade *core_in; /* the core input filter's own brigade */
    rproxy_member_t *m;
    const char *sni;            /* TLS server name it was opened with */
    apr_time_t expires;         /* idle deadline while pooled */
    apr_interval_time_t backend_ka; /* backend's Keep-Alive timeout, or 0 */
    int requests;               /* responses read on it so far */
    rp_bytes_t io;              /* since rp_conn_acquire handed it out */
    apr_interval_time_t connect_time;   /* the TCP connect that opened it
                                         * (conn_open(); a TLS handshake
                                         * comes later, with the first
                                         * write) */
    struct rp_bconn_t *next;
} rp_bconn_t;

/* rproxy_conn.c */
/* Registers the byte-counting connection filters and the hook that finds
 * the core's input brigade; from register_hooks. */
void rp_conn_register_hooks(void);
void rp_conn_child_init(apr_pool_t *pchild, server_rec *s);
/* A pooled connection to m, or a new one opened within connect_timeout. */
apr_status_t rp_conn_acquire(request_rec *r, rproxy_member_t *m,
                             const char *sni, int fresh,
                             apr_interval_time_t connect_timeout,
                             rp_bconn_t **out);
/* A new connection with its own connect timeout, logging nothing: the
 * caller (the health prober) reports. */
apr_status_t rp_conn_open(rproxy_member_t *m, const char *sni,
                          apr_interval_time_t timeout, rp_bconn_t **out);
void rp_conn_release(rp_bconn_t *bc, int reusable);

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
apr_status_t rp_member_http_relay_body(rp_exchange_t *ex, int *complete);

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
apr_status_t rp_tunnel_run(rp_exchange_t *ex);

/* rproxy_sticky.c */
const char *rp_cmd_sticky(cmd_parms *cmd, void *d, const char *args);
apr_status_t rp_sticky_init(apr_pool_t *pconf, rproxy_pool_t *pool);
rproxy_member_t *rp_sticky_member(request_rec *r, rproxy_pool_t *pool);
void rp_sticky_issue(request_rec *r, rproxy_member_t *m, const char **issued);

/* rproxy_outlier.c */
/* Is m out of rotation by RProxyOutlier at time now? Lock-free. */
int rp_outlier_ejected(const rproxy_member_t *m, apr_time_t now);
/* The end of a try on m: counts a failure towards an ejection, or resets
 * the count on success. Any thread. */
void rp_outlier_report(rproxy_member_t *m, rproxy_outcome_e outcome);

/* rproxy_health_config.c */
const char *rp_cmd_health_check(cmd_parms *cmd, void *d, const char *args);
int rp_health_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s);
int rp_health_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s);

/* rproxy_deadline.c */
/* Registers the deadline filters; from register_hooks. */
void rp_deadline_register_filters(void);
/* Every read and write on bc's connection from now on fails with
 * APR_TIMEUP once deadline has passed, and none waits longer than what
 * is left; the state lives in p, which must outlive the connection's use.
 * A line read is made in non-blocking steps, which the socket timeout
 * alone could not bound. */
void rp_deadline_add(apr_pool_t *p, rp_bconn_t *bc, apr_time_t deadline);

/* rproxy_status.c */
int rp_status_handler(request_rec *r);
/* One member's JSON object, as ?json shows it, written to r. */
void rp_status_json_member(request_rec *r, const rproxy_member_t *m);
/* "enabled", "draining" or "disabled" for RP_ADMIN_* bits. */
const char *rp_status_admin_word(apr_uint32_t admin);

/* rproxy_manage.c: runtime management (RProxyStatusManage) */
const char *rp_cmd_status_manage(cmd_parms *cmd, void *d, int on);
/* Makes a new random nonce for every server; from post_config, in the
 * parent, so every child of a generation shares it. */
int rp_manage_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s);
/** Is RProxyStatusManage On where r is served? */
int rp_manage_enabled(request_rec *r);
/**
 * The nonce the forms and ?json carry for s: 32 hex digits, the same in
 * every child, new at every restart (graceful too). Never NULL; lives as
 * long as the configuration. Any thread.
 */
const char *rp_manage_nonce(server_rec *s);
/* A POST to the status handler: 405 unless enabled; otherwise does the
 * change and answers (303 to the page, or JSON). */
int rp_manage_handle(request_rec *r);

/* rproxy_status_html.c: the HTML page, body included */
void rp_status_html(request_rec *r);

/* rproxy_status_hook.c: mod_rproxy's section of mod_status's page (an
 * optional hook: nothing happens without mod_status); from
 * register_hooks. */
void rp_status_hook_register(void);

/* rproxy_forward.c */
int rp_handler(request_rec *r);

#endif /* RPROXY_PRIVATE_H */
