/*
 * gs_jwt.h - verification of client-assertion JWTs (RFC 7523) the way the
 * Microsoft identity platform checks them: RS256 or PS256 signature by a
 * certificate registered for the client, found by the header's `x5t#S256`
 * (or legacy `x5t`) thumbprint, or by the certificate the header's `x5c`
 * carries when the client trusts its subject and it chains to a trusted
 * CA (subject name and issuer authentication, struct gs_trust);
 * `iss` = `sub` = client id; `aud` one of the
 * accepted token endpoint URLs; `exp`, `nbf` within a clock skew; `jti`
 * present.
 *
 * And federated assertions (workload identity federation): a token from
 * another issuer (a Kubernetes service-account token, say) presented as the
 * client assertion, accepted when the application has a federated identity
 * credential with the token's `iss`, `sub` and one of its `aud` values, and
 * the token is signed (RS256 or PS256) by one of that issuer's keys.
 */
#ifndef GRAPHSIM_JWT_H
#define GRAPHSIM_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A client certificate: its public key and thumbprints. Opaque. */
struct gs_cert;

/* Loads a PEM certificate from a file, or from memory when `pem` starts
 * with "-----BEGIN". Returns NULL with a reason in errstr. */
struct gs_cert *gs_cert_load(const char *pem_or_path, char *errstr,
                             size_t errsz);
void gs_cert_free(struct gs_cert *c);
/* base64url SHA-256 / SHA-1 of the certificate's DER. Owned by c. */
const char *gs_cert_x5t_s256(const struct gs_cert *c);
const char *gs_cert_x5t(const struct gs_cert *c);

/*
 * Certification authorities trusted for subject name and issuer (SN+I)
 * authentication: an assertion whose thumbprint names no registered
 * certificate is still accepted when its "x5c" header holds a certificate
 * (first) that chains, through the others, to one of these, whose subject
 * is one the client trusts, and whose key verifies the signature. Opaque;
 * read-only once built, so shared by every worker.
 */
struct gs_trust;
struct gs_trust *gs_trust_new(void);
/* Adds every CERTIFICATE block of a PEM file (or PEM text starting with
 * "-----BEGIN"). Returns 0, or -1 with a reason (none found, unreadable). */
int gs_trust_add(struct gs_trust *t, const char *pem_or_path, char *errstr,
                 size_t errsz);
void gs_trust_free(struct gs_trust *t);

enum gs_jwt_result {
    GS_JWT_OK = 0,
    GS_JWT_MALFORMED,          /* not three base64url JSON parts, or too big */
    GS_JWT_BAD_ALG,            /* alg not RS256/PS256, or typ not JWT */
    GS_JWT_NO_THUMBPRINT,      /* neither x5t#S256 nor x5t */
    GS_JWT_UNKNOWN_KEY,        /* thumbprint of no registered certificate */
    GS_JWT_BAD_SIGNATURE,      /* signature does not verify */
    GS_JWT_BAD_ISSUER,         /* iss or sub missing or not the client id */
    GS_JWT_BAD_AUDIENCE,       /* aud missing or not an accepted URL */
    GS_JWT_MISSING_CLAIM,      /* exp, nbf or jti missing or mistyped */
    GS_JWT_EXPIRED,            /* exp + skew <= now */
    GS_JWT_NOT_YET_VALID,      /* nbf - skew > now */
    GS_JWT_NO_FEDERATED_MATCH, /* federated: no credential has this iss,
                                  sub and aud */
    GS_JWT_NO_X5C,             /* SN+I: an unregistered thumbprint, no x5c */
    GS_JWT_UNTRUSTED_CHAIN,    /* SN+I: x5c does not lead to a trusted CA */
    GS_JWT_BAD_SUBJECT         /* SN+I: the certificate's subject is not
                                  one the client trusts */
};
#define GS_JWT_RESULT_COUNT (GS_JWT_BAD_SUBJECT + 1)

struct gs_jwt_check {
    const char *client_id;
    const char *const *audiences; /* accepted `aud` values */
    size_t naudiences;
    struct gs_cert *const *certs; /* the client's registered certificates */
    size_t ncerts;
    int64_t now;  /* seconds since the epoch */
    int64_t skew; /* tolerated clock skew, seconds */
    /* SN+I: the trusted CAs (NULL: none) and the client's trusted
     * subjects (RFC 2253 text, compared ignoring case and the spaces after
     * ',' and '+'); both needed for an unregistered thumbprint to pass. */
    const struct gs_trust *trust;
    const char *const *subjects;
    size_t nsubjects;
};

/* Longest assertion accepted, in bytes. */
#define GS_JWT_MAX_LEN 16384

/*
 * Verifies jwt (len bytes, need not be NUL-terminated). Returns GS_JWT_OK,
 * or the first failed check with a human explanation in errstr.
 */
enum gs_jwt_result gs_jwt_verify(const char *jwt, size_t len,
                                 const struct gs_jwt_check *chk, char *errstr,
                                 size_t errsz);

/* An issuer's signing key: an RSA public key and the `kid` it has in the
 * issuer's JWKS ("" for a key from PEM). Opaque. */
struct gs_pubkey;

/*
 * Loads an issuer's RSA signing keys from a file, or from memory when the
 * text starts with "-----BEGIN" or "{": a JWKS document (what the issuer's
 * OIDC discovery `jwks_uri` serves; keys other than RSA signing keys are
 * skipped), or PEM certificates and public keys ("PUBLIC KEY", "RSA PUBLIC
 * KEY"), one or several blocks (other blocks are skipped). The format is
 * told by the content. Appends the keys to *keys (reallocated; the caller
 * frees them with gs_pubkey_free and the array with free, also after a
 * failure). Returns the number appended (at least 1), or -1 with a reason
 * in errstr.
 */
int gs_pubkeys_load(const char *text_or_path, struct gs_pubkey ***keys,
                    size_t *nkeys, char *errstr, size_t errsz);
void gs_pubkey_free(struct gs_pubkey *k);
/* The key's JWKS `kid`, "" if it has none. Owned by k. */
const char *gs_pubkey_kid(const struct gs_pubkey *k);

/* The audience Entra expects in federated tokens by default. */
#define GS_FED_AUDIENCE "api://AzureADTokenExchange"

/* A federated identity credential of an application (Graph's
 * federatedIdentityCredential), with the keys of its issuer. Owns its
 * strings and keys; gs_fed_cred_release frees them. */
struct gs_fed_cred {
    char *issuer;
    char *subject;
    char **audiences;
    size_t naudiences;
    struct gs_pubkey **keys;
    size_t nkeys;
};

void gs_fed_cred_release(struct gs_fed_cred *f);

struct gs_fed_check {
    const struct gs_fed_cred *creds; /* the client's credentials */
    size_t ncreds;
    int64_t now;  /* seconds since the epoch */
    int64_t skew; /* tolerated clock skew, seconds */
};

/*
 * Verifies a federated assertion: alg RS256 or PS256 (`typ` JWT if any);
 * string `iss` and `sub`, `aud` a string or an array of strings
 * (GS_JWT_MISSING_CLAIM otherwise); one credential whose issuer and
 * subject equal them exactly and which lists one of the `aud` values
 * (GS_JWT_NO_FEDERATED_MATCH); the signature by one of that credential's
 * keys, those whose kid equals the header's `kid` when both have one
 * (GS_JWT_UNKNOWN_KEY when none is left, GS_JWT_BAD_SIGNATURE); an integer
 * `exp` and, if present, `nbf`, within the skew. `jti` is not required
 * (service-account tokens may have none). Returns GS_JWT_OK or the first
 * failed check with an explanation in errstr.
 */
enum gs_jwt_result gs_jwt_verify_federated(const char *jwt, size_t len,
                                           const struct gs_fed_check *chk,
                                           char *errstr, size_t errsz);

/* Whether jwt's (unverified) `iss` claim is client_id: an application's
 * own assertion (certificate credential) rather than a federated token.
 * False for a malformed jwt. */
bool gs_jwt_self_issued(const char *jwt, size_t len, const char *client_id);

#endif /* GRAPHSIM_JWT_H */
