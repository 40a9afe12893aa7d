/*
 * error.h - a precise, bounded error: machine code, JSON path, reason.
 *
 * Errors that describe outside input (an event, a Graph response) carry the
 * JSON path of the offending value, relative to the event's root, written as
 * `data.flow.configuration.enrollmentMappings.ownerEnrollmentMappings[2].code`.
 * The whole value is "$". Buffers are fixed-size so that filling an error
 * never allocates; over-long text is truncated, never overflowed.
 */
#ifndef PROVFLOW_ERROR_H
#define PROVFLOW_ERROR_H

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
 * Sets all three fields. path may be NULL (stored as ""). Returns -1 so that
 * callers can write `return pf_error_set(...)`. err may be NULL, in which
 * case only -1 is returned.
 */
int pf_error_set(pf_error *err, const char *code, const char *path,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * A JSON path under construction: segments are appended while walking a
 * document and dropped again on the way back up, without allocating.
 * A path that would not fit is kept truncated and marked with "...".
 */
typedef struct pf_path {
    char buf[PF_PATH_MAX];
    size_t len;
} pf_path;

/* Starts an empty path (the root, printed as "$"). */
void pf_path_init(pf_path *p);

/* Appends ".name" (or "name" at the root); returns the length to restore. */
size_t pf_path_push_key(pf_path *p, const char *name);

/* Appends "[index]"; returns the length to restore. */
size_t pf_path_push_index(pf_path *p, size_t index);

/* Restores the path to a length returned by a push. */
void pf_path_pop(pf_path *p, size_t len);

/* The path as text: "$" for the root. Valid until the next change. */
const char *pf_path_str(const pf_path *p);

#endif /* PROVFLOW_ERROR_H */
