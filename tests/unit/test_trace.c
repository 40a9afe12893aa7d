/* test_trace.c - W3C Trace Context: traceparent and tracestate checked as
 * the specification writes them, new traces and span ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "provflow/trace.h"

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define PID "00f067aa0ba902b7"

static void a_valid_traceparent_is_read(void **state)
{
    static const struct {
        const char *in;
        uint8_t flags;
    } rows[] = {
        {"00-" TID "-" PID "-01", 0x01},
        {"00-" TID "-" PID "-00", 0x00},
        /* only the sampled bit is defined by version 00 */
        {"00-" TID "-" PID "-ff", 0x01},
        {"00-" TID "-" PID "-02", 0x00},
        /* spaces around a header value are not part of it */
        {"  00-" TID "-" PID "-01\t", 0x01},
        /* a later version is read as 00 when its first fields are */
        {"01-" TID "-" PID "-01", 0x01},
        {"cc-" TID "-" PID "-01-what-the-future-adds", 0x01},
    };
    char why[160];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pf_trace t = {0};

        if (pf_trace_parse_parent(rows[i].in, &t, why, sizeof(why)) != 0)
            fail_msg("%s: %s", rows[i].in, why);
        assert_string_equal(t.trace_id, TID);
        assert_string_equal(t.parent_id, PID);
        assert_int_equal(t.flags, rows[i].flags);
    }
}

static void a_malformed_traceparent_is_refused_with_a_reason(void **state)
{
    static const struct {
        const char *in, *why;
    } rows[] = {
        {"", "characters"},
        {"00-" TID "-" PID, "characters"},
        {"00-" TID "-" PID "-01-", "exactly 55"},
        {"00-" TID "-" PID "-01-xx", "exactly 55"},
        {"cc-" TID "-" PID "-01x", "at least 55"},
        {"ff-" TID "-" PID "-01", "version"},
        {"0g-" TID "-" PID "-01", "version"},
        {"00_" TID "-" PID "-01", "characters"},
        {"00-00000000000000000000000000000000-" PID "-01", "trace-id"},
        {"00-4BF92F3577B34DA6A3CE929D0E0E4736-" PID "-01", "trace-id"},
        {"00-" TID "-0000000000000000-01", "parent-id"},
        {"00-" TID "-00F067AA0BA902B7-01", "parent-id"},
        {"00-" TID "-" PID "-0x", "trace-flags"},
        {"00-" TID "-" PID "-1", "characters"},
    };
    char why[160];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pf_trace t = {0};

        why[0] = '\0';
        if (pf_trace_parse_parent(rows[i].in, &t, why, sizeof(why)) == 0)
            fail_msg("accepted: \"%s\"", rows[i].in);
        if (strstr(why, rows[i].why) == NULL)
            fail_msg("\"%s\": reason \"%s\" does not say %s", rows[i].in, why,
                     rows[i].why);
        assert_string_equal(t.trace_id, ""); /* nothing half-filled */
    }
}

static void tracestate_follows_the_grammar_and_bounds(void **state)
{
    static const struct {
        const char *in;
        int ok;
    } rows[] = {
        {"congo=t61rcWkgMzE", 1},
        {"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", 1},
        {"rojo=1 , congo=2", 1},
        {"rojo=1,,congo=2", 1},  /* empty members are allowed */
        {"tenant1@vendor=x", 1}, /* multi-tenant key, digit first */
        {"a_b-c*d/e=v v", 1},    /* inner space in a value */
        {"Rojo=1", 0},           /* upper case key */
        {"1abc=1", 0},           /* a simple key starts with a letter */
        {"rojo", 0},
        {"rojo=", 0},
        {"rojo=a=b", 0},
        {"rojo=1,rojo=2", 0}, /* a key twice */
        {"rojo=\x01", 0},
        {"rojo=caf\xc3\xa9", 0}, /* not ASCII */
        {"t@toolongsystemid=1", 0},
    };
    char why[160];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int rc = pf_trace_check_state(rows[i].in, why, sizeof(why));

        if ((rc == 0) != rows[i].ok)
            fail_msg("\"%s\": %s", rows[i].in, rc == 0 ? "accepted" : why);
    }
}

static void
tracestate_over_32_members_or_512_characters_is_dropped(void **state)
{
    char buf[1024], why[160];
    size_t n = 0;
    int i;

    (void)state;
    for (i = 0; i < 32; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%sk%d=v", i ? "," : "",
                              i);
    assert_int_equal(pf_trace_check_state(buf, why, sizeof(why)), 0);
    snprintf(buf + n, sizeof(buf) - n, ",k32=v");
    assert_int_equal(pf_trace_check_state(buf, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "32 members"));

    memset(buf, 0, sizeof(buf));
    memcpy(buf, "a=", 2);
    memset(buf + 2, 'x', 510); /* 512 characters: passed on */
    assert_int_equal(pf_trace_check_state(buf, why, sizeof(why)), -1);
    /* a value is at most 256 characters: 2 members fill 512 instead */
    snprintf(buf, sizeof(buf), "a=%0254d,b=%0253d", 0, 0);
    assert_int_equal(strlen(buf), 512);
    assert_int_equal(pf_trace_check_state(buf, why, sizeof(why)), 0);
    snprintf(buf, sizeof(buf), "a=%0254d,b=%0254d", 0, 0);
    assert_int_equal(pf_trace_check_state(buf, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "513 characters"));
}

/* An event's context: used when valid, else a new trace and a reason. */
static void from_an_event_uses_or_restarts_the_trace(void **state)
{
    char why[200], out[PF_TRACE_PARENT_LEN + 1];
    pf_trace t;

    (void)state;
    assert_int_equal(
        pf_trace_from("00-" TID "-" PID "-01", "rojo=1", &t, why, sizeof(why)),
        0);
    assert_false(t.started);
    assert_string_equal(why, "");
    assert_string_equal(t.tracestate, "rojo=1");
    pf_trace_format(&t, NULL, out);
    assert_string_equal(out, "00-" TID "-" PID "-01");
    pf_trace_format(&t, "b7ad6b7169203331", out);
    assert_string_equal(out, "00-" TID "-b7ad6b7169203331-01");
    t.flags = 0xa0; /* every flag value in two lower-case hex digits */
    pf_trace_format(&t, NULL, out);
    assert_string_equal(out, "00-" TID "-" PID "-a0");
    t.flags = 0x01;
    pf_trace_release(&t);
    assert_null(t.tracestate);

    /* a bad traceparent: a new trace, its tracestate not parsed at all */
    assert_int_equal(pf_trace_from("00-" TID "-0000000000000000-01", "rojo=1",
                                   &t, why, sizeof(why)),
                     1);
    assert_true(t.started);
    assert_string_not_equal(t.trace_id, TID);
    assert_int_equal(strlen(t.trace_id), PF_TRACE_ID_LEN);
    assert_null(t.tracestate);
    assert_non_null(strstr(why, "traceparent: parent-id"));
    pf_trace_release(&t);

    /* none: a new trace, no reason to give */
    assert_int_equal(pf_trace_from(NULL, NULL, &t, why, sizeof(why)), 1);
    assert_true(t.started);
    assert_string_equal(why, "");
    pf_trace_release(&t);

    /* a bad tracestate alone is dropped; the trace is kept */
    assert_int_equal(
        pf_trace_from("00-" TID "-" PID "-00", "Bad=1", &t, why, sizeof(why)),
        0);
    assert_string_equal(t.trace_id, TID);
    assert_null(t.tracestate);
    assert_non_null(strstr(why, "tracestate dropped"));
    pf_trace_release(&t);
}

static void new_ids_are_random_hex_and_never_zero(void **state)
{
    char a[PF_TRACE_SPAN_LEN + 1], b[PF_TRACE_SPAN_LEN + 1], why[160];
    char tp[PF_TRACE_PARENT_LEN + 1];
    pf_trace t, u;

    (void)state;
    pf_trace_span_id(a);
    pf_trace_span_id(b);
    assert_int_equal(strlen(a), PF_TRACE_SPAN_LEN);
    assert_int_equal(strspn(a, "0123456789abcdef"), PF_TRACE_SPAN_LEN);
    assert_string_not_equal(a, b);
    pf_trace_start(&t);
    pf_trace_start(&u);
    assert_string_not_equal(t.trace_id, u.trace_id);
    /* what provflow sends is what it would accept */
    pf_trace_format(&t, a, tp);
    assert_int_equal(strlen(tp), PF_TRACE_PARENT_LEN);
    memset(&u, 0, sizeof(u));
    assert_int_equal(pf_trace_parse_parent(tp, &u, why, sizeof(why)), 0);
    assert_string_equal(u.trace_id, t.trace_id);
    assert_string_equal(u.parent_id, a);
}

/* Ids come from a pool of random bytes: none repeats across its refills. */
static void ids_stay_distinct_across_the_random_pool(void **state)
{
    enum { N = 600 }; /* 600 trace starts: 14 KB, many pools of 1 KB */
    static char seen[2 * N][PF_TRACE_ID_LEN + 1];
    pf_trace t;
    size_t i, j;

    (void)state;
    for (i = 0; i < N; i++) {
        pf_trace_start(&t);
        memcpy(seen[2 * i], t.trace_id, sizeof(t.trace_id));
        memcpy(seen[2 * i + 1], t.parent_id, sizeof(t.parent_id));
        assert_int_equal(strspn(t.trace_id, "0123456789abcdef"),
                         PF_TRACE_ID_LEN);
        assert_int_equal(strspn(t.parent_id, "0123456789abcdef"),
                         PF_TRACE_SPAN_LEN);
        pf_trace_release(&t);
    }
    for (i = 0; i < 2 * N; i++) {
        for (j = i + 1; j < 2 * N; j++)
            assert_string_not_equal(seen[i], seen[j]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_valid_traceparent_is_read),
        cmocka_unit_test(a_malformed_traceparent_is_refused_with_a_reason),
        cmocka_unit_test(tracestate_follows_the_grammar_and_bounds),
        cmocka_unit_test(
            tracestate_over_32_members_or_512_characters_is_dropped),
        cmocka_unit_test(from_an_event_uses_or_restarts_the_trace),
        cmocka_unit_test(new_ids_are_random_hex_and_never_zero),
        cmocka_unit_test(ids_stay_distinct_across_the_random_pool),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
