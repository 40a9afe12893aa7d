/*
 * config.c - the settings table and its three sources (config.h).
 */
#include "provflow/config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "provflow/cli.h"
#include "provflow/fileio.h"
#include "provflow/graph.h"
#include "provflow/http.h"
#include "provflow/log.h"
#include "provflow/retry.h"
#include "provflow/secrets.h"
#include "provflow/token.h"

extern char **environ;

/*
 * CHOICE: a text setting whose values the row lists; a value is matched
 * without regard to case and stored as the row spells it, so later code
 * compares it with strcmp().
 */
typedef enum kind { STR, INT, BOOL, CHOICE } kind;

enum {
    SECRET = 1 << 0, /* no value flag: --NAME-file, ENV, ENV_FILE */
};

#define GRAPH     (PF_CMD_SEND | PF_CMD_RUN)
#define KAFKA     (PF_CMD_RUN | PF_CMD_REPLAY)
#define AT(field) offsetof(pf_config, field)
/*
 * A default that a module's header defines (PF_*_DEFAULT, a plain
 * number), as the table's text: each default is written once.
 */
#define TEXT(x) #x
#define DEF(x)  TEXT(x)

typedef struct setting {
    const char *name; /* long flag and config-file key */
    const char *env;
    kind kind;
    unsigned flags, commands;
    size_t offset;
    const char *def; /* default, as text; NULL: unset */
    long min, max;   /* INT */
    const char *arg, *help;
    const char *const *choices; /* CHOICE: the values, NULL-terminated */
} setting;

static const char *const clouds[] = {"global", "usgov", "usgov-dod", "china",
                                     NULL};
static const char *const deliveries[] = {"at-least-once", "exactly-once", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error",
                                         NULL};
static const char *const log_formats[] = {"json", "text", NULL};

/* clang-format off */
static const setting settings[] = {
    {"cloud", "PROVFLOW_CLOUD", CHOICE, 0, GRAPH, AT(cloud), "global", 0, 0,
     "NAME", "national cloud; sets the authority host, Graph root and token "
     "scope", clouds},
    {"graph-root", "PROVFLOW_GRAPH_ROOT", STR, 0, GRAPH, AT(graph_root), NULL,
     0, 0, "URL", "Graph root URL (default: the cloud's)", NULL},
    {"authority-host", "AZURE_AUTHORITY_HOST", STR, 0, GRAPH,
     AT(authority_host), NULL, 0, 0, "URL",
     "token authority URL (default: the cloud's)", NULL},
    {"tenant-id", "AZURE_TENANT_ID", STR, 0, GRAPH, AT(tenant_id), NULL, 0, 0,
     "ID", "Entra tenant of the default credential", NULL},
    {"client-id", "AZURE_CLIENT_ID", STR, 0, GRAPH, AT(client_id), NULL, 0, 0,
     "ID", "application (client) id", NULL},
    {"client-secret", "AZURE_CLIENT_SECRET", STR, SECRET, GRAPH,
     AT(client_secret), NULL, 0, 0, "FILE",
     "client secret, read from FILE (or the variable); FILE is read again "
     "when it changes", NULL},
    {"client-certificate-path", "AZURE_CLIENT_CERTIFICATE_PATH", STR, 0, GRAPH,
     AT(certificate_path), NULL, 0, 0, "FILE",
     "certificate and key for a JWT client assertion: PEM or PKCS #12 "
     "(.pfx), told by content; read again when it changes", NULL},
    {"client-certificate-password", "AZURE_CLIENT_CERTIFICATE_PASSWORD", STR,
     SECRET, GRAPH, AT(certificate_password), NULL, 0, 0, "FILE",
     "password of the certificate file (PKCS #12, or an encrypted PEM "
     "key), read from FILE (or the variable)", NULL},
    {"client-send-certificate-chain", "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
     BOOL, 0, GRAPH, AT(send_certificate_chain), "false", 0, 0, NULL,
     "send the certificate and its chain (x5c) in the assertion, for "
     "subject name and issuer authentication", NULL},
    {"federated-token-file", "AZURE_FEDERATED_TOKEN_FILE", STR, 0, GRAPH,
     AT(federated_token_file), NULL, 0, 0, "FILE",
     "federated token (workload identity), re-read for every token", NULL},
    {"credentials-file", "PROVFLOW_CREDENTIALS_FILE", STR, 0, GRAPH,
     AT(credentials_file), NULL, 0, 0, "FILE",
     "JSON list of further tenants' credentials (docs/configuration.md)", NULL},
    {"ca-file", "PROVFLOW_CA_FILE", STR, 0, GRAPH, AT(ca_file), NULL, 0, 0,
     "PEM", "extra CA certificate to trust, added to the system's", NULL},
    {"allow-http", "PROVFLOW_ALLOW_HTTP", BOOL, 0, GRAPH, AT(allow_http),
     "false", 0, 0, NULL, "permit plain http:// Graph and authority URLs",
     NULL},
    {"http-timeout-ms", "PROVFLOW_HTTP_TIMEOUT_MS", INT, 0, GRAPH,
     AT(http_timeout_ms), DEF(PF_HTTP_TIMEOUT_MS_DEFAULT), 100, 600000, "MS",
     "whole-request timeout", NULL},
    {"connect-timeout-ms", "PROVFLOW_CONNECT_TIMEOUT_MS", INT, 0, GRAPH,
     AT(connect_timeout_ms), DEF(PF_HTTP_CONNECT_TIMEOUT_MS_DEFAULT), 100,
     600000, "MS", "connect timeout", NULL},
    {"token-expiry-margin-ms", "PROVFLOW_TOKEN_EXPIRY_MARGIN_MS", INT, 0,
     GRAPH, AT(token_expiry_margin_ms), DEF(PF_TOKEN_EXPIRY_MARGIN_MS_DEFAULT),
     0, 3600000, "MS",
     "a token with less left is not used (capped at a quarter of its life)",
     NULL},
    {"token-systemic-retry-ms", "PROVFLOW_TOKEN_SYSTEMIC_RETRY_MS", INT, 0,
     GRAPH, AT(token_systemic_retry_ms),
     DEF(PF_TOKEN_SYSTEMIC_RETRY_MS_DEFAULT), 100, 3600000, "MS",
     "retry interval after invalid_client and similar token errors", NULL},
    {"secrets-dir", "PROVFLOW_SECRETS_DIR", STR, 0, GRAPH | PF_CMD_RUN,
     AT(secrets_dir), NULL, 0, 0, "DIR",
     "directory of named secrets for \"defaultPasswordSecret\"", NULL},
    {"max-in-flight", "PROVFLOW_MAX_IN_FLIGHT", INT, 0, GRAPH,
     AT(max_in_flight), DEF(PF_GRAPH_MAX_IN_FLIGHT_DEFAULT), 1, 4096, "N",
     "ceiling of Graph requests at once; each tenant's limit adapts below it",
     NULL},
    {"max-attempts", "PROVFLOW_MAX_ATTEMPTS", INT, 0, GRAPH, AT(max_attempts),
     DEF(PF_RETRY_MAX_ATTEMPTS_DEFAULT), 1, 1000, "N",
     "tries per event, the first included", NULL},
    {"max-elapsed-ms", "PROVFLOW_MAX_ELAPSED_MS", INT, 0, GRAPH,
     AT(max_elapsed_ms), DEF(PF_RETRY_MAX_ELAPSED_MS_DEFAULT), 0, 86400000,
     "MS",
     "no retry starts later than this after the first try", NULL},
    {"retry-base-ms", "PROVFLOW_RETRY_BASE_MS", INT, 0, GRAPH,
     AT(retry_base_ms), DEF(PF_RETRY_BASE_DELAY_MS_DEFAULT), 1, 600000, "MS",
     "first backoff window (doubles per try, full jitter)", NULL},
    {"max-backoff-ms", "PROVFLOW_MAX_BACKOFF_MS", INT, 0, GRAPH,
     AT(max_backoff_ms), DEF(PF_RETRY_MAX_BACKOFF_MS_DEFAULT), 1, 3600000,
     "MS", "largest backoff window", NULL},
    {"max-retry-after-ms", "PROVFLOW_MAX_RETRY_AFTER_MS", INT, 0, GRAPH,
     AT(max_retry_after_ms), DEF(PF_RETRY_MAX_RETRY_AFTER_MS_DEFAULT), 0,
     3600000, "MS",
     "cap on a server's Retry-After", NULL},
    {"settle-ms", "PROVFLOW_SETTLE_MS", INT, 0, GRAPH, AT(settle_ms),
     DEF(PF_GRAPH_SETTLE_MS_DEFAULT), 0, 3600000, "MS",
     "after a create that may have reached Graph unanswered, no new create "
     "for the set's flow type within this time (Graph may still apply it)",
     NULL},
    {"brokers", "PROVFLOW_BROKERS", STR, 0, KAFKA, AT(brokers),
     "127.0.0.1:9092", 0, 0, "LIST", "Kafka bootstrap servers", NULL},
    {"group-id", "PROVFLOW_GROUP_ID", STR, 0, KAFKA, AT(group_id), "provflow",
     0, 0, "ID", "consumer group", NULL},
    {"input-topic", "PROVFLOW_INPUT_TOPIC", STR, 0, KAFKA, AT(input_topic),
     "provisioning-requests", 0, 0, "TOPIC", "topic of request events", NULL},
    {"results-topic", "PROVFLOW_RESULTS_TOPIC", STR, 0, KAFKA,
     AT(results_topic), "provisioning-results", 0, 0, "TOPIC",
     "topic of outcome records", NULL},
    {"dead-letter-topic", "PROVFLOW_DEAD_LETTER_TOPIC", STR, 0, KAFKA,
     AT(dead_letter_topic), "provisioning-dead-letters", 0, 0, "TOPIC",
     "topic of failed requests' original records", NULL},
    {"delivery", "PROVFLOW_DELIVERY", CHOICE, 0, PF_CMD_RUN, AT(delivery),
     "at-least-once", 0, 0, "MODE", "how outcomes and input offsets are "
     "committed (docs/design.md)", deliveries},
    {"instance", "PROVFLOW_INSTANCE", STR, 0, PF_CMD_RUN, AT(instance), NULL,
     0, 0, "NAME", "this instance's name in outcome records (default: "
     "the host name)", NULL},
    {"admin-listen", "PROVFLOW_ADMIN_LISTEN", STR, 0, PF_CMD_RUN,
     AT(admin_listen), "0.0.0.0:8080", 0, 0, "ADDR:PORT",
     "health and metrics endpoint", NULL},
    {"log-level", "PROVFLOW_LOG_LEVEL", CHOICE, 0, PF_CMD_RUN | PF_CMD_SEND,
     AT(log_level), "info", 0, 0, "LEVEL", "entries below it are dropped",
     log_levels},
    {"log-format", "PROVFLOW_LOG_FORMAT", CHOICE, 0, PF_CMD_RUN | PF_CMD_SEND,
     AT(log_format), "json", 0, 0, "FORMAT", "log lines as JSON or as logfmt "
     "text, from the first line to the last", log_formats},
    {"shutdown-grace-ms", "PROVFLOW_SHUTDOWN_GRACE_MS", INT, 0, PF_CMD_RUN,
     AT(shutdown_grace_ms), "30000", 0, 3600000, "MS",
     "time to finish in-flight work after SIGTERM", NULL},
    {"max-buffered", "PROVFLOW_MAX_BUFFERED", INT, 0, PF_CMD_RUN,
     AT(max_buffered), "10000", 1, 1000000, "N",
     "records held in memory before provflow stops taking more", NULL},
    {"max-buffered-bytes", "PROVFLOW_MAX_BUFFERED_BYTES", INT, 0, PF_CMD_RUN,
     AT(max_buffered_bytes), "33554432", 1048576, 17179869184L, "N",
     "bytes held for input records (key, value, headers, and a valid "
     "event's request: twice its value) before provflow stops taking more",
     NULL},
    {"dry-run", "PROVFLOW_DRY_RUN", BOOL, 0, PF_CMD_RUN, AT(dry_run), "false",
     0, 0, NULL, "validate only and write \"validated\" outcome lines; call "
     "nothing, need no credential, commit only in group <group-id>.dry-run",
     NULL},
    {"dry-run-output", "PROVFLOW_DRY_RUN_OUTPUT", STR, 0, PF_CMD_RUN,
     AT(dry_run_output), NULL, 0, 0, "TOPIC",
     "with --dry-run, write the outcomes to TOPIC (default: standard "
     "output); never the results or dead-letter topic", NULL},
    {"to-datetime", NULL, STR, 0, PF_CMD_REPLAY, AT(to_datetime), NULL, 0, 0,
     "TIME", "move to the first record at or after TIME (RFC 3339, e.g. "
     "2026-11-01T00:00:00Z)", NULL},
    {"to-offset", NULL, STR, 0, PF_CMD_REPLAY, AT(to_offset), NULL, 0, 0, "N",
     "move to offset N (clamped to what the partition holds)", NULL},
    {"to-earliest", NULL, BOOL, 0, PF_CMD_REPLAY, AT(to_earliest), "false", 0,
     0, NULL, "move to the earliest offset held", NULL},
    {"to-latest", NULL, BOOL, 0, PF_CMD_REPLAY, AT(to_latest), "false", 0, 0,
     NULL, "move to the end (skip everything not yet processed)", NULL},
    {"partitions", NULL, STR, 0, PF_CMD_REPLAY, AT(partitions), NULL, 0, 0,
     "LIST", "only these partitions, e.g. 0,3,7 (default: all)", NULL},
    {"execute", NULL, BOOL, 0, PF_CMD_REPLAY, AT(execute), "false", 0, 0,
     NULL, "apply the move (default: dry run, print it only)", NULL},
};

/*
 * The librdkafka properties provflow owns: the delivery argument
 * (docs/design.md) rests on them, so -X, PROVFLOW_KAFKA_* and "kafka."
 * lines may not set them. A row names the flag that sets the value, or
 * says why it is fixed. Aliases are rows of their own.
 */
static const struct owned {
    const char *property, *flag, *why;
} owned[] = {
    {"bootstrap.servers", "--brokers", NULL},
    {"metadata.broker.list", "--brokers", NULL},
    {"group.id", "--group-id", NULL},
    {"client.id", "--instance", NULL},
    {"transactional.id", "--delivery exactly-once", NULL},
    {"enable.idempotence", NULL, "outcomes and dead letters are produced "
     "idempotently (no duplicate, no reordering on retry)"},
    {"acks", NULL, "an outcome counts as delivered only once all in-sync "
     "replicas hold it (acks=all)"},
    {"request.required.acks", NULL, "an outcome counts as delivered only "
     "once all in-sync replicas hold it (acks=all)"},
    {"max.in.flight.requests.per.connection", NULL, "the idempotent "
     "producer keeps order with at most 5 requests in flight (librdkafka "
     "sets it)"},
    {"max.in.flight", NULL, "the idempotent producer keeps order with at "
     "most 5 requests in flight (librdkafka sets it)"},
    {"retries", NULL, "the producer retries until message.timeout.ms; "
     "the idempotent producer needs it"},
    {"message.send.max.retries", NULL, "the producer retries until "
     "message.timeout.ms; the idempotent producer needs it"},
    {"queuing.strategy", NULL, "records are produced in order (fifo)"},
    {"enable.auto.commit", NULL, "an input offset is committed only once "
     "its outcome is acknowledged"},
    {"auto.commit.enable", NULL, "an input offset is committed only once "
     "its outcome is acknowledged"},
    {"enable.auto.offset.store", NULL, "an input offset is committed only "
     "once its outcome is acknowledged"},
    {"offset.store.method", NULL, "offsets and their metadata are committed "
     "to the group's coordinator"},
    {"auto.offset.reset", NULL, "a new group starts at the earliest record "
     "so that none is lost; move a group with provflow replay"},
    {"isolation.level", NULL, "aborted transactional records are never "
     "processed (read_committed)"},
    {"partition.assignment.strategy", NULL, "a rebalance revokes every "
     "partition and commits before the group re-forms (range: librdkafka "
     "2.0.2 loses a cooperative assignment on a refused commit)"},
};
/* clang-format on */

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))
#define OPT_BASE  256

/* A value and where it came from, for messages. */
typedef struct source {
    const char *value;
    const char *from; /* "--x", "$X", "file:line" */
    bool is_path;     /* a secret given as a file to read */
} source;

static int failf(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int failf(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
    return -1;
}

/*
 * A secret given as a file (--NAME-file): read whole through fileio.h (a
 * FIFO or a device is refused at once, a file over PF_SECRET_MAX is
 * refused, not cut), trailing CR and LF dropped. The buffer is the value.
 */
static char *read_secret_file(const char *path, char *errstr,
                              size_t errstr_size)
{
    char what[220], *data;
    size_t len;

    snprintf(what, sizeof(what), "file %.200s", path);
    if (pf_file_read(path, what, PF_SECRET_MAX, &data, &len, errstr,
                     errstr_size) != PF_FILE_OK)
        return NULL;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        data[--len] = '\0';
    if (len == 0) {
        pf_file_free(data, 0);
        failf(errstr, errstr_size, "%s is empty", what);
        return NULL;
    }
    return data;
}

/* A CHOICE row's values as "a, b or c", for messages and --help. */
static void choices_text(const setting *s, char *out, size_t size)
{
    size_t used = 0, i;
    int n;

    out[0] = '\0';
    for (i = 0; s->choices[i] != NULL; i++) {
        n = snprintf(out + used, size - used, "%s%s",
                     i == 0                      ? ""
                     : s->choices[i + 1] == NULL ? " or "
                                                 : ", ",
                     s->choices[i]);
        if (n < 0 || (size_t)n >= size - used)
            return; /* cut: the table's lists are short */
        used += (size_t)n;
    }
}

/*
 * Where a SECRET row read from a file keeps the file's path, for the token
 * source to read it again when it changes (token.h).
 */
static const struct secret_file {
    size_t value, file;
} secret_files[] = {
    {AT(client_secret), AT(client_secret_file)},
    {AT(certificate_password), AT(certificate_password_file)},
};

/* A SECRET row's file path (NULL: none), replacing the one before. */
static int set_file(pf_config *cfg, const setting *s, const char *path)
{
    char **field = NULL, *copy = NULL;
    size_t i;

    for (i = 0; i < sizeof(secret_files) / sizeof(secret_files[0]); i++) {
        if (secret_files[i].value == s->offset)
            field = (char **)((char *)cfg + secret_files[i].file);
    }
    if (field == NULL)
        return 0;
    if (path != NULL && (copy = strdup(path)) == NULL)
        return -1;
    free(*field);
    *field = copy;
    return 0;
}

static int set_value(pf_config *cfg, const setting *s, const source *src,
                     char *errstr, size_t errstr_size)
{
    void *field = (char *)cfg + s->offset;
    char why[256];
    char *end;
    long v;

    switch (s->kind) {
    case STR: {
        char *copy;
        const char *c = src->value;

        while (isspace((unsigned char)*c))
            c++;
        if (*c == '\0')
            return failf(errstr, errstr_size, "%s (%s): the value is empty",
                         s->name, src->from);
        if (src->is_path) {
            copy = read_secret_file(src->value, why, sizeof(why));
            if (copy == NULL)
                return failf(errstr, errstr_size, "%s (%s): %s", s->name,
                             src->from, why);
            if (set_file(cfg, s, src->value) != 0) {
                explicit_bzero(copy, strlen(copy));
                free(copy);
                return failf(errstr, errstr_size, "out of memory");
            }
        } else {
            copy = strdup(src->value);
            if (copy == NULL)
                return failf(errstr, errstr_size, "out of memory");
        }
        if (*(char **)field != NULL) {
            explicit_bzero(*(char **)field, strlen(*(char **)field));
            free(*(char **)field);
        }
        *(char **)field = copy;
        return 0;
    }
    case INT:
        errno = 0;
        v = strtol(src->value, &end, 10);
        if (errno != 0 || end == src->value || *end != '\0' || v < s->min ||
            v > s->max)
            return failf(errstr, errstr_size,
                         "%s (%s): \"%.32s\" is not a whole number in "
                         "%ld..%ld",
                         s->name, src->from, src->value, s->min, s->max);
        *(long *)field = v;
        return 0;
    case CHOICE: {
        const char *const *c;
        char list[160], *copy;

        for (c = s->choices; *c != NULL; c++) {
            if (strcasecmp(src->value, *c) != 0)
                continue;
            copy = strdup(*c); /* the row's spelling */
            if (copy == NULL)
                return failf(errstr, errstr_size, "out of memory");
            free(*(char **)field);
            *(char **)field = copy;
            return 0;
        }
        choices_text(s, list, sizeof(list));
        return failf(errstr, errstr_size, "%s (%s): \"%.32s\" is not one of %s",
                     s->name, src->from, src->value, list);
    }
    case BOOL:
        if (!strcasecmp(src->value, "true") || !strcmp(src->value, "1") ||
            !strcasecmp(src->value, "yes") || !strcasecmp(src->value, "on"))
            *(bool *)field = true;
        else if (!strcasecmp(src->value, "false") || !strcmp(src->value, "0") ||
                 !strcasecmp(src->value, "no") ||
                 !strcasecmp(src->value, "off"))
            *(bool *)field = false;
        else
            return failf(errstr, errstr_size,
                         "%s (%s): \"%.32s\" is not true or false", s->name,
                         src->from, src->value);
        return 0;
    }
    return -1;
}

/* Refuses a property provflow owns, naming where it came from. */
static int check_owned(const char *name, size_t name_len, const char *from,
                       char *errstr, size_t errstr_size)
{
    size_t i;

    for (i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
        const struct owned *o = &owned[i];

        if (strlen(o->property) != name_len ||
            strncmp(o->property, name, name_len) != 0)
            continue;
        if (o->flag != NULL)
            return failf(errstr, errstr_size,
                         "Kafka property %s (%s): set by provflow; use %s",
                         o->property, from, o->flag);
        return failf(errstr, errstr_size,
                     "Kafka property %s (%s): owned by provflow: %s",
                     o->property, from, o->why);
    }
    return 0;
}

/* Adds or replaces a librdkafka property. */
static int kafka_prop(pf_config *cfg, const char *name, size_t name_len,
                      const char *value, const char *from, char *errstr,
                      size_t errstr_size)
{
    size_t i;
    char *k, *v;

    if (check_owned(name, name_len, from, errstr, errstr_size) != 0)
        return -1;
    for (i = 0; i < cfg->kafka_count; i++) {
        if (strlen(cfg->kafka[i].name) == name_len &&
            strncmp(cfg->kafka[i].name, name, name_len) == 0)
            break;
    }
    if (i == PF_KAFKA_PROPS_MAX)
        return failf(errstr, errstr_size, "more than %d Kafka properties",
                     PF_KAFKA_PROPS_MAX);
    k = strndup(name, name_len);
    v = strdup(value);
    if (k == NULL || v == NULL || name_len == 0) {
        free(k);
        free(v);
        return failf(errstr, errstr_size, "bad Kafka property \"%.64s\"", name);
    }
    if (i == cfg->kafka_count) {
        cfg->kafka_count++;
    } else {
        free(cfg->kafka[i].name);
        free(cfg->kafka[i].value);
    }
    cfg->kafka[i].name = k;
    cfg->kafka[i].value = v;
    return 0;
}

/* "name=value" from -X. */
static int kafka_flag(pf_config *cfg, const char *arg, char *errstr,
                      size_t errstr_size)
{
    const char *eq = strchr(arg, '=');

    if (eq == NULL)
        return failf(errstr, errstr_size, "-X %.64s: expected property=value",
                     arg);
    return kafka_prop(cfg, arg, (size_t)(eq - arg), eq + 1, "-X", errstr,
                      errstr_size);
}

/* PROVFLOW_KAFKA_<PROPERTY>: lower case, '_' for '.'. */
static int kafka_env(pf_config *cfg, char *errstr, size_t errstr_size)
{
    static const char prefix[] = "PROVFLOW_KAFKA_";
    char **e;

    for (e = environ; *e != NULL; e++) {
        char name[128], from[160];
        const char *eq = strchr(*e, '=');
        size_t i, len;

        if (strncmp(*e, prefix, sizeof(prefix) - 1) != 0 || eq == NULL)
            continue;
        len = (size_t)(eq - *e) - (sizeof(prefix) - 1);
        if (len == 0 || len >= sizeof(name))
            continue;
        for (i = 0; i < len; i++) {
            char c = (*e)[sizeof(prefix) - 1 + i];

            name[i] = c == '_' ? '.' : (char)tolower((unsigned char)c);
        }
        snprintf(from, sizeof(from), "%.*s", (int)(eq - *e), *e);
        if (kafka_prop(cfg, name, len, eq + 1, from, errstr, errstr_size) != 0)
            return -1;
    }
    return 0;
}

/* The config file's lines, kept for the merge. */
typedef struct file_entry {
    char *key, *value;
    int line;
} file_entry;

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static const setting *find_setting(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < NSETTINGS; i++) {
        if (strlen(settings[i].name) == len &&
            strncmp(settings[i].name, name, len) == 0)
            return &settings[i];
    }
    return NULL;
}

static int read_file(pf_config *cfg, const char *path, file_entry **out,
                     size_t *count, char *errstr, size_t errstr_size)
{
    char line[4096], what[300], from[64], *data, *p, *end;
    size_t len;
    int lineno = 0, rc = -1;

    *out = NULL;
    *count = 0;
    snprintf(what, sizeof(what), "config file %.256s", path);
    if (pf_file_read(path, what, PF_CONFIG_FILE_MAX, &data, &len, errstr,
                     errstr_size) != PF_FILE_OK)
        return -1;
    for (p = data, end = data + len; p < end;) {
        char *key, *value, *eq, *hash, *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        file_entry *grown;

        lineno++;
        if (n > sizeof(line) - 2) {
            failf(errstr, errstr_size,
                  "config file %s line %d: longer than %zu bytes", path, lineno,
                  sizeof(line) - 2);
            goto out;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        p = nl != NULL ? nl + 1 : end;
        hash = strchr(line, '#');
        if (hash != NULL)
            *hash = '\0';
        key = trim(line);
        if (*key == '\0')
            continue;
        eq = strchr(key, '=');
        if (eq == NULL) {
            failf(errstr, errstr_size,
                  "config file %s line %d: expected "
                  "key = value",
                  path, lineno);
            goto out;
        }
        *eq = '\0';
        key = trim(key);
        value = trim(eq + 1);
        if (strncmp(key, "kafka.", 6) == 0) {
            snprintf(from, sizeof(from), "config line %d", lineno);
            if (kafka_prop(cfg, key + 6, strlen(key + 6), value, from, errstr,
                           errstr_size) != 0)
                goto out;
            continue;
        }
        if (find_setting(key, strlen(key)) == NULL &&
            !(strlen(key) > 5 && strcmp(key + strlen(key) - 5, "-file") == 0 &&
              find_setting(key, strlen(key) - 5) != NULL &&
              (find_setting(key, strlen(key) - 5)->flags & SECRET))) {
            failf(errstr, errstr_size,
                  "config file %s line %d: unknown "
                  "setting \"%.64s\"",
                  path, lineno, key);
            goto out;
        }
        grown = realloc(*out, (*count + 1) * sizeof(**out));
        if (grown == NULL) {
            failf(errstr, errstr_size, "out of memory");
            goto out;
        }
        *out = grown;
        (*out)[*count].key = strdup(key);
        (*out)[*count].value = strdup(value);
        (*out)[*count].line = lineno;
        (*count)++;
    }
    rc = 0;
out:
    pf_file_free(data, len);
    return rc;
}

static void free_file(file_entry *e, size_t count)
{
    size_t i;

    for (i = 0; i < count; i++) {
        free(e[i].key);
        free(e[i].value);
    }
    free(e);
}

void pf_config_usage(FILE *out, unsigned command)
{
    size_t i;

    for (i = 0; i < NSETTINGS; i++) {
        const setting *s = &settings[i];
        char flag[96];

        if (!(s->commands & command))
            continue;
        if (s->flags & SECRET)
            snprintf(flag, sizeof(flag), "--%s-file %s", s->name, s->arg);
        else if (s->kind == BOOL)
            snprintf(flag, sizeof(flag), "--%s", s->name);
        else
            snprintf(flag, sizeof(flag), "--%s %s", s->name, s->arg);
        fprintf(out, "  %-34s %s\n", flag, s->help);
        if (s->kind == CHOICE) {
            char list[160];

            choices_text(s, list, sizeof(list));
            fprintf(out, "  %-34s %s\n", "", list);
        }
        if (s->env == NULL) {
            if (s->def != NULL && s->kind != BOOL)
                fprintf(out, "  %-34s default %s\n", "", s->def);
            continue;
        }
        fprintf(out, "  %-34s env %s%s", "", s->env,
                (s->flags & SECRET) ? " or " : "");
        if (s->flags & SECRET)
            fprintf(out, "%s_FILE", s->env);
        if (s->def != NULL)
            fprintf(out, "; default %s", s->def);
        fputc('\n', out);
    }
    fprintf(out, "  %-34s %s\n", "--config FILE",
            "key = value settings file (env PROVFLOW_CONFIG)");
    if (command & (PF_CMD_RUN | PF_CMD_REPLAY))
        fprintf(out, "  %-34s %s\n", "-X PROPERTY=VALUE",
                "librdkafka property (env PROVFLOW_KAFKA_<PROPERTY>)");
    fprintf(out, "  %-34s %s\n", "-h, --help", "show this help");
}

/* What one setting alone cannot say. */
static int check_run(const pf_config *cfg, char *errstr, size_t errstr_size)
{
    const char *out = cfg->dry_run_output;

    if (out == NULL)
        return 0;
    if (!cfg->dry_run)
        return failf(errstr, errstr_size,
                     "dry-run-output: only with --dry-run");
    if (strcmp(out, cfg->results_topic) == 0 ||
        strcmp(out, cfg->dead_letter_topic) == 0 ||
        strcmp(out, cfg->input_topic) == 0)
        return failf(errstr, errstr_size,
                     "dry-run-output: %.128s is the input, results or "
                     "dead-letter topic; a dry run never writes to them",
                     out);
    return 0;
}

/*
 * The default credential's settings that exclude each other. A federated
 * token file next to a secret or a certificate is not refused: workload
 * identity's webhook injects AZURE_FEDERATED_TOKEN_FILE into every pod it
 * serves, so the secret or certificate wins (client.c logs it).
 */
static int check_credential(const pf_config *cfg, char *errstr,
                            size_t errstr_size)
{
    if (cfg->client_secret != NULL && cfg->certificate_path != NULL)
        return failf(errstr, errstr_size,
                     "client-secret (AZURE_CLIENT_SECRET or "
                     "AZURE_CLIENT_SECRET_FILE) and client-certificate-path "
                     "(AZURE_CLIENT_CERTIFICATE_PATH) are both set; a "
                     "credential is a secret or a certificate, not both");
    if (cfg->certificate_path == NULL && cfg->certificate_password != NULL)
        return failf(errstr, errstr_size,
                     "client-certificate-password "
                     "(AZURE_CLIENT_CERTIFICATE_PASSWORD or _FILE) is set "
                     "without client-certificate-path "
                     "(AZURE_CLIENT_CERTIFICATE_PATH)");
    if (cfg->certificate_path == NULL && cfg->send_certificate_chain)
        return failf(errstr, errstr_size,
                     "client-send-certificate-chain "
                     "(AZURE_CLIENT_SEND_CERTIFICATE_CHAIN) is set without "
                     "client-certificate-path "
                     "(AZURE_CLIENT_CERTIFICATE_PATH)");
    return 0;
}

/* What getopt found wrong with arg ('?': unknown, ':': no value). */
static void usage_error(int opt, const char *arg, char *errstr,
                        size_t errstr_size)
{
    char name[80];

    if (optopt != 0 && strncmp(arg, "--", 2) != 0)
        snprintf(name, sizeof(name), "-%c", optopt);
    else
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "="), arg);
    failf(errstr, errstr_size,
          opt == ':' ? "option %s needs a value" : "unknown option %s", name);
}

const char *pf_config_peek(int argc, char **argv, const char *name)
{
    const setting *s = find_setting(name, strlen(name));
    size_t n = strlen(name);
    const char *found = NULL;
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--") == 0)
            break;
        if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, n) != 0)
            continue;
        if (a[2 + n] == '=')
            found = a + 3 + n;
        else if (a[2 + n] == '\0' && i + 1 < argc)
            found = argv[++i];
    }
    if (found == NULL && s != NULL && s->env != NULL)
        found = getenv(s->env);
    return found;
}

const char *pf_config_instance(const pf_config *cfg, char *buf, size_t n)
{
    if (cfg->instance != NULL)
        snprintf(buf, n, "%s", cfg->instance);
    else if (gethostname(buf, n) != 0 || buf[0] == '\0')
        snprintf(buf, n, "provflow");
    buf[n - 1] = '\0'; /* gethostname() need not terminate a cut name */
    return buf;
}

int pf_config_load(pf_config *cfg, unsigned command, int argc, char **argv,
                   char *errstr, size_t errstr_size)
{
    struct option opts[NSETTINGS + 4];
    source flags[NSETTINGS];
    const char *config_path = getenv("PROVFLOW_CONFIG");
    const char *config_from = "PROVFLOW_CONFIG";
    const char *xflags[PF_KAFKA_PROPS_MAX];
    size_t nopts = 0, nx = 0, i, fcount = 0;
    file_entry *fentries = NULL;
    char fromtext[NSETTINGS][48];
    int opt, rc = -1;

    memset(cfg, 0, sizeof(*cfg));
    memset(flags, 0, sizeof(flags));
    if (errstr_size > 0)
        errstr[0] = '\0';
    for (i = 0; i < NSETTINGS; i++) {
        const setting *s = &settings[i];
        static char names[NSETTINGS][64];

        if (!(s->commands & command))
            continue;
        if (s->flags & SECRET) {
            snprintf(names[i], sizeof(names[i]), "%s-file", s->name);
            opts[nopts].name = names[i];
        } else {
            opts[nopts].name = s->name;
        }
        opts[nopts].has_arg =
            s->kind == BOOL ? optional_argument : required_argument;
        opts[nopts].flag = NULL;
        opts[nopts].val = OPT_BASE + (int)i;
        nopts++;
    }
    opts[nopts++] = (struct option){"config", required_argument, NULL, 'c'};
    opts[nopts++] = (struct option){"help", no_argument, NULL, 'h'};
    opts[nopts] = (struct option){NULL, 0, NULL, 0};

    optind = 0; /* GNU getopt: start afresh (the tests load many times) */
    /* Its own messages would be plain text on stderr: ours are logged. */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":hX:", opts, NULL)) != -1) {
        if (opt >= OPT_BASE) {
            const setting *s = &settings[opt - OPT_BASE];

            flags[opt - OPT_BASE].value =
                s->kind == BOOL && optarg == NULL ? "true" : optarg;
            flags[opt - OPT_BASE].is_path = (s->flags & SECRET) != 0;
            snprintf(fromtext[opt - OPT_BASE], sizeof(fromtext[0]), "--%s%s",
                     s->name, (s->flags & SECRET) ? "-file" : "");
            flags[opt - OPT_BASE].from = fromtext[opt - OPT_BASE];
        } else if (opt == 'c') {
            config_path = optarg;
            config_from = "--config";
        } else if (opt == 'X' && !(command & (PF_CMD_RUN | PF_CMD_REPLAY))) {
            failf(errstr, errstr_size,
                  "-X %.64s: this command has no Kafka client; librdkafka "
                  "properties apply to run and replay",
                  optarg);
            return -2;
        } else if (opt == 'X' && nx == PF_KAFKA_PROPS_MAX) {
            return failf(errstr, errstr_size, "more than %d -X properties",
                         PF_KAFKA_PROPS_MAX);
        } else if (opt == 'X') {
            xflags[nx++] = optarg;
        } else if (opt == 'h') {
            return -3;
        } else {
            usage_error(opt, argv[optind - 1], errstr, errstr_size);
            return -2;
        }
    }

    /* Lowest precedence first: file, then environment, then flags. */
    if (config_path != NULL && *config_path == '\0') {
        failf(errstr, errstr_size, "config (%s): the value is empty",
              config_from);
        goto out;
    }
    if (config_path != NULL) {
        cfg->config_file = strdup(config_path);
        if (read_file(cfg, config_path, &fentries, &fcount, errstr,
                      errstr_size) != 0)
            goto out;
    }
    if ((command & (PF_CMD_RUN | PF_CMD_REPLAY)) &&
        kafka_env(cfg, errstr, errstr_size) != 0)
        goto out;
    for (i = 0; i < nx; i++) {
        if (kafka_flag(cfg, xflags[i], errstr, errstr_size) != 0)
            goto out;
    }

    for (i = 0; i < NSETTINGS; i++) {
        const setting *s = &settings[i];
        source src = {NULL, NULL, false};
        char envfile[80], fileline[64];
        size_t k;

        if (!(s->commands & command))
            continue;
        if (s->def != NULL)
            src = (source){s->def, "default", false};
        for (k = 0; k < fcount; k++) {
            bool plain = strcmp(fentries[k].key, s->name) == 0;
            bool as_file =
                (s->flags & SECRET) &&
                strncmp(fentries[k].key, s->name, strlen(s->name)) == 0 &&
                strcmp(fentries[k].key + strlen(s->name), "-file") == 0;

            if (plain && (s->flags & SECRET)) {
                snprintf(errstr, errstr_size,
                         "%s: secrets do not belong in the config file; use "
                         "%s-file or the environment",
                         s->name, s->name);
                goto out;
            }
            if (plain || as_file) {
                snprintf(fileline, sizeof(fileline), "config line %d",
                         fentries[k].line);
                src = (source){fentries[k].value, fileline, as_file};
            }
        }
        if (s->env != NULL) {
            snprintf(envfile, sizeof(envfile), "%s_FILE", s->env);
            if ((s->flags & SECRET) && getenv(envfile) != NULL)
                src = (source){getenv(envfile), envfile, true};
            if ((s->flags & SECRET) && getenv(s->env) != NULL &&
                (src.is_path || flags[i].value != NULL)) {
                /* Which one the operator meant is a guess: refuse. */
                failf(errstr, errstr_size,
                      "%s: both %s and %s are set; give the secret one way",
                      s->name, s->env,
                      flags[i].value != NULL ? flags[i].from : src.from);
                goto out;
            }
            if (getenv(s->env) != NULL)
                src = (source){getenv(s->env), s->env, false};
        }
        if (flags[i].value != NULL)
            src = flags[i];
        if (src.value != NULL &&
            set_value(cfg, s, &src, errstr, errstr_size) != 0)
            goto out;
    }
    if ((command & PF_CMD_RUN) && check_run(cfg, errstr, errstr_size) != 0)
        goto out;
    if ((command & GRAPH) && check_credential(cfg, errstr, errstr_size) != 0)
        goto out;
    rc = optind;
out:
    free_file(fentries, fcount);
    if (rc < 0)
        pf_config_release(cfg);
    return rc;
}

void pf_config_release(pf_config *cfg)
{
    size_t i;

    for (i = 0; i < NSETTINGS; i++) {
        char **field = (char **)((char *)cfg + settings[i].offset);

        if (settings[i].flags & SECRET)
            (void)set_file(cfg, &settings[i], NULL); /* frees only */
        if ((settings[i].kind != STR && settings[i].kind != CHOICE) ||
            *field == NULL)
            continue;
        explicit_bzero(*field, strlen(*field));
        free(*field);
        *field = NULL;
    }
    for (i = 0; i < cfg->kafka_count; i++) {
        free(cfg->kafka[i].name);
        explicit_bzero(cfg->kafka[i].value, strlen(cfg->kafka[i].value));
        free(cfg->kafka[i].value);
    }
    cfg->kafka_count = 0;
    free(cfg->config_file);
    cfg->config_file = NULL;
}

/*
 * The service's stderr holds log lines only, from the first: its errors
 * are logged (in the format its caller set from pf_config_peek()). The
 * other commands are tools whose messages are plain lines.
 */
static void cli_error(unsigned command, const char *name, const char *err,
                      bool usage)
{
    if (command == PF_CMD_RUN) {
        pf_log(PF_LOG_ERROR, NULL, "provflow %s: %s%s%s%s", name, err,
               usage ? " (run 'provflow " : "", usage ? name : "",
               usage ? " --help' for usage)" : "");
        return;
    }
    if (err[0] != '\0')
        fprintf(stderr, "provflow %s: %s\n", name, err);
    if (usage)
        fprintf(stderr, "Run 'provflow %s --help' for usage.\n", name);
}

int pf_config_cli(pf_config *cfg, unsigned command, const char *name, int argc,
                  char **argv, void (*usage)(FILE *out), int *status)
{
    char err[512];
    int first = pf_config_load(cfg, command, argc, argv, err, sizeof(err));

    switch (first) {
    case -3:
        usage(stdout);
        *status = 0;
        return -1;
    case -2:
        cli_error(command, name, err, true);
        *status = PF_EXIT_USAGE;
        return -1;
    case -1:
        cli_error(command, name, err, false);
        *status = PF_EXIT_CONFIG;
        return -1;
    }
    return first;
}
