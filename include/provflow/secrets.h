/*
 * secrets.h - named secrets from a directory (a Kubernetes Secret volume).
 *
 * An event may name a secret ("defaultPasswordSecret": "staff-initial")
 * instead of carrying a password. Names must match
 * [a-z0-9][a-z0-9._-]{0,63}, so an event can only ever name a file directly
 * inside the configured directory. Files may be symbolic links (Kubernetes
 * mounts them that way); a secret's value is the file's content without one
 * trailing newline ("\n" or "\r\n"), at most PF_SECRET_MAX bytes, non-empty.
 * A name that is not a regular file (a FIFO, a directory, a device) is
 * refused at once, without blocking (fileio.h).
 */
#ifndef PROVFLOW_SECRETS_H
#define PROVFLOW_SECRETS_H

#include <stddef.h>

#define PF_SECRET_NAME_MAX 64
#define PF_SECRET_MAX      4096

typedef struct pf_secrets pf_secrets;

/* 1 if name obeys the name rule above, else 0. name may be NULL. */
int pf_secret_name_valid(const char *name);

/*
 * Opens the directory `dir`. Returns NULL with a message in errstr if it is
 * not a readable directory. The caller destroys the result.
 */
pf_secrets *pf_secrets_new(const char *dir, char *errstr, size_t errstr_size);

void pf_secrets_destroy(pf_secrets *s);

/*
 * Reads secret `name`. On success returns 0 and stores a NUL-terminated,
 * heap-allocated copy in *value, which the caller frees with
 * pf_secret_free(). On failure returns -1 and writes a reason that never
 * contains the secret's content into errstr.
 */
int pf_secrets_read(const pf_secrets *s, const char *name, char **value,
                    char *errstr, size_t errstr_size);

/* Wipes and frees a value returned by pf_secrets_read(). NULL is fine. */
void pf_secret_free(char *value);

#endif /* PROVFLOW_SECRETS_H */
