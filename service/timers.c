/* timers.c - a binary min-heap of embedded timers (timers.h). */
#include "provflow/timers.h"

#include <assert.h>
#include <stdlib.h>
#include <time.h>

struct pf_timers {
    pf_timer **heap;
    size_t len, cap;
};

int64_t pf_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pf_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

pf_timers *pf_timers_new(void)
{
    return calloc(1, sizeof(pf_timers));
}

void pf_timers_destroy(pf_timers *ts)
{
    size_t i;

    if (ts == NULL)
        return;
    for (i = 0; i < ts->len; i++)
        ts->heap[i]->slot = 0;
    free(ts->heap);
    free(ts);
}

void pf_timer_init(pf_timer *t, pf_timer_fn fn, void *arg)
{
    t->due_ms = 0;
    t->slot = 0;
    t->fn = fn;
    t->arg = arg;
}

static void place(pf_timers *ts, size_t i, pf_timer *t)
{
    ts->heap[i] = t;
    t->slot = i + 1;
}

static void sift_up(pf_timers *ts, size_t i)
{
    pf_timer *t = ts->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (ts->heap[parent]->due_ms <= t->due_ms)
            break;
        place(ts, i, ts->heap[parent]);
        i = parent;
    }
    place(ts, i, t);
}

static void sift_down(pf_timers *ts, size_t i)
{
    pf_timer *t = ts->heap[i];

    for (;;) {
        size_t child = 2 * i + 1;

        if (child >= ts->len)
            break;
        if (child + 1 < ts->len &&
            ts->heap[child + 1]->due_ms < ts->heap[child]->due_ms)
            child++;
        if (t->due_ms <= ts->heap[child]->due_ms)
            break;
        place(ts, i, ts->heap[child]);
        i = child;
    }
    place(ts, i, t);
}

void pf_timer_stop(pf_timers *ts, pf_timer *t)
{
    size_t i;
    pf_timer *last;

    if (t->slot == 0)
        return;
    i = t->slot - 1;
    assert(i < ts->len && ts->heap[i] == t); /* started in this set */
    t->slot = 0;
    last = ts->heap[--ts->len];
    if (i == ts->len)
        return;
    place(ts, i, last);
    sift_down(ts, i);
    sift_up(ts, last->slot - 1);
}

int pf_timer_start(pf_timers *ts, pf_timer *t, int64_t due_ms)
{
    assert(t->fn != NULL); /* pf_timer_init() first */
    pf_timer_stop(ts, t);
    if (ts->len == ts->cap) {
        size_t cap = ts->cap ? ts->cap * 2 : 64;
        pf_timer **heap = realloc(ts->heap, cap * sizeof(*heap));

        if (heap == NULL)
            return -1;
        ts->heap = heap;
        ts->cap = cap;
    }
    t->due_ms = due_ms;
    place(ts, ts->len++, t);
    sift_up(ts, ts->len - 1);
    return 0;
}

int64_t pf_timers_next_due(const pf_timers *ts)
{
    return ts->len > 0 ? ts->heap[0]->due_ms : INT64_MAX;
}

size_t pf_timers_run(pf_timers *ts, int64_t now_ms)
{
    size_t fired = 0;

    while (ts->len > 0 && ts->heap[0]->due_ms <= now_ms) {
        pf_timer *t = ts->heap[0];

        assert(t->slot == 1);
        pf_timer_stop(ts, t);
        fired++;
        t->fn(t, t->arg); /* may start t again, or others */
    }
    return fired;
}

size_t pf_timers_count(const pf_timers *ts)
{
    return ts->len;
}
