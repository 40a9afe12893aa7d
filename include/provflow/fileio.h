/*
 * fileio.h - small files read whole, with a size limit: secrets, tokens,
 * credential lists.
 *
 * Whatever the path names, reading never blocks the caller for good: the
 * file is opened with O_NONBLOCK and checked with fstat() before a byte is
 * read, so a FIFO, a device, a socket or a directory is refused at once
 * ("... is not a regular file") instead of hanging the loop. A file
 * larger than the limit is refused ("... is larger than N bytes"), never
 * truncated. Symbolic links are followed (Kubernetes mounts secrets as
 * links). Messages are one line and never contain the file's content.
 *
 * Thread-safe: no state.
 */
#ifndef PROVFLOW_FILEIO_H
#define PROVFLOW_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum pf_file_status {
    PF_FILE_OK = 0,
    PF_FILE_OPEN = -1,        /* open() or fstat() failed: see errno */
    PF_FILE_NOT_REGULAR = -2, /* a FIFO, directory, device, socket */
    PF_FILE_TOO_LARGE = -3,   /* more than max bytes */
    PF_FILE_READ = -4,        /* read() failed */
    PF_FILE_NOMEM = -5,
} pf_file_status;

/*
 * Reads the regular file at path, at most max bytes. On success returns
 * PF_FILE_OK, stores a heap buffer holding the content plus a terminating
 * NUL in *data (the content may itself hold NUL bytes) and its length in
 * *len; free it with pf_file_free(). On failure returns a negative
 * pf_file_status, sets *data to NULL and *len to 0, leaves errno as the
 * failing call set it (PF_FILE_OPEN, PF_FILE_READ), and writes a message
 * into errstr that starts with `what` (NULL: the path itself), e.g.
 * "federated token file /x: No such file or directory",
 * "secret 'a' is not a regular file",
 * "clientSecretFile /s is larger than 4096 bytes".
 * Buffers that held part of the content are wiped before they are freed.
 */
int pf_file_read(const char *path, const char *what, size_t max, char **data,
                 size_t *len, char *errstr, size_t errstr_size);

/*
 * Checks without reading that path opens as a regular file (for files that
 * a library reads itself, such as a CA bundle). Returns PF_FILE_OK or
 * PF_FILE_OPEN / PF_FILE_NOT_REGULAR with a message as above.
 */
int pf_file_check(const char *path, const char *what, char *errstr,
                  size_t errstr_size);

/* Wipes len bytes of data (it may hold a secret) and frees it. NULL ok. */
void pf_file_free(char *data, size_t len);

/*
 * A secret kept in a file (a client secret, a certificate's password):
 * pf_file_read() with max, then trailing CR, LF (any number) dropped. The
 * rest must be non-empty and hold no NUL byte ("... is empty", "... is not
 * text"). On success returns PF_FILE_OK and a NUL-terminated heap copy in
 * *value, to free with pf_file_free(*value, strlen(*value)); on failure a
 * negative pf_file_status (PF_FILE_READ for an empty or binary file) and a
 * message starting with `what` that never holds the content.
 */
int pf_file_read_secret(const char *path, const char *what, size_t max,
                        char **value, char *errstr, size_t errstr_size);

/*
 * What a file is, to tell whether it was replaced or rewritten without
 * reading it: device, inode, size and modification time (nanoseconds) of
 * the file path leads to, symbolic links followed (a Kubernetes Secret
 * volume swaps a link to a new directory). Plain data.
 */
typedef struct pf_file_id {
    uint64_t dev, ino;
    int64_t size, mtime_ns;
} pf_file_id;

/* stat()s path into *id. Returns 0, or -1 with errno set (*id zeroed). */
int pf_file_id_of(const char *path, pf_file_id *id);

/* Whether two ids name the same content as far as stat() can tell. */
bool pf_file_id_equal(const pf_file_id *a, const pf_file_id *b);

#endif /* PROVFLOW_FILEIO_H */
