/*
 * log.h - log lines on stderr, one format from the first to the last, with
 * redaction.
 *
 * One line per entry, in the format pf_log_set_format() chose (JSON, the
 * default, or logfmt text): "ts", "level", "msg", then the context fields
 * that are set (pf_log_ctx). Every text that reaches a line (the message
 * and each context string) passes through the redaction layer first,
 * whole (before a long text is cut): every secret registered with
 * pf_log_secret() is replaced by "***" wherever it occurs, as it is,
 * URL-encoded or JSON-escaped (redact.h), and so are the values printed
 * after "password", "client_secret", "access_token", "refresh_token",
 * "client_assertion" as `key=value`, `key: value` or `"key":"value"`, and
 * after "Bearer ": the value alone, the rest of the text is kept. Control
 * characters reach the line escaped. Nothing is written to stderr by
 * provflow's service code except through here; the CLI's own messages,
 * which are not log lines, are for pf_redact_line() (redact.h) when they
 * quote a server.
 *
 * Thread: entries may be written from any thread (librdkafka's log
 * callback runs on its threads); each line is written with one write(2).
 * The level and the format are set before threads that log start.
 */
#ifndef PROVFLOW_LOG_H
#define PROVFLOW_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum pf_log_level {
    PF_LOG_DEBUG,
    PF_LOG_INFO,
    PF_LOG_WARN,
    PF_LOG_ERROR,
} pf_log_level;

typedef enum pf_log_format {
    PF_LOG_JSON, /* {"ts":...,"level":...,"msg":...,...} */
    PF_LOG_TEXT, /* ts=... level=... msg="..." ... (logfmt) */
} pf_log_format;

/*
 * Context of an entry: what happened to which event. NULL strings,
 * negative partition and offset, attempt and http_status of 0 and
 * has_wait false are left out; the fields after graph_request_id may be
 * left out of an initializer. Written in this order, under these names:
 * what, topic, partition, offset, requestId, flowSetId, flowType,
 * tenant, attempt, trace_id, span_id, clientRequestId, graphRequestId,
 * httpStatus, waitMs. (trace_id and span_id are spelled as the
 * OpenTelemetry log data model spells them, so that log shippers
 * recognise them.)
 */
typedef struct pf_log_ctx {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *request_id;
    const char *client_request_id;
    const char *graph_request_id;
    const char *flow_set_id;
    const char *flow_type;
    const char *tenant;
    int attempt;          /* the try (1 = the first), 0: none */
    const char *trace_id; /* trace.h: 32 hex digits */
    const char *span_id;  /* the request's span: 16 hex digits */
    const char *what;     /* the happening, one word (docs/operations.md) */
    long http_status;     /* of the answer the entry is about; 0: none */
    bool has_wait;
    int64_t wait_ms; /* with has_wait: the wait the entry announces */
} pf_log_ctx;

#define PF_LOG_CTX_NONE ((pf_log_ctx){.partition = -1, .offset = -1})

/* Parses "debug", "info", "warn" or "error"; -1 if none of them. */
int pf_log_level_parse(const char *name);

/* Entries below level are dropped. Default: PF_LOG_INFO. */
void pf_log_set_level(pf_log_level level);

/* Parses "json" or "text"; -1 if neither. */
int pf_log_format_parse(const char *name);

/* The format of every later line. Default: PF_LOG_JSON. */
void pf_log_set_format(pf_log_format format);

/*
 * Registers a secret (at least 4 bytes; copied) that must never appear in a
 * line, nor in any other text redact.h masks (outcomes, dead-letter
 * headers): pf_redact_add(). Call before starting threads that log.
 * Returns -1 when full.
 */
int pf_log_secret(const char *secret);

/* Forgets every registered secret (and wipes the copies). */
void pf_log_forget_secrets(void);

/*
 * Replaces registered secrets (in all their forms) and credential-looking
 * values in text, in place (the text only shrinks). Exposed for outputs
 * other than logs.
 */
void pf_log_redact(char *text);

/* Writes one entry. ctx may be NULL. */
void pf_log(pf_log_level level, const pf_log_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* pf_log() with the arguments as a va_list. */
void pf_logv(pf_log_level level, const pf_log_ctx *ctx, const char *fmt,
             va_list ap) __attribute__((format(printf, 3, 0)));

/* Whether an entry at level would be written (to skip building one). */
bool pf_log_enabled(pf_log_level level);

#endif /* PROVFLOW_LOG_H */
