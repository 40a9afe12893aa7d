/*
 * event.c - CloudEvents decoding for both Kafka content modes (event.h).
 *
 * The attribute rules are one table, applied to JSON members in structured
 * mode and to `ce_*` headers in binary mode, so both modes check exactly
 * the same things. Error paths name the attribute (structured) or the
 * header (binary): that is where the producer has to fix it.
 */
#include "provflow/event.h"

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "provflow/error.h"
#include "provflow/json.h"
#include "provflow/ops.h"

#define INVALID "invalid_event"

const pf_header *pf_record_header(const pf_record *rec, const char *name)
{
    const pf_header *found = NULL;
    size_t i;

    for (i = 0; i < rec->header_count; i++) {
        if (strcasecmp(rec->headers[i].name, name) == 0)
            found = &rec->headers[i];
    }
    return found;
}

/* Attribute checks: 0 if v is acceptable, else -1 with a reason in why. */
typedef int (*attr_check)(const char *v, char *errstr, size_t errstr_size);

/* Counts UTF-8 code points (the input is valid UTF-8 by then). */
static size_t utf8_length(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++) {
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    }
    return n;
}

static int check_specversion(const char *v, char *errstr, size_t errstr_size)
{
    char q[36];

    if (strcmp(v, "1.0") == 0)
        return 0;
    snprintf(errstr, errstr_size,
             "unsupported specversion \"%s\" (expected \"1.0\")",
             pf_error_excerpt(q, sizeof(q), v));
    return -1;
}

static int check_id(const char *v, char *errstr, size_t errstr_size)
{
    size_t n = utf8_length(v);

    if (n >= 1 && n <= PF_EVENT_ID_MAX)
        return 0;
    snprintf(errstr, errstr_size, "must be 1 to %d characters, got %zu",
             PF_EVENT_ID_MAX, n);
    return -1;
}

static int check_nonempty(const char *v, char *errstr, size_t errstr_size)
{
    if (v[0] != '\0')
        return 0;
    snprintf(errstr, errstr_size, "must not be empty");
    return -1;
}

static int check_type(const char *v, char *errstr, size_t errstr_size)
{
    char q[68];

    if (pf_op_by_event_type(v) != NULL)
        return 0;
    snprintf(errstr, errstr_size, "unsupported event type \"%s\" (expected %s)",
             pf_error_excerpt(q, sizeof(q), v), pf_op_event_types());
    return -1;
}

/* n digits at s, as a number; -1 if any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;

    for (; n > 0; n--, s++) {
        if (!isdigit((unsigned char)*s))
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

/* RFC 3339 date-time: 2024-03-22T21:28:02.7164229Z or ...+01:00. */
static int check_time(const char *v, char *errstr, size_t errstr_size)
{
    const char *p = v;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year, mon, day, hour, min, sec;

    if (strlen(v) < 20 || digits(p, 4) < 0 || p[4] != '-' || p[7] != '-' ||
        (p[10] != 'T' && p[10] != 't') || p[13] != ':' || p[16] != ':')
        goto bad;
    year = digits(p, 4);
    mon = digits(p + 5, 2);
    day = digits(p + 8, 2);
    hour = digits(p + 11, 2);
    min = digits(p + 14, 2);
    sec = digits(p + 17, 2);
    if (mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] || hour < 0 ||
        hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60)
        goto bad;
    if (mon == 2 && day == 29 &&
        (year % 4 != 0 || (year % 100 == 0 && year % 400 != 0)))
        goto bad;
    p += 19;
    if (*p == '.') {
        if (!isdigit((unsigned char)p[1]))
            goto bad;
        for (p++; isdigit((unsigned char)*p); p++)
            ;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
        return 0;
    if ((*p == '+' || *p == '-') && digits(p + 1, 2) >= 0 &&
        digits(p + 1, 2) <= 23 && p[3] == ':' && digits(p + 4, 2) >= 0 &&
        digits(p + 4, 2) <= 59 && p[6] == '\0')
        return 0;
bad:
    snprintf(errstr, errstr_size, "not an RFC 3339 date-time");
    return -1;
}

static int check_tenantid(const char *v, char *errstr, size_t errstr_size)
{
    size_t i, n = strlen(v);

    for (i = 0; i < n; i++) {
        if (!isalnum((unsigned char)v[i]) && v[i] != '.' && v[i] != '-')
            break;
    }
    if (n >= 1 && n <= 256 && i == n)
        return 0;
    snprintf(errstr, errstr_size,
             "must be a tenant id or domain: 1 to 256 of [A-Za-z0-9.-]");
    return -1;
}

/* The media type of a content-type value, without parameters or case. */
static bool media_type_is(const char *value, const char *type)
{
    size_t n = strlen(type);

    while (*value == ' ')
        value++;
    if (strncasecmp(value, type, n) != 0)
        return false;
    value += n;
    while (*value == ' ')
        value++;
    return *value == '\0' || *value == ';';
}

static int check_json_content_type(const char *v, char *errstr,
                                   size_t errstr_size)
{
    char q[68];

    if (media_type_is(v, "application/json"))
        return 0;
    snprintf(errstr, errstr_size,
             "unsupported data content type \"%s\" (expected "
             "application/json)",
             pf_error_excerpt(q, sizeof(q), v));
    return -1;
}

/*
 * The attributes provflow reads. `field` is where the value is kept in
 * pf_event, or SIZE_MAX when it is only checked.
 */
static const struct attr {
    const char *name;   /* structured-mode member */
    const char *header; /* binary-mode header, or NULL: structured only */
    bool required;
    attr_check check;
    size_t field;
} attrs[] = {
    /* id first, so that later errors can still name the request. */
    {"id", "ce_id", true, check_id, offsetof(pf_event, id)},
    {"specversion", "ce_specversion", true, check_specversion, SIZE_MAX},
    {"source", "ce_source", true, check_nonempty, offsetof(pf_event, source)},
    {"type", "ce_type", true, check_type, offsetof(pf_event, type)},
    {"time", "ce_time", false, check_time, offsetof(pf_event, time)},
    {"tenantid", "ce_tenantid", false, check_tenantid,
     offsetof(pf_event, tenantid)},
    {"datacontenttype", NULL, false, check_json_content_type, SIZE_MAX},
};

/*
 * The distributed-tracing extension: read, never checked here (trace.h
 * decides whether it is usable; a bad one restarts the trace, it does not
 * fail the event).
 */
static const struct trace_attr {
    const char *name, *header;
    size_t field;
} trace_attrs[] = {
    {"traceparent", "ce_traceparent", offsetof(pf_event, traceparent)},
    {"tracestate", "ce_tracestate", offsetof(pf_event, tracestate)},
};

/* An attribute has at most one header; content-type is one more. */
_Static_assert(sizeof(attrs) / sizeof(attrs[0]) +
                       sizeof(trace_attrs) / sizeof(trace_attrs[0]) + 1 <=
                   PF_EVENT_HEADERS_USED,
               "PF_EVENT_HEADERS_USED bounds the headers the decoder reads");

bool pf_event_header_used(const char *name)
{
    size_t i;

    if (strcasecmp(name, "content-type") == 0)
        return true;
    for (i = 0; i < sizeof(trace_attrs) / sizeof(trace_attrs[0]); i++) {
        if (strcasecmp(name, trace_attrs[i].header) == 0)
            return true;
    }
    for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
        if (attrs[i].header != NULL && strcasecmp(name, attrs[i].header) == 0)
            return true;
    }
    return false;
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        break;
    }
    return "null";
}

/*
 * Reads one attribute's text, from the JSON object (structured) or the
 * headers (binary). Returns 1 with the text in *out, borrowed from root or
 * from *hold (the caller releases *hold), 0 if absent, -1 on error. Only
 * the attributes that the event keeps are copied (decode_attrs()).
 */
static int attr_text(const struct attr *a, const json_t *root,
                     const pf_record *rec, const char **out, json_t **hold,
                     pf_error *err)
{
    *out = NULL;
    *hold = NULL;
    if (root != NULL) {
        const json_t *v = json_object_get(root, a->name);

        if (v == NULL || json_is_null(v))
            return 0; /* null is absent */
        if (!json_is_string(v))
            return pf_error_set(err, INVALID, a->name,
                                "expected a string, got %s", json_kind(v));
        *out = json_string_value(v);
    } else {
        const pf_header *h = pf_record_header(rec, a->header);

        if (h == NULL)
            return 0;
        if (h->value == NULL)
            return pf_error_set(err, INVALID, a->header, "header has no value");
        /* json_stringn validates UTF-8 for us; embedded NULs are refused. */
        *hold = json_stringn(h->value, h->value_len);
        if (*hold == NULL || memchr(h->value, '\0', h->value_len) != NULL) {
            json_decref(*hold);
            *hold = NULL;
            return pf_error_set(err, INVALID, a->header,
                                "header value is not UTF-8 text");
        }
        *out = json_string_value(*hold);
    }
    return 1;
}

/*
 * The tracing attributes, leniently: a string (structured) or a UTF-8
 * header without NUL (binary) is kept, anything else is as if absent.
 */
static void read_trace(const json_t *root, const pf_record *rec, pf_event *ev)
{
    size_t i;

    for (i = 0; i < sizeof(trace_attrs) / sizeof(trace_attrs[0]); i++) {
        const struct trace_attr *a = &trace_attrs[i];
        char **field = (char **)((char *)ev + a->field);
        const pf_header *h;
        json_t *probe;

        if (root != NULL) {
            const json_t *v = json_object_get(root, a->name);

            /* A string with a NUL inside would be read cut short: left out. */
            if (json_is_string(v) &&
                strlen(json_string_value(v)) == json_string_length(v))
                *field = strdup(json_string_value(v));
            continue;
        }
        h = pf_record_header(rec, a->header);
        if (h == NULL || h->value == NULL ||
            memchr(h->value, '\0', h->value_len) != NULL)
            continue;
        probe = json_stringn(h->value, h->value_len); /* checks UTF-8 */
        if (probe != NULL)
            *field = strdup(json_string_value(probe));
        json_decref(probe);
    }
}

static int decode_attrs(const json_t *root, const pf_record *rec, pf_event *ev,
                        pf_error *err)
{
    char why[PF_ERROR_MESSAGE_MAX];
    size_t i;

    for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
        const struct attr *a = &attrs[i];
        const char *where = root != NULL ? a->name : a->header;
        const char *text;
        json_t *hold;
        char *copy;
        int rc;

        if (where == NULL)
            continue;
        rc = attr_text(a, root, rec, &text, &hold, err);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            if (a->required)
                return pf_error_set(err, INVALID, where,
                                    "required attribute is missing");
            continue;
        }
        if (a->check(text, why, sizeof(why)) != 0) {
            json_decref(hold);
            return pf_error_set(err, INVALID, where, "%s", why);
        }
        if (a->field != SIZE_MAX) {
            copy = strdup(text);
            json_decref(hold);
            if (copy == NULL)
                return pf_error_set(err, INVALID, "$", "out of memory");
            *(char **)((char *)ev + a->field) = copy; /* ev owns it now */
        } else {
            json_decref(hold);
        }
    }
    return 0;
}

/* Parses a record value as one JSON object; errors are about "$". */
static json_t *parse_value(const pf_record *rec, pf_error *err)
{
    json_error_t jerr;
    json_t *v;

    if (rec->value == NULL || rec->value_len == 0) {
        pf_error_set(err, INVALID, "$", "record value is empty");
        return NULL;
    }
    if (rec->value_len > PF_EVENT_MAX_BYTES) {
        pf_error_set(err, INVALID, "$",
                     "record value is %zu bytes, more than the %d allowed",
                     rec->value_len, PF_EVENT_MAX_BYTES);
        return NULL;
    }
    v = pf_json_parse(rec->value, rec->value_len, JSON_REJECT_DUPLICATES,
                      &jerr);
    if (v == NULL) {
        pf_error_set(err, INVALID, "$",
                     "not valid JSON: %s (line %d, column %d)", jerr.text,
                     jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(v)) {
        pf_error_set(err, INVALID, "$", "expected a JSON object, got %s",
                     json_kind(v));
        json_decref(v);
        return NULL;
    }
    return v;
}

static int decode_structured(const pf_record *rec, pf_event *ev, pf_error *err)
{
    json_t *root = parse_value(rec, err);
    json_t *data;
    int rc = -1;

    if (root == NULL)
        return -1;
    read_trace(root, rec, ev);
    if (decode_attrs(root, rec, ev, err) != 0)
        goto out;
    if (json_object_get(root, "data_base64") != NULL) {
        pf_error_set(err, INVALID, "data_base64",
                     "binary data is not accepted: data must be a JSON object");
        goto out;
    }
    data = json_object_get(root, "data");
    if (data == NULL) {
        pf_error_set(err, INVALID, "data", "required object is missing");
        goto out;
    }
    if (!json_is_object(data)) {
        pf_error_set(err, INVALID, "data", "expected an object, got %s",
                     json_kind(data));
        goto out;
    }
    ev->data = json_incref(data);
    rc = 0;
out:
    json_decref(root);
    return rc;
}

static int decode_binary(const pf_record *rec, pf_event *ev, pf_error *err)
{
    read_trace(NULL, rec, ev);
    if (decode_attrs(NULL, rec, ev, err) != 0)
        return -1;
    ev->data = parse_value(rec, err);
    return ev->data != NULL ? 0 : -1;
}

int pf_event_decode(const pf_record *rec, pf_event *ev, pf_error *err)
{
    const pf_header *ct = pf_record_header(rec, "content-type");
    const pf_header *sv = pf_record_header(rec, "ce_specversion");
    char ctbuf[128] = "", q[68];
    int rc;

    memset(ev, 0, sizeof(*ev));
    pf_error_clear(err);
    if (ct != NULL && ct->value != NULL) {
        /* Longer than any media type provflow accepts: refused whole. */
        if (ct->value_len >= sizeof(ctbuf) ||
            memchr(ct->value, '\0', ct->value_len) != NULL)
            return pf_error_set(err, INVALID, "content-type",
                                "unsupported content type (expected "
                                "application/cloudevents+json or "
                                "application/json)");
        memcpy(ctbuf, ct->value, ct->value_len);
        ctbuf[ct->value_len] = '\0';
    }

    /*
     * The Kafka binding: application/cloudevents+json is structured,
     * application/json with ce_* headers is binary. With no content-type
     * the event is structured, unless ce_specversion says binary.
     */
    if (media_type_is(ctbuf, "application/cloudevents+json") ||
        (ct == NULL && sv == NULL)) {
        ev->mode = PF_MODE_STRUCTURED;
        rc = decode_structured(rec, ev, err);
    } else if (media_type_is(ctbuf, "application/json") || ct == NULL) {
        if (sv == NULL)
            return pf_error_set(err, INVALID, "ce_specversion",
                                "required header is missing: "
                                "application/json records are binary-mode "
                                "CloudEvents");
        ev->mode = PF_MODE_BINARY;
        rc = decode_binary(rec, ev, err);
    } else {
        return pf_error_set(err, INVALID, "content-type",
                            "unsupported content type \"%s\" (expected "
                            "application/cloudevents+json or "
                            "application/json)",
                            pf_error_excerpt(q, sizeof(q), ctbuf));
    }
    if (rc != 0) {
        /* Keep only the id and the trace, so the failure can still name
         * the request and carry its trace. */
        char *id = ev->id, *tp = ev->traceparent, *ts = ev->tracestate;

        ev->id = ev->traceparent = ev->tracestate = NULL;
        pf_event_release(ev);
        ev->id = id;
        ev->traceparent = tp;
        ev->tracestate = ts;
    }
    return rc;
}

void pf_event_release(pf_event *ev)
{
    free(ev->id);
    free(ev->source);
    free(ev->type);
    free(ev->time);
    free(ev->tenantid);
    free(ev->traceparent);
    free(ev->tracestate);
    json_decref(ev->data);
    memset(ev, 0, sizeof(*ev));
}

int pf_time_parse_ms(const char *s, int64_t *ms)
{
    struct tm tm;
    const char *p;
    int off = 0, frac_ms = 0, digits = 0;

    memset(&tm, 0, sizeof(tm));
    p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return -1;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
            if (digits < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
        }
        for (; digits < 3; digits++)
            frac_ms *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int h = (p[1] - '0') * 10 + (p[2] - '0');
        int m = (p[4] - '0') * 10 + (p[5] - '0');

        off = (h * 60 + m) * 60 * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    *ms = ((int64_t)timegm(&tm) - off) * 1000 + frac_ms;
    return 0;
}
