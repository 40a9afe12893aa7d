/*
 * transform.h - a decoded event to the exact Graph request of its operation.
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
#include "provflow/ops.h"
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

/* A flow's Graph id and a set's displayName: longer ones are refused. */
#define PF_FLOW_ID_MAX  128
#define PF_SET_NAME_MAX 256

/*
 * The Graph request for one event (ops.h: which operation). Owned by the
 * caller once filled. What the event names by name or type (a set by
 * its displayName, a flow by its type) is resolved by the Graph client
 * when it sends (graph.h); pf_request_url() writes the URL with those
 * parts given, or as placeholders.
 */
typedef struct pf_request {
    const pf_op *op;          /* static table entry */
    const pf_flow_kind *flow; /* static; NULL when no flow type is named
                               * (a set create, a run start, a flow by id) */
    char flow_set_id[PF_UUID_STR_LEN + 1]; /* lower case; "" when the set
                                            * is named by flow_set_name or
                                            * there is none */
    char *flow_set_name; /* the set's displayName; owned; NULL by id */
    char *flow_id;       /* the flow's Graph id; owned; NULL by type */
    char client_request_id[PF_UUID_STR_LEN + 1];
    char *base;   /* "{root}/beta/external/industryData"; owned */
    json_t *body; /* the request body, NULL for none; owned; holds real
                   * passwords. After pf_request_compact() (or
                   * pf_transform_text()): only the passwords, for
                   * masking ({"password": [...]}), or NULL */
    /* After pf_request_compact() (or pf_transform_text()): the body as
     * compact JSON text (what is sent), owned, NULL-terminated; else
     * NULL. */
    char *body_text;
    size_t body_len;
    /* A run start: the event's time (its `time`, ms since the epoch), 0
     * when it has none (the caller's record time stands in). */
    int64_t since_ms;
} pf_request;

/*
 * Writes req's URL into buf (NUL-terminated, cut to n): set_id and
 * flow_id stand for what req names by name or type (NULL: req's own, else
 * a placeholder such as "{flowSetName:District A}" or
 * "{flowId of classGroup}"). Returns the length it needed.
 */
size_t pf_request_url(const pf_request *req, const char *set_id,
                      const char *flow_id, char *buf, size_t n);

/*
 * The URL of op's request under base ("{root}/beta/external/industryData")
 * for the set and flow ids given (those op does not use are ignored).
 */
size_t pf_op_url(const pf_op *op, const char *base, const char *set_id,
                 const char *flow_id, char *buf, size_t n);

/* The set req names, its id or else its name; NULL when none (a run). */
const char *pf_request_set(const pf_request *req);

/* The flow type req names, or NULL (a set, a run, a flow by id). */
const char *pf_request_flow_type(const pf_request *req);

/*
 * 1 if root is an absolute http(s) URL with a host and no query, fragment
 * or user info, short enough to build URLs from; else 0 and a reason in
 * errstr.
 */
int pf_graph_root_valid(const char *root, char *errstr, size_t errstr_size);

/*
 * Builds the request for ev. Returns 0 and fills req (release it with
 * pf_request_release()), or -1 with err set (code "invalid_event", the JSON
 * path of the offending value, the reason) and req left empty. The body is
 * a tree, for printing it (the transform command, a dry run).
 */
int pf_transform(const pf_event *ev, const pf_transform_opts *opts,
                 pf_request *req, pf_error *err);

/*
 * pf_transform(), for a request to send: req as pf_request_compact() would
 * leave it (its body as text, as a tree only its passwords). The text is
 * written straight from the event, with no tree of the body at all
 * (pf_transform() parses that same text back into its tree).
 */
int pf_transform_text(const pf_event *ev, const pf_transform_opts *opts,
                      pf_request *req, pf_error *err);

void pf_request_release(pf_request *req);

/*
 * Keeps what a request to send needs, and no more: the body becomes its
 * text (body_text, as pf_jsonw_dump() writes it) and the tree shrinks to
 * its passwords, which masking needs (redact.h's rule finds them there
 * too). A body tree weighs about twice its text: records waiting for
 * their turn hold the text alone. Returns 0, or -1 (req unchanged) when
 * memory runs out. Nothing to do after pf_transform_text().
 */
int pf_request_compact(pf_request *req);

/*
 * Replaces the value of every property named "password" (any letter case)
 * anywhere in v with "***". Used on request bodies and Graph responses
 * before they are printed or published.
 */
void pf_json_mask_secrets(json_t *v);

#endif /* PROVFLOW_TRANSFORM_H */
