/*
 * gs_jwt.c - client-assertion verification with OpenSSL (gs_jwt.h): the
 * application's own assertions (certificate credentials) and federated
 * ones (an issuer's keys from JWKS or PEM).
 */
#include "gs_jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

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

/* Whether aud (a string or an array of strings) holds one of list's n. */
static bool aud_match(const json_t *aud, const char *const *list, size_t n)
{
    size_t i, j;
    const json_t *v;

    if (json_is_string(aud)) {
        for (i = 0; i < n; i++) {
            if (strcmp(json_string_value(aud), list[i]) == 0)
                return true;
        }
        return false;
    }
    if (!json_is_array(aud))
        return false;
    json_array_foreach(aud, j, v)
    {
        if (json_is_string(v) && aud_match(v, list, n))
            return true;
    }
    return false;
}

/* A JWS in compact form, decoded: header and claims objects, the
 * signature, and the checked algorithm. */
struct jws {
    json_t *hdr;
    json_t *claims;
    unsigned char sig[1024];
    size_t siglen;
    size_t signed_len; /* bytes of "header.claims" */
    const char *alg;   /* "RS256" or "PS256", owned by hdr */
    bool pss;
};

static void jws_release(struct jws *j)
{
    json_decref(j->hdr);
    json_decref(j->claims);
    j->hdr = j->claims = NULL;
}

/* Splits and decodes jwt, then checks alg and typ: GS_JWT_OK,
 * GS_JWT_MALFORMED or GS_JWT_BAD_ALG. j is released by the caller either
 * way. */
static enum gs_jwt_result jws_parse(const char *jwt, size_t len, struct jws *j,
                                    char *errstr, size_t errsz)
{
    const char *dot1, *dot2;
    const json_t *v;
    long siglen;

    j->hdr = j->claims = NULL;
    snprintf(errstr, errsz, "the assertion is not a JWS compact JWT");
    if (len == 0 || len > GS_JWT_MAX_LEN || memchr(jwt, '\0', len))
        return GS_JWT_MALFORMED;
    dot1 = memchr(jwt, '.', len);
    if (!dot1)
        return GS_JWT_MALFORMED;
    dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - jwt));
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - jwt)))
        return GS_JWT_MALFORMED;
    j->hdr = decode_part(jwt, (size_t)(dot1 - jwt));
    j->claims = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    siglen = gs_b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - jwt), j->sig,
                              sizeof(j->sig));
    if (!j->hdr || !j->claims || siglen <= 0) {
        snprintf(errstr, errsz,
                 "the assertion's header, claims or signature is not "
                 "base64url JSON");
        return GS_JWT_MALFORMED;
    }
    j->siglen = (size_t)siglen;
    j->signed_len = (size_t)(dot2 - jwt);
    j->alg = json_string_value(json_object_get(j->hdr, "alg"));
    if (!j->alg ||
        (strcmp(j->alg, "RS256") != 0 && strcmp(j->alg, "PS256") != 0)) {
        snprintf(errstr, errsz,
                 "the assertion's 'alg' is '%.16s'; RS256 or PS256 expected",
                 j->alg ? j->alg : "(missing)");
        return GS_JWT_BAD_ALG;
    }
    j->pss = j->alg[0] == 'P';
    v = json_object_get(j->hdr, "typ");
    if (v &&
        (!json_is_string(v) || strcasecmp(json_string_value(v), "JWT") != 0)) {
        snprintf(errstr, errsz, "the assertion's 'typ' is not 'JWT'");
        return GS_JWT_BAD_ALG;
    }
    errstr[0] = '\0';
    return GS_JWT_OK;
}

/* --- subject name and issuer ------------------------------------------- */

struct gs_trust {
    X509_STORE *store;
};

struct gs_trust *gs_trust_new(void)
{
    struct gs_trust *t = calloc(1, sizeof(*t));

    if (t && !(t->store = X509_STORE_new())) {
        free(t);
        t = NULL;
    }
    return t;
}

void gs_trust_free(struct gs_trust *t)
{
    if (!t)
        return;
    X509_STORE_free(t->store);
    free(t);
}

int gs_trust_add(struct gs_trust *t, const char *pem_or_path, char *errstr,
                 size_t errsz)
{
    BIO *bio;
    X509 *x;
    int added = 0;

    if (strncmp(pem_or_path, "-----BEGIN", 10) == 0)
        bio = BIO_new_mem_buf(pem_or_path, -1);
    else
        bio = BIO_new_file(pem_or_path, "r");
    if (!bio) {
        snprintf(errstr, errsz, "cannot open trusted CA '%.200s'", pem_or_path);
        return -1;
    }
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        /* add_cert takes its own reference */
        if (X509_STORE_add_cert(t->store, x) != 1) {
            X509_free(x);
            BIO_free(bio);
            snprintf(errstr, errsz, "trusted CA '%.200s': cannot add it",
                     pem_or_path);
            return -1;
        }
        X509_free(x);
        added++;
    }
    ERR_clear_error(); /* the end of the file reads as "no start line" */
    BIO_free(bio);
    if (added == 0) {
        snprintf(errstr, errsz, "trusted CA '%.200s': no PEM certificate",
                 pem_or_path);
        return -1;
    }
    return 0;
}

/* One x5c entry: standard base64 of a DER certificate (RFC 7515 4.1.6). */
static X509 *x5c_cert(const json_t *v)
{
    static const size_t max = 16384;
    unsigned char der[16384];
    const unsigned char *p = der;
    const char *b64 = json_string_value(v);
    size_t n = b64 ? strlen(b64) : 0;
    int len, pad = 0;

    if (n == 0 || n % 4 != 0 || n / 4 * 3 > max)
        return NULL;
    len = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)n);
    if (len < 0)
        return NULL;
    /* DecodeBlock counts the padding as bytes. */
    pad = (b64[n - 1] == '=') + (b64[n - 2] == '=');
    return d2i_X509(NULL, &p, len - pad);
}

/* s in a canonical form for comparing subject names: no space after ','
 * or '+', the rest as it is (compared ignoring case). */
static void subject_canon(const char *s, char *out, size_t outsz)
{
    size_t n = 0;

    for (; *s && n + 1 < outsz; s++) {
        if (*s == ' ' && n > 0 && (out[n - 1] == ',' || out[n - 1] == '+'))
            continue;
        out[n++] = *s;
    }
    out[n] = '\0';
}

/*
 * Subject name and issuer: the key of x5c's first certificate, if it
 * matches the header's thumbprint, chains to the trust store through the
 * rest of x5c, and has a subject the client trusts. GS_JWT_OK with *key
 * (the caller frees it), or why not in errstr.
 */
static enum gs_jwt_result sni_key(const json_t *hdr, const char *thumb,
                                  bool s256, const struct gs_jwt_check *chk,
                                  EVP_PKEY **key, char *errstr, size_t errsz)
{
    const json_t *x5c = json_object_get(hdr, "x5c");
    STACK_OF(X509) *rest = sk_X509_new_null();
    X509_STORE_CTX *ctx = NULL;
    X509 *leaf = NULL, *x;
    char tp[64], subject[512], canon[512], want[512];
    enum gs_jwt_result rc = GS_JWT_NO_X5C;
    BIO *bio = NULL;
    size_t i;
    long n;

    *key = NULL;
    if (!json_is_array(x5c) || json_array_size(x5c) == 0) {
        snprintf(errstr, errsz,
                 "the assertion has no 'x5c' header for subject name and "
                 "issuer authentication, and the certificate with identifier "
                 "'%.64s' is not registered on application '%.64s'",
                 thumb, chk->client_id);
        goto out;
    }
    rc = GS_JWT_MALFORMED;
    for (i = 0; i < json_array_size(x5c) && rest; i++) {
        x = x5c_cert(json_array_get(x5c, i));
        if (!x) {
            snprintf(errstr, errsz,
                     "the assertion's 'x5c'[%zu] is not a base64 DER "
                     "certificate",
                     i);
            goto out;
        }
        if (i == 0)
            leaf = x;
        else if (!sk_X509_push(rest, x)) {
            X509_free(x);
            goto out;
        }
    }
    if (!leaf ||
        thumbprint(leaf, s256 ? EVP_sha256() : EVP_sha1(), tp, sizeof(tp)) ||
        strcmp(tp, thumb) != 0) {
        snprintf(errstr, errsz,
                 "the assertion's '%s' is not the thumbprint of its first "
                 "'x5c' certificate",
                 s256 ? "x5t#S256" : "x5t");
        goto out;
    }
    rc = GS_JWT_UNTRUSTED_CHAIN;
    ctx = X509_STORE_CTX_new();
    if (!chk->trust || !ctx ||
        X509_STORE_CTX_init(ctx, chk->trust->store, leaf, rest) != 1 ||
        X509_verify_cert(ctx) != 1) {
        snprintf(
            errstr, errsz, "the 'x5c' certificate chain is not trusted: %s",
            ctx ? X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx))
                : "no trusted certification authority");
        goto out;
    }
    rc = GS_JWT_BAD_SUBJECT;
    bio = BIO_new(BIO_s_mem());
    if (!bio || X509_NAME_print_ex(bio, X509_get_subject_name(leaf), 0,
                                   XN_FLAG_RFC2253) < 0)
        goto out;
    n = BIO_read(bio, subject, (int)sizeof(subject) - 1);
    subject[n > 0 ? n : 0] = '\0';
    subject_canon(subject, canon, sizeof(canon));
    for (i = 0; i < chk->nsubjects; i++) {
        subject_canon(chk->subjects[i], want, sizeof(want));
        if (strcasecmp(canon, want) == 0)
            break;
    }
    if (i == chk->nsubjects) {
        snprintf(errstr, errsz,
                 "the certificate subject '%.200s' is not a trusted "
                 "certificate subject of application '%.64s'",
                 subject, chk->client_id);
        goto out;
    }
    rc = GS_JWT_BAD_ALG;
    *key = X509_get_pubkey(leaf);
    if (!*key || EVP_PKEY_get_base_id(*key) != EVP_PKEY_RSA) {
        snprintf(errstr, errsz,
                 "the 'x5c' certificate has no RSA key (RS256/PS256 need "
                 "one)");
        EVP_PKEY_free(*key);
        *key = NULL;
        goto out;
    }
    rc = GS_JWT_OK;
out:
    ERR_clear_error();
    BIO_free(bio);
    X509_STORE_CTX_free(ctx);
    sk_X509_pop_free(rest, X509_free);
    X509_free(leaf);
    return rc;
}

enum gs_jwt_result gs_jwt_verify(const char *jwt, size_t len,
                                 const struct gs_jwt_check *chk, char *errstr,
                                 size_t errsz)
{
    const char *thumb = NULL;
    struct jws j;
    const json_t *v, *iss, *sub;
    struct gs_cert *cert = NULL;
    EVP_PKEY *sni = NULL; /* the x5c certificate's key (SN+I) */
    bool s256 = true;
    size_t i;
    enum gs_jwt_result rc;
    json_int_t exp, nbf;

    rc = jws_parse(jwt, len, &j, errstr, errsz);
    if (rc != GS_JWT_OK)
        goto out;

    rc = GS_JWT_NO_THUMBPRINT;
    thumb = json_string_value(json_object_get(j.hdr, "x5t#S256"));
    if (!thumb) {
        thumb = json_string_value(json_object_get(j.hdr, "x5t"));
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
    if (!cert && chk->trust && chk->nsubjects > 0) {
        rc = sni_key(j.hdr, thumb, s256, chk, &sni, errstr, errsz);
        if (rc != GS_JWT_OK)
            goto out;
    } else if (!cert) {
        snprintf(errstr, errsz,
                 "the certificate with identifier '%.64s' used to sign the "
                 "client assertion is not registered on application '%.64s'",
                 thumb, chk->client_id);
        goto out;
    }

    rc = GS_JWT_BAD_SIGNATURE;
    if (!verify_sig(cert ? cert->key : sni, j.pss, jwt, j.signed_len, j.sig,
                    j.siglen)) {
        snprintf(errstr, errsz,
                 "client assertion contains an invalid signature (%s)", j.alg);
        goto out;
    }

    rc = GS_JWT_BAD_ISSUER;
    iss = json_object_get(j.claims, "iss");
    sub = json_object_get(j.claims, "sub");
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
    if (!aud_match(json_object_get(j.claims, "aud"), chk->audiences,
                   chk->naudiences)) {
        snprintf(errstr, errsz,
                 "client assertion audience claim does not match the token "
                 "endpoint ('%.160s' expected)",
                 chk->naudiences ? chk->audiences[0] : "");
        goto out;
    }

    rc = GS_JWT_MISSING_CLAIM;
    if (!json_is_integer(json_object_get(j.claims, "exp")) ||
        !json_is_integer(json_object_get(j.claims, "nbf"))) {
        snprintf(errstr, errsz,
                 "the assertion needs integer 'exp' and 'nbf' claims");
        goto out;
    }
    v = json_object_get(j.claims, "jti");
    if (!json_is_string(v) || json_string_length(v) == 0) {
        snprintf(errstr, errsz, "the assertion needs a 'jti' claim");
        goto out;
    }
    exp = json_integer_value(json_object_get(j.claims, "exp"));
    nbf = json_integer_value(json_object_get(j.claims, "nbf"));
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
    EVP_PKEY_free(sni);
    jws_release(&j);
    return rc;
}

/* --- federated assertions ------------------------------------------------ */

struct gs_pubkey {
    EVP_PKEY *key;
    char kid[129];
};

void gs_pubkey_free(struct gs_pubkey *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->key);
    free(k);
}

const char *gs_pubkey_kid(const struct gs_pubkey *k)
{
    return k->kid;
}

void gs_fed_cred_release(struct gs_fed_cred *f)
{
    size_t i;

    free(f->issuer);
    free(f->subject);
    for (i = 0; i < f->naudiences; i++)
        free(f->audiences[i]);
    free(f->audiences);
    for (i = 0; i < f->nkeys; i++)
        gs_pubkey_free(f->keys[i]);
    free(f->keys);
    memset(f, 0, sizeof(*f));
}

/* Appends an RSA key (taking it) to *keys; -1 with a reason otherwise (the
 * key is freed then). */
static int add_key(EVP_PKEY *key, const char *kid, const char *what,
                   struct gs_pubkey ***keys, size_t *nkeys, char *errstr,
                   size_t errsz)
{
    struct gs_pubkey *k, **grown;

    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        snprintf(errstr, errsz, "%.200s: not an RSA key (RS256/PS256 need one)",
                 what);
        EVP_PKEY_free(key);
        return -1;
    }
    k = calloc(1, sizeof(*k));
    grown = realloc(*keys, (*nkeys + 1) * sizeof(**keys));
    if (!k || !grown) {
        free(k);
        if (grown)
            *keys = grown;
        EVP_PKEY_free(key);
        snprintf(errstr, errsz, "out of memory");
        return -1;
    }
    *keys = grown;
    k->key = key; /* now owned by k */
    if (kid && !gs_copy(k->kid, sizeof(k->kid), kid)) {
        snprintf(errstr, errsz, "%.200s: a 'kid' longer than %zu bytes", what,
                 sizeof(k->kid) - 1);
        gs_pubkey_free(k);
        return -1;
    }
    (*keys)[(*nkeys)++] = k;
    return 0;
}

/* A BIGNUM from a base64url JWK member; NULL if missing or malformed. */
static BIGNUM *jwk_bn(const json_t *jwk, const char *name)
{
    unsigned char buf[1024];
    const char *s = json_string_value(json_object_get(jwk, name));
    long n;

    if (!s)
        return NULL;
    n = gs_b64url_decode(s, strlen(s), buf, sizeof(buf));
    return n > 0 ? BN_bin2bn(buf, (int)n, NULL) : NULL;
}

/* An RSA public key from a JWK's n and e; NULL if they are not usable. */
static EVP_PKEY *jwk_rsa(const json_t *jwk)
{
    BIGNUM *n = jwk_bn(jwk, "n"), *e = jwk_bn(jwk, "e");
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;

    if (!n || !e || !bld ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
        key = NULL;
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return key;
}

static int load_jwks(const char *text, size_t len, const char *what,
                     struct gs_pubkey ***keys, size_t *nkeys, char *errstr,
                     size_t errsz)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    const json_t *list, *jwk, *v;
    const char *kty, *use, *kid;
    EVP_PKEY *key;
    size_t i;
    int added = 0;

    list = json_object_get(doc, "keys");
    if (!json_is_array(list)) {
        snprintf(errstr, errsz, "%.200s: not a JWKS document (%s)", what,
                 doc ? "no \"keys\" array" : jerr.text);
        json_decref(doc);
        return -1;
    }
    json_array_foreach(list, i, jwk)
    {
        kty = json_string_value(json_object_get(jwk, "kty"));
        use = json_string_value(json_object_get(jwk, "use"));
        v = json_object_get(jwk, "kid");
        kid = json_string_value(v);
        /* An issuer may publish keys of other types or for encryption:
         * not ours to verify with. */
        if (!kty || strcmp(kty, "RSA") != 0 || (use && strcmp(use, "sig")))
            continue;
        if (v && !kid) {
            snprintf(errstr, errsz, "%.200s: keys[%zu].kid is not a string",
                     what, i);
            added = -1;
            break;
        }
        key = jwk_rsa(jwk);
        if (!key) {
            snprintf(errstr, errsz,
                     "%.200s: keys[%zu] has no usable RSA 'n' and 'e'", what,
                     i);
            added = -1;
            break;
        }
        if (add_key(key, kid, what, keys, nkeys, errstr, errsz) != 0) {
            added = -1;
            break;
        }
        added++;
    }
    json_decref(doc);
    return added;
}

static int load_pem(const char *text, size_t len, const char *what,
                    struct gs_pubkey ***keys, size_t *nkeys, char *errstr,
                    size_t errsz)
{
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    const unsigned char *p;
    long dlen = 0;
    EVP_PKEY *key;
    X509 *x;
    int added = 0;

    if (!bio) {
        snprintf(errstr, errsz, "out of memory");
        return -1;
    }
    while (PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
        p = data;
        key = NULL;
        if (strcmp(name, "CERTIFICATE") == 0) {
            x = d2i_X509(NULL, &p, dlen);
            key = x ? X509_get_pubkey(x) : NULL;
            X509_free(x);
        } else if (strcmp(name, "PUBLIC KEY") == 0) {
            key = d2i_PUBKEY(NULL, &p, dlen);
        } else if (strcmp(name, "RSA PUBLIC KEY") == 0) {
            key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, dlen);
        } else {
            /* A private key next to its certificate, say: skipped. */
            goto next;
        }
        if (!key) {
            snprintf(errstr, errsz, "%.200s: a malformed PEM %s", what, name);
            added = -1;
        } else if (add_key(key, NULL, what, keys, nkeys, errstr, errsz)) {
            added = -1;
        } else {
            added++;
        }
    next:
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        name = header = NULL;
        data = NULL;
        if (added < 0)
            break;
    }
    /* PEM_read_bio's "no start line" at the end is not an error. */
    ERR_clear_error();
    BIO_free(bio);
    return added;
}

/* Longest key file read, in bytes. */
#define KEYS_MAX (1024 * 1024)

int gs_pubkeys_load(const char *text_or_path, struct gs_pubkey ***keys,
                    size_t *nkeys, char *errstr, size_t errsz)
{
    const char *text = text_or_path, *what = "inline keys", *s;
    char *buf = NULL;
    size_t len;
    FILE *f;
    int n;

    if (strncmp(text_or_path, "-----BEGIN", 10) != 0 &&
        text_or_path[0] != '{') {
        what = text_or_path;
        f = fopen(text_or_path, "r");
        buf = malloc(KEYS_MAX + 1);
        if (!f || !buf) {
            snprintf(errstr, errsz, "cannot open keys '%.200s'", text_or_path);
            if (f)
                fclose(f);
            free(buf);
            return -1;
        }
        len = fread(buf, 1, KEYS_MAX + 1, f);
        fclose(f);
        if (len > KEYS_MAX) {
            snprintf(errstr, errsz, "keys '%.200s': larger than %d bytes",
                     text_or_path, KEYS_MAX);
            free(buf);
            return -1;
        }
        buf[len] = '\0';
        text = buf;
    }
    len = strlen(text);
    for (s = text; *s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'; s++)
        ;
    if (*s == '{')
        n = load_jwks(text, len, what, keys, nkeys, errstr, errsz);
    else
        n = load_pem(text, len, what, keys, nkeys, errstr, errsz);
    if (n == 0)
        snprintf(errstr, errsz,
                 "%.200s: no RSA signing key (JWKS, PEM certificate or PEM "
                 "public key) found",
                 what);
    free(buf);
    return n > 0 ? n : -1;
}

/* "a", or "a, b" for an array: the audience as Entra's message shows it. */
static void aud_text(const json_t *aud, char *out, size_t outsz)
{
    const json_t *v;
    size_t i, used = 0;
    int n;

    out[0] = '\0';
    if (json_is_string(aud)) {
        snprintf(out, outsz, "%s", json_string_value(aud));
        return;
    }
    json_array_foreach(aud, i, v)
    {
        if (!json_is_string(v) || used >= outsz)
            continue;
        n = snprintf(out + used, outsz - used, "%s%s", used ? ", " : "",
                     json_string_value(v));
        used += n > 0 ? (size_t)n : 0;
    }
}

static void fmt_epoch(json_int_t t, char *out, size_t outsz)
{
    time_t sec = (time_t)t;
    struct tm tm;

    if (!gmtime_r(&sec, &tm)) {
        snprintf(out, outsz, "%lld", (long long)t);
        return;
    }
    strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const struct gs_fed_cred *fed_match(const struct gs_fed_check *chk,
                                           const char *iss, const char *sub,
                                           const json_t *aud)
{
    const struct gs_fed_cred *f;
    size_t i;

    for (i = 0; i < chk->ncreds; i++) {
        f = &chk->creds[i];
        if (strcmp(f->issuer, iss) == 0 && strcmp(f->subject, sub) == 0 &&
            aud_match(aud, (const char *const *)f->audiences, f->naudiences))
            return f;
    }
    return NULL;
}

enum gs_jwt_result gs_jwt_verify_federated(const char *jwt, size_t len,
                                           const struct gs_fed_check *chk,
                                           char *errstr, size_t errsz)
{
    struct jws j;
    const struct gs_fed_cred *f;
    const json_t *aud, *exp_v, *nbf_v;
    const char *iss, *sub, *kid;
    char audtext[256], now_s[32], t_s[32];
    size_t i, tried = 0;
    bool ok = false;
    enum gs_jwt_result rc;

    rc = jws_parse(jwt, len, &j, errstr, errsz);
    if (rc != GS_JWT_OK)
        goto out;

    rc = GS_JWT_MISSING_CLAIM;
    iss = json_string_value(json_object_get(j.claims, "iss"));
    sub = json_string_value(json_object_get(j.claims, "sub"));
    aud = json_object_get(j.claims, "aud");
    if (!iss || !sub || !(json_is_string(aud) || json_is_array(aud))) {
        snprintf(errstr, errsz,
                 "the federated assertion needs string 'iss' and 'sub' "
                 "claims and an 'aud' claim");
        goto out;
    }

    rc = GS_JWT_NO_FEDERATED_MATCH;
    f = fed_match(chk, iss, sub, aud);
    if (!f) {
        aud_text(aud, audtext, sizeof(audtext));
        snprintf(errstr, errsz,
                 "no matching federated identity record found for presented "
                 "assertion. Assertion Issuer: '%.200s'. Assertion Subject: "
                 "'%.200s'. Assertion Audience: '%.200s'",
                 iss, sub, audtext);
        goto out;
    }

    /* The header's kid picks the issuer's key; keys from PEM have none
     * and are always tried. */
    kid = json_string_value(json_object_get(j.hdr, "kid"));
    for (i = 0; i < f->nkeys && !ok; i++) {
        if (kid && f->keys[i]->kid[0] && strcmp(kid, f->keys[i]->kid) != 0)
            continue;
        tried++;
        ok = verify_sig(f->keys[i]->key, j.pss, jwt, j.signed_len, j.sig,
                        j.siglen);
    }
    if (!tried) {
        rc = GS_JWT_UNKNOWN_KEY;
        snprintf(errstr, errsz,
                 "client assertion failed signature validation: issuer "
                 "'%.200s' has no key with kid '%.64s'",
                 iss, kid ? kid : "");
        goto out;
    }
    if (!ok) {
        rc = GS_JWT_BAD_SIGNATURE;
        snprintf(errstr, errsz,
                 "client assertion failed signature validation: no key of "
                 "issuer '%.200s' verifies it (%s)",
                 iss, j.alg);
        goto out;
    }

    rc = GS_JWT_MISSING_CLAIM;
    exp_v = json_object_get(j.claims, "exp");
    nbf_v = json_object_get(j.claims, "nbf");
    if (!json_is_integer(exp_v) || (nbf_v && !json_is_integer(nbf_v))) {
        snprintf(errstr, errsz,
                 "the federated assertion needs an integer 'exp' claim (and "
                 "'nbf', if present, an integer)");
        goto out;
    }
    fmt_epoch(chk->now, now_s, sizeof(now_s));
    if (json_integer_value(exp_v) <= chk->now - chk->skew) {
        rc = GS_JWT_EXPIRED;
        fmt_epoch(json_integer_value(exp_v), t_s, sizeof(t_s));
        snprintf(errstr, errsz,
                 "client assertion is not within its valid time range. "
                 "Current time: %s, expiry time of assertion %s",
                 now_s, t_s);
        goto out;
    }
    if (nbf_v && json_integer_value(nbf_v) > chk->now + chk->skew) {
        rc = GS_JWT_NOT_YET_VALID;
        fmt_epoch(json_integer_value(nbf_v), t_s, sizeof(t_s));
        snprintf(errstr, errsz,
                 "client assertion is not within its valid time range. "
                 "Current time: %s, assertion valid from %s",
                 now_s, t_s);
        goto out;
    }
    rc = GS_JWT_OK;
    errstr[0] = '\0';
out:
    jws_release(&j);
    return rc;
}

bool gs_jwt_self_issued(const char *jwt, size_t len, const char *client_id)
{
    const char *dot1, *dot2, *iss;
    json_t *claims;
    bool self;

    if (len == 0 || len > GS_JWT_MAX_LEN || memchr(jwt, '\0', len))
        return false;
    dot1 = memchr(jwt, '.', len);
    if (!dot1)
        return false;
    dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - jwt));
    if (!dot2)
        return false;
    claims = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    iss = json_string_value(json_object_get(claims, "iss"));
    self = iss && strcmp(iss, client_id) == 0;
    json_decref(claims);
    return self;
}
