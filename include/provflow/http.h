/*
 * http.h - non-blocking HTTP over libcurl's multi interface.
 *
 * The caller's loop drives it: submit requests, then call pf_http_poll()
 * every turn; completions arrive as callbacks from inside pf_http_poll(), on
 * the loop thread. Connections are kept alive and reused, HTTP/2 is used
 * when a TLS server offers it, responses are size-capped, and transport
 * failures are classified as they enter (classify.h). Nothing here is
 * thread-safe.
 */
#ifndef PROVFLOW_HTTP_H
#define PROVFLOW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "provflow/classify.h"

#define PF_HTTP_CONNECT_TIMEOUT_MS_DEFAULT 10000
#define PF_HTTP_TIMEOUT_MS_DEFAULT         30000
#define PF_HTTP_MAX_RESPONSE_DEFAULT       (1024 * 1024)
#define PF_HTTP_MAX_HEADER_DEFAULT         (64 * 1024)
#define PF_HTTP_SMALL_READS_AFTER_DEFAULT  1024

typedef struct pf_http_config {
    const char *ca_file;       /* extra trusted CA (PEM); NULL: system only */
    bool allow_http;           /* permit plain http:// URLs (tests, local) */
    long connect_timeout_ms;   /* per connection attempt */
    long timeout_ms;           /* whole request, connect included */
    size_t max_response_bytes; /* larger bodies fail as BROKEN */
    size_t max_header_bytes;   /* larger response headers (all lines of
                                * one response) fail as BROKEN; libcurl
                                * itself refuses one line over 100 KiB */
    long max_connections;      /* open connections kept; 0: libcurl's */
    /* Transfers at once past which a new transfer reads its answer 1 KB at
     * a time instead of 2 KB: libcurl keeps that buffer with each transfer,
     * which thousands in flight multiply; an answer over 1 KB then takes
     * one more read. */
    long small_reads_after;
} pf_http_config;

/* Fills cfg with the PF_HTTP_*_DEFAULT values, TLS only, system CAs. */
void pf_http_config_default(pf_http_config *cfg);

typedef struct pf_http_request {
    const char *method;       /* "GET", "POST", "DELETE" */
    const char *url;          /* copied */
    const char *bearer;       /* Authorization: Bearer <bearer>; copied; NULL */
    const char *content_type; /* copied; NULL when there is no body */
    const char *client_request_id; /* header client-request-id; NULL */
    /* W3C Trace Context headers (trace.h), copied; NULL: not sent. The
     * caller passes values trace.h checked: printable ASCII, bounded. */
    const char *traceparent;
    const char *tracestate;
    /* Request body: borrowed, must stay valid until the callback. */
    const char *body;
    size_t body_len;
} pf_http_request;

#define PF_HTTP_HEADER_VALUE_MAX 128
#define PF_HTTP_LOCATION_MAX     1024

/*
 * The text fields below come from the server or from libcurl; none holds
 * a raw control byte (pf_http_sanitize()). Transport failures are named
 * in detail, among others: "connection closed before any response" (the
 * server closed or reset the connection before a status line),
 * "response header too large (over N bytes)", "response body larger than
 * N bytes" (all three PF_TRANSPORT_BROKEN).
 */
typedef struct pf_http_response {
    pf_transport transport; /* PF_TRANSPORT_OK when status is valid */
    char detail[256];       /* transport failure, in words; "" when OK */
    long status;            /* HTTP status, 0 without a response */
    bool request_sent;      /* the whole request left this process */
    const char *body;       /* NUL-terminated, valid during the callback */
    size_t body_len;
    /* "request-id" and "Retry-After" (raw), sanitized, truncated to fit */
    char request_id[PF_HTTP_HEADER_VALUE_MAX];
    char retry_after[PF_HTTP_HEADER_VALUE_MAX];
    /*
     * "Location" as sent (a URL: visible ASCII only); "" when absent, when
     * longer than PF_HTTP_LOCATION_MAX - 1, or when it holds any other
     * byte (never truncated, never escaped: it is meant to be used).
     */
    char location[PF_HTTP_LOCATION_MAX];
    int64_t elapsed_ms; /* submit to completion */
} pf_http_response;

/* Called once per submitted request, from inside pf_http_poll(). */
typedef void (*pf_http_done_fn)(void *arg, const pf_http_response *resp);

typedef struct pf_http pf_http;
typedef struct pf_http_xfer pf_http_xfer;

/*
 * Creates a client. cfg is copied (ca_file included). Returns NULL with a
 * reason in errstr if libcurl cannot be set up or ca_file is unreadable.
 */
pf_http *pf_http_new(const pf_http_config *cfg, char *errstr,
                     size_t errstr_size);

/* Abandons every transfer still running (no callbacks) and frees all. */
void pf_http_destroy(pf_http *h);

/*
 * Starts a request. On success returns the transfer (valid until its
 * callback returns or it is cancelled). Returns NULL with a reason in
 * errstr if the request cannot start (a plain http:// URL without
 * allow_http, out of memory); no callback is made then.
 */
pf_http_xfer *pf_http_submit(pf_http *h, const pf_http_request *req,
                             pf_http_done_fn done, void *arg, char *errstr,
                             size_t errstr_size);

/* Abandons a transfer; its callback is never made. */
void pf_http_cancel(pf_http *h, pf_http_xfer *x);

/*
 * Waits up to timeout_ms for network activity on the transfers or for one
 * of the extra file descriptors to become readable, moves every transfer
 * on, and makes the callbacks of those that finished. Returns the number of
 * extra descriptors that are readable (their indexes are not reported: the
 * caller polls its sources anyway), or -1 on a libcurl failure.
 */
int pf_http_poll(pf_http *h, const int *extra_fds, size_t extra_count,
                 int timeout_ms);

/*
 * Copies len bytes of src (text from a server: a header value, an error
 * description) into dst as one printable line: CR, LF and TAB become a
 * space; every other C0 control byte, DEL, a C1 control (U+0080..U+009F)
 * and each byte that is not part of valid UTF-8 become "\xNN"; valid
 * UTF-8 is kept. The result is NUL-terminated and cut at a character
 * boundary to fit dst_size (> 0). Returns its length. dst and src must
 * not overlap.
 */
size_t pf_http_sanitize(char *dst, size_t dst_size, const char *src,
                        size_t len);

#endif /* PROVFLOW_HTTP_H */
