/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_lognotes.c - the request notes that mod_log_config logs with
 * %{NAME}n (docs/directives.md, "Log variables"): the timings of the try
 * that answered and the list of every try with its outcome. Times are in
 * microseconds. A note that does not apply is left unset, which
 * mod_log_config writes as "-". The handler (rproxy_forward.c) calls in
 * after each try and once at the end; nothing reads the notes back.
 *
 * Formatting them costs string building on every request, so it is done
 * only when something in the configuration names one of these notes (a
 * LogFormat, CustomLog, an expression's note()): a server that logs none
 * of them spends nothing here (issue 12, "nothing of our own on small
 * requests"). The cheap notes set elsewhere (rproxy-pool, rproxy-member:
 * pointers to configuration strings) stay unconditional.
 */

#include "rproxy_private.h"

#include "util_cfgtree.h"

/* Some directive names one of the notes below: set once per
 * configuration pass, in the parent before the children fork. */
static int lognotes_wanted = 1;

/* The notes set here, by a prefix that no other name of ours has
 * ("rproxy-" alone would match SetHandler rproxy-status). */
static const char *const note_names[] = {
    "rproxy-tr",                /* rproxy-tries, rproxy-try-list */
    "rproxy-backend-time", "rproxy-connect-time", "rproxy-first-byte-time",
    "rproxy-member-time", NULL
};

static int
tree_names_note(const ap_directive_t *d)
{
    const char *const *n;

    for (; d; d = d->next) {
        for (n = note_names; d->args && *n; n++) {
            if (ap_strcasestr(d->args, *n)) {
                return 1;
            }
        }
        if (tree_names_note(d->first_child)) {
            return 1;
        }
    }
    return 0;
}

int
rp_lognotes_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                        apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    lognotes_wanted = tree_names_note(ap_conftree);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, RPLOGNO(00310)
                 "log notes (rproxy-tries, rproxy-try-list, the timings) "
                 "are %s", lognotes_wanted ? "set: the configuration "
                 "names one" : "not set: no directive names one");
    return OK;
}

/* One try's outcome as rproxy-try-list words it: the member's status
 * code when a response head came; otherwise why none came. */
static const char *
try_word(rp_exchange_t *ex, rproxy_outcome_e outcome)
{
    apr_status_t rv = ex->try_rv;

    if (ex->head_at) {
        return apr_itoa(ex->r->pool, ex->status);
    }
    if (APR_STATUS_IS_TIMEUP(rv) || APR_STATUS_IS_ETIMEDOUT(rv)) {
        return outcome == RPROXY_OUTCOME_CONNECT ? "connect-timeout"
                                                 : "timeout";
    }
    if (outcome == RPROXY_OUTCOME_CONNECT) {
        return APR_STATUS_IS_ECONNREFUSED(rv) ? "refused" : "connect-failed";
    }
    if (ex->client_error) {
        return "client-error";      /* reading the client's body failed */
    }
    if (APR_STATUS_IS_ECONNRESET(rv) || APR_STATUS_IS_EPIPE(rv)) {
        return "reset";
    }
    if (APR_STATUS_IS_EOF(rv)) {
        return "closed";            /* closed before a whole head */
    }
    return "invalid";               /* a malformed or refused response */
}

static void
set_usec(request_rec *r, const char *note, apr_interval_time_t t)
{
    apr_table_setn(r->notes, note,
                   apr_psprintf(r->pool, "%" APR_TIME_T_FMT, t < 0 ? 0 : t));
}

void
rp_lognotes_try(rp_exchange_t *ex, rproxy_outcome_e outcome,
                apr_time_t started)
{
    request_rec *r = ex->r;
    const char *list, *entry;

    if (!lognotes_wanted) {
        return;
    }
    list = apr_table_get(r->notes, "rproxy-try-list");
    entry = apr_pstrcat(r->pool, ex->m->pool->name, "/", ex->m->hostport,
                        ":", try_word(ex, outcome), NULL);
    apr_table_setn(r->notes, "rproxy-try-list",
                   list ? apr_pstrcat(r->pool, list, ",", entry, NULL)
                        : entry);
    set_usec(r, "rproxy-backend-time", apr_time_now() - started);
    if (outcome == RPROXY_OUTCOME_CONNECT) {
        apr_table_unset(r->notes, "rproxy-connect-time");
    }
    else {
        /* 0: the request went on a kept-alive connection */
        set_usec(r, "rproxy-connect-time", ex->connect_time);
    }
    if (ex->first_byte_at) {
        set_usec(r, "rproxy-first-byte-time", ex->first_byte_at - started);
    }
    else {
        apr_table_unset(r->notes, "rproxy-first-byte-time");
    }
}

void
rp_lognotes_done(rp_exchange_t *ex, int tries, apr_time_t first_started)
{
    request_rec *r = ex->r;

    if (!lognotes_wanted) {
        return;
    }
    apr_table_setn(r->notes, "rproxy-tries", apr_itoa(r->pool, tries));
    if (first_started) {
        set_usec(r, "rproxy-member-time", apr_time_now() - first_started);
    }
}
