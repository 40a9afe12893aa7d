/*
 * fuzz_offsets_metadata.c - libFuzzer entry point over the commit metadata
 * parser of offsets.h: the text a broker hands back for a partition, which
 * decides which records a restart skips.
 *
 * The whole input is the metadata (not NUL-terminated, as librdkafka gives
 * it). Beyond the sanitizers, each run checks the contracts:
 * - pf_ptrack_metadata_check() and pf_ptrack_new() agree on whether the
 *   metadata is valid and on the base; invalid metadata is ignored as a
 *   whole (nothing is skipped) and says why;
 * - valid metadata round-trips: the tracker writes it back canonically
 *   (never longer than the input, so nothing is dropped), and reading that
 *   back writes the very same text;
 * - receiving offsets from the base on and completing them moves the
 *   position forward, never past a pending offset;
 * - written into a small buffer, the metadata is still valid and drops
 *   only as reported.
 * A broken contract aborts, which libFuzzer reports as a crash.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provflow/offsets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Offsets received after the base in each run. */
#define RECEIVE 64

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

/* Encodes t into an exact-size heap buffer of size bytes. */
static char *encode(const pf_ptrack *t, size_t size, int *rc, uint64_t *dropped)
{
    char *buf = malloc(size);

    check(buf != NULL);
    *rc = pf_ptrack_commit_metadata(t, buf, size, dropped);
    check(strlen(buf) < size);
    return buf;
}

/*
 * Receives up to RECEIVE offsets from the base on (fewer near the top of
 * the range), completing every other one, then the rest.
 */
static void drive(pf_ptrack *t, int64_t base)
{
    int64_t n, o, pos, prev = pf_ptrack_commit_offset(t);
    int rc;

    n = base > PF_PTRACK_OFFSET_MAX - RECEIVE ? PF_PTRACK_OFFSET_MAX - base + 1
                                              : RECEIVE;
    for (o = base; o < base + n; o++) {
        rc = pf_ptrack_received(t, o);
        check(rc == PF_PTRACK_PROCESS || rc == PF_PTRACK_SKIP);
        if (rc == PF_PTRACK_PROCESS && (o & 1) == 1)
            check(pf_ptrack_done(t, o) == 0);
        check(pf_ptrack_received(t, o) == PF_PTRACK_ERR_INVALID);
        pos = pf_ptrack_commit_offset(t);
        check(pos >= prev && pos >= base);
        prev = pos;
    }
    for (o = base; o < base + n; o++)
        (void)pf_ptrack_done(t, o);
    /* Nothing pending: the position is past everything received. */
    check(pf_ptrack_pending(t) == 0);
    check(pf_ptrack_commit_offset(t) >= base + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *m = copy(data, size), *enc1, *enc2, *small;
    const char *why = NULL;
    pf_ptrack *t, *t2;
    int64_t base = 0, b2;
    uint64_t dropped;
    size_t small_size;
    int rc;
    bool valid;

    valid = pf_ptrack_metadata_check(m, size, &base, &why) == 0;
    check(valid ? why == NULL && base >= 0 : why != NULL && base == -1);

    if (!valid) {
        /* Ignored as a whole: nothing is skipped from 100 on. */
        t = pf_ptrack_new(100, m, size);
        check(t != NULL);
        check(size == 0 || pf_ptrack_metadata_error(t) != NULL);
        for (b2 = 100; b2 < 100 + RECEIVE; b2++)
            check(pf_ptrack_received(t, b2) == PF_PTRACK_PROCESS);
        pf_ptrack_destroy(t);
        free(m);
        return 0;
    }

    t = pf_ptrack_new(base, m, size);
    check(t != NULL && pf_ptrack_metadata_error(t) == NULL);
    check(pf_ptrack_commit_offset(t) == base && !pf_ptrack_dirty(t));
    /* Another base: ignored. */
    t2 = pf_ptrack_new(base == 0 ? 1 : base - 1, m, size);
    check(t2 != NULL && pf_ptrack_metadata_error(t2) != NULL);
    pf_ptrack_destroy(t2);

    /* Canonical round trip, never longer than the input. */
    enc1 = encode(t, size + 1, &rc, &dropped);
    check(rc == 0 && dropped == 0);
    check(pf_ptrack_metadata_check(enc1, strlen(enc1), &b2, NULL) == 0);
    check(b2 == base);
    t2 = pf_ptrack_new(base, enc1, strlen(enc1));
    check(t2 != NULL && pf_ptrack_metadata_error(t2) == NULL);
    enc2 = encode(t2, size + 1, &rc, &dropped);
    check(rc == 0 && strcmp(enc1, enc2) == 0);
    free(enc2);

    /* A small buffer: still valid, drops only as reported. */
    small_size = PF_PTRACK_METADATA_MIN_SIZE + (size > 0 ? data[0] % 64 : 0);
    small = encode(t2, small_size, &rc, &dropped);
    check(rc == 0 || rc == 1);
    check((rc == 1) == (dropped > 0));
    check(rc == 1 || strcmp(small, enc1) == 0);
    check(pf_ptrack_metadata_check(small, strlen(small), &b2, NULL) == 0);
    check(b2 == base);
    free(small);
    pf_ptrack_destroy(t2);

    drive(t, base);
    enc2 = encode(t, PF_PTRACK_METADATA_SIZE_DEFAULT, &rc, &dropped);
    check(rc == 0 || rc == 1);
    check(pf_ptrack_metadata_check(enc2, strlen(enc2), &b2, NULL) == 0);
    check(b2 == pf_ptrack_commit_offset(t));
    free(enc2);

    free(enc1);
    pf_ptrack_destroy(t);
    free(m);
    return 0;
}
