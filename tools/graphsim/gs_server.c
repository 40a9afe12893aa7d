/* gs_server.c - libmicrohttpd glue for the simulator (gs_server.h). */
#include "gs_server.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "gs_jsonmem.h"
#include "gs_sim.h"

#define MAX_PEM (1024 * 1024)

/* Connections waiting out their added latency, resumed by one thread. */
struct delay {
    int64_t due_ns; /* monotonic */
    struct MHD_Connection *conn;
};

struct delayq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct delay *v;
    size_t n;
    size_t cap;
    bool stop;
    pthread_t thread;
    bool inited;
    bool started;
};

struct gs_server {
    struct gs_config *cfg;
    struct gs_sim *sim;
    struct MHD_Daemon *mhd;
    int fd;
    unsigned port;
    char url[320];
    char *cert_pem;
    char *key_pem;
    struct delayq dq;
    atomic_bool stopping;
};

/* Per-request state, from the first call of the handler to completion. */
struct request {
    struct gs_call call;
    struct gs_buf body;
    bool delayed;
    bool finished; /* handled (gs_sim_finish) */
};

static void *delay_main(void *arg)
{
    struct delayq *q = arg;
    struct timespec ts;
    struct MHD_Connection *conn;
    size_t i, min;
    int64_t now;

    pthread_mutex_lock(&q->mu);
    while (!q->stop) {
        if (q->n == 0) {
            pthread_cond_wait(&q->cv, &q->mu);
            continue;
        }
        min = 0;
        for (i = 1; i < q->n; i++) {
            if (q->v[i].due_ns < q->v[min].due_ns)
                min = i;
        }
        now = gs_mono_ns();
        if (q->v[min].due_ns > now) {
            ts.tv_sec = (time_t)(q->v[min].due_ns / 1000000000);
            ts.tv_nsec = (long)(q->v[min].due_ns % 1000000000);
            pthread_cond_timedwait(&q->cv, &q->mu, &ts);
            continue;
        }
        conn = q->v[min].conn;
        q->v[min] = q->v[--q->n];
        pthread_mutex_unlock(&q->mu);
        MHD_resume_connection(conn);
        pthread_mutex_lock(&q->mu);
    }
    /* Stopping: let every waiting request finish now. */
    for (i = 0; i < q->n; i++)
        MHD_resume_connection(q->v[i].conn);
    q->n = 0;
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

static int delay_init(struct delayq *q)
{
    pthread_condattr_t attr;

    memset(q, 0, sizeof(*q));
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &attr);
    pthread_condattr_destroy(&attr);
    q->inited = true;
    if (pthread_create(&q->thread, NULL, delay_main, q) != 0)
        return -1;
    q->started = true;
    return 0;
}

/* Queues a suspended connection; -1 when stopping or out of memory (the
 * caller then resumes it at once). */
static int delay_push(struct delayq *q, struct MHD_Connection *conn,
                      int64_t due_ns)
{
    struct delay *v;
    size_t cap;
    int rc = -1;

    pthread_mutex_lock(&q->mu);
    if (q->stop)
        goto out;
    if (q->n == q->cap) {
        cap = q->cap ? q->cap * 2 : 64;
        v = realloc(q->v, cap * sizeof(*v));
        if (!v)
            goto out;
        q->v = v;
        q->cap = cap;
    }
    q->v[q->n].due_ns = due_ns;
    q->v[q->n].conn = conn;
    q->n++;
    pthread_cond_signal(&q->cv);
    rc = 0;
out:
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static void delay_stop(struct delayq *q)
{
    if (!q->inited)
        return;
    if (q->started) {
        pthread_mutex_lock(&q->mu);
        q->stop = true;
        pthread_cond_signal(&q->cv);
        pthread_mutex_unlock(&q->mu);
        pthread_join(q->thread, NULL);
    }
    free(q->v);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static enum MHD_Result send_response(struct MHD_Connection *conn,
                                     const struct gs_call *call,
                                     struct gs_response *resp)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    char num[32];

    if (resp->body) {
        /* MHD frees the body with free() once sent. */
        r = MHD_create_response_from_buffer(resp->body_len, resp->body,
                                            MHD_RESPMEM_MUST_FREE);
        if (r)
            resp->body = NULL;
    } else {
        r = MHD_create_response_from_buffer(0, (void *)"",
                                            MHD_RESPMEM_PERSISTENT);
    }
    if (!r)
        return MHD_NO;
    if (resp->body_len && resp->content_type)
        MHD_add_response_header(r, "Content-Type", resp->content_type);
    if (call->request_id[0]) {
        MHD_add_response_header(r, "request-id", call->request_id);
        MHD_add_response_header(r, "client-request-id", call->crid);
        if (call->route == GS_ROUTE_TOKEN)
            MHD_add_response_header(r, "x-ms-request-id", call->request_id);
        else
            MHD_add_response_header(r, "OData-Version", "4.0");
    }
    if (resp->retry_after >= 0) {
        snprintf(num, sizeof(num), "%ld", resp->retry_after);
        MHD_add_response_header(r, "Retry-After", num);
    }
    if (resp->www_authenticate && resp->status == 401)
        MHD_add_response_header(
            r, "WWW-Authenticate",
            "Bearer realm=\"\", authorization_uri=\"https://"
            "login.microsoftonline.com/common/oauth2/authorize\", "
            "client_id=\"00000003-0000-0000-c000-000000000000\"");
    if (resp->location[0])
        MHD_add_response_header(r, "Location", resp->location);
    if (resp->no_store) {
        MHD_add_response_header(r, "Cache-Control", "no-store, no-cache");
        MHD_add_response_header(r, "Pragma", "no-cache");
    }
    ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct gs_server *srv = cls;
    struct request *rq = *con_cls;
    struct gs_call *c;
    struct gs_response resp;
    enum MHD_Result ret;

    (void)version;
    if (!rq) {
        rq = calloc(1, sizeof(*rq));
        if (!rq)
            return MHD_NO;
        gs_buf_init(&rq->body);
        rq->call.method = method;
        rq->call.path = url;
        *con_cls = rq;
        return MHD_YES;
    }
    c = &rq->call;
    if (*upload_data_size) {
        if (!rq->body.data) {
            long n =
                gs_parse_ulong(header(conn, "Content-Length"), GS_MAX_BODY);

            gs_buf_reserve(&rq->body, n > 0 ? (size_t)n : *upload_data_size);
        }
        /* Past the cap the rest is read and dropped: the answer is 413. */
        if (rq->body.len + *upload_data_size > GS_MAX_BODY)
            c->body_too_large = true;
        else
            gs_buf_add(&rq->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!rq->delayed) {
        c->authorization = header(conn, "Authorization");
        c->client_request_id = header(conn, "client-request-id");
        c->traceparent = header(conn, "traceparent");
        c->content_type = header(conn, "Content-Type");
        c->host = header(conn, "Host");
        c->query_limit =
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
        c->query_skiptoken = MHD_lookup_connection_value(
            conn, MHD_GET_ARGUMENT_KIND, "$skiptoken");
        c->body = rq->body.data;
        c->body_len = rq->body.len;
        if (rq->body.oom)
            c->body_too_large = true;
        gs_sim_begin(srv->sim, c);
        if (c->delay_ms > 0 && !atomic_load(&srv->stopping)) {
            rq->delayed = true;
            MHD_suspend_connection(conn);
            if (delay_push(&srv->dq, conn,
                           gs_mono_ns() + (int64_t)c->delay_ms * 1000000) != 0)
                MHD_resume_connection(conn);
            return MHD_YES;
        }
    }
    gs_sim_finish(srv->sim, c, &resp);
    rq->finished = true;
    /* Every JSON value of this request is gone: empty the arena. */
    gs_jsonmem_reset();
    if (resp.status == 0) {
        gs_response_release(&resp);
        return MHD_NO; /* a dropped connection */
    }
    ret = send_response(conn, c, &resp);
    gs_response_release(&resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct gs_server *srv = cls;
    struct request *rq = *con_cls;
    struct gs_response resp;

    (void)conn;
    if (!rq)
        return;
    /*
     * A request that waited out its latency and whose client left
     * meanwhile: MHD may see the closed socket before it calls the handler
     * again. Graph finishes what it started, so the request is handled
     * all the same (a create is applied) and its answer dropped.
     */
    if (rq->delayed && !rq->finished &&
        toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        gs_sim_finish(srv->sim, &rq->call, &resp);
        rq->finished = true;
        gs_jsonmem_reset();
        gs_response_release(&resp);
    }
    gs_buf_release(&rq->body);
    free(rq);
    *con_cls = NULL;
}

static char *read_pem(const char *path, char *errstr, size_t errsz)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n;

    if (!f) {
        snprintf(errstr, errsz, "%s: %s", path, strerror(errno));
        return NULL;
    }
    buf = malloc(MAX_PEM + 1);
    if (!buf) {
        snprintf(errstr, errsz, "out of memory");
        goto out;
    }
    n = fread(buf, 1, MAX_PEM + 1, f);
    if (n == 0 || n > MAX_PEM) {
        snprintf(errstr, errsz, "%s: empty or larger than %d bytes", path,
                 MAX_PEM);
        free(buf);
        buf = NULL;
        goto out;
    }
    buf[n] = '\0';
out:
    fclose(f);
    return buf;
}

/* Splits "host:port" or "[v6]:port"; returns 0 or -1. */
static int split_listen(const char *listen, char *host, size_t hostsz,
                        char *port, size_t portsz)
{
    const char *colon;
    size_t n;

    if (listen[0] == '[') {
        colon = strstr(listen, "]:");
        if (!colon)
            return -1;
        n = (size_t)(colon - listen - 1);
        colon++;
        listen++;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return -1;
        n = (size_t)(colon - listen);
    }
    if (n == 0 || n >= hostsz || strlen(colon + 1) == 0 ||
        strlen(colon + 1) >= portsz)
        return -1;
    memcpy(host, listen, n);
    host[n] = '\0';
    snprintf(port, portsz, "%s", colon + 1);
    return 0;
}

static int bind_listen(struct gs_server *srv, char *errstr, size_t errsz)
{
    char host[256], port[16], shown[260];
    struct addrinfo hints, *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int one = 1, rc;

    if (split_listen(srv->cfg->listen, host, sizeof(host), port,
                     sizeof(port)) != 0) {
        snprintf(errstr, errsz, "--listen: HOST:PORT expected, got '%s'",
                 srv->cfg->listen);
        return -1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(errstr, errsz, "--listen %s: %s", srv->cfg->listen,
                 gai_strerror(rc));
        return -1;
    }
    srv->fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (srv->fd < 0 ||
        setsockopt(srv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(srv->fd, res->ai_addr, res->ai_addrlen) || listen(srv->fd, 1024) ||
        getsockname(srv->fd, (struct sockaddr *)&ss, &sl)) {
        snprintf(errstr, errsz, "--listen %s: %s", srv->cfg->listen,
                 strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    srv->port =
        ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
    freeaddrinfo(res);
    /* A wildcard address is not one a client can use: advertise loopback. */
    if (strcmp(host, "0.0.0.0") == 0)
        snprintf(shown, sizeof(shown), "127.0.0.1");
    else if (strcmp(host, "::") == 0)
        snprintf(shown, sizeof(shown), "[::1]");
    else if (strchr(host, ':'))
        snprintf(shown, sizeof(shown), "[%s]", host);
    else
        snprintf(shown, sizeof(shown), "%s", host);
    if (srv->cfg->base_url)
        snprintf(srv->url, sizeof(srv->url), "%s", srv->cfg->base_url);
    else
        snprintf(srv->url, sizeof(srv->url), "%s://%s:%u",
                 srv->cfg->tls_cert ? "https" : "http", shown, srv->port);
    /* No trailing slash: paths are appended to it. */
    while (strlen(srv->url) > 0 && srv->url[strlen(srv->url) - 1] == '/')
        srv->url[strlen(srv->url) - 1] = '\0';
    return 0;
}

struct gs_server *gs_server_start(struct gs_config *cfg, char *errstr,
                                  size_t errsz)
{
    struct gs_server *srv = calloc(1, sizeof(*srv));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME;
    bool tls = cfg->tls_cert != NULL;
    struct MHD_OptionItem opts[10];
    size_t n = 0;

    if (!srv) {
        snprintf(errstr, errsz, "out of memory");
        return NULL;
    }
    srv->cfg = cfg;
    srv->fd = -1;
    atomic_init(&srv->stopping, false);
    if (tls != (cfg->tls_key != NULL)) {
        snprintf(errstr, errsz, "--tls-cert and --tls-key go together");
        goto fail;
    }
    if (tls) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            snprintf(errstr, errsz, "this libmicrohttpd has no TLS support");
            goto fail;
        }
        srv->cert_pem = read_pem(cfg->tls_cert, errstr, errsz);
        srv->key_pem =
            srv->cert_pem ? read_pem(cfg->tls_key, errstr, errsz) : NULL;
        if (!srv->key_pem)
            goto fail;
        flags |= MHD_USE_TLS;
    }
    if (bind_listen(srv, errstr, errsz) != 0)
        goto fail;
    srv->sim = gs_sim_new(cfg, srv->url, tls);
    if (!srv->sim || delay_init(&srv->dq) != 0) {
        snprintf(errstr, errsz, "out of memory");
        goto fail;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        flags |= MHD_USE_EPOLL;
    else
        flags |= MHD_USE_POLL;
    opts[n++] =
        (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, srv->fd, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED,
                                        (intptr_t)on_completed, srv};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
                                        cfg->threads, NULL};
    opts[n++] =
        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, 120, NULL};
    opts[n++] =
        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, 4096, NULL};
    /* MHD zeroes a connection's pool between requests (a measurable share
     * of a create): 8 KiB, a quarter of the default, still holds any sane
     * request head; bodies stream through it. */
    opts[n++] =
        (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, 8192, NULL};
    if (tls) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0,
                                            srv->cert_pem};
        opts[n++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, srv->key_pem};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    srv->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
                                MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!srv->mhd) {
        snprintf(errstr, errsz,
                 "libmicrohttpd did not start (bad TLS certificate or key?)");
        goto fail;
    }
    srv->fd = -1; /* now owned by MHD, which closes it on stop */
    return srv;
fail:
    gs_server_stop(srv);
    return NULL;
}

const char *gs_server_url(const struct gs_server *srv)
{
    return srv->url;
}

unsigned gs_server_port(const struct gs_server *srv)
{
    return srv->port;
}

void gs_server_stop(struct gs_server *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stopping, true);
    delay_stop(&srv->dq);
    if (srv->mhd)
        MHD_stop_daemon(srv->mhd);
    if (srv->fd >= 0)
        close(srv->fd);
    gs_sim_destroy(srv->sim);
    free(srv->cert_pem);
    free(srv->key_pem);
    free(srv);
}
