/*
 * config.h - provflow's settings: one table, three sources.
 *
 * Every setting is a row (config.c): its flag, its environment variable,
 * its type, default and help. Values come from command-line flags, then
 * the environment, then a config file, then the default
 * (docs/configuration.md: flags > environment > file). Secrets have no flag (a
 * command line is visible to every user of the host): they come from the
 * environment, directly or as NAME_FILE naming a file that holds them
 * (also --NAME-file, or NAME-file in the config file). A secret given both
 * as a variable and as a file is refused, naming both, and so are
 * credentials that exclude each other: a client secret with a
 * certificate, a certificate password or chain without a certificate.
 *
 * The config file (--config FILE or PROVFLOW_CONFIG) has one "key = value"
 * per line, keys named like the flags; '#' starts a comment. Lines
 * "kafka.<property> = value" pass librdkafka properties through, as do
 * -X property=value flags and PROVFLOW_KAFKA_<PROPERTY> variables (with
 * '.' written '_'). The properties provflow's delivery rests on (group.id,
 * enable.auto.commit, acks, ...) are owned: passing one through is
 * refused, naming the flag to use instead (config.c's `owned` table).
 *
 * A value given as the empty string is refused for every text setting (an
 * empty --brokers is a mistake, not "the default").
 */
#ifndef PROVFLOW_CONFIG_H
#define PROVFLOW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Which subcommands a setting belongs to. */
enum {
    PF_CMD_SEND = 1 << 0,
    PF_CMD_RUN = 1 << 1,
    PF_CMD_REPLAY = 1 << 2,
};

#define PF_KAFKA_PROPS_MAX 64

/* The largest config file read, in bytes (bigger ones are refused). */
#define PF_CONFIG_FILE_MAX (1024 * 1024)

/* A librdkafka property passed through. */
typedef struct pf_kafka_prop {
    char *name, *value;
} pf_kafka_prop;

/* The values. Strings are owned (NULL when unset); see config.c's table. */
typedef struct pf_config {
    /* Graph and identity */
    char *cloud, *graph_root, *authority_host;
    char *tenant_id, *client_id, *client_secret, *certificate_path;
    /* The files the two secrets were read from (NULL: a variable, or
     * unset): the token source reads them again when they change. */
    char *client_secret_file, *certificate_password_file;
    char *certificate_password;
    bool send_certificate_chain;
    char *federated_token_file, *credentials_file, *ca_file;
    bool allow_http;
    long http_timeout_ms, connect_timeout_ms;
    long token_expiry_margin_ms, token_systemic_retry_ms;
    /* Work */
    char *secrets_dir;
    long max_in_flight, max_attempts, max_elapsed_ms;
    long retry_base_ms, max_backoff_ms, max_retry_after_ms, settle_ms;
    /* Kafka (provflow run, replay) */
    char *brokers, *group_id, *input_topic, *results_topic, *dead_letter_topic;
    char *delivery, *instance, *admin_listen, *log_level, *log_format;
    long shutdown_grace_ms, max_buffered;
    /* Bytes of input records (key + value + headers) held at once. */
    long max_buffered_bytes;
    bool dry_run;
    /* With dry_run: the topic of the "validated" outcomes; NULL: stdout. */
    char *dry_run_output;
    /* provflow replay */
    char *to_datetime, *to_offset, *partitions;
    bool to_earliest, to_latest, execute;
    pf_kafka_prop kafka[PF_KAFKA_PROPS_MAX];
    size_t kafka_count;
    /* The config file, if one was read. */
    char *config_file;
} pf_config;

/*
 * Loads the settings of `command` (one PF_CMD_*) from argv (argv[0] is the
 * subcommand's name), the environment and the config file, into cfg (which
 * the caller releases with pf_config_release()). On success returns the
 * index in argv of the first operand (like optind). Returns -1 with a
 * message naming the setting in errstr for a bad value or an unreadable
 * file (exit 78), -2 for a command-line usage error (exit 64; errstr
 * then holds the message, or is empty when getopt printed one), and -3
 * for --help (exit 0).
 */
int pf_config_load(pf_config *cfg, unsigned command, int argc, char **argv,
                   char *errstr, size_t errstr_size);

void pf_config_release(pf_config *cfg);

/*
 * pf_config_load() for a subcommand: prints usage() to stdout for --help,
 * and the error to stderr, prefixed "provflow <name>:". Returns the index
 * of the first operand, or -1 with *status the exit status (0 after --help,
 * 64 usage, 78 configuration) and cfg released.
 */
int pf_config_cli(pf_config *cfg, unsigned command, const char *name, int argc,
                  char **argv, void (*usage)(FILE *out), int *status);

/*
 * The value of setting `name` as the command line (--name V, --name=V;
 * the last one) or else its environment variable gives it, before the
 * settings are loaded and checked; NULL when neither does. For what must
 * be known before loading can fail: the log format of a configuration
 * error. Borrowed from argv or the environment.
 */
const char *pf_config_peek(int argc, char **argv, const char *name);

/*
 * This instance's name: cfg->instance, else the host name, else
 * "provflow". Written NUL-terminated into buf (n > 0), which is returned.
 * The outcome records' source and both Kafka clients' client.id use it.
 */
const char *pf_config_instance(const pf_config *cfg, char *buf, size_t n);

/* Prints the options of `command`, their variables and defaults. */
void pf_config_usage(FILE *out, unsigned command);

#endif /* PROVFLOW_CONFIG_H */
