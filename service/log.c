/* log.c - log lines, JSON or logfmt, with redaction (log.h). */
#include "provflow/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "provflow/buf.h"
#include "provflow/redact.h"

#define LINE_MAX_TEXT 4096

/*
 * The level and the format are plain ints set before threads start (a
 * stale level for one entry would be harmless anyway). The secrets live
 * in redact.c.
 */
static int min_level = PF_LOG_INFO;
static pf_log_format out_format = PF_LOG_JSON;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const format_names[] = {"json", "text"};

int pf_log_level_parse(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(name, level_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

void pf_log_set_level(pf_log_level level)
{
    min_level = (int)level;
}

int pf_log_format_parse(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
        if (strcasecmp(name, format_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

void pf_log_set_format(pf_log_format format)
{
    out_format = format;
}

int pf_log_secret(const char *secret)
{
    return pf_redact_add(secret);
}

void pf_log_forget_secrets(void)
{
    pf_redact_forget();
}

/* Bytes that end a value printed without quotes. */
#define BARE_END "\"'&,; \t\r\n}]"

/*
 * Replaces text[v, v + n) by the mask (or, for a value shorter than the
 * mask, as many stars: the text must not grow) and returns where the
 * text after it now starts.
 */
static char *mask_span(char *v, size_t n)
{
    size_t m = n < sizeof(PF_REDACT_MASK) - 1 ? n : sizeof(PF_REDACT_MASK) - 1;

    memset(v, '*', m);
    memmove(v + m, v + n, strlen(v + n) + 1);
    return v + m;
}

/*
 * Masks the values of a credential-looking key as the text prints them:
 * `key=value`, `key: value`, `"key":"value"`, `key='value'` (a separator
 * is what makes the next word a value: "the password setting is missing"
 * names no secret, and "defaultPasswordSettings" is a property's name),
 * or, for a key that ends in a space ("Bearer "), the word right after
 * it. A quoted value is masked up to its closing quote (a password may
 * hold spaces and escaped quotes), a bare one up to the next delimiter.
 * Only the value is masked: the key, the quotes and the rest stay.
 */
static void mask_after(char *text, const char *key)
{
    size_t kl = strlen(key);
    bool direct = key[kl - 1] == ' ';
    char *p = text;

    while ((p = strcasestr(p, key)) != NULL) {
        char *v = p + kl, quote = '\0';
        size_t n;

        if (!direct) {
            if (*v == '"' || *v == '\'')
                v++; /* the key's closing quote */
            v += strspn(v, " ");
            if (*v != '=' && *v != ':') {
                p += kl;
                continue;
            }
            v++;
            v += strspn(v, " ");
        }
        if (*v == '"' || *v == '\'')
            quote = *v++;
        if (quote != '\0') {
            for (n = 0; v[n] != '\0' && v[n] != quote; n++) {
                if (v[n] == '\\' && v[n + 1] != '\0')
                    n++;
            }
        } else {
            n = strcspn(v, BARE_END);
        }
        if (n == 0 || (n == 3 && strncmp(v, PF_REDACT_MASK, 3) == 0)) {
            p = v;
            continue;
        }
        p = mask_span(v, n);
    }
}

void pf_log_redact(char *text)
{
    static const char *const keys[] = {
        "password",         "client_secret", "access_token",
        "client_assertion", "Bearer ",       "refresh_token",
    };
    size_t i, len;
    char *masked;
    int rc;

    /* Every mask is shorter than what it replaces: the text only shrinks. */
    rc = pf_redact(text, strlen(text), NULL, &masked, &len);
    if (rc < 0) {
        snprintf(text, strlen(text) + 1, "%s", PF_REDACT_MASK);
        return;
    }
    if (rc > 0) {
        memcpy(text, masked, len + 1);
        free(masked);
    }
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        mask_after(text, keys[i]);
}

/* One field of a line: a text (redacted, in buf) or a number. */
typedef struct field {
    const char *key;
    const char *text; /* NULL: a number */
    int64_t num;
} field;

#define FIELDS_MAX 18
#define CTX_TEXT   512 /* a context string's longest (ids, topics) */

typedef struct line {
    field f[FIELDS_MAX];
    size_t n;
    char ctx[10][CTX_TEXT]; /* buffers of the context strings */
    size_t nctx;
} line;

/*
 * C1 controls (U+0080..U+009F: CSI is U+009B) and DEL are valid UTF-8 that
 * JSON leaves raw and a terminal obeys: written as \u00HH, in place, cut
 * to size before an escape that would not fit. C0 controls are the
 * format's to escape (JSON's \uXXXX, logfmt's \n or \xHH).
 */
static void escape_c1(char *buf, size_t size)
{
    const unsigned char *c;
    char *copy, esc[8];
    size_t o = 0, n;

    for (c = (const unsigned char *)buf; *c != '\0'; c++) {
        if (*c == 0x7f || (*c == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f))
            break;
    }
    if (*c == '\0')
        return;
    copy = strdup(buf);
    if (copy == NULL) {
        snprintf(buf, size, "(control characters)");
        return;
    }
    for (c = (const unsigned char *)copy; *c != '\0'; c++) {
        if (*c == 0x7f || (*c == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f)) {
            n = (size_t)snprintf(esc, sizeof(esc), "\\u%04x",
                                 *c == 0x7f ? 0x7f : c[1]);
            c += *c == 0xc2;
        } else {
            esc[0] = (char)*c;
            n = 1;
        }
        if (o + n >= size)
            break;
        memcpy(buf + o, esc, n);
        o += n;
    }
    buf[o] = '\0';
    free(copy);
}

/*
 * Redacted whole, then cut to size on a character boundary: a cut first
 * could leave the start of a secret that the search no longer recognises.
 * Text that is not UTF-8 becomes a marker, not silence.
 */
static void redact_into(char *buf, size_t size, const char *value)
{
    size_t len = strlen(value);
    char *whole;
    json_t *probe;

    if (len < size) {
        memcpy(buf, value, len + 1);
        pf_log_redact(buf);
    } else {
        whole = strdup(value);
        if (whole == NULL) {
            snprintf(buf, size, "%s", PF_REDACT_MASK);
        } else {
            pf_log_redact(whole);
            len = strlen(whole);
            if (len >= size) {
                len = size - 1;
                while (len > 0 && ((unsigned char)whole[len] & 0xC0) == 0x80)
                    len--;
            }
            memcpy(buf, whole, len);
            buf[len] = '\0';
            explicit_bzero(whole, strlen(whole));
            free(whole);
        }
    }
    probe = json_string(buf);
    if (probe == NULL)
        snprintf(buf, size, "(not UTF-8)");
    json_decref(probe);
    escape_c1(buf, size);
}

static void add_text(line *l, const char *key, const char *value)
{
    if (value == NULL || l->n == FIELDS_MAX || l->nctx == 10)
        return;
    redact_into(l->ctx[l->nctx], CTX_TEXT, value);
    l->f[l->n++] = (field){key, l->ctx[l->nctx++], 0};
}

static void add_num(line *l, const char *key, int64_t v)
{
    if (l->n < FIELDS_MAX)
        l->f[l->n++] = (field){key, NULL, v};
}

static void add_ctx(line *l, const pf_log_ctx *c)
{
    add_text(l, "what", c->what);
    add_text(l, "topic", c->topic);
    if (c->partition >= 0)
        add_num(l, "partition", c->partition);
    if (c->offset >= 0)
        add_num(l, "offset", c->offset);
    add_text(l, "requestId", c->request_id);
    add_text(l, "flowSetId", c->flow_set_id);
    add_text(l, "flowType", c->flow_type);
    add_text(l, "tenant", c->tenant);
    if (c->attempt > 0)
        add_num(l, "attempt", c->attempt);
    add_text(l, "trace_id", c->trace_id);
    add_text(l, "span_id", c->span_id);
    add_text(l, "clientRequestId", c->client_request_id);
    add_text(l, "graphRequestId", c->graph_request_id);
    if (c->http_status > 0)
        add_num(l, "httpStatus", c->http_status);
    if (c->has_wait)
        add_num(l, "waitMs", c->wait_ms);
}

/* JSON: jansson keeps the members in the order they were set. */
static char *render_json(const line *l)
{
    json_t *o = json_object();
    char *text;
    size_t i;

    for (i = 0; i < l->n; i++)
        json_object_set_new(o, l->f[i].key,
                            l->f[i].text != NULL
                                ? json_string(l->f[i].text)
                                : json_integer((json_int_t)l->f[i].num));
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/*
 * logfmt: key=value, a value in double quotes when it is empty or holds a
 * space, '=' or '"'; inside quotes '"' and '\' are escaped, and control
 * characters are \n, \r, \t or \xHH in either case.
 */
static void text_value(pf_buf *b, const char *v)
{
    bool quote = v[0] == '\0' || strpbrk(v, " =\"\\") != NULL;
    const unsigned char *c;
    char esc[8];

    for (c = (const unsigned char *)v; *c != '\0' && !quote; c++)
        quote = *c < 0x20 || *c == 0x7f;
    if (!quote) {
        pf_buf_add(b, v, strlen(v));
        return;
    }
    pf_buf_add(b, "\"", 1);
    for (c = (const unsigned char *)v; *c != '\0'; c++) {
        if (*c == '"' || *c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*c;
            pf_buf_add(b, esc, 2);
        } else if (*c == '\n') {
            pf_buf_add(b, "\\n", 2);
        } else if (*c == '\r') {
            pf_buf_add(b, "\\r", 2);
        } else if (*c == '\t') {
            pf_buf_add(b, "\\t", 2);
        } else if (*c < 0x20 || *c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\x%02x", *c);
            pf_buf_add(b, esc, 4);
        } else {
            pf_buf_add(b, (const char *)c, 1);
        }
    }
    pf_buf_add(b, "\"", 1);
}

static char *render_text(const line *l)
{
    char num[32];
    pf_buf b;
    size_t i;

    pf_buf_init(&b, 256, false);
    for (i = 0; i < l->n; i++) {
        if (i > 0)
            pf_buf_add(&b, " ", 1);
        pf_buf_add(&b, l->f[i].key, strlen(l->f[i].key));
        pf_buf_add(&b, "=", 1);
        if (l->f[i].text != NULL) {
            text_value(&b, l->f[i].text);
        } else {
            snprintf(num, sizeof(num), "%lld", (long long)l->f[i].num);
            pf_buf_add(&b, num, strlen(num));
        }
    }
    return pf_buf_take(&b, NULL);
}

bool pf_log_enabled(pf_log_level level)
{
    return (int)level >= min_level;
}

void pf_logv(pf_log_level level, const pf_log_ctx *ctx, const char *fmt,
             va_list ap)
{
    char msg[LINE_MAX_TEXT], ts[64], *long_msg = NULL, *text;
    struct timespec now;
    struct tm tm;
    va_list again;
    line *l;
    int n;

    if ((int)level < min_level)
        return;
    va_copy(again, ap);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n >= (int)sizeof(msg)) {
        /* Longer than a line holds: formatted whole for redaction. */
        long_msg = malloc((size_t)n + 1);
        if (long_msg != NULL)
            vsnprintf(long_msg, (size_t)n + 1, fmt, again);
    }
    va_end(again);
    l = calloc(1, sizeof(*l));
    if (l == NULL) {
        free(long_msg);
        return; /* nowhere to say it */
    }

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (now.tv_nsec / 1000000) % 1000);
    l->f[l->n++] = (field){"ts", ts, 0};
    l->f[l->n++] = (field){"level", level_names[level], 0};
    redact_into(msg, sizeof(msg), long_msg != NULL ? long_msg : msg);
    free(long_msg);
    l->f[l->n++] = (field){"msg", msg, 0};
    if (ctx != NULL)
        add_ctx(l, ctx);
    text = out_format == PF_LOG_TEXT ? render_text(l) : render_json(l);
    free(l);
    if (text == NULL)
        return;
    {
        size_t len = strlen(text);

        text[len] = '\n'; /* replaces the NUL: one write(2) per line */
        if (write(STDERR_FILENO, text, len + 1) < 0) {
            /* Nowhere left to report it. */
        }
    }
    free(text);
}

void pf_log(pf_log_level level, const pf_log_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    pf_logv(level, ctx, fmt, ap);
    va_end(ap);
}
