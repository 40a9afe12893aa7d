/*
 * main.c - the provflow binary: pick a subcommand, run it, exit with its
 * status. Everything else lives in provflow_core.
 */
#include <stdio.h>
#include <string.h>

#include "provflow/cli.h"
#include "provflow/jsonmem.h"

static const char usage[] =
    "Usage: provflow <command> [options]\n"
    "\n"
    "Creates Microsoft Graph industry-data provisioning flows from\n"
    "provisioning request events.\n"
    "\n"
    "Commands:\n"
    "  replay      move the service's offsets to replay events (dry run)\n"
    "  run         the service: Kafka in, Graph, outcomes out\n"
    "  send        events (NDJSON) in, flows created in Graph, outcomes out\n"
    "  transform   events (NDJSON) in, Graph requests out; no network\n"
    "  version     print the version\n"
    "\n"
    "Run 'provflow <command> --help' for a command's options.\n";

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"replay", pf_cmd_replay},
    {"run", pf_cmd_run},
    {"transform", pf_cmd_transform},
    {"send", pf_cmd_send},
};

int main(int argc, char **argv)
{
    size_t i;

    pf_jsonmem_install(); /* before the first JSON value */
    if (argc < 2) {
        fputs(usage, stderr);
        return PF_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, stdout);
        return PF_EXIT_OK;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("provflow %s\n", PROVFLOW_VERSION);
        return PF_EXIT_OK;
    }
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "provflow: unknown command '%s'\n\n%s", argv[1], usage);
    return PF_EXIT_USAGE;
}
