/* client.c - the Graph side assembled from the settings (client.h). */
#include "provflow/client.h"

#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "provflow/fileio.h"
#include "provflow/log.h"

struct pf_client {
    pf_tokens *tokens;
    pf_graph *graph;
    pf_secrets *secrets;
    pf_transform_opts transform; /* points into this struct */
    char graph_root[PF_GRAPH_ROOT_MAX + 1];
    char authority_host[PF_GRAPH_ROOT_MAX + 1];
};

#define CREDENTIALS_FILE_MAX (1024 * 1024)

static const pf_cloud clouds[] = {
    {"global", "https://login.microsoftonline.com",
     "https://graph.microsoft.com"},
    {"usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us"},
    {"usgov-dod", "https://login.microsoftonline.us",
     "https://dod-graph.microsoft.us"},
    {"china", "https://login.chinacloudapi.cn",
     "https://microsoftgraph.chinacloudapi.cn"},
};

const pf_cloud *pf_cloud_find(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(clouds) / sizeof(clouds[0]); i++) {
        if (strcmp(clouds[i].name, name) == 0)
            return &clouds[i];
    }
    return NULL;
}

/*
 * The default credential: a client secret or a certificate (config.c
 * refuses both), else the federated token file. A federated token file
 * next to one of the two is ignored, said in the log: workload identity's
 * webhook puts AZURE_FEDERATED_TOKEN_FILE into every pod it serves.
 */
static int default_credential(const pf_config *cfg, pf_credential *cred,
                              char *errstr, size_t errstr_size)
{
    memset(cred, 0, sizeof(*cred));
    cred->tenant_id = cfg->tenant_id;
    cred->client_id = cfg->client_id;
    if (cfg->client_secret != NULL) {
        cred->kind = PF_CRED_SECRET;
        /* From a file: the token source reads it, and again on change. */
        if (cfg->client_secret_file != NULL)
            cred->secret_file = cfg->client_secret_file;
        else
            cred->secret = cfg->client_secret;
    } else if (cfg->certificate_path != NULL) {
        cred->kind = PF_CRED_CERTIFICATE;
        cred->certificate_path = cfg->certificate_path;
        if (cfg->certificate_password_file != NULL)
            cred->certificate_password_file = cfg->certificate_password_file;
        else
            cred->certificate_password = cfg->certificate_password;
        cred->send_certificate_chain = cfg->send_certificate_chain;
    } else if (cfg->federated_token_file != NULL) {
        cred->kind = PF_CRED_FEDERATED;
        cred->federated_token_file = cfg->federated_token_file;
    } else {
        snprintf(errstr, errstr_size,
                 "no credential: set AZURE_CLIENT_SECRET (or _FILE), "
                 "AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE");
        return -1;
    }
    if (cfg->tenant_id == NULL || cfg->client_id == NULL) {
        snprintf(errstr, errstr_size,
                 "tenant-id (AZURE_TENANT_ID) and client-id "
                 "(AZURE_CLIENT_ID) are required");
        return -1;
    }
    if (cred->kind != PF_CRED_FEDERATED && cfg->federated_token_file != NULL)
        pf_log(PF_LOG_WARN, NULL,
               "federated-token-file (AZURE_FEDERATED_TOKEN_FILE) is ignored: "
               "the default credential is the client %s",
               cred->kind == PF_CRED_SECRET ? "secret" : "certificate");
    return 0;
}

/* The setting a default credential's load failure is about. */
static const char *default_setting(const pf_config *cfg)
{
    if (cfg->client_secret != NULL)
        return cfg->client_secret_file != NULL
                   ? "client-secret (AZURE_CLIENT_SECRET_FILE)"
                   : "client-secret (AZURE_CLIENT_SECRET)";
    if (cfg->certificate_path != NULL)
        return cfg->certificate_password != NULL
                   ? "client-certificate-path (AZURE_CLIENT_CERTIFICATE_PATH, "
                     "with client-certificate-password)"
                   : "client-certificate-path (AZURE_CLIENT_CERTIFICATE_PATH)";
    return "federated-token-file (AZURE_FEDERATED_TOKEN_FILE)";
}

/* The members a credentials-file entry may have. */
static const char *const entry_keys[] = {"tenantId",
                                         "clientId",
                                         "clientSecretFile",
                                         "certificatePath",
                                         "certificatePasswordFile",
                                         "sendCertificateChain",
                                         "federatedTokenFile",
                                         NULL};

/*
 * One credentials-file entry into cred (strings borrowed from e). Exactly
 * one of clientSecretFile, certificatePath, federatedTokenFile (unlike the
 * environment, nothing injects any of them: two are a mistake), and
 * certificatePasswordFile and sendCertificateChain only with a
 * certificate. Returns 0, or -1 with the member named in errstr.
 */
static int entry_credential(const json_t *e, pf_credential *cred, char *errstr,
                            size_t errstr_size)
{
    const char *key, *kinds[3] = {NULL, NULL, NULL};
    const json_t *v, *chain;
    size_t i, n = 0;

    memset(cred, 0, sizeof(*cred));
    if (!json_is_object(e)) {
        snprintf(errstr, errstr_size, "not a JSON object");
        return -1;
    }
    json_object_foreach((json_t *)e, key, v)
    {
        for (i = 0; entry_keys[i] != NULL; i++) {
            if (strcmp(key, entry_keys[i]) == 0)
                break;
        }
        if (entry_keys[i] == NULL) {
            snprintf(errstr, errstr_size, "unknown member \"%.64s\"", key);
            return -1;
        }
        if (strcmp(key, "sendCertificateChain") != 0 && !json_is_string(v)) {
            snprintf(errstr, errstr_size, "%s: not a string", key);
            return -1;
        }
    }
    cred->tenant_id = json_string_value(json_object_get(e, "tenantId"));
    cred->client_id = json_string_value(json_object_get(e, "clientId"));
    cred->secret_file =
        json_string_value(json_object_get(e, "clientSecretFile"));
    cred->certificate_path =
        json_string_value(json_object_get(e, "certificatePath"));
    cred->certificate_password_file =
        json_string_value(json_object_get(e, "certificatePasswordFile"));
    cred->federated_token_file =
        json_string_value(json_object_get(e, "federatedTokenFile"));
    chain = json_object_get(e, "sendCertificateChain");
    if (chain != NULL && !json_is_boolean(chain)) {
        snprintf(errstr, errstr_size,
                 "sendCertificateChain: not true or "
                 "false");
        return -1;
    }
    cred->send_certificate_chain = json_is_true(chain);
    if (cred->secret_file != NULL)
        kinds[n++] = "clientSecretFile";
    if (cred->certificate_path != NULL)
        kinds[n++] = "certificatePath";
    if (cred->federated_token_file != NULL)
        kinds[n++] = "federatedTokenFile";
    if (n != 1) {
        snprintf(errstr, errstr_size,
                 n == 0 ? "no credential: clientSecretFile, certificatePath "
                          "or federatedTokenFile"
                        : "%s and %s are both set; an entry has one "
                          "credential",
                 kinds[0], kinds[1]);
        return -1;
    }
    if (cred->certificate_path == NULL &&
        (cred->certificate_password_file != NULL || chain != NULL)) {
        snprintf(errstr, errstr_size, "%s without certificatePath",
                 cred->certificate_password_file != NULL
                     ? "certificatePasswordFile"
                     : "sendCertificateChain");
        return -1;
    }
    cred->kind = cred->secret_file != NULL        ? PF_CRED_SECRET
                 : cred->certificate_path != NULL ? PF_CRED_CERTIFICATE
                                                  : PF_CRED_FEDERATED;
    return 0;
}

/*
 * credentials-file: [{"tenantId", "clientId", and one of "clientSecretFile",
 * "certificatePath" (with "certificatePasswordFile",
 * "sendCertificateChain"), "federatedTokenFile"}, ...]
 */
static int more_credentials(pf_client *c, const char *path, char *errstr,
                            size_t errstr_size)
{
    json_error_t jerr;
    json_t *doc = NULL, *e;
    char *text = NULL;
    size_t i, len = 0;
    int rc = -1;
    char why[256];

    if (pf_file_read(path, NULL, CREDENTIALS_FILE_MAX, &text, &len, why,
                     sizeof(why)) != PF_FILE_OK) {
        snprintf(errstr, errstr_size, "credentials-file %s", why);
        goto out;
    }
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_array(doc)) {
        snprintf(errstr, errstr_size, "credentials-file %s: %s", path,
                 doc == NULL ? jerr.text : "expected a JSON array");
        goto out;
    }
    json_array_foreach(doc, i, e)
    {
        pf_credential cred;

        if (entry_credential(e, &cred, why, sizeof(why)) != 0 ||
            pf_tokens_add(c->tokens, &cred, why, sizeof(why)) == NULL) {
            snprintf(errstr, errstr_size, "credentials-file %s [%zu]: %s", path,
                     i, why);
            goto out;
        }
    }
    rc = 0;
out:
    json_decref(doc);
    pf_file_free(text, len);
    return rc;
}

void pf_client_http_config(const pf_config *cfg, pf_http_config *hc)
{
    pf_http_config_default(hc);
    hc->ca_file = cfg->ca_file;
    hc->allow_http = cfg->allow_http;
    hc->timeout_ms = cfg->http_timeout_ms;
    hc->connect_timeout_ms = cfg->connect_timeout_ms;
    hc->max_connections = cfg->max_in_flight + 8;
}

/* The hosts: the cloud's unless --graph-root / --authority-host. */
static int hosts(pf_client *c, const pf_config *cfg, char *errstr,
                 size_t errstr_size)
{
    const pf_cloud *cloud = pf_cloud_find(cfg->cloud ? cfg->cloud : "global");
    char why[256];
    size_t len;

    if (cloud == NULL) {
        snprintf(errstr, errstr_size,
                 "cloud: \"%s\" is not global, usgov, usgov-dod or china",
                 cfg->cloud);
        return -1;
    }
    /*
     * Graph's documentation lists the industry-data API for the global
     * service only, not US Government L4 and L5 (DOD) nor China (21Vianet):
     * said at start, not refused, in case Microsoft extends it.
     */
    if (strcmp(cloud->name, "global") != 0)
        pf_log(PF_LOG_WARN, NULL,
               "cloud %s: Microsoft Graph documents the industry-data API "
               "(outbound provisioning flows) for the global service only; "
               "requests to %s may be refused",
               cloud->name,
               cfg->graph_root ? cfg->graph_root : cloud->graph_root);
    snprintf(c->graph_root, sizeof(c->graph_root), "%s",
             cfg->graph_root ? cfg->graph_root : cloud->graph_root);
    snprintf(c->authority_host, sizeof(c->authority_host), "%s",
             cfg->authority_host ? cfg->authority_host : cloud->authority_host);
    for (len = strlen(c->graph_root); len > 0 && c->graph_root[len - 1] == '/';
         len--)
        c->graph_root[len - 1] = '\0';
    if (!pf_graph_root_valid(c->graph_root, why, sizeof(why))) {
        snprintf(errstr, errstr_size, "graph-root: %s", why);
        return -1;
    }
    if (!pf_graph_root_valid(c->authority_host, why, sizeof(why))) {
        snprintf(errstr, errstr_size, "authority-host: %s", why);
        return -1;
    }
    if (!cfg->allow_http && (strncmp(c->graph_root, "http://", 7) == 0 ||
                             strncmp(c->authority_host, "http://", 7) == 0)) {
        snprintf(errstr, errstr_size,
                 "graph-root and authority-host must be https:// unless "
                 "allow-http is set");
        return -1;
    }
    return 0;
}

pf_client *pf_client_new(const pf_config *cfg, pf_http *http, pf_timers *timers,
                         char *errstr, size_t errstr_size)
{
    pf_client *c = calloc(1, sizeof(*c));
    pf_token_config tc;
    pf_graph_config gc;
    pf_credential cred;
    char scope[PF_GRAPH_ROOT_MAX + 16], why[256];

    if (c == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (hosts(c, cfg, errstr, errstr_size) != 0)
        goto fail;
    c->transform.graph_root = c->graph_root;
    if (cfg->secrets_dir != NULL) {
        c->secrets = pf_secrets_new(cfg->secrets_dir, why, sizeof(why));
        if (c->secrets == NULL) {
            snprintf(errstr, errstr_size, "secrets-dir: %s", why);
            goto fail;
        }
        c->transform.secrets = c->secrets;
    }

    /* The scope is the Graph root's: "<root>/.default". */
    snprintf(scope, sizeof(scope), "%s/.default", c->graph_root);
    pf_token_config_default(&tc);
    tc.authority_host = c->authority_host;
    tc.scope = scope;
    tc.expiry_margin_ms = cfg->token_expiry_margin_ms;
    tc.systemic_retry_ms = cfg->token_systemic_retry_ms;
    c->tokens = pf_tokens_new(http, timers, &tc, why, sizeof(why));
    if (c->tokens == NULL) {
        snprintf(errstr, errstr_size, "tokens: %s", why);
        goto fail;
    }
    /* A dry run calls nothing: a credential, if given, only names the
     * tenants it accepts. */
    if (!cfg->dry_run || cfg->client_secret != NULL ||
        cfg->certificate_path != NULL || cfg->federated_token_file != NULL) {
        if (default_credential(cfg, &cred, errstr, errstr_size) != 0)
            goto fail;
        if (pf_tokens_add(c->tokens, &cred, why, sizeof(why)) == NULL) {
            snprintf(errstr, errstr_size, "%s: credential of tenant %s: %s",
                     default_setting(cfg), cfg->tenant_id, why);
            goto fail;
        }
    }
    if (cfg->credentials_file != NULL &&
        more_credentials(c, cfg->credentials_file, errstr, errstr_size) != 0)
        goto fail;

    pf_graph_config_default(&gc);
    gc.max_in_flight = (int)cfg->max_in_flight;
    gc.retry.max_attempts = (int)cfg->max_attempts;
    gc.retry.max_elapsed_ms = cfg->max_elapsed_ms;
    gc.retry.base_delay_ms = cfg->retry_base_ms;
    gc.retry.max_backoff_ms = cfg->max_backoff_ms;
    gc.retry.max_retry_after_ms = cfg->max_retry_after_ms;
    gc.settle_ms = cfg->settle_ms;
    c->graph = pf_graph_new(http, timers, c->tokens, &gc, why, sizeof(why));
    if (c->graph == NULL) {
        snprintf(errstr, errstr_size, "retry settings: %s", why);
        goto fail;
    }
    return c;
fail:
    pf_client_destroy(c);
    return NULL;
}

void pf_client_destroy(pf_client *c)
{
    if (c == NULL)
        return;
    pf_graph_destroy(c->graph);
    pf_tokens_destroy(c->tokens);
    pf_secrets_destroy(c->secrets);
    free(c);
}

pf_graph *pf_client_graph(pf_client *c)
{
    return c->graph;
}

pf_tokens *pf_client_tokens(pf_client *c)
{
    return c->tokens;
}

const pf_transform_opts *pf_client_transform(const pf_client *c)
{
    return &c->transform;
}
