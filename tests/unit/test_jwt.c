/*
 * test_jwt.c - client-assertion JWTs: loading, claims, signatures, errors.
 *
 * Keys and certificates are generated at run time with OpenSSL; nothing
 * secret is committed. Tokens are checked with code independent of the
 * module: OpenSSL's base64 decoder and signature verification, jansson's
 * parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "provflow/jwt.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define AUD       "https://login.microsoftonline.com/tenant-x/oauth2/v2.0/token"
#define CLIENT_ID "11111111-2222-3333-4444-555555555555"
#define JTI_A     "0f8fad5b-d9cb-469f-a165-70867728950e"
#define JTI_B     "7c9e6679-7425-40de-944b-e07fc1f90ae7"
#define NOW       1709294400LL

/* The PEM blocks a test file can be made of. */
enum block {
    B_END = 0,
    B_KEY,          /* the main RSA key, PKCS #8 "PRIVATE KEY" */
    B_KEY_TRAD,     /* the same key, PKCS #1 "RSA PRIVATE KEY" */
    B_KEY_ENC8,     /* the same key, "ENCRYPTED PRIVATE KEY" */
    B_KEY_ENC_TRAD, /* the same key, PKCS #1 with Proc-Type ENCRYPTED */
    B_CERT,         /* the main key's certificate */
    B_KEY2,         /* a second RSA key */
    B_CERT2,        /* the second key's certificate */
    B_EC_KEY,       /* a P-256 key */
    B_EC_CERT,      /* its certificate */
    B_SMALL_KEY,    /* a 1024-bit RSA key */
    B_SMALL_CERT,   /* its certificate */
    B_GARBAGE,      /* text that is no PEM at all */
    B_BAD_BASE64,   /* a CERTIFICATE block that is not base64 */
    B_BAD_DER,      /* a CERTIFICATE block that is not a certificate */
    B_OTHER_BLOCK,  /* a PEM block of a type the loader ignores */
    B_COUNT
};

typedef struct fixture {
    EVP_PKEY *key, *key2, *ec_key, *small_key;
    X509 *cert, *cert2, *ec_cert, *small_cert;
    char *pem[B_COUNT];
    char dir[64];
    char path[128];
    pf_jwt_signer *signer;
} fixture;

static X509 *make_cert(EVP_PKEY *key, const char *cn)
{
    X509 *x = X509_new();
    X509_NAME *name;

    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    name = X509_get_subject_name(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                                (const unsigned char *)cn, -1,
                                                -1, 0),
                     1);
    assert_int_equal(X509_set_issuer_name(x, name), 1);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    return x;
}

/* Takes the text written to a memory BIO as a heap string. */
static char *bio_text(BIO *bio)
{
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *s = malloc((size_t)n + 1);

    assert_non_null(s);
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    BIO_free(bio);
    return s;
}

static char *pem_cert(X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());

    assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    return bio_text(bio);
}

static char *pem_key(EVP_PKEY *k)
{
    BIO *bio = BIO_new(BIO_s_mem());

    assert_int_equal(
        PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL), 1);
    return bio_text(bio);
}

static int setup(void **state)
{
    static const char pass[] = "test-pass";
    fixture *f = calloc(1, sizeof(*f));
    BIO *bio;

    assert_non_null(f);
    f->key = EVP_RSA_gen(2048);
    f->key2 = EVP_RSA_gen(2048);
    f->small_key = EVP_RSA_gen(1024);
    f->ec_key = EVP_EC_gen("P-256");
    assert_non_null(f->key);
    assert_non_null(f->key2);
    assert_non_null(f->small_key);
    assert_non_null(f->ec_key);
    f->cert = make_cert(f->key, "provflow test");
    f->cert2 = make_cert(f->key2, "provflow test 2");
    f->small_cert = make_cert(f->small_key, "provflow small");
    f->ec_cert = make_cert(f->ec_key, "provflow ec");

    f->pem[B_KEY] = pem_key(f->key);
    bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey_traditional(bio, f->key, NULL,
                                                          NULL, 0, NULL, NULL),
                     1);
    f->pem[B_KEY_TRAD] = bio_text(bio);
    bio = BIO_new(BIO_s_mem());
    assert_int_equal(
        PEM_write_bio_PKCS8PrivateKey(bio, f->key, EVP_aes_256_cbc(), pass,
                                      (int)strlen(pass), NULL, NULL),
        1);
    f->pem[B_KEY_ENC8] = bio_text(bio);
    bio = BIO_new(BIO_s_mem());
    assert_int_equal(
        PEM_write_bio_PrivateKey_traditional(bio, f->key, EVP_aes_256_cbc(),
                                             (const unsigned char *)pass,
                                             (int)strlen(pass), NULL, NULL),
        1);
    f->pem[B_KEY_ENC_TRAD] = bio_text(bio);
    f->pem[B_CERT] = pem_cert(f->cert);
    f->pem[B_KEY2] = pem_key(f->key2);
    f->pem[B_CERT2] = pem_cert(f->cert2);
    f->pem[B_EC_KEY] = pem_key(f->ec_key);
    f->pem[B_EC_CERT] = pem_cert(f->ec_cert);
    f->pem[B_SMALL_KEY] = pem_key(f->small_key);
    f->pem[B_SMALL_CERT] = pem_cert(f->small_cert);
    f->pem[B_GARBAGE] = strdup("not-a-pem secret-looking-garbage-Zq7\n");
    f->pem[B_BAD_BASE64] = strdup("-----BEGIN CERTIFICATE-----\n"
                                  "!!!!not base64!!!!\n"
                                  "-----END CERTIFICATE-----\n");
    f->pem[B_BAD_DER] = strdup("-----BEGIN CERTIFICATE-----\n"
                               "AAECAwQFBgcICQ==\n"
                               "-----END CERTIFICATE-----\n");
    f->pem[B_OTHER_BLOCK] = strdup("-----BEGIN DH PARAMETERS-----\n"
                                   "AAECAwQFBgcICQ==\n"
                                   "-----END DH PARAMETERS-----\n");

    snprintf(f->dir, sizeof(f->dir), "/tmp/pf_test_jwt.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/cred.pem", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int i;

    for (i = 0; i < B_COUNT; i++)
        free(f->pem[i]);
    unlink(f->path);
    rmdir(f->dir);
    EVP_PKEY_free(f->key);
    EVP_PKEY_free(f->key2);
    EVP_PKEY_free(f->ec_key);
    EVP_PKEY_free(f->small_key);
    X509_free(f->cert);
    X509_free(f->cert2);
    X509_free(f->ec_cert);
    X509_free(f->small_cert);
    free(f);
    return 0;
}

/* Writes the blocks (ending at B_END) to f->path and returns the path. */
static const char *write_pem(fixture *f, const enum block *blocks)
{
    FILE *fp = fopen(f->path, "w");
    size_t i;

    assert_non_null(fp);
    for (i = 0; blocks[i] != B_END; i++)
        assert_int_equal(fputs(f->pem[blocks[i]], fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    return f->path;
}

/* Unpadded base64url -> bytes, with OpenSSL's decoder. */
static unsigned char *b64url_decode(const char *s, size_t n, size_t *out_len)
{
    size_t padded = (n + 3) / 4 * 4;
    char *std = calloc(padded + 1, 1);
    unsigned char *out = malloc(padded / 4 * 3 + 1);
    size_t i;
    int len;

    assert_non_null(std);
    assert_non_null(out);
    for (i = 0; i < n; i++) {
        assert_true(s[i] != '=' && s[i] != '+' && s[i] != '/');
        std[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    }
    for (; i < padded; i++)
        std[i] = '=';
    len = EVP_DecodeBlock(out, (unsigned char *)std, (int)padded);
    assert_true(len >= 0);
    *out_len = (size_t)len - (padded - n); /* DecodeBlock counts padding */
    free(std);
    return out;
}

/* Bytes -> unpadded base64url, with OpenSSL's encoder. */
static void b64url_encode_ref(const unsigned char *in, size_t n, char *out)
{
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    int i;

    for (i = 0; i < len; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
}

/* The thumbprint of x with hash md, computed here, not by the module. */
static void thumbprint_ref(X509 *x, const EVP_MD *md, char *out)
{
    unsigned char *der = NULL;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen;
    int len = i2d_X509(x, &der);

    assert_true(len > 0);
    assert_int_equal(EVP_Digest(der, (size_t)len, digest, &dlen, md, NULL), 1);
    OPENSSL_free(der);
    b64url_encode_ref(digest, dlen, out);
}

typedef struct parsed {
    json_t *header;
    json_t *claims;
    unsigned char *sig;
    size_t sig_len;
    size_t input_len; /* length of "header.claims" */
} parsed;

static void parse_token(const char *tok, parsed *p)
{
    const char *d1 = strchr(tok, '.');
    const char *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    unsigned char *raw;
    size_t n;
    json_error_t jerr;

    assert_non_null(d1);
    assert_non_null(d2);
    assert_null(strchr(d2 + 1, '.'));
    raw = b64url_decode(tok, (size_t)(d1 - tok), &n);
    p->header = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, &jerr);
    free(raw);
    raw = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &n);
    p->claims = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, &jerr);
    free(raw);
    p->sig = b64url_decode(d2 + 1, strlen(d2 + 1), &p->sig_len);
    p->input_len = (size_t)(d2 - tok);
    assert_non_null(p->header);
    assert_non_null(p->claims);
}

static void parsed_release(parsed *p)
{
    json_decref(p->header);
    json_decref(p->claims);
    free(p->sig);
}

/* 1 if sig verifies over tok's signing input with padding `pad`. */
static int verify(X509 *cert, const char *tok, const parsed *p, int pad)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok;

    assert_non_null(md);
    assert_int_equal(EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL,
                                          X509_get0_pubkey(cert)),
                     1);
    assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, pad) > 0);
    if (pad == RSA_PKCS1_PSS_PADDING) {
        /* Exactly the digest length, not "auto": PS256 demands 32. */
        assert_true(
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0);
        assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0);
    }
    ok = EVP_DigestVerify(md, p->sig, p->sig_len, (const unsigned char *)tok,
                          p->input_len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

static const char *str_member(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    if (s == NULL)
        fail_msg("member %s missing or not a string", key);
    return s;
}

static json_int_t int_member(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    if (!json_is_integer(v))
        fail_msg("member %s missing or not an integer", key);
    return json_integer_value(v);
}

static char *sign_ok(fixture *f, const char *jti, pf_jwt_alg alg)
{
    char err[256] = "";
    char *tok = NULL;

    if (pf_jwt_sign(f->signer, AUD, CLIENT_ID, jti, NOW,
                    PF_JWT_LIFETIME_DEFAULT_S, alg, &tok, err,
                    sizeof(err)) != 0)
        fail_msg("pf_jwt_sign: %s", err);
    assert_non_null(tok);
    assert_null(strchr(tok, '='));
    assert_null(strchr(tok, '+'));
    assert_null(strchr(tok, '/'));
    return tok;
}

static int load_main(void **state)
{
    static const enum block blocks[] = {B_KEY, B_CERT, B_END};
    fixture *f = *state;
    char err[256] = "";

    f->signer = pf_jwt_signer_new(write_pem(f, blocks), err, sizeof(err));
    if (f->signer == NULL)
        fail_msg("pf_jwt_signer_new: %s", err);
    return 0;
}

static int unload_main(void **state)
{
    fixture *f = *state;

    pf_jwt_signer_destroy(f->signer);
    f->signer = NULL;
    return 0;
}

static void ps256_token_has_every_field_and_verifies(void **state)
{
    fixture *f = *state;
    char want_s256[64];
    char *tok = sign_ok(f, JTI_A, PF_JWT_PS256);
    parsed p;

    thumbprint_ref(f->cert, EVP_sha256(), want_s256);
    parse_token(tok, &p);

    assert_int_equal(json_object_size(p.header), 3);
    assert_string_equal(str_member(p.header, "alg"), "PS256");
    assert_string_equal(str_member(p.header, "typ"), "JWT");
    assert_string_equal(str_member(p.header, "x5t#S256"), want_s256);
    assert_string_equal(pf_jwt_signer_thumbprint(f->signer), want_s256);
    assert_int_equal(strlen(want_s256), PF_JWT_X5T_S256_LEN);

    assert_int_equal(json_object_size(p.claims), 7);
    assert_string_equal(str_member(p.claims, "aud"), AUD);
    assert_string_equal(str_member(p.claims, "iss"), CLIENT_ID);
    assert_string_equal(str_member(p.claims, "sub"), CLIENT_ID);
    assert_string_equal(str_member(p.claims, "jti"), JTI_A);
    assert_int_equal(int_member(p.claims, "nbf"), NOW);
    assert_int_equal(int_member(p.claims, "iat"), NOW);
    assert_int_equal(int_member(p.claims, "exp"), NOW + 600);

    assert_int_equal(p.sig_len, 256);
    assert_true(verify(f->cert, tok, &p, RSA_PKCS1_PSS_PADDING));
    assert_false(verify(f->cert, tok, &p, RSA_PKCS1_PADDING));
    assert_false(verify(f->cert2, tok, &p, RSA_PKCS1_PSS_PADDING));
    parsed_release(&p);
    pf_jwt_free(tok);
}

static void rs256_token_adds_sha1_x5t_and_verifies(void **state)
{
    fixture *f = *state;
    char want_s256[64], want_sha1[64];
    char *tok = sign_ok(f, JTI_A, PF_JWT_RS256);
    parsed p;

    thumbprint_ref(f->cert, EVP_sha256(), want_s256);
    thumbprint_ref(f->cert, EVP_sha1(), want_sha1);
    parse_token(tok, &p);
    assert_int_equal(json_object_size(p.header), 4);
    assert_string_equal(str_member(p.header, "alg"), "RS256");
    assert_string_equal(str_member(p.header, "typ"), "JWT");
    assert_string_equal(str_member(p.header, "x5t#S256"), want_s256);
    assert_string_equal(str_member(p.header, "x5t"), want_sha1);
    assert_string_equal(str_member(p.claims, "jti"), JTI_A);
    assert_true(verify(f->cert, tok, &p, RSA_PKCS1_PADDING));
    assert_false(verify(f->cert, tok, &p, RSA_PKCS1_PSS_PADDING));
    parsed_release(&p);
    pf_jwt_free(tok);
}

static void tampered_claims_do_not_verify(void **state)
{
    fixture *f = *state;
    char *tok = sign_ok(f, JTI_A, PF_JWT_PS256);
    char *dot = strchr(tok, '.');
    parsed p;

    /* Change one claims character to another valid base64url one. */
    dot[5] = dot[5] == 'A' ? 'B' : 'A';
    p.header = NULL;
    p.claims = NULL;
    p.sig = b64url_decode(strrchr(tok, '.') + 1, strlen(strrchr(tok, '.') + 1),
                          &p.sig_len);
    p.input_len = (size_t)(strrchr(tok, '.') - tok);
    assert_false(verify(f->cert, tok, &p, RSA_PKCS1_PSS_PADDING));
    parsed_release(&p);
    pf_jwt_free(tok);
}

static void each_jti_makes_a_different_token(void **state)
{
    fixture *f = *state;
    char *a = sign_ok(f, JTI_A, PF_JWT_RS256);
    char *b = sign_ok(f, JTI_B, PF_JWT_RS256);
    parsed pa, pb;

    assert_string_not_equal(a, b);
    parse_token(a, &pa);
    parse_token(b, &pb);
    assert_string_equal(str_member(pa.claims, "jti"), JTI_A);
    assert_string_equal(str_member(pb.claims, "jti"), JTI_B);
    parsed_release(&pa);
    parsed_release(&pb);
    pf_jwt_free(a);
    pf_jwt_free(b);
}

static void lifetime_sets_exp_within_bounds(void **state)
{
    static const int lifetimes[] = {PF_JWT_LIFETIME_MIN_S, 450,
                                    PF_JWT_LIFETIME_MAX_S};
    fixture *f = *state;
    size_t i;

    for (i = 0; i < N_ELEMS(lifetimes); i++) {
        char *tok = NULL;
        parsed p;

        assert_int_equal(pf_jwt_sign(f->signer, AUD, CLIENT_ID, JTI_A, NOW,
                                     lifetimes[i], PF_JWT_PS256, &tok, NULL, 0),
                         0);
        parse_token(tok, &p);
        assert_int_equal(int_member(p.claims, "exp"), NOW + lifetimes[i]);
        assert_int_equal(int_member(p.claims, "nbf"), NOW);
        parsed_release(&p);
        pf_jwt_free(tok);
    }
}

static void bad_sign_arguments_fail_without_output(void **state)
{
    fixture *f = *state;
    static const char bad_utf8[] = "https://login/\xff\xfe";
    const struct {
        const char *aud, *client_id, *jti;
        int64_t now;
        int lifetime;
        int alg;
    } cases[] = {
        {NULL, CLIENT_ID, JTI_A, NOW, 600, PF_JWT_PS256},
        {AUD, NULL, JTI_A, NOW, 600, PF_JWT_PS256},
        {AUD, CLIENT_ID, NULL, NOW, 600, PF_JWT_PS256},
        {"", CLIENT_ID, JTI_A, NOW, 600, PF_JWT_PS256},
        {AUD, "", JTI_A, NOW, 600, PF_JWT_PS256},
        {AUD, CLIENT_ID, "not-a-guid", NOW, 600, PF_JWT_PS256},
        {AUD, CLIENT_ID, "", NOW, 600, PF_JWT_PS256},
        {AUD, CLIENT_ID, JTI_A, -1, 600, PF_JWT_PS256},
        {AUD, CLIENT_ID, JTI_A, NOW, 299, PF_JWT_PS256},
        {AUD, CLIENT_ID, JTI_A, NOW, 601, PF_JWT_PS256},
        {AUD, CLIENT_ID, JTI_A, NOW, 0, PF_JWT_PS256},
        {AUD, CLIENT_ID, JTI_A, NOW, 600, 7},
        {bad_utf8, CLIENT_ID, JTI_A, NOW, 600, PF_JWT_PS256},
    };
    size_t i;

    for (i = 0; i < N_ELEMS(cases); i++) {
        char err[256] = "";
        char *tok = (char *)"untouched";

        assert_int_equal(
            pf_jwt_sign(f->signer, cases[i].aud, cases[i].client_id,
                        cases[i].jti, cases[i].now, cases[i].lifetime,
                        (pf_jwt_alg)cases[i].alg, &tok, err, sizeof(err)),
            -1);
        assert_null(tok);
        assert_true(strlen(err) > 0);
    }
    assert_int_equal(pf_jwt_sign(NULL, AUD, CLIENT_ID, JTI_A, NOW, 600,
                                 PF_JWT_PS256, NULL, NULL, 0),
                     -1);
    pf_jwt_free(NULL);
}

static void loads_key_and_cert_in_any_order_and_format(void **state)
{
    static const enum block layouts[][5] = {
        {B_KEY, B_CERT, B_END},
        {B_CERT, B_KEY, B_END},
        {B_KEY_TRAD, B_CERT, B_END},
        {B_CERT, B_KEY_TRAD, B_END},
        /* A chain: the leaf is found by its key, wherever it is. */
        {B_CERT2, B_KEY, B_CERT, B_END},
        {B_CERT, B_CERT2, B_KEY, B_END},
        /* Blocks of other types are ignored. */
        {B_OTHER_BLOCK, B_KEY, B_CERT, B_END},
    };
    fixture *f = *state;
    char want[64];
    size_t i;

    thumbprint_ref(f->cert, EVP_sha256(), want);
    for (i = 0; i < N_ELEMS(layouts); i++) {
        char err[256] = "";
        pf_jwt_signer *s =
            pf_jwt_signer_new(write_pem(f, layouts[i]), err, sizeof(err));

        if (s == NULL)
            fail_msg("layout %zu: %s", i, err);
        assert_string_equal(pf_jwt_signer_thumbprint(s), want);
        pf_jwt_signer_destroy(s);
    }
}

static void bad_credential_files_fail_with_reason(void **state)
{
    static const struct {
        enum block blocks[4];
        const char *reason;
    } cases[] = {
        /* Not PEM, so read as PKCS #12, which it is not either. */
        {{B_END}, "neither PEM"},
        {{B_GARBAGE, B_END}, "neither PEM"},
        {{B_CERT, B_END}, "no private key"},
        {{B_KEY, B_END}, "no certificate"},
        {{B_KEY, B_CERT2, B_END}, "no certificate matches"},
        {{B_KEY, B_KEY2, B_CERT, B_END}, "more than one private key"},
        {{B_KEY_ENC8, B_CERT, B_END}, "encrypted"},
        {{B_KEY_ENC_TRAD, B_CERT, B_END}, "encrypted"},
        {{B_EC_KEY, B_EC_CERT, B_END}, "not RSA"},
        {{B_SMALL_KEY, B_SMALL_CERT, B_END}, "at least 2048"},
        {{B_KEY, B_BAD_BASE64, B_END}, "malformed PEM"},
        {{B_KEY, B_BAD_DER, B_END}, "bad certificate"},
    };
    fixture *f = *state;
    size_t i;

    for (i = 0; i < N_ELEMS(cases); i++) {
        char err[512] = "";
        pf_jwt_signer *s =
            pf_jwt_signer_new(write_pem(f, cases[i].blocks), err, sizeof(err));

        if (s != NULL || strstr(err, cases[i].reason) == NULL)
            fail_msg("case %zu: want \"%s\", got \"%s\"", i, cases[i].reason,
                     err);
        /* The reason names the file, never its content. */
        assert_non_null(strstr(err, f->path));
        assert_null(strstr(err, "BEGIN"));
        assert_null(strstr(err, "MII"));
        assert_null(strstr(err, "Zq7"));
    }
}

static void unreadable_or_oversized_file_fails(void **state)
{
    fixture *f = *state;
    char err[512] = "";
    char missing[160], fifo[160];
    FILE *fp;
    size_t i;

    snprintf(missing, sizeof(missing), "%s/absent.pem", f->dir);
    assert_null(pf_jwt_signer_new(missing, err, sizeof(err)));
    assert_non_null(strstr(err, "absent.pem"));
    assert_non_null(strstr(err, "No such file"));

    assert_null(pf_jwt_signer_new(f->dir, err, sizeof(err)));
    assert_non_null(strstr(err, f->dir));

    fp = fopen(f->path, "w");
    assert_non_null(fp);
    for (i = 0; i < PF_JWT_PEM_MAX + 1; i++)
        assert_int_equal(fputc('#', fp), '#');
    assert_int_equal(fclose(fp), 0);
    assert_null(pf_jwt_signer_new(f->path, err, sizeof(err)));
    assert_non_null(strstr(err, "larger than"));

    /* A FIFO (nobody writing) is refused at once, never waited on. */
    snprintf(fifo, sizeof(fifo), "%s/fifo.pem", f->dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_null(pf_jwt_signer_new(fifo, err, sizeof(err)));
    assert_non_null(strstr(err, "not a regular file"));
    unlink(fifo);

    /* No errstr at all is fine. */
    assert_null(pf_jwt_signer_new(missing, NULL, 0));
    pf_jwt_signer_destroy(NULL);
}

#define P12_PASS "p12-Pass-7Qx"

/*
 * Writes a PKCS #12 file of key, cert and the extra certificates (NULL
 * ends them; any may be NULL) protected by pass, and returns the path.
 */
static const char *write_p12(fixture *f, const char *pass, EVP_PKEY *key,
                             X509 *cert, X509 *extra, X509 *extra2)
{
    STACK_OF(X509) *ca = sk_X509_new_null();
    PKCS12 *p12;
    FILE *fp;

    assert_non_null(ca);
    if (extra != NULL)
        assert_true(sk_X509_push(ca, extra) > 0);
    if (extra2 != NULL)
        assert_true(sk_X509_push(ca, extra2) > 0);
    /* 0, 0: OpenSSL 3's defaults, AES-256-CBC with PBKDF2. */
    p12 = PKCS12_create(pass, "provflow test", key, cert, ca, 0, 0, 0, 0, 0);
    assert_non_null(p12);
    fp = fopen(f->path, "wb");
    assert_non_null(fp);
    assert_int_equal(i2d_PKCS12_fp(fp, p12), 1);
    assert_int_equal(fclose(fp), 0);
    PKCS12_free(p12);
    sk_X509_free(ca); /* the certificates are the fixture's */
    return f->path;
}

/* The standard base64 of x's DER, computed here. */
static char *der_b64_ref(X509 *x)
{
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    char *out = malloc((size_t)(len + 2) / 3 * 4 + 1);

    assert_true(len > 0);
    assert_non_null(out);
    EVP_EncodeBlock((unsigned char *)out, der, len);
    OPENSSL_free(der);
    return out;
}

static void pkcs12_opens_with_its_password_and_signs(void **state)
{
    fixture *f = *state;
    pf_jwt_load_opts opts = {P12_PASS, false};
    char want[64], err[512] = "", *tok = NULL;
    pf_jwt_signer *s;
    parsed p;

    thumbprint_ref(f->cert, EVP_sha256(), want);
    s = pf_jwt_signer_load(write_p12(f, P12_PASS, f->key, f->cert, NULL, NULL),
                           &opts, err, sizeof(err));
    if (s == NULL)
        fail_msg("PKCS #12: %s", err);
    assert_string_equal(pf_jwt_signer_thumbprint(s), want);
    assert_int_equal(pf_jwt_signer_chain_length(s), 0);
    assert_int_equal(pf_jwt_sign(s, AUD, CLIENT_ID, JTI_A, NOW, 600,
                                 PF_JWT_PS256, &tok, err, sizeof(err)),
                     0);
    parse_token(tok, &p);
    assert_true(verify(f->cert, tok, &p, RSA_PKCS1_PSS_PADDING));
    assert_null(json_object_get(p.header, "x5c"));
    parsed_release(&p);
    pf_jwt_free(tok);
    pf_jwt_signer_destroy(s);

    /* A file protected by the empty password needs none set. */
    s = pf_jwt_signer_load(write_p12(f, "", f->key, f->cert, NULL, NULL), NULL,
                           err, sizeof(err));
    if (s == NULL)
        fail_msg("PKCS #12, empty password: %s", err);
    assert_string_equal(pf_jwt_signer_thumbprint(s), want);
    pf_jwt_signer_destroy(s);
}

static void pkcs12_refusals_say_why_without_the_password(void **state)
{
    fixture *f = *state;
    static const pf_jwt_load_opts wrong = {"not-" P12_PASS, false};
    static const pf_jwt_load_opts right = {P12_PASS, false};
    const struct {
        const char *pass; /* the file's */
        bool has_key, has_cert, extra_cert2;
        const pf_jwt_load_opts *opts;
        const char *reason;
    } cases[] = {
        {P12_PASS, true, true, false, &wrong, "wrong password"},
        {P12_PASS, true, true, false, NULL,
         "protected by a password and no password is set"},
        /* A certificate alone: no key bag. */
        {P12_PASS, false, true, false, &right, "no private key"},
        /* A key and only another key's certificate. */
        {P12_PASS, true, false, true, &right,
         "no certificate matches the private key"},
    };
    size_t i;

    for (i = 0; i < N_ELEMS(cases); i++) {
        char err[512] = "";
        const char *path =
            write_p12(f, cases[i].pass, cases[i].has_key ? f->key : NULL,
                      cases[i].has_cert ? f->cert : NULL,
                      cases[i].extra_cert2 ? f->cert2 : NULL, NULL);
        pf_jwt_signer *s =
            pf_jwt_signer_load(path, cases[i].opts, err, sizeof(err));

        if (s != NULL || strstr(err, cases[i].reason) == NULL)
            fail_msg("case %zu: want \"%s\", got \"%s\"", i, cases[i].reason,
                     err);
        assert_non_null(strstr(err, f->path));
        assert_null(strstr(err, P12_PASS));
    }
}

static void encrypted_pem_key_opens_with_the_password(void **state)
{
    static const enum block enc8[] = {B_KEY_ENC8, B_CERT, B_END};
    static const enum block trad[] = {B_CERT, B_KEY_ENC_TRAD, B_END};
    static const pf_jwt_load_opts right = {"test-pass", false};
    static const pf_jwt_load_opts wrong = {"test-pasS", false};
    const enum block *layouts[] = {enc8, trad};
    fixture *f = *state;
    char want[64];
    size_t i;

    thumbprint_ref(f->cert, EVP_sha256(), want);
    for (i = 0; i < N_ELEMS(layouts); i++) {
        char err[512] = "";
        pf_jwt_signer *s = pf_jwt_signer_load(write_pem(f, layouts[i]), &right,
                                              err, sizeof(err));

        if (s == NULL)
            fail_msg("layout %zu: %s", i, err);
        assert_string_equal(pf_jwt_signer_thumbprint(s), want);
        pf_jwt_signer_destroy(s);
        s = pf_jwt_signer_load(write_pem(f, layouts[i]), &wrong, err,
                               sizeof(err));
        assert_null(s);
        assert_non_null(strstr(err, "wrong password"));
        assert_null(strstr(err, "test-pas"));
    }
}

/* The header's x5c, checked against the certificates expected, in order. */
static void assert_x5c(const pf_jwt_signer *s, X509 *const *want, size_t n)
{
    char err[256] = "", *tok = NULL;
    const json_t *x5c;
    parsed p;
    size_t i;

    assert_int_equal(pf_jwt_signer_chain_length(s), n);
    assert_int_equal(pf_jwt_sign(s, AUD, CLIENT_ID, JTI_A, NOW, 600,
                                 PF_JWT_RS256, &tok, err, sizeof(err)),
                     0);
    parse_token(tok, &p);
    x5c = json_object_get(p.header, "x5c");
    assert_true(json_is_array(x5c));
    assert_int_equal(json_array_size(x5c), n);
    for (i = 0; i < n; i++) {
        char *ref = der_b64_ref(want[i]);

        assert_true(json_is_string(json_array_get(x5c, i)));
        assert_string_equal(json_string_value(json_array_get(x5c, i)), ref);
        free(ref);
    }
    /* The thumbprints stay: x5c adds to them. */
    assert_non_null(json_object_get(p.header, "x5t#S256"));
    assert_non_null(json_object_get(p.header, "x5t"));
    assert_true(verify(want[0], tok, &p, RSA_PKCS1_PADDING));
    parsed_release(&p);
    pf_jwt_free(tok);
}

static void send_chain_puts_the_leaf_first_then_the_file_order(void **state)
{
    /* The leaf after another certificate still comes first. */
    static const enum block pem[] = {B_CERT2, B_KEY, B_SMALL_CERT, B_CERT,
                                     B_END};
    static const pf_jwt_load_opts chain = {NULL, true};
    static const pf_jwt_load_opts p12_chain = {P12_PASS, true};
    fixture *f = *state;
    X509 *want_pem[] = {f->cert, f->cert2, f->small_cert};
    X509 *want_p12[] = {f->cert, f->cert2, f->ec_cert};
    char err[512] = "";
    pf_jwt_signer *s;

    s = pf_jwt_signer_load(write_pem(f, pem), &chain, err, sizeof(err));
    if (s == NULL)
        fail_msg("PEM chain: %s", err);
    assert_x5c(s, want_pem, N_ELEMS(want_pem));
    pf_jwt_signer_destroy(s);

    s = pf_jwt_signer_load(
        write_p12(f, P12_PASS, f->key, f->cert, f->cert2, f->ec_cert),
        &p12_chain, err, sizeof(err));
    if (s == NULL)
        fail_msg("PKCS #12 chain: %s", err);
    assert_x5c(s, want_p12, N_ELEMS(want_p12));
    pf_jwt_signer_destroy(s);

    /* A lone certificate is a chain of one. */
    s = pf_jwt_signer_load(write_p12(f, P12_PASS, f->key, f->cert, NULL, NULL),
                           &p12_chain, err, sizeof(err));
    assert_non_null(s);
    assert_x5c(s, want_p12, 1);
    pf_jwt_signer_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            ps256_token_has_every_field_and_verifies, load_main, unload_main),
        cmocka_unit_test_setup_teardown(rs256_token_adds_sha1_x5t_and_verifies,
                                        load_main, unload_main),
        cmocka_unit_test_setup_teardown(tampered_claims_do_not_verify,
                                        load_main, unload_main),
        cmocka_unit_test_setup_teardown(each_jti_makes_a_different_token,
                                        load_main, unload_main),
        cmocka_unit_test_setup_teardown(lifetime_sets_exp_within_bounds,
                                        load_main, unload_main),
        cmocka_unit_test_setup_teardown(bad_sign_arguments_fail_without_output,
                                        load_main, unload_main),
        cmocka_unit_test(loads_key_and_cert_in_any_order_and_format),
        cmocka_unit_test(bad_credential_files_fail_with_reason),
        cmocka_unit_test(unreadable_or_oversized_file_fails),
        cmocka_unit_test(pkcs12_opens_with_its_password_and_signs),
        cmocka_unit_test(pkcs12_refusals_say_why_without_the_password),
        cmocka_unit_test(encrypted_pem_key_opens_with_the_password),
        cmocka_unit_test(send_chain_puts_the_leaf_first_then_the_file_order),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
