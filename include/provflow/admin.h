/*
 * admin.h - the admin HTTP server: /healthz, /readyz, /metrics
 * (docs/operations.md).
 *
 * libmicrohttpd in external polling mode with epoll, on the event-loop
 * thread: the server creates no thread. It exposes one file descriptor
 * (pf_admin_fd(), MHD's epoll descriptor) that the loop adds to the extra
 * descriptors of pf_http_poll(), and a timeout (pf_admin_timeout_ms()) that
 * the loop's wait must not exceed. Every turn the loop then calls
 * pf_admin_run(), which serves what is pending; requests are answered from
 * inside that call, so the readiness callback and the metrics rendering run
 * on the loop thread and may read the loop's state without locks.
 *
 *   GET /healthz  200 "ok\n" if the last pf_admin_heartbeat() is at most
 *                 stale_ms old, else 503 naming the heartbeat's age.
 *   GET /readyz   200 or 503 with a JSON body listing the owner's checks
 *                 (pf_admin_ready_fn): {"ready":false,"checks":[{"name":
 *                 "kafka assigned","ok":true},{"name":"token","ok":false,
 *                 "reason":"..."}]}; ready when every check is ok (no
 *                 checks, or no callback: ready).
 *   GET /metrics  the registry rendered, "text/plain; version=0.0.4";
 *                 404 when no registry was given.
 *   other paths   404; a method other than GET: 405 with "Allow: GET"; a
 *                 request with a body: 413 (bodies are never read).
 *
 * Why /healthz checks a heartbeat at all: since requests are served by the
 * loop thread, a loop that is stuck does not answer, and the probe's
 * timeout reports it. The heartbeat catches the other case, a loop that
 * still turns (so it serves HTTP) while the owner's work is wedged: the
 * owner calls pf_admin_heartbeat() only where it knows the work moves on.
 *
 * Cannot be wedged by clients that connect and say nothing, or trickle
 * bytes (slowloris):
 *   - at most max_connections connections are kept: accepting one more
 *     closes the connection that has waited longest for a request (one
 *     being answered is never chosen), so a new client, the probe, always
 *     gets in; MHD's own limit is a few above, for the ones being closed;
 *   - a connection is closed when connection_timeout_s pass without a
 *     byte (MHD's timeout, reset by every byte), and also when its
 *     request's headers are not complete connection_timeout_s after it
 *     opened or its previous response was sent (however slowly they
 *     trickle in);
 *   - a request's headers must fit a 16 KiB per-connection memory pool;
 *     bodies are refused.
 * There is no per-address limit: the kubelet probes from the node's
 * address, and a proxy or NAT puts many clients behind one, so a limit per
 * address would refuse the probe along with the client that filled it.
 *
 * Secrets: the server adds none of its own to a response. The readiness
 * reasons and the metrics are the owner's: keeping secrets out of them
 * (tokens, client secrets, assertions) is the owner's responsibility.
 *
 * Not thread-safe: one thread (the loop) makes every call.
 */
#ifndef PROVFLOW_ADMIN_H
#define PROVFLOW_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "provflow/metrics.h"

#define PF_ADMIN_MAX_CONNECTIONS_DEFAULT 16
#define PF_ADMIN_CONNECTION_TIMEOUT_S    5
#define PF_ADMIN_STALE_MS_DEFAULT        30000
/* Upper bounds of max_connections and connection_timeout_s. */
#define PF_ADMIN_MAX_CONNECTIONS_LIMIT      1024
#define PF_ADMIN_CONNECTION_TIMEOUT_LIMIT_S 3600

#define PF_ADMIN_CHECKS_MAX       8
#define PF_ADMIN_CHECK_NAME_MAX   64
#define PF_ADMIN_CHECK_REASON_MAX 256

/* One named readiness check, filled by the owner. */
typedef struct pf_admin_check {
    char name[PF_ADMIN_CHECK_NAME_MAX];
    bool ok;
    char reason[PF_ADMIN_CHECK_REASON_MAX]; /* "" when none */
} pf_admin_check;

typedef struct pf_admin_readiness {
    pf_admin_check checks[PF_ADMIN_CHECKS_MAX];
    size_t count;
} pf_admin_readiness;

/*
 * Appends a check. name and reason (reason may be NULL) are copied,
 * truncated to their buffers at a UTF-8 character boundary. Returns 0, or
 * -1 when PF_ADMIN_CHECKS_MAX checks are there already (nothing added).
 */
int pf_admin_readiness_add(pf_admin_readiness *r, const char *name, bool ok,
                           const char *reason);

/*
 * Fills r (empty on entry) with the owner's checks, for one GET /readyz.
 * Called on the loop thread from inside pf_admin_run(); must not call into
 * the admin server.
 */
typedef void (*pf_admin_ready_fn)(void *arg, pf_admin_readiness *r);

typedef struct pf_admin_config {
    /*
     * "HOST:PORT": HOST a numeric IPv4 address or a bracketed IPv6 one
     * ("[::1]"); no names, so that starting never waits on DNS. PORT 0
     * picks a free port (pf_admin_port() tells which).
     */
    const char *listen;
    unsigned max_connections;      /* connections kept, 1 to 1024 */
    unsigned connection_timeout_s; /* silence, or headers, 1 to 3600 */
    int64_t stale_ms;              /* /healthz: heartbeat age limit, >= 1 */
    pf_metrics *metrics;           /* borrowed; NULL: /metrics is 404 */
    pf_admin_ready_fn ready;       /* NULL: always ready */
    void *ready_arg;
    /*
     * Called before each GET /metrics renders the registry, on the loop
     * thread from inside pf_admin_run(): to refresh the values that are
     * read rather than counted (process_*). NULL: none. Must not call into
     * the admin server.
     */
    void (*collect)(void *arg);
    void *collect_arg;
} pf_admin_config;

/* Fills cfg with the PF_ADMIN_*_DEFAULT values; listen NULL, no hooks. */
void pf_admin_config_default(pf_admin_config *cfg);

/*
 * Parses a "HOST:PORT" listen address (see pf_admin_config) into *addr and
 * *addr_len. Returns 0, or -1 with the reason in errstr. For checking the
 * setting when the configuration is loaded.
 */
int pf_admin_parse_listen(const char *listen, struct sockaddr_storage *addr,
                          socklen_t *addr_len, char *errstr,
                          size_t errstr_size);

typedef struct pf_admin pf_admin;

/*
 * Binds the listen address and starts the server (it serves nothing until
 * pf_admin_run()). cfg is copied; cfg->metrics and cfg->ready_arg must
 * outlive the server. The heartbeat starts as fresh. Returns NULL with the
 * reason in errstr (a bad address, the port in use, a bad setting).
 */
pf_admin *pf_admin_new(const pf_admin_config *cfg, char *errstr,
                       size_t errstr_size);

/* Closes the listen socket and every connection, and frees. a may be NULL. */
void pf_admin_destroy(pf_admin *a);

/* The descriptor to wait on for readability (MHD's epoll descriptor). */
int pf_admin_fd(const pf_admin *a);

/*
 * The longest the loop may wait before calling pf_admin_run(), in ms: 0 if
 * work is pending, -1 if no deadline (wait on pf_admin_fd() alone). The
 * earliest of MHD's own timeout and the header deadlines: a loop that
 * honours it closes idle and slow connections on time.
 */
int pf_admin_timeout_ms(pf_admin *a);

/*
 * Serves what is pending: shuts down connections past their header
 * deadline, then calls MHD_run() when pf_admin_fd() is readable, MHD's
 * timeout has expired or the previous run closed a connection (so that
 * MHD accepts again after it stopped at its limit), else returns at once.
 * Never blocks. Call it every loop turn. Returns 1 if MHD ran, 0 if there
 * was nothing to do, -1 if MHD_run() failed.
 */
int pf_admin_run(pf_admin *a);

/* Connections open now (including ones being closed). */
size_t pf_admin_connections(const pf_admin *a);

/* Records that the loop is alive at monotonic time now_ms (pf_now_ms()). */
void pf_admin_heartbeat(pf_admin *a, int64_t now_ms);

/* The port bound (the actual one when the configured port was 0). */
unsigned pf_admin_port(const pf_admin *a);

#endif /* PROVFLOW_ADMIN_H */
