/*
 * test_gs_schema.c - the simulator's own Graph schema: the seed's four
 * bodies are accepted and echoed as Graph does, and every kind of broken
 * body is rejected with the offending property named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gs_schema.h"

static const char *const seeds[] = {"admin-unit", "class-group",
                                    "security-group", "user"};
static const enum gs_flow_type seed_types[] = {
    GS_FLOW_ADMIN_UNIT, GS_FLOW_CLASS_GROUP, GS_FLOW_SECURITY_GROUP,
    GS_FLOW_USER};

static json_t *load(const char *name, const char *suffix)
{
    char path[512];
    json_error_t err;
    json_t *j;

    snprintf(path, sizeof(path), "%s/seed-%s%s.json", GS_TEST_DATA, name,
             suffix);
    j = json_load_file(path, 0, &err);
    if (!j)
        fail_msg("%s: %s", path, err.text);
    return j;
}

/* Graph's response without what the server adds (metadata, id, dates,
 * readiness), i.e. what the validator echoes. */
static json_t *seed_echo(const char *name)
{
    json_t *j = load(name, ".response");
    static const char *const drop[] = {
        "@odata.context",  "@odata.type",          "id",
        "createdDateTime", "lastModifiedDateTime", "readinessStatus"};
    size_t i;

    for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        json_object_del(j, drop[i]);
    return j;
}

/* Validates text; returns the echo (caller frees) or NULL with err set. */
static json_t *check_text(const char *text, unsigned flags,
                          enum gs_flow_type *type, pf_error *err)
{
    json_t *body = json_loads(text, 0, NULL), *echo = NULL;
    struct gs_buf out;

    assert_non_null(body);
    gs_buf_init(&out);
    pf_error_clear(err);
    if (gs_schema_check_flow(body, flags, type, &out, err) == 0) {
        echo = json_loads(out.data, 0, NULL);
        assert_non_null(echo); /* the echo is valid JSON */
    } else {
        assert_true(out.len == 0);
        assert_string_equal(err->code, "BadRequest");
    }
    gs_buf_release(&out);
    json_decref(body);
    return echo;
}

static json_t *check_json(const json_t *body, unsigned flags,
                          enum gs_flow_type *type, pf_error *err)
{
    char *text = json_dumps(body, 0);
    json_t *echo = check_text(text, flags, type, err);

    free(text);
    return echo;
}

static void seed_bodies_are_accepted_and_echoed_like_graph(void **state)
{
    enum gs_flow_type type;
    pf_error err;
    json_t *body, *echo, *want;
    size_t i;

    (void)state;
    for (i = 0; i < 4; i++) {
        body = load(seeds[i], "");
        echo = check_json(body, 0, &type, &err);
        if (!echo)
            fail_msg("%s: %s: %s", seeds[i], err.path, err.message);
        assert_int_equal(type, seed_types[i]);
        want = seed_echo(seeds[i]);
        if (!json_equal(echo, want)) {
            char *got = json_dumps(echo, 0);

            fail_msg("%s echo differs from the seed's response: %s", seeds[i],
                     got);
        }
        json_decref(want);
        json_decref(echo);
        json_decref(body);
    }
}

/* Strict casing (flags 0, --strict-casing): the page's own spelling is
 * refused, naming the property and its CSDL name. */
static void strict_casing_rejects_the_seed_as_written(void **state)
{
    enum gs_flow_type type;
    pf_error err;
    json_t *body, *echo;

    (void)state;
    body = load("admin-unit", ".literal");
    assert_null(check_json(body, 0, &type, &err));
    assert_string_equal(err.path,
                        "creationOptions.createBasedOnOrgPlusroleGroup");
    assert_non_null(strstr(err.message, "'createBasedOnOrgPlusroleGroup'"));
    assert_non_null(strstr(err.message, "adminUnitCreationOptions"));
    assert_non_null(strstr(err.message, "'createBasedOnOrgPlusRoleGroup'"));
    json_decref(body);

    body = load("security-group", ".literal");
    assert_null(check_json(body, 0, &type, &err));
    assert_string_equal(err.path, "creationOptions.createBasedOnroleGroup");
    json_decref(body);

    /* The literal class group body only differs by a role code's case,
     * which Graph normalises: accepted. */
    body = load("class-group", ".literal");
    echo = check_json(body, 0, &type, &err);
    assert_non_null(echo);
    json_decref(echo);
    json_decref(body);
}

/* Lenient casing (the simulator's default, as Graph): the page's bodies
 * as written pass and echo in CSDL casing, like the page's responses. */
static void lenient_casing_accepts_the_seed_as_written(void **state)
{
    enum gs_flow_type type;
    pf_error err;
    json_t *body, *echo, *want;
    size_t i;

    (void)state;
    for (i = 0; i < 4; i++) {
        body = load(seeds[i], ".literal");
        echo = check_json(body, GS_SCHEMA_LENIENT_CASE, &type, &err);
        if (!echo)
            fail_msg("%s: %s: %s", seeds[i], err.path, err.message);
        want = seed_echo(seeds[i]);
        assert_true(json_equal(echo, want));
        json_decref(want);
        json_decref(echo);
        json_decref(body);
    }
    /* Two spellings of one property are still an error. */
    assert_null(
        check_text("{\"@odata.type\":\"#microsoft.graph.industryData."
                   "administrativeUnitProvisioningFlow\",\"creationOptions\":{"
                   "\"createBasedOnOrg\":true,\"createbasedonorg\":true,"
                   "\"createBasedOnOrgPlusRoleGroup\":true}}",
                   GS_SCHEMA_LENIENT_CASE, &type, &err));
    assert_string_equal(err.path, "creationOptions.createbasedonorg");
}

#define AU                                                                     \
    "\"@odata.type\":\"#microsoft.graph.industryData."                         \
    "administrativeUnitProvisioningFlow\""
#define AU_OPTS                                                                \
    "\"creationOptions\":{\"createBasedOnOrg\":true,"                          \
    "\"createBasedOnOrgPlusRoleGroup\":false}"
#define SG                                                                     \
    "\"@odata.type\":\"#microsoft.graph.industryData."                         \
    "securityGroupProvisioningFlow\""
#define CG                                                                     \
    "\"@odata.type\":\"#microsoft.graph.industryData."                         \
    "classGroupProvisioningFlow\""
#define CG_OPTS                                                                \
    "\"additionalOptions\":{\"createTeam\":true,"                              \
    "\"writeDisplayNameOnCreateOnly\":false}"
#define CG_MAP "\"enrollmentMappings\":{}"
#define UF                                                                     \
    "\"@odata.type\":\"#microsoft.graph.industryData.userProvisioningFlow\""
#define UF_MGMT "\"managementOptions\":{\"additionalOptions\":{}}"
#define PW                                                                     \
    "\"@odata.type\":\"#microsoft.graph.industryData.simplePasswordSettings\""
#define BIND                                                                   \
    "\"roleGroup@odata.bind\":\"https://graph.microsoft.com/beta/external/"    \
    "industryData/roleGroups/staff\""

struct bad_case {
    const char *body;
    const char *path;    /* err.path */
    const char *message; /* a substring of err.message */
};

static const struct bad_case bad_cases[] = {
    {"[]", "$", "JSON object"},
    {"{}", "@odata.type", "required"},
    {"{\"@odata.type\":7}", "@odata.type", "JSON string"},
    {"{\"@odata.type\":\"#microsoft.graph.industryData.fooFlow\"}",
     "@odata.type", "could not be resolved"},
    {"{\"@odata.type\":\"microsoft.graph.industryData."
     "userProvisioningFlow\"}",
     "@odata.type", "could not be resolved"},
    /* administrativeUnitProvisioningFlow */
    {"{" AU "}", "creationOptions", "'creationOptions'"},
    {"{" AU ",\"creationOptions\":null}", "creationOptions", "null value"},
    {"{" AU ",\"creationOptions\":[]}", "creationOptions", "JSON array"},
    {"{" AU ",\"creationOptions\":{\"createBasedOnOrg\":\"yes\","
     "\"createBasedOnOrgPlusRoleGroup\":true}}",
     "creationOptions.createBasedOnOrg", "'Edm.Boolean'"},
    {"{" AU ",\"creationOptions\":{\"createBasedOnOrg\":null,"
     "\"createBasedOnOrgPlusRoleGroup\":true}}",
     "creationOptions.createBasedOnOrg", "Nullable=False"},
    {"{" AU ",\"creationOptions\":{\"createBasedOnOrg\":true}}",
     "creationOptions.createBasedOnOrgPlusRoleGroup", "missing"},
    {"{" AU "," AU_OPTS ",\"displayName\":\"x\"}", "displayName",
     "does not exist on type"},
    {"{" AU "," AU_OPTS ",\"id\":\"x\"}", "id", "read-only"},
    {"{" AU "," AU_OPTS ",\"createdDateTime\":\"x\"}", "createdDateTime",
     "read-only"},
    {"{" AU "," AU_OPTS ",\"lastModifiedDateTime\":\"x\"}",
     "lastModifiedDateTime", "read-only"},
    {"{" AU "," AU_OPTS ",\"readinessStatus\":\"ready\"}", "readinessStatus",
     "read-only"},
    {"{" AU ",\"creationOptions\":{\"@odata.type\":\"#microsoft.graph."
     "industryData.securityGroupCreationOptions\"}}",
     "creationOptions.@odata.type", "not assignable"},
    /* securityGroupProvisioningFlow */
    {"{" SG ",\"creationOptions\":{\"createBasedOnroleGroup\":true,"
     "\"createBasedOnOrgPlusRoleGroup\":true}}",
     "creationOptions.createBasedOnroleGroup", "does not exist"},
    {"{" SG ",\"creationOptions\":{\"createBasedOnRoleGroup\":1,"
     "\"createBasedOnOrgPlusRoleGroup\":true}}",
     "creationOptions.createBasedOnRoleGroup", "JSON number"},
    {"{" SG "," AU_OPTS "}", "creationOptions.createBasedOnOrg",
     "securityGroupCreationOptions"},
    /* classGroupProvisioningFlow */
    {"{" CG "}", "configuration", "missing"},
    {"{" CG ",\"configuration\":{" CG_MAP "}}",
     "configuration.additionalOptions", "missing"},
    {"{" CG ",\"configuration\":{" CG_OPTS "}}",
     "configuration.enrollmentMappings", "missing"},
    {"{" CG ",\"configuration\":{\"additionalOptions\":{\"createTeam\":"
     "true}," CG_MAP "}}",
     "configuration.additionalOptions.writeDisplayNameOnCreateOnly", "missing"},
    {"{" CG ",\"configuration\":{" CG_OPTS "," CG_MAP
     ",\"additionalAttributes\":[\"courseTitle\",\"bogus\"]}}",
     "configuration.additionalAttributes[1]", "'bogus'"},
    {"{" CG ",\"configuration\":{" CG_OPTS "," CG_MAP
     ",\"additionalAttributes\":[\"coursetitle\"]}}",
     "configuration.additionalAttributes[0]", "additionalClassGroupAttributes"},
    {"{" CG ",\"configuration\":{" CG_OPTS "," CG_MAP
     ",\"additionalAttributes\":\"courseTitle\"}}",
     "configuration.additionalAttributes", "collection"},
    {"{" CG ",\"configuration\":{" CG_OPTS "," CG_MAP
     ",\"additionalAttributes\":null}}",
     "configuration.additionalAttributes", "Collection("},
    {"{" CG ",\"configuration\":{" CG_OPTS
     ",\"enrollmentMappings\":{\"ownerEnrollmentMappings\":[{}]}}}",
     "configuration.enrollmentMappings.ownerEnrollmentMappings[0].code",
     "missing"},
    {"{" CG ",\"configuration\":{" CG_OPTS
     ",\"enrollmentMappings\":{\"memberEnrollmentMappings\":[null]}}}",
     "configuration.enrollmentMappings.memberEnrollmentMappings[0]",
     "null value"},
    {"{" CG ",\"configuration\":{" CG_OPTS
     ",\"enrollmentMappings\":{\"memberEnrollmentMappings\":[\"student\"]}}}",
     "configuration.enrollmentMappings.memberEnrollmentMappings[0]",
     "JSON string"},
    {"{" CG ",\"configuration\":{" CG_OPTS
     ",\"enrollmentMappings\":{\"ownerEnrollmentMappings\":[{\"code\":\"\"}]"
     "}}}",
     "configuration.enrollmentMappings.ownerEnrollmentMappings[0].code",
     "empty"},
    {"{" CG ",\"configuration\":{" CG_OPTS
     ",\"enrollmentMappings\":{\"ownerEnrollmentMappings\":[{\"@odata."
     "type\":\"#microsoft.graph.industryData.referenceValue\",\"code\":"
     "\"teacher\"}]}}}",
     "configuration.enrollmentMappings.ownerEnrollmentMappings[0].@odata."
     "type",
     "sectionRoleReferenceValue"},
    {"{" CG ",\"configuration\":{\"@odata.type\":\"#microsoft.graph."
     "industryData.classGroupConfig\"," CG_OPTS "," CG_MAP "}}",
     "configuration.@odata.type", "not assignable"},
    {"{" CG ",\"configuration\":{" CG_OPTS ",\"enrollmentMappings\":null}}",
     "configuration.enrollmentMappings", "null value"},
    {"{" CG ",\"configuration\":{" CG_OPTS
     ",\"enrollmentMappings\":{\"ownerMappings\":[]}}}",
     "configuration.enrollmentMappings.ownerMappings", "does not exist"},
    /* userProvisioningFlow */
    {"{" UF "}", "managementOptions", "missing"},
    {"{" UF ",\"managementOptions\":{}}", "managementOptions.additionalOptions",
     "missing"},
    {"{" UF "," UF_MGMT ",\"createUnmatchedUsers\":\"true\"}",
     "createUnmatchedUsers", "Edm.Boolean"},
    {"{" UF ",\"managementOptions\":{\"additionalOptions\":{"
     "\"studentAgeGroup\":\"child\"}}}",
     "managementOptions.additionalOptions.studentAgeGroup", "'child'"},
    {"{" UF ",\"managementOptions\":{\"additionalOptions\":{},"
     "\"additionalAttributes\":[\"userGradeLevel\",\"grade\"]}}",
     "managementOptions.additionalAttributes[1]", "additionalUserAttributes"},
    {"{" UF ",\"managementOptions\":{\"additionalOptions\":{"
     "\"markAllStudentsAsMinors\":\"yes\"}}}",
     "managementOptions.additionalOptions.markAllStudentsAsMinors",
     "Edm.Boolean"},
    {"{" UF "," UF_MGMT ",\"creationOptions\":{\"configurations\":null}}",
     "creationOptions.configurations", "null value"},
    {"{" UF "," UF_MGMT ",\"creationOptions\":{\"configurations\":[{"
     "\"roleGroup@odata.bind\":\"staff\"}]}}",
     "creationOptions.configurations[0].roleGroup@odata.bind", "roleGroups"},
    {"{" UF "," UF_MGMT ",\"creationOptions\":{\"configurations\":[{"
     "\"roleGroup@odata.bind\":\"https://graph.microsoft.com/beta/external/"
     "industryData/roleGroupz/staff\"}]}}",
     "creationOptions.configurations[0].roleGroup@odata.bind", "URL"},
    {"{" UF "," UF_MGMT ",\"creationOptions\":{\"configurations\":[{"
     "\"roleGroup@odata.bind\":\"https://graph.microsoft.com/beta/external/"
     "industryData/roleGroups/\"}]}}",
     "creationOptions.configurations[0].roleGroup@odata.bind", "URL"},
    {"{" UF "," UF_MGMT ",\"creationOptions\":{\"configurations\":[{" BIND
     ",\"defaultPasswordSettings\":{\"password\":\"x\"}}]}}",
     "creationOptions.configurations[0].defaultPasswordSettings.@odata.type",
     "'microsoft.graph.industryData.passwordSettings'"},
    {"{" UF "," UF_MGMT ",\"creationOptions\":{\"configurations\":[{" BIND
     ",\"defaultPasswordSettings\":{" PW ",\"password\":123}}]}}",
     "creationOptions.configurations[0].defaultPasswordSettings.password",
     "Edm.String"},
    {"{" UF "," UF_MGMT ",\"creationOptions\":{\"configurations\":[{" BIND
     ",\"licenseSkus\":[1]}]}}",
     "creationOptions.configurations[0].licenseSkus[0]", "Edm.String"},
    {"{" UF "," UF_MGMT ",\"creationOptions\":{\"configurations\":[{"
     "\"role@odata.bind\":\"x\"}]}}",
     "creationOptions.configurations[0].role@odata.bind", "does not exist"},
    {"{" UF "," UF_MGMT ",\"creationOptions\":{\"configurations\":[{" BIND
     ",\"defaultPasswordSettings\":{\"@odata.type\":\"#microsoft.graph."
     "industryData.passwordSettingsBase\"}}]}}",
     "creationOptions.configurations[0].defaultPasswordSettings.@odata.type",
     "not assignable"},
    /* roleGroup is a required navigation property of a configuration */
    {"{" UF "," UF_MGMT ",\"creationOptions\":{\"configurations\":[{"
     "\"licenseSkus\":[]}]}}",
     "creationOptions.configurations[0].roleGroup@odata.bind",
     "navigation property 'roleGroup'"},
    {"{" UF "," UF_MGMT ",\"creationOptions\":{\"configurations\":[{"
     "\"roleGroup@odata.bind\":null}]}}",
     "creationOptions.configurations[0].roleGroup@odata.bind", "null value"},
    {"{" UF "," UF_MGMT ",\"creationOptions\":{\"configurations\":[{"
     "\"roleGroup@odata.bind\":\"https://graph.microsoft.com/beta/external/"
     "industryData/roleGroups/parents\"}]}}",
     "creationOptions.configurations[0].roleGroup@odata.bind",
     "'parents' bound by 'roleGroup@odata.bind' does not exist"},
    /* simplePasswordSettings.password is required and not nullable */
    {"{" UF "," UF_MGMT ",\"creationOptions\":{\"configurations\":[{" BIND
     ",\"defaultPasswordSettings\":{" PW "}}]}}",
     "creationOptions.configurations[0].defaultPasswordSettings.password",
     "missing"},
    {"{" UF "," UF_MGMT ",\"creationOptions\":{\"configurations\":[{" BIND
     ",\"defaultPasswordSettings\":{" PW ",\"password\":null}}]}}",
     "creationOptions.configurations[0].defaultPasswordSettings.password",
     "null value"},
    /* sectionRoleReferenceValue.value binds a referenceDefinition */
    {"{" CG ",\"configuration\":{" CG_OPTS ",\"enrollmentMappings\":{"
     "\"ownerEnrollmentMappings\":[{\"code\":\"teacher\","
     "\"value@odata.bind\":\"https://graph.microsoft.com/beta/external/"
     "industryData/roleGroups/staff\"}]}}}",
     "configuration.enrollmentMappings.ownerEnrollmentMappings[0].value@odata."
     "bind",
     "referenceDefinitions"},
};

static void broken_bodies_are_rejected_naming_the_property(void **state)
{
    enum gs_flow_type type;
    pf_error err;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        if (check_text(bad_cases[i].body, 0, &type, &err))
            fail_msg("case %zu accepted: %s", i, bad_cases[i].body);
        if (strcmp(err.path, bad_cases[i].path) != 0 ||
            !strstr(err.message, bad_cases[i].message))
            fail_msg("case %zu: got %s: %s; want %s: ...%s...", i, err.path,
                     err.message, bad_cases[i].path, bad_cases[i].message);
    }
}

static void echo_masks_normalises_and_drops_what_graph_drops(void **state)
{
    enum gs_flow_type type;
    pf_error err;
    json_t *echo;
    const json_t *cfg;

    (void)state;
    echo = check_text(
        "{" UF ",\"createUnmatchedUsers\":null,\"managementOptions\":{"
        "\"@odata.type\":\"#microsoft.graph.industryData."
        "userManagementOptions\",\"additionalOptions\":{\"studentAgeGroup\":"
        "\"notAdult\"}},\"creationOptions\":{\"configurations\":[{" BIND
        ",\"defaultPasswordSettings\":{" PW ",\"password\":\"s3cret\"}}]}}",
        0, &type, &err);
    assert_non_null(echo);
    assert_int_equal(type, GS_FLOW_USER);
    assert_true(json_is_null(json_object_get(echo, "createUnmatchedUsers")));
    assert_null(json_object_get(json_object_get(echo, "managementOptions"),
                                "@odata.type"));
    cfg =
        json_array_get(json_object_get(json_object_get(echo, "creationOptions"),
                                       "configurations"),
                       0);
    assert_null(json_object_get(cfg, "roleGroup@odata.bind"));
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(cfg, "defaultPasswordSettings"), "password")),
        GS_SCHEMA_PASSWORD_MASK);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(cfg, "defaultPasswordSettings"), "@odata.type")),
        "#microsoft.graph.industryData.simplePasswordSettings");
    json_decref(echo);

    /* Well-known role codes take Graph's casing; unknown ones pass. */
    echo = check_text("{" CG ",\"configuration\":{" CG_OPTS
                      ",\"enrollmentMappings\":{\"ownerEnrollmentMappings\":"
                      "[{\"code\":\"TEACHER\"},{\"code\":\"itadmin\"},{"
                      "\"code\":\"districtCoach\"}]}}}",
                      0, &type, &err);
    assert_non_null(echo);
    cfg =
        json_object_get(json_object_get(json_object_get(echo, "configuration"),
                                        "enrollmentMappings"),
                        "ownerEnrollmentMappings");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(cfg, 0), "code")),
        "teacher");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(cfg, 1), "code")),
        "itAdmin");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(cfg, 2), "code")),
        "districtCoach");
    json_decref(echo);
}

static void unknown_future_value_and_value_bind_are_accepted(void **state)
{
    enum gs_flow_type type;
    pf_error err;
    json_t *echo;
    char *text;

    (void)state;
    echo = check_text("{" UF ",\"managementOptions\":{\"additionalAttributes\":"
                      "[\"unknownFutureValue\"],\"additionalOptions\":{"
                      "\"studentAgeGroup\":\"unknownFutureValue\"}}}",
                      0, &type, &err);
    if (!echo)
        fail_msg("%s: %s", err.path, err.message);
    json_decref(echo);
    echo =
        check_text("{" CG ",\"configuration\":{\"additionalAttributes\":["
                   "\"unknownFutureValue\"]," CG_OPTS
                   ",\"enrollmentMappings\":{\"memberEnrollmentMappings\":"
                   "[{\"code\":\"student\",\"value@odata.bind\":"
                   "\"https://graph.microsoft.com/beta/external/industryData/"
                   "referenceDefinitions/RefRole-student\"}]}}}",
                   0, &type, &err);
    if (!echo)
        fail_msg("%s: %s", err.path, err.message);
    /* the bind is not echoed */
    text = json_dumps(echo, 0);
    assert_non_null(text);
    assert_null(strstr(text, "value@odata.bind"));
    free(text);
    json_decref(echo);
}

static void patch_needs_no_type_but_its_required_members(void **state)
{
    struct gs_buf out;
    pf_error err;
    json_t *body;

    (void)state;
    gs_buf_init(&out);
    body = json_loads("{\"createUnmatchedUsers\":false," UF_MGMT "}", 0, NULL);
    assert_int_equal(
        gs_schema_check_flow_patch(body, 0, GS_FLOW_USER, &out, &err), 0);
    assert_string_equal(out.data, "{\"createUnmatchedUsers\":false,"
                                  "\"managementOptions\":{\"additionalOptions\""
                                  ":{}}}");
    json_decref(body);
    gs_buf_release(&out);
    gs_buf_init(&out);
    /* the update page: managementOptions "Required" */
    body = json_loads("{\"createUnmatchedUsers\":false}", 0, NULL);
    assert_int_equal(
        gs_schema_check_flow_patch(body, 0, GS_FLOW_USER, &out, &err), -1);
    assert_string_equal(err.path, "managementOptions");
    json_decref(body);
    /* a complex value replaces whole: its own required members stay */
    body = json_loads("{\"managementOptions\":{}}", 0, NULL);
    assert_int_equal(
        gs_schema_check_flow_patch(body, 0, GS_FLOW_USER, &out, &err), -1);
    assert_string_equal(err.path, "managementOptions.additionalOptions");
    json_decref(body);
    /* read-only stays read-only; another flow type is refused */
    body = json_loads("{\"readinessStatus\":\"ready\"}", 0, NULL);
    assert_int_equal(
        gs_schema_check_flow_patch(body, 0, GS_FLOW_USER, &out, &err), -1);
    assert_non_null(strstr(err.message, "read-only"));
    json_decref(body);
    body = json_loads("{" UF "}", 0, NULL);
    assert_int_equal(
        gs_schema_check_flow_patch(body, 0, GS_FLOW_ADMIN_UNIT, &out, &err),
        -1);
    assert_string_equal(err.path, "@odata.type");
    json_decref(body);
    gs_buf_release(&out);
}

static void expanded_render_carries_the_role_group(void **state)
{
    struct gs_buf out;
    json_t *body, *got;
    const json_t *rg;

    (void)state;
    gs_buf_init(&out);
    body = json_loads("{" UF "," UF_MGMT ",\"creationOptions\":{"
                      "\"configurations\":[{" BIND ",\"licenseSkus\":[]}]}}",
                      0, NULL);
    gs_schema_render_flow(body, GS_SCHEMA_EXPAND, GS_FLOW_USER, &out);
    got = json_loads(out.data, 0, NULL);
    assert_non_null(got);
    rg = json_object_get(
        json_array_get(json_object_get(json_object_get(got, "creationOptions"),
                                       "configurations"),
                       0),
        "roleGroup");
    assert_string_equal(json_string_value(json_object_get(rg, "id")), "staff");
    assert_string_equal(json_string_value(json_object_get(rg, "displayName")),
                        "Staff");
    assert_true(json_array_size(json_object_get(rg, "roles")) > 1);
    json_decref(got);
    json_decref(body);
    gs_buf_release(&out);
    assert_int_equal(gs_schema_role_group_count(), 2);
    gs_buf_init(&out);
    assert_int_equal(gs_schema_role_group_json("Students", &out), 0);
    assert_non_null(strstr(out.data, "\"code\":\"student\""));
    assert_int_equal(gs_schema_role_group_json("teachers", &out), -1);
    gs_buf_release(&out);
}

static void flow_set_needs_a_display_name_and_no_read_only(void **state)
{
    struct gs_buf out;
    pf_error err;
    json_t *body;

    (void)state;
    gs_buf_init(&out);
    body = json_loads("{\"displayName\":\"District A\",\"filter\":{\"x\":1}}",
                      0, NULL);
    assert_int_equal(gs_schema_check_flow_set(body, 0, &out, &err), 0);
    assert_string_equal(
        out.data, "{\"displayName\":\"District A\",\"filter\":{\"x\":1}}");
    json_decref(body);
    gs_buf_release(&out);

    body = json_loads("{\"filter\":{}}", 0, NULL);
    assert_int_equal(gs_schema_check_flow_set(body, 0, &out, &err), -1);
    assert_string_equal(err.path, "displayName");
    json_decref(body);

    body = json_loads("{\"displayName\":\"x\",\"id\":\"y\"}", 0, NULL);
    assert_int_equal(gs_schema_check_flow_set(body, 0, &out, &err), -1);
    assert_string_equal(err.path, "id");
    assert_non_null(strstr(err.message, "read-only"));
    json_decref(body);

    body = json_loads("{\"displayname\":\"x\"}", 0, NULL);
    assert_int_equal(gs_schema_check_flow_set(body, 0, &out, &err), -1);
    assert_string_equal(err.path, "displayname");
    json_decref(body);
    gs_buf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seed_bodies_are_accepted_and_echoed_like_graph),
        cmocka_unit_test(strict_casing_rejects_the_seed_as_written),
        cmocka_unit_test(lenient_casing_accepts_the_seed_as_written),
        cmocka_unit_test(broken_bodies_are_rejected_naming_the_property),
        cmocka_unit_test(echo_masks_normalises_and_drops_what_graph_drops),
        cmocka_unit_test(flow_set_needs_a_display_name_and_no_read_only),
        cmocka_unit_test(unknown_future_value_and_value_bind_are_accepted),
        cmocka_unit_test(patch_needs_no_type_but_its_required_members),
        cmocka_unit_test(expanded_render_carries_the_role_group),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
