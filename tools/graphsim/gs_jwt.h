/*
 * gs_jwt.h - verification of client-assertion JWTs (RFC 7523) the way the
 * Microsoft identity platform checks them: RS256 or PS256 signature by a
 * certificate registered for the client, found by the header's `x5t#S256`
 * (or legacy `x5t`) thumbprint; `iss` = `sub` = client id; `aud` one of the
 * accepted token endpoint URLs; `exp`, `nbf` within a clock skew; `jti`
 * present.
 */
#ifndef GRAPHSIM_JWT_H
#define GRAPHSIM_JWT_H

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

enum gs_jwt_result {
    GS_JWT_OK = 0,
    GS_JWT_MALFORMED,     /* not three base64url JSON parts, or too big */
    GS_JWT_BAD_ALG,       /* alg not RS256/PS256, or typ not JWT */
    GS_JWT_NO_THUMBPRINT, /* neither x5t#S256 nor x5t */
    GS_JWT_UNKNOWN_KEY,   /* thumbprint of no registered certificate */
    GS_JWT_BAD_SIGNATURE, /* signature does not verify */
    GS_JWT_BAD_ISSUER,    /* iss or sub missing or not the client id */
    GS_JWT_BAD_AUDIENCE,  /* aud missing or not an accepted URL */
    GS_JWT_MISSING_CLAIM, /* exp, nbf or jti missing or mistyped */
    GS_JWT_EXPIRED,       /* exp + skew <= now */
    GS_JWT_NOT_YET_VALID  /* nbf - skew > now */
};

struct gs_jwt_check {
    const char *client_id;
    const char *const *audiences; /* accepted `aud` values */
    size_t naudiences;
    struct gs_cert *const *certs; /* the client's registered certificates */
    size_t ncerts;
    int64_t now;  /* seconds since the epoch */
    int64_t skew; /* tolerated clock skew, seconds */
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

#endif /* GRAPHSIM_JWT_H */
