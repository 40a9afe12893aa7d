/*
 * test_transform.c - events that must decode and transform, and exactly
 * what they become: the seed's four examples byte for byte (golden files in
 * tests/data/seed), the URL and client-request-id, determinism, and each
 * input convenience of docs/events.md, "Conveniences".
 *
 * JSON inside C strings is written with single quotes; sq() turns them into
 * double quotes, so the cases stay readable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "provflow/error.h"
#include "provflow/event.h"
#include "provflow/record.h"
#include "provflow/reqid.h"
#include "provflow/secrets.h"
#include "provflow/transform.h"

#define SEED_DIR    PF_TEST_DATA_DIR "/seed"
#define FLOW_SET_ID "9ab41255-5364-4c53-e15c-08dc4ab6ee03"
#define NS          "#microsoft.graph.industryData."
#define FLOWS_URL(r)                                                           \
    r "/beta/external/industryData/outboundProvisioningFlowSets/"
#define ROLE_GROUPS "/beta/external/industryData/roleGroups/"

/* The four seed events of events.ndjson, in file order. */
static const struct seed {
    const char *name; /* tests/data/seed/<name>.expected.json */
    const char *id;
    /* uuid5(uuid5(NAMESPACE_URL, "urn:provflow:client-request-id"), id),
     * computed with Python's uuid module, not with provflow. */
    const char *client_request_id;
    const char *flow_type;
} seeds[] = {
    {"admin-unit", "seed-1-admin-unit", "495b88d7-2991-54a6-9dba-89d60171f26f",
     "administrativeUnit"},
    {"class-group", "seed-2-class-group",
     "901d0248-ceea-560f-9e78-9fd950cdede7", "classGroup"},
    {"security-group", "seed-3-security-group",
     "ce4fff18-4e57-5460-9c5e-7f4fa8534447", "securityGroup"},
    {"user", "seed-4-user", "1590a89c-3bbe-5cef-97c8-71c566728473", "user"},
};
#define SEED_COUNT (sizeof(seeds) / sizeof(seeds[0]))

/* The temporary secrets directory shared by the tests of this file. */
static char secrets_dir[] = "/tmp/pf-test-transform-XXXXXX";
static pf_secrets *secrets;

/* A heap copy of s with every ' turned into ". */
static char *sq(const char *s)
{
    char *out = strdup(s);
    char *p;

    assert_non_null(out);
    for (p = out; *p != '\0'; p++) {
        if (*p == '\'')
            *p = '"';
    }
    return out;
}

/*
 * A heap buffer holding exactly len bytes of s, without a terminating NUL,
 * so that the sanitizers catch a decoder that reads past a record's value
 * or a header's value.
 */
static void *exact_copy(const char *s, size_t len)
{
    void *p = malloc(len > 0 ? len : 1);

    assert_non_null(p);
    memcpy(p, s, len);
    return p;
}

static void write_file(const char *dir, const char *name, const char *content)
{
    char path[512];
    FILE *f;

    assert_true(snprintf(path, sizeof(path), "%s/%s", dir, name) <
                (int)sizeof(path));
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(content, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void remove_file(const char *dir, const char *name)
{
    char path[512];

    if (snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path))
        unlink(path);
}

static int group_setup(void **state)
{
    char errstr[256];

    (void)state;
    if (mkdtemp(secrets_dir) == NULL)
        return -1;
    write_file(secrets_dir, "staff-initial", "Initial-Pa55\n");
    write_file(secrets_dir, "students.initial", "Crlf-Pa55\r\n");
    secrets = pf_secrets_new(secrets_dir, errstr, sizeof(errstr));
    return secrets == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    pf_secrets_destroy(secrets);
    remove_file(secrets_dir, "staff-initial");
    remove_file(secrets_dir, "students.initial");
    rmdir(secrets_dir);
    return 0;
}

static char *dump(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);

    assert_non_null(s);
    return s;
}

/* Decodes a structured-mode event given as JSON text (double quotes). */
static void decode_ok(const char *json, const pf_header *headers,
                      size_t header_count, pf_event *ev)
{
    size_t len = strlen(json);
    void *value = exact_copy(json, len);
    pf_record rec = {NULL, 0, value, len, headers, header_count};
    pf_error err;

    pf_error_clear(&err);
    if (pf_event_decode(&rec, ev, &err) != 0)
        fail_msg("decode failed: %s: %s", err.path, err.message);
    free(value);
}

/*
 * pf_transform_text() writes the body with no tree: the same request as
 * pf_transform() then pf_request_compact(), byte for byte, with the same
 * passwords kept for masking.
 */
static void same_as_text(const pf_event *ev, const pf_transform_opts *opts,
                         const pf_request *tree)
{
    pf_request text, compact = *tree;
    char *want;
    pf_error err;

    pf_error_clear(&err);
    if (pf_transform_text(ev, opts, &text, &err) != 0)
        fail_msg("transform (text) failed: %s: %s", err.path, err.message);
    want = dump(tree->body);
    assert_non_null(text.body_text);
    assert_string_equal(text.body_text, want);
    assert_int_equal(text.body_len, strlen(want));
    compact.body = json_deep_copy(tree->body);
    compact.body_text = NULL;
    assert_int_equal(pf_request_compact(&compact), 0);
    assert_string_equal(compact.body_text, want);
    if (compact.body == NULL)
        assert_null(text.body);
    else
        assert_true(json_equal(compact.body, text.body));
    assert_string_equal(text.base, tree->base);
    assert_string_equal(text.client_request_id, tree->client_request_id);
    assert_ptr_equal(text.flow, tree->flow);
    free(want);
    json_decref(compact.body);
    free(compact.body_text);
    pf_request_release(&text);
}

static void transform_ok(const pf_event *ev, const pf_transform_opts *opts,
                         pf_request *req)
{
    pf_error err;

    pf_error_clear(&err);
    if (pf_transform(ev, opts, req, &err) != 0)
        fail_msg("transform failed: %s: %s", err.path, err.message);
    assert_non_null(req->body);
    assert_non_null(req->base);
    same_as_text(ev, opts, req);
}

/*
 * Decodes and transforms a structured-mode event written with single
 * quotes; returns the body's compact dump (caller frees) and, when url is
 * not NULL, a copy of the URL.
 */
static char *body_of(const char *sq_event, const pf_transform_opts *opts,
                     char **url)
{
    char *json = sq(sq_event);
    pf_event ev;
    pf_request req;
    char *out;

    decode_ok(json, NULL, 0, &ev);
    transform_ok(&ev, opts, &req);
    out = dump(req.body);
    if (url != NULL) {
        size_t n = pf_request_url(&req, NULL, NULL, NULL, 0) + 1;

        *url = malloc(n);
        assert_non_null(*url);
        pf_request_url(&req, NULL, NULL, *url, n);
    }
    pf_request_release(&req);
    pf_event_release(&ev);
    free(json);
    return out;
}

/* The dump of a JSON document written with single quotes. */
static char *canonical(const char *sq_json)
{
    char *json = sq(sq_json);
    json_error_t jerr;
    json_t *v = json_loads(json, JSON_PRESERVE_ORDER, &jerr);
    char *out;

    if (v == NULL)
        fail_msg("bad expected JSON in the test: %s", jerr.text);
    out = dump(v);
    json_decref(v);
    free(json);
    return out;
}

static void assert_body(const char *sq_event, const pf_transform_opts *opts,
                        const char *sq_expected)
{
    char *got = body_of(sq_event, opts, NULL);
    char *want = canonical(sq_expected);

    assert_string_equal(got, want);
    free(got);
    free(want);
}

static char *expected_body(const char *name)
{
    char path[512];
    json_error_t jerr;
    json_t *v;
    char *out;

    assert_true(snprintf(path, sizeof(path), "%s/%s.expected.json", SEED_DIR,
                         name) < (int)sizeof(path));
    v = json_load_file(path, JSON_PRESERVE_ORDER | JSON_REJECT_DUPLICATES,
                       &jerr);
    if (v == NULL)
        fail_msg("%s: %s", path, jerr.text);
    out = dump(v);
    json_decref(v);
    return out;
}

/* The lines of events.ndjson; lines[i] belongs to seeds[i]. */
static void read_seed_events(char *lines[SEED_COUNT])
{
    FILE *f = fopen(SEED_DIR "/events.ndjson", "r");
    char *line = NULL;
    size_t cap = 0, n = 0;
    ssize_t len;

    assert_non_null(f);
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[len - 1] = '\0';
        assert_true(n < SEED_COUNT);
        lines[n] = strdup(line);
        assert_non_null(lines[n]);
        n++;
    }
    free(line);
    fclose(f);
    assert_int_equal(n, SEED_COUNT);
}

static void free_lines(char *lines[SEED_COUNT])
{
    size_t i;

    for (i = 0; i < SEED_COUNT; i++)
        free(lines[i]);
}

static void seed_events_become_the_expected_bodies_byte_for_byte(void **state)
{
    pf_transform_opts opts = {NULL, NULL};
    char *lines[SEED_COUNT];
    size_t i;

    (void)state;
    read_seed_events(lines);
    for (i = 0; i < SEED_COUNT; i++) {
        pf_event ev;
        pf_request req;
        char *got, *want;

        decode_ok(lines[i], NULL, 0, &ev);
        assert_int_equal(ev.mode, PF_MODE_STRUCTURED);
        assert_string_equal(ev.id, seeds[i].id);
        transform_ok(&ev, &opts, &req);
        got = dump(req.body);
        want = expected_body(seeds[i].name);
        assert_string_equal(got, want);
        assert_non_null(req.flow);
        assert_string_equal(req.flow->flow_type, seeds[i].flow_type);
        free(got);
        free(want);
        pf_request_release(&req);
        pf_event_release(&ev);
    }
    free_lines(lines);
}

static void seed_events_post_to_the_lower_case_flow_sets_path(void **state)
{
    pf_transform_opts opts = {NULL, NULL};
    char *lines[SEED_COUNT];
    size_t i;

    (void)state;
    read_seed_events(lines);
    for (i = 0; i < SEED_COUNT; i++) {
        pf_event ev;
        pf_request req;
        char url[512];

        decode_ok(lines[i], NULL, 0, &ev);
        transform_ok(&ev, &opts, &req);
        pf_request_url(&req, NULL, NULL, url, sizeof(url));
        assert_string_equal(url, FLOWS_URL("https://graph.microsoft.com")
                                     FLOW_SET_ID "/provisioningFlows");
        assert_string_equal(req.flow_set_id, FLOW_SET_ID);
        pf_request_release(&req);
        pf_event_release(&ev);
    }
    free_lines(lines);
}

static void client_request_id_is_the_uuid5_of_the_event_id(void **state)
{
    pf_transform_opts opts = {NULL, NULL};
    char *lines[SEED_COUNT];
    size_t i;

    (void)state;
    read_seed_events(lines);
    for (i = 0; i < SEED_COUNT; i++) {
        pf_event ev;
        pf_request req;

        decode_ok(lines[i], NULL, 0, &ev);
        transform_ok(&ev, &opts, &req);
        assert_string_equal(req.client_request_id, seeds[i].client_request_id);
        pf_request_release(&req);
        pf_event_release(&ev);
    }
    free_lines(lines);
}

/* The seed events in binary content mode: data as the value, ce_* headers. */
static void binary_mode_gives_the_same_bodies_as_structured(void **state)
{
    pf_transform_opts opts = {NULL, NULL};
    char *lines[SEED_COUNT];
    size_t i;

    (void)state;
    read_seed_events(lines);
    for (i = 0; i < SEED_COUNT; i++) {
        static const char *const attrs[] = {"specversion", "id",   "source",
                                            "type",        "time", "tenantid"};
        /* Header names in several cases: they compare case-insensitively. */
        static const char *const names[] = {"ce_specversion", "ce_id",
                                            "CE_Source",      "ce_type",
                                            "ce_time",        "ce_tenantid"};
        pf_header headers[8];
        void *hvalues[8];
        size_t n = 0, k;
        json_error_t jerr;
        json_t *ce = json_loads(lines[i], JSON_PRESERVE_ORDER, &jerr);
        char *data, *got, *want;
        void *value;
        pf_record rec;
        pf_event ev;
        pf_request req;
        pf_error err;

        assert_non_null(ce);
        for (k = 0; k < sizeof(attrs) / sizeof(attrs[0]); k++) {
            const char *v = json_string_value(json_object_get(ce, attrs[k]));

            if (v == NULL)
                continue;
            hvalues[n] = exact_copy(v, strlen(v));
            headers[n].name = names[k];
            headers[n].value = hvalues[n];
            headers[n].value_len = strlen(v);
            n++;
        }
        hvalues[n] = exact_copy("application/json", 16);
        headers[n].name = "Content-Type";
        headers[n].value = hvalues[n];
        headers[n].value_len = 16;
        n++;
        data = dump(json_object_get(ce, "data"));
        value = exact_copy(data, strlen(data));
        rec = (pf_record){NULL, 0, value, strlen(data), headers, n};

        pf_error_clear(&err);
        if (pf_event_decode(&rec, &ev, &err) != 0)
            fail_msg("%s: %s: %s", seeds[i].name, err.path, err.message);
        assert_int_equal(ev.mode, PF_MODE_BINARY);
        assert_string_equal(ev.id, seeds[i].id);
        assert_string_equal(ev.source, "urn:sis:example");
        assert_string_equal(ev.type, PF_EVENT_TYPE_CREATE);
        transform_ok(&ev, &opts, &req);
        got = dump(req.body);
        want = expected_body(seeds[i].name);
        assert_string_equal(got, want);
        assert_string_equal(req.client_request_id, seeds[i].client_request_id);

        free(got);
        free(want);
        pf_request_release(&req);
        pf_event_release(&ev);
        free(value);
        free(data);
        for (k = 0; k < n; k++)
            free(hvalues[k]);
        json_decref(ce);
    }
    free_lines(lines);
}

static void binary_mode_uses_the_last_header_of_a_name(void **state)
{
    static const char data[] =
        "{\"flowSetId\":\"" FLOW_SET_ID "\",\"flowType\":\"securityGroup\","
        "\"flow\":{\"creationOptions\":{\"createBasedOnRoleGroup\":true,"
        "\"createBasedOnOrgPlusRoleGroup\":false}}}";
    const pf_header headers[] = {
        {"ce_specversion", "1.0", 3},
        {"ce_id", "first-id", 8},
        {"ce_source", "urn:sis:test", 12},
        {"ce_type", "wrong.type", 10},
        {"content-type", "text/plain", 10},
        {"ce_type", PF_EVENT_TYPE_CREATE, strlen(PF_EVENT_TYPE_CREATE)},
        {"CE_ID", "last-id", 7},
        {"Content-Type", "application/json", 16},
    };
    pf_record rec = {NULL, 0, data, strlen(data), headers, 8};
    pf_event ev;
    pf_error err;

    (void)state;
    pf_error_clear(&err);
    if (pf_event_decode(&rec, &ev, &err) != 0)
        fail_msg("%s: %s", err.path, err.message);
    assert_string_equal(ev.id, "last-id");
    assert_null(ev.time);
    assert_null(ev.tenantid);
    pf_event_release(&ev);
}

static void
structured_mode_reads_attributes_and_ignores_extensions(void **state)
{
    static const char *const content_types[] = {
        NULL,
        "application/cloudevents+json",
        "application/cloudevents+json; charset=utf-8",
        "Application/CloudEvents+JSON",
    };
    char *json = sq(
        "{'specversion':'1.0','id':'ext-1','source':'urn:sis:test',"
        "'type':'provflow.provisioningFlow.create',"
        "'time':'2024-03-22T21:28:02.7164229+01:00','tenantid':'contoso.edu',"
        "'subject':'ignored','traceparent':'00-abc-def-01','partitionkey':'k',"
        "'datacontenttype':'application/json',"
        "'data':{'flowSetId':'" FLOW_SET_ID "','flowType':'securityGroup',"
        "'flow':{'creationOptions':{'createBasedOnRoleGroup':true,"
        "'createBasedOnOrgPlusRoleGroup':true}}}}");
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++) {
        pf_header h = {"content-type", content_types[i],
                       content_types[i] ? strlen(content_types[i]) : 0};
        pf_event ev;

        decode_ok(json, content_types[i] ? &h : NULL, content_types[i] ? 1 : 0,
                  &ev);
        assert_int_equal(ev.mode, PF_MODE_STRUCTURED);
        assert_string_equal(ev.id, "ext-1");
        assert_string_equal(ev.source, "urn:sis:test");
        assert_string_equal(ev.type, PF_EVENT_TYPE_CREATE);
        assert_string_equal(ev.time, "2024-03-22T21:28:02.7164229+01:00");
        assert_string_equal(ev.tenantid, "contoso.edu");
        assert_true(json_is_object(ev.data));
        pf_event_release(&ev);
        /* Released twice: safe by contract. */
        pf_event_release(&ev);
    }
    free(json);
}

static void transform_twice_gives_identical_bytes(void **state)
{
    pf_transform_opts opts = {NULL, NULL};
    char *lines[SEED_COUNT];
    size_t i;

    (void)state;
    read_seed_events(lines);
    for (i = 0; i < SEED_COUNT; i++) {
        pf_event ev;
        pf_request a, b;
        char *da, *db, ua[512], ub[512];

        decode_ok(lines[i], NULL, 0, &ev);
        transform_ok(&ev, &opts, &a);
        transform_ok(&ev, &opts, &b);
        da = dump(a.body);
        db = dump(b.body);
        assert_string_equal(da, db);
        pf_request_url(&a, NULL, NULL, ua, sizeof(ua));
        pf_request_url(&b, NULL, NULL, ub, sizeof(ub));
        assert_string_equal(ua, ub);
        assert_string_equal(a.client_request_id, b.client_request_id);
        free(da);
        free(db);
        pf_request_release(&a);
        pf_request_release(&b);
        pf_event_release(&ev);
    }
    free_lines(lines);
}

#define EVENT(data)                                                            \
    "{'specversion':'1.0','id':'conv-1','source':'urn:sis:test',"              \
    "'type':'provflow.provisioningFlow.create','data':" data "}"
#define FLOW(type, flow)                                                       \
    EVENT("{'flowSetId':'" FLOW_SET_ID "','flowType':'" type "','flow':" flow  \
          "}")

static void output_follows_table_order_whatever_the_input_order(void **state)
{
    pf_transform_opts opts = {NULL, NULL};

    (void)state;
    assert_body(
        EVENT("{'flow':{'managementOptions':{'additionalOptions':{"
              "'studentAgeGroup':'notAdult','allowStudentContactAssociation':"
              "true,'markAllStudentsAsMinors':false},'additionalAttributes':["
              "'userNumber','userGradeLevel']},'createUnmatchedUsers':false,"
              "'@odata.type':'" NS "userProvisioningFlow'},"
              "'flowSetId':'" FLOW_SET_ID "'}"),
        &opts,
        "{'@odata.type':'" NS "userProvisioningFlow',"
        "'createUnmatchedUsers':false,'managementOptions':{"
        "'additionalAttributes':['userNumber','userGradeLevel'],"
        "'additionalOptions':{'markAllStudentsAsMinors':false,"
        "'allowStudentContactAssociation':true,'studentAgeGroup':'notAdult'}}"
        "}");
}

#define CG_OPTIONS                                                             \
    "'additionalOptions':{'createTeam':false,"                                 \
    "'writeDisplayNameOnCreateOnly':true}"
#define CG_OPTIONS_OUT                                                         \
    "'additionalOptions':{'@odata.type':'" NS "additionalClassGroupOptions',"  \
    "'createTeam':false,'writeDisplayNameOnCreateOnly':true}"
/* A sectionRoleReferenceValue as sent: ROLE_OF "teacher" END_ROLE. */
#define ROLE_OF  "{'@odata.type':'" NS "sectionRoleReferenceValue','code':'"
#define END_ROLE "'}"

static void annotations_are_added_where_graph_types_them(void **state)
{
    pf_transform_opts opts = {NULL, NULL};

    (void)state;
    assert_body(
        FLOW("classGroup",
             "{'configuration':{" CG_OPTIONS ",'enrollmentMappings':{"
             "'ownerEnrollmentMappings':[{'code':'teacher'}],"
             "'memberEnrollmentMappings':[{'code':'student'}]}}}"),
        &opts,
        "{'@odata.type':'" NS "classGroupProvisioningFlow',"
        "'configuration':{'@odata.type':'" NS "classGroupConfiguration',"
        "" CG_OPTIONS_OUT ",'enrollmentMappings':{"
        "'@odata.type':'" NS "enrollmentMappings',"
        "'ownerEnrollmentMappings':[" ROLE_OF "teacher" END_ROLE "],"
        "'memberEnrollmentMappings':[" ROLE_OF "student" END_ROLE "]}}}");
}

static void role_mappings_may_be_plain_strings(void **state)
{
    pf_transform_opts opts = {NULL, NULL};
    static const char expected[] =
        "{'@odata.type':'" NS "classGroupProvisioningFlow',"
        "'configuration':{'@odata.type':'" NS "classGroupConfiguration',"
        "" CG_OPTIONS_OUT ",'enrollmentMappings':{"
        "'@odata.type':'" NS "enrollmentMappings',"
        "'ownerEnrollmentMappings':["
        "" ROLE_OF "teacher" END_ROLE "," ROLE_OF "paraprofessional" END_ROLE
        "," ROLE_OF "itAdmin" END_ROLE "],"
        "'memberEnrollmentMappings':["
        "" ROLE_OF "student" END_ROLE "," ROLE_OF "districtVolunteer" END_ROLE
        "]}}}";

    (void)state;
    /* Strings, objects and well-known codes in another case, mixed. */
    assert_body(
        FLOW("classGroup",
             "{'configuration':{" CG_OPTIONS ",'enrollmentMappings':{"
             "'ownerEnrollmentMappings':['teacher','paraProfessional',"
             "{'code':'ITADMIN'}],"
             "'memberEnrollmentMappings':['student','districtVolunteer']}}}"),
        &opts, expected);
}

static void empty_role_lists_are_kept(void **state)
{
    pf_transform_opts opts = {NULL, NULL};

    (void)state;
    assert_body(FLOW("classGroup",
                     "{'configuration':{'additionalAttributes':[]," CG_OPTIONS
                     ",'enrollmentMappings':{'ownerEnrollmentMappings':[],"
                     "'memberEnrollmentMappings':[]}}}"),
                &opts,
                "{'@odata.type':'" NS "classGroupProvisioningFlow',"
                "'configuration':{'@odata.type':'" NS
                "classGroupConfiguration',"
                "'additionalAttributes':[]," CG_OPTIONS_OUT
                ",'enrollmentMappings':{'@odata.type':'" NS
                "enrollmentMappings','ownerEnrollmentMappings':[],"
                "'memberEnrollmentMappings':[]}}}");
}

static void property_names_in_any_case_are_sent_in_csdl_casing(void **state)
{
    pf_transform_opts opts = {NULL, NULL};

    (void)state;
    assert_body(FLOW("administrativeUnit",
                     "{'CREATIONOPTIONS':{'createbasedonorg':false,"
                     "'CreateBasedOnOrgPlusroleGroup':true}}"),
                &opts,
                "{'@odata.type':'" NS "administrativeUnitProvisioningFlow',"
                "'creationOptions':{'createBasedOnOrg':false,"
                "'createBasedOnOrgPlusRoleGroup':true}}");
    assert_body(FLOW("securityGroup",
                     "{'creationOptions':{'createBasedOnroleGroup':false,"
                     "'createBasedOnOrgPlusroleGroup':false}}"),
                &opts,
                "{'@odata.type':'" NS "securityGroupProvisioningFlow',"
                "'creationOptions':{'createBasedOnRoleGroup':false,"
                "'createBasedOnOrgPlusRoleGroup':false}}");
}

static void flow_type_is_taken_from_odata_type_in_any_case(void **state)
{
    pf_transform_opts opts = {NULL, NULL};
    static const char expected[] =
        "{'@odata.type':'" NS "securityGroupProvisioningFlow',"
        "'creationOptions':{'createBasedOnRoleGroup':true,"
        "'createBasedOnOrgPlusRoleGroup':false}}";

    (void)state;
    assert_body(
        EVENT("{'flowSetId':'" FLOW_SET_ID "','flow':{'@odata.type':"
              "'#Microsoft.Graph.IndustryData.SecurityGroupProvisioningFlow',"
              "'creationOptions':{'createBasedOnRoleGroup':true,"
              "'createBasedOnOrgPlusRoleGroup':false}}}"),
        &opts, expected);
    /* Both given and agreeing. */
    assert_body(
        EVENT("{'flowSetId':'" FLOW_SET_ID "','flowType':'securityGroup',"
              "'flow':{'@odata.type':'" NS "securityGroupProvisioningFlow',"
              "'creationOptions':{'createBasedOnRoleGroup':true,"
              "'createBasedOnOrgPlusRoleGroup':false}}}"),
        &opts, expected);
}

static void correct_annotations_on_untyped_objects_are_dropped(void **state)
{
    pf_transform_opts opts = {NULL, NULL};

    (void)state;
    assert_body(FLOW("administrativeUnit",
                     "{'creationOptions':{'@odata.type':'" NS
                     "adminUnitCreationOptions','createBasedOnOrg':true,"
                     "'createBasedOnOrgPlusRoleGroup':false}}"),
                &opts,
                "{'@odata.type':'" NS "administrativeUnitProvisioningFlow',"
                "'creationOptions':{'createBasedOnOrg':true,"
                "'createBasedOnOrgPlusRoleGroup':false}}");
    assert_body(FLOW("user", "{'managementOptions':{'@odata.type':'" NS
                             "userManagementOptions','additionalOptions':{"
                             "'@odata.type':'" NS "additionalUserOptions'}}}"),
                &opts,
                "{'@odata.type':'" NS "userProvisioningFlow',"
                "'managementOptions':{'additionalOptions':{}}}");
}

static void read_only_fields_and_flow_annotations_are_dropped(void **state)
{
    pf_transform_opts opts = {NULL, NULL};

    (void)state;
    assert_body(
        FLOW("administrativeUnit",
             "{'@odata.context':'https://graph.microsoft.com/beta/$metadata#x',"
             "'@odata.etag':'W/1','@odata.id':'https://example/flows/1',"
             "'id':'f66e97ad-0870-46e0-3ff3-08dc49dccdc9',"
             "'createdDateTime':'2024-03-22T21:28:02.7164229Z',"
             "'lastModifiedDateTime':'2024-03-22T21:28:02.7164229Z',"
             "'readinessStatus':'notReady','creationOptions':{"
             "'createBasedOnOrg':true,'createBasedOnOrgPlusRoleGroup':true}}"),
        &opts,
        "{'@odata.type':'" NS "administrativeUnitProvisioningFlow',"
        "'creationOptions':{'createBasedOnOrg':true,"
        "'createBasedOnOrgPlusRoleGroup':true}}");
}

static void optional_properties_given_as_null_are_dropped(void **state)
{
    pf_transform_opts opts = {NULL, NULL};

    (void)state;
    assert_body(FLOW("user", "{'createUnmatchedUsers':null,"
                             "'managementOptions':{'additionalAttributes':null,"
                             "'additionalOptions':{'studentAgeGroup':null,"
                             "'markAllStudentsAsMinors':null,"
                             "'allowStudentContactAssociation':true}},"
                             "'creationOptions':null}"),
                &opts,
                "{'@odata.type':'" NS "userProvisioningFlow',"
                "'managementOptions':{'additionalOptions':{"
                "'allowStudentContactAssociation':true}}}");
}

#define USER_FLOW(configs)                                                     \
    FLOW("user", "{'managementOptions':{'additionalOptions':{}},"              \
                 "'creationOptions':{'configurations':[" configs "]}}")
#define USER_OUT(configs)                                                      \
    "{'@odata.type':'" NS "userProvisioningFlow',"                             \
    "'managementOptions':{'additionalOptions':{}},"                            \
    "'creationOptions':{'configurations':[" configs "]}}"
#define PASSWORD(p)                                                            \
    "'defaultPasswordSettings':{'@odata.type':'" NS "simplePasswordSettings'," \
    "'password':'" p "'}"

static void role_group_id_builds_the_bind_url_on_the_graph_root(void **state)
{
    pf_transform_opts global = {NULL, NULL};
    pf_transform_opts usgov = {"https://graph.microsoft.us", NULL};
    pf_transform_opts slash = {"https://graph.microsoft.us/", NULL};
    char *url = NULL;
    char *body;

    (void)state;
    assert_body(USER_FLOW("{'roleGroupId':'staff'},{'roleGroupId':'students'}"),
                &global,
                USER_OUT("{'roleGroup@odata.bind':'https://graph.microsoft.com"
                         "" ROLE_GROUPS "staff'},{'roleGroup@odata.bind':"
                         "'https://graph.microsoft.com" ROLE_GROUPS
                         "students'}"));
    assert_body(USER_FLOW("{'roleGroupId':'a-Z_0.9~'}"), &usgov,
                USER_OUT("{'roleGroup@odata.bind':'https://graph.microsoft.us"
                         "" ROLE_GROUPS "a-Z_0.9~'}"));
    /* A trailing slash on the root does not double the slash. */
    body = body_of(USER_FLOW("{'roleGroupId':'staff'}"), &slash, &url);
    assert_string_equal(url, FLOWS_URL("https://graph.microsoft.us") FLOW_SET_ID
                        "/provisioningFlows");
    assert_non_null(
        strstr(body, "\"https://graph.microsoft.us" ROLE_GROUPS "staff\""));
    free(body);
    free(url);
}

static void request_url_uses_the_configured_graph_root(void **state)
{
    pf_transform_opts china = {"https://microsoftgraph.chinacloudapi.cn", NULL};
    char *url = NULL;
    char *body;

    (void)state;
    body = body_of(EVENT("{'flowSetId':'9AB41255-5364-4C53-E15C-08DC4AB6EE03',"
                         "'flowType':'securityGroup','flow':{"
                         "'creationOptions':{'createBasedOnRoleGroup':true,"
                         "'createBasedOnOrgPlusRoleGroup':true}}}"),
                   &china, &url);
    /* The flow set id is sent in lower case. */
    assert_string_equal(url,
                        FLOWS_URL("https://microsoftgraph.chinacloudapi.cn")
                            FLOW_SET_ID "/provisioningFlows");
    free(body);
    free(url);
}

static void full_bind_urls_are_rerooted_on_the_graph_root(void **state)
{
    pf_transform_opts dod = {"https://dod-graph.microsoft.us", NULL};
    pf_transform_opts global = {NULL, NULL};

    (void)state;
    assert_body(USER_FLOW("{'roleGroup@odata.bind':'https://graph.microsoft.com"
                          "" ROLE_GROUPS "staff'}"),
                &dod,
                USER_OUT("{'roleGroup@odata.bind':"
                         "'https://dod-graph.microsoft.us" ROLE_GROUPS
                         "staff'}"));
    assert_body(USER_FLOW("{'roleGroup@odata.bind':"
                          "'https://graph.microsoft.us" ROLE_GROUPS
                          "students'}"),
                &global,
                USER_OUT("{'roleGroup@odata.bind':'https://graph.microsoft.com"
                         "" ROLE_GROUPS "students'}"));
}

static void default_password_secret_is_read_from_the_secrets_dir(void **state)
{
    pf_transform_opts opts = {NULL, secrets};

    (void)state;
    /* Input order differs from table order; "\n" and "\r\n" are stripped. */
    assert_body(
        USER_FLOW("{'licenseSkus':['Sku1'],"
                  "'defaultPasswordSecret':'staff-initial',"
                  "'roleGroupId':'staff'},"
                  "{'DefaultPasswordSecret':'students.initial',"
                  "'RoleGroupId':'students'}"),
        &opts,
        USER_OUT("{'roleGroup@odata.bind':'https://graph.microsoft.com"
                 "" ROLE_GROUPS "staff'," PASSWORD(
                     "Initial-Pa55") ","
                                     "'licenseSkus':['Sku1']},"
                                     "{'roleGroup@odata.bind':'https://"
                                     "graph.microsoft.com"
                                     "" ROLE_GROUPS
                                     "students'," PASSWORD("Crlf-Pa55") "}"));
}

static void inline_passwords_stay_accepted(void **state)
{
    pf_transform_opts opts = {NULL, NULL};

    (void)state;
    assert_body(USER_FLOW("{'defaultPasswordSettings':{'password':'p@ss'},"
                          "'licenseSkus':[],'roleGroupId':'staff'}"),
                &opts,
                USER_OUT("{'roleGroup@odata.bind':'https://graph.microsoft.com"
                         "" ROLE_GROUPS
                         "staff'," PASSWORD("p@ss") ",'licenseSkus':[]}"));
}

static void unknown_role_codes_pass_through_as_given(void **state)
{
    pf_transform_opts opts = {NULL, NULL};

    (void)state;
    assert_body(FLOW("classGroup",
                     "{'configuration':{" CG_OPTIONS ",'enrollmentMappings':{"
                     "'ownerEnrollmentMappings':['Head-Of-Year','TEACHER'],"
                     "'memberEnrollmentMappings':['Other']}}}"),
                &opts,
                "{'@odata.type':'" NS "classGroupProvisioningFlow',"
                "'configuration':{'@odata.type':'" NS
                "classGroupConfiguration',"
                "" CG_OPTIONS_OUT ",'enrollmentMappings':{"
                "'@odata.type':'" NS "enrollmentMappings',"
                "'ownerEnrollmentMappings':[" ROLE_OF "Head-Of-Year" END_ROLE
                "," ROLE_OF "teacher" END_ROLE "],'memberEnrollmentMappings':["
                "" ROLE_OF "Other" END_ROLE "]}}}");
}

/* sectionRoleReferenceValue's navigation to its reference definition:
 * "value@odata.bind", re-rooted on the Graph root like a role group's. */
static void role_value_binds_are_sent_rerooted(void **state)
{
    pf_transform_opts usgov = {"https://graph.microsoft.us", NULL};

    (void)state;
    assert_body(
        FLOW("classGroup",
             "{'configuration':{" CG_OPTIONS ",'enrollmentMappings':{"
             "'ownerEnrollmentMappings':[{'VALUE@odata.bind':'https://graph."
             "microsoft.com/beta/external/industryData/referenceDefinitions/"
             "RefRole_Teacher','code':'teacher'}]}}}"),
        &usgov,
        "{'@odata.type':'" NS "classGroupProvisioningFlow',"
        "'configuration':{'@odata.type':'" NS "classGroupConfiguration',"
        "" CG_OPTIONS_OUT ",'enrollmentMappings':{"
        "'@odata.type':'" NS "enrollmentMappings',"
        "'ownerEnrollmentMappings':[" ROLE_OF "teacher',"
        "'value@odata.bind':'https://graph.microsoft.us/beta/external/"
        "industryData/referenceDefinitions/RefRole_Teacher'}]}}}");
}

static void mask_secrets_replaces_every_password(void **state)
{
    pf_transform_opts opts = {NULL, secrets};
    char *json = sq(USER_FLOW("{'defaultPasswordSecret':'staff-initial',"
                              "'roleGroupId':'staff'},"
                              "{'defaultPasswordSettings':{'password':'x'},"
                              "'roleGroupId':'students'}"));
    json_t *other;
    pf_event ev;
    pf_request req;
    char *got, *want;

    (void)state;
    decode_ok(json, NULL, 0, &ev);
    transform_ok(&ev, &opts, &req);
    pf_json_mask_secrets(req.body);
    got = dump(req.body);
    want = canonical(USER_OUT("{'roleGroup@odata.bind':'https://graph."
                              "microsoft.com" ROLE_GROUPS "staff'," PASSWORD(
                                  "***") "},{'roleGroup@odata.bind':'https://"
                                         "graph.microsoft.com" ROLE_GROUPS
                                         "students'," PASSWORD("***") "}"));
    assert_string_equal(got, want);
    assert_null(strstr(got, "Initial-Pa55"));
    free(got);
    free(want);

    /* Any letter case, any depth, arrays included; nothing else touched. */
    other =
        json_pack("{s:s, s:[{s:s, s:i}], s:{s:{s:s}}}", "Password", "a", "list",
                  "password", "b", "n", 1, "outer", "inner", "PASSWORD", "c");
    assert_non_null(other);
    pf_json_mask_secrets(other);
    free(json);
    json = dump(other);
    assert_string_equal(json, "{\"Password\":\"***\",\"list\":[{\"password\":"
                              "\"***\",\"n\":1}],\"outer\":{\"inner\":{"
                              "\"PASSWORD\":\"***\"}}}");
    json_decref(other);
    pf_request_release(&req);
    pf_event_release(&ev);
    free(json);
}

static void
graph_root_validation_accepts_urls_and_rejects_the_rest(void **state)
{
    static const char *const good[] = {
        "https://graph.microsoft.com",
        "https://graph.microsoft.us/",
        "http://127.0.0.1:8080",
        "https://dod-graph.microsoft.us",
    };
    static const char *const bad[] = {
        "",
        "graph.microsoft.com",
        "ftp://graph.microsoft.com",
        "https://",
        "https://graph.microsoft.com?x=1",
        "https://graph.microsoft.com#frag",
        "https://user:pw@graph.microsoft.com",
    };
    char errstr[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        errstr[0] = '\0';
        if (!pf_graph_root_valid(good[i], errstr, sizeof(errstr)))
            fail_msg("%s rejected: %s", good[i], errstr);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errstr[0] = '\0';
        if (pf_graph_root_valid(bad[i], errstr, sizeof(errstr)))
            fail_msg("'%s' accepted", bad[i]);
        assert_true(errstr[0] != '\0');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seed_events_become_the_expected_bodies_byte_for_byte),
        cmocka_unit_test(seed_events_post_to_the_lower_case_flow_sets_path),
        cmocka_unit_test(client_request_id_is_the_uuid5_of_the_event_id),
        cmocka_unit_test(binary_mode_gives_the_same_bodies_as_structured),
        cmocka_unit_test(binary_mode_uses_the_last_header_of_a_name),
        cmocka_unit_test(
            structured_mode_reads_attributes_and_ignores_extensions),
        cmocka_unit_test(transform_twice_gives_identical_bytes),
        cmocka_unit_test(output_follows_table_order_whatever_the_input_order),
        cmocka_unit_test(annotations_are_added_where_graph_types_them),
        cmocka_unit_test(role_mappings_may_be_plain_strings),
        cmocka_unit_test(empty_role_lists_are_kept),
        cmocka_unit_test(property_names_in_any_case_are_sent_in_csdl_casing),
        cmocka_unit_test(flow_type_is_taken_from_odata_type_in_any_case),
        cmocka_unit_test(correct_annotations_on_untyped_objects_are_dropped),
        cmocka_unit_test(read_only_fields_and_flow_annotations_are_dropped),
        cmocka_unit_test(optional_properties_given_as_null_are_dropped),
        cmocka_unit_test(role_group_id_builds_the_bind_url_on_the_graph_root),
        cmocka_unit_test(request_url_uses_the_configured_graph_root),
        cmocka_unit_test(full_bind_urls_are_rerooted_on_the_graph_root),
        cmocka_unit_test(default_password_secret_is_read_from_the_secrets_dir),
        cmocka_unit_test(inline_passwords_stay_accepted),
        cmocka_unit_test(role_value_binds_are_sent_rerooted),
        cmocka_unit_test(unknown_role_codes_pass_through_as_given),
        cmocka_unit_test(mask_secrets_replaces_every_password),
        cmocka_unit_test(
            graph_root_validation_accepts_urls_and_rejects_the_rest),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
