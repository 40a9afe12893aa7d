/*
 * fuzz_transform.c - libFuzzer entry point over event decoding and the
 * transform: the path every Kafka record takes before anything is sent.
 *
 * Input layout (so that headers are fuzzed as well as the value):
 *   byte 0, bit 0: content mode: 0 structured, 1 binary;
 *   byte 0, bit 1: Graph root: default, or a national cloud's with a
 *                  trailing slash;
 *   byte 0, bits 2-3 (structured): the content-type header: none,
 *                  application/cloudevents+json, the same with a charset
 *                  parameter, or application/json;
 *   structured: the rest is the record value;
 *   binary: the rest is split at NUL bytes into the values of ce_specversion,
 *           ce_id, ce_source, ce_type, ce_time, ce_tenantid and
 *           content-type, then the record value (everything after the
 *           seventh NUL, NULs included). An empty segment leaves the header
 *           out; a segment of the single byte 0x01 is a header with a null
 *           value.
 *
 * Beyond the sanitizers, each run checks the contracts of event.h and
 * transform.h: errors are "invalid_event" with a path and a reason, a
 * request is deterministic, masking hides the secret. A broken contract
 * aborts, which libFuzzer reports as a crash.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "provflow/event.h"
#include "provflow/record.h"
#include "provflow/secrets.h"
#include "provflow/redact.h"
#include "provflow/transform.h"

#define SECRET_NAME  "fuzz-secret"
#define SECRET_VALUE "Fuzz-Pa55"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const binary_headers[] = {
    "ce_specversion", "ce_id",       "ce_source",    "ce_type",
    "ce_time",        "ce_tenantid", "content-type",
};
#define BINARY_HEADER_COUNT (sizeof(binary_headers) / sizeof(binary_headers[0]))

static const char *const content_types[] = {
    NULL,
    "application/cloudevents+json",
    "application/cloudevents+json; charset=utf-8",
    "application/json",
};

static char secrets_dir[] = "/tmp/pf-fuzz-secrets-XXXXXX";
static char secret_path[sizeof(secrets_dir) + sizeof(SECRET_NAME) + 1];
static pf_secrets *secrets;

static void remove_secrets(void)
{
    pf_secrets_destroy(secrets);
    secrets = NULL;
    unlink(secret_path);
    rmdir(secrets_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char errstr[256];
    FILE *f;

    (void)argc;
    (void)argv;
    if (mkdtemp(secrets_dir) == NULL)
        abort();
    snprintf(secret_path, sizeof(secret_path), "%s/%s", secrets_dir,
             SECRET_NAME);
    f = fopen(secret_path, "w");
    if (f == NULL || fputs(SECRET_VALUE "\n", f) < 0 || fclose(f) != 0)
        abort();
    secrets = pf_secrets_new(secrets_dir, errstr, sizeof(errstr));
    if (secrets == NULL)
        abort();
    atexit(remove_secrets);
    return 0;
}

/* An exact-size heap copy: reading past `len` is caught by ASan. */
static void *copy(const uint8_t *p, size_t len)
{
    void *out = malloc(len > 0 ? len : 1);

    if (out == NULL)
        abort();
    if (len > 0)
        memcpy(out, p, len);
    return out;
}

static void check_error(const pf_error *err, const char *path_prefix)
{
    if (strcmp(err->code, "invalid_event") != 0 || err->path[0] == '\0' ||
        err->message[0] == '\0')
        abort();
    if (path_prefix != NULL &&
        strncmp(err->path, path_prefix, strlen(path_prefix)) != 0)
        abort();
}

/* The same passwords to mask, in the same order (redact.h's rule). */
static bool same_passwords(const json_t *a, const json_t *b)
{
    static const char *pa[1024], *pb[1024];
    size_t na = pf_redact_collect(a, pa, 1024), i;

    if (na != pf_redact_collect(b, pb, 1024))
        return false;
    for (i = 0; i < na && i < 1024; i++) {
        if (strcmp(pa[i], pb[i]) != 0)
            return false;
    }
    return true;
}

/*
 * pf_transform_text(), which writes the body with no tree, gives what
 * pf_transform() and pf_request_compact() give: the same bytes and
 * passwords, or the same error (tree NULL: it failed with want_err).
 */
static void same_as_text(const pf_event *ev, const pf_transform_opts *opts,
                         const pf_request *tree, const pf_error *want_err)
{
    pf_request t, c;
    pf_error err;

    if (pf_transform_text(ev, opts, &t, &err) != 0) {
        if (tree != NULL || strcmp(err.path, want_err->path) != 0 ||
            strcmp(err.message, want_err->message) != 0 || t.body != NULL ||
            t.body_text != NULL || t.base != NULL)
            abort();
        return;
    }
    if (tree == NULL)
        abort();
    c = *tree;
    c.body = json_deep_copy(tree->body);
    if (tree->body != NULL && c.body == NULL)
        abort();
    if (pf_request_compact(&c) != 0)
        abort();
    if ((c.body_text == NULL) != (t.body_text == NULL) ||
        (c.body_text != NULL &&
         (strcmp(c.body_text, t.body_text) != 0 || c.body_len != t.body_len)) ||
        !same_passwords(c.body, t.body) || strcmp(t.base, tree->base) != 0 ||
        strcmp(t.client_request_id, tree->client_request_id) != 0 ||
        t.flow != tree->flow || t.op != tree->op)
        abort();
    json_decref(c.body);
    free(c.body_text);
    pf_request_release(&t);
}

/* in_input: the fuzz input itself contains the secret's text. */
static void transform(const pf_event *ev, const char *root, bool in_input)
{
    pf_transform_opts opts = {root, secrets};
    pf_request a, b;
    pf_error err;
    char *da, *db, ua[2048], ub[2048];

    if (pf_transform(ev, &opts, &a, &err) != 0) {
        /* Everything the transform checks lives under data. */
        check_error(&err, "data");
        if (a.body != NULL || a.base != NULL)
            abort();
        same_as_text(ev, &opts, NULL, &err);
        return;
    }
    /* A body exactly when the operation has one (ops.h); a flow type for
     * a flow's create and update; the base of every URL. */
    if (a.op == NULL ||
        (json_is_object(a.body) != !!(a.op->flags & PF_OP_HAS_BODY)) ||
        strlen(a.client_request_id) != PF_UUID_STR_LEN ||
        ((a.op->kind == PF_OP_FLOW_CREATE || a.op->kind == PF_OP_FLOW_UPDATE) &&
         a.flow == NULL) ||
        a.base == NULL)
        abort();
    /* Deterministic: the same event gives the same bytes. */
    if (pf_transform(ev, &opts, &b, &err) != 0)
        abort();
    pf_request_url(&a, NULL, NULL, ua, sizeof(ua));
    pf_request_url(&b, NULL, NULL, ub, sizeof(ub));
    da = json_dumps(a.body != NULL ? a.body : json_null(),
                    JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    db = json_dumps(b.body != NULL ? b.body : json_null(),
                    JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (da == NULL || db == NULL || strcmp(da, db) != 0 ||
        strcmp(ua, ub) != 0 ||
        strcmp(a.client_request_id, b.client_request_id) != 0)
        abort();
    free(db);
    same_as_text(ev, &opts, &a, NULL);
    /* Masked, the secret never shows (unless the input wrote it out). */
    pf_json_mask_secrets(b.body);
    db = json_dumps(b.body != NULL ? b.body : json_null(),
                    JSON_COMPACT | JSON_ENCODE_ANY);
    if (db == NULL || (!in_input && strstr(db, SECRET_VALUE) != NULL))
        abort();
    free(da);
    free(db);
    pf_request_release(&a);
    pf_request_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pf_header headers[BINARY_HEADER_COUNT + 1];
    void *hvalues[BINARY_HEADER_COUNT + 1] = {NULL};
    const char *root;
    size_t n = 0, i;
    const uint8_t *p, *end;
    void *value = NULL;
    size_t value_len = 0;
    pf_record rec;
    pf_event ev;
    pf_error err;

    if (size == 0)
        return 0;
    root = (data[0] & 2) ? "https://graph.microsoft.us/" : NULL;
    p = data + 1;
    end = data + size;

    if ((data[0] & 1) == 0) {
        const char *ct = content_types[(data[0] >> 2) & 3];

        if (ct != NULL) {
            hvalues[n] = copy((const uint8_t *)ct, strlen(ct));
            headers[n] = (pf_header){"content-type", hvalues[n], strlen(ct)};
            n++;
        }
    } else {
        for (i = 0; i < BINARY_HEADER_COUNT && p < end; i++) {
            const uint8_t *nul = memchr(p, '\0', (size_t)(end - p));
            size_t len = nul != NULL ? (size_t)(nul - p) : (size_t)(end - p);

            if (len == 1 && p[0] == 0x01) {
                headers[n++] = (pf_header){binary_headers[i], NULL, 0};
            } else if (len > 0) {
                hvalues[n] = copy(p, len);
                headers[n] = (pf_header){binary_headers[i], hvalues[n], len};
                n++;
            }
            p += len + (nul != NULL ? 1 : 0);
        }
    }
    value_len = (size_t)(end - p);
    value = copy(p, value_len);
    rec = (pf_record){NULL, 0, value, value_len, n > 0 ? headers : NULL, n};

    if (pf_event_decode(&rec, &ev, &err) == 0) {
        if (ev.id == NULL || ev.source == NULL || ev.type == NULL ||
            !json_is_object(ev.data) || pf_op_by_event_type(ev.type) == NULL)
            abort();
        transform(&ev, root,
                  memmem(data, size, SECRET_VALUE, strlen(SECRET_VALUE)) !=
                      NULL);
    } else {
        check_error(&err, NULL);
        if (ev.data != NULL)
            abort();
    }
    pf_event_release(&ev);

    free(value);
    for (i = 0; i < n; i++)
        free(hvalues[i]);
    return 0;
}
