/*
 * transform.c - a decoded event to the Graph create request (transform.h).
 *
 * One generic walk over the tables of flowschema.h builds every flow type:
 * it matches input names to table rows (letter case ignored, aliases
 * converted), then emits the rows in table order, so the output does not
 * depend on the input's order or casing. Errors name the JSON path.
 */
#include "provflow/transform.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "provflow/json.h"
#include "provflow/redact.h"

#define INVALID     "invalid_event"
#define ODATA_TYPE  "@odata.type"
#define BIND_SUFFIX "@odata.bind"
#define MAX_PROPS   16   /* the widest type in flowschema.c has 3 */
#define ID_MAX      128  /* bound ids such as a role group id */
#define BODY_HINT   1024 /* the body writer's first allocation */
#define BASE_PATH   "/beta/external/industryData"

/* Annotations Graph puts on an entity it returns; dropped from input. */
static const char *const response_annotations[] = {
    "@odata.context",
    "@odata.etag",
    "@odata.id",
    NULL,
};

typedef struct ctx {
    const pf_transform_opts *opts;
    bool text_only;      /* pf_transform_text() */
    const char *root;    /* Graph root */
    size_t root_len;     /* without trailing slashes */
    const pf_type *flow; /* the entity type being built */
    /*
     * An update's body (PATCH): the flow's own properties may be left out,
     * save the ones Graph requires on every update (managementOptions of
     * a user flow); a complex value given replaces the whole, so the
     * types below are checked whole.
     */
    bool partial;
    pf_path path;
    pf_error *err;
    /*
     * The body is written as text while it is read, with no tree of its
     * own: the rows in table order, as json_dumps() would write the tree
     * they used to make (byte for byte: the tests compare it).
     */
    pf_jsonw w;
    /*
     * Below a member named "password" (any letter case): its strings are
     * noted in `secrets`, as pf_redact_collect() would find them in the
     * body, for masking (transform.h).
     */
    bool secret;
    json_t *secrets; /* an array of distinct strings, or NULL: none yet */
    /* A set's filter with more passwords than pf_redact_collect() lists:
     * kept whole for masking, as the body tree used to be. */
    const json_t *filter_secrets;
} ctx;

/* An input member matched to a table row. */
typedef struct slot {
    const char *key;     /* as written in the input */
    const json_t *value; /* borrowed from the input */
    bool alias;          /* given by the row's alias */
} slot;

static int convert_object(ctx *c, const pf_type *t, const json_t *in);

/*
 * A value or name from the input, to quote in a message: at most 96
 * bytes and "...", cut between characters, controls escaped
 * (pf_error_excerpt()).
 */
typedef struct quote {
    char text[100];
} quote;

static const char *quoted(quote *q, const char *s)
{
    return pf_error_excerpt(q->text, sizeof(q->text), s);
}

/*
 * Fails at the current path, plus `key` when not NULL. The message is
 * formatted once, by pf_error_vset(), which cuts and cleans it as a whole.
 */
__attribute__((format(printf, 3, 4))) static int fail(ctx *c, const char *key,
                                                      const char *fmt, ...)
{
    size_t mark = 0;
    va_list ap;

    if (key != NULL)
        mark = pf_path_push_key(&c->path, key);
    va_start(ap, fmt);
    pf_error_vset(c->err, INVALID, pf_path_str(&c->path), fmt, ap);
    va_end(ap);
    if (key != NULL)
        pf_path_pop(&c->path, mark);
    return -1;
}

static const char *json_kind(const json_t *v)
{
    if (json_is_object(v))
        return "object";
    if (json_is_array(v))
        return "array";
    if (json_is_string(v))
        return "string";
    if (json_is_number(v))
        return "number";
    if (json_is_boolean(v))
        return "boolean";
    return "null";
}

static const char *kind_name(const pf_prop *p)
{
    if (p->flags & PF_PROP_ARRAY)
        return "array";
    switch (p->kind) {
    case PF_KIND_BOOL:
        return "boolean";
    case PF_KIND_OBJECT:
        return "object";
    case PF_KIND_STRING:
    case PF_KIND_ENUM:
    case PF_KIND_CODE:
    case PF_KIND_BIND:
        break;
    }
    return "string";
}

static bool in_list(const char *const *list, const char *s)
{
    for (; *list != NULL; list++) {
        if (strcasecmp(*list, s) == 0)
            return true;
    }
    return false;
}

/* Writes "a, b, c" into buf, truncated to its size. */
static void join(char *buf, size_t size, const char *const *list)
{
    size_t len = 0;

    buf[0] = '\0';
    for (; *list != NULL && len < size; list++) {
        int n = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", *list);
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

/* 1..ID_MAX URL-unreserved characters: safe as one URL path segment. */
/*
 * a then b in buf, cut to size - 1 bytes as snprintf("%s%s") would: the
 * names of every converted member go through here, and the profile showed
 * snprintf. Returns buf.
 */
static const char *concat(char *buf, size_t size, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la > size - 1)
        la = size - 1;
    if (lb > size - 1 - la)
        lb = size - 1 - la;
    memcpy(buf, a, la);
    memcpy(buf + la, b, lb);
    buf[la + lb] = '\0';
    return buf;
}

static bool valid_id(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > ID_MAX)
        return false;
    for (i = 0; i < len; i++) {
        char ch = s[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '~' ||
              ch == '-'))
            return false;
    }
    return true;
}

/* Notes s as a password, once (in the order the body holds them). */
static int note_secret(ctx *c, const char *s)
{
    size_t i;

    if (c->secrets == NULL && (c->secrets = json_array()) == NULL)
        return -1;
    for (i = 0; i < json_array_size(c->secrets); i++) {
        if (strcmp(json_string_value(json_array_get(c->secrets, i)), s) == 0)
            return 0;
    }
    return json_array_append_new(c->secrets, json_string(s));
}

/* A string of the body; a password's noted. */
static int put_string(ctx *c, const char *s, size_t len)
{
    pf_jsonw_string(&c->w, s, len);
    if (c->secret && note_secret(c, s) != 0)
        return pf_error_set(c->err, "internal", "", "out of memory");
    return 0;
}

/* A value of the input, written as it is (a string, a boolean). */
static int put_value(ctx *c, const json_t *v)
{
    if (json_is_string(v))
        return put_string(c, json_string_value(v), json_string_length(v));
    pf_jsonw_value(&c->w, v, 0);
    return 0;
}

/* A member name; a member named "password" makes its strings secrets. */
static void put_key(ctx *c, const char *name)
{
    pf_jsonw_key(&c->w, name);
    if (strcasecmp(name, "password") == 0)
        c->secret = true;
}

/* The "@odata.type" member of an annotated type. */
static int put_odata_type(ctx *c, const pf_type *t)
{
    char odata[128];

    put_key(c, ODATA_TYPE);
    concat(odata, sizeof(odata), PF_ODATA_NS, t->name);
    return put_string(c, odata, strlen(odata));
}

/* The passwords in a value passed on as it is (a set's filter). */
static int note_secrets_in(ctx *c, const json_t *v)
{
    const char *pw[PF_REDACT_SECRETS_MAX];
    size_t n = pf_redact_collect(v, pw, PF_REDACT_SECRETS_MAX), i;

    if (n > PF_REDACT_SECRETS_MAX) {
        c->filter_secrets = v;
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (note_secret(c, pw[i]) != 0)
            return -1;
    }
    return 0;
}

/* <root>/beta/<bind_path>/<id>, written. */
static int bind_url(ctx *c, const pf_prop *p, const char *id, size_t len)
{
    char url[PF_GRAPH_ROOT_MAX + 256];
    int n = snprintf(url, sizeof(url), "%.*s/beta/%s/%.*s", (int)c->root_len,
                     c->root, p->bind_path, (int)len, id);

    if (n < 0 || (size_t)n >= sizeof(url))
        return fail(c, NULL, "bind URL too long");
    return put_string(c, url, (size_t)n);
}

/*
 * A bind: the bare id (alias) or a full URL whose path ends in
 * /beta/<bind_path>/<id>, re-rooted on the configured Graph root so that
 * events written for one cloud work in another.
 */
static int convert_bind(ctx *c, const pf_prop *p, const json_t *v, bool alias)
{
    const char *s, *id;
    char marker[128];

    if (!json_is_string(v))
        return fail(c, NULL, "expected a string, got %s", json_kind(v));
    s = json_string_value(v);
    if (alias) {
        id = s;
    } else {
        snprintf(marker, sizeof(marker), "/beta/%s/", p->bind_path);
        id = strcasestr(s, marker);
        if ((strncasecmp(s, "https://", 8) != 0 &&
             strncasecmp(s, "http://", 7) != 0) ||
            strpbrk(s, "?#") != NULL || id == NULL)
            return fail(c, NULL, "expected a URL ending in /beta/%s/{id}",
                        p->bind_path);
        id += strlen(marker);
    }
    if (!valid_id(id, strlen(id)))
        return fail(c, NULL, "id must be 1 to %d of [A-Za-z0-9._~-]", ID_MAX);
    return bind_url(c, p, id, strlen(id));
}

/* The object that a secret alias stands for: {"password": <secret>}. */
static int convert_secret_alias(ctx *c, const pf_prop *p, const json_t *v)
{
    char why[PF_ERROR_MESSAGE_MAX];
    const pf_prop *target = NULL;
    char *secret = NULL;
    bool outer = c->secret;
    json_t *probe;
    size_t i;
    int rc;

    for (i = 0; i < p->type->prop_count; i++) {
        if (p->type->props[i].flags & PF_PROP_SECRET)
            target = &p->type->props[i];
    }
    if (!json_is_string(v))
        return fail(c, NULL, "expected a secret name, got %s", json_kind(v));
    if (c->opts->secrets == NULL)
        return fail(c, NULL, "no secrets directory is configured");
    if (pf_secrets_read(c->opts->secrets, json_string_value(v), &secret, why,
                        sizeof(why)) != 0)
        return fail(c, NULL, "%s", why);
    probe = json_string(secret); /* NULL if the file is not UTF-8 */
    if (probe == NULL) {
        pf_secret_free(secret);
        return fail(c, NULL, "the secret is not UTF-8 text");
    }
    json_decref(probe);
    pf_jsonw_open(&c->w, '{');
    rc = p->type->annotate ? put_odata_type(c, p->type) : 0;
    c->secret = outer;
    put_key(c, target->name);
    if (rc == 0)
        rc = put_string(c, secret, strlen(secret));
    c->secret = outer;
    pf_jsonw_close(&c->w, '}');
    pf_secret_free(secret);
    return rc;
}

/* One value of a row's kind (an array item, or the whole value). */
static int convert_value(ctx *c, const pf_prop *p, const json_t *v, bool alias)
{
    const char *const *known;

    switch (p->kind) {
    case PF_KIND_BOOL:
        if (json_is_boolean(v))
            return put_value(c, v);
        break;
    case PF_KIND_STRING:
        if (json_is_string(v))
            return put_value(c, v);
        break;
    case PF_KIND_ENUM:
        if (!json_is_string(v))
            break;
        for (known = p->values; *known != NULL; known++) {
            if (strcmp(*known, json_string_value(v)) == 0)
                return put_value(c, v);
        }
        {
            char list[256];
            quote q;

            join(list, sizeof(list), p->values);
            return fail(c, NULL, "\"%s\" is not one of: %s",
                        quoted(&q, json_string_value(v)), list);
        }
    case PF_KIND_CODE:
        if (!json_is_string(v))
            break;
        if (json_string_length(v) == 0)
            return fail(c, NULL, "must not be empty");
        for (known = p->values; *known != NULL; known++) {
            if (strcasecmp(*known, json_string_value(v)) == 0)
                return put_string(c, *known, strlen(*known));
        }
        return put_value(c, v); /* a tenant's own code */
    case PF_KIND_BIND:
        return convert_bind(c, p, v, alias);
    case PF_KIND_OBJECT:
        if (alias)
            return convert_secret_alias(c, p, v);
        if (json_is_string(v) && p->shorthand != NULL) {
            json_t *expanded = json_pack("{sO}", p->shorthand, v);
            int rc = expanded != NULL ? convert_object(c, p->type, expanded)
                                      : pf_error_set(c->err, "internal", "",
                                                     "out of memory");

            json_decref(expanded);
            return rc;
        }
        if (json_is_object(v))
            return convert_object(c, p->type, v);
        break;
    }
    return fail(c, NULL, "expected %s%s, got %s",
                p->kind == PF_KIND_BOOL     ? "a boolean"
                : p->kind == PF_KIND_OBJECT ? "an object"
                                            : "a string",
                p->shorthand != NULL ? " or a string" : "", json_kind(v));
}

/* A whole row's value: a collection walks its items. */
static int convert_prop(ctx *c, const pf_prop *p, const json_t *v, bool alias)
{
    size_t i;

    if (!(p->flags & PF_PROP_ARRAY) || alias)
        return convert_value(c, p, v, alias);
    if (!json_is_array(v))
        return fail(c, NULL, "expected an array, got %s", json_kind(v));
    pf_jsonw_open(&c->w, '[');
    for (i = 0; i < json_array_size(v); i++) {
        size_t mark = pf_path_push_index(&c->path, i);
        int rc = convert_value(c, p, json_array_get(v, i), false);

        pf_path_pop(&c->path, mark);
        if (rc != 0)
            return -1;
    }
    pf_jsonw_close(&c->w, ']');
    return 0;
}

/* Matches one input member to a row of t; -1 if it has none. */
static int match_prop(const pf_type *t, const char *key, bool *alias)
{
    size_t i, n = strlen(key), bl = strlen(BIND_SUFFIX);

    for (i = 0; i < t->prop_count; i++) {
        const pf_prop *p = &t->props[i];
        size_t pl = strlen(p->name);

        *alias = p->alias != NULL && strcasecmp(key, p->alias) == 0;
        if (*alias)
            return (int)i;
        if (p->kind == PF_KIND_BIND) {
            if (n == pl + bl && strncasecmp(key, p->name, pl) == 0 &&
                strcasecmp(key + pl, BIND_SUFFIX) == 0)
                return (int)i;
        } else if (strcasecmp(key, p->name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Checks an input "@odata.type" against the type being built. */
static int check_odata_type(ctx *c, const pf_type *t, const char *key,
                            const json_t *v)
{
    quote q;

    if (!json_is_string(v))
        return fail(c, key, "expected a string, got %s", json_kind(v));
    if (!pf_odata_type_is(json_string_value(v), t->name))
        return fail(c, key, "\"%s\" is not " PF_ODATA_NS "%s",
                    quoted(&q, json_string_value(v)), t->name);
    return 0;
}

static int unknown_property(ctx *c, const pf_type *t, const char *key)
{
    const char *names[MAX_PROPS + 1];
    char list[256];
    size_t i;

    for (i = 0; i < t->prop_count && i < MAX_PROPS; i++)
        names[i] = t->props[i].name;
    names[i] = NULL;
    join(list, sizeof(list), names);
    return fail(c, key, "unknown property of %s (it has: %s)", t->name, list);
}

/* Pass 1: every input member to a row, an annotation, or an error. */
static int match_members(ctx *c, const pf_type *t, const json_t *in,
                         slot slots[])
{
    bool is_flow = t == c->flow;
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)in, key, v)
    {
        bool alias;
        int i;

        if (strcasecmp(key, ODATA_TYPE) == 0) {
            if (check_odata_type(c, t, key, v) != 0)
                return -1;
            continue;
        }
        if (is_flow && (in_list(pf_flow_readonly_props, key) ||
                        in_list(response_annotations, key)))
            continue; /* set by Graph: never sent on create */
        quote q;

        i = match_prop(t, key, &alias);
        if (i < 0)
            return unknown_property(c, t, key);
        if (slots[i].key != NULL && (alias || slots[i].alias))
            /* Name the convenience: that is the one to drop. */
            return fail(c, alias ? key : slots[i].key,
                        "cannot be given together with \"%s\"",
                        quoted(&q, alias ? slots[i].key : key));
        if (slots[i].key != NULL)
            return fail(c, key, "repeats property \"%s\" (given as \"%s\")",
                        t->props[i].name, quoted(&q, slots[i].key));
        slots[i] = (slot){key, v, alias};
    }
    return 0;
}

/* Pass 2: the rows in table order, written. */
static int convert_object(ctx *c, const pf_type *t, const json_t *in)
{
    slot slots[MAX_PROPS] = {{0}};
    bool outer = c->secret;
    size_t i;

    if (t->prop_count > MAX_PROPS)
        return fail(c, NULL, "internal: %s has more than %d properties",
                    t->name, MAX_PROPS);
    pf_jsonw_open(&c->w, '{');
    if (t->annotate && put_odata_type(c, t) != 0)
        return -1;
    if (match_members(c, t, in, slots) != 0)
        return -1;
    for (i = 0; i < t->prop_count; i++) {
        const pf_prop *p = &t->props[i];
        char name[128];
        size_t mark;
        int rc;

        /* A bind is named as it is written: "roleGroup@odata.bind". */
        if (p->kind == PF_KIND_BIND)
            concat(name, sizeof(name), p->name, BIND_SUFFIX);
        if (slots[i].value == NULL || json_is_null(slots[i].value)) {
            if (!(p->flags & PF_PROP_REQUIRED) ||
                (c->partial && t == c->flow && slots[i].value == NULL &&
                 !(p->flags & PF_PROP_UPDATE_REQUIRED)))
                continue; /* absent or null optional: not sent */
            return fail(c, p->kind == PF_KIND_BIND ? name : p->name,
                        "required %s is %s", kind_name(p),
                        slots[i].value == NULL ? "missing" : "null");
        }
        put_key(c, p->kind == PF_KIND_BIND ? name : p->name);
        mark = pf_path_push_key(&c->path, slots[i].key);
        rc = convert_prop(c, p, slots[i].value, slots[i].alias);
        pf_path_pop(&c->path, mark);
        c->secret = outer;
        if (rc != 0)
            return -1;
    }
    pf_jsonw_close(&c->w, '}');
    return 0;
}

/* The members of data: case-insensitive names, like the flow's. */
enum {
    DATA_FLOW_SET_ID,
    DATA_FLOW_SET_NAME,
    DATA_FLOW_TYPE,
    DATA_FLOW_ID,
    DATA_FLOW,
    DATA_FLOW_SET,
    DATA_COUNT
};
static const char *const data_members[DATA_COUNT] = {
    "flowSetId", "flowSetName", "flowType", "flowId", "flow", "flowSet"};

/* The members each operation takes (ops.h), for "unknown property". */
static unsigned data_allowed(const pf_op *op)
{
    unsigned m = 0;

    if (op->flags & PF_OP_NAMES_SET)
        m |= 1u << DATA_FLOW_SET_ID | 1u << DATA_FLOW_SET_NAME;
    if (op->kind == PF_OP_FLOW_CREATE || op->kind == PF_OP_FLOW_UPDATE)
        m |= 1u << DATA_FLOW_TYPE | 1u << DATA_FLOW;
    if (op->flags & PF_OP_NAMES_FLOW)
        m |= 1u << DATA_FLOW_TYPE | 1u << DATA_FLOW_ID;
    if (op->kind == PF_OP_SET_CREATE)
        m |= 1u << DATA_FLOW_SET;
    return m;
}

static const char *allowed_list(unsigned m, char *buf, size_t n)
{
    size_t len = 0;
    int i, left = 0;

    for (i = 0; i < DATA_COUNT; i++)
        left += (m >> i) & 1u;
    buf[0] = '\0';
    for (i = 0; i < DATA_COUNT && len < n; i++) {
        if (!((m >> i) & 1u))
            continue;
        len += (size_t)snprintf(buf + len, n - len, "%s%s",
                                len == 0    ? ""
                                : left == 1 ? " or "
                                            : ", ",
                                data_members[i]);
        left--;
    }
    return m == 0 ? "nothing" : buf;
}

static int read_data(ctx *c, const pf_op *op, const json_t *data,
                     const json_t *m[DATA_COUNT])
{
    unsigned allowed = data_allowed(op);
    const char *key;
    char list[128];
    json_t *v;
    int i;

    for (i = 0; i < DATA_COUNT; i++)
        m[i] = NULL;
    json_object_foreach((json_t *)data, key, v)
    {
        for (i = 0; i < DATA_COUNT; i++) {
            if (strcasecmp(key, data_members[i]) == 0)
                break;
        }
        if (i == DATA_COUNT || !((allowed >> i) & 1u))
            return fail(c, key, "unknown property (data of %s has: %s)",
                        op->event_type,
                        allowed_list(allowed, list, sizeof(list)));
        if (m[i] != NULL)
            return fail(c, key, "repeats property \"%s\"", data_members[i]);
        m[i] = v;
    }
    return 0;
}

/* flowType and the flow's @odata.type: either, or both in agreement. */
/* data.flowType, when given: *kind, or NULL when absent. -1: refused. */
static int flow_type(ctx *c, const json_t *type, const pf_flow_kind **kind)
{
    quote q;

    *kind = NULL;
    if (type == NULL || json_is_null(type))
        return 0;
    if (!json_is_string(type))
        return fail(c, "flowType", "expected a string, got %s",
                    json_kind(type));
    *kind = pf_flow_kind_by_name(json_string_value(type));
    if (*kind == NULL)
        return fail(c, "flowType",
                    "unknown flow type \"%s\" (expected administrativeUnit, "
                    "classGroup, securityGroup or user)",
                    quoted(&q, json_string_value(type)));
    return 0;
}

static const pf_flow_kind *flow_kind(ctx *c, const json_t *type,
                                     const json_t *flow)
{
    const pf_flow_kind *by_name = NULL, *by_odata = NULL;
    const json_t *odata = NULL;
    const char *key;
    json_t *v;
    quote q;

    if (flow_type(c, type, &by_name) != 0)
        return NULL;
    json_object_foreach((json_t *)flow, key, v)
    {
        if (strcasecmp(key, ODATA_TYPE) == 0)
            odata = v;
    }
    if (odata != NULL) {
        size_t mark = pf_path_push_key(&c->path, "flow");

        by_odata = json_is_string(odata)
                       ? pf_flow_kind_by_odata_type(json_string_value(odata))
                       : NULL;
        if (!json_is_string(odata))
            fail(c, ODATA_TYPE, "expected a string, got %s", json_kind(odata));
        else if (by_odata == NULL)
            fail(c, ODATA_TYPE, "\"%s\" is not a provisioning flow type",
                 quoted(&q, json_string_value(odata)));
        else if (by_name != NULL && by_name != by_odata)
            fail(c, ODATA_TYPE, "names a %s flow but flowType is %s",
                 by_odata->flow_type, by_name->flow_type);
        pf_path_pop(&c->path, mark);
        if (by_odata == NULL || (by_name != NULL && by_name != by_odata))
            return NULL;
        return by_odata;
    }
    if (by_name == NULL)
        fail(c, "flowType",
             "required string is missing (or give data.flow an @odata.type)");
    return by_name;
}

int pf_graph_root_valid(const char *root, char *errstr, size_t errstr_size)
{
    const char *host;
    size_t i;

    if (strncmp(root, "https://", 8) == 0)
        host = root + 8;
    else if (strncmp(root, "http://", 7) == 0)
        host = root + 7;
    else {
        snprintf(errstr, errstr_size, "must start with https:// or http://");
        return 0;
    }
    if (host[0] == '\0' || host[0] == '/') {
        snprintf(errstr, errstr_size, "has no host");
        return 0;
    }
    for (i = 0; root[i] != '\0'; i++) {
        if (strchr("?#@ \t\r\n\"\\", root[i]) != NULL ||
            (unsigned char)root[i] < 0x20) {
            snprintf(errstr, errstr_size,
                     "must not contain a query, fragment, user info or "
                     "spaces");
            return 0;
        }
    }
    if (i > PF_GRAPH_ROOT_MAX) {
        snprintf(errstr, errstr_size, "longer than %d characters",
                 PF_GRAPH_ROOT_MAX);
        return 0;
    }
    return 1;
}

/* A set's displayName as provflow takes it: 1 to 256 characters, no NUL. */
static bool set_name_ok(const json_t *name)
{
    size_t len = json_string_length(name);

    return len > 0 && len <= PF_SET_NAME_MAX &&
           memchr(json_string_value(name), '\0', len) == NULL;
}

/* The set a flow event names: flowSetId (a GUID) or flowSetName. */
static int read_set(ctx *c, const json_t *m[DATA_COUNT], pf_request *req)
{
    const json_t *id = m[DATA_FLOW_SET_ID], *name = m[DATA_FLOW_SET_NAME];
    const char *guid;
    size_t i;

    if (id != NULL && name != NULL)
        return fail(c, "flowSetName",
                    "give flowSetId or flowSetName, not both");
    if (name != NULL) {
        if (!json_is_string(name))
            return fail(c, "flowSetName", "expected a string, got %s",
                        json_kind(name));
        if (!set_name_ok(name))
            return fail(c, "flowSetName",
                        "must be 1 to %d characters without NUL",
                        PF_SET_NAME_MAX);
        req->flow_set_name = strdup(json_string_value(name));
        return req->flow_set_name != NULL
                   ? 0
                   : pf_error_set(c->err, "internal", "", "out of memory");
    }
    if (id == NULL)
        return fail(c, "flowSetId",
                    "required string is missing (or name the set by "
                    "flowSetName)");
    guid = json_string_value(id);
    if (!pf_is_guid(guid))
        return fail(c, "flowSetId",
                    "not a GUID (expected 8-4-4-4-12 hexadecimal digits)");
    for (i = 0; i < PF_UUID_STR_LEN; i++)
        req->flow_set_id[i] = (char)tolower((unsigned char)guid[i]);
    req->flow_set_id[PF_UUID_STR_LEN] = '\0';
    return 0;
}

/* The flow a delete or reset names: flowId, or flowType (one per set). */
static int read_flow_name(ctx *c, const json_t *m[DATA_COUNT], pf_request *req)
{
    const json_t *id = m[DATA_FLOW_ID];

    /* An update's type is its body's, already read (read_flow()). */
    if (req->flow == NULL && flow_type(c, m[DATA_FLOW_TYPE], &req->flow) != 0)
        return -1;
    if (id == NULL || json_is_null(id)) {
        if (req->flow == NULL)
            return fail(c, "flowType",
                        "required string is missing (or name the flow by "
                        "flowId)");
        return 0;
    }
    if (!json_is_string(id))
        return fail(c, "flowId", "expected a string, got %s", json_kind(id));
    if (!valid_id(json_string_value(id), json_string_length(id)))
        return fail(c, "flowId",
                    "not a Graph id (1 to %d letters, digits, '-', '.', '_' "
                    "or '~')",
                    ID_MAX);
    req->flow_id = strdup(json_string_value(id));
    return req->flow_id != NULL
               ? 0
               : pf_error_set(c->err, "internal", "", "out of memory");
}

/* A flow create's or update's body, typed by flowType or @odata.type. */
static int read_flow(ctx *c, const json_t *m[DATA_COUNT], pf_request *req)
{
    size_t mark;
    int rc;

    if (m[DATA_FLOW] == NULL)
        return fail(c, "flow", "required object is missing");
    if (!json_is_object(m[DATA_FLOW]))
        return fail(c, "flow", "expected an object, got %s",
                    json_kind(m[DATA_FLOW]));
    req->flow = flow_kind(c, m[DATA_FLOW_TYPE], m[DATA_FLOW]);
    if (req->flow == NULL)
        return -1;
    c->flow = req->flow->type;
    c->partial = req->op->kind == PF_OP_FLOW_UPDATE;
    mark = pf_path_push_key(&c->path, "flow");
    pf_jsonw_init(&c->w, BODY_HINT);
    rc = convert_object(c, req->flow->type, m[DATA_FLOW]);
    pf_path_pop(&c->path, mark);
    return rc;
}

/*
 * A flow set's body: displayName (required, as Graph's create page says)
 * and an optional filter, an object passed on as it is (provflow does not
 * model industry-data filters; Graph checks it).
 */
static int read_flow_set(ctx *c, const json_t *set, pf_request *req)
{
    const json_t *name = NULL, *filter = NULL;
    const char *key;
    json_t *v;
    size_t mark;
    int rc = -1;

    if (set == NULL)
        return fail(c, "flowSet", "required object is missing");
    if (!json_is_object(set))
        return fail(c, "flowSet", "expected an object, got %s", json_kind(set));
    mark = pf_path_push_key(&c->path, "flowSet");
    json_object_foreach((json_t *)set, key, v)
    {
        if (strcasecmp(key, "displayName") == 0 && name == NULL)
            name = v;
        else if (strcasecmp(key, "filter") == 0 && filter == NULL)
            filter = v;
        else if (strcasecmp(key, ODATA_TYPE) == 0 ||
                 in_list(response_annotations, key))
            continue;
        else if (strcasecmp(key, "displayName") == 0 ||
                 strcasecmp(key, "filter") == 0) {
            fail(c, key, "repeats property \"%s\"", key);
            goto out;
        } else {
            fail(c, key,
                 "unknown property (a flow set has: displayName, "
                 "filter)");
            goto out;
        }
    }
    if (name == NULL) {
        fail(c, "displayName", "required string is missing");
        goto out;
    }
    if (!json_is_string(name)) {
        fail(c, "displayName", "expected a string, got %s", json_kind(name));
        goto out;
    }
    if (!set_name_ok(name)) {
        fail(c, "displayName", "must be 1 to %d characters without NUL",
             PF_SET_NAME_MAX);
        goto out;
    }
    if (filter != NULL && !json_is_null(filter) && !json_is_object(filter)) {
        fail(c, "filter", "expected an object, got %s", json_kind(filter));
        goto out;
    }
    req->flow_set_name = strdup(json_string_value(name));
    if (req->flow_set_name == NULL) {
        pf_error_set(c->err, "internal", "", "out of memory");
        goto out;
    }
    pf_jsonw_init(&c->w, BODY_HINT);
    pf_jsonw_open(&c->w, '{');
    put_key(c, "displayName");
    put_value(c, name);
    if (filter != NULL && !json_is_null(filter)) {
        put_key(c, "filter");
        pf_jsonw_value(&c->w, filter, 0);
        if (note_secrets_in(c, filter) != 0) {
            pf_error_set(c->err, "internal", "", "out of memory");
            goto out;
        }
    }
    pf_jsonw_close(&c->w, '}');
    rc = 0;
out:
    pf_path_pop(&c->path, mark);
    return rc;
}

/* What the event's data says, by its operation (ops.h). */
static int read_request(ctx *c, const pf_event *ev, pf_request *req)
{
    const pf_op *op = req->op;
    const json_t *m[DATA_COUNT];

    if (read_data(c, op, ev->data, m) != 0)
        return -1;
    if ((op->flags & PF_OP_NAMES_SET) && read_set(c, m, req) != 0)
        return -1;
    if (op->kind == PF_OP_SET_CREATE)
        return read_flow_set(c, m[DATA_FLOW_SET], req);
    if ((op->flags & PF_OP_HAS_BODY) && read_flow(c, m, req) != 0)
        return -1;
    if (op->flags & PF_OP_NAMES_FLOW)
        return read_flow_name(c, m, req);
    if (op->kind == PF_OP_RUN_START && ev->time != NULL &&
        pf_time_parse_ms(ev->time, &req->since_ms) != 0)
        req->since_ms = 0; /* event.c checked it: not expected */
    return 0;
}

size_t pf_op_url(const pf_op *op, const char *base, const char *set_id,
                 const char *flow_id, char *buf, size_t n)
{
    const char *tail = "";

    switch (op->kind) {
    case PF_OP_SET_CREATE:
        return (size_t)snprintf(buf, n, "%s/outboundProvisioningFlowSets",
                                base);
    case PF_OP_RUN_START:
        return (size_t)snprintf(buf, n, "%s/runs/start", base);
    case PF_OP_FLOW_CREATE:
        return (size_t)snprintf(buf, n,
                                "%s/outboundProvisioningFlowSets/%s/"
                                "provisioningFlows",
                                base, set_id);
    case PF_OP_FLOW_RESET:
        tail = "/reset";
        break;
    case PF_OP_FLOW_UPDATE:
    case PF_OP_FLOW_DELETE:
        break;
    }
    return (size_t)snprintf(buf, n,
                            "%s/outboundProvisioningFlowSets/%s/"
                            "provisioningFlows/%s%s",
                            base, set_id, flow_id, tail);
}

size_t pf_request_url(const pf_request *req, const char *set_id,
                      const char *flow_id, char *buf, size_t n)
{
    char set[PF_SET_NAME_MAX + 32], flow[PF_FLOW_ID_MAX + 32];

    if (set_id == NULL && req->flow_set_id[0] != '\0')
        set_id = req->flow_set_id;
    if (set_id == NULL) {
        snprintf(set, sizeof(set), "{flowSetName:%s}",
                 req->flow_set_name != NULL ? req->flow_set_name : "");
        set_id = set;
    }
    if (flow_id == NULL)
        flow_id = req->flow_id;
    if (flow_id == NULL) {
        snprintf(flow, sizeof(flow), "{flowId of %s}",
                 req->flow != NULL ? req->flow->flow_type : "?");
        flow_id = flow;
    }
    return pf_op_url(req->op, req->base, set_id, flow_id, buf, n);
}

const char *pf_request_set(const pf_request *req)
{
    return req->flow_set_id[0] != '\0' ? req->flow_set_id : req->flow_set_name;
}

const char *pf_request_flow_type(const pf_request *req)
{
    return req->flow != NULL ? req->flow->flow_type : NULL;
}

/*
 * The body written, into req: its text and its passwords
 * (pf_transform_text()), or its tree (pf_transform()). Nothing for a
 * request without a body.
 */
static int take_body(ctx *c, pf_request *req)
{
    json_t *secrets = NULL;
    size_t len;
    char *text;

    if (c->w.buf == NULL && !c->w.failed)
        return 0; /* no body */
    text = pf_jsonw_finish(&c->w, &len);
    if (text == NULL)
        return pf_error_set(c->err, "internal", "", "out of memory");
    if (!c->text_only) {
        req->body = pf_json_parse(text, len, 0, NULL);
        explicit_bzero(text, len);
        free(text);
        return req->body != NULL
                   ? 0
                   : pf_error_set(c->err, "internal", "", "out of memory");
    }
    if (c->secrets != NULL || c->filter_secrets != NULL) {
        secrets = json_object();
        if (secrets == NULL ||
            (c->secrets != NULL &&
             json_object_set(secrets, "password", c->secrets) != 0) ||
            (c->filter_secrets != NULL &&
             json_object_set(secrets, "filter", (json_t *)c->filter_secrets) !=
                 0)) {
            json_decref(secrets);
            explicit_bzero(text, len);
            free(text);
            return pf_error_set(c->err, "internal", "", "out of memory");
        }
    }
    req->body = secrets;
    req->body_text = text;
    req->body_len = len;
    return 0;
}

static int transform(const pf_event *ev, const pf_transform_opts *opts,
                     bool text_only, pf_request *req, pf_error *err)
{
    ctx c = {.opts = opts, .text_only = text_only, .err = err};
    int rc;

    memset(req, 0, sizeof(*req));
    pf_error_clear(err);
    c.root =
        opts->graph_root != NULL ? opts->graph_root : PF_GRAPH_ROOT_DEFAULT;
    c.root_len = strlen(c.root);
    while (c.root_len > 0 && c.root[c.root_len - 1] == '/')
        c.root_len--;
    req->op = pf_op_by_event_type(ev->type);
    if (req->op == NULL) /* event.c lets none other through */
        return pf_error_set(err, INVALID, "type", "unsupported event type");
    pf_path_init(&c.path);
    pf_path_push_key(&c.path, "data");

    rc = read_request(&c, ev, req) == 0 ? take_body(&c, req) : -1;
    if (c.w.buf != NULL) /* left by a failure: it may hold a password */
        explicit_bzero(c.w.buf, c.w.len);
    pf_jsonw_release(&c.w);
    json_decref(c.secrets);
    if (rc != 0) {
        pf_request_release(req);
        return -1;
    }
    pf_client_request_id(ev->id, strlen(ev->id), req->client_request_id);
    /* "{root}/beta/external/industryData", without a printf. */
    req->base = malloc(c.root_len + sizeof(BASE_PATH));
    if (req->base == NULL) {
        pf_request_release(req);
        return pf_error_set(err, "internal", "", "out of memory");
    }
    memcpy(req->base, c.root, c.root_len);
    memcpy(req->base + c.root_len, BASE_PATH, sizeof(BASE_PATH));
    return 0;
}

int pf_transform(const pf_event *ev, const pf_transform_opts *opts,
                 pf_request *req, pf_error *err)
{
    return transform(ev, opts, false, req, err);
}

int pf_transform_text(const pf_event *ev, const pf_transform_opts *opts,
                      pf_request *req, pf_error *err)
{
    return transform(ev, opts, true, req, err);
}

int pf_request_compact(pf_request *req)
{
    const char *pw[PF_REDACT_SECRETS_MAX];
    json_t *secrets = NULL, *list;
    size_t n, i;
    char *text;

    if (req->body == NULL || req->body_text != NULL)
        return 0;
    text = pf_jsonw_dump(req->body, 0, NULL);
    if (text == NULL)
        return -1;
    n = pf_redact_collect(req->body, pw, PF_REDACT_SECRETS_MAX);
    if (n > PF_REDACT_SECRETS_MAX) /* too many to list: keep the tree */
        secrets = json_incref(req->body);
    else if (n > 0) {
        list = json_array();
        for (i = 0; list != NULL && i < n; i++)
            if (json_array_append_new(list, json_string(pw[i])) != 0) {
                json_decref(list);
                list = NULL;
            }
        secrets = list != NULL ? json_pack("{so}", "password", list) : NULL;
        if (secrets == NULL) {
            explicit_bzero(text, strlen(text));
            free(text);
            return -1;
        }
    }
    json_decref(req->body);
    req->body = secrets;
    req->body_text = text;
    req->body_len = strlen(text);
    return 0;
}

void pf_request_release(pf_request *req)
{
    if (req->body_text != NULL) /* it may hold a password */
        explicit_bzero(req->body_text, req->body_len);
    free(req->body_text);
    free(req->base);
    free(req->flow_set_name);
    free(req->flow_id);
    json_decref(req->body);
    memset(req, 0, sizeof(*req));
}

void pf_json_mask_secrets(json_t *v)
{
    const char *key;
    json_t *child;
    size_t i;
    void *it;

    if (json_is_array(v)) {
        json_array_foreach(v, i, child) pf_json_mask_secrets(child);
        return;
    }
    if (!json_is_object(v))
        return;
    for (it = json_object_iter(v); it != NULL;
         it = json_object_iter_next(v, it)) {
        key = json_object_iter_key(it);
        child = json_object_iter_value(it);
        if (strcasecmp(key, "password") == 0)
            json_object_iter_set_new(v, it, json_string("***"));
        else
            pf_json_mask_secrets(child);
    }
}
