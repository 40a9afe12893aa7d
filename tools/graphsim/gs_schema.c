/*
 * gs_schema.c - Graph's industryData schema as tables, and the validator
 * that walks them (see gs_schema.h). Adding a property is one table row.
 */
#include "gs_schema.h"

#include <stdlib.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NS "microsoft.graph.industryData."

enum kind {
    K_BOOL,
    K_STRING,
    K_ENUM,
    K_OBJECT,
    K_BIND_ROLE, /* an `@odata.bind` URL to a roleGroup the sim knows */
    K_BIND_REF,  /* an `@odata.bind` URL to a referenceDefinition */
    K_ANY_OBJECT /* any JSON object, echoed as sent */
};

#define P_REQUIRED   0x01u /* non-nullable: must be present, not null */
#define P_COLLECTION 0x02u /* a JSON array of the kind */
#define P_READONLY   0x04u /* set by Graph: 400 when sent */
#define P_MASKED     0x08u /* echoed as GS_SCHEMA_PASSWORD_MASK */
#define P_ROLE_CODE  0x10u /* well-known section-role codes normalised */
#define P_NOT_ECHOED 0x20u /* accepted, never in the response */
#define P_NONEMPTY   0x40u /* a string that must not be "" */

struct enum_def {
    const char *name;
    const char *const *values; /* NULL-terminated */
};

struct type_def;

struct prop_def {
    const char *name;
    enum kind kind;
    unsigned flags;
    const struct type_def *type; /* K_OBJECT */
    const struct enum_def *en;   /* K_ENUM */
};

struct type_def {
    const char *name; /* without the namespace */
    /* Non-NULL when the declared type is abstract (this is its only
     * concrete subtype): `@odata.type` is then required and echoed. */
    const char *abstract_base;
    const struct prop_def *props; /* terminated by a NULL name */
};

#define MAX_PROPS 16

static const char *const class_attrs[] = {"courseTitle",
                                          "courseCode",
                                          "courseSubject",
                                          "courseGradeLevel",
                                          "courseExternalId",
                                          "academicSessionTitle",
                                          "academicSessionExternalId",
                                          "classCode",
                                          "unknownFutureValue",
                                          NULL};
static const struct enum_def class_attrs_enum = {
    "additionalClassGroupAttributes", class_attrs};

static const char *const user_attrs[] = {"userGradeLevel", "userNumber",
                                         "unknownFutureValue", NULL};
static const struct enum_def user_attrs_enum = {"additionalUserAttributes",
                                                user_attrs};

/* Graph's evolvable enums end in unknownFutureValue (the beta CSDL, as
 * the SDKs generated from it show): a client may send it back. */
static const char *const age_groups[] = {"minor", "notAdult", "adult",
                                         "unknownFutureValue", NULL};
static const struct enum_def age_group_enum = {"studentAgeGroup", age_groups};

/* Section-role codes Graph defines, in its casing (its role-group pages). */
static const char *const role_codes[] = {"student",
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
                                         "other",
                                         NULL};

/* The role groups Graph seeds in every tenant ("the default role groups
 * are Students and Staff", roleGroup resource page), with the ids and
 * roles its Get userProvisioningFlow example expands. */
static const char *const students_roles[] = {"student", NULL};
static const char *const staff_roles[] = {"adjunct",
                                          "administrator",
                                          "advisor",
                                          "affiliate",
                                          "aide",
                                          "alumni",
                                          "assistant",
                                          "chair",
                                          "coach",
                                          "faculty",
                                          "instructor",
                                          "itAdmin",
                                          "lecturer",
                                          "nurse",
                                          "occupationalTherapist",
                                          "officeStaff",
                                          "paraprofessional",
                                          "physicalTherapist",
                                          "principal",
                                          "proctor",
                                          "professor",
                                          "researcher",
                                          "specialServices",
                                          "speechTherapist",
                                          "staff",
                                          "substitute",
                                          "teacher",
                                          "teacherAssistant",
                                          "visionTherapist",
                                          NULL};

static const struct role_group {
    const char *id;
    const char *display_name;
    const char *const *roles;
} role_groups[] = {{"students", "Students", students_roles},
                   {"staff", "Staff", staff_roles}};

#define NROLE_GROUPS (sizeof(role_groups) / sizeof(role_groups[0]))

/* Read-only properties of every provisioningFlow (the entity's keys and
 * server-set state); listed in each flow type so that sending one is named
 * as read-only rather than unknown. */
#define FLOW_READONLY_PROPS                                                    \
    {"id", K_STRING, P_READONLY, NULL, NULL},                                  \
        {"createdDateTime", K_STRING, P_READONLY, NULL, NULL},                 \
        {"lastModifiedDateTime", K_STRING, P_READONLY, NULL, NULL},            \
    {                                                                          \
        "readinessStatus", K_STRING, P_READONLY, NULL, NULL                    \
    }

/* administrativeUnitProvisioningFlow */
static const struct prop_def admin_unit_options_props[] = {
    {"createBasedOnOrg", K_BOOL, P_REQUIRED, NULL, NULL},
    {"createBasedOnOrgPlusRoleGroup", K_BOOL, P_REQUIRED, NULL, NULL},
    {NULL, K_BOOL, 0, NULL, NULL}};
static const struct type_def admin_unit_options = {
    "adminUnitCreationOptions", NULL, admin_unit_options_props};
static const struct prop_def admin_unit_flow_props[] = {
    FLOW_READONLY_PROPS,
    {"creationOptions", K_OBJECT, P_REQUIRED, &admin_unit_options, NULL},
    {NULL, K_BOOL, 0, NULL, NULL}};
static const struct type_def admin_unit_flow = {
    "administrativeUnitProvisioningFlow", "provisioningFlow",
    admin_unit_flow_props};

/* securityGroupProvisioningFlow */
static const struct prop_def security_group_options_props[] = {
    {"createBasedOnRoleGroup", K_BOOL, P_REQUIRED, NULL, NULL},
    {"createBasedOnOrgPlusRoleGroup", K_BOOL, P_REQUIRED, NULL, NULL},
    {NULL, K_BOOL, 0, NULL, NULL}};
static const struct type_def security_group_options = {
    "securityGroupCreationOptions", NULL, security_group_options_props};
static const struct prop_def security_group_flow_props[] = {
    FLOW_READONLY_PROPS,
    {"creationOptions", K_OBJECT, P_REQUIRED, &security_group_options, NULL},
    {NULL, K_BOOL, 0, NULL, NULL}};
static const struct type_def security_group_flow = {
    "securityGroupProvisioningFlow", "provisioningFlow",
    security_group_flow_props};

/* classGroupProvisioningFlow */
/* sectionRoleReferenceValue: `code`, plus its `value` navigation property
 * to a referenceDefinition, bound by URL and not echoed. */
static const struct prop_def role_ref_props[] = {
    {"code", K_STRING, P_REQUIRED | P_NONEMPTY | P_ROLE_CODE, NULL, NULL},
    {"value@odata.bind", K_BIND_REF, P_NOT_ECHOED, NULL, NULL},
    {NULL, K_BOOL, 0, NULL, NULL}};
static const struct type_def role_ref = {"sectionRoleReferenceValue", NULL,
                                         role_ref_props};
static const struct prop_def enrollment_props[] = {
    {"ownerEnrollmentMappings", K_OBJECT, P_COLLECTION, &role_ref, NULL},
    {"memberEnrollmentMappings", K_OBJECT, P_COLLECTION, &role_ref, NULL},
    {NULL, K_BOOL, 0, NULL, NULL}};
static const struct type_def enrollment = {"enrollmentMappings", NULL,
                                           enrollment_props};
static const struct prop_def class_options_props[] = {
    {"createTeam", K_BOOL, P_REQUIRED, NULL, NULL},
    {"writeDisplayNameOnCreateOnly", K_BOOL, P_REQUIRED, NULL, NULL},
    {NULL, K_BOOL, 0, NULL, NULL}};
static const struct type_def class_options = {"additionalClassGroupOptions",
                                              NULL, class_options_props};
static const struct prop_def class_config_props[] = {
    {"additionalAttributes", K_ENUM, P_COLLECTION, NULL, &class_attrs_enum},
    {"additionalOptions", K_OBJECT, P_REQUIRED, &class_options, NULL},
    {"enrollmentMappings", K_OBJECT, P_REQUIRED, &enrollment, NULL},
    {NULL, K_BOOL, 0, NULL, NULL}};
static const struct type_def class_config = {"classGroupConfiguration", NULL,
                                             class_config_props};
static const struct prop_def class_group_flow_props[] = {
    FLOW_READONLY_PROPS,
    {"configuration", K_OBJECT, P_REQUIRED, &class_config, NULL},
    {NULL, K_BOOL, 0, NULL, NULL}};
static const struct type_def class_group_flow = {
    "classGroupProvisioningFlow", "provisioningFlow", class_group_flow_props};

/* userProvisioningFlow */
static const struct prop_def user_options_props[] = {
    {"markAllStudentsAsMinors", K_BOOL, 0, NULL, NULL}, /* deprecated */
    {"allowStudentContactAssociation", K_BOOL, 0, NULL, NULL},
    {"studentAgeGroup", K_ENUM, 0, NULL, &age_group_enum},
    {NULL, K_BOOL, 0, NULL, NULL}};
static const struct type_def user_options = {"additionalUserOptions", NULL,
                                             user_options_props};
static const struct prop_def user_mgmt_props[] = {
    {"additionalAttributes", K_ENUM, P_COLLECTION, NULL, &user_attrs_enum},
    {"additionalOptions", K_OBJECT, P_REQUIRED, &user_options, NULL},
    {NULL, K_BOOL, 0, NULL, NULL}};
static const struct type_def user_mgmt = {"userManagementOptions", NULL,
                                          user_mgmt_props};
static const struct prop_def password_props[] = {
    {"password", K_STRING, P_REQUIRED | P_MASKED, NULL, NULL},
    {NULL, K_BOOL, 0, NULL, NULL}};
static const struct type_def password = {"simplePasswordSettings",
                                         "passwordSettings", password_props};
/* Echo order follows Graph's response: licenseSkus, the password, then
 * (GET and list only) the roleGroup expanded. roleGroup is a non-nullable
 * navigation property: a create binds it by URL. */
static const struct prop_def user_config_props[] = {
    {"licenseSkus", K_STRING, P_COLLECTION, NULL, NULL},
    {"defaultPasswordSettings", K_OBJECT, 0, &password, NULL},
    {"roleGroup@odata.bind", K_BIND_ROLE, P_REQUIRED | P_NOT_ECHOED, NULL,
     NULL},
    {NULL, K_BOOL, 0, NULL, NULL}};
static const struct type_def user_config = {"userConfiguration", NULL,
                                            user_config_props};
static const struct prop_def user_creation_props[] = {
    {"configurations", K_OBJECT, P_COLLECTION, &user_config, NULL},
    {NULL, K_BOOL, 0, NULL, NULL}};
static const struct type_def user_creation = {"userCreationOptions", NULL,
                                              user_creation_props};
static const struct prop_def user_flow_props[] = {
    FLOW_READONLY_PROPS,
    {"createUnmatchedUsers", K_BOOL, 0, NULL, NULL},
    {"managementOptions", K_OBJECT, P_REQUIRED, &user_mgmt, NULL},
    {"creationOptions", K_OBJECT, 0, &user_creation, NULL},
    {NULL, K_BOOL, 0, NULL, NULL}};
static const struct type_def user_flow = {"userProvisioningFlow",
                                          "provisioningFlow", user_flow_props};

/* Indexed by enum gs_flow_type. */
static const struct type_def *const flow_types[GS_FLOW_TYPE_COUNT] = {
    &admin_unit_flow, &class_group_flow, &security_group_flow, &user_flow};

static const char *const flow_odata_types[GS_FLOW_TYPE_COUNT] = {
    "#" NS "administrativeUnitProvisioningFlow",
    "#" NS "classGroupProvisioningFlow", "#" NS "securityGroupProvisioningFlow",
    "#" NS "userProvisioningFlow"};

/* outboundProvisioningFlowSet: `filter` is kept as sent (the simulator does
 * not model industryData filters). */
static const struct prop_def flow_set_props[] = {
    {"id", K_STRING, P_READONLY, NULL, NULL},
    {"createdDateTime", K_STRING, P_READONLY, NULL, NULL},
    {"lastModifiedDateTime", K_STRING, P_READONLY, NULL, NULL},
    {"provisioningFlows", K_OBJECT, P_READONLY, NULL, NULL},
    {"displayName", K_STRING, P_REQUIRED, NULL, NULL},
    {"filter", K_ANY_OBJECT, 0, NULL, NULL},
    {NULL, K_BOOL, 0, NULL, NULL}};
static const struct type_def flow_set = {"outboundProvisioningFlowSet", NULL,
                                         flow_set_props};

/* Deeper than any path the schema allows (5 segments today). */
#define WALK_MAX_DEPTH 16

/*
 * The walk keeps the JSON path as a stack of segments (a key, or an index
 * when key is NULL) and formats it only when it reports an error: valid
 * bodies, the common case, never pay for text.
 */
struct walk {
    unsigned flags;
    pf_error *err;
    size_t depth;
    struct {
        const char *key;
        size_t index;
    } seg[WALK_MAX_DEPTH];
};

static void push_key(struct walk *w, const char *key)
{
    if (w->depth < WALK_MAX_DEPTH)
        w->seg[w->depth].key = key;
    w->depth++;
}

static void push_index(struct walk *w, size_t index)
{
    if (w->depth < WALK_MAX_DEPTH) {
        w->seg[w->depth].key = NULL;
        w->seg[w->depth].index = index;
    }
    w->depth++;
}

static void pop(struct walk *w)
{
    w->depth--;
}

/* The innermost key on the path ("the request body" at the root). */
static const char *holder_name(const struct walk *w)
{
    size_t i = w->depth < WALK_MAX_DEPTH ? w->depth : WALK_MAX_DEPTH;

    while (i-- > 0) {
        if (w->seg[i].key)
            return w->seg[i].key;
    }
    return "the request body";
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "a JSON object";
    case JSON_ARRAY:
        return "a JSON array";
    case JSON_STRING:
        return "a JSON string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a JSON number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a JSON boolean";
    default:
        return "null";
    }
}

/* The CSDL type name of a property's values, for messages. */
static void edm_name(const struct prop_def *p, char *out, size_t outsz)
{
    switch (p->kind) {
    case K_BOOL:
        snprintf(out, outsz, "Edm.Boolean");
        break;
    case K_STRING:
    case K_BIND_ROLE:
    case K_BIND_REF:
        snprintf(out, outsz, "Edm.String");
        break;
    case K_ENUM:
        snprintf(out, outsz, NS "%s", p->en->name);
        break;
    case K_OBJECT:
        snprintf(out, outsz, NS "%s",
                 p->type->abstract_base ? p->type->abstract_base
                                        : p->type->name);
        break;
    default:
        snprintf(out, outsz, "Edm.Untyped");
    }
}

static int fail(struct walk *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct walk *w, const char *fmt, ...)
{
    va_list ap;
    char msg[PF_ERROR_MESSAGE_MAX];
    pf_path path;
    size_t i, n = w->depth < WALK_MAX_DEPTH ? w->depth : WALK_MAX_DEPTH;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pf_path_init(&path);
    for (i = 0; i < n; i++) {
        if (w->seg[i].key)
            pf_path_push_key(&path, w->seg[i].key);
        else
            pf_path_push_index(&path, w->seg[i].index);
    }
    return pf_error_set(w->err, GS_SCHEMA_ERROR_CODE, pf_path_str(&path), "%s",
                        msg);
}

static const char *canonical_role_code(const char *code)
{
    size_t i;

    for (i = 0; role_codes[i]; i++) {
        if (strcasecmp(role_codes[i], code) == 0)
            return role_codes[i];
    }
    return code;
}

#define BIND_ROLE_GROUPS "/beta/external/industryData/roleGroups/"
#define BIND_REF_DEFS    "/beta/external/industryData/referenceDefinitions/"

/* The key in `{graphRoot}{suffix}{id}`, any host; NULL if url is not of
 * that form. */
static const char *bind_key(const char *url, const char *suffix)
{
    const char *host, *path, *id;
    size_t i;

    if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else
        return NULL;
    path = strchr(host, '/');
    if (!path || path == host)
        return NULL;
    id = strstr(path, suffix);
    if (!id)
        return NULL;
    id += strlen(suffix);
    if (*id == '\0')
        return NULL;
    for (i = 0; id[i]; i++) {
        if (id[i] == '/' || id[i] == '?' || id[i] == '#' || id[i] == ' ')
            return NULL;
    }
    return id;
}

static const struct role_group *find_role_group(const char *id)
{
    size_t i;

    for (i = 0; id && i < NROLE_GROUPS; i++) {
        if (strcasecmp(role_groups[i].id, id) == 0)
            return &role_groups[i];
    }
    return NULL;
}

/* The value of property p in obj: its exact CSDL name, or with lenient
 * casing any spelling (validation has ruled out two spellings). */
static const json_t *prop_value(const json_t *obj, const struct prop_def *p,
                                unsigned flags)
{
    const json_t *v = json_object_get(obj, p->name);
    const char *key;

    if (v || !(flags & GS_SCHEMA_LENIENT_CASE))
        return v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (strcasecmp(key, p->name) == 0)
            return v;
    }
    return NULL;
}

/*
 * Validation: a read-only walk that stops at the first problem, in payload
 * order (as Graph's reader does), then reports missing required properties.
 */
static int check_object(struct walk *w, const json_t *obj,
                        const struct type_def *t);

/* Checks one non-null value of p's kind. */
static int check_scalar(struct walk *w, const json_t *v,
                        const struct prop_def *p)
{
    char edm[128];
    const char *s;
    size_t i;

    switch (p->kind) {
    case K_BOOL:
        if (!json_is_boolean(v))
            break;
        return 0;
    case K_STRING:
        if (!json_is_string(v))
            break;
        if ((p->flags & P_NONEMPTY) && json_string_length(v) == 0)
            return fail(w, "The property '%s' must not be an empty string.",
                        p->name);
        return 0;
    case K_ENUM:
        if (!json_is_string(v))
            break;
        s = json_string_value(v);
        for (i = 0; p->en->values[i]; i++) {
            if (strcmp(p->en->values[i], s) == 0)
                return 0;
        }
        edm_name(p, edm, sizeof(edm));
        return fail(w,
                    "Cannot convert the literal '%.64s' to the expected "
                    "type '%s' of property '%s'.",
                    s, edm, p->name);
    case K_BIND_ROLE:
    case K_BIND_REF:
        if (!json_is_string(v))
            break;
        s = bind_key(json_string_value(v),
                     p->kind == K_BIND_ROLE ? BIND_ROLE_GROUPS : BIND_REF_DEFS);
        if (!s)
            return fail(w,
                        "The value of '%s' must be a URL of the form "
                        "{graphRoot}%s{id}; found '%.96s'.",
                        p->name,
                        p->kind == K_BIND_ROLE ? BIND_ROLE_GROUPS
                                               : BIND_REF_DEFS,
                        json_string_value(v));
        if (p->kind == K_BIND_ROLE && !find_role_group(s))
            return fail(w,
                        "The roleGroup '%.64s' bound by '%s' does not exist "
                        "(GET /external/industryData/roleGroups lists them).",
                        s, p->name);
        return 0;
    case K_OBJECT:
        if (!json_is_object(v))
            break;
        return check_object(w, v, p->type);
    case K_ANY_OBJECT:
        if (!json_is_object(v))
            break;
        return 0;
    }
    edm_name(p, edm, sizeof(edm));
    return fail(w,
                "Cannot convert the value of property '%s' to the expected "
                "type '%s': found %s.",
                p->name, edm, json_kind(v));
}

static int check_value(struct walk *w, const json_t *v,
                       const struct prop_def *p)
{
    char edm[128];
    size_t i;
    const json_t *item;

    if (json_is_null(v)) {
        /* OData: collections are never null; required means non-null. */
        if (!(p->flags & (P_REQUIRED | P_COLLECTION)))
            return 0;
        edm_name(p, edm, sizeof(edm));
        return fail(w,
                    "A null value was found for the property named "
                    "'%s', which has the expected type '%s%s%s"
                    "[Nullable=False]'. The expected type does not allow "
                    "null values.",
                    p->name, (p->flags & P_COLLECTION) ? "Collection(" : "",
                    edm, (p->flags & P_COLLECTION) ? ")" : "");
    }
    if (!(p->flags & P_COLLECTION))
        return check_scalar(w, v, p);
    edm_name(p, edm, sizeof(edm)); /* collections are short: not worth lazy */
    if (!json_is_array(v))
        return fail(w,
                    "The property '%s' expects a collection of '%s': found "
                    "%s.",
                    p->name, edm, json_kind(v));
    json_array_foreach(v, i, item)
    {
        push_index(w, i);
        if (json_is_null(item))
            return fail(w,
                        "A null value was found in the collection '%s', "
                        "whose items have the non-nullable type '%s'.",
                        p->name, edm);
        if (check_scalar(w, item, p) != 0)
            return -1;
        pop(w);
    }
    return 0;
}

static const struct prop_def *find_prop(const struct type_def *t,
                                        const char *name, unsigned flags,
                                        size_t *index)
{
    size_t i;

    for (i = 0; t->props[i].name; i++) {
        if (strcmp(t->props[i].name, name) == 0)
            goto found;
    }
    if (!(flags & GS_SCHEMA_LENIENT_CASE))
        return NULL;
    for (i = 0; t->props[i].name; i++) {
        if (strcasecmp(t->props[i].name, name) == 0)
            goto found;
    }
    return NULL;
found:
    *index = i;
    return &t->props[i];
}

static int check_odata_type(struct walk *w, const json_t *v,
                            const struct type_def *t, const char *prop)
{
    const char *s;

    if (!json_is_string(v))
        return fail(w,
                    "The '@odata.type' annotation of '%s' must be a JSON "
                    "string: found %s.",
                    prop, json_kind(v));
    s = json_string_value(v);
    if (s[0] == '#' && strncmp(s + 1, NS, strlen(NS)) == 0 &&
        strcmp(s + 1 + strlen(NS), t->name) == 0)
        return 0;
    return fail(w,
                "A resource with type '%.96s' was found, but it is not "
                "assignable to the expected type '" NS
                "%s' of '%s'. The type specified in the resource must be "
                "equal to either the expected type or a derived type.",
                s, t->abstract_base ? t->abstract_base : t->name, prop);
}

static int check_object(struct walk *w, const json_t *obj,
                        const struct type_def *t)
{
    bool seen[MAX_PROPS] = {false};
    bool typed = false;
    const char *key, *prop_name = holder_name(w);
    const json_t *v;
    const struct prop_def *p;
    size_t idx = 0, i;

    json_object_foreach((json_t *)obj, key, v)
    {
        push_key(w, key);
        if (strcmp(key, "@odata.type") == 0) {
            if (check_odata_type(w, v, t, prop_name) != 0)
                return -1;
            typed = true;
            pop(w);
            continue;
        }
        p = find_prop(t, key, w->flags, &idx);
        if (!p && find_prop(t, key, GS_SCHEMA_LENIENT_CASE, &idx))
            return fail(w,
                        "The property '%.96s' does not exist on type '" NS
                        "%s': property names are case-sensitive here "
                        "(strict casing); the CSDL name is '%s'.",
                        key, t->name, t->props[idx].name);
        if (!p)
            return fail(w,
                        "The property '%.96s' does not exist on type '" NS
                        "%s'. Make sure to only use property names that are "
                        "defined by the type or mark the type as open type.",
                        key, t->name);
        if (seen[idx])
            return fail(w,
                        "The property '%.96s' is given more than once: "
                        "'%s' already has a value (property names match in "
                        "any letter case).",
                        key, p->name);
        seen[idx] = true;
        if (p->flags & P_READONLY)
            return fail(w,
                        "The property '%s' is read-only and cannot be set: "
                        "Graph sets it.",
                        p->name);
        if (check_value(w, v, p) != 0)
            return -1;
        pop(w);
    }
    /* A PATCH may leave out the body's own type (the stored flow has
     * one); its required members stay required: each update page marks
     * them "Required" (managementOptions, creationOptions, configuration,
     * displayName), and complex values replace whole. */
    if (t->abstract_base && !typed &&
        !(w->depth == 0 && (w->flags & GS_SCHEMA_PATCH))) {
        push_key(w, "@odata.type");
        return fail(w,
                    "The '@odata.type' annotation is required: '%s' has the "
                    "abstract type '" NS "%s' and cannot be created without "
                    "naming a derived type.",
                    prop_name, t->abstract_base);
    }
    for (i = 0; t->props[i].name; i++) {
        if ((t->props[i].flags & P_REQUIRED) && !seen[i] &&
            t->props[i].kind == K_BIND_ROLE) {
            push_key(w, t->props[i].name);
            return fail(w,
                        "The navigation property 'roleGroup' of type '" NS
                        "%s' is required and not nullable: bind it with "
                        "'roleGroup@odata.bind'.",
                        t->name);
        }
        if ((t->props[i].flags & P_REQUIRED) && !seen[i]) {
            push_key(w, t->props[i].name);
            return fail(w,
                        "The required property '%s' of type '" NS
                        "%s' is missing from the payload.",
                        t->props[i].name, t->name);
        }
    }
    return 0;
}

/*
 * Rendering: a second walk, over a validated value only, that writes the
 * response's JSON text straight into a buffer (no second tree): properties
 * in table order under their CSDL names.
 */
static void emit_object(struct gs_buf *b, const json_t *obj,
                        const struct type_def *t, unsigned flags);

/* A role group as Graph returns it (GET roleGroups, and expanded in a
 * user flow's configurations); "null" for none. */
static void emit_role_group(struct gs_buf *b, const struct role_group *g)
{
    size_t i;

    if (!g) {
        gs_buf_adds(b, "null");
        return;
    }
    gs_buf_adds(b, "{\"id\":");
    gs_buf_add_json_str(b, g->id);
    gs_buf_adds(b, ",\"displayName\":");
    gs_buf_add_json_str(b, g->display_name);
    gs_buf_adds(b, ",\"roles\":[");
    for (i = 0; g->roles[i]; i++) {
        gs_buf_adds(b, i ? ",{\"code\":" : "{\"code\":");
        gs_buf_add_json_str(b, g->roles[i]);
        gs_buf_add(b, "}", 1);
    }
    gs_buf_adds(b, "]}");
}

static void emit_scalar(struct gs_buf *b, const json_t *v,
                        const struct prop_def *p, unsigned flags)
{
    switch (p->kind) {
    case K_BOOL:
        gs_buf_adds(b, json_is_true(v) ? "true" : "false");
        break;
    case K_STRING:
        if (p->flags & P_MASKED)
            gs_buf_add_json_str(b, GS_SCHEMA_PASSWORD_MASK);
        else if (p->flags & P_ROLE_CODE)
            gs_buf_add_json_str(b, canonical_role_code(json_string_value(v)));
        else
            gs_buf_add_json_str(b, json_string_value(v));
        break;
    case K_ENUM:
    case K_BIND_ROLE:
    case K_BIND_REF:
        gs_buf_add_json_str(b, json_string_value(v));
        break;
    case K_OBJECT:
        emit_object(b, v, p->type, flags);
        break;
    case K_ANY_OBJECT:
        gs_buf_add_json(b, v);
        break;
    }
}

static void emit_value(struct gs_buf *b, const json_t *v,
                       const struct prop_def *p, unsigned flags)
{
    const json_t *item;
    size_t i;

    if (json_is_null(v)) {
        gs_buf_adds(b, "null");
        return;
    }
    if (!(p->flags & P_COLLECTION)) {
        emit_scalar(b, v, p, flags);
        return;
    }
    gs_buf_add(b, "[", 1);
    json_array_foreach(v, i, item)
    {
        if (i)
            gs_buf_add(b, ",", 1);
        emit_scalar(b, item, p, flags);
    }
    gs_buf_add(b, "]", 1);
}

static void emit_object(struct gs_buf *b, const json_t *obj,
                        const struct type_def *t, unsigned flags)
{
    const struct prop_def *p;
    const json_t *v;
    bool first = true;

    gs_buf_add(b, "{", 1);
    /* A polymorphic nested value keeps its type in Graph's response (the
     * seed's password settings); the flow's own type is written by the
     * caller, ahead of the metadata. */
    if (t->abstract_base && strcmp(t->abstract_base, "provisioningFlow")) {
        gs_buf_adds(b, "\"@odata.type\":\"#" NS);
        gs_buf_adds(b, t->name);
        gs_buf_add(b, "\"", 1);
        first = false;
    }
    for (p = t->props; p->name; p++) {
        if (p->kind == K_BIND_ROLE && (flags & GS_SCHEMA_EXPAND)) {
            v = prop_value(obj, p, flags);
            if (v && json_is_string(v)) {
                gs_buf_adds(b, first ? "\"roleGroup\":" : ",\"roleGroup\":");
                first = false;
                emit_role_group(b,
                                find_role_group(bind_key(json_string_value(v),
                                                         BIND_ROLE_GROUPS)));
            }
            continue;
        }
        if (p->flags & (P_NOT_ECHOED | P_READONLY))
            continue;
        v = prop_value(obj, p, flags);
        if (!v)
            continue;
        if (!first)
            gs_buf_add(b, ",", 1);
        first = false;
        gs_buf_add_json_str(b, p->name);
        gs_buf_add(b, ":", 1);
        emit_value(b, v, p, flags);
    }
    gs_buf_add(b, "}", 1);
}

static int check_root(const json_t *body, const struct type_def *t,
                      unsigned flags, struct gs_buf *out, pf_error *err)
{
    struct walk w;

    w.flags = flags;
    w.err = err;
    w.depth = 0;
    if (!json_is_object(body))
        return fail(&w, "The request body must be a JSON object: found %s.",
                    json_kind(body));
    if (check_object(&w, body, t) != 0)
        return -1;
    emit_object(out, body, t, flags);
    return 0;
}

int gs_schema_check_flow(const json_t *body, unsigned flags,
                         enum gs_flow_type *type, struct gs_buf *out,
                         pf_error *err)
{
    const json_t *ot;
    const char *s;
    struct walk w;
    int i;

    w.flags = flags;
    w.err = err;
    w.depth = 0;
    if (!json_is_object(body))
        return fail(&w, "The request body must be a JSON object: found %s.",
                    json_kind(body));
    push_key(&w, "@odata.type");
    ot = json_object_get(body, "@odata.type");
    if (!ot)
        return fail(&w, "The '@odata.type' annotation is required: "
                        "'" NS "provisioningFlow' is abstract; name one of its "
                        "derived types, e.g. '#" NS "userProvisioningFlow'.");
    if (!json_is_string(ot))
        return fail(&w,
                    "The '@odata.type' annotation must be a JSON string: "
                    "found %s.",
                    json_kind(ot));
    s = json_string_value(ot);
    for (i = 0; i < GS_FLOW_TYPE_COUNT; i++) {
        if (strcmp(s, flow_odata_types[i]) == 0)
            break;
    }
    if (i == GS_FLOW_TYPE_COUNT)
        return fail(&w,
                    "A type named '%.96s' could not be resolved by the "
                    "model as a derived type of '" NS "provisioningFlow'. "
                    "When a model is available, each type name must resolve "
                    "to a valid type.",
                    s);
    if (check_root(body, flow_types[i], flags, out, err) != 0)
        return -1;
    *type = (enum gs_flow_type)i;
    return 0;
}

int gs_schema_check_flow_set(const json_t *body, unsigned flags,
                             struct gs_buf *out, pf_error *err)
{
    return check_root(body, &flow_set, flags, out, err);
}

const char *gs_schema_flow_type_name(enum gs_flow_type type)
{
    if ((int)type < 0 || type >= GS_FLOW_TYPE_COUNT)
        return NULL;
    return flow_types[type]->name;
}

const char *gs_schema_flow_odata_type(enum gs_flow_type type)
{
    if ((int)type < 0 || type >= GS_FLOW_TYPE_COUNT)
        return NULL;
    return flow_odata_types[type];
}

int gs_schema_check_flow_patch(const json_t *body, unsigned flags,
                               enum gs_flow_type type, struct gs_buf *out,
                               pf_error *err)
{
    if ((int)type < 0 || type >= GS_FLOW_TYPE_COUNT)
        return pf_error_set(err, GS_SCHEMA_ERROR_CODE, "$", "no flow type");
    return check_root(body, flow_types[type], flags | GS_SCHEMA_PATCH, out,
                      err);
}

int gs_schema_check_flow_set_patch(const json_t *body, unsigned flags,
                                   struct gs_buf *out, pf_error *err)
{
    return check_root(body, &flow_set, flags | GS_SCHEMA_PATCH, out, err);
}

void gs_schema_render_flow(const json_t *body, unsigned flags,
                           enum gs_flow_type type, struct gs_buf *out)
{
    if ((int)type >= 0 && type < GS_FLOW_TYPE_COUNT)
        emit_object(out, body, flow_types[type], flags);
}

size_t gs_schema_role_group_count(void)
{
    return NROLE_GROUPS;
}

const char *gs_schema_role_group_id(size_t i)
{
    return i < NROLE_GROUPS ? role_groups[i].id : NULL;
}

int gs_schema_role_group_json(const char *id, struct gs_buf *out)
{
    const struct role_group *g = find_role_group(id);

    if (!g)
        return -1;
    emit_role_group(out, g);
    return 0;
}
