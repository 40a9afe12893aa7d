/*
 * fuzz_graphsim.c - libFuzzer entry point over the simulator's parsers of
 * outside input: every input is tried as a provisioningFlow and a flow set
 * body (strict and lenient casing), as a token request form, as a
 * client assertion and a federated one, and (when it starts with '{') as
 * an issuer's JWKS.
 *
 * Beyond the sanitizers, each run checks the validator's contract (an
 * accepted body echoes a JSON object; a rejected one names a path and a
 * reason); a broken contract aborts, which libFuzzer reports as a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "gs_jwt.h"
#include "gs_schema.h"
#include "gs_sim.h"
#include "gs_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gs_cert *cert;
static struct gs_pubkey **fed_keys;
static size_t fed_nkeys;

/* A certificate for the assertion path, made once. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    X509 *x = X509_new();
    BIO *bio = BIO_new(BIO_s_mem());
    char err[200], *pem, *data;
    long n;

    (void)argc;
    (void)argv;
    X509_set_pubkey(x, key);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_sign(x, key, EVP_sha256());
    PEM_write_bio_X509(bio, x);
    n = BIO_get_mem_data(bio, &data);
    pem = malloc((size_t)n + 1);
    if (!pem)
        abort();
    memcpy(pem, data, (size_t)n);
    pem[n] = '\0';
    cert = gs_cert_load(pem, err, sizeof(err));
    if (!cert ||
        gs_pubkeys_load(pem, &fed_keys, &fed_nkeys, err, sizeof(err)) != 1)
        abort();
    free(pem);
    BIO_free(bio);
    X509_free(x);
    EVP_PKEY_free(key);
    return 0;
}

static void check_contract(int rc, struct gs_buf *out, const pf_error *err)
{
    json_t *echo;

    if (rc == 0) {
        echo = out->data ? json_loads(out->data, 0, NULL) : NULL;
        if (!json_is_object(echo))
            abort();
        json_decref(echo);
    } else if (!err->path[0] || !err->message[0] ||
               strcmp(err->code, "BadRequest") != 0) {
        abort();
    }
}

static void as_bodies(const uint8_t *data, size_t size)
{
    static const unsigned modes[] = {0, GS_SCHEMA_LENIENT_CASE};
    enum gs_flow_type type;
    struct gs_buf out;
    pf_error err;
    json_t *body;
    size_t i;
    int rc;

    if (gs_json_depth((const char *)data, size, GS_MAX_JSON_DEPTH) >
        GS_MAX_JSON_DEPTH)
        return;
    body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!body)
        return;
    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        gs_buf_init(&out);
        pf_error_clear(&err);
        rc = gs_schema_check_flow(body, modes[i], &type, &out, &err);
        check_contract(rc, &out, &err);
        if (rc == 0 && !gs_schema_flow_type_name(type))
            abort();
        gs_buf_release(&out);
        pf_error_clear(&err);
        rc = gs_schema_check_flow_set(body, modes[i], &out, &err);
        check_contract(rc, &out, &err);
        gs_buf_release(&out);
    }
    json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const auds[] = {"http://127.0.0.1/t/oauth2/v2.0/token"};
    struct gs_cert *certs[] = {cert};
    struct gs_jwt_check chk = {"client",   auds, 1,    certs, 1,
                               1700000000, 300,  NULL, NULL,  0};
    static char *fed_auds[] = {GS_FED_AUDIENCE};
    struct gs_fed_cred fed = {"https://issuer.example",
                              "system:sa",
                              fed_auds,
                              1,
                              fed_keys,
                              fed_nkeys};
    struct gs_fed_check fchk = {&fed, 1, 1700000000, 300};
    struct gs_pubkey **keys = NULL;
    size_t nkeys = 0, i;
    char err[512], *text;
    json_t *form;

    as_bodies(data, size);
    form = gs_form_parse((const char *)data, size, 32, err, sizeof(err));
    json_decref(form);
    if (gs_jwt_verify((const char *)data, size, &chk, err, sizeof(err)) ==
        GS_JWT_OK)
        abort(); /* nothing here is signed by the fuzzer's key */
    if (gs_jwt_verify_federated((const char *)data, size, &fchk, err,
                                sizeof(err)) == GS_JWT_OK)
        abort();
    (void)gs_jwt_self_issued((const char *)data, size, "client");
    /* As an inline JWKS (text starting with '{' is never taken for a
     * path). */
    if (size > 0 && data[0] == '{' && size < 65536 &&
        !memchr(data, '\0', size)) {
        text = malloc(size + 1);
        if (!text)
            abort();
        memcpy(text, data, size);
        text[size] = '\0';
        if (gs_pubkeys_load(text, &keys, &nkeys, err, sizeof(err)) < 0 &&
            !err[0])
            abort();
        for (i = 0; i < nkeys; i++)
            gs_pubkey_free(keys[i]);
        free(keys);
        free(text);
    }
    return 0;
}
