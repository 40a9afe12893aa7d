/* loopback.c - a tiny misbehaving HTTP server for unit tests (loopback.h). */
#include "loopback.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 512

typedef struct conn {
    int fd; /* -1: free slot */
    int id;
    char *buf;
    size_t len, cap;
    /* An answer not sent yet (lb_request.delay_ms): nothing else is read
     * from the connection's buffer until it goes. */
    char *out;
    size_t out_len;
    bool out_keep;
    bool pending;
    bool held;      /* until lb_release() */
    int held_gen;   /* s->release_gen when it was held */
    int64_t due_ms; /* when not held */
} conn;

struct lb_server {
    lb_fn fn;
    void *arg;
    int listen_fd;
    int stop_pipe[2];
    int wake_pipe[2]; /* lb_release() */
    pthread_t thread;
    char url[64];
    atomic_int requests;
    atomic_int in_flight, max_in_flight, release_gen;
    int conns_accepted;
    conn conns[MAX_CONNS];
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_close(lb_server *s, conn *c)
{
    if (c->pending)
        atomic_fetch_sub(&s->in_flight, 1);
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    free(c->out);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

static bool send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* The request's total length if buf holds a whole one, else 0. */
static size_t complete(const char *buf, size_t len, size_t *head_len,
                       size_t *body_len)
{
    const char *end = NULL, *p;
    size_t i, cl = 0;

    for (i = 0; i + 3 < len; i++) {
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
            end = buf + i + 4;
            break;
        }
    }
    if (end == NULL)
        return 0;
    for (p = buf; p < end; p++) {
        if ((p == buf || p[-1] == '\n') &&
            strncasecmp(p, "content-length:", 15) == 0)
            cl = strtoul(p + 15, NULL, 10);
    }
    *head_len = (size_t)(end - buf);
    *body_len = cl;
    if (len < *head_len + cl)
        return 0;
    return *head_len + cl;
}

/* Serves every whole request in c's buffer; false when c was closed. */
static bool serve(lb_server *s, conn *c)
{
    size_t head_len, body_len, total;

    while (!c->pending &&
           (total = complete(c->buf, c->len, &head_len, &body_len)) > 0) {
        lb_request req;
        char *head = malloc(head_len + 1), *body = malloc(body_len + 1);
        char *resp = NULL;
        size_t resp_len = 0;
        int delay_ms = 0, in;
        bool keep;

        if (head == NULL || body == NULL) {
            free(head);
            free(body);
            conn_close(s, c);
            return false;
        }
        memcpy(head, c->buf, head_len);
        head[head_len] = '\0';
        memcpy(body, c->buf + head_len, body_len);
        body[body_len] = '\0';
        memset(&req, 0, sizeof(req));
        sscanf(head, "%15s %511s", req.method, req.path);
        req.headers = head;
        req.body = body;
        req.body_len = body_len;
        req.index = atomic_fetch_add(&s->requests, 1);
        req.conn = c->id;
        req.delay_ms = &delay_ms;
        in = atomic_fetch_add(&s->in_flight, 1) + 1;
        if (in > atomic_load(&s->max_in_flight))
            atomic_store(&s->max_in_flight, in);
        keep = s->fn(&req, &resp, &resp_len, s->arg);
        free(head);
        free(body);
        memmove(c->buf, c->buf + total, c->len - total);
        c->len -= total;
        if (resp == NULL) {
            atomic_fetch_sub(&s->in_flight, 1);
            conn_close(s, c);
            return false;
        }
        if (delay_ms != 0) {
            c->out = resp;
            c->out_len = resp_len;
            c->out_keep = keep;
            c->pending = true;
            c->held = delay_ms == LB_HOLD;
            c->held_gen = atomic_load(&s->release_gen);
            c->due_ms = now_ms() + (delay_ms > 0 ? delay_ms : 0);
            return true;
        }
        atomic_fetch_sub(&s->in_flight, 1);
        if (!send_all(c->fd, resp, resp_len) || !keep) {
            free(resp);
            conn_close(s, c);
            return false;
        }
        free(resp);
    }
    return true;
}

/* Sends c's answer that is due, then serves what the client sent since. */
static void send_pending(lb_server *s, conn *c)
{
    char *out = c->out;
    bool ok;

    c->out = NULL;
    c->pending = false;
    atomic_fetch_sub(&s->in_flight, 1);
    ok = send_all(c->fd, out, c->out_len) && c->out_keep;
    free(out);
    if (!ok) {
        conn_close(s, c);
        return;
    }
    serve(s, c);
}

/* Sends the answers due by now (released ones included); returns the
 * wait until the next one, -1 when none is waiting on the clock. */
static int send_due(lb_server *s)
{
    int64_t now = now_ms(), next = -1;
    int gen = atomic_load(&s->release_gen), i;

    for (i = 0; i < MAX_CONNS; i++) {
        conn *c = &s->conns[i];

        if (c->fd < 0 || !c->pending)
            continue;
        if (c->held && c->held_gen < gen) {
            c->held = false;
            c->due_ms = now;
        }
        if (!c->held && c->due_ms <= now)
            send_pending(s, c);
    }
    /* Sending one may have served the next request of its connection. */
    for (i = 0; i < MAX_CONNS; i++) {
        conn *c = &s->conns[i];

        if (c->fd < 0 || !c->pending || c->held)
            continue;
        if (next < 0 || c->due_ms - now < next)
            next = c->due_ms > now ? c->due_ms - now : 0;
    }
    return (int)next;
}

/* Takes every connection waiting: with one per poll pass, hundreds of
 * connects at once overflow the accept queue, and a dropped SYN is sent
 * again only after 1, 3, 7, 15, 31 s. */
static void accept_waiting(lb_server *s)
{
    struct timeval tv = {10, 0};
    int fd, i;

    while ((fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
        /* A client that stops reading must not hold the thread for good. */
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        for (i = 0; i < MAX_CONNS && s->conns[i].fd >= 0; i++)
            ;
        if (i == MAX_CONNS) {
            close(fd);
            continue;
        }
        s->conns[i].fd = fd;
        s->conns[i].id = s->conns_accepted++;
    }
}

static void read_conn(lb_server *s, conn *c)
{
    char chunk[16384];
    ssize_t n = recv(c->fd, chunk, sizeof(chunk), 0);

    if (n < 0 && errno == EINTR)
        return;
    if (n <= 0) {
        conn_close(s, c);
        return;
    }
    if (c->len + (size_t)n + 1 > c->cap) {
        size_t cap = (c->len + (size_t)n + 1) * 2;
        char *grown = realloc(c->buf, cap);

        if (grown == NULL) {
            conn_close(s, c);
            return;
        }
        c->buf = grown;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, chunk, (size_t)n);
    c->len += (size_t)n;
    serve(s, c);
}

static void *run(void *arg)
{
    lb_server *s = arg;

    for (;;) {
        struct pollfd fds[MAX_CONNS + 3];
        conn *which[MAX_CONNS + 3];
        nfds_t n = 0, i;
        int timeout = send_due(s);

        fds[n].fd = s->stop_pipe[0];
        fds[n++].events = POLLIN;
        fds[n].fd = s->listen_fd;
        fds[n++].events = POLLIN;
        fds[n].fd = s->wake_pipe[0];
        fds[n++].events = POLLIN;
        for (i = 0; i < MAX_CONNS; i++) {
            if (s->conns[i].fd >= 0) {
                which[n] = &s->conns[i];
                fds[n].fd = s->conns[i].fd;
                fds[n++].events = POLLIN;
            }
        }
        if (poll(fds, n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[0].revents != 0)
            break;
        if (fds[1].revents & POLLIN)
            accept_waiting(s);
        if (fds[2].revents & POLLIN) {
            char drain[64];

            (void)!read(s->wake_pipe[0], drain, sizeof(drain));
        }
        for (i = 3; i < n; i++) {
            if (fds[i].revents != 0)
                read_conn(s, which[i]);
        }
    }
    return NULL;
}

lb_server *lb_start(lb_fn fn, void *arg)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    lb_server *s = calloc(1, sizeof(*s));
    int i, one = 1;

    if (s == NULL)
        return NULL;
    s->fn = fn;
    s->arg = arg;
    atomic_init(&s->requests, 0);
    atomic_init(&s->in_flight, 0);
    atomic_init(&s->max_in_flight, 0);
    atomic_init(&s->release_gen, 0);
    for (i = 0; i < MAX_CONNS; i++)
        s->conns[i].fd = -1;
    s->listen_fd =
        socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (s->listen_fd < 0 ||
        bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(s->listen_fd, MAX_CONNS) != 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&a, &alen) != 0 ||
        pipe(s->stop_pipe) != 0) {
        if (s->listen_fd >= 0)
            close(s->listen_fd);
        free(s);
        return NULL;
    }
    if (pipe(s->wake_pipe) != 0) {
        close(s->listen_fd);
        close(s->stop_pipe[0]);
        close(s->stop_pipe[1]);
        free(s);
        return NULL;
    }
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u",
             (unsigned)ntohs(a.sin_port));
    if (pthread_create(&s->thread, NULL, run, s) != 0) {
        close(s->listen_fd);
        close(s->stop_pipe[0]);
        close(s->stop_pipe[1]);
        close(s->wake_pipe[0]);
        close(s->wake_pipe[1]);
        free(s);
        return NULL;
    }
    return s;
}

const char *lb_url(const lb_server *s)
{
    return s->url;
}

int lb_requests(lb_server *s)
{
    return atomic_load(&s->requests);
}

int lb_in_flight(lb_server *s)
{
    return atomic_load(&s->in_flight);
}

int lb_max_in_flight(lb_server *s)
{
    return atomic_load(&s->max_in_flight);
}

void lb_release(lb_server *s)
{
    atomic_fetch_add(&s->release_gen, 1);
    (void)!write(s->wake_pipe[1], "r", 1);
}

void lb_stop(lb_server *s)
{
    int i;

    if (s == NULL)
        return;
    (void)!write(s->stop_pipe[1], "x", 1);
    pthread_join(s->thread, NULL);
    for (i = 0; i < MAX_CONNS; i++)
        conn_close(s, &s->conns[i]);
    close(s->listen_fd);
    close(s->stop_pipe[0]);
    close(s->stop_pipe[1]);
    close(s->wake_pipe[0]);
    close(s->wake_pipe[1]);
    free(s);
}

char *lb_reply(int status, const char *headers, const char *body, size_t *len)
{
    size_t blen = strlen(body);
    size_t cap = strlen(headers) + blen + 128;
    char *r = malloc(cap);
    int n;

    if (r == NULL)
        return NULL;
    n = snprintf(r, cap,
                 "HTTP/1.1 %d X\r\n%sContent-Length: %zu\r\n"
                 "Content-Type: application/json\r\n\r\n%s",
                 status, headers, blen, body);
    *len = (size_t)n;
    return r;
}
