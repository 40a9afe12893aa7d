/*
 * curlfloor - the CPU that libcurl and the kernel alone spend per create,
 * on this machine: the floor under provflow's CPU per event at 0 ms.
 *
 *     curlfloor URL TOKEN BODY_FILE N IN_FLIGHT [socket|poll]
 *
 * Sends N POSTs of BODY_FILE to URL, IN_FLIGHT at a time, over HTTP/1.1
 * keep-alive connections through one curl multi handle driven as provflow
 * drives its own (socket: curl_multi_socket_action() and epoll, the
 * default) or by curl_multi_perform() and curl_multi_poll() (poll), with the
 * header lines provflow sends (Accept, an empty Expect, Content-Type, a fresh
 * client-request-id, a traceparent, the bearer TOKEN) and the options it
 * sets on its pooled handles. Nothing else: no Kafka, no JSON, no
 * outcome. The URL is set once per handle and the body once, so each
 * request costs libcurl less than provflow's does (which sets both per
 * request): the figure is a lower bound.
 *
 * Prints one line: requests, answers by class, wall seconds, user and
 * system CPU seconds, and CPU seconds per 10,000 requests. Exit 1 when a
 * request fails at the transport, 2 on a usage error.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>

#define LINES 6

/* One request's handle and its header list (libcurl only reads it). */
typedef struct slot {
    CURL *easy;
    struct curl_slist nodes[LINES];
    char id_line[64];
} slot;

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static int epfd = -1;
static long timeout_ms = -1;

/* libcurl says which sockets to watch: epoll watches them. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *ud, void *sp)
{
    struct epoll_event ev = {0};

    (void)e;
    (void)ud;
    (void)sp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) |
                (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    ev.data.fd = fd;
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) != 0)
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

static int on_timer(CURLM *m, long ms, void *ud)
{
    (void)m;
    (void)ud;
    timeout_ms = ms;
    return 0;
}

static double secs(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* A client-request-id line that differs per request, as provflow's do. */
static void set_id(slot *s, unsigned long n)
{
    snprintf(s->id_line, sizeof(s->id_line),
             "client-request-id: 00000000-0000-5000-8000-%012lx", n);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->nodes);
}

int main(int argc, char **argv)
{
    static char auth[8192];
    char *body;
    long body_len, in_flight, n, sent = 0, done = 0, classes[6] = {0};
    FILE *f;
    CURLM *m;
    slot *slots;
    struct timespec t0, t1;
    struct rusage ru;
    double wall, user, sys;
    int running, failed = 0, use_socket;
    long i;

    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: curlfloor URL TOKEN BODY_FILE N IN_FLIGHT "
                        "[socket|poll]\n");
        return 2;
    }
    use_socket = argc == 6 || strcmp(argv[6], "poll") != 0;
    n = strtol(argv[4], NULL, 10);
    in_flight = strtol(argv[5], NULL, 10);
    f = fopen(argv[3], "rb");
    if (n < 1 || in_flight < 1 || f == NULL) {
        fprintf(stderr, "curlfloor: N and IN_FLIGHT >= 1, a readable body\n");
        return 2;
    }
    fseek(f, 0, SEEK_END);
    body_len = ftell(f);
    rewind(f);
    body = malloc((size_t)body_len + 1);
    if (body == NULL || fread(body, 1, (size_t)body_len, f) != (size_t)body_len)
        return 2;
    fclose(f);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", argv[2]);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    m = curl_multi_init();
    slots = calloc((size_t)in_flight, sizeof(*slots));
    if (m == NULL || slots == NULL)
        return 2;
    if (use_socket) {
        epfd = epoll_create1(0);
        curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < in_flight && sent < n; i++) {
        slot *s = &slots[i];
        CURL *e = curl_easy_init();
        const char *lines[LINES] = {
            "Accept: application/json",
            "Expect:",
            "Content-Type: application/json",
            s->id_line,
            "traceparent: 00-0af7651916cd43dd8448eb211c80319c-"
            "b7ad6b7169203331-01",
            auth,
        };
        int k;

        s->easy = e;
        for (k = 0; k < LINES; k++) {
            s->nodes[k].data = (char *)lines[k]; /* only read */
            s->nodes[k].next = k + 1 < LINES ? &s->nodes[k + 1] : NULL;
        }
        curl_easy_setopt(e, CURLOPT_URL, argv[1]);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(e, CURLOPT_USERAGENT, "provflow/0.1.0");
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, discard);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_PRIVATE, s);
        set_id(s, (unsigned long)sent++);
        curl_multi_add_handle(m, e);
    }
    while (done < n) {
        CURLMsg *msg;
        int left;

        if (!use_socket) {
            curl_multi_perform(m, &running);
        } else {
            struct epoll_event evs[64];
            int k, ready;

            ready = epoll_wait(epfd, evs, 64,
                               timeout_ms < 0 ? 1000 : (int)timeout_ms);
            if (ready <= 0)
                curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
            for (k = 0; k < ready; k++)
                curl_multi_socket_action(
                    m, evs[k].data.fd,
                    (evs[k].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                        (evs[k].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                        (evs[k].events & (EPOLLERR | EPOLLHUP)
                             ? CURL_CSELECT_ERR
                             : 0),
                    &running);
        }
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            slot *s;
            long status = 0;

            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE,
                              &status);
            if (msg->data.result != CURLE_OK)
                failed++;
            classes[status >= 100 && status < 600 ? status / 100 : 0]++;
            done++;
            curl_multi_remove_handle(m, s->easy);
            if (sent < n) {
                set_id(s, (unsigned long)sent++);
                curl_multi_add_handle(m, s->easy);
            }
        }
        if (done < n && !use_socket)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    getrusage(RUSAGE_SELF, &ru);
    wall = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    user = secs(ru.ru_utime);
    sys = secs(ru.ru_stime);
    printf("requests %ld 2xx %ld 4xx %ld 5xx %ld failed %d wall %.3f user "
           "%.3f sys %.3f cpu_s_per_10k %.3f per_s %.0f\n",
           done, classes[2], classes[4], classes[5], failed, wall, user, sys,
           (user + sys) * 10000.0 / (double)done, (double)done / wall);
    for (i = 0; i < in_flight; i++) {
        if (slots[i].easy != NULL)
            curl_easy_cleanup(slots[i].easy);
    }
    curl_multi_cleanup(m);
    curl_global_cleanup();
    free(slots);
    free(body);
    return failed != 0;
}
