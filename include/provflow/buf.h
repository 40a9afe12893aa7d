/*
 * buf.h - the one growable byte buffer: text built by appending (JSON
 * writer, metrics page, HTTP response body, token request form).
 *
 * The bytes are buf[0 .. len), always followed by a NUL once anything was
 * allocated, so the text may be used as a C string. Growth doubles the
 * capacity. Running out of memory (or of size_t) does not fail the
 * appends one by one: the buffer is marked failed, later appends do
 * nothing, and the owner checks `failed` once at the end.
 *
 * A buffer that may hold a credential is made with `wipe` set: storage it
 * leaves behind (when it grows, and at release) is zeroed first.
 *
 * Plain data, embedded by its owner; one thread at a time.
 */
#ifndef PROVFLOW_BUF_H
#define PROVFLOW_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct pf_buf {
    char *buf; /* NULL until the first allocation */
    size_t len, cap;
    bool failed; /* an append ran out of memory: the content is cut */
    bool wipe;   /* zero storage before it is freed */
} pf_buf;

/*
 * An empty buffer; hint > 0 allocates about that much at once (a failure
 * marks it failed). wipe: see above.
 */
void pf_buf_init(pf_buf *b, size_t hint, bool wipe);

/* Frees the storage (wiped first if asked); the buffer is empty again. */
void pf_buf_release(pf_buf *b);

/*
 * The text, now the caller's (free(); "" when nothing was appended), its
 * length in *len when len is not NULL, its storage shrunk to fit (unless
 * the buffer wipes); the buffer is empty again. NULL when an append failed
 * (the storage is released).
 */
char *pf_buf_take(pf_buf *b, size_t *len);

/* Grows for n more bytes and the NUL; false when the buffer failed. */
bool pf_buf_grow(pf_buf *b, size_t n);

/* The appends are inline: the JSON writer calls them for every token. */

/* Room for n more bytes and the NUL: at once when there is (the hot path). */
static inline bool pf_buf_reserve(pf_buf *b, size_t n)
{
    if (!b->failed && b->buf != NULL && n < b->cap - b->len)
        return true;
    return pf_buf_grow(b, n);
}

static inline void pf_buf_add(pf_buf *b, const void *data, size_t n)
{
    if (!pf_buf_reserve(b, n))
        return;
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static inline void pf_buf_adds(pf_buf *b, const char *s)
{
    pf_buf_add(b, s, strlen(s));
}

static inline void pf_buf_addc(pf_buf *b, char c)
{
    if (pf_buf_reserve(b, 1)) {
        b->buf[b->len++] = c;
        b->buf[b->len] = '\0';
    }
}

#endif /* PROVFLOW_BUF_H */
