/*
 * cmd_run.c - `provflow run`: the service. Settings, signals, the
 * pipeline; everything else is in pipeline.c and its modules (run.h).
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provflow/cli.h"
#include "provflow/config.h"
#include "provflow/kafka.h"
#include "provflow/log.h"
#include "provflow/pipeline.h"

#define PF_MMAP_THRESHOLD (16 * 1024)

static pf_pipeline *running; /* for the signal handler */

static void on_signal(int sig)
{
    (void)sig;
    if (running != NULL)
        pf_pipeline_stop(running);
}

static void usage(FILE *out)
{
    fputs("Usage: provflow run [options]\n"
          "\n"
          "The service: consumes provisioning request events from Kafka,\n"
          "creates the flows in Microsoft Graph, and publishes one outcome\n"
          "record per event (and a dead letter per failure). SIGTERM or\n"
          "SIGINT drains and exits 0; a second signal exits at once.\n"
          "\n"
          "--dry-run validates and transforms each event and calls nothing\n"
          "(no Graph request, no token: no credential is needed). It commits\n"
          "offsets only in its own group, <group-id>.dry-run, never in the\n"
          "service's, and writes one \"validated\" or \"failed\" outcome line\n"
          "per event to standard output, or to --dry-run-output TOPIC. It\n"
          "never writes to the results or dead-letter topic.\n"
          "\n"
          "Options (flags > environment > config file > default):\n",
          out);
    pf_config_usage(out, PF_CMD_RUN);
    fputs("\n"
          "Exit status: 0 clean stop; 64 usage; 69 Kafka unreachable at\n"
          "start; 70 internal error; 78 bad configuration.\n"
          "See docs/configuration.md and docs/operations.md.\n",
          out);
}

/* Every secret the settings hold is registered for redaction first. */
static void register_secrets(const pf_config *cfg)
{
    size_t i;

    pf_log_secret(cfg->client_secret);
    pf_log_secret(cfg->certificate_password);
    for (i = 0; i < cfg->kafka_count; i++) {
        if (strstr(cfg->kafka[i].name, "password") != NULL ||
            strstr(cfg->kafka[i].name, "secret") != NULL)
            pf_log_secret(cfg->kafka[i].value);
    }
}

int pf_cmd_run(int argc, char **argv)
{
    struct sigaction sa;
    pf_config cfg;
    pf_pipeline *p;
    char err[512];
    int first, level, format, status;

    /*
     * One format from the first line: a configuration error is logged
     * before the settings are whole, so the format comes from the command
     * line or the environment first (a config file's is known only once
     * it loaded).
     */
    format =
        pf_log_format_parse(pf_config_peek(argc, argv, "log-format") != NULL
                                ? pf_config_peek(argc, argv, "log-format")
                                : "json");
    pf_log_set_format(format >= 0 ? (pf_log_format)format : PF_LOG_JSON);
    first = pf_config_cli(&cfg, PF_CMD_RUN, "run", argc, argv, usage, &status);
    if (first < 0)
        return status;
    /* Both are one of the table's choices (config.c), so they parse. */
    format = pf_log_format_parse(cfg.log_format);
    pf_log_set_format(format >= 0 ? (pf_log_format)format : PF_LOG_JSON);
    level = pf_log_level_parse(cfg.log_level);
    pf_log_set_level(level >= 0 ? (pf_log_level)level : PF_LOG_INFO);
    if (first < argc) {
        pf_log(PF_LOG_ERROR, NULL, "provflow run: unexpected argument %s",
               argv[first]);
        pf_config_release(&cfg);
        return PF_EXIT_USAGE;
    }
    register_secrets(&cfg);
    /* Pass-through properties librdkafka refuses stop the start here. */
    if (pf_kafka_check(&cfg, err, sizeof(err)) != 0) {
        pf_log(PF_LOG_ERROR, NULL, "configuration: %s", err);
        pf_config_release(&cfg);
        return PF_EXIT_CONFIG;
    }

    /*
     * Two malloc arenas instead of glibc's one per thread: the loop keeps
     * the main one, librdkafka's threads share the other (their fetch
     * buffers, freed by the loop, come back to one arena, not to one per
     * broker thread). MALLOC_ARENA_MAX, when set, decides instead.
     */
    if (getenv("MALLOC_ARENA_MAX") == NULL)
        mallopt(M_ARENA_MAX, 2);
    /*
     * Blocks of 16 KB and more straight from the kernel and back to it when
     * freed, not carved from an arena: librdkafka's fetch buffers (hundreds
     * at once, 20 KB on average, freed by the loop in another order than
     * they came) are the most of them. The peak at 500 ms is 4 MB lower
     * (bench/README.md); glibc's own bar starts at 128 KB and rises to the
     * largest block freed so far. MALLOC_MMAP_THRESHOLD_, when set,
     * decides instead.
     */
    if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL)
        mallopt(M_MMAP_THRESHOLD, PF_MMAP_THRESHOLD);
    p = pf_pipeline_new(&cfg, err, sizeof(err), &status);
    if (p == NULL) {
        pf_log(PF_LOG_ERROR, NULL, "%s: %s",
               status == PF_EXIT_CONFIG ? "configuration" : "start", err);
        pf_config_release(&cfg);
        return status;
    }
    running = p;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    status = pf_pipeline_run(p);

    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    running = NULL;
    pf_pipeline_destroy(p);
    pf_config_release(&cfg);
    pf_log_forget_secrets();
    return status;
}
