/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE.
 *
 * rproxy_policy.h - a request's retries and timeouts (rproxy_policy.c),
 * for the handler (rproxy_forward.c).
 */

#ifndef RPROXY_POLICY_H
#define RPROXY_POLICY_H

#include "rproxy_private.h"

/* Is st one of the statuses in on (an rp_retry_t's on[])? */
#define RP_RETRY_ON(on, st) ((st) >= 500 && (st) <= 599 \
    && ((on)[((st) - 500) / 64] >> (((st) - 500) % 64) & 1))

/**
 * The request's RProxyRetries, per value: the route's option (retries=,
 * retry_on=), the <Location>'s RProxyRetries, the pool's. The one place
 * that decides them; the budget is always the pool's.
 * @param n tries after the first
 * @param on the statuses to retry (RP_RETRY_ON())
 */
void rp_policy_retries(const rp_exchange_t *ex, int *n,
                       const apr_uint64_t **on);

/**
 * Once per request, before the first try: counts it for the retry budget
 * and sets ex->to (per value: the route's option, the <Location>'s
 * RProxyTimeouts, the pool's) and ex->deadline (0: none).
 */
void rp_policy_begin(rp_exchange_t *ex);
/**
 * Before a try's connect (head_in 0): cuts ex->to's connect, header and
 * idle to what the deadline leaves. Once the response head is in
 * (head_in 1): gives idle back whole, the deadline no longer applies.
 */
void rp_policy_arm(rp_exchange_t *ex, int head_in);
/**
 * After a try that failed (rc an error status, or the outcome not OK):
 * may the request go to another member? Takes a retry from the budget
 * when it says yes; logs RP00200 when the deadline has passed.
 */
int rp_policy_retry(rp_exchange_t *ex, int rc, rproxy_outcome_e outcome,
                    int tries);
/**
 * With the response head just read (ex->status): is it one of
 * RProxyRetries on= and may the request go to another member now? If so
 * the budget is taken and the next rp_policy_retry() says yes; the caller
 * drops the answer without sending anything to the client.
 */
int rp_policy_retry_status(rp_exchange_t *ex);

#endif /* RPROXY_POLICY_H */
