/* admin.c - admin HTTP server on libmicrohttpd, loop-driven (admin.h). */
#include "provflow/admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "provflow/timers.h"

/* Request headers beyond this per-connection pool are refused by MHD. */
#define CONNECTION_MEMORY_LIMIT (16 * 1024)
#define LISTEN_BACKLOG          64
/*
 * MHD's own limit is this much above max_connections: a connection
 * accepted beyond max_connections evicts the oldest waiting one, which MHD
 * closes on its next run, and MHD accepts up to 10 in one run. At its own
 * limit MHD stops accepting (see pf_admin_run() for how it starts again).
 */
#define EVICT_MARGIN 10

/*
 * One open connection, as the admin server sees it (MHD's socket
 * context). A connection "waits" from the moment it opens, or its last
 * response was sent, until a request's headers are in; it is "busy" while
 * that request is answered.
 */
typedef struct slot {
    bool used;
    bool busy;
    bool evicted;  /* shut down by us; MHD closes it on its next run */
    int fd;        /* MHD's socket; only shutdown() by us, never closed */
    int64_t since; /* waiting since, pf_now_ms() */
} slot;

struct pf_admin {
    struct MHD_Daemon *daemon;
    int fd; /* MHD's epoll descriptor */
    unsigned port;
    int64_t stale_ms;
    int64_t heartbeat_ms;
    int64_t header_timeout_ms;
    unsigned max_connections;
    pf_metrics *metrics;
    pf_admin_ready_fn ready;
    void *ready_arg;
    void (*collect)(void *arg);
    void *collect_arg;
    slot *slots; /* max_connections + EVICT_MARGIN */
    size_t slot_count;
    size_t open; /* slots used */
    bool rearm;  /* a connection closed: MHD_run() is due (pf_admin_run) */
    char mhd_error[256]; /* MHD's last log message */
};

void pf_admin_config_default(pf_admin_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_connections = PF_ADMIN_MAX_CONNECTIONS_DEFAULT;
    cfg->connection_timeout_s = PF_ADMIN_CONNECTION_TIMEOUT_S;
    cfg->stale_ms = PF_ADMIN_STALE_MS_DEFAULT;
}

/* Copies at most size-1 bytes of src, not splitting a UTF-8 sequence. */
static void copy_utf8(char *dst, size_t size, const char *src)
{
    size_t n = src == NULL ? 0 : strnlen(src, size);

    if (n == size) {
        n = size - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

int pf_admin_readiness_add(pf_admin_readiness *r, const char *name, bool ok,
                           const char *reason)
{
    pf_admin_check *c;

    if (r->count >= PF_ADMIN_CHECKS_MAX)
        return -1;
    c = &r->checks[r->count++];
    copy_utf8(c->name, sizeof(c->name), name);
    c->ok = ok;
    copy_utf8(c->reason, sizeof(c->reason), reason);
    return 0;
}

/* ---- the listen address ---- */

/* PORT: 1 to 5 digits, at most 65535. -1 otherwise. */
static long parse_port(const char *s)
{
    long port = 0;
    size_t i;

    if (s[0] == '\0' || strlen(s) > 5)
        return -1;
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        port = port * 10 + (s[i] - '0');
    }
    return port <= 65535 ? port : -1;
}

int pf_admin_parse_listen(const char *spec, struct sockaddr_storage *addr,
                          socklen_t *addr_len, char *errstr, size_t errstr_size)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *host_start, *port_text, *end;
    size_t host_len;
    long port;
    bool v6;

    memset(addr, 0, sizeof(*addr));
    *addr_len = 0;
    if (spec == NULL || spec[0] == '\0') {
        snprintf(errstr, errstr_size,
                 "admin listen address is empty; want HOST:PORT");
        return -1;
    }
    v6 = spec[0] == '[';
    if (v6) {
        end = strchr(spec, ']');
        if (end == NULL || end[1] != ':') {
            snprintf(errstr, errstr_size,
                     "admin listen \"%s\": want [IPv6]:PORT", spec);
            return -1;
        }
        host_start = spec + 1;
        port_text = end + 2;
    } else {
        end = strrchr(spec, ':');
        if (end == NULL) {
            snprintf(errstr, errstr_size,
                     "admin listen \"%s\": missing :PORT; want HOST:PORT",
                     spec);
            return -1;
        }
        if (memchr(spec, ':', (size_t)(end - spec)) != NULL) {
            snprintf(errstr, errstr_size,
                     "admin listen \"%s\": write an IPv6 address in "
                     "brackets, as [::1]:9090",
                     spec);
            return -1;
        }
        host_start = spec;
        port_text = end + 1;
    }
    host_len = (size_t)(end - host_start);
    if (host_len == 0) {
        snprintf(errstr, errstr_size,
                 "admin listen \"%s\": empty host; use 0.0.0.0 or [::] "
                 "for every interface",
                 spec);
        return -1;
    }
    port = parse_port(port_text);
    if (port < 0) {
        snprintf(errstr, errstr_size,
                 "admin listen \"%s\": port \"%s\" is not a number from 0 "
                 "to 65535",
                 spec, port_text);
        return -1;
    }
    host[0] = '\0';
    if (host_len < sizeof(host)) {
        memcpy(host, host_start, host_len);
        host[host_len] = '\0';
    }
    if (v6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)addr;

        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
            snprintf(errstr, errstr_size,
                     "admin listen \"%s\": not a numeric IPv6 address", spec);
            return -1;
        }
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        *addr_len = sizeof(*sin6);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)addr;

        if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
            snprintf(errstr, errstr_size,
                     "admin listen \"%s\": host must be a numeric IPv4 "
                     "address or a bracketed IPv6 address (no names)",
                     spec);
            return -1;
        }
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        *addr_len = sizeof(*sin);
    }
    return 0;
}

/*
 * Opens, binds and listens ourselves rather than letting MHD do it, so
 * that a failure names the step and errno ("Address already in use"), and
 * the bound port is read back for port 0. Returns the socket or -1.
 */
static int open_listener(const char *spec, char *errstr, size_t errstr_size)
{
    struct sockaddr_storage addr;
    socklen_t len;
    int fd, one = 1;

    if (pf_admin_parse_listen(spec, &addr, &len, errstr, errstr_size) != 0)
        return -1;
    fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "admin listen \"%s\": socket: %s", spec,
                 strerror(errno));
        return -1;
    }
    /* A restart must not wait for the old connections' TIME_WAIT. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (const struct sockaddr *)&addr, len) != 0 ||
        listen(fd, LISTEN_BACKLOG) != 0) {
        snprintf(errstr, errstr_size, "admin listen \"%s\": %s", spec,
                 strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static unsigned bound_port(int fd)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof(addr);

    if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0)
        return 0;
    if (addr.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return ntohs(((struct sockaddr_in *)&addr)->sin_port);
}

/* ---- connections: eviction and the header deadline ---- */

/* The slot MHD keeps for conn (NULL if it has none). */
static slot *slot_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return info != NULL ? info->socket_context : NULL;
}

/*
 * Ends a connection without taking it from MHD: shutdown() (not close())
 * makes the socket report EOF and hang-up, so MHD's next run closes it
 * the usual way (and calls on_connection(CLOSED)). The peer sees a FIN.
 */
static void evict(slot *s)
{
    if (s->evicted)
        return;
    s->evicted = true;
    shutdown(s->fd, SHUT_RDWR);
}

/*
 * Called by MHD on the loop thread: when a connection is accepted and when
 * it is closed. Accepting one beyond max_connections evicts the waiting
 * connection that has waited longest, so that a client that opens
 * connections and says nothing (or trickles bytes) can never keep the
 * probes out: the newest connection always gets a slot.
 */
static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    pf_admin *a = cls;
    const union MHD_ConnectionInfo *info;
    slot *s = *socket_context, *oldest = NULL;
    size_t i;

    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (s != NULL) {
            memset(s, 0, sizeof(*s));
            a->open--;
        }
        *socket_context = NULL;
        a->rearm = true;
        return;
    }
    info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    for (i = 0; i < a->slot_count && s == NULL; i++) {
        if (!a->slots[i].used)
            s = &a->slots[i];
    }
    if (s == NULL || info == NULL)
        return; /* untracked: MHD's own timeout still applies */
    *s = (slot){.used = true, .fd = info->connect_fd, .since = pf_now_ms()};
    *socket_context = s;
    a->open++;
    if (a->open <= a->max_connections)
        return;
    for (i = 0; i < a->slot_count; i++) {
        slot *o = &a->slots[i];

        if (o->used && o != s && !o->busy && !o->evicted &&
            (oldest == NULL || o->since < oldest->since))
            oldest = o;
    }
    if (oldest != NULL)
        evict(oldest);
}

/*
 * Called by MHD once a request is answered (or abandoned): the connection
 * waits for its next request from now on.
 */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    slot *s = slot_of(conn);

    (void)cls;
    (void)con_cls;
    (void)toe;
    if (s != NULL) {
        s->busy = false;
        s->since = pf_now_ms();
    }
}

/*
 * The earliest moment a waiting connection runs out of time for a
 * request's headers (INT64_MAX if none waits); with enforce, first evicts
 * every connection already past it. MHD's own timeout counts from the last
 * byte received, so it alone would keep a connection that sends a byte
 * every few seconds.
 */
static int64_t header_deadline(pf_admin *a, int64_t now, bool enforce)
{
    int64_t next = INT64_MAX;
    size_t i;

    if (a->open == 0)
        return next;
    for (i = 0; i < a->slot_count; i++) {
        slot *s = &a->slots[i];
        int64_t due = s->since + a->header_timeout_ms;

        if (!s->used || s->busy || s->evicted)
            continue;
        if (enforce && due <= now)
            evict(s);
        else if (due < next)
            next = due;
    }
    return next;
}

/* ---- responses ---- */

/*
 * Queues a response. mode says what becomes of body: PERSISTENT (static
 * text), MUST_COPY (a stack buffer) or MUST_FREE (malloc'd, taken).
 */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
                             const char *content_type, const char *body,
                             size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(len, (void *)body, mode);
    if (resp == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free((void *)body);
        return MHD_NO; /* MHD closes the connection */
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET");
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status,
                                  const char *text)
{
    return reply(conn, status, "text/plain; charset=utf-8", text, strlen(text),
                 MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result serve_healthz(pf_admin *a, struct MHD_Connection *conn)
{
    int64_t age = pf_now_ms() - a->heartbeat_ms;
    char body[96];

    if (age <= a->stale_ms)
        return reply_text(conn, MHD_HTTP_OK, "ok\n");
    snprintf(body, sizeof(body),
             "stale: last heartbeat %lld ms ago (limit %lld)\n", (long long)age,
             (long long)a->stale_ms);
    return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                 "text/plain; charset=utf-8", body, strlen(body),
                 MHD_RESPMEM_MUST_COPY);
}

/* A JSON string; a text that is not UTF-8 is replaced by a note. */
static json_t *json_text(const char *s)
{
    json_t *j = json_string(s);

    return j != NULL ? j : json_string("(not valid UTF-8)");
}

static enum MHD_Result serve_readyz(pf_admin *a, struct MHD_Connection *conn)
{
    pf_admin_readiness r;
    json_t *root = NULL, *checks, *o;
    bool ready = true;
    char *body = NULL;
    size_t i;

    memset(&r, 0, sizeof(r));
    if (a->ready != NULL)
        a->ready(a->ready_arg, &r);
    if (r.count > PF_ADMIN_CHECKS_MAX)
        r.count = PF_ADMIN_CHECKS_MAX;
    for (i = 0; i < r.count; i++) {
        /* The owner's buffers, NUL-terminated whatever it wrote there. */
        r.checks[i].name[PF_ADMIN_CHECK_NAME_MAX - 1] = '\0';
        r.checks[i].reason[PF_ADMIN_CHECK_REASON_MAX - 1] = '\0';
        if (!r.checks[i].ok)
            ready = false;
    }
    root = json_object();
    checks = json_array();
    if (root == NULL || checks == NULL) {
        json_decref(checks);
        goto out;
    }
    if (json_object_set_new(root, "ready", json_boolean(ready)) != 0) {
        json_decref(checks);
        goto out;
    }
    /* json_object_set_new() steals checks, even when it fails */
    if (json_object_set_new(root, "checks", checks) != 0)
        goto out;
    for (i = 0; i < r.count; i++) {
        const pf_admin_check *c = &r.checks[i];

        o = json_object();
        /* json_array_append_new() and json_object_set_new() steal */
        if (json_array_append_new(checks, o) != 0 ||
            json_object_set_new(o, "name", json_text(c->name)) != 0 ||
            json_object_set_new(o, "ok", json_boolean(c->ok)) != 0)
            goto out;
        if (c->reason[0] != '\0' &&
            json_object_set_new(o, "reason", json_text(c->reason)) != 0)
            goto out;
    }
    body = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
    json_decref(root);
    if (body == NULL)
        return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "out of memory\n");
    /* From jansson's allocator: malloc, as provflow never changes it. */
    return reply(conn, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                 "application/json", body, strlen(body), MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result serve_metrics(pf_admin *a, struct MHD_Connection *conn)
{
    size_t len;
    char *text;

    if (a->metrics == NULL)
        return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    if (a->collect != NULL)
        a->collect(a->collect_arg);
    text = pf_metrics_render(a->metrics, &len);
    if (text == NULL)
        return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "out of memory\n");
    return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                 text, len, MHD_RESPMEM_MUST_FREE);
}

/* True if the request announces a body (which is never read). */
static bool has_body(struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

    if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
        return true;
    return cl != NULL && strspn(cl, "0") != strlen(cl);
}

/*
 * Called by MHD, from inside MHD_run() on the loop thread, once the
 * request's headers are in. Every request is answered on that first call:
 * none takes a body, so MHD discards whatever follows and closes.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    pf_admin *a = cls;
    slot *s = slot_of(conn);

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    if (s != NULL)
        s->busy = true; /* until on_completed() */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                          "method not allowed\n");
    if (has_body(conn))
        return reply_text(conn, MHD_HTTP_CONTENT_TOO_LARGE,
                          "request bodies are not accepted\n");
    if (strcmp(url, "/healthz") == 0)
        return serve_healthz(a, conn);
    if (strcmp(url, "/readyz") == 0)
        return serve_readyz(a, conn);
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(a, conn);
    return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

/*
 * MHD's messages are kept, not printed: the last one explains a failed
 * start. (Debian's libmicrohttpd is built with messages.)
 */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    pf_admin *a = cls;
    size_t n;

    vsnprintf(a->mhd_error, sizeof(a->mhd_error), fmt, ap);
    n = strlen(a->mhd_error);
    while (n > 0 && a->mhd_error[n - 1] == '\n')
        a->mhd_error[--n] = '\0';
}

/* ---- lifecycle and the loop ---- */

pf_admin *pf_admin_new(const pf_admin_config *cfg, char *errstr,
                       size_t errstr_size)
{
    const union MHD_DaemonInfo *info;
    pf_admin *a = NULL, *ret = NULL;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    int fd = -1;

    if (cfg->max_connections < 1 || cfg->connection_timeout_s < 1 ||
        cfg->stale_ms < 1) {
        snprintf(errstr, errstr_size,
                 "admin: max_connections, connection_timeout_s and "
                 "stale_ms must be at least 1");
        goto out;
    }
    if (cfg->max_connections > PF_ADMIN_MAX_CONNECTIONS_LIMIT ||
        cfg->connection_timeout_s > PF_ADMIN_CONNECTION_TIMEOUT_LIMIT_S) {
        snprintf(errstr, errstr_size,
                 "admin: max_connections is at most %d and "
                 "connection_timeout_s at most %d",
                 PF_ADMIN_MAX_CONNECTIONS_LIMIT,
                 PF_ADMIN_CONNECTION_TIMEOUT_LIMIT_S);
        goto out;
    }
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        snprintf(errstr, errstr_size, "admin: out of memory");
        goto out;
    }
    a->fd = -1;
    a->max_connections = cfg->max_connections;
    a->header_timeout_ms = (int64_t)cfg->connection_timeout_s * 1000;
    a->slot_count = (size_t)cfg->max_connections + EVICT_MARGIN;
    a->slots = calloc(a->slot_count, sizeof(*a->slots));
    if (a->slots == NULL) {
        snprintf(errstr, errstr_size, "admin: out of memory");
        goto out;
    }
    a->stale_ms = cfg->stale_ms;
    a->heartbeat_ms = pf_now_ms();
    a->metrics = cfg->metrics;
    a->ready = cfg->ready;
    a->ready_arg = cfg->ready_arg;
    a->collect = cfg->collect;
    a->collect_arg = cfg->collect_arg;
    fd = open_listener(cfg->listen, errstr, errstr_size);
    if (fd < 0)
        goto out;
    a->port = bound_port(fd);
    if (cfg->listen[0] == '[')
        flags |= MHD_USE_IPv6;
    /*
     * MHD_USE_EPOLL without MHD_USE_INTERNAL_POLLING_THREAD: external
     * polling, no thread; the logger goes first to catch every message.
     */
    a->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, a, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, a, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)a->slot_count,
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY_LIMIT,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, a,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, a, MHD_OPTION_END);
    if (a->daemon == NULL) {
        /* MHD 0.9.75 leaves a given listen socket open when it fails. */
        snprintf(errstr, errstr_size, "admin: libmicrohttpd did not start: %s",
                 a->mhd_error[0] ? a->mhd_error : "no reason given");
        goto out;
    }
    fd = -1; /* now owned by the daemon, closed by MHD_stop_daemon() */
    info = MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (info == NULL || info->epoll_fd < 0) {
        snprintf(errstr, errstr_size, "admin: libmicrohttpd has no epoll fd");
        goto out;
    }
    a->fd = info->epoll_fd;
    ret = a;
    a = NULL; /* returned to the caller */
out:
    if (fd >= 0)
        close(fd);
    pf_admin_destroy(a);
    return ret;
}

void pf_admin_destroy(pf_admin *a)
{
    if (a == NULL)
        return;
    if (a->daemon != NULL)
        MHD_stop_daemon(a->daemon); /* calls on_connection(CLOSED) */
    free(a->slots);
    free(a);
}

int pf_admin_fd(const pf_admin *a)
{
    return a->fd;
}

unsigned pf_admin_port(const pf_admin *a)
{
    return a->port;
}

void pf_admin_heartbeat(pf_admin *a, int64_t now_ms)
{
    a->heartbeat_ms = now_ms;
}

size_t pf_admin_connections(const pf_admin *a)
{
    return a->open;
}

int pf_admin_timeout_ms(pf_admin *a)
{
    MHD_UNSIGNED_LONG_LONG t;
    int64_t now, due;
    int ms = -1;

    if (a->rearm)
        return 0;
    if (MHD_get_timeout(a->daemon, &t) == MHD_YES)
        ms = t > INT_MAX ? INT_MAX : (int)t;
    now = pf_now_ms();
    due = header_deadline(a, now, false);
    if (due == INT64_MAX)
        return ms;
    if (due <= now)
        return 0;
    if (due - now < INT_MAX && (ms < 0 || due - now < ms))
        ms = (int)(due - now);
    return ms;
}

int pf_admin_run(pf_admin *a)
{
    struct pollfd p = {.fd = a->fd, .events = POLLIN};
    MHD_UNSIGNED_LONG_LONG t;
    bool due;

    /*
     * Connections over their header deadline are shut down first; their
     * hang-up makes the epoll descriptor readable just below.
     */
    header_deadline(a, pf_now_ms(), true);
    /*
     * MHD's timeout reaching 0 also means "work pending": in epoll mode
     * MHD keeps connections that still have buffered data on an internal
     * list that no readiness of the epoll descriptor reports.
     *
     * rearm: at its connection limit MHD takes the listen socket out of
     * its epoll set, and puts it back only at the start of a later
     * MHD_run(). Once the connections have closed, nothing would make the
     * descriptor readable again (no connection, no deadline): the server
     * would never accept again. So a run that closed a connection is
     * always followed by one more.
     */
    due = a->rearm || (MHD_get_timeout(a->daemon, &t) == MHD_YES && t == 0);
    if (!due && (poll(&p, 1, 0) <= 0 || (p.revents & POLLIN) == 0))
        return 0;
    a->rearm = false;
    return MHD_run(a->daemon) == MHD_YES ? 1 : -1;
}
