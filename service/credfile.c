/*
 * credfile.c - a credential's files, read again when they change
 * (credfile.h).
 */
#include "provflow/credfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provflow/fileio.h"

struct pf_credfile {
    /* The spec, copied. */
    char *secret_file, *certificate_path, *password, *password_file;
    bool send_chain;
    /* What is in use, from the last good read. */
    char *secret;
    pf_jwt_signer *signer;
    /* The files as they were at the last good read. */
    pf_file_id secret_id, cert_id, password_id;
};

static void wipe_free(char *s)
{
    if (s == NULL)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

void pf_credfile_destroy(pf_credfile *c)
{
    if (c == NULL)
        return;
    wipe_free(c->secret);
    wipe_free(c->password);
    pf_jwt_signer_destroy(c->signer);
    free(c->secret_file);
    free(c->certificate_path);
    free(c->password_file);
    free(c);
}

static int dup_opt(char **dst, const char *src)
{
    if (src == NULL)
        return 0;
    *dst = strdup(src);
    return *dst != NULL ? 0 : -1;
}

/* The ids of c's files; -1 with the failing file named in errstr. */
static int ids_of(const pf_credfile *c, pf_file_id *secret, pf_file_id *cert,
                  pf_file_id *password, char *errstr, size_t errstr_size)
{
    static const pf_file_id none;
    const char *failed = NULL;

    *secret = *cert = *password = none;
    if (c->secret_file != NULL && pf_file_id_of(c->secret_file, secret) != 0)
        failed = c->secret_file;
    else if (c->certificate_path != NULL &&
             pf_file_id_of(c->certificate_path, cert) != 0)
        failed = c->certificate_path;
    else if (c->password_file != NULL &&
             pf_file_id_of(c->password_file, password) != 0)
        failed = c->password_file;
    if (failed == NULL)
        return 0;
    snprintf(errstr, errstr_size, "%s %.200s: %s",
             failed == c->secret_file     ? "client secret file"
             : failed == c->password_file ? "certificate password file"
                                          : "certificate file",
             failed, strerror(errno));
    return -1;
}

/*
 * Reads the credential from the files into *secret or *signer (new
 * objects); -1 with a reason.
 */
static int load(const pf_credfile *c, char **secret, pf_jwt_signer **signer,
                char *errstr, size_t errstr_size)
{
    char what[240], *password = NULL;
    pf_jwt_load_opts opts = {c->password, c->send_chain};

    *secret = NULL;
    *signer = NULL;
    if (c->secret_file != NULL) {
        snprintf(what, sizeof(what), "client secret file %.200s",
                 c->secret_file);
        return pf_file_read_secret(c->secret_file, what, PF_CREDFILE_SECRET_MAX,
                                   secret, errstr, errstr_size) == PF_FILE_OK
                   ? 0
                   : -1;
    }
    if (c->password_file != NULL) {
        snprintf(what, sizeof(what), "certificate password file %.200s",
                 c->password_file);
        if (pf_file_read_secret(c->password_file, what, PF_CREDFILE_SECRET_MAX,
                                &password, errstr, errstr_size) != PF_FILE_OK)
            return -1;
        opts.password = password;
    }
    *signer =
        pf_jwt_signer_load(c->certificate_path, &opts, errstr, errstr_size);
    wipe_free(password);
    return *signer != NULL ? 0 : -1;
}

pf_credfile *pf_credfile_new(const pf_credfile_spec *spec, char *errstr,
                             size_t errstr_size)
{
    bool secret = spec->secret != NULL || spec->secret_file != NULL;
    pf_credfile *c;

    if (secret == (spec->certificate_path != NULL)) {
        snprintf(errstr, errstr_size,
                 secret ? "both a client secret and a certificate"
                        : "neither a client secret nor a certificate");
        return NULL;
    }
    if ((spec->secret != NULL && spec->secret_file != NULL) ||
        (spec->password != NULL && spec->password_file != NULL)) {
        snprintf(errstr, errstr_size,
                 "a secret given both as a value and as a file");
        return NULL;
    }
    if (secret && (spec->password != NULL || spec->password_file != NULL ||
                   spec->send_chain)) {
        snprintf(errstr, errstr_size,
                 "a certificate password or chain without a certificate");
        return NULL;
    }
    if (spec->secret != NULL && spec->secret[0] == '\0') {
        snprintf(errstr, errstr_size, "the client secret is empty");
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL || dup_opt(&c->secret_file, spec->secret_file) < 0 ||
        dup_opt(&c->certificate_path, spec->certificate_path) < 0 ||
        dup_opt(&c->password, spec->password) < 0 ||
        dup_opt(&c->password_file, spec->password_file) < 0 ||
        dup_opt(&c->secret, spec->secret) < 0) {
        snprintf(errstr, errstr_size, "out of memory");
        pf_credfile_destroy(c);
        return NULL;
    }
    c->send_chain = spec->send_chain;
    if (spec->secret == NULL &&
        pf_credfile_refresh(c, true, errstr, errstr_size) < 0) {
        pf_credfile_destroy(c);
        return NULL;
    }
    return c;
}

/* Whether the new signer differs from the old: thumbprint and chain. */
static bool signer_differs(const pf_jwt_signer *a, const pf_jwt_signer *b)
{
    return a == NULL ||
           strcmp(pf_jwt_signer_thumbprint(a), pf_jwt_signer_thumbprint(b)) !=
               0 ||
           pf_jwt_signer_chain_length(a) != pf_jwt_signer_chain_length(b);
}

int pf_credfile_refresh(pf_credfile *c, bool force, char *errstr,
                        size_t errstr_size)
{
    pf_file_id secret_id, cert_id, password_id;
    pf_jwt_signer *signer;
    char *secret;
    bool changed;

    if (c->secret_file == NULL && c->certificate_path == NULL)
        return 0; /* a fixed secret */
    /* The ids are taken before reading: a change during the read is
     * seen by the next refresh. */
    if (ids_of(c, &secret_id, &cert_id, &password_id, errstr, errstr_size) < 0)
        return -1;
    if (!force && (c->secret != NULL || c->signer != NULL) &&
        pf_file_id_equal(&secret_id, &c->secret_id) &&
        pf_file_id_equal(&cert_id, &c->cert_id) &&
        pf_file_id_equal(&password_id, &c->password_id))
        return 0;
    if (load(c, &secret, &signer, errstr, errstr_size) < 0)
        return -1; /* the ids stay: the next refresh reads again */
    if (secret != NULL) {
        changed = c->secret == NULL || strcmp(secret, c->secret) != 0;
        wipe_free(c->secret);
        c->secret = secret;
    } else {
        changed = signer_differs(c->signer, signer);
        pf_jwt_signer_destroy(c->signer);
        c->signer = signer;
    }
    c->secret_id = secret_id;
    c->cert_id = cert_id;
    c->password_id = password_id;
    return changed ? 1 : 0;
}

const char *pf_credfile_secret(const pf_credfile *c)
{
    return c->secret;
}

const pf_jwt_signer *pf_credfile_signer(const pf_credfile *c)
{
    return c->signer;
}

const char *pf_credfile_path(const pf_credfile *c)
{
    return c->secret_file != NULL        ? c->secret_file
           : c->certificate_path != NULL ? c->certificate_path
                                         : "";
}
