/*
 * redact.h - secrets masked by value, in every form they can take in text.
 *
 * A secret that a server echoes back (a token endpoint's error text that
 * quotes the request form, a Graph 400 that quotes the request body) does
 * not come back as it was sent: the form encodes it
 * (application/x-www-form-urlencoded: '+' for a space, %XX for the rest,
 * in upper or lower hex, with whichever characters the encoder chose to
 * keep), the body JSON-escapes it (\", \\, \/, \n, \uXXXX with either hex
 * case, surrogate pairs), and a JSON text quoted inside a JSON string is
 * escaped twice, and a JSON body may come back URL-encoded. So the search
 * runs over the text as it is and over its decodings: %XX and '+' as a
 * space, %XX alone, JSON escapes of each of these three, and JSON escapes
 * twice. A secret found in a decoding has the whole stretch of the
 * original text that decodes to it replaced by PF_REDACT_MASK. Mixed forms
 * in one occurrence (half escaped, half encoded) are not looked for.
 *
 * Two sources of values:
 *   - the registry: secrets of the process (the client secret, Kafka
 *     passwords), registered once with pf_redact_add() (pf_log_secret()
 *     does it); applied to every text, log lines included;
 *   - per request: the passwords of one request body, passed with each
 *     call (pf_redact_with); pf_redact_collect() finds them.
 *
 * Thread: the registry is written before threads that log start (as
 * log.h says) and only read afterwards; everything else is pure.
 */
#ifndef PROVFLOW_REDACT_H
#define PROVFLOW_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define PF_REDACT_MASK "***"

/* Registered secrets shorter than this are refused (too common). */
#define PF_REDACT_SECRET_MIN  4
#define PF_REDACT_SECRETS_MAX 64

/*
 * Values to mask on top of the registry, all borrowed. Every non-empty
 * value counts, however short: a password is masked even when that makes
 * the text hard to read.
 */
typedef struct pf_redact_with {
    const char *const *values; /* count strings; NULL entries are skipped */
    size_t count;
    /*
     * A request body: every string under a member named "password" (any
     * letter case), at any depth, is masked too (pf_redact_collect()'s
     * rule). NULL: none.
     */
    const json_t *body;
} pf_redact_with;

/*
 * Registers a secret (copied) for every later call. Returns 0, also for a
 * secret that is NULL, shorter than PF_REDACT_SECRET_MIN (ignored) or
 * registered already; -1 when the table is full or memory runs out.
 */
int pf_redact_add(const char *secret);

/* Forgets every registered secret (the copies are wiped). */
void pf_redact_forget(void);

/*
 * Masks the registered secrets and those of with (NULL: none) in
 * text[0..len) (not NUL-terminated necessarily). Returns 0 when nothing
 * was found (*out NULL: use text as it is); 1 with the masked text in *out
 * (NUL-terminated, the caller frees it) and its length in *out_len; -1
 * when memory ran out (*out NULL): the caller must not print text then.
 */
int pf_redact(const char *text, size_t len, const pf_redact_with *with,
              char **out, size_t *out_len);

/*
 * pf_redact() in place: buf holds a NUL-terminated text and has size
 * bytes. The masked text is cut to fit, on a UTF-8 character boundary; if
 * memory runs out, buf becomes PF_REDACT_MASK. Returns the new length.
 */
size_t pf_redact_buf(char *buf, size_t size, const pf_redact_with *with);

/*
 * Copies src[0..len) to dst (dst_size >= 1, NUL-terminated) with control
 * characters escaped, so that text from a server cannot move a terminal's
 * cursor, start an escape sequence or split a line: C0 controls and DEL
 * as \n, \r, \t or \xHH, C1 controls (U+0080..U+009F) as \u00HH; every
 * other byte as it is. Stops before an escape or a UTF-8 character that
 * would not fit. Returns the bytes written.
 */
size_t pf_redact_controls(char *dst, size_t dst_size, const char *src,
                          size_t len);

/*
 * For a line of text that goes to a terminal or an HTTP body outside the
 * JSON paths (stderr messages, /readyz reasons): masks the registered
 * secrets and escapes control characters, in place, cut to size.
 */
void pf_redact_line(char *buf, size_t size);

/*
 * The passwords of a request body: every string under a member named
 * "password" (any letter case), at any depth (a string value, or each
 * string inside an object or array value). Up to max pointers into body
 * (borrowed: valid while body is) are stored in out, distinct values once.
 * Returns how many distinct values there are, which may exceed max.
 */
size_t pf_redact_collect(const json_t *body, const char **out, size_t max);

#endif /* PROVFLOW_REDACT_H */
