/* error.c - bounded errors and JSON paths (error.h). */
#include "provflow/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void pf_error_clear(pf_error *err)
{
    if (err == NULL)
        return;
    err->code[0] = '\0';
    err->path[0] = '\0';
    err->message[0] = '\0';
}

int pf_error_set(pf_error *err, const char *code, const char *path,
                 const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return -1;
    snprintf(err->code, sizeof(err->code), "%s", code ? code : "");
    snprintf(err->path, sizeof(err->path), "%s", path ? path : "");
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

void pf_path_init(pf_path *p)
{
    p->buf[0] = '\0';
    p->len = 0;
}

/*
 * Appends text; on overflow the path ends in "..." and stays that length.
 * A memcpy, not a printf: the transform pushes every property it visits.
 */
static void path_append(pf_path *p, const char *text, size_t n)
{
    size_t room = sizeof(p->buf) - p->len;

    if (n >= room) {
        memcpy(p->buf + sizeof(p->buf) - 4, "...", 4);
        p->len = sizeof(p->buf) - 1;
        return;
    }
    memcpy(p->buf + p->len, text, n + 1);
    p->len += n;
}

size_t pf_path_push_key(pf_path *p, const char *name)
{
    size_t old = p->len;

    if (p->len > 0)
        path_append(p, ".", 1);
    path_append(p, name, strlen(name));
    return old;
}

size_t pf_path_push_index(pf_path *p, size_t index)
{
    size_t old = p->len;
    char seg[32];
    int n = snprintf(seg, sizeof(seg), "[%zu]", index);

    path_append(p, seg, (size_t)n);
    return old;
}

void pf_path_pop(pf_path *p, size_t len)
{
    if (len < p->len) {
        p->len = len;
        p->buf[len] = '\0';
    }
}

const char *pf_path_str(const pf_path *p)
{
    return p->len > 0 ? p->buf : "$";
}
