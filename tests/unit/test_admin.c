/*
 * test_admin.c - the admin server's endpoints, driven as the loop drives
 * it: the test's own poll() on pf_admin_fd() and pf_admin_timeout_ms(),
 * then pf_admin_run(), while a client thread talks raw HTTP over loopback;
 * and once through pf_http_poll() with the descriptor as an extra fd.
 * The slowloris tests drive many non-blocking clients from the loop
 * thread itself.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "provflow/admin.h"
#include "provflow/http.h"
#include "provflow/metrics.h"
#include "provflow/timers.h"

/* One raw HTTP exchange, run by a client thread. */
typedef struct exchange {
    int family; /* AF_INET or AF_INET6 */
    unsigned port;
    const char *request; /* sent as is; NULL: connect and send nothing */
    int done_fd;         /* written once the exchange is over */
    /* results, read after the thread is joined */
    bool connected;
    bool eof; /* the server closed the connection */
    char response[65536];
    size_t response_len;
    int64_t elapsed_ms;
} exchange;

static void *client_main(void *arg)
{
    exchange *x = arg;
    struct sockaddr_storage ss;
    socklen_t len;
    struct timeval tv = {.tv_sec = 8};
    int64_t start = pf_now_ms();
    int fd;

    memset(&ss, 0, sizeof(ss));
    if (x->family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)x->port);
        s6->sin6_addr = in6addr_loopback;
        len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)x->port);
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*s4);
    }
    fd = socket(x->family, SOCK_STREAM, 0);
    if (fd < 0)
        goto out;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&ss, len) != 0)
        goto out;
    x->connected = true;
    if (x->request != NULL) {
        size_t off = 0, n = strlen(x->request);

        while (off < n) {
            ssize_t w = send(fd, x->request + off, n - off, MSG_NOSIGNAL);

            if (w <= 0)
                goto out;
            off += (size_t)w;
        }
    }
    while (x->response_len < sizeof(x->response) - 1) {
        ssize_t r = recv(fd, x->response + x->response_len,
                         sizeof(x->response) - 1 - x->response_len, 0);

        if (r == 0)
            x->eof = true;
        if (r <= 0)
            break;
        x->response_len += (size_t)r;
    }
out:
    x->response[x->response_len] = '\0';
    x->elapsed_ms = pf_now_ms() - start;
    if (fd >= 0)
        close(fd);
    if (write(x->done_fd, "x", 1) != 1)
        abort();
    return NULL;
}

/*
 * Runs x in a client thread while this thread is the loop: it waits on the
 * admin descriptor (and the client's "done" pipe) for no longer than
 * pf_admin_timeout_ms(), or 10 s when MHD has no deadline, so that a
 * descriptor that failed to wake the loop shows as a slow exchange.
 */
static void run_exchange(pf_admin *a, exchange *x)
{
    int pipefd[2];
    pthread_t th;
    int64_t deadline = pf_now_ms() + 20000;
    bool done = false;

    assert_int_equal(pipe(pipefd), 0);
    x->done_fd = pipefd[1];
    if (x->family == 0)
        x->family = AF_INET;
    x->port = pf_admin_port(a);
    assert_int_equal(pthread_create(&th, NULL, client_main, x), 0);
    while (!done) {
        struct pollfd p[2] = {{.fd = pf_admin_fd(a), .events = POLLIN},
                              {.fd = pipefd[0], .events = POLLIN}};
        int t = pf_admin_timeout_ms(a);

        if (t < 0)
            t = 10000;
        assert_true(poll(p, 2, t) >= 0);
        assert_true(pf_admin_run(a) >= 0);
        done = (p[1].revents & POLLIN) != 0;
        assert_true(pf_now_ms() < deadline);
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    close(pipefd[0]);
    close(pipefd[1]);
}

/* A parsed response. */
typedef struct reply {
    int status;
    char headers[4096];
    const char *body; /* into the exchange */
} reply;

static void parse_reply(const exchange *x, reply *r)
{
    const char *end = strstr(x->response, "\r\n\r\n");
    size_t n;

    memset(r, 0, sizeof(*r));
    assert_true(x->connected);
    assert_non_null(end);
    assert_int_equal(sscanf(x->response, "HTTP/1.%*d %d", &r->status), 1);
    n = (size_t)(end - x->response) + 2;
    assert_true(n < sizeof(r->headers));
    memcpy(r->headers, x->response, n);
    r->body = end + 4;
}

/* The value of header name (case-insensitive), or "" if absent. */
static const char *header(const reply *r, const char *name, char *buf,
                          size_t size)
{
    const char *p = r->headers;

    buf[0] = '\0';
    while ((p = strstr(p, "\r\n")) != NULL) {
        p += 2;
        if (strncasecmp(p, name, strlen(name)) == 0 && p[strlen(name)] == ':') {
            const char *v = p + strlen(name) + 1, *e;

            v += strspn(v, " ");
            e = strstr(v, "\r\n");
            snprintf(buf, size, "%.*s", (int)(e - v), v);
            break;
        }
    }
    return buf;
}

/* Sends `METHOD PATH` (plus extra header lines) and parses the answer. */
static void request(pf_admin *a, const char *method, const char *path,
                    const char *extra, reply *r, exchange *x)
{
    char req[1024];

    memset(x, 0, sizeof(*x));
    snprintf(req, sizeof(req),
             "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
             "\r\n",
             method, path, extra ? extra : "");
    x->request = req;
    run_exchange(a, x);
    x->request = NULL;
    /* Had the descriptor not woken the loop, it would have slept 10 s. */
    assert_true(x->elapsed_ms < 5000);
    parse_reply(x, r);
}

/* Heap-allocated exchange: 64 KiB is too much for some test stacks. */
static exchange *xnew(void)
{
    exchange *x = calloc(1, sizeof(*x));

    assert_non_null(x);
    return x;
}

static pf_admin *start(pf_admin_config *cfg)
{
    char err[256] = "";
    pf_admin *a;

    if (cfg->listen == NULL)
        cfg->listen = "127.0.0.1:0";
    a = pf_admin_new(cfg, err, sizeof(err));
    if (a == NULL)
        fail_msg("pf_admin_new: %s", err);
    assert_true(pf_admin_port(a) > 0);
    assert_true(pf_admin_fd(a) >= 0);
    return a;
}

/* ---- /healthz ---- */

static void healthz_follows_the_heartbeat(void **state)
{
    pf_admin_config cfg;
    pf_admin *a;
    exchange *x = xnew();
    reply r;
    char v[128];

    (void)state;
    pf_admin_config_default(&cfg);
    cfg.stale_ms = 30000;
    a = start(&cfg);
    request(a, "GET", "/healthz", NULL, &r, x);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    assert_string_equal(header(&r, "Content-Type", v, sizeof(v)),
                        "text/plain; charset=utf-8");

    /* A loop that turns but whose work stopped 60 s ago. */
    pf_admin_heartbeat(a, pf_now_ms() - 60000);
    request(a, "GET", "/healthz", NULL, &r, x);
    assert_int_equal(r.status, 503);
    assert_true(strncmp(r.body, "stale: last heartbeat 6", 23) == 0);
    assert_non_null(strstr(r.body, "ms ago (limit 30000)\n"));

    pf_admin_heartbeat(a, pf_now_ms());
    request(a, "GET", "/healthz?verbose=1", NULL, &r, x);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    pf_admin_destroy(a);
    free(x);
}

/* ---- /readyz ---- */

typedef struct owner {
    bool kafka_assigned;
    bool token_ok;
    int calls;
} owner;

static void owner_ready(void *arg, pf_admin_readiness *r)
{
    owner *o = arg;

    o->calls++;
    pf_admin_readiness_add(r, "kafka assigned", o->kafka_assigned, NULL);
    pf_admin_readiness_add(r, "token", o->token_ok,
                           o->token_ok ? ""
                                       : "invalid_client: \"AADSTS7000215\"");
}

static void readyz_lists_checks_and_flips(void **state)
{
    owner o = {true, true, 0};
    pf_admin_config cfg;
    pf_admin *a;
    exchange *x = xnew();
    reply r;
    char v[128];

    (void)state;
    pf_admin_config_default(&cfg);
    cfg.ready = owner_ready;
    cfg.ready_arg = &o;
    a = start(&cfg);
    request(a, "GET", "/readyz", NULL, &r, x);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Content-Type", v, sizeof(v)),
                        "application/json");
    assert_string_equal(r.body, "{\"ready\":true,\"checks\":["
                                "{\"name\":\"kafka assigned\",\"ok\":true},"
                                "{\"name\":\"token\",\"ok\":true}]}");

    o.token_ok = false;
    request(a, "GET", "/readyz", NULL, &r, x);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "{\"ready\":false,\"checks\":["
                                "{\"name\":\"kafka assigned\",\"ok\":true},"
                                "{\"name\":\"token\",\"ok\":false,\"reason\":"
                                "\"invalid_client: \\\"AADSTS7000215\\\"\"}]}");

    o.token_ok = true;
    request(a, "GET", "/readyz", NULL, &r, x);
    assert_int_equal(r.status, 200);
    assert_int_equal(o.calls, 3);
    pf_admin_destroy(a);
    free(x);
}

static void readyz_without_checks_is_ready(void **state)
{
    pf_admin_config cfg;
    pf_admin *a;
    exchange *x = xnew();
    reply r;

    (void)state;
    pf_admin_config_default(&cfg);
    a = start(&cfg);
    request(a, "GET", "/readyz", NULL, &r, x);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"ready\":true,\"checks\":[]}");
    pf_admin_destroy(a);
    free(x);
}

static void readiness_add_bounds_and_truncates(void **state)
{
    pf_admin_readiness r;
    char longname[200];
    size_t i;

    (void)state;
    memset(&r, 0, sizeof(r));
    /* "é" straddles the end of the name buffer: cut before it. */
    memset(longname, 'n', sizeof(longname));
    memcpy(longname + PF_ADMIN_CHECK_NAME_MAX - 2, "\xc3\xa9", 2);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(pf_admin_readiness_add(&r, longname, false, NULL), 0);
    assert_int_equal(strlen(r.checks[0].name), PF_ADMIN_CHECK_NAME_MAX - 2);
    assert_string_equal(r.checks[0].reason, "");
    for (i = 1; i < PF_ADMIN_CHECKS_MAX; i++)
        assert_int_equal(pf_admin_readiness_add(&r, "c", true, "why"), 0);
    assert_int_equal(pf_admin_readiness_add(&r, "one too many", true, NULL),
                     -1);
    assert_int_equal(r.count, PF_ADMIN_CHECKS_MAX);
}

/* ---- /metrics ---- */

static void metrics_serves_the_registry(void **state)
{
    pf_metrics *m = pf_metrics_new();
    pf_metric_child *c = pf_metric_with(
        pf_metrics_counter(m, "provflow_events_total", "Events.", 0, NULL),
        NULL);
    pf_admin_config cfg;
    pf_admin *a;
    exchange *x = xnew();
    reply r;
    char v[128];

    (void)state;
    pf_admin_config_default(&cfg);
    cfg.metrics = m;
    a = start(&cfg);
    request(a, "GET", "/metrics", NULL, &r, x);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Content-Type", v, sizeof(v)),
                        "text/plain; version=0.0.4; charset=utf-8");
    assert_string_equal(r.body, "# HELP provflow_events_total Events.\n"
                                "# TYPE provflow_events_total counter\n"
                                "provflow_events_total 0\n");
    pf_metric_add(c, 41);
    pf_metric_inc(c);
    request(a, "GET", "/metrics", NULL, &r, x);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\nprovflow_events_total 42\n"));
    pf_admin_destroy(a);
    pf_metrics_destroy(m);
    free(x);
}

static void metrics_of_an_empty_registry_is_empty(void **state)
{
    pf_metrics *m = pf_metrics_new();
    pf_admin_config cfg;
    pf_admin *a;
    exchange *x = xnew();
    reply r;

    (void)state;
    pf_admin_config_default(&cfg);
    cfg.metrics = m;
    a = start(&cfg);
    request(a, "GET", "/metrics", NULL, &r, x);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "");
    pf_admin_destroy(a);
    pf_metrics_destroy(m);
    free(x);
}

static void metrics_without_registry_is_404(void **state)
{
    pf_admin_config cfg;
    pf_admin *a;
    exchange *x = xnew();
    reply r;

    (void)state;
    pf_admin_config_default(&cfg);
    a = start(&cfg);
    request(a, "GET", "/metrics", NULL, &r, x);
    assert_int_equal(r.status, 404);
    pf_admin_destroy(a);
    free(x);
}

/* ---- other requests ---- */

static void unknown_paths_are_404(void **state)
{
    static const char *const paths[] = {"/",         "/healthz/", "/HEALTHZ",
                                        "/metricsx", "/readyz/x", "/admin"};
    pf_admin_config cfg;
    pf_admin *a;
    exchange *x = xnew();
    reply r;
    size_t i;

    (void)state;
    pf_admin_config_default(&cfg);
    a = start(&cfg);
    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        request(a, "GET", paths[i], NULL, &r, x);
        assert_int_equal(r.status, 404);
        assert_string_equal(r.body, "not found\n");
    }
    pf_admin_destroy(a);
    free(x);
}

static void methods_other_than_get_are_405(void **state)
{
    static const char *const methods[] = {"POST",  "PUT",  "DELETE",
                                          "PATCH", "HEAD", "OPTIONS"};
    pf_admin_config cfg;
    pf_admin *a;
    exchange *x = xnew();
    reply r;
    char v[64];
    size_t i;

    (void)state;
    pf_admin_config_default(&cfg);
    a = start(&cfg);
    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        request(a, methods[i], "/healthz", NULL, &r, x);
        assert_int_equal(r.status, 405);
        assert_string_equal(header(&r, "Allow", v, sizeof(v)), "GET");
    }
    /* With a body, too: refused before it is read. */
    request(a, "POST", "/metrics", "Content-Length: 5\r\n", &r, x);
    assert_int_equal(r.status, 405);
    pf_admin_destroy(a);
    free(x);
}

static void request_bodies_are_refused(void **state)
{
    pf_admin_config cfg;
    pf_admin *a;
    exchange *x = xnew();
    reply r;

    (void)state;
    pf_admin_config_default(&cfg);
    a = start(&cfg);
    request(a, "GET", "/healthz", "Content-Length: 5\r\n", &r, x);
    assert_int_equal(r.status, 413);
    request(a, "GET", "/healthz", "Transfer-Encoding: chunked\r\n", &r, x);
    assert_int_equal(r.status, 413);
    /* An empty body is no body. */
    request(a, "GET", "/healthz", "Content-Length: 0\r\n", &r, x);
    assert_int_equal(r.status, 200);
    pf_admin_destroy(a);
    free(x);
}

/*
 * Nothing but MHD's own deadline wakes the loop here: a client that
 * connects and stays silent is closed after connection_timeout_s.
 */
static void idle_connections_time_out(void **state)
{
    pf_admin_config cfg;
    pf_admin *a;
    exchange *x = xnew();

    (void)state;
    pf_admin_config_default(&cfg);
    cfg.connection_timeout_s = 1;
    a = start(&cfg);
    run_exchange(a, x);
    assert_true(x->connected);
    assert_true(x->eof);
    assert_int_equal(x->response_len, 0);
    assert_true(x->elapsed_ms >= 900);
    assert_true(x->elapsed_ms < 5000);
    pf_admin_destroy(a);
    free(x);
}

/* ---- clients that hold connections: slowloris ---- */

/*
 * A non-blocking client driven from the loop thread: connects, sends its
 * request (all at once, or one byte per nudge), reads what comes back.
 */
typedef struct nbclient {
    int fd;
    bool connected;
    bool closed;         /* EOF or error: the server let go of it */
    const char *request; /* NULL: says nothing */
    size_t sent;
    bool trickle; /* one byte per nbclient_nudge() */
    char response[1024];
    size_t response_len;
} nbclient;

static void nbclient_open(nbclient *c, unsigned port, const char *request,
                          bool trickle)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port)};

    memset(c, 0, sizeof(*c));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->request = request;
    c->trickle = trickle;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(c->fd >= 0);
    if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
        c->connected = true;
    else
        assert_int_equal(errno, EINPROGRESS);
}

static void nbclient_close(nbclient *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Sends what is due (everything, or one more byte when nudged). */
static void nbclient_send(nbclient *c, bool nudge)
{
    size_t n;
    ssize_t w;

    if (!c->connected || c->closed || c->request == NULL)
        return;
    n = strlen(c->request) - c->sent;
    if (n == 0 || (c->trickle && !nudge))
        return;
    w = send(c->fd, c->request + c->sent, c->trickle ? 1 : n, MSG_NOSIGNAL);
    if (w > 0)
        c->sent += (size_t)w;
    else if (errno != EAGAIN && errno != EWOULDBLOCK)
        c->closed = true;
}

/* One step: completes the connect, sends, reads; never blocks. */
static void nbclient_step(nbclient *c, bool nudge)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLOUT};

    if (c->fd < 0 || c->closed || poll(&p, 1, 0) <= 0)
        return;
    if (!c->connected && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
        int err = 0;
        socklen_t len = sizeof(err);

        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            c->closed = true;
            return;
        }
        c->connected = true;
    }
    nbclient_send(c, nudge);
    while (!c->closed && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t r = recv(c->fd, c->response + c->response_len,
                         sizeof(c->response) - 1 - c->response_len, 0);

        if (r > 0) {
            c->response_len += (size_t)r;
            c->response[c->response_len] = '\0';
            if (c->response_len == sizeof(c->response) - 1)
                break;
        } else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            c->closed = true;
        } else {
            break;
        }
    }
}

/*
 * One loop turn as the service makes it: wait on the admin descriptor no
 * longer than pf_admin_timeout_ms() (nor than max_ms, so that the clients
 * get their turn), then pf_admin_run().
 */
static void loop_turn(pf_admin *a, int max_ms)
{
    struct pollfd p = {.fd = pf_admin_fd(a), .events = POLLIN};
    int t = pf_admin_timeout_ms(a);

    if (t < 0 || t > max_ms)
        t = max_ms;
    assert_true(poll(&p, 1, t) >= 0);
    pf_admin_heartbeat(a, pf_now_ms());
    assert_true(pf_admin_run(a) >= 0);
}

static const char healthz_request[] =
    "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

/* Headers that never end: the slowloris client sends them byte by byte. */
static const char endless_headers[] =
    "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/* The attackers: idle ones say nothing, slow ones trickle headers. */
#define IDLE_CLIENTS    300
#define SLOW_CLIENTS    24
#define REOPEN_PER_TURN 16
#define NUDGE_EVERY_MS  300

typedef struct siege {
    nbclient idle[IDLE_CLIENTS];
    nbclient slow[SLOW_CLIENTS];
    unsigned port;
    int64_t next_nudge;
    size_t reopened; /* attackers the server closed, opened again */
} siege;

static void raise_fd_limit(size_t want)
{
    struct rlimit rl;

    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < want && rl.rlim_max > rl.rlim_cur) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        setrlimit(RLIMIT_NOFILE, &rl);
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    if (rl.rlim_cur < want)
        skip(); /* cannot open that many sockets here */
}

static void siege_open(siege *g, unsigned port)
{
    size_t i;

    g->port = port;
    g->reopened = 0;
    g->next_nudge = pf_now_ms();
    for (i = 0; i < IDLE_CLIENTS; i++)
        nbclient_open(&g->idle[i], port, NULL, false);
    for (i = 0; i < SLOW_CLIENTS; i++)
        nbclient_open(&g->slow[i], port, endless_headers, true);
}

/*
 * Keeps the siege up: trickles a byte on every slow client now and then,
 * and opens again (a few per turn) the attackers the server let go.
 */
static void siege_step(siege *g)
{
    bool nudge = pf_now_ms() >= g->next_nudge;
    size_t i, budget = REOPEN_PER_TURN;

    if (nudge)
        g->next_nudge = pf_now_ms() + NUDGE_EVERY_MS;
    for (i = 0; i < IDLE_CLIENTS + SLOW_CLIENTS; i++) {
        bool slow = i >= IDLE_CLIENTS;
        nbclient *c = slow ? &g->slow[i - IDLE_CLIENTS] : &g->idle[i];

        nbclient_step(c, nudge);
        if (c->closed && budget > 0) {
            nbclient_close(c);
            nbclient_open(c, g->port, slow ? endless_headers : NULL, slow);
            budget--;
            g->reopened++;
        }
    }
}

static void siege_end(siege *g)
{
    size_t i;

    for (i = 0; i < IDLE_CLIENTS; i++)
        nbclient_close(&g->idle[i]);
    for (i = 0; i < SLOW_CLIENTS; i++)
        nbclient_close(&g->slow[i]);
}

/*
 * GET /healthz until one answer comes back, turning the loop (and the
 * siege, if any) meanwhile; a probe the server closed unanswered is
 * tried again. The deadline is generous: it only stops a wedged server
 * from hanging the test. Returns the status (0: no answer in time).
 */
static int probe_healthz(pf_admin *a, siege *g, char *body, size_t size)
{
    nbclient probe;
    int64_t deadline = pf_now_ms() + 20000;
    int status = 0;

    nbclient_open(&probe, pf_admin_port(a), healthz_request, false);
    while (status == 0 && pf_now_ms() < deadline) {
        const char *end;

        loop_turn(a, 20);
        if (g != NULL)
            siege_step(g);
        nbclient_step(&probe, false);
        end = strstr(probe.response, "\r\n\r\n");
        if (end != NULL && probe.closed) {
            assert_int_equal(sscanf(probe.response, "HTTP/1.%*d %d", &status),
                             1);
            snprintf(body, size, "%s", end + 4);
        } else if (probe.closed) { /* closed unanswered: once more */
            nbclient_close(&probe);
            nbclient_open(&probe, pf_admin_port(a), healthz_request, false);
        }
    }
    nbclient_close(&probe);
    return status;
}

/* Turns the loop until the server holds no connection (or fails). */
static void wait_for_no_connections(pf_admin *a)
{
    int64_t deadline = pf_now_ms() + 20000;

    while (pf_admin_connections(a) > 0) {
        assert_true(pf_now_ms() < deadline);
        loop_turn(a, 20);
    }
}

/*
 * Hundreds of clients that connect and say nothing, and some that trickle
 * never-ending headers a byte at a time, kept up (every one the server
 * drops comes back): /healthz still answers. Then they leave, and it
 * answers again.
 */
static void healthz_answers_through_a_slowloris(void **state)
{
    pf_admin_config cfg;
    pf_admin *a;
    siege *g = calloc(1, sizeof(*g));
    char body[64];

    (void)state;
    assert_non_null(g);
    raise_fd_limit(2 * (IDLE_CLIENTS + SLOW_CLIENTS) + 64);
    pf_admin_config_default(&cfg); /* the service's limits */
    a = start(&cfg);
    siege_open(g, pf_admin_port(a));
    /* The siege is established: the server is full of attackers. */
    while (pf_admin_connections(a) < cfg.max_connections) {
        loop_turn(a, 20);
        siege_step(g);
    }
    assert_int_equal(probe_healthz(a, g, body, sizeof(body)), 200);
    assert_string_equal(body, "ok\n");
    /* It held: the server kept dropping attackers, which came back. */
    assert_true(g->reopened > 0);
    assert_int_equal(probe_healthz(a, g, body, sizeof(body)), 200);

    siege_end(g);
    wait_for_no_connections(a);
    assert_int_equal(probe_healthz(a, NULL, body, sizeof(body)), 200);
    assert_string_equal(body, "ok\n");
    pf_admin_destroy(a);
    free(g);
}

/*
 * The reported wedge: as many idle connections as the limit (and more
 * waiting to be accepted), all closed by their clients; MHD had stopped
 * accepting at its limit and nothing made it start again.
 */
static void healthz_answers_after_idle_clients_leave(void **state)
{
    pf_admin_config cfg;
    pf_admin *a;
    nbclient idle[3 * PF_ADMIN_MAX_CONNECTIONS_DEFAULT];
    char body[64];
    size_t i;

    (void)state;
    pf_admin_config_default(&cfg);
    cfg.connection_timeout_s = 60; /* nothing times out during the test */
    a = start(&cfg);
    for (i = 0; i < sizeof(idle) / sizeof(idle[0]); i++)
        nbclient_open(&idle[i], pf_admin_port(a), NULL, false);
    while (pf_admin_connections(a) < cfg.max_connections)
        loop_turn(a, 20);
    for (i = 0; i < sizeof(idle) / sizeof(idle[0]); i++)
        nbclient_close(&idle[i]);
    wait_for_no_connections(a);
    assert_int_equal(probe_healthz(a, NULL, body, sizeof(body)), 200);
    assert_string_equal(body, "ok\n");
    pf_admin_destroy(a);
}

/*
 * A client that sends a header byte well within the timeout, forever,
 * still loses its connection: headers must be complete within
 * connection_timeout_s. (MHD's own timeout, reset by every byte, would
 * keep it.)
 */
static void trickled_headers_are_cut_off(void **state)
{
    pf_admin_config cfg;
    pf_admin *a;
    nbclient slow;
    int64_t deadline, next = 0;

    (void)state;
    pf_admin_config_default(&cfg);
    cfg.connection_timeout_s = 1;
    a = start(&cfg);
    nbclient_open(&slow, pf_admin_port(a), endless_headers, true);
    deadline = pf_now_ms() + 20000;
    while (!slow.closed) {
        bool nudge = pf_now_ms() >= next;

        assert_true(pf_now_ms() < deadline);
        if (nudge)
            next = pf_now_ms() + 200;
        loop_turn(a, 50);
        nbclient_step(&slow, nudge);
        /* still sending: the server's end closed, not a stalled client */
        assert_true(slow.closed || slow.sent < strlen(endless_headers));
    }
    assert_int_equal(slow.response_len, 0);
    assert_true(slow.sent > 1);
    wait_for_no_connections(a);
    nbclient_close(&slow);
    pf_admin_destroy(a);
}

/*
 * At max_connections, a new connection closes the one that has waited
 * longest; the others stay, and the newcomer is served.
 */
static void a_new_connection_evicts_the_longest_waiting(void **state)
{
    pf_admin_config cfg;
    pf_admin *a;
    nbclient first, second, probe;
    int64_t deadline;

    (void)state;
    pf_admin_config_default(&cfg);
    cfg.max_connections = 2;
    cfg.connection_timeout_s = 60;
    a = start(&cfg);
    nbclient_open(&first, pf_admin_port(a), NULL, false);
    deadline = pf_now_ms() + 20000;
    while (pf_admin_connections(a) < 1) {
        assert_true(pf_now_ms() < deadline);
        loop_turn(a, 20);
    }
    nbclient_open(&second, pf_admin_port(a), NULL, false);
    while (pf_admin_connections(a) < 2) {
        assert_true(pf_now_ms() < deadline);
        loop_turn(a, 20);
    }
    nbclient_open(&probe, pf_admin_port(a), healthz_request, false);
    while (!(probe.closed && first.closed)) {
        assert_true(pf_now_ms() < deadline);
        loop_turn(a, 20);
        nbclient_step(&first, false);
        nbclient_step(&second, false);
        nbclient_step(&probe, false);
    }
    assert_true(strncmp(probe.response, "HTTP/1.1 200", 12) == 0);
    assert_int_equal(first.response_len, 0);
    nbclient_step(&second, false);
    assert_false(second.closed);
    nbclient_close(&first);
    nbclient_close(&second);
    nbclient_close(&probe);
    pf_admin_destroy(a);
}

/* ---- listening ---- */

static void ephemeral_port_is_reported_and_then_taken(void **state)
{
    pf_admin_config cfg;
    pf_admin *a, *b;
    char listen[64], err[256] = "";
    exchange *x = xnew();
    reply r;

    (void)state;
    pf_admin_config_default(&cfg);
    a = start(&cfg);
    assert_true(pf_admin_port(a) > 0 && pf_admin_port(a) <= 65535);
    request(a, "GET", "/healthz", NULL, &r, x);
    assert_int_equal(r.status, 200);

    snprintf(listen, sizeof(listen), "127.0.0.1:%u", pf_admin_port(a));
    cfg.listen = listen;
    b = pf_admin_new(&cfg, err, sizeof(err));
    assert_null(b);
    assert_non_null(strstr(err, listen));
    assert_non_null(strstr(err, "Address already in use"));
    pf_admin_destroy(a);
    free(x);
}

static void ipv6_loopback_serves(void **state)
{
    pf_admin_config cfg;
    pf_admin *a;
    char err[256] = "";
    exchange *x = xnew();

    (void)state;
    pf_admin_config_default(&cfg);
    cfg.listen = "[::1]:0";
    a = pf_admin_new(&cfg, err, sizeof(err));
    if (a == NULL) {
        free(x);
        /* A host without IPv6 loopback; the parsing is covered below. */
        skip();
    }
    x->family = AF_INET6;
    x->request = "GET /healthz HTTP/1.1\r\nHost: [::1]\r\nConnection: close"
                 "\r\n\r\n";
    run_exchange(a, x);
    assert_non_null(strstr(x->response, " 200 "));
    pf_admin_destroy(a);
    free(x);
}

static void listen_addresses_parse(void **state)
{
    static const struct {
        const char *spec;
        int family;
        unsigned port;
    } ok[] = {
        {"127.0.0.1:0", AF_INET, 0},
        {"0.0.0.0:9090", AF_INET, 9090},
        {"10.1.2.3:65535", AF_INET, 65535},
        {"[::1]:9090", AF_INET6, 9090},
        {"[::]:0", AF_INET6, 0},
        {"[fe80::1:2]:80", AF_INET6, 80},
    };
    struct sockaddr_storage ss;
    socklen_t len;
    char err[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        unsigned port;

        if (pf_admin_parse_listen(ok[i].spec, &ss, &len, err, sizeof(err)) != 0)
            fail_msg("%s: %s", ok[i].spec, err);
        assert_int_equal(ss.ss_family, ok[i].family);
        port = ok[i].family == AF_INET
                   ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                   : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        assert_int_equal(port, ok[i].port);
        assert_int_equal(len, ok[i].family == AF_INET
                                  ? sizeof(struct sockaddr_in)
                                  : sizeof(struct sockaddr_in6));
    }
}

static void bad_listen_addresses_are_refused_clearly(void **state)
{
    static const struct {
        const char *spec;
        const char *reason;
    } rows[] = {
        {NULL, "empty"},
        {"", "empty"},
        {"127.0.0.1", "missing :PORT"},
        {"127.0.0.1:", "port \"\" is not a number"},
        {"127.0.0.1:http", "port \"http\" is not a number"},
        {"127.0.0.1:65536", "not a number from 0 to 65535"},
        {"127.0.0.1:123456", "not a number from 0 to 65535"},
        {"127.0.0.1:-1", "not a number"},
        {"127.0.0.1: 80", "not a number"},
        {":9090", "empty host"},
        {"[]:9090", "empty host"},
        {"localhost:9090", "numeric IPv4"},
        {"256.0.0.1:9090", "numeric IPv4"},
        {"1.2.3:9090", "numeric IPv4"},
        {"::1:9090", "brackets"},
        {"[::1]", "want [IPv6]:PORT"},
        {"[::1:9090", "want [IPv6]:PORT"},
        {"[::1]9090", "want [IPv6]:PORT"},
        {"[127.0.0.1]:9090", "not a numeric IPv6"},
        {"[::g]:9090", "not a numeric IPv6"},
        {"[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]:1",
         "not a numeric IPv6"},
    };
    pf_admin_config cfg;
    char err[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pf_admin *a;

        pf_admin_config_default(&cfg);
        cfg.listen = rows[i].spec;
        err[0] = '\0';
        a = pf_admin_new(&cfg, err, sizeof(err));
        if (a != NULL || strstr(err, rows[i].reason) == NULL) {
            pf_admin_destroy(a);
            fail_msg("\"%s\": got \"%s\", want \"%s\"",
                     rows[i].spec ? rows[i].spec : "(null)", err,
                     rows[i].reason);
        }
    }
}

static void bad_settings_are_refused(void **state)
{
    pf_admin_config cfg;
    char err[256] = "";

    (void)state;
    pf_admin_config_default(&cfg);
    cfg.listen = "127.0.0.1:0";
    cfg.max_connections = 0;
    assert_null(pf_admin_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "at least 1"));
    pf_admin_config_default(&cfg);
    cfg.listen = "127.0.0.1:0";
    cfg.stale_ms = 0;
    assert_null(pf_admin_new(&cfg, err, sizeof(err)));
    pf_admin_config_default(&cfg);
    cfg.listen = "127.0.0.1:0";
    cfg.max_connections = PF_ADMIN_MAX_CONNECTIONS_LIMIT + 1;
    assert_null(pf_admin_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "at most"));
    pf_admin_config_default(&cfg);
    cfg.listen = "127.0.0.1:0";
    cfg.connection_timeout_s = PF_ADMIN_CONNECTION_TIMEOUT_LIMIT_S + 1;
    assert_null(pf_admin_new(&cfg, err, sizeof(err)));
    pf_admin_destroy(NULL);
}

/* ---- as the service's loop drives it ---- */

typedef struct fetch {
    long status;
    char body[256];
    bool done;
} fetch;

static void on_fetched(void *arg, const pf_http_response *resp)
{
    fetch *f = arg;

    f->status = resp->status;
    snprintf(f->body, sizeof(f->body), "%s", resp->body ? resp->body : "");
    f->done = true;
}

/*
 * One thread, no helper: pf_http is the client and pf_http_poll() the
 * loop's only wait, with the admin descriptor among its extra fds.
 */
static void serves_inside_pf_http_poll(void **state)
{
    pf_http_config hc;
    pf_http *h;
    pf_admin_config cfg;
    pf_admin *a;
    pf_metrics *m = pf_metrics_new();
    fetch f[2];
    char url[2][64], err[256] = "";
    int64_t deadline = pf_now_ms() + 10000;
    size_t i;

    (void)state;
    pf_metrics_build_info(m, "provflow_build_info", "0.1.0");
    pf_admin_config_default(&cfg);
    cfg.metrics = m;
    a = start(&cfg);
    pf_http_config_default(&hc);
    hc.allow_http = true;
    h = pf_http_new(&hc, err, sizeof(err));
    assert_non_null(h);
    memset(f, 0, sizeof(f));
    snprintf(url[0], sizeof(url[0]), "http://127.0.0.1:%u/healthz",
             pf_admin_port(a));
    snprintf(url[1], sizeof(url[1]), "http://127.0.0.1:%u/metrics",
             pf_admin_port(a));
    for (i = 0; i < 2; i++) {
        pf_http_request req = {.method = "GET", .url = url[i]};

        assert_non_null(
            pf_http_submit(h, &req, on_fetched, &f[i], err, sizeof(err)));
    }
    while (!(f[0].done && f[1].done)) {
        int fd = pf_admin_fd(a), t = pf_admin_timeout_ms(a);

        if (t < 0 || t > 1000)
            t = 1000;
        assert_true(pf_http_poll(h, &fd, 1, t) >= 0);
        assert_true(pf_admin_run(a) >= 0);
        pf_admin_heartbeat(a, pf_now_ms());
        assert_true(pf_now_ms() < deadline);
    }
    assert_int_equal(f[0].status, 200);
    assert_string_equal(f[0].body, "ok\n");
    assert_int_equal(f[1].status, 200);
    assert_non_null(strstr(f[1].body, "provflow_build_info{version=\"0.1.0\"} "
                                      "1\n"));
    pf_http_destroy(h);
    pf_admin_destroy(a);
    pf_metrics_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(healthz_follows_the_heartbeat),
        cmocka_unit_test(readyz_lists_checks_and_flips),
        cmocka_unit_test(readyz_without_checks_is_ready),
        cmocka_unit_test(readiness_add_bounds_and_truncates),
        cmocka_unit_test(metrics_serves_the_registry),
        cmocka_unit_test(metrics_of_an_empty_registry_is_empty),
        cmocka_unit_test(metrics_without_registry_is_404),
        cmocka_unit_test(unknown_paths_are_404),
        cmocka_unit_test(methods_other_than_get_are_405),
        cmocka_unit_test(request_bodies_are_refused),
        cmocka_unit_test(idle_connections_time_out),
        cmocka_unit_test(healthz_answers_through_a_slowloris),
        cmocka_unit_test(healthz_answers_after_idle_clients_leave),
        cmocka_unit_test(trickled_headers_are_cut_off),
        cmocka_unit_test(a_new_connection_evicts_the_longest_waiting),
        cmocka_unit_test(ephemeral_port_is_reported_and_then_taken),
        cmocka_unit_test(ipv6_loopback_serves),
        cmocka_unit_test(listen_addresses_parse),
        cmocka_unit_test(bad_listen_addresses_are_refused_clearly),
        cmocka_unit_test(bad_settings_are_refused),
        cmocka_unit_test(serves_inside_pf_http_poll),
    };

    return cmocka_run_group_tests(tests, 0, 0);
}
