/* jsonw.c - compact JSON text into a growing buffer (jsonw.h). */
#include "provflow/jsonw.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void pf_jsonw_init(pf_jsonw *w, size_t hint)
{
    memset(w, 0, sizeof(*w));
    w->buf = malloc(hint > 16 ? hint : 16);
    if (w->buf == NULL)
        w->failed = true;
    else
        w->cap = hint > 16 ? hint : 16;
}

void pf_jsonw_release(pf_jsonw *w)
{
    free(w->buf);
    memset(w, 0, sizeof(*w));
}

char *pf_jsonw_finish(pf_jsonw *w, size_t *len)
{
    char *s = w->buf;

    if (len != NULL)
        *len = 0;
    if (w->failed) {
        pf_jsonw_release(w);
        return NULL;
    }
    s[w->len] = '\0'; /* room for it is always kept */
    if (len != NULL)
        *len = w->len;
    memset(w, 0, sizeof(*w)); /* the text is the caller's */
    return s;
}

/* Room for n more bytes and the final NUL. */
static bool reserve(pf_jsonw *w, size_t n)
{
    size_t cap;
    char *buf;

    if (w->failed)
        return false;
    if (n < w->cap - w->len)
        return true;
    cap = w->cap;
    while (n >= cap - w->len) {
        if (cap > SIZE_MAX / 2) {
            w->failed = true;
            return false;
        }
        cap *= 2;
    }
    buf = realloc(w->buf, cap);
    if (buf == NULL) {
        w->failed = true;
        return false;
    }
    w->buf = buf;
    w->cap = cap;
    return true;
}

static void put(pf_jsonw *w, const char *s, size_t n)
{
    if (!reserve(w, n))
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void put_char(pf_jsonw *w, char c)
{
    if (reserve(w, 1))
        w->buf[w->len++] = c;
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

static void escaped(pf_jsonw *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i, run = 0;

    put_char(w, '"');
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6] = {'\\', 0, '0', '0', 0, 0};
        size_t n = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(w, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            n = 6;
        }
        put(w, esc, n);
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

void pf_jsonw_int(pf_jsonw *w, int64_t n)
{
    char num[24];
    int k = snprintf(num, sizeof(num), "%" PRId64, n);

    separate(w);
    put(w, num, (size_t)k);
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

char *pf_jsonw_dump(const json_t *v, unsigned flags, size_t *len)
{
    pf_jsonw w;

    pf_jsonw_init(&w, 1024);
    pf_jsonw_value(&w, v, flags);
    return pf_jsonw_finish(&w, len);
}
