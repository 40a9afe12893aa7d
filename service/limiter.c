/*
 * limiter.c - one tenant's adaptive concurrency limit and throttling hold
 * (limiter.h).
 */
#include "provflow/limiter.h"

#include <math.h>
#include <string.h>

#define RTT_FLOOR_MS         5.0  /* latencies below this compare as this */
#define GRADIENT_MIN         0.5  /* a round never cuts more than by half */
#define LONG_WEIGHT          0.05 /* the long average follows over ~20 rounds */
#define ROUND_MAX_MS         10000 /* a round ends after this, answers or not */
#define PLATEAU_MS           2000  /* after a cut, the limit stays this long */
#define GROWTH_PER_S         0.2   /* then grows by this share of it a second */
#define FELL_MARGIN          1.3   /* throttled below this x the cut: R fell */
#define HALF                 0.5   /* a cut keeps this of what flew, at least */
#define SUDDEN               0.93 /* a cycle took under this x the last: fell */
#define PACE_GAIN            1.25 /* sends paced at limit / rtt times this */
#define PACE_GAIN_SLOW_START 2.0  /* and this while the limit doubles */
#define PACE_BURST_MS        10.0 /* the pacer saves up this much time of sends */

void pf_limiter_config_default(pf_limiter_config *cfg, int max)
{
    cfg->initial = PF_LIMITER_INITIAL_DEFAULT;
    cfg->max = max;
    cfg->backoff = PF_LIMITER_BACKOFF_DEFAULT;
    cfg->tolerance = PF_LIMITER_TOLERANCE_DEFAULT;
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void pf_limiter_init(pf_limiter *l, const pf_limiter_config *cfg)
{
    memset(l, 0, sizeof(*l));
    l->cfg = *cfg;
    if (l->cfg.max < 1)
        l->cfg.max = 1;
    l->limit = clamp(cfg->initial, 1, l->cfg.max);
    l->slow_start = true;
    l->round_start_ms = -1;
    l->cycle_ms = -1;
    l->cut_ms = -1;
}

int pf_limiter_limit(const pf_limiter *l)
{
    return (int)l->limit;
}

/* Sends per millisecond the pacer allows; 0: not paced (no rtt yet). */
static double pace_rate(const pf_limiter *l)
{
    double gain = l->slow_start ? PACE_GAIN_SLOW_START : PACE_GAIN;

    return l->rtt_short > 0 ? gain * l->limit / l->rtt_short : 0;
}

/* The pacer's credit at now_ms: sends it allows at once. */
static double pace_credit(const pf_limiter *l, int64_t now_ms)
{
    double rate = pace_rate(l), cap, credit;

    if (rate <= 0)
        return 1;
    cap = rate * PACE_BURST_MS < 1 ? 1 : rate * PACE_BURST_MS;
    credit = l->pace_credit + (double)(now_ms - l->pace_ms) * rate;
    return credit < cap ? credit : cap;
}

bool pf_limiter_may_send(const pf_limiter *l, int64_t now_ms)
{
    if (now_ms < l->hold_until_ms)
        return false;
    if (l->probe)
        return l->in_flight == 0;
    return l->in_flight < (int)l->limit && pace_credit(l, now_ms) >= 1;
}

int64_t pf_limiter_next_send_ms(const pf_limiter *l, int64_t now_ms)
{
    double rate = pace_rate(l), credit;

    if (now_ms < l->hold_until_ms)
        return l->hold_until_ms;
    if (l->probe || l->in_flight >= (int)l->limit)
        return -1; /* an answer frees the slot */
    credit = pace_credit(l, now_ms);
    if (credit >= 1 || rate <= 0)
        return now_ms;
    return now_ms + (int64_t)ceil((1 - credit) / rate);
}

int64_t pf_limiter_held_ms(const pf_limiter *l, int64_t now_ms)
{
    return now_ms < l->hold_until_ms ? l->hold_until_ms - now_ms : 0;
}

void pf_limiter_sent(pf_limiter *l, int64_t now_ms)
{
    l->pace_credit = pace_credit(l, now_ms) - 1;
    l->pace_ms = now_ms;
    l->in_flight++;
    if (l->in_flight > l->round_peak)
        l->round_peak = l->in_flight;
}

/*
 * What Graph took, in requests a millisecond: the requests sent since the
 * last cut (before the first: since the first request) that it admitted,
 * over the time since (times the round trip: as requests in flight). Those
 * are the answers to requests sent in the cycle plus the ones still in
 * flight (flying, this throttled one excluded): a budget charges a request
 * when it arrives, so the window in flight at a cut belongs to the cycle
 * that ends, not to the next one (counted there, it inflated a short cycle
 * by a window: 57 instead of 50 at 500/s). A budget with a burst admits more
 * than its rate for a while; this average over a whole cycle (the hold
 * included, the budget empty at both ends) is its rate. Less the probe's
 * round trip: the budget, refilled by the hold, overflows while the probe is
 * out alone, and that time counted cut 6% under the rate (94 at 100 in
 * flight, 100 ms round trips after a hold of 1 s). -1 when unknown.
 */
static double taken_per_ms(const pf_limiter *l, int64_t now_ms, int flying)
{
    int64_t span = now_ms - l->cycle_ms - l->probe_rtt_ms;

    if (l->cycle_ms < 0 || now_ms <= l->cycle_ms || l->rtt_short <= 0)
        return -1;
    if (span <= 0)
        span = now_ms - l->cycle_ms;
    return (double)(l->ok_since_cut + flying - 1) / (double)span;
}

/*
 * Once per round trip at most: the requests of one window cut once (sent
 * in the millisecond of the cut is sent before it: the hold lets nothing
 * out after it; two 429s of one window answered in one millisecond cut
 * twice before). What Graph took sets the level, but never below half the
 * requests in flight (TCP's cut on a loss): the cycle's average is low
 * when it holds time the budget was not used (its burst overflowing: the
 * first cycle, or one in which the budget grew back). A throttle near the
 * level of the last cut (the limit not yet grown past FELL_MARGIN x it) is
 * no probe that went too far: the budget fell, by an amount the cycle's
 * average, which still holds the old budget, cannot tell; then the cut is
 * by half at least. Nor is that half kept up by the requests in flight:
 * such a cycle began at a throttle (the budget empty) and did not grow
 * into a burst, so what it took is no understatement. Kept up, the second
 * throttle from a full bucket (slow start's overshoot, cut to half, drains
 * the refilled burst) cut to half again and again: 300, 150, then 75 at a
 * rate of 100 in flight, a throttle each time and a slow climb after.
 *
 * A throttle late in a probe looks the same whether the budget held or
 * fell a moment ago; what tells them apart is the cycle's rate. From one
 * throttle to the next (the budget empty at both) a cycle takes the
 * budget's rate exactly, so one that took under SUDDEN x the cycle before
 * it (itself so measured, not cut for a fall) spent part of its time under
 * a lower budget, and its average still holds the old one: the cut halves
 * what it took. Cut to the average, the tenant ran at nearly the old rate
 * after the hold until a second throttle found the new one, and the first
 * whole second at the new rate came 5 to 6 s after a halving, not 3 to 4.
 */
static bool cut(pf_limiter *l, int64_t now_ms, int64_t sent_ms, int flying,
                bool throttle)
{
    double base = l->limit, per_ms = taken_per_ms(l, now_ms, flying);
    double rate = per_ms >= 0 ? per_ms * l->rtt_short : -1;
    bool fell = l->cut_level > 0 && l->limit <= l->cut_level * FELL_MARGIN + 1;
    bool sudden = !fell && throttle && l->measured_per_ms > 0 && per_ms >= 0 &&
                  per_ms < l->measured_per_ms * SUDDEN;

    if (sent_ms <= l->cut_ms)
        return false;
    if (flying < base)
        base = flying; /* the limit was not the level that drew it */
    base *= l->cfg.backoff;
    if (!fell && !sudden && rate >= 0 && rate < flying * HALF)
        rate = flying * HALF;
    if (sudden)
        rate *= HALF;
    if (rate >= 0 && rate < base)
        base = rate;
    if (fell && base > l->limit * HALF)
        base = l->limit * HALF;
    /* A measure for the next cycle: one from a throttle to the next. */
    l->measured_per_ms =
        throttle && l->cycle_at_throttle && !fell && !sudden ? per_ms : 0;
    l->cycle_at_throttle = throttle;
    l->limit = clamp(floor(base), 1, l->cfg.max);
    l->cut_level = l->limit;
    l->slow_start = false;
    l->cut_ms = now_ms;
    l->cycle_ms = now_ms;
    l->ok_since_cut = 0;
    l->probe_rtt_ms = 0;
    return true;
}

/*
 * The round's latency against the long run's: grow, hold or shrink. After
 * a cut the limit stays PLATEAU_MS (the hold, then a second or so at the
 * rate the cut measured), then grows by GROWTH_PER_S of itself a second:
 * in time, not in rounds, and in proportion, so that a budget's burst
 * hides the same share of an overshoot at any rate and round trip. Below
 * the level of the last cut (shrunk by latency), or before any cut, it
 * grows by its square root a round (Gradient2's queue allowance).
 */
static bool end_round(pf_limiter *l, int64_t now_ms)
{
    double before = l->limit, gradient;

    l->rtt_short = l->round_rtt_sum / l->round_answers;
    if (l->rtt_long <= 0)
        l->rtt_long = l->rtt_short;
    else
        l->rtt_long += (l->rtt_short - l->rtt_long) * LONG_WEIGHT;
    /* Milliseconds of noise are no queue: both at least RTT_FLOOR_MS. */
    gradient = clamp(l->cfg.tolerance * fmax(l->rtt_long, RTT_FLOOR_MS) /
                         fmax(l->rtt_short, RTT_FLOOR_MS),
                     GRADIENT_MIN, 1.0);
    if (gradient < 1.0) {
        l->limit = floor(l->limit * gradient);
        l->slow_start = false;
    } else if (2 * l->round_peak >= (int)l->limit) {
        if (l->slow_start)
            l->limit *= 2;
        else if (l->cut_level <= 0)
            l->limit += sqrt(l->limit);
        else if (l->limit < l->cut_level)
            l->limit += fmin(sqrt(l->limit), l->cut_level - l->limit);
        else if (now_ms - l->cut_ms >= PLATEAU_MS)
            l->limit += fmin(sqrt(l->limit),
                             l->limit * GROWTH_PER_S *
                                 (double)(now_ms - l->round_start_ms) / 1000);
    }
    l->limit = clamp(l->limit, 1, l->cfg.max);
    return (int)l->limit != (int)before;
}

/*
 * A round lasts one round trip: it ends when a request sent after it
 * began is answered, so it holds the answers to one window of requests.
 */
static bool sample(pf_limiter *l, int64_t now_ms, int64_t sent_ms)
{
    bool changed = false;

    if (l->cycle_ms < 0)
        l->cycle_ms = sent_ms; /* the first cycle: from the first request */
    if (sent_ms >= l->cycle_ms)
        l->ok_since_cut++; /* else counted in flight at the cut (taken()) */
    if (sent_ms < l->cut_ms)
        return false; /* from before the cut: says nothing of the new limit */
    if (l->round_start_ms < 0)
        l->round_start_ms = now_ms;
    l->round_answers++;
    l->round_rtt_sum += (double)(now_ms - sent_ms);
    if (sent_ms >= l->round_start_ms ||
        now_ms - l->round_start_ms >= ROUND_MAX_MS) {
        changed = end_round(l, now_ms);
        l->round_start_ms = now_ms;
        l->round_answers = 0;
        l->round_rtt_sum = 0;
        l->round_peak = l->in_flight;
    }
    return changed;
}

bool pf_limiter_answered(pf_limiter *l, int64_t now_ms, int64_t sent_ms,
                         pf_limiter_signal s, int64_t hold_ms)
{
    int flying = l->in_flight; /* this request included */
    bool changed = false;

    if (l->in_flight > 0)
        l->in_flight--;
    switch (s) {
    case PF_LIMITER_THROTTLE:
        if (hold_ms < 0)
            hold_ms = 0;
        if (now_ms + hold_ms > l->hold_until_ms) {
            l->held_ms_total +=
                now_ms + hold_ms -
                (l->hold_until_ms > now_ms ? l->hold_until_ms : now_ms);
            if (l->hold_until_ms <= now_ms)
                l->throttles++;
            l->hold_until_ms = now_ms + hold_ms;
            changed = true;
        }
        l->throttled_in_row++;
        l->probe = true;
        l->probe_ms = now_ms;
        return cut(l, now_ms, sent_ms, flying, true) || changed;
    case PF_LIMITER_OVERLOAD:
        l->throttled_in_row = 0;
        return cut(l, now_ms, sent_ms, flying, false);
    case PF_LIMITER_SAMPLE:
        l->throttled_in_row = 0;
        if (l->probe && sent_ms >= l->probe_ms) {
            l->probe = false;
            l->probe_rtt_ms = now_ms - sent_ms;
            changed = true;
        }
        return sample(l, now_ms, sent_ms) || changed;
    case PF_LIMITER_NONE:
        break;
    }
    return false;
}
