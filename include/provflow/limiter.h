/*
 * limiter.h - how many requests one tenant may have in flight, found by
 * watching its answers (docs/design.md, "Throughput at Graph's limit").
 *
 * One limiter per tenant. It holds an adaptive limit between a floor and a
 * ceiling (--max-in-flight) and a hold: while a tenant is throttled, none
 * of its requests goes out. The rules, per answer:
 *
 * - A throttle (429, or 503 with Retry-After) holds the tenant until the
 *   time it names, cuts the limit (once per round trip: the answers to
 *   requests sent before the cut do not cut again), and ends slow start.
 *   After the hold one request goes out alone (a probe); the others
 *   follow its answer.
 * - A 503 without Retry-After (overload) cuts the same way, without a hold.
 * - Any other answer is a latency sample. Once per round (about one round
 *   trip), the round's mean latency (short) is compared with a slow
 *   average of the rounds before (long): a gradient, tolerance x long /
 *   short, clamped to [0.5, 1]. Below 1 the limit shrinks by it (latency
 *   rose: a queue is building); at 1, if the round used at least half the
 *   limit, the limit grows: doubled in slow start (until the first cut),
 *   else, from 2 s after the last cut, by 20% of itself a second (at most
 *   its square root a round, Netflix's Gradient2 queue size), and below
 *   the last cut's level or before any cut by its square root a round. A
 *   round that used less than half the limit says nothing about a larger
 *   one.
 * - Transport failures (no answer) are not samples.
 *
 * Sends are paced at 1.25 x limit / round-trip time (with 10 ms of credit
 * saved up at most), as BBR paces: a window released at once (after a
 * hold, say) would meet a nearly empty budget in one burst and draw a
 * burst of 429s; spread out, the first 429 holds the tenant after a few.
 * A cut takes the least of backoff x the limit, backoff x the requests in
 * flight, and what Graph took since the last cut (the requests it
 * admitted over the time, the probe's round trip left out, times the
 * round trip, but at least half the requests in flight); and at most half
 * the limit when the limit had not grown past 1.3 x the last cut's level
 * (the budget fell), what Graph took then without that floor. A throttle
 * that ends a cycle which took under 0.93 x what the cycle before it
 * took, from one throttle to the next, says the budget fell within it:
 * the cut is to half what it took.
 *
 * Pure: no clock, no allocation; the caller passes monotonic milliseconds.
 * One thread (the loop) owns a limiter.
 */
#ifndef PROVFLOW_LIMITER_H
#define PROVFLOW_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

/*
 * 32 to begin with: what provflow ran with as a fixed limit for a long
 * time, safe for any tenant; slow start doubles it each round trip.
 */
#define PF_LIMITER_INITIAL_DEFAULT   32
#define PF_LIMITER_BACKOFF_DEFAULT   0.9 /* Netflix's AIMD backoff ratio */
#define PF_LIMITER_TOLERANCE_DEFAULT 2.0 /* Gradient2's rtt tolerance */

typedef struct pf_limiter_config {
    int initial;      /* the first limit, clamped into [1, max] */
    int max;          /* the ceiling, >= 1 */
    double backoff;   /* the cut on a throttle, in (0, 1) */
    double tolerance; /* latency may grow this much before a cut, >= 1 */
} pf_limiter_config;

void pf_limiter_config_default(pf_limiter_config *cfg, int max);

typedef enum pf_limiter_signal {
    PF_LIMITER_SAMPLE,   /* an answer: its latency is a sample */
    PF_LIMITER_THROTTLE, /* 429 or 503 with Retry-After: hold and cut */
    PF_LIMITER_OVERLOAD, /* 503 without Retry-After: cut */
    PF_LIMITER_NONE,     /* no answer (transport failure), or cancelled */
} pf_limiter_signal;

/* Fields are read-only outside limiter.c. */
typedef struct pf_limiter {
    pf_limiter_config cfg;
    double limit;
    int in_flight;
    bool slow_start;
    bool probe;            /* after a hold: one request until it answers */
    int64_t probe_ms;      /* the throttle: a probe is sent after it */
    int64_t probe_rtt_ms;  /* the last probe's round trip in this cycle */
    int64_t hold_until_ms; /* throttled: nothing goes out before this */
    int64_t cut_ms;        /* answers to requests sent by then: no cut; -1 */
    int throttled_in_row;  /* throttles without an answer between them */

    /* the current round: answers since round_start_ms */
    int64_t round_start_ms;
    int round_answers;
    double round_rtt_sum;
    int round_peak;         /* the most in flight during the round */
    long ok_since_cut;      /* answers (not throttled) to requests sent since
                               cycle_ms */
    int64_t cycle_ms;       /* the last cut, or the first request; -1 */
    double cut_level;       /* the limit the last cut set; 0 before one */
    double measured_per_ms; /* what Graph took (requests a ms) in the last
                               cycle from one throttle to the next, when
                               that cycle measured the budget; else 0 */
    bool cycle_at_throttle; /* the cycle began at a throttle */
    double pace_credit;     /* sends the pacer allows, at pace_ms */
    int64_t pace_ms;
    double rtt_short, rtt_long;

    uint64_t throttles;    /* holds begun */
    int64_t held_ms_total; /* time held, counted when a hold begins */
} pf_limiter;

void pf_limiter_init(pf_limiter *l, const pf_limiter_config *cfg);

/* The limit now, a whole number in [1, max]. */
int pf_limiter_limit(const pf_limiter *l);

/* Whether one more request may go out at now_ms. */
bool pf_limiter_may_send(const pf_limiter *l, int64_t now_ms);

/* Held at now_ms: the milliseconds left, else 0. */
int64_t pf_limiter_held_ms(const pf_limiter *l, int64_t now_ms);

/*
 * When one more request may go out, if none may now: the hold's end, or
 * the pacer's next send; -1 when only an answer can free a slot.
 */
int64_t pf_limiter_next_send_ms(const pf_limiter *l, int64_t now_ms);

/* A request went out at now_ms. */
void pf_limiter_sent(pf_limiter *l, int64_t now_ms);

/*
 * The request sent at sent_ms ended at now_ms with signal s. For
 * PF_LIMITER_THROTTLE, hold_ms is how long the tenant is held (>= 0).
 * Returns true when the limit or the hold changed (worth reporting).
 */
bool pf_limiter_answered(pf_limiter *l, int64_t now_ms, int64_t sent_ms,
                         pf_limiter_signal s, int64_t hold_ms);

#endif /* PROVFLOW_LIMITER_H */
