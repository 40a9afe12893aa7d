/* error.c - bounded errors and JSON paths (error.h). */
#include "provflow/error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ---- well-formed text ---- */

#define ELLIPSIS     "..."
#define ELLIPSIS_LEN 3

/* What the bytes at s (n of them, n >= 1) start with. */
enum { SEQ_INVALID = 0, SEQ_INCOMPLETE = -1 };

/*
 * The length of the UTF-8 sequence at s if it is well-formed (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF); SEQ_INCOMPLETE if
 * the n bytes are a correct start of one that does not end within them;
 * SEQ_INVALID otherwise.
 */
static int utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len, i;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        len = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        len = 4;
    else
        return SEQ_INVALID;
    if (s[0] == 0xE0)
        lo = 0xA0; /* overlong */
    else if (s[0] == 0xED)
        hi = 0x9F; /* surrogates */
    else if (s[0] == 0xF0)
        lo = 0x90; /* overlong */
    else if (s[0] == 0xF4)
        hi = 0x8F; /* above U+10FFFF */
    for (i = 1; i < len; i++) {
        if (i == n)
            return SEQ_INCOMPLETE;
        if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xBF))
            return SEQ_INVALID;
    }
    return (int)len;
}

/*
 * The output for the character at s (n bytes left, n >= 1): written to
 * unit (>= 7 bytes), its length in *unit_len; returns the bytes of s it
 * stands for, or 0 for an incomplete sequence at the end of s.
 */
static size_t text_unit(const unsigned char *s, size_t n, char *unit,
                        size_t *unit_len)
{
    int len = utf8_seq(s, n);
    unsigned cp;

    if (len == SEQ_INCOMPLETE)
        return 0;
    if (len == SEQ_INVALID) {
        memcpy(unit, "\xEF\xBF\xBD", 3); /* U+FFFD, for the one byte */
        *unit_len = 3;
        return 1;
    }
    cp = len == 1   ? s[0]
         : len == 2 ? ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu)
                    : 0x100; /* not a control character */
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
        /* C0, DEL and C1: terminal controls, shown as JSON writes them */
        if (cp == '\n')
            memcpy(unit, "\\n", 3);
        else if (cp == '\r')
            memcpy(unit, "\\r", 3);
        else if (cp == '\t')
            memcpy(unit, "\\t", 3);
        else
            snprintf(unit, 7, "\\u%04x", cp);
        *unit_len = strlen(unit);
        return (size_t)len;
    }
    memcpy(unit, s, (size_t)len);
    *unit_len = (size_t)len;
    return (size_t)len;
}

/*
 * Writes the n bytes of src into dst (size >= 1) as well-formed, printable
 * UTF-8 (text_unit()), cut at a character boundary with "..." when it does
 * not fit, or when cut says src itself was cut (then an incomplete
 * sequence at its end is dropped, not replaced). Returns the length.
 */
static size_t text_copy(char *dst, size_t size, const char *src, size_t n,
                        bool cut)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t cap = size - 1, out = 0, keep = 0, i = 0;

    while (i < n) {
        char unit[8];
        size_t unit_len = 0, used = text_unit(s + i, n - i, unit, &unit_len);

        if (used == 0) {
            /* An incomplete sequence at the end: a cut one, or garbage. */
            if (cut)
                break;
            memcpy(unit, "\xEF\xBF\xBD", 3);
            unit_len = 3;
            used = n - i;
        }
        if (out + unit_len > cap) {
            cut = true;
            break;
        }
        memcpy(dst + out, unit, unit_len);
        out += unit_len;
        i += used;
        if (out + ELLIPSIS_LEN <= cap)
            keep = out;
    }
    if (cut && cap >= ELLIPSIS_LEN) {
        if (out + ELLIPSIS_LEN > cap)
            out = keep;
        memcpy(dst + out, ELLIPSIS, ELLIPSIS_LEN);
        out += ELLIPSIS_LEN;
    }
    dst[out] = '\0';
    return out;
}

const char *pf_error_excerpt(char *dst, size_t size, const char *text)
{
    if (size == 0)
        return "";
    text = text != NULL ? text : "";
    text_copy(dst, size, text, strlen(text), false);
    return dst;
}

/* ---- errors ---- */

void pf_error_clear(pf_error *err)
{
    if (err == NULL)
        return;
    err->code[0] = '\0';
    err->path[0] = '\0';
    err->message[0] = '\0';
}

int pf_error_vset(pf_error *err, const char *code, const char *path,
                  const char *fmt, va_list ap)
{
    /*
     * Formatted here first: the arguments may point into err itself, and
     * text_copy() needs the whole text to know where to cut. Twice the
     * message: enough to cut at a character with "..." in every case that
     * fits a message at all.
     */
    char text[2 * PF_ERROR_MESSAGE_MAX], where[PF_PATH_MAX];
    int n;

    if (err == NULL)
        return -1;
    n = vsnprintf(text, sizeof(text), fmt, ap);
    if (n < 0) {
        text[0] = '\0';
        n = 0;
    }
    path = path != NULL ? path : "";
    text_copy(where, sizeof(where), path, strlen(path), false);
    code = code != NULL ? code : "";
    text_copy(err->code, sizeof(err->code), code, strlen(code), false);
    memcpy(err->path, where, sizeof(where));
    text_copy(err->message, sizeof(err->message), text,
              (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1,
              (size_t)n >= sizeof(text));
    return -1;
}

int pf_error_set(pf_error *err, const char *code, const char *path,
                 const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    pf_error_vset(err, code, path, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- JSON paths ---- */

/*
 * The path's own text is at most PATH_TEXT_MAX bytes, so that "..." always
 * fits after it. A mark from a push is the length to go back to, plus
 * PF_PATH_MAX if the path was cut then: popping restores both.
 */
#define PATH_TEXT_MAX (PF_PATH_MAX - ELLIPSIS_LEN - 1)

void pf_path_init(pf_path *p)
{
    p->buf[0] = '\0';
    p->len = 0;
    p->cut = false;
}

/* The most bytes of s, at most max, that end at a UTF-8 character. */
static size_t utf8_fit(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/*
 * Appends text; what does not fit is dropped at a character boundary and
 * the path ends in "..." until popped back to before this push. A memcpy,
 * not a printf: the transform pushes every property it visits.
 */
static void path_append(pf_path *p, const char *text, size_t n)
{
    size_t fit;

    if (p->cut)
        return;
    fit = utf8_fit(text, n, PATH_TEXT_MAX - p->len);
    memcpy(p->buf + p->len, text, fit);
    p->len += fit;
    p->buf[p->len] = '\0';
    if (fit < n) {
        p->cut = true;
        memcpy(p->buf + p->len, ELLIPSIS, ELLIPSIS_LEN + 1);
    }
}

static size_t path_mark(const pf_path *p)
{
    return p->len + (p->cut ? PF_PATH_MAX : 0);
}

size_t pf_path_push_key(pf_path *p, const char *name)
{
    size_t mark = path_mark(p);

    if (p->len > 0)
        path_append(p, ".", 1);
    path_append(p, name, strlen(name));
    return mark;
}

size_t pf_path_push_index(pf_path *p, size_t index)
{
    size_t mark = path_mark(p);
    char seg[32];
    char *at = seg + sizeof(seg);

    /* "[index]", written from the end: no printf per array element of
     * every event (3 per record on the usual path). */
    *--at = ']';
    do {
        *--at = (char)('0' + index % 10);
        index /= 10;
    } while (index != 0);
    *--at = '[';
    path_append(p, at, (size_t)(seg + sizeof(seg) - at));
    return mark;
}

void pf_path_pop(pf_path *p, size_t mark)
{
    bool cut = mark >= PF_PATH_MAX;
    size_t len = cut ? mark - PF_PATH_MAX : mark;

    if (len > p->len)
        return; /* not a mark of this path */
    p->len = len;
    p->cut = cut;
    p->buf[len] = '\0';
    if (cut)
        memcpy(p->buf + len, ELLIPSIS, ELLIPSIS_LEN + 1);
}

const char *pf_path_str(const pf_path *p)
{
    return p->len > 0 || p->cut ? p->buf : "$";
}
