/*
 * error.h - a precise, bounded error: machine code, JSON path, reason.
 *
 * Errors that describe outside input (an event, a Graph response) carry the
 * JSON path of the offending value, relative to the event's root, written as
 * `data.flow.configuration.enrollmentMappings.ownerEnrollmentMappings[2].code`.
 * The whole value is "$". Buffers are fixed-size so that filling an error
 * never allocates; over-long text is truncated, never overflowed.
 *
 * The three fields are always well-formed text, whatever the input they
 * quote: valid UTF-8 (a byte that is not becomes U+FFFD), cut only between
 * characters and then ending in "...", and without terminal controls: C0
 * controls, DEL and C1 controls are written as JSON escapes ("\n", "\r",
 * "\t", "\u001b", "\u009b"), so no raw CR, LF or ESC reaches a log or a
 * terminal. Backslashes are kept as they are, so cleaning twice changes
 * nothing.
 */
#ifndef PROVFLOW_ERROR_H
#define PROVFLOW_ERROR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define PF_ERROR_CODE_MAX    32
#define PF_PATH_MAX          256
#define PF_ERROR_MESSAGE_MAX 320

typedef struct pf_error {
    char code[PF_ERROR_CODE_MAX];       /* e.g. "invalid_event"; "" = none */
    char path[PF_PATH_MAX];             /* JSON path; "" when not about input */
    char message[PF_ERROR_MESSAGE_MAX]; /* human-readable reason, no path */
} pf_error;

/* Clears err (err may be NULL). */
void pf_error_clear(pf_error *err);

/*
 * Sets all three fields, made well-formed (above). path may be NULL (stored
 * as ""); the arguments may point into err. Returns -1 so that callers can
 * write `return pf_error_set(...)`. err may be NULL, in which case only -1
 * is returned.
 */
int pf_error_set(pf_error *err, const char *code, const char *path,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* pf_error_set() with a va_list, for wrappers. */
int pf_error_vset(pf_error *err, const char *code, const char *path,
                  const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/*
 * Copies text taken from input (NULL: "") into dst, size bytes, made
 * well-formed as an error's fields are, and cut to fit with "..." (size
 * >= 4 for the "..." to show). Returns dst, for use as an argument:
 *   char q[67];
 *   pf_error_set(err, code, path, "\"%s\" is not a flow type",
 *                pf_error_excerpt(q, sizeof(q), value));
 * A "%.64s" would cut inside a character and pass controls through.
 */
const char *pf_error_excerpt(char *dst, size_t size, const char *text);

/*
 * A JSON path under construction: segments are appended while walking a
 * document and dropped again on the way back up, without allocating.
 * A path that would not fit is cut at a character boundary and ends in
 * "..." (at most PF_PATH_MAX - 1 bytes in all) until the segment that did
 * not fit is popped again. Segments are kept as given; pf_error_set()
 * escapes the controls a key may hold.
 */
typedef struct pf_path {
    char buf[PF_PATH_MAX];
    size_t len; /* bytes before the "..." */
    bool cut;   /* "..." follows */
} pf_path;

/* Starts an empty path (the root, printed as "$"). */
void pf_path_init(pf_path *p);

/*
 * Appends ".name" (or "name" at the root); returns a mark of the path
 * before, for pf_path_pop().
 */
size_t pf_path_push_key(pf_path *p, const char *name);

/* Appends "[index]"; returns a mark for pf_path_pop(). */
size_t pf_path_push_index(pf_path *p, size_t index);

/* Restores the path to what it was when a push returned mark. */
void pf_path_pop(pf_path *p, size_t mark);

/* The path as text: "$" for the root. Valid until the next change. */
const char *pf_path_str(const pf_path *p);

#endif /* PROVFLOW_ERROR_H */
