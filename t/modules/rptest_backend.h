/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rptest_backend.h - what the files of the TEST-ONLY mod_rptest_backend
 * share: the parsed query string of a request (rpt_req) and the functions
 * one file calls in another.  The module itself, its query keys and its
 * directives are described at the top of mod_rptest_backend.c.
 *
 *   mod_rptest_backend.c  directives, query parsing, the handler, hooks
 *   rptest_response.c     identity headers, response head and end, the
 *                         request body read and the request echo
 *   rptest_stream.c       streamed pattern bodies and the upgraded tunnel
 */

#ifndef RPTEST_BACKEND_H
#define RPTEST_BACKEND_H

#include "httpd.h"
#include "util_filter.h"

#include "apr_md5.h"

/* Size of each body read and each generated body chunk. */
#define RPT_CHUNK (64 * 1024)
/* Size of each read in upgraded (tunnel) mode. */
#define RPT_TUNNEL_READ 8192
/* Upper bound for sleep=/sleepbody= so a typo cannot wedge a test run. */
#define RPT_MAX_SLEEP_MS 600000

/* Everything the query string asked for, plus what we learnt about the
 * request body. */
typedef struct {
    const char *name;
    int status;                  /* 0: default (200) */
    int reject;                  /* 0: do not reject */
    apr_array_header_t *headers; /* "Name:Value" strings from header= */
    apr_off_t size;              /* -1: echo body instead of pattern */
    int chunked;
    apr_int64_t sleep_ms;
    apr_int64_t sleepbody_ms;
    int upgrade;
    int close;
    int count;
    apr_off_t body_bytes;
    char body_md5[APR_MD5_DIGESTSIZE * 2 + 1];
} rpt_req;

/* rptest_response.c */
const char *rpt_conn_identity(conn_rec *c);
void rpt_set_identity(request_rec *r, const rpt_req *rq, apr_table_t *t);
void rpt_start_response(request_rec *r, const rpt_req *rq, int status);
int rpt_no_body(const request_rec *r);
void rpt_headers_done(request_rec *r);
int rpt_finish(request_rec *r, apr_bucket_brigade *bb);
int rpt_send_text(request_rec *r, const rpt_req *rq, int status,
                  const char *text);
int rpt_read_body(request_rec *r, rpt_req *rq);
void rpt_echo_request_head(request_rec *r, const rpt_req *rq,
                           apr_bucket_brigade *bb);
void rpt_echo_request_tail(request_rec *r, const rpt_req *rq,
                           apr_bucket_brigade *bb);

/* rptest_stream.c */
int rpt_send_pattern(request_rec *r, const rpt_req *rq);
int rpt_do_upgrade(request_rec *r, const rpt_req *rq, const char *proto);

#endif /* RPTEST_BACKEND_H */
