/*
 * timers.h - the loop's clock and one-shot timers.
 *
 * Timers are embedded in the structures they belong to (a job's backoff, a
 * token's refresh), so starting one never allocates except when the heap
 * grows. Everything here runs on the event-loop thread; nothing is
 * thread-safe.
 */
#ifndef PROVFLOW_TIMERS_H
#define PROVFLOW_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Monotonic milliseconds (CLOCK_MONOTONIC): for deadlines and durations. */
int64_t pf_now_ms(void);

/* Wall-clock milliseconds since the Unix epoch: for records and dates. */
int64_t pf_wall_ms(void);

typedef struct pf_timer pf_timer;
typedef void (*pf_timer_fn)(pf_timer *t, void *arg);

/* Fields are private to timers.c; the struct is public to be embedded. */
struct pf_timer {
    int64_t due_ms;
    size_t slot; /* index in the heap + 1; 0 when not started */
    pf_timer_fn fn;
    void *arg;
};

typedef struct pf_timers pf_timers;

pf_timers *pf_timers_new(void);

/* Frees the set; timers still started are forgotten, never fired. */
void pf_timers_destroy(pf_timers *ts);

/* Prepares t to call fn(t, arg) when it fires. */
void pf_timer_init(pf_timer *t, pf_timer_fn fn, void *arg);

/*
 * Starts t to fire at monotonic time due_ms, or moves it there if it is
 * started already. Returns -1 only when memory runs out.
 */
int pf_timer_start(pf_timers *ts, pf_timer *t, int64_t due_ms);

/* Stops t if started; a stopped timer never fires. */
void pf_timer_stop(pf_timers *ts, pf_timer *t);

static inline bool pf_timer_started(const pf_timer *t)
{
    return t->slot != 0;
}

/* The earliest due time, or INT64_MAX if no timer is started. */
int64_t pf_timers_next_due(const pf_timers *ts);

/*
 * Fires, in due order, every timer due at or before now_ms. A callback may
 * start or stop any timer, itself included. Returns how many fired.
 */
size_t pf_timers_run(pf_timers *ts, int64_t now_ms);

/* How many timers are started. */
size_t pf_timers_count(const pf_timers *ts);

#endif /* PROVFLOW_TIMERS_H */
