/* redact.c - secrets masked by value, in every form (redact.h). */
#include "provflow/redact.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "provflow/json.h"

/*
 * Written before threads start and read afterwards (redact.h): no lock.
 */
static char *secrets[PF_REDACT_SECRETS_MAX];
static size_t secret_count;

int pf_redact_add(const char *secret)
{
    size_t i;

    if (secret == NULL || strlen(secret) < PF_REDACT_SECRET_MIN)
        return 0;
    for (i = 0; i < secret_count; i++) {
        if (strcmp(secrets[i], secret) == 0)
            return 0;
    }
    if (secret_count == PF_REDACT_SECRETS_MAX)
        return -1;
    secrets[secret_count] = strdup(secret);
    if (secrets[secret_count] == NULL)
        return -1;
    secret_count++;
    return 0;
}

void pf_redact_forget(void)
{
    while (secret_count > 0) {
        char *s = secrets[--secret_count];

        explicit_bzero(s, strlen(s));
        free(s);
        secrets[secret_count] = NULL;
    }
}

/* ---- the values: registry, list, request body ---- */

typedef void (*value_fn)(void *ctx, const char *v, size_t len);

/* Every string at or below v (v is under a "password" member). */
static void strings_below(const json_t *v, value_fn fn, void *ctx)
{
    const char *key;
    json_t *m;
    size_t i;

    if (json_is_string(v)) {
        fn(ctx, json_string_value(v), json_string_length(v));
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, m) strings_below(m, fn, ctx);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m) strings_below(m, fn, ctx);
    }
}

/* The strings under members named "password" (any case) in v. */
static void passwords_in(const json_t *v, value_fn fn, void *ctx)
{
    const char *key;
    json_t *m;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, m)
        {
            if (strcasecmp(key, "password") == 0)
                strings_below(m, fn, ctx);
            else
                passwords_in(m, fn, ctx);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m) passwords_in(m, fn, ctx);
    }
}

static void each_value(const pf_redact_with *with, value_fn fn, void *ctx)
{
    size_t i;

    for (i = 0; i < secret_count; i++)
        fn(ctx, secrets[i], strlen(secrets[i]));
    if (with == NULL)
        return;
    for (i = 0; i < with->count; i++) {
        if (with->values[i] != NULL)
            fn(ctx, with->values[i], strlen(with->values[i]));
    }
    if (with->body != NULL)
        passwords_in(with->body, fn, ctx);
}

typedef struct collect_ctx {
    const char **out;
    size_t max, n;
} collect_ctx;

static void collect_one(void *arg, const char *v, size_t len)
{
    collect_ctx *c = arg;
    size_t i, stored = c->n < c->max ? c->n : c->max;

    (void)len;
    for (i = 0; i < stored; i++) {
        if (strcmp(c->out[i], v) == 0)
            return;
    }
    if (c->n < c->max)
        c->out[c->n] = v;
    c->n++;
}

size_t pf_redact_collect(const json_t *body, const char **out, size_t max)
{
    collect_ctx c = {out, max, 0};

    if (body != NULL)
        passwords_in(body, collect_one, &c);
    return c.n;
}

/* ---- decodings of the text ---- */

/*
 * A decoding of the original text: text[k] came from the original bytes
 * [start[k], end[k]).
 */
typedef struct variant {
    char *text;
    size_t len;
    size_t *start, *end;
} variant;

static void variant_free(variant *v)
{
    free(v->text);
    free(v->start);
    free(v->end);
    memset(v, 0, sizeof(*v));
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits at s, or -1. */
static long hex4(const char *s)
{
    long v = 0;
    int i, h;

    for (i = 0; i < 4; i++) {
        h = hexval(s[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static size_t utf8_encode(unsigned long cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

enum decoding { URL_PLUS, URL, JSON_ESC };

/*
 * One escape of kind at s[i..n): its decoded bytes in out (at most 4) and
 * their count in *out_n; returns the escape's length, or 0 when s[i]
 * starts none (it stands for itself).
 */
static size_t escape_at(enum decoding kind, const char *s, size_t i, size_t n,
                        char out[4], size_t *out_n)
{
    static const char json_short[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
    const char *hit;
    long cp, lo;

    if (kind != JSON_ESC) {
        if (s[i] == '+' && kind == URL_PLUS) {
            out[0] = ' ';
            *out_n = 1;
            return 1;
        }
        if (s[i] == '%' && i + 3 <= n && hexval(s[i + 1]) >= 0 &&
            hexval(s[i + 2]) >= 0) {
            out[0] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            *out_n = 1;
            return 3;
        }
        return 0;
    }
    if (s[i] != '\\' || i + 2 > n)
        return 0;
    if (s[i + 1] != 'u') {
        if (s[i + 1] == '\0')
            return 0;
        /* the even positions of json_short name, the odd ones decode */
        hit = strchr(json_short, s[i + 1]);
        if (hit == NULL || (hit - json_short) % 2 != 0)
            return 0;
        out[0] = hit[1];
        *out_n = 1;
        return 2;
    }
    if (i + 6 > n || (cp = hex4(s + i + 2)) < 0)
        return 0;
    if (cp >= 0xD800 && cp < 0xDC00) {
        /* a high surrogate counts only with its low half */
        if (i + 12 > n || s[i + 6] != '\\' || s[i + 7] != 'u')
            return 0;
        lo = hex4(s + i + 8);
        if (lo < 0xDC00 || lo > 0xDFFF)
            return 0;
        *out_n = utf8_encode(0x10000 + ((unsigned long)(cp - 0xD800) << 10) +
                                 (unsigned long)(lo - 0xDC00),
                             out);
        return 12;
    }
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return 0;
    *out_n = utf8_encode((unsigned long)cp, out);
    return 6;
}

/*
 * Decodes from (the original text when from_map is NULL, else a variant)
 * into v. Returns 1 if anything was decoded, 0 if the decoding is the text
 * itself (v left empty), -1 without memory.
 */
static int decode(enum decoding kind, const char *s, size_t n,
                  const variant *from, variant *v)
{
    size_t i = 0, o = 0, k, take, got;
    bool changed = false;
    char out[4];

    memset(v, 0, sizeof(*v));
    v->text = malloc(n + 1);
    v->start = malloc((n + 1) * sizeof(size_t));
    v->end = malloc((n + 1) * sizeof(size_t));
    if (v->text == NULL || v->start == NULL || v->end == NULL) {
        variant_free(v);
        return -1;
    }
    while (i < n) {
        take = escape_at(kind, s, i, n, out, &got);
        if (take == 0) {
            out[0] = s[i];
            got = 1;
            take = 1;
        } else {
            changed = true;
        }
        /* a decoding never grows: got <= take */
        for (k = 0; k < got; k++) {
            v->text[o] = out[k];
            v->start[o] = from != NULL ? from->start[i] : i;
            v->end[o] = from != NULL ? from->end[i + take - 1] : i + take;
            o++;
        }
        i += take;
    }
    v->text[o] = '\0';
    v->len = o;
    if (!changed) {
        variant_free(v);
        return 0;
    }
    return 1;
}

/* ---- the search ---- */

typedef struct range {
    size_t start, end;
} range;

typedef struct search {
    const variant *variants; /* [0] is the text itself */
    size_t variant_count;
    range *ranges;
    size_t n, cap;
    bool failed;
} search;

static void add_range(search *s, size_t start, size_t end)
{
    range *grown;

    if (s->n == s->cap) {
        size_t cap = s->cap == 0 ? 8 : s->cap * 2;

        grown = realloc(s->ranges, cap * sizeof(range));
        if (grown == NULL) {
            s->failed = true;
            return;
        }
        s->ranges = grown;
        s->cap = cap;
    }
    s->ranges[s->n].start = start;
    s->ranges[s->n].end = end;
    s->n++;
}

static void search_value(void *arg, const char *value, size_t len)
{
    search *s = arg;
    size_t i;

    if (len == 0)
        return;
    for (i = 0; i < s->variant_count; i++) {
        const variant *v = &s->variants[i];
        const char *p = v->text, *hit;
        size_t left = v->len;

        while (left >= len && (hit = memmem(p, left, value, len)) != NULL) {
            size_t at = (size_t)(hit - v->text);

            if (v->start == NULL)
                add_range(s, at, at + len);
            else
                add_range(s, v->start[at], v->end[at + len - 1]);
            left -= (size_t)(hit - p) + 1;
            p = hit + 1;
        }
    }
}

static int by_start(const void *a, const void *b)
{
    const range *x = a, *y = b;

    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static bool any_value(const pf_redact_with *with)
{
    return secret_count > 0 ||
           (with != NULL && (with->count > 0 || json_is_object(with->body) ||
                             json_is_array(with->body)));
}

#define VARIANTS_MAX 7

/*
 * JSON escapes decoded in v[from] (when it has any) as one more variant:
 * a JSON text quoted in a JSON string is escaped twice, and a JSON body
 * may come back URL-encoded.
 */
static int add_json(variant v[VARIANTS_MAX], size_t *n, size_t from)
{
    int rc;

    if (memchr(v[from].text, '\\', v[from].len) == NULL)
        return 0;
    rc = decode(JSON_ESC, v[from].text, v[from].len,
                from == 0 ? NULL : &v[from], &v[*n]);
    if (rc > 0)
        (*n)++;
    return rc < 0 ? -1 : 0;
}

/*
 * The decodings worth searching, only when the text has escapes at all:
 * the text, %XX with '+' as a space, %XX alone, JSON escapes of each of
 * them, and JSON escapes twice.
 */
static int make_variants(const char *text, size_t len, variant v[VARIANTS_MAX],
                         size_t *count)
{
    size_t n = 1, i, url_end;
    int rc = 0;

    v[0] = (variant){(char *)text, len, NULL, NULL};
    if (memchr(text, '%', len) != NULL || memchr(text, '+', len) != NULL) {
        rc = decode(URL_PLUS, text, len, NULL, &v[n]);
        n += rc == 1;
        if (rc >= 0 && memchr(text, '+', len) != NULL &&
            memchr(text, '%', len) != NULL) {
            rc = decode(URL, text, len, NULL, &v[n]);
            n += rc == 1;
        }
        if (rc < 0)
            goto fail;
    }
    url_end = n;
    for (i = 0; i < url_end; i++) {
        size_t before = n;

        if (add_json(v, &n, i) != 0)
            goto fail;
        /* twice, for the text itself */
        if (i == 0 && n > before && add_json(v, &n, before) != 0)
            goto fail;
    }
    *count = n;
    return 0;
fail:
    while (n > 1)
        variant_free(&v[--n]);
    return -1;
}

int pf_redact(const char *text, size_t len, const pf_redact_with *with,
              char **out, size_t *out_len)
{
    variant v[VARIANTS_MAX];
    search s = {0};
    size_t i, o = 0, at = 0, count = 0, size;
    char *r;

    *out = NULL;
    if (len == 0 || !any_value(with))
        return 0;
    if (make_variants(text, len, v, &count) != 0)
        return -1;
    s.variants = v;
    s.variant_count = count;
    each_value(with, search_value, &s);
    for (i = 1; i < count; i++)
        variant_free(&v[i]);
    if (s.failed) {
        free(s.ranges);
        return -1;
    }
    if (s.n == 0)
        return 0;
    qsort(s.ranges, s.n, sizeof(range), by_start);
    /* At most one mask per range, and the text between. */
    size = len + s.n * (sizeof(PF_REDACT_MASK) - 1) + 1;
    r = malloc(size);
    if (r == NULL) {
        free(s.ranges);
        return -1;
    }
    i = 0;
    while (i < s.n) {
        size_t start = s.ranges[i].start, end = s.ranges[i].end;

        /* overlapping hits are one stretch; adjacent ones stay two */
        for (i++; i < s.n && s.ranges[i].start < end; i++) {
            if (s.ranges[i].end > end)
                end = s.ranges[i].end;
        }
        memcpy(r + o, text + at, start - at);
        o += start - at;
        memcpy(r + o, PF_REDACT_MASK, sizeof(PF_REDACT_MASK) - 1);
        o += sizeof(PF_REDACT_MASK) - 1;
        at = end;
    }
    memcpy(r + o, text + at, len - at);
    o += len - at;
    r[o] = '\0';
    free(s.ranges);
    *out = r;
    if (out_len != NULL)
        *out_len = o;
    return 1;
}

/* Copies src into buf (size >= 1), cut on a UTF-8 character boundary. */
static size_t copy_cut(char *buf, size_t size, const char *src, size_t len)
{
    if (len > size - 1) {
        len = size - 1;
        /* back off continuation bytes of a character that was cut */
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
            len--;
    }
    memmove(buf, src, len);
    buf[len] = '\0';
    return len;
}

size_t pf_redact_buf(char *buf, size_t size, const pf_redact_with *with)
{
    char *masked;
    size_t len;
    int rc;

    if (size == 0)
        return 0;
    rc = pf_redact(buf, strlen(buf), with, &masked, &len);
    if (rc == 0)
        return strlen(buf);
    if (rc < 0)
        return copy_cut(buf, size, PF_REDACT_MASK, sizeof(PF_REDACT_MASK) - 1);
    len = copy_cut(buf, size, masked, len);
    free(masked);
    return len;
}

size_t pf_redact_controls(char *dst, size_t dst_size, const char *src,
                          size_t len)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, o = 0, n;
    char esc[8];

    while (i < len) {
        unsigned char c = s[i];
        const char *from = src + i;

        n = 1;
        if (c < 0x20 || c == 0x7F) {
            if (c == '\n')
                memcpy(esc, "\\n", n = 2);
            else if (c == '\r')
                memcpy(esc, "\\r", n = 2);
            else if (c == '\t')
                memcpy(esc, "\\t", n = 2);
            else
                n = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", c);
            from = esc;
        } else if (c == 0xC2 && i + 1 < len && s[i + 1] >= 0x80 &&
                   s[i + 1] <= 0x9F) {
            n = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", s[i + 1]);
            from = esc;
            i++; /* two bytes in */
        } else if (c >= 0x80) {
            n = pf_utf8_seq(s + i, len - i);
            if (n == 0)
                n = 1; /* an invalid byte: as it is */
            i += n - 1;
        }
        if (n > dst_size - 1 - o)
            break;
        memcpy(dst + o, from, n);
        o += n;
        i++;
    }
    dst[o] = '\0';
    return o;
}

void pf_redact_line(char *buf, size_t size)
{
    char *copy;
    size_t len;

    if (size == 0)
        return;
    len = pf_redact_buf(buf, size, NULL);
    copy = malloc(len + 1);
    if (copy == NULL) {
        /* no room to escape: blank the control characters instead */
        for (char *c = buf; *c != '\0'; c++) {
            if ((unsigned char)*c < 0x20 || *c == 0x7F)
                *c = ' ';
        }
        return;
    }
    memcpy(copy, buf, len + 1);
    pf_redact_controls(buf, size, copy, len);
    free(copy);
}
