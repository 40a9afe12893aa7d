/* offsets.c - per-partition tracking of out-of-order completions, and the
 * commit metadata that carries it (offsets.h).
 */
#include "provflow/offsets.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/*
 * State, and the invariants every exported function restores:
 *
 * - The ring holds the received offsets that are not below the position,
 *   increasing, each pending or done. Its first entry is pending, and then
 *   it is the position: done entries at the front are dropped as soon as
 *   they get there. So the ring holds exactly the pending and done-above
 *   offsets, 9 bytes each, and gaps between offsets cost nothing.
 * - skip[skip_head .. nskip) are the runs of done offsets remembered from
 *   the metadata that have not been received yet: disjoint, increasing,
 *   never adjacent, every offset in them above both the last received
 *   offset and the position. A remembered offset that is received leaves
 *   them (and enters the ring as done if something below it is pending).
 * - With an empty ring and something received, the position is past the
 *   last received offset and not at the start of a remembered run.
 */
typedef struct run {
    int64_t lo, hi; /* inclusive */
} run;

/*
 * 64 entries (576 bytes) to start with; the ring doubles when full and
 * shrinks when at most an eighth is used (ring_shrink()), so its size
 * follows the number of live offsets after a burst.
 */
#define RING_MIN 64

struct pf_ptrack {
    int64_t start; /* the committed offset started from, -1 when unknown */
    int64_t pos;   /* commit position, -1 while unknown */
    int64_t last;  /* last received offset, when received_any */
    bool received_any;
    bool dirty;

    int64_t *off;        /* ring of offsets; one allocation with done */
    unsigned char *done; /* ring of flags: F_DONE, F_SENT */
    size_t cap;          /* a power of two, or 0 before the first push */
    size_t head, count;
    size_t npending, ndone;

    run *skip;
    size_t nskip, skip_head;

    const char *meta_error;
};

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "abcdefghijklmnopqrstuvwxyz"
                               "0123456789-_";

static const char out_of_memory[] = "out of memory";

/* A ring entry's flags. */
#define F_DONE 1 /* its outcome is acknowledged */
#define F_SENT 2 /* its create may have reached Graph (pf_ptrack_sent) */

#define PREFIX     "pf1:"
#define PREFIX_LEN (sizeof(PREFIX) - 1)

/* ---- ring ---------------------------------------------------------------- */

static size_t ring_at(const pf_ptrack *t, size_t i)
{
    return (t->head + i) & (t->cap - 1);
}

/* Moves the entries into a ring of cap slots. -1 if memory runs out. */
static int ring_resize(pf_ptrack *t, size_t cap)
{
    int64_t *off;
    unsigned char *done;
    size_t i, j;

    if (cap > SIZE_MAX / (sizeof(*off) + 1))
        return -1;
    off = malloc(cap * (sizeof(*off) + 1));
    if (off == NULL)
        return -1;
    done = (unsigned char *)(off + cap);
    for (i = 0; i < t->count; i++) {
        j = ring_at(t, i);
        off[i] = t->off[j];
        done[i] = t->done[j];
    }
    free(t->off);
    t->off = off;
    t->done = done;
    t->cap = cap;
    t->head = 0;
    return 0;
}

/*
 * Halves the capacity while at most a quarter would be used, so that the
 * ring ends between a quarter and half full (or at RING_MIN): growing again
 * takes a doubling of the live offsets. Failing only keeps the larger ring.
 */
static void ring_shrink(pf_ptrack *t)
{
    size_t cap = t->cap;

    while (cap / 2 >= RING_MIN && t->count <= cap / 4)
        cap /= 2;
    if (cap != t->cap)
        (void)ring_resize(t, cap);
}

/* Makes room for one more entry, so that a push cannot fail. */
static int ring_reserve(pf_ptrack *t)
{
    if (t->count < t->cap)
        return 0;
    if (t->cap > SIZE_MAX / 2)
        return -1;
    return ring_resize(t, t->cap == 0 ? RING_MIN : t->cap * 2);
}

static void ring_push(pf_ptrack *t, int64_t offset, bool done)
{
    size_t j = ring_at(t, t->count);

    t->off[j] = offset;
    t->done[j] = done ? F_DONE : 0;
    t->count++;
    if (done)
        t->ndone++;
    else
        t->npending++;
}

/* The logical index of offset in the ring, or -1 (binary search). */
static int64_t ring_find(const pf_ptrack *t, int64_t offset)
{
    size_t lo = 0, hi = t->count, mid;
    int64_t v;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        v = t->off[ring_at(t, mid)];
        if (v == offset)
            return (int64_t)mid;
        if (v < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* ---- position ------------------------------------------------------------ */

static void skip_clear(pf_ptrack *t)
{
    free(t->skip);
    t->skip = NULL;
    t->nskip = 0;
    t->skip_head = 0;
}

/*
 * Restores the invariants after a change: drops done entries from the
 * front of the ring, then sets the position to the first pending offset
 * or, with nothing pending, past the last received offset and past any
 * remembered runs that start right there.
 */
static void settle(pf_ptrack *t)
{
    int64_t pos = t->pos;

    while (t->count > 0 && (t->done[t->head] & F_DONE)) {
        assert(t->ndone > 0);
        t->head = (t->head + 1) & (t->cap - 1);
        t->count--;
        t->ndone--;
    }
    if (t->count > 0) {
        pos = t->off[t->head];
    } else if (t->received_any) {
        if (pos <= t->last)
            pos = t->last + 1;
        while (t->skip_head < t->nskip && t->skip[t->skip_head].lo == pos) {
            pos = t->skip[t->skip_head].hi + 1;
            t->skip_head++;
        }
    }
    if (pos != t->pos) {
        t->pos = pos;
        t->dirty = true;
    }
    if (t->skip_head == t->nskip && t->skip != NULL)
        skip_clear(t);
    if (t->cap > RING_MIN && t->count <= t->cap / 8)
        ring_shrink(t);
}

/* ---- metadata parsing ---------------------------------------------------- */

/*
 * Reads a decimal number without sign or leading zeros, at most max, from
 * p[*i] on; advances *i past it.
 */
static int parse_num(const char *p, size_t len, size_t *i, int64_t max,
                     int64_t *out)
{
    uint64_t v = 0, d;
    size_t start = *i;

    while (*i < len && p[*i] >= '0' && p[*i] <= '9') {
        if (*i > start && v == 0)
            return -1; /* a leading zero */
        d = (uint64_t)(p[*i] - '0');
        if (v > ((uint64_t)max - d) / 10)
            return -1;
        v = v * 10 + d;
        (*i)++;
    }
    if (*i == start)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int b64_value(char c)
{
    const char *p;

    if (c == '\0')
        return -1;
    p = strchr(alphabet, c);
    return p == NULL ? -1 : (int)(p - alphabet);
}

/*
 * Parses "g" and "g+e" runs, comma-separated, from p[i] on. Stores them in
 * runs (NULL: only check) and counts them in *n.
 */
static const char *parse_runs(const char *p, size_t len, size_t i, int64_t base,
                              run *runs, size_t *n)
{
    /*
     * The cursor goes up to INT64_MAX, one past the largest offset, where
     * any run is out of range: it cannot wrap.
     */
    int64_t cursor = base < INT64_MAX ? base + 1 : INT64_MAX;
    int64_t gap, ext, lo, hi;

    *n = 0;
    for (;;) {
        if (parse_num(p, len, &i, PF_PTRACK_OFFSET_MAX, &gap) != 0)
            return "malformed run";
        ext = 0;
        if (i < len && p[i] == '+') {
            i++;
            if (parse_num(p, len, &i, PF_PTRACK_OFFSET_MAX, &ext) != 0)
                return "malformed run";
        }
        if (gap > PF_PTRACK_OFFSET_MAX - cursor)
            return "offset out of range";
        lo = cursor + gap;
        if (ext > PF_PTRACK_OFFSET_MAX - lo)
            return "offset out of range";
        hi = lo + ext;
        if (runs != NULL)
            runs[*n] = (run){lo, hi};
        (*n)++;
        cursor = hi >= PF_PTRACK_OFFSET_MAX - 1 ? INT64_MAX : hi + 2;
        if (i == len)
            return NULL;
        if (p[i] != ',')
            return "malformed run";
        i++;
    }
}

/*
 * Parses the bitmap from p[i] on into maximal runs (runs NULL: only
 * count them in *n).
 */
static const char *parse_bitmap(const char *p, size_t len, size_t i,
                                int64_t base, run *runs, size_t *n)
{
    bool in_run = false;
    int64_t lo = 0;
    uint64_t room, k;
    size_t j;
    int v, b;

    *n = 0;
    if (i == len)
        return "empty bitmap";
    if (base >= PF_PTRACK_OFFSET_MAX)
        return "offset out of range";
    /*
     * Bit k (from 1) is offset base + k. The last character's padding may
     * reach past PF_PTRACK_OFFSET_MAX (the writer packs whole characters):
     * only a bit that is set must be an offset.
     */
    room = (uint64_t)(PF_PTRACK_OFFSET_MAX - base);
    for (j = i; j < len; j++) {
        v = b64_value(p[j]);
        if (v < 0)
            return "malformed bitmap";
        for (b = 0; b < 6; b++) {
            /* len <= PF_PTRACK_METADATA_MAX_LEN: 6 * len is small. */
            k = (uint64_t)(j - i) * 6 + (uint64_t)b + 1;
            if ((v >> b) & 1) {
                if (k > room)
                    return "offset out of range";
                if (!in_run)
                    lo = base + (int64_t)k;
                in_run = true;
            } else if (in_run) {
                /* Bit k - 1 was set: base + k - 1 is an offset. */
                if (runs != NULL)
                    runs[*n] = (run){lo, base + (int64_t)(k - 1)};
                (*n)++;
                in_run = false;
            }
        }
    }
    if (in_run) {
        if (runs != NULL)
            runs[*n] = (run){lo, base + (int64_t)(len - i) * 6};
        (*n)++;
    }
    return NULL;
}

/*
 * Parses metadata. On success returns NULL, the base in *base and, if
 * runs is not NULL, the runs in a new array in *runs (NULL when there are
 * none) and their number in *nruns. Otherwise returns the reason.
 */
static const char *parse_metadata(const char *m, size_t len, int64_t *base,
                                  run **runs, size_t *nruns)
{
    const char *why;
    run *out = NULL;
    size_t i = PREFIX_LEN, n = 0;
    bool bitmap;

    if (runs != NULL)
        *runs = NULL;
    *nruns = 0;
    if (len > PF_PTRACK_METADATA_MAX_LEN)
        return "too long";
    if (len < PREFIX_LEN || memcmp(m, PREFIX, PREFIX_LEN) != 0)
        return "not provflow pf1 metadata";
    /* A position may be one past the largest offset. */
    if (parse_num(m, len, &i, INT64_MAX, base) != 0)
        return "malformed base";
    if (i == len)
        return NULL;
    if (m[i] != ':')
        return "malformed base";
    i++;
    bitmap = i < len && m[i] == 'b';
    if (bitmap)
        i++;
    /* One pass to check and count, one to store: no guessing of sizes. */
    why = bitmap ? parse_bitmap(m, len, i, *base, NULL, &n)
                 : parse_runs(m, len, i, *base, NULL, &n);
    if (why != NULL)
        return why;
    if (runs != NULL && n > 0) {
        out = malloc(n * sizeof(*out));
        if (out == NULL)
            return out_of_memory;
        if (bitmap)
            (void)parse_bitmap(m, len, i, *base, out, &n);
        else
            (void)parse_runs(m, len, i, *base, out, &n);
        *runs = out;
    }
    *nruns = n;
    return NULL;
}

int pf_ptrack_metadata_check(const char *metadata, size_t metadata_len,
                             int64_t *base, const char **reason)
{
    const char *why = "none";
    int64_t b = -1;
    size_t n;

    if (metadata != NULL)
        why = parse_metadata(metadata, metadata_len, &b, NULL, &n);
    if (base != NULL)
        *base = why == NULL ? b : -1;
    if (reason != NULL)
        *reason = why;
    return why == NULL ? 0 : -1;
}

/* ---- life cycle ---------------------------------------------------------- */

pf_ptrack *pf_ptrack_new(int64_t start_offset, const char *metadata,
                         size_t metadata_len)
{
    pf_ptrack *t = calloc(1, sizeof(*t));
    const char *why;
    int64_t base;

    if (t == NULL)
        return NULL;
    if (start_offset < 0)
        start_offset = -1;
    t->start = start_offset;
    t->pos = start_offset;
    if (metadata == NULL || metadata_len == 0)
        return t;
    if (start_offset < 0) {
        t->meta_error = "no committed offset to go with it";
        return t;
    }
    why = parse_metadata(metadata, metadata_len, &base, &t->skip, &t->nskip);
    if (why == NULL && base != start_offset) {
        why = "written for another commit position";
        skip_clear(t);
    }
    if (why == out_of_memory) {
        free(t);
        return NULL;
    }
    t->meta_error = why;
    return t;
}

void pf_ptrack_destroy(pf_ptrack *t)
{
    if (t == NULL)
        return;
    free(t->off);
    free(t->skip);
    free(t);
}

const char *pf_ptrack_metadata_error(const pf_ptrack *t)
{
    return t->meta_error;
}

/* ---- received and done --------------------------------------------------- */

int pf_ptrack_received(pf_ptrack *t, int64_t offset)
{
    bool reset, skip;
    size_t s;

    if (offset < 0 || offset > PF_PTRACK_OFFSET_MAX)
        return PF_PTRACK_ERR_INVALID;
    if (t->received_any && offset <= t->last)
        return PF_PTRACK_ERR_INVALID;
    reset = !t->received_any && t->start >= 0 && offset < t->start;

    /* Decide without changing anything, so that NOMEM changes nothing. */
    skip = false;
    if (!reset) {
        if (t->pos >= 0 && offset < t->pos) {
            skip = true; /* the position moved past it over a run */
        } else {
            s = t->skip_head;
            while (s < t->nskip && t->skip[s].hi < offset)
                s++;
            skip = s < t->nskip && t->skip[s].lo <= offset;
        }
    }
    if ((!skip || t->count > 0) && ring_reserve(t) != 0)
        return PF_PTRACK_ERR_NOMEM;

    if (reset && t->skip != NULL) {
        /*
         * The consumer starts below the committed offset: the log is not
         * the one the metadata describes. Process everything again.
         */
        skip_clear(t);
        t->meta_error = "discarded: the consumer started below the "
                        "committed offset";
    }
    /*
     * Remembered offsets below this one were never delivered (compacted,
     * or holes): forget them; this one leaves the runs if it is in one.
     */
    while (t->skip_head < t->nskip && t->skip[t->skip_head].hi <= offset)
        t->skip_head++;
    if (t->skip_head < t->nskip && t->skip[t->skip_head].lo <= offset)
        t->skip[t->skip_head].lo = offset + 1;

    if (!skip)
        ring_push(t, offset, false);
    else if (t->count > 0)
        ring_push(t, offset, true); /* done above a pending offset */
    t->last = offset;
    t->received_any = true;
    settle(t);
    return skip ? PF_PTRACK_SKIP : PF_PTRACK_PROCESS;
}

int pf_ptrack_done(pf_ptrack *t, int64_t offset)
{
    int64_t i = ring_find(t, offset);
    size_t j;

    if (i < 0)
        return -1;
    j = ring_at(t, (size_t)i);
    if (t->done[j] & F_DONE)
        return -1;
    assert(t->npending > 0);
    t->done[j] |= F_DONE;
    t->npending--;
    t->ndone++;
    t->dirty = true;
    if (i == 0)
        settle(t);
    return 0;
}

/* The flags of a pending offset, or NULL: not tracked, or done. */
static unsigned char *pending_flags(pf_ptrack *t, int64_t offset)
{
    int64_t i = ring_find(t, offset);
    unsigned char *f;

    if (i < 0)
        return NULL;
    f = &t->done[ring_at(t, (size_t)i)];
    return *f & F_DONE ? NULL : f;
}

int pf_ptrack_unsent(pf_ptrack *t, int64_t offset)
{
    unsigned char *f = pending_flags(t, offset);

    if (f == NULL)
        return -1;
    *f &= (unsigned char)~F_SENT;
    return 0;
}

int pf_ptrack_sent(pf_ptrack *t, int64_t offset)
{
    unsigned char *f = pending_flags(t, offset);

    if (f == NULL)
        return -1;
    *f |= F_SENT;
    return 0;
}

int64_t pf_ptrack_sent_max(const pf_ptrack *t)
{
    size_t i, j;

    /* From the top: the highest pending sent entry is usually near it. */
    for (i = t->count; i > 0; i--) {
        j = ring_at(t, i - 1);
        if (t->done[j] == F_SENT)
            return t->off[j];
    }
    return -1;
}

/* ---- commit -------------------------------------------------------------- */

int64_t pf_ptrack_commit_offset(const pf_ptrack *t)
{
    return t->pos;
}

bool pf_ptrack_dirty(const pf_ptrack *t)
{
    return t->dirty;
}

void pf_ptrack_committed(pf_ptrack *t)
{
    t->dirty = false;
}

void pf_ptrack_set_dirty(pf_ptrack *t)
{
    t->dirty = true;
}

size_t pf_ptrack_pending(const pf_ptrack *t)
{
    return t->npending;
}

size_t pf_ptrack_done_above(const pf_ptrack *t)
{
    return t->ndone;
}

size_t pf_ptrack_memory(const pf_ptrack *t)
{
    return sizeof(*t) + t->cap * (sizeof(*t->off) + 1) +
           (t->skip != NULL ? t->nskip * sizeof(*t->skip) : 0);
}

/* ---- metadata encoding --------------------------------------------------- */

/*
 * Walks the done offsets above the position as maximal runs, in order:
 * first the ring's (consecutive done entries make one run, holes between
 * them included), then the remembered runs, merging a ring run with a
 * remembered run that follows it directly. n is how many done offsets a
 * run stands for: ring entries, or every offset of a remembered run.
 */
typedef struct run_iter {
    const pf_ptrack *t;
    size_t i, s;
    bool have;
    run next;
    uint64_t next_n;
} run_iter;

static bool raw_next(run_iter *it, run *r, uint64_t *n)
{
    const pf_ptrack *t = it->t;
    size_t j;

    while (it->i < t->count && !(t->done[ring_at(t, it->i)] & F_DONE))
        it->i++;
    if (it->i < t->count) {
        j = ring_at(t, it->i);
        r->lo = t->off[j];
        *n = 0;
        while (it->i < t->count && (t->done[j] & F_DONE)) {
            r->hi = t->off[j];
            (*n)++;
            it->i++;
            j = ring_at(t, it->i);
        }
        return true;
    }
    if (t->skip_head + it->s < t->nskip) {
        *r = t->skip[t->skip_head + it->s];
        *n = (uint64_t)(r->hi - r->lo) + 1;
        it->s++;
        return true;
    }
    return false;
}

static bool run_next(run_iter *it, run *r, uint64_t *n)
{
    run nx;
    uint64_t nn;

    if (!it->have && !raw_next(it, &it->next, &it->next_n))
        return false;
    *r = it->next;
    *n = it->next_n;
    it->have = false;
    while (raw_next(it, &nx, &nn)) {
        if (r->hi + 1 != nx.lo) {
            it->next = nx;
            it->next_n = nn;
            it->have = true;
            break;
        }
        r->hi = nx.hi;
        *n += nn;
    }
    return true;
}

static size_t num_len(uint64_t v)
{
    size_t n = 1;

    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Writes v in decimal at p (num_len(v) characters, no NUL). */
static char *put_num(char *p, uint64_t v)
{
    size_t n = num_len(v), k;

    for (k = n; k > 0; k--) {
        p[k - 1] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

/* How much of the done set each form holds within the budget. */
typedef struct form {
    size_t len;    /* characters, header included */
    size_t runs;   /* runs written */
    uint64_t kept; /* done offsets listed */
    bool full;     /* a run did not fit: stop */
} form;

int pf_ptrack_commit_metadata(const pf_ptrack *t, char *buf, size_t size,
                              uint64_t *dropped)
{
    run_iter it = {t, 0, 0, false, {0, 0}, 0};
    form fr, fb;
    uint64_t total = 0, n, cursor, item, chars;
    size_t hdr, budget, k, bits;
    bool bitmap;
    char *p;
    run r;

    if (dropped != NULL)
        *dropped = 0;
    if (buf == NULL || size == 0)
        return -1;
    buf[0] = '\0';
    if (t->pos < 0)
        return -1;
    hdr = PREFIX_LEN + num_len((uint64_t)t->pos);
    if (size < hdr + 1)
        return -1;
    budget = size - 1;

    /*
     * Measure both forms, keeping runs from the lowest while they fit: the
     * highest are the ones left out. Every run is above the position, so
     * pos + 1 does not wrap when there is one.
     */
    fr = (form){hdr, 0, 0, false};
    fb = fr;
    cursor = (uint64_t)t->pos + 1;
    while (run_next(&it, &r, &n)) {
        total += n;
        if (!fr.full) {
            item = 1 + num_len((uint64_t)r.lo - cursor);
            if (r.hi > r.lo)
                item += 1 + num_len((uint64_t)(r.hi - r.lo));
            if (item <= budget - fr.len) {
                fr.len += (size_t)item;
                fr.runs++;
                fr.kept += n;
            } else {
                fr.full = true;
            }
        }
        if (!fb.full) {
            chars = ((uint64_t)r.hi - ((uint64_t)t->pos + 1)) / 6 + 1;
            if (budget - hdr >= 2 && chars <= budget - hdr - 2) {
                fb.len = hdr + 2 + (size_t)chars;
                fb.runs++;
                fb.kept += n;
            } else {
                fb.full = true;
            }
        }
        if (fr.full && fb.full)
            break;
        cursor = (uint64_t)r.hi + 2;
    }
    while (run_next(&it, &r, &n))
        total += n;
    bitmap = fb.kept > fr.kept || (fb.kept == fr.kept && fb.len < fr.len);

    /* Write the chosen form. */
    memcpy(buf, PREFIX, PREFIX_LEN);
    p = put_num(buf + PREFIX_LEN, (uint64_t)t->pos);
    it = (run_iter){t, 0, 0, false, {0, 0}, 0};
    if (bitmap) {
        *p++ = ':';
        *p++ = 'b';
        chars = fb.len - hdr - 2;
        memset(p, 0, (size_t)chars); /* 6-bit values first */
        for (k = 0; k < fb.runs && run_next(&it, &r, &n); k++) {
            for (bits = (size_t)(r.lo - t->pos - 1);
                 bits <= (size_t)(r.hi - t->pos - 1); bits++)
                p[bits / 6] = (char)(p[bits / 6] | (1 << (bits % 6)));
        }
        for (k = 0; k < chars; k++)
            p[k] = alphabet[(unsigned char)p[k]];
        p += chars;
    } else {
        cursor = (uint64_t)t->pos + 1;
        for (k = 0; k < fr.runs && run_next(&it, &r, &n); k++) {
            *p++ = k == 0 ? ':' : ',';
            p = put_num(p, (uint64_t)r.lo - cursor);
            if (r.hi > r.lo) {
                *p++ = '+';
                p = put_num(p, (uint64_t)(r.hi - r.lo));
            }
            cursor = (uint64_t)r.hi + 2;
        }
    }
    *p = '\0';

    n = bitmap ? fb.kept : fr.kept;
    if (dropped != NULL)
        *dropped = total - n;
    return total > n ? 1 : 0;
}

/* ---- the whole commit metadata ------------------------------------------- */

/* A part's value: the whole of p[0 .. len) a number up to max. */
static int meta_value(const char *p, size_t len, int64_t max, int64_t *out)
{
    size_t i = 0;

    return parse_num(p, len, &i, max, out) == 0 && i == len ? 0 : -1;
}

/*
 * Takes one "pf1:" part: valid text is kept, unless a different one came
 * before (then neither is used, nor any after).
 */
static void meta_done(pf_ckpt_meta *m, const char *p, size_t len,
                      bool *conflict)
{
    if (pf_ptrack_metadata_check(p, len, NULL, NULL) != 0 || *conflict) {
        m->ignored++;
        return;
    }
    if (m->done == NULL) {
        m->done = p;
        m->done_len = len;
        return;
    }
    if (m->done_len == len && memcmp(m->done, p, len) == 0)
        return; /* the same again: no doubt */
    *conflict = true;
    m->done = NULL;
    m->done_len = 0;
    m->ignored += 2;
}

int pf_ckpt_meta_parse(const char *text, size_t len, pf_ckpt_meta *out)
{
    const char *part, *semi, *eq;
    bool conflict = false;
    size_t i = 0, plen, nlen;
    int64_t v;

    *out = (pf_ckpt_meta){-1, -1, NULL, 0, 0};
    if (text == NULL || len == 0)
        return -1;
    if (len > PF_PTRACK_METADATA_MAX_LEN) {
        out->ignored = 1;
        return -1;
    }
    while (i < len) {
        part = text + i;
        semi = memchr(part, ';', len - i);
        plen = semi != NULL ? (size_t)(semi - part) : len - i;
        i += plen + (semi != NULL);
        if (plen >= PREFIX_LEN && memcmp(part, PREFIX, PREFIX_LEN) == 0) {
            meta_done(out, part, plen, &conflict);
            continue;
        }
        /* name=value; the ';' tells that the value is whole. */
        eq = memchr(part, '=', plen);
        if (semi == NULL || eq == NULL) {
            out->ignored++;
            continue;
        }
        nlen = (size_t)(eq - part);
        if (nlen == 2 && memcmp(part, "hw", 2) == 0 &&
            meta_value(eq + 1, plen - nlen - 1, PF_PTRACK_OFFSET_MAX, &v) ==
                0) {
            if (v > out->hw)
                out->hw = v;
        } else if (nlen == 1 && part[0] == 's' &&
                   meta_value(eq + 1, plen - nlen - 1, INT64_MAX, &v) == 0) {
            if (v > out->settle_wall_ms)
                out->settle_wall_ms = v;
        } else {
            out->ignored++; /* unknown, or a malformed hw or s */
        }
    }
    return out->hw >= 0 || out->settle_wall_ms >= 0 || out->done != NULL ? 0
                                                                         : -1;
}

/*
 * The highest done offset above the position, -1 none: the last
 * remembered run (every one lies above the ring's offsets), else the
 * highest done ring entry.
 */
static int64_t done_max(const pf_ptrack *t)
{
    size_t i, j;

    if (t->skip_head < t->nskip)
        return t->skip[t->nskip - 1].hi;
    for (i = t->count; i > 0; i--) {
        j = ring_at(t, i - 1);
        if (t->done[j] & F_DONE)
            return t->off[j];
    }
    return -1;
}

/* Writes "hw=" and "s=" (those >= 0) into p; returns the end. */
static char *put_parts(char *p, int64_t hw, int64_t settle_wall_ms)
{
    if (hw >= 0) {
        memcpy(p, "hw=", 3);
        p = put_num(p + 3, (uint64_t)hw);
        *p++ = ';';
    }
    if (settle_wall_ms >= 0) {
        memcpy(p, "s=", 2);
        p = put_num(p + 2, (uint64_t)settle_wall_ms);
        *p++ = ';';
    }
    *p = '\0';
    return p;
}

static size_t parts_len(int64_t hw, int64_t settle_wall_ms)
{
    return (hw >= 0 ? 4 + num_len((uint64_t)hw) : 0) +
           (settle_wall_ms >= 0 ? 3 + num_len((uint64_t)settle_wall_ms) : 0);
}

/*
 * The writer of both entries: one pass, hw and s as given. Returns the
 * length, or -1; *dropped_top: the highest done offset the tracker's part
 * left out, -1 none.
 */
static int format_meta(char *buf, size_t n, int64_t hw, int64_t settle_wall_ms,
                       const pf_ptrack *track, int64_t *dropped_top)
{
    size_t need;
    char *p;
    int rc;

    *dropped_top = -1;
    if (buf == NULL || n == 0)
        return -1;
    buf[0] = '\0';
    if (hw > PF_PTRACK_OFFSET_MAX)
        return -1;
    /* Never longer than pf_ckpt_meta_parse() reads. */
    if (n > PF_PTRACK_METADATA_MAX_LEN + 1)
        n = PF_PTRACK_METADATA_MAX_LEN + 1;
    need = parts_len(hw, settle_wall_ms);
    if (need >= n)
        return -1;
    p = put_parts(buf, hw, settle_wall_ms);
    if (track != NULL && pf_ptrack_commit_offset(track) >= 0) {
        rc = pf_ptrack_commit_metadata(track, p, n - need, NULL);
        if (rc < 0) {
            buf[0] = '\0';
            return -1;
        }
        if (rc == 1)
            *dropped_top = done_max(track);
        p += strlen(p);
    }
    return (int)(p - buf);
}

int pf_ckpt_meta_format(char *buf, size_t n, int64_t hw, int64_t settle_wall_ms,
                        const pf_ptrack *track)
{
    int64_t top;

    return format_meta(buf, n, hw, settle_wall_ms, track, &top);
}

int pf_ckpt_meta_format_covering(char *buf, size_t n, int64_t hw,
                                 int64_t settle_wall_ms, const pf_ptrack *track)
{
    int64_t top;
    int len = format_meta(buf, n, hw, settle_wall_ms, track, &top);

    /*
     * Done offsets left out are processed again by the next owner: the
     * intent must cover them, so that it looks for their flows rather
     * than creating them blindly. The second pass is final: whatever it
     * leaves out is at or below the raised hw.
     */
    if (len >= 0 && top > hw)
        len = format_meta(buf, n, top, settle_wall_ms, track, &top);
    return len;
}
