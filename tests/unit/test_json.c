/* test_json.c - the JSON writer writes what json_dumps(JSON_COMPACT) does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "provflow/json.h"

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

/*
 * Plain strings (written in one piece) and strings with one character to
 * escape at every position (written token by token), of every length
 * around the 8-byte steps, as members' names and as values.
 */
static void escapes_at_every_position_match_jansson(void **state)
{
    static const char specials[] = {'"', '\\', '\n', '\x01', '\x1f'};
    char text[25];
    size_t len, at, k;

    (void)state;
    for (len = 0; len <= 24; len++) {
        for (at = 0; at <= len; at++) {
            for (k = 0; k < sizeof(specials); k++) {
                json_t *v, *o;

                memset(text, 'a', len);
                if (at < len) {
                    text[at] = specials[k];
                } else if (len >= 2) {
                    text[len - 2] = (char)0xc3; /* plain: U+00E9 at the end */
                    text[len - 1] = (char)0xa9;
                }
                v = json_stringn(text, len);
                assert_non_null(v);
                assert_same_as_jansson(v);
                o = json_object();
                assert_int_equal(json_object_setn_new(o, text, len, v), 0);
                assert_same_as_jansson(o);
                json_decref(o);
            }
        }
    }
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

/* pf_jsonw_text() into a fresh writer: the text, or NULL when refused. */
static char *copy_text(const char *text, unsigned flags, char *id,
                       size_t id_size)
{
    pf_jsonw w;

    pf_jsonw_init(&w, 4);
    if (pf_jsonw_text(&w, text, strlen(text), flags, id, id_size) != 0) {
        assert_int_equal(w.len, 0); /* unchanged */
        pf_jsonw_release(&w);
        return NULL;
    }
    return pf_jsonw_finish(&w, NULL);
}

/* Accepted text comes out compact, and jansson reads it as the input. */
static void text_is_copied_compactly(void **state)
{
    static const char *const texts[] = {
        "{}",
        " {\n \"@odata.type\" : \"#microsoft.graph.industryData."
        "userProvisioningFlow\",\r\n\t\"id\": \"6f1a\", \"n\": [1, -2.5e3,"
        " 0, true, false, null, {}, [], [[]]], \"s\": \"\\u00e9\\n\\ud83d"
        "\\ude00\\/ h\u00e9\" } ",
        "{\"a\":{\"b\":{\"c\":[{\"d\":\"e\"}]}}}",
        "{\"id\":1,\"x\":\"\xf0\x9f\x98\x80\"}",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        json_t *in = json_loads(texts[i], 0, NULL), *out;
        char *s = copy_text(texts[i], 0, NULL, 0);

        assert_non_null(in);
        assert_non_null(s);
        out = json_loads(s, 0, NULL);
        assert_non_null(out);
        assert_true(json_equal(in, out));
        json_decref(in);
        json_decref(out);
        free(s);
    }
    /* Whitespace between tokens goes, inside strings it stays. */
    {
        char *s = copy_text(" { \"a b\" : [ 1 , \" x \" ] } ", 0, NULL, 0);

        assert_string_equal(s, "{\"a b\":[1,\" x \"]}");
        free(s);
    }
}

/* Refused: not JSON, not an object, or valid JSON it leaves to jansson. */
static void text_refused(void **state)
{
    static const char *const texts[] = {
        "",
        "[]",
        "\"s\"",
        "{",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":-}",
        "{\"a\":1e}",
        "{\"a\":tru}",
        "{\"a\":\"\x01\"}",
        "{\"a\":\"\xff\"}",
        "{\"a\":\"\xc0\xaf\"}",
        "{\"a\":\"\xed\xa0\x80\"}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\ud800x\"}",
        "{\"a\":1} x",
        "{\"a\":1}{}",
        /* valid, but left to jansson */
        "{\"a\":\"\\u0000\"}",
        "{\"p\\u0061ssword\":\"x\"}",
        "{\"a\":1234567890123456}",
        "{\"a\":1e400}",
        "{\"id\":\"a\\\"b\"}",
    };
    size_t i;
    char id[8];

    (void)state;
    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        char *s = copy_text(texts[i], 0, id, sizeof(id));

        if (s != NULL)
            fail_msg("accepted %s as %s", texts[i], s);
        assert_string_equal(id, "");
    }
    /* Depth: PF_JSONW_TEXT_DEPTH levels pass, one more does not. */
    {
        char deep[2 * PF_JSONW_TEXT_DEPTH + 16], *ok;
        int levels;

        for (levels = PF_JSONW_TEXT_DEPTH; levels <= PF_JSONW_TEXT_DEPTH + 1;
             levels++) {
            int n = snprintf(deep, sizeof(deep), "{\"a\":"), k;

            for (k = 1; k < levels; k++)
                deep[n++] = '[';
            for (k = 1; k < levels; k++)
                deep[n++] = ']';
            memcpy(deep + n, "}", 2);
            ok = copy_text(deep, 0, NULL, 0);
            if (levels == PF_JSONW_TEXT_DEPTH)
                assert_string_equal(ok, deep);
            else
                assert_null(ok);
            free(ok);
        }
    }
}

/* The top-level "id" is returned (the last one), nested ones are not. */
static void text_gives_the_top_level_id(void **state)
{
    char id[40];
    char *s;

    (void)state;
    s = copy_text("{\"x\":{\"id\":\"inner\"},\"id\":\"6f1a-01\"}", 0, id,
                  sizeof(id));
    assert_non_null(s);
    assert_string_equal(id, "6f1a-01");
    free(s);
    s = copy_text("{\"x\":{\"id\":\"inner\"}}", 0, id, sizeof(id));
    assert_string_equal(id, "");
    free(s);
    s = copy_text("{\"id\":\"first\",\"id\":7}", 0, id, sizeof(id));
    assert_string_equal(id, "");
    free(s);
    /* Longer than the buffer: refused (jansson gets it). */
    assert_null(copy_text("{\"id\":\"0123456789\"}", 0, id, 8));
}

/* Every "password" member, at any depth and in any case, is "***". */
static void text_masks_passwords(void **state)
{
    char *s;

    (void)state;
    s = copy_text("{\"password\":{\"deep\":[1,2]},\"a\":[{\"PASSWORD\":"
                  "\"x\"}],\"passwords\":\"kept\",\"b\":\"password\"}",
                  PF_JSONW_MASK_SECRETS, NULL, 0);
    assert_string_equal(s, "{\"password\":\"***\",\"a\":[{\"PASSWORD\":"
                           "\"***\"}],\"passwords\":\"kept\",\"b\":"
                           "\"password\"}");
    free(s);
    /* A bad value under a masked name still refuses the text. */
    assert_null(
        copy_text("{\"password\":[1,}", PF_JSONW_MASK_SECRETS, NULL, 0));
}

/* Copied after a key of a document being written. */
static void text_inside_a_document(void **state)
{
    pf_jsonw w;
    char *s;

    (void)state;
    pf_jsonw_init(&w, 16);
    pf_jsonw_open(&w, '{');
    pf_jsonw_key(&w, "a");
    pf_jsonw_int(&w, 1);
    pf_jsonw_key(&w, "flow");
    assert_int_equal(pf_jsonw_text(&w, "{ \"k\" : 2 }", 11, 0, NULL, 0), 0);
    pf_jsonw_key(&w, "b");
    assert_int_equal(pf_jsonw_text(&w, "{ bad", 5, 0, NULL, 0), -1);
    pf_jsonw_null(&w);
    pf_jsonw_close(&w, '}');
    s = pf_jsonw_finish(&w, NULL);
    assert_string_equal(s, "{\"a\":1,\"flow\":{\"k\":2},\"b\":null}");
    free(s);
}

/* pf_json_parse() gives jansson's value, or jansson's error. */
static void parse_is_jansson(void **state)
{
    static const char *const texts[] = {
        "{}",
        " [ ] ",
        "{\"a\":[1,-2.5e3,0,true,false,null,{},[[]]],\"s\":\"h\xc3\xa9\"}",
        "{\"esc\":\"a\\n\\u00e9\"}",   /* escapes: jansson's path */
        "{\"a\":1,\"a\":2}",           /* duplicates */
        "{\"a\":1234567890123456789}", /* beyond the fast path */
        "{\"a\":1,}",
        "{\"a\":1} x",
        "\"top-level string\"",
        "",
    };
    size_t i, flags;

    (void)state;
    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        for (flags = 0; flags <= JSON_REJECT_DUPLICATES;
             flags += JSON_REJECT_DUPLICATES) {
            json_error_t e1, e2;
            json_t *a = pf_json_parse(texts[i], strlen(texts[i]), flags, &e1);
            json_t *b = json_loadb(texts[i], strlen(texts[i]), flags, &e2);

            if (b == NULL) {
                assert_null(a);
                assert_string_equal(e1.text, e2.text);
                assert_int_equal(e1.line, e2.line);
                assert_int_equal(e1.column, e2.column);
            } else {
                assert_non_null(a);
                assert_true(json_equal(a, b));
            }
            json_decref(a);
            json_decref(b);
        }
    }
}

/* Members keep their order, as jansson's parser keeps it. */
static void parse_keeps_member_order(void **state)
{
    const char *text = "{\"z\":1,\"a\":{\"y\":2,\"b\":3},\"m\":[4]}";
    json_t *v = pf_json_parse(text, strlen(text), 0, NULL);
    char *s = pf_jsonw_dump(v, 0, NULL);

    (void)state;
    assert_string_equal(s, text);
    free(s);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(documents_match_jansson),
        cmocka_unit_test(control_characters_escape_as_jansson),
        cmocka_unit_test(escapes_at_every_position_match_jansson),
        cmocka_unit_test(mask_replaces_every_password),
        cmocka_unit_test(hand_written_document),
        cmocka_unit_test(release_and_finish_reset_the_writer),
        cmocka_unit_test(text_is_copied_compactly),
        cmocka_unit_test(text_refused),
        cmocka_unit_test(text_gives_the_top_level_id),
        cmocka_unit_test(text_masks_passwords),
        cmocka_unit_test(text_inside_a_document),
        cmocka_unit_test(parse_is_jansson),
        cmocka_unit_test(parse_keeps_member_order),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
