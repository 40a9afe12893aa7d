/*
 * test_http.c - the HTTP client against a loopback server that misbehaves
 * on purpose (real libcurl, no mocks): connections closed before any
 * answer, giant headers, oversized bodies, the Location header, and text
 * from the server that must not carry control bytes onward.
 */
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

#include "loopback.h"
#include "provflow/http.h"
#include "provflow/timers.h"

/* What the callback saw, copied out of the response. */
typedef struct seen {
    bool done;
    pf_http_response resp; /* body pointer not valid after the callback */
    char body[64];
} seen;

static void on_done(void *arg, const pf_http_response *resp)
{
    seen *s = arg;

    s->done = true;
    s->resp = *resp;
    snprintf(s->body, sizeof(s->body), "%.*s", (int)resp->body_len, resp->body);
    s->resp.body = NULL;
}

static pf_http *client(size_t max_response)
{
    pf_http_config cfg;
    char err[256];
    pf_http *h;

    pf_http_config_default(&cfg);
    cfg.allow_http = true;
    cfg.timeout_ms = 20000;
    if (max_response > 0)
        cfg.max_response_bytes = max_response;
    h = pf_http_new(&cfg, err, sizeof(err));
    assert_non_null(h);
    return h;
}

/* One request to path on srv through h; waits (by events, 30 s at most)
 * for its end. */
static void exchange_at(pf_http *h, lb_server *srv, const char *method,
                        const char *path, const char *body, seen *out)
{
    char url[256], err[256];
    pf_http_request req = {
        .method = method,
        .url = url,
        .content_type = body != NULL ? "application/json" : NULL,
        .body = body,
        .body_len = body != NULL ? strlen(body) : 0,
    };
    int64_t deadline = pf_now_ms() + 30000;

    memset(out, 0, sizeof(*out));
    snprintf(url, sizeof(url), "%s%s", lb_url(srv), path);
    assert_non_null(pf_http_submit(h, &req, on_done, out, err, sizeof(err)));
    while (!out->done && pf_now_ms() < deadline)
        assert_true(pf_http_poll(h, NULL, 0, 100) >= 0);
    assert_true(out->done);
}

/* One request to srv's /x. */
static void exchange(pf_http *h, lb_server *srv, const char *method,
                     const char *body, seen *out)
{
    exchange_at(h, srv, method, "/x", body, out);
}

/* --- handlers (on the server's thread) ----------------------------------- */

/* Answers the first request of each connection, closes on the second. */
static bool answer_then_close(const lb_request *req, char **resp, size_t *len,
                              void *arg)
{
    (void)arg;
    if (req->index > 0) {
        *resp = NULL;
        return false;
    }
    *resp = lb_reply(200, "", "{}", len);
    return true;
}

static bool close_at_once(const lb_request *req, char **resp, size_t *len,
                          void *arg)
{
    (void)req;
    (void)arg;
    (void)len;
    *resp = NULL;
    return false;
}

/* One header line of 200 KiB: over libcurl's own 100 KiB line limit. */
static bool giant_header_line(const lb_request *req, char **resp, size_t *len,
                              void *arg)
{
    size_t n = 200 * 1024;
    char *h = malloc(n + 16);

    (void)req;
    (void)arg;
    memcpy(h, "X-Big: ", 7);
    memset(h + 7, 'a', n);
    memcpy(h + 7 + n, "\r\n", 3);
    *resp = lb_reply(200, h, "{}", len);
    free(h);
    return false;
}

/* 100 header lines of 1 KiB: each fine, together over 64 KiB. */
static bool many_headers(const lb_request *req, char **resp, size_t *len,
                         void *arg)
{
    size_t line = 1024, count = 100, i;
    char *h = malloc(count * line + 1), *p = h;

    (void)req;
    (void)arg;
    for (i = 0; i < count; i++) {
        int n = snprintf(p, line, "X-H%03zu: ", i);

        memset(p + n, 'b', line - (size_t)n - 2);
        memcpy(p + line - 2, "\r\n", 2);
        p += line;
    }
    *p = '\0';
    *resp = lb_reply(200, h, "{}", len);
    free(h);
    return false;
}

/* A 2 MiB body: over the client's 1 MiB default. */
static bool huge_body(const lb_request *req, char **resp, size_t *len,
                      void *arg)
{
    size_t n = 2 * 1024 * 1024;
    char *b = malloc(n + 1);

    (void)req;
    (void)arg;
    memset(b, ' ', n);
    b[n] = '\0';
    *resp = lb_reply(200, "", b, len);
    free(b);
    return false;
}

/* The response's headers are the handler's argument. */
static bool with_headers(const lb_request *req, char **resp, size_t *len,
                         void *arg)
{
    (void)req;
    *resp = lb_reply(201, arg, "{\"id\":\"f1\"}", len);
    return false;
}

/* Answers, then closes the connection without saying so (no
 * "Connection: close"): the client keeps it, idle, until it finds it dead.
 * The connection's number goes into the body. */
static bool answer_and_hang_up(const lb_request *req, char **resp, size_t *len,
                               void *arg)
{
    char body[32];

    (void)arg;
    snprintf(body, sizeof(body), "{\"conn\":%d}", req->conn);
    *resp = lb_reply(200, "", body, len);
    return false;
}

/* The same answer on a connection kept open. */
static bool answer_and_keep(const lb_request *req, char **resp, size_t *len,
                            void *arg)
{
    answer_and_hang_up(req, resp, len, arg);
    return true;
}

/* Bodies of 3,000 bytes, 2 bytes and none in turn, by the request's
 * number; the connection is kept. */
static bool long_short_empty(const lb_request *req, char **resp, size_t *len,
                             void *arg)
{
    static char body[3001];

    (void)arg;
    memset(body, 'x', 3000);
    body[0] = '[';
    body[2999] = ']';
    body[3000] = '\0';
    *resp = lb_reply(200, "",
                     req->index % 3 == 0   ? body
                     : req->index % 3 == 1 ? "{}"
                                           : "",
                     len);
    return true;
}

/* Keeps the request's raw header block in arg (a 2 KB buffer). */
static bool keep_headers(const lb_request *req, char **resp, size_t *len,
                         void *arg)
{
    snprintf(arg, 2048, "%s", req->headers);
    *resp = lb_reply(200, "", "{}", len);
    return false;
}

/* What a request carried, as the server saw it. */
typedef struct wire {
    char method[16];
    char path[128];
    char body[64];
    size_t body_len;
    bool has_length; /* a Content-Length header */
    bool has_type;   /* a Content-Type header */
    int conn;
} wire;

typedef struct wires {
    wire w[16];
    int n;
} wires;

/* Keeps each request's method, body and body headers in arg (wires);
 * the connection stays open. */
static bool keep_requests(const lb_request *req, char **resp, size_t *len,
                          void *arg)
{
    wires *ws = arg;

    if (ws->n < 16) {
        wire *w = &ws->w[ws->n++];

        snprintf(w->method, sizeof(w->method), "%s", req->method);
        snprintf(w->path, sizeof(w->path), "%.127s", req->path);
        snprintf(w->body, sizeof(w->body), "%s", req->body);
        w->body_len = req->body_len;
        w->has_length = strcasestr(req->headers, "\r\nContent-Length:");
        w->has_type = strcasestr(req->headers, "\r\nContent-Type:");
        w->conn = req->conn;
    }
    *resp = lb_reply(200, "", "{}", len);
    return true;
}

/* --- tests ---------------------------------------------------------------- */

/* Each header line the request asks for, as "Name: value". */
static void the_request_header_lines_are_sent_as_given(void **state)
{
    static char got[2048];
    lb_server *srv = lb_start(keep_headers, got);
    pf_http *h = client(0);
    char url[128], err[256];
    pf_http_request req = {
        .method = "POST",
        .url = url,
        .content_type = "application/json",
        .client_request_id = "3728211e-0b52-52d4-9d9a-abe719a20b73",
        .traceparent = "00-0af7651916cd43dd8448eb211c80319c-"
                       "b7ad6b7169203331-01",
        .tracestate = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        .bearer = "eyJ0eXAi.tok.sig",
        .body = "{}",
        .body_len = 2,
    };
    int64_t deadline = pf_now_ms() + 30000;
    seen s = {0};

    (void)state;
    assert_non_null(srv);
    snprintf(url, sizeof(url), "%s/x", lb_url(srv));
    assert_non_null(pf_http_submit(h, &req, on_done, &s, err, sizeof(err)));
    while (!s.done && pf_now_ms() < deadline)
        assert_true(pf_http_poll(h, NULL, 0, 100) >= 0);
    assert_int_equal(s.resp.status, 200);
    assert_non_null(strstr(got, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(got, "\r\nclient-request-id: "
                                "3728211e-0b52-52d4-9d9a-abe719a20b73\r\n"));
    assert_non_null(strstr(got, "\r\ntraceparent: 00-0af7651916cd43dd8448eb"
                                "211c80319c-b7ad6b7169203331-01\r\n"));
    assert_non_null(strstr(
        got, "\r\ntracestate: rojo=00f067aa0ba902b7,congo=t61rcWkgMzE\r\n"));
    assert_non_null(
        strstr(got, "\r\nAuthorization: Bearer eyJ0eXAi.tok.sig\r\n"));
    assert_non_null(strstr(got, "\r\nAccept: application/json\r\n"));
    pf_http_destroy(h);
    lb_stop(srv);
}

/*
 * An idle connection stays in the epoll set between requests (http.c,
 * on_socket); when the server closes it, its end-of-file must not keep
 * the loop busy, and its socket number, reused for the next connection,
 * must be watched anew, or the request would never finish.
 */
static void a_connection_closed_while_idle_gives_way_to_a_new_one(void **state)
{
    lb_server *srv = lb_start(answer_and_hang_up, NULL);
    pf_http *h = client(0);
    char want[32];
    seen s;
    int i, turns;

    (void)state;
    assert_non_null(srv);
    for (i = 0; i < 4; i++) {
        exchange(h, srv, "POST", "{\"a\":1}", &s);
        assert_int_equal(s.resp.transport, PF_TRANSPORT_OK);
        assert_int_equal(s.resp.status, 200);
        snprintf(want, sizeof(want), "{\"conn\":%d}", i);
        assert_string_equal(s.body, want);
        /* idle turns: the closed connection's event is taken, not kept */
        for (turns = 0; turns < 3; turns++)
            assert_true(pf_http_poll(h, NULL, 0, 20) >= 0);
    }
    pf_http_destroy(h);
    lb_stop(srv);
}

/* Many requests on one kept-alive connection, one after the other. */
static void requests_follow_each_other_on_a_kept_connection(void **state)
{
    lb_server *srv = lb_start(answer_and_keep, NULL);
    pf_http *h = client(0);
    seen s;
    int i;

    (void)state;
    assert_non_null(srv);
    for (i = 0; i < 20; i++) {
        exchange(h, srv, i % 2 ? "GET" : "POST", i % 2 ? NULL : "{}", &s);
        assert_int_equal(s.resp.transport, PF_TRANSPORT_OK);
        assert_int_equal(s.resp.status, 200);
        assert_string_equal(s.body, "{\"conn\":0}");
    }
    assert_int_equal(lb_requests(srv), 20);
    pf_http_destroy(h);
    lb_stop(srv);
}

/*
 * One pooled handle serves requests one after the other, and none
 * inherits the previous one's method, body or headers (http.c keeps the
 * handle's options between requests instead of resetting them): a GET
 * or DELETE after a POST sends no body, a POST after them sends its own.
 */
static void a_pooled_handle_carries_nothing_to_the_next_request(void **state)
{
    static const struct {
        const char *method, *body;
    } reqs[] = {
        {"POST", "{\"a\":1}"}, {"GET", NULL},         {"POST", "{\"b\":22}"},
        {"DELETE", NULL},      {"PATCH", "{}"},       {"GET", NULL},
        {"GET", NULL},         {"POST", "{\"c\":3}"},
    };
    static wires ws;
    lb_server *srv;
    pf_http *h = client(0);
    size_t i, n = sizeof(reqs) / sizeof(reqs[0]);
    seen s;

    (void)state;
    memset(&ws, 0, sizeof(ws));
    srv = lb_start(keep_requests, &ws);
    assert_non_null(srv);
    for (i = 0; i < n; i++) {
        exchange(h, srv, reqs[i].method, reqs[i].body, &s);
        assert_int_equal(s.resp.transport, PF_TRANSPORT_OK);
        assert_int_equal(s.resp.status, 200);
    }
    assert_int_equal(ws.n, (int)n);
    for (i = 0; i < n; i++) {
        const wire *w = &ws.w[i];
        const char *want = reqs[i].body != NULL ? reqs[i].body : "";

        assert_string_equal(w->method, reqs[i].method);
        assert_string_equal(w->body, want);
        assert_int_equal(w->body_len, strlen(want));
        assert_int_equal(w->has_length, reqs[i].body != NULL);
        assert_int_equal(w->has_type, reqs[i].body != NULL);
        assert_int_equal(w->conn, 0); /* one connection, one handle */
    }
    pf_http_destroy(h);
    lb_stop(srv);
}

/*
 * Each request of a pooled handle goes to its own URL, which http.c hands
 * to libcurl parsed (CURLOPT_CURLU) as well as text: the path and query
 * as libcurl sends them from the text alone (dot segments resolved, no
 * fragment), and a URL that the parse refuses fails as libcurl fails it,
 * without harm to the next request.
 */
static void each_request_goes_to_its_own_url(void **state)
{
    static const struct {
        const char *path, *sent; /* NULL: refused before sending */
    } reqs[] = {
        {"/x", "/x"},
        {"/v1.0/sets/a-b/flows?$filter=type%20eq%20'c'&$top=5",
         "/v1.0/sets/a-b/flows?$filter=type%20eq%20'c'&$top=5"},
        {"/a/./b/../c", "/a/c"},
        {"/q?x=1#frag", "/q?x=1"},
        {"/with space", NULL},
        {"/after", "/after"},
    };
    static wires ws;
    lb_server *srv;
    pf_http *h = client(0);
    size_t i, got = 0, n = sizeof(reqs) / sizeof(reqs[0]);
    seen s;

    (void)state;
    memset(&ws, 0, sizeof(ws));
    srv = lb_start(keep_requests, &ws);
    assert_non_null(srv);
    for (i = 0; i < n; i++) {
        exchange_at(h, srv, "GET", reqs[i].path, NULL, &s);
        if (reqs[i].sent == NULL) {
            assert_int_not_equal(s.resp.transport, PF_TRANSPORT_OK);
            assert_false(s.resp.request_sent);
            continue;
        }
        assert_int_equal(s.resp.transport, PF_TRANSPORT_OK);
        assert_int_equal(s.resp.status, 200);
        assert_true(got < (size_t)ws.n);
        assert_string_equal(ws.w[got].path, reqs[i].sent);
        got++;
    }
    assert_int_equal(ws.n, (int)got);
    pf_http_destroy(h);
    lb_stop(srv);
}

/*
 * A body's buffer serves the next answers (of any transfer): each answer
 * is its own bytes, whole, a shorter or an empty one without the longer's;
 * read 2 KB at a time, then 1 KB at a time (every transfer past
 * small_reads_after: with 0, all of them).
 */
static void an_answer_carries_only_its_own_body(void **state)
{
    lb_server *srv = lb_start(long_short_empty, NULL);
    pf_http_config cfg;
    char err[256];
    seen s;
    int pass, i;

    (void)state;
    assert_non_null(srv);
    for (pass = 0; pass < 2; pass++) {
        pf_http *h;

        pf_http_config_default(&cfg);
        cfg.allow_http = true;
        if (pass == 1)
            cfg.small_reads_after = 0;
        h = pf_http_new(&cfg, err, sizeof(err));
        assert_non_null(h);
        for (i = 0; i < 9; i++) {
            exchange(h, srv, "GET", NULL, &s);
            assert_int_equal(s.resp.transport, PF_TRANSPORT_OK);
            assert_int_equal(s.resp.status, 200);
            switch (i % 3) {
            case 0:
                assert_int_equal(s.resp.body_len, 3000);
                assert_int_equal(strlen(s.body), sizeof(s.body) - 1);
                assert_int_equal(s.body[0], '[');
                break;
            case 1:
                assert_int_equal(s.resp.body_len, 2);
                assert_string_equal(s.body, "{}");
                break;
            default:
                assert_int_equal(s.resp.body_len, 0);
                assert_string_equal(s.body, "");
            }
        }
        pf_http_destroy(h);
    }
    lb_stop(srv);
}

static void a_connection_closed_without_answer_says_so(void **state)
{
    lb_server *srv = lb_start(close_at_once, NULL);
    pf_http *h = client(0);
    seen s;

    (void)state;
    assert_non_null(srv);
    exchange(h, srv, "POST", "{\"a\":1}", &s);
    assert_int_equal(s.resp.transport, PF_TRANSPORT_BROKEN);
    assert_int_equal(s.resp.status, 0);
    assert_string_equal(s.resp.detail, "connection closed before any response");
    pf_http_destroy(h);
    lb_stop(srv);
}

/*
 * On a kept-alive connection, libcurl would resend the POST on a new one;
 * the client forbids that (on_prereq), and libcurl then says "operation
 * aborted by pre-request callback": the caller must read what happened.
 * The server sees the second POST once.
 */
static void a_reused_connection_closed_without_answer_says_so(void **state)
{
    lb_server *srv = lb_start(answer_then_close, NULL);
    pf_http *h = client(0);
    seen s;

    (void)state;
    assert_non_null(srv);
    exchange(h, srv, "POST", "{\"a\":1}", &s);
    assert_int_equal(s.resp.transport, PF_TRANSPORT_OK);
    assert_int_equal(s.resp.status, 200);
    exchange(h, srv, "POST", "{\"a\":2}", &s);
    assert_int_equal(s.resp.transport, PF_TRANSPORT_BROKEN);
    assert_string_equal(s.resp.detail, "connection closed before any response");
    assert_true(s.resp.request_sent); /* it may have been applied */
    assert_null(strstr(s.resp.detail, "callback"));
    assert_int_equal(lb_requests(srv), 2);
    pf_http_destroy(h);
    lb_stop(srv);
}

static void a_giant_header_line_is_named(void **state)
{
    lb_server *srv = lb_start(giant_header_line, NULL);
    pf_http *h = client(0);
    seen s;

    (void)state;
    assert_non_null(srv);
    exchange(h, srv, "GET", NULL, &s);
    assert_int_equal(s.resp.transport, PF_TRANSPORT_BROKEN);
    assert_string_equal(s.resp.detail,
                        "response header too large (a line over 102400 bytes)");
    pf_http_destroy(h);
    lb_stop(srv);
}

static void too_many_header_bytes_are_named(void **state)
{
    lb_server *srv = lb_start(many_headers, NULL);
    pf_http *h = client(0);
    seen s;

    (void)state;
    assert_non_null(srv);
    exchange(h, srv, "GET", NULL, &s);
    assert_int_equal(s.resp.transport, PF_TRANSPORT_BROKEN);
    assert_string_equal(s.resp.detail,
                        "response header too large (over 65536 bytes)");
    pf_http_destroy(h);
    lb_stop(srv);
}

static void a_huge_body_names_the_limit(void **state)
{
    lb_server *srv = lb_start(huge_body, NULL);
    pf_http *h = client(0);
    seen s;

    (void)state;
    assert_non_null(srv);
    exchange(h, srv, "GET", NULL, &s);
    assert_int_equal(s.resp.transport, PF_TRANSPORT_BROKEN);
    assert_string_equal(s.resp.detail,
                        "response body larger than 1048576 bytes");
    pf_http_destroy(h);
    lb_stop(srv);
}

static void the_location_header_is_kept_whole_or_not_at_all(void **state)
{
    static char long_loc[PF_HTTP_LOCATION_MAX + 64];
    const char *loc = "https://graph.example/beta/external/industryData/"
                      "outboundProvisioningFlowSets/s1/provisioningFlows/f1";
    char headers[PF_HTTP_LOCATION_MAX + 128];
    lb_server *srv;
    pf_http *h = client(0);
    seen s;

    (void)state;
    snprintf(headers, sizeof(headers), "Location: %s\r\n", loc);
    srv = lb_start(with_headers, headers);
    exchange(h, srv, "POST", "{}", &s);
    assert_int_equal(s.resp.status, 201);
    assert_string_equal(s.resp.location, loc);
    assert_string_equal(s.body, "{\"id\":\"f1\"}");
    lb_stop(srv);

    /* Absent. */
    srv = lb_start(with_headers, "X-Other: 1\r\n");
    exchange(h, srv, "POST", "{}", &s);
    assert_int_equal(s.resp.status, 201);
    assert_string_equal(s.resp.location, "");
    lb_stop(srv);

    /* Exactly the longest kept, then one byte longer: empty, not cut. */
    memset(long_loc, 'a', sizeof(long_loc));
    memcpy(long_loc, "https://x/", 10);
    long_loc[PF_HTTP_LOCATION_MAX - 1] = '\0';
    snprintf(headers, sizeof(headers), "location: %s\r\n", long_loc);
    srv = lb_start(with_headers, headers);
    exchange(h, srv, "POST", "{}", &s);
    assert_string_equal(s.resp.location, long_loc);
    lb_stop(srv);
    long_loc[PF_HTTP_LOCATION_MAX - 1] = 'a';
    long_loc[PF_HTTP_LOCATION_MAX] = '\0';
    snprintf(headers, sizeof(headers), "Location: %s\r\n", long_loc);
    srv = lb_start(with_headers, headers);
    exchange(h, srv, "POST", "{}", &s);
    assert_int_equal(s.resp.status, 201);
    assert_string_equal(s.resp.location, "");
    lb_stop(srv);

    /* A control byte inside: not a URL to follow. */
    srv = lb_start(with_headers, "Location: https://x/a\x1b[2Jb\r\n");
    exchange(h, srv, "POST", "{}", &s);
    assert_string_equal(s.resp.location, "");
    lb_stop(srv);
    pf_http_destroy(h);
}

static void header_values_from_the_server_are_sanitized(void **state)
{
    lb_server *srv =
        lb_start(with_headers, "request-id: ab\x1b[31mc\x7f\x01\r\n"
                               "Retry-After: 5\x08\x08\r\n");
    pf_http *h = client(0);
    seen s;

    (void)state;
    exchange(h, srv, "POST", "{}", &s);
    assert_string_equal(s.resp.request_id, "ab\\x1b[31mc\\x7f\\x01");
    assert_string_equal(s.resp.retry_after, "5\\x08\\x08");
    pf_http_destroy(h);
    lb_stop(srv);
}

static void sanitize_keeps_one_printable_line(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain text", "plain text"},
        {"AADSTS7000215: x.\r\nTrace ID: 1", "AADSTS7000215: x.  Trace ID: 1"},
        {"tab\there", "tab here"},
        {"esc\x1b[2J", "esc\\x1b[2J"},
        {"bell\x07 del\x7f", "bell\\x07 del\\x7f"},
        {"caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac"}, /* UTF-8 */
        {"bad \xff\xfe", "bad \\xff\\xfe"},
        {"c1 \xc2\x9b", "c1 \\xc2\\x9b"},             /* U+009B: a CSI */
        {"overlong \xc0\xaf", "overlong \\xc0\\xaf"}, /* "/" in 2 bytes */
        {"cut \xe2\x82", "cut \\xe2\\x82"},           /* truncated sequence */
    };
    char out[64];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = pf_http_sanitize(out, sizeof(out), cases[i].in,
                                    strlen(cases[i].in));

        assert_string_equal(out, cases[i].out);
        assert_int_equal(n, strlen(cases[i].out));
    }
    /* Cut to fit, never inside an escape or a character. */
    assert_int_equal(pf_http_sanitize(out, 6,
                                      "ab\x1b"
                                      "cd",
                                      5),
                     2);
    assert_string_equal(out, "ab");
    assert_int_equal(pf_http_sanitize(out, 7,
                                      "ab\x1b"
                                      "cd",
                                      5),
                     6);
    assert_string_equal(out, "ab\\x1b");
    assert_int_equal(pf_http_sanitize(out, 4, "a\xc3\xa9\xc3\xa9", 5), 3);
    assert_string_equal(out, "a\xc3\xa9");
    /* A NUL inside the given length is escaped, not an end. */
    assert_int_equal(pf_http_sanitize(out, sizeof(out), "a\0b", 3), 6);
    assert_string_equal(out, "a\\x00b");
}

/*
 * Holds every request until the test releases it; notes the connections.
 * No first answer comes to tell libcurl that a connection does not
 * multiplex: over cleartext HTTP it must not wait for one
 * (CURLOPT_PIPEWAIT is for https only, set_request() in http.c).
 */
static bool hold_each(const lb_request *req, char **resp, size_t *len,
                      void *arg)
{
    int *conns = arg;

    if (req->conn + 1 > *conns)
        *conns = req->conn + 1;
    *req->delay_ms = LB_HOLD;
    *resp = lb_reply(200, "", "{}", len);
    return true;
}

/*
 * More requests than one shard takes (256 transfers; http.c) under a
 * bound of 300 connections, so two shards: the server holds 300 at once,
 * never more (the bound holds over the shards together), the others wait
 * and follow on the connections the first ones leave, and every request
 * is answered. A second round reuses the connections of the first.
 */
static void the_connection_bound_holds_over_the_shards(void **state)
{
    enum { BOUND = 300, N = 400 };
    static seen out[N];
    char url[128], err[256];
    pf_http_request req = {.method = "GET", .url = url};
    pf_http_config cfg;
    int conns = 0, round, i, done;
    lb_server *srv = lb_start(hold_each, &conns);
    pf_http *h;
    int64_t deadline;

    (void)state;
    assert_non_null(srv);
    pf_http_config_default(&cfg);
    cfg.allow_http = true;
    cfg.timeout_ms = 60000;
    cfg.max_connections = BOUND;
    h = pf_http_new(&cfg, err, sizeof(err));
    assert_non_null(h);
    snprintf(url, sizeof(url), "%s/x", lb_url(srv));
    for (round = 0; round < 2; round++) {
        memset(out, 0, sizeof(out));
        for (i = 0; i < N; i++)
            assert_non_null(
                pf_http_submit(h, &req, on_done, &out[i], err, sizeof(err)));
        deadline = pf_now_ms() + 30000;
        while (lb_in_flight(srv) < BOUND && pf_now_ms() < deadline)
            assert_true(pf_http_poll(h, NULL, 0, 10) >= 0);
        assert_int_equal(lb_in_flight(srv), BOUND);
        for (i = 0; i < 20; i++) /* the 100 others stay queued */
            assert_true(pf_http_poll(h, NULL, 0, 10) >= 0);
        assert_int_equal(lb_max_in_flight(srv), BOUND);
        do {
            lb_release(srv);
            assert_true(pf_http_poll(h, NULL, 0, 10) >= 0);
            for (done = 0, i = 0; i < N; i++)
                done += out[i].done;
        } while (done < N && pf_now_ms() < deadline);
        assert_int_equal(done, N);
        for (i = 0; i < N; i++)
            assert_int_equal(out[i].resp.status, 200);
        assert_int_equal(lb_max_in_flight(srv), BOUND);
        assert_int_equal(conns, BOUND);
    }
    pf_http_destroy(h);
    lb_stop(srv);
}

static void a_ca_file_that_is_not_a_regular_file_is_refused(void **state)
{
    char dir[] = "/tmp/pf-http-XXXXXX", path[64], err[256], want[128];
    pf_http_config cfg;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/ca.pem", dir);
    /* A FIFO without a writer: opening it to read would block for good. */
    assert_int_equal(mkfifo(path, 0600), 0);
    pf_http_config_default(&cfg);
    cfg.ca_file = path;
    assert_null(pf_http_new(&cfg, err, sizeof(err)));
    snprintf(want, sizeof(want), "CA file %s is not a regular file (a FIFO)",
             path);
    assert_string_equal(err, want);
    cfg.ca_file = dir;
    assert_null(pf_http_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "is not a regular file (a directory)"));
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_request_header_lines_are_sent_as_given),
        cmocka_unit_test(a_connection_closed_without_answer_says_so),
        cmocka_unit_test(a_pooled_handle_carries_nothing_to_the_next_request),
        cmocka_unit_test(each_request_goes_to_its_own_url),
        cmocka_unit_test(a_connection_closed_while_idle_gives_way_to_a_new_one),
        cmocka_unit_test(requests_follow_each_other_on_a_kept_connection),
        cmocka_unit_test(an_answer_carries_only_its_own_body),
        cmocka_unit_test(a_reused_connection_closed_without_answer_says_so),
        cmocka_unit_test(a_giant_header_line_is_named),
        cmocka_unit_test(too_many_header_bytes_are_named),
        cmocka_unit_test(a_huge_body_names_the_limit),
        cmocka_unit_test(the_location_header_is_kept_whole_or_not_at_all),
        cmocka_unit_test(header_values_from_the_server_are_sanitized),
        cmocka_unit_test(sanitize_keeps_one_printable_line),
        cmocka_unit_test(a_ca_file_that_is_not_a_regular_file_is_refused),
        cmocka_unit_test(the_connection_bound_holds_over_the_shards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
