/*
 * test_token.c - the token source against a loopback token endpoint (real
 * libcurl, no mocks) that answers what a broken or hostile one might:
 * lifetimes of any size and type, tokens with control bytes, other token
 * types, error texts with terminal escapes. Fetches are counted at the
 * server; nothing here asserts how long anything took.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "loopback.h"
#include "provflow/http.h"
#include "provflow/timers.h"
#include "provflow/token.h"

#define SECRET "s3cr3t-value"

/* The endpoint's answer, set by the test, read by the server's thread. */
static pthread_mutex_t reply_mu = PTHREAD_MUTEX_INITIALIZER;
static int reply_status = 200;
static char reply_body[2048];

static void set_reply(int status, const char *body)
{
    pthread_mutex_lock(&reply_mu);
    reply_status = status;
    snprintf(reply_body, sizeof(reply_body), "%s", body);
    pthread_mutex_unlock(&reply_mu);
}

static bool token_endpoint(const lb_request *req, char **resp, size_t *len,
                           void *arg)
{
    (void)req;
    (void)arg;
    pthread_mutex_lock(&reply_mu);
    *resp = lb_reply(reply_status, "", reply_body, len);
    pthread_mutex_unlock(&reply_mu);
    return true;
}

typedef struct env {
    lb_server *srv;
    pf_timers *timers;
    pf_http *http;
    pf_tokens *tokens;
    pf_token_source *src;
} env;

/* A token set with one credential (a secret, or the federated file). */
static void env_open(env *e, int64_t min_interval_ms, const char *federated)
{
    pf_http_config hc;
    pf_token_config tc;
    pf_credential cred = {
        .tenant_id = "t1",
        .client_id = "c1",
        .kind = federated != NULL ? PF_CRED_FEDERATED : PF_CRED_SECRET,
        .secret = SECRET,
        .federated_token_file = federated,
    };
    char err[256];

    memset(e, 0, sizeof(*e));
    e->srv = lb_start(token_endpoint, NULL);
    assert_non_null(e->srv);
    e->timers = pf_timers_new();
    assert_non_null(e->timers);
    pf_http_config_default(&hc);
    hc.allow_http = true;
    e->http = pf_http_new(&hc, err, sizeof(err));
    assert_non_null(e->http);
    pf_token_config_default(&tc);
    tc.authority_host = lb_url(e->srv);
    tc.scope = "https://graph.microsoft.com/.default";
    tc.min_fetch_interval_ms = min_interval_ms;
    e->tokens = pf_tokens_new(e->http, e->timers, &tc, err, sizeof(err));
    assert_non_null(e->tokens);
    e->src = pf_tokens_add(e->tokens, &cred, err, sizeof(err));
    assert_non_null(e->src);
}

static void env_close(env *e)
{
    pf_tokens_destroy(e->tokens);
    pf_http_destroy(e->http);
    pf_timers_destroy(e->timers);
    lb_stop(e->srv);
}

/* One turn of a loop like send's: timers, then HTTP. */
static void turn(env *e, int max_wait_ms)
{
    int64_t now = pf_now_ms(), due;
    int timeout;

    pf_timers_run(e->timers, now);
    due = pf_timers_next_due(e->timers);
    timeout = due <= now                ? 0
              : due - now > max_wait_ms ? max_wait_ms
                                        : (int)(due - now);
    assert_true(pf_http_poll(e->http, NULL, 0, timeout) >= 0);
}

/* Fetches finished (either way). */
static uint64_t finished(env *e)
{
    uint64_t ok, failed;

    pf_token_counts(e->src, &ok, &failed);
    return ok + failed;
}

/* Turns until n fetches have finished; 30 s at most. */
static void wait_fetches(env *e, uint64_t n)
{
    int64_t deadline = pf_now_ms() + 30000;

    while (finished(e) < n && pf_now_ms() < deadline)
        turn(e, 50);
    assert_true(finished(e) >= n);
}

/* --- lifetimes ------------------------------------------------------------ */

static void lifetimes_of_any_size_and_type_are_clamped(void **state)
{
    /* refresh_ms: when the refresh is due after the token arrives. */
    static const struct {
        const char *members;
        int64_t refresh_ms;
    } cases[] = {
        /* Over a day: a day (served 24 h - 5 min, refreshed at 12 h). */
        {"\"expires_in\": 9223372036854775807", 12 * 3600 * 1000LL},
        {"\"expires_in\": 18446744073709551616", 12 * 3600 * 1000LL},
        {"\"expires_in\": 1e300", 12 * 3600 * 1000LL},
        {"\"expires_in\": \"1e400\"", 12 * 3600 * 1000LL},
        {"\"expires_in\": 864000", 12 * 3600 * 1000LL},
        /* 0 or less: 1 s (served 750 ms, refreshed at 500 ms). */
        {"\"expires_in\": -9223372036854775808", 500},
        {"\"expires_in\": -1e300", 500},
        {"\"expires_in\": -5", 500},
        {"\"expires_in\": 0", 500},
        {"\"expires_in\": 0.5", 500},
        {"\"expires_in\": \"-inf\"", 500},
        /* Quoted numbers are numbers. */
        {"\"expires_in\": \"3600\"", 1800 * 1000},
        {"\"expires_in\": 3600.9", 1800 * 1000},
        /* Missing or not a number: 3599 s. */
        {"\"other\": 1", 1799500},
        {"\"expires_in\": \"abc\"", 1799500},
        {"\"expires_in\": \"nan\"", 1799500},
        {"\"expires_in\": null", 1799500},
        {"\"expires_in\": true", 1799500},
        {"\"expires_in\": {}", 1799500},
        /* refresh_in: capped by the lifetime and the serving window. */
        {"\"expires_in\": 3600, \"refresh_in\": 9223372036854775807",
         3000 * 1000},
        {"\"expires_in\": 3600, \"refresh_in\": 1e300", 3000 * 1000},
        {"\"expires_in\": 3600, \"refresh_in\": -1e300", 1800 * 1000},
        {"\"expires_in\": 3600, \"refresh_in\": -1", 1800 * 1000},
        {"\"expires_in\": 3600, \"refresh_in\": \"x\"", 1800 * 1000},
        {"\"expires_in\": 3600, \"refresh_in\": 60", 60 * 1000},
    };
    char body[512];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t gen;
        int64_t due;
        env e;

        print_message("case %zu: %s\n", i, cases[i].members);
        snprintf(body, sizeof(body),
                 "{\"token_type\": \"Bearer\", \"access_token\": "
                 "\"tok-%zu\", %s}",
                 i, cases[i].members);
        set_reply(200, body);
        env_open(&e, 1000, NULL);
        pf_tokens_prefetch(e.tokens);
        wait_fetches(&e, 1);
        due = pf_timers_next_due(e.timers) - pf_now_ms();
        assert_null(pf_token_last_failure(e.src));
        /* Served now; the refresh is planned where the clamps put it. */
        assert_non_null(pf_token_get(e.src, &gen));
        assert_true(due <= cases[i].refresh_ms);
        assert_true(due > cases[i].refresh_ms - 5000);
        env_close(&e);
    }
}

/* --- no refresh hot loop ---------------------------------------------------
 */

/* Turns for ms milliseconds of wall time. */
static void run_for(env *e, int64_t ms, bool invalidate)
{
    int64_t start = pf_now_ms(), end = start + ms;
    uint64_t gen;

    while (pf_now_ms() < end) {
        /* Like a job: ask for the token; like Graph's 401: drop it. */
        if (pf_token_get(e->src, &gen) != NULL && invalidate)
            pf_token_invalidate(e->src, gen);
        turn(e, 20);
    }
}

static void a_huge_lifetime_makes_one_fetch(void **state)
{
    env e;

    (void)state;
    set_reply(200, "{\"token_type\": \"Bearer\", \"access_token\": \"t\", "
                   "\"expires_in\": 9223372036854775807, "
                   "\"refresh_in\": 9223372036854775807}");
    env_open(&e, 0, NULL);
    pf_tokens_prefetch(e.tokens);
    wait_fetches(&e, 1);
    run_for(&e, 300, false);
    assert_int_equal(lb_requests(e.srv), 1);
    assert_true(pf_tokens_ready(e.tokens));
    env_close(&e);
}

/*
 * Tokens valid for 0 s, and a caller that drops every token it is given
 * (as Graph answering 401 to each would make it): fetches start at least
 * min_fetch_interval_ms apart, however the loop turns.
 */
static void zero_lifetimes_and_invalidations_do_not_spin(void **state)
{
    static const struct {
        const char *body;
        bool invalidate;
    } cases[] = {
        {"{\"token_type\": \"Bearer\", \"access_token\": \"t\", "
         "\"expires_in\": 0}",
         false},
        {"{\"token_type\": \"Bearer\", \"access_token\": \"t\", "
         "\"expires_in\": 3600}",
         true},
        {"{\"token_type\": \"Bearer\", \"access_token\": \"t\", "
         "\"expires_in\": -1, \"refresh_in\": -1}",
         true},
    };
    const int64_t interval = 100;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t start, took;
        env e;

        print_message("case %zu\n", i);
        set_reply(200, cases[i].body);
        env_open(&e, interval, NULL);
        start = pf_now_ms();
        pf_tokens_prefetch(e.tokens);
        wait_fetches(&e, 1);
        run_for(&e, 1000, cases[i].invalidate);
        took = pf_now_ms() - start;
        /*
         * Every fetch started within took ms, each at least interval
         * after the one before: the first plus one per interval at most.
         */
        print_message("  %d fetches in %lld ms\n", lb_requests(e.srv),
                      (long long)took);
        assert_true(lb_requests(e.srv) >= 1);
        assert_true(lb_requests(e.srv) <= took / interval + 1);
        env_close(&e);
    }
}

/* --- refused tokens --------------------------------------------------------
 */

static void tokens_that_cannot_be_sent_are_refused(void **state)
{
    static const struct {
        const char *token, *type, *why;
    } cases[] = {
        {"a\\r\\nX-Injected: 1", "Bearer", "access_token holds"},
        {"a\\nX-Injected: 1", "Bearer", "access_token holds"},
        {"a\\rb", "Bearer", "access_token holds"},
        {"a\\u0001b", "Bearer", "access_token holds"},
        {"a\\u001b[2Jb", "Bearer", "access_token holds"},
        {"a\\u007fb", "Bearer", "access_token holds"},
        {"a b", "Bearer", "access_token holds"},
        {"caf\\u00e9", "Bearer", "access_token holds"},
        {"", "Bearer", "empty access_token"},
        {"good", "mac", "token_type \"mac\" is not Bearer"},
        {"good", "Bearer ", "token_type \"Bearer \" is not Bearer"},
        {"good", "PoP", "token_type \"PoP\" is not Bearer"},
        {"good", NULL, "token_type none is not Bearer"},
    };
    char body[512];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const pf_token_failure *f;
        char type[64] = "";
        env e;

        print_message("case %zu: %s\n", i, cases[i].token);
        if (cases[i].type != NULL)
            snprintf(type, sizeof(type), "\"token_type\": \"%s\", ",
                     cases[i].type);
        snprintf(body, sizeof(body),
                 "{%s\"access_token\": \"%s\", \"expires_in\": 3600}", type,
                 cases[i].token);
        set_reply(200, body);
        env_open(&e, 1000, NULL);
        pf_tokens_prefetch(e.tokens);
        wait_fetches(&e, 1);
        f = pf_token_last_failure(e.src);
        assert_non_null(f);
        assert_int_equal(f->cls, PF_CLASS_SYSTEMIC);
        assert_int_equal(f->http_status, 200);
        assert_string_equal(f->error, "invalid_response");
        assert_non_null(strstr(f->description, cases[i].why));
        assert_null(strstr(f->description, "Injected"));
        assert_false(pf_tokens_ready(e.tokens));
        env_close(&e);
    }
}

static void bearer_is_compared_without_case(void **state)
{
    static const char *types[] = {"Bearer", "bearer", "BEARER"};
    char body[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        uint64_t gen;
        const char *tok;
        env e;

        snprintf(body, sizeof(body),
                 "{\"token_type\": \"%s\", \"access_token\": "
                 "\"eyJ0eXAi.eyJhdWQi.c2ln-_~+/=\", \"expires_in\": 3600}",
                 types[i]);
        set_reply(200, body);
        env_open(&e, 1000, NULL);
        pf_tokens_prefetch(e.tokens);
        wait_fetches(&e, 1);
        tok = pf_token_get(e.src, &gen);
        assert_non_null(tok);
        assert_string_equal(tok, "eyJ0eXAi.eyJhdWQi.c2ln-_~+/=");
        env_close(&e);
    }
}

/* --- failures --------------------------------------------------------------
 */

static void error_texts_from_the_endpoint_lose_their_control_bytes(void **state)
{
    const pf_token_failure *f;
    env e;

    (void)state;
    set_reply(400, "{\"error\": \"invalid_client\\u001b[2J\", "
                   "\"error_description\": \"AADSTS7000215: Invalid "
                   "client secret " SECRET ".\\r\\nTrace ID: "
                   "x\\u001b]0;pwned\\u0007 \\u009b1m\"}");
    env_open(&e, 1000, NULL);
    pf_tokens_prefetch(e.tokens);
    wait_fetches(&e, 1);
    f = pf_token_last_failure(e.src);
    assert_non_null(f);
    assert_int_equal(f->cls, PF_CLASS_SYSTEMIC);
    assert_int_equal(f->http_status, 400);
    assert_string_equal(f->error, "invalid_client\\x1b[2J");
    assert_string_equal(f->description,
                        "AADSTS7000215: Invalid client secret ***.  Trace "
                        "ID: x\\x1b]0;pwned\\x07 \\xc2\\x9b1m");
    env_close(&e);
}

static void unavailable_endpoints_are_transient(void **state)
{
    static const int statuses[] = {503, 429, 500};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        const pf_token_failure *f;
        env e;

        set_reply(statuses[i], "<html>busy</html>");
        env_open(&e, 1000, NULL);
        pf_tokens_prefetch(e.tokens);
        wait_fetches(&e, 1);
        f = pf_token_last_failure(e.src);
        assert_non_null(f);
        assert_int_equal(f->cls, PF_CLASS_TRANSIENT);
        assert_int_equal(f->http_status, statuses[i]);
        assert_false(f->unreachable);
        env_close(&e);
    }
}

/* --- the federated token file ----------------------------------------------
 */

static void a_federated_token_fifo_fails_without_blocking(void **state)
{
    char dir[] = "/tmp/pf-token-XXXXXX", path[64], big[64], want[160];
    const pf_token_failure *f;
    FILE *out;
    env e;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    set_reply(200, "{}");
    /* No writer ever opens the FIFO: a plain open() would block here. */
    env_open(&e, 0, path);
    pf_tokens_prefetch(e.tokens);
    wait_fetches(&e, 1);
    f = pf_token_last_failure(e.src);
    assert_non_null(f);
    assert_int_equal(f->cls, PF_CLASS_SYSTEMIC);
    snprintf(want, sizeof(want),
             "federated token file %s is not a regular file (a FIFO)", path);
    assert_string_equal(f->description, want);
    assert_int_equal(lb_requests(e.srv), 0);
    env_close(&e);

    /* Over 16 KiB: refused, not cut. */
    snprintf(big, sizeof(big), "%s/big", dir);
    out = fopen(big, "w");
    assert_non_null(out);
    for (int i = 0; i < 17 * 1024; i++)
        fputc('x', out);
    fclose(out);
    env_open(&e, 0, big);
    pf_tokens_prefetch(e.tokens);
    wait_fetches(&e, 1);
    f = pf_token_last_failure(e.src);
    assert_non_null(f);
    snprintf(want, sizeof(want),
             "federated token file %s is larger than 16384 bytes", big);
    assert_string_equal(f->description, want);
    env_close(&e);
    unlink(path);
    unlink(big);
    rmdir(dir);
}

/* --- a rotated client secret file -------------------------------------- */

#define ROT_A "rotated-secret-AAAA"
#define ROT_B "rotated-secret-BBBB" /* as long as A: an in-place rewrite */

/* The secret the endpoint accepts now; "" none. */
static char accepted[64];

/*
 * Accepts client_secret=<accepted>; else 401 invalid_client quoting the
 * request form, as an endpoint that echoes what it got might.
 */
static bool secret_endpoint(const lb_request *req, char **resp, size_t *len,
                            void *arg)
{
    char want[96], body[1024];
    const char *hit;
    bool ok;

    (void)arg;
    pthread_mutex_lock(&reply_mu);
    snprintf(want, sizeof(want), "client_secret=%s", accepted);
    hit = accepted[0] != '\0' ? strstr(req->body, want) : NULL;
    ok = hit != NULL && (hit[strlen(want)] == '&' || hit[strlen(want)] == '\0');
    pthread_mutex_unlock(&reply_mu);
    if (ok)
        *resp = lb_reply(200, "",
                         "{\"token_type\":\"Bearer\",\"expires_in\":3600,"
                         "\"access_token\":\"tok-ok\"}",
                         len);
    else {
        snprintf(body, sizeof(body),
                 "{\"error\":\"invalid_client\",\"error_description\":"
                 "\"AADSTS7000215: Invalid client secret in %.700s\"}",
                 req->body);
        *resp = lb_reply(401, "", body, len);
    }
    return true;
}

static void accept_secret(const char *secret)
{
    pthread_mutex_lock(&reply_mu);
    snprintf(accepted, sizeof(accepted), "%s", secret);
    pthread_mutex_unlock(&reply_mu);
}

/* Rewrites path in place with text and puts its times back: stat() sees
 * the same inode, size and modification time. */
static void rewrite_unseen(const char *path, const char *text)
{
    struct stat st;
    struct timespec times[2];
    FILE *f;

    assert_int_equal(stat(path, &st), 0);
    f = fopen(path, "r+");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    times[0] = st.st_atim;
    times[1] = st.st_mtim;
    assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

static void invalid_client_reads_a_rotated_secret_file_at_once(void **state)
{
    char dir[] = "/tmp/pf-token-XXXXXX", path[64], err[256], want[200];
    pf_http_config hc;
    pf_token_config tc;
    pf_credential cred = {
        .tenant_id = "t1", .client_id = "c1", .kind = PF_CRED_SECRET};
    const pf_token_failure *f;
    uint64_t gen;
    FILE *out;
    env e;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/secret", dir);
    out = fopen(path, "w");
    assert_non_null(out);
    fputs(ROT_A "\n", out);
    fclose(out);
    cred.secret_file = path;
    accept_secret(ROT_A);

    memset(&e, 0, sizeof(e));
    e.srv = lb_start(secret_endpoint, NULL);
    e.timers = pf_timers_new();
    pf_http_config_default(&hc);
    hc.allow_http = true;
    e.http = pf_http_new(&hc, err, sizeof(err));
    assert_non_null(e.srv);
    assert_non_null(e.http);
    pf_token_config_default(&tc);
    tc.authority_host = lb_url(e.srv);
    tc.scope = "https://graph.microsoft.com/.default";
    tc.min_fetch_interval_ms = 20;
    tc.systemic_retry_ms = 600000; /* only the re-read can get a token */
    e.tokens = pf_tokens_new(e.http, e.timers, &tc, err, sizeof(err));
    e.src = pf_tokens_add(e.tokens, &cred, err, sizeof(err));
    assert_non_null(e.src);
    pf_tokens_prefetch(e.tokens);
    wait_fetches(&e, 1);
    assert_null(pf_token_last_failure(e.src));
    assert_non_null(pf_token_get(e.src, &gen));

    /* Rotated at the authority and in the file, where stat() is blind:
     * A is sent, refused, the file read at once, B sent. */
    rewrite_unseen(path, ROT_B "\n");
    accept_secret(ROT_B);
    pf_token_invalidate(e.src, gen);
    wait_fetches(&e, 3);
    assert_null(pf_token_last_failure(e.src));
    assert_int_equal(lb_requests(e.srv), 3);
    assert_non_null(pf_token_get(e.src, &gen));

    /* The file gone and the secret refused: the last good one (B) is
     * sent, and the failure says why first, with no secret in it. */
    assert_int_equal(unlink(path), 0);
    accept_secret("");
    pf_token_invalidate(e.src, gen);
    wait_fetches(&e, 4);
    f = pf_token_last_failure(e.src);
    assert_non_null(f);
    assert_string_equal(f->error, "invalid_client");
    snprintf(want, sizeof(want),
             "[client secret file %s: No such file or directory; the last "
             "good credential was sent] AADSTS7000215",
             path);
    if (strncmp(f->description, want, strlen(want)) != 0)
        fail_msg("description: %s", f->description);
    assert_null(strstr(f->description, "rotated-secret"));
    assert_non_null(strstr(f->description, "client_secret=***"));
    env_close(&e);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lifetimes_of_any_size_and_type_are_clamped),
        cmocka_unit_test(a_huge_lifetime_makes_one_fetch),
        cmocka_unit_test(zero_lifetimes_and_invalidations_do_not_spin),
        cmocka_unit_test(tokens_that_cannot_be_sent_are_refused),
        cmocka_unit_test(bearer_is_compared_without_case),
        cmocka_unit_test(
            error_texts_from_the_endpoint_lose_their_control_bytes),
        cmocka_unit_test(unavailable_endpoints_are_transient),
        cmocka_unit_test(a_federated_token_fifo_fails_without_blocking),
        cmocka_unit_test(invalid_client_reads_a_rotated_secret_file_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
