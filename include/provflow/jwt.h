/*
 * jwt.h - the client-assertion JWT of the OAuth 2.0 client-credentials grant
 * with a certificate (docs/configuration.md, "Credentials").
 *
 * Header: {"alg":"PS256","typ":"JWT","x5t#S256":<thumbprint>}, where the
 * thumbprint is the unpadded base64url SHA-256 of the certificate's DER,
 * and, when the signer was loaded with send_chain, "x5c": the certificate
 * and its chain as standard (padded, not url) base64 DER, the certificate
 * first (RFC 7515 4.1.6), which subject name and issuer authentication
 * needs.
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

#include <stdbool.h>
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

/* A certificate file larger than this is refused unread (a chain + key,
 * PEM or PKCS #12). */
#define PF_JWT_PEM_MAX (256 * 1024)

/* Unpadded base64url of a SHA-256 digest: 43 characters. */
#define PF_JWT_X5T_S256_LEN 43

typedef enum pf_jwt_alg {
    PF_JWT_PS256 = 0, /* the default */
    PF_JWT_RS256,
} pf_jwt_alg;

typedef struct pf_jwt_signer pf_jwt_signer;

/* How a credential file is read (pf_jwt_signer_load()). Plain data. */
typedef struct pf_jwt_load_opts {
    /*
     * The password of a PKCS #12 file, or of an encrypted PEM private key
     * (AZURE_CLIENT_CERTIFICATE_PASSWORD). NULL: none (a PKCS #12 file
     * protected by the empty password opens without one). Borrowed for the
     * call; never copied into an error.
     */
    const char *password;
    /*
     * Every assertion carries "x5c" in its header: the certificate, then
     * the other certificates of the file in their order, for subject name
     * and issuer authentication (AZURE_CLIENT_SEND_CERTIFICATE_CHAIN).
     */
    bool send_chain;
} pf_jwt_load_opts;

/*
 * Loads the private key and its certificate from one file (the
 * AZURE_CLIENT_CERTIFICATE_PATH convention). The format is told by the
 * content, never by the file's name: text holding "-----BEGIN " is PEM,
 * anything else must be DER PKCS #12 (a .pfx or .p12).
 *
 * PEM, blocks in any order:
 * - exactly one RSA private key of at least PF_JWT_RSA_MIN_BITS bits, as
 *   "PRIVATE KEY" (PKCS #8) or "RSA PRIVATE KEY" (PKCS #1), or encrypted
 *   ("ENCRYPTED PRIVATE KEY", or PKCS #1 with "Proc-Type: 4,ENCRYPTED"),
 *   then opened with opts->password;
 * - one or more "CERTIFICATE" blocks; the one whose public key matches the
 *   private key is used, the others are its chain.
 * Other PEM blocks are ignored.
 * PKCS #12: its MAC checked and its bags decrypted with opts->password
 * (or the empty password); it must hold one such key and a certificate
 * that matches it; its other certificates are the chain.
 *
 * The file's bytes are wiped from memory once parsed. Returns NULL and a
 * reason in errstr (errstr may be NULL when errstr_size is 0) naming the
 * file, never its content or the password: unreadable, larger than
 * PF_JWT_PEM_MAX, neither format, "wrong password", "the private key is
 * encrypted and no password is set", "no private key", "no certificate
 * matches the private key", a key that is not RSA or too short. opts may
 * be NULL (no password, no chain); path must not be NULL. The caller
 * destroys the result with pf_jwt_signer_destroy().
 */
pf_jwt_signer *pf_jwt_signer_load(const char *path,
                                  const pf_jwt_load_opts *opts, char *errstr,
                                  size_t errstr_size);

/* pf_jwt_signer_load(pem_path, NULL, ...). */
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
 * How many certificates the signer's assertions carry in "x5c": 0 unless
 * it was loaded with send_chain, else 1 (the certificate) + its chain.
 */
size_t pf_jwt_signer_chain_length(const pf_jwt_signer *s);

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
