/* secrets.c - named secrets from a directory (secrets.h). */
#include "provflow/secrets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "provflow/fileio.h"

struct pf_secrets {
    char *dir;
};

int pf_secret_name_valid(const char *name)
{
    size_t i;

    if (name == NULL || name[0] == '\0')
        return 0;
    if (!((name[0] >= 'a' && name[0] <= 'z') ||
          (name[0] >= '0' && name[0] <= '9')))
        return 0;
    for (i = 1; name[i] != '\0'; i++) {
        char c = name[i];

        if (i >= PF_SECRET_NAME_MAX)
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

pf_secrets *pf_secrets_new(const char *dir, char *errstr, size_t errstr_size)
{
    struct stat st;
    pf_secrets *s;

    if (stat(dir, &st) != 0) {
        snprintf(errstr, errstr_size, "secrets directory %s: %s", dir,
                 strerror(errno));
        return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(errstr, errstr_size, "secrets directory %s: not a directory",
                 dir);
        return NULL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->dir = strdup(dir)) == NULL) {
        free(s);
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    return s;
}

void pf_secrets_destroy(pf_secrets *s)
{
    if (s == NULL)
        return;
    free(s->dir);
    free(s);
}

int pf_secrets_read(const pf_secrets *s, const char *name, char **value,
                    char *errstr, size_t errstr_size)
{
    char path[4096], what[96];
    char *buf = NULL;
    size_t len = 0, size = 0;
    int rc = -1, st;

    *value = NULL;
    if (!pf_secret_name_valid(name)) {
        snprintf(errstr, errstr_size,
                 "secret name must match [a-z0-9][a-z0-9._-]{0,63}");
        return -1;
    }
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", s->dir, name) >=
        sizeof(path)) {
        snprintf(errstr, errstr_size, "secret path too long");
        return -1;
    }
    /*
     * Read on the loop thread, from a directory others write: a FIFO or a
     * device there must fail this event, not hang the service (fileio.h).
     */
    snprintf(what, sizeof(what), "secret '%s'", name);
    st = pf_file_read(path, what, PF_SECRET_MAX, &buf, &size, errstr,
                      errstr_size);
    if (st == PF_FILE_OPEN && errno == ENOENT) {
        snprintf(errstr, errstr_size,
                 "secret '%s' does not exist in the secrets directory", name);
        return -1;
    }
    if (st != PF_FILE_OK)
        return -1;
    len = size;
    if (len > 0 && buf[len - 1] == '\n') {
        len--;
        if (len > 0 && buf[len - 1] == '\r')
            len--;
    }
    if (len == 0 || memchr(buf, '\0', len) != NULL) {
        snprintf(errstr, errstr_size, "secret '%s' is %s", name,
                 len == 0 ? "empty" : "not text");
        goto out;
    }
    *value = malloc(len + 1);
    if (*value == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    memcpy(*value, buf, len);
    (*value)[len] = '\0';
    rc = 0;
out:
    pf_file_free(buf, size);
    return rc;
}

void pf_secret_free(char *value)
{
    if (value == NULL)
        return;
    explicit_bzero(value, strlen(value));
    free(value);
}
