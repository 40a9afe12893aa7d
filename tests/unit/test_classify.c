/* test_classify.c - outcome classes of Graph and token attempts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "provflow/classify.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define CREATED   PF_CLASS_CREATED
#define TRANSIENT PF_CLASS_TRANSIENT
#define REJECTED  PF_CLASS_REJECTED
#define SYSTEMIC  PF_CLASS_SYSTEMIC
#define REAUTH    PF_CLASS_REAUTH

static void fail_class(const char *what, long status, pf_class got,
                       pf_class want)
{
    fail_msg("%s %ld: got %s, want %s", what, status, pf_classify_name(got),
             pf_classify_name(want));
}

static void graph_statuses_map_to_product_classes(void **state)
{
    /*
     * Every status Graph documents for the create call (docs/contract.md,
     * "Classification"), then the choices for statuses it does not name.
     */
    static const struct {
        long status;
        pf_class first; /* before any refresh */
        pf_class again; /* after a refresh */
    } cases[] = {
        {201, CREATED, CREATED},
        {400, REJECTED, REJECTED},
        {401, REAUTH, SYSTEMIC},
        {403, SYSTEMIC, SYSTEMIC},
        {404, REJECTED, REJECTED},
        {408, TRANSIENT, TRANSIENT},
        {409, REJECTED, REJECTED},
        {412, REJECTED, REJECTED},
        {413, REJECTED, REJECTED},
        {415, REJECTED, REJECTED},
        {422, REJECTED, REJECTED},
        {429, TRANSIENT, TRANSIENT},
        {500, TRANSIENT, TRANSIENT},
        {502, TRANSIENT, TRANSIENT},
        {503, TRANSIENT, TRANSIENT},
        {504, TRANSIENT, TRANSIENT},
        /* Not named by the specs. */
        {405, REJECTED, REJECTED},
        {407, SYSTEMIC, SYSTEMIC},
        {410, REJECTED, REJECTED},
        {414, REJECTED, REJECTED},
        {423, REJECTED, REJECTED},
        {499, REJECTED, REJECTED},
        {501, SYSTEMIC, SYSTEMIC},
        {505, SYSTEMIC, SYSTEMIC},
        {507, TRANSIENT, TRANSIENT},
        {509, TRANSIENT, TRANSIENT},
        {511, SYSTEMIC, SYSTEMIC},
        {599, TRANSIENT, TRANSIENT},
        {200, SYSTEMIC, SYSTEMIC},
        {202, SYSTEMIC, SYSTEMIC},
        {204, SYSTEMIC, SYSTEMIC},
        {100, SYSTEMIC, SYSTEMIC},
        {301, SYSTEMIC, SYSTEMIC},
        {302, SYSTEMIC, SYSTEMIC},
        {0, SYSTEMIC, SYSTEMIC},
        {-1, SYSTEMIC, SYSTEMIC},
        {600, SYSTEMIC, SYSTEMIC},
        {99999, SYSTEMIC, SYSTEMIC},
    };
    size_t i;

    (void)state;
    for (i = 0; i < N_ELEMS(cases); i++) {
        pf_class a = pf_classify_graph(PF_TRANSPORT_OK, cases[i].status, false);
        pf_class b = pf_classify_graph(PF_TRANSPORT_OK, cases[i].status, true);

        if (a != cases[i].first)
            fail_class("graph", cases[i].status, a, cases[i].first);
        if (b != cases[i].again)
            fail_class("graph after refresh", cases[i].status, b,
                       cases[i].again);
    }
}

static const struct {
    pf_transport t;
    const char *name;
    pf_class cls;
    bool reached_if_sent; /* may_have_reached with request_sent */
} transports[] = {
    {PF_TRANSPORT_DNS, "dns", TRANSIENT, false},
    {PF_TRANSPORT_CONNECT, "connect", TRANSIENT, false},
    {PF_TRANSPORT_TLS_HANDSHAKE, "tls_handshake", TRANSIENT, false},
    {PF_TRANSPORT_TLS_VERIFY, "tls_verify", SYSTEMIC, false},
    {PF_TRANSPORT_TIMEOUT, "timeout", TRANSIENT, true},
    {PF_TRANSPORT_BROKEN, "broken", TRANSIENT, true},
    {PF_TRANSPORT_OTHER, "other", SYSTEMIC, true},
};

static void transport_errors_classify_without_status(void **state)
{
    static const long statuses[] = {0, 201, 400, 503};
    size_t i, j;

    (void)state;
    for (i = 0; i < N_ELEMS(transports); i++) {
        /* The status is ignored once the transport failed. */
        for (j = 0; j < N_ELEMS(statuses); j++) {
            assert_int_equal(
                pf_classify_graph(transports[i].t, statuses[j], false),
                transports[i].cls);
            assert_int_equal(
                pf_classify_graph(transports[i].t, statuses[j], true),
                transports[i].cls);
            assert_int_equal(
                pf_classify_token(transports[i].t, statuses[j], NULL),
                transports[i].cls);
        }
    }
}

static void
token_errors_are_systemic_except_temporarily_unavailable(void **state)
{
    /* Every OAuth2 `error` value Entra documents, at statuses it uses. */
    static const struct {
        const char *error;
        long status;
        pf_class cls;
    } cases[] = {
        {"invalid_request", 400, SYSTEMIC},
        {"invalid_grant", 400, SYSTEMIC},
        {"unauthorized_client", 400, SYSTEMIC},
        {"invalid_client", 401, SYSTEMIC},
        {"invalid_client", 400, SYSTEMIC},
        {"unsupported_grant_type", 400, SYSTEMIC},
        {"invalid_resource", 400, SYSTEMIC},
        {"invalid_scope", 400, SYSTEMIC},
        {"temporarily_unavailable", 503, TRANSIENT},
        /* A known code wins over the status. */
        {"temporarily_unavailable", 400, TRANSIENT},
        {"invalid_client", 500, SYSTEMIC},
        /* Unknown codes and no code: the status decides. */
        {"server_error", 500, TRANSIENT},
        {"Invalid_Client", 400, SYSTEMIC},
        {"", 429, TRANSIENT},
        {NULL, 408, TRANSIENT},
        {NULL, 429, TRANSIENT},
        {NULL, 500, TRANSIENT},
        {NULL, 502, TRANSIENT},
        {NULL, 503, TRANSIENT},
        {NULL, 504, TRANSIENT},
        {NULL, 400, SYSTEMIC},
        {NULL, 401, SYSTEMIC},
        {NULL, 403, SYSTEMIC},
        {NULL, 404, SYSTEMIC},
        {NULL, 200, SYSTEMIC},
        {NULL, 302, SYSTEMIC},
        {NULL, 0, SYSTEMIC},
    };
    size_t i;

    (void)state;
    for (i = 0; i < N_ELEMS(cases); i++) {
        pf_class got =
            pf_classify_token(PF_TRANSPORT_OK, cases[i].status, cases[i].error);

        if (got != cases[i].cls)
            fail_msg("token %s/%ld: got %s, want %s",
                     cases[i].error ? cases[i].error : "(null)",
                     cases[i].status, pf_classify_name(got),
                     pf_classify_name(cases[i].cls));
    }
}

static void token_never_rejects_the_event(void **state)
{
    long s;

    (void)state;
    for (s = 0; s <= 700; s++) {
        pf_class c = pf_classify_token(PF_TRANSPORT_OK, s, NULL);

        assert_true(c == TRANSIENT || c == SYSTEMIC);
    }
}

static void may_have_reached_after_sending_or_server_failure(void **state)
{
    static const struct {
        long status;
        bool reached;
    } statuses[] = {
        {201, false}, {400, false}, {401, false}, {403, false}, {404, false},
        {408, false}, {409, false}, {412, false}, {413, false}, {415, false},
        {422, false}, {429, false}, {500, true},  {501, true},  {502, true},
        {503, true},  {504, true},  {200, true},  {202, true},  {204, true},
        {302, false}, {0, false},
    };
    size_t i;

    (void)state;
    for (i = 0; i < N_ELEMS(statuses); i++) {
        bool got = pf_classify_may_have_reached(PF_TRANSPORT_OK,
                                                statuses[i].status, true);

        if (got != statuses[i].reached)
            fail_msg("status %ld: got %d", statuses[i].status, got);
        /* request_sent only matters for transport errors. */
        assert_int_equal(pf_classify_may_have_reached(
                             PF_TRANSPORT_OK, statuses[i].status, false),
                         statuses[i].reached);
    }
    for (i = 0; i < N_ELEMS(transports); i++) {
        assert_int_equal(pf_classify_may_have_reached(transports[i].t, 0, true),
                         transports[i].reached_if_sent);
        assert_false(pf_classify_may_have_reached(transports[i].t, 0, false));
    }
}

static void names_are_stable_labels(void **state)
{
    static const struct {
        pf_class c;
        const char *name;
    } classes[] = {
        {CREATED, "created"},   {TRANSIENT, "transient"},
        {REJECTED, "rejected"}, {SYSTEMIC, "systemic"},
        {REAUTH, "reauth"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < N_ELEMS(classes); i++)
        assert_string_equal(pf_classify_name(classes[i].c), classes[i].name);
    assert_string_equal(pf_classify_name((pf_class)99), "unknown");

    assert_string_equal(pf_classify_transport_name(PF_TRANSPORT_OK), "ok");
    for (i = 0; i < N_ELEMS(transports); i++)
        assert_string_equal(pf_classify_transport_name(transports[i].t),
                            transports[i].name);
    assert_string_equal(pf_classify_transport_name((pf_transport)99),
                        "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(graph_statuses_map_to_product_classes),
        cmocka_unit_test(transport_errors_classify_without_status),
        cmocka_unit_test(
            token_errors_are_systemic_except_temporarily_unavailable),
        cmocka_unit_test(token_never_rejects_the_event),
        cmocka_unit_test(may_have_reached_after_sending_or_server_failure),
        cmocka_unit_test(names_are_stable_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
