/* test_outcome.c - outcome CloudEvents and dead-letter headers. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "provflow/event.h"
#include "provflow/outcome.h"
#include "provflow/redact.h"

#define FLOW_ID "6f1a2c3d-0000-4000-8000-000000000001"
#define FLOW                                                                   \
    "{\"@odata.type\":\"#microsoft.graph.industryData."                        \
    "classGroupProvisioningFlow\",\"id\":\"" FLOW_ID "\","                     \
    "\"readinessStatus\":\"notReady\"}"
#define CRID "c0ffee00-0000-5000-8000-000000000001"
#define SET  "9ab41255-5364-4c53-e15c-08dc4ab6ee03"

/* The envelope up to "data", for an id, a type and an optional subject. */
#define HEAD(id, type, subject)                                                \
    "{\"specversion\":\"1.0\",\"id\":\"" id "\","                              \
    "\"source\":\"urn:provflow:host-1\","                                      \
    "\"type\":\"provflow.provisioningFlow." type "\"" subject                  \
    ",\"time\":\"2024-03-22T21:38:02.716Z\","                                  \
    "\"datacontenttype\":\"application/json\",\"data\":"
#define SUBJECT ",\"subject\":\"" FLOW_ID "\""
#define INPUT                                                                  \
    "\"input\":{\"topic\":\"provisioning.requests\",\"partition\":3,"          \
    "\"offset\":42}"

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);

    assert_non_null(v);
    return v;
}

/* The outcome record, parsed back. */
static json_t *built(const pf_outcome *o)
{
    char *s = pf_outcome_dump(o, NULL, NULL, 0);
    json_t *v;

    assert_non_null(s);
    v = json_loads(s, 0, NULL);
    free(s);
    assert_non_null(v);
    return v;
}

/* A created outcome for "req-1"; tests change what they need. */
static pf_outcome base(const json_t *flow, const pf_outcome_graph *g)
{
    pf_outcome o;

    memset(&o, 0, sizeof(o));
    o.status = PF_OUTCOME_CREATED;
    o.source = "urn:provflow:host-1";
    o.time_ms = 1711143482716LL;
    o.request_id = "req-1";
    o.flow_set_id = SET;
    o.flow_type = "classGroup";
    o.flow = flow;
    o.graph = g;
    o.input.topic = "provisioning.requests";
    o.input.partition = 3;
    o.input.offset = 42;
    return o;
}

static const pf_outcome_graph graph_201 = {201, "rid-1", CRID, 1, 120};

/* Dumps o and compares with expect; also checks the reported length. */
static void assert_dump(const pf_outcome *o, const char *expect)
{
    char err[128] = "";
    size_t len = 0;
    char *s = pf_outcome_dump(o, &len, err, sizeof(err));

    if (s == NULL)
        fail_msg("dump failed: %s", err);
    assert_string_equal(s, expect);
    assert_int_equal(len, strlen(expect));
    free(s);
}

static void created_outcome_is_exact(void **state)
{
    json_t *flow = parse(FLOW);
    pf_outcome o = base(flow, &graph_201);

    (void)state;
    assert_dump(&o,
                HEAD("655271b6-4a6e-55cb-b78a-04c6e45d9adf", "created",
                     SUBJECT) "{\"requestId\":\"req-1\",\"flowSetId\":\"" SET
                              "\",\"flowType\":\"classGroup\","
                              "\"status\":\"created\",\"flow\":" FLOW
                              ",\"graph\":{\"httpStatus\":201,"
                              "\"requestId\":\"rid-1\","
                              "\"clientRequestId\":\"" CRID "\","
                              "\"attempts\":1,\"elapsedMs\":120}," INPUT "}}");
    json_decref(flow);
}

static void exists_outcome_is_exact(void **state)
{
    static const pf_outcome_graph g = {200, "rid-2", CRID, 2, 3456};
    json_t *flow = parse(FLOW);
    pf_outcome o = base(flow, &g);

    (void)state;
    o.status = PF_OUTCOME_EXISTS;
    assert_dump(&o,
                HEAD("f6fb4390-02de-5dc6-a508-6b0de88e3f71", "exists",
                     SUBJECT) "{\"requestId\":\"req-1\",\"flowSetId\":\"" SET
                              "\",\"flowType\":\"classGroup\","
                              "\"status\":\"exists\",\"flow\":" FLOW
                              ",\"graph\":{\"httpStatus\":200,"
                              "\"requestId\":\"rid-2\","
                              "\"clientRequestId\":\"" CRID "\","
                              "\"attempts\":2,\"elapsedMs\":3456}," INPUT "}}");
    json_decref(flow);
}

static void rejected_outcome_keeps_graph_error_essentials(void **state)
{
    static const pf_outcome_graph g = {400, "rid-3", CRID, 1, 80};
    /* Graph's error object with members that must not be copied. */
    json_t *ge =
        parse("{\"code\":\"BadRequest\",\"message\":\"Invalid enum value.\","
              "\"details\":[{\"password\":\"hunter2\"}],"
              "\"body\":{\"password\":\"hunter2\"},"
              "\"innerError\":{\"date\":\"2024-03-22T21:38:02\","
              "\"request-id\":\"rid-3\",\"client-request-id\":\"" CRID "\","
              "\"password\":\"hunter2\"}}");
    pf_outcome_error e = {PF_OUTCOME_REJECTED, "Invalid enum value.", NULL, ge};
    pf_outcome o = base(NULL, &g);
    char *before = json_dumps(ge, JSON_COMPACT);

    (void)state;
    o.status = PF_OUTCOME_FAILED;
    o.error = &e;
    assert_dump(
        &o, HEAD("881fa2c4-be31-5db7-8bcf-8fc3e90405ed", "failed",
                 "") "{\"requestId\":\"req-1\",\"flowSetId\":\"" SET "\","
                     "\"flowType\":\"classGroup\",\"status\":\"failed\","
                     "\"graph\":{\"httpStatus\":400,\"requestId\":\"rid-3\","
                     "\"clientRequestId\":\"" CRID "\",\"attempts\":1,"
                     "\"elapsedMs\":80},"
                     "\"error\":{\"code\":\"rejected\","
                     "\"message\":\"Invalid enum value.\","
                     "\"graphError\":{\"code\":\"BadRequest\","
                     "\"message\":\"Invalid enum value.\","
                     "\"innerError\":{\"date\":\"2024-03-22T21:38:02\","
                     "\"request-id\":\"rid-3\","
                     "\"client-request-id\":\"" CRID "\"}}}," INPUT "}}");
    {
        char *after = json_dumps(ge, JSON_COMPACT);

        assert_string_equal(after, before);
        free(after);
    }
    free(before);
    json_decref(ge);
}

static void retries_exhausted_without_response_has_null_status(void **state)
{
    /* The last attempt timed out: no status, no request-id header. */
    static const pf_outcome_graph g = {0, "", CRID, 10, 1800000};
    pf_outcome_error e = {PF_OUTCOME_RETRIES_EXHAUSTED,
                          "timeout after 30000 ms", NULL, NULL};
    pf_outcome o = base(NULL, &g);

    (void)state;
    o.status = PF_OUTCOME_FAILED;
    o.error = &e;
    assert_dump(&o,
                HEAD("881fa2c4-be31-5db7-8bcf-8fc3e90405ed", "failed",
                     "") "{\"requestId\":\"req-1\",\"flowSetId\":\"" SET "\","
                         "\"flowType\":\"classGroup\",\"status\":\"failed\","
                         "\"graph\":{\"httpStatus\":null,\"requestId\":null,"
                         "\"clientRequestId\":\"" CRID "\",\"attempts\":10,"
                         "\"elapsedMs\":1800000},"
                         "\"error\":{\"code\":\"retries_exhausted\","
                         "\"message\":\"timeout after 30000 ms\"}," INPUT "}}");
}

static void invalid_event_without_id_has_null_request_id(void **state)
{
    pf_outcome_error e = {PF_OUTCOME_INVALID_EVENT, "not a JSON object", "$",
                          NULL};
    pf_outcome o = base(NULL, NULL);

    (void)state;
    o.status = PF_OUTCOME_FAILED;
    o.request_id = NULL;
    o.flow_set_id = NULL;
    o.flow_type = NULL;
    o.error = &e;
    /* The id comes from the input coordinates; no graph member. */
    assert_dump(&o, HEAD("4dd1073f-3a17-564b-b350-591b4896f6c8", "failed",
                         "") "{\"requestId\":null,\"flowSetId\":null,"
                             "\"flowType\":null,\"status\":\"failed\","
                             "\"error\":{\"code\":\"invalid_event\","
                             "\"message\":\"not a JSON object\","
                             "\"path\":\"$\"}," INPUT "}}");
}

static void validated_outcome_has_no_graph(void **state)
{
    json_t *body = parse("{\"a\":1}");
    pf_outcome o = base(body, NULL);

    (void)state;
    o.status = PF_OUTCOME_VALIDATED;
    assert_dump(
        &o, HEAD("93a97b29-aacf-5dca-a893-880bcaabc2d2", "validated",
                 "") "{\"requestId\":\"req-1\",\"flowSetId\":\"" SET
                     "\",\"flowType\":\"classGroup\","
                     "\"status\":\"validated\",\"flow\":{\"a\":1}," INPUT "}}");
    /* A dry run may also leave the flow out. */
    o.flow = NULL;
    assert_dump(&o, HEAD("93a97b29-aacf-5dca-a893-880bcaabc2d2", "validated",
                         "") "{\"requestId\":\"req-1\",\"flowSetId\":\"" SET
                             "\",\"flowType\":\"classGroup\","
                             "\"status\":\"validated\"," INPUT "}}");
    json_decref(body);
}

static void passwords_are_masked_in_a_copy(void **state)
{
    const char *text =
        "{\"id\":\"u1\",\"creationOptions\":{\"configurations\":[{"
        "\"defaultPasswordSettings\":{\"@odata.type\":\"#microsoft.graph."
        "industryData.simplePasswordSettings\",\"Password\":\"hunter2\"}},"
        "{\"password\":{\"nested\":\"hunter3\"}}]}}";
    json_t *flow = parse(text);
    pf_outcome o = base(flow, &graph_201);
    char *before = json_dumps(flow, JSON_COMPACT);
    char *s, *after;

    (void)state;
    s = pf_outcome_dump(&o, NULL, NULL, 0);
    assert_non_null(s);
    assert_null(strstr(s, "hunter"));
    assert_non_null(strstr(s, "\"Password\":\"***\""));
    assert_non_null(strstr(s, "\"password\":\"***\""));
    assert_non_null(strstr(s, "\"subject\":\"u1\""));
    /* The caller's object is unchanged. */
    after = json_dumps(flow, JSON_COMPACT);
    assert_string_equal(after, before);
    assert_non_null(strstr(after, "hunter2"));
    free(after);
    free(before);
    free(s);
    json_decref(flow);
}

static void same_input_gives_same_bytes(void **state)
{
    json_t *flow = parse(FLOW);
    json_t *flow2 = parse(FLOW);
    pf_outcome o = base(flow, &graph_201);
    pf_outcome o2 = base(flow2, &graph_201);
    char *a = pf_outcome_dump(&o, NULL, NULL, 0);
    char *b = pf_outcome_dump(&o, NULL, NULL, 0);
    char *c = pf_outcome_dump(&o2, NULL, NULL, 0);

    (void)state;
    assert_non_null(a);
    assert_string_equal(a, b);
    assert_string_equal(a, c);
    free(a);
    free(b);
    free(c);
    json_decref(flow2);
    json_decref(flow);
}

/* The flow as checked text (Graph's 201 copied by pf_jsonw_text()) gives
 * the same record as the flow as a value; with both, the value wins. */
static void flow_as_text_is_the_same_record(void **state)
{
    json_t *flow = parse(FLOW);
    pf_outcome tree = base(flow, &graph_201);
    pf_outcome text = base(NULL, &graph_201);
    char *a, *b;

    (void)state;
    text.flow_json = FLOW;
    text.flow_json_len = strlen(FLOW);
    text.flow_id = FLOW_ID;
    a = pf_outcome_dump(&tree, NULL, NULL, 0);
    b = pf_outcome_dump(&text, NULL, NULL, 0);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a, b);
    free(b);
    /* No id: no subject. */
    text.flow_id = "";
    b = pf_outcome_dump(&text, NULL, NULL, 0);
    assert_null(strstr(b, "\"subject\""));
    free(b);
    text.flow = flow;
    b = pf_outcome_dump(&text, NULL, NULL, 0);
    assert_non_null(b);
    assert_string_equal(a, b);
    free(b);
    free(a);
    json_decref(flow);
}

static void time_is_rfc3339_utc_with_milliseconds(void **state)
{
    static const struct {
        int64_t ms;
        const char *text; /* NULL: refused */
    } cases[] = {
        {1711143482716LL, "2024-03-22T21:38:02.716Z"},
        {0, "1970-01-01T00:00:00.000Z"},
        {951782400001LL, "2000-02-29T00:00:00.001Z"},
        {1709294399999LL, "2024-03-01T11:59:59.999Z"},
        {PF_OUTCOME_TIME_MAX_MS, "9999-12-31T23:59:59.999Z"},
        {PF_OUTCOME_TIME_MAX_MS + 1, NULL},
        {-1, NULL},
        {INT64_MIN, NULL},
    };
    char out[PF_OUTCOME_TIME_LEN + 1];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].text == NULL) {
            assert_int_equal(pf_outcome_format_time(cases[i].ms, out), -1);
            assert_string_equal(out, "");
        } else {
            assert_int_equal(pf_outcome_format_time(cases[i].ms, out), 0);
            assert_string_equal(out, cases[i].text);
        }
    }
}

static void id_is_uuid5_of_status_and_request(void **state)
{
    pf_outcome o = base(NULL, NULL);
    char id[PF_UUID_STR_LEN + 1];

    (void)state;
    /* Values from Python's uuid.uuid5 (outcome.h). */
    assert_int_equal(pf_outcome_id(&o, id), 0);
    assert_string_equal(id, "655271b6-4a6e-55cb-b78a-04c6e45d9adf");
    /* The coordinates do not matter while the id is known. */
    o.input.offset = 43;
    assert_int_equal(pf_outcome_id(&o, id), 0);
    assert_string_equal(id, "655271b6-4a6e-55cb-b78a-04c6e45d9adf");
    o.status = PF_OUTCOME_EXISTS;
    assert_int_equal(pf_outcome_id(&o, id), 0);
    assert_string_equal(id, "f6fb4390-02de-5dc6-a508-6b0de88e3f71");
    o.status = PF_OUTCOME_FAILED;
    o.request_id = NULL;
    o.input.offset = 42;
    assert_int_equal(pf_outcome_id(&o, id), 0);
    assert_string_equal(id, "4dd1073f-3a17-564b-b350-591b4896f6c8");
    o.input.topic = NULL;
    assert_int_equal(pf_outcome_id(&o, id), -1);
    o.status = (pf_outcome_status)99;
    assert_int_equal(pf_outcome_id(&o, id), -1);
}

static void wrong_combinations_are_refused(void **state)
{
    json_t *flow = parse(FLOW);
    pf_outcome_error e = {PF_OUTCOME_REJECTED, "m", NULL, NULL};
    pf_outcome_error no_msg = {PF_OUTCOME_REJECTED, NULL, NULL, NULL};
    pf_outcome_error bad_code = {(pf_outcome_code)7, "m", NULL, NULL};
    struct {
        const char *what; /* a word the reason must contain */
        pf_outcome o;
    } cases[12];
    char err[128];
    size_t i, n = 0;

    (void)state;
    cases[n].what = "error";
    cases[n].o = base(flow, &graph_201);
    cases[n].o.error = &e; /* created with an error */
    n++;
    cases[n].what = "error";
    cases[n].o = base(NULL, NULL);
    cases[n].o.status = PF_OUTCOME_FAILED; /* failed without error */
    n++;
    cases[n].what = "flow";
    cases[n].o = base(flow, NULL);
    cases[n].o.status = PF_OUTCOME_FAILED;
    cases[n].o.error = &e; /* failed with a flow */
    n++;
    cases[n].what = "message";
    cases[n].o = base(NULL, NULL);
    cases[n].o.status = PF_OUTCOME_FAILED;
    cases[n].o.error = &no_msg;
    n++;
    cases[n].what = "code";
    cases[n].o = base(NULL, NULL);
    cases[n].o.status = PF_OUTCOME_FAILED;
    cases[n].o.error = &bad_code;
    n++;
    cases[n].what = "source";
    cases[n].o = base(flow, &graph_201);
    cases[n].o.source = NULL;
    n++;
    cases[n].what = "source";
    cases[n].o = base(flow, &graph_201);
    cases[n].o.source = "";
    n++;
    cases[n].what = "topic";
    cases[n].o = base(flow, &graph_201);
    cases[n].o.input.topic = NULL;
    n++;
    cases[n].what = "status";
    cases[n].o = base(flow, &graph_201);
    cases[n].o.status = (pf_outcome_status)10;
    n++;
    for (i = 0; i < n; i++) {
        err[0] = '\0';
        assert_null(pf_outcome_dump(&cases[i].o, NULL, err, sizeof(err)));
        if (strstr(err, cases[i].what) == NULL)
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].what);
        assert_null(pf_outcome_dump(&cases[i].o, NULL, NULL, 0));
    }
    json_decref(flow);
}

static void text_is_made_valid_utf8_and_bounded(void **state)
{
    static const pf_outcome_graph g = {400, "rid", CRID, 1, 1};
    char msg[2000];
    pf_outcome_error e = {PF_OUTCOME_REJECTED, msg, NULL, NULL};
    pf_outcome o = base(NULL, &g);
    json_t *ev = NULL;
    const char *m;

    (void)state;
    o.status = PF_OUTCOME_FAILED;
    o.error = &e;
    /* An invalid byte, a truncated sequence, a surrogate, an overlong. */
    snprintf(msg, sizeof(msg),
             "a\xff"
             "b\xc3"
             "c\xed\xa0\x80"
             "d\xc0\xaf"
             "e\xc3\xa9");
    ev = built(&o);
    m = json_string_value(json_object_get(
        json_object_get(json_object_get(ev, "data"), "error"), "message"));
    assert_string_equal(m, "a\xef\xbf\xbd"
                           "b\xef\xbf\xbd"
                           "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                           "d\xef\xbf\xbd\xef\xbf\xbd"
                           "e\xc3\xa9");
    json_decref(ev);

    /* 1023 ASCII bytes then "é": the two-byte character does not fit. */
    memset(msg, 'x', 1023);
    memcpy(msg + 1023, "\xc3\xa9tail", 7);
    ev = built(&o);
    m = json_string_value(json_object_get(
        json_object_get(json_object_get(ev, "data"), "error"), "message"));
    assert_int_equal(strlen(m), 1023);
    json_decref(ev);
}

/*
 * The event's trace context goes into the outcome (CloudEvents
 * distributed-tracing extension, after datacontenttype) and the dead
 * letter (W3C header names, after provflow's own), the event's own span
 * as the parent.
 */
static void
the_trace_context_is_in_the_outcome_and_the_dead_letter(void **state)
{
    static char ts[] = "rojo=1,congo=2";
    const pf_trace t = {"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7",
                        1, false, ts};
    pf_error e;
    pf_outcome_build b;
    pf_outcome_dlq dlq;
    char err[128], *text;
    json_t *ev;

    (void)state;
    pf_error_set(&e, "invalid_event", "data.flowType", "unknown");
    pf_outcome_of_invalid(&b, &e, "req-9", "urn:provflow:h", 1711143482716LL,
                          (pf_outcome_input){"in", 1, 5});
    pf_outcome_trace(&b, &t);
    text = pf_outcome_dump(&b.o, NULL, err, sizeof(err));
    assert_non_null(text);
    assert_non_null(strstr(
        text, "\"datacontenttype\":\"application/json\",\"traceparent\":"
              "\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\","
              "\"tracestate\":\"rojo=1,congo=2\",\"data\":"));
    free(text);
    assert_int_equal(pf_outcome_dlq_headers(&b.o, &dlq, err, sizeof(err)), 0);
    assert_int_equal(dlq.count, 8);
    assert_string_equal(dlq.headers[6].name, "traceparent");
    assert_string_equal(
        dlq.headers[6].value,
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    assert_int_equal(dlq.headers[6].value_len, PF_TRACE_PARENT_LEN);
    assert_string_equal(dlq.headers[7].name, "tracestate");
    assert_string_equal(dlq.headers[7].value, ts);

    /* no trace id (a zeroed trace): nothing written */
    pf_outcome_of_invalid(&b, &e, "req-9", "urn:provflow:h", 1711143482716LL,
                          (pf_outcome_input){"in", 1, 5});
    pf_outcome_trace(&b, &(pf_trace){0});
    ev = built(&b.o);
    assert_null(json_object_get(ev, "traceparent"));
    assert_null(json_object_get(ev, "tracestate"));
    json_decref(ev);
}

static void dead_letter_headers_are_decimal_text(void **state)
{
    static const pf_outcome_graph g = {409, "rid", CRID, 3, 10};
    pf_outcome_error e = {PF_OUTCOME_REJECTED, "Conflict.", NULL, NULL};
    static const char *const names[] = {
        "provflow-error-code",       "provflow-error-message",
        "provflow-attempts",         "provflow-source-topic",
        "provflow-source-partition", "provflow-source-offset",
    };
    const char *values[] = {
        "rejected", "Conflict.", "3", "provisioning.requests", "3", "42"};
    pf_outcome o = base(NULL, &g);
    pf_outcome_dlq dlq;
    char err[128];
    size_t i;

    (void)state;
    o.status = PF_OUTCOME_FAILED;
    o.error = &e;
    o.input.offset = 42;
    assert_int_equal(pf_outcome_dlq_headers(&o, &dlq, err, sizeof(err)), 0);
    assert_int_equal(dlq.count, 6); /* no trace: no trace headers */
    for (i = 0; i < dlq.count; i++) {
        assert_string_equal(dlq.headers[i].name, names[i]);
        assert_int_equal(dlq.headers[i].value_len, strlen(values[i]));
        assert_memory_equal(dlq.headers[i].value, values[i], strlen(values[i]));
    }

    /* An invalid event: no graph, a path; big coordinates. */
    e.code = PF_OUTCOME_INVALID_EVENT;
    e.message = "required boolean is missing";
    e.path = "data.flow.configuration.additionalOptions.createTeam";
    o.graph = NULL;
    o.input.partition = INT32_MAX;
    o.input.offset = INT64_MAX;
    assert_int_equal(pf_outcome_dlq_headers(&o, &dlq, err, sizeof(err)), 0);
    assert_string_equal(dlq.headers[0].value, "invalid_event");
    assert_string_equal(dlq.headers[1].value,
                        "data.flow.configuration.additionalOptions."
                        "createTeam: required boolean is missing");
    assert_string_equal(dlq.headers[2].value, "0");
    assert_string_equal(dlq.headers[4].value, "2147483647");
    assert_string_equal(dlq.headers[5].value, "9223372036854775807");
}

static void dead_letter_message_is_bounded(void **state)
{
    char msg[2000];
    pf_outcome_error e = {PF_OUTCOME_RETRIES_EXHAUSTED, msg, NULL, NULL};
    pf_outcome o = base(NULL, NULL);
    pf_outcome_dlq dlq;

    (void)state;
    memset(msg, 'y', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    o.status = PF_OUTCOME_FAILED;
    o.error = &e;
    assert_int_equal(pf_outcome_dlq_headers(&o, &dlq, NULL, 0), 0);
    assert_int_equal(dlq.headers[1].value_len, PF_OUTCOME_DLQ_MESSAGE_MAX - 1);
}

/* data.<name> of a built record, as a string; NULL when absent. */
static const char *data_text(json_t *ev, const char *name)
{
    return json_string_value(
        json_object_get(json_object_get(ev, "data"), name));
}

/*
 * Whatever Graph's 201 (or the existing flow) looked like, and whatever the
 * clock said, a created or exists outcome is built: every combination the
 * caller can pass after an unreadable body (no flow, a flow that is not an
 * object, an id from Location or none, a note or none).
 */
static void created_outcome_builds_whatever_graph_answered(void **state)
{
    static const char *const flows[] = {
        NULL,       FLOW,   "{}",  "[1,2]",
        "\"text\"", "null", "3.5", "{\"id\":\"\",\"password\":\"Pw-x\"}",
    };
    static const char *const flow_texts[] = {NULL, FLOW, "{\"a\":1}"};
    static const char *const ids[] = {NULL, "", "id-from-location"};
    static const char *const notes[] = {
        NULL, "", "Graph's 201 body is not JSON: flow id taken from Location"};
    static const int64_t times[] = {
        INT64_MIN, -5, 0, 1711143482716LL, PF_OUTCOME_TIME_MAX_MS + 1,
        INT64_MAX};
    static const pf_outcome_status statuses[] = {PF_OUTCOME_CREATED,
                                                 PF_OUTCOME_EXISTS};
    size_t a, b, c, d, t, st, built_count = 0;

    (void)state;
    for (a = 0; a < sizeof(flows) / sizeof(flows[0]); a++) {
        json_t *flow = flows[a] != NULL
                           ? json_loads(flows[a], JSON_DECODE_ANY, NULL)
                           : NULL;

        for (b = 0; b < 3; b++)
            for (c = 0; c < 3; c++)
                for (d = 0; d < 3; d++)
                    for (t = 0; t < sizeof(times) / sizeof(times[0]); t++)
                        for (st = 0; st < 2; st++) {
                            pf_outcome o =
                                base(flow, t % 2 ? &graph_201 : NULL);
                            bool has_flow;
                            const char *warning, *subject;
                            char err[128] = "";
                            json_t *ev;
                            char *text;

                            o.status = statuses[st];
                            o.time_ms = times[t];
                            o.flow_json = flow_texts[b];
                            o.flow_json_len =
                                flow_texts[b] ? strlen(flow_texts[b]) : 0;
                            o.flow_id = ids[c];
                            o.note = notes[d];
                            text = pf_outcome_dump(&o, NULL, err, sizeof(err));
                            if (text == NULL)
                                fail_msg("flow %zu text %zu id %zu note %zu "
                                         "time %zu: %s",
                                         a, b, c, d, t, err);
                            ev = json_loads(text, 0, NULL);
                            assert_non_null(ev);
                            free(text);
                            built_count++;
                            has_flow =
                                json_object_get(json_object_get(ev, "data"),
                                                "flow") != NULL;
                            assert_int_equal(has_flow,
                                             json_is_object(flow) ||
                                                 flow_texts[b] != NULL);
                            warning = data_text(ev, "warning");
                            if (d == 2)
                                assert_string_equal(warning, notes[2]);
                            else if (!has_flow)
                                assert_non_null(warning);
                            else if (flow != NULL && !json_is_object(flow) &&
                                     flow_texts[b] == NULL)
                                assert_non_null(warning);
                            subject = json_string_value(
                                json_object_get(ev, "subject"));
                            if (json_is_object(flow) && a == 1)
                                assert_string_equal(subject, FLOW_ID);
                            else if (c == 2)
                                assert_string_equal(subject, ids[2]);
                            else
                                assert_null(subject);
                            assert_non_null(
                                json_string_value(json_object_get(ev, "time")));
                            json_decref(ev);
                        }
        json_decref(flow);
    }
    assert_int_equal(built_count, 8 * 3 * 3 * 3 * 6 * 2);
}

/* Everything the outcome says of an error, as one text. */
static char *error_texts(const pf_outcome *o)
{
    char *s = pf_outcome_dump(o, NULL, NULL, 0);

    assert_non_null(s);
    return s;
}

/*
 * A Graph 400 that quotes the request body: its passwords (inline, from a
 * secrets file, any letter case, any depth) and the registered client
 * secret are masked in every form, in error.message, error.graphError,
 * data.warning and the provflow-error-message header.
 */
static void
request_passwords_are_masked_in_errors_and_dead_letters(void **state)
{
    static const pf_outcome_graph g = {400, "rid", CRID, 1, 10};
    static const char *const secrets[] = {
        "PwInline-7f3a",
        "PwFile-9c2e",
        "Pw Space+Plus/&\"x",
        "cs-client-1234",
    };
    static const char *const extra[] = {"Pw Space+Plus/&\"x"};
    json_t *body = parse(
        "{\"displayName\":\"u\",\"creationOptions\":{\"configurations\":["
        "{\"defaultPasswordSettings\":{\"password\":\"PwInline-7f3a\"}},"
        "{\"defaultPasswordSettings\":{\"PASSWORD\":\"PwFile-9c2e\"}}]}}");
    json_t *ge;
    char msg[1024], *text;
    pf_outcome_error e = {PF_OUTCOME_REJECTED, msg, "$.data", NULL};
    pf_outcome o = base(NULL, &g);
    pf_outcome_dlq dlq;
    size_t i;

    (void)state;
    assert_int_equal(pf_redact_add("cs-client-1234"), 0);
    snprintf(msg, sizeof(msg),
             "Invalid request body: {\"password\":\"PwInline-7f3a\"},"
             "{\"PASSWORD\":\"PwFile-9c2e\"} form: client_secret=cs%%2Dclient"
             "%%2D1234 %%50wInline-7f3a Pw+Space%%2BPlus%%2F%%26%%22x "
             "JSON: Pw Space+Plus\\/&\\\"x\r\n\x1b[2J");
    ge = json_pack("{s:s, s:s, s:{s:s, s:s}}", "code", "BadRequest", "message",
                   msg, "innerError", "date", "PwFile-9c2e", "request-id",
                   "rid");
    assert_non_null(ge);
    e.graph_error = ge;
    o.status = PF_OUTCOME_FAILED;
    o.error = &e;
    o.mask_body = body;
    o.mask = extra;
    o.mask_count = 1;
    text = error_texts(&o);
    assert_int_equal(pf_outcome_dlq_headers(&o, &dlq, NULL, 0), 0);
    for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        if (strstr(text, secrets[i]) != NULL)
            fail_msg("outcome holds %s: %s", secrets[i], text);
        if (strstr(dlq.message, secrets[i]) != NULL)
            fail_msg("dead letter holds %s: %s", secrets[i], dlq.message);
    }
    assert_null(strstr(text, "PwInline"));
    assert_null(strstr(text, "7f3a"));
    assert_null(strstr(dlq.message, "7f3a"));
    assert_non_null(strstr(text, "{\\\"password\\\":\\\"***\\\"}"));
    assert_non_null(strstr(text, "\"date\":\"***\""));
    assert_non_null(strstr(dlq.message, "client_secret=*** *** *** JSON: ***"));
    /* no raw control characters in the header */
    assert_non_null(strstr(dlq.message, "\\r\\n\\x1b[2J"));
    for (i = 0; dlq.message[i] != '\0'; i++)
        assert_true((unsigned char)dlq.message[i] >= 0x20 &&
                    dlq.message[i] != 0x7f);
    assert_int_equal(dlq.headers[1].value_len, strlen(dlq.message));
    assert_int_equal(strncmp(dlq.message, "$.data: ", 8), 0);
    free(text);

    /* Without the request's values, only the registered secret goes. */
    o.mask_body = NULL;
    o.mask = NULL;
    o.mask_count = 0;
    text = error_texts(&o);
    assert_non_null(strstr(text, "PwInline-7f3a"));
    assert_null(strstr(text, "cs-client-1234"));
    free(text);

    /* A note is free text too. */
    o = base(NULL, &graph_201);
    o.note = "201 body echoed PwFile-9c2e";
    o.mask_body = body;
    text = error_texts(&o);
    assert_null(strstr(text, "PwFile"));
    assert_non_null(strstr(text, "\"warning\":\"201 body echoed ***\""));
    free(text);

    pf_redact_forget();
    json_decref(ge);
    json_decref(body);
}

/* A secret beyond the cut is masked before the text is cut. */
static void masking_comes_before_the_cut(void **state)
{
    static const char *const pw[] = {"PwAtTheCut-0123456789"};
    char msg[PF_OUTCOME_TEXT_MAX + 64];
    pf_outcome_error e = {PF_OUTCOME_REJECTED, msg, NULL, NULL};
    pf_outcome o = base(NULL, NULL);
    pf_outcome_dlq dlq;
    char *text;

    (void)state;
    memset(msg, 'y', PF_OUTCOME_TEXT_MAX - 8);
    snprintf(msg + PF_OUTCOME_TEXT_MAX - 8,
             sizeof(msg) - PF_OUTCOME_TEXT_MAX + 8, "%s", pw[0]);
    o.status = PF_OUTCOME_FAILED;
    o.error = &e;
    o.mask = pw;
    o.mask_count = 1;
    text = error_texts(&o);
    assert_null(strstr(text, "PwAtThe"));
    free(text);
    memset(msg, 'y', PF_OUTCOME_DLQ_MESSAGE_MAX - 8);
    snprintf(msg + PF_OUTCOME_DLQ_MESSAGE_MAX - 8,
             sizeof(msg) - PF_OUTCOME_DLQ_MESSAGE_MAX + 8, "%s", pw[0]);
    assert_int_equal(pf_outcome_dlq_headers(&o, &dlq, NULL, 0), 0);
    assert_null(strstr(dlq.message, "PwAtThe"));
}

static void dead_letter_headers_need_a_failed_outcome(void **state)
{
    char topic[PF_OUTCOME_TOPIC_MAX + 2];
    json_t *flow = parse(FLOW);
    pf_outcome_error e = {PF_OUTCOME_REJECTED, "m", NULL, NULL};
    pf_outcome o = base(flow, &graph_201);
    pf_outcome_dlq dlq;
    char err[128] = "";

    (void)state;
    assert_int_equal(pf_outcome_dlq_headers(&o, &dlq, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "failed"));
    assert_null(dlq.headers[0].name);
    o.flow = NULL;
    o.status = PF_OUTCOME_FAILED;
    assert_int_equal(pf_outcome_dlq_headers(&o, &dlq, NULL, 0), -1);
    o.error = &e;
    memset(topic, 't', sizeof(topic) - 1);
    topic[sizeof(topic) - 1] = '\0';
    o.input.topic = topic; /* 250 characters: one too many */
    assert_int_equal(pf_outcome_dlq_headers(&o, &dlq, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "topic"));
    topic[PF_OUTCOME_TOPIC_MAX] = '\0';
    assert_int_equal(pf_outcome_dlq_headers(&o, &dlq, NULL, 0), 0);
    assert_int_equal(dlq.headers[3].value_len, PF_OUTCOME_TOPIC_MAX);
    json_decref(flow);
}

static void names_cover_the_enums(void **state)
{
    (void)state;
    assert_string_equal(pf_outcome_status_name(PF_OUTCOME_CREATED), "created");
    assert_string_equal(pf_outcome_status_name(PF_OUTCOME_EXISTS), "exists");
    assert_string_equal(pf_outcome_status_name(PF_OUTCOME_FAILED), "failed");
    assert_string_equal(pf_outcome_status_name(PF_OUTCOME_VALIDATED),
                        "validated");
    assert_string_equal(pf_outcome_status_name(PF_OUTCOME_UPDATED), "updated");
    assert_string_equal(pf_outcome_status_name(PF_OUTCOME_DELETED), "deleted");
    assert_string_equal(pf_outcome_status_name(PF_OUTCOME_ABSENT), "absent");
    assert_string_equal(pf_outcome_status_name(PF_OUTCOME_RESET), "reset");
    assert_string_equal(pf_outcome_status_name(PF_OUTCOME_STARTED), "started");
    assert_string_equal(pf_outcome_status_name(PF_OUTCOME_RUN_REJECTED),
                        "rejected");
    assert_null(pf_outcome_status_name((pf_outcome_status)10));
    assert_null(pf_outcome_status_name((pf_outcome_status)-1));
    assert_string_equal(pf_outcome_code_name(PF_OUTCOME_INVALID_EVENT),
                        "invalid_event");
    assert_string_equal(pf_outcome_code_name(PF_OUTCOME_REJECTED), "rejected");
    assert_string_equal(pf_outcome_code_name(PF_OUTCOME_RETRIES_EXHAUSTED),
                        "retries_exhausted");
    assert_string_equal(pf_outcome_code_name(PF_OUTCOME_RUN_LIMIT),
                        "run_limit");
    assert_null(pf_outcome_code_name((pf_outcome_code)4));
}

/*
 * The chain's completion (outcome.h): pf_outcome_of_result(),
 * pf_outcome_of_invalid() and pf_outcome_of_request() build the outcome
 * from a Graph result, an intake error or a dry run's request; asserted on
 * the dumped record.
 */

#define CHAIN_PW "PwChain-5e1d"

static const pf_outcome_input chain_in = {"provisioning.requests", 3, 42};

/* A user flow request whose body holds a password. */
static void chain_request(pf_request *req)
{
    memset(req, 0, sizeof(*req));
    req->flow = pf_flow_kind_by_name("user");
    assert_non_null(req->flow);
    snprintf(req->flow_set_id, sizeof(req->flow_set_id), "%s", SET);
    snprintf(req->client_request_id, sizeof(req->client_request_id), "%s",
             CRID);
    req->op = pf_op_of(PF_OP_FLOW_CREATE);
    req->body = parse("{\"displayName\":\"u\",\"creationOptions\":{"
                      "\"configurations\":[{\"defaultPasswordSettings\":{"
                      "\"password\":\"" CHAIN_PW "\"}}]}}");
}

/* The password of chain_request()'s body, in flow. */
static const char *chain_password(const json_t *flow)
{
    const json_t *c = json_object_get(json_object_get(flow, "creationOptions"),
                                      "configurations");

    c = json_object_get(json_array_get(c, 0), "defaultPasswordSettings");
    return json_string_value(json_object_get(c, "password"));
}

static pf_graph_result chain_result(pf_graph_status status, long http_status)
{
    pf_graph_result r;

    memset(&r, 0, sizeof(r));
    r.status = status;
    r.http_status = http_status;
    snprintf(r.request_id, sizeof(r.request_id), "rid-7");
    r.attempts = 2;
    r.elapsed_ms = 345;
    return r;
}

/* The record of b, parsed; it never holds the request's password. */
static json_t *chain_dump(const pf_outcome_build *b)
{
    char err[128] = "";
    char *s = pf_outcome_dump(&b->o, NULL, err, sizeof(err));
    json_t *v;

    if (s == NULL)
        fail_msg("dump failed: %s", err);
    assert_null(strstr(s, CHAIN_PW));
    v = json_loads(s, 0, NULL);
    free(s);
    assert_non_null(v);
    return v;
}

static const char *str_at(const json_t *v, const char *a, const char *b)
{
    const json_t *x = json_object_get(v, a);

    if (b != NULL)
        x = json_object_get(x, b);
    return json_string_value(x);
}

static json_int_t int_at(const json_t *v, const char *a, const char *b)
{
    const json_t *x = json_object_get(json_object_get(v, a), b);

    assert_true(json_is_integer(x));
    return json_integer_value(x);
}

/* What every outcome of the chain says of its request and input. */
static void assert_chain_common(const json_t *ev, const char *status)
{
    char type[64];
    const json_t *data = json_object_get(ev, "data");
    const json_t *input = json_object_get(data, "input");

    snprintf(type, sizeof(type), PF_OUTCOME_TYPE_PREFIX "%s", status);
    assert_string_equal(str_at(ev, "type", NULL), type);
    assert_string_equal(str_at(ev, "source", NULL), "urn:provflow:host-1");
    assert_string_equal(str_at(ev, "time", NULL), "2024-03-22T21:38:02.716Z");
    assert_string_equal(str_at(data, "status", NULL), status);
    assert_string_equal(str_at(input, "topic", NULL), "provisioning.requests");
    assert_int_equal(int_at(data, "input", "partition"), 3);
    assert_int_equal(int_at(data, "input", "offset"), 42);
}

/* The Graph block of a result: the last attempt and the request's id. */
static void assert_chain_graph(const json_t *data, long http_status)
{
    const json_t *g = json_object_get(data, "graph");

    assert_true(json_is_object(g));
    if (http_status == 0)
        assert_true(json_is_null(json_object_get(g, "httpStatus")));
    else
        assert_int_equal(int_at(data, "graph", "httpStatus"), http_status);
    assert_string_equal(str_at(g, "requestId", NULL), "rid-7");
    assert_string_equal(str_at(g, "clientRequestId", NULL), CRID);
    assert_int_equal(int_at(data, "graph", "attempts"), 2);
    assert_int_equal(int_at(data, "graph", "elapsedMs"), 345);
}

/* CREATED: the flow, its id, the note as the warning, the Graph block. */
static void chain_created_result_is_a_created_outcome(void **state)
{
    pf_graph_result r = chain_result(PF_GRAPH_CREATED, 201);
    json_t *flow = parse(FLOW), *ev, *data;
    pf_outcome_build b;
    pf_request req;

    (void)state;
    chain_request(&req);
    r.flow = flow;
    snprintf(r.flow_id, sizeof(r.flow_id), "%s", FLOW_ID);
    snprintf(r.note, sizeof(r.note), "201 body echoed %s", CHAIN_PW);
    pf_outcome_of_result(&b, &r, &req, "req-1", "urn:provflow:host-1",
                         1711143482716LL, chain_in);
    assert_ptr_equal(b.o.mask_body, req.body);
    ev = chain_dump(&b);
    data = json_object_get(ev, "data");
    assert_chain_common(ev, "created");
    assert_string_equal(str_at(ev, "subject", NULL), FLOW_ID);
    assert_string_equal(str_at(data, "requestId", NULL), "req-1");
    assert_string_equal(str_at(data, "flowSetId", NULL), SET);
    assert_string_equal(str_at(data, "flowType", NULL), "user");
    assert_true(json_equal(json_object_get(data, "flow"), flow));
    assert_string_equal(str_at(data, "warning", NULL), "201 body echoed ***");
    assert_chain_graph(data, 201);
    assert_null(json_object_get(data, "error"));
    json_decref(ev);

    /* The flow as checked text, and no note. */
    r.flow = NULL;
    r.flow_json = FLOW;
    r.flow_json_len = strlen(FLOW);
    r.note[0] = '\0';
    pf_outcome_of_result(&b, &r, &req, "req-1", "urn:provflow:host-1",
                         1711143482716LL, chain_in);
    ev = chain_dump(&b);
    data = json_object_get(ev, "data");
    assert_true(json_equal(json_object_get(data, "flow"), flow));
    assert_null(json_object_get(data, "warning"));
    assert_string_equal(str_at(ev, "subject", NULL), FLOW_ID);
    json_decref(ev);

    /* No flow, an id from Location: a subject and a warning. */
    r.flow_json = NULL;
    r.flow_json_len = 0;
    snprintf(r.flow_id, sizeof(r.flow_id), "from-location");
    snprintf(r.note, sizeof(r.note), "Graph's 201 body is not JSON");
    pf_outcome_of_result(&b, &r, &req, NULL, "urn:provflow:host-1",
                         1711143482716LL, chain_in);
    ev = chain_dump(&b);
    data = json_object_get(ev, "data");
    assert_string_equal(str_at(ev, "subject", NULL), "from-location");
    assert_null(json_object_get(data, "flow"));
    assert_string_equal(str_at(data, "warning", NULL),
                        "Graph's 201 body is not JSON");
    assert_true(json_is_null(json_object_get(data, "requestId")));
    json_decref(ev);

    json_decref(flow);
    json_decref(req.body);
}

/* EXISTS: the existing flow, the Graph block. */
static void chain_exists_result_is_an_exists_outcome(void **state)
{
    pf_graph_result r = chain_result(PF_GRAPH_EXISTS, 200);
    json_t *flow = parse(FLOW), *ev, *data;
    pf_outcome_build b;
    pf_request req;

    (void)state;
    chain_request(&req);
    r.flow = flow;
    pf_outcome_of_result(&b, &r, &req, "req-1", "urn:provflow:host-1",
                         1711143482716LL, chain_in);
    ev = chain_dump(&b);
    data = json_object_get(ev, "data");
    assert_chain_common(ev, "exists");
    assert_string_equal(str_at(ev, "subject", NULL), FLOW_ID);
    assert_string_equal(str_at(data, "flowSetId", NULL), SET);
    assert_string_equal(str_at(data, "flowType", NULL), "user");
    assert_true(json_equal(json_object_get(data, "flow"), flow));
    assert_null(json_object_get(data, "warning"));
    assert_chain_graph(data, 200);
    assert_null(json_object_get(data, "error"));
    json_decref(ev);
    json_decref(flow);
    json_decref(req.body);
}

/* FAILED: the code from the result's, Graph's message and error masked. */
static void chain_failed_result_maps_the_code(void **state)
{
    static const struct {
        const char *error_code, *code;
        long http_status;
    } rows[] = {
        {"rejected", "rejected", 400},
        {"retries_exhausted", "retries_exhausted", 503},
        {"retries_exhausted", "retries_exhausted", 0}, /* no answer */
        {NULL, "retries_exhausted", 0},
    };
    json_t *ge =
        json_pack("{s:s, s:s, s:s, s:[s], s:{s:s, s:s}}", "code", "BadRequest",
                  "message", "password " CHAIN_PW " is too weak", "target",
                  "password", "details", CHAIN_PW, "innerError", "date",
                  "2024-03-22T21:38:02", "request-id", "rid-7");
    size_t i;

    (void)state;
    assert_non_null(ge);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pf_graph_result r = chain_result(PF_GRAPH_FAILED, rows[i].http_status);
        const json_t *err, *gerr;
        json_t *ev, *data;
        pf_outcome_build b;
        pf_request req;

        chain_request(&req);
        r.error_code = rows[i].error_code;
        snprintf(r.message, sizeof(r.message), "Graph said: %s is weak",
                 CHAIN_PW);
        r.graph_error = i == 0 ? ge : NULL;
        pf_outcome_of_result(&b, &r, &req, "req-1", "urn:provflow:host-1",
                             1711143482716LL, chain_in);
        ev = chain_dump(&b);
        data = json_object_get(ev, "data");
        assert_chain_common(ev, "failed");
        assert_null(json_object_get(ev, "subject"));
        assert_null(json_object_get(data, "flow"));
        assert_string_equal(str_at(data, "flowSetId", NULL), SET);
        assert_string_equal(str_at(data, "flowType", NULL), "user");
        assert_chain_graph(data, rows[i].http_status);
        err = json_object_get(data, "error");
        assert_string_equal(str_at(err, "code", NULL), rows[i].code);
        assert_string_equal(str_at(err, "message", NULL),
                            "Graph said: *** is weak");
        assert_null(json_object_get(err, "path"));
        gerr = json_object_get(err, "graphError");
        if (i == 0) {
            assert_string_equal(str_at(gerr, "code", NULL), "BadRequest");
            assert_string_equal(str_at(gerr, "message", NULL),
                                "password *** is too weak");
            assert_string_equal(str_at(gerr, "target", NULL), "password");
            assert_null(json_object_get(gerr, "details"));
            assert_string_equal(str_at(gerr, "innerError", "request-id"),
                                "rid-7");
        } else {
            assert_null(gerr);
        }
        json_decref(ev);
        json_decref(req.body);
    }
    json_decref(ge);
}

/* An intake error: invalid_event at its path, no Graph block. */
static void chain_invalid_event_is_a_failed_outcome(void **state)
{
    pf_outcome_build b;
    const json_t *err;
    json_t *ev, *data;
    pf_error e;

    (void)state;
    pf_error_set(&e, "invalid_event", "data.flowSetId",
                 "\"12345\" is not a GUID");
    pf_outcome_of_invalid(&b, &e, "bad-1", "urn:provflow:host-1",
                          1711143482716LL, chain_in);
    ev = chain_dump(&b);
    data = json_object_get(ev, "data");
    assert_chain_common(ev, "failed");
    assert_string_equal(str_at(data, "requestId", NULL), "bad-1");
    assert_null(json_object_get(data, "graph"));
    assert_null(json_object_get(data, "flow"));
    err = json_object_get(data, "error");
    assert_string_equal(str_at(err, "code", NULL), "invalid_event");
    assert_string_equal(str_at(err, "path", NULL), "data.flowSetId");
    assert_string_equal(str_at(err, "message", NULL),
                        "\"12345\" is not a GUID");
    assert_null(json_object_get(err, "graphError"));
    json_decref(ev);

    /* Unreadable: no id, the whole value. */
    pf_error_set(&e, "invalid_event", "$", "not JSON");
    pf_outcome_of_invalid(&b, &e, NULL, "urn:provflow:host-1", 1711143482716LL,
                          chain_in);
    ev = chain_dump(&b);
    data = json_object_get(ev, "data");
    assert_true(json_is_null(json_object_get(data, "requestId")));
    assert_string_equal(str_at(data, "error", "path"), "$");
    assert_string_equal(str_at(data, "error", "message"), "not JSON");
    json_decref(ev);

    /* An error without a path (memory ran out): the path is left out. */
    pf_error_set(&e, "internal", NULL, "out of memory");
    pf_outcome_of_invalid(&b, &e, "bad-2", "urn:provflow:host-1",
                          1711143482716LL, chain_in);
    ev = chain_dump(&b);
    data = json_object_get(ev, "data");
    assert_string_equal(str_at(data, "error", "code"), "invalid_event");
    assert_null(json_object_get(json_object_get(data, "error"), "path"));
    json_decref(ev);
}

/* A dry run: validated, the request body as the flow, no Graph block. */
static void chain_dry_run_request_is_a_validated_outcome(void **state)
{
    pf_outcome_build b;
    pf_request req;
    const json_t *flow;
    json_t *ev, *data;

    (void)state;
    chain_request(&req);
    pf_outcome_of_request(&b, &req, "req-1", "urn:provflow:host-1",
                          1711143482716LL, chain_in);
    ev = chain_dump(&b);
    data = json_object_get(ev, "data");
    assert_chain_common(ev, "validated");
    assert_null(json_object_get(ev, "subject"));
    assert_string_equal(str_at(data, "requestId", NULL), "req-1");
    assert_string_equal(str_at(data, "flowSetId", NULL), SET);
    assert_string_equal(str_at(data, "flowType", NULL), "user");
    assert_null(json_object_get(data, "graph"));
    assert_null(json_object_get(data, "error"));
    assert_null(json_object_get(data, "warning"));
    flow = json_object_get(data, "flow");
    assert_string_equal(str_at(flow, "displayName", NULL), "u");
    /* The body as sent, its password masked; the caller's untouched. */
    assert_string_equal(chain_password(flow), "***");
    assert_string_equal(chain_password(req.body), CHAIN_PW);
    json_decref(ev);
    json_decref(req.body);
}

/* A request of event type type, transformed from its data (no secrets). */
static void lifecycle_request(pf_request *req, const char *type,
                              const char *data)
{
    pf_transform_opts opts = {NULL, NULL};
    char json[1024];
    pf_record rec = {0};
    pf_error err;
    pf_event ev;

    snprintf(json, sizeof(json),
             "{\"specversion\":\"1.0\",\"id\":\"ev-1\",\"source\":\"s\","
             "\"type\":\"%s\",\"data\":%s}",
             type, data);
    rec.value = json;
    rec.value_len = strlen(json);
    assert_int_equal(pf_event_decode(&rec, &ev, &err), 0);
    assert_int_equal(pf_transform(&ev, &opts, req, &err), 0);
    pf_event_release(&ev);
}

/*
 * Every status of the lifecycle: its type provflow.<entity>.<status>, its
 * data, Graph's object under the operation's member, and where a dead
 * letter goes (rejected: yes; absent: no).
 */
static void lifecycle_results_are_their_outcomes(void **state)
{
    static const struct {
        const char *event_type, *data;
        pf_graph_status status;
        const char *type, *member;
    } cases[] = {
        {"provflow.provisioningFlowSet.create",
         "{\"flowSet\":{\"displayName\":\"District A\"}}", PF_GRAPH_CREATED,
         "provflow.provisioningFlowSet.created", "flowSet"},
        {"provflow.provisioningFlowSet.create",
         "{\"flowSet\":{\"displayName\":\"District A\"}}", PF_GRAPH_EXISTS,
         "provflow.provisioningFlowSet.exists", "flowSet"},
        {"provflow.provisioningFlow.update",
         "{\"flowSetName\":\"District A\",\"flowType\":\"user\",\"flow\":{"
         "\"managementOptions\":{\"additionalOptions\":{}}}}",
         PF_GRAPH_DONE, "provflow.provisioningFlow.updated", NULL},
        {"provflow.provisioningFlow.delete",
         "{\"flowSetId\":\"" SET "\",\"flowType\":\"classGroup\"}",
         PF_GRAPH_DONE, "provflow.provisioningFlow.deleted", NULL},
        {"provflow.provisioningFlow.delete",
         "{\"flowSetId\":\"" SET "\",\"flowType\":\"classGroup\"}",
         PF_GRAPH_ABSENT, "provflow.provisioningFlow.absent", NULL},
        {"provflow.provisioningFlow.reset",
         "{\"flowSetId\":\"" SET "\",\"flowId\":\"f-1\"}", PF_GRAPH_DONE,
         "provflow.provisioningFlow.reset", NULL},
        {"provflow.industryDataRun.start", "{}", PF_GRAPH_DONE,
         "provflow.industryDataRun.started", NULL},
        {"provflow.industryDataRun.start", "{}", PF_GRAPH_EXISTS,
         "provflow.industryDataRun.exists", "run"},
        {"provflow.industryDataRun.start", "{}", PF_GRAPH_REJECTED,
         "provflow.industryDataRun.rejected", NULL},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pf_graph_result r = chain_result(cases[i].status, 204);
        json_t *obj = parse("{\"id\":\"obj-1\",\"displayName\":\"District "
                            "A\"}"),
               *ev, *data;
        const char *status;
        pf_outcome_build b;
        pf_outcome_dlq dlq;
        pf_request req;

        print_message("case %zu: %s\n", i, cases[i].type);
        lifecycle_request(&req, cases[i].event_type, cases[i].data);
        if (cases[i].member != NULL) {
            r.flow = obj;
            snprintf(r.flow_id, sizeof(r.flow_id), "obj-1");
        }
        if (cases[i].status == PF_GRAPH_ABSENT)
            snprintf(r.note, sizeof(r.note), "the set has no flow");
        if (cases[i].status == PF_GRAPH_REJECTED) {
            r.error_code = "run_limit";
            r.retry_after_s = 3600;
            snprintf(r.message, sizeof(r.message), "TooManyRequests: 5 runs");
        }
        if (strcmp(cases[i].type, "provflow.industryDataRun.started") == 0)
            r.operation_url = "https://op/1";
        if (strcmp(cases[i].event_type, "provflow.provisioningFlow.update") ==
            0)
            r.flow_set_id = "resolved-set";
        pf_outcome_of_result(&b, &r, &req, "ev-1", "urn:provflow:host-1",
                             1711143482716LL, chain_in);
        ev = chain_dump(&b);
        data = json_object_get(ev, "data");
        status = strrchr(cases[i].type, '.') + 1;
        assert_string_equal(str_at(ev, "type", NULL), cases[i].type);
        assert_string_equal(str_at(data, "status", NULL), status);
        if (cases[i].member != NULL) {
            assert_true(
                json_equal(json_object_get(data, cases[i].member), obj));
            assert_string_equal(str_at(ev, "subject", NULL), "obj-1");
        }
        assert_null(
            json_object_get(data, cases[i].member != NULL &&
                                          strcmp(cases[i].member, "flow") != 0
                                      ? "flow"
                                      : "flowSet"));
        /* A dead letter for rejected only; absent is no failure. */
        assert_int_equal(pf_outcome_dlq_headers(&b.o, &dlq, NULL, 0) == 0,
                         cases[i].status == PF_GRAPH_REJECTED);
        if (cases[i].status == PF_GRAPH_REJECTED) {
            assert_string_equal(str_at(data, "error", "code"), "run_limit");
            assert_int_equal(
                json_integer_value(json_object_get(data, "retryAfterSeconds")),
                3600);
            assert_string_equal(dlq.code, "run_limit");
        } else {
            assert_null(json_object_get(data, "error"));
        }
        if (cases[i].status == PF_GRAPH_ABSENT)
            assert_string_equal(str_at(data, "warning", NULL),
                                "the set has no flow");
        if (strcmp(status, "started") == 0)
            assert_string_equal(str_at(data, "operationUrl", NULL),
                                "https://op/1");
        else
            assert_null(json_object_get(data, "operationUrl"));
        /* The set's id: Graph's (created, resolved) over the event's. */
        if (strcmp(cases[i].type, "provflow.provisioningFlow.updated") == 0)
            assert_string_equal(str_at(data, "flowSetId", NULL),
                                "resolved-set");
        else if (strstr(cases[i].data, SET) != NULL)
            assert_string_equal(str_at(data, "flowSetId", NULL), SET);
        json_decref(ev);
        json_decref(obj);
        pf_request_release(&req);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(created_outcome_is_exact),
        cmocka_unit_test(exists_outcome_is_exact),
        cmocka_unit_test(rejected_outcome_keeps_graph_error_essentials),
        cmocka_unit_test(retries_exhausted_without_response_has_null_status),
        cmocka_unit_test(invalid_event_without_id_has_null_request_id),
        cmocka_unit_test(validated_outcome_has_no_graph),
        cmocka_unit_test(passwords_are_masked_in_a_copy),
        cmocka_unit_test(same_input_gives_same_bytes),
        cmocka_unit_test(flow_as_text_is_the_same_record),
        cmocka_unit_test(time_is_rfc3339_utc_with_milliseconds),
        cmocka_unit_test(id_is_uuid5_of_status_and_request),
        cmocka_unit_test(wrong_combinations_are_refused),
        cmocka_unit_test(text_is_made_valid_utf8_and_bounded),
        cmocka_unit_test(dead_letter_headers_are_decimal_text),
        cmocka_unit_test(
            the_trace_context_is_in_the_outcome_and_the_dead_letter),
        cmocka_unit_test(dead_letter_message_is_bounded),
        cmocka_unit_test(dead_letter_headers_need_a_failed_outcome),
        cmocka_unit_test(names_cover_the_enums),
        cmocka_unit_test(created_outcome_builds_whatever_graph_answered),
        cmocka_unit_test(
            request_passwords_are_masked_in_errors_and_dead_letters),
        cmocka_unit_test(masking_comes_before_the_cut),
        cmocka_unit_test(chain_created_result_is_a_created_outcome),
        cmocka_unit_test(chain_exists_result_is_an_exists_outcome),
        cmocka_unit_test(chain_failed_result_maps_the_code),
        cmocka_unit_test(chain_invalid_event_is_a_failed_outcome),
        cmocka_unit_test(chain_dry_run_request_is_a_validated_outcome),
        cmocka_unit_test(lifecycle_results_are_their_outcomes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
