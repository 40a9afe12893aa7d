/*
 * test_offsets.c - commit position under out-of-order completion, commit
 * metadata (encoding, restarts, garbage, overflow), the whole commit
 * metadata (pf_ckpt_meta: hostile text, formats, round trips), dirty flag,
 * memory, and a randomized run against a reference model with simulated
 * restarts.
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

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static pf_ptrack *track(int64_t start, const char *metadata)
{
    pf_ptrack *t =
        pf_ptrack_new(start, metadata, metadata != NULL ? strlen(metadata) : 0);

    assert_non_null(t);
    return t;
}

/* The metadata at the default size, which must list everything. */
static void assert_metadata(const pf_ptrack *t, const char *expect)
{
    char buf[PF_PTRACK_METADATA_SIZE_DEFAULT];
    uint64_t dropped = 99;

    assert_int_equal(pf_ptrack_commit_metadata(t, buf, sizeof(buf), &dropped),
                     0);
    assert_int_equal(dropped, 0);
    assert_string_equal(buf, expect);
}

/* ---- position ------------------------------------------------------------ */

static void new_starts_at_the_committed_offset(void **state)
{
    char buf[64] = "x";
    pf_ptrack *t;

    (void)state;
    t = track(100, NULL);
    assert_int_equal(pf_ptrack_commit_offset(t), 100);
    assert_false(pf_ptrack_dirty(t));
    assert_int_equal(pf_ptrack_pending(t), 0);
    assert_int_equal(pf_ptrack_done_above(t), 0);
    assert_null(pf_ptrack_metadata_error(t));
    assert_metadata(t, "pf1:100");
    pf_ptrack_destroy(t);

    /* Unknown start: nothing to commit until the first offset. */
    t = track(-1001, NULL);
    assert_int_equal(pf_ptrack_commit_offset(t), -1);
    assert_int_equal(pf_ptrack_commit_metadata(t, buf, sizeof(buf), NULL), -1);
    assert_string_equal(buf, "");
    assert_false(pf_ptrack_dirty(t));
    assert_int_equal(pf_ptrack_received(t, 7), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_commit_offset(t), 7);
    assert_true(pf_ptrack_dirty(t));
    pf_ptrack_destroy(t);

    /* Metadata without a committed offset means nothing. */
    t = track(-1, "pf1:5:0");
    assert_non_null(pf_ptrack_metadata_error(t));
    assert_int_equal(pf_ptrack_received(t, 5), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_received(t, 6), PF_PTRACK_PROCESS);
    pf_ptrack_destroy(t);

    pf_ptrack_destroy(NULL);
}

/*
 * Each case receives offsets, then completes them one by one in the given
 * order; after each completion the position and metadata are checked.
 */
#define MAXOPS 8
static void completion_moves_the_position_to_the_lowest_pending(void **state)
{
    static const struct {
        const char *name;
        int64_t start;
        size_t nrecv;
        int64_t recv[MAXOPS];
        int64_t pos0; /* after receiving */
        size_t ndone;
        int64_t done[MAXOPS];
        int64_t pos[MAXOPS];
        const char *meta[MAXOPS];
    } cases[] = {
        {"in order",
         0,
         4,
         {0, 1, 2, 3},
         0,
         4,
         {0, 1, 2, 3},
         {1, 2, 3, 4},
         {"pf1:1", "pf1:2", "pf1:3", "pf1:4"}},
        {"out of order: the position waits for the lowest",
         0,
         6,
         {0, 1, 2, 3, 4, 5},
         0,
         6,
         {3, 1, 0, 2, 5, 4},
         {0, 0, 2, 4, 4, 6},
         {"pf1:0:2", "pf1:0:bF", "pf1:2:0", "pf1:4", "pf1:4:0", "pf1:6"}},
        {"reversed",
         10,
         4,
         {10, 11, 12, 13},
         10,
         4,
         {13, 12, 11, 10},
         {10, 10, 10, 14},
         {"pf1:10:2", "pf1:10:bG", "pf1:10:bH", "pf1:14"}},
        {"gaps: holes between done offsets join their run",
         10,
         4,
         {12, 15, 16, 30},
         12,
         4,
         {16, 15, 30, 12},
         {12, 12, 12, 31},
         {"pf1:12:3", "pf1:12:bM", "pf1:12:2+15", "pf1:31"}},
        {"gaps: a pending offset splits runs",
         0,
         5,
         {5, 9, 20, 21, 40},
         5,
         4,
         {9, 21, 40, 5},
         {5, 5, 5, 20},
         {"pf1:5:3", "pf1:5:3,10", "pf1:5:3,10+19", "pf1:20:0+19"}},
        {"first offset above the committed one",
         100,
         2,
         {250, 251},
         250,
         2,
         {250, 251},
         {251, 252},
         {"pf1:251", "pf1:252"}},
    };
    size_t c, i;

    (void)state;
    for (c = 0; c < ARRAY_LEN(cases); c++) {
        pf_ptrack *t = track(cases[c].start, NULL);

        print_message("case: %s\n", cases[c].name);
        for (i = 0; i < cases[c].nrecv; i++)
            assert_int_equal(pf_ptrack_received(t, cases[c].recv[i]),
                             PF_PTRACK_PROCESS);
        assert_int_equal(pf_ptrack_commit_offset(t), cases[c].pos0);
        assert_int_equal(pf_ptrack_pending(t), cases[c].nrecv);
        for (i = 0; i < cases[c].ndone; i++) {
            assert_int_equal(pf_ptrack_done(t, cases[c].done[i]), 0);
            assert_int_equal(pf_ptrack_commit_offset(t), cases[c].pos[i]);
            assert_metadata(t, cases[c].meta[i]);
        }
        assert_int_equal(pf_ptrack_pending(t), cases[c].nrecv - cases[c].ndone);
        if (cases[c].nrecv == cases[c].ndone)
            assert_int_equal(pf_ptrack_done_above(t), 0);
        pf_ptrack_destroy(t);
    }
}

static void counts_follow_pending_and_done_above(void **state)
{
    pf_ptrack *t = track(0, NULL);
    int64_t o;

    (void)state;
    for (o = 0; o < 10; o++)
        assert_int_equal(pf_ptrack_received(t, o), PF_PTRACK_PROCESS);
    for (o = 9; o >= 5; o--)
        assert_int_equal(pf_ptrack_done(t, o), 0);
    assert_int_equal(pf_ptrack_pending(t), 5);
    assert_int_equal(pf_ptrack_done_above(t), 5);
    for (o = 0; o < 4; o++)
        assert_int_equal(pf_ptrack_done(t, o), 0);
    assert_int_equal(pf_ptrack_commit_offset(t), 4);
    assert_int_equal(pf_ptrack_pending(t), 1);
    assert_int_equal(pf_ptrack_done_above(t), 5);
    assert_int_equal(pf_ptrack_done(t, 4), 0);
    assert_int_equal(pf_ptrack_commit_offset(t), 10);
    assert_int_equal(pf_ptrack_pending(t), 0);
    assert_int_equal(pf_ptrack_done_above(t), 0);
    pf_ptrack_destroy(t);
}

static void received_refuses_offsets_out_of_order_or_range(void **state)
{
    static const int64_t bad[] = {
        5, 4, 0, -1, -1001, INT64_MIN, INT64_MAX,
    };
    pf_ptrack *t = track(0, NULL);
    size_t i;

    (void)state;
    assert_int_equal(pf_ptrack_received(t, 0), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_received(t, 5), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_done(t, 0), 0);
    pf_ptrack_committed(t);
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        assert_int_equal(pf_ptrack_received(t, bad[i]), PF_PTRACK_ERR_INVALID);
        assert_int_equal(pf_ptrack_commit_offset(t), 5);
        assert_int_equal(pf_ptrack_pending(t), 1);
        assert_false(pf_ptrack_dirty(t));
    }
    /* The largest offset is fine, and the position goes one past it. */
    assert_int_equal(pf_ptrack_received(t, PF_PTRACK_OFFSET_MAX),
                     PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_done(t, 5), 0);
    assert_int_equal(pf_ptrack_done(t, PF_PTRACK_OFFSET_MAX), 0);
    assert_int_equal(pf_ptrack_commit_offset(t), INT64_MAX);
    assert_metadata(t, "pf1:9223372036854775807");
    assert_int_equal(pf_ptrack_received(t, PF_PTRACK_OFFSET_MAX),
                     PF_PTRACK_ERR_INVALID);
    pf_ptrack_destroy(t);

    /* The position INT64_MAX reads back. */
    t = track(INT64_MAX, "pf1:9223372036854775807");
    assert_null(pf_ptrack_metadata_error(t));
    pf_ptrack_destroy(t);
}

static void done_refuses_offsets_that_are_not_pending(void **state)
{
    pf_ptrack *t = track(10, "pf1:10:1");

    (void)state;
    assert_int_equal(pf_ptrack_done(t, 10), -1); /* nothing received */
    assert_int_equal(pf_ptrack_received(t, 10), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_received(t, 11), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_received(t, 12), PF_PTRACK_SKIP);
    assert_int_equal(pf_ptrack_received(t, 14), PF_PTRACK_PROCESS);
    pf_ptrack_committed(t);
    assert_int_equal(pf_ptrack_done(t, 12), -1); /* skipped */
    assert_int_equal(pf_ptrack_done(t, 13), -1); /* never received */
    assert_int_equal(pf_ptrack_done(t, 99), -1);
    assert_int_equal(pf_ptrack_done(t, -1), -1);
    assert_false(pf_ptrack_dirty(t));
    assert_int_equal(pf_ptrack_done(t, 11), 0);
    assert_int_equal(pf_ptrack_done(t, 11), -1); /* twice */
    assert_int_equal(pf_ptrack_done(t, 10), 0);
    assert_int_equal(pf_ptrack_commit_offset(t), 14);
    assert_int_equal(pf_ptrack_done(t, 10), -1); /* below the position */
    assert_int_equal(pf_ptrack_pending(t), 1);
    pf_ptrack_destroy(t);
}

/* ---- metadata ------------------------------------------------------------ */

/*
 * A pattern describes offsets from 100 on, one character each: 'P'
 * received and pending, 'D' received and done (completed in reverse order),
 * '_' never received (a hole). After encoding, a new tracker started from
 * the commit position with that metadata must skip exactly the 'D' offsets
 * it receives again and process the 'P' ones.
 */
static pf_ptrack *run_pattern(const char *pattern)
{
    pf_ptrack *t = track(100, NULL);
    size_t i, n = strlen(pattern);

    for (i = 0; i < n; i++) {
        if (pattern[i] != '_')
            assert_int_equal(pf_ptrack_received(t, 100 + (int64_t)i),
                             PF_PTRACK_PROCESS);
    }
    for (i = n; i > 0; i--) {
        if (pattern[i - 1] == 'D')
            assert_int_equal(pf_ptrack_done(t, 100 + (int64_t)(i - 1)), 0);
    }
    return t;
}

static void restart_skips_exactly_the_done(const char *pattern, int64_t pos,
                                           const char *meta)
{
    pf_ptrack *t = track(pos, meta);
    size_t i, n = strlen(pattern);
    int64_t o;

    assert_null(pf_ptrack_metadata_error(t));
    for (i = 0; i < n; i++) {
        o = 100 + (int64_t)i;
        if (pattern[i] == '_' || o < pos)
            continue;
        assert_int_equal(pf_ptrack_received(t, o), pattern[i] == 'D'
                                                       ? PF_PTRACK_SKIP
                                                       : PF_PTRACK_PROCESS);
    }
    for (i = 0; i < n; i++) {
        o = 100 + (int64_t)i;
        if (pattern[i] == 'P' && o >= pos)
            assert_int_equal(pf_ptrack_done(t, o), 0);
    }
    /* Everything is done: the position is past the last offset. */
    if (n > 0 && 100 + (int64_t)n > pos)
        assert_int_equal(pf_ptrack_commit_offset(t), 100 + (int64_t)n);
    assert_int_equal(pf_ptrack_pending(t), 0);
    pf_ptrack_destroy(t);
}

static void metadata_encodes_runs_or_a_bitmap_and_round_trips(void **state)
{
    static char alt_pattern[82], alt_meta[32];
    static const struct {
        const char *pattern;
        const char *meta;
    } fixed[] = {
        {"", "pf1:100"},
        {"DDDD", "pf1:104"},
        {"PD", "pf1:100:0"},            /* shorter than the bitmap "b" "B" */
        {"PDDPD", "pf1:100:bL"},        /* shorter than "0+1,0" */
        {"PPDDDDPDPPD", "pf1:100:beJ"}, /* offsets.h: "1+3,0,1" */
        {"PDD_D__DPD", "pf1:100:b_F"},  /* holes join runs */
        {"PPPPPPPPPPPPPPPPPPPPD", "pf1:100:19"},
        {"P_D_D_D_D_D_D_D_D", "pf1:100:1+14"},
        {"DDP__PDD", "pf1:102:bY"},
    };
    size_t i;
    pf_ptrack *t;
    char buf[PF_PTRACK_METADATA_SIZE_DEFAULT];

    (void)state;
    /* Alternating done and pending: a bitmap of 0b010101 characters. */
    alt_pattern[0] = 'P';
    for (i = 0; i < 40; i++) {
        alt_pattern[1 + 2 * i] = 'D';
        alt_pattern[2 + 2 * i] = 'P';
    }
    snprintf(alt_meta, sizeof(alt_meta), "pf1:100:b%.13sB",
             "VVVVVVVVVVVVVVVVV");

    for (i = 0; i <= ARRAY_LEN(fixed); i++) {
        const char *pattern =
            i < ARRAY_LEN(fixed) ? fixed[i].pattern : alt_pattern;
        const char *meta = i < ARRAY_LEN(fixed) ? fixed[i].meta : alt_meta;
        int64_t base;

        print_message("pattern: \"%s\"\n", pattern);
        t = run_pattern(pattern);
        assert_metadata(t, meta);
        assert_int_equal(
            pf_ptrack_metadata_check(meta, strlen(meta), &base, NULL), 0);
        assert_int_equal(base, pf_ptrack_commit_offset(t));
        assert_int_equal(pf_ptrack_commit_metadata(t, buf, sizeof(buf), NULL),
                         0);
        restart_skips_exactly_the_done(pattern, pf_ptrack_commit_offset(t),
                                       buf);
        pf_ptrack_destroy(t);
    }
}

static void restart_skips_remembered_offsets_and_moves_past_them(void **state)
{
    static const struct {
        int64_t offset;
        int rc;
    } recv[] = {
        {100, PF_PTRACK_PROCESS}, {101, PF_PTRACK_PROCESS},
        {102, PF_PTRACK_SKIP},    {103, PF_PTRACK_SKIP},
        {104, PF_PTRACK_SKIP},    {105, PF_PTRACK_SKIP},
        {106, PF_PTRACK_PROCESS}, {107, PF_PTRACK_SKIP},
        {108, PF_PTRACK_PROCESS}, {109, PF_PTRACK_PROCESS},
        {110, PF_PTRACK_SKIP},    {111, PF_PTRACK_PROCESS},
    };
    static const struct {
        int64_t offset, pos;
    } done[] = {
        {101, 100}, {100, 106}, {109, 106}, {106, 108}, {108, 111}, {111, 112},
    };
    pf_ptrack *t = track(100, "pf1:100:1+3,0,1");
    size_t i;

    (void)state;
    assert_null(pf_ptrack_metadata_error(t));
    /* Remembered offsets stay in the metadata until the position passes. */
    assert_metadata(t, "pf1:100:beJ");
    for (i = 0; i < ARRAY_LEN(recv); i++) {
        assert_int_equal(pf_ptrack_received(t, recv[i].offset), recv[i].rc);
        assert_int_equal(pf_ptrack_commit_offset(t), 100);
    }
    assert_false(pf_ptrack_dirty(t)); /* skipping changes nothing */
    assert_metadata(t, "pf1:100:beJ");
    assert_int_equal(pf_ptrack_done_above(t), 6);
    for (i = 0; i < ARRAY_LEN(done); i++) {
        assert_int_equal(pf_ptrack_done(t, done[i].offset), 0);
        assert_int_equal(pf_ptrack_commit_offset(t), done[i].pos);
    }
    assert_metadata(t, "pf1:112");
    pf_ptrack_destroy(t);

    /* Nothing pending: the position jumps over remembered runs at once. */
    t = track(100, "pf1:100:0+4,2");
    assert_int_equal(pf_ptrack_received(t, 100), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_done(t, 100), 0);
    assert_int_equal(pf_ptrack_commit_offset(t), 106);
    assert_metadata(t, "pf1:106:2");
    assert_int_equal(pf_ptrack_received(t, 101), PF_PTRACK_SKIP);
    assert_int_equal(pf_ptrack_received(t, 105), PF_PTRACK_SKIP);
    assert_int_equal(pf_ptrack_received(t, 106), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_received(t, 109), PF_PTRACK_SKIP);
    assert_int_equal(pf_ptrack_received(t, 110), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_done(t, 106), 0);
    assert_int_equal(pf_ptrack_commit_offset(t), 110);
    pf_ptrack_destroy(t);

    /* The first offset above the start, right inside a run. */
    t = track(100, "pf1:100:0+2");
    assert_int_equal(pf_ptrack_received(t, 102), PF_PTRACK_SKIP);
    assert_int_equal(pf_ptrack_commit_offset(t), 104);
    pf_ptrack_destroy(t);

    /* Remembered offsets that are never delivered (compacted) are dropped. */
    t = track(100, "pf1:100:1+1,5");
    assert_int_equal(pf_ptrack_received(t, 100), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_received(t, 104), PF_PTRACK_PROCESS);
    assert_metadata(t, "pf1:100:9");
    assert_int_equal(pf_ptrack_received(t, 110), PF_PTRACK_SKIP);
    assert_int_equal(pf_ptrack_done(t, 104), 0);
    assert_metadata(t, "pf1:100:3+6");
    pf_ptrack_destroy(t);
}

static void consumer_below_the_committed_offset_discards_metadata(void **state)
{
    pf_ptrack *t = track(100, "pf1:100:0");

    (void)state;
    assert_null(pf_ptrack_metadata_error(t));
    assert_int_equal(pf_ptrack_received(t, 50), PF_PTRACK_PROCESS);
    assert_non_null(strstr(pf_ptrack_metadata_error(t), "discarded"));
    assert_int_equal(pf_ptrack_commit_offset(t), 50);
    assert_true(pf_ptrack_dirty(t));
    assert_int_equal(pf_ptrack_received(t, 101), PF_PTRACK_PROCESS);
    assert_metadata(t, "pf1:50");
    pf_ptrack_destroy(t);
}

/*
 * At the top of the offset range a bitmap's last character reaches past
 * PF_PTRACK_OFFSET_MAX with clear padding bits: accepted (the writer packs
 * whole characters, and it chose a bitmap for these offsets; the fuzz
 * target fuzz_ckpt_meta found it refused). A set bit there is refused.
 */
static void bitmap_padding_may_pass_the_top_of_the_range(void **state)
{
    /* Base PF_PTRACK_OFFSET_MAX - 5; "U" = bits 2 and 4: base + 3, + 5. */
    static const char ok[] = "pf1:9223372036854775801:bU";
    /* "g" = bit 5: base + 6, past PF_PTRACK_OFFSET_MAX. */
    static const char past[] = "pf1:9223372036854775801:bg";
    const char *why = NULL;
    int64_t base = 0;
    pf_ptrack *t;

    (void)state;
    assert_int_equal(pf_ptrack_metadata_check(ok, strlen(ok), &base, &why), 0);
    assert_true(base == PF_PTRACK_OFFSET_MAX - 5);
    t = pf_ptrack_new(base, ok, strlen(ok));
    assert_non_null(t);
    assert_null(pf_ptrack_metadata_error(t));
    pf_ptrack_destroy(t);
    assert_int_equal(pf_ptrack_metadata_check(past, strlen(past), &base, &why),
                     -1);
    assert_non_null(strstr(why, "out of range"));
}

static void garbage_metadata_is_ignored_as_a_whole(void **state)
{
    static const struct {
        const char *meta;
        size_t len; /* 0: strlen */
        const char *reason;
    } cases[] = {
        {"pf2:100:0", 0, "not provflow"},
        {"PF1:100:0", 0, "not provflow"},
        {"pf1", 0, "not provflow"},
        {"{\"offsets\":[101]}", 0, "not provflow"},
        {"pf1:", 0, "malformed base"},
        {"pf1:100x", 0, "malformed base"},
        {"pf1:0100:0", 0, "malformed base"},
        {"pf1:+100:0", 0, "malformed base"},
        {"pf1:-100:0", 0, "malformed base"},
        {"pf1: 100:0", 0, "malformed base"},
        {"pf1:99999999999999999999:0", 0, "malformed base"},
        {"pf1:9223372036854775808:0", 0, "malformed base"},
        {"pf1:99:0", 0, "another commit position"},
        {"pf1:101:0", 0, "another commit position"},
        {"pf1:100:", 0, "malformed run"},
        {"pf1:100:-1", 0, "malformed run"},
        {"pf1:100:1-3", 0, "malformed run"},
        {"pf1:100:5+", 0, "malformed run"},
        {"pf1:100:3+-1", 0, "malformed run"},
        {"pf1:100:+3", 0, "malformed run"},
        {"pf1:100:1,,2", 0, "malformed run"},
        {"pf1:100:1,", 0, "malformed run"},
        {"pf1:100:01", 0, "malformed run"},
        {"pf1:100:1+00", 0, "malformed run"},
        {"pf1:100:1 ", 0, "malformed run"},
        {"pf1:100:0x10", 0, "malformed run"},
        {"pf1:100:1\0,2", 12, "malformed run"},
        {"pf1:100:99999999999999999999", 0, "malformed run"},
        {"pf1:100:9223372036854775806", 0, "out of range"},
        {"pf1:100:0+9223372036854775706", 0, "out of range"},
        {"pf1:100:0+9223372036854775700,9", 0, "out of range"},
        {"pf1:100:b", 0, "empty bitmap"},
        {"pf1:100:b!!", 0, "malformed bitmap"},
        {"pf1:100:bAB=", 0, "malformed bitmap"},
        {"pf1:100:bA\0B", 12, "malformed bitmap"},
        {"pf1:100:c5", 0, "malformed run"},
    };
    size_t i;
    int64_t o;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].meta);
        const char *why = NULL;
        pf_ptrack *t = pf_ptrack_new(100, cases[i].meta, len);

        print_message("metadata: \"%s\"\n", cases[i].meta);
        assert_non_null(t);
        assert_non_null(pf_ptrack_metadata_error(t));
        assert_non_null(strstr(pf_ptrack_metadata_error(t), cases[i].reason));
        if (strstr(cases[i].reason, "another") == NULL) {
            assert_int_equal(
                pf_ptrack_metadata_check(cases[i].meta, len, &o, &why), -1);
            assert_int_equal(o, -1);
            assert_non_null(strstr(why, cases[i].reason));
        }
        assert_int_equal(pf_ptrack_commit_offset(t), 100);
        /* Nothing is skipped. */
        for (o = 100; o < 120; o++)
            assert_int_equal(pf_ptrack_received(t, o), PF_PTRACK_PROCESS);
        assert_metadata(t, "pf1:100");
        pf_ptrack_destroy(t);
    }
}

static void overlong_metadata_is_ignored_unread(void **state)
{
    size_t len = PF_PTRACK_METADATA_MAX_LEN + 1, i;
    char *m = malloc(len + 1);
    pf_ptrack *t;

    (void)state;
    assert_non_null(m);
    /* Valid runs all the way, one character too long. */
    memcpy(m, "pf1:100:0", 9);
    for (i = 9; i + 1 < len; i += 2)
        memcpy(m + i, ",0", 2);
    if (i < len)
        m[i] = '0'; /* "00" is malformed too: the length goes first */
    m[len] = '\0';
    t = pf_ptrack_new(100, m, len);
    assert_non_null(strstr(pf_ptrack_metadata_error(t), "too long"));
    assert_int_equal(pf_ptrack_received(t, 101), PF_PTRACK_PROCESS);
    pf_ptrack_destroy(t);

    /* At the limit it is read. */
    m[len - 1] = '\0';
    if (m[len - 2] == ',')
        m[len - 2] = '\0';
    t = pf_ptrack_new(100, m, strlen(m));
    assert_null(pf_ptrack_metadata_error(t));
    assert_int_equal(pf_ptrack_received(t, 101), PF_PTRACK_SKIP);
    assert_int_equal(pf_ptrack_received(t, 102), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_received(t, 103), PF_PTRACK_SKIP);
    pf_ptrack_destroy(t);

    /* Junk of the maximal length. */
    memset(m, 'x', PF_PTRACK_METADATA_MAX_LEN);
    t = pf_ptrack_new(100, m, PF_PTRACK_METADATA_MAX_LEN);
    assert_non_null(strstr(pf_ptrack_metadata_error(t), "not provflow"));
    pf_ptrack_destroy(t);
    free(m);
}

static void metadata_check_reports_the_base(void **state)
{
    static const struct {
        const char *meta;
        int64_t base;
    } cases[] = {
        {"pf1:0", 0},
        {"pf1:0:0", 0},
        {"pf1:5:b_", 5},
        {"pf1:9223372036854775806", PF_PTRACK_OFFSET_MAX},
        {"pf1:9223372036854775807", INT64_MAX},
        {"pf1:9223372036854775805:0", PF_PTRACK_OFFSET_MAX - 1},
    };
    const char *why = "x";
    int64_t base;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        assert_int_equal(pf_ptrack_metadata_check(
                             cases[i].meta, strlen(cases[i].meta), &base, &why),
                         0);
        assert_int_equal(base, cases[i].base);
        assert_null(why);
    }
    assert_int_equal(pf_ptrack_metadata_check(NULL, 0, NULL, NULL), -1);
    assert_int_equal(
        pf_ptrack_metadata_check("pf1:9223372036854775806:0", 25, NULL, NULL),
        -1);
    assert_int_equal(
        pf_ptrack_metadata_check("pf1:9223372036854775807:bB", 26, NULL, NULL),
        -1);
}

/*
 * Offsets 0..last received, 0 pending, every `step`-th from `first` done,
 * the rest pending. The metadata is written into `size` bytes; the lowest
 * `kept` done offsets must be listed, the others dropped, and a restart
 * must skip exactly the kept ones.
 */
static void metadata_overflow_drops_the_highest_offsets(void **state)
{
    static const struct {
        int64_t first, step, last;
        size_t size;
        int rc;
        uint64_t kept;
    } cases[] = {
        /* Sparse: runs win, 3 characters a run after "pf1:0". */
        {100, 100, 20000, 4000, 0, 200},
        {100, 100, 20000, 64, 1, 19},
        {100, 100, 20000, 9, 1, 1},
        {100, 100, 20000, 8, 1, 0},
        /* Dense: the bitmap wins, 3 done offsets a character. */
        {1, 2, 4000, 4000, 0, 2000},
        {1, 2, 4000, 64, 1, 168},
        {1, 2, 4000, 9, 1, 3},
        {1, 2, 4000, 6, 1, 0},
    };
    char buf[PF_PTRACK_METADATA_SIZE_DEFAULT];
    uint64_t dropped, total;
    size_t c;
    int64_t o;

    (void)state;
    for (c = 0; c < ARRAY_LEN(cases); c++) {
        pf_ptrack *t = track(0, NULL), *t2;
        uint64_t kept = 0;

        print_message("case %zu\n", c);
        total = 0;
        for (o = 0; o <= cases[c].last; o++)
            assert_int_equal(pf_ptrack_received(t, o), PF_PTRACK_PROCESS);
        for (o = cases[c].first; o <= cases[c].last; o += cases[c].step) {
            assert_int_equal(pf_ptrack_done(t, o), 0);
            total++;
        }
        assert_int_equal(
            pf_ptrack_commit_metadata(t, buf, cases[c].size, &dropped),
            cases[c].rc);
        assert_true(strlen(buf) < cases[c].size);
        assert_int_equal(dropped, total - cases[c].kept);

        t2 = track(0, buf);
        assert_null(pf_ptrack_metadata_error(t2));
        for (o = 0; o <= cases[c].last; o++) {
            int rc = pf_ptrack_received(t2, o);
            bool done = o >= cases[c].first &&
                        (o - cases[c].first) % cases[c].step == 0;

            if (rc == PF_PTRACK_SKIP) {
                assert_true(done);
                kept++;
            } else {
                assert_int_equal(rc, PF_PTRACK_PROCESS);
                /* Only the highest are dropped. */
                assert_true(!done || kept == cases[c].kept);
            }
        }
        assert_int_equal(kept, cases[c].kept);
        pf_ptrack_destroy(t2);

        /* The tracker still knows them: a big enough buffer lists all. */
        assert_int_equal(
            pf_ptrack_commit_metadata(t, buf, sizeof(buf), &dropped), 0);
        assert_int_equal(dropped, 0);
        pf_ptrack_destroy(t);
    }
}

static void metadata_buffer_too_small_for_the_header(void **state)
{
    char buf[PF_PTRACK_METADATA_MIN_SIZE] = "x";
    uint64_t dropped = 5;
    pf_ptrack *t = track(0, NULL);

    (void)state;
    assert_int_equal(pf_ptrack_received(t, 0), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_received(t, 1), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_done(t, 1), 0);
    assert_int_equal(pf_ptrack_commit_metadata(t, buf, 5, &dropped), -1);
    assert_string_equal(buf, "");
    assert_int_equal(dropped, 0);
    assert_int_equal(pf_ptrack_commit_metadata(t, buf, 6, &dropped), 1);
    assert_string_equal(buf, "pf1:0");
    assert_int_equal(dropped, 1);
    assert_int_equal(pf_ptrack_commit_metadata(t, NULL, 0, NULL), -1);
    assert_int_equal(pf_ptrack_commit_metadata(t, buf, 0, NULL), -1);
    pf_ptrack_destroy(t);

    /* The minimum size holds the longest header. */
    t = track(INT64_MAX, NULL);
    assert_int_equal(pf_ptrack_commit_metadata(t, buf, sizeof(buf), NULL), 0);
    assert_string_equal(buf, "pf1:9223372036854775807");
    pf_ptrack_destroy(t);
}

/* ---- the whole commit metadata (pf_ckpt_meta) ---------------------------- */

#define NONE -1

static void ckpt_meta_parse_reads_tolerantly(void **state)
{
    static const struct {
        const char *what, *text;
        size_t len; /* 0: strlen */
        int rc;
        int64_t hw, s;
        const char *done; /* NULL: none */
        unsigned ignored;
    } cases[] = {
        /* What the writers wrote, read as before. */
        {"hand-off", "hw=4711;s=0;pf1:4700:3+2", 0, 0, 4711, 0, "pf1:4700:3+2",
         0},
        {"hand-off, settle time", "hw=5;s=1796316092000;pf1:3", 0, 0, 5,
         1796316092000, "pf1:3", 0},
        {"periodic", "hw=4711;pf1:4700:bA_", 0, 0, 4711, NONE, "pf1:4700:bA_",
         0},
        {"replay", "hw=99;", 0, 0, 99, NONE, NULL, 0},
        {"tracker alone", "pf1:100", 0, 0, NONE, NONE, "pf1:100", 0},
        {"nothing", "", 0, -1, NONE, NONE, NULL, 0},
        {"no intent yet (old pipeline)", "hw=-1;pf1:100", 0, 0, NONE, NONE,
         "pf1:100", 1},
        {"hw 0", "hw=0;", 0, 0, 0, NONE, NULL, 0},
        /* Another order, a terminated tracker's part. */
        {"reversed", "pf1:100:0;s=7;hw=5;", 0, 0, 5, 7, "pf1:100:0", 0},
        {"s first", "s=7;hw=5;pf1:3", 0, 0, 5, 7, "pf1:3", 0},
        {"s alone", "s=0;", 0, 0, NONE, 0, NULL, 0},
        /* Repeated: the largest hw and s; pf1 the same, or neither. */
        {"hw thrice", "hw=5;hw=9;hw=7;", 0, 0, 9, NONE, NULL, 0},
        {"s twice", "s=5;s=0;", 0, 0, NONE, 5, NULL, 0},
        {"pf1 twice, same", "pf1:5;pf1:5", 0, 0, NONE, NONE, "pf1:5", 0},
        {"pf1 twice, different", "pf1:5;pf1:6", 0, -1, NONE, NONE, NULL, 2},
        {"pf1 thrice, one different", "hw=1;pf1:5;pf1:6;pf1:5", 0, 0, 1, NONE,
         NULL, 3},
        /* Missing ';', truncated: never a smaller number. */
        {"hw without ';'", "hw=5", 0, -1, NONE, NONE, NULL, 1},
        {"hw runs into pf1", "hw=5pf1:5", 0, -1, NONE, NONE, NULL, 1},
        {"s truncated", "hw=4711;s=17", 0, 0, 4711, NONE, NULL, 1},
        {"hw truncated", "hw=4711;s=0;pf1:4700:3+2", 6, -1, NONE, NONE, NULL,
         1},
        {"pf1 cut in a run", "hw=1;pf1:4700:3+", 0, 0, 1, NONE, NULL, 1},
        /* Numbers: range, sign, leading zeros, junk. */
        {"hw at the largest offset", "hw=9223372036854775806;", 0, 0,
         PF_PTRACK_OFFSET_MAX, NONE, NULL, 0},
        {"hw past the largest offset", "hw=9223372036854775807;", 0, -1, NONE,
         NONE, NULL, 1},
        {"hw huge", "hw=99999999999999999999;", 0, -1, NONE, NONE, NULL, 1},
        {"s at INT64_MAX", "s=9223372036854775807;", 0, 0, NONE, INT64_MAX,
         NULL, 0},
        {"s huge", "s=9223372036854775808;", 0, -1, NONE, NONE, NULL, 1},
        {"hw negative", "hw=-5;", 0, -1, NONE, NONE, NULL, 1},
        {"s negative", "hw=1;s=-1;", 0, 0, 1, NONE, NULL, 1},
        {"hw signed", "hw=+5;", 0, -1, NONE, NONE, NULL, 1},
        {"hw spaced", "hw= 5;hw=6 ;", 0, -1, NONE, NONE, NULL, 2},
        {"hw leading zero", "hw=05;", 0, -1, NONE, NONE, NULL, 1},
        {"hw empty", "hw=;s=;", 0, -1, NONE, NONE, NULL, 2},
        {"hw junk", "hw=5x;hw=0x5;hw==5;", 0, -1, NONE, NONE, NULL, 3},
        /* Unknown and empty parts. */
        {"unknown name", "x=1;hw=5;", 0, 0, 5, NONE, NULL, 1},
        {"no name", "=1;future;hw=5;", 0, 0, 5, NONE, NULL, 2},
        {"names are case-sensitive", "HW=5;S=1;Pf1:5", 0, -1, NONE, NONE, NULL,
         3},
        {"empty parts", ";;hw=5;;", 0, 0, 5, NONE, NULL, 3},
        {"not provflow's", "{\"offset\":5}", 0, -1, NONE, NONE, NULL, 1},
        {"invalid pf1", "hw=5;pf1:abc", 0, 0, 5, NONE, NULL, 1},
        {"pf2", "hw=5;pf2:100", 0, 0, 5, NONE, NULL, 1},
        /* NUL bytes. */
        {"NUL in hw", "hw=5\0;", 6, -1, NONE, NONE, NULL, 1},
        {"NUL in a name", "h\0w=5;", 6, -1, NONE, NONE, NULL, 1},
        {"NUL before pf1", "hw=5;\0pf1:5", 11, 0, 5, NONE, NULL, 1},
        {"NUL in pf1", "hw=5;pf1:5\0", 11, 0, 5, NONE, NULL, 1},
        {"NUL alone", "\0", 1, -1, NONE, NONE, NULL, 1},
    };
    pf_ckpt_meta m;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        /* An exact-size copy: reading past len is caught by ASan. */
        char *text = malloc(len > 0 ? len : 1);

        print_message("%s: \"%s\"\n", cases[i].what, cases[i].text);
        assert_non_null(text);
        memcpy(text, cases[i].text, len);
        assert_int_equal(pf_ckpt_meta_parse(text, len, &m), cases[i].rc);
        assert_int_equal(m.hw, cases[i].hw);
        assert_int_equal(m.settle_wall_ms, cases[i].s);
        if (cases[i].done == NULL) {
            assert_null(m.done);
            assert_int_equal(m.done_len, 0);
        } else {
            assert_true(m.done >= text && m.done + m.done_len <= text + len);
            assert_int_equal(m.done_len, strlen(cases[i].done));
            assert_memory_equal(m.done, cases[i].done, m.done_len);
        }
        assert_int_equal(m.ignored, cases[i].ignored);
        free(text);
    }
    assert_int_equal(pf_ckpt_meta_parse(NULL, 0, &m), -1);
    assert_int_equal(m.hw, NONE);
    assert_null(m.done);
}

static void ckpt_meta_parse_ignores_overlong_text_unread(void **state)
{
    size_t len = PF_PTRACK_METADATA_MAX_LEN, i;
    char *text = malloc(len + 1);
    pf_ckpt_meta m;

    (void)state;
    assert_non_null(text);
    /* At the limit: read, a bitmap of zeros after the intent. */
    memcpy(text, "hw=5;pf1:100:b", 14);
    for (i = 14; i < len + 1; i++)
        text[i] = 'A';
    assert_int_equal(pf_ckpt_meta_parse(text, len, &m), 0);
    assert_int_equal(m.hw, 5);
    assert_ptr_equal(m.done, text + 5);
    assert_int_equal(m.done_len, len - 5);
    /* One more byte: nothing is read. */
    assert_int_equal(pf_ckpt_meta_parse(text, len + 1, &m), -1);
    assert_int_equal(m.hw, NONE);
    assert_null(m.done);
    assert_int_equal(m.ignored, 1);
    free(text);
}

/*
 * A tracker at position 4700 with 4702..4704 done: "pf1:4700:bO" (the
 * bitmap is shorter than the run "1+2").
 */
static pf_ptrack *handoff_track(void)
{
    pf_ptrack *t = track(4700, NULL);
    int64_t o;

    for (o = 4700; o <= 4705; o++)
        assert_int_equal(pf_ptrack_received(t, o), PF_PTRACK_PROCESS);
    for (o = 4702; o <= 4704; o++)
        assert_int_equal(pf_ptrack_done(t, o), 0);
    return t;
}

static void ckpt_meta_format_writes_the_parts_in_order(void **state)
{
    pf_ptrack *t = handoff_track(), *none = track(-1, NULL);
    char buf[PF_CKPT_META_MIN_SIZE + 64], old[PF_CKPT_META_MIN_SIZE + 64];
    static const struct {
        int64_t hw, s;
        bool with_track;
        const char *expect;
    } cases[] = {
        {4711, 0, true, "hw=4711;s=0;pf1:4700:bO"},
        {4711, NONE, true, "hw=4711;pf1:4700:bO"},
        {NONE, 1796316092000, true, "s=1796316092000;pf1:4700:bO"},
        {NONE, NONE, true, "pf1:4700:bO"},
        {99, NONE, false, "hw=99;"},
        {0, 0, false, "hw=0;s=0;"},
        {NONE, NONE, false, ""},
        {-7, -7, false, ""}, /* any negative: none */
    };
    size_t i;
    int n;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        n = pf_ckpt_meta_format(buf, sizeof(buf), cases[i].hw, cases[i].s,
                                cases[i].with_track ? t : NULL);
        assert_int_equal(n, strlen(cases[i].expect));
        assert_string_equal(buf, cases[i].expect);
    }
    /* A tracker without a position yet adds nothing. */
    assert_int_equal(pf_ckpt_meta_format(buf, sizeof(buf), 3, NONE, none), 5);
    assert_string_equal(buf, "hw=3;");

    /* Byte for byte what pipeline.c and cmd_replay.c wrote before. */
    n = snprintf(old, sizeof(old), "hw=%lld;s=%lld;", 4711LL, 1796316092000LL);
    assert_int_equal(
        pf_ptrack_commit_metadata(t, old + n, sizeof(old) - (size_t)n, NULL),
        0);
    assert_int_equal(
        pf_ckpt_meta_format(buf, sizeof(buf), 4711, 1796316092000, t),
        strlen(old));
    assert_string_equal(buf, old);
    pf_ptrack_destroy(t);
    pf_ptrack_destroy(none);
}

static void ckpt_meta_format_fits_the_buffer(void **state)
{
    char buf[PF_CKPT_META_MIN_SIZE] = "x";
    pf_ckpt_meta m;
    pf_ptrack *t = track(0, NULL), *top = track(INT64_MAX, NULL);
    int64_t o;
    int n;

    (void)state;
    /* The longest header fits the minimum size exactly. */
    n = pf_ckpt_meta_format(buf, sizeof(buf), PF_PTRACK_OFFSET_MAX, INT64_MAX,
                            top);
    assert_int_equal(n, sizeof(buf) - 1);
    assert_string_equal(buf, "hw=9223372036854775806;s=9223372036854775807;"
                             "pf1:9223372036854775807");
    assert_int_equal(pf_ckpt_meta_parse(buf, (size_t)n, &m), 0);
    assert_int_equal(m.hw, PF_PTRACK_OFFSET_MAX);
    assert_int_equal(m.settle_wall_ms, INT64_MAX);
    assert_int_equal(m.done_len, 23);

    /* One byte less: nothing. */
    buf[0] = 'x';
    assert_int_equal(pf_ckpt_meta_format(buf, sizeof(buf) - 1,
                                         PF_PTRACK_OFFSET_MAX, INT64_MAX, top),
                     -1);
    assert_string_equal(buf, "");
    buf[0] = 'x';
    assert_int_equal(pf_ckpt_meta_format(buf, 6, 4711, NONE, NULL), -1);
    assert_string_equal(buf, "");
    assert_int_equal(pf_ckpt_meta_format(buf, 9, 4711, NONE, NULL), 8);
    assert_int_equal(pf_ckpt_meta_format(buf, 0, NONE, NONE, NULL), -1);
    assert_int_equal(pf_ckpt_meta_format(NULL, 10, NONE, NONE, NULL), -1);
    /* An intent past the largest offset is a caller error. */
    assert_int_equal(pf_ckpt_meta_format(buf, sizeof(buf),
                                         PF_PTRACK_OFFSET_MAX + 1, NONE, NULL),
                     -1);

    /* Many done offsets: the tracker's part shrinks, the intent stays. */
    for (o = 0; o <= 4000; o++)
        assert_int_equal(pf_ptrack_received(t, o), PF_PTRACK_PROCESS);
    for (o = 1; o <= 4000; o += 2)
        assert_int_equal(pf_ptrack_done(t, o), 0);
    n = pf_ckpt_meta_format(buf, 40, 4000, 0, t);
    assert_true(n > 0 && n < 40);
    assert_memory_equal(buf, "hw=4000;s=0;pf1:0:b", 19);
    assert_int_equal(pf_ckpt_meta_parse(buf, (size_t)n, &m), 0);
    assert_int_equal(m.hw, 4000);
    assert_int_equal(m.settle_wall_ms, 0);
    assert_non_null(m.done);
    pf_ptrack_destroy(t);
    pf_ptrack_destroy(top);
}

/*
 * Done offsets the tracker's part leaves out are processed again by the
 * next owner: pf_ckpt_meta_format_covering() raises the intent to cover
 * them (it then looks for their flows), however narrow the one given.
 */
static void ckpt_meta_format_covers_done_offsets_left_out(void **state)
{
    static const int64_t given[] = {NONE, 0, 1500};
    char buf[40];
    pf_ckpt_meta m;
    pf_ptrack *t = track(0, NULL), *far = track(100, "pf1:100:5000+10");
    size_t i;
    int64_t o;
    int n;

    (void)state;
    for (o = 0; o <= 4000; o++)
        assert_int_equal(pf_ptrack_received(t, o), PF_PTRACK_PROCESS);
    for (o = 1; o <= 4000; o += 2)
        assert_int_equal(pf_ptrack_done(t, o), 0);
    for (i = 0; i < ARRAY_LEN(given); i++) {
        n = pf_ckpt_meta_format_covering(buf, sizeof(buf), given[i], 0, t);
        assert_true(n > 0 && n < (int)sizeof(buf));
        assert_int_equal(pf_ckpt_meta_parse(buf, (size_t)n, &m), 0);
        assert_int_equal(m.hw, 3999); /* the highest done offset */
        assert_int_equal(m.settle_wall_ms, 0);
        assert_non_null(m.done);
    }
    /* The plain writer keeps the intent given (replay, the fuzzer). */
    n = pf_ckpt_meta_format(buf, sizeof(buf), NONE, 0, t);
    assert_int_equal(pf_ckpt_meta_parse(buf, (size_t)n, &m), 0);
    assert_int_equal(m.hw, NONE);
    /* Everything listed: the intent given stands. */
    n = pf_ckpt_meta_format_covering(buf, sizeof(buf), NONE, NONE, far);
    assert_string_equal(buf, "pf1:100:5000+10");
    /* Remembered offsets not received yet count as done. */
    n = pf_ckpt_meta_format_covering(buf, 20, 5, NONE, far);
    assert_string_equal(buf, "hw=5111;pf1:100");
    assert_int_equal(n, strlen(buf));
    pf_ptrack_destroy(t);
    pf_ptrack_destroy(far);
}

/* Sent offsets: marked while pending, forgotten once done. */
static void sent_max_is_the_highest_sent_and_not_done(void **state)
{
    pf_ptrack *t = track(0, NULL), *skip = track(0, "pf1:0:1");
    int64_t o;

    (void)state;
    assert_int_equal(pf_ptrack_sent_max(t), -1);
    assert_int_equal(pf_ptrack_sent(t, 0), -1); /* not received */
    for (o = 0; o < 10; o++)
        assert_int_equal(pf_ptrack_received(t, o), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_sent_max(t), -1);
    assert_int_equal(pf_ptrack_sent(t, 3), 0);
    assert_int_equal(pf_ptrack_sent_max(t), 3);
    assert_int_equal(pf_ptrack_sent(t, 7), 0);
    assert_int_equal(pf_ptrack_sent(t, 7), 0); /* again: no change */
    assert_int_equal(pf_ptrack_sent_max(t), 7);
    assert_int_equal(pf_ptrack_done(t, 7), 0);
    assert_int_equal(pf_ptrack_sent_max(t), 3);
    assert_int_equal(pf_ptrack_sent(t, 7), -1); /* done */
    assert_int_equal(pf_ptrack_sent(t, 42), -1);
    /* A sent offset still counts as pending: the position waits for it. */
    assert_int_equal(pf_ptrack_pending(t), 9);
    for (o = 0; o < 3; o++)
        assert_int_equal(pf_ptrack_done(t, o), 0);
    assert_int_equal(pf_ptrack_commit_offset(t), 3);
    /* The mark survives the ring growing and moving. */
    for (o = 10; o < 500; o++)
        assert_int_equal(pf_ptrack_received(t, o), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_sent_max(t), 3);
    assert_int_equal(pf_ptrack_sent(t, 499), 0);
    assert_int_equal(pf_ptrack_sent_max(t), 499);
    for (o = 3; o < 499; o++) {
        if (o != 7)
            assert_int_equal(pf_ptrack_done(t, o), 0);
    }
    assert_int_equal(pf_ptrack_commit_offset(t), 499);
    assert_int_equal(pf_ptrack_sent_max(t), 499);
    assert_int_equal(pf_ptrack_done(t, 499), 0);
    assert_int_equal(pf_ptrack_sent_max(t), -1);
    assert_int_equal(pf_ptrack_commit_offset(t), 500);

    /* A record skipped as done is not pending: it cannot be sent. */
    assert_int_equal(pf_ptrack_received(skip, 0), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_received(skip, 2), PF_PTRACK_SKIP);
    assert_int_equal(pf_ptrack_sent(skip, 2), -1);
    assert_int_equal(pf_ptrack_sent_max(skip), -1);
    pf_ptrack_destroy(t);
    pf_ptrack_destroy(skip);
}

/*
 * Written, read back, written again: the same values and the same text,
 * and a tracker built from what was read skips what the first one did.
 */
static void ckpt_meta_round_trips(void **state)
{
    static const struct {
        int64_t hw, s;
        const char *done; /* the first tracker's metadata, NULL: none */
    } cases[] = {
        {4711, 0, "pf1:4700:1+2"},
        {4711, NONE, "pf1:4700:b_A"},
        {NONE, NONE, "pf1:100"},
        {99, NONE, NULL},
        {NONE, 1796316092000, NULL},
        {PF_PTRACK_OFFSET_MAX, INT64_MAX, "pf1:9223372036854775805:0"},
        {0, 0, "pf1:0:0+9,5,7+3"},
        {5, NONE, "pf1:0:1000,2000+5"},
    };
    char buf[PF_CKPT_META_MIN_SIZE + 256], again[sizeof(buf)];
    char enc[PF_PTRACK_METADATA_SIZE_DEFAULT];
    pf_ckpt_meta m;
    int64_t base;
    size_t i;
    int n;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        pf_ptrack *t = NULL, *t2 = NULL;

        print_message("case %zu\n", i);
        if (cases[i].done != NULL) {
            assert_int_equal(pf_ptrack_metadata_check(cases[i].done,
                                                      strlen(cases[i].done),
                                                      &base, NULL),
                             0);
            t = track(base, cases[i].done);
            assert_null(pf_ptrack_metadata_error(t));
        }
        n = pf_ckpt_meta_format(buf, sizeof(buf), cases[i].hw, cases[i].s, t);
        assert_true(n >= 0);
        assert_int_equal(pf_ckpt_meta_parse(buf, (size_t)n, &m),
                         n > 0 ? 0 : -1);
        assert_int_equal(m.hw, cases[i].hw);
        assert_int_equal(m.settle_wall_ms, cases[i].s);
        assert_int_equal(m.ignored, 0);
        if (cases[i].done == NULL) {
            assert_null(m.done);
        } else {
            /* The tracker's own text, not necessarily the case's. */
            assert_int_equal(
                pf_ptrack_commit_metadata(t, enc, sizeof(enc), NULL), 0);
            assert_int_equal(m.done_len, strlen(enc));
            assert_memory_equal(m.done, enc, m.done_len);
            t2 = pf_ptrack_new(base, m.done, m.done_len);
            assert_non_null(t2);
            assert_null(pf_ptrack_metadata_error(t2));
        }
        assert_int_equal(pf_ckpt_meta_format(again, sizeof(again), m.hw,
                                             m.settle_wall_ms, t2),
                         n);
        assert_string_equal(again, buf);
        pf_ptrack_destroy(t);
        pf_ptrack_destroy(t2);
    }
}

/* ---- dirty flag ---------------------------------------------------------- */

static void dirty_follows_position_and_done_set(void **state)
{
    static const struct {
        char op; /* r received, d done, c committed, s set_dirty */
        int64_t offset;
        bool dirty;
    } steps[] = {
        {'r', 100, false}, /* the position stays at the start */
        {'r', 101, false}, {'d', 101, true}, /* done above the position */
        {'c', 0, false},   {'d', 100, true}, /* the position moves */
        {'c', 0, false},   {'r', 105, true}, /* over a gap, nothing pending */
        {'c', 0, false},   {'r', 106, false}, {'r', 107, false},
        {'d', 107, true},  {'c', 0, false},   {'r', 109, false},
        {'s', 0, true},    {'c', 0, false},   {'d', 109, false},
    };
    pf_ptrack *t = track(100, "pf1:100:8");
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(steps); i++) {
        switch (steps[i].op) {
        case 'r':
            assert_true(pf_ptrack_received(t, steps[i].offset) >= 0);
            break;
        case 'd':
            /* 109 was skipped: the call fails and nothing changes. */
            (void)pf_ptrack_done(t, steps[i].offset);
            break;
        case 'c':
            pf_ptrack_committed(t);
            break;
        default:
            pf_ptrack_set_dirty(t);
            break;
        }
        print_message("step %zu\n", i);
        assert_int_equal(pf_ptrack_dirty(t), steps[i].dirty);
    }
    pf_ptrack_destroy(t);
}

/* ---- memory -------------------------------------------------------------- */

static void large_gaps_cost_no_memory(void **state)
{
    const int64_t step = 1000000000000LL; /* 10^12 */
    char buf[PF_PTRACK_METADATA_SIZE_DEFAULT];
    pf_ptrack *t = track(0, NULL), *t2;
    int64_t o;
    int i;

    (void)state;
    for (i = 0; i < 1000; i++)
        assert_int_equal(pf_ptrack_received(t, (int64_t)i * step),
                         PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_received(t, PF_PTRACK_OFFSET_MAX - 1),
                     PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_received(t, PF_PTRACK_OFFSET_MAX),
                     PF_PTRACK_PROCESS);
    for (i = 1; i < 1000; i += 2)
        assert_int_equal(pf_ptrack_done(t, (int64_t)i * step), 0);
    assert_int_equal(pf_ptrack_done(t, PF_PTRACK_OFFSET_MAX), 0);
    assert_true(pf_ptrack_memory(t) < 32 * 1024);
    assert_int_equal(pf_ptrack_commit_metadata(t, buf, sizeof(buf), NULL), 1);

    /* A small slice of it round-trips exactly. */
    assert_int_equal(pf_ptrack_commit_metadata(t, buf, 200, NULL), 1);
    t2 = track(0, buf);
    assert_null(pf_ptrack_metadata_error(t2));
    assert_int_equal(pf_ptrack_received(t2, 0), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_received(t2, step), PF_PTRACK_SKIP);
    assert_int_equal(pf_ptrack_received(t2, 2 * step), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_received(t2, 3 * step), PF_PTRACK_SKIP);
    pf_ptrack_destroy(t2);

    /* Done in reverse: one run with 10^15 holes, a few bytes of text. */
    for (i = 998; i >= 2; i -= 2)
        assert_int_equal(pf_ptrack_done(t, (int64_t)i * step), 0);
    assert_int_equal(pf_ptrack_done(t, PF_PTRACK_OFFSET_MAX - 1), 0);
    assert_metadata(t, "pf1:0:999999999999+9223371036854775806");
    assert_int_equal(pf_ptrack_done(t, 0), 0);
    assert_int_equal(pf_ptrack_commit_offset(t), INT64_MAX);
    pf_ptrack_destroy(t);

    /* A remembered run of 2^63 offsets is one run. */
    t = track(0, "pf1:0:0+9223372036854775805");
    assert_null(pf_ptrack_metadata_error(t));
    assert_true(pf_ptrack_memory(t) < 1024);
    assert_int_equal(pf_ptrack_received(t, 0), PF_PTRACK_PROCESS);
    assert_int_equal(pf_ptrack_received(t, 5), PF_PTRACK_SKIP);
    assert_int_equal(pf_ptrack_done(t, 0), 0);
    assert_int_equal(pf_ptrack_commit_offset(t), INT64_MAX);
    for (o = 6; o < 10; o++)
        assert_int_equal(pf_ptrack_received(t, o), PF_PTRACK_SKIP);
    pf_ptrack_destroy(t);
}

static void ring_shrinks_after_a_burst(void **state)
{
    pf_ptrack *t = track(0, NULL);
    size_t small = pf_ptrack_memory(t);
    int64_t o;

    (void)state;
    for (o = 0; o < 100000; o++)
        assert_int_equal(pf_ptrack_received(t, o), PF_PTRACK_PROCESS);
    assert_true(pf_ptrack_memory(t) >= 100000 * 9);
    assert_true(pf_ptrack_memory(t) < 100000 * 9 * 2 + 1024);
    for (o = 99999; o >= 1; o--)
        assert_int_equal(pf_ptrack_done(t, o), 0);
    assert_int_equal(pf_ptrack_done_above(t), 99999);
    assert_int_equal(pf_ptrack_done(t, 0), 0);
    assert_int_equal(pf_ptrack_commit_offset(t), 100000);
    assert_true(pf_ptrack_memory(t) <= small + 64 * 9);
    pf_ptrack_destroy(t);
}

/* ---- against a reference model ----------------------------------------- */

/*
 * A simulated partition: a log of existing offsets with holes, a consumer
 * that delivers them in order from the committed position, workers that
 * complete them in random order, commits of the tracker's position and
 * metadata, and crashes after which a new tracker starts from the last
 * commit. The model knows the truth and checks, after every step:
 * - the position is the lowest pending offset, or, with nothing pending,
 *   past the last received one, jumping only over offsets done before;
 * - a skipped offset was done before the commit the tracker started from
 *   (no loss), and an offset done before a commit that listed everything
 *   is skipped after the restart (no needless duplicate);
 * - counts, the dirty flag (a clean tracker encodes what it last did), and
 *   that everything is done exactly when the log is drained.
 */
#define NEVER UINT64_MAX

enum { M_NONE, M_PENDING, M_DONE, M_SKIPPED };

typedef struct model {
    size_t meta_size, window;
    int64_t *log;
    size_t nlog;
    unsigned char *state; /* in this incarnation */
    bool *ever_done;
    uint64_t *done_time; /* when done, as far as commits can carry it */
    bool *uncertain;     /* done, but maybe dropped from a commit */
    size_t *inflight;
    size_t ninflight;
    size_t next, low, first; /* next to deliver, lowest maybe pending */
    uint64_t now, rng;
    pf_ptrack *t;
    int64_t prev_pos;
    /* The last commit, and the one this incarnation started from. */
    bool snap, inc;
    int64_t snap_pos, inc_pos;
    uint64_t snap_time, inc_time;
    bool snap_complete, inc_complete;
    char *snap_meta;
    char *last_meta; /* what the tracker encoded at its last commit */
    bool have_last, last_complete;
    size_t restarts, skipped, commits, drops, max_inflight;
} model;

static uint64_t rnd(model *m)
{
    /* xorshift64*: deterministic, so a failure replays. */
    m->rng ^= m->rng >> 12;
    m->rng ^= m->rng << 25;
    m->rng ^= m->rng >> 27;
    return m->rng * 0x2545F4914F6CDD1DULL;
}

static void model_init(model *m, size_t nlog, size_t window, size_t meta_size,
                       uint64_t seed)
{
    int64_t o = 1000;
    size_t i;
    uint64_t r;

    memset(m, 0, sizeof(*m));
    m->rng = seed;
    m->nlog = nlog;
    m->window = window;
    m->meta_size = meta_size;
    m->log = malloc(nlog * sizeof(*m->log));
    m->state = calloc(nlog, 1);
    m->ever_done = calloc(nlog, sizeof(*m->ever_done));
    m->done_time = malloc(nlog * sizeof(*m->done_time));
    m->uncertain = calloc(nlog, sizeof(*m->uncertain));
    m->inflight = malloc(nlog * sizeof(*m->inflight));
    m->snap_meta = calloc(meta_size, 1);
    m->last_meta = calloc(meta_size, 1);
    assert_non_null(m->log);
    assert_non_null(m->state);
    assert_non_null(m->ever_done);
    assert_non_null(m->done_time);
    assert_non_null(m->uncertain);
    assert_non_null(m->inflight);
    assert_non_null(m->snap_meta);
    assert_non_null(m->last_meta);
    for (i = 0; i < nlog; i++) {
        m->log[i] = o;
        m->done_time[i] = NEVER;
        /* Mostly contiguous, some holes, rarely a huge gap. */
        r = rnd(m) % 1000;
        o += r < 900 ? 1 : r < 995 ? 2 + (int64_t)(r % 4) : 1000000007;
    }
    m->t = track(-1, NULL);
    m->prev_pos = -1;
}

static void model_free(model *m)
{
    pf_ptrack_destroy(m->t);
    free(m->log);
    free(m->state);
    free(m->ever_done);
    free(m->done_time);
    free(m->uncertain);
    free(m->inflight);
    free(m->snap_meta);
    free(m->last_meta);
}

static void model_receive(model *m)
{
    size_t i = m->next;
    int rc;

    rc = pf_ptrack_received(m->t, m->log[i]);
    if (rc == PF_PTRACK_SKIP) {
        /* Never a loss: it was done before the commit started from. */
        assert_true(m->inc);
        assert_true(m->done_time[i] != NEVER && m->done_time[i] <= m->inc_time);
        assert_true(m->ever_done[i]);
        m->state[i] = M_SKIPPED;
        m->skipped++;
    } else {
        assert_int_equal(rc, PF_PTRACK_PROCESS);
        /* No needless duplicate when the commits listed everything. */
        if (m->inc && m->inc_complete && !m->uncertain[i] &&
            m->log[i] >= m->inc_pos)
            assert_true(m->done_time[i] == NEVER ||
                        m->done_time[i] > m->inc_time);
        m->done_time[i] = NEVER; /* reprocessed: not done until it is */
        m->state[i] = M_PENDING;
        m->inflight[m->ninflight++] = i;
    }
    m->uncertain[i] = false; /* the tracker knows it now */
    m->next++;
}

static void model_done(model *m)
{
    size_t k = (size_t)(rnd(m) % m->ninflight), i = m->inflight[k];

    m->inflight[k] = m->inflight[--m->ninflight];
    assert_int_equal(pf_ptrack_done(m->t, m->log[i]), 0);
    assert_true(pf_ptrack_dirty(m->t));
    m->state[i] = M_DONE;
    m->ever_done[i] = true;
    m->done_time[i] = m->now;
}

static void model_commit(model *m)
{
    int64_t pos = pf_ptrack_commit_offset(m->t), base;
    uint64_t dropped;
    size_t j, done_above = 0;
    int rc;

    rc = pf_ptrack_commit_metadata(m->t, m->snap_meta, m->meta_size, &dropped);
    if (pos < 0) {
        assert_int_equal(rc, -1);
        return;
    }
    assert_true(rc == 0 || rc == 1);
    assert_int_equal(rc == 1, dropped > 0);
    assert_true(strlen(m->snap_meta) < m->meta_size);
    assert_int_equal(pf_ptrack_metadata_check(
                         m->snap_meta, strlen(m->snap_meta), &base, NULL),
                     0);
    assert_int_equal(base, pos);
    /*
     * Clean means unchanged since the last commit. (A partial list may
     * pick the other form when a remembered run is received, so compare
     * complete ones.)
     */
    if (!pf_ptrack_dirty(m->t) && m->have_last && m->last_complete && rc == 0)
        assert_string_equal(m->snap_meta, m->last_meta);
    memcpy(m->last_meta, m->snap_meta, m->meta_size);
    m->have_last = true;
    m->last_complete = rc == 0;

    for (j = m->low; j < m->next; j++) {
        if ((m->state[j] == M_DONE || m->state[j] == M_SKIPPED) &&
            m->log[j] > pos)
            done_above++;
    }
    assert_int_equal(pf_ptrack_done_above(m->t), done_above);

    m->snap = true;
    m->snap_pos = pos;
    m->snap_time = m->now;
    m->snap_complete = rc == 0;
    pf_ptrack_committed(m->t);
    m->commits++;
    m->drops += rc == 1;
}

static void model_restart(model *m)
{
    size_t lo = 0, hi = m->nlog, mid;

    pf_ptrack_destroy(m->t);
    if (m->snap) {
        m->t = track(m->snap_pos, m->snap_meta);
        assert_null(pf_ptrack_metadata_error(m->t));
        while (lo < hi) {
            mid = lo + (hi - lo) / 2;
            if (m->log[mid] < m->snap_pos)
                lo = mid + 1;
            else
                hi = mid;
        }
    } else {
        m->t = track(-1, NULL);
    }
    assert_false(pf_ptrack_dirty(m->t));
    m->inc = m->snap;
    m->inc_pos = m->snap_pos;
    m->inc_time = m->snap_time;
    m->inc_complete = m->snap_complete;
    memset(m->state, M_NONE, m->nlog);
    /*
     * Completions after the snapshot are unknown to the new tracker (their
     * work is redone); those before it may have been dropped from it.
     */
    for (mid = lo; mid < m->nlog; mid++) {
        if (m->done_time[mid] == NEVER)
            continue;
        if (!m->snap || m->done_time[mid] > m->snap_time)
            m->done_time[mid] = NEVER;
        else if (!m->snap_complete)
            m->uncertain[mid] = true;
    }
    m->ninflight = 0;
    m->next = m->low = m->first = lo;
    m->have_last = false;
    m->prev_pos = pf_ptrack_commit_offset(m->t);
    m->restarts++;
}

static void model_check(model *m, bool changed)
{
    int64_t pos = pf_ptrack_commit_offset(m->t);
    size_t j;

    assert_int_equal(pf_ptrack_pending(m->t), m->ninflight);
    while (m->low < m->next && m->state[m->low] != M_PENDING)
        m->low++;
    if (m->ninflight > 0) {
        assert_int_equal(pos, m->log[m->low]);
    } else if (m->next > m->first) {
        assert_true(pos > m->log[m->next - 1]);
        /* Jumped over only offsets done before. */
        for (j = m->next; j < m->nlog && m->log[j] < pos; j++)
            assert_true(m->done_time[j] != NEVER &&
                        m->done_time[j] <= m->inc_time);
    } else {
        assert_int_equal(pos, m->inc ? m->inc_pos : -1);
    }
    assert_true(pos >= m->prev_pos);
    if (pos != m->prev_pos || changed)
        assert_true(pf_ptrack_dirty(m->t));
    m->prev_pos = pos;
}

/*
 * ops steps; per 10,000 steps, `restarts` crashes; of the others, 60 %
 * receive (up to `window` in flight), 34 % complete, 6 % commit.
 */
static void model_run(size_t nlog, size_t ops, size_t window, size_t meta_size,
                      unsigned restarts, uint64_t seed)
{
    model m;
    size_t op, j;
    uint64_t r;

    model_init(&m, nlog, window, meta_size, seed);
    for (op = 0; op < ops; op++) {
        bool changed = false;

        m.now++;
        r = rnd(&m) % 10000;
        if (r < restarts) {
            model_restart(&m);
        } else if (r % 1000 < 600) {
            if (m.ninflight < m.window && m.next < m.nlog)
                model_receive(&m);
        } else if (r % 1000 < 940) {
            if (m.ninflight > 0) {
                model_done(&m);
                changed = true;
            }
        } else {
            model_commit(&m);
        }
        if (m.ninflight > m.max_inflight)
            m.max_inflight = m.ninflight;
        model_check(&m, changed);
    }
    /* Drain: deliver and complete everything, then all is done. */
    while (m.next < m.nlog || m.ninflight > 0) {
        if (m.next < m.nlog)
            model_receive(&m);
        while (m.ninflight > 0 && (m.next == m.nlog || rnd(&m) % 2))
            model_done(&m);
        model_check(&m, false);
    }
    assert_int_equal(pf_ptrack_commit_offset(m.t), m.log[m.nlog - 1] + 1);
    assert_int_equal(pf_ptrack_done_above(m.t), 0);
    assert_true(pf_ptrack_memory(m.t) < 4096);
    for (j = 0; j < m.nlog; j++)
        assert_true(m.ever_done[j]);
    print_message("model: %zu ops, up to %zu in flight, %zu restarts, %zu "
                  "skipped, %zu commits (%zu dropping offsets)\n",
                  ops, m.max_inflight, m.restarts, m.skipped, m.commits,
                  m.drops);
    assert_true(m.restarts > 0 && m.skipped > 0);
    model_free(&m);
}

static void random_completion_matches_the_model(void **state)
{
    (void)state;
    /* Up to 10k in flight, the default metadata size. */
    model_run(80000, 100000, 10000, PF_PTRACK_METADATA_SIZE_DEFAULT, 1,
              0x9E3779B97F4A7C15ULL);
    model_run(80000, 100000, 3000, PF_PTRACK_METADATA_SIZE_DEFAULT, 4,
              0x2545F4914F6CDD1DULL);
    /* A tiny metadata size: drops all the time, never loses. */
    model_run(80000, 100000, 300, 40, 10, 0xD1B54A32D192ED03ULL);
    /* Small windows: the position often catches up, jumps over runs. */
    model_run(40000, 100000, 4, PF_PTRACK_METADATA_SIZE_DEFAULT, 30,
              0x8CB92BA72F3D8DD7ULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_starts_at_the_committed_offset),
        cmocka_unit_test(completion_moves_the_position_to_the_lowest_pending),
        cmocka_unit_test(counts_follow_pending_and_done_above),
        cmocka_unit_test(received_refuses_offsets_out_of_order_or_range),
        cmocka_unit_test(done_refuses_offsets_that_are_not_pending),
        cmocka_unit_test(metadata_encodes_runs_or_a_bitmap_and_round_trips),
        cmocka_unit_test(restart_skips_remembered_offsets_and_moves_past_them),
        cmocka_unit_test(consumer_below_the_committed_offset_discards_metadata),
        cmocka_unit_test(garbage_metadata_is_ignored_as_a_whole),
        cmocka_unit_test(bitmap_padding_may_pass_the_top_of_the_range),
        cmocka_unit_test(overlong_metadata_is_ignored_unread),
        cmocka_unit_test(metadata_check_reports_the_base),
        cmocka_unit_test(metadata_overflow_drops_the_highest_offsets),
        cmocka_unit_test(metadata_buffer_too_small_for_the_header),
        cmocka_unit_test(ckpt_meta_parse_reads_tolerantly),
        cmocka_unit_test(ckpt_meta_parse_ignores_overlong_text_unread),
        cmocka_unit_test(ckpt_meta_format_writes_the_parts_in_order),
        cmocka_unit_test(ckpt_meta_format_fits_the_buffer),
        cmocka_unit_test(ckpt_meta_format_covers_done_offsets_left_out),
        cmocka_unit_test(sent_max_is_the_highest_sent_and_not_done),
        cmocka_unit_test(ckpt_meta_round_trips),
        cmocka_unit_test(dirty_follows_position_and_done_set),
        cmocka_unit_test(large_gaps_cost_no_memory),
        cmocka_unit_test(ring_shrinks_after_a_burst),
        cmocka_unit_test(random_completion_matches_the_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
