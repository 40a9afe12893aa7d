/*
 * http.c - libcurl multi interface behind a small callback API (http.h).
 *
 * Easy handles are pooled: a finished transfer's handle is kept for the
 * next request, with the options that every request shares set once,
 * and the multi handle's connection cache keeps connections alive
 * between them, so a steady stream of requests reuses both. Failures are
 * mapped onto pf_transport here, where they enter.
 *
 * The sockets are watched with epoll and driven by
 * curl_multi_socket_action(): a wake-up costs what its ready sockets cost,
 * not a pass over every transfer (curl_multi_poll() and
 * curl_multi_perform() walk them all, which thousands of requests in
 * flight at a high latency turn into most of the CPU).
 *
 * The transfers are spread over shards, each a multi handle with its own
 * connection cache, at most SHARD_XFERS transfers in each. libcurl 7.88
 * walks every connection of its cache twice per request (looking for one
 * to reuse, and again in curl_multi_remove_handle() for connect-only
 * connections): over HTTP/1.1, where each request in flight holds a
 * connection, 4,096 in flight made those walks a third of the CPU. A
 * request goes to the first shard with room, so a small load stays in
 * one shard and over HTTP/2 shares its connections as before.
 */
#include "provflow/http.h"

/*
 * Per request in flight, libcurl holds a receive buffer (16 KB unless
 * told). Graph's answer to a create is 1 to 2 KB, headers included (the
 * simulator's: 836 bytes for an administrative unit flow, 1,571 for a
 * class group), so 2 KB reads one in one pass and a larger one (a list)
 * in a few; 4,096 in flight would hold 8 MB of them (bench/README.md):
 * the transfers past the first 1,024 (cfg.small_reads_after) read 1 KB
 * at a time, and hold 5 MB. A body is handed over in place
 * (CURLOPT_POSTFIELDS), which costs no upload buffer (a read callback
 * would: 16 KB at least per transfer) and sends a small request in one
 * write.
 */
#define PF_HTTP_RECV_BUFFER       2048L
#define PF_HTTP_RECV_BUFFER_SMALL 1024L

#include <assert.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "provflow/buf.h"
#include "provflow/fileio.h"
#include "provflow/timers.h"
#include "provflow/trace.h"

/* Ready descriptors taken from one epoll_wait(). */
#define EVENTS_MAX 256
/* The caller's descriptors pf_http_poll() watches at most. */
#define EXTRA_MAX 8
/* An epoll entry of the caller's, not libcurl's: its fd with this bit. */
#define EXTRA_TAG (UINT64_C(1) << 32)

/* Transfers in one shard at most (its connections, over HTTP/1.1). */
#define SHARD_XFERS 256
/* An epoll entry's shard: the bits above this one. */
#define SHARD_SHIFT 40

/*
 * Response bodies' buffers kept for the next answers: a transfer holds one
 * only while its answer arrives, not for the whole wait (4,096 in flight
 * at 500 ms kept 4 MB of them); at most this many wait, of at most
 * RESP_SPARE_CAP bytes.
 */
#define RESP_SPARES    64
#define RESP_SPARE_CAP (64 * 1024)

/* Header lines of one request at most (request_headers). */
#define HEADER_LINES_MAX 8

/* libcurl's own limit on one header line (CURL_MAX_HTTP_HEADER). */
#define CURL_HEADER_LINE_MAX (100 * 1024)

struct shard {
    pf_http *h;
    CURLM *multi;
    int64_t timer_due_ms; /* libcurl's next timeout (pf_now_ms); -1: none */
    size_t index;         /* in h->shards */
    size_t active;        /* transfers in it */
};

struct pf_http_xfer {
    pf_http *h;
    struct shard *shard; /* while active */
    CURL *easy;
    CURLU *url; /* the request's URL, parsed (set_request); NULL: none */
    struct curl_slist *headers; /* into header_nodes; NULL between requests */
    /*
     * The request's header list, kept with the handle (request_headers):
     * the nodes and their text (lines one after the other, each with its
     * NUL), wiped after each request (the bearer token is among them).
     */
    struct curl_slist header_nodes[HEADER_LINES_MAX];
    pf_buf header_text;
    pf_http_done_fn done;
    void *arg;
    size_t body_sent_len;  /* the request body's length */
    int dos;               /* times libcurl began the request (on_prereq) */
    pf_buf resp;           /* response body, NUL-terminated; from h->spare */
    bool too_large;        /* the body passed max_response_bytes */
    bool header_too_large; /* the header passed max_header_bytes */
    bool giant_line;       /* libcurl refused one header line (finish) */
    size_t header_bytes;   /* of the current response */
    char request_id[PF_HTTP_HEADER_VALUE_MAX];
    char retry_after[PF_HTTP_HEADER_VALUE_MAX];
    /*
     * The answer's Location ("" when none), in storage sized to the
     * longest one this transfer has seen and kept for the next request:
     * Graph sends one with every 201, about 150 bytes, so no buffer of
     * PF_HTTP_LOCATION_MAX in every transfer, and no allocation per answer.
     */
    char *location;
    size_t location_cap;
    char errbuf[CURL_ERROR_SIZE];
    int64_t started_ms;
    LIST_ENTRY(pf_http_xfer) link; /* in the active list or in the pool */
};

struct pf_http {
    struct shard *shards;
    size_t shard_count;
    size_t shard_xfers;  /* a shard's room before the next one is used */
    int epfd;            /* libcurl's sockets and the caller's fds */
    bool socket_failed;  /* epoll refused a socket: pf_http_poll() fails */
    unsigned char *sock; /* SOCK_* per socket number (on_socket) */
    size_t sock_cap;
    int extra[EXTRA_MAX]; /* the caller's fds in epfd */
    size_t extra_count;
    pf_http_config cfg;
    char *ca_file;
    LIST_HEAD(, pf_http_xfer) active; /* transfers running */
    LIST_HEAD(, pf_http_xfer) pool;   /* finished ones, handles reusable */
    pf_buf spare[RESP_SPARES];        /* bodies' buffers, empty, reusable */
    size_t spares;
    long handles; /* easy handles made (all kept: active or pooled) */
};

void pf_http_config_default(pf_http_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->connect_timeout_ms = PF_HTTP_CONNECT_TIMEOUT_MS_DEFAULT;
    cfg->timeout_ms = PF_HTTP_TIMEOUT_MS_DEFAULT;
    cfg->max_response_bytes = PF_HTTP_MAX_RESPONSE_DEFAULT;
    cfg->max_header_bytes = PF_HTTP_MAX_HEADER_DEFAULT;
    cfg->small_reads_after = PF_HTTP_SMALL_READS_AFTER_DEFAULT;
}

/*
 * Per socket, what the epoll set holds. libcurl removes a keep-alive
 * connection's socket when its transfer ends and adds it again for the
 * next request on it: two epoll_ctl() calls per request. A socket that
 * provflow opened for libcurl (on_open) stays registered instead while
 * idle, marked unwanted, and leaves the set when it is closed (on_close,
 * which libcurl calls for every socket on_open gave it) or when it
 * reports an event nobody waits for (pf_http_poll). Any other socket
 * (the threaded resolver's, which libcurl closes without telling) is
 * added and removed as libcurl says.
 */
#define SOCK_OURS   0x01u /* opened by on_open: its close will be seen */
#define SOCK_IN     0x02u /* registered for EPOLLIN */
#define SOCK_OUT    0x04u /* registered for EPOLLOUT */
#define SOCK_IN_SET 0x08u /* registered at all */
#define SOCK_WANTED 0x10u /* libcurl waits on it (not REMOVEd) */

static unsigned sock_state(const pf_http *h, curl_socket_t s)
{
    return s >= 0 && (size_t)s < h->sock_cap ? h->sock[s] : 0u;
}

/* Room for socket s in h->sock; false when memory runs out. */
static bool sock_room(pf_http *h, curl_socket_t s)
{
    size_t cap = h->sock_cap ? h->sock_cap : 64;
    unsigned char *grown;

    if ((size_t)s < h->sock_cap)
        return true;
    while (cap <= (size_t)s)
        cap *= 2;
    grown = realloc(h->sock, cap);
    if (grown == NULL)
        return false;
    memset(grown + h->sock_cap, 0, cap - h->sock_cap);
    h->sock = grown;
    h->sock_cap = cap;
    return true;
}

/* Takes s out of the epoll set and says so in its state. */
static void sock_unwatch(pf_http *h, curl_socket_t s)
{
    (void)epoll_ctl(h->epfd, EPOLL_CTL_DEL, s, NULL);
    if ((size_t)s < h->sock_cap)
        h->sock[s] &= (unsigned char)SOCK_OURS;
}

/* Puts s in the epoll set with ev: modified when it is there, else added
 * (or modified after all, when the set still had it). */
static int sock_watch(pf_http *h, curl_socket_t s, unsigned st,
                      struct epoll_event *ev)
{
    if ((st & SOCK_IN_SET) && epoll_ctl(h->epfd, EPOLL_CTL_MOD, s, ev) == 0)
        return 0;
    if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, s, ev) == 0)
        return 0;
    return errno == EEXIST && epoll_ctl(h->epfd, EPOLL_CTL_MOD, s, ev) == 0
               ? 0
               : -1;
}

static curl_socket_t on_open(void *arg, curlsocktype purpose,
                             struct curl_sockaddr *addr)
{
    pf_http *h = arg;
    curl_socket_t s;

    (void)purpose;
    /* What libcurl does without this callback. */
    s = socket(addr->family, addr->socktype, addr->protocol);
    if (s == CURL_SOCKET_BAD)
        return s;
    if (!sock_room(h, s)) {
        close(s);
        return CURL_SOCKET_BAD; /* the transfer fails: cannot connect */
    }
    h->sock[s] = SOCK_OURS; /* a new socket: in no set yet */
    return s;
}

static int on_close(void *arg, curl_socket_t s)
{
    pf_http *h = arg;

    /* Closing would drop it from the set too, unless it were shared. */
    if (sock_state(h, s) & SOCK_IN_SET)
        (void)epoll_ctl(h->epfd, EPOLL_CTL_DEL, s, NULL);
    if ((size_t)s < h->sock_cap)
        h->sock[s] = 0;
    return close(s);
}

/* libcurl says which events a socket waits for; epoll is told. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *arg,
                     void *known)
{
    struct shard *sh = arg;
    pf_http *h = sh->h;
    struct epoll_event ev = {0};
    unsigned st = sock_state(h, s), want;

    (void)easy;
    (void)known;
    if (what == CURL_POLL_REMOVE) {
        if ((st & (SOCK_OURS | SOCK_IN_SET)) == (SOCK_OURS | SOCK_IN_SET))
            h->sock[s] = (unsigned char)(st & ~SOCK_WANTED); /* kept */
        else
            sock_unwatch(h, s); /* a socket closed already left on its own */
        return 0;
    }
    want = ((what & CURL_POLL_IN) ? SOCK_IN : 0u) |
           ((what & CURL_POLL_OUT) ? SOCK_OUT : 0u);
    if ((st & SOCK_OURS) && (st & SOCK_IN_SET) &&
        (st & (SOCK_IN | SOCK_OUT)) == want) {
        h->sock[s] = (unsigned char)(st | SOCK_WANTED); /* as registered */
        return 0;
    }
    ev.events =
        ((want & SOCK_IN) ? EPOLLIN : 0u) | ((want & SOCK_OUT) ? EPOLLOUT : 0u);
    ev.data.u64 = (uint64_t)(unsigned)s | (uint64_t)sh->index << SHARD_SHIFT;
    if (sock_watch(h, s, st, &ev) != 0) {
        h->socket_failed = true;
        return -1;
    }
    if ((size_t)s < h->sock_cap)
        h->sock[s] = (unsigned char)((st & SOCK_OURS) | want | SOCK_IN_SET |
                                     SOCK_WANTED);
    return 0;
}

/* libcurl's timer: when curl_multi_socket_action() wants a timeout call. */
static int on_timer(CURLM *multi, long timeout_ms, void *arg)
{
    struct shard *sh = arg;

    (void)multi;
    sh->timer_due_ms = timeout_ms < 0 ? -1 : pf_now_ms() + timeout_ms;
    return 0;
}

/* The shards for cfg's connection bound: room for it, at most SHARD_XFERS
 * transfers each (one shard when unbounded). */
static int shards_new(pf_http *h, const pf_http_config *cfg)
{
    size_t n = 1, i;
    long per = cfg->max_connections;

    if (cfg->max_connections > SHARD_XFERS) {
        n = ((size_t)cfg->max_connections + SHARD_XFERS - 1) / SHARD_XFERS;
        per = (long)(((size_t)cfg->max_connections + n - 1) / n);
    }
    h->shards = calloc(n, sizeof(*h->shards));
    if (h->shards == NULL)
        return -1;
    h->shard_count = n;
    h->shard_xfers = per > 0 ? (size_t)per : SIZE_MAX;
    for (i = 0; i < n; i++) {
        struct shard *sh = &h->shards[i];
        CURLM *m = curl_multi_init();

        sh->h = h;
        sh->index = i;
        sh->timer_due_ms = -1;
        sh->multi = m;
        if (m == NULL)
            return -1;
        curl_multi_setopt(m, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
        curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(m, CURLMOPT_SOCKETDATA, sh);
        curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
        curl_multi_setopt(m, CURLMOPT_TIMERDATA, sh);
        if (per > 0) {
            /*
             * A bounded pool: at most this many connections open, and
             * kept, per shard (the shards together: the bound, plus at
             * most one per shard from rounding up). Over HTTP/2 one
             * connection carries many requests (up to the server's stream
             * limit, 100 at Graph's usual setting), so the bound is
             * reached only over HTTP/1.1, where each request in flight
             * needs its own.
             */
            curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, per);
            curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, per);
        }
    }
    return 0;
}

/* The first shard with room; the least busy when all are full. */
static struct shard *shard_for_next(pf_http *h)
{
    struct shard *best = &h->shards[0];
    size_t i;

    for (i = 0; i < h->shard_count; i++) {
        struct shard *sh = &h->shards[i];

        if (sh->active < h->shard_xfers)
            return sh;
        if (sh->active < best->active)
            best = sh;
    }
    return best;
}

pf_http *pf_http_new(const pf_http_config *cfg, char *errstr,
                     size_t errstr_size)
{
    static int global_done; /* curl_global_init: once, loop thread */
    pf_http *h;
    char why[256];

    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(errstr, errstr_size, "libcurl initialisation failed");
            return NULL;
        }
        global_done = 1;
    }
    /* A FIFO would hang libcurl's TLS set-up: regular files only. */
    if (cfg->ca_file != NULL &&
        pf_file_check(cfg->ca_file, cfg->ca_file, why, sizeof(why)) != 0) {
        snprintf(errstr, errstr_size, "CA file %s", why);
        return NULL;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        goto oom;
    LIST_INIT(&h->active);
    LIST_INIT(&h->pool);
    h->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (h->epfd < 0) {
        snprintf(errstr, errstr_size, "epoll: %s", strerror(errno));
        free(h);
        return NULL;
    }
    h->cfg = *cfg;
    if (h->cfg.max_header_bytes == 0)
        h->cfg.max_header_bytes = PF_HTTP_MAX_HEADER_DEFAULT;
    if (cfg->ca_file != NULL) {
        h->ca_file = strdup(cfg->ca_file);
        if (h->ca_file == NULL)
            goto oom;
        h->cfg.ca_file = h->ca_file;
    }
    if (shards_new(h, cfg) != 0)
        goto oom;
    return h;
oom:
    snprintf(errstr, errstr_size, "out of memory");
    pf_http_destroy(h);
    return NULL;
}

static void xfer_free(pf_http_xfer *x)
{
    if (x->easy != NULL)
        curl_easy_cleanup(x->easy);
    curl_url_cleanup(x->url);        /* after the handle that pointed to it */
    pf_buf_release(&x->header_text); /* wiped */
    pf_buf_release(&x->resp);
    free(x->location);
    free(x);
}

void pf_http_destroy(pf_http *h)
{
    pf_http_xfer *x;
    size_t i;

    if (h == NULL)
        return;
    while ((x = LIST_FIRST(&h->active)) != NULL) {
        LIST_REMOVE(x, link);
        curl_multi_remove_handle(x->shard->multi, x->easy);
        xfer_free(x);
    }
    while ((x = LIST_FIRST(&h->pool)) != NULL) {
        LIST_REMOVE(x, link);
        xfer_free(x);
    }
    while (h->spares > 0)
        pf_buf_release(&h->spare[--h->spares]);
    for (i = 0; h->shards != NULL && i < h->shard_count; i++)
        curl_multi_cleanup(h->shards[i].multi);
    free(h->shards);
    close(h->epfd);
    free(h->sock);
    free(h->ca_file);
    free(h);
}

/*
 * libcurl calls this each time it is about to send the request: once,
 * unless a reused connection broke before any answer and libcurl tries
 * again on a new one by itself. That second time is refused (see
 * set_request()).
 */
static int on_prereq(void *arg, char *primary_ip, char *local_ip,
                     int primary_port, int local_port)
{
    pf_http_xfer *x = arg;

    (void)primary_ip;
    (void)local_ip;
    (void)primary_port;
    (void)local_port;
    return ++x->dos == 1 ? CURL_PREREQFUNC_OK : CURL_PREREQFUNC_ABORT;
}

/* libcurl gave up a request it would have sent again (on_prereq). */
static bool resend_refused(const pf_http_xfer *x, CURLcode rc)
{
    return rc == CURLE_ABORTED_BY_CALLBACK && x->dos > 1;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    pf_http_xfer *x = arg;
    size_t len = size * n;

    if (x->resp.len + len > x->h->cfg.max_response_bytes) {
        x->too_large = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (x->resp.buf == NULL && x->h->spares > 0)
        x->resp = x->h->spare[--x->h->spares]; /* empty: recycle() */
    pf_buf_add(&x->resp, data, len);
    if (x->resp.failed)
        return 0;
    return len;
}

/* A valid UTF-8 sequence's length at p (at most len bytes), else 0. */
static size_t utf8_len(const unsigned char *p, size_t len)
{
    size_t n, i;
    unsigned cp;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        n = 2;
        cp = p[0] & 0x1F;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        n = 3;
        cp = p[0] & 0x0F;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        n = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    /* Overlong forms, surrogates, beyond U+10FFFF. */
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    /* C1 controls (U+0080..U+009F): a terminal acts on them too. */
    if (cp >= 0x80 && cp <= 0x9F)
        return 0;
    return n;
}

size_t pf_http_sanitize(char *dst, size_t dst_size, const char *src, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)src;
    size_t out = 0, i = 0;

    if (dst_size == 0)
        return 0;
    while (i < len) {
        size_t n = utf8_len(p + i, len - i);

        if (n == 1 && (p[i] == '\r' || p[i] == '\n' || p[i] == '\t')) {
            if (out + 1 >= dst_size)
                break;
            dst[out++] = ' ';
            i++;
        } else if (n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7F))) {
            if (out + 4 >= dst_size)
                break;
            dst[out++] = '\\';
            dst[out++] = 'x';
            dst[out++] = hex[p[i] >> 4];
            dst[out++] = hex[p[i] & 15];
            i++;
        } else {
            if (out + n >= dst_size)
                break;
            memcpy(dst + out, p + i, n);
            out += n;
            i += n;
        }
    }
    dst[out] = '\0';
    return out;
}

/*
 * The value of a header line "<name>: value" (leading and trailing blanks
 * and the line end removed) in *value, *vlen; false for another header.
 */
static bool header_value(const char *line, size_t len, const char *name,
                         const char **value, size_t *vlen)
{
    size_t nl = strlen(name);

    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return false;
    line += nl + 1;
    len -= nl + 1;
    while (len > 0 && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n' ||
                       line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    *value = line;
    *vlen = len;
    return true;
}

/*
 * A Location is used, not shown: kept only whole (under
 * PF_HTTP_LOCATION_MAX) and plain. Without memory for it, none is kept,
 * as for one too long.
 */
static void keep_location(pf_http_xfer *x, const char *v, size_t len)
{
    size_t i;

    if (x->location != NULL)
        x->location[0] = '\0';
    if (len == 0 || len >= PF_HTTP_LOCATION_MAX)
        return;
    for (i = 0; i < len; i++) {
        if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7F)
            return;
    }
    if (len + 1 > x->location_cap) {
        free(x->location);
        x->location_cap = 0;
        if ((x->location = malloc(len + 1)) == NULL)
            return;
        x->location_cap = len + 1;
    }
    memcpy(x->location, v, len);
    x->location[len] = '\0';
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    pf_http_xfer *x = arg;
    size_t len = size * n, vlen;
    const char *v;

    /* A new status line (after a 100 Continue, say) starts afresh. */
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        x->request_id[0] = '\0';
        x->retry_after[0] = '\0';
        if (x->location != NULL)
            x->location[0] = '\0';
        x->header_bytes = 0;
    }
    x->header_bytes += len;
    if (x->header_bytes > x->h->cfg.max_header_bytes) {
        x->header_too_large = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    /* The three names wanted start with r or l: the other lines (most
     * of them) are passed by their first byte. */
    if (len == 0)
        return len;
    switch (data[0]) {
    case 'r':
    case 'R':
        if (header_value(data, len, "request-id", &v, &vlen))
            pf_http_sanitize(x->request_id, sizeof(x->request_id), v, vlen);
        else if (header_value(data, len, "retry-after", &v, &vlen))
            pf_http_sanitize(x->retry_after, sizeof(x->retry_after), v, vlen);
        break;
    case 'l':
    case 'L':
        if (header_value(data, len, "location", &v, &vlen))
            keep_location(x, v, vlen);
        break;
    default:
        break;
    }
    return len;
}

static pf_transport transport_of(CURLcode rc, const pf_http_xfer *x)
{
    switch (rc) {
    case CURLE_OK:
        return PF_TRANSPORT_OK;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return PF_TRANSPORT_DNS;
    case CURLE_COULDNT_CONNECT:
        return PF_TRANSPORT_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return PF_TRANSPORT_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
        return PF_TRANSPORT_TLS_HANDSHAKE;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return PF_TRANSPORT_TLS_VERIFY;
    case CURLE_WRITE_ERROR:
        return x->too_large || x->header_too_large ? PF_TRANSPORT_BROKEN
                                                   : PF_TRANSPORT_OTHER;
    case CURLE_OUT_OF_MEMORY:
        return x->giant_line ? PF_TRANSPORT_BROKEN : PF_TRANSPORT_OTHER;
    case CURLE_ABORTED_BY_CALLBACK: /* only on_prereq aborts */
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP3:
        return PF_TRANSPORT_BROKEN;
    default:
        return PF_TRANSPORT_OTHER;
    }
}

static bool is_https(const char *url)
{
    return strncasecmp(url, "https://", 8) == 0;
}

/*
 * Appends the header line head + value (head alone when value is NULL)
 * and its NUL to b, its start in off[*n]; the value cut so that the line
 * stays under line_max bytes (0: never cut), as snprintf would cut it.
 */
static void header_line(pf_buf *b, size_t *off, size_t *n, const char *head,
                        const char *value, size_t line_max)
{
    size_t lh = strlen(head), lv;

    assert(*n < HEADER_LINES_MAX && (line_max == 0 || lh < line_max));
    off[(*n)++] = b->len;
    pf_buf_add(b, head, lh);
    if (value != NULL) {
        lv = strlen(value);
        if (line_max > 0 && lv > line_max - 1 - lh)
            lv = line_max - 1 - lh;
        pf_buf_add(b, value, lv);
    }
    pf_buf_add(b, "", 1); /* the line's NUL */
}

/*
 * The request's header lines, as the list x->headers: written into
 * x->header_text and linked through x->header_nodes (libcurl reads the
 * list and neither changes nor frees it), so that a request allocates
 * nothing for them (curl_slist_append() allocates twice per line). -1
 * when memory runs out.
 */
static int request_headers(pf_http_xfer *x, const pf_http_request *r)
{
    /* A line of a short value at most (as snprintf into this much). */
    const size_t line_max = PF_HTTP_HEADER_VALUE_MAX + 64;
    pf_buf *b = &x->header_text;
    size_t off[HEADER_LINES_MAX], n = 0, i;

    b->len = 0; /* wiped by recycle() */
    header_line(b, off, &n, "Accept: application/json", NULL, 0);
    /* no 100-continue round trip for small bodies */
    header_line(b, off, &n, "Expect:", NULL, 0);
    if (r->content_type != NULL)
        header_line(b, off, &n, "Content-Type: ", r->content_type, line_max);
    if (r->client_request_id != NULL)
        header_line(b, off, &n, "client-request-id: ", r->client_request_id,
                    line_max);
    if (r->traceparent != NULL)
        header_line(b, off, &n, "traceparent: ", r->traceparent, line_max);
    /* Checked by trace.h: at most PF_TRACE_STATE_MAX, so never cut. */
    if (r->tracestate != NULL)
        header_line(b, off, &n, "tracestate: ", r->tracestate,
                    PF_TRACE_STATE_MAX + 16);
    /* The token can be long: never cut. */
    if (r->bearer != NULL)
        header_line(b, off, &n, "Authorization: Bearer ", r->bearer, 0);
    if (b->failed)
        return -1;
    for (i = 0; i < n; i++) {
        x->header_nodes[i].data = b->buf + off[i];
        x->header_nodes[i].next = i + 1 < n ? &x->header_nodes[i + 1] : NULL;
    }
    x->headers = &x->header_nodes[0];
    return 0;
}

/*
 * The options that are the same for every request of h, set once when a
 * pooled handle is made (curl_easy_reset() and ~30 setopt calls per
 * request were 5,000 instructions per event at 0 ms). set_request() sets
 * the rest before each request. The handle is never reset: an option
 * that one request sets and another must not inherit is set by
 * set_request() for every request, in both of its states (the method,
 * the body, the headers).
 */
static void set_constant_options(pf_http *h, pf_http_xfer *x)
{
    CURL *e = x->easy;

    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, x);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
                     h->cfg.allow_http ? "http,https" : "https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE,
                     h->handles > h->cfg.small_reads_after
                         ? PF_HTTP_RECV_BUFFER_SMALL
                         : PF_HTTP_RECV_BUFFER);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->cfg.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->cfg.timeout_ms);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->cfg.ca_file != NULL) {
        /* Added to the system store, not instead of it. */
        curl_easy_setopt(e, CURLOPT_CAINFO, h->cfg.ca_file);
        curl_easy_setopt(e, CURLOPT_CAPATH, "/etc/ssl/certs");
    }
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, h);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, h);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "provflow/" PROVFLOW_VERSION);
}

/*
 * What changes from one request to the next. Every option here is set
 * for every request, so nothing of the handle's previous request
 * remains: the URL, the method, the header list, whether to wait for a
 * connection that may multiplex, and the body, which libcurl 7.88 keeps
 * in three fields (Curl_vsetopt): CURLOPT_POSTFIELDS
 * makes the request a POST, CURLOPT_HTTPGET makes it a GET again (and
 * clears upload and NOBODY, which provflow never sets), and
 * CURLOPT_CUSTOMREQUEST only renames the method libcurl would use. A
 * request without a body leaves them as a fresh handle has them: size
 * -1, no fields, GET (then renamed: DELETE).
 */
static int set_request(pf_http_xfer *x, const pf_http_request *r)
{
    CURL *e = x->easy;

    if (request_headers(x, r) != 0)
        return -1;
    /*
     * The URL, parsed here and handed over parsed as well as text. Given
     * only the text, libcurl 7.88 parses it with these flags and then
     * writes it out again, normalised, through its printf
     * (parseurlandfillconn: 15,000 instructions per request, more than
     * the parse); given a CURLU it copies the parts, and the text
     * (CURLOPT_URL) spares it the same printf before the transfer
     * (Curl_pretransfer). A URL this parse refuses goes
     * as text alone, for libcurl to refuse in its own words.
     */
    if (x->url == NULL)
        x->url = curl_url();
    if (x->url != NULL &&
        curl_url_set(x->url, CURLUPART_URL, r->url,
                     CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) ==
            CURLUE_OK)
        curl_easy_setopt(e, CURLOPT_CURLU, x->url);
    else
        curl_easy_setopt(e, CURLOPT_CURLU, NULL);
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    if (r->body != NULL) {
        /* Borrowed, not copied: the caller keeps it until done. */
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)r->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L); /* after POSTFIELDS */
    }
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    /*
     * Over TLS, a request waits for a connection being set up to say
     * whether it multiplexes (HTTP/2, told by the handshake) rather than
     * open one of its own. Over cleartext HTTP libcurl speaks only
     * HTTP/1.1 here (CURL_HTTP_VERSION_2TLS), but learns it only from a
     * first answer: waiting, a shard's other requests stayed behind its
     * first one for as long as that one took (all of them, for good,
     * behind one that a server held).
     */
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, is_https(r->url) ? 1L : 0L);
    /*
     * On a reused connection that breaks after the request went out and
     * before any answer, libcurl sends the request again on a new one by
     * itself, and a create that Graph applied before the break would be
     * sent twice. on_prereq refuses that second start: the transfer
     * fails instead (request_sent), and the caller decides, checking the
     * set's flows first (graph.h).
     */
    x->dos = 0;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    return 0;
}

static void unlink_active(pf_http_xfer *x)
{
    curl_multi_remove_handle(x->shard->multi, x->easy);
    x->shard->active--;
    x->shard = NULL;
    LIST_REMOVE(x, link);
}

/* Back to the pool once out of the multi handle; the easy handle is kept. */
static void recycle(pf_http *h, pf_http_xfer *x)
{
    x->headers = NULL;
    /* The header lines held the bearer token. */
    if (x->header_text.failed) {
        pf_buf_release(&x->header_text);
        pf_buf_init(&x->header_text, 0, true);
    } else if (x->header_text.buf != NULL) {
        explicit_bzero(x->header_text.buf, x->header_text.len);
        x->header_text.len = 0;
    }
    x->done = NULL;
    if (x->location != NULL)
        x->location[0] = '\0';
    /* The body's buffer waits for the next answer of any transfer; a big
     * one, or one too many, goes. */
    if (x->resp.buf != NULL && x->resp.cap <= RESP_SPARE_CAP &&
        h->spares < RESP_SPARES) {
        x->resp.len = 0;
        x->resp.failed = false;
        h->spare[h->spares++] = x->resp;
    } else {
        pf_buf_release(&x->resp);
    }
    memset(&x->resp, 0, sizeof(x->resp));
    LIST_INSERT_HEAD(&h->pool, x, link);
}

pf_http_xfer *pf_http_submit(pf_http *h, const pf_http_request *req,
                             pf_http_done_fn done, void *arg, char *errstr,
                             size_t errstr_size)
{
    struct shard *sh;
    pf_http_xfer *x;

    if (!is_https(req->url) && !h->cfg.allow_http) {
        snprintf(errstr, errstr_size,
                 "plain http:// is refused (allow it explicitly): %.128s",
                 req->url);
        return NULL;
    }
    x = LIST_FIRST(&h->pool);
    if (x != NULL) {
        LIST_REMOVE(x, link); /* configured: set_constant_options() */
    } else {
        x = calloc(1, sizeof(*x));
        if (x == NULL || (x->easy = curl_easy_init()) == NULL) {
            free(x);
            snprintf(errstr, errstr_size, "out of memory");
            return NULL;
        }
        pf_buf_init(&x->header_text, 0, true);
        h->handles++;
        set_constant_options(h, x);
    }
    x->h = h;
    x->done = done;
    x->arg = arg;
    x->body_sent_len = req->body != NULL ? req->body_len : 0;
    x->too_large = false;
    x->header_too_large = false;
    x->giant_line = false;
    x->header_bytes = 0;
    x->request_id[0] = '\0';
    x->retry_after[0] = '\0';
    x->errbuf[0] = '\0';
    x->started_ms = pf_now_ms();
    sh = shard_for_next(h);
    if (set_request(x, req) != 0 ||
        curl_multi_add_handle(sh->multi, x->easy) != CURLM_OK) {
        snprintf(errstr, errstr_size, "cannot start the request");
        recycle(h, x);
        return NULL;
    }
    x->shard = sh;
    sh->active++;
    LIST_INSERT_HEAD(&h->active, x, link);
    return x;
}

void pf_http_cancel(pf_http *h, pf_http_xfer *x)
{
    /* Submitted here, and neither finished nor cancelled (recycle()). */
    assert(x->h == h && x->done != NULL);
    unlink_active(x);
    recycle(h, x);
}

/* A transport failure in words: libcurl's, unless it misleads. */
static void describe(const pf_http *h, const pf_http_xfer *x, CURLcode rc,
                     char *out, size_t out_size)
{
    const char *text = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);

    if (x->too_large) {
        snprintf(out, out_size, "response body larger than %zu bytes",
                 h->cfg.max_response_bytes);
    } else if (x->header_too_large) {
        snprintf(out, out_size, "response header too large (over %zu bytes)",
                 h->cfg.max_header_bytes);
    } else if (x->giant_line) {
        snprintf(out, out_size,
                 "response header too large (a line over %d bytes)",
                 CURL_HEADER_LINE_MAX);
    } else if (rc == CURLE_GOT_NOTHING ||
               (resend_refused(x, rc) && x->header_bytes == 0)) {
        /*
         * libcurl says "Empty reply from server", or, on a reused
         * connection that it would have retried but may not (see
         * set_request), "operation aborted by pre-request callback".
         */
        snprintf(out, out_size, "connection closed before any response");
    } else {
        pf_http_sanitize(out, out_size, text, strlen(text));
    }
}

static void finish(pf_http *h, pf_http_xfer *x, CURLcode rc)
{
    pf_http_response resp;
    curl_off_t uploaded = 0;
    long request_size = 0;

    memset(&resp, 0, sizeof(resp));
    curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &request_size);
    curl_easy_getinfo(x->easy, CURLINFO_SIZE_UPLOAD_T, &uploaded);
    /*
     * libcurl 7.88 fails a header line over CURL_HEADER_LINE_MAX with
     * CURLE_OUT_OF_MEMORY: after the request went out and before any body
     * byte, that is what it means (a real shortage there is unlikely).
     */
    x->giant_line =
        rc == CURLE_OUT_OF_MEMORY && request_size > 0 && x->resp.len == 0;
    resp.transport = transport_of(rc, x);
    if (resp.transport == PF_TRANSPORT_OK)
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &resp.status);
    else
        describe(h, x, rc, resp.detail, sizeof(resp.detail));
    /* A refused resend: the first request may have gone out whole. */
    resp.request_sent =
        resend_refused(x, rc) ||
        (request_size > 0 && (curl_off_t)x->body_sent_len <= uploaded);
    resp.body = x->resp.buf != NULL ? x->resp.buf : "";
    resp.body_len = x->resp.len;
    memcpy(resp.request_id, x->request_id, sizeof(resp.request_id));
    memcpy(resp.retry_after, x->retry_after, sizeof(resp.retry_after));
    if (x->location != NULL) /* shorter than it: keep_location() */
        snprintf(resp.location, sizeof(resp.location), "%s", x->location);
    resp.elapsed_ms = pf_now_ms() - x->started_ms;

    /*
     * x goes back to the pool only after the callback: requests that the
     * callback submits must not take x while resp.body still points
     * into it.
     */
    unlink_active(x);
    x->done(x->arg, &resp);
    recycle(h, x);
}

/*
 * Keeps the caller's descriptors in the epoll set: those of the last call
 * stay registered while the caller passes the same ones (the usual case:
 * no system call), and are swapped when it passes others.
 */
static int watch_extra(pf_http *h, const int *fds, size_t count)
{
    struct epoll_event ev = {0};
    size_t i, n = 0;
    int want[EXTRA_MAX];

    for (i = 0; i < count && n < EXTRA_MAX; i++) {
        if (fds[i] >= 0)
            want[n++] = fds[i];
    }
    if (n == h->extra_count &&
        (n == 0 || memcmp(want, h->extra, n * sizeof(*want)) == 0))
        return 0;
    for (i = 0; i < h->extra_count; i++)
        (void)epoll_ctl(h->epfd, EPOLL_CTL_DEL, h->extra[i], NULL);
    h->extra_count = 0;
    for (i = 0; i < n; i++) {
        ev.events = EPOLLIN;
        ev.data.u64 = EXTRA_TAG | (uint64_t)(unsigned)want[i];
        if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, want[i], &ev) != 0 &&
            errno != EEXIST)
            return -1;
        h->extra[h->extra_count++] = want[i];
    }
    return 0;
}

/* Makes the callbacks of the transfers that finished. */
static void finish_done(pf_http *h)
{
    CURLMsg *m;
    size_t i;
    int msgs;

    for (i = 0; i < h->shard_count; i++) {
        while ((m = curl_multi_info_read(h->shards[i].multi, &msgs)) != NULL) {
            pf_http_xfer *x;

            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &x);
            finish(h, x, m->data.result);
        }
    }
}

/* The soonest of the shards' timeouts (pf_now_ms), -1 when none. */
static int64_t timer_due(const pf_http *h)
{
    int64_t due = -1;
    size_t i;

    for (i = 0; i < h->shard_count; i++) {
        int64_t t = h->shards[i].timer_due_ms;

        if (t >= 0 && (due < 0 || t < due))
            due = t;
    }
    return due;
}

/* Runs the timeouts that are due; -1 when libcurl fails. */
static int run_timers(pf_http *h)
{
    int64_t now = pf_now_ms();
    size_t i;
    int running;

    for (i = 0; i < h->shard_count; i++) {
        struct shard *sh = &h->shards[i];

        if (sh->timer_due_ms < 0 || sh->timer_due_ms > now)
            continue;
        sh->timer_due_ms = -1; /* libcurl sets it again if it wants one */
        if (curl_multi_socket_action(sh->multi, CURL_SOCKET_TIMEOUT, 0,
                                     &running) != CURLM_OK)
            return -1;
    }
    return 0;
}

int pf_http_poll(pf_http *h, const int *extra_fds, size_t extra_count,
                 int timeout_ms)
{
    struct epoll_event ev[EVENTS_MAX];
    int64_t now = pf_now_ms(), due = timer_due(h);
    int i, n, running, ready = 0, what;

    if (watch_extra(h, extra_fds, extra_count) != 0)
        return -1;
    if (due >= 0 && (timeout_ms < 0 || due - now < timeout_ms))
        timeout_ms = due <= now ? 0 : (int)(due - now);
    n = epoll_wait(h->epfd, ev, EVENTS_MAX, timeout_ms);
    if (n < 0 && errno != EINTR)
        return -1;
    for (i = 0; i < n; i++) {
        uint64_t tag = ev[i].data.u64;
        curl_socket_t s = (curl_socket_t)(tag & UINT32_MAX);
        size_t shard = (size_t)(tag >> SHARD_SHIFT);

        if (tag & EXTRA_TAG) {
            ready++;
            continue;
        }
        if ((sock_state(h, s) & (SOCK_IN_SET | SOCK_WANTED)) == SOCK_IN_SET) {
            /* Idle and kept (on_socket): nobody waits, so it leaves. */
            sock_unwatch(h, s);
            continue;
        }
        assert(shard < h->shard_count);
        what = ((ev[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
               ((ev[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
               ((ev[i].events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
        if (curl_multi_socket_action(h->shards[shard].multi, s, what,
                                     &running) != CURLM_OK)
            return -1;
    }
    if (run_timers(h) != 0 || h->socket_failed)
        return -1;
    finish_done(h);
    return ready;
}
