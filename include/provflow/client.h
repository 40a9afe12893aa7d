/*
 * client.h - the Graph side of provflow, assembled from the settings: the
 * token sources, the Graph job client and the transform options (Graph
 * root, secrets directory), on the HTTP client and timers of the loop
 * that runs it. `send` and `run` both build one; it runs on their loop
 * thread.
 */
#ifndef PROVFLOW_CLIENT_H
#define PROVFLOW_CLIENT_H

#include "provflow/config.h"
#include "provflow/graph.h"
#include "provflow/http.h"
#include "provflow/secrets.h"
#include "provflow/timers.h"
#include "provflow/token.h"
#include "provflow/transform.h"

/* A national cloud (docs/configuration.md, --cloud). */
typedef struct pf_cloud {
    const char *name;           /* "global", "usgov", "usgov-dod", "china" */
    const char *authority_host; /* token host */
    const char *graph_root;     /* also the token scope's resource */
} pf_cloud;

/* The cloud called name, or NULL. */
const pf_cloud *pf_cloud_find(const char *name);

/* Opaque: the Graph side, built once per process. */
typedef struct pf_client pf_client;

/*
 * The HTTP client's settings from cfg (CA file, timeouts, plain http
 * allowed, connections for max_in_flight). The loop creates the HTTP
 * client and the timers it polls; the Graph side borrows them.
 */
void pf_client_http_config(const pf_config *cfg, pf_http_config *hc);

/*
 * Builds the client from cfg on the loop's http and timers (borrowed,
 * outliving it): the cloud's hosts unless --graph-root or
 * --authority-host say otherwise; the default credential from
 * tenant-id/client-id and a client secret or a certificate (config.c
 * refuses both), else the federated token file (ignored, with a warning
 * in the log, next to one of the two); further tenants from
 * credentials-file, one credential per entry. Returns NULL with a message
 * naming the setting in errstr (a configuration error: exit 78). Nothing is
 * fetched yet.
 */
pf_client *pf_client_new(const pf_config *cfg, pf_http *http, pf_timers *timers,
                         char *errstr, size_t errstr_size);

/* Cancels every job (no callbacks) and frees the client. NULL is a no-op. */
void pf_client_destroy(pf_client *c);

/* Its parts, owned by the client. */
pf_graph *pf_client_graph(pf_client *c);
pf_tokens *pf_client_tokens(pf_client *c);
const pf_transform_opts *pf_client_transform(const pf_client *c);

#endif /* PROVFLOW_CLIENT_H */
