/*
 * loopback.h - a tiny HTTP/1.1 server on 127.0.0.1 for unit tests that
 * need real libcurl against a server that misbehaves on purpose (test_http,
 * test_token, test_graph). One thread; a handler decides each response as
 * raw bytes, so it can send anything: a giant header, a short body, nothing
 * at all; now, later, or when the test says so. The server counts the
 * requests it holds unanswered, so a test can see how many a client runs
 * at once.
 */
#ifndef PROVFLOW_TEST_LOOPBACK_H
#define PROVFLOW_TEST_LOOPBACK_H

#include <stdbool.h>
#include <stddef.h>

typedef struct lb_request {
    char method[16];
    char path[512];
    const char *headers; /* the raw header block, NUL-terminated */
    const char *body;    /* NUL-terminated */
    size_t body_len;
    int index; /* 0 for the server's first request, then 1, 2, ... */
    int conn;  /* 0 for the first connection accepted, then 1, 2, ... */
    /*
     * The handler may set *delay_ms: send the answer that many ms after the
     * request arrived (the thread serves other connections meanwhile), or
     * LB_HOLD to keep it until lb_release(). 0 when the handler is called:
     * at once.
     */
    int *delay_ms;
} lb_request;

#define LB_HOLD (-1)

/*
 * Called on the server's thread for each complete request. Sets *resp to a
 * malloc()ed response (status line, headers, body: sent as they are) and
 * *resp_len, or *resp to NULL to close the connection without an answer.
 * Returns true to keep the connection open for the next request.
 */
typedef bool (*lb_fn)(const lb_request *req, char **resp, size_t *resp_len,
                      void *arg);

typedef struct lb_server lb_server;

/* Listens on 127.0.0.1 with an ephemeral port; NULL on failure. */
lb_server *lb_start(lb_fn fn, void *arg);

/* "http://127.0.0.1:<port>" */
const char *lb_url(const lb_server *s);

/* Requests received so far (read from any thread). */
int lb_requests(lb_server *s);

/*
 * Requests received and not answered yet (held or delayed; a connection
 * the client closed meanwhile no longer counts), now and at most so far.
 */
int lb_in_flight(lb_server *s);
int lb_max_in_flight(lb_server *s);

/* Sends every answer held (LB_HOLD) at this moment; later ones wait for the
 * next call. */
void lb_release(lb_server *s);

/* Stops the thread, closes every connection and frees s. */
void lb_stop(lb_server *s);

/* A malloc()ed "HTTP/1.1 <status> X\r\n<headers>Content-Length: ..." reply
 * with body (headers: "" or lines each ending in "\r\n"). */
char *lb_reply(int status, const char *headers, const char *body, size_t *len);

#endif /* PROVFLOW_TEST_LOOPBACK_H */
