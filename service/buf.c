/* buf.c - the growable byte buffer (buf.h). */
#include "provflow/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAP 64
/* Unused bytes a taken text may keep (pf_buf_take). */
#define SLACK_MAX 64

void pf_buf_init(pf_buf *b, size_t hint, bool wipe)
{
    memset(b, 0, sizeof(*b));
    b->wipe = wipe;
    if (hint == 0)
        return;
    b->buf = malloc(hint < SIZE_MAX ? hint + 1 : hint); /* exactly: no slack */
    if (b->buf == NULL) {
        b->failed = true;
        return;
    }
    b->cap = hint < SIZE_MAX ? hint + 1 : hint;
    b->buf[0] = '\0';
}

void pf_buf_release(pf_buf *b)
{
    bool wipe = b->wipe;

    if (b->buf != NULL && wipe)
        explicit_bzero(b->buf, b->cap);
    free(b->buf);
    memset(b, 0, sizeof(*b));
    b->wipe = wipe;
}

char *pf_buf_take(pf_buf *b, size_t *len)
{
    char *text;

    if (len != NULL)
        *len = 0;
    if (b->failed || (b->buf == NULL && !pf_buf_grow(b, 0))) {
        pf_buf_release(b);
        return NULL;
    }
    text = b->buf;
    /*
     * Shrunk to fit: a request's text or an outcome is held until it is
     * sent or delivered, thousands at once, and the doubling left up to
     * half of each unused. A wiped buffer is never moved (pf_buf_grow).
     */
    if (!b->wipe && b->cap - b->len > SLACK_MAX) {
        char *fit = realloc(text, b->len + 1);

        if (fit != NULL)
            text = fit;
    }
    if (len != NULL)
        *len = b->len;
    b->buf = NULL;
    b->len = b->cap = 0;
    return text;
}

bool pf_buf_grow(pf_buf *b, size_t n)
{
    size_t cap = b->cap > 0 ? b->cap : FIRST_CAP;
    char *grown;

    if (b->failed)
        return false;
    if (b->buf != NULL && n < b->cap - b->len)
        return true;
    while (n >= cap - b->len) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    if (b->wipe) {
        /* Never realloc: it could leave a copy behind unwiped. */
        grown = malloc(cap);
        if (grown != NULL && b->buf != NULL) {
            memcpy(grown, b->buf, b->len);
            explicit_bzero(b->buf, b->cap);
            free(b->buf);
        }
    } else {
        grown = realloc(b->buf, cap);
    }
    if (grown == NULL) {
        b->failed = true;
        return false;
    }
    b->buf = grown;
    b->cap = cap;
    b->buf[b->len] = '\0';
    return true;
}
