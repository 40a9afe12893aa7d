/* trace.c - W3C Trace Context: parse, check, start, format (trace.h). */
#include "provflow/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define OWS " \t"

static bool is_lchex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* n lower-case hex digits at s; "all zero" is reported apart. */
static bool lchex(const char *s, size_t n, bool *all_zero)
{
    size_t i;

    *all_zero = true;
    for (i = 0; i < n; i++) {
        if (!is_lchex(s[i]))
            return false;
        if (s[i] != '0')
            *all_zero = false;
    }
    return true;
}

static int hexval(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

int pf_trace_parse_parent(const char *value, pf_trace *t, char *errstr,
                          size_t errstr_size)
{
    const char *v = value + strspn(value, OWS);
    size_t len = strlen(v);
    bool zero;

    while (len > 0 && strchr(OWS, v[len - 1]) != NULL)
        len--;
    if (len < PF_TRACE_PARENT_LEN || v[2] != '-' || v[35] != '-' ||
        v[52] != '-') {
        snprintf(errstr, errstr_size,
                 "not version-traceid-parentid-flags (%zu characters, "
                 "%d expected)",
                 len, PF_TRACE_PARENT_LEN);
        return -1;
    }
    if (!lchex(v, 2, &zero) || (v[0] == 'f' && v[1] == 'f')) {
        snprintf(errstr, errstr_size,
                 "version is not two lower-case hex digits other than ff");
        return -1;
    }
    /* 00 is exactly 55; a later version may append "-..." fields. */
    if ((zero && len != PF_TRACE_PARENT_LEN) ||
        (!zero && len > PF_TRACE_PARENT_LEN && v[55] != '-')) {
        snprintf(errstr, errstr_size,
                 "version %.2s must be %s %d characters, got %zu", v,
                 zero ? "exactly" : "at least", PF_TRACE_PARENT_LEN, len);
        return -1;
    }
    if (!lchex(v + 3, PF_TRACE_ID_LEN, &zero) || zero) {
        snprintf(errstr, errstr_size,
                 "trace-id is not 32 lower-case hex digits, not all zero");
        return -1;
    }
    if (!lchex(v + 36, PF_TRACE_SPAN_LEN, &zero) || zero) {
        snprintf(errstr, errstr_size,
                 "parent-id is not 16 lower-case hex digits, not all zero");
        return -1;
    }
    if (!lchex(v + 53, 2, &zero)) {
        snprintf(errstr, errstr_size,
                 "trace-flags is not two lower-case hex digits");
        return -1;
    }
    memcpy(t->trace_id, v + 3, PF_TRACE_ID_LEN);
    t->trace_id[PF_TRACE_ID_LEN] = '\0';
    memcpy(t->parent_id, v + 36, PF_TRACE_SPAN_LEN);
    t->parent_id[PF_TRACE_SPAN_LEN] = '\0';
    /* Version 00 defines the sampled bit only: the others go out as 0. */
    t->flags = (uint8_t)((hexval(v[53]) * 16 + hexval(v[54])) & 0x01);
    return 0;
}

static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '*' || c == '/';
}

/*
 * key = simple-key / tenant-id "@" system-id: simple-key is lcalpha and
 * up to 255 more key characters; tenant-id starts with lcalpha or a digit
 * (up to 241 in all), system-id with lcalpha (up to 14).
 */
static bool valid_key(const char *k, size_t n)
{
    const char *at = memchr(k, '@', n);
    size_t i, tenant = at != NULL ? (size_t)(at - k) : n;

    if (n == 0 || !((k[0] >= 'a' && k[0] <= 'z') ||
                    (at != NULL && k[0] >= '0' && k[0] <= '9')))
        return false;
    for (i = 0; i < n; i++) {
        if (i != tenant && !key_char(k[i]))
            return false;
    }
    if (at == NULL)
        return n <= 256;
    return tenant >= 1 && tenant <= 241 && n - tenant - 1 >= 1 &&
           n - tenant - 1 <= 14 && at[1] >= 'a' && at[1] <= 'z';
}

/* value = 0*255(chr) nblk-chr: printable ASCII but ',' and '=', not
 * ending in a space. */
static bool valid_value(const char *v, size_t n)
{
    size_t i;

    if (n == 0 || n > 256 || v[n - 1] == ' ')
        return false;
    for (i = 0; i < n; i++) {
        if (v[i] < 0x20 || v[i] > 0x7e || v[i] == ',' || v[i] == '=')
            return false;
    }
    return true;
}

int pf_trace_check_state(const char *value, char *errstr, size_t errstr_size)
{
    const char *keys[PF_TRACE_STATE_MEMBERS_MAX];
    size_t klen[PF_TRACE_STATE_MEMBERS_MAX];
    size_t len = strlen(value), members = 0, i;
    const char *p = value;

    if (len > PF_TRACE_STATE_MAX) {
        snprintf(errstr, errstr_size,
                 "%zu characters, more than the %d passed on", len,
                 PF_TRACE_STATE_MAX);
        return -1;
    }
    for (;;) {
        const char *end = strchr(p, ','), *eq;
        size_t n;

        if (end == NULL)
            end = p + strlen(p);
        p += strspn(p, OWS);
        n = (size_t)(end - p);
        while (n > 0 && strchr(OWS, p[n - 1]) != NULL)
            n--;
        if (n > 0) { /* an empty member is allowed, and not counted */
            eq = memchr(p, '=', n);
            if (eq == NULL || !valid_key(p, (size_t)(eq - p)) ||
                !valid_value(eq + 1, n - (size_t)(eq - p) - 1)) {
                snprintf(errstr, errstr_size,
                         "member %zu is not key=value as the specification "
                         "writes them",
                         members + 1);
                return -1;
            }
            if (members == PF_TRACE_STATE_MEMBERS_MAX) {
                snprintf(errstr, errstr_size, "more than %d members",
                         PF_TRACE_STATE_MEMBERS_MAX);
                return -1;
            }
            for (i = 0; i < members; i++) {
                if (klen[i] == (size_t)(eq - p) &&
                    memcmp(keys[i], p, klen[i]) == 0) {
                    snprintf(errstr, errstr_size, "key %.*s given twice",
                             (int)(klen[i] > 64 ? 64 : klen[i]), p);
                    return -1;
                }
            }
            keys[members] = p;
            klen[members++] = (size_t)(eq - p);
        }
        if (*end == '\0')
            break;
        p = end + 1;
    }
    return 0;
}

/*
 * Random bytes for ids, drawn from the kernel a pool at a time: an event
 * needs three ids (trace, parent, span), and arc4random_buf() makes a
 * getrandom() system call for each in glibc 2.36, 3 of the ~13 system
 * calls an event cost. The bytes are the kernel's all the same; ids are
 * not secrets (they travel in the clear), so holding some in memory
 * gives nothing away. One pool per thread: no lock, safe from any
 * thread; provflow never forks, so no two processes share a pool.
 */
#define RANDOM_POOL 1024

static void random_bytes(unsigned char *out, size_t n)
{
    static _Thread_local unsigned char pool[RANDOM_POOL];
    static _Thread_local size_t left;

    if (n > left) {
        if (getrandom(pool, sizeof(pool), 0) != (ssize_t)sizeof(pool)) {
            /* Never for 1 KB after boot; arc4random_buf() cannot fail. */
            arc4random_buf(out, n);
            return;
        }
        left = sizeof(pool);
    }
    memcpy(out, pool + sizeof(pool) - left, n);
    left -= n;
}

static void random_hex(char *out, size_t digits)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char bytes[PF_TRACE_ID_LEN / 2];
    size_t i;

    do {
        random_bytes(bytes, digits / 2);
        for (i = 0; i < digits / 2 && bytes[i] == 0; i++)
            ;
    } while (i == digits / 2); /* all zero is invalid: draw again */
    for (i = 0; i < digits / 2; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 0x0f];
    }
    out[digits] = '\0';
}

void pf_trace_start(pf_trace *t)
{
    memset(t, 0, sizeof(*t));
    random_hex(t->trace_id, PF_TRACE_ID_LEN);
    random_hex(t->parent_id, PF_TRACE_SPAN_LEN);
    t->started = true;
}

void pf_trace_span_id(char out[PF_TRACE_SPAN_LEN + 1])
{
    random_hex(out, PF_TRACE_SPAN_LEN);
}

int pf_trace_from(const char *traceparent, const char *tracestate, pf_trace *t,
                  char *errstr, size_t errstr_size)
{
    char why[160];

    memset(t, 0, sizeof(*t));
    if (errstr_size > 0)
        errstr[0] = '\0';
    if (traceparent == NULL) {
        pf_trace_start(t);
        return 1;
    }
    if (pf_trace_parse_parent(traceparent, t, why, sizeof(why)) != 0) {
        snprintf(errstr, errstr_size, "traceparent: %s", why);
        pf_trace_start(t);
        return 1;
    }
    if (tracestate == NULL)
        return 0;
    if (pf_trace_check_state(tracestate, why, sizeof(why)) != 0) {
        snprintf(errstr, errstr_size, "tracestate dropped: %s", why);
        return 0;
    }
    if (tracestate[strspn(tracestate, OWS ",")] == '\0')
        return 0; /* nothing in it worth sending */
    t->tracestate = strdup(tracestate);
    if (t->tracestate == NULL)
        snprintf(errstr, errstr_size, "tracestate dropped: out of memory");
    return 0;
}

void pf_trace_format(const pf_trace *t, const char *span,
                     char out[PF_TRACE_PARENT_LEN + 1])
{
    /* As snprintf("00-%s-%s-%02x") would, without it: twice per record. */
    static const char hex[] = "0123456789abcdef";
    const char *parent = span != NULL ? span : t->parent_id;
    size_t lt = strnlen(t->trace_id, PF_TRACE_ID_LEN);
    size_t lp = strnlen(parent, PF_TRACE_SPAN_LEN);
    char *o = out;

    memcpy(o, "00-", 3);
    o += 3;
    memcpy(o, t->trace_id, lt);
    o += lt;
    *o++ = '-';
    memcpy(o, parent, lp);
    o += lp;
    *o++ = '-';
    *o++ = hex[(t->flags >> 4) & 15];
    *o++ = hex[t->flags & 15];
    *o = '\0';
}

int pf_trace_copy(pf_trace *dst, const pf_trace *src)
{
    *dst = *src;
    dst->tracestate = NULL;
    if (src->tracestate == NULL)
        return 0;
    dst->tracestate = strdup(src->tracestate);
    return dst->tracestate != NULL ? 0 : -1;
}

void pf_trace_release(pf_trace *t)
{
    free(t->tracestate);
    memset(t, 0, sizeof(*t));
}
