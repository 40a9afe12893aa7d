/*
 * test_gs_jwt.c - client-assertion verification: assertions signed here
 * with OpenSSL (PS256 and RS256, as provflow's client will) pass, and every
 * broken one fails with the matching reason; the same for federated tokens
 * against an issuer's keys (PEM or JWKS), and the key loader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "gs_jwt.h"
#include "gs_util.h"

#define CLIENT "11111111-2222-3333-4444-555555555555"
#define AUD    "http://127.0.0.1:8080/test-tenant/oauth2/v2.0/token"
#define NOW    1700000000

struct keypair {
    EVP_PKEY *key;
    struct gs_cert *cert;
    char *cert_pem;
};

static struct keypair kp, other;

/* An RSA key and a self-signed certificate for it, as PEM. */
static void make_keypair(struct keypair *k)
{
    X509 *x = X509_new();
    BIO *bio = BIO_new(BIO_s_mem());
    char err[200], *data;
    long n;

    k->key = EVP_RSA_gen(2048);
    assert_non_null(k->key);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k->key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"graphsim-test", -1, -1,
                               0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    assert_true(X509_sign(x, k->key, EVP_sha256()) > 0);
    assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    n = BIO_get_mem_data(bio, &data);
    /* BIO memory is not NUL-terminated: copy it by length. */
    k->cert_pem = malloc((size_t)n + 1);
    assert_non_null(k->cert_pem);
    memcpy(k->cert_pem, data, (size_t)n);
    k->cert_pem[n] = '\0';
    k->cert = gs_cert_load(k->cert_pem, err, sizeof(err));
    assert_non_null(k->cert);
    BIO_free(bio);
    X509_free(x);
}

static int setup(void **state)
{
    (void)state;
    make_keypair(&kp);
    make_keypair(&other);
    return 0;
}

static void free_keypair(struct keypair *k)
{
    EVP_PKEY_free(k->key);
    gs_cert_free(k->cert);
    free(k->cert_pem);
}

static int teardown(void **state)
{
    (void)state;
    free_keypair(&kp);
    free_keypair(&other);
    return 0;
}

static void b64(const char *s, size_t n, char *out, size_t outsz)
{
    assert_true(gs_b64url_encode((const unsigned char *)s, n, out, outsz) > 0 ||
                n == 0);
}

enum sig_mode { SIG_PSS, SIG_PSS_MAX_SALT, SIG_PKCS1, SIG_NONE };

/* header.claims.signature, signed by key with mode. */
static char *sign_jwt(const char *header, const char *claims, EVP_PKEY *key,
                      enum sig_mode mode)
{
    static char h[12288], input[16384];
    char c[2048], s[1024], *out;
    unsigned char sig[512];
    size_t siglen = sizeof(sig), n;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;

    b64(header, strlen(header), h, sizeof(h));
    b64(claims, strlen(claims), c, sizeof(c));
    snprintf(input, sizeof(input), "%s.%s", h, c);
    if (mode == SIG_NONE) {
        siglen = 0;
    } else {
        assert_int_equal(
            EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key), 1);
        if (mode != SIG_PKCS1) {
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, mode == SIG_PSS
                                                       ? RSA_PSS_SALTLEN_DIGEST
                                                       : RSA_PSS_SALTLEN_MAX);
        }
        assert_int_equal(EVP_DigestSign(ctx, sig, &siglen,
                                        (const unsigned char *)input,
                                        strlen(input)),
                         1);
    }
    EVP_MD_CTX_free(ctx);
    s[0] = '\0';
    if (siglen)
        gs_b64url_encode(sig, siglen, s, sizeof(s));
    n = strlen(input) + strlen(s) + 2;
    out = malloc(n);
    snprintf(out, n, "%s.%s", input, s);
    return out;
}

static char *header_for(const char *alg, const struct keypair *k, bool s256)
{
    static char h[512];

    snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"%s\":\"%s\"}",
             alg, s256 ? "x5t#S256" : "x5t",
             s256 ? gs_cert_x5t_s256(k->cert) : gs_cert_x5t(k->cert));
    return h;
}

static char *claims_with(const char *iss, const char *sub, const char *aud,
                         long long nbf, long long exp, const char *jti)
{
    static char c[1024];
    char jti_part[128] = "";

    if (jti)
        snprintf(jti_part, sizeof(jti_part), ",\"jti\":\"%s\"", jti);
    snprintf(c, sizeof(c),
             "{\"aud\":%s,\"iss\":\"%s\",\"sub\":\"%s\",\"nbf\":%lld,"
             "\"iat\":%lld,\"exp\":%lld%s}",
             aud, iss, sub, nbf, nbf, exp, jti_part);
    return c;
}

#define GOOD_CLAIMS                                                            \
    claims_with(CLIENT, CLIENT, "\"" AUD "\"", NOW, NOW + 600,                 \
                "0f8fad5b-d9cb-469f-a165-70867728950e")

static enum gs_jwt_result verify(const char *jwt)
{
    static const char *const auds[] = {AUD};
    struct gs_cert *certs[] = {kp.cert};
    struct gs_jwt_check chk = {CLIENT, auds, 1,    certs, 1,
                               NOW,    300,  NULL, NULL,  0};
    char err[512];
    enum gs_jwt_result r =
        gs_jwt_verify(jwt, strlen(jwt), &chk, err, sizeof(err));

    if (r != GS_JWT_OK)
        assert_true(err[0] != '\0');
    return r;
}

static void expect(const char *header, const char *claims, EVP_PKEY *key,
                   enum sig_mode mode, enum gs_jwt_result want)
{
    char *jwt = sign_jwt(header, claims, key, mode);
    enum gs_jwt_result got = verify(jwt);

    if (got != want)
        fail_msg("got %d, want %d for %s / %s", got, want, header, claims);
    free(jwt);
}

static void ps256_and_rs256_assertions_verify(void **state)
{
    (void)state;
    expect(header_for("PS256", &kp, true), GOOD_CLAIMS, kp.key, SIG_PSS,
           GS_JWT_OK);
    expect(header_for("RS256", &kp, true), GOOD_CLAIMS, kp.key, SIG_PKCS1,
           GS_JWT_OK);
    /* the legacy SHA-1 thumbprint header */
    expect(header_for("PS256", &kp, false), GOOD_CLAIMS, kp.key, SIG_PSS,
           GS_JWT_OK);
    /* aud as an array holding the endpoint */
    expect(
        header_for("PS256", &kp, true),
        claims_with(CLIENT, CLIENT, "[\"x\",\"" AUD "\"]", NOW, NOW + 600, "j"),
        kp.key, SIG_PSS, GS_JWT_OK);
    /* within the clock skew on both ends */
    expect(
        header_for("PS256", &kp, true),
        claims_with(CLIENT, CLIENT, "\"" AUD "\"", NOW + 200, NOW - 200, "j"),
        kp.key, SIG_PSS, GS_JWT_OK);
}

static void signature_problems_are_named(void **state)
{
    char *jwt, *forged, spliced[4096];

    (void)state;
    /* signed by another key, claiming our certificate */
    expect(header_for("PS256", &kp, true), GOOD_CLAIMS, other.key, SIG_PSS,
           GS_JWT_BAD_SIGNATURE);
    /* PS256 needs a salt as long as the hash; OpenSSL's default max is not */
    expect(header_for("PS256", &kp, true), GOOD_CLAIMS, kp.key,
           SIG_PSS_MAX_SALT, GS_JWT_BAD_SIGNATURE);
    /* header and padding disagree */
    expect(header_for("PS256", &kp, true), GOOD_CLAIMS, kp.key, SIG_PKCS1,
           GS_JWT_BAD_SIGNATURE);
    expect(header_for("RS256", &kp, true), GOOD_CLAIMS, kp.key, SIG_PSS,
           GS_JWT_BAD_SIGNATURE);
    /* a certificate the client never registered */
    expect(header_for("PS256", &other, true), GOOD_CLAIMS, other.key, SIG_PSS,
           GS_JWT_UNKNOWN_KEY);
    expect("{\"alg\":\"PS256\",\"typ\":\"JWT\"}", GOOD_CLAIMS, kp.key, SIG_PSS,
           GS_JWT_NO_THUMBPRINT);
    expect("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", GOOD_CLAIMS, kp.key, SIG_PSS,
           GS_JWT_BAD_ALG);
    /* unsigned: no signature part at all */
    expect("{\"alg\":\"none\"}", GOOD_CLAIMS, kp.key, SIG_NONE,
           GS_JWT_MALFORMED);
    expect("{\"typ\":\"JWT\"}", GOOD_CLAIMS, kp.key, SIG_PSS, GS_JWT_BAD_ALG);
    expect("{\"alg\":\"PS256\",\"typ\":\"JOSE+JSON\"}", GOOD_CLAIMS, kp.key,
           SIG_PSS, GS_JWT_BAD_ALG);
    /* claims swapped after signing: another valid claims part, the first
     * assertion's signature */
    jwt =
        sign_jwt(header_for("PS256", &kp, true), GOOD_CLAIMS, kp.key, SIG_PSS);
    forged = sign_jwt(
        header_for("PS256", &kp, true),
        claims_with(CLIENT, CLIENT, "\"" AUD "\"", NOW, NOW + 900, "other-jti"),
        kp.key, SIG_PSS);
    snprintf(spliced, sizeof(spliced), "%.*s%s",
             (int)(strrchr(forged, '.') - forged), forged, strrchr(jwt, '.'));
    assert_int_equal(verify(spliced), GS_JWT_BAD_SIGNATURE);
    free(forged);
    free(jwt);
}

static void claim_problems_are_named(void **state)
{
    const char *h;

    (void)state;
    h = header_for("PS256", &kp, true);
    expect(h, claims_with("other", CLIENT, "\"" AUD "\"", NOW, NOW + 600, "j"),
           kp.key, SIG_PSS, GS_JWT_BAD_ISSUER);
    expect(h, claims_with(CLIENT, "other", "\"" AUD "\"", NOW, NOW + 600, "j"),
           kp.key, SIG_PSS, GS_JWT_BAD_ISSUER);
    expect(h,
           claims_with(CLIENT, CLIENT,
                       "\"https://login.microsoftonline.com/x/oauth2/v2.0/"
                       "token\"",
                       NOW, NOW + 600, "j"),
           kp.key, SIG_PSS, GS_JWT_BAD_AUDIENCE);
    expect(h, claims_with(CLIENT, CLIENT, "[]", NOW, NOW + 600, "j"), kp.key,
           SIG_PSS, GS_JWT_BAD_AUDIENCE);
    expect(
        h,
        claims_with(CLIENT, CLIENT, "\"" AUD "\"", NOW - 900, NOW - 301, "j"),
        kp.key, SIG_PSS, GS_JWT_EXPIRED);
    expect(
        h,
        claims_with(CLIENT, CLIENT, "\"" AUD "\"", NOW + 301, NOW + 900, "j"),
        kp.key, SIG_PSS, GS_JWT_NOT_YET_VALID);
    expect(h, claims_with(CLIENT, CLIENT, "\"" AUD "\"", NOW, NOW + 600, NULL),
           kp.key, SIG_PSS, GS_JWT_MISSING_CLAIM);
    expect(h, claims_with(CLIENT, CLIENT, "\"" AUD "\"", NOW, NOW + 600, ""),
           kp.key, SIG_PSS, GS_JWT_MISSING_CLAIM);
    expect(h,
           "{\"aud\":\"" AUD "\",\"iss\":\"" CLIENT "\",\"sub\":\"" CLIENT
           "\",\"jti\":\"j\",\"exp\":1700000600}",
           kp.key, SIG_PSS, GS_JWT_MISSING_CLAIM);
    expect(h,
           "{\"aud\":\"" AUD "\",\"iss\":\"" CLIENT "\",\"sub\":\"" CLIENT
           "\",\"jti\":\"j\",\"nbf\":1700000000,\"exp\":\"soon\"}",
           kp.key, SIG_PSS, GS_JWT_MISSING_CLAIM);
}

static void malformed_assertions_never_crash(void **state)
{
    static const char *const bad[] = {"",
                                      "abc",
                                      "a.b",
                                      "a.b.c.d",
                                      "!!!.???.***",
                                      "e30.e30.",
                                      "W10.e30.AAAA", /* header is [] */
                                      "eyJhbGciOiJQUzI1NiJ9.bm90IGpzb24.AAAA"};
    char *big;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(verify(bad[i]), GS_JWT_MALFORMED);
    big = malloc(GS_JWT_MAX_LEN + 10);
    memset(big, 'A', GS_JWT_MAX_LEN + 9);
    big[10] = '.';
    big[20] = '.';
    big[GS_JWT_MAX_LEN + 9] = '\0';
    assert_int_equal(verify(big), GS_JWT_MALFORMED);
    free(big);
}

static void certificates_load_from_pem_only(void **state)
{
    char err[256];

    (void)state;
    assert_null(gs_cert_load("/nonexistent/cert.pem", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/cert.pem"));
    assert_null(gs_cert_load("-----BEGIN nonsense", err, sizeof(err)));
    assert_int_equal(strlen(gs_cert_x5t_s256(kp.cert)), 43);
    assert_int_equal(strlen(gs_cert_x5t(kp.cert)), 27);
}

/* --- federated tokens ---------------------------------------------------- */

#define ISS  "https://oidc.cluster.example/abc/"
#define SUB  "system:serviceaccount:ns:name"
#define XAUD "\"" GS_FED_AUDIENCE "\""

/* kp's public key as a JWKS with kid "k1" (and an EC key to skip). */
static char *jwks_of(EVP_PKEY *key, const char *kid)
{
    BIGNUM *n = NULL;
    unsigned char raw[512];
    char n64[700], *out = malloc(2048);
    int len;

    assert_non_null(out);
    assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    len = BN_bn2bin(n, raw);
    assert_true(gs_b64url_encode(raw, (size_t)len, n64, sizeof(n64)) > 0);
    snprintf(out, 2048,
             "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\","
             "\"y\":\"AA\"},{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"%s\","
             "\"e\":\"AQAB\"},{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"%s\","
             "\"n\":\"%s\",\"e\":\"AQAB\"}]}",
             n64, kid, n64);
    BN_free(n);
    return out;
}

/* Two credentials: ISS/SUB with kp's certificate as the key (no kid), and
 * "https://jwks.example"/SUB with kp's key in a JWKS under kid "k1". */
static struct gs_fed_cred creds[2];

static void creds_init(void)
{
    static char *auds[] = {GS_FED_AUDIENCE};
    char err[256], *jwks = jwks_of(kp.key, "k1");

    memset(creds, 0, sizeof(creds));
    creds[0].issuer = ISS;
    creds[0].subject = SUB;
    creds[0].audiences = auds;
    creds[0].naudiences = 1;
    assert_int_equal(gs_pubkeys_load(kp.cert_pem, &creds[0].keys,
                                     &creds[0].nkeys, err, sizeof(err)),
                     1);
    creds[1] = creds[0];
    creds[1].issuer = "https://jwks.example";
    creds[1].keys = NULL;
    creds[1].nkeys = 0;
    if (gs_pubkeys_load(jwks, &creds[1].keys, &creds[1].nkeys, err,
                        sizeof(err)) != 1)
        fail_msg("%s", err);
    assert_string_equal(gs_pubkey_kid(creds[1].keys[0]), "k1");
    free(jwks);
}

static void creds_free(void)
{
    size_t i, k;

    for (i = 0; i < 2; i++) {
        for (k = 0; k < creds[i].nkeys; k++)
            gs_pubkey_free(creds[i].keys[k]);
        free(creds[i].keys);
    }
}

static char *fed_claims(const char *iss, const char *sub, const char *aud,
                        long long nbf, long long exp)
{
    static char c[1024];

    snprintf(c, sizeof(c),
             "{\"aud\":%s,\"exp\":%lld,\"iat\":%lld,\"iss\":\"%s\","
             "\"nbf\":%lld,\"sub\":\"%s\"}",
             aud, exp, nbf, iss, nbf, sub);
    return c;
}

static enum gs_jwt_result fed_verify(const char *header, const char *claims,
                                     EVP_PKEY *key, enum sig_mode mode,
                                     char *err, size_t errsz)
{
    struct gs_fed_check chk = {creds, 2, NOW, 300};
    char *jwt = sign_jwt(header, claims, key, mode);
    enum gs_jwt_result r =
        gs_jwt_verify_federated(jwt, strlen(jwt), &chk, err, errsz);

    if (r != GS_JWT_OK)
        assert_true(err[0] != '\0');
    free(jwt);
    return r;
}

static void fed_expect(const char *header, const char *claims, EVP_PKEY *key,
                       enum sig_mode mode, enum gs_jwt_result want)
{
    char err[512];
    enum gs_jwt_result got =
        fed_verify(header, claims, key, mode, err, sizeof(err));

    if (got != want)
        fail_msg("got %d (%s), want %d for %s / %s", got, err, want, header,
                 claims);
}

#define K8S_HDR  "{\"alg\":\"RS256\",\"kid\":\"whatever\"}"
#define GOOD_FED fed_claims(ISS, SUB, "[" XAUD "]", NOW, NOW + 3600)

static void federated_tokens_verify(void **state)
{
    (void)state;
    creds_init();
    /* a service-account token: no typ, a kid the PEM key does not have */
    fed_expect(K8S_HDR, GOOD_FED, kp.key, SIG_PKCS1, GS_JWT_OK);
    fed_expect("{\"alg\":\"PS256\",\"typ\":\"JWT\"}",
               fed_claims(ISS, SUB, XAUD, NOW, NOW + 60), kp.key, SIG_PSS,
               GS_JWT_OK);
    /* the JWKS key, by its kid or without one */
    fed_expect("{\"alg\":\"RS256\",\"kid\":\"k1\"}",
               fed_claims("https://jwks.example", SUB, "[\"x\"," XAUD "]", NOW,
                          NOW + 60),
               kp.key, SIG_PKCS1, GS_JWT_OK);
    fed_expect("{\"alg\":\"RS256\"}",
               fed_claims("https://jwks.example", SUB, XAUD, NOW, NOW + 60),
               kp.key, SIG_PKCS1, GS_JWT_OK);
    /* within the skew; nbf optional; no jti needed */
    fed_expect(K8S_HDR, fed_claims(ISS, SUB, XAUD, NOW + 299, NOW - 299),
               kp.key, SIG_PKCS1, GS_JWT_OK);
    fed_expect(K8S_HDR,
               "{\"aud\":" XAUD ",\"exp\":1700000600,\"iss\":\"" ISS
               "\",\"sub\":\"" SUB "\"}",
               kp.key, SIG_PKCS1, GS_JWT_OK);
    creds_free();
}

static void federated_mismatches_are_named(void **state)
{
    char err[512];

    (void)state;
    creds_init();
    assert_int_equal(fed_verify(K8S_HDR,
                                fed_claims("https://oidc.cluster.example/abc",
                                           SUB, XAUD, NOW, NOW + 60),
                                kp.key, SIG_PKCS1, err, sizeof(err)),
                     GS_JWT_NO_FEDERATED_MATCH);
    assert_non_null(
        strstr(err, "Assertion Issuer: 'https://oidc.cluster.example/abc'. "
                    "Assertion Subject: '" SUB
                    "'. Assertion Audience: '" GS_FED_AUDIENCE "'"));
    fed_expect(
        K8S_HDR,
        fed_claims(ISS, "system:serviceaccount:ns:other", XAUD, NOW, NOW + 60),
        kp.key, SIG_PKCS1, GS_JWT_NO_FEDERATED_MATCH);
    fed_expect(K8S_HDR,
               fed_claims(ISS, SUB, "[\"api://other\"]", NOW, NOW + 60), kp.key,
               SIG_PKCS1, GS_JWT_NO_FEDERATED_MATCH);
    fed_expect(K8S_HDR, fed_claims(ISS, SUB, "[]", NOW, NOW + 60), kp.key,
               SIG_PKCS1, GS_JWT_NO_FEDERATED_MATCH);
    /* signatures */
    fed_expect(K8S_HDR, GOOD_FED, other.key, SIG_PKCS1, GS_JWT_BAD_SIGNATURE);
    fed_expect(K8S_HDR, GOOD_FED, kp.key, SIG_PSS, GS_JWT_BAD_SIGNATURE);
    fed_expect("{\"alg\":\"PS256\"}", GOOD_FED, kp.key, SIG_PSS_MAX_SALT,
               GS_JWT_BAD_SIGNATURE);
    assert_int_equal(
        fed_verify("{\"alg\":\"RS256\",\"kid\":\"k2\"}",
                   fed_claims("https://jwks.example", SUB, XAUD, NOW, NOW + 60),
                   kp.key, SIG_PKCS1, err, sizeof(err)),
        GS_JWT_UNKNOWN_KEY);
    assert_non_null(strstr(err, "'k2'"));
    /* lifetime */
    fed_expect(K8S_HDR, fed_claims(ISS, SUB, XAUD, NOW - 900, NOW - 301),
               kp.key, SIG_PKCS1, GS_JWT_EXPIRED);
    fed_expect(K8S_HDR, fed_claims(ISS, SUB, XAUD, NOW + 301, NOW + 900),
               kp.key, SIG_PKCS1, GS_JWT_NOT_YET_VALID);
    /* claims */
    fed_expect(K8S_HDR,
               "{\"aud\":" XAUD ",\"iss\":\"" ISS "\",\"sub\":\"" SUB "\"}",
               kp.key, SIG_PKCS1, GS_JWT_MISSING_CLAIM);
    fed_expect(K8S_HDR,
               "{\"aud\":" XAUD ",\"exp\":1700000600,\"nbf\":\"x\","
               "\"iss\":\"" ISS "\",\"sub\":\"" SUB "\"}",
               kp.key, SIG_PKCS1, GS_JWT_MISSING_CLAIM);
    fed_expect(K8S_HDR,
               "{\"aud\":" XAUD ",\"exp\":1700000600,\"iss\":\"" ISS "\"}",
               kp.key, SIG_PKCS1, GS_JWT_MISSING_CLAIM);
    fed_expect(K8S_HDR,
               "{\"aud\":7,\"exp\":1700000600,\"iss\":\"" ISS
               "\",\"sub\":\"" SUB "\"}",
               kp.key, SIG_PKCS1, GS_JWT_MISSING_CLAIM);
    fed_expect("{\"alg\":\"HS256\"}", GOOD_FED, kp.key, SIG_PKCS1,
               GS_JWT_BAD_ALG);
    fed_expect("{\"alg\":\"RS256\",\"typ\":\"at+jwt\"}", GOOD_FED, kp.key,
               SIG_PKCS1, GS_JWT_BAD_ALG);
    assert_int_equal(gs_jwt_verify_federated(
                         "a.b.c", 5, &(struct gs_fed_check){creds, 2, NOW, 300},
                         err, sizeof(err)),
                     GS_JWT_MALFORMED);
    creds_free();
}

static void issuer_keys_load_from_jwks_and_pem(void **state)
{
    struct gs_pubkey **keys = NULL;
    size_t n = 0, i;
    char err[256], pub[4096], *jwks;
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;

    (void)state;
    /* a PEM public key, then that key and a certificate in one text */
    assert_int_equal(PEM_write_bio_PUBKEY(bio, other.key), 1);
    len = BIO_get_mem_data(bio, &data);
    snprintf(pub, sizeof(pub), "%.*s", (int)len, data);
    BIO_free(bio);
    assert_int_equal(gs_pubkeys_load(pub, &keys, &n, err, sizeof(err)), 1);
    assert_string_equal(gs_pubkey_kid(keys[0]), "");
    snprintf(pub + len, sizeof(pub) - (size_t)len, "%s", kp.cert_pem);
    assert_int_equal(gs_pubkeys_load(pub, &keys, &n, err, sizeof(err)), 2);
    assert_int_equal(n, 3);
    /* JWKS: RSA signing keys only */
    jwks = jwks_of(kp.key, "kid-9");
    assert_int_equal(gs_pubkeys_load(jwks, &keys, &n, err, sizeof(err)), 1);
    assert_string_equal(gs_pubkey_kid(keys[3]), "kid-9");
    free(jwks);
    /* failures name the reason */
    assert_int_equal(gs_pubkeys_load("{\"keys\":[{\"kty\":\"EC\"}]}", &keys, &n,
                                     err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "no RSA signing key"));
    assert_int_equal(
        gs_pubkeys_load(
            "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"!\",\"e\":\"AQAB\"}]}", &keys,
            &n, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "keys[0]"));
    assert_int_equal(
        gs_pubkeys_load("{\"kty\":\"RSA\"}", &keys, &n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a JWKS"));
    assert_int_equal(gs_pubkeys_load("{not json", &keys, &n, err, sizeof(err)),
                     -1);
    assert_int_equal(
        gs_pubkeys_load("-----BEGIN nonsense", &keys, &n, err, sizeof(err)),
        -1);
    assert_int_equal(
        gs_pubkeys_load("/nonexistent/jwks.json", &keys, &n, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "/nonexistent/jwks.json"));
    assert_int_equal(n, 4);
    for (i = 0; i < n; i++)
        gs_pubkey_free(keys[i]);
    free(keys);
}

static void self_issued_tells_own_assertions_from_federated(void **state)
{
    char *own =
        sign_jwt(header_for("PS256", &kp, true), GOOD_CLAIMS, kp.key, SIG_PSS);
    char *fed = sign_jwt(K8S_HDR, GOOD_FED, kp.key, SIG_PKCS1);

    (void)state;
    assert_true(gs_jwt_self_issued(own, strlen(own), CLIENT));
    assert_false(gs_jwt_self_issued(fed, strlen(fed), CLIENT));
    assert_false(gs_jwt_self_issued("x", 1, CLIENT));
    assert_false(gs_jwt_self_issued("a.b.c", 5, CLIENT));
    free(own);
    free(fed);
}

/* --- subject name and issuer ------------------------------------------- */

/* A certificate for key, named subject (RFC 2253 order reversed: O, CN),
 * issued by issuer_key under issuer_name (NULL: self-signed), a CA or
 * not. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *org,
                       EVP_PKEY *issuer_key, X509 *issuer, bool ca)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_get_subject_name(x);
    X509V3_CTX v3;
    X509_EXTENSION *ext;

    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 1 : 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    if (org)
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                   (const unsigned char *)org, -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
                              ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    assert_non_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static char *cert_pem(X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;

    assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    n = BIO_get_mem_data(bio, &data);
    /* BIO memory is not NUL-terminated: copied by length. */
    out = malloc((size_t)n + 1);
    assert_non_null(out);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    BIO_free(bio);
    return out;
}

static char *der_b64(X509 *x)
{
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    char *out = malloc((size_t)(len + 2) / 3 * 4 + 1);

    EVP_EncodeBlock((unsigned char *)out, der, len);
    OPENSSL_free(der);
    return out;
}

static void sni_assertions_pass_and_fail_by_chain_and_subject(void **state)
{
    static const char *const auds[] = {AUD};
    static const char *const subjects[] = {"cn=sni.test,  O=Test Org",
                                           "CN=someone.else"};
    static const char *const wrong_subject[] = {"CN=sni.test, O=Other Org"};
    EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *ca2_key = EVP_EC_gen("P-256");
    EVP_PKEY *leaf_key = EVP_RSA_gen(2048);
    X509 *ca = make_cert(ca_key, "Test CA", NULL, NULL, NULL, true);
    X509 *ca2 = make_cert(ca2_key, "Other CA", NULL, NULL, NULL, true);
    X509 *leaf = make_cert(leaf_key, "sni.test", "Test Org", ca_key, ca, false);
    X509 *stray =
        make_cert(leaf_key, "sni.test", "Test Org", ca2_key, ca2, false);
    char *ca_pem = cert_pem(ca), *ca2_pem = cert_pem(ca2);
    char *leaf_pem = cert_pem(leaf), *stray_pem = cert_pem(stray);
    char *leaf64 = der_b64(leaf), *ca64 = der_b64(ca),
         *stray64 = der_b64(stray);
    struct gs_trust *trust = gs_trust_new(), *trust2 = gs_trust_new();
    struct gs_cert *leaf_cert, *stray_cert;
    char err[512], hdr[8192];
    const struct {
        const char *what;
        const char *x5t; /* NULL: the leaf's */
        const char *x5c; /* JSON array text, or NULL: none */
        const struct gs_trust *trust;
        const char *const *subjects;
        size_t nsubjects;
        EVP_PKEY *signer;
        enum gs_jwt_result want;
    } rows[] = {
        {"leaf + CA, trusted subject", NULL, "[\"@L\",\"@C\"]", NULL, subjects,
         2, NULL, GS_JWT_OK},
        {"leaf alone (the CA is in the store)", NULL, "[\"@L\"]", NULL,
         subjects, 2, NULL, GS_JWT_OK},
        {"no x5c", NULL, NULL, NULL, subjects, 2, NULL, GS_JWT_NO_X5C},
        {"empty x5c", NULL, "[]", NULL, subjects, 2, NULL, GS_JWT_NO_X5C},
        {"subject not trusted", NULL, "[\"@L\",\"@C\"]", NULL, wrong_subject, 1,
         NULL, GS_JWT_BAD_SUBJECT},
        {"another CA", NULL, "[\"@L\",\"@C\"]", (const struct gs_trust *)1,
         subjects, 2, NULL, GS_JWT_UNTRUSTED_CHAIN},
        {"same subject from an untrusted CA", "@S", "[\"@S\"]", NULL, subjects,
         2, NULL, GS_JWT_UNTRUSTED_CHAIN},
        {"x5t#S256 not the leaf's", "@S", "[\"@L\",\"@C\"]", NULL, subjects, 2,
         NULL, GS_JWT_MALFORMED},
        {"x5c not base64 DER", NULL, "[\"bm90IGEgY2VydA==\"]", NULL, subjects,
         2, NULL, GS_JWT_MALFORMED},
        {"signed by another key", NULL, "[\"@L\",\"@C\"]", NULL, subjects, 2,
         kp.key, GS_JWT_BAD_SIGNATURE},
        {"no trusted subject: thumbprints only", NULL, "[\"@L\",\"@C\"]", NULL,
         subjects, 0, NULL, GS_JWT_UNKNOWN_KEY},
    };
    size_t i;

    (void)state;
    assert_non_null(trust);
    assert_non_null(trust2);
    assert_int_equal(gs_trust_add(trust, ca_pem, err, sizeof(err)), 0);
    assert_int_equal(gs_trust_add(trust2, ca2_pem, err, sizeof(err)), 0);
    assert_int_equal(gs_trust_add(trust, "no pem here", err, sizeof(err)), -1);
    leaf_cert = gs_cert_load(leaf_pem, err, sizeof(err));
    stray_cert = gs_cert_load(stray_pem, err, sizeof(err));
    assert_non_null(leaf_cert);
    assert_non_null(stray_cert);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct gs_jwt_check chk = {
            CLIENT,
            auds,
            1,
            NULL,
            0,
            NOW,
            300,
            rows[i].trust == (const struct gs_trust *)1 ? trust2 : trust,
            rows[i].subjects,
            rows[i].nsubjects};
        char x5c[6000] = "", *jwt, *p;
        const char *x5t = rows[i].x5t && strcmp(rows[i].x5t, "@S") == 0
                              ? gs_cert_x5t_s256(stray_cert)
                              : gs_cert_x5t_s256(leaf_cert);
        enum gs_jwt_result got;

        /* "@L", "@C", "@S": the leaf's, the CA's, the stray's base64. */
        if (rows[i].x5c) {
            size_t used = 0;

            for (p = (char *)rows[i].x5c; *p; p++) {
                const char *piece = p[0] != '@'   ? NULL
                                    : p[1] == 'L' ? leaf64
                                    : p[1] == 'C' ? ca64
                                                  : stray64;
                int n =
                    piece
                        ? snprintf(x5c + used, sizeof(x5c) - used, "%s", piece)
                        : snprintf(x5c + used, sizeof(x5c) - used, "%c", *p);

                assert_true(n > 0 && (size_t)n < sizeof(x5c) - used);
                used += (size_t)n;
                p += piece ? 1 : 0;
            }
            snprintf(hdr, sizeof(hdr),
                     "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t#S256\":\"%s\","
                     "\"x5c\":%s}",
                     x5t, x5c);
        } else {
            snprintf(hdr, sizeof(hdr),
                     "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t#S256\":\"%s\"}",
                     x5t);
        }
        jwt = sign_jwt(hdr, GOOD_CLAIMS,
                       rows[i].signer ? rows[i].signer : leaf_key, SIG_PKCS1);
        err[0] = '\0';
        got = gs_jwt_verify(jwt, strlen(jwt), &chk, err, sizeof(err));
        if (got != rows[i].want)
            fail_msg("%s: got %d, want %d (%s)", rows[i].what, got,
                     rows[i].want, err);
        free(jwt);
    }
    gs_cert_free(leaf_cert);
    gs_cert_free(stray_cert);
    gs_trust_free(trust);
    gs_trust_free(trust2);
    free(ca_pem);
    free(ca2_pem);
    free(leaf_pem);
    free(stray_pem);
    free(leaf64);
    free(ca64);
    free(stray64);
    X509_free(ca);
    X509_free(ca2);
    X509_free(leaf);
    X509_free(stray);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(ca2_key);
    EVP_PKEY_free(leaf_key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ps256_and_rs256_assertions_verify),
        cmocka_unit_test(signature_problems_are_named),
        cmocka_unit_test(claim_problems_are_named),
        cmocka_unit_test(malformed_assertions_never_crash),
        cmocka_unit_test(certificates_load_from_pem_only),
        cmocka_unit_test(federated_tokens_verify),
        cmocka_unit_test(federated_mismatches_are_named),
        cmocka_unit_test(issuer_keys_load_from_jwks_and_pem),
        cmocka_unit_test(self_issued_tells_own_assertions_from_federated),
        cmocka_unit_test(sni_assertions_pass_and_fail_by_chain_and_subject),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
