/*
 * test_kafka.c - librdkafka configuration from the settings (scopes, no
 * CONFWARN, client.id, dry-run group) and records with many headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "provflow/config.h"
#include "provflow/event.h"
#include "provflow/kafka.h"

static pf_config load(const char *const *args)
{
    char *argv[32], err[512];
    int argc = 0;
    pf_config cfg;

    argv[argc++] = (char *)"run";
    for (; *args != NULL; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    if (pf_config_load(&cfg, PF_CMD_RUN, argc, argv, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    return cfg;
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The value of property name in conf. */
static const char *get(const rd_kafka_conf_t *conf, const char *name)
{
    static char value[512];
    size_t n = sizeof(value);

    assert_int_equal(rd_kafka_conf_get(conf, name, value, &n),
                     RD_KAFKA_CONF_OK);
    return value;
}

static void scopes_come_from_librdkafka(void **state)
{
    (void)state;
    assert_int_equal(pf_kafka_prop_scope("session.timeout.ms"),
                     PF_KAFKA_CONSUMER);
    assert_int_equal(pf_kafka_prop_scope("heartbeat.interval.ms"),
                     PF_KAFKA_CONSUMER);
    assert_int_equal(pf_kafka_prop_scope("linger.ms"), PF_KAFKA_PRODUCER);
    /* a topic-level property */
    assert_int_equal(pf_kafka_prop_scope("message.timeout.ms"),
                     PF_KAFKA_PRODUCER);
    assert_int_equal(pf_kafka_prop_scope("socket.keepalive.enable"),
                     PF_KAFKA_CONSUMER | PF_KAFKA_PRODUCER);
    assert_int_equal(pf_kafka_prop_scope("sasl.password"),
                     PF_KAFKA_CONSUMER | PF_KAFKA_PRODUCER);
    assert_int_equal(pf_kafka_prop_scope("no.such.property"), 0);
}

/* CONFWARN lines logged while the clients are created. */
static int confwarns;

static void count_confwarn(const rd_kafka_t *rk, int level, const char *fac,
                           const char *buf)
{
    (void)rk;
    (void)level;
    if (strcmp(fac, "CONFWARN") == 0) {
        fprintf(stderr, "CONFWARN: %s\n", buf);
        confwarns++;
    }
}

/* Creates and destroys the client; returns the CONFWARN lines it logged. */
static int warnings_of(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char why[512];
    rd_kafka_t *rk;

    assert_non_null(conf);
    confwarns = 0;
    rd_kafka_conf_set_log_cb(conf, count_confwarn);
    rk = rd_kafka_new(type, conf, why, sizeof(why));
    if (rk == NULL)
        fail_msg("rd_kafka_new: %s", why);
    rd_kafka_destroy(rk);
    return confwarns;
}

static void each_client_gets_only_its_properties(void **state)
{
    char err[512] = "";
    pf_config cfg;

    (void)state;
    cfg = load(ARGS("--brokers", "127.0.0.1:1", "-X", "session.timeout.ms=6000",
                    "-X", "heartbeat.interval.ms=1000", "-X", "linger.ms=20",
                    "-X", "socket.keepalive.enable=true", "--delivery",
                    "exactly-once"));
    assert_int_equal(
        warnings_of(RD_KAFKA_CONSUMER,
                    pf_kafka_consumer_conf(&cfg, NULL, err, sizeof(err))),
        0);
    assert_int_equal(
        warnings_of(RD_KAFKA_PRODUCER,
                    pf_kafka_producer_conf(&cfg, NULL, NULL, err, sizeof(err))),
        0);
    assert_int_equal(pf_kafka_check(&cfg, err, sizeof(err)), 0);
    pf_config_release(&cfg);
}

static void an_unknown_property_is_still_an_error(void **state)
{
    char err[512] = "";
    pf_config cfg;

    (void)state;
    cfg = load(ARGS("-X", "no.such.property=1"));
    assert_int_equal(pf_kafka_check(&cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Kafka property no.such.property"));
    pf_config_release(&cfg);

    /* a known property, a bad value: named too */
    cfg = load(ARGS("-X", "linger.ms=soon"));
    assert_int_equal(pf_kafka_check(&cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Kafka property linger.ms"));
    pf_config_release(&cfg);
}

static void both_clients_carry_the_instance(void **state)
{
    char err[512], buf[256];
    rd_kafka_conf_t *c, *p;
    pf_config cfg;

    (void)state;
    cfg = load(ARGS("--instance", "pod-7"));
    c = pf_kafka_consumer_conf(&cfg, NULL, err, sizeof(err));
    p = pf_kafka_producer_conf(&cfg, NULL, NULL, err, sizeof(err));
    assert_string_equal(get(c, "client.id"), "pod-7");
    assert_string_equal(get(p, "client.id"), "pod-7");
    assert_string_equal(get(c, "group.id"), "provflow");
    rd_kafka_conf_destroy(c);
    rd_kafka_conf_destroy(p);
    pf_config_release(&cfg);

    /* no --instance: the host name, for both */
    cfg = load(ARGS("--group-id", "g"));
    c = pf_kafka_consumer_conf(&cfg, NULL, err, sizeof(err));
    assert_string_equal(get(c, "client.id"),
                        pf_config_instance(&cfg, buf, sizeof(buf)));
    rd_kafka_conf_destroy(c);
    pf_config_release(&cfg);
}

static void a_dry_run_has_its_own_group(void **state)
{
    char err[512];
    rd_kafka_conf_t *c, *p;
    pf_config cfg;

    (void)state;
    cfg = load(ARGS("--dry-run", "--group-id", "prov", "--instance", "i1",
                    "--delivery", "exactly-once"));
    c = pf_kafka_consumer_conf(&cfg, NULL, err, sizeof(err));
    p = pf_kafka_producer_conf(&cfg, "i1", NULL, err, sizeof(err));
    assert_string_equal(get(c, "group.id"), "prov.dry-run");
    /* No transaction at all in a dry run: nothing to fence, nothing to
     * make atomic (its records are checks, not outcomes). */
    {
        char v[64];
        size_t n = sizeof(v);

        /* unset: librdkafka answers "unknown" for a string never set */
        assert_true(rd_kafka_conf_get(p, "transactional.id", v, &n) !=
                        RD_KAFKA_CONF_OK ||
                    v[0] == '\0');
    }
    rd_kafka_conf_destroy(c);
    rd_kafka_conf_destroy(p);
    pf_config_release(&cfg);

    cfg = load(ARGS("--group-id", "prov", "--instance", "i1", "--delivery",
                    "exactly-once"));
    p = pf_kafka_producer_conf(&cfg, "i1", NULL, err, sizeof(err));
    assert_string_equal(get(p, "transactional.id"), "prov-i1");
    rd_kafka_conf_destroy(p);
    pf_config_release(&cfg);
}

/*
 * Records with many headers. A real librdkafka message is needed: a record
 * is produced to librdkafka's built-in mock cluster and read back in its
 * delivery report, where pf_kafka_record() and the decoder see it.
 */
typedef struct seen {
    bool done;
    rd_kafka_resp_err_t err;
    int rc;
    size_t header_count;
    char id[PF_EVENT_ID_MAX * 4 + 1], where[PF_PATH_MAX];
} seen;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
    pf_header hbuf[PF_KAFKA_HEADERS_MAX];
    seen *s = opaque;
    pf_record rec;
    pf_event ev;
    pf_error err;

    (void)rk;
    s->done = true;
    s->err = m->err;
    pf_kafka_record(m, &rec, hbuf);
    s->header_count = rec.header_count;
    s->rc = pf_event_decode(&rec, &ev, &err);
    snprintf(s->id, sizeof(s->id), "%s", ev.id ? ev.id : "");
    snprintf(s->where, sizeof(s->where), "%s", s->rc ? err.path : "");
    pf_event_release(&ev);
}

typedef struct hdr {
    const char *name, *value;
} hdr;

/* Produces `data` with `noise` unrelated headers first, then h[0..n). */
static seen round_trip(size_t noise, const hdr *h, size_t n)
{
    static const char data[] = "{\"flowSetId\":\"s1\"}";
    char why[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(noise + n);
    struct timespec start, now;
    seen s = {0};
    rd_kafka_t *rk;
    size_t i;

    assert_int_equal(
        rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", why, sizeof(why)),
        RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &s);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (rk == NULL)
        fail_msg("rd_kafka_new: %s", why);
    for (i = 0; i < noise; i++) {
        char name[32], value[32];

        snprintf(name, sizeof(name), "x-trace-%zu", i);
        snprintf(value, sizeof(value), "span-%zu", i);
        rd_kafka_header_add(hdrs, name, -1, value, -1);
    }
    for (i = 0; i < n; i++)
        rd_kafka_header_add(hdrs, h[i].name, -1, h[i].value, -1);
    assert_int_equal(
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("requests"),
                          RD_KAFKA_V_VALUE((void *)data, sizeof(data) - 1),
                          RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END),
        RD_KAFKA_RESP_ERR_NO_ERROR); /* hdrs now owned by rk */
    /* Until the delivery report: a generous deadline, not a timing claim. */
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        rd_kafka_poll(rk, 100);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (!s.done && now.tv_sec - start.tv_sec < 60);
    rd_kafka_destroy(rk);
    assert_true(s.done);
    assert_int_equal(s.err, RD_KAFKA_RESP_ERR_NO_ERROR);
    return s;
}

static const hdr binary[] = {
    {"content-type", "application/json"},
    {"ce_specversion", "1.0"},
    {"ce_id", "bin-1"},
    {"ce_source", "urn:sis"},
    {"ce_type", "provflow.provisioningFlow.create"},
};

static void all_headers_are_read(void **state)
{
    static const size_t noise[] = {0, 63, 64, 65, 1000};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(noise) / sizeof(noise[0]); i++) {
        seen s = round_trip(noise[i], binary, 5);

        if (s.rc != 0)
            fail_msg("%zu headers first: refused at %s", noise[i], s.where);
        assert_string_equal(s.id, "bin-1");
        assert_int_equal(s.header_count, 5);
    }
}

static void the_last_of_duplicated_ce_headers_counts(void **state)
{
    hdr h[200];
    size_t n = 0, i;
    seen s;

    (void)state;
    /* 100 ce_id and 90 ce_type (each invalid but the last), then the rest */
    for (i = 0; i < 100; i++)
        h[n++] = (hdr){i % 2 ? "CE_ID" : "ce_id", i < 99 ? "old" : "bin-9"};
    for (i = 0; i < 90; i++)
        h[n++] = (hdr){"ce_type", i < 89 ? "other.type" : binary[4].value};
    h[n++] = binary[0];
    h[n++] = binary[1];
    h[n++] = binary[3];
    s = round_trip(70, h, n);
    assert_int_equal(s.rc, 0);
    assert_string_equal(s.id, "bin-9");
    assert_int_equal(s.header_count, 5);

    /* the last ce_type is wrong: it is the one that counts */
    h[n++] = (hdr){"ce_type", "other.type"};
    s = round_trip(1000, h, n);
    assert_int_equal(s.rc, -1);
    assert_string_equal(s.where, "ce_type");
    assert_string_equal(s.id, "bin-9");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scopes_come_from_librdkafka),
        cmocka_unit_test(each_client_gets_only_its_properties),
        cmocka_unit_test(an_unknown_property_is_still_an_error),
        cmocka_unit_test(both_clients_carry_the_instance),
        cmocka_unit_test(a_dry_run_has_its_own_group),
        cmocka_unit_test(all_headers_are_read),
        cmocka_unit_test(the_last_of_duplicated_ce_headers_counts),
    };

    unsetenv("PROVFLOW_CONFIG");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
