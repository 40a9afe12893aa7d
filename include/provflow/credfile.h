/*
 * credfile.h - a credential's secret material kept in files, read again
 * when a file changes (docs/configuration.md, "Rotation").
 *
 * One credential: a client secret (a fixed value, or a file holding it),
 * or a certificate file (PEM or PKCS #12, jwt.h) with its password (none,
 * a fixed value, or a file holding it). pf_credfile_refresh() looks at
 * the files with stat() only, and reads them again when one of them was
 * replaced or rewritten (device, inode, size or modification time
 * differ: fileio.h's pf_file_id), or always when asked to (the token
 * endpoint refused the credential). A read that fails keeps the last good
 * credential in use: a half-written or missing file during a rotation
 * never stops the service, and the next refresh tries again.
 *
 * Messages name the file and say why; they never hold a secret, a
 * password or the file's content. Secrets are wiped before they are
 * freed.
 *
 * Thread: one thread at a time (provflow's loop). Files are read with a
 * limit and never block (fileio.h).
 */
#ifndef PROVFLOW_CREDFILE_H
#define PROVFLOW_CREDFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "provflow/jwt.h"

/* The largest client secret or password file read, in bytes. */
#define PF_CREDFILE_SECRET_MAX 4096

/* What to load. Strings are borrowed for pf_credfile_new() and copied. */
typedef struct pf_credfile_spec {
    /* A client secret: exactly one of these two. */
    const char *secret;      /* the value itself: never re-read */
    const char *secret_file; /* a file holding it, re-read on change */
    /* Or a certificate (then both of the above are NULL). */
    const char *certificate_path; /* PEM or PKCS #12 */
    const char *password;         /* its password; at most one of these */
    const char *password_file;    /* two; none: the file has none */
    bool send_chain;              /* x5c in every assertion (jwt.h) */
} pf_credfile_spec;

typedef struct pf_credfile pf_credfile;

/*
 * Reads the credential at once, so that a bad one is a configuration
 * error at start. Returns NULL with a reason in errstr: nothing to load,
 * both a secret and a certificate, both forms of one secret, a file that
 * cannot be read or is empty, a certificate file jwt.h refuses (wrong
 * password, no private key, no certificate matching it, ...). The caller
 * destroys the result with pf_credfile_destroy().
 */
pf_credfile *pf_credfile_new(const pf_credfile_spec *spec, char *errstr,
                             size_t errstr_size);

/* Wipes and frees. NULL is fine. */
void pf_credfile_destroy(pf_credfile *c);

/*
 * Reads the files again if one of them changed since the last good read,
 * or in any case when force is true. A credential with no file (a fixed
 * secret) never changes. Returns 1 when the credential in use changed (a
 * different secret; a certificate with another thumbprint or chain), 0
 * when it did not (nothing changed, or the files changed to the same
 * credential), -1 when reading failed: the last good credential stays in
 * use and errstr says why.
 */
int pf_credfile_refresh(pf_credfile *c, bool force, char *errstr,
                        size_t errstr_size);

/*
 * The client secret in use, or NULL for a certificate. Owned by c, valid
 * until the next pf_credfile_refresh() or pf_credfile_destroy().
 */
const char *pf_credfile_secret(const pf_credfile *c);

/*
 * The certificate's signer in use, or NULL for a client secret. Owned by
 * c, valid until the next pf_credfile_refresh() or pf_credfile_destroy().
 */
const pf_jwt_signer *pf_credfile_signer(const pf_credfile *c);

/* The file a refresh watches first ("" for a fixed secret), for logs. */
const char *pf_credfile_path(const pf_credfile *c);

#endif /* PROVFLOW_CREDFILE_H */
