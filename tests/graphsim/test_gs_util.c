/*
 * test_gs_util.c - the simulator's helpers: base64url, form bodies, JSON
 * depth, the map, the seeded generator, GUIDs and timestamps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gs_util.h"
#include "provflow/reqid.h"

static void base64url_round_trips_and_rejects_garbage(void **state)
{
    unsigned char in[64], out[64];
    char text[128];
    size_t n, i;
    long m;

    (void)state;
    for (i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 37 + 251);
    for (n = 0; n <= sizeof(in); n++) {
        gs_b64url_encode(in, n, text, sizeof(text));
        assert_null(strpbrk(text, "+/="));
        m = gs_b64url_decode(text, strlen(text), out, sizeof(out));
        assert_int_equal(m, (long)n);
        assert_memory_equal(in, out, n);
    }
    assert_int_equal(gs_b64url_encode(in, 3, text, 4), 0); /* no room */
    assert_int_equal(gs_b64url_decode("ab+c", 4, out, sizeof(out)), -1);
    assert_int_equal(gs_b64url_decode("abcde", 5, out, sizeof(out)), -1);
    assert_int_equal(gs_b64url_decode("AAAAAAAA", 8, out, 2), -1);
    assert_int_equal(gs_b64url_decode("QQ==", 4, out, sizeof(out)), 1);
}

static void form_bodies_decode_and_refuse_tricks(void **state)
{
    const char *body;
    char err[128];
    json_t *f;

    (void)state;
    body = "a=1&scope=https%3A%2F%2Fx%2F.default&b=x+y&&c";
    f = gs_form_parse(body, strlen(body), 8, err, sizeof(err));
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "scope")),
                        "https://x/.default");
    assert_string_equal(json_string_value(json_object_get(f, "b")), "x y");
    assert_string_equal(json_string_value(json_object_get(f, "c")), "");
    json_decref(f);
    assert_null(gs_form_parse("a=1&a=2", 7, 8, err, sizeof(err)));
    assert_non_null(strstr(err, "'a'"));
    assert_null(gs_form_parse("a=%zz", 5, 8, err, sizeof(err)));
    assert_null(gs_form_parse("a=%4", 4, 8, err, sizeof(err)));
    assert_null(gs_form_parse("a=%00", 5, 8, err, sizeof(err)));
    assert_null(gs_form_parse("a=%ff", 5, 8, err, sizeof(err))); /* UTF-8 */
    assert_null(gs_form_parse("a&b&c", 5, 2, err, sizeof(err)));
}

static void json_depth_ignores_strings_and_stops_early(void **state)
{
    char deep[4096];

    (void)state;
    assert_int_equal(gs_json_depth("{\"a\":[1,{\"b\":2}]}", 17, 32), 3);
    assert_int_equal(gs_json_depth("{\"a\":\"[[[[\\\"[[\"}", 16, 32), 1);
    memset(deep, '[', sizeof(deep));
    assert_int_equal(gs_json_depth(deep, sizeof(deep), 32), 33);
}

static bool drop_odd(void *val, void *arg)
{
    (void)arg;
    if ((uintptr_t)val % 2) {
        return true;
    }
    return false;
}

static void map_puts_gets_deletes_and_sweeps(void **state)
{
    struct gs_map *m = gs_map_new();
    char key[32];
    uintptr_t i;

    (void)state;
    for (i = 1; i <= 5000; i++) {
        snprintf(key, sizeof(key), "k%lu", (unsigned long)i);
        assert_int_equal(gs_map_put(m, key, (void *)i), 0);
    }
    assert_int_equal(gs_map_count(m), 5000);
    assert_ptr_equal(gs_map_get(m, "k4321"), (void *)(uintptr_t)4321);
    assert_int_equal(gs_map_put(m, "k1", (void *)(uintptr_t)2), 0);
    assert_int_equal(gs_map_count(m), 5000);
    assert_ptr_equal(gs_map_del(m, "k2"), (void *)(uintptr_t)2);
    assert_null(gs_map_get(m, "k2"));
    assert_null(gs_map_del(m, "k2"));
    gs_map_sweep(m, drop_odd, NULL);
    assert_int_equal(gs_map_count(m), 2500);
    assert_null(gs_map_get(m, "k4321"));
    assert_non_null(gs_map_get(m, "k4320"));
    gs_map_free(m, NULL);
}

static void seeded_generators_repeat_and_guids_are_v4(void **state)
{
    struct gs_rng a, b;
    char g1[GS_GUID_LEN + 1], g2[GS_GUID_LEN + 1];
    double d;
    int i;

    (void)state;
    gs_rng_seed(&a, 42);
    gs_rng_seed(&b, 42);
    for (i = 0; i < 100; i++) {
        gs_rng_guid(&a, g1);
        gs_rng_guid(&b, g2);
        assert_string_equal(g1, g2);
        assert_true(pf_is_guid(g1));
        assert_int_equal(g1[14], '4');
        assert_non_null(strchr("89ab", g1[19]));
        d = gs_rng_double(&a);
        assert_true(d >= 0 && d < 1);
        gs_rng_double(&b);
    }
    gs_rng_seed(&b, 43);
    gs_rng_guid(&b, g2);
    gs_rng_guid(&a, g1);
    assert_string_not_equal(g1, g2);
}

static void timestamps_have_graph_and_entra_shapes(void **state)
{
    char t[40];

    (void)state;
    gs_fmt_graph_time(1711142882716422900LL, t, sizeof(t));
    assert_string_equal(t, "2024-03-22T21:28:02.7164229Z");
    gs_fmt_graph_time(1711142882000000000LL, t, sizeof(t));
    assert_string_equal(t, "2024-03-22T21:28:02.0000000Z");
    gs_fmt_graph_time(1711142882716422900LL, t, 11);
    assert_string_equal(t, "2024-03-22");
    gs_fmt_aad_time(1452304932000000000LL, t, sizeof(t));
    assert_string_equal(t, "2016-01-09 02:02:12Z");
}

static void copies_truncate_and_numbers_parse(void **state)
{
    char small[4];

    (void)state;
    assert_true(gs_copy(small, sizeof(small), "abc"));
    assert_false(gs_copy(small, sizeof(small), "abcd"));
    assert_string_equal(small, "abc");
    assert_int_equal(gs_parse_ulong("25", 100), 25);
    assert_int_equal(gs_parse_ulong("101", 100), -1);
    assert_int_equal(gs_parse_ulong("-1", 100), -1);
    assert_int_equal(gs_parse_ulong("1x", 100), -1);
    assert_int_equal(gs_parse_ulong(NULL, 100), -1);
}

static void buffers_grow_and_escape_json(void **state)
{
    struct gs_buf b;
    char *s;
    size_t n;
    int i;

    (void)state;
    gs_buf_init(&b);
    gs_buf_add_json_str(&b, "a\"b\\c\n\x01");
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
    for (i = 0; i < 1000; i++)
        gs_buf_addf(&b, "%04d", i);
    s = gs_buf_detach(&b, &n);
    assert_int_equal(n, strlen(s));
    assert_int_equal(n, 17 + 4000);
    assert_null(b.data);
    free(s);
    s = gs_buf_detach(&b, &n);
    assert_string_equal(s, "");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base64url_round_trips_and_rejects_garbage),
        cmocka_unit_test(form_bodies_decode_and_refuse_tricks),
        cmocka_unit_test(json_depth_ignores_strings_and_stops_early),
        cmocka_unit_test(map_puts_gets_deletes_and_sweeps),
        cmocka_unit_test(seeded_generators_repeat_and_guids_are_v4),
        cmocka_unit_test(timestamps_have_graph_and_entra_shapes),
        cmocka_unit_test(copies_truncate_and_numbers_parse),
        cmocka_unit_test(buffers_grow_and_escape_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
