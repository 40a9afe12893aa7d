/* test_event.c - CloudEvents decoding in both Kafka content modes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "provflow/event.h"

#define DATA "{\"flowSetId\":\"9ab41255-5364-4c53-e15c-08dc4ab6ee03\"}"
#define STRUCTURED(attrs)                                                      \
    "{\"specversion\":\"1.0\",\"id\":\"req-1\",\"source\":\"urn:sis\","        \
    "\"type\":\"provflow.provisioningFlow.create\"" attrs ",\"data\":" DATA    \
    "}"

static int decode(const char *value, const pf_header *h, size_t nh,
                  pf_event *ev, pf_error *err)
{
    pf_record rec = {.value = value,
                     .value_len = strlen(value),
                     .headers = h,
                     .header_count = nh};

    return pf_event_decode(&rec, ev, err);
}

#define H(n, v)                                                                \
    {                                                                          \
        n, v, sizeof(v) - 1                                                    \
    }

static void structured_event_keeps_attributes_and_data(void **state)
{
    pf_event ev;
    pf_error err;

    (void)state;
    assert_int_equal(decode(STRUCTURED(",\"tenantid\":\"contoso.edu\","
                                       "\"time\":\"2024-03-22T21:28:02.7Z\""),
                            NULL, 0, &ev, &err),
                     0);
    assert_int_equal(ev.mode, PF_MODE_STRUCTURED);
    assert_string_equal(ev.id, "req-1");
    assert_string_equal(ev.source, "urn:sis");
    assert_string_equal(ev.tenantid, "contoso.edu");
    assert_string_equal(ev.time, "2024-03-22T21:28:02.7Z");
    assert_non_null(json_object_get(ev.data, "flowSetId"));
    pf_event_release(&ev);
}

static void binary_event_reads_ce_headers(void **state)
{
    const pf_header h[] = {
        H("content-type", "application/json; charset=utf-8"),
        H("ce_specversion", "1.0"),
        H("ce_id", "bin-1"),
        H("ce_source", "urn:sis"),
        H("ce_type", "provflow.provisioningFlow.create"),
        H("ce_tenantid", "t1"),
    };
    pf_event ev;
    pf_error err;

    (void)state;
    assert_int_equal(decode(DATA, h, 6, &ev, &err), 0);
    assert_int_equal(ev.mode, PF_MODE_BINARY);
    assert_string_equal(ev.id, "bin-1");
    assert_string_equal(ev.tenantid, "t1");
    assert_null(ev.time);
    assert_non_null(json_object_get(ev.data, "flowSetId"));
    pf_event_release(&ev);
}

static void cloudevents_content_type_is_structured(void **state)
{
    const pf_header h[] = {H("Content-Type", "application/cloudevents+json")};
    pf_event ev;
    pf_error err;

    (void)state;
    assert_int_equal(decode(STRUCTURED(""), h, 1, &ev, &err), 0);
    assert_int_equal(ev.mode, PF_MODE_STRUCTURED);
    pf_event_release(&ev);
}

static void last_header_of_a_name_wins(void **state)
{
    const pf_header h[] = {
        H("ce_specversion", "1.0"), H("ce_id", "first"),
        H("ce_source", "s"),        H("ce_type", PF_EVENT_TYPE_CREATE),
        H("ce_id", "second"),
    };
    pf_event ev;
    pf_error err;

    (void)state;
    assert_int_equal(decode(DATA, h, 5, &ev, &err), 0);
    assert_string_equal(ev.id, "second");
    pf_event_release(&ev);
}

/*
 * A binary event behind `noise` unrelated headers (tracing, other ce_*
 * extensions), with every ce_id `dups` times (the last one "bin-last").
 */
static int decode_noisy(size_t noise, size_t dups, pf_event *ev, pf_error *err)
{
    static const pf_header tail[] = {
        H("content-type", "application/json"),
        H("ce_specversion", "1.0"),
        H("ce_source", "urn:sis"),
        H("ce_type", PF_EVENT_TYPE_CREATE),
    };
    size_t n = noise + dups + 4, i, k = 0;
    pf_header *h = calloc(n, sizeof(*h));
    int rc;

    assert_non_null(h);
    for (i = 0; i < noise; i++)
        h[k++] =
            (pf_header){i % 2 ? "traceparent" : "ce_traceparent", "00-1", 4};
    for (i = 0; i < dups; i++)
        h[k++] = i + 1 < dups ? (pf_header){"ce_id", "earlier", 7}
                              : (pf_header){"CE_ID", "bin-last", 8};
    for (i = 0; i < 4; i++)
        h[k++] = tail[i];
    rc = decode(DATA, h, n, ev, err);
    free(h);
    return rc;
}

static void any_number_of_other_headers_is_read(void **state)
{
    static const struct {
        size_t noise, dups;
    } rows[] = {{64, 1}, {65, 1}, {1000, 1}, {64, 64}, {1000, 1000}};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pf_event ev;
        pf_error err;

        assert_int_equal(decode_noisy(rows[i].noise, rows[i].dups, &ev, &err),
                         0);
        assert_int_equal(ev.mode, PF_MODE_BINARY);
        assert_string_equal(ev.id, "bin-last");
        pf_event_release(&ev);
    }
}

static void the_decoder_names_the_headers_it_reads(void **state)
{
    static const char *const used[] = {
        "content-type",   "Content-Type",  "ce_id",   "ce_specversion",
        "ce_source",      "ce_type",       "ce_time", "CE_TENANTID",
        "ce_traceparent", "CE_TRACESTATE",
    };
    static const char *const unused[] = {
        "traceparent", "ce_datacontenttype", "ce_", "content-type2", "",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(used) / sizeof(used[0]); i++)
        assert_true(pf_event_header_used(used[i]));
    for (i = 0; i < sizeof(unused) / sizeof(unused[0]); i++)
        assert_false(pf_event_header_used(unused[i]));
}

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

/* The tracing extension is read in both modes, as it came. */
static void tracing_attributes_are_read_in_both_modes(void **state)
{
    const pf_header h[] = {
        H("content-type", "application/json"),
        H("ce_specversion", "1.0"),
        H("ce_id", "bin-1"),
        H("ce_source", "urn:sis"),
        H("ce_type", "provflow.provisioningFlow.create"),
        H("ce_traceparent", TP),
        H("ce_tracestate", "rojo=1"),
    };
    pf_event ev;
    pf_error err;

    (void)state;
    assert_int_equal(decode(STRUCTURED(",\"traceparent\":\"" TP "\","
                                       "\"tracestate\":\"rojo=1\""),
                            NULL, 0, &ev, &err),
                     0);
    assert_string_equal(ev.traceparent, TP);
    assert_string_equal(ev.tracestate, "rojo=1");
    pf_event_release(&ev);
    assert_int_equal(decode(DATA, h, sizeof(h) / sizeof(h[0]), &ev, &err), 0);
    assert_string_equal(ev.traceparent, TP);
    assert_string_equal(ev.tracestate, "rojo=1");
    pf_event_release(&ev);
}

/*
 * A traceparent is never a reason to refuse an event: one that is not a
 * string is left out; an invalid event keeps the trace it carried.
 */
static void tracing_never_fails_an_event_and_survives_a_failure(void **state)
{
    pf_event ev;
    pf_error err;

    (void)state;
    assert_int_equal(decode(STRUCTURED(",\"traceparent\":42,"
                                       "\"tracestate\":{\"a\":1}"),
                            NULL, 0, &ev, &err),
                     0);
    assert_null(ev.traceparent);
    assert_null(ev.tracestate);
    pf_event_release(&ev);
    assert_int_equal(decode("{\"id\":\"bad-1\",\"specversion\":\"0.3\","
                            "\"traceparent\":\"" TP "\"}",
                            NULL, 0, &ev, &err),
                     -1);
    assert_string_equal(ev.id, "bad-1");
    assert_string_equal(ev.traceparent, TP);
    pf_event_release(&ev);
}

static void failure_keeps_the_id_for_the_outcome(void **state)
{
    pf_event ev;
    pf_error err;

    (void)state;
    assert_int_equal(decode("{\"specversion\":\"1.0\",\"id\":\"x9\","
                            "\"source\":\"s\",\"type\":\"other\",\"data\":{}}",
                            NULL, 0, &ev, &err),
                     -1);
    assert_string_equal(ev.id, "x9");
    assert_string_equal(err.path, "type");
    assert_null(ev.data);
    pf_event_release(&ev);
}

/* Each row: value, headers, expected error path. */
static const struct bad {
    const char *what, *value, *path;
    pf_header headers[4];
    size_t nh;
} bad[] = {
    {"empty value", "", "$", {{0}}, 0},
    {"not json", "{", "$", {{0}}, 0},
    {"array", "[]", "$", {{0}}, 0},
    {"duplicate keys", "{\"id\":\"a\",\"id\":\"b\"}", "$", {{0}}, 0},
    {"specversion 0.3",
     "{\"specversion\":\"0.3\",\"id\":\"a\",\"source\":\"s\","
     "\"type\":\"" PF_EVENT_TYPE_CREATE "\",\"data\":{}}",
     "specversion",
     {{0}},
     0},
    {"id number",
     "{\"specversion\":\"1.0\",\"id\":7,\"source\":\"s\",\"type\":\"t\"}",
     "id",
     {{0}},
     0},
    {"empty source",
     "{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"\",\"type\":\"t\"}",
     "source",
     {{0}},
     0},
    {"bad time", STRUCTURED(",\"time\":\"yesterday\""), "time", {{0}}, 0},
    {"bad month",
     STRUCTURED(",\"time\":\"2024-13-01T00:00:00Z\""),
     "time",
     {{0}},
     0},
    {"tenant with slash",
     STRUCTURED(",\"tenantid\":\"a/b\""),
     "tenantid",
     {{0}},
     0},
    {"datacontenttype xml",
     STRUCTURED(",\"datacontenttype\":\"text/xml\""),
     "datacontenttype",
     {{0}},
     0},
    {"data_base64",
     STRUCTURED(",\"data_base64\":\"AAAA\""),
     "data_base64",
     {{0}},
     0},
    {"unsupported content type",
     DATA,
     "content-type",
     {H("content-type", "text/plain")},
     1},
    {"json without ce headers",
     DATA,
     "ce_specversion",
     {H("content-type", "application/json")},
     1},
    {"binary without id",
     DATA,
     "ce_id",
     {H("ce_specversion", "1.0"), H("ce_source", "s"),
      H("ce_type", PF_EVENT_TYPE_CREATE)},
     3},
    {"binary data not object",
     "[1]",
     "$",
     {H("ce_specversion", "1.0"), H("ce_id", "a"), H("ce_source", "s"),
      H("ce_type", PF_EVENT_TYPE_CREATE)},
     4},
};

static void invalid_events_name_the_attribute(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pf_event ev;
        pf_error err;
        int rc = decode(bad[i].value, bad[i].headers, bad[i].nh, &ev, &err);

        if (rc != -1 || strcmp(err.path, bad[i].path) != 0)
            fail_msg("%s: rc %d path '%s' (want '%s')", bad[i].what, rc,
                     err.path, bad[i].path);
        assert_string_equal(err.code, "invalid_event");
        assert_true(err.message[0] != '\0');
        pf_event_release(&ev);
    }
}

static void id_longer_than_256_characters_is_refused(void **state)
{
    char value[1024];
    char id[258];
    pf_event ev;
    pf_error err;

    (void)state;
    memset(id, 'a', 257);
    id[257] = '\0';
    snprintf(value, sizeof(value),
             "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"s\","
             "\"type\":\"" PF_EVENT_TYPE_CREATE "\",\"data\":{}}",
             id);
    assert_int_equal(decode(value, NULL, 0, &ev, &err), -1);
    assert_string_equal(err.path, "id");
    pf_event_release(&ev);
    id[256] = '\0'; /* exactly 256 is fine */
    snprintf(value, sizeof(value),
             "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"s\","
             "\"type\":\"" PF_EVENT_TYPE_CREATE "\",\"data\":{}}",
             id);
    assert_int_equal(decode(value, NULL, 0, &ev, &err), 0);
    pf_event_release(&ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(structured_event_keeps_attributes_and_data),
        cmocka_unit_test(binary_event_reads_ce_headers),
        cmocka_unit_test(cloudevents_content_type_is_structured),
        cmocka_unit_test(last_header_of_a_name_wins),
        cmocka_unit_test(any_number_of_other_headers_is_read),
        cmocka_unit_test(the_decoder_names_the_headers_it_reads),
        cmocka_unit_test(tracing_attributes_are_read_in_both_modes),
        cmocka_unit_test(tracing_never_fails_an_event_and_survives_a_failure),
        cmocka_unit_test(failure_keeps_the_id_for_the_outcome),
        cmocka_unit_test(invalid_events_name_the_attribute),
        cmocka_unit_test(id_longer_than_256_characters_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
