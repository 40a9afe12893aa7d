/*
 * json.h - JSON on the hot path: a compact writer, a copy of JSON text
 * without a tree, and a parser for the common case. jansson stays the
 * reference: every function here gives what jansson would, and hands to
 * jansson whatever it does not handle itself.
 *
 * The writer (pf_jsonw): the request body and the outcome record are
 * written here instead of through json_dumps(), which checks every
 * container for loops (a printf and a hash insert each) and copies its
 * result once more, and instead of building a jansson tree first. The
 * output is byte-identical to json_dumps(v, JSON_COMPACT) for the same
 * value (insertion order, the same escapes, reals as "%.17g").
 *
 * Usage: pf_jsonw_init(), any number of writes, pf_jsonw_finish() (or
 * pf_jsonw_release() to drop the text). A write that runs out of memory
 * marks the writer failed; later writes do nothing and finish returns
 * NULL, so callers check once at the end. Commas are written for the
 * caller: before a key or an array element that is not the first.
 */
#ifndef PROVFLOW_JSON_H
#define PROVFLOW_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "provflow/buf.h"

/* A writer is a growable buffer (buf.h): buf, len, failed. */
typedef pf_buf pf_jsonw;

/* Flags of pf_jsonw_value(). */
#define PF_JSONW_MASK_SECRETS 0x1 /* every "password" member is "***" */

/* An empty writer that first allocates about `hint` bytes. */
void pf_jsonw_init(pf_jsonw *w, size_t hint);

/* Frees the text; the writer may be initialised again. */
void pf_jsonw_release(pf_jsonw *w);

/*
 * The NUL-terminated text, now the caller's (free()); its length in *len
 * when len is not NULL. NULL when a write ran out of memory (the writer is
 * then released).
 */
char *pf_jsonw_finish(pf_jsonw *w, size_t *len);

/* "{" / "[" (after a comma when it is an array element) and "}" / "]". */
void pf_jsonw_open(pf_jsonw *w, char bracket);
void pf_jsonw_close(pf_jsonw *w, char bracket);

/* A member name: `"name":`, after a comma unless it is the first. */
void pf_jsonw_key(pf_jsonw *w, const char *name);

/* Values. A string is s[0..len), which must be valid UTF-8 (jansson's
 * strings are); it is escaped as json_dumps() does. */
void pf_jsonw_string(pf_jsonw *w, const char *s, size_t len);
void pf_jsonw_cstr(pf_jsonw *w, const char *s); /* NULL writes null */
void pf_jsonw_int(pf_jsonw *w, int64_t n);
void pf_jsonw_null(pf_jsonw *w);

/* Text the caller knows to be one compact JSON value, as it is. */
void pf_jsonw_raw(pf_jsonw *w, const char *json, size_t len);

/* Any jansson value, its members in insertion order; flags as above. */
void pf_jsonw_value(pf_jsonw *w, const json_t *v, unsigned flags);

/*
 * Copies JSON text (Graph's answer, say) into the writer without building
 * a tree: checks it is one JSON object (RFC 8259, valid UTF-8), drops the
 * whitespace between tokens, and with PF_JSONW_MASK_SECRETS writes "***"
 * for every "password" member. On success, when id is not NULL, the
 * object's top-level string "id" is copied to id (NUL-terminated, "" when
 * there is none). Returns 0, or -1 with the writer unchanged: for text
 * that is not such an object, and also, to stay simple, for valid JSON it
 * does not handle (a member name with an escape, a string with \u0000,
 * more than PF_JSONW_TEXT_DEPTH levels, an integer beyond 15 digits, an id
 * longer than id_size - 1): the caller then parses it with jansson. So
 * what it accepts, jansson reads as the same value.
 */
#define PF_JSONW_TEXT_DEPTH 32
int pf_jsonw_text(pf_jsonw *w, const char *text, size_t len, unsigned flags,
                  char *id, size_t id_size);

/*
 * Length of the well-formed UTF-8 sequence at p (n > 0 bytes left), or 0:
 * no overlong forms, no surrogates, nothing above U+10FFFF (RFC 3629).
 */
size_t pf_utf8_seq(const unsigned char *p, size_t n);

/*
 * json_loadb(text, len, flags, err), faster for the common case: a
 * document whose strings and names have no escapes, within the limits of
 * pf_jsonw_text(), is built straight into a jansson tree (jansson's lexer
 * reads a byte at a time through a stream and appends every string byte to
 * a buffer); anything else, errors included, is jansson's own json_loadb(),
 * so the result and err are always what jansson gives. flags: 0 or
 * JSON_REJECT_DUPLICATES; others go to jansson directly.
 */
json_t *pf_json_parse(const char *text, size_t len, size_t flags,
                      json_error_t *err);

/* json_dumps(v, JSON_COMPACT) through the writer; NULL without memory. */
char *pf_jsonw_dump(const json_t *v, unsigned flags, size_t *len);

#endif
