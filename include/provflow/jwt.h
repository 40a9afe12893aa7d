/*
 * jwt.h - the client-assertion JWT of the OAuth 2.0 client-credentials grant
 * with a certificate (docs/configuration.md, "Credentials").
 *
 * Header: {"alg":"PS256","typ":"JWT","x5t#S256":<thumbprint>}, where the
 * thumbprint is the unpadded base64url SHA-256 of the certificate's DER.
 * With RS256 (the older guidance, which identified the certificate by its
 * SHA-1 thumbprint) the header also carries "x5t", the unpadded base64url
 * SHA-1 of the DER, so that either generation of the token endpoint finds
 * the certificate.
 * Claims: {"aud":<token endpoint URL>,"iss":<client id>,"sub":<client id>,
 * "jti":<GUID>,"nbf":now,"iat":now,"exp":now + lifetime}.
 * Signature: RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt
 * (PS256, RFC 7518 3.5), or RSASSA-PKCS1-v1_5 with SHA-256 (RS256).
 *
 * A signed assertion is a credential: whoever holds it can obtain tokens
 * until it expires. Never log it, put it in an error or a metric; free it
 * with pf_jwt_free(), which wipes it. Error messages of this module never
 * contain key material or the file's content.
 *
 * Threads: a signer does not change after pf_jwt_signer_new(), but OpenSSL
 * promises no concurrent use of one key; use a signer from one thread at a
 * time (provflow signs on its token-refresh path only).
 */
#ifndef PROVFLOW_JWT_H
#define PROVFLOW_JWT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Assertion lifetime, seconds. Entra asks for 5 to 10 minutes. The
 * assertion is sent once, right after signing, so a short life gains
 * little; the full 10 minutes (what MSAL uses) tolerates the most clock
 * skew between this host and Entra.
 */
#define PF_JWT_LIFETIME_DEFAULT_S 600
#define PF_JWT_LIFETIME_MIN_S     300
#define PF_JWT_LIFETIME_MAX_S     600

/* Entra refuses certificate keys shorter than 2048 bits. */
#define PF_JWT_RSA_MIN_BITS 2048

/* A certificate file larger than this is refused unread (a chain + key). */
#define PF_JWT_PEM_MAX (256 * 1024)

/* Unpadded base64url of a SHA-256 digest: 43 characters. */
#define PF_JWT_X5T_S256_LEN 43

typedef enum pf_jwt_alg {
    PF_JWT_PS256 = 0, /* the default */
    PF_JWT_RS256,
} pf_jwt_alg;

typedef struct pf_jwt_signer pf_jwt_signer;

/*
 * Loads the private key and its certificate from one PEM file (the
 * AZURE_CLIENT_CERTIFICATE_PATH convention), in any order:
 * - exactly one unencrypted RSA private key of at least
 *   PF_JWT_RSA_MIN_BITS bits, as "PRIVATE KEY" (PKCS #8) or
 *   "RSA PRIVATE KEY" (PKCS #1); encrypted keys are refused;
 * - one or more "CERTIFICATE" blocks; the one whose public key matches the
 *   private key is used (the others are its chain and are ignored).
 * Other PEM blocks are ignored. The file's bytes are wiped from memory once
 * parsed.
 *
 * Returns NULL and a reason in errstr (errstr may be NULL when errstr_size
 * is 0) if the file cannot be read, is larger than PF_JWT_PEM_MAX, or does
 * not hold such a key and certificate. pem_path must not be NULL. The
 * caller destroys the result with pf_jwt_signer_destroy().
 */
pf_jwt_signer *pf_jwt_signer_new(const char *pem_path, char *errstr,
                                 size_t errstr_size);

/* Frees the signer and its key. NULL is fine. */
void pf_jwt_signer_destroy(pf_jwt_signer *s);

/*
 * The certificate's x5t#S256 thumbprint (PF_JWT_X5T_S256_LEN characters),
 * public information fit for logs: it names the certificate an operator
 * registered. Owned by s, valid until pf_jwt_signer_destroy().
 */
const char *pf_jwt_signer_thumbprint(const pf_jwt_signer *s);

/*
 * Signs a client assertion.
 *
 * aud: the token endpoint URL, e.g.
 *   "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token".
 * client_id: the application (client) id, used for both iss and sub.
 * jti: a fresh GUID for every assertion (8-4-4-4-12 hex); the caller draws
 *   it (libuuid's uuid_generate_random) so that this module stays testable.
 * now: wall-clock seconds since the Unix epoch (>= 0), used for nbf and
 *   iat; exp is now + lifetime_s.
 * lifetime_s: PF_JWT_LIFETIME_MIN_S..PF_JWT_LIFETIME_MAX_S; pass
 *   PF_JWT_LIFETIME_DEFAULT_S unless configured otherwise.
 * alg: PF_JWT_PS256 or PF_JWT_RS256.
 * out: receives the compact JWT (header.claims.signature, base64url
 *   without padding), NUL-terminated, heap-allocated; the caller frees it
 *   with pf_jwt_free(). Set to NULL on failure.
 *
 * s, aud, client_id, jti and out must not be NULL; aud and client_id must
 * be non-empty UTF-8. Returns 0, or -1 with a reason in errstr.
 */
int pf_jwt_sign(const pf_jwt_signer *s, const char *aud, const char *client_id,
                const char *jti, int64_t now, int lifetime_s, pf_jwt_alg alg,
                char **out, char *errstr, size_t errstr_size);

/* Wipes (explicit_bzero) and frees an assertion from pf_jwt_sign(). NULL is
 * fine. */
void pf_jwt_free(char *jwt);

#endif /* PROVFLOW_JWT_H */
