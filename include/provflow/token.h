/*
 * token.h - OAuth 2.0 client-credentials tokens for Graph (the identity
 * platform's client-credentials grant), shared by every request of one
 * (tenant, client).
 *
 * A token source holds one credential: a client secret, a certificate (a
 * signed JWT client assertion, jwt.h), or a federated token file re-read on
 * every request (Kubernetes workload identity). It fetches through the
 * caller's pf_http, so the loop never blocks, and refreshes in the
 * background ahead of expiry:
 *   lifetime L = expires_in, margin M = min(expiry_margin, L / 4);
 *   the token is served until M before it expires (MSAL: "a token with
 *   under 5 minutes left is expired");
 *   the refresh starts at refresh_in (else L / 2), and never later than M
 *   before serving stops.
 * One fetch at a time, and fetches of one source start at least
 * min_fetch_interval_ms apart (default 1 s) whoever asks (the refresh
 * timer, pf_token_invalidate(), a waiter): no answer of the endpoint can
 * make the refresher spin. A failed refresh keeps serving the still-valid
 * token and tries again with backoff (full jitter, retry_base_ms doubling
 * to retry_max_ms); a systemic failure (invalid_client, ...) is retried
 * every systemic_retry_ms until it clears.
 *
 * What the endpoint answers is bounded before it is used:
 *   expires_in: a JSON number or a string holding one, clamped to
 *     [PF_TOKEN_LIFETIME_MIN_S, PF_TOKEN_LIFETIME_MAX_S] (1 s, 24 h):
 *     0 or negative counts as 1 s, anything over a day (INT64_MAX, 1e300)
 *     as a day; missing, NaN or not a number: PF_TOKEN_LIFETIME_DEFAULT_S
 *     (3599 s, what MSAL assumes). A 1 s token is served 750 ms and
 *     fetched again after at least min_fetch_interval_ms.
 *   refresh_in: the same, clamped to [0, lifetime]; missing, not a number
 *     or 0: none (refresh at L / 2).
 *   access_token: 1 to PF_TOKEN_MAX_BYTES bytes of visible ASCII (0x21 to
 *     0x7E). A token with CR, LF, any other control byte, a space or a
 *     non-ASCII byte is refused, never put in an Authorization header.
 *   token_type: "Bearer", in any case; another type, or none, is refused.
 * A refused token is a systemic failure "invalid_response" (the endpoint
 * is not the one expected: configuration).
 *
 * Everything runs on the loop thread. Tokens, secrets and assertions are
 * never put in errors or failure descriptions; the server's error and
 * error_description reach pf_token_failure with the source's secret and
 * token and every registered secret masked in whatever form the server
 * echoed them (redact.h: the whole text, before it is cut), as one line
 * without control bytes (pf_http_sanitize()).
 */
#ifndef PROVFLOW_TOKEN_H
#define PROVFLOW_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "provflow/classify.h"
#include "provflow/http.h"
#include "provflow/jwt.h"
#include "provflow/timers.h"

#define PF_TOKEN_EXPIRY_MARGIN_MS_DEFAULT      300000 /* 5 minutes */
#define PF_TOKEN_RETRY_BASE_MS_DEFAULT         1000
#define PF_TOKEN_RETRY_MAX_MS_DEFAULT          30000
#define PF_TOKEN_SYSTEMIC_RETRY_MS_DEFAULT     30000
#define PF_TOKEN_MIN_FETCH_INTERVAL_MS_DEFAULT 1000
#define PF_TOKEN_LIFETIME_MIN_S                1
#define PF_TOKEN_LIFETIME_MAX_S                (24 * 60 * 60)
#define PF_TOKEN_LIFETIME_DEFAULT_S            3599
#define PF_TOKEN_MAX_BYTES                     (32 * 1024)

typedef enum pf_credential_kind {
    PF_CRED_SECRET,
    PF_CRED_CERTIFICATE,
    PF_CRED_FEDERATED,
} pf_credential_kind;

/*
 * One application credential. All strings are copied by pf_tokens_add().
 * A secret or a certificate kept in files is read again when a file
 * changes (credfile.h): before every token request (stat() only, unless
 * a file changed), and at once when the endpoint answers invalid_client
 * (whatever stat() says), then the request is made again after
 * min_fetch_interval_ms if the credential read differs from the one
 * refused. A read that fails keeps the last good credential: logged once
 * per reason, and put before the description of a failure of the token
 * endpoint while it lasts.
 */
typedef struct pf_credential {
    const char *tenant_id;
    const char *client_id;
    pf_credential_kind kind;
    /* PF_CRED_SECRET: one of the two. */
    const char *secret;      /* the secret's value, fixed */
    const char *secret_file; /* a file holding it, re-read on change */
    /* PF_CRED_CERTIFICATE: PEM or PKCS #12, certificate + key (jwt.h). */
    const char *certificate_path;
    const char *certificate_password;      /* its password, or */
    const char *certificate_password_file; /* a file holding it; or none */
    bool send_certificate_chain;           /* x5c in the assertion */
    pf_jwt_alg alg;                        /* PS256 default */
    const char *federated_token_file;      /* PF_CRED_FEDERATED */
} pf_credential;

typedef struct pf_token_config {
    const char *authority_host; /* "https://login.microsoftonline.com" */
    const char *scope;          /* "https://graph.microsoft.com/.default" */
    int64_t expiry_margin_ms;
    int64_t retry_base_ms;
    int64_t retry_max_ms;
    int64_t systemic_retry_ms;
    int64_t min_fetch_interval_ms; /* between two fetch starts; >= 0 */
} pf_token_config;

/* Defaults above; authority_host and scope are left NULL to be set. */
void pf_token_config_default(pf_token_config *cfg);

/* Why a fetch did not yield a token. Fit for logs and outcome records. */
typedef struct pf_token_failure {
    pf_class cls;          /* PF_CLASS_TRANSIENT or PF_CLASS_SYSTEMIC */
    bool unreachable;      /* no HTTP answer at all (transport error) */
    long http_status;      /* 0 without an answer */
    char error[64];        /* OAuth error code, or the transport error's name;
                            * from the server: sanitized */
    char description[320]; /* e.g. "AADSTS7000215: Invalid client ...";
                            * one line, no control bytes */
} pf_token_failure;

typedef struct pf_token_waiter pf_token_waiter;

/*
 * Called once for a waiter: with the bearer token (borrowed, valid during
 * the call only; copy it to use it later) and its generation, or with
 * bearer NULL and the failure.
 */
typedef void (*pf_token_fn)(pf_token_waiter *w, const char *bearer,
                            uint64_t generation, const pf_token_failure *f);

/* Embedded in the waiting job; fields are private to token.c. */
struct pf_token_waiter {
    LIST_ENTRY(pf_token_waiter) link; /* in its source's list */
    pf_token_fn fn;
    bool waiting;
};

typedef struct pf_tokens pf_tokens;             /* all sources */
typedef struct pf_token_source pf_token_source; /* one credential */

/*
 * Creates the set. http and timers are borrowed and must outlive it; cfg
 * is copied (strings included). Returns NULL with a reason in errstr.
 */
pf_tokens *pf_tokens_new(pf_http *http, pf_timers *timers,
                         const pf_token_config *cfg, char *errstr,
                         size_t errstr_size);

/* Abandons fetches in flight (no callbacks) and frees everything. */
void pf_tokens_destroy(pf_tokens *t);

/*
 * Adds a credential. The first one added is the default source. Reads a
 * secret file and loads a certificate at once, so that a bad one is a
 * configuration error at start. Returns the source, or NULL with a reason
 * in errstr (unknown kind, missing or conflicting fields, an unreadable
 * or empty secret file, a certificate jwt.h refuses, duplicate tenant).
 */
pf_token_source *pf_tokens_add(pf_tokens *t, const pf_credential *cred,
                               char *errstr, size_t errstr_size);

/*
 * The source for a tenant id (an event's `tenantid`), compared
 * case-insensitively; NULL or "" gives the default source. An unknown
 * tenant gives NULL when several sources are configured, and the only one
 * when one is (the event may name the tenant by domain, the credential by
 * GUID).
 */
pf_token_source *pf_tokens_find(pf_tokens *t, const char *tenant_id);

/* Starts a fetch on every source that has no token yet (at start-up). */
void pf_tokens_prefetch(pf_tokens *t);

/*
 * True when every source has a servable token and none is failing
 * systemically: the token part of readiness.
 */
bool pf_tokens_ready(const pf_tokens *t);

/*
 * Why pf_tokens_ready() is false, in words that always say something: the
 * first source that is not ready, its tenant, and its last failure
 * ("tenant X: invalid_client: AADSTS7000215: ...") or its state ("no
 * token yet", "the token expired"). "valid" when it is ready. Into buf
 * (n > 0), cut to fit.
 */
void pf_tokens_why_not_ready(const pf_tokens *t, char *buf, size_t n);

/*
 * The servable token, or NULL (then a fetch is under way: wait for it).
 * *generation identifies the token for pf_token_invalidate().
 */
const char *pf_token_get(pf_token_source *s, uint64_t *generation);

/* Waits for the next fetch to finish; w must not be waiting already. */
void pf_token_wait(pf_token_source *s, pf_token_waiter *w, pf_token_fn fn);

/* Stops waiting; the callback is not made. Safe if not waiting. */
void pf_token_cancel(pf_token_source *s, pf_token_waiter *w);

/*
 * Graph answered 401 to a request sent with token `generation`: if it is
 * still the current token, stop serving it and fetch a new one now.
 */
void pf_token_invalidate(pf_token_source *s, uint64_t generation);

/* The tenant id of the source's credential. */
const char *pf_token_source_tenant(const pf_token_source *s);

/* The last fetch's failure, or NULL if the last fetch succeeded. */
const pf_token_failure *pf_token_last_failure(const pf_token_source *s);

/* Counters for metrics: successful fetches and failed ones. */
void pf_token_counts(const pf_token_source *s, uint64_t *fetched,
                     uint64_t *failed);

/* The same, summed over every source. */
void pf_tokens_counts(const pf_tokens *t, uint64_t *fetched, uint64_t *failed);

/*
 * The sources, in the order they were added (the default first): i from 0
 * to pf_tokens_size() - 1; NULL past the end. Borrowed, as long as t.
 */
size_t pf_tokens_size(const pf_tokens *t);
pf_token_source *pf_tokens_at(pf_tokens *t, size_t i);

#endif /* PROVFLOW_TOKEN_H */
