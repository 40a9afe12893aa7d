/* test_jsonw.c - the JSON writer writes what json_dumps(JSON_COMPACT) does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "provflow/jsonw.h"

/* pf_jsonw_dump(v) and json_dumps(v, JSON_COMPACT) agree byte for byte. */
static void assert_same_as_jansson(const json_t *v)
{
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t len = 0;
    char *got = pf_jsonw_dump(v, 0, &len);

    assert_non_null(want);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(want);
    free(got);
}

static void documents_match_jansson(void **state)
{
    static const char *const docs[] = {
        "{}",
        "[]",
        "{\"a\":{},\"b\":[],\"c\":[{}],\"d\":[[]]}",
        "{\"@odata.type\":\"#microsoft.graph.industryData."
        "userProvisioningFlow\",\"creationOptions\":{\"configurations\":"
        "[{\"roleGroupId\":\"staff\",\"defaultPasswordSettings\":{\"@odata."
        "type\":\"#microsoft.graph.industryData.simplePasswordSettings\","
        "\"password\":\"x\"}}]},\"n\":[1,-2,0,9223372036854775807,"
        "-9223372036854775808],\"t\":true,\"f\":false,\"z\":null}",
        "{\"z\":1,\"a\":2,\"m\":3}", /* insertion order, not sorted */
        "[\"h\\u00e9llo \\u4e16\\u754c \\ud83d\\ude00\", \"a/b\", \"\\u007f\"]",
        "[0.5, 1.0, -2.25, 1e300, 1.5e-7, 123456789.125, 3.0e20, 1e-300]",
        "{\"quote\\\"d\":\"back\\\\slash\",\"ctl\":\"\\b\\f\\n\\r\\t\"}",
        "\"lone string\"",
        "42",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        json_t *v = json_loads(docs[i], JSON_DECODE_ANY, NULL);

        assert_non_null(v);
        assert_same_as_jansson(v);
        json_decref(v);
    }
}

/* Every control character, and NUL inside a string. */
static void control_characters_escape_as_jansson(void **state)
{
    char s[40];
    size_t i;
    json_t *v;

    (void)state;
    for (i = 0; i < 32; i++)
        s[i] = (char)i;
    memcpy(s + 32, "\"\\/\x7f", 4);
    v = json_stringn(s, 36);
    assert_non_null(v);
    assert_same_as_jansson(v);
    json_decref(v);
}

/* Masking writes "***" for every "password" member, any case, any depth,
 * and leaves the value itself alone. */
static void mask_replaces_every_password(void **state)
{
    json_t *v = json_loads("{\"password\":\"a\",\"x\":[{\"PassWord\":{\"k\":1}"
                           "}],\"passwords\":\"kept\"}",
                           0, NULL);
    char *before = json_dumps(v, JSON_COMPACT);
    char *got = pf_jsonw_dump(v, PF_JSONW_MASK_SECRETS, NULL);
    char *after = json_dumps(v, JSON_COMPACT);

    (void)state;
    assert_string_equal(got,
                        "{\"password\":\"***\",\"x\":[{\"PassWord\":\"***\""
                        "}],\"passwords\":\"kept\"}");
    assert_string_equal(before, after);
    free(before);
    free(after);
    free(got);
    json_decref(v);
}

/* Keys, values and containers written by hand get their commas. */
static void hand_written_document(void **state)
{
    json_t *sub = json_loads("{\"k\":[1,2]}", 0, NULL);
    pf_jsonw w;
    size_t len;
    char *s;

    (void)state;
    pf_jsonw_init(&w, 1); /* grows from the smallest buffer */
    pf_jsonw_open(&w, '{');
    pf_jsonw_key(&w, "a");
    pf_jsonw_cstr(&w, "x\"y");
    pf_jsonw_key(&w, "b");
    pf_jsonw_int(&w, -7);
    pf_jsonw_key(&w, "c");
    pf_jsonw_cstr(&w, NULL);
    pf_jsonw_key(&w, "d");
    pf_jsonw_open(&w, '[');
    pf_jsonw_open(&w, '{');
    pf_jsonw_close(&w, '}');
    pf_jsonw_null(&w);
    pf_jsonw_value(&w, sub, 0);
    pf_jsonw_string(&w, "a\0b", 3);
    pf_jsonw_close(&w, ']');
    pf_jsonw_key(&w, "e");
    pf_jsonw_value(&w, sub, 0);
    pf_jsonw_close(&w, '}');
    s = pf_jsonw_finish(&w, &len);
    assert_string_equal(s, "{\"a\":\"x\\\"y\",\"b\":-7,\"c\":null,\"d\":[{},"
                           "null,{\"k\":[1,2]},\"a\\u0000b\"],\"e\":{\"k\":"
                           "[1,2]}}");
    assert_int_equal(len, strlen(s));
    free(s);
    json_decref(sub);
}

/* A released writer gives no text; finish leaves it empty. */
static void release_and_finish_reset_the_writer(void **state)
{
    pf_jsonw w;
    char *s;

    (void)state;
    pf_jsonw_init(&w, 8);
    pf_jsonw_int(&w, 1);
    pf_jsonw_release(&w);
    assert_null(w.buf);
    pf_jsonw_init(&w, 8);
    pf_jsonw_int(&w, 2);
    s = pf_jsonw_finish(&w, NULL);
    assert_string_equal(s, "2");
    assert_null(w.buf);
    assert_int_equal(w.len, 0);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(documents_match_jansson),
        cmocka_unit_test(control_characters_escape_as_jansson),
        cmocka_unit_test(mask_replaces_every_password),
        cmocka_unit_test(hand_written_document),
        cmocka_unit_test(release_and_finish_reset_the_writer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
