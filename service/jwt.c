/* jwt.c - client-assertion JWTs signed with OpenSSL 3 (jwt.h). */
#include "provflow/jwt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "provflow/error.h"
#include "provflow/fileio.h"
#include "provflow/reqid.h"

struct pf_jwt_signer {
    EVP_PKEY *key;
    char x5t_s256[PF_JWT_X5T_S256_LEN + 1]; /* base64url SHA-256 of DER */
    char x5t[28];                           /* base64url SHA-1 of DER */
    char **x5c; /* send_chain: base64 DER, the certificate first */
    size_t nx5c;
};

static void set_err(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;

    if (errstr == NULL || errstr_size == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

/*
 * OpenSSL's reason for the most recent failure, for error messages. Reason
 * strings are fixed texts ("bad decrypt", "wrong tag"): they never quote
 * the input. The error queue is cleared so that it does not leak into the
 * next, unrelated, failure report.
 */
static const char *ossl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

    ERR_clear_error();
    return r != NULL ? r : "unknown OpenSSL error";
}

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Characters of the unpadded base64url encoding of n bytes. */
static size_t b64url_len(size_t n)
{
    return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

/* Writes the unpadded base64url of in[0..n) and a NUL to dst. */
static void b64url_encode(char *dst, const unsigned char *in, size_t n)
{
    size_t i;
    uint32_t v;

    for (i = 0; i + 3 <= n; i += 3) {
        v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *dst++ = b64url_alphabet[v >> 18 & 63];
        *dst++ = b64url_alphabet[v >> 12 & 63];
        *dst++ = b64url_alphabet[v >> 6 & 63];
        *dst++ = b64url_alphabet[v & 63];
    }
    if (n - i == 1) {
        v = (uint32_t)in[i] << 16;
        *dst++ = b64url_alphabet[v >> 18 & 63];
        *dst++ = b64url_alphabet[v >> 12 & 63];
    } else if (n - i == 2) {
        v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *dst++ = b64url_alphabet[v >> 18 & 63];
        *dst++ = b64url_alphabet[v >> 12 & 63];
        *dst++ = b64url_alphabet[v >> 6 & 63];
    }
    *dst = '\0';
}

/*
 * Reads the whole file into a heap buffer, with open/read rather than stdio
 * so that no library buffer keeps a copy of the key. The caller wipes and
 * frees *buf.
 */
static int read_file(const char *path, unsigned char **buf, size_t *len,
                     char *errstr, size_t errstr_size)
{
    char what[PF_ERROR_MESSAGE_MAX], *data;

    snprintf(what, sizeof(what), "certificate file %s", path);
    /* Bounded, and never blocked by a FIFO or a device (fileio.h). */
    if (pf_file_read(path, what, PF_JWT_PEM_MAX, &data, len, errstr,
                     errstr_size) != PF_FILE_OK)
        return -1;
    *buf = (unsigned char *)data; /* now owned by the caller */
    return 0;
}

/* PEM labels (RFC 7468) that hold a private key in the clear. */
static int is_plain_key_label(const char *name)
{
    return strcmp(name, "PRIVATE KEY") == 0 ||
           strcmp(name, "RSA PRIVATE KEY") == 0;
}

/* Hands OpenSSL the password (pem_password_cb); u is the password. */
static int password_cb(char *buf, int size, int rwflag, void *u)
{
    size_t n = strlen(u);

    (void)rwflag;
    if (size <= 0 || n > (size_t)size)
        return -1;
    memcpy(buf, u, n);
    return (int)n;
}

/*
 * An encrypted PEM key block opened with the password: PKCS #8
 * ("ENCRYPTED PRIVATE KEY") or PKCS #1 with a DEK-Info header (decrypted
 * in place in data). NULL when the password does not open it: a wrong
 * password fails the padding check or, rarely, leaves bytes that are not
 * a key, and both are reported as a wrong password.
 */
static EVP_PKEY *decrypt_key(const char *name, char *header,
                             unsigned char *data, long *dlen,
                             const char *password)
{
    const unsigned char *p = data;
    EVP_PKEY *key = NULL;

    if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0) {
        X509_SIG *sig = d2i_X509_SIG(NULL, &p, *dlen);
        PKCS8_PRIV_KEY_INFO *inf =
            sig != NULL ? PKCS8_decrypt(sig, password, (int)strlen(password))
                        : NULL;

        if (inf != NULL)
            key = EVP_PKCS82PKEY(inf);
        PKCS8_PRIV_KEY_INFO_free(inf); /* wipes the key's bytes */
        X509_SIG_free(sig);
        return key;
    } else {
        EVP_CIPHER_INFO cipher;

        if (!PEM_get_EVP_CIPHER_INFO(header, &cipher) ||
            !PEM_do_header(&cipher, data, dlen, password_cb, (void *)password))
            return NULL;
        return d2i_AutoPrivateKey(NULL, &p, *dlen);
    }
}

/*
 * Walks the PEM blocks of buf: collects certificates into certs and the one
 * private key into *key, opening an encrypted one with password.
 */
static int parse_pem(const char *path, const unsigned char *buf, size_t len,
                     const char *password, STACK_OF(X509) * certs,
                     EVP_PKEY **key, char *errstr, size_t errstr_size)
{
    BIO *bio = NULL;
    char *name = NULL;
    char *header = NULL;
    unsigned char *data = NULL;
    long dlen = 0;
    const unsigned char *p;
    X509 *cert = NULL;
    unsigned long e;
    bool encrypted;
    int rc = -1;

    bio = BIO_new_mem_buf(buf, (int)len);
    if (bio == NULL) {
        set_err(errstr, errstr_size, "certificate file %s: out of memory",
                path);
        goto out;
    }
    for (;;) {
        if (!PEM_read_bio(bio, &name, &header, &data, &dlen)) {
            e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
                ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
                ERR_clear_error(); /* no more blocks */
                break;
            }
            set_err(errstr, errstr_size,
                    "certificate file %s: malformed PEM block: %s", path,
                    ossl_reason());
            goto out;
        }
        p = data;
        encrypted =
            strcmp(name, "ENCRYPTED PRIVATE KEY") == 0 ||
            (is_plain_key_label(name) && strstr(header, "ENCRYPTED") != NULL);
        if (strcmp(name, "CERTIFICATE") == 0) {
            cert = d2i_X509(NULL, &p, dlen);
            if (cert == NULL) {
                set_err(errstr, errstr_size,
                        "certificate file %s: bad certificate: %s", path,
                        ossl_reason());
                goto out;
            }
            if (sk_X509_push(certs, cert) == 0) {
                set_err(errstr, errstr_size,
                        "certificate file %s: out of memory", path);
                goto out;
            }
            cert = NULL; /* now owned by certs */
        } else if (encrypted || is_plain_key_label(name)) {
            if (*key != NULL) {
                set_err(errstr, errstr_size,
                        "certificate file %s: more than one private key", path);
                goto out;
            }
            if (encrypted && password == NULL) {
                set_err(errstr, errstr_size,
                        "certificate file %s: the private key is encrypted "
                        "and no password is set",
                        path);
                goto out;
            }
            *key = encrypted ? decrypt_key(name, header, data, &dlen, password)
                             : d2i_AutoPrivateKey(NULL, &p, dlen);
            ERR_clear_error();
            if (*key == NULL) {
                set_err(errstr, errstr_size,
                        encrypted ? "certificate file %s: wrong password: it "
                                    "does not decrypt the private key"
                                  : "certificate file %s: bad private key",
                        path);
                goto out;
            }
        }
        /* Any other block (parameters, other key types) is ignored. */
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_clear_free(data, (size_t)dlen);
        name = NULL;
        header = NULL;
        data = NULL;
    }
    rc = 0;
out:
    X509_free(cert);
    OPENSSL_clear_free(data, data != NULL ? (size_t)dlen : 0);
    OPENSSL_free(header);
    OPENSSL_free(name);
    BIO_free(bio);
    return rc;
}

/*
 * A PKCS #12 file (DER): the MAC is checked first, so that a wrong
 * password is said as such, then the bags are opened. The certificate
 * PKCS12_parse() pairs with the key comes first in certs, then the
 * others in the file's order.
 */
static int parse_p12(const char *path, const unsigned char *buf, size_t len,
                     const char *password, STACK_OF(X509) * certs,
                     EVP_PKEY **key, char *errstr, size_t errstr_size)
{
    const unsigned char *p = buf;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
    STACK_OF(X509) *ca = NULL;
    X509 *cert = NULL;
    const char *pass = password;
    int rc = -1;

    if (p12 == NULL || p != buf + len) {
        ERR_clear_error();
        set_err(errstr, errstr_size,
                "certificate file %s: neither PEM (no PEM start line) "
                "nor PKCS #12 (DER)",
                path);
        goto out;
    }
    if (PKCS12_mac_present(p12)) {
        if (password != NULL && !PKCS12_verify_mac(p12, password, -1)) {
            set_err(errstr, errstr_size,
                    "certificate file %s: wrong password: the PKCS #12 "
                    "file's integrity check (MAC) fails with it",
                    path);
            goto out;
        }
        if (password == NULL) {
            /* Both spellings of "no password" exist in the wild. */
            if (PKCS12_verify_mac(p12, "", 0))
                pass = "";
            else if (!PKCS12_verify_mac(p12, NULL, 0)) {
                set_err(errstr, errstr_size,
                        "certificate file %s: the PKCS #12 file is "
                        "protected by a password and no password is set",
                        path);
                goto out;
            }
        }
    }
    if (!PKCS12_parse(p12, pass, key, &cert, &ca)) {
        /* RC2 and RC4 are in OpenSSL 3's legacy provider, not loaded. */
        set_err(errstr, errstr_size,
                "certificate file %s: cannot open the PKCS #12 file: %s "
                "(re-export it with AES, e.g. openssl pkcs12 -export "
                "-keypbe AES-256-CBC -certpbe AES-256-CBC)",
                path, ossl_reason());
        goto out;
    }
    if (cert != NULL && sk_X509_push(certs, cert) == 0)
        goto oom;
    cert = NULL; /* now owned by certs (or there was none) */
    while (sk_X509_num(ca) > 0) {
        X509 *x = sk_X509_shift(ca);

        if (sk_X509_push(certs, x) == 0) {
            X509_free(x);
            goto oom;
        }
    }
    rc = 0;
    goto out;
oom:
    set_err(errstr, errstr_size, "certificate file %s: out of memory", path);
out:
    ERR_clear_error();
    X509_free(cert);
    sk_X509_pop_free(ca, X509_free);
    PKCS12_free(p12);
    return rc;
}

/* Whether buf is PEM: text with a PEM start line somewhere ("Bag
 * Attributes" and other text may come before it). */
static bool looks_pem(const unsigned char *buf, size_t len)
{
    static const char start[] = "-----BEGIN ";

    return len >= sizeof(start) - 1 &&
           memmem(buf, len, start, sizeof(start) - 1) != NULL;
}

/* Computes both thumbprints of cert into s. */
static int thumbprints(pf_jwt_signer *s, X509 *cert)
{
    unsigned char *der = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen;
    int len;
    int rc = -1;

    len = i2d_X509(cert, &der);
    if (len <= 0)
        goto out;
    if (!EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) ||
        mdlen != 32)
        goto out;
    b64url_encode(s->x5t_s256, md, mdlen);
    if (!EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha1(), NULL) ||
        mdlen != 20)
        goto out;
    b64url_encode(s->x5t, md, mdlen);
    rc = 0;
out:
    OPENSSL_free(der);
    return rc;
}

/* Appends cert's DER in standard base64 (RFC 7515 4.1.6) to s->x5c. */
static int x5c_add(pf_jwt_signer *s, X509 *cert)
{
    unsigned char *der = NULL;
    char *b64 = NULL, **grown;
    int len = i2d_X509(cert, &der), rc = -1;

    if (len <= 0)
        goto out;
    b64 = malloc((size_t)(len + 2) / 3 * 4 + 1);
    grown = realloc(s->x5c, (s->nx5c + 1) * sizeof(*grown));
    if (grown != NULL)
        s->x5c = grown;
    if (b64 == NULL || grown == NULL)
        goto out;
    EVP_EncodeBlock((unsigned char *)b64, der, len); /* NUL-terminates */
    s->x5c[s->nx5c++] = b64;
    b64 = NULL; /* now owned by s */
    rc = 0;
out:
    free(b64);
    OPENSSL_free(der);
    return rc;
}

/* The leaf, then every other certificate of the file in its order. */
static int x5c_build(pf_jwt_signer *s, X509 *leaf, STACK_OF(X509) * certs)
{
    int i;

    if (x5c_add(s, leaf) < 0)
        return -1;
    for (i = 0; i < sk_X509_num(certs); i++) {
        X509 *x = sk_X509_value(certs, i);

        if (x != leaf && X509_cmp(x, leaf) != 0 && x5c_add(s, x) < 0)
            return -1;
    }
    return 0;
}

/* The key's checks, and the certificate among certs that matches it. */
static X509 *check_key(const char *path, EVP_PKEY *key, STACK_OF(X509) * certs,
                       char *errstr, size_t errstr_size)
{
    const char *type;
    X509 *cert = NULL;
    int bits, i;

    if (key == NULL) {
        set_err(errstr, errstr_size,
                "certificate file %s: no private key (PEM \"PRIVATE KEY\", "
                "\"RSA PRIVATE KEY\" or \"ENCRYPTED PRIVATE KEY\", or a "
                "PKCS #12 key bag)",
                path);
        return NULL;
    }
    if (!EVP_PKEY_is_a(key, "RSA")) {
        type = EVP_PKEY_get0_type_name(key);
        set_err(errstr, errstr_size,
                "certificate file %s: the private key is %s, not RSA "
                "(PS256 and RS256 need RSA)",
                path, type != NULL ? type : "of another type");
        return NULL;
    }
    bits = EVP_PKEY_get_bits(key);
    if (bits < PF_JWT_RSA_MIN_BITS) {
        set_err(errstr, errstr_size,
                "certificate file %s: the RSA key has %d bits; at least "
                "%d are needed",
                path, bits, PF_JWT_RSA_MIN_BITS);
        return NULL;
    }
    if (sk_X509_num(certs) == 0) {
        set_err(errstr, errstr_size,
                "certificate file %s: no certificate (PEM \"CERTIFICATE\")",
                path);
        return NULL;
    }
    for (i = 0; i < sk_X509_num(certs) && cert == NULL; i++) {
        if (X509_check_private_key(sk_X509_value(certs, i), key) == 1)
            cert = sk_X509_value(certs, i);
    }
    ERR_clear_error(); /* mismatches leave errors behind */
    if (cert == NULL)
        set_err(errstr, errstr_size,
                "certificate file %s: no certificate matches the private "
                "key",
                path);
    return cert;
}

pf_jwt_signer *pf_jwt_signer_load(const char *path,
                                  const pf_jwt_load_opts *opts, char *errstr,
                                  size_t errstr_size)
{
    static const pf_jwt_load_opts none = {NULL, false};
    pf_jwt_signer *s = NULL;
    pf_jwt_signer *ret = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    STACK_OF(X509) *certs = NULL;
    EVP_PKEY *key = NULL;
    X509 *cert;
    int rc;

    if (opts == NULL)
        opts = &none;
    if (read_file(path, &buf, &len, errstr, errstr_size) < 0)
        goto out;
    certs = sk_X509_new_null();
    if (certs == NULL) {
        set_err(errstr, errstr_size, "certificate file %s: out of memory",
                path);
        goto out;
    }
    if (looks_pem(buf, len))
        rc = parse_pem(path, buf, len, opts->password, certs, &key, errstr,
                       errstr_size);
    else
        rc = parse_p12(path, buf, len, opts->password, certs, &key, errstr,
                       errstr_size);
    if (rc < 0)
        goto out;
    cert = check_key(path, key, certs, errstr, errstr_size);
    if (cert == NULL)
        goto out;

    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        set_err(errstr, errstr_size, "certificate file %s: out of memory",
                path);
        goto out;
    }
    if (thumbprints(s, cert) < 0) {
        set_err(errstr, errstr_size,
                "certificate file %s: cannot hash the certificate: %s", path,
                ossl_reason());
        goto out;
    }
    if (opts->send_chain && x5c_build(s, cert, certs) < 0) {
        set_err(errstr, errstr_size,
                "certificate file %s: cannot encode the chain: %s", path,
                ossl_reason());
        goto out;
    }
    s->key = key;
    key = NULL; /* now owned by s */
    ret = s;
    s = NULL;
out:
    pf_jwt_signer_destroy(s);
    EVP_PKEY_free(key);
    sk_X509_pop_free(certs, X509_free);
    if (buf != NULL) {
        OPENSSL_cleanse(buf, len);
        free(buf);
    }
    return ret;
}

pf_jwt_signer *pf_jwt_signer_new(const char *pem_path, char *errstr,
                                 size_t errstr_size)
{
    return pf_jwt_signer_load(pem_path, NULL, errstr, errstr_size);
}

void pf_jwt_signer_destroy(pf_jwt_signer *s)
{
    size_t i;

    if (s == NULL)
        return;
    EVP_PKEY_free(s->key);
    for (i = 0; i < s->nx5c; i++)
        free(s->x5c[i]);
    free(s->x5c);
    free(s);
}

size_t pf_jwt_signer_chain_length(const pf_jwt_signer *s)
{
    return s->nx5c;
}

const char *pf_jwt_signer_thumbprint(const pf_jwt_signer *s)
{
    return s->x5t_s256;
}

void pf_jwt_free(char *jwt)
{
    if (jwt == NULL)
        return;
    explicit_bzero(jwt, strlen(jwt));
    free(jwt);
}

/* The base64url of j's compact serialisation; *out_len its length. */
static char *b64url_json(const json_t *j, size_t *out_len)
{
    char *text = json_dumps(j, JSON_COMPACT);
    char *enc = NULL;
    size_t n;

    if (text == NULL)
        return NULL;
    n = strlen(text);
    enc = malloc(b64url_len(n) + 1);
    if (enc != NULL) {
        b64url_encode(enc, (const unsigned char *)text, n);
        *out_len = b64url_len(n);
    }
    free(text);
    return enc;
}

/* Sets header's "x5c" to the signer's chain. */
static int x5c_header(const pf_jwt_signer *s, json_t *header)
{
    json_t *list = json_array();
    size_t i;

    for (i = 0; list != NULL && i < s->nx5c; i++) {
        /* append_new steals the string, and frees it on failure */
        if (json_array_append_new(list, json_string(s->x5c[i])) < 0) {
            json_decref(list);
            list = NULL;
        }
    }
    /* set_new steals list, and frees it on failure */
    return list != NULL ? json_object_set_new(header, "x5c", list) : -1;
}

/* Signs input with SHA-256 and the alg's padding; *sig is heap memory. */
static int rsa_sign(EVP_PKEY *key, pf_jwt_alg alg, const char *input,
                    size_t input_len, unsigned char **sig, size_t *sig_len)
{
    EVP_MD_CTX *md = NULL;
    EVP_PKEY_CTX *pctx = NULL; /* owned by md */
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = -1;

    md = EVP_MD_CTX_new();
    if (md == NULL ||
        EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, key) != 1)
        goto out;
    if (alg == PF_JWT_PS256) {
        /* RFC 7518 3.5: MGF1 with the same hash, salt as long as it. */
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <=
                0 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0)
            goto out;
    } else if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) {
        goto out;
    }
    if (EVP_DigestSign(md, NULL, &len, (const unsigned char *)input,
                       input_len) != 1)
        goto out;
    buf = malloc(len);
    if (buf == NULL ||
        EVP_DigestSign(md, buf, &len, (const unsigned char *)input,
                       input_len) != 1)
        goto out;
    *sig = buf;
    *sig_len = len;
    buf = NULL; /* now owned by the caller */
    rc = 0;
out:
    free(buf);
    EVP_MD_CTX_free(md);
    return rc;
}

int pf_jwt_sign(const pf_jwt_signer *s, const char *aud, const char *client_id,
                const char *jti, int64_t now, int lifetime_s, pf_jwt_alg alg,
                char **out, char *errstr, size_t errstr_size)
{
    json_t *header = NULL;
    json_t *claims = NULL;
    char *h64 = NULL;
    char *c64 = NULL;
    char *token = NULL;
    unsigned char *sig = NULL;
    size_t h_len = 0, c_len = 0, sig_len = 0, input_len, total;
    int rc = -1;

    if (out != NULL)
        *out = NULL;
    if (s == NULL || aud == NULL || client_id == NULL || jti == NULL ||
        out == NULL) {
        set_err(errstr, errstr_size, "jwt: a required argument is NULL");
        goto out;
    }
    if (aud[0] == '\0' || client_id[0] == '\0') {
        set_err(errstr, errstr_size, "jwt: empty audience or client id");
        goto out;
    }
    if (!pf_is_guid(jti)) {
        set_err(errstr, errstr_size, "jwt: jti is not a GUID");
        goto out;
    }
    if (now < 0 || lifetime_s < PF_JWT_LIFETIME_MIN_S ||
        lifetime_s > PF_JWT_LIFETIME_MAX_S) {
        set_err(errstr, errstr_size,
                "jwt: now must be >= 0 and the lifetime %d..%d s",
                PF_JWT_LIFETIME_MIN_S, PF_JWT_LIFETIME_MAX_S);
        goto out;
    }
    if (alg != PF_JWT_PS256 && alg != PF_JWT_RS256) {
        set_err(errstr, errstr_size, "jwt: unknown algorithm %d", (int)alg);
        goto out;
    }

    /* json_pack fails on strings that are not UTF-8. */
    header = json_pack("{s:s, s:s, s:s}", "alg",
                       alg == PF_JWT_PS256 ? "PS256" : "RS256", "typ", "JWT",
                       "x5t#S256", s->x5t_s256);
    if (header != NULL && alg == PF_JWT_RS256 &&
        json_object_set_new(header, "x5t", json_string(s->x5t)) < 0) {
        json_decref(header); /* set_new stole (and freed) the string */
        header = NULL;
    }
    if (header != NULL && s->nx5c > 0 && x5c_header(s, header) < 0) {
        json_decref(header);
        header = NULL;
    }
    claims = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "aud", aud, "iss",
                       client_id, "sub", client_id, "jti", jti, "nbf",
                       (json_int_t)now, "iat", (json_int_t)now, "exp",
                       (json_int_t)(now + lifetime_s));
    if (header == NULL || claims == NULL) {
        set_err(errstr, errstr_size,
                "jwt: cannot build the JSON (audience or client id not "
                "UTF-8, or out of memory)");
        goto out;
    }
    h64 = b64url_json(header, &h_len);
    c64 = b64url_json(claims, &c_len);
    if (h64 == NULL || c64 == NULL) {
        set_err(errstr, errstr_size, "jwt: out of memory");
        goto out;
    }

    /* header "." claims "." signature, NUL. */
    input_len = h_len + 1 + c_len;
    total = input_len + 1 + b64url_len((size_t)EVP_PKEY_get_size(s->key)) + 1;
    token = malloc(total);
    if (token == NULL) {
        set_err(errstr, errstr_size, "jwt: out of memory");
        goto out;
    }
    memcpy(token, h64, h_len);
    token[h_len] = '.';
    memcpy(token + h_len + 1, c64, c_len);
    token[input_len] = '\0';

    if (rsa_sign(s->key, alg, token, input_len, &sig, &sig_len) < 0) {
        set_err(errstr, errstr_size, "jwt: signing failed: %s", ossl_reason());
        goto out;
    }
    if (b64url_len(sig_len) + input_len + 2 > total) {
        set_err(errstr, errstr_size, "jwt: unexpected signature size");
        goto out;
    }
    token[input_len] = '.';
    b64url_encode(token + input_len + 1, sig, sig_len);

    *out = token;
    token = NULL; /* now owned by the caller */
    rc = 0;
out:
    if (token != NULL)
        pf_jwt_free(token);
    if (sig != NULL) {
        OPENSSL_cleanse(sig, sig_len);
        free(sig);
    }
    free(c64);
    free(h64);
    json_decref(claims);
    json_decref(header);
    return rc;
}
