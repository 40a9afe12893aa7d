/* fileio.c - small files read whole, with a size limit (fileio.h). */
#include "provflow/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Opens path for reading without ever blocking in open() (a FIFO without a
 * writer would), then refuses anything but a regular file. Returns the
 * descriptor, or -1 with *status and errstr set.
 */
static int open_regular(const char *path, const char *what, struct stat *st,
                        int *status, char *errstr, size_t errstr_size)
{
    int fd, flags, saved;

    if (what == NULL)
        what = path;
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        saved = errno;
        snprintf(errstr, errstr_size, "%s: %s", what, strerror(saved));
        *status = PF_FILE_OPEN;
        errno = saved;
        return -1;
    }
    if (fstat(fd, st) != 0) {
        saved = errno;
        snprintf(errstr, errstr_size, "%s: %s", what, strerror(saved));
        close(fd);
        *status = PF_FILE_OPEN;
        errno = saved;
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        snprintf(errstr, errstr_size, "%s is not a regular file (%s)", what,
                 S_ISDIR(st->st_mode)    ? "a directory"
                 : S_ISFIFO(st->st_mode) ? "a FIFO"
                 : S_ISSOCK(st->st_mode) ? "a socket"
                                         : "a device");
        close(fd);
        *status = PF_FILE_NOT_REGULAR;
        return -1;
    }
    /* A regular file: back to ordinary blocking reads. */
    flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return fd;
}

int pf_file_check(const char *path, const char *what, char *errstr,
                  size_t errstr_size)
{
    struct stat st;
    int status = PF_FILE_OK;
    int fd = open_regular(path, what, &st, &status, errstr, errstr_size);

    if (fd < 0)
        return status;
    close(fd);
    return PF_FILE_OK;
}

void pf_file_free(char *data, size_t len)
{
    if (data == NULL)
        return;
    explicit_bzero(data, len);
    free(data);
}

/* Grows buf from cap to ncap content bytes (+1 for the NUL), wiping it. */
static char *grow(char *buf, size_t used, size_t cap, size_t ncap)
{
    char *n = malloc(ncap + 1);

    if (n == NULL)
        return NULL;
    if (buf != NULL) {
        memcpy(n, buf, used);
        explicit_bzero(buf, cap + 1);
        free(buf);
    }
    return n;
}

int pf_file_read(const char *path, const char *what, size_t max, char **data,
                 size_t *len, char *errstr, size_t errstr_size)
{
    struct stat st;
    char *buf = NULL;
    size_t used = 0, cap, want;
    int status = PF_FILE_OK, fd, saved;
    ssize_t n;

    *data = NULL;
    *len = 0;
    if (what == NULL)
        what = path;
    if (max > SIZE_MAX / 4)
        max = SIZE_MAX / 4;
    fd = open_regular(path, what, &st, &status, errstr, errstr_size);
    if (fd < 0)
        return status;
    if (st.st_size < 0 || (unsigned long long)st.st_size > max) {
        status = PF_FILE_TOO_LARGE;
        goto out;
    }
    /*
     * One byte more than allowed is read, to tell "exactly full" from
     * "grew past the limit since fstat()".
     */
    want = max + 1;
    cap = (size_t)st.st_size + 1;
    if (cap > want)
        cap = want;
    buf = grow(NULL, 0, 0, cap);
    if (buf == NULL) {
        status = PF_FILE_NOMEM;
        goto out;
    }
    for (;;) {
        if (used == cap) {
            size_t ncap = cap * 2 < want ? cap * 2 : want;
            char *grown;

            if (cap == want)
                break;
            grown = grow(buf, used, cap, ncap);
            if (grown == NULL) {
                status = PF_FILE_NOMEM;
                goto out;
            }
            buf = grown;
            cap = ncap;
        }
        n = read(fd, buf + used, cap - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            saved = errno;
            snprintf(errstr, errstr_size, "%s: %s", what, strerror(saved));
            errno = saved;
            status = PF_FILE_READ;
            goto out;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    if (used > max) {
        status = PF_FILE_TOO_LARGE;
        goto out;
    }
    buf[used] = '\0';
    *data = buf;
    *len = used;
    buf = NULL; /* now owned by the caller */
out:
    if (status == PF_FILE_TOO_LARGE)
        snprintf(errstr, errstr_size, "%s is larger than %zu bytes", what, max);
    else if (status == PF_FILE_NOMEM)
        snprintf(errstr, errstr_size, "%s: out of memory", what);
    if (buf != NULL)
        pf_file_free(buf, cap + 1);
    saved = errno;
    close(fd);
    errno = saved;
    return status;
}

int pf_file_read_secret(const char *path, const char *what, size_t max,
                        char **value, char *errstr, size_t errstr_size)
{
    char *data;
    size_t len, size;
    int st;

    *value = NULL;
    if (what == NULL)
        what = path;
    st = pf_file_read(path, what, max, &data, &size, errstr, errstr_size);
    if (st != PF_FILE_OK)
        return st;
    len = size;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (len == 0 || memchr(data, '\0', len) != NULL) {
        snprintf(errstr, errstr_size, "%s is %s", what,
                 len == 0 ? "empty" : "not text");
        pf_file_free(data, size);
        return PF_FILE_READ;
    }
    /* The dropped line ends are wiped too: strlen() no longer covers them. */
    explicit_bzero(data + len, size - len);
    *value = data; /* now owned by the caller */
    return PF_FILE_OK;
}

int pf_file_id_of(const char *path, pf_file_id *id)
{
    struct stat st;

    memset(id, 0, sizeof(*id));
    if (stat(path, &st) != 0)
        return -1;
    id->dev = (uint64_t)st.st_dev;
    id->ino = (uint64_t)st.st_ino;
    id->size = (int64_t)st.st_size;
    id->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    return 0;
}

bool pf_file_id_equal(const pf_file_id *a, const pf_file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns;
}
