/*
 * main.c - provflow-graphsim: parses the command line, loads the
 * configuration, starts the server, prints its base URL and waits for
 * SIGTERM or SIGINT.
 *
 * Exit codes: 0 clean stop, 64 usage, 78 bad configuration, 70 the server
 * could not start (address in use, bad TLS material).
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs_config.h"
#include "gs_jsonmem.h"
#include "gs_server.h"
#include "gs_util.h"

#define EXIT_USAGE  64
#define EXIT_CONFIG 78
#define EXIT_START  70

static void usage(FILE *out)
{
    fputs(
        "usage: provflow-graphsim [options]\n"
        "A Microsoft Graph simulator: the identity platform's token endpoint\n"
        "and the industryData provisioning-flow endpoints, with faults.\n"
        "\n"
        "  --listen HOST:PORT      address to bind (default 127.0.0.1:0, an\n"
        "                          ephemeral port); the base URL is printed\n"
        "  --port-file FILE        write the bound port to FILE once ready\n"
        "  --tls-cert FILE         serve HTTPS with this PEM certificate "
        "(chain)\n"
        "  --tls-key FILE          ... and this PEM private key\n"
        "  --config FILE           JSON configuration (tenants, clients, "
        "token,\n"
        "                          faults, rateLimit, ...); flags win over "
        "it\n"
        "  --seed N                seed faults and ids: reproducible runs\n"
        "  --implicit-flow-sets    a flow set is created by its first flow\n"
        "                          (default: an unknown flow set answers\n"
        "                          404, as Graph)\n"
        "  --explicit-flow-sets    the default: unknown flow sets are 404\n"
        "  --run-duration-ms N     an on-demand run's operation succeeds N ms\n"
        "                          after its start (default 1000)\n"
        "  --duplicates MODE       accept (default; counted) or reject (409)\n"
        "                          a second flow of one type in a set\n"
        "  --strict-casing         property names must be exact CSDL names\n"
        "                          (default: any letter case, as Graph; kept\n"
        "                          and answered in CSDL casing)\n"
        "  --threads N             worker threads (default 2)\n"
        "  --request-log N         requests kept for /_sim/requests "
        "(default 1000)\n"
        "  --max-flows N           flows stored before creates answer 507\n"
        "                          (default 1000000)\n"
        "  --page-size N           items per page of a list, then an\n"
        "                          @odata.nextLink (default 0: one page)\n"
        "  --base-url URL          advertised base URL (default from "
        "--listen)\n"
        "  --trusted-ca FILE       PEM CA certificate(s) trusted for subject\n"
        "                          name and issuer authentication (x5c); may\n"
        "                          be given more than once\n"
        "  --help, --version\n"
        "\n"
        "Without --config: tenant test-tenant, client test-client, secret\n"
        "test-secret. See tools/graphsim/README.md.\n",
        out);
}

enum {
    OPT_LISTEN = 256,
    OPT_PORT_FILE,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_CONFIG,
    OPT_SEED,
    OPT_EXPLICIT,
    OPT_IMPLICIT,
    OPT_RUN_DURATION,
    OPT_DUPLICATES,
    OPT_STRICT,
    OPT_THREADS,
    OPT_REQUEST_LOG,
    OPT_MAX_FLOWS,
    OPT_PAGE_SIZE,
    OPT_BASE_URL,
    OPT_TRUSTED_CA,
    OPT_HELP,
    OPT_VERSION
};

static const struct option options[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"port-file", required_argument, NULL, OPT_PORT_FILE},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"seed", required_argument, NULL, OPT_SEED},
    {"explicit-flow-sets", no_argument, NULL, OPT_EXPLICIT},
    {"implicit-flow-sets", no_argument, NULL, OPT_IMPLICIT},
    {"run-duration-ms", required_argument, NULL, OPT_RUN_DURATION},
    {"duplicates", required_argument, NULL, OPT_DUPLICATES},
    {"strict-casing", no_argument, NULL, OPT_STRICT},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"request-log", required_argument, NULL, OPT_REQUEST_LOG},
    {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
    {"page-size", required_argument, NULL, OPT_PAGE_SIZE},
    {"base-url", required_argument, NULL, OPT_BASE_URL},
    {"trusted-ca", required_argument, NULL, OPT_TRUSTED_CA},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0}};

static int set_string(char **dst, const char *v)
{
    char *s = strdup(v);

    if (!s)
        return -1;
    free(*dst);
    *dst = s;
    return 0;
}

static int set_long(long *dst, const char *v, long lo, long hi,
                    const char *flag)
{
    long n = gs_parse_ulong(v, hi);

    if (n < lo) {
        fprintf(stderr,
                "provflow-graphsim: %s: an integer in [%ld, %ld] expected\n",
                flag, lo, hi);
        return -1;
    }
    *dst = n;
    return 0;
}

/* Applies one flag to c; returns 0, or an exit code. */
static int apply(struct gs_config *c, int opt, const char *arg)
{
    long n;

    switch (opt) {
    case OPT_LISTEN:
        return set_string(&c->listen, arg) ? EXIT_START : 0;
    case OPT_PORT_FILE:
        return set_string(&c->port_file, arg) ? EXIT_START : 0;
    case OPT_TLS_CERT:
        return set_string(&c->tls_cert, arg) ? EXIT_START : 0;
    case OPT_TLS_KEY:
        return set_string(&c->tls_key, arg) ? EXIT_START : 0;
    case OPT_BASE_URL:
        return set_string(&c->base_url, arg) ? EXIT_START : 0;
    case OPT_TRUSTED_CA: {
        char err[300];

        if (gs_config_trust(c, arg, err, sizeof(err)) == 0)
            return 0;
        fprintf(stderr, "provflow-graphsim: --trusted-ca: %s\n", err);
        return EXIT_CONFIG;
    }
    case OPT_SEED:
        if (set_long(&n, arg, 0, LONG_MAX, "--seed"))
            return EXIT_USAGE;
        c->seeded = true;
        c->seed = (uint64_t)n;
        return 0;
    case OPT_EXPLICIT:
        c->explicit_flow_sets = true;
        return 0;
    case OPT_IMPLICIT:
        c->explicit_flow_sets = false;
        return 0;
    case OPT_RUN_DURATION:
        if (set_long(&n, arg, 0, 86400000L, "--run-duration-ms"))
            return EXIT_USAGE;
        c->runs.duration_ms = n;
        if (c->runs.not_started_ms > n)
            c->runs.not_started_ms = n;
        return 0;
    case OPT_STRICT:
        c->strict_case = true;
        return 0;
    case OPT_DUPLICATES:
        if (strcmp(arg, "accept") != 0 && strcmp(arg, "reject") != 0) {
            fprintf(stderr, "provflow-graphsim: --duplicates: accept or "
                            "reject\n");
            return EXIT_USAGE;
        }
        c->reject_duplicates = strcmp(arg, "reject") == 0;
        return 0;
    case OPT_THREADS:
        return set_long(&c->threads, arg, 1, 64, "--threads") ? EXIT_USAGE : 0;
    case OPT_REQUEST_LOG:
        return set_long(&c->request_log, arg, 1, 1000000, "--request-log")
                   ? EXIT_USAGE
                   : 0;
    case OPT_MAX_FLOWS:
        return set_long(&c->max_flows, arg, 1, 100000000, "--max-flows")
                   ? EXIT_USAGE
                   : 0;
    case OPT_PAGE_SIZE:
        return set_long(&c->page_size, arg, 0, 1000000, "--page-size")
                   ? EXIT_USAGE
                   : 0;
    default:
        return 0;
    }
}

static int write_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    FILE *f;

    /* Written aside and renamed, so a reader never sees half a number. */
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -1;
    f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%u\n", port);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

int main(int argc, char **argv)
{
    struct gs_config cfg;
    struct gs_server *srv = NULL;
    const char *config_path = NULL;
    char err[512] = "";
    sigset_t set;
    int opt, sig = 0, rc = 0, i;

    gs_jsonmem_install();
    if (gs_config_init(&cfg) != 0) {
        fprintf(stderr, "provflow-graphsim: out of memory\n");
        return EXIT_START;
    }
    /* First pass: validate flags and find --config, which they override. */
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == '?') {
            usage(stderr);
            rc = EXIT_USAGE;
            goto out;
        }
        if (opt == OPT_HELP) {
            usage(stdout);
            goto out;
        }
        if (opt == OPT_VERSION) {
            printf("provflow-graphsim %s\n", PROVFLOW_VERSION);
            goto out;
        }
        if (opt == OPT_CONFIG)
            config_path = optarg;
    }
    if (optind < argc) {
        fprintf(stderr, "provflow-graphsim: unexpected argument '%s'\n",
                argv[optind]);
        rc = EXIT_USAGE;
        goto out;
    }
    if (config_path && gs_config_load(&cfg, config_path, err, sizeof(err))) {
        fprintf(stderr, "provflow-graphsim: %s\n", err);
        rc = EXIT_CONFIG;
        goto out;
    }
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        rc = apply(&cfg, opt, optarg);
        if (rc)
            goto out;
    }

    /* Workers inherit this mask; only sigwait() below takes the signals. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    srv = gs_server_start(&cfg, err, sizeof(err));
    if (!srv) {
        fprintf(stderr, "provflow-graphsim: %s\n", err);
        rc = EXIT_START;
        goto out;
    }
    printf("%s\n", gs_server_url(srv));
    fflush(stdout);
    if (cfg.port_file && write_port_file(cfg.port_file, gs_server_port(srv))) {
        fprintf(stderr, "provflow-graphsim: cannot write %s\n", cfg.port_file);
        rc = EXIT_START;
        goto out;
    }
    for (i = 0; sig != SIGTERM && sig != SIGINT; i++) {
        if (sigwait(&set, &sig) != 0)
            break;
    }
out:
    gs_server_stop(srv);
    gs_config_release(&cfg);
    return rc;
}
