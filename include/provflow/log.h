/*
 * log.h - JSON log lines on stderr, with redaction.
 *
 * One line per entry: {"ts", "level", "msg", and the context fields that
 * are set: topic, partition, offset, requestId, clientRequestId,
 * graphRequestId}. Every text that reaches a line (the message and each
 * context string) passes through the redaction layer first, whole (before
 * a long text is cut): every secret registered with pf_log_secret() is
 * replaced by "***" wherever it occurs, as it is, URL-encoded or
 * JSON-escaped (redact.h), and so are the values of "password",
 * "client_secret", "access_token", "client_assertion" and "Authorization:
 * Bearer" that look like they are printed in the text. Control characters
 * reach the line JSON-escaped. Nothing is written to stderr by provflow's
 * service code except through here; the CLI's own messages, which are
 * not JSON lines, are for pf_redact_line() (redact.h) when they quote a
 * server.
 *
 * Thread: entries may be written from any thread (librdkafka's log
 * callback runs on its threads); each line is written with one write(2).
 */
#ifndef PROVFLOW_LOG_H
#define PROVFLOW_LOG_H

#include <stdint.h>
#include <stddef.h>

typedef enum pf_log_level {
    PF_LOG_DEBUG,
    PF_LOG_INFO,
    PF_LOG_WARN,
    PF_LOG_ERROR,
} pf_log_level;

/* Context of an entry; NULL strings and negative numbers are left out. */
typedef struct pf_log_ctx {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *request_id;
    const char *client_request_id;
    const char *graph_request_id;
} pf_log_ctx;

#define PF_LOG_CTX_NONE ((pf_log_ctx){NULL, -1, -1, NULL, NULL, NULL})

/* Parses "debug", "info", "warn" or "error"; -1 if none of them. */
int pf_log_level_parse(const char *name);

/* Entries below level are dropped. Default: PF_LOG_INFO. */
void pf_log_set_level(pf_log_level level);

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

#endif /* PROVFLOW_LOG_H */
