/*
 * benchtool.c - the benchmark harness's Kafka helpers (bench/run), in C on
 * librdkafka so that the harness itself needs no Python or JVM:
 *
 *   benchtool topics BROKERS create PARTITIONS NAME...
 *   benchtool topics BROKERS delete NAME...
 *       create / delete topics (admin API; replication factor 1)
 *
 *   benchtool commit BROKERS GROUP TOPIC
 *       commits offset 0 (no metadata) for GROUP on every partition of
 *       TOPIC: a committed starting point, so that a provflow instance of
 *       that group takes the records that follow as new ones instead of
 *       checking each in Graph first (docs/design.md, "The delivery
 *       argument", point 3)
 *
 *   benchtool passthrough BROKERS IN OUT GROUP
 *       the Kafka ceiling: consume IN (consumer group GROUP), produce one
 *       record per input record to OUT (same key, same partition number,
 *       value = a small outcome-shaped JSON wrapping the input value), and
 *       commit an input offset only after its output record is acknowledged
 *       (offsets stored from the delivery report, auto-commit every 1 s).
 *       Producer settings as provflow's (idempotent, acks=all, linger 50 ms).
 *       Runs until SIGTERM/SIGINT.
 *
 *   benchtool measure BROKERS IN RES DLQ N PID LAUNCH_MS DEADLINE_MS
 *       reads RES from the beginning until N distinct request ids have an
 *       outcome or the wall clock passes DEADLINE_MS (ms since the epoch);
 *       then samples the CPU time (utime+stime+cutime+cstime) and the peak
 *       RSS (VmHWM) of PID and all its descendants, reads IN for the input
 *       records' timestamps, counts DLQ, and prints one JSON object:
 *       outcomes, distinct, statuses, first/last outcome timestamps,
 *       latency percentiles of (outcome record timestamp - input record
 *       timestamp), per-key order violations among "created" outcomes,
 *       cpu seconds and peak RSS.
 *
 * Request ids are "<tag>-<i>" (bench/lib/gen_events.py): the number after
 * the last '-' indexes the per-event arrays, so no hash table is needed
 * for them. Outcome values are searched for "requestId":"..." and
 * "status":"..." (every implementation writes those members).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <sysexits.h>
#include <inttypes.h>
#include <search.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

/* A whole decimal number, 0 when the text is not one (bench input only). */
static long long num(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);

    return end == s ? 0 : v;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "benchtool: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];

    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK)
        die("%s", err);
}

static rd_kafka_t *client(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char err[256];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));

    if (!rk)
        die("%s", err);
    return rk;
}

static int partitions_of(rd_kafka_t *rk, const char *topic)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    int n = -1;

    for (int i = 0; i < 50 && n <= 0; i++) {
        if (rd_kafka_metadata(rk, 0, t, &md, 5000) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        if (md->topic_cnt == 1 && md->topics[0].err == 0)
            n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        if (n <= 0)
            usleep(100000);
    }
    rd_kafka_topic_destroy(t);
    if (n <= 0)
        die("no metadata for topic %s", topic);
    return n;
}

/* --- topics --------------------------------------------------------------- */

static int cmd_topics(int argc, char **argv)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    rd_kafka_event_t *ev;
    bool create;
    int first, n, rc = 0;
    char err[256];

    if (argc < 4)
        die("%s",
            "usage: topics BROKERS create PARTITIONS NAME... | delete NAME...");
    set(conf, "bootstrap.servers", argv[1]);
    rk = client(RD_KAFKA_PRODUCER, conf);
    q = rd_kafka_queue_new(rk);
    create = strcmp(argv[2], "create") == 0;
    first = create ? 4 : 3;
    n = argc - first;
    if (create) {
        rd_kafka_NewTopic_t **nt = calloc((size_t)n, sizeof(*nt));
        for (int i = 0; i < n; i++) {
            nt[i] = rd_kafka_NewTopic_new(argv[first + i], num(argv[3]), 1, err,
                                          sizeof(err));
            if (!nt[i])
                die("%s", err);
        }
        rd_kafka_CreateTopics(rk, nt, (size_t)n, NULL, q);
        ev = rd_kafka_queue_poll(q, 30000);
        const rd_kafka_CreateTopics_result_t *res =
            ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr =
            res ? rd_kafka_CreateTopics_result_topics(res, &cnt) : NULL;
        if (!res)
            rc = 1;
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
            if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                fprintf(stderr, "benchtool: create %s: %s\n",
                        rd_kafka_topic_result_name(tr[i]), rd_kafka_err2str(e));
                rc = 1;
            }
        }
        if (ev)
            rd_kafka_event_destroy(ev);
        rd_kafka_NewTopic_destroy_array(nt, (size_t)n);
        free(nt);
        /* Wait until every new topic's partitions are known. */
        for (int i = 0; rc == 0 && i < n; i++)
            partitions_of(rk, argv[first + i]);
    } else {
        rd_kafka_DeleteTopic_t **dt = calloc((size_t)n, sizeof(*dt));
        for (int i = 0; i < n; i++)
            dt[i] = rd_kafka_DeleteTopic_new(argv[first + i]);
        rd_kafka_DeleteTopics(rk, dt, (size_t)n, NULL, q);
        ev = rd_kafka_queue_poll(q, 30000);
        if (ev)
            rd_kafka_event_destroy(ev);
        rd_kafka_DeleteTopic_destroy_array(dt, (size_t)n);
        free(dt);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

/* --- commit --------------------------------------------------------------- */

static int cmd_commit(int argc, char **argv)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_resp_err_t err;
    rd_kafka_t *rk;
    int n, rc = 0;

    if (argc != 4)
        die("%s", "usage: commit BROKERS GROUP TOPIC");
    set(conf, "bootstrap.servers", argv[1]);
    set(conf, "group.id", argv[2]);
    set(conf, "enable.auto.commit", "false");
    rk = client(RD_KAFKA_CONSUMER, conf);
    n = partitions_of(rk, argv[3]);
    l = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++)
        rd_kafka_topic_partition_list_add(l, argv[3], p)->offset = 0;
    err = rd_kafka_commit(rk, l, 0);
    if (err) {
        fprintf(stderr, "benchtool: commit: %s\n", rd_kafka_err2str(err));
        rc = 1;
    }
    for (int i = 0; i < l->cnt; i++) {
        if (l->elems[i].err) {
            fprintf(stderr, "benchtool: commit %s [%d]: %s\n", argv[3],
                    (int)l->elems[i].partition,
                    rd_kafka_err2str(l->elems[i].err));
            rc = 1;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

/* --- passthrough ------------------------------------------------------------
 */

struct pos {
    int32_t partition;
    int64_t offset;
};

static const char *in_topic;
static rd_kafka_t *pt_consumer;
static long pt_delivered, pt_failed;

static void pt_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct pos *p = m->_private;
    rd_kafka_topic_partition_list_t *l;

    (void)rk;
    (void)opaque;
    if (m->err) {
        pt_failed++;
    } else {
        /* Output partition = input partition, idempotent producer: reports
         * of one partition come in order, so storing them is safe. */
        l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, in_topic, p->partition)->offset =
            p->offset + 1;
        rd_kafka_offsets_store(pt_consumer, l);
        rd_kafka_topic_partition_list_destroy(l);
        pt_delivered++;
    }
    free(p);
}

/* The value of "id" in a CloudEvent's first bytes, or "". */
static int find_str(const char *v, size_t len, const char *member,
                    const char **out)
{
    size_t ml = strlen(member);
    const char *s = memmem(v, len, member, ml), *e;

    if (!s)
        return 0;
    s += ml;
    e = memchr(s, '"', len - (size_t)(s - v));
    if (!e)
        return 0;
    *out = s;
    return (int)(e - s);
}

static int cmd_passthrough(int argc, char **argv)
{
    rd_kafka_conf_t *cc = rd_kafka_conf_new(), *pc = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *sub;
    rd_kafka_t *prod;
    char *buf = NULL;
    size_t cap = 0;

    if (argc != 5)
        die("%s", "usage: passthrough BROKERS IN OUT GROUP");
    in_topic = argv[2];
    set(cc, "bootstrap.servers", argv[1]);
    set(cc, "group.id", argv[4]);
    set(cc, "enable.auto.commit", "true");
    set(cc, "auto.commit.interval.ms", "1000");
    set(cc, "enable.auto.offset.store", "false");
    set(cc, "auto.offset.reset", "earliest");
    set(cc, "queued.max.messages.kbytes", "2048");
    set(cc, "fetch.max.bytes", "2097152");
    set(pc, "bootstrap.servers", argv[1]);
    set(pc, "enable.idempotence", "true");
    set(pc, "linger.ms", "50");
    set(pc, "queue.buffering.max.messages", "200000");
    rd_kafka_conf_set_dr_msg_cb(pc, pt_dr);
    prod = client(RD_KAFKA_PRODUCER, pc);
    pt_consumer = client(RD_KAFKA_CONSUMER, cc);
    rd_kafka_poll_set_consumer(pt_consumer);
    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, in_topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(pt_consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    while (!stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(pt_consumer, 100);
        rd_kafka_poll(prod, 0);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        const char *id = "";
        int idl = find_str(m->payload, m->len, "\"id\":\"", &id);
        size_t need = m->len + (size_t)idl + 96;
        if (need > cap) {
            cap = need * 2;
            buf = realloc(buf, cap);
        }
        int n =
            snprintf(buf, cap,
                     "{\"data\":{\"requestId\":\"%.*s\",\"status\":\"passed\"},"
                     "\"event\":",
                     idl, id);
        memcpy(buf + n, m->payload, m->len);
        n += (int)m->len;
        buf[n++] = '}';
        struct pos *p = malloc(sizeof(*p));
        p->partition = m->partition;
        p->offset = m->offset;
        rd_kafka_resp_err_t e;
        do {
            e = rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(argv[3]),
                                  RD_KAFKA_V_PARTITION(m->partition),
                                  RD_KAFKA_V_KEY(m->key, m->key_len),
                                  RD_KAFKA_V_VALUE(buf, (size_t)n),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(prod, 10);
        } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !stop);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_flush(prod, 10000);
    rd_kafka_consumer_close(pt_consumer);
    rd_kafka_destroy(pt_consumer);
    rd_kafka_destroy(prod);
    fprintf(stderr, "passthrough: %ld delivered, %ld failed\n", pt_delivered,
            pt_failed);
    free(buf);
    return 0;
}

/* --- measure ----------------------------------------------------------------
 */

struct proc_sample {
    double cpu_s;
    long hwm_kb;
    int procs;
};

static int ppid_of(int pid, unsigned long long *ticks)
{
    char path[64], buf[2048], *p;
    FILE *f;
    size_t n;
    int ppid = -1;
    unsigned long long ut, st;
    long long cut, cst;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* fields after comm: state(3) ppid(4) ... utime(14) stime(15)
     * cutime(16) cstime(17) */
    if (sscanf(p + 2,
               "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld",
               &ppid, &ut, &st, &cut, &cst) != 5)
        return -1;
    if (ticks)
        *ticks = ut + st + (unsigned long long)cut + (unsigned long long)cst;
    return ppid;
}

static long hwm_of(int pid)
{
    char path[64], line[256];
    FILE *f;
    long kb = 0;

    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = num(line + 6);
    }
    fclose(f);
    return kb;
}

/* PID and every live descendant: CPU (own + waited-for children) and the
 * sum of their VmHWM. */
static struct proc_sample sample_tree(int root)
{
    struct proc_sample s = {0, 0, 0};
    int tree[4096], nt = 0, changed = 1;
    long tck = sysconf(_SC_CLK_TCK);
    unsigned long long t;

    if (root <= 0)
        return s;
    tree[nt++] = root;
    while (changed) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        changed = 0;
        while (d && (de = readdir(d))) {
            if (!isdigit((unsigned char)de->d_name[0]))
                continue;
            int pid = num(de->d_name), in = 0;
            for (int i = 0; i < nt; i++)
                in |= tree[i] == pid;
            if (in)
                continue;
            int pp = ppid_of(pid, NULL);
            for (int i = 0; i < nt && nt < 4096; i++) {
                if (tree[i] == pp) {
                    tree[nt++] = pid;
                    changed = 1;
                    break;
                }
            }
        }
        if (d)
            closedir(d);
    }
    for (int i = 0; i < nt; i++) {
        if (ppid_of(tree[i], &t) < 0)
            continue;
        s.cpu_s += (double)t / (double)tck;
        s.hwm_kb += hwm_of(tree[i]);
        s.procs++;
    }
    return s;
}

static long index_of(const char *id, int len)
{
    long v = 0, mul = 1;
    int i = len - 1;

    if (len <= 0 || !isdigit((unsigned char)id[i]))
        return -1;
    for (; i >= 0 && isdigit((unsigned char)id[i]); i--) {
        v += (id[i] - '0') * mul;
        mul *= 10;
    }
    return (i >= 0 && id[i] == '-') ? v : -1;
}

static rd_kafka_t *reader(const char *brokers, const char *topic, int *np)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_t *rk;
    char gid[64];

    snprintf(gid, sizeof(gid), "benchtool-measure-%d", (int)getpid());
    set(c, "bootstrap.servers", brokers);
    set(c, "group.id", gid);
    set(c, "enable.auto.commit", "false");
    set(c, "enable.partition.eof", "true");
    set(c, "isolation.level", "read_uncommitted");
    rk = client(RD_KAFKA_CONSUMER, c);
    rd_kafka_poll_set_consumer(rk);
    *np = partitions_of(rk, topic);
    l = rd_kafka_topic_partition_list_new(*np);
    for (int p = 0; p < *np; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return rk;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmd_measure(int argc, char **argv)
{
    if (argc != 9)
        die("%s",
            "usage: measure BROKERS IN RES DLQ N PID LAUNCH_MS DEADLINE_MS");
    const char *brokers = argv[1];
    long n = num(argv[5]);
    int pid = num(argv[6]);
    int64_t launch = num(argv[7]), deadline = num(argv[8]);
    int64_t *out_ts = calloc((size_t)n, sizeof(int64_t));
    int64_t *in_ts = calloc((size_t)n, sizeof(int64_t));
    int64_t first = INT64_MAX, last = 0, done_at;
    long outcomes = 0, distinct = 0, created = 0, failed = 0, exists = 0,
         other = 0, order_viol = 0, unparsed = 0;
    int64_t *in_off = calloc((size_t)n, sizeof(int64_t));
    long *ord_key = calloc((size_t)n, sizeof(long));
    long *ord_i = calloc((size_t)n, sizeof(long));
    long nord = 0, nkeys = 0;
    int np;
    rd_kafka_t *rk;

    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    hcreate((size_t)n * 2 + 16);
    rk = reader(brokers, argv[3], &np);
    while (distinct < n && !stop && now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        const char *id, *st;
        int idl = find_str(m->payload, m->len, "\"requestId\":\"", &id);
        long i = index_of(id, idl);
        int stl = find_str(m->payload, m->len, "\"status\":\"", &st);
        int64_t ts = rd_kafka_message_timestamp(m, NULL);
        outcomes++;
        if (i < 0 || i >= n) {
            unparsed++;
        } else if (out_ts[i] == 0) {
            out_ts[i] = ts;
            distinct++;
            if (ts < first)
                first = ts;
            if (ts > last)
                last = ts;
            if (stl == 7 && memcmp(st, "created", 7) == 0) {
                created++;
                /* Per-key order, checked once the input offsets are
                 * known: within one results partition, one key's created
                 * outcomes must come in input-offset order. */
                char key[160];
                snprintf(key, sizeof(key), "%d/%.*s", (int)m->partition,
                         (int)(m->key_len < 140 ? m->key_len : 140),
                         (const char *)m->key);
                ENTRY e = {key, NULL}, *f = hsearch(e, FIND);
                if (!f) {
                    e.key = strdup(key);
                    e.data = (void *)(intptr_t)nkeys++;
                    f = hsearch(e, ENTER);
                }
                ord_key[nord] = (long)(intptr_t)f->data;
                ord_i[nord++] = i;
            } else if (stl == 6 && memcmp(st, "failed", 6) == 0) {
                failed++;
            } else if (stl == 6 && memcmp(st, "exists", 6) == 0) {
                exists++;
            } else {
                other++;
            }
        }
        rd_kafka_message_destroy(m);
    }
    done_at = now_ms();
    struct proc_sample ps = sample_tree(pid);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);

    /* Input timestamps. */
    rk = reader(brokers, argv[2], &np);
    int eofs = 0;
    int64_t until = now_ms() + 60000;
    while (eofs < np && now_ms() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (!m->err) {
            const char *id;
            int idl = find_str(m->payload, m->len, "\"id\":\"", &id);
            long i = index_of(id, idl);
            if (i >= 0 && i < n) {
                in_ts[i] = rd_kafka_message_timestamp(m, NULL);
                in_off[i] = m->offset;
            }
        }
        rd_kafka_message_destroy(m);
    }
    long dlq = 0;
    int nd = partitions_of(rk, argv[4]);
    for (int p = 0; p < nd; p++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, argv[4], p, &lo, &hi, 5000) ==
            0)
            dlq += hi - lo;
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);

    int64_t *last_off = malloc(((size_t)nkeys + 1) * sizeof(int64_t));
    for (long k = 0; k < nkeys; k++)
        last_off[k] = -1;
    for (long j = 0; j < nord; j++) {
        if (in_off[ord_i[j]] < last_off[ord_key[j]])
            order_viol++;
        last_off[ord_key[j]] = in_off[ord_i[j]];
    }
    int64_t *lat = calloc((size_t)n + 1, sizeof(int64_t));
    long nl = 0;
    for (long i = 0; i < n; i++) {
        if (out_ts[i] && in_ts[i])
            lat[nl++] = out_ts[i] - in_ts[i];
    }
    qsort(lat, (size_t)nl, sizeof(int64_t), cmp_i64);
#define PCT(p) (nl ? lat[(long)((double)(nl - 1) * (p) + 0.5)] : -1)
    /* Outcomes all within one millisecond (the records' timestamp
     * resolution: 200 records through the Kafka ceiling) span at most
     * that: the rate is at least n per ms, not 0. */
    double span = last > first   ? (double)(last - first) / 1000.0
                  : distinct > 1 ? 0.001
                                 : 0;
    double wall = last > launch ? (double)(last - launch) / 1000.0 : 0;
    printf("{\"n\":%ld,\"outcomes\":%ld,\"distinct\":%ld,\"complete\":%s,"
           "\"created\":%ld,\"failed\":%ld,\"exists\":%ld,\"other\":%ld,"
           "\"unparsed\":%ld,\"dead_letters\":%ld,\"order_violations\":%ld,"
           "\"launch_ms\":%" PRId64 ",\"first_ms\":%" PRId64
           ",\"last_ms\":%" PRId64 ",\"done_ms\":%" PRId64 ","
           "\"span_s\":%.3f,\"wall_s\":%.3f,\"eps\":%.1f,\"eps_wall\":%.1f,"
           "\"lat_p50_ms\":%" PRId64 ",\"lat_p99_ms\":%" PRId64
           ",\"lat_max_ms\":%" PRId64 ","
           "\"cpu_s\":%.2f,\"cpu_s_per_10k\":%.3f,\"rss_peak_kb\":%ld,"
           "\"procs\":%d}\n",
           n, outcomes, distinct, distinct == n ? "true" : "false", created,
           failed, exists, other, unparsed, dlq, order_viol, launch,
           first == INT64_MAX ? 0 : first, last, done_at, span, wall,
           span > 0 ? (double)(distinct - 1) / span : 0,
           wall > 0 ? (double)distinct / wall : 0, PCT(0.50), PCT(0.99),
           nl ? lat[nl - 1] : -1, ps.cpu_s,
           distinct ? ps.cpu_s * 10000.0 / (double)distinct : 0, ps.hwm_kb,
           ps.procs);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "topics") == 0)
        return cmd_topics(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "commit") == 0)
        return cmd_commit(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "passthrough") == 0)
        return cmd_passthrough(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "measure") == 0)
        return cmd_measure(argc - 1, argv + 1);
    fprintf(stderr, "usage: benchtool topics|commit|passthrough|measure ...\n");
    return EX_USAGE;
}
