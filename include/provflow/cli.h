/*
 * cli.h - provflow's subcommands. main() picks one by name and returns its
 * result as the process exit status; each one parses its own options and
 * prints its own --help.
 */
#ifndef PROVFLOW_CLI_H
#define PROVFLOW_CLI_H

/*
 * Exit statuses (sysexits.h values; docs/configuration.md, "Exit
 * statuses"). The only place these numbers are written: code returns the
 * names (scripts/checksrc checks).
 */
enum {
    PF_EXIT_OK = 0,
    PF_EXIT_USAGE = 64,    /* bad command line */
    PF_EXIT_DATAERR = 65,  /* some input was invalid */
    PF_EXIT_NOINPUT = 66,  /* an input file cannot be read */
    PF_EXIT_UNAVAIL = 69,  /* a dependency is unreachable */
    PF_EXIT_SOFTWARE = 70, /* internal error */
    PF_EXIT_CONFIG = 78,   /* bad configuration */
};

/* `provflow transform`: events (NDJSON) in, Graph requests out. */
int pf_cmd_transform(int argc, char **argv);

/* `provflow send`: events (NDJSON) in, created flows, outcomes out. */
int pf_cmd_send(int argc, char **argv);

/* `provflow run`: the Kafka service. */
int pf_cmd_run(int argc, char **argv);

/* `provflow replay`: move the group's committed offsets. */
int pf_cmd_replay(int argc, char **argv);

#endif /* PROVFLOW_CLI_H */
