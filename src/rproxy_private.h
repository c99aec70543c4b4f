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
#include "apr_thread_pool.h"
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
    /* RProxyTunnel: give an idle tunnel's worker back to the event MPM
     * (1/0), after how long without bytes, and the tunnel's own idle
     * timeout (RP_UNSET: the idle= above) */
    int tunnel_async;
    apr_interval_time_t tunnel_async_after;
    apr_interval_time_t tunnel_idle;
} rp_timeouts_t;

/* RProxyBuffering and RProxyRequestBuffering as one place sets them: the
 * server, a pool or a <Location>. A field is RP_UNSET where that place
 * does not set it; rproxy_buffer.c picks each field on its own (route,
 * <Location>, pool, server, built-in default). */
typedef struct {
    int on;                     /* 1 on, 0 off */
    apr_off_t memory;           /* memory=: bytes held in memory per
                                 * request */
    apr_off_t limit;            /* RProxyBuffering file=: the most bytes
                                 * in the temporary file, beyond which the
                                 * rest is streamed; RProxyRequestBuffering
                                 * limit=: the whole body's, beyond which
                                 * the request gets a 413 */
} rp_buffering_t;

/* RProxyRetries N on=... as one place sets it: a pool, a <Location>, or
 * a route (RProxyPass retries= retry_on=). Where a route or a <Location>
 * does not set a value (n RP_UNSET, on_set 0) the next place's applies;
 * rp_policy_retries() picks each value on its own. The budget= is the
 * pool's alone (rproxy_pool_t). */
typedef struct {
    int n;                      /* tries after the first */
    int on_set;                 /* on= given here (on[] may be empty) */
    apr_uint64_t on[2];         /* the 5xx answers that count as failures
                                 * to retry, one bit per status from 500
                                 * (RP_RETRY_ON()) */
} rp_retry_t;

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
    /* resolve=T: how often the resolver looks the host name up again;
     * RP_UNSET until check_config makes it the pool's resolve= or the
     * default for names; 0 (never) for literal addresses, Unix sockets
     * and resolve=off */
    apr_interval_time_t resolve;
    /* expand=N: the slots one name stands for (rproxy_resolve_expand.c);
     * each slot is a member "URL#i" whose group is the first one */
    int expand;
    rproxy_member_t *group;     /* the first slot, or NULL: not expanded */
    int slot;                   /* 1..expand */
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
    /* The resolver's own (rproxy_resolve.c, same child) */
    volatile apr_uint32_t rs_busy;  /* a lookup is running */
    apr_time_t rs_due;              /* when the next lookup starts */
    apr_time_t rs_startup;          /* when m->addr was looked up */
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
    /* RProxyRetries: tries after the first and on= (what a route or a
     * <Location> does not set), and the budget in percent of recent
     * requests (-1: no budget), pool-wide */
    rp_retry_t retry;
    int retry_budget;
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
    /* <RProxyPool NAME resolve=T|off>: its members' resolve= where they
     * do not set it (RP_UNSET: the default) */
    apr_interval_time_t resolve;
    /* RProxyBuffering and RProxyRequestBuffering inside the pool */
    rp_buffering_t buf;
    rp_buffering_t reqbuf;
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
    int buffering;              /* buffering=on|off, or RP_UNSET */
    int request_buffering;      /* request_buffering=on|off, or RP_UNSET */
    rp_retry_t retry;           /* retries= retry_on=, or unset */
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
    rp_buffering_t buf;             /* RProxyBuffering at server level */
    rp_buffering_t reqbuf;          /* RProxyRequestBuffering, likewise */
    const char *buffer_dir;         /* RProxyBufferDir, or NULL: the
                                     * system's temporary directory */
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
    rp_retry_t retry;               /* RProxyRetries in <Location> */
    rp_buffering_t buf;             /* RProxyBuffering in <Location> */
    rp_buffering_t reqbuf;          /* RProxyRequestBuffering, likewise */
    int zero_copy;                  /* RProxyZeroCopy: 1 On (default), 0 Off
                                     * (rproxy_splice.c) */
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
    int buffering_used;             /* RP_BUF_USED_*: some RProxyBuffering
                                     * (RProxyRequestBuffering) on, or the
                                     * route option, anywhere: without one
                                     * no request asks for its settings */
} rp_globals_t;

#define RP_BUF_USED_RESPONSE    1
#define RP_BUF_USED_REQUEST     2

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
const char *rp_cmd_tunnel(cmd_parms *cmd, void *d, const char *args);
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
int rp_post_perdir_config(request_rec *r);
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
    apr_uint32_t addr_seq;      /* m->sh->addr_seq when it was opened */
    rp_bytes_t io;              /* since rp_conn_acquire handed it out */
    apr_interval_time_t connect_time;   /* the TCP connect that opened it
                                         * (conn_open(); a TLS handshake
                                         * comes later, with the first
                                         * write) */
    struct rp_bconn_t *next;
} rp_bconn_t;

/* rproxy_resolve.c */
#include "rproxy_resolve.h"

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
/* The core input filter's brigade of a client's connection c, or NULL. */
apr_bucket_brigade *rp_conn_client_core_in(conn_rec *c);
/* rproxy_conn_bucket.c: a TLS member's socket bucket, which reads up to
 * 64 KiB a read() */
apr_bucket *rp_sock_bucket_create(apr_socket_t *sock,
                                  apr_bucket_alloc_t *list);

/* rp_exchange_t, one request's trip, and what works on it */
#include "rproxy_exchange.h"

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
