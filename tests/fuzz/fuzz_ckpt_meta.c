/*
 * fuzz_ckpt_meta.c - libFuzzer entry point over the whole commit metadata
 * of offsets.h (pf_ckpt_meta_parse(), pf_ckpt_meta_format()): the text a
 * broker hands back for a partition, which says which records may have
 * been sent (hw=), when a hand-off's creates land (s=) and which records
 * are done (pf1:).
 *
 * The whole input is the metadata (not NUL-terminated, as librdkafka gives
 * it). Beyond the sanitizers, each run checks the contracts:
 * - the result is within range, the tracker's part points into the input
 *   and is valid pf1 text; 0 is returned exactly when something is usable;
 * - what was read, written again (with a tracker built from the pf1 part)
 *   and read back, gives the same values, with nothing ignored; written
 *   once more, the very same text (a fixed point);
 * - written into a small buffer, the hw and s parts are kept whole and the
 *   tracker's part keeps its position.
 * A broken contract aborts, which libFuzzer reports as a crash.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provflow/offsets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

/* An exact-size heap copy: reading past `len` is caught by ASan. */
static char *copy(const uint8_t *p, size_t len)
{
    char *out = malloc(len > 0 ? len : 1);

    check(out != NULL);
    if (len > 0)
        memcpy(out, p, len);
    return out;
}

static bool same(const pf_ckpt_meta *a, const pf_ckpt_meta *b)
{
    return a->hw == b->hw && a->settle_wall_ms == b->settle_wall_ms &&
           (a->done == NULL) == (b->done == NULL);
}

/* Writes m (its tracker: t) into an exact-size buffer of n bytes. */
static char *format(const pf_ckpt_meta *m, const pf_ptrack *t, size_t n,
                    int *len)
{
    char *buf = malloc(n);

    check(buf != NULL);
    *len = pf_ckpt_meta_format(buf, n, m->hw, m->settle_wall_ms, t);
    check(*len >= 0 && (size_t)*len == strlen(buf) && (size_t)*len < n);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = copy(data, size), *out, *out2, *small;
    pf_ckpt_meta a, b, c;
    pf_ptrack *t = NULL, *t2 = NULL;
    int64_t base = -1, base2;
    size_t n, small_n;
    int rc, len, len2, small_len;

    rc = pf_ckpt_meta_parse(text, size, &a);
    check(a.hw >= -1 && a.hw <= PF_PTRACK_OFFSET_MAX);
    check(a.settle_wall_ms >= -1);
    check((rc == 0) == (a.hw >= 0 || a.settle_wall_ms >= 0 || a.done != NULL));
    check(rc == 0 || rc == -1);
    if (a.done != NULL) {
        check(a.done >= text && a.done_len <= size &&
              a.done + a.done_len <= text + size);
        check(pf_ptrack_metadata_check(a.done, a.done_len, &base, NULL) == 0);
        t = pf_ptrack_new(base, a.done, a.done_len);
        check(t != NULL && pf_ptrack_metadata_error(t) == NULL);
    } else {
        check(a.done_len == 0);
    }

    /*
     * Every part is written canonically, never longer than it was read,
     * so the input's length plus the header room always suffices.
     */
    n = size + PF_CKPT_META_MIN_SIZE;
    out = format(&a, t, n, &len);
    check(pf_ckpt_meta_parse(out, (size_t)len, &b) == rc);
    check(same(&a, &b) && b.ignored == 0);
    if (b.done != NULL) {
        check(pf_ptrack_metadata_check(b.done, b.done_len, &base2, NULL) == 0);
        check(base2 == base);
        t2 = pf_ptrack_new(base, b.done, b.done_len);
        check(t2 != NULL && pf_ptrack_metadata_error(t2) == NULL);
    }
    out2 = format(&b, t2, n, &len2);
    check(len2 == len && memcmp(out, out2, (size_t)len) == 0);

    /* A small buffer: hw and s whole, the tracker's part shrunk. */
    small_n = PF_CKPT_META_MIN_SIZE + (size > 0 ? data[0] % 32 : 0);
    small = format(&a, t, small_n, &small_len);
    check(pf_ckpt_meta_parse(small, (size_t)small_len, &c) == rc);
    check(same(&a, &c) && c.ignored == 0);
    if (c.done != NULL) {
        check(pf_ptrack_metadata_check(c.done, c.done_len, &base2, NULL) == 0);
        check(base2 == base);
    }

    free(small);
    free(out2);
    free(out);
    pf_ptrack_destroy(t2);
    pf_ptrack_destroy(t);
    free(text);
    return 0;
}
