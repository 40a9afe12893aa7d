/* partition.c - one assigned partition's state (partition.h). */
#include "provflow/partition.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

pf_part *pf_part_new(int32_t id, int64_t committed, const char *metadata,
                     size_t len, int64_t settle_ms, int64_t now_ms,
                     int64_t wall_ms, unsigned *ignored)
{
    pf_part *pt = calloc(1, sizeof(*pt));
    pf_ckpt_meta meta;

    if (pt == NULL)
        return NULL;
    pt->id = id;
    pt->received_max = -1;
    pt->intent_sent = -1;
    pt->handoff_settle_ms = -1;
    pt->unseen_end = -1;
    TAILQ_INIT(&pt->waiting);
    pf_ckpt_meta_parse(metadata, len, &meta);
    *ignored = meta.ignored;
    pt->hw_prev = meta.hw;
    /* Without a hand-off time, assume sends up to now: settle from now. */
    pt->create_after_ms = now_ms + settle_ms;
    /* A clean hand-off said when its creates land: never later than a
     * crash would wait (a skewed clock or a hostile value). */
    if (meta.settle_wall_ms == 0)
        pt->create_after_ms = 0;
    else if (meta.settle_wall_ms > 0 &&
             meta.settle_wall_ms - wall_ms < settle_ms)
        pt->create_after_ms = now_ms + (meta.settle_wall_ms - wall_ms);
    /* What may have been sent before is already covered by an intent. */
    pt->intent_acked = pt->hw_prev;
    pt->track = pf_ptrack_new(committed, meta.done, meta.done_len);
    if (pt->track == NULL) {
        free(pt);
        return NULL;
    }
    return pt;
}

void pf_part_destroy(pf_part *pt)
{
    if (pt == NULL)
        return;
    pf_ptrack_destroy(pt->track);
    free(pt);
}

int pf_part_received(pf_part *pt, int64_t offset)
{
    int rc = pf_ptrack_received(pt->track, offset);

    if (rc >= 0 && offset > pt->received_max)
        pt->received_max = offset;
    return rc;
}

bool pf_part_check_first(const pf_part *pt, int64_t offset,
                         int64_t *create_after_ms)
{
    /*
     * At or below the previous owner's intent: it may have sent the
     * create, and Graph may still apply it; check first, and create only
     * once it would have landed. Never committed by this group: check,
     * but nothing of ours is in flight to wait for.
     */
    *create_after_ms = offset <= pt->hw_prev ? pt->create_after_ms : 0;
    return offset <= pt->hw_prev || offset < pt->unseen_end;
}

bool pf_part_may_send(pf_part *pt, int64_t offset)
{
    if (offset > pt->intent_acked)
        return false;
    /* The caller sends it now: a hand-off must say so (handoff_intent). */
    (void)pf_ptrack_sent(pt->track, offset);
    return true;
}

void pf_part_wait(pf_part *pt, pf_part_waiter *w, int64_t offset)
{
    w->offset = offset;
    TAILQ_INSERT_TAIL(&pt->waiting, w, link);
}

void pf_part_unsent(pf_part *pt, int64_t offset)
{
    (void)pf_ptrack_unsent(pt->track, offset);
}

pf_part_waiter *pf_part_released(pf_part *pt)
{
    pf_part_waiter *w = TAILQ_FIRST(&pt->waiting);

    if (w == NULL || w->offset > pt->intent_acked)
        return NULL;
    TAILQ_REMOVE(&pt->waiting, w, link);
    (void)pf_ptrack_sent(pt->track, w->offset); /* the caller sends it */
    return w;
}

bool pf_part_intent_due(const pf_part *pt)
{
    const pf_part_waiter *w = TAILQ_FIRST(&pt->waiting);

    return w != NULL && w->offset > pt->intent_sent;
}

size_t pf_part_waiting(const pf_part *pt)
{
    const pf_part_waiter *w;
    size_t n = 0;

    TAILQ_FOREACH(w, &pt->waiting, link)
    n++;
    return n;
}

void pf_part_forget_waiters(pf_part *pt)
{
    TAILQ_INIT(&pt->waiting);
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/*
 * The records the group never committed before (unseen_end): up to the
 * end known at assignment, or those received when it is unknown (the
 * intent of a periodic commit goes no further). -1: none.
 */
static int64_t unseen_hw(const pf_part *pt)
{
    if (pt->unseen_end <= 0)
        return -1;
    if (pt->unseen_end == INT64_MAX)
        return pt->received_max;
    return pt->unseen_end - 1;
}

/*
 * The intent of a periodic commit: everything received, or more if it was
 * before, and what the group never committed (a crash leaves this one, so
 * it stays wide).
 */
static int64_t intent_of(const pf_part *pt)
{
    return max64(max64(pt->received_max, pt->hw_prev), unseen_hw(pt));
}

/*
 * The intent of a hand-off (docs/design.md, "The delivery argument"):
 * nothing more is sent, so it can say exactly what may have been: the
 * highest record let through (pf_part_may_send) that is not done, the
 * previous owner's intent while records under it are not done, and the
 * unseen records not done; at least the position - 1 (everything below it
 * is done), so that a hand-off that sent nothing undone reads as such.
 * The next owner lists none of the records above it.
 */
static int64_t handoff_intent(const pf_part *pt)
{
    int64_t pos = pf_ptrack_commit_offset(pt->track);
    int64_t hw = max64(pf_ptrack_sent_max(pt->track), pos - 1);

    if (pt->hw_prev >= pos)
        hw = max64(hw, pt->hw_prev);
    if (unseen_hw(pt) >= pos)
        hw = max64(hw, unseen_hw(pt));
    return hw;
}

int pf_part_checkpoint(pf_part *pt, int64_t now_ms, int64_t wall_ms, char *meta,
                       size_t meta_size, int64_t *offset)
{
    int64_t settle = -1; /* not a hand-off */
    int64_t intent = intent_of(pt), until = pt->handoff_settle_ms;

    *offset = pf_ptrack_commit_offset(pt->track);
    if (*offset < 0)
        return -1;
    if (until >= 0) {
        intent = handoff_intent(pt);
        /* The previous owner's creates land by create_after_ms: while
         * records under its intent are not done, the next owner waits as
         * long. */
        if (pt->hw_prev >= *offset)
            until = max64(until, pt->create_after_ms);
        settle = until > now_ms ? wall_ms + (until - now_ms) : 0;
    }
    if (pf_ckpt_meta_format_covering(meta, meta_size, intent, settle,
                                     pt->track) < 0)
        return -1; /* not reached: the caller's buffer holds the header */
    pf_ptrack_committed(pt->track);
    pt->intent_sent = intent;
    /* After a hand-off's commit nothing above its intent may go out. */
    if (pt->intent_acked > intent)
        pt->intent_acked = intent;
    return 0;
}

void pf_part_acked(pf_part *pt, bool ok)
{
    if (!ok) {
        /* No commit carries the intent sent: a waiter asks for it again. */
        pt->intent_sent = pt->intent_acked;
        pf_ptrack_set_dirty(pt->track);
        return;
    }
    if (pt->intent_sent > pt->intent_acked)
        pt->intent_acked = pt->intent_sent;
}

void pf_part_handoff(pf_part *pt, int64_t until_ms)
{
    if (until_ms > pt->handoff_settle_ms)
        pt->handoff_settle_ms = until_ms;
}

pf_part *pf_parts_get(const pf_parts *ps, int32_t id)
{
    return id >= 0 && (size_t)id < ps->n ? ps->v[id] : NULL;
}

int pf_parts_put(pf_parts *ps, pf_part *pt)
{
    size_t id = (size_t)pt->id;

    assert(pt->id >= 0 && pf_parts_get(ps, pt->id) == NULL);
    if (id >= ps->n) {
        size_t n = id + 16;
        pf_part **grown = realloc(ps->v, n * sizeof(*grown));

        if (grown == NULL)
            return -1;
        memset(grown + ps->n, 0, (n - ps->n) * sizeof(*grown));
        ps->v = grown;
        ps->n = n;
    }
    ps->v[id] = pt;
    return 0;
}

void pf_parts_remove(pf_parts *ps, int32_t id)
{
    pf_part *pt = pf_parts_get(ps, id);

    if (pt == NULL)
        return;
    ps->v[id] = NULL;
    pf_part_destroy(pt);
}

void pf_parts_release(pf_parts *ps)
{
    size_t i;

    for (i = 0; i < ps->n; i++)
        pf_part_destroy(ps->v[i]);
    free(ps->v);
    ps->v = NULL;
    ps->n = 0;
}
