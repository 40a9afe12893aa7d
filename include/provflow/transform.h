/*
 * transform.h - a decoded event to the exact Graph create request.
 *
 * Pure: no network, no clock, no randomness. The same event and options
 * always give byte-identical output (the body serialised compactly). The rules
 * are docs/events.md; the flow types are the tables of flowschema.h.
 */
#ifndef PROVFLOW_TRANSFORM_H
#define PROVFLOW_TRANSFORM_H

#include <jansson.h>

#include "provflow/error.h"
#include "provflow/event.h"
#include "provflow/flowschema.h"
#include "provflow/reqid.h"
#include "provflow/secrets.h"

#define PF_GRAPH_ROOT_DEFAULT "https://graph.microsoft.com"
#define PF_GRAPH_ROOT_MAX     256

typedef struct pf_transform_opts {
    /*
     * Graph root, "https://graph.microsoft.com" for the global cloud; no
     * trailing slash needed. NULL means PF_GRAPH_ROOT_DEFAULT. Check it
     * first with pf_graph_root_valid().
     */
    const char *graph_root;
    /* Secrets directory; NULL makes "defaultPasswordSecret" an error. */
    const pf_secrets *secrets;
} pf_transform_opts;

/* The Graph request for one event. Owned by the caller once filled. */
typedef struct pf_request {
    const pf_flow_kind *flow;              /* static table entry */
    char flow_set_id[PF_UUID_STR_LEN + 1]; /* lower case */
    char client_request_id[PF_UUID_STR_LEN + 1];
    char *url;    /* the POST URL; owned */
    json_t *body; /* the request body; owned; holds real passwords */
} pf_request;

/*
 * 1 if root is an absolute http(s) URL with a host and no query, fragment
 * or user info, short enough to build URLs from; else 0 and a reason in
 * errstr.
 */
int pf_graph_root_valid(const char *root, char *errstr, size_t errstr_size);

/*
 * Builds the request for ev. Returns 0 and fills req (release it with
 * pf_request_release()), or -1 with err set (code "invalid_event", the JSON
 * path of the offending value, the reason) and req left empty.
 */
int pf_transform(const pf_event *ev, const pf_transform_opts *opts,
                 pf_request *req, pf_error *err);

void pf_request_release(pf_request *req);

/*
 * Replaces the value of every property named "password" (any letter case)
 * anywhere in v with "***". Used on request bodies and Graph responses
 * before they are printed or published.
 */
void pf_json_mask_secrets(json_t *v);

#endif /* PROVFLOW_TRANSFORM_H */
