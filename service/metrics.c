/* metrics.c - Prometheus metrics registry and text rendering (metrics.h). */
#include "provflow/metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "provflow/buf.h"

const double pf_metrics_latency_buckets[PF_METRICS_LATENCY_BUCKETS_COUNT] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5,   1,      2.5,   5,    10,    30,   60,
};

typedef enum {
    TYPE_COUNTER,
    TYPE_GAUGE,
    TYPE_HISTOGRAM,
} metric_type;

/*
 * One series. A histogram's per-bucket counts are not cumulative here
 * (observe touches one slot); rendering accumulates them. The label values
 * are copied into the same allocation, behind the bucket counts.
 */
struct pf_metric_child {
    pf_metric *family;
    STAILQ_ENTRY(pf_metric_child) link; /* in creation order */
    uint64_t hash;
    double value; /* counter, gauge; a histogram's sum */
    uint64_t count;
    bool unset; /* a gauge taken off /metrics (pf_metric_unset()) */
    const char *values[PF_METRICS_LABELS_MAX];
    uint64_t buckets[]; /* histogram: nbuckets counts; the rest is +Inf */
};

struct pf_metric {
    STAILQ_ENTRY(pf_metric) link; /* in registration order */
    metric_type type;
    char *name;
    char *help; /* NULL: no HELP line */
    size_t nlabels;
    char *labels[PF_METRICS_LABELS_MAX];
    size_t nbuckets;
    double *bounds;
    /*
     * Children in an open-addressing table (linear probing, power-of-two
     * capacity, load at most 1/2). Children are never removed, so there
     * are no tombstones.
     */
    pf_metric_child **slots;
    size_t cap;
    size_t nchildren;
    size_t max_children;
    STAILQ_HEAD(, pf_metric_child) children;
    /*
     * Allocated with the family so that pf_metric_with() has somewhere to
     * send updates even when memory runs out; rendered once used.
     */
    pf_metric_child *overflow;
    bool overflow_used;
    uint64_t overflows;
};

struct pf_metrics {
    STAILQ_HEAD(, pf_metric) families;
    char error[160];
};

/* ---- names ---- */

/* [a-zA-Z_:][a-zA-Z0-9_:]* with colon, else [a-zA-Z_][a-zA-Z0-9_]* */
static bool name_valid(const char *s, bool colon)
{
    size_t i;

    if (s == NULL || s[0] == '\0')
        return false;
    for (i = 0; s[i] != '\0'; i++) {
        char ch = s[i];
        bool alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     ch == '_' || (colon && ch == ':');

        if (!alpha && !(i > 0 && ch >= '0' && ch <= '9'))
            return false;
    }
    return true;
}

/* True if a and b (b of length blen) are equal. */
static bool name_is(const char *a, const char *b, size_t blen)
{
    return strlen(a) == blen && memcmp(a, b, blen) == 0;
}

/* True if series named `series` would be rendered by family f. */
static bool family_renders(const pf_metric *f, const char *series)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    size_t n = strlen(f->name), i;

    if (strcmp(f->name, series) == 0)
        return true;
    if (f->type != TYPE_HISTOGRAM || strncmp(f->name, series, n) != 0)
        return false;
    for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if (strcmp(series + n, suffixes[i]) == 0)
            return true;
    }
    return false;
}

/* True if a family named name of type t would clash with g's series. */
static bool families_clash(const pf_metric *g, const char *name, metric_type t)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    char series[256];
    size_t i;

    if (family_renders(g, name))
        return true;
    if (t != TYPE_HISTOGRAM)
        return false;
    for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        int n = snprintf(series, sizeof(series), "%s%s", name, suffixes[i]);

        /* A name too long for series[] cannot equal one of g's. */
        if (n > 0 && (size_t)n < sizeof(series) &&
            name_is(g->name, series, (size_t)n))
            return true;
    }
    return false;
}

static pf_metric *set_error(pf_metrics *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void verror(pf_metrics *m, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void verror(pf_metrics *m, const char *fmt, va_list ap)
{
    vsnprintf(m->error, sizeof(m->error), fmt, ap);
}

static pf_metric *set_error(pf_metrics *m, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    verror(m, fmt, ap);
    va_end(ap);
    return NULL;
}

/* set_error() for a check: -1. */
static int check_fail(pf_metrics *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int check_fail(pf_metrics *m, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    verror(m, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- children ---- */

/*
 * The length kept of a label value: at most PF_METRICS_VALUE_MAX bytes,
 * backed off so as not to split a UTF-8 sequence (never cut before a
 * continuation byte 10xxxxxx).
 */
static size_t value_len(const char *v)
{
    size_t n = strnlen(v, PF_METRICS_VALUE_MAX + 1);

    if (n <= PF_METRICS_VALUE_MAX)
        return n;
    n = PF_METRICS_VALUE_MAX;
    while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* FNV-1a over the kept values, a 0xFF byte (never in UTF-8) after each. */
static uint64_t values_hash(const char *const *v, const size_t *len, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t i, j;

    for (i = 0; i < n; i++) {
        for (j = 0; j < len[i]; j++) {
            h ^= (unsigned char)v[i][j];
            h *= 0x100000001b3ULL;
        }
        h ^= 0xFF;
        h *= 0x100000001b3ULL;
    }
    /* fmix64, so that the low bits used as the slot index mix well */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static bool child_matches(const pf_metric_child *c, const char *const *v,
                          const size_t *len, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!name_is(c->values[i], v[i], len[i]))
            return false;
    }
    return true;
}

/*
 * Allocates a child holding copies of the n values (lengths len), with
 * room for the family's bucket counts.
 */
static pf_metric_child *child_new(pf_metric *f, const char *const *v,
                                  const size_t *len)
{
    size_t size = sizeof(pf_metric_child) + f->nbuckets * sizeof(uint64_t);
    size_t i, off;
    pf_metric_child *c;
    char *p;

    for (i = 0; i < f->nlabels; i++)
        size += len[i] + 1;
    c = calloc(1, size);
    if (c == NULL)
        return NULL;
    c->family = f;
    p = (char *)c;
    off = sizeof(pf_metric_child) + f->nbuckets * sizeof(uint64_t);
    for (i = 0; i < f->nlabels; i++) {
        memcpy(p + off, v[i], len[i]);
        p[off + len[i]] = '\0';
        c->values[i] = p + off;
        off += len[i] + 1;
    }
    return c;
}

static void table_put(pf_metric_child **slots, size_t cap, pf_metric_child *c)
{
    size_t i = (size_t)c->hash & (cap - 1);

    while (slots[i] != NULL)
        i = (i + 1) & (cap - 1);
    slots[i] = c;
}

/* Grows the table if one more child would exceed load 1/2; -1 on ENOMEM. */
static int table_reserve(pf_metric *f)
{
    size_t cap;
    pf_metric_child **slots, *c;

    if ((f->nchildren + 1) * 2 <= f->cap)
        return 0;
    cap = f->cap ? f->cap * 2 : 8;
    slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return -1;
    STAILQ_FOREACH(c, &f->children, link)
    table_put(slots, cap, c);
    free(f->slots);
    f->slots = slots;
    f->cap = cap;
    return 0;
}

static pf_metric_child *use_overflow(pf_metric *f)
{
    f->overflow_used = true;
    f->overflows++;
    return f->overflow;
}

pf_metric_child *pf_metric_with(pf_metric *f, const char *const values[])
{
    const char *v[PF_METRICS_LABELS_MAX];
    size_t len[PF_METRICS_LABELS_MAX];
    pf_metric_child *c;
    uint64_t h;
    size_t i;
    bool is_overflow = true;

    if (f == NULL)
        return NULL;
    if (f->nlabels == 0)
        return STAILQ_FIRST(&f->children);
    for (i = 0; i < f->nlabels; i++) {
        v[i] = values == NULL || values[i] == NULL ? "" : values[i];
        len[i] = value_len(v[i]);
        if (strcmp(v[i], PF_METRICS_OVERFLOW_VALUE) != 0)
            is_overflow = false;
    }
    h = values_hash(v, len, f->nlabels);
    if (f->cap > 0) {
        for (i = (size_t)h & (f->cap - 1); f->slots[i] != NULL;
             i = (i + 1) & (f->cap - 1)) {
            c = f->slots[i];
            if (c->hash == h && child_matches(c, v, len, f->nlabels))
                return c;
        }
    }
    /* Asked by name, the overflow series is the overflow child: never two
     * series with the same labels. */
    if (is_overflow) {
        f->overflow_used = true;
        return f->overflow;
    }
    if (f->nchildren >= f->max_children || table_reserve(f) != 0)
        return use_overflow(f);
    c = child_new(f, v, len);
    if (c == NULL)
        return use_overflow(f);
    c->hash = h;
    table_put(f->slots, f->cap, c);
    STAILQ_INSERT_TAIL(&f->children, c, link);
    f->nchildren++;
    return c;
}

void pf_metric_set_max_children(pf_metric *f, size_t max_children)
{
    if (f != NULL)
        f->max_children = max_children > 0 ? max_children : 1;
}

size_t pf_metric_children(const pf_metric *f)
{
    return f == NULL ? 0 : f->nchildren;
}

uint64_t pf_metric_overflows(const pf_metric *f)
{
    return f == NULL ? 0 : f->overflows;
}

/* ---- updates ---- */

void pf_metric_inc(pf_metric_child *c)
{
    pf_metric_add(c, 1.0);
}

void pf_metric_dec(pf_metric_child *c)
{
    if (c != NULL && c->family->type == TYPE_GAUGE) {
        c->value -= 1.0;
        c->unset = false;
    }
}

void pf_metric_add(pf_metric_child *c, double v)
{
    if (c == NULL)
        return;
    switch (c->family->type) {
    case TYPE_COUNTER:
        if (v >= 0) /* false for NaN too */
            c->value += v;
        break;
    case TYPE_GAUGE:
        c->value += v;
        c->unset = false;
        break;
    case TYPE_HISTOGRAM:
        break;
    }
}

void pf_metric_set(pf_metric_child *c, double v)
{
    if (c != NULL && c->family->type == TYPE_GAUGE) {
        c->value = v;
        c->unset = false;
    }
}

void pf_metric_unset(pf_metric_child *c)
{
    if (c != NULL && c->family->type == TYPE_GAUGE)
        c->unset = true;
}

bool pf_metric_is_set(const pf_metric_child *c)
{
    return c != NULL && !c->unset;
}

void pf_metric_observe(pf_metric_child *c, double v)
{
    const pf_metric *f;
    size_t lo, hi;

    if (c == NULL || c->family->type != TYPE_HISTOGRAM || isnan(v))
        return;
    f = c->family;
    /* The first bound >= v (binary search); nbuckets means +Inf. */
    lo = 0;
    hi = f->nbuckets;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (f->bounds[mid] >= v)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo < f->nbuckets)
        c->buckets[lo]++;
    c->value += v;
    c->count++;
}

double pf_metric_value(const pf_metric_child *c)
{
    return c == NULL ? 0 : c->value;
}

uint64_t pf_metric_count(const pf_metric_child *c)
{
    return c == NULL ? 0 : c->count;
}

/* ---- registration ---- */

static void family_free(pf_metric *f)
{
    pf_metric_child *c;
    size_t i;

    if (f == NULL)
        return;
    while ((c = STAILQ_FIRST(&f->children)) != NULL) {
        STAILQ_REMOVE_HEAD(&f->children, link);
        free(c);
    }
    free(f->overflow);
    free(f->slots);
    for (i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->bounds);
    free(f->help);
    free(f->name);
    free(f);
}

/*
 * Whether a family of this type, name, labels and buckets may be added
 * (Prometheus names, no clash, no reserved or repeated label, bounds
 * finite and increasing); 0, or -1 with the reason in m->error. A last
 * +Inf bound is dropped from *nbuckets: it is implied.
 */
static int family_check(pf_metrics *m, metric_type t, const char *name,
                        size_t nlabels, const char *const labels[],
                        const double *buckets, size_t *nbuckets)
{
    const pf_metric *g;
    size_t i, j;

    if (!name_valid(name, true))
        return check_fail(m, "invalid metric name \"%s\"",
                          name ? name : "(null)");
    STAILQ_FOREACH(g, &m->families, link)
    {
        if (families_clash(g, name, t))
            return check_fail(m, "metric \"%s\" clashes with \"%s\"", name,
                              g->name);
    }
    if (nlabels > PF_METRICS_LABELS_MAX || (nlabels > 0 && labels == NULL))
        return check_fail(m, "metric \"%s\": %zu labels (at most %d)", name,
                          nlabels, PF_METRICS_LABELS_MAX);
    for (i = 0; i < nlabels; i++) {
        const char *l = labels[i];

        if (!name_valid(l, false) || strncmp(l, "__", 2) == 0 ||
            (t == TYPE_HISTOGRAM && strcmp(l, "le") == 0))
            return check_fail(m, "metric \"%s\": invalid label name \"%s\"",
                              name, l ? l : "(null)");
        for (j = 0; j < i; j++) {
            if (strcmp(labels[j], l) == 0)
                return check_fail(m, "metric \"%s\": label \"%s\" given twice",
                                  name, l);
        }
    }
    if (t != TYPE_HISTOGRAM)
        return 0;
    if (*nbuckets > 0 && buckets != NULL && isinf(buckets[*nbuckets - 1]) &&
        buckets[*nbuckets - 1] > 0)
        (*nbuckets)--;
    if (buckets == NULL || *nbuckets == 0 || *nbuckets > PF_METRICS_BUCKETS_MAX)
        return check_fail(m, "histogram \"%s\": 1 to %d bucket bounds needed",
                          name, PF_METRICS_BUCKETS_MAX);
    for (i = 0; i < *nbuckets; i++) {
        if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
            return check_fail(m,
                              "histogram \"%s\": bounds must be finite and "
                              "strictly increasing",
                              name);
    }
    return 0;
}

/* A checked family, built: its copies of the strings, its children. */
static pf_metric *family_new(metric_type t, const char *name, const char *help,
                             size_t nlabels, const char *const labels[],
                             const double *buckets, size_t nbuckets)
{
    const char *ov[PF_METRICS_LABELS_MAX] = {NULL};
    size_t ovlen[PF_METRICS_LABELS_MAX] = {0};
    pf_metric *f = calloc(1, sizeof(*f));
    size_t i;

    if (f == NULL)
        return NULL;
    STAILQ_INIT(&f->children);
    f->type = t;
    f->max_children = PF_METRICS_CHILDREN_MAX_DEFAULT;
    f->name = strdup(name);
    f->help = help != NULL ? strdup(help) : NULL;
    if (f->name == NULL || (help != NULL && f->help == NULL))
        goto oom;
    for (i = 0; i < nlabels; i++) {
        f->labels[i] = strdup(labels[i]);
        if (f->labels[i] == NULL)
            goto oom;
        f->nlabels++;
        ov[i] = PF_METRICS_OVERFLOW_VALUE;
        ovlen[i] = strlen(PF_METRICS_OVERFLOW_VALUE);
    }
    if (t == TYPE_HISTOGRAM) {
        f->bounds = malloc(nbuckets * sizeof(double));
        if (f->bounds == NULL)
            goto oom;
        memcpy(f->bounds, buckets, nbuckets * sizeof(double));
        f->nbuckets = nbuckets;
    }
    f->overflow = child_new(f, ov, ovlen);
    if (f->overflow == NULL)
        goto oom;
    if (nlabels == 0) {
        /* The single child, so that the family renders from the start. */
        pf_metric_child *only = child_new(f, NULL, NULL);

        if (only == NULL)
            goto oom;
        STAILQ_INSERT_TAIL(&f->children, only, link);
        f->nchildren = 1;
    }
    return f;
oom:
    family_free(f);
    return NULL;
}

static pf_metric *family_add(pf_metrics *m, metric_type t, const char *name,
                             const char *help, size_t nlabels,
                             const char *const labels[], const double *buckets,
                             size_t nbuckets)
{
    pf_metric *f;

    if (m == NULL)
        return NULL;
    m->error[0] = '\0';
    if (family_check(m, t, name, nlabels, labels, buckets, &nbuckets) != 0)
        return NULL;
    f = family_new(t, name, help, nlabels, labels, buckets, nbuckets);
    if (f == NULL) {
        set_error(m, "metric \"%s\": out of memory", name);
        return NULL;
    }
    STAILQ_INSERT_TAIL(&m->families, f, link);
    return f;
}

pf_metric *pf_metrics_counter(pf_metrics *m, const char *name, const char *help,
                              size_t nlabels, const char *const labels[])
{
    return family_add(m, TYPE_COUNTER, name, help, nlabels, labels, NULL, 0);
}

pf_metric *pf_metrics_gauge(pf_metrics *m, const char *name, const char *help,
                            size_t nlabels, const char *const labels[])
{
    return family_add(m, TYPE_GAUGE, name, help, nlabels, labels, NULL, 0);
}

pf_metric *pf_metrics_histogram(pf_metrics *m, const char *name,
                                const char *help, size_t nlabels,
                                const char *const labels[],
                                const double *buckets, size_t nbuckets)
{
    return family_add(m, TYPE_HISTOGRAM, name, help, nlabels, labels, buckets,
                      nbuckets);
}

pf_metric *pf_metrics_build_info(pf_metrics *m, const char *name,
                                 const char *version)
{
    static const char *const labels[] = {"version"};
    const char *values[1];
    pf_metric *f;

    values[0] = version;
    f = pf_metrics_gauge(m, name, "Build information; the value is always 1.",
                         1, labels);
    pf_metric_set(pf_metric_with(f, values), 1);
    return f;
}

const char *pf_metrics_last_error(const pf_metrics *m)
{
    return m == NULL ? "" : m->error;
}

pf_metrics *pf_metrics_new(void)
{
    pf_metrics *m = calloc(1, sizeof(*m));

    if (m != NULL)
        STAILQ_INIT(&m->families);
    return m;
}

void pf_metrics_destroy(pf_metrics *m)
{
    pf_metric *f;

    if (m == NULL)
        return;
    while ((f = STAILQ_FIRST(&m->families)) != NULL) {
        STAILQ_REMOVE_HEAD(&m->families, link);
        family_free(f);
    }
    free(m);
}

/* ---- rendering: into a buffer (buf.h) checked once at the end ---- */

/*
 * Appends s escaped: backslash and newline always, the double quote too
 * when quote is set (label values; HELP text leaves it as is, per the
 * format).
 */
static void buf_add_escaped(pf_buf *b, const char *s, bool quote)
{
    const char *run = s;

    for (; *s != '\0'; s++) {
        const char *esc = NULL;

        if (*s == '\\')
            esc = "\\\\";
        else if (*s == '\n')
            esc = "\\n";
        else if (*s == '"' && quote)
            esc = "\\\"";
        if (esc == NULL)
            continue;
        pf_buf_add(b, run, (size_t)(s - run));
        pf_buf_adds(b, esc);
        run = s + 1;
    }
    pf_buf_add(b, run, (size_t)(s - run));
}

/*
 * A sample value as Prometheus writes it: the shortest %g form that reads
 * back exactly (so 0.1 is "0.1", 3 is "3"), and +Inf, -Inf, NaN.
 */
static void format_double(char out[32], double v)
{
    int prec;

    if (isnan(v)) {
        snprintf(out, 32, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, 32, "%s", v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (prec = 15; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
}

static void buf_add_double(pf_buf *b, double v)
{
    char tmp[32];

    format_double(tmp, v);
    pf_buf_adds(b, tmp);
}

static void buf_add_u64(pf_buf *b, uint64_t v)
{
    char tmp[24];

    snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
    pf_buf_adds(b, tmp);
}

/*
 * Appends `{a="x",b="y"}` (with le="<le>" last when le is not NULL), or
 * nothing for a series without labels.
 */
static void buf_add_labels(pf_buf *b, const pf_metric_child *c, const char *le)
{
    const pf_metric *f = c->family;
    size_t i;

    if (f->nlabels == 0 && le == NULL)
        return;
    pf_buf_adds(b, "{");
    for (i = 0; i < f->nlabels; i++) {
        if (i > 0)
            pf_buf_adds(b, ",");
        pf_buf_adds(b, f->labels[i]);
        pf_buf_adds(b, "=\"");
        buf_add_escaped(b, c->values[i], true);
        pf_buf_adds(b, "\"");
    }
    if (le != NULL) {
        if (f->nlabels > 0)
            pf_buf_adds(b, ",");
        pf_buf_adds(b, "le=\"");
        pf_buf_adds(b, le);
        pf_buf_adds(b, "\"");
    }
    pf_buf_adds(b, "}");
}

static void render_child(pf_buf *b, const pf_metric_child *c)
{
    const pf_metric *f = c->family;
    uint64_t cumulative = 0;
    char le[32];
    size_t i;

    if (c->unset)
        return; /* no sample: the value is unknown for now */
    if (f->type != TYPE_HISTOGRAM) {
        pf_buf_adds(b, f->name);
        buf_add_labels(b, c, NULL);
        pf_buf_adds(b, " ");
        buf_add_double(b, c->value);
        pf_buf_adds(b, "\n");
        return;
    }
    for (i = 0; i <= f->nbuckets; i++) {
        if (i < f->nbuckets) {
            cumulative += c->buckets[i];
            format_double(le, f->bounds[i]);
        } else {
            cumulative = c->count;
            snprintf(le, sizeof(le), "+Inf");
        }
        pf_buf_adds(b, f->name);
        pf_buf_adds(b, "_bucket");
        buf_add_labels(b, c, le);
        pf_buf_adds(b, " ");
        buf_add_u64(b, cumulative);
        pf_buf_adds(b, "\n");
    }
    pf_buf_adds(b, f->name);
    pf_buf_adds(b, "_sum");
    buf_add_labels(b, c, NULL);
    pf_buf_adds(b, " ");
    buf_add_double(b, c->value);
    pf_buf_adds(b, "\n");
    pf_buf_adds(b, f->name);
    pf_buf_adds(b, "_count");
    buf_add_labels(b, c, NULL);
    pf_buf_adds(b, " ");
    buf_add_u64(b, c->count);
    pf_buf_adds(b, "\n");
}

char *pf_metrics_render(const pf_metrics *m, size_t *len)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    pf_buf b;
    const pf_metric *f;
    const pf_metric_child *c;

    if (len != NULL)
        *len = 0;
    if (m == NULL)
        return NULL;
    pf_buf_init(&b, 4096, false);
    STAILQ_FOREACH(f, &m->families, link)
    {
        if (f->help != NULL) {
            pf_buf_adds(&b, "# HELP ");
            pf_buf_adds(&b, f->name);
            pf_buf_adds(&b, " ");
            buf_add_escaped(&b, f->help, false);
            pf_buf_adds(&b, "\n");
        }
        pf_buf_adds(&b, "# TYPE ");
        pf_buf_adds(&b, f->name);
        pf_buf_adds(&b, " ");
        pf_buf_adds(&b, types[f->type]);
        pf_buf_adds(&b, "\n");
        STAILQ_FOREACH(c, &f->children, link)
        render_child(&b, c);
        if (f->overflow_used)
            render_child(&b, f->overflow);
    }
    return pf_buf_take(&b, len);
}
