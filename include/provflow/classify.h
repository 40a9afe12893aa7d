/*
 * classify.h - what an attempt's outcome means for the event
 * (docs/contract.md, "Classification").
 *
 * The three kinds of input are kept apart as they enter (docs/style.md): a
 * transport error (no HTTP response), an HTTP status, and, for the token
 * endpoint, the OAuth2 `error` code. This module does not depend on curl:
 * the HTTP layer maps CURLcode onto pf_transport.
 *
 * Pure functions of their arguments; safe from any thread.
 */
#ifndef PROVFLOW_CLASSIFY_H
#define PROVFLOW_CLASSIFY_H

#include <stdbool.h>

/* How the exchange failed before an HTTP status was read, if it did. */
typedef enum pf_transport {
    PF_TRANSPORT_OK = 0,        /* a complete HTTP response was read */
    PF_TRANSPORT_DNS,           /* the host name did not resolve */
    PF_TRANSPORT_CONNECT,       /* refused, unreachable: nothing was sent */
    PF_TRANSPORT_TLS_HANDSHAKE, /* TLS handshake failed (not verification) */
    PF_TRANSPORT_TLS_VERIFY,    /* the server's certificate was not trusted */
    PF_TRANSPORT_TIMEOUT,       /* connect or whole-request timeout */
    PF_TRANSPORT_BROKEN,        /* reset or closed mid-exchange, send/recv
                                 * error, malformed or truncated response */
    PF_TRANSPORT_OTHER,         /* anything else: bad URL, unsupported
                                 * protocol, out of memory, internal error */
} pf_transport;

/* The outcome classes (docs/contract.md), plus one step of auth. */
typedef enum pf_class {
    PF_CLASS_CREATED = 0, /* 201: done */
    PF_CLASS_TRANSIENT,   /* retry with backoff (retry.h) */
    PF_CLASS_REJECTED,    /* the event fails at once with Graph's error */
    PF_CLASS_SYSTEMIC,    /* not the event's fault: stop consuming, report
                           * not-ready, retry slowly; never fail the event */
    PF_CLASS_REAUTH,      /* 401 before any refresh: refresh the token and
                           * retry once */
} pf_class;

/*
 * Classifies one attempt of the Graph create call.
 *
 * transport: PF_TRANSPORT_OK when an HTTP response was read, and then only
 *   http_status counts; otherwise http_status is ignored.
 * after_refresh: true if the token was already refreshed because of a 401
 *   for this request; a second 401 is then systemic.
 *
 * Transport errors: DNS, CONNECT, TLS_HANDSHAKE, TIMEOUT, BROKEN are
 * transient (connection errors, timeouts); TLS_VERIFY and
 * OTHER are systemic: an untrusted certificate or a bad URL is
 * configuration, and will not clear by retrying the same event.
 *
 * HTTP statuses:
 *   201                               created
 *   408, 429, 500, 502, 503, 504      transient
 *   other 5xx                         transient, except 501, 505, 511
 *   400, 404, 409, 412, 413, 415, 422 rejected
 *   other 4xx                         rejected, except 407
 *   401                               reauth, or systemic after_refresh
 *   403, 407                          systemic (permission; proxy auth)
 *   501, 505, 511                     systemic (the API or protocol is
 *                                     unavailable here; network login)
 *   other 2xx, 1xx, 3xx, < 100, > 599 systemic (outside Graph's contract)
 */
pf_class pf_classify_graph(pf_transport transport, long http_status,
                           bool after_refresh);

/*
 * Classifies a token request that did not yield an access token. It never
 * returns PF_CLASS_REJECTED (no event is at fault for a token) nor
 * PF_CLASS_CREATED or PF_CLASS_REAUTH.
 *
 * oauth_error: the response's `error` member, or NULL if there was none or
 *   the body was not JSON. A known code decides, whatever the status:
 *   `temporarily_unavailable` is transient; `invalid_request`,
 *   `invalid_grant`, `unauthorized_client`, `invalid_client`,
 *   `unsupported_grant_type`, `invalid_resource`, `invalid_scope` are
 *   systemic. Without a known code: transport errors as for Graph; 408,
 *   429 and 5xx transient; any other status systemic.
 */
pf_class pf_classify_token(pf_transport transport, long http_status,
                           const char *oauth_error);

/*
 * True if the attempt may have created the flow although no 201 was seen,
 * so that a retry must first list the set's flows (docs/design.md, "The
 * delivery argument"):
 * - a TIMEOUT, BROKEN or OTHER transport error after the whole request was
 *   sent (request_sent true): the response may have been lost;
 * - any 5xx: the server failed after it may have committed the flow;
 * - a 2xx other than 201: Graph answered outside its contract but
 *   accepted something.
 * False for 201 (the outcome is known), for 408, 429 and other 4xx (Graph
 * did not act on the request), and for failures before sending (DNS,
 * CONNECT, TLS_*, or request_sent false).
 */
bool pf_classify_may_have_reached(pf_transport transport, long http_status,
                                  bool request_sent);

/*
 * Lower-case names for logs and metric labels: "created", "transient",
 * "rejected", "systemic", "reauth"; "unknown" for a value outside the enum.
 * Static strings.
 */
const char *pf_classify_name(pf_class c);

/*
 * Names of transport errors: "ok", "dns", "connect", "tls_handshake",
 * "tls_verify", "timeout", "broken", "other"; "unknown" outside the enum.
 * Static strings.
 */
const char *pf_classify_transport_name(pf_transport t);

#endif /* PROVFLOW_CLASSIFY_H */
