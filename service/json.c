/* json.c - compact JSON text into a growing buffer (json.h). */
#include "provflow/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void pf_jsonw_init(pf_jsonw *w, size_t hint)
{
    pf_buf_init(w, hint > 16 ? hint : 16, false);
}

void pf_jsonw_release(pf_jsonw *w)
{
    pf_buf_release(w);
}

char *pf_jsonw_finish(pf_jsonw *w, size_t *len)
{
    return pf_buf_take(w, len);
}

static void put(pf_jsonw *w, const char *s, size_t n)
{
    pf_buf_add(w, s, n);
}

static void put_char(pf_jsonw *w, char c)
{
    pf_buf_addc(w, c);
}

/* A comma unless this is the first member or element. */
static void separate(pf_jsonw *w)
{
    if (w->len > 0 && w->buf[w->len - 1] != '{' && w->buf[w->len - 1] != '[' &&
        w->buf[w->len - 1] != ':')
        put_char(w, ',');
}

void pf_jsonw_open(pf_jsonw *w, char bracket)
{
    separate(w);
    put_char(w, bracket);
}

void pf_jsonw_close(pf_jsonw *w, char bracket)
{
    put_char(w, bracket);
}

/* The characters with a short escape, and the letter of each (RFC 8259). */
static const char short_escapes[] = "\"\\\b\f\n\r\t";
static const char short_letters[] = "\"\\bfnrt";

/*
 * The index (0..7) of the first of the 8 bytes at p that is a control
 * byte, '"' or '\\' (or, with high, has its high bit set); 8 when none
 * is: a word at a time, so that the writer and the reader pass over plain
 * text quickly (the profile showed their byte loops), and go straight to
 * the byte that ends a run. The tests are exact for the first byte that
 * matches (the borrow of a subtraction only runs on from a byte that
 * matches, towards the later bytes). Always inlined: as a call it cost
 * more than the test itself (the profile).
 */
__attribute__((always_inline)) static inline unsigned special8_at(const void *p,
                                                                  bool high)
{
    const uint64_t ones = 0x0101010101010101ULL;
    const uint64_t highs = 0x8080808080808080ULL;
    uint64_t x, q, b, m;

    memcpy(&x, p, 8);
    q = x ^ (ones * '"');
    b = x ^ (ones * '\\');
    m = (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b) |
         (high ? x : 0)) &
        highs;
    if (m == 0)
        return 8;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return (unsigned)__builtin_clzll(m) / 8;
#else
    return (unsigned)__builtin_ctzll(m) / 8;
#endif
}

static void escaped_slow(pf_jsonw *w, const char *s, size_t len);

/*
 * s quoted, escaped as jansson does. Most text (every member name, most
 * values) needs no escape at all: it is then written in one reservation,
 * not token by token (the profile showed the writer's per-call cost).
 */
static void escaped(pf_jsonw *w, const char *s, size_t len)
{
    size_t i = 0;
    char *o;

    while (len - i >= 8 && special8_at(s + i, false) == 8)
        i += 8;
    while (i < len && (unsigned char)s[i] >= 0x20 && s[i] != '"' &&
           s[i] != '\\')
        i++;
    if (i < len) {
        escaped_slow(w, s, len);
        return;
    }
    if (!pf_buf_reserve(w, len + 2))
        return;
    o = w->buf + w->len;
    o[0] = '"';
    memcpy(o + 1, s, len);
    o[len + 1] = '"';
    o[len + 2] = '\0';
    w->len += len + 2;
}

static void escaped_slow(pf_jsonw *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i, run = 0;

    put_char(w, '"');
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *short_one;
        char esc[6];

        while (len - i >= 8 && special8_at(s + i, false) == 8)
            i += 8; /* eight plain bytes at once */
        if (i == len)
            break;
        c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(w, s + run, i - run);
        run = i + 1;
        short_one = c != 0 ? strchr(short_escapes, c) : NULL;
        if (short_one != NULL) {
            esc[0] = '\\';
            esc[1] = short_letters[short_one - short_escapes];
            put(w, esc, 2);
        } else {
            /* \u00XX, upper case as jansson writes it */
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            put(w, esc, 6);
        }
    }
    put(w, s + run, len - run);
    put_char(w, '"');
}

void pf_jsonw_key(pf_jsonw *w, const char *name)
{
    separate(w);
    escaped(w, name, strlen(name));
    put_char(w, ':');
}

void pf_jsonw_string(pf_jsonw *w, const char *s, size_t len)
{
    separate(w);
    escaped(w, s, len);
}

void pf_jsonw_cstr(pf_jsonw *w, const char *s)
{
    if (s == NULL)
        pf_jsonw_null(w);
    else
        pf_jsonw_string(w, s, strlen(s));
}

/*
 * The digits of n, as "%" PRId64 writes them, without printf's machinery
 * (a few of these go into every outcome: the profile showed snprintf).
 */
void pf_jsonw_int(pf_jsonw *w, int64_t n)
{
    char num[24], *end = num + sizeof(num), *s = end;
    /* Negated as unsigned: INT64_MIN has no positive int64_t. */
    uint64_t u = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;

    do {
        *--s = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (n < 0)
        *--s = '-';
    separate(w);
    put(w, s, (size_t)(end - s));
}

void pf_jsonw_null(pf_jsonw *w)
{
    separate(w);
    put(w, "null", 4);
}

/* As jansson's jsonp_dtostr(): "%.17g", ".0" when it would read as an
 * integer, no '+' or leading zeros in the exponent. */
static void real(pf_jsonw *w, double d)
{
    char num[40], *e, *digits;
    int k = snprintf(num, sizeof(num) - 2, "%.17g", d);

    if (k < 0 || (size_t)k >= sizeof(num) - 2) {
        w->failed = true;
        return;
    }
    if (strchr(num, '.') == NULL && strchr(num, 'e') == NULL) {
        memcpy(num + k, ".0", 3);
        k += 2;
    }
    e = strchr(num, 'e');
    if (e != NULL) {
        char *start = e + 1;

        if (*start == '-')
            start++;
        digits = start;
        while (*digits == '+' || *digits == '0')
            digits++;
        memmove(start, digits, strlen(digits) + 1);
        k = (int)strlen(num);
    }
    separate(w);
    put(w, num, (size_t)k);
}

void pf_jsonw_value(pf_jsonw *w, const json_t *v, unsigned flags)
{
    const json_t *child;
    const char *key;
    size_t i;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        pf_jsonw_open(w, '{');
        /* The iterators do not modify; jansson's API just takes json_t *. */
        json_object_foreach((json_t *)v, key, child)
        {
            pf_jsonw_key(w, key);
            if ((flags & PF_JSONW_MASK_SECRETS) &&
                strcasecmp(key, "password") == 0)
                escaped(w, "***", 3);
            else
                pf_jsonw_value(w, child, flags);
        }
        pf_jsonw_close(w, '}');
        break;
    case JSON_ARRAY:
        pf_jsonw_open(w, '[');
        json_array_foreach(v, i, child) pf_jsonw_value(w, child, flags);
        pf_jsonw_close(w, ']');
        break;
    case JSON_STRING:
        pf_jsonw_string(w, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        pf_jsonw_int(w, (int64_t)json_integer_value(v));
        break;
    case JSON_REAL:
        real(w, json_real_value(v));
        break;
    case JSON_TRUE:
        separate(w);
        put(w, "true", 4);
        break;
    case JSON_FALSE:
        separate(w);
        put(w, "false", 5);
        break;
    case JSON_NULL:
        pf_jsonw_null(w);
        break;
    }
}

void pf_jsonw_raw(pf_jsonw *w, const char *json, size_t len)
{
    separate(w);
    put(w, json, len);
}

size_t pf_utf8_seq(const unsigned char *p, size_t n)
{
    uint32_t cp;
    size_t len, i;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10ffff))
        return 0;
    return len;
}

/* pf_jsonw_text(): a cursor over the text, and where the copy goes. */
typedef struct scan {
    const unsigned char *p, *end;
    pf_jsonw *w;
    unsigned flags;
    char *id;
    size_t id_size;
} scan;

static void skip_space(scan *s)
{
    while (s->p < s->end &&
           (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* The four hex digits at p (which has them), or -1. */
static long hex4(const unsigned char *p)
{
    long v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        int c = p[i];

        if (c >= '0' && c <= '9')
            v = v * 16 + (c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            v = v * 16 + ((c | 0x20) - 'a' + 10);
        else
            return -1;
    }
    return v;
}

/*
 * The string token at s->p (on its '"'): checked and skipped; *escapes
 * says whether it has any. -1 when it is not one this copy accepts.
 */
static int scan_string(scan *s, bool *escapes)
{
    const unsigned char *p = s->p + 1;
    size_t n;
    long v;

    *escapes = false;
    while (p < s->end) {
        if (s->end - p >= 8) {
            unsigned at = special8_at(p, true);

            p += at; /* plain ASCII bytes, eight at once */
            if (at == 8)
                continue;
        }
        if (*p == '"')
            break;
        if (*p < 0x20)
            return -1;
        if (*p != '\\') {
            n = *p < 0x80 ? 1 : pf_utf8_seq(p, (size_t)(s->end - p));
            if (n == 0)
                return -1;
            p += n;
            continue;
        }
        *escapes = true;
        if (s->end - p < 2)
            return -1;
        if (p[1] != 'u') {
            if (strchr("\"\\/bfnrt", p[1]) == NULL || p[1] == '\0')
                return -1;
            p += 2;
            continue;
        }
        if (s->end - p < 6 || (v = hex4(p + 2)) <= 0)
            return -1; /* also \u0000, which jansson refuses by default */
        p += 6;
        if (v >= 0xdc00 && v <= 0xdfff)
            return -1; /* a lone low surrogate */
        if (v >= 0xd800 && v <= 0xdbff) {
            if (s->end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
                (v = hex4(p + 2)) < 0xdc00 || v > 0xdfff)
                return -1;
            p += 6;
        }
    }
    if (p >= s->end)
        return -1;
    s->p = p + 1;
    return 0;
}

static size_t digits(scan *s)
{
    const unsigned char *from = s->p;

    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return (size_t)(s->p - from);
}

/* A number: refused beyond 15 integer or 2 exponent digits, so that
 * jansson reads every one it is given (as a long long or a finite
 * double). */
static int scan_number(scan *s)
{
    size_t n;

    if (s->p < s->end && *s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0') {
        s->p++;
    } else {
        n = digits(s);
        if (n == 0 || n > 15)
            return -1;
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (digits(s) == 0)
            return -1;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        n = digits(s);
        if (n == 0 || n > 2)
            return -1;
    }
    return 0;
}

static int scan_literal(scan *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return -1;
    s->p += n;
    return 0;
}

static int scan_value(scan *s, int depth, bool emit, bool top_id);

/* At a container's opening bracket: steps in; true when it closes at once
 * (the closing bracket is then passed too). */
static bool enter_empty(scan *s, char close)
{
    s->p++;
    skip_space(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return true;
    }
    return false;
}

/* After a member or element: 1 past a ',' (another follows), 0 past the
 * closing bracket, -1 at anything else. */
static int next_or_close(scan *s, char close)
{
    skip_space(s);
    if (s->p < s->end && *s->p == ',') {
        s->p++;
        skip_space(s);
        return 1;
    }
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    return -1;
}

/*
 * A member's name and its ':': the name's token (quotes included, *len
 * bytes), with s->p then at the value. NULL when there is none, or when it
 * has an escape (an escaped name could hide "password"; jansson reads it).
 */
static const unsigned char *member_name(scan *s, size_t *len)
{
    const unsigned char *name = s->p;
    bool escapes;

    if (s->p >= s->end || *s->p != '"' || scan_string(s, &escapes) != 0 ||
        escapes)
        return NULL;
    *len = (size_t)(s->p - name);
    skip_space(s);
    if (s->p >= s->end || *s->p != ':')
        return NULL;
    s->p++;
    skip_space(s);
    return name;
}

/* An object at s->p ('{'); at depth 1 its "id" is noted. */
static int scan_object(scan *s, int depth, bool emit)
{
    const unsigned char *key;
    bool mask, top_id;
    size_t len;
    int more;

    if (emit)
        pf_jsonw_open(s->w, '{');
    if (enter_empty(s, '}'))
        goto close;
    do {
        key = member_name(s, &len);
        if (key == NULL)
            return -1;
        mask = (s->flags & PF_JSONW_MASK_SECRETS) && len == 10 &&
               strncasecmp((const char *)key + 1, "password", 8) == 0;
        top_id = depth == 1 && s->id != NULL && len == 4 &&
                 memcmp(key, "\"id\"", 4) == 0;
        if (top_id)
            s->id[0] = '\0'; /* the last "id" is the one jansson keeps */
        if (emit) {
            separate(s->w);
            put(s->w, (const char *)key, len);
            put_char(s->w, ':');
            if (mask)
                put(s->w, "\"***\"", 5);
        }
        if (scan_value(s, depth, emit && !mask, top_id) != 0)
            return -1;
    } while ((more = next_or_close(s, '}')) == 1);
    if (more < 0)
        return -1;
close:
    if (emit)
        pf_jsonw_close(s->w, '}');
    return 0;
}

static int scan_array(scan *s, int depth, bool emit)
{
    int more;

    if (emit)
        pf_jsonw_open(s->w, '[');
    if (!enter_empty(s, ']')) {
        do {
            if (scan_value(s, depth, emit, false) != 0)
                return -1;
        } while ((more = next_or_close(s, ']')) == 1);
        if (more < 0)
            return -1;
    }
    if (emit)
        pf_jsonw_close(s->w, ']');
    return 0;
}

/* One value at s->p; written when emit; a string noted as the id when
 * top_id. */
static int scan_value(scan *s, int depth, bool emit, bool top_id)
{
    const unsigned char *from = s->p;
    bool escapes;
    size_t n;
    int rc;

    if (s->p >= s->end)
        return -1;
    switch (*s->p) {
    case '{':
    case '[':
        if (depth >= PF_JSONW_TEXT_DEPTH)
            return -1;
        return *s->p == '{' ? scan_object(s, depth + 1, emit)
                            : scan_array(s, depth + 1, emit);
    case '"':
        rc = scan_string(s, &escapes);
        n = (size_t)(s->p - from);
        if (rc == 0 && top_id) {
            if (escapes || n - 2 >= s->id_size)
                return -1;
            memcpy(s->id, from + 1, n - 2);
            s->id[n - 2] = '\0';
        }
        break;
    case 't':
        rc = scan_literal(s, "true", 4);
        break;
    case 'f':
        rc = scan_literal(s, "false", 5);
        break;
    case 'n':
        rc = scan_literal(s, "null", 4);
        break;
    default:
        rc = scan_number(s);
    }
    if (rc == 0 && emit)
        pf_jsonw_raw(s->w, (const char *)from, (size_t)(s->p - from));
    return rc;
}

int pf_jsonw_text(pf_jsonw *w, const char *text, size_t len, unsigned flags,
                  char *id, size_t id_size)
{
    scan s = {(const unsigned char *)text,
              (const unsigned char *)text + len,
              w,
              flags,
              id,
              id_size};
    size_t mark = w->len;

    if (id != NULL) {
        if (id_size == 0)
            return -1;
        id[0] = '\0';
    }
    skip_space(&s);
    if (s.p < s.end && *s.p == '{' && scan_value(&s, 0, true, false) == 0) {
        skip_space(&s);
        if (s.p == s.end)
            return 0;
    }
    w->len = mark; /* as it was; a failed writer stays failed */
    if (w->buf != NULL)
        w->buf[w->len] = '\0';
    if (id != NULL)
        id[0] = '\0';
    return -1;
}

/* pf_json_parse(): the tree of the value at s->p, or NULL when the fast
 * path declines it (jansson then decides). */
static json_t *build_value(scan *s, int depth, bool unique);

static json_t *build_object(scan *s, int depth, bool unique)
{
    json_t *obj = json_object(), *v;
    const unsigned char *key;
    size_t len;
    int more;

    if (obj == NULL || enter_empty(s, '}'))
        return obj;
    do {
        /* The name without its quotes; a duplicate: jansson words it. */
        key = member_name(s, &len);
        if (key == NULL ||
            (unique &&
             json_object_getn(obj, (const char *)key + 1, len - 2) != NULL))
            goto fail;
        v = build_value(s, depth, unique);
        /* Steals v, also on failure; the name is valid UTF-8 (scanned). */
        if (v == NULL || json_object_setn_new_nocheck(
                             obj, (const char *)key + 1, len - 2, v) != 0)
            goto fail;
    } while ((more = next_or_close(s, '}')) == 1);
    if (more == 0)
        return obj;
fail:
    json_decref(obj);
    return NULL;
}

static json_t *build_array(scan *s, int depth, bool unique)
{
    json_t *arr = json_array(), *v;
    int more;

    if (arr == NULL || enter_empty(s, ']'))
        return arr;
    do {
        v = build_value(s, depth, unique);
        /* append_new steals v, also on failure */
        if (v == NULL || json_array_append_new(arr, v) != 0)
            goto fail;
    } while ((more = next_or_close(s, ']')) == 1);
    if (more == 0)
        return arr;
fail:
    json_decref(arr);
    return NULL;
}

static json_t *build_value(scan *s, int depth, bool unique)
{
    const unsigned char *from = s->p;
    char num[64];
    bool escapes;
    size_t n;

    if (s->p >= s->end)
        return NULL;
    switch (*s->p) {
    case '{':
    case '[':
        if (depth >= PF_JSONW_TEXT_DEPTH)
            return NULL;
        return *s->p == '{' ? build_object(s, depth + 1, unique)
                            : build_array(s, depth + 1, unique);
    case '"':
        if (scan_string(s, &escapes) != 0 || escapes)
            return NULL;
        /* Scanned: valid UTF-8 without NUL. */
        return json_stringn_nocheck((const char *)from + 1,
                                    (size_t)(s->p - from) - 2);
    case 't':
        return scan_literal(s, "true", 4) == 0 ? json_true() : NULL;
    case 'f':
        return scan_literal(s, "false", 5) == 0 ? json_false() : NULL;
    case 'n':
        return scan_literal(s, "null", 4) == 0 ? json_null() : NULL;
    }
    if (scan_number(s) != 0)
        return NULL;
    n = (size_t)(s->p - from);
    if (n >= sizeof(num))
        return NULL;
    memcpy(num, from, n);
    num[n] = '\0';
    if (strpbrk(num, ".eE") == NULL)
        return json_integer(strtoll(num, NULL, 10)); /* <= 15 digits */
    return json_real(strtod(num, NULL)); /* <= 2 exponent digits: finite */
}

json_t *pf_json_parse(const char *text, size_t len, size_t flags,
                      json_error_t *err)
{
    scan s = {(const unsigned char *)text,
              (const unsigned char *)text + len,
              NULL,
              0,
              NULL,
              0};
    json_t *v = NULL;

    if ((flags & ~(size_t)JSON_REJECT_DUPLICATES) != 0)
        return json_loadb(text, len, flags, err);
    skip_space(&s);
    if (s.p < s.end && (*s.p == '{' || *s.p == '['))
        v = build_value(&s, 0, (flags & JSON_REJECT_DUPLICATES) != 0);
    if (v != NULL) {
        skip_space(&s);
        if (s.p == s.end)
            return v;
        json_decref(v);
    }
    return json_loadb(text, len, flags, err);
}

char *pf_jsonw_dump(const json_t *v, unsigned flags, size_t *len)
{
    pf_jsonw w;

    pf_jsonw_init(&w, 1024);
    pf_jsonw_value(&w, v, flags);
    return pf_jsonw_finish(&w, len);
}
