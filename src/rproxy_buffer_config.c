/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_buffer_config.c - the buffering directives: RProxyBuffering and
 * RProxyRequestBuffering (server, virtual host, <RProxyPool>,
 * <Location>; on/off also as RProxyPass options, rproxy_route_config.c)
 * and RProxyBufferDir, the directory of the temporary files. What they do
 * at run time is in rproxy_buffer.c.
 */

#include "rproxy_private.h"
#include "rproxy_config.h"

#include "http_core.h"
#include "http_protocol.h"
#include "unixd.h"
#include "apr_atomic.h"
#include "apr_lib.h"
#include "apr_file_info.h"
#include "apr_strings.h"

#include <unistd.h>

#define RP_KIB              ((apr_off_t)1024)
/* The largest memory= (per request) and file=/limit= accepted. */
#define RP_BUF_MEMORY_MAX   (RP_KIB * RP_KIB * RP_KIB)          /* 1g */
#define RP_BUF_FILE_MAX     (RP_KIB * RP_KIB * RP_KIB * 64)     /* 64g */

void
rp_buffering_unset(rp_buffering_t *b)
{
    b->on = RP_UNSET;
    b->memory = b->limit = RP_UNSET;
}

void
rp_buffering_merge(rp_buffering_t *n, const rp_buffering_t *b,
                   const rp_buffering_t *a)
{
    RP_MERGE(n, b, a, on);
    RP_MERGE(n, b, a, memory);
    RP_MERGE(n, b, a, limit);
}

/* SIZE: bytes, or a whole number of k, m or g (1024-based), within the
 * option's min..max, into an apr_off_t field. */
static const char *
opt_size(cmd_parms *cmd, void *rec, const rp_opt_t *opt, const char *val)
{
    apr_off_t *field = (apr_off_t *)((char *)rec + opt->off), unit = 1, n;
    char *end;

    if (!apr_isdigit(*val)) {
        return "expects a size such as 65536, 512k, 64m or 1g";
    }
    n = apr_strtoi64(val, &end, 10);
    switch (apr_tolower(*end)) {
    case 'g': unit *= RP_KIB; /* fall through */
    case 'm': unit *= RP_KIB; /* fall through */
    case 'k': unit *= RP_KIB; end++; break;
    case '\0': break;
    default: return "expects a size such as 65536, 512k, 64m or 1g";
    }
    if (*end) {
        return "expects a size such as 65536, 512k, 64m or 1g";
    }
    /* compared before multiplying: no overflow whatever the digits */
    if (n < opt->min || n > opt->max / unit) {
        return apr_psprintf(cmd->temp_pool, "out of range (0 to %"
                            APR_INT64_T_FMT "g)", opt->max
                            / (RP_KIB * RP_KIB * RP_KIB));
    }
    *field = n * unit;
    return NULL;
}

/* RProxyBuffering on|off [memory=SIZE] [file=SIZE] */
static const rp_opt_t rp_buffering_opts[] = {
    { "memory", RP_OPT_STRING, APR_OFFSETOF(rp_buffering_t, memory), 0,
      RP_BUF_MEMORY_MAX, "SIZE", opt_size },
    { "file", RP_OPT_STRING, APR_OFFSETOF(rp_buffering_t, limit), 0,
      RP_BUF_FILE_MAX, "SIZE", opt_size },
    { NULL }
};

/* RProxyRequestBuffering on|off [memory=SIZE] [limit=SIZE] */
static const rp_opt_t rp_request_buffering_opts[] = {
    { "memory", RP_OPT_STRING, APR_OFFSETOF(rp_buffering_t, memory), 0,
      RP_BUF_MEMORY_MAX, "SIZE", opt_size },
    { "limit", RP_OPT_STRING, APR_OFFSETOF(rp_buffering_t, limit), 0,
      RP_BUF_FILE_MAX, "SIZE", opt_size },
    { NULL }
};

/* The first word, on or off, then the options, into the record of the
 * place the directive is in: a <Location> (or <If>), a pool, the server. */
static const char *
buffering_parse(cmd_parms *cmd, rp_buffering_t *dir, int request,
                const char *args)
{
    rproxy_pool_t *pool = rp_config_current_pool();
    rp_server_conf *sconf = rp_server_config(cmd->server);
    rp_buffering_t *b = cmd->path ? dir
                        : pool ? (request ? &pool->reqbuf : &pool->buf)
                        : (request ? &sconf->reqbuf : &sconf->buf);
    const char *word = ap_getword_conf(cmd->temp_pool, &args);

    if (strcasecmp(word, "on") && strcasecmp(word, "off")) {
        return apr_psprintf(cmd->pool, "%s '%s': expects on or off, then "
                            "%s", cmd->cmd->name, word, request
                            ? "[memory=SIZE] [limit=SIZE]"
                            : "[memory=SIZE] [file=SIZE]");
    }
    b->on = !strcasecmp(word, "on");
    if (b->on) {
        rp_globals.buffering_used |= request ? RP_BUF_USED_REQUEST
                                             : RP_BUF_USED_RESPONSE;
    }
    return rp_options_parse(cmd, cmd->cmd->name, request
                            ? rp_request_buffering_opts : rp_buffering_opts,
                            b, args);
}

const char *
rp_cmd_buffering(cmd_parms *cmd, void *d, const char *args)
{
    return buffering_parse(cmd, &((rp_dir_conf *)d)->buf, 0, args);
}

const char *
rp_cmd_request_buffering(cmd_parms *cmd, void *d, const char *args)
{
    return buffering_parse(cmd, &((rp_dir_conf *)d)->reqbuf, 1, args);
}

/* RProxyBufferDir PATH: absolute; a directory when it exists. A missing
 * one is made at startup (rp_buffer_post_config). */
const char *
rp_cmd_buffer_dir(cmd_parms *cmd, void *d, const char *arg)
{
    apr_finfo_t fi;

    (void)d;
    if (!ap_os_is_path_absolute(cmd->temp_pool, arg)) {
        return apr_psprintf(cmd->pool, "RProxyBufferDir '%s': expects an "
                            "absolute path", arg);
    }
    if (apr_stat(&fi, arg, APR_FINFO_TYPE, cmd->temp_pool) == APR_SUCCESS
        && fi.filetype != APR_DIR) {
        return apr_psprintf(cmd->pool, "RProxyBufferDir '%s': exists and "
                            "is not a directory", arg);
    }
    rp_server_config(cmd->server)->buffer_dir = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

/* In the parent, before the children start: a missing RProxyBufferDir is
 * made (mode 0700) and, when httpd starts as root, given to the User the
 * children run as, as nginx does with its temporary paths. An existing
 * one is left as it is: it is the administrator's. */
int
rp_buffer_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                      apr_pool_t *ptemp, server_rec *s)
{
    apr_finfo_t fi;
    apr_status_t rv;

    (void)pconf;
    (void)plog;
    for (; s; s = s->next) {
        const char *dir = rp_server_config(s)->buffer_dir;

        if (!dir || apr_stat(&fi, dir, APR_FINFO_TYPE, ptemp)
                    == APR_SUCCESS) {
            continue;
        }
        rv = apr_dir_make_recursive(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE
                                    | APR_FPROT_UEXECUTE, ptemp);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, RPLOGNO(00270)
                         "RProxyBufferDir %s: cannot create it", dir);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (geteuid() == 0 && chown(dir, ap_unixd_config.user_id,
                                    ap_unixd_config.group_id) != 0) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, errno, s, RPLOGNO(00271)
                         "RProxyBufferDir %s: cannot give it to the user "
                         "httpd's children run as", dir);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

/* --- the status page ------------------------------------------------ */

/* A pool's own settings in use: the pool's, then its server's, then the
 * defaults (a route or a <Location> may differ; the counters show what
 * was done). */
static void
pool_settings(const rproxy_pool_t *pool, int request, rp_buffering_t *out)
{
    const rp_server_conf *sconf = rp_server_config(pool->s);
    const rp_buffering_t *p = request ? &pool->reqbuf : &pool->buf;
    const rp_buffering_t *s = request ? &sconf->reqbuf : &sconf->buf;

    out->on = p->on != RP_UNSET ? p->on : s->on != RP_UNSET ? s->on : 0;
    out->memory = p->memory != RP_UNSET ? p->memory
                  : s->memory != RP_UNSET ? s->memory
                  : request ? rp_defaults.reqbuf_memory
                  : rp_defaults.buf_memory;
    out->limit = p->limit != RP_UNSET ? p->limit
                 : s->limit != RP_UNSET ? s->limit
                 : request ? rp_defaults.reqbuf_limit : rp_defaults.buf_file;
}

void
rp_buffer_status_json(request_rec *r, const rproxy_pool_t *pool)
{
    rp_shm_pool_t *sh = pool->sh;
    rp_buffering_t resp, req;

    pool_settings(pool, 0, &resp);
    pool_settings(pool, 1, &req);
    ap_rprintf(r, "\"buffering\":{\"response\":\"%s\",\"memory\":%"
               APR_OFF_T_FMT ",\"file\":%" APR_OFF_T_FMT ",\"request\":\"%s\""
               ",\"request_memory\":%" APR_OFF_T_FMT ",\"request_limit\":%"
               APR_OFF_T_FMT ",\"responses\":%" APR_UINT64_T_FMT
               ",\"responses_spilled\":%" APR_UINT64_T_FMT ",\"overflows\":%"
               APR_UINT64_T_FMT ",\"requests\":%" APR_UINT64_T_FMT
               ",\"requests_spilled\":%" APR_UINT64_T_FMT ",\"refused\":%"
               APR_UINT64_T_FMT ",\"file_bytes\":%" APR_UINT64_T_FMT
               ",\"held_bytes\":%" APR_UINT64_T_FMT "},",
               resp.on ? "on" : "off", resp.memory, resp.limit,
               req.on ? "on" : "off", req.memory, req.limit,
               apr_atomic_read64(&sh->buf_responses),
               apr_atomic_read64(&sh->buf_resp_spilled),
               apr_atomic_read64(&sh->buf_overflows),
               apr_atomic_read64(&sh->buf_requests),
               apr_atomic_read64(&sh->buf_req_spilled),
               apr_atomic_read64(&sh->buf_refused),
               apr_atomic_read64(&sh->buf_file_bytes),
               apr_atomic_read64(&sh->buf_held));
}

/* "on (256K + 128M file)" */
static const char *
words(apr_pool_t *p, const rp_buffering_t *b, const char *file)
{
    char m[6], f[6];

    if (!b->on) {
        return "off";
    }
    return apr_psprintf(p, "on (%s + %s %s)", apr_strfsize(b->memory, m),
                        apr_strfsize(b->limit, f), file);
}

const char *
rp_buffer_status_html(apr_pool_t *p, const rproxy_pool_t *pool)
{
    rp_shm_pool_t *sh = pool->sh;
    rp_buffering_t resp, req;
    char held[6], file[6];

    pool_settings(pool, 0, &resp);
    pool_settings(pool, 1, &req);
    return apr_psprintf(p, "<b>buffering %s: %" APR_UINT64_T_FMT
                        " responses (%" APR_UINT64_T_FMT " to a file, %"
                        APR_UINT64_T_FMT " too large)</b><b>request "
                        "buffering %s: %" APR_UINT64_T_FMT " bodies (%"
                        APR_UINT64_T_FMT " to a file, %" APR_UINT64_T_FMT
                        " refused)</b><b>held now %sB, to files %sB</b>",
                        words(p, &resp, "file"),
                        apr_atomic_read64(&sh->buf_responses),
                        apr_atomic_read64(&sh->buf_resp_spilled),
                        apr_atomic_read64(&sh->buf_overflows),
                        words(p, &req, "limit"),
                        apr_atomic_read64(&sh->buf_requests),
                        apr_atomic_read64(&sh->buf_req_spilled),
                        apr_atomic_read64(&sh->buf_refused),
                        apr_strfsize(apr_atomic_read64(&sh->buf_held), held),
                        apr_strfsize(apr_atomic_read64(&sh->buf_file_bytes),
                                     file));
}

/* Prometheus families, one sample per pool each. */
void
rp_buffer_status_prom(request_rec *r, const char *(*label)(apr_pool_t *,
                                                           const char *))
{
    static const struct {
        const char *name, *type, *help;
        apr_size_t off;
    } fam[] = {
        { "rproxy_pool_buffered_responses_total", "counter",
          "Response bodies held whole before the client got them",
          APR_OFFSETOF(rp_shm_pool_t, buf_responses) },
        { "rproxy_pool_buffer_overflows_total", "counter",
          "Responses too large for the buffer, streamed",
          APR_OFFSETOF(rp_shm_pool_t, buf_overflows) },
        { "rproxy_pool_buffered_requests_total", "counter",
          "Request bodies held whole before a member was picked",
          APR_OFFSETOF(rp_shm_pool_t, buf_requests) },
        { "rproxy_pool_buffer_refused_total", "counter",
          "Request bodies over RProxyRequestBuffering limit= (413)",
          APR_OFFSETOF(rp_shm_pool_t, buf_refused) },
        { "rproxy_pool_buffer_file_bytes_total", "counter",
          "Bytes written to temporary files",
          APR_OFFSETOF(rp_shm_pool_t, buf_file_bytes) },
        { "rproxy_pool_buffer_held_bytes", "gauge",
          "Bytes held now by requests in progress",
          APR_OFFSETOF(rp_shm_pool_t, buf_held) }
    };
    apr_size_t f;
    int k;

    for (f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
        ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", fam[f].name,
                   fam[f].help, fam[f].name, fam[f].type);
        for (k = 0; k < rp_globals.pools->nelts; k++) {
            const rproxy_pool_t *pool = APR_ARRAY_IDX(rp_globals.pools, k,
                                                      rproxy_pool_t *);

            ap_rprintf(r, "%s{pool=\"%s\"} %" APR_UINT64_T_FMT "\n",
                       fam[f].name, label(r->pool, pool->name),
                       apr_atomic_read64((volatile apr_uint64_t *)
                                         ((char *)pool->sh + fam[f].off)));
        }
    }
}
