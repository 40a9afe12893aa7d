/*
 * test_gs_jwt.c - client-assertion verification: assertions signed here
 * with OpenSSL (PS256 and RS256, as provflow's client will) pass, and every
 * broken one fails with the matching reason.
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
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

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
    char h[2048], c[2048], s[1024], *out;
    unsigned char sig[512];
    size_t siglen = sizeof(sig), n;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    char input[4200];

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
    struct gs_jwt_check chk = {CLIENT, auds, 1, certs, 1, NOW, 300};
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ps256_and_rs256_assertions_verify),
        cmocka_unit_test(signature_problems_are_named),
        cmocka_unit_test(claim_problems_are_named),
        cmocka_unit_test(malformed_assertions_never_crash),
        cmocka_unit_test(certificates_load_from_pem_only),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
