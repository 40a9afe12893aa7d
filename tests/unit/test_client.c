/*
 * test_client.c - the Graph side assembled from the settings (client.h):
 * the cloud's hosts or the ones given, the default credential and the
 * further tenants of credentials-file, dry runs without a credential, and
 * the HTTP client's settings.
 *
 * Settings come from pf_config_load() of `send` (the environment cleared
 * first); files live in a mkdtemp directory removed at the end. Nothing is
 * fetched: building the client touches no network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "provflow/client.h"
#include "provflow/config.h"
#include "provflow/http.h"
#include "provflow/timers.h"
#include "provflow/token.h"

typedef struct env {
    char dir[256];
    char secret[300]; /* a client secret file */
    pf_timers *timers;
    pf_http *http;
    char err[512];
} env;

/* Every variable a `send` setting of the Graph side reads. */
static const char *const vars[] = {
    "PROVFLOW_CONFIG",
    "PROVFLOW_CLOUD",
    "PROVFLOW_GRAPH_ROOT",
    "AZURE_AUTHORITY_HOST",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_SECRET_FILE",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD_FILE",
    "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
    "AZURE_FEDERATED_TOKEN_FILE",
    "PROVFLOW_CREDENTIALS_FILE",
    "PROVFLOW_CA_FILE",
    "PROVFLOW_ALLOW_HTTP",
    "PROVFLOW_HTTP_TIMEOUT_MS",
    "PROVFLOW_CONNECT_TIMEOUT_MS",
    "PROVFLOW_MAX_IN_FLIGHT",
    "PROVFLOW_SECRETS_DIR",
    "PROVFLOW_SETTLE_MS",
};

/* dir/name holding text; its path into path. */
static void put_file(const env *e, const char *name, const char *text,
                     char *path, size_t n)
{
    FILE *f;

    assert_true((size_t)snprintf(path, n, "%s/%s", e->dir, name) < n);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    pf_http_config hc;
    env *e = calloc(1, sizeof(*e));
    size_t i;

    assert_non_null(e);
    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    snprintf(e->dir, sizeof(e->dir), "%s/pf-test-client.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(e->dir));
    put_file(e, "secret", "s3cr3t-value\n", e->secret, sizeof(e->secret));
    e->timers = pf_timers_new();
    assert_non_null(e->timers);
    pf_http_config_default(&hc);
    e->http = pf_http_new(&hc, e->err, sizeof(e->err));
    assert_non_null(e->http);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    static const char *const names[] = {
        "secret", "s2", "s3", "creds.json", "empty-secret",
    };
    env *e = *state;
    char path[512];
    size_t i;

    pf_http_destroy(e->http);
    pf_timers_destroy(e->timers);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", e->dir, names[i]);
        unlink(path);
    }
    assert_int_equal(rmdir(e->dir), 0);
    free(e);
    return 0;
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* pf_config_load() of `send` over a NULL-terminated argument list. */
static void load(env *e, pf_config *cfg, const char *const *args)
{
    char *argv[40];
    int argc = 0;

    argv[argc++] = (char *)"send";
    for (; *args != NULL; args++) {
        assert_true(argc < 38);
        argv[argc++] = (char *)*args;
    }
    argv[argc] = NULL;
    memset(cfg, 0, sizeof(*cfg));
    if (pf_config_load(cfg, PF_CMD_SEND, argc, argv, e->err, sizeof(e->err)) <
        0)
        fail_msg("config: %s", e->err);
}

/* A client from the arguments, or NULL with e->err. */
static pf_client *client(env *e, pf_config *cfg, const char *const *args)
{
    load(e, cfg, args);
    e->err[0] = '\0';
    return pf_client_new(cfg, e->http, e->timers, e->err, sizeof(e->err));
}

/* The default credential's arguments, with more after them. */
#define WITH_CREDENTIAL(e, ...)                                                \
    ARGS("--tenant-id", "contoso.example", "--client-id", "c1",                \
         "--client-secret-file", (e)->secret, __VA_ARGS__)

/* Without --graph-root, the cloud's hosts. */
static void cloud_sets_the_graph_root(void **state)
{
    static const struct {
        const char *cloud, *root;
    } rows[] = {
        {NULL, "https://graph.microsoft.com"},
        {"global", "https://graph.microsoft.com"},
        {"usgov", "https://graph.microsoft.us"},
        {"usgov-dod", "https://dod-graph.microsoft.us"},
        {"china", "https://microsoftgraph.chinacloudapi.cn"},
    };
    env *e = *state;
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pf_config cfg;
        pf_client *c =
            rows[i].cloud == NULL
                ? client(e, &cfg, WITH_CREDENTIAL(e, "--max-in-flight", "4"))
                : client(e, &cfg, WITH_CREDENTIAL(e, "--cloud", rows[i].cloud));

        if (c == NULL)
            fail_msg("%s: %s", rows[i].cloud, e->err);
        assert_string_equal(pf_client_transform(c)->graph_root, rows[i].root);
        assert_non_null(pf_client_graph(c));
        assert_non_null(pf_client_tokens(c));
        assert_non_null(pf_tokens_find(pf_client_tokens(c), NULL));
        /* Not ready: nothing was fetched. */
        assert_false(pf_tokens_ready(pf_client_tokens(c)));
        pf_client_destroy(c);
        pf_config_release(&cfg);
    }
    assert_non_null(pf_cloud_find("usgov"));
    assert_null(pf_cloud_find("mars"));
}

/* A cloud provflow does not know is refused, naming it. */
/* Refused as the settings load (config.c's table lists the clouds). */
static void unknown_cloud_is_refused(void **state)
{
    env *e = *state;
    pf_config cfg;
    char *argv[] = {(char *)"send", (char *)"--cloud", (char *)"mars", NULL};

    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(
        pf_config_load(&cfg, PF_CMD_SEND, 3, argv, e->err, sizeof(e->err)), -1);
    assert_non_null(strstr(e->err, "cloud"));
    assert_non_null(strstr(e->err, "mars"));
}

/* --graph-root wins over the cloud's, its trailing slashes trimmed. */
static void graph_root_is_given_and_trimmed(void **state)
{
    static const char *const given[] = {
        "https://graph.example.test",
        "https://graph.example.test/",
        "https://graph.example.test///",
    };
    env *e = *state;
    size_t i;

    for (i = 0; i < sizeof(given) / sizeof(given[0]); i++) {
        pf_config cfg;
        pf_client *c = client(
            e, &cfg,
            WITH_CREDENTIAL(e, "--cloud", "china", "--graph-root", given[i]));

        if (c == NULL)
            fail_msg("%s: %s", given[i], e->err);
        assert_string_equal(pf_client_transform(c)->graph_root,
                            "https://graph.example.test");
        pf_client_destroy(c);
        pf_config_release(&cfg);
    }
}

/* Plain http only with --allow-http; a bad URL names its setting. */
static void plain_http_and_bad_roots_are_refused(void **state)
{
    env *e = *state;
    pf_config cfg;
    pf_client *c;

    c = client(e, &cfg,
               WITH_CREDENTIAL(e, "--graph-root", "http://127.0.0.1:9"));
    assert_null(c);
    assert_non_null(strstr(e->err, "graph-root"));
    assert_non_null(strstr(e->err, "allow-http"));
    pf_config_release(&cfg);

    c = client(e, &cfg,
               WITH_CREDENTIAL(e, "--authority-host", "http://127.0.0.1:9"));
    assert_null(c);
    assert_non_null(strstr(e->err, "authority-host"));
    pf_config_release(&cfg);

    c = client(e, &cfg,
               WITH_CREDENTIAL(e, "--graph-root", "http://127.0.0.1:9/",
                               "--allow-http"));
    if (c == NULL)
        fail_msg("%s", e->err);
    assert_string_equal(pf_client_transform(c)->graph_root,
                        "http://127.0.0.1:9");
    pf_client_destroy(c);
    pf_config_release(&cfg);

    c = client(e, &cfg,
               WITH_CREDENTIAL(e, "--graph-root", "ftp://graph.example"));
    assert_null(c);
    assert_non_null(strstr(e->err, "graph-root"));
    pf_config_release(&cfg);

    c = client(e, &cfg,
               WITH_CREDENTIAL(e, "--graph-root", "https://graph.example?x=1"));
    assert_null(c);
    assert_non_null(strstr(e->err, "graph-root"));
    pf_config_release(&cfg);
}

/* No credential: refused, naming what to set; a dry run needs none. */
static void credential_is_needed_except_in_a_dry_run(void **state)
{
    env *e = *state;
    pf_config cfg;
    pf_client *c;

    c = client(e, &cfg,
               ARGS("--tenant-id", "contoso.example", "--client-id", "c1"));
    assert_null(c);
    assert_non_null(strstr(e->err, "AZURE_CLIENT_SECRET"));
    pf_config_release(&cfg);

    c = client(e, &cfg, ARGS("--max-in-flight", "2"));
    assert_null(c);
    assert_non_null(strstr(e->err, "AZURE_CLIENT_SECRET"));
    pf_config_release(&cfg);

    /* A secret without the tenant and client ids. */
    c = client(e, &cfg, ARGS("--client-secret-file", e->secret));
    assert_null(c);
    assert_non_null(strstr(e->err, "tenant-id"));
    assert_null(strstr(e->err, "s3cr3t-value"));
    pf_config_release(&cfg);

    /* `run --dry-run`: no credential at all. */
    load(e, &cfg, ARGS("--max-in-flight", "2"));
    cfg.dry_run = true;
    c = pf_client_new(&cfg, e->http, e->timers, e->err, sizeof(e->err));
    if (c == NULL)
        fail_msg("%s", e->err);
    assert_null(pf_tokens_find(pf_client_tokens(c), NULL));
    assert_null(pf_tokens_find(pf_client_tokens(c), "contoso.example"));
    pf_client_destroy(c);
    pf_config_release(&cfg);

    /* A dry run with a credential keeps it (it names the tenants). */
    load(e, &cfg, WITH_CREDENTIAL(e, "--max-in-flight", "2"));
    cfg.dry_run = true;
    c = pf_client_new(&cfg, e->http, e->timers, e->err, sizeof(e->err));
    if (c == NULL)
        fail_msg("%s", e->err);
    assert_non_null(pf_tokens_find(pf_client_tokens(c), "contoso.example"));
    pf_client_destroy(c);
    pf_config_release(&cfg);
}

/* credentials-file adds tenants to the default one. */
static void credentials_file_adds_tenants(void **state)
{
    env *e = *state;
    char s2[300], s3[300], creds[300], json[2048];
    pf_token_source *def, *fab, *north;
    pf_config cfg;
    pf_client *c;
    pf_tokens *t;

    put_file(e, "s2", "second-secret\r\n", s2, sizeof(s2));
    put_file(e, "s3", "third-secret", s3, sizeof(s3));
    snprintf(json, sizeof(json),
             "[{\"tenantId\": \"fabrikam.example\", \"clientId\": \"c2\", "
             "\"clientSecretFile\": \"%s\"},\n"
             " {\"tenantId\": \"northwind.example\", \"clientId\": \"c3\", "
             "\"clientSecretFile\": \"%s\"}]\n",
             s2, s3);
    put_file(e, "creds.json", json, creds, sizeof(creds));

    c = client(e, &cfg, WITH_CREDENTIAL(e, "--credentials-file", creds));
    if (c == NULL)
        fail_msg("%s", e->err);
    t = pf_client_tokens(c);
    def = pf_tokens_find(t, "contoso.example");
    fab = pf_tokens_find(t, "fabrikam.example");
    north = pf_tokens_find(t, "NORTHWIND.example");
    assert_non_null(def);
    assert_non_null(fab);
    assert_non_null(north);
    assert_true(def != fab && fab != north && def != north);
    assert_ptr_equal(pf_tokens_find(t, NULL), def); /* the default */
    assert_null(pf_tokens_find(t, "unknown.example"));
    pf_client_destroy(c);
    pf_config_release(&cfg);

    /* A dry run: the file's tenants alone. */
    load(e, &cfg, ARGS("--credentials-file", creds));
    cfg.dry_run = true;
    c = pf_client_new(&cfg, e->http, e->timers, e->err, sizeof(e->err));
    if (c == NULL)
        fail_msg("%s", e->err);
    t = pf_client_tokens(c);
    fab = pf_tokens_find(t, "fabrikam.example");
    north = pf_tokens_find(t, "northwind.example");
    assert_non_null(fab);
    assert_non_null(north);
    assert_true(fab != north);
    assert_null(pf_tokens_find(t, "contoso.example"));
    pf_client_destroy(c);
    pf_config_release(&cfg);
}

/* tmpl with "@S" replaced by s and "@E" by empty, into out (n bytes). */
static void fill(char *out, size_t n, const char *tmpl, const char *s,
                 const char *empty)
{
    size_t len = 0;

    for (; *tmpl != '\0'; tmpl++) {
        const char *put = NULL;
        size_t k;

        if (tmpl[0] == '@' && (tmpl[1] == 'S' || tmpl[1] == 'E'))
            put = *++tmpl == 'S' ? s : empty;
        k = put != NULL ? strlen(put) : 1;
        assert_true(len + k < n);
        memcpy(out + len, put != NULL ? put : tmpl, k);
        len += k;
    }
    out[len] = '\0';
}

/* A bad credentials-file is refused, naming the file and the entry. */
static void bad_credentials_file_names_file_and_index(void **state)
{
    static const struct {
        const char *what, *json; /* @S: a secret file, @E: an empty one */
        const char *index;       /* "[i]" expected, or NULL */
        const char *also;        /* more text expected, or NULL */
    } rows[] = {
        {"malformed JSON", "[{\"tenantId\": ", NULL, NULL},
        {"not an array", "{\"tenantId\": \"x\"}", NULL, "array"},
        {"duplicate keys", "[{\"tenantId\": \"a\", \"tenantId\": \"b\"}]", NULL,
         NULL},
        {"unreadable clientSecretFile",
         "[{\"tenantId\": \"fabrikam.example\", \"clientId\": \"c2\", "
         "\"clientSecretFile\": \"@S\"}, "
         "{\"tenantId\": \"northwind.example\", \"clientId\": \"c3\", "
         "\"clientSecretFile\": \"/nonexistent/pf-test/secret\"}]",
         "[1]", "/nonexistent/pf-test/secret"},
        {"empty clientSecretFile",
         "[{\"tenantId\": \"fabrikam.example\", \"clientId\": \"c2\", "
         "\"clientSecretFile\": \"@E\"}]",
         "[0]", "empty"},
        {"no tenantId",
         "[{\"clientId\": \"c2\", \"clientSecretFile\": \"@S\"}]", "[0]", NULL},
        {"tenant twice",
         "[{\"tenantId\": \"Contoso.example\", \"clientId\": \"c2\", "
         "\"clientSecretFile\": \"@S\"}]",
         "[0]", "twice"},
        /* One credential per entry: two are refused, naming both. */
        {"secret and certificate",
         "[{\"tenantId\": \"fabrikam.example\", \"clientId\": \"c2\", "
         "\"clientSecretFile\": \"@S\", \"certificatePath\": \"/c.pfx\"}]",
         "[0]", "clientSecretFile and certificatePath are both set"},
        {"certificate and federated token",
         "[{\"tenantId\": \"fabrikam.example\", \"clientId\": \"c2\", "
         "\"certificatePath\": \"/c.pfx\", "
         "\"federatedTokenFile\": \"/t\"}]",
         "[0]", "certificatePath and federatedTokenFile are both set"},
        {"password without certificate",
         "[{\"tenantId\": \"fabrikam.example\", \"clientId\": \"c2\", "
         "\"clientSecretFile\": \"@S\", "
         "\"certificatePasswordFile\": \"@S\"}]",
         "[0]", "certificatePasswordFile without certificatePath"},
        {"no credential",
         "[{\"tenantId\": \"fabrikam.example\", \"clientId\": \"c2\"}]", "[0]",
         "no credential"},
        {"a misspelt member",
         "[{\"tenantId\": \"fabrikam.example\", \"clientId\": \"c2\", "
         "\"certificatPath\": \"/c.pfx\"}]",
         "[0]", "unknown member \"certificatPath\""},
        {"sendCertificateChain not a boolean",
         "[{\"tenantId\": \"fabrikam.example\", \"clientId\": \"c2\", "
         "\"certificatePath\": \"/c.pfx\", "
         "\"sendCertificateChain\": \"yes\"}]",
         "[0]", "sendCertificateChain"},
        {"unreadable certificate",
         "[{\"tenantId\": \"fabrikam.example\", \"clientId\": \"c2\", "
         "\"certificatePath\": \"/nonexistent/pf-test/c.pfx\"}]",
         "[0]", "/nonexistent/pf-test/c.pfx"},
    };
    env *e = *state;
    char creds[300], empty[300];
    size_t i;

    put_file(e, "empty-secret", "\n", empty, sizeof(empty));
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char json[2048];
        pf_config cfg;
        pf_client *c;

        print_message("%s\n", rows[i].what);
        fill(json, sizeof(json), rows[i].json, e->secret, empty);
        put_file(e, "creds.json", json, creds, sizeof(creds));
        c = client(e, &cfg, WITH_CREDENTIAL(e, "--credentials-file", creds));
        assert_null(c);
        assert_non_null(strstr(e->err, "credentials-file"));
        assert_non_null(strstr(e->err, creds));
        if (rows[i].index != NULL)
            assert_non_null(strstr(e->err, rows[i].index));
        if (rows[i].also != NULL)
            assert_non_null(strstr(e->err, rows[i].also));
        /* Secrets are never in an error. */
        assert_null(strstr(e->err, "s3cr3t-value"));
        pf_config_release(&cfg);
    }

    /* The file itself missing. */
    {
        char missing[300];
        pf_config cfg;
        pf_client *c;

        snprintf(missing, sizeof(missing), "%s/no-such.json", e->dir);
        c = client(e, &cfg, WITH_CREDENTIAL(e, "--credentials-file", missing));
        assert_null(c);
        assert_non_null(strstr(e->err, "credentials-file"));
        assert_non_null(strstr(e->err, missing));
        pf_config_release(&cfg);
    }
}

/* The HTTP client's settings come from the configuration. */
static void http_config_copies_timeouts_and_sizes_connections(void **state)
{
    env *e = *state;
    pf_http_config hc;
    pf_config cfg;

    load(e, &cfg,
         ARGS("--http-timeout-ms", "1234", "--connect-timeout-ms", "567",
              "--max-in-flight", "7", "--allow-http"));
    memset(&hc, 0xa5, sizeof(hc));
    pf_client_http_config(&cfg, &hc);
    assert_int_equal(hc.timeout_ms, 1234);
    assert_int_equal(hc.connect_timeout_ms, 567);
    assert_int_equal(hc.max_connections, 7 + 8);
    assert_true(hc.allow_http);
    assert_null(hc.ca_file);
    pf_config_release(&cfg);

    /* The defaults. */
    load(e, &cfg, ARGS("--ca-file", e->secret));
    pf_client_http_config(&cfg, &hc);
    assert_int_equal(hc.timeout_ms, cfg.http_timeout_ms);
    assert_int_equal(hc.connect_timeout_ms, cfg.connect_timeout_ms);
    assert_int_equal(hc.max_connections, cfg.max_in_flight + 8);
    assert_false(hc.allow_http);
    assert_string_equal(hc.ca_file, e->secret);
    pf_config_release(&cfg);

    pf_client_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(cloud_sets_the_graph_root, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(unknown_cloud_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(graph_root_is_given_and_trimmed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(plain_http_and_bad_roots_are_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            credential_is_needed_except_in_a_dry_run, setup, teardown),
        cmocka_unit_test_setup_teardown(credentials_file_adds_tenants, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            bad_credentials_file_names_file_and_index, setup, teardown),
        cmocka_unit_test_setup_teardown(
            http_config_copies_timeouts_and_sizes_connections, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
