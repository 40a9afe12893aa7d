/* outcome.c - the outcome record and its dead-letter headers (outcome.h). */
#include "provflow/outcome.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "provflow/json.h"
#include "provflow/redact.h"
#include "provflow/reqid.h"

static const char *const status_names[] = {
    [PF_OUTCOME_CREATED] = "created", [PF_OUTCOME_EXISTS] = "exists",
    [PF_OUTCOME_FAILED] = "failed",   [PF_OUTCOME_VALIDATED] = "validated",
    [PF_OUTCOME_UPDATED] = "updated", [PF_OUTCOME_DELETED] = "deleted",
    [PF_OUTCOME_ABSENT] = "absent",   [PF_OUTCOME_RESET] = "reset",
    [PF_OUTCOME_STARTED] = "started", [PF_OUTCOME_RUN_REJECTED] = "rejected",
};

static const char *const code_names[] = {
    [PF_OUTCOME_INVALID_EVENT] = "invalid_event",
    [PF_OUTCOME_REJECTED] = "rejected",
    [PF_OUTCOME_RETRIES_EXHAUSTED] = "retries_exhausted",
    [PF_OUTCOME_RUN_LIMIT] = "run_limit",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *pf_outcome_status_name(pf_outcome_status s)
{
    return (unsigned)s < COUNT(status_names) ? status_names[s] : NULL;
}

bool pf_outcome_is_failure(pf_outcome_status s)
{
    return s == PF_OUTCOME_FAILED || s == PF_OUTCOME_RUN_REJECTED;
}

const char *pf_outcome_code_name(pf_outcome_code c)
{
    return (unsigned)c < COUNT(code_names) ? code_names[c] : NULL;
}

static int fail(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;

    if (errstr != NULL && errstr_size > 0) {
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/*
 * Copies src (src_len bytes) into dst as valid UTF-8: each byte that does
 * not start a well-formed sequence becomes U+FFFD, and the copy stops
 * before a character that would not fit in dst_size - 1 bytes. dst is
 * NUL-terminated (dst_size >= 1). Returns the bytes written.
 */
static size_t utf8_copy(char *dst, size_t dst_size, const char *src,
                        size_t src_len)
{
    static const char replacement[] = "\xef\xbf\xbd";
    const unsigned char *s = (const unsigned char *)src;
    const char *from;
    size_t i = 0, o = 0, n, take;

    while (i < src_len) {
        n = pf_utf8_seq(s + i, src_len - i);
        if (n > 0) {
            from = src + i;
            take = n;
            i += n;
        } else {
            from = replacement;
            take = 3;
            i++;
        }
        if (take > dst_size - 1 - o)
            break;
        memcpy(dst + o, from, take);
        o += take;
    }
    dst[o] = '\0';
    return o;
}

static bool utf8_valid(const char *s, size_t len)
{
    size_t i = 0, n;

    while (i < len) {
        n = pf_utf8_seq((const unsigned char *)s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

/*
 * Writes s (len bytes) as a JSON string, made valid UTF-8 and cut at max
 * bytes.
 */
static void text_n(pf_jsonw *w, const char *s, size_t len, size_t max)
{
    size_t size;
    char *buf;

    if (len <= max && utf8_valid(s, len)) {
        pf_jsonw_string(w, s, len);
        return;
    }
    /* Each input byte grows to at most 3 output bytes (U+FFFD). */
    size = (len > max / 3 ? max : len * 3) + 1;
    buf = malloc(size);
    if (buf == NULL) {
        w->failed = true;
        return;
    }
    pf_jsonw_string(w, buf, utf8_copy(buf, size, s, len));
    free(buf);
}

/* A JSON string of s without a length cap, or null for NULL. */
static void text_or_null(pf_jsonw *w, const char *s)
{
    if (s == NULL)
        pf_jsonw_null(w);
    else
        text_n(w, s, strlen(s), SIZE_MAX - 1);
}

/* As text_or_null(), but "" is null too. */
static void nonempty_or_null(pf_jsonw *w, const char *s)
{
    text_or_null(w, s != NULL && s[0] == '\0' ? NULL : s);
}

/* The values the outcome masks besides the registered secrets. */
static pf_redact_with mask_of(const pf_outcome *o)
{
    return (pf_redact_with){o->mask, o->mask_count, o->mask_body};
}

/*
 * As text_n(), for free text that may quote a secret: masked first (a cut
 * first could leave part of a secret), then made valid UTF-8 and cut. If
 * memory runs out for the masking, the text is not written: "***".
 */
static void masked_n(pf_jsonw *w, const pf_outcome *o, const char *s,
                     size_t len, size_t max)
{
    pf_redact_with with = mask_of(o);
    size_t mlen = 0;
    char *m;
    int rc = pf_redact(s, len, &with, &m, &mlen);

    if (rc == 0) {
        text_n(w, s, len, max);
    } else if (rc < 0) {
        pf_jsonw_cstr(w, PF_REDACT_MASK);
    } else {
        text_n(w, m, mlen, max);
        free(m);
    }
}

/* Writes the n decimal digits of v (zero-padded) at s; returns s + n. */
static char *digits(char *s, unsigned v, int n)
{
    int i;

    for (i = n - 1; i >= 0; i--) {
        s[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return s + n;
}

/*
 * What gmtime_r() and "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" write, by
 * arithmetic: every outcome has a time, and the profile showed gmtime_r
 * (which takes glibc's time zone lock) and snprintf. The date is the
 * proleptic Gregorian calendar's (days to civil: H. Hinnant's
 * "chrono-Compatible Low-Level Date Algorithms"), valid for the whole
 * range checked (1970 .. 9999).
 */
int pf_outcome_format_time(int64_t ms, char out[PF_OUTCOME_TIME_LEN + 1])
{
    int64_t days, secs, z, era, doe, yoe, doy, mp;
    unsigned year, month, day;
    char *s = out;

    out[0] = '\0';
    if (ms < 0 || ms > PF_OUTCOME_TIME_MAX_MS)
        return -1;
    days = ms / 86400000;
    secs = (ms / 1000) % 86400;
    z = days + 719468; /* days since 0000-03-01 */
    era = z / 146097;
    doe = z - era * 146097;                                      /* 0..146096 */
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0..365 */
    mp = (5 * doy + 2) / 153;                                    /* 0..11 */
    day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    year = (unsigned)(yoe + era * 400 + (month <= 2));
    s = digits(s, year, 4);
    *s++ = '-';
    s = digits(s, month, 2);
    *s++ = '-';
    s = digits(s, day, 2);
    *s++ = 'T';
    s = digits(s, (unsigned)(secs / 3600), 2);
    *s++ = ':';
    s = digits(s, (unsigned)(secs / 60 % 60), 2);
    *s++ = ':';
    s = digits(s, (unsigned)(secs % 60), 2);
    *s++ = '.';
    s = digits(s, (unsigned)(ms % 1000), 3);
    *s++ = 'Z';
    *s = '\0';
    return 0;
}

/*
 * PF_OUTCOME_NAMESPACE as bytes, so that no outcome parses it again
 * (uuid_parse() calls strtoul() for each byte: 16 calls per outcome in
 * the profile); the unit tests check the ids against Python's uuid5.
 */
static const unsigned char outcome_ns[16] = {0x3c, 0x4c, 0x39, 0x72, 0xaf, 0x6b,
                                             0x57, 0xfb, 0xb5, 0x36, 0x0b, 0xea,
                                             0x77, 0x5b, 0x9e, 0x15};

int pf_outcome_id(const pf_outcome *o, char out[PF_UUID_STR_LEN + 1])
{
    const char *status = pf_outcome_status_name(o->status);
    unsigned char u[16];
    char *name, local[256];
    size_t size;
    int n;

    out[0] = '\0';
    if (status == NULL)
        return -1;
    if (o->request_id != NULL) {
        /* "outcome:<status>:<request id>", on the stack when it fits
         * (every outcome has an id: no printf, no allocation) */
        size_t ls = strlen(status), lr = strlen(o->request_id);

        size = sizeof("outcome::") + ls + lr;
        name = size <= sizeof(local) ? local : malloc(size);
        if (name == NULL)
            return -1;
        memcpy(name, "outcome:", 8);
        memcpy(name + 8, status, ls);
        name[8 + ls] = ':';
        memcpy(name + 9 + ls, o->request_id, lr + 1);
        n = (int)(9 + ls + lr);
    } else {
        if (o->input.topic == NULL)
            return -1;
        /* Two decimal numbers of at most 20 characters each. */
        size = sizeof("outcome-at::::") + strlen(status) +
               strlen(o->input.topic) + 2 * 20;
        name = malloc(size);
        if (name == NULL)
            return -1;
        n = snprintf(name, size, "outcome-at:%s:%s:%" PRId32 ":%" PRId64,
                     status, o->input.topic, o->input.partition,
                     o->input.offset);
    }
    if (n < 0 || (size_t)n >= size) {
        if (name != local)
            free(name);
        return -1;
    }
    pf_uuid5(u, outcome_ns, name, (size_t)n);
    pf_uuid_unparse(u, out);
    if (name != local)
        free(name);
    return 0;
}

/* The string member `name` of from, when it is one; masked. */
static void copy_text(pf_jsonw *w, const pf_outcome *o, const json_t *from,
                      const char *name)
{
    const json_t *v = json_object_get(from, name);

    if (!json_is_string(v))
        return;
    pf_jsonw_key(w, name);
    masked_n(w, o, json_string_value(v), json_string_length(v),
             PF_OUTCOME_TEXT_MAX);
}

/*
 * Graph's error object, reduced to the members listed in outcome.h; left
 * out when ge is not an object. Each string is masked: a message may quote
 * the request body, passwords included.
 */
static void graph_error_copy(pf_jsonw *w, const pf_outcome *o, const json_t *ge)
{
    static const char *const top[] = {"code", "message", "target"};
    static const char *const inner_names[] = {"date", "request-id",
                                              "client-request-id"};
    const json_t *from;
    size_t i, n = 0;

    if (!json_is_object(ge))
        return;
    pf_jsonw_key(w, "graphError");
    pf_jsonw_open(w, '{');
    for (i = 0; i < COUNT(top); i++)
        copy_text(w, o, ge, top[i]);
    from = json_object_get(ge, "innerError");
    if (from == NULL)
        from = json_object_get(ge, "innererror");
    for (i = 0; i < COUNT(inner_names); i++)
        n += json_is_string(json_object_get(from, inner_names[i]));
    if (n > 0) {
        pf_jsonw_key(w, "innerError");
        pf_jsonw_open(w, '{');
        for (i = 0; i < COUNT(inner_names); i++)
            copy_text(w, o, from, inner_names[i]);
        pf_jsonw_close(w, '}');
    }
    pf_jsonw_close(w, '}');
}

static void graph_object(pf_jsonw *w, const pf_outcome_graph *g)
{
    pf_jsonw_open(w, '{');
    pf_jsonw_key(w, "httpStatus");
    if (g->http_status > 0)
        pf_jsonw_int(w, g->http_status);
    else
        pf_jsonw_null(w);
    pf_jsonw_key(w, "requestId");
    nonempty_or_null(w, g->request_id);
    pf_jsonw_key(w, "clientRequestId");
    nonempty_or_null(w, g->client_request_id);
    pf_jsonw_key(w, "attempts");
    pf_jsonw_int(w, g->attempts);
    pf_jsonw_key(w, "elapsedMs");
    pf_jsonw_int(w, g->elapsed_ms);
    pf_jsonw_close(w, '}');
}

static void error_object(pf_jsonw *w, const pf_outcome *o)
{
    const pf_outcome_error *e = o->error;

    pf_jsonw_open(w, '{');
    pf_jsonw_key(w, "code");
    pf_jsonw_cstr(w, pf_outcome_code_name(e->code));
    pf_jsonw_key(w, "message");
    masked_n(w, o, e->message, strlen(e->message), PF_OUTCOME_TEXT_MAX);
    if (e->path != NULL && e->path[0] != '\0') {
        pf_jsonw_key(w, "path");
        masked_n(w, o, e->path, strlen(e->path), SIZE_MAX - 1);
    }
    graph_error_copy(w, o, e->graph_error);
    pf_jsonw_close(w, '}');
}

static void input_object(pf_jsonw *w, const pf_outcome_input *in)
{
    pf_jsonw_open(w, '{');
    pf_jsonw_key(w, "topic");
    text_or_null(w, in->topic);
    pf_jsonw_key(w, "partition");
    pf_jsonw_int(w, in->partition);
    pf_jsonw_key(w, "offset");
    pf_jsonw_int(w, in->offset);
    pf_jsonw_close(w, '}');
}

/*
 * The rules of pf_outcome's fields (outcome.h). Only a caller's mistake
 * breaks them: whatever Graph answers (a 201 without a readable flow, a
 * flow that is not an object) and whatever the clock says still give a
 * record.
 */
static int check(const pf_outcome *o, char *errstr, size_t errstr_size)
{
    if (pf_outcome_status_name(o->status) == NULL)
        return fail(errstr, errstr_size, "outcome: status %d out of range",
                    (int)o->status);
    if (o->source == NULL || o->source[0] == '\0')
        return fail(errstr, errstr_size, "outcome: source is required");
    if (o->input.topic == NULL)
        return fail(errstr, errstr_size, "outcome: input topic is required");
    if (!pf_outcome_is_failure(o->status)) {
        if (o->error != NULL)
            return fail(errstr, errstr_size, "outcome: %s takes no error",
                        pf_outcome_status_name(o->status));
        return 0;
    }
    if (o->flow != NULL || o->flow_json != NULL)
        return fail(errstr, errstr_size, "outcome: %s takes no flow",
                    pf_outcome_status_name(o->status));
    if (o->error == NULL || o->error->message == NULL ||
        pf_outcome_code_name(o->error->code) == NULL)
        return fail(errstr, errstr_size,
                    "outcome: %s needs an error code and message",
                    pf_outcome_status_name(o->status));
    return 0;
}

/* The flow written: an object, or the checked text; else none. */
static bool flow_object(const pf_outcome *o)
{
    return json_is_object(o->flow);
}

static bool flow_text(const pf_outcome *o)
{
    return !flow_object(o) && o->flow_json != NULL;
}

/* data.warning: the caller's note, or what this module noticed itself. */
static const char *warning_of(const pf_outcome *o)
{
    if (o->note != NULL && o->note[0] != '\0')
        return o->note;
    if (o->flow != NULL && !json_is_object(o->flow) && o->flow_json == NULL)
        return "Graph's flow is not a JSON object: left out";
    if ((o->status == PF_OUTCOME_CREATED || o->status == PF_OUTCOME_EXISTS) &&
        !flow_object(o) && !flow_text(o))
        return "no readable flow from Graph";
    return NULL;
}

static void data_object(pf_jsonw *w, const pf_outcome *o)
{
    const char *warning;

    pf_jsonw_open(w, '{');
    const char *key = o->object_key != NULL ? o->object_key : "flow";

    pf_jsonw_key(w, "requestId");
    text_or_null(w, o->request_id);
    pf_jsonw_key(w, "flowSetId");
    text_or_null(w, o->flow_set_id);
    if (o->flow_set_name != NULL) {
        pf_jsonw_key(w, "flowSetName");
        text_n(w, o->flow_set_name, strlen(o->flow_set_name),
               PF_OUTCOME_TEXT_MAX);
    }
    pf_jsonw_key(w, "flowType");
    text_or_null(w, o->flow_type);
    pf_jsonw_key(w, "status");
    pf_jsonw_cstr(w, pf_outcome_status_name(o->status));
    if (flow_object(o)) {
        /* Written from the caller's tree, masked on the way: no copy. */
        pf_jsonw_key(w, key);
        pf_jsonw_value(w, o->flow, PF_JSONW_MASK_SECRETS);
    } else if (flow_text(o)) {
        pf_jsonw_key(w, key);
        pf_jsonw_raw(w, o->flow_json, o->flow_json_len);
    }
    if (o->operation_url != NULL && o->operation_url[0] != '\0') {
        pf_jsonw_key(w, "operationUrl");
        text_n(w, o->operation_url, strlen(o->operation_url),
               PF_OUTCOME_TEXT_MAX);
    }
    if (o->status == PF_OUTCOME_RUN_REJECTED && o->retry_after_s >= 0) {
        pf_jsonw_key(w, "retryAfterSeconds");
        pf_jsonw_int(w, o->retry_after_s);
    }
    warning = warning_of(o);
    if (warning != NULL) {
        pf_jsonw_key(w, "warning");
        masked_n(w, o, warning, strlen(warning), PF_OUTCOME_TEXT_MAX);
    }
    if (o->graph != NULL) {
        pf_jsonw_key(w, "graph");
        graph_object(w, o->graph);
    }
    if (o->error != NULL) {
        pf_jsonw_key(w, "error");
        error_object(w, o);
    }
    pf_jsonw_key(w, "input");
    input_object(w, &o->input);
    pf_jsonw_close(w, '}');
}

/*
 * "provflow.<entity>.<status>": the entity of the event's operation. Both
 * are names from static tables, short: written as they are, no printf
 * (one per outcome in the profile).
 */
static void type_name(pf_jsonw *w, const pf_outcome *o)
{
    const char *entity = o->entity != NULL ? o->entity : "provisioningFlow";
    const char *status = pf_outcome_status_name(o->status);
    size_t le, ls;
    char type[96];

    if (status == NULL) /* check() refused it already: as printf wrote it */
        status = "(null)";
    le = strlen(entity);
    ls = strlen(status);
    if (sizeof("provflow..") + le + ls > sizeof(type)) { /* never so far */
        snprintf(type, sizeof(type), "provflow.%s.%s", entity, status);
        pf_jsonw_cstr(w, type);
        return;
    }
    memcpy(type, "provflow.", 9);
    memcpy(type + 9, entity, le);
    type[9 + le] = '.';
    memcpy(type + 10 + le, status, ls);
    pf_jsonw_string(w, type, 10 + le + ls);
}

char *pf_outcome_dump(const pf_outcome *o, size_t *len, char *errstr,
                      size_t errstr_size)
{
    char id[PF_UUID_STR_LEN + 1];
    char when[PF_OUTCOME_TIME_LEN + 1];
    const json_t *flow_id;
    int64_t time_ms;
    pf_jsonw w;
    char *s;

    if (len != NULL)
        *len = 0;
    if (check(o, errstr, errstr_size) != 0)
        return NULL;
    /* A clock outside the years 1970 to 9999 is clamped, not fatal. */
    time_ms = o->time_ms < 0                        ? 0
              : o->time_ms > PF_OUTCOME_TIME_MAX_MS ? PF_OUTCOME_TIME_MAX_MS
                                                    : o->time_ms;
    if (pf_outcome_id(o, id) != 0 ||
        pf_outcome_format_time(time_ms, when) != 0) {
        /* the inputs were checked: only memory can be missing */
        fail(errstr, errstr_size, "outcome: out of memory");
        return NULL;
    }
    pf_jsonw_init(&w, 2048);
    pf_jsonw_open(&w, '{');
    pf_jsonw_key(&w, "specversion");
    pf_jsonw_cstr(&w, "1.0");
    pf_jsonw_key(&w, "id");
    pf_jsonw_cstr(&w, id);
    pf_jsonw_key(&w, "source");
    text_or_null(&w, o->source);
    pf_jsonw_key(&w, "type");
    type_name(&w, o);
    flow_id = flow_object(o) ? json_object_get(o->flow, "id") : NULL;
    if (json_is_string(flow_id) && json_string_length(flow_id) > 0) {
        pf_jsonw_key(&w, "subject");
        text_n(&w, json_string_value(flow_id), json_string_length(flow_id),
               PF_OUTCOME_TEXT_MAX);
    } else if (!pf_outcome_is_failure(o->status) && o->flow_id != NULL &&
               o->flow_id[0] != '\0') {
        pf_jsonw_key(&w, "subject");
        text_n(&w, o->flow_id, strlen(o->flow_id), PF_OUTCOME_TEXT_MAX);
    }
    pf_jsonw_key(&w, "time");
    pf_jsonw_cstr(&w, when);
    pf_jsonw_key(&w, "datacontenttype");
    pf_jsonw_cstr(&w, "application/json");
    if (o->traceparent != NULL) {
        pf_jsonw_key(&w, "traceparent");
        pf_jsonw_cstr(&w, o->traceparent);
    }
    if (o->tracestate != NULL) {
        pf_jsonw_key(&w, "tracestate");
        pf_jsonw_cstr(&w, o->tracestate);
    }
    pf_jsonw_key(&w, "data");
    data_object(&w, o);
    pf_jsonw_close(&w, '}');
    s = pf_jsonw_finish(&w, len);
    if (s == NULL)
        fail(errstr, errstr_size, "outcome: out of memory");
    return s;
}

static void dlq_set(pf_outcome_dlq *dlq, size_t i, const char *name,
                    const char *value)
{
    dlq->headers[i].name = name;
    dlq->headers[i].value = value;
    dlq->headers[i].value_len = strlen(value);
}

/*
 * provflow-error-message: "<path>: <message>", masked as a whole, made
 * valid UTF-8, control characters escaped (a header value ends up on
 * terminals: kcat, logs), cut to fit.
 */
static void dlq_message(const pf_outcome *o, char *out, size_t size)
{
    const pf_outcome_error *e = o->error;
    pf_redact_with with = mask_of(o);
    size_t plen = e->path != NULL ? strlen(e->path) : 0;
    size_t mlen = strlen(e->message), len = 0, clean_len;
    char *whole, *masked = NULL, *clean = NULL;
    int rc;

    out[0] = '\0';
    whole = malloc(plen + 2 + mlen + 1);
    if (whole == NULL)
        goto no_memory;
    if (plen > 0) {
        memcpy(whole, e->path, plen);
        memcpy(whole + plen, ": ", 2);
        len = plen + 2;
    }
    memcpy(whole + len, e->message, mlen);
    len += mlen;
    whole[len] = '\0';
    rc = pf_redact(whole, len, &with, &masked, &len);
    if (rc < 0)
        goto no_memory;
    /* Each byte grows to at most 3 (U+FFFD) when made valid UTF-8. */
    clean = malloc(len * 3 + 1);
    if (clean == NULL)
        goto no_memory;
    clean_len = utf8_copy(clean, len * 3 + 1, rc > 0 ? masked : whole, len);
    pf_redact_controls(out, size, clean, clean_len);
    goto out;
no_memory:
    snprintf(out, size, "%s", PF_REDACT_MASK);
out:
    free(clean);
    free(masked);
    free(whole);
}

int pf_outcome_dlq_headers(const pf_outcome *o, pf_outcome_dlq *dlq,
                           char *errstr, size_t errstr_size)
{
    const pf_outcome_error *e = o->error;

    memset(dlq, 0, sizeof(*dlq));
    if (!pf_outcome_is_failure(o->status) || e == NULL || e->message == NULL ||
        pf_outcome_code_name(e->code) == NULL)
        return fail(errstr, errstr_size,
                    "outcome: dead-letter headers need a failed outcome "
                    "with an error");
    if (o->input.topic == NULL || strlen(o->input.topic) > PF_OUTCOME_TOPIC_MAX)
        return fail(errstr, errstr_size,
                    "outcome: input topic missing or too long");

    /* Fixed text and numbers: the buffers are sized to fit them. */
    snprintf(dlq->code, sizeof(dlq->code), "%s", pf_outcome_code_name(e->code));
    snprintf(dlq->attempts, sizeof(dlq->attempts), "%d",
             o->graph != NULL ? o->graph->attempts : 0);
    snprintf(dlq->topic, sizeof(dlq->topic), "%s", o->input.topic);
    snprintf(dlq->partition, sizeof(dlq->partition), "%" PRId32,
             o->input.partition);
    snprintf(dlq->offset, sizeof(dlq->offset), "%" PRId64, o->input.offset);

    dlq_message(o, dlq->message, sizeof(dlq->message));

    dlq_set(dlq, 0, "provflow-error-code", dlq->code);
    dlq_set(dlq, 1, "provflow-error-message", dlq->message);
    dlq_set(dlq, 2, "provflow-attempts", dlq->attempts);
    dlq_set(dlq, 3, "provflow-source-topic", dlq->topic);
    dlq_set(dlq, 4, "provflow-source-partition", dlq->partition);
    dlq_set(dlq, 5, "provflow-source-offset", dlq->offset);
    dlq->count = 6;
    /* Checked by trace.h (printable, bounded): they fit, uncut. */
    if (o->traceparent != NULL) {
        snprintf(dlq->traceparent, sizeof(dlq->traceparent), "%s",
                 o->traceparent);
        dlq_set(dlq, dlq->count++, "traceparent", dlq->traceparent);
    }
    if (o->traceparent != NULL && o->tracestate != NULL) {
        snprintf(dlq->tracestate, sizeof(dlq->tracestate), "%s", o->tracestate);
        dlq_set(dlq, dlq->count++, "tracestate", dlq->tracestate);
    }
    return 0;
}

void pf_outcome_trace(pf_outcome_build *b, const pf_trace *t)
{
    if (t->trace_id[0] == '\0')
        return;
    pf_trace_format(t, NULL, b->traceparent);
    b->o.traceparent = b->traceparent;
    b->o.tracestate = t->tracestate;
}

/* Building an outcome from what happened. */

/* What an outcome says of the request: its entity, set and flow type. */
static void about_request(pf_outcome *o, const pf_request *req)
{
    o->entity = req->op->entity;
    o->object_key = req->op->object;
    o->flow_set_id = req->flow_set_id[0] != '\0' ? req->flow_set_id : NULL;
    o->flow_set_name = req->flow_set_name;
    o->flow_type = pf_request_flow_type(req);
}

/* A success's status: the operation's own (ops.h), created or exists. */
static pf_outcome_status outcome_status(const pf_op *op, pf_graph_status st)
{
    static const struct {
        const char *name;
        pf_outcome_status status;
    } done[] = {
        {"created", PF_OUTCOME_CREATED}, {"updated", PF_OUTCOME_UPDATED},
        {"deleted", PF_OUTCOME_DELETED}, {"reset", PF_OUTCOME_RESET},
        {"started", PF_OUTCOME_STARTED},
    };
    size_t i;

    if (st == PF_GRAPH_EXISTS)
        return PF_OUTCOME_EXISTS;
    if (st == PF_GRAPH_ABSENT)
        return PF_OUTCOME_ABSENT;
    for (i = 0; i < COUNT(done); i++) {
        if (strcmp(op->done, done[i].name) == 0)
            return done[i].status;
    }
    return PF_OUTCOME_CREATED;
}

static pf_outcome_code error_code(const pf_graph_result *r)
{
    if (r->status == PF_GRAPH_REJECTED)
        return PF_OUTCOME_RUN_LIMIT;
    return r->error_code != NULL && strcmp(r->error_code, "rejected") == 0
               ? PF_OUTCOME_REJECTED
               : PF_OUTCOME_RETRIES_EXHAUSTED;
}

void pf_outcome_of_result(pf_outcome_build *b, const pf_graph_result *r,
                          const pf_request *req, const char *request_id,
                          const char *source, int64_t time_ms,
                          pf_outcome_input in)
{
    pf_outcome *o = &b->o;

    assert(r->status != PF_GRAPH_SYSTEMIC);
    memset(b, 0, sizeof(*b));
    b->graph = (pf_outcome_graph){
        .http_status = r->http_status,
        .request_id = r->request_id,
        .client_request_id = req->client_request_id,
        .attempts = r->attempts,
        .elapsed_ms = r->elapsed_ms,
    };
    o->source = source;
    o->time_ms = time_ms;
    o->input = in;
    o->request_id = request_id;
    about_request(o, req);
    if (r->flow_set_id != NULL && r->flow_set_id[0] != '\0')
        o->flow_set_id = r->flow_set_id;
    o->graph = &b->graph;
    o->mask_body = req->body; /* Graph may quote the request: passwords */
    if (r->status == PF_GRAPH_FAILED || r->status == PF_GRAPH_REJECTED) {
        o->status = r->status == PF_GRAPH_REJECTED ? PF_OUTCOME_RUN_REJECTED
                                                   : PF_OUTCOME_FAILED;
        o->retry_after_s = r->retry_after_s;
        b->error = (pf_outcome_error){
            .code = error_code(r),
            .message = r->message,
            .graph_error = r->graph_error,
        };
        o->error = &b->error;
        return;
    }
    o->status = outcome_status(req->op, r->status);
    o->operation_url = r->operation_url;
    o->flow = r->flow;
    o->flow_json = r->flow_json;
    o->flow_json_len = r->flow_json_len;
    o->flow_id = r->flow_id;
    o->note = r->note;
}

void pf_outcome_of_invalid(pf_outcome_build *b, const pf_error *e,
                           const char *request_id, const char *source,
                           int64_t time_ms, pf_outcome_input in)
{
    memset(b, 0, sizeof(*b));
    b->error = (pf_outcome_error){
        .code = PF_OUTCOME_INVALID_EVENT,
        .message = e->message,
        .path = e->path,
    };
    b->o = (pf_outcome){
        .status = PF_OUTCOME_FAILED,
        .source = source,
        .time_ms = time_ms,
        .request_id = request_id,
        .error = &b->error,
        .input = in,
    };
}

void pf_outcome_of_request(pf_outcome_build *b, const pf_request *req,
                           const char *request_id, const char *source,
                           int64_t time_ms, pf_outcome_input in)
{
    memset(b, 0, sizeof(*b));
    b->o = (pf_outcome){
        .status = PF_OUTCOME_VALIDATED,
        .source = source,
        .time_ms = time_ms,
        .request_id = request_id,
        .flow = req->body,
        .input = in,
    };
    about_request(&b->o, req);
}
