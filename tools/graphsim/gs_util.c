/* gs_util.c - see gs_util.h. */
#include "gs_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

void gs_buf_init(struct gs_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void gs_buf_release(struct gs_buf *b)
{
    free(b->data);
    gs_buf_init(b);
}

static bool buf_grow(struct gs_buf *b, size_t extra)
{
    size_t want, cap;
    char *p;

    if (b->oom)
        return false;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->oom = true;
        return false;
    }
    want = b->len + extra + 1;
    if (want <= b->cap)
        return true;
    cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void gs_buf_reserve(struct gs_buf *b, size_t n)
{
    size_t want, cap;
    char *p;

    if (b->oom || n > SIZE_MAX / 2 - b->len)
        return;
    want = b->len + n + 1;
    if (want <= b->cap)
        return;
    cap = b->cap > want ? b->cap : want;
    p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return;
    }
    if (!b->data)
        p[0] = '\0';
    b->data = p;
    b->cap = cap;
}

void gs_buf_add(struct gs_buf *b, const void *p, size_t n)
{
    if (!buf_grow(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void gs_buf_adds(struct gs_buf *b, const char *s)
{
    gs_buf_add(b, s, strlen(s));
}

void gs_buf_addf(struct gs_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_grow(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void gs_buf_add_json_str(struct gs_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *run = p;
    char esc[6];

    gs_buf_add(b, "\"", 1);
    for (; *p; p++) {
        if (*p >= 0x20 && *p != '"' && *p != '\\')
            continue;
        gs_buf_add(b, run, (size_t)(p - run));
        run = p + 1;
        esc[0] = '\\';
        switch (*p) {
        case '"':
            gs_buf_add(b, "\\\"", 2);
            break;
        case '\\':
            gs_buf_add(b, "\\\\", 2);
            break;
        case '\n':
            gs_buf_add(b, "\\n", 2);
            break;
        case '\r':
            gs_buf_add(b, "\\r", 2);
            break;
        case '\t':
            gs_buf_add(b, "\\t", 2);
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
            gs_buf_add(b, esc, 6);
        }
    }
    gs_buf_add(b, run, (size_t)(p - run));
    gs_buf_add(b, "\"", 1);
}

static int dump_to_buf(const char *p, size_t n, void *arg)
{
    struct gs_buf *b = arg;

    gs_buf_add(b, p, n);
    return b->oom ? -1 : 0;
}

void gs_buf_add_json(struct gs_buf *b, const json_t *v)
{
    /* Written straight into the buffer: json_dumps() would allocate the
     * text with jansson's allocator, which is not malloc here (gs_jsonmem.h).
     */
    if (json_dump_callback(v, dump_to_buf, b, JSON_COMPACT | JSON_ENCODE_ANY))
        b->oom = true;
}

char *gs_buf_detach(struct gs_buf *b, size_t *len)
{
    char *p;

    if (b->oom) {
        gs_buf_release(b);
        return NULL;
    }
    if (!b->data && !buf_grow(b, 0))
        return NULL;
    if (b->len == 0)
        b->data[0] = '\0';
    p = b->data;
    if (len)
        *len = b->len;
    gs_buf_init(b);
    return p;
}

/* Separate chaining; the table doubles past a load factor of 1. */
struct map_entry {
    struct map_entry *next;
    uint64_t hash;
    void *val;
    char key[];
};

struct gs_map {
    struct map_entry **slots;
    size_t nslots; /* a power of two */
    size_t count;
};

static uint64_t map_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

struct gs_map *gs_map_new(void)
{
    struct gs_map *m = calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    m->nslots = 64;
    m->slots = calloc(m->nslots, sizeof(*m->slots));
    if (!m->slots) {
        free(m);
        return NULL;
    }
    return m;
}

void gs_map_free(struct gs_map *m, void (*free_val)(void *))
{
    size_t i;
    struct map_entry *e, *next;

    if (!m)
        return;
    for (i = 0; i < m->nslots; i++) {
        for (e = m->slots[i]; e; e = next) {
            next = e->next;
            if (free_val)
                free_val(e->val);
            free(e);
        }
    }
    free(m->slots);
    free(m);
}

static struct map_entry **map_find(const struct gs_map *m, const char *key,
                                   uint64_t h)
{
    struct map_entry **pp = &m->slots[h & (m->nslots - 1)];

    while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
        pp = &(*pp)->next;
    return pp;
}

void *gs_map_get(const struct gs_map *m, const char *key)
{
    struct map_entry **pp = map_find(m, key, map_hash(key));

    return *pp ? (*pp)->val : NULL;
}

static void map_rehash(struct gs_map *m)
{
    size_t n = m->nslots * 2, i;
    struct map_entry **slots = calloc(n, sizeof(*slots));
    struct map_entry *e, *next;

    if (!slots)
        return; /* keep the longer chains: still correct */
    for (i = 0; i < m->nslots; i++) {
        for (e = m->slots[i]; e; e = next) {
            next = e->next;
            e->next = slots[e->hash & (n - 1)];
            slots[e->hash & (n - 1)] = e;
        }
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = n;
}

int gs_map_put(struct gs_map *m, const char *key, void *val)
{
    uint64_t h = map_hash(key);
    struct map_entry **pp = map_find(m, key, h);
    size_t klen;
    struct map_entry *e;

    if (*pp) {
        (*pp)->val = val;
        return 0;
    }
    klen = strlen(key);
    e = malloc(sizeof(*e) + klen + 1);
    if (!e)
        return -1;
    e->hash = h;
    e->val = val;
    memcpy(e->key, key, klen + 1);
    e->next = NULL;
    *pp = e;
    m->count++;
    if (m->count > m->nslots)
        map_rehash(m);
    return 0;
}

void *gs_map_del(struct gs_map *m, const char *key)
{
    struct map_entry **pp = map_find(m, key, map_hash(key));
    struct map_entry *e = *pp;
    void *val;

    if (!e)
        return NULL;
    *pp = e->next;
    val = e->val;
    free(e);
    m->count--;
    return val;
}

size_t gs_map_count(const struct gs_map *m)
{
    return m->count;
}

void gs_map_sweep(struct gs_map *m, bool (*fn)(void *val, void *arg), void *arg)
{
    size_t i;
    struct map_entry **pp, *e;

    for (i = 0; i < m->nslots; i++) {
        pp = &m->slots[i];
        while (*pp) {
            e = *pp;
            if (fn(e->val, arg)) {
                *pp = e->next;
                free(e);
                m->count--;
            } else {
                pp = &e->next;
            }
        }
    }
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void gs_rng_seed(struct gs_rng *r, uint64_t seed)
{
    int i;

    for (i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

uint64_t gs_rng_entropy(void)
{
    uint64_t v = 0;

    if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
        v = (uint64_t)gs_now_ns() ^ (uint64_t)gs_mono_ns() << 17;
    return v;
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t gs_rng_next(struct gs_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double gs_rng_double(struct gs_rng *r)
{
    return (double)(gs_rng_next(r) >> 11) * 0x1.0p-53;
}

void gs_rng_guid(struct gs_rng *r, char out[GS_GUID_LEN + 1])
{
    uint64_t hi = gs_rng_next(r), lo = gs_rng_next(r);

    hi = (hi & ~0xf000ULL) | 0x4000ULL;             /* version 4 */
    lo = (lo & ~(0xc0ULL << 56)) | (0x80ULL << 56); /* RFC variant */
    snprintf(out, GS_GUID_LEN + 1, "%08x-%04x-%04x-%04x-%012llx",
             (unsigned)(hi >> 32), (unsigned)(hi >> 16) & 0xffffu,
             (unsigned)hi & 0xffffu, (unsigned)(lo >> 48),
             (unsigned long long)(lo & 0xffffffffffffULL));
}

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t gs_b64url_encode(const unsigned char *in, size_t n, char *out,
                        size_t outsz)
{
    size_t need = n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0), i, o = 0;
    uint32_t v;

    if (outsz < need + 1)
        return 0;
    for (i = 0; i + 2 < n; i += 3) {
        v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url[v >> 18];
        out[o++] = b64url[(v >> 12) & 63];
        out[o++] = b64url[(v >> 6) & 63];
        out[o++] = b64url[v & 63];
    }
    if (n - i == 1) {
        v = (uint32_t)in[i] << 16;
        out[o++] = b64url[v >> 18];
        out[o++] = b64url[(v >> 12) & 63];
    } else if (n - i == 2) {
        v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64url[v >> 18];
        out[o++] = b64url[(v >> 12) & 63];
        out[o++] = b64url[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long gs_b64url_decode(const char *in, size_t n, unsigned char *out,
                      size_t outsz)
{
    uint32_t acc = 0;
    int bits = 0, v;
    size_t i, o = 0;

    while (n > 0 && in[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return -1;
    for (i = 0; i < n; i++) {
        v = b64url_value(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= outsz)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return (long)o;
}

int64_t gs_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t gs_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void gs_fmt_graph_time(int64_t ns, char *out, size_t outsz)
{
    /* The seconds part is formatted once per second per thread. */
    static __thread time_t cached_sec = -1;
    static __thread char cached[64];
    time_t sec = (time_t)(ns / 1000000000);
    int frac = (int)(ns % 1000000000 / 100), i;
    struct tm tm;
    char full[32];

    if (sec != cached_sec) {
        gmtime_r(&sec, &tm);
        snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
        cached_sec = sec;
    }
    memcpy(full, cached, 19);
    full[19] = '.';
    for (i = 7; i >= 1; i--) {
        full[19 + i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    full[27] = 'Z';
    full[28] = '\0';
    gs_copy(out, outsz, full);
}

void gs_fmt_aad_time(int64_t ns, char *out, size_t outsz)
{
    time_t sec = (time_t)(ns / 1000000000);
    struct tm tm;

    gmtime_r(&sec, &tm);
    snprintf(out, outsz, "%04d-%02d-%02d %02d:%02d:%02dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
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

/* Decodes one form component into a new string; NULL when malformed. */
static char *form_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t i, o = 0;
    int hi, lo;

    if (!out)
        return NULL;
    for (i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (s[i] == '\0') {
            free(out);
            return NULL;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

json_t *gs_form_parse(const char *body, size_t len, size_t max_fields,
                      char *errstr, size_t errsz)
{
    json_t *obj = json_object();
    const char *p = body, *end = body + len, *amp, *eq;
    char *name = NULL, *value = NULL;
    size_t fields = 0;

    if (!obj) {
        snprintf(errstr, errsz, "out of memory");
        return NULL;
    }
    while (p < end) {
        amp = memchr(p, '&', (size_t)(end - p));
        if (!amp)
            amp = end;
        if (amp == p) {
            p++;
            continue;
        }
        if (++fields > max_fields) {
            snprintf(errstr, errsz, "too many form fields");
            goto fail;
        }
        eq = memchr(p, '=', (size_t)(amp - p));
        if (!eq)
            eq = amp;
        name = form_decode(p, (size_t)(eq - p));
        value = form_decode(eq < amp ? eq + 1 : amp,
                            eq < amp ? (size_t)(amp - eq - 1) : 0);
        if (!name || !value) {
            snprintf(errstr, errsz, "malformed form encoding");
            goto fail;
        }
        if (json_object_get(obj, name)) {
            snprintf(errstr, errsz, "parameter '%.64s' is repeated", name);
            goto fail;
        }
        /* json_object_set_new steals the new string's reference. */
        if (json_object_set_new(obj, name, json_string(value)) != 0) {
            snprintf(errstr, errsz, "parameter '%.64s' is not UTF-8", name);
            goto fail;
        }
        free(name);
        free(value);
        name = value = NULL;
        p = amp < end ? amp + 1 : end;
    }
    return obj;
fail:
    free(name);
    free(value);
    json_decref(obj);
    return NULL;
}

int gs_json_depth(const char *text, size_t len, int limit)
{
    int depth = 0, max = 0;
    bool in_str = false, esc = false;
    size_t i;

    for (i = 0; i < len; i++) {
        char c = text[i];

        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max) {
                max = depth;
                if (max > limit)
                    return limit + 1;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

bool gs_copy(char *dst, size_t dstsz, const char *src)
{
    size_t n = strlen(src);

    if (dstsz == 0)
        return n == 0;
    if (n >= dstsz) {
        memcpy(dst, src, dstsz - 1);
        dst[dstsz - 1] = '\0';
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}

bool gs_prefix_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

long gs_parse_ulong(const char *s, long max)
{
    char *end;
    long v;

    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    return v;
}
