/*
 * gs_util.h - small helpers of the Graph simulator: a growable byte buffer,
 * a string-keyed hash map, a seedable random generator, base64url, GUIDs,
 * timestamps and a form-body parser.
 *
 * None of these lock: the caller serialises access (see gs_server.c).
 */
#ifndef GRAPHSIM_UTIL_H
#define GRAPHSIM_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define GS_GUID_LEN 36

/* A growable buffer. After an allocation failure `oom` is set, later
 * additions are ignored and gs_buf_detach() returns NULL. */
struct gs_buf {
    char *data; /* NUL-terminated once anything was added */
    size_t len;
    size_t cap;
    bool oom;
};

void gs_buf_init(struct gs_buf *b);
void gs_buf_release(struct gs_buf *b);
/* Makes room for n more bytes, so that known sizes take one allocation. */
void gs_buf_reserve(struct gs_buf *b, size_t n);
void gs_buf_add(struct gs_buf *b, const void *p, size_t n);
void gs_buf_adds(struct gs_buf *b, const char *s);
void gs_buf_addf(struct gs_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included. */
void gs_buf_add_json_str(struct gs_buf *b, const char *s);
/* Appends v as compact JSON text. */
void gs_buf_add_json(struct gs_buf *b, const json_t *v);
/* Hands the bytes to the caller (free() them); the buffer is empty after.
 * Returns NULL after an allocation failure. An empty buffer gives "". */
char *gs_buf_detach(struct gs_buf *b, size_t *len);

/* A map from NUL-terminated strings (copied) to caller-owned pointers. */
struct gs_map;

struct gs_map *gs_map_new(void);
/* Frees the map; free_val (may be NULL) is called on every value. */
void gs_map_free(struct gs_map *m, void (*free_val)(void *));
void *gs_map_get(const struct gs_map *m, const char *key);
/* Inserts or replaces; returns 0, or -1 when out of memory. */
int gs_map_put(struct gs_map *m, const char *key, void *val);
/* Removes key and returns its value (NULL when absent). */
void *gs_map_del(struct gs_map *m, const char *key);
size_t gs_map_count(const struct gs_map *m);
/* Calls fn on every entry; fn returns true to delete the entry (after which
 * the map no longer refers to the value: fn must have taken care of it). */
void gs_map_sweep(struct gs_map *m, bool (*fn)(void *val, void *arg),
                  void *arg);

/* xoshiro256** seeded by splitmix64: reproducible for a given seed. */
struct gs_rng {
    uint64_t s[4];
};

void gs_rng_seed(struct gs_rng *r, uint64_t seed);
/* A seed from the kernel's entropy pool. */
uint64_t gs_rng_entropy(void);
uint64_t gs_rng_next(struct gs_rng *r);
/* Uniform in [0, 1). */
double gs_rng_double(struct gs_rng *r);
/* A version 4 GUID, lower case, into out (GS_GUID_LEN + 1 bytes). */
void gs_rng_guid(struct gs_rng *r, char out[GS_GUID_LEN + 1]);

/* base64url without padding. Returns the encoded length, or 0 if out (of
 * outsz bytes, NUL included) is too small. */
size_t gs_b64url_encode(const unsigned char *in, size_t n, char *out,
                        size_t outsz);
/* Decodes base64url (padding tolerated). Returns the decoded length or -1
 * on a bad character or when out is too small. */
long gs_b64url_decode(const char *in, size_t n, unsigned char *out,
                      size_t outsz);

/* Wall-clock nanoseconds since the epoch, and a monotonic clock. */
int64_t gs_now_ns(void);
int64_t gs_mono_ns(void);
/* "2024-03-22T21:28:02.7164229Z" (Graph's seven fractional digits). */
void gs_fmt_graph_time(int64_t ns, char *out, size_t outsz);
/* "2024-03-22 21:28:02Z" (the identity platform's timestamp). */
void gs_fmt_aad_time(int64_t ns, char *out, size_t outsz);

/*
 * Parses an application/x-www-form-urlencoded body into a new JSON object of
 * string values (the caller owns it). Returns NULL, with the reason in
 * errstr, on a malformed escape, a NUL byte, more than max_fields fields or
 * a repeated name.
 */
json_t *gs_form_parse(const char *body, size_t len, size_t max_fields,
                      char *errstr, size_t errsz);

/* Deepest nesting of arrays/objects in a JSON text, stopping early once
 * limit is exceeded (returns limit + 1 then). Strings are skipped. */
int gs_json_depth(const char *text, size_t len, int limit);

/* Copies src into dst (dstsz bytes), truncating; returns true when all of
 * it fit. */
bool gs_copy(char *dst, size_t dstsz, const char *src);

/* Case-insensitive ASCII prefix test. */
bool gs_prefix_ci(const char *s, const char *prefix);

/* Parses a non-negative decimal integer of at most max; -1 if invalid. */
long gs_parse_ulong(const char *s, long max);

#endif /* GRAPHSIM_UTIL_H */
