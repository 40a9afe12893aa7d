/*
 * test_partition.c - one assigned partition's state (partition.h): what it
 * learns from the previous owner's commit, which records it checks first,
 * the intent that must be committed before a record is sent, the
 * checkpoints it writes and the table of partitions by id.
 *
 * The module has no clock: every time is passed explicitly, so the cases
 * use fixed monotonic (NOW) and wall (WALL) times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "provflow/offsets.h"
#include "provflow/partition.h"

#define NOW    1000000LL       /* monotonic ms */
#define WALL   1711143482716LL /* wall ms since the epoch */
#define SETTLE 5000LL          /* --settle-ms */

/* A partition taken on from metadata text (NULL: none). */
static pf_part *adopt(int64_t committed, const char *meta, unsigned *ignored)
{
    unsigned dummy;
    pf_part *pt =
        pf_part_new(7, committed, meta, meta != NULL ? strlen(meta) : 0, SETTLE,
                    NOW, WALL, ignored != NULL ? ignored : &dummy);

    assert_non_null(pt);
    assert_int_equal(pt->id, 7);
    return pt;
}

/* Commit metadata as a previous owner wrote it (offsets.h's one writer). */
static void meta_of(char *buf, size_t n, int64_t hw, int64_t s,
                    const pf_ptrack *t)
{
    assert_true(pf_ckpt_meta_format(buf, n, hw, s, t) > 0);
}

/* Reads back what a checkpoint wrote. */
static pf_ckpt_meta parsed(const char *meta)
{
    pf_ckpt_meta m;

    assert_int_equal(pf_ckpt_meta_parse(meta, strlen(meta), &m), 0);
    assert_int_equal(m.ignored, 0);
    return m;
}

/* (a) No metadata: nothing was sent before; a hw alone settles from now. */
static void without_hand_off_time_creates_wait_from_now(void **state)
{
    char meta[PF_CKPT_META_MIN_SIZE];
    unsigned ignored = 99;
    pf_part *pt;

    (void)state;
    pt = adopt(-1, NULL, &ignored);
    assert_int_equal(ignored, 0);
    assert_int_equal(pt->hw_prev, -1);
    assert_int_equal(pt->create_after_ms, NOW + SETTLE);
    assert_int_equal(pt->received_max, -1);
    assert_int_equal(pt->unseen_end, -1);
    assert_int_equal(pt->handoff_settle_ms, -1);
    assert_false(pf_part_may_send(pt, 0));
    pf_part_destroy(pt);

    /* A crash after a periodic commit: an intent, no hand-off time. */
    meta_of(meta, sizeof(meta), 4711, -1, NULL);
    pt = adopt(4700, meta, &ignored);
    assert_int_equal(ignored, 0);
    assert_int_equal(pt->hw_prev, 4711);
    assert_int_equal(pt->create_after_ms, NOW + SETTLE);
    /* What the previous owner may have sent is covered by its intent. */
    assert_true(pf_part_may_send(pt, 4711));
    assert_false(pf_part_may_send(pt, 4712));
    pf_part_destroy(pt);

    /* The tracker's part alone, as written before intents. */
    pt = adopt(100, "pf1:100", &ignored);
    assert_int_equal(ignored, 0);
    assert_int_equal(pt->hw_prev, -1);
    assert_int_equal(pt->create_after_ms, NOW + SETTLE);
    pf_part_destroy(pt);
}

/* (b) A clean hand-off with nothing in flight: no wait at all. */
static void clean_hand_off_with_nothing_in_flight_needs_no_wait(void **state)
{
    char meta[PF_CKPT_META_MIN_SIZE];
    int64_t after = -1;
    pf_part *pt;

    (void)state;
    meta_of(meta, sizeof(meta), 4711, 0, NULL);
    pt = adopt(4700, meta, NULL);
    assert_int_equal(pt->hw_prev, 4711);
    assert_int_equal(pt->create_after_ms, 0);
    assert_true(pf_part_check_first(pt, 4711, &after));
    assert_int_equal(after, 0);
    pf_part_destroy(pt);
}

/* (c) A hand-off time within --settle-ms: waits what remains of it. */
static void hand_off_time_within_settle_waits_what_remains(void **state)
{
    static const int64_t ahead[] = {1, 1200, SETTLE - 1};
    char meta[PF_CKPT_META_MIN_SIZE];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ahead) / sizeof(ahead[0]); i++) {
        pf_part *pt;
        int64_t after = -1;

        meta_of(meta, sizeof(meta), 50, WALL + ahead[i], NULL);
        pt = adopt(40, meta, NULL);
        assert_int_equal(pt->hw_prev, 50);
        assert_int_equal(pt->create_after_ms, NOW + ahead[i]);
        assert_true(pf_part_check_first(pt, 50, &after));
        assert_int_equal(after, NOW + ahead[i]);
        pf_part_destroy(pt);
    }

    /* A time already past: nothing left to wait for. */
    meta_of(meta, sizeof(meta), 50, WALL - 2000, NULL);
    {
        pf_part *pt = adopt(40, meta, NULL);

        assert_true(pt->create_after_ms <= NOW);
        pf_part_destroy(pt);
    }
}

/* (d) Further than --settle-ms away (skewed clock, hostile): capped. */
static void hand_off_time_beyond_settle_is_capped(void **state)
{
    static const char *const metas[] = {
        "hw=50;s=1711143487716;pf1:40",        /* WALL + SETTLE */
        "hw=50;s=1711143542716;pf1:40",        /* WALL + 60 s */
        "hw=50;s=9223372036854775807;pf1:40",  /* INT64_MAX */
        "hw=50;s=1;s=9223372036854775807;",    /* repeated: the largest */
        "s=9223372036854775807;hw=50;pf1:40;", /* any order */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(metas) / sizeof(metas[0]); i++) {
        unsigned ignored = 99;
        int64_t after = -1;
        pf_part *pt = adopt(40, metas[i], &ignored);

        assert_int_equal(ignored, 0);
        assert_int_equal(pt->hw_prev, 50);
        assert_int_equal(pt->create_after_ms, NOW + SETTLE);
        assert_true(pf_part_check_first(pt, 50, &after));
        assert_int_equal(after, NOW + SETTLE);
        pf_part_destroy(pt);
    }
}

/* (e) Malformed parts are ignored one by one, and counted. */
static void malformed_parts_are_counted_and_ignored(void **state)
{
    static const struct {
        const char *meta;
        unsigned ignored;
        int64_t hw_prev, create_after_ms;
    } rows[] = {
        /* a bad hw, an empty s, an unknown name; the good hw stands */
        {"hw=12x;s=;x=1;hw=5;pf1:100", 3, 5, NOW + SETTLE},
        /* a cut-off number (no ';') is malformed, not smaller */
        {"hw=5;s=17", 1, 5, NOW + SETTLE},
        {"hw=-5;s=0;", 1, -1, 0},
        {"hw=007;s=+1;", 2, -1, NOW + SETTLE},
        {"hw=9223372036854775807;", 1, -1, NOW + SETTLE},
        {"garbage", 1, -1, NOW + SETTLE},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        unsigned ignored = 99;
        pf_part *pt = adopt(100, rows[i].meta, &ignored);

        assert_int_equal(ignored, rows[i].ignored);
        assert_int_equal(pt->hw_prev, rows[i].hw_prev);
        assert_int_equal(pt->create_after_ms, rows[i].create_after_ms);
        pf_part_destroy(pt);
    }
}

/* A NUL byte makes its part malformed (the length, not strlen, counts). */
static void metadata_length_is_the_given_one(void **state)
{
    static const char text[] = "hw=5;s=0\0;hw=9;";
    unsigned ignored = 99;
    pf_part *pt;

    (void)state;
    pt = pf_part_new(1, 3, text, sizeof(text) - 1, SETTLE, NOW, WALL, &ignored);
    assert_non_null(pt);
    assert_int_equal(ignored, 1);
    assert_int_equal(pt->hw_prev, 9);
    assert_int_equal(pt->create_after_ms, NOW + SETTLE);
    pf_part_destroy(pt);
}

/* Received records: processed, skipped as done, skipped as seen. */
static void received_says_process_or_skip(void **state)
{
    char meta[PF_CKPT_META_MIN_SIZE + 64];
    pf_ptrack *prev = pf_ptrack_new(100, NULL, 0);
    pf_part *pt;

    (void)state;
    /* The previous owner received 100..102 and finished 102 only. */
    assert_non_null(prev);
    assert_int_equal(pf_ptrack_received(prev, 100), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_received(prev, 101), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_received(prev, 102), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_done(prev, 102), 0);
    meta_of(meta, sizeof(meta), 102, -1, prev);
    pf_ptrack_destroy(prev);

    pt = adopt(100, meta, NULL);
    assert_int_equal(pt->hw_prev, 102);
    assert_int_equal(pf_part_received(pt, 100), PF_PTRACK_PROCESS);
    assert_int_equal(pt->received_max, 100);
    assert_int_equal(pf_part_received(pt, 101), PF_PTRACK_PROCESS);
    assert_int_equal(pt->received_max, 101);
    /* Done before: skipped, but received all the same. */
    assert_int_equal(pf_part_received(pt, 102), PF_PTRACK_SKIP);
    assert_int_equal(pt->received_max, 102);
    /* Seen already (a redelivery after a seek): nothing changes. */
    assert_int_equal(pf_part_received(pt, 101), PF_PTRACK_ERR_INVALID);
    assert_int_equal(pf_part_received(pt, 102), PF_PTRACK_ERR_INVALID);
    assert_int_equal(pf_part_received(pt, -1), PF_PTRACK_ERR_INVALID);
    assert_int_equal(pt->received_max, 102);
    assert_int_equal(pf_ptrack_pending(pt->track), 2);
    /* A new one, above. */
    assert_int_equal(pf_part_received(pt, 110), PF_PTRACK_PROCESS);
    assert_int_equal(pt->received_max, 110);
    pf_part_destroy(pt);
}

/* Which records look in Graph before a create, and until when they wait. */
static void check_first_below_the_intent_or_the_unseen_end(void **state)
{
    static const struct {
        int64_t offset;
        bool check;
        int64_t after;
    } rows[] = {
        {0, true, NOW + SETTLE},  /* below the previous owner's intent */
        {50, true, NOW + SETTLE}, /* at it */
        {51, true, 0},            /* never committed by the group */
        {79, true, 0},
        {80, false, 0}, /* above both */
        {1000, false, 0},
    };
    char meta[PF_CKPT_META_MIN_SIZE];
    pf_part *pt;
    size_t i;

    (void)state;
    meta_of(meta, sizeof(meta), 50, -1, NULL);
    pt = adopt(40, meta, NULL);
    pt->unseen_end = 80; /* rebalance.c sets it for a never-committed one */
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int64_t after = -1;

        assert_int_equal(pf_part_check_first(pt, rows[i].offset, &after),
                         rows[i].check);
        assert_int_equal(after, rows[i].after);
    }
    /* Without an unseen end, only the intent counts. */
    pt->unseen_end = -1;
    {
        int64_t after = -1;

        assert_false(pf_part_check_first(pt, 51, &after));
        assert_int_equal(after, 0);
    }
    pf_part_destroy(pt);

    /* Nothing sent before, nothing unseen: nothing checked. */
    pt = adopt(0, NULL, NULL);
    {
        int64_t after = -1;

        assert_false(pf_part_check_first(pt, 0, &after));
        assert_int_equal(after, 0);
    }
    pf_part_destroy(pt);
}

/*
 * Waiters come in their keys' turn order, not by offset (a record of one
 * key overtakes an earlier one of another): a later offset may wait in
 * front of an earlier one, and one commit of the intent releases both.
 */
static void waiters_out_of_offset_order_are_all_released(void **state)
{
    pf_part_waiter w[2];
    char meta[PF_CKPT_META_MIN_SIZE + 64];
    int64_t off;
    pf_part *pt;

    (void)state;
    pt = adopt(0, NULL, NULL);
    assert_int_equal(pf_part_received(pt, 0), PF_PTRACK_PROCESS);
    assert_int_equal(pf_part_received(pt, 1), PF_PTRACK_PROCESS);
    pf_part_wait(pt, &w[0], 1);
    pf_part_wait(pt, &w[1], 0);
    assert_int_equal(pf_part_waiting(pt), 2);
    assert_true(pf_part_intent_due(pt));
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    pf_part_acked(pt, true);
    assert_ptr_equal(pf_part_released(pt), &w[0]);
    assert_ptr_equal(pf_part_released(pt), &w[1]);
    assert_null(pf_part_released(pt));
    pf_part_destroy(pt);
}

/* Records wait for a committed intent, and are released in order. */
static void waiters_are_released_once_the_intent_is_acked(void **state)
{
    pf_part_waiter w[3];
    char meta[PF_CKPT_META_MIN_SIZE + 64];
    int64_t off = -7;
    pf_part *pt;
    int i;

    (void)state;
    pt = adopt(0, NULL, NULL);
    assert_false(pf_part_intent_due(pt)); /* nobody waits */
    for (i = 0; i < 3; i++) {
        assert_int_equal(pf_part_received(pt, i), PF_PTRACK_PROCESS);
        assert_false(pf_part_may_send(pt, i));
        pf_part_wait(pt, &w[i], i);
    }
    assert_int_equal(pf_part_waiting(pt), 3);
    assert_true(pf_part_intent_due(pt));
    assert_null(pf_part_released(pt));

    /* The commit is in flight: no longer due, not yet released. */
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    assert_int_equal(off, 0);
    assert_int_equal(pt->intent_sent, 2);
    assert_false(pf_part_intent_due(pt));
    assert_null(pf_part_released(pt));
    assert_false(pf_part_may_send(pt, 0));

    pf_part_acked(pt, true);
    assert_int_equal(pt->intent_acked, 2);
    for (i = 0; i < 3; i++)
        assert_true(pf_part_may_send(pt, i));
    assert_false(pf_part_may_send(pt, 3));
    for (i = 0; i < 3; i++)
        assert_ptr_equal(pf_part_released(pt), &w[i]);
    assert_null(pf_part_released(pt));
    assert_int_equal(pf_part_waiting(pt), 0);
    assert_false(pf_part_intent_due(pt));
    pf_part_destroy(pt);
}

/* Released stops at the first waiter the intent does not cover. */
static void released_stops_at_the_first_not_covered(void **state)
{
    pf_part_waiter w0, w2, w3;
    char meta[PF_CKPT_META_MIN_SIZE + 64];
    int64_t off;
    pf_part *pt;

    (void)state;
    pt = adopt(0, NULL, NULL);
    assert_int_equal(pf_part_received(pt, 0), PF_PTRACK_PROCESS);
    assert_int_equal(pf_part_received(pt, 1), PF_PTRACK_PROCESS);
    pf_part_wait(pt, &w0, 0);
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    assert_int_equal(parsed(meta).hw, 1);
    /* More arrive while the intent up to 1 is in flight. */
    assert_int_equal(pf_part_received(pt, 2), PF_PTRACK_PROCESS);
    assert_int_equal(pf_part_received(pt, 3), PF_PTRACK_PROCESS);
    pf_part_wait(pt, &w2, 2);
    pf_part_wait(pt, &w3, 3);
    assert_false(pf_part_intent_due(pt)); /* the first is carried */
    pf_part_acked(pt, true);

    assert_ptr_equal(pf_part_released(pt), &w0);
    assert_null(pf_part_released(pt));
    assert_null(pf_part_released(pt)); /* still nothing */
    assert_int_equal(pf_part_waiting(pt), 2);
    assert_true(pf_part_intent_due(pt)); /* 2 needs the next commit */

    pf_part_forget_waiters(pt);
    assert_int_equal(pf_part_waiting(pt), 0);
    assert_false(pf_part_intent_due(pt));
    assert_null(pf_part_released(pt));
    pf_part_destroy(pt);
}

/* Nothing to commit before a position is known. */
static void checkpoint_without_a_position_commits_nothing(void **state)
{
    char meta[PF_CKPT_META_MIN_SIZE + 64] = "untouched";
    int64_t off = 7;
    pf_part *pt;

    (void)state;
    pt = adopt(-1, NULL, NULL);
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), -1);
    assert_true(off < 0);
    assert_int_equal(pt->intent_sent, -1);
    /* The first record sets the position. */
    assert_int_equal(pf_part_received(pt, 30), PF_PTRACK_PROCESS);
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    assert_int_equal(off, 30);
    assert_int_equal(parsed(meta).hw, 30);
    pf_part_destroy(pt);
}

/* The intent committed is the higher of what came in and what was before. */
static void checkpoint_intent_is_the_larger_of_received_and_previous(void **s)
{
    char prev[PF_CKPT_META_MIN_SIZE], meta[PF_CKPT_META_MIN_SIZE + 64];
    pf_ckpt_meta m;
    int64_t off = -7;
    pf_part *pt;

    (void)s;
    meta_of(prev, sizeof(prev), 500, -1, NULL);
    pt = adopt(100, prev, NULL);
    /* Nothing received yet: the previous intent is carried on. */
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    assert_int_equal(off, 100);
    m = parsed(meta);
    assert_int_equal(m.hw, 500);
    assert_int_equal(m.settle_wall_ms, -1); /* no hand-off */
    assert_non_null(m.done);

    assert_int_equal(pf_part_received(pt, 100), PF_PTRACK_PROCESS);
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    assert_int_equal(parsed(meta).hw, 500);

    assert_int_equal(pf_part_received(pt, 600), PF_PTRACK_PROCESS);
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    assert_int_equal(off, 100); /* 100 and 600 pending */
    assert_int_equal(parsed(meta).hw, 600);
    assert_int_equal(pt->intent_sent, 600);
    pf_part_destroy(pt);
}

/* s= only after a hand-off: when the creates land, or 0 once they have. */
static void checkpoint_after_hand_off_says_when_creates_land(void **state)
{
    char meta[PF_CKPT_META_MIN_SIZE + 64];
    int64_t off;
    pf_part *pt;

    (void)state;
    pt = adopt(10, NULL, NULL);
    assert_int_equal(pf_part_received(pt, 10), PF_PTRACK_PROCESS);
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    assert_int_equal(parsed(meta).settle_wall_ms, -1);
    pf_part_acked(pt, true);
    assert_true(pf_part_may_send(pt, 10)); /* 10 is sent */

    pf_part_handoff(pt, NOW + 3000);
    assert_int_equal(pt->handoff_settle_ms, NOW + 3000);
    pf_part_handoff(pt, NOW + 1000); /* only ever raised */
    assert_int_equal(pt->handoff_settle_ms, NOW + 3000);
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    assert_int_equal(parsed(meta).settle_wall_ms, WALL + 3000);
    assert_int_equal(parsed(meta).hw, 10);
    /* A second later, two seconds remain. */
    assert_int_equal(pf_part_checkpoint(pt, NOW + 1000, WALL + 1000, meta,
                                        sizeof(meta), &off),
                     0);
    assert_int_equal(parsed(meta).settle_wall_ms, WALL + 3000);
    /* At and after the time: nothing in flight any more. */
    assert_int_equal(pf_part_checkpoint(pt, NOW + 3000, WALL + 3000, meta,
                                        sizeof(meta), &off),
                     0);
    assert_int_equal(parsed(meta).settle_wall_ms, 0);
    assert_int_equal(pf_part_checkpoint(pt, NOW + 9000, WALL + 9000, meta,
                                        sizeof(meta), &off),
                     0);
    assert_int_equal(parsed(meta).settle_wall_ms, 0);
    pf_part_destroy(pt);

    /* A hand-off with nothing uncertain. */
    pt = adopt(10, NULL, NULL);
    pf_part_handoff(pt, 0);
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    assert_int_equal(parsed(meta).settle_wall_ms, 0);
    pf_part_destroy(pt);
}

/*
 * What one owner commits, the next one reads: its intent, its hand-off
 * time and its done offsets (skipped, not processed again).
 */
static void checkpoint_is_what_the_next_owner_adopts(void **state)
{
    char meta[PF_CKPT_META_MIN_SIZE + 64];
    int64_t off = -1, after = -1;
    unsigned ignored = 99;
    pf_part *a, *b;

    (void)state;
    a = adopt(100, NULL, NULL);
    assert_int_equal(pf_part_received(a, 100), PF_PTRACK_PROCESS);
    assert_int_equal(pf_part_received(a, 101), PF_PTRACK_PROCESS);
    assert_int_equal(pf_part_received(a, 102), PF_PTRACK_PROCESS);
    assert_int_equal(pf_part_checkpoint(a, NOW, WALL, meta, sizeof(meta), &off),
                     0);
    pf_part_acked(a, true);
    /* 100 and 102 were sent, 102 is done; 101 never left (its key's turn
     * did not come). */
    assert_true(pf_part_may_send(a, 100));
    assert_true(pf_part_may_send(a, 102));
    assert_int_equal(pf_ptrack_done(a->track, 102), 0);
    pf_part_handoff(a, NOW + 2000);
    assert_int_equal(pf_part_checkpoint(a, NOW, WALL, meta, sizeof(meta), &off),
                     0);
    assert_int_equal(off, 100);
    pf_part_destroy(a);

    /* The next owner, on another host: other clocks. */
    b = pf_part_new(7, off, meta, strlen(meta), SETTLE, 50, WALL + 500,
                    &ignored);
    assert_non_null(b);
    assert_int_equal(ignored, 0);
    assert_int_equal(b->hw_prev, 100);
    assert_int_equal(b->create_after_ms, 50 + 1500);
    assert_int_equal(pf_part_received(b, 100), PF_PTRACK_PROCESS);
    assert_true(pf_part_check_first(b, 100, &after));
    assert_int_equal(after, 50 + 1500);
    assert_int_equal(pf_part_received(b, 101), PF_PTRACK_PROCESS);
    assert_false(pf_part_check_first(b, 101, &after)); /* never sent */
    assert_int_equal(after, 0);
    assert_int_equal(pf_part_received(b, 102), PF_PTRACK_SKIP);
    pf_part_destroy(b);
}

/* An acked checkpoint raises the committed intent; a failed one does not. */
static void acked_raises_the_intent_failed_marks_dirty(void **state)
{
    char meta[PF_CKPT_META_MIN_SIZE + 64];
    int64_t off;
    pf_part *pt;

    (void)state;
    pt = adopt(0, NULL, NULL);
    assert_int_equal(pf_part_received(pt, 0), PF_PTRACK_PROCESS);
    assert_int_equal(pf_part_received(pt, 1), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_done(pt->track, 0), 0);
    assert_true(pf_ptrack_dirty(pt->track));
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    assert_int_equal(off, 1);
    assert_false(pf_ptrack_dirty(pt->track)); /* handed to Kafka */

    pf_part_acked(pt, false);
    assert_int_equal(pt->intent_acked, -1);
    assert_false(pf_part_may_send(pt, 0));
    assert_true(pf_ptrack_dirty(pt->track)); /* commit again */

    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    pf_part_acked(pt, true);
    assert_int_equal(pt->intent_acked, 1);
    assert_true(pf_part_may_send(pt, 1));
    assert_false(pf_ptrack_dirty(pt->track));

    /* An ack never lowers the intent (nothing newer was sent). */
    pf_part_acked(pt, true);
    assert_int_equal(pt->intent_acked, 1);
    pf_part_destroy(pt);

    /* The previous owner's intent is never lowered by an older ack. */
    pt = adopt(0, "hw=500;", NULL);
    assert_int_equal(pf_part_received(pt, 0), PF_PTRACK_PROCESS);
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    pf_part_acked(pt, true);
    assert_int_equal(pt->intent_acked, 500);
    pf_part_destroy(pt);
}

/*
 * After a failed commit, the intent a waiter needs is carried by no
 * commit: partition.h's pf_part_intent_due() ("a waiter needs an intent no
 * commit carries yet: commit soon") must say so again.
 */
static void intent_is_due_again_after_a_failed_commit(void **state)
{
    char meta[PF_CKPT_META_MIN_SIZE + 64];
    pf_part_waiter w;
    int64_t off;
    pf_part *pt;

    (void)state;
    pt = adopt(0, NULL, NULL);
    assert_int_equal(pf_part_received(pt, 0), PF_PTRACK_PROCESS);
    pf_part_wait(pt, &w, 0);
    assert_true(pf_part_intent_due(pt));
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    assert_false(pf_part_intent_due(pt));
    pf_part_acked(pt, false);
    /* No commit carries the intent: a checkpoint is due at once. */
    assert_true(pf_part_intent_due(pt));
    assert_null(pf_part_released(pt));
    pf_part_forget_waiters(pt);
    pf_part_destroy(pt);
}

/*
 * A partition that received 0..9 and had its intent acked, then let
 * through (sent) the offsets in sent and finished those in done.
 */
static pf_part *owner_with(int64_t committed, const char *meta,
                           const int64_t *sent, size_t nsent,
                           const int64_t *done, size_t ndone)
{
    char buf[PF_CKPT_META_MIN_SIZE + 64];
    int64_t off, i;
    pf_part *pt = adopt(committed, meta, NULL);
    size_t k;

    for (i = committed < 0 ? 0 : committed; i < 10; i++)
        assert_int_equal(pf_part_received(pt, i), PF_PTRACK_PROCESS);
    assert_int_equal(pf_part_checkpoint(pt, NOW, WALL, buf, sizeof(buf), &off),
                     0);
    pf_part_acked(pt, true);
    for (k = 0; k < nsent; k++)
        assert_true(pf_part_may_send(pt, sent[k]));
    for (k = 0; k < ndone; k++)
        assert_int_equal(pf_ptrack_done(pt->track, done[k]), 0);
    return pt;
}

/*
 * A hand-off's intent names only what may have been sent and is not done:
 * a record that never left is above it (the next owner creates it
 * without a list), a sent one not done is at or below it.
 */
static void hand_off_intent_is_what_was_sent_and_not_done(void **state)
{
    static const struct {
        const char *what;
        int64_t sent[4], done[4];
        size_t nsent, ndone;
        int64_t offset, hw;
    } rows[] = {
        /* a drain that finished all it sent: position - 1 */
        {"nothing sent", {0}, {0}, 0, 0, 0, -1},
        {"sent and done, in order", {0, 1, 2}, {0, 1, 2}, 3, 3, 3, 2},
        {"sent and done, out of order", {0, 5, 7}, {0, 5, 7}, 3, 3, 1, 0},
        /* abandoned while its create was on the wire */
        {"one sent not done", {0, 1, 4}, {0, 1}, 3, 2, 2, 4},
        {"the lowest sent not done", {2, 8}, {8}, 2, 1, 0, 2},
    };
    char meta[PF_CKPT_META_MIN_SIZE + 64];
    int64_t off, after;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pf_part *pt = owner_with(0, NULL, rows[i].sent, rows[i].nsent,
                                 rows[i].done, rows[i].ndone);
        pf_ckpt_meta m;
        int64_t o;

        print_message("%s\n", rows[i].what);
        pf_part_handoff(pt, 0);
        assert_int_equal(
            pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
        assert_int_equal(off, rows[i].offset);
        assert_int_equal(pf_ckpt_meta_parse(meta, strlen(meta), &m), 0);
        assert_int_equal(m.hw, rows[i].hw);
        assert_int_equal(m.settle_wall_ms, 0);
        /* Nothing above the hand-off's intent may go out any more. */
        assert_false(pf_part_may_send(pt, rows[i].hw + 1));
        pf_part_destroy(pt);

        /* The next owner checks only what may have been sent. */
        pt = pf_part_new(7, off, meta, strlen(meta), SETTLE, NOW, WALL,
                         &(unsigned){0});
        assert_non_null(pt);
        for (o = off; o < 10; o++) {
            int rc = pf_part_received(pt, o);

            if (rc == PF_PTRACK_SKIP)
                continue;
            assert_int_equal(rc, PF_PTRACK_PROCESS);
            assert_int_equal(pf_part_check_first(pt, o, &after),
                             o <= rows[i].hw);
            assert_int_equal(after, 0); /* s=0: nothing to wait for */
        }
        pf_part_destroy(pt);
    }
}

/* A crash leaves the last periodic commit: its intent stays wide. */
static void periodic_intent_covers_everything_received(void **state)
{
    static const int64_t sent[] = {0, 1}, done[] = {0, 1};
    char meta[PF_CKPT_META_MIN_SIZE + 64];
    int64_t off;
    pf_part *pt;

    (void)state;
    pt = owner_with(0, NULL, sent, 2, done, 2);
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    assert_int_equal(off, 2);
    assert_int_equal(parsed(meta).hw, 9);
    assert_int_equal(parsed(meta).settle_wall_ms, -1);
    assert_true(pf_part_may_send(pt, 9));
    pf_part_destroy(pt);
}

/*
 * Handing off what a crashed owner left unchecked: its intent and its
 * settle time are passed on while records under it are not done, and
 * dropped once they all are.
 */
static void hand_off_passes_on_an_unfinished_previous_intent(void **state)
{
    static const int64_t sent[] = {2, 3}, done[] = {2, 3};
    char meta[PF_CKPT_META_MIN_SIZE + 64];
    int64_t off;
    pf_ckpt_meta m;
    pf_part *pt;

    (void)state;
    /* Crashed with 2..6 covered by its intent; 2 and 3 rechecked since. */
    pt = owner_with(2, "hw=6;pf1:2", sent, 2, done, 2);
    assert_int_equal(pt->create_after_ms, NOW + SETTLE);
    pf_part_handoff(pt, 0);
    assert_int_equal(pf_part_checkpoint(pt, NOW + 1000, WALL + 1000, meta,
                                        sizeof(meta), &off),
                     0);
    assert_int_equal(off, 4);
    assert_int_equal(pf_ckpt_meta_parse(meta, strlen(meta), &m), 0);
    assert_int_equal(m.hw, 6);
    /* Its creates may still land: the next owner waits what remains. */
    assert_int_equal(m.settle_wall_ms, WALL + SETTLE);
    pf_part_destroy(pt);

    /* Everything under it done: neither is passed on. */
    {
        static const int64_t all[] = {2, 3, 4, 5, 6};

        pt = owner_with(2, "hw=6;pf1:2", all, 5, all, 5);
    }
    pf_part_handoff(pt, 0);
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    assert_int_equal(off, 7);
    assert_int_equal(pf_ckpt_meta_parse(meta, strlen(meta), &m), 0);
    assert_int_equal(m.hw, 6); /* the position - 1 */
    assert_int_equal(m.settle_wall_ms, 0);
    pf_part_destroy(pt);
}

/*
 * Records of a partition the group never committed may have been created
 * by another group: every intent covers them until they are done.
 */
static void intents_cover_what_the_group_never_committed(void **state)
{
    static const int64_t sent[] = {0}, done[] = {0};
    char meta[PF_CKPT_META_MIN_SIZE + 64];
    int64_t off;
    pf_part *pt;

    (void)state;
    pt = owner_with(-1, NULL, sent, 1, done, 1);
    pt->unseen_end = 40; /* the end when assigned: above what came in */
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    assert_int_equal(parsed(meta).hw, 39);
    pf_part_handoff(pt, 0);
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    assert_int_equal(off, 1);
    assert_int_equal(parsed(meta).hw, 39);
    pf_part_destroy(pt);

    /* The end unknown: what came in, as before. */
    pt = owner_with(-1, NULL, sent, 1, done, 1);
    pt->unseen_end = INT64_MAX;
    pf_part_handoff(pt, 0);
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    assert_int_equal(parsed(meta).hw, 9);
    pf_part_destroy(pt);
}

/* A waiter released by an acked intent counts as sent. */
static void released_waiters_count_as_sent(void **state)
{
    char meta[PF_CKPT_META_MIN_SIZE + 64];
    pf_part_waiter w;
    int64_t off;
    pf_part *pt;

    (void)state;
    pt = adopt(0, NULL, NULL);
    assert_int_equal(pf_part_received(pt, 0), PF_PTRACK_PROCESS);
    assert_int_equal(pf_part_received(pt, 1), PF_PTRACK_PROCESS);
    pf_part_wait(pt, &w, 1);
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    pf_part_acked(pt, true);
    assert_ptr_equal(pf_part_released(pt), &w);
    pf_part_handoff(pt, 0);
    assert_int_equal(
        pf_part_checkpoint(pt, NOW, WALL, meta, sizeof(meta), &off), 0);
    assert_int_equal(off, 0);
    assert_int_equal(parsed(meta).hw, 1);
    pf_part_destroy(pt);
}

/* The table of partitions by id. */
static void parts_by_id_grow_and_forget(void **state)
{
    static const int32_t ids[] = {3, 0, 15, 16, 40, 1000};
    pf_parts ps = {NULL, 0};
    size_t i;

    (void)state;
    assert_null(pf_parts_get(&ps, 0));
    assert_null(pf_parts_get(&ps, -1));
    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        pf_part *pt =
            pf_part_new(ids[i], -1, NULL, 0, SETTLE, NOW, WALL, &(unsigned){0});

        assert_non_null(pt);
        assert_int_equal(pf_parts_put(&ps, pt), 0);
        assert_ptr_equal(pf_parts_get(&ps, ids[i]), pt);
        assert_true(ps.n > (size_t)ids[i]);
    }
    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        pf_part *pt = pf_parts_get(&ps, ids[i]);

        assert_non_null(pt);
        assert_int_equal(pt->id, ids[i]);
    }
    assert_null(pf_parts_get(&ps, 1));
    assert_null(pf_parts_get(&ps, 17));
    assert_null(pf_parts_get(&ps, 999));
    assert_null(pf_parts_get(&ps, 1001 + (int32_t)ps.n));
    assert_null(pf_parts_get(&ps, -1));
    assert_null(pf_parts_get(&ps, INT32_MIN));

    pf_parts_remove(&ps, 15);
    assert_null(pf_parts_get(&ps, 15));
    assert_non_null(pf_parts_get(&ps, 16));
    pf_parts_remove(&ps, 15);      /* gone already */
    pf_parts_remove(&ps, 2);       /* never there */
    pf_parts_remove(&ps, -4);      /* no such id */
    pf_parts_remove(&ps, 1 << 20); /* beyond the table */
    {
        pf_part *pt =
            pf_part_new(15, -1, NULL, 0, SETTLE, NOW, WALL, &(unsigned){0});

        assert_non_null(pt);
        assert_int_equal(pf_parts_put(&ps, pt), 0); /* the slot is free */
        assert_ptr_equal(pf_parts_get(&ps, 15), pt);
    }

    pf_parts_release(&ps);
    assert_null(ps.v);
    assert_int_equal(ps.n, 0);
    assert_null(pf_parts_get(&ps, 3));
    pf_parts_release(&ps); /* twice is fine */
    pf_part_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(without_hand_off_time_creates_wait_from_now),
        cmocka_unit_test(waiters_out_of_offset_order_are_all_released),
        cmocka_unit_test(clean_hand_off_with_nothing_in_flight_needs_no_wait),
        cmocka_unit_test(hand_off_time_within_settle_waits_what_remains),
        cmocka_unit_test(hand_off_time_beyond_settle_is_capped),
        cmocka_unit_test(malformed_parts_are_counted_and_ignored),
        cmocka_unit_test(metadata_length_is_the_given_one),
        cmocka_unit_test(received_says_process_or_skip),
        cmocka_unit_test(check_first_below_the_intent_or_the_unseen_end),
        cmocka_unit_test(waiters_are_released_once_the_intent_is_acked),
        cmocka_unit_test(released_stops_at_the_first_not_covered),
        cmocka_unit_test(checkpoint_without_a_position_commits_nothing),
        cmocka_unit_test(
            checkpoint_intent_is_the_larger_of_received_and_previous),
        cmocka_unit_test(checkpoint_after_hand_off_says_when_creates_land),
        cmocka_unit_test(checkpoint_is_what_the_next_owner_adopts),
        cmocka_unit_test(acked_raises_the_intent_failed_marks_dirty),
        cmocka_unit_test(intent_is_due_again_after_a_failed_commit),
        cmocka_unit_test(hand_off_intent_is_what_was_sent_and_not_done),
        cmocka_unit_test(periodic_intent_covers_everything_received),
        cmocka_unit_test(hand_off_passes_on_an_unfinished_previous_intent),
        cmocka_unit_test(intents_cover_what_the_group_never_committed),
        cmocka_unit_test(released_waiters_count_as_sent),
        cmocka_unit_test(parts_by_id_grow_and_forget),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
