/* classify.c - outcome classes of Graph and token attempts (classify.h). */
#include "provflow/classify.h"

#include <stddef.h>
#include <string.h>

/*
 * Network-level failures are transient: they are the "connection errors,
 * timeouts" of docs/contract.md, "Classification", and a TLS handshake that
 * fails (as opposed to a certificate that fails verification) is most often a
 * reset or a middlebox hiccup during the handshake. A certificate that does not
 * verify, or a failure that is not about the network at all (a malformed
 * URL, an unsupported protocol, an allocation failure), will not clear by
 * retrying the same event, and must not burn events into the dead-letter
 * topic: systemic.
 */
static pf_class transport_class(pf_transport t)
{
    switch (t) {
    case PF_TRANSPORT_DNS:
    case PF_TRANSPORT_CONNECT:
    case PF_TRANSPORT_TLS_HANDSHAKE:
    case PF_TRANSPORT_TIMEOUT:
    case PF_TRANSPORT_BROKEN:
        return PF_CLASS_TRANSIENT;
    case PF_TRANSPORT_OK:
    case PF_TRANSPORT_TLS_VERIFY:
    case PF_TRANSPORT_OTHER:
        break;
    }
    return PF_CLASS_SYSTEMIC;
}

pf_class pf_classify_graph(pf_transport transport, long http_status,
                           bool after_refresh)
{
    if (transport != PF_TRANSPORT_OK)
        return transport_class(transport);

    switch (http_status) {
    case 201:
        return PF_CLASS_CREATED;
    case 401:
        return after_refresh ? PF_CLASS_SYSTEMIC : PF_CLASS_REAUTH;
    case 403: /* the app lacks the permission or consent */
    case 407: /* a proxy wants credentials: configuration */
        return PF_CLASS_SYSTEMIC;
    case 408:
    case 429:
        return PF_CLASS_TRANSIENT;
    case 501: /* the API does not exist here (e.g. a national cloud) */
    case 505: /* HTTP version not supported: our configuration */
    case 511: /* network authentication required: a captive proxy */
        return PF_CLASS_SYSTEMIC;
    default:
        break;
    }
    /*
     * 4xx blames the request: 400, 404, 409, 412, 413, 415, 422 are the ones
     * Graph documents for the create call; the rest (410 gone, 414 too long,
     * ...) are about this request too. 5xx is the server's trouble and may
     * clear. Anything else (1xx, 3xx, a 2xx other than 201, nonsense) is
     * outside the create call's contract: treating it as created would need a
     * body we cannot trust, failing the event would blame it for Graph's or a
     * proxy's behaviour; stopping to look (systemic) is the safe answer,
     * and pf_classify_may_have_reached() makes the retry check for a
     * duplicate first.
     */
    if (http_status >= 400 && http_status <= 499)
        return PF_CLASS_REJECTED;
    if (http_status >= 500 && http_status <= 599)
        return PF_CLASS_TRANSIENT;
    return PF_CLASS_SYSTEMIC;
}

/*
 * The token endpoint's `error` codes (RFC 6749 5.2 plus Entra's
 * temporarily_unavailable). Every code but temporarily_unavailable is a
 * configuration problem: the request is built from provflow's settings
 * (tenant, client id, scope, credential), never from an event, so
 * invalid_request (a malformed or unsupported parameter), invalid_grant
 * (an expired or mismatched federated token or assertion),
 * unsupported_grant_type and invalid_resource (a wrong Graph root or
 * scope) cannot be fixed by dropping the event. They stop consumption
 * until an operator, or a rotated credential, clears them.
 */
static const struct {
    const char *code;
    pf_class cls;
} token_errors[] = {
    {"temporarily_unavailable", PF_CLASS_TRANSIENT},
    {"invalid_client", PF_CLASS_SYSTEMIC},
    {"unauthorized_client", PF_CLASS_SYSTEMIC},
    {"invalid_scope", PF_CLASS_SYSTEMIC},
    {"invalid_request", PF_CLASS_SYSTEMIC},
    {"invalid_grant", PF_CLASS_SYSTEMIC},
    {"unsupported_grant_type", PF_CLASS_SYSTEMIC},
    {"invalid_resource", PF_CLASS_SYSTEMIC},
};

pf_class pf_classify_token(pf_transport transport, long http_status,
                           const char *oauth_error)
{
    size_t i;

    if (transport != PF_TRANSPORT_OK)
        return transport_class(transport);
    if (oauth_error != NULL) {
        for (i = 0; i < sizeof(token_errors) / sizeof(token_errors[0]); i++) {
            if (strcmp(oauth_error, token_errors[i].code) == 0)
                return token_errors[i].cls;
        }
    }
    if (http_status == 408 || http_status == 429 ||
        (http_status >= 500 && http_status <= 599))
        return PF_CLASS_TRANSIENT;
    return PF_CLASS_SYSTEMIC;
}

bool pf_classify_may_have_reached(pf_transport transport, long http_status,
                                  bool request_sent)
{
    switch (transport) {
    case PF_TRANSPORT_OK:
        break;
    case PF_TRANSPORT_TIMEOUT:
    case PF_TRANSPORT_BROKEN:
    case PF_TRANSPORT_OTHER:
        return request_sent;
    case PF_TRANSPORT_DNS:
    case PF_TRANSPORT_CONNECT:
    case PF_TRANSPORT_TLS_HANDSHAKE:
    case PF_TRANSPORT_TLS_VERIFY:
        return false;
    default:
        return request_sent;
    }
    if (http_status >= 500 && http_status <= 599)
        return true;
    return http_status >= 200 && http_status <= 299 && http_status != 201;
}

const char *pf_classify_name(pf_class c)
{
    switch (c) {
    case PF_CLASS_CREATED:
        return "created";
    case PF_CLASS_TRANSIENT:
        return "transient";
    case PF_CLASS_REJECTED:
        return "rejected";
    case PF_CLASS_SYSTEMIC:
        return "systemic";
    case PF_CLASS_REAUTH:
        return "reauth";
    }
    return "unknown";
}

const char *pf_classify_transport_name(pf_transport t)
{
    switch (t) {
    case PF_TRANSPORT_OK:
        return "ok";
    case PF_TRANSPORT_DNS:
        return "dns";
    case PF_TRANSPORT_CONNECT:
        return "connect";
    case PF_TRANSPORT_TLS_HANDSHAKE:
        return "tls_handshake";
    case PF_TRANSPORT_TLS_VERIFY:
        return "tls_verify";
    case PF_TRANSPORT_TIMEOUT:
        return "timeout";
    case PF_TRANSPORT_BROKEN:
        return "broken";
    case PF_TRANSPORT_OTHER:
        return "other";
    }
    return "unknown";
}
