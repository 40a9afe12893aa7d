/* test_config.c - the settings' sources, owned Kafka properties, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "provflow/config.h"
#include "provflow/secrets.h"

static char err[512];

/* pf_config_load() of `command` over a NULL-terminated argument list. */
static int load(pf_config *cfg, unsigned command, const char *const *args)
{
    char *argv[32];
    int argc = 0;

    argv[argc++] = (char *)"cmd";
    for (; *args != NULL; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    return pf_config_load(cfg, command, argc, argv, err, sizeof(err));
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static int setup(void **state)
{
    (void)state;
    unsetenv("PROVFLOW_CONFIG");
    unsetenv("PROVFLOW_BROKERS");
    unsetenv("PROVFLOW_DRY_RUN");
    unsetenv("PROVFLOW_DRY_RUN_OUTPUT");
    unsetenv("PROVFLOW_MAX_BUFFERED_BYTES");
    unsetenv("PROVFLOW_INSTANCE");
    unsetenv("PROVFLOW_KAFKA_ACKS");
    unsetenv("PROVFLOW_KAFKA_SESSION_TIMEOUT_MS");
    unsetenv("PROVFLOW_DELIVERY");
    unsetenv("PROVFLOW_CLOUD");
    unsetenv("PROVFLOW_LOG_LEVEL");
    unsetenv("AZURE_CLIENT_SECRET");
    unsetenv("AZURE_CLIENT_SECRET_FILE");
    unsetenv("AZURE_CLIENT_CERTIFICATE_PATH");
    unsetenv("AZURE_CLIENT_CERTIFICATE_PASSWORD");
    unsetenv("AZURE_CLIENT_CERTIFICATE_PASSWORD_FILE");
    unsetenv("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN");
    unsetenv("AZURE_FEDERATED_TOKEN_FILE");
    err[0] = '\0';
    return 0;
}

/* A temporary file holding text; the caller unlinks path. */
static void write_file(char *path, size_t n, const char *text)
{
    int fd;

    snprintf(path, n, "%s/pf-test-config.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* Every owned property, by each source, is refused naming it and why. */
static void owned_kafka_properties_are_refused(void **state)
{
    static const struct {
        const char *prop, *env, *expect;
    } rows[] = {
        {"group.id", "PROVFLOW_KAFKA_GROUP_ID", "use --group-id"},
        {"bootstrap.servers", "PROVFLOW_KAFKA_BOOTSTRAP_SERVERS",
         "use --brokers"},
        {"client.id", "PROVFLOW_KAFKA_CLIENT_ID", "use --instance"},
        {"transactional.id", "PROVFLOW_KAFKA_TRANSACTIONAL_ID",
         "use --delivery exactly-once"},
        {"enable.auto.commit", "PROVFLOW_KAFKA_ENABLE_AUTO_COMMIT",
         "owned by provflow: "},
        {"enable.auto.offset.store", "PROVFLOW_KAFKA_ENABLE_AUTO_OFFSET_STORE",
         "owned by provflow: "},
        {"isolation.level", "PROVFLOW_KAFKA_ISOLATION_LEVEL",
         "owned by provflow: "},
        {"enable.idempotence", "PROVFLOW_KAFKA_ENABLE_IDEMPOTENCE",
         "owned by provflow: "},
        {"partition.assignment.strategy",
         "PROVFLOW_KAFKA_PARTITION_ASSIGNMENT_STRATEGY", "owned by provflow: "},
        {"acks", "PROVFLOW_KAFKA_ACKS", "owned by provflow: "},
        {"request.required.acks", "PROVFLOW_KAFKA_REQUEST_REQUIRED_ACKS",
         "owned by provflow: "},
        {"max.in.flight", "PROVFLOW_KAFKA_MAX_IN_FLIGHT",
         "owned by provflow: "},
        {"retries", "PROVFLOW_KAFKA_RETRIES", "owned by provflow: "},
        {"auto.offset.reset", "PROVFLOW_KAFKA_AUTO_OFFSET_RESET",
         "owned by provflow: "},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char flag[128], line[160], path[256], key[160];
        pf_config cfg;

        /* -X */
        snprintf(flag, sizeof(flag), "%s=1", rows[i].prop);
        assert_int_equal(load(&cfg, PF_CMD_RUN, ARGS("-X", flag)), -1);
        snprintf(key, sizeof(key), "Kafka property %s (-X)", rows[i].prop);
        assert_non_null(strstr(err, key));
        assert_non_null(strstr(err, rows[i].expect));
        assert_null(strchr(err, '\n'));

        /* PROVFLOW_KAFKA_<PROP> */
        setenv(rows[i].env, "1", 1);
        assert_int_equal(load(&cfg, PF_CMD_REPLAY, ARGS("--to-latest")), -1);
        unsetenv(rows[i].env);
        snprintf(key, sizeof(key), "Kafka property %s (%s)", rows[i].prop,
                 rows[i].env);
        assert_non_null(strstr(err, key));
        assert_non_null(strstr(err, rows[i].expect));

        /* kafka.<prop> in the config file */
        snprintf(line, sizeof(line), "# owned\nkafka.%s = 1\n", rows[i].prop);
        write_file(path, sizeof(path), line);
        assert_int_equal(load(&cfg, PF_CMD_RUN, ARGS("--config", path)), -1);
        unlink(path);
        snprintf(key, sizeof(key), "Kafka property %s (config line 2)",
                 rows[i].prop);
        assert_non_null(strstr(err, key));
        assert_non_null(strstr(err, rows[i].expect));
    }
}

static void other_kafka_properties_pass_through(void **state)
{
    pf_config cfg;

    (void)state;
    setenv("PROVFLOW_KAFKA_SESSION_TIMEOUT_MS", "6000", 1);
    assert_true(load(&cfg, PF_CMD_RUN, ARGS("-X", "linger.ms=20")) > 0);
    unsetenv("PROVFLOW_KAFKA_SESSION_TIMEOUT_MS");
    unsetenv("PROVFLOW_DELIVERY");
    unsetenv("PROVFLOW_CLOUD");
    unsetenv("PROVFLOW_LOG_LEVEL");
    assert_int_equal(cfg.kafka_count, 2);
    assert_string_equal(cfg.kafka[0].name, "session.timeout.ms");
    assert_string_equal(cfg.kafka[1].name, "linger.ms");
    pf_config_release(&cfg);
}

static void empty_text_settings_are_refused(void **state)
{
    pf_config cfg;

    (void)state;
    assert_int_equal(load(&cfg, PF_CMD_RUN, ARGS("--brokers", "")), -1);
    assert_string_equal(err, "brokers (--brokers): the value is empty");
    setenv("PROVFLOW_BROKERS", " ", 1);
    assert_int_equal(load(&cfg, PF_CMD_REPLAY, ARGS("--to-latest")), -1);
    unsetenv("PROVFLOW_BROKERS");
    assert_string_equal(err, "brokers (PROVFLOW_BROKERS): the value is empty");
    assert_int_equal(load(&cfg, PF_CMD_RUN, ARGS("--group-id=")), -1);
    assert_non_null(strstr(err, "group-id"));
    assert_int_equal(load(&cfg, PF_CMD_RUN, ARGS("--instance", "")), -1);
    assert_non_null(strstr(err, "instance"));
    assert_int_equal(load(&cfg, PF_CMD_RUN, ARGS("--config", "")), -1);
    assert_non_null(strstr(err, "config"));
}

static void config_must_be_a_small_regular_file(void **state)
{
    char dir[] = "/tmp/pf-test-dir.XXXXXX", fifo[300], path[256];
    pf_config cfg;
    char *big;

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(load(&cfg, PF_CMD_RUN, ARGS("--config", dir)), -1);
    assert_non_null(strstr(err, "is not a regular file (a directory)"));

    /* A FIFO nobody writes to: refused at once, not read (no hang). */
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    setenv("PROVFLOW_CONFIG", fifo, 1);
    assert_int_equal(load(&cfg, PF_CMD_SEND, ARGS("--max-in-flight", "2")), -1);
    unsetenv("PROVFLOW_CONFIG");
    assert_non_null(strstr(err, "is not a regular file (a FIFO)"));
    unlink(fifo);
    rmdir(dir);

    /* One byte over the limit, all of it comments. */
    big = malloc(PF_CONFIG_FILE_MAX + 2);
    assert_non_null(big);
    memset(big, '#', PF_CONFIG_FILE_MAX + 1);
    big[PF_CONFIG_FILE_MAX + 1] = '\0';
    write_file(path, sizeof(path), big);
    free(big);
    assert_int_equal(load(&cfg, PF_CMD_RUN, ARGS("--config", path)), -1);
    unlink(path);
    assert_non_null(strstr(err, "is larger than 1048576 bytes"));
}

/* --NAME-file: read whole by the bounded reader (fileio.h), CR LF dropped. */
static void secret_files_are_read_whole_and_bounded(void **state)
{
    char dir[] = "/tmp/pf-test-secret.XXXXXX", fifo[300], path[256];
    char want[512], *big;
    pf_config cfg;

    (void)state;
    write_file(path, sizeof(path), "s3cret\r\n");
    assert_true(load(&cfg, PF_CMD_SEND, ARGS("--client-secret-file", path)) >
                0);
    assert_string_equal(cfg.client_secret, "s3cret");
    pf_config_release(&cfg);
    unlink(path);

    write_file(path, sizeof(path), "\n");
    assert_int_equal(
        load(&cfg, PF_CMD_SEND, ARGS("--client-secret-file", path)), -1);
    snprintf(want, sizeof(want),
             "client-secret (--client-secret-file): file %s is empty", path);
    assert_string_equal(err, want);
    unlink(path);

    big = malloc(PF_SECRET_MAX + 2);
    assert_non_null(big);
    memset(big, 'x', PF_SECRET_MAX + 1);
    big[PF_SECRET_MAX + 1] = '\0';
    write_file(path, sizeof(path), big);
    free(big);
    assert_int_equal(
        load(&cfg, PF_CMD_SEND, ARGS("--client-secret-file", path)), -1);
    snprintf(want, sizeof(want),
             "client-secret (--client-secret-file): file %s is larger than "
             "%d bytes",
             path, PF_SECRET_MAX);
    assert_string_equal(err, want);
    unlink(path);

    /* A FIFO nobody writes to: refused at once, not read (no hang). */
    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(
        load(&cfg, PF_CMD_SEND, ARGS("--client-secret-file", fifo)), -1);
    snprintf(want, sizeof(want),
             "client-secret (--client-secret-file): file %s is not a regular "
             "file (a FIFO)",
             fifo);
    assert_string_equal(err, want);
    unlink(fifo);
    rmdir(dir);
}

/* Settings with a list of values: checked at load, stored as listed. */
static void choice_settings_take_only_their_listed_values(void **state)
{
    static const struct {
        unsigned command;
        const char *flag, *value, *message; /* message NULL: accepted */
    } rows[] = {
        {PF_CMD_RUN, "--delivery", "exactly-once", NULL},
        {PF_CMD_RUN, "--delivery", "Exactly-Once", NULL},
        {PF_CMD_RUN, "--delivery", "at-most-once",
         "delivery (--delivery): \"at-most-once\" is not one of "
         "at-least-once or exactly-once"},
        {PF_CMD_SEND, "--cloud", "usgov-dod", NULL},
        {PF_CMD_SEND, "--cloud", "germany",
         "cloud (--cloud): \"germany\" is not one of global, usgov, "
         "usgov-dod or china"},
        {PF_CMD_RUN, "--log-level", "WARN", NULL},
        {PF_CMD_SEND, "--log-level", "verbose",
         "log-level (--log-level): \"verbose\" is not one of debug, info, "
         "warn or error"},
    };
    pf_config cfg;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int rc = load(&cfg, rows[i].command, ARGS(rows[i].flag, rows[i].value));

        if (rows[i].message == NULL) {
            assert_true(rc > 0);
            pf_config_release(&cfg);
        } else {
            assert_int_equal(rc, -1); /* a configuration error: exit 78 */
            assert_string_equal(err, rows[i].message);
        }
    }

    /* Stored in the table's spelling; the defaults are choices too. */
    assert_true(
        load(&cfg, PF_CMD_RUN,
             ARGS("--delivery", "EXACTLY-ONCE", "--log-level", "Debug")) > 0);
    assert_string_equal(cfg.delivery, "exactly-once");
    assert_string_equal(cfg.log_level, "debug");
    assert_string_equal(cfg.cloud, "global");
    pf_config_release(&cfg);

    /* From the environment, named as such. */
    setenv("PROVFLOW_DELIVERY", "twice", 1);
    assert_int_equal(load(&cfg, PF_CMD_RUN, ARGS("--dry-run")), -1);
    unsetenv("PROVFLOW_DELIVERY");
    assert_string_equal(err, "delivery (PROVFLOW_DELIVERY): \"twice\" is not "
                             "one of at-least-once or exactly-once");
}

/* --help lists a choice setting's values. */
static void help_lists_the_choices(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    (void)state;
    assert_non_null(out);
    pf_config_usage(out, PF_CMD_RUN);
    fclose(out);
    assert_non_null(strstr(text, "at-least-once or exactly-once\n"));
    assert_non_null(strstr(text, "debug, info, warn or error\n"));
    free(text);
}

static void send_has_no_kafka_properties(void **state)
{
    pf_config cfg;

    (void)state;
    assert_int_equal(load(&cfg, PF_CMD_SEND, ARGS("-X", "a=b")), -2);
    assert_non_null(strstr(err, "-X a=b"));
    assert_non_null(strstr(err, "no Kafka"));
}

static void dry_run_output_needs_a_dry_run_and_its_own_topic(void **state)
{
    pf_config cfg;

    (void)state;
    assert_true(load(&cfg, PF_CMD_RUN, ARGS("--dry-run")) > 0);
    assert_null(cfg.dry_run_output);
    pf_config_release(&cfg);

    setenv("PROVFLOW_DRY_RUN_OUTPUT", "trial-outcomes", 1);
    assert_true(load(&cfg, PF_CMD_RUN, ARGS("--dry-run")) > 0);
    assert_string_equal(cfg.dry_run_output, "trial-outcomes");
    pf_config_release(&cfg);

    assert_int_equal(load(&cfg, PF_CMD_RUN, ARGS("--max-buffered", "5")), -1);
    unsetenv("PROVFLOW_DRY_RUN_OUTPUT");
    assert_string_equal(err, "dry-run-output: only with --dry-run");

    assert_int_equal(
        load(&cfg, PF_CMD_RUN,
             ARGS("--dry-run", "--dry-run-output", "provisioning-results")),
        -1);
    assert_non_null(strstr(err, "never writes"));
    assert_int_equal(load(&cfg, PF_CMD_RUN,
                          ARGS("--dry-run", "--dead-letter-topic", "dlq",
                               "--dry-run-output", "dlq")),
                     -1);
}

static void max_buffered_bytes_default_and_minimum(void **state)
{
    pf_config cfg;

    (void)state;
    assert_true(load(&cfg, PF_CMD_RUN, ARGS("--max-buffered", "10")) > 0);
    assert_int_equal(cfg.max_buffered_bytes, 33554432);
    pf_config_release(&cfg);

    setenv("PROVFLOW_MAX_BUFFERED_BYTES", "1048576", 1);
    assert_true(load(&cfg, PF_CMD_RUN, ARGS("--max-buffered", "10")) > 0);
    assert_int_equal(cfg.max_buffered_bytes, 1048576);
    pf_config_release(&cfg);
    unsetenv("PROVFLOW_MAX_BUFFERED_BYTES");

    assert_int_equal(
        load(&cfg, PF_CMD_RUN, ARGS("--max-buffered-bytes", "1048575")), -1);
    assert_non_null(strstr(err, "max-buffered-bytes (--max-buffered-bytes)"));
    /* run only */
    assert_int_equal(
        load(&cfg, PF_CMD_REPLAY, ARGS("--max-buffered-bytes", "2097152")), -2);
}

static void instance_is_the_setting_else_the_host_name(void **state)
{
    char buf[256], host[256] = "";
    pf_config cfg;

    (void)state;
    assert_true(load(&cfg, PF_CMD_RUN, ARGS("--instance", "pod-7")) > 0);
    assert_string_equal(pf_config_instance(&cfg, buf, sizeof(buf)), "pod-7");
    assert_string_equal(pf_config_instance(&cfg, buf, 4), "pod");
    pf_config_release(&cfg);

    assert_true(load(&cfg, PF_CMD_RUN, ARGS("--dry-run")) > 0);
    assert_int_equal(gethostname(host, sizeof(host)), 0);
    assert_string_equal(pf_config_instance(&cfg, buf, sizeof(buf)),
                        host[0] != '\0' ? host : "provflow");
    pf_config_release(&cfg);
}

/*
 * Credentials that exclude each other are refused at load (exit 78),
 * naming both sides and never a secret; what remains is precedence.
 */
static void conflicting_credentials_are_refused_naming_both(void **state)
{
    static const struct {
        const char *what;
        const char *env[3][2]; /* name, value ("@F": the file's path) */
        const char *args[5];
        const char *expect[3]; /* in err; NULL: loads */
    } rows[] = {
        {"secret variable and secret file",
         {{"AZURE_CLIENT_SECRET", "Var-s3cret"},
          {"AZURE_CLIENT_SECRET_FILE", "@F"}},
         {NULL},
         {"AZURE_CLIENT_SECRET and AZURE_CLIENT_SECRET_FILE", "one way"}},
        {"secret variable and --client-secret-file",
         {{"AZURE_CLIENT_SECRET", "Var-s3cret"}},
         {"--client-secret-file", "@F", NULL},
         {"AZURE_CLIENT_SECRET and --client-secret-file"}},
        {"password variable and password file",
         {{"AZURE_CLIENT_CERTIFICATE_PASSWORD", "Var-s3cret"},
          {"AZURE_CLIENT_CERTIFICATE_PASSWORD_FILE", "@F"},
          {"AZURE_CLIENT_CERTIFICATE_PATH", "/c.pfx"}},
         {NULL},
         {"AZURE_CLIENT_CERTIFICATE_PASSWORD and "
          "AZURE_CLIENT_CERTIFICATE_PASSWORD_FILE"}},
        {"secret and certificate",
         {{"AZURE_CLIENT_SECRET", "Var-s3cret"},
          {"AZURE_CLIENT_CERTIFICATE_PATH", "/c.pem"}},
         {NULL},
         {"client-secret (AZURE_CLIENT_SECRET",
          "client-certificate-path (AZURE_CLIENT_CERTIFICATE_PATH)",
          "not both"}},
        {"secret file and certificate",
         {{NULL}},
         {"--client-secret-file", "@F", "--client-certificate-path", "/c.pem"},
         {"client-secret", "client-certificate-path", "not both"}},
        {"password without certificate",
         {{"AZURE_CLIENT_CERTIFICATE_PASSWORD", "Var-s3cret"}},
         {NULL},
         {"client-certificate-password", "without client-certificate-path"}},
        {"chain without certificate",
         {{"AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "true"},
          {"AZURE_CLIENT_SECRET", "Var-s3cret"}},
         {NULL},
         {"client-send-certificate-chain", "without client-certificate-path"}},
        /* What stays precedence: a federated token file beside a secret
         * (workload identity injects it), chain off beside a secret. */
        {"secret and federated token file",
         {{"AZURE_CLIENT_SECRET", "Var-s3cret"},
          {"AZURE_FEDERATED_TOKEN_FILE", "/var/run/token"},
          {"AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "false"}},
         {NULL},
         {NULL}},
        {"certificate, password and chain",
         {{"AZURE_CLIENT_CERTIFICATE_PATH", "/c.pfx"},
          {"AZURE_CLIENT_CERTIFICATE_PASSWORD", "Var-s3cret"},
          {"AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "1"}},
         {NULL},
         {NULL}},
    };
    char path[256];
    size_t i, k;

    (void)state;
    write_file(path, sizeof(path), "File-s3cret\n");
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *args[6] = {NULL};
        pf_config cfg;
        int rc;

        print_message("%s\n", rows[i].what);
        for (k = 0; k < 3 && rows[i].env[k][0] != NULL; k++)
            setenv(rows[i].env[k][0],
                   strcmp(rows[i].env[k][1], "@F") == 0 ? path
                                                        : rows[i].env[k][1],
                   1);
        for (k = 0; rows[i].args[k] != NULL; k++)
            args[k] =
                strcmp(rows[i].args[k], "@F") == 0 ? path : rows[i].args[k];
        err[0] = '\0';
        rc = load(&cfg, PF_CMD_SEND, args[0] != NULL ? args : ARGS("-"));
        if (rows[i].expect[0] == NULL) {
            if (rc < 0)
                fail_msg("%s: refused: %s", rows[i].what, err);
            pf_config_release(&cfg);
        } else {
            assert_int_equal(rc, -1);
            for (k = 0; k < 3 && rows[i].expect[k] != NULL; k++) {
                if (strstr(err, rows[i].expect[k]) == NULL)
                    fail_msg("%s: want \"%s\" in \"%s\"", rows[i].what,
                             rows[i].expect[k], err);
            }
        }
        assert_null(strstr(err, "s3cret"));
        for (k = 0; k < 3 && rows[i].env[k][0] != NULL; k++)
            unsetenv(rows[i].env[k][0]);
    }
    unlink(path);
}

/* A secret read from a file keeps the file's path (re-read on change). */
static void secret_files_keep_their_path(void **state)
{
    char path[256];
    pf_config cfg;

    (void)state;
    write_file(path, sizeof(path), "File-s3cret\n");
    assert_true(load(&cfg, PF_CMD_SEND, ARGS("--client-secret-file", path)) >
                0);
    assert_string_equal(cfg.client_secret, "File-s3cret");
    assert_string_equal(cfg.client_secret_file, path);
    pf_config_release(&cfg);
    assert_null(cfg.client_secret_file);

    setenv("AZURE_CLIENT_CERTIFICATE_PASSWORD_FILE", path, 1);
    setenv("AZURE_CLIENT_CERTIFICATE_PATH", "/c.pfx", 1);
    assert_true(load(&cfg, PF_CMD_RUN, ARGS("--dry-run")) > 0);
    assert_string_equal(cfg.certificate_password, "File-s3cret");
    assert_string_equal(cfg.certificate_password_file, path);
    assert_false(cfg.send_certificate_chain);
    pf_config_release(&cfg);
    unsetenv("AZURE_CLIENT_CERTIFICATE_PASSWORD_FILE");

    /* From the variable: no file to watch. */
    setenv("AZURE_CLIENT_CERTIFICATE_PASSWORD", "Var-s3cret", 1);
    assert_true(load(&cfg, PF_CMD_SEND, ARGS("-")) > 0);
    assert_string_equal(cfg.certificate_password, "Var-s3cret");
    assert_null(cfg.certificate_password_file);
    pf_config_release(&cfg);
    unsetenv("AZURE_CLIENT_CERTIFICATE_PASSWORD");
    unsetenv("AZURE_CLIENT_CERTIFICATE_PATH");
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(owned_kafka_properties_are_refused, setup),
        cmocka_unit_test_setup(other_kafka_properties_pass_through, setup),
        cmocka_unit_test_setup(empty_text_settings_are_refused, setup),
        cmocka_unit_test_setup(config_must_be_a_small_regular_file, setup),
        cmocka_unit_test_setup(secret_files_are_read_whole_and_bounded, setup),
        cmocka_unit_test_setup(choice_settings_take_only_their_listed_values,
                               setup),
        cmocka_unit_test_setup(help_lists_the_choices, setup),
        cmocka_unit_test_setup(send_has_no_kafka_properties, setup),
        cmocka_unit_test_setup(dry_run_output_needs_a_dry_run_and_its_own_topic,
                               setup),
        cmocka_unit_test_setup(max_buffered_bytes_default_and_minimum, setup),
        cmocka_unit_test_setup(instance_is_the_setting_else_the_host_name,
                               setup),
        cmocka_unit_test_setup(conflicting_credentials_are_refused_naming_both,
                               setup),
        cmocka_unit_test_setup(secret_files_keep_their_path, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
