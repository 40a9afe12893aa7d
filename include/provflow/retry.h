/*
 * retry.h - when to try a transient failure again, and after how long.
 *
 * Pure functions: no clock, no random number generator, no allocation. The
 * caller passes the monotonic time in milliseconds (CLOCK_MONOTONIC), a
 * uniformly random 64-bit value drawn fresh for every decision, and, for the
 * HTTP-date form of Retry-After, the wall-clock time in seconds since the
 * Unix epoch. All functions are safe to call from any thread.
 *
 * Policy (docs/contract.md, "Retries"):
 * - Exponential backoff with full jitter: after attempt n (n >= 1) failed,
 *   wait a uniformly random time in [0, min(max_backoff, base * 2^(n-1))].
 * - A Retry-After sent by the server wins over the backoff, even when longer,
 *   but is never followed beyond max_retry_after.
 * - At most max_attempts attempts in all (the first one included), and no
 *   attempt may start later than max_elapsed after the first one started:
 *   a delay that would cross that deadline means give up now rather than
 *   sleep and then give up.
 */
#ifndef PROVFLOW_RETRY_H
#define PROVFLOW_RETRY_H

#include <stdint.h>
#include <stddef.h>

/*
 * Microsoft's Graph SDK retry design caps a request at about 10 attempts and
 * 30 minutes in all.
 */
#define PF_RETRY_MAX_ATTEMPTS_DEFAULT   10
#define PF_RETRY_MAX_ELAPSED_MS_DEFAULT 1800000 /* 30 minutes */

/*
 * 500 ms for the first window: a blip (a reset connection, one 502) usually
 * clears within a second, and the doubling windows 0.5, 1, 2, ... 32 s then
 * the 60 s cap make the nine retries that 10 attempts allow span at most
 * about 3 minutes of backoff, well inside the 30 minute budget, so the
 * attempt limit, not the clock, ends a plain outage, while Retry-After
 * (up to 2 minutes each) can still use the rest of the budget.
 */
#define PF_RETRY_BASE_DELAY_MS_DEFAULT  500
#define PF_RETRY_MAX_BACKOFF_MS_DEFAULT 60000 /* 1 minute */

/*
 * Graph's throttling answers usually ask for seconds to a few tens of
 * seconds. A Retry-After of more than 2 minutes is more likely a mistake (or
 * a date from a skewed clock) than advice worth holding a key's queue for;
 * it is followed for 2 minutes and then the request is tried again.
 */
#define PF_RETRY_MAX_RETRY_AFTER_MS_DEFAULT 120000 /* 2 minutes */

/*
 * A retry policy: plain settings, copied freely. Durations are in
 * milliseconds. pf_retry_policy_check() states the valid ranges.
 */
typedef struct pf_retry_policy {
    int max_attempts;           /* attempts in all, the first included */
    int64_t max_elapsed_ms;     /* from the start of the first attempt */
    int64_t base_delay_ms;      /* backoff window after the first failure */
    int64_t max_backoff_ms;     /* cap of the backoff window */
    int64_t max_retry_after_ms; /* cap of a server's Retry-After */
} pf_retry_policy;

/* The policy built from the PF_RETRY_*_DEFAULT values above. */
pf_retry_policy pf_retry_policy_default(void);

/*
 * Returns 0 if p is usable: max_attempts >= 1, max_elapsed_ms >= 0,
 * base_delay_ms >= 1, max_backoff_ms >= base_delay_ms and
 * max_retry_after_ms >= 0. Otherwise returns -1 and names the offending
 * field in errstr (errstr may be NULL when errstr_size is 0).
 */
int pf_retry_policy_check(const pf_retry_policy *p, char *errstr,
                          size_t errstr_size);

typedef enum pf_retry_verdict {
    PF_RETRY_AGAIN = 0,        /* wait *delay_ms, then try again */
    PF_RETRY_GIVE_UP_ATTEMPTS, /* max_attempts attempts were made */
    PF_RETRY_GIVE_UP_ELAPSED,  /* the next attempt would start too late */
} pf_retry_verdict;

/*
 * Decides what follows a transient failure.
 *
 * attempts: attempts made so far, the one that just failed included (>= 1;
 *   a smaller value is taken as 1).
 * start_ms: monotonic time at which the first attempt started.
 * now_ms: monotonic time now.
 * retry_after_ms: the server's Retry-After as a delay from now
 *   (pf_retry_after_parse()), or -1 when absent or invalid.
 * rnd: a uniformly random 64-bit value; only the backoff uses it, mapping
 *   it onto [0, window] by multiply-and-shift: 0 gives 0, UINT64_MAX gives
 *   the whole window, and the bias is below window / 2^64.
 * delay_ms: receives the wait before the next attempt for PF_RETRY_AGAIN,
 *   0 otherwise. Must not be NULL.
 *
 * p must pass pf_retry_policy_check(). Returns the verdict.
 */
pf_retry_verdict pf_retry_decide(const pf_retry_policy *p, int attempts,
                                 int64_t start_ms, int64_t now_ms,
                                 int64_t retry_after_ms, uint64_t rnd,
                                 int64_t *delay_ms);

/*
 * The upper bound of the backoff window after `attempts` failed attempts:
 * min(max_backoff_ms, base_delay_ms * 2^(attempts - 1)), without overflow.
 * attempts < 1 is taken as 1. Exposed for tests and metrics.
 */
int64_t pf_retry_backoff_window(const pf_retry_policy *p, int attempts);

/*
 * The largest delay, in seconds, that pf_retry_after_parse() reports: RFC
 * 9110 section 10.2.3 asks recipients to treat larger delta-seconds as this.
 */
#define PF_RETRY_AFTER_MAX_S 2147483648LL

/*
 * Parses a Retry-After header value (RFC 9110 section 10.2.3) into a delay
 * in milliseconds from now:
 * - delta-seconds ("120"): digits only, optionally surrounded by spaces or
 *   tabs; larger values are taken as PF_RETRY_AFTER_MAX_S;
 * - an HTTP-date in the preferred IMF-fixdate form
 *   ("Sun, 06 Nov 1994 08:49:37 GMT") or one of the two obsolete forms
 *   ("Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"), measured
 *   from now_unix_s, the wall-clock time in seconds since the Unix epoch;
 *   a date that is not in the future gives 0.
 * Returns -1 if value is NULL, empty or not one of these forms (the caller
 * then ignores it and backs off as if it were absent).
 * value must be NUL-terminated; it is not modified.
 */
int64_t pf_retry_after_parse(const char *value, int64_t now_unix_s);

#endif /* PROVFLOW_RETRY_H */
