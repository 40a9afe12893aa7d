/* gs_jwt.c - client-assertion verification with OpenSSL (gs_jwt.h). */
#include "gs_jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "gs_util.h"

struct gs_cert {
    EVP_PKEY *key;
    char x5t_s256[64]; /* 43 characters */
    char x5t[32];      /* 27 characters */
};

static int thumbprint(X509 *x, const EVP_MD *md, char *out, size_t outsz)
{
    unsigned char dgst[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (X509_digest(x, md, dgst, &n) != 1)
        return -1;
    return gs_b64url_encode(dgst, n, out, outsz) ? 0 : -1;
}

struct gs_cert *gs_cert_load(const char *pem_or_path, char *errstr,
                             size_t errsz)
{
    BIO *bio = NULL;
    X509 *x = NULL;
    struct gs_cert *c = NULL;

    if (strncmp(pem_or_path, "-----BEGIN", 10) == 0)
        bio = BIO_new_mem_buf(pem_or_path, -1);
    else
        bio = BIO_new_file(pem_or_path, "r");
    if (!bio) {
        snprintf(errstr, errsz, "cannot open certificate '%s'", pem_or_path);
        goto out;
    }
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (!x) {
        snprintf(errstr, errsz, "no PEM certificate in '%.200s'", pem_or_path);
        goto out;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(errstr, errsz, "out of memory");
        goto out;
    }
    c->key = X509_get_pubkey(x);
    if (!c->key || EVP_PKEY_get_base_id(c->key) != EVP_PKEY_RSA) {
        snprintf(errstr, errsz,
                 "certificate '%.200s' has no RSA key (RS256/PS256 need one)",
                 pem_or_path);
        gs_cert_free(c);
        c = NULL;
        goto out;
    }
    if (thumbprint(x, EVP_sha256(), c->x5t_s256, sizeof(c->x5t_s256)) ||
        thumbprint(x, EVP_sha1(), c->x5t, sizeof(c->x5t))) {
        snprintf(errstr, errsz, "cannot hash certificate '%.200s'",
                 pem_or_path);
        gs_cert_free(c);
        c = NULL;
    }
out:
    X509_free(x);
    BIO_free(bio);
    return c;
}

void gs_cert_free(struct gs_cert *c)
{
    if (!c)
        return;
    EVP_PKEY_free(c->key);
    free(c);
}

const char *gs_cert_x5t_s256(const struct gs_cert *c)
{
    return c->x5t_s256;
}

const char *gs_cert_x5t(const struct gs_cert *c)
{
    return c->x5t;
}

/* Decodes one base64url JSON part into a new object; NULL if malformed. */
static json_t *decode_part(const char *p, size_t n)
{
    unsigned char buf[GS_JWT_MAX_LEN];
    long len = gs_b64url_decode(p, n, buf, sizeof(buf));
    json_t *v;

    if (len <= 0)
        return NULL;
    v = json_loadb((const char *)buf, (size_t)len, JSON_REJECT_DUPLICATES,
                   NULL);
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

static int verify_sig(EVP_PKEY *key, bool pss, const char *data, size_t n,
                      const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = 0;

    if (!ctx)
        return 0;
    if (EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, key) != 1)
        goto out;
    /* PS256 (RFC 7518 3.5): MGF1 with SHA-256 and a salt as long as the
     * hash, which is what the identity platform checks. */
    if (pss &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0))
        goto out;
    ok =
        EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)data, n) == 1;
out:
    EVP_MD_CTX_free(ctx);
    return ok;
}

static bool aud_ok(const json_t *aud, const struct gs_jwt_check *chk)
{
    size_t i, j;
    const json_t *v;

    if (json_is_string(aud)) {
        for (i = 0; i < chk->naudiences; i++) {
            if (strcmp(json_string_value(aud), chk->audiences[i]) == 0)
                return true;
        }
        return false;
    }
    if (!json_is_array(aud))
        return false;
    json_array_foreach(aud, j, v)
    {
        if (json_is_string(v) && aud_ok(v, chk))
            return true;
    }
    return false;
}

enum gs_jwt_result gs_jwt_verify(const char *jwt, size_t len,
                                 const struct gs_jwt_check *chk, char *errstr,
                                 size_t errsz)
{
    const char *dot1, *dot2, *alg, *thumb = NULL;
    json_t *hdr = NULL, *claims = NULL;
    const json_t *v, *iss, *sub;
    struct gs_cert *cert = NULL;
    unsigned char sig[1024];
    long siglen;
    bool s256 = true, pss;
    size_t i;
    enum gs_jwt_result rc = GS_JWT_MALFORMED;
    json_int_t exp, nbf;

    snprintf(errstr, errsz, "the assertion is not a JWS compact JWT");
    if (len == 0 || len > GS_JWT_MAX_LEN || memchr(jwt, '\0', len))
        goto out;
    dot1 = memchr(jwt, '.', len);
    if (!dot1)
        goto out;
    dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - jwt));
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - jwt)))
        goto out;
    hdr = decode_part(jwt, (size_t)(dot1 - jwt));
    claims = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    siglen = gs_b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - jwt), sig,
                              sizeof(sig));
    if (!hdr || !claims || siglen <= 0) {
        snprintf(errstr, errsz,
                 "the assertion's header, claims or signature is not "
                 "base64url JSON");
        goto out;
    }

    rc = GS_JWT_BAD_ALG;
    alg = json_string_value(json_object_get(hdr, "alg"));
    if (!alg || (strcmp(alg, "RS256") != 0 && strcmp(alg, "PS256") != 0)) {
        snprintf(errstr, errsz,
                 "the assertion's 'alg' is '%.16s'; RS256 or PS256 expected",
                 alg ? alg : "(missing)");
        goto out;
    }
    pss = alg[0] == 'P';
    v = json_object_get(hdr, "typ");
    if (v &&
        (!json_is_string(v) || strcasecmp(json_string_value(v), "JWT") != 0)) {
        snprintf(errstr, errsz, "the assertion's 'typ' is not 'JWT'");
        goto out;
    }

    rc = GS_JWT_NO_THUMBPRINT;
    thumb = json_string_value(json_object_get(hdr, "x5t#S256"));
    if (!thumb) {
        thumb = json_string_value(json_object_get(hdr, "x5t"));
        s256 = false;
    }
    if (!thumb) {
        snprintf(errstr, errsz,
                 "the assertion's header names no certificate: 'x5t#S256' "
                 "or 'x5t' expected");
        goto out;
    }
    rc = GS_JWT_UNKNOWN_KEY;
    for (i = 0; i < chk->ncerts && !cert; i++) {
        if (strcmp(thumb,
                   s256 ? chk->certs[i]->x5t_s256 : chk->certs[i]->x5t) == 0)
            cert = chk->certs[i];
    }
    if (!cert) {
        snprintf(errstr, errsz,
                 "the certificate with identifier '%.64s' used to sign the "
                 "client assertion is not registered on application '%.64s'",
                 thumb, chk->client_id);
        goto out;
    }

    rc = GS_JWT_BAD_SIGNATURE;
    if (!verify_sig(cert->key, pss, jwt, (size_t)(dot2 - jwt), sig,
                    (size_t)siglen)) {
        snprintf(errstr, errsz,
                 "client assertion contains an invalid signature (%s)", alg);
        goto out;
    }

    rc = GS_JWT_BAD_ISSUER;
    iss = json_object_get(claims, "iss");
    sub = json_object_get(claims, "sub");
    if (!json_is_string(iss) || !json_is_string(sub) ||
        strcmp(json_string_value(iss), chk->client_id) != 0 ||
        strcmp(json_string_value(sub), chk->client_id) != 0) {
        snprintf(errstr, errsz,
                 "client assertion application identifier doesn't match "
                 "'client_id' parameter: 'iss' and 'sub' must both be "
                 "'%.64s'",
                 chk->client_id);
        goto out;
    }

    rc = GS_JWT_BAD_AUDIENCE;
    if (!aud_ok(json_object_get(claims, "aud"), chk)) {
        snprintf(errstr, errsz,
                 "client assertion audience claim does not match the token "
                 "endpoint ('%.160s' expected)",
                 chk->naudiences ? chk->audiences[0] : "");
        goto out;
    }

    rc = GS_JWT_MISSING_CLAIM;
    if (!json_is_integer(json_object_get(claims, "exp")) ||
        !json_is_integer(json_object_get(claims, "nbf"))) {
        snprintf(errstr, errsz,
                 "the assertion needs integer 'exp' and 'nbf' claims");
        goto out;
    }
    v = json_object_get(claims, "jti");
    if (!json_is_string(v) || json_string_length(v) == 0) {
        snprintf(errstr, errsz, "the assertion needs a 'jti' claim");
        goto out;
    }
    exp = json_integer_value(json_object_get(claims, "exp"));
    nbf = json_integer_value(json_object_get(claims, "nbf"));
    if (exp <= chk->now - chk->skew) {
        rc = GS_JWT_EXPIRED;
        snprintf(errstr, errsz,
                 "client assertion is not within its valid time range: it "
                 "expired at %lld (now %lld)",
                 (long long)exp, (long long)chk->now);
        goto out;
    }
    if (nbf > chk->now + chk->skew) {
        rc = GS_JWT_NOT_YET_VALID;
        snprintf(errstr, errsz,
                 "client assertion is not within its valid time range: not "
                 "before %lld (now %lld)",
                 (long long)nbf, (long long)chk->now);
        goto out;
    }
    rc = GS_JWT_OK;
    errstr[0] = '\0';
out:
    json_decref(hdr);
    json_decref(claims);
    return rc;
}
