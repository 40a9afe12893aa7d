/*
 * test_intake.c - a record becomes a request, or says why not (intake.h):
 * event -> tenant -> transform, the order key, and release.
 *
 * The token table is real (token.h) but never fetches: intake only looks
 * sources up, so no network is touched. JSON is written with single
 * quotes; they become double quotes at run time.
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
#include <jansson.h>

#include "provflow/error.h"
#include "provflow/http.h"
#include "provflow/intake.h"
#include "provflow/timers.h"
#include "provflow/token.h"

#define GRAPH "https://graph.microsoft.com"
#define FSID  "9ab41255-5364-4c53-e15c-08dc4ab6ee03"
#define URL                                                                    \
    GRAPH "/beta/external/industryData/outboundProvisioningFlowSets/" FSID     \
          "/provisioningFlows"

#define AU_FLOW                                                                \
    "{'creationOptions':{'createBasedOnOrg':true,'"                            \
    "createBasedOnOrgPlusRoleGroup':false}}"
#define AU_DATA                                                                \
    "{'flowSetId':'" FSID "','flowType':'administrativeUnit','flow':" AU_FLOW  \
    "}"
/* A structured event with extra attributes (", 'tenantid':'x'" or ""). */
#define EVENT_WITH(id, attrs, data)                                            \
    "{'specversion':'1.0','id':'" id "','source':'urn:sis:test',"              \
    "'type':'provflow.provisioningFlow.create'" attrs ",'data':" data "}"
#define EVENT(id, attrs) EVENT_WITH(id, attrs, AU_DATA)

/* The loop's parts and three token tables: none, one, two credentials. */
typedef struct env {
    pf_timers *timers;
    pf_http *http;
    pf_tokens *none, *one, *two;
    pf_token_source *contoso, *fabrikam, *only;
    pf_transform_opts topts;
} env;

static pf_tokens *tokens_new(env *e)
{
    pf_token_config tc;
    char err[256];
    pf_tokens *t;

    pf_token_config_default(&tc);
    tc.authority_host = "https://login.microsoftonline.com";
    tc.scope = GRAPH "/.default";
    t = pf_tokens_new(e->http, e->timers, &tc, err, sizeof(err));
    assert_non_null(t);
    return t;
}

static pf_token_source *add(pf_tokens *t, const char *tenant)
{
    pf_credential cred = {
        .tenant_id = tenant,
        .client_id = "11111111-2222-3333-4444-555555555555",
        .kind = PF_CRED_SECRET,
        .secret = "not-a-real-secret",
    };
    char err[256];
    pf_token_source *s = pf_tokens_add(t, &cred, err, sizeof(err));

    assert_non_null(s);
    return s;
}

static int setup(void **state)
{
    pf_http_config hc;
    char err[256];
    env *e = calloc(1, sizeof(*e));

    assert_non_null(e);
    e->timers = pf_timers_new();
    assert_non_null(e->timers);
    pf_http_config_default(&hc);
    e->http = pf_http_new(&hc, err, sizeof(err));
    assert_non_null(e->http);
    e->none = tokens_new(e);
    e->one = tokens_new(e);
    e->only = add(e->one, "contoso.example");
    e->two = tokens_new(e);
    e->contoso = add(e->two, "contoso.example");
    e->fabrikam = add(e->two, "fabrikam.example");
    e->topts.graph_root = GRAPH;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;

    pf_tokens_destroy(e->two);
    pf_tokens_destroy(e->one);
    pf_tokens_destroy(e->none);
    pf_http_destroy(e->http);
    pf_timers_destroy(e->timers);
    free(e);
    return 0;
}

static pf_intake_config config(env *e, pf_tokens *t, bool dry_run)
{
    return (pf_intake_config){t, &e->topts, dry_run};
}

/* Takes in a single-quoted JSON value (NULL: a tombstone) with a key. */
static void take(const pf_intake_config *cfg, const char *json, const char *key,
                 pf_intake *in)
{
    char *value = json != NULL ? strdup(json) : NULL;
    pf_record rec;
    char *p;

    memset(&rec, 0, sizeof(rec));
    if (json != NULL) {
        assert_non_null(value);
        for (p = value; *p != '\0'; p++) {
            if (*p == '\'')
                *p = '"';
        }
        rec.value = value;
        rec.value_len = strlen(value);
    }
    if (key != NULL) {
        rec.key = key;
        rec.key_len = strlen(key);
    }
    /* Set to garbage: intake must fill everything. */
    memset(in, 0x5a, sizeof(*in));
    pf_intake_record(cfg, &rec, in);
    free(value); /* borrowed only during the call */
}

/* The error fields are text a log can carry: no control bytes. */
static void assert_clean(const char *s, size_t max)
{
    size_t n = strlen(s);

    assert_true(n < max);
    for (; *s != '\0'; s++)
        assert_true((unsigned char)*s >= 0x20 && (unsigned char)*s != 0x7f);
}

static void assert_invalid(const pf_intake *in, const char *path,
                           const char *id)
{
    assert_false(in->valid);
    assert_string_equal(in->err->code, "invalid_event");
    assert_string_equal(in->err->path, path);
    assert_true(in->err->message[0] != '\0');
    assert_clean(in->err->message, sizeof(in->err->message));
    if (id == NULL)
        assert_null(in->id);
    else
        assert_string_equal(in->id, id);
    assert_null(in->req.base);
    assert_null(in->req.body);
}

static void assert_request(const pf_intake *in, const char *id, bool dry_run)
{
    const json_t *flow;
    json_t *body;
    char url[512];

    assert_true(in->valid);
    assert_null(in->err); /* allocated for an invalid record only */
    assert_string_equal(in->id, id);
    pf_request_url(&in->req, NULL, NULL, url, sizeof(url));
    assert_string_equal(url, URL);
    assert_string_equal(in->req.flow_set_id, FSID);
    assert_non_null(in->req.flow);
    assert_string_equal(in->req.flow->flow_type, "administrativeUnit");
    assert_int_equal(strlen(in->req.client_request_id), PF_UUID_STR_LEN);
    if (dry_run) { /* printed: the tree */
        assert_null(in->req.body_text);
        body = json_incref(in->req.body);
    } else { /* to send: the text, no passwords to keep */
        assert_null(in->req.body);
        assert_non_null(in->req.body_text);
        assert_int_equal(strlen(in->req.body_text), in->req.body_len);
        body = json_loads(in->req.body_text, 0, NULL);
    }
    assert_true(json_is_object(body));
    flow = json_object_get(body, "creationOptions");
    assert_true(json_is_true(json_object_get(flow, "createBasedOnOrg")));
    json_decref(body);
}

/* A valid event: the request, and the credential its tenant names. */
static void valid_event_becomes_a_request_for_its_tenant(void **state)
{
    env *e = *state;
    pf_intake_config cfg = config(e, e->two, false);
    pf_intake in;

    take(&cfg, EVENT("req-1", ",'tenantid':'fabrikam.example'"), NULL, &in);
    assert_request(&in, "req-1", false);
    assert_ptr_equal(in.source, e->fabrikam);
    pf_intake_release(&in);

    /* Tenants compare without case. */
    take(&cfg, EVENT("req-2", ",'tenantid':'CONTOSO.example'"), NULL, &in);
    assert_request(&in, "req-2", false);
    assert_ptr_equal(in.source, e->contoso);
    pf_intake_release(&in);

    /* No tenantid: the default credential (the first). */
    take(&cfg, EVENT("req-3", ""), NULL, &in);
    assert_request(&in, "req-3", false);
    assert_ptr_equal(in.source, e->contoso);
    pf_intake_release(&in);

    /* One credential serves whatever the event calls its tenant. */
    cfg = config(e, e->one, false);
    take(&cfg, EVENT("req-4", ",'tenantid':'contoso.onmicrosoft.com'"), NULL,
         &in);
    assert_request(&in, "req-4", false);
    assert_ptr_equal(in.source, e->only);
    pf_intake_release(&in);
}

/* The first event of the seed file, as a Kafka record would carry it. */
static void seed_event_is_valid(void **state)
{
    env *e = *state;
    pf_intake_config cfg = config(e, e->two, false);
    char line[8192], url[512];
    FILE *f = fopen(PF_TEST_DATA_DIR "/seed/events.ndjson", "r");
    pf_record rec;
    pf_intake in;
    size_t n;

    assert_non_null(f);
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    n = strlen(line);
    assert_true(n > 1 && line[n - 1] == '\n');
    memset(&rec, 0, sizeof(rec));
    rec.value = line;
    rec.value_len = n - 1;
    pf_intake_record(&cfg, &rec, &in);
    assert_true(in.valid);
    assert_string_equal(in.id, "seed-1-admin-unit");
    pf_request_url(&in.req, NULL, NULL, url, sizeof(url));
    assert_string_equal(url, URL);
    assert_string_equal(in.req.flow->flow_type, "administrativeUnit");
    assert_ptr_equal(in.source, e->contoso);
    pf_intake_release(&in);
}

/* What the decoder refuses: its path, and the id when it was readable. */
static void undecodable_records_are_invalid_at_the_decoders_path(void **state)
{
    static const struct {
        const char *what, *json, *path, *id;
    } rows[] = {
        {"cut JSON", "{'specversion':", "$", NULL},
        {"not an object", "['a']", "$", NULL},
        {"empty value", "", "$", NULL},
        {"tombstone", NULL, "$", NULL},
        {"wrong type, readable id",
         "{'specversion':'1.0','id':'x-1','source':'urn:sis:test',"
         "'type':'other','data':" AU_DATA "}",
         "type", "x-1"},
        {"no source, readable id",
         "{'specversion':'1.0','id':'x-2',"
         "'type':'provflow.provisioningFlow.create','data':" AU_DATA "}",
         "source", "x-2"},
    };
    env *e = *state;
    pf_intake_config cfg = config(e, e->two, false);
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pf_intake in;

        print_message("%s\n", rows[i].what);
        take(&cfg, rows[i].json, NULL, &in);
        assert_invalid(&in, rows[i].path, rows[i].id);
        pf_intake_release(&in);
    }
}

/* A tenant no credential serves: invalid, naming it. */
static void unknown_tenant_is_invalid_naming_it(void **state)
{
    env *e = *state;
    pf_intake_config cfg = config(e, e->two, false);
    char json[2048], tenant[257];
    pf_intake in;

    take(&cfg, EVENT("req-9", ",'tenantid':'northwind.example'"), NULL, &in);
    assert_invalid(&in, "tenantid", "req-9");
    assert_non_null(strstr(in.err->message, "\"northwind.example\""));
    assert_null(in.source);
    pf_intake_release(&in);

    /* The longest tenant the decoder lets through: an excerpt of it. */
    memset(tenant, 'a', sizeof(tenant) - 1);
    tenant[sizeof(tenant) - 1] = '\0';
    snprintf(json, sizeof(json), EVENT("req-10", ",'tenantid':'%s'"), tenant);
    take(&cfg, json, NULL, &in);
    assert_invalid(&in, "tenantid", "req-10");
    assert_null(strstr(in.err->message, tenant));
    assert_non_null(strstr(in.err->message, "aaaaaaaaaaaaaaaa"));
    assert_non_null(strstr(in.err->message, "..."));
    pf_intake_release(&in);
}

/* Quotes and controls in a tenant never reach the message raw. */
static void hostile_tenant_is_refused_with_a_clean_message(void **state)
{
    static const struct {
        const char *tenant, *path;
    } rows[] = {
        {"evil\\\"}, \\\"x\\\": \\\"", "tenantid"}, /* quotes */
        {"evil\\n\\u001b[31mred\\r", "tenantid"},   /* LF, ESC, CR */
        {"\\u00e9vil.example", "tenantid"},         /* not ASCII */
        {"", "tenantid"},                           /* empty */
        {"evil\\u0000nul", "$"}, /* NUL: JSON the decoder refuses */
    };
    env *e = *state;
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pf_intake_config cfg = config(e, e->two, false);
        char json[2048];
        pf_intake in;

        snprintf(json, sizeof(json), EVENT("req-11", ",'tenantid':'%s'"),
                 rows[i].tenant);
        take(&cfg, json, NULL, &in);
        assert_invalid(&in, rows[i].path,
                       rows[i].path[0] == '$' ? NULL : "req-11");
        assert_null(strstr(in.err->message, "evil\""));
        pf_intake_release(&in);

        /* The same in a dry run without credentials. */
        cfg = config(e, e->none, true);
        take(&cfg, json, NULL, &in);
        assert_invalid(&in, rows[i].path,
                       rows[i].path[0] == '$' ? NULL : "req-11");
        pf_intake_release(&in);
    }
}

/* A dry run needs no credential: with none, any tenant is accepted. */
static void dry_run_without_credentials_accepts_any_tenant(void **state)
{
    env *e = *state;
    pf_intake_config cfg = config(e, e->none, true);
    pf_intake in;

    take(&cfg, EVENT("req-20", ",'tenantid':'northwind.example'"), NULL, &in);
    assert_request(&in, "req-20", true);
    assert_null(in.source);
    pf_intake_release(&in);

    take(&cfg, EVENT("req-21", ""), NULL, &in);
    assert_request(&in, "req-21", true);
    assert_null(in.source);
    pf_intake_release(&in);

    /* Not a dry run: no credential serves it. */
    cfg = config(e, e->none, false);
    take(&cfg, EVENT("req-22", ",'tenantid':'northwind.example'"), NULL, &in);
    assert_invalid(&in, "tenantid", "req-22");
    pf_intake_release(&in);
    take(&cfg, EVENT("req-23", ""), NULL, &in);
    assert_invalid(&in, "tenantid", "req-23");
    pf_intake_release(&in);
}

/* A dry run with credentials still checks the tenant. */
static void dry_run_with_credentials_checks_the_tenant(void **state)
{
    env *e = *state;
    pf_intake_config cfg = config(e, e->two, true);
    pf_intake in;

    take(&cfg, EVENT("req-30", ",'tenantid':'northwind.example'"), NULL, &in);
    assert_invalid(&in, "tenantid", "req-30");
    assert_non_null(strstr(in.err->message, "northwind.example"));
    pf_intake_release(&in);

    take(&cfg, EVENT("req-31", ",'tenantid':'fabrikam.example'"), NULL, &in);
    assert_request(&in, "req-31", true);
    assert_ptr_equal(in.source, e->fabrikam);
    pf_intake_release(&in);
}

/* What the transform refuses: its JSON path, the event's id. */
static void transform_failure_is_invalid_at_its_path(void **state)
{
    static const struct {
        const char *json, *path;
    } rows[] = {
        {EVENT_WITH("bad-1", "",
                    "{'flowSetId':12345,'flowType':'administrativeUnit',"
                    "'flow':" AU_FLOW "}"),
         "data.flowSetId"},
        {EVENT_WITH("bad-1", "",
                    "{'flowSetId':'" FSID "','flowType':'administrativeUnit',"
                    "'flow':{'creationOptions':{'createBasedOnOrg':'yes',"
                    "'createBasedOnOrgPlusRoleGroup':false}}}"),
         "data.flow.creationOptions.createBasedOnOrg"},
        {EVENT_WITH("bad-1", "",
                    "{'flowSetId':'" FSID "','flowType':'noSuchFlow',"
                    "'flow':" AU_FLOW "}"),
         "data.flowType"},
    };
    env *e = *state;
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pf_intake_config cfg = config(e, e->two, false);
        pf_intake in;

        take(&cfg, rows[i].json, NULL, &in);
        assert_invalid(&in, rows[i].path, "bad-1");
        pf_intake_release(&in);

        /* The tenant is fine, the transform still refuses (dry run too). */
        cfg = config(e, e->none, true);
        take(&cfg, rows[i].json, NULL, &in);
        assert_invalid(&in, rows[i].path, "bad-1");
        pf_intake_release(&in);
    }
}

/* The record's key orders it; without one, its flow set does. */
static void order_key_is_the_record_key_else_the_flow_set(void **state)
{
    env *e = *state;
    pf_intake_config cfg = config(e, e->two, false);
    static const char key[] = "sis-key\0with-nul";
    pf_record rec;
    pf_intake in;
    size_t len = 0;
    const char *k;

    take(&cfg, EVENT("req-40", ""), NULL, &in);
    assert_true(in.valid);
    memset(&rec, 0, sizeof(rec));
    rec.key = key;
    rec.key_len = sizeof(key) - 1; /* binary keys are bytes, not text */
    k = pf_intake_order_key(&in, &rec, &len);
    assert_ptr_equal(k, key);
    assert_int_equal(len, sizeof(key) - 1);

    rec.key = NULL;
    rec.key_len = 0;
    k = pf_intake_order_key(&in, &rec, &len);
    assert_int_equal(len, PF_UUID_STR_LEN);
    assert_memory_equal(k, FSID, PF_UUID_STR_LEN);

    /* An empty key counts as none. */
    rec.key = "";
    k = pf_intake_order_key(&in, &rec, &len);
    assert_int_equal(len, PF_UUID_STR_LEN);
    assert_memory_equal(k, FSID, PF_UUID_STR_LEN);
    pf_intake_release(&in);
}

/* Release is safe on an empty, an invalid and a released intake. */
static void release_is_safe_on_any_intake(void **state)
{
    env *e = *state;
    pf_intake_config cfg = config(e, e->two, false);
    pf_intake in;

    memset(&in, 0, sizeof(in));
    pf_intake_release(&in);
    pf_intake_release(&in);

    take(&cfg, "{'specversion':", NULL, &in);
    assert_false(in.valid);
    pf_intake_release(&in);
    assert_false(in.valid);
    assert_null(in.id);
    assert_null(in.req.base);
    assert_null(in.req.body);
    pf_intake_release(&in);

    take(&cfg, EVENT("req-50", ""), NULL, &in);
    assert_true(in.valid);
    pf_intake_release(&in);
    assert_false(in.valid);
    assert_null(in.id);
    assert_null(in.source);
    assert_null(in.req.base);
    assert_null(in.req.body);
    pf_intake_release(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_event_becomes_a_request_for_its_tenant),
        cmocka_unit_test(seed_event_is_valid),
        cmocka_unit_test(undecodable_records_are_invalid_at_the_decoders_path),
        cmocka_unit_test(unknown_tenant_is_invalid_naming_it),
        cmocka_unit_test(hostile_tenant_is_refused_with_a_clean_message),
        cmocka_unit_test(dry_run_without_credentials_accepts_any_tenant),
        cmocka_unit_test(dry_run_with_credentials_checks_the_tenant),
        cmocka_unit_test(transform_failure_is_invalid_at_its_path),
        cmocka_unit_test(order_key_is_the_record_key_else_the_flow_set),
        cmocka_unit_test(release_is_safe_on_any_intake),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
