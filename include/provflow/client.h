/*
 * client.h - the Graph side of provflow, assembled from the settings:
 * timers, the HTTP client, the token sources and the Graph job client,
 * plus the transform options (Graph root, secrets directory). `send` and
 * `run` both build one; it runs on their loop thread.
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

typedef struct pf_client {
    pf_timers *timers;
    pf_http *http;
    pf_tokens *tokens;
    pf_graph *graph;
    pf_secrets *secrets;
    pf_transform_opts transform; /* points into this struct */
    char graph_root[PF_GRAPH_ROOT_MAX + 1];
    char authority_host[PF_GRAPH_ROOT_MAX + 1];
} pf_client;

/*
 * Builds the client from cfg: the cloud's hosts unless --graph-root or
 * --authority-host say otherwise; the default credential from
 * tenant-id/client-id and the first of client secret, certificate,
 * federated token file (the Azure SDKs' order); further tenants from
 * credentials-file. Returns 0, or -1 with a message naming the setting in
 * errstr (a configuration error: exit 78). Nothing is fetched yet.
 */
int pf_client_init(pf_client *c, const pf_config *cfg, char *errstr,
                   size_t errstr_size);

void pf_client_release(pf_client *c);

#endif /* PROVFLOW_CLIENT_H */
