/*
 * flowschema.c - the four provisioning flow types as tables (flowschema.h).
 *
 * Rows follow Graph's beta CSDL: property names in CSDL casing and
 * order, PF_PROP_REQUIRED where the CSDL says non-nullable. `annotate` is
 * set exactly on the types whose "@odata.type" the Graph documentation's
 * request bodies carry (the flows, classGroupConfiguration,
 * additionalClassGroupOptions, enrollmentMappings, sectionRoleReferenceValue
 * and simplePasswordSettings).
 */
#include "provflow/flowschema.h"

#include <string.h>
#include <strings.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define TYPE(n, annotated, props)                                              \
    {                                                                          \
        n, annotated, props, COUNT(props)                                      \
    }

/* Row shorthands: name, kind, flags, then the kind's own fields. */
#define BOOL(n, f)                                                             \
    {                                                                          \
        .name = n, .kind = PF_KIND_BOOL, .flags = f                            \
    }
#define STRINGS(n)                                                             \
    {                                                                          \
        .name = n, .kind = PF_KIND_STRING, .flags = PF_PROP_ARRAY              \
    }
#define ENUM(n, f, v)                                                          \
    {                                                                          \
        .name = n, .kind = PF_KIND_ENUM, .flags = f, .values = v               \
    }
#define OBJECT(n, f, t)                                                        \
    {                                                                          \
        .name = n, .kind = PF_KIND_OBJECT, .flags = f, .type = &t              \
    }

/* additionalClassGroupAttributes */
static const char *const class_attributes[] = {
    "courseTitle",
    "courseCode",
    "courseSubject",
    "courseGradeLevel",
    "courseExternalId",
    "academicSessionTitle",
    "academicSessionExternalId",
    "classCode",
    NULL,
};

/* additionalUserAttributes */
static const char *const user_attributes[] = {
    "userGradeLevel",
    "userNumber",
    NULL,
};

/* studentAgeGroup */
static const char *const age_groups[] = {"minor", "notAdult", "adult", NULL};

/*
 * Well-known section role codes, in Graph's casing (docs/events.md): the
 * codes Graph's documentation shows, "student" and the 29 roles of the
 * Staff role group in the Get userProvisioningFlow example. Codes are open
 * strings in the CSDL (sectionRoleReferenceValue.code is Edm.String), so
 * a code not listed here is sent as given; "other" was listed once but is
 * in no Graph source, and is now one of those.
 */
static const char *const role_codes[] = {
    "student",
    "teacher",
    "proctor",
    "teacherAssistant",
    "paraprofessional",
    "physicalTherapist",
    "speechTherapist",
    "visionTherapist",
    "occupationalTherapist",
    "staff",
    "substitute",
    "aide",
    "adjunct",
    "administrator",
    "advisor",
    "affiliate",
    "alumni",
    "assistant",
    "chair",
    "coach",
    "faculty",
    "instructor",
    "itAdmin",
    "lecturer",
    "nurse",
    "officeStaff",
    "principal",
    "professor",
    "researcher",
    "specialServices",
    NULL,
};

/* administrativeUnitProvisioningFlow */

static const pf_prop admin_unit_creation_props[] = {
    BOOL("createBasedOnOrg", PF_PROP_REQUIRED),
    BOOL("createBasedOnOrgPlusRoleGroup", PF_PROP_REQUIRED),
};
static const pf_type admin_unit_creation =
    TYPE("adminUnitCreationOptions", false, admin_unit_creation_props);

static const pf_prop admin_unit_flow_props[] = {
    OBJECT("creationOptions", PF_PROP_REQUIRED, admin_unit_creation),
};
static const pf_type admin_unit_flow =
    TYPE("administrativeUnitProvisioningFlow", true, admin_unit_flow_props);

/* securityGroupProvisioningFlow */

static const pf_prop security_group_creation_props[] = {
    BOOL("createBasedOnRoleGroup", PF_PROP_REQUIRED),
    BOOL("createBasedOnOrgPlusRoleGroup", PF_PROP_REQUIRED),
};
static const pf_type security_group_creation =
    TYPE("securityGroupCreationOptions", false, security_group_creation_props);

static const pf_prop security_group_flow_props[] = {
    OBJECT("creationOptions", PF_PROP_REQUIRED, security_group_creation),
};
static const pf_type security_group_flow =
    TYPE("securityGroupProvisioningFlow", true, security_group_flow_props);

/* classGroupProvisioningFlow */

static const pf_prop section_role_props[] = {
    {.name = "code",
     .kind = PF_KIND_CODE,
     .flags = PF_PROP_REQUIRED,
     .values = role_codes},
    /* The navigation property to the code's reference definition, bound
     * by URL only: "value@odata.bind". */
    {.name = "value",
     .kind = PF_KIND_BIND,
     .bind_path = "external/industryData/referenceDefinitions"},
};
static const pf_type section_role =
    TYPE("sectionRoleReferenceValue", true, section_role_props);

/* Mapping lists accept plain codes: ["teacher"] = [{"code": "teacher"}]. */
#define ROLE_LIST(n)                                                           \
    {                                                                          \
        .name = n, .kind = PF_KIND_OBJECT, .flags = PF_PROP_ARRAY,             \
        .type = &section_role, .shorthand = "code"                             \
    }

static const pf_prop enrollment_mappings_props[] = {
    ROLE_LIST("ownerEnrollmentMappings"),
    ROLE_LIST("memberEnrollmentMappings"),
};
static const pf_type enrollment_mappings =
    TYPE("enrollmentMappings", true, enrollment_mappings_props);

static const pf_prop class_group_options_props[] = {
    BOOL("createTeam", PF_PROP_REQUIRED),
    BOOL("writeDisplayNameOnCreateOnly", PF_PROP_REQUIRED),
};
static const pf_type class_group_options =
    TYPE("additionalClassGroupOptions", true, class_group_options_props);

static const pf_prop class_group_configuration_props[] = {
    ENUM("additionalAttributes", PF_PROP_ARRAY, class_attributes),
    OBJECT("additionalOptions", PF_PROP_REQUIRED, class_group_options),
    OBJECT("enrollmentMappings", PF_PROP_REQUIRED, enrollment_mappings),
};
static const pf_type class_group_configuration =
    TYPE("classGroupConfiguration", true, class_group_configuration_props);

static const pf_prop class_group_flow_props[] = {
    OBJECT("configuration", PF_PROP_REQUIRED, class_group_configuration),
};
static const pf_type class_group_flow =
    TYPE("classGroupProvisioningFlow", true, class_group_flow_props);

/* userProvisioningFlow */

static const pf_prop password_settings_props[] = {
    {.name = "password",
     .kind = PF_KIND_STRING,
     .flags = PF_PROP_REQUIRED | PF_PROP_SECRET},
};
static const pf_type password_settings =
    TYPE("simplePasswordSettings", true, password_settings_props);

static const pf_prop user_configuration_props[] = {
    /* A non-nullable navigation property: a create must bind it. */
    {.name = "roleGroup",
     .kind = PF_KIND_BIND,
     .flags = PF_PROP_REQUIRED,
     .alias = "roleGroupId",
     .bind_path = "external/industryData/roleGroups"},
    {.name = "defaultPasswordSettings",
     .kind = PF_KIND_OBJECT,
     .type = &password_settings,
     .alias = "defaultPasswordSecret"},
    STRINGS("licenseSkus"),
};
static const pf_type user_configuration =
    TYPE("userConfiguration", false, user_configuration_props);

static const pf_prop user_creation_props[] = {
    OBJECT("configurations", PF_PROP_ARRAY, user_configuration),
};
static const pf_type user_creation =
    TYPE("userCreationOptions", false, user_creation_props);

static const pf_prop user_options_props[] = {
    /* Deprecated by studentAgeGroup; still accepted by Graph. */
    BOOL("markAllStudentsAsMinors", 0),
    BOOL("allowStudentContactAssociation", 0),
    ENUM("studentAgeGroup", 0, age_groups),
};
static const pf_type user_options =
    TYPE("additionalUserOptions", false, user_options_props);

static const pf_prop user_management_props[] = {
    ENUM("additionalAttributes", PF_PROP_ARRAY, user_attributes),
    OBJECT("additionalOptions", PF_PROP_REQUIRED, user_options),
};
static const pf_type user_management =
    TYPE("userManagementOptions", false, user_management_props);

static const pf_prop user_flow_props[] = {
    BOOL("createUnmatchedUsers", 0),
    /* "managementOptions ... Required" on the update page too. */
    OBJECT("managementOptions", PF_PROP_REQUIRED | PF_PROP_UPDATE_REQUIRED,
           user_management),
    OBJECT("creationOptions", 0, user_creation),
};
static const pf_type user_flow =
    TYPE("userProvisioningFlow", true, user_flow_props);

/* The flow kinds. */

static const pf_flow_kind kinds[] = {
    {"administrativeUnit", &admin_unit_flow},
    {"classGroup", &class_group_flow},
    {"securityGroup", &security_group_flow},
    {"user", &user_flow},
};

const char *const pf_flow_readonly_props[] = {
    "id", "createdDateTime", "lastModifiedDateTime", "readinessStatus", NULL,
};

const pf_flow_kind *pf_flow_kind_by_name(const char *flow_type)
{
    size_t i;

    for (i = 0; i < COUNT(kinds); i++) {
        if (strcmp(kinds[i].flow_type, flow_type) == 0)
            return &kinds[i];
    }
    return NULL;
}

bool pf_odata_type_is(const char *value, const char *name)
{
    const char *ns = PF_ODATA_NS;
    size_t ns_len;

    if (value[0] != '#')
        ns++; /* the '#' is optional */
    ns_len = strlen(ns);
    return strncasecmp(value, ns, ns_len) == 0 &&
           strcasecmp(value + ns_len, name) == 0;
}

const pf_flow_kind *pf_flow_kind_by_odata_type(const char *odata_type)
{
    size_t i;

    for (i = 0; i < COUNT(kinds); i++) {
        if (pf_odata_type_is(odata_type, kinds[i].type->name))
            return &kinds[i];
    }
    return NULL;
}
