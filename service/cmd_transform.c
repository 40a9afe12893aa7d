/*
 * cmd_transform.c - `provflow transform`: events (NDJSON) in, the Graph
 * requests they become out, one line each. No network: for debugging event
 * producers and for CI.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provflow/cli.h"
#include "provflow/event.h"
#include "provflow/transform.h"

static const char usage[] =
    "Usage: provflow transform [options] [FILE]\n"
    "\n"
    "Reads provisioning request events, one structured-mode CloudEvent (JSON)\n"
    "per line, from FILE or standard input, and writes one JSON line per\n"
    "input line: the Graph request the event becomes, or why it is invalid.\n"
    "Nothing is sent anywhere.\n"
    "\n"
    "Options:\n"
    "  --graph-root URL    Graph root for request and bind URLs\n"
    "                      (default " PF_GRAPH_ROOT_DEFAULT ")\n"
    "  --secrets-dir DIR   directory of named secrets for\n"
    "                      \"defaultPasswordSecret\" (default: none)\n"
    "  --reveal-secrets    print passwords instead of \"***\"\n"
    "  -h, --help          show this help\n"
    "\n"
    "Output lines:\n"
    "  {\"ok\":true,\"requestId\":ID,\"method\":\"POST\",\"url\":URL,\n"
    "   \"clientRequestId\":UUID,\"body\":{...}}\n"
    "  "
    "{\"ok\":false,\"requestId\":ID|null,\"error\":{\"code\":\"invalid_event\","
    "\n"
    "   \"path\":JSON-PATH,\"message\":REASON}}\n"
    "\n"
    "Error texts are valid UTF-8 with control characters escaped; a text cut\n"
    "to fit ends in \"...\".\n"
    "\n"
    "Exit status: 0 every line was valid, 65 some line was invalid (all lines\n"
    "are still processed), 64 usage error, 66 FILE cannot be read, 70 the\n"
    "output for some line could not be built (that line says so; the others\n"
    "are still processed), 78 bad --graph-root or --secrets-dir.\n";

/*
 * The line written when a line's output cannot be built (out of memory):
 * static, so that writing it allocates nothing.
 */
static const char unbuilt_line[] =
    "{\"ok\":false,\"requestId\":null,\"error\":{\"code\":\"internal\","
    "\"path\":\"$\",\"message\":\"the output for this line could not be "
    "built (out of memory)\"}}";

/*
 * Reads one line into buf (capacity cap + 1) without its "\n" or "\r\n".
 * A longer line is consumed to its end and reported by *too_long. Returns
 * false at end of input.
 */
static bool read_line(FILE *in, char *buf, size_t cap, size_t *len,
                      bool *too_long)
{
    int ch = EOF;

    *len = 0;
    *too_long = false;
    while ((ch = getc_unlocked(in)) != EOF && ch != '\n') {
        if (*len < cap)
            buf[(*len)++] = (char)ch;
        else
            *too_long = true;
    }
    if (ch == EOF && *len == 0 && !*too_long)
        return false;
    if (*len > 0 && buf[*len - 1] == '\r')
        (*len)--;
    buf[*len] = '\0';
    return true;
}

static json_t *error_line(const char *request_id, const pf_error *err)
{
    return json_pack("{sbsos{ssssss}}", "ok", 0, "requestId",
                     request_id != NULL ? json_string(request_id) : json_null(),
                     "error", "code", err->code, "path", err->path, "message",
                     err->message);
}

/* One event line to one output object; *valid tells which it was. */
static json_t *transform_line(const char *line, size_t len, bool too_long,
                              const pf_transform_opts *opts, bool reveal,
                              bool *valid)
{
    pf_record rec = {.value = line, .value_len = len};
    pf_event ev;
    pf_request req;
    pf_error err;
    json_t *out;
    size_t url_len;
    char *url;

    *valid = false;
    if (too_long) {
        pf_error_set(&err, "invalid_event", "$",
                     "event is longer than %d bytes", PF_EVENT_MAX_BYTES);
        return error_line(NULL, &err);
    }
    if (pf_event_decode(&rec, &ev, &err) != 0) {
        out = error_line(ev.id, &err);
        pf_event_release(&ev);
        return out;
    }
    if (pf_transform(&ev, opts, &req, &err) != 0) {
        out = error_line(ev.id, &err);
        pf_event_release(&ev);
        return out;
    }
    if (!reveal)
        pf_json_mask_secrets(req.body);
    /*
     * What Graph is asked; a part known only from Graph (a set named by
     * displayName, a flow by its type) is shown as a placeholder. "O"
     * takes a new reference to the body; req keeps its own.
     */
    url_len = pf_request_url(&req, NULL, NULL, NULL, 0) + 1;
    url = malloc(url_len);
    if (url != NULL)
        pf_request_url(&req, NULL, NULL, url, url_len);
    out = url == NULL
              ? NULL
              : json_pack("{sbsssssssssO}", "ok", 1, "requestId", ev.id,
                          "method", req.op->method, "url", url,
                          "clientRequestId", req.client_request_id, "body",
                          req.body != NULL ? req.body : json_null());
    free(url);
    pf_request_release(&req);
    pf_event_release(&ev);
    *valid = out != NULL;
    return out;
}

int pf_cmd_transform(int argc, char **argv)
{
    static const struct option options[] = {
        {"graph-root", required_argument, NULL, 'g'},
        {"secrets-dir", required_argument, NULL, 's'},
        {"reveal-secrets", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    pf_transform_opts opts = {.graph_root = PF_GRAPH_ROOT_DEFAULT};
    const char *secrets_dir = NULL, *file = NULL;
    pf_secrets *secrets = NULL;
    char errstr[256];
    bool reveal = false, all_valid = true, all_built = true;
    FILE *in = stdin;
    char *line = NULL;
    int opt, rc = PF_EXIT_OK;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'g':
            opts.graph_root = optarg;
            break;
        case 's':
            secrets_dir = optarg;
            break;
        case 'r':
            reveal = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return PF_EXIT_OK;
        default:
            fputs("Run 'provflow transform --help' for usage.\n", stderr);
            return PF_EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "provflow transform: at most one FILE, got %d\n",
                argc - optind);
        return PF_EXIT_USAGE;
    }
    if (optind < argc)
        file = argv[optind];

    if (!pf_graph_root_valid(opts.graph_root, errstr, sizeof(errstr))) {
        fprintf(stderr, "provflow transform: --graph-root %s\n", errstr);
        return PF_EXIT_CONFIG;
    }
    if (secrets_dir != NULL) {
        secrets = pf_secrets_new(secrets_dir, errstr, sizeof(errstr));
        if (secrets == NULL) {
            fprintf(stderr, "provflow transform: --secrets-dir: %s\n", errstr);
            return PF_EXIT_CONFIG;
        }
        opts.secrets = secrets;
    }
    if (file != NULL && strcmp(file, "-") != 0) {
        in = fopen(file, "r");
        if (in == NULL) {
            fprintf(stderr, "provflow transform: %s: %s\n", file,
                    strerror(errno));
            rc = PF_EXIT_NOINPUT;
            goto out;
        }
    }

    line = malloc(PF_EVENT_MAX_BYTES + 1);
    if (line == NULL) {
        rc = PF_EXIT_SOFTWARE;
        goto out;
    }
    for (;;) {
        size_t len;
        bool too_long, valid;
        json_t *result;

        if (!read_line(in, line, PF_EVENT_MAX_BYTES, &len, &too_long))
            break;
        result = transform_line(line, len, too_long, &opts, reveal, &valid);
        if (result == NULL) {
            /* One line's trouble: say so on its line, go on with the next. */
            fputs(unbuilt_line, stdout);
            all_built = false;
        } else {
            json_dumpf(result, stdout, JSON_COMPACT);
        }
        fputc('\n', stdout);
        json_decref(result);
        all_valid = all_valid && valid;
    }
    if (ferror(in)) {
        fprintf(stderr, "provflow transform: read error: %s\n",
                strerror(errno));
        rc = PF_EXIT_NOINPUT;
    } else if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "provflow transform: write error: %s\n",
                strerror(errno));
        rc = PF_EXIT_SOFTWARE;
    } else if (!all_built) {
        fputs("provflow transform: the output for some lines could not be "
              "built\n",
              stderr);
        rc = PF_EXIT_SOFTWARE;
    } else if (!all_valid) {
        rc = PF_EXIT_DATAERR;
    }
out:
    free(line);
    if (in != stdin && in != NULL)
        fclose(in);
    pf_secrets_destroy(secrets);
    return rc;
}
