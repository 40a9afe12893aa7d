/*
 * cmd_send.c - `provflow send`: events (NDJSON) in, outcome records
 * (NDJSON) out, through Graph, no Kafka. The operator's tool for one-off
 * creates. The same chain as `run` (docs/design.md, "The chain"): a line
 * is taken in (intake.h), waits for its flow set's turn (keyq.h), runs as
 * a Graph job (graph.h) and its result becomes an outcome (outcome.h);
 * only the source of records (lines) and the sink of outcomes (standard
 * output) are this file's.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provflow/cli.h"
#include "provflow/client.h"
#include "provflow/config.h"
#include "provflow/intake.h"
#include "provflow/keyq.h"
#include "provflow/log.h"
#include "provflow/outcome.h"
#include "provflow/redact.h"

#define SOURCE     "urn:provflow:send"
#define READ_AHEAD 4 /* events held per in-flight slot: bounds memory */

typedef struct sender sender;

/* One valid event on its way through Graph. */
typedef struct item {
    pf_keyq_item node;
    sender *s;
    pf_intake in;
    int64_t line;
} item;

struct sender {
    pf_timers *timers;
    pf_http *http;
    pf_client *client;
    pf_intake_config intake;
    pf_keyq *q;
    FILE *in;
    const char *in_name;
    char *buf;
    int64_t line;
    bool eof;
    int failed;
    bool unreachable; /* some event failed because Graph was away */
    bool systemic;    /* stop: not the events' fault */
    bool systemic_unreachable;
    char systemic_msg[PF_ERROR_MESSAGE_MAX];
    int lost;          /* outcomes that could not be built */
    bool write_failed; /* standard output refused an outcome */
};

/*
 * Prints the outcome of input line o->input.offset + 1. An outcome that
 * cannot be built or written is said on stderr and counted: the exit
 * status is then 70, never 0 (an event must not pass unreported).
 */
static void print_outcome(sender *s, const pf_outcome *o)
{
    char err[256];
    size_t len;
    char *text = pf_outcome_dump(o, &len, err, sizeof(err));

    if (text == NULL) {
        fprintf(stderr,
                "provflow send: %s line %lld: the outcome cannot be "
                "written: %s\n",
                s->in_name, (long long)o->input.offset + 1, err);
        s->lost++;
        return;
    }
    if ((fwrite(text, 1, len, stdout) != len || fputc('\n', stdout) == EOF ||
         fflush(stdout) != 0) &&
        !s->write_failed) {
        fprintf(stderr, "provflow send: writing outcomes: %s\n",
                strerror(errno));
        s->write_failed = true;
    }
    free(text);
}

static pf_outcome_input input_of(const sender *s, int64_t line)
{
    return (pf_outcome_input){s->in_name, 0, line};
}

/* trace: the event's (NULL when the line never reached intake). */
static void invalid(sender *s, const char *id, const pf_error *e, int64_t line,
                    const pf_trace *trace)
{
    pf_outcome_build b;

    pf_outcome_of_invalid(&b, e, id, SOURCE, pf_wall_ms(), input_of(s, line));
    if (trace != NULL)
        pf_outcome_trace(&b, trace);
    s->failed++;
    print_outcome(s, &b.o);
}

static void item_free(item *it)
{
    pf_intake_release(&it->in);
    free(it);
}

/* Systemic: not the event's fault; no outcome, everything stops. */
static void stop_systemic(sender *s, const pf_graph_result *r)
{
    if (s->systemic)
        return;
    s->systemic = true;
    /*
     * A dependency away (69), not configuration (78): Graph unreachable,
     * or a token endpoint that kept failing in a way that clears by
     * itself (no answer, 429, 5xx) until the event's retries ran out.
     */
    s->systemic_unreachable =
        r->unreachable || (r->token_failure != NULL &&
                           (r->token_failure->unreachable ||
                            r->token_failure->cls == PF_CLASS_TRANSIENT));
    snprintf(s->systemic_msg, sizeof(s->systemic_msg), "%s", r->message);
}

static void on_done(void *arg, const pf_graph_result *r)
{
    item *it = arg;
    sender *s = it->s;
    pf_outcome_build b;

    if (r->status == PF_GRAPH_SYSTEMIC) {
        stop_systemic(s, r);
    } else {
        pf_outcome_of_result(&b, r, &it->in.req, it->in.id, SOURCE,
                             pf_wall_ms(), input_of(s, it->line));
        pf_outcome_trace(&b, &it->in.trace);
        if (r->status == PF_GRAPH_FAILED || r->status == PF_GRAPH_REJECTED) {
            s->failed++;
            s->unreachable = s->unreachable || r->unreachable;
        }
        print_outcome(s, &b.o);
    }
    pf_keyq_done(s->q, &it->node);
    item_free(it);
}

/* Reads, decodes and transforms one line; queues it if valid. */
static void read_one(sender *s)
{
    size_t cap = PF_EVENT_MAX_BYTES, len = 0;
    pf_record rec = {0};
    pf_error err;
    item *it;
    const char *key;
    size_t key_len;
    int ch = EOF;
    bool too_long = false;

    while ((ch = getc_unlocked(s->in)) != EOF && ch != '\n') {
        if (len < cap)
            s->buf[len++] = (char)ch;
        else
            too_long = true;
    }
    if (ch == EOF && len == 0 && !too_long) {
        s->eof = true;
        return;
    }
    if (len > 0 && s->buf[len - 1] == '\r')
        len--;
    s->line++;
    if (too_long) {
        pf_error_set(&err, "invalid_event", "$",
                     "event is longer than %d bytes", PF_EVENT_MAX_BYTES);
        invalid(s, NULL, &err, s->line - 1, NULL);
        return;
    }
    rec.value = s->buf;
    rec.value_len = len;
    it = calloc(1, sizeof(*it));
    if (it == NULL) {
        pf_error_set(&err, "internal", "$", "out of memory");
        invalid(s, NULL, &err, s->line - 1, NULL);
        return;
    }
    it->s = s;
    it->line = s->line - 1;
    pf_keyq_item_init(&it->node);
    pf_intake_record(&s->intake, &rec, &it->in);
    if (!it->in.valid) {
        invalid(s, it->in.id, it->in.err, it->line, &it->in.trace);
        item_free(it);
        return;
    }
    if (it->in.req.since_ms == 0) /* a run start without a time: now */
        it->in.req.since_ms = pf_wall_ms();
    key = pf_intake_order_key(&it->in, &rec, &key_len);
    if (pf_keyq_push(s->q, key, key_len, &it->node) != 0) {
        pf_error_set(&err, "internal", "$", "out of memory");
        invalid(s, it->in.id, &err, it->line, &it->in.trace);
        item_free(it);
    }
}

/*
 * send keeps no record of what an earlier run of it did: a file sent again
 * is a replay. A set's create and a run's start are what Graph would
 * repeat (a second set of the name, a second run), so they are checked
 * first, as a record that may have been processed before (graph.h). A
 * flow's create goes unchecked as before: a set holds one flow of each
 * type.
 */
static bool checked_first(const pf_op *op)
{
    return op->kind == PF_OP_SET_CREATE || op->kind == PF_OP_RUN_START;
}

static void start_ready(sender *s)
{
    pf_keyq_item *n;
    char why[256];

    while (!s->systemic && (n = pf_keyq_pop_ready(s->q)) != NULL) {
        item *it = PF_KEYQ_ENTRY(n, item, node);
        /* Borrowed by the job: the item outlives it. */
        const pf_graph_origin origin = {it->in.id, s->in_name, 0, it->line,
                                        &it->in.trace};

        if (pf_graph_submit(pf_client_graph(s->client), &it->in.req,
                            it->in.source, checked_first(it->in.req.op), 0,
                            &origin, on_done, it, why, sizeof(why)) == NULL) {
            fprintf(stderr, "provflow send: %s\n", why);
            s->systemic = true;
            snprintf(s->systemic_msg, sizeof(s->systemic_msg), "%s", why);
            pf_keyq_done(s->q, n);
            item_free(it);
        }
    }
}

static void drop(pf_keyq_item *n, void *arg)
{
    (void)arg;
    item_free(PF_KEYQ_ENTRY(n, item, node));
}

/* The loop: read ahead, start what may start, move HTTP and timers on. */
static int run(sender *s, size_t window)
{
    while (!s->systemic) {
        int64_t now, due;
        int timeout;

        while (!s->eof && pf_keyq_queued(s->q) + pf_keyq_running(s->q) < window)
            read_one(s);
        start_ready(s);
        if (s->eof && pf_keyq_queued(s->q) + pf_keyq_running(s->q) == 0)
            break;
        now = pf_now_ms();
        pf_timers_run(s->timers, now);
        due = pf_timers_next_due(s->timers);
        timeout = due <= now ? 0 : due - now > 1000 ? 1000 : (int)(due - now);
        if (pf_http_poll(s->http, NULL, 0, timeout) < 0) {
            fputs("provflow send: libcurl failed\n", stderr);
            return PF_EXIT_SOFTWARE;
        }
    }
    if (s->systemic) {
        /* Jobs still running are abandoned; their events get no outcome. */
        pf_client_destroy(s->client);
        s->client = NULL;
        pf_keyq_clear(s->q, drop, NULL);
        /* The reason may quote a server: secrets masked, no control. */
        pf_redact_line(s->systemic_msg, sizeof(s->systemic_msg));
        fprintf(stderr,
                "provflow send: stopped: %s (not the events' fault: nothing "
                "was marked failed)\n",
                s->systemic_msg);
        return s->systemic_unreachable ? PF_EXIT_UNAVAIL : PF_EXIT_CONFIG;
    }
    if (ferror(s->in)) {
        fprintf(stderr, "provflow send: read error: %s\n", strerror(errno));
        return PF_EXIT_NOINPUT;
    }
    if (s->lost > 0 || s->write_failed) {
        fprintf(stderr, "provflow send: %s\n",
                s->write_failed ? "outcomes were lost: standard output failed"
                                : "outcomes were lost: see above");
        return PF_EXIT_SOFTWARE;
    }
    if (s->failed > 0)
        return s->unreachable ? PF_EXIT_UNAVAIL : PF_EXIT_DATAERR;
    return PF_EXIT_OK;
}

static void usage(FILE *out)
{
    fputs("Usage: provflow send [options] [FILE]\n"
          "\n"
          "Creates the provisioning flows that events ask for, one Graph\n"
          "request per event, and prints one outcome record per event\n"
          "(docs/events.md) as a JSON line. Events are structured-mode\n"
          "CloudEvents, one per line, from FILE or standard input. Events\n"
          "of one flowSetId are sent in order; others run concurrently.\n"
          "\n"
          "Options (flags > environment > config file > default):\n",
          out);
    pf_config_usage(out, PF_CMD_SEND);
    fputs("\n"
          "Exit status: 0 every event succeeded (created, existed, updated,\n"
          "deleted, absent, reset, started); 65 some event failed (invalid,\n"
          "rejected, or a run start refused by the run limit); 69 Graph or\n"
          "the token endpoint stayed unreachable or unavailable (no answer,\n"
          "429, 5xx); 78\n"
          "configuration or authorisation error (e.g. a wrong client secret,\n"
          "a token endpoint answering a token that is not Bearer: nothing is\n"
          "marked failed); 70 an outcome could not be written; 64 usage.\n",
          out);
}

int pf_cmd_send(int argc, char **argv)
{
    pf_config cfg;
    pf_http_config hc;
    sender s;
    char err[512];
    int first, rc;

    memset(&s, 0, sizeof(s));
    first = pf_config_cli(&cfg, PF_CMD_SEND, "send", argc, argv, usage, &rc);
    if (first < 0)
        return rc;
    if (argc - first > 1) {
        fprintf(stderr, "provflow send: at most one FILE\n");
        pf_config_release(&cfg);
        return PF_EXIT_USAGE;
    }
    /* One of the four: the settings table checked it (a CHOICE). */
    pf_log_set_level((pf_log_level)pf_log_level_parse(cfg.log_level));
    pf_log_set_format((pf_log_format)pf_log_format_parse(cfg.log_format));
    pf_log_secret(cfg.client_secret);
    pf_log_secret(cfg.certificate_password);
    pf_client_http_config(&cfg, &hc);
    s.timers = pf_timers_new();
    s.http = pf_http_new(&hc, err, sizeof(err));
    if (s.timers == NULL || s.http == NULL) {
        fprintf(stderr, "provflow send: ca-file: %s\n",
                s.timers == NULL ? "out of memory" : err);
        rc = PF_EXIT_CONFIG;
        goto out;
    }
    s.client = pf_client_new(&cfg, s.http, s.timers, err, sizeof(err));
    if (s.client == NULL) {
        fprintf(stderr, "provflow send: %s\n", err);
        rc = PF_EXIT_CONFIG;
        goto out;
    }
    s.intake = (pf_intake_config){.tokens = pf_client_tokens(s.client),
                                  .transform = pf_client_transform(s.client)};
    s.in = stdin;
    s.in_name = "stdin";
    if (first < argc && strcmp(argv[first], "-") != 0) {
        s.in_name = argv[first];
        s.in = fopen(argv[first], "r");
        if (s.in == NULL) {
            fprintf(stderr, "provflow send: %s: %s\n", argv[first],
                    strerror(errno));
            rc = PF_EXIT_NOINPUT;
            goto out;
        }
    }
    s.buf = malloc(PF_EVENT_MAX_BYTES + 1);
    s.q = pf_keyq_new((size_t)cfg.max_in_flight * READ_AHEAD);
    if (s.buf == NULL || s.q == NULL) {
        fprintf(stderr, "provflow send: out of memory\n");
        rc = PF_EXIT_SOFTWARE;
        goto out;
    }
    pf_tokens_prefetch(pf_client_tokens(s.client));
    rc = run(&s, (size_t)cfg.max_in_flight * READ_AHEAD);
out:
    if (s.q != NULL)
        pf_keyq_clear(s.q, drop, NULL);
    pf_keyq_destroy(s.q);
    pf_client_destroy(s.client);
    pf_http_destroy(s.http);
    pf_timers_destroy(s.timers);
    if (s.in != NULL && s.in != stdin)
        fclose(s.in);
    free(s.buf);
    pf_config_release(&cfg);
    pf_log_forget_secrets();
    return rc;
}
