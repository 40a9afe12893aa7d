/* log.c - JSON log lines with redaction (log.h). */
#include "provflow/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "provflow/redact.h"

#define LINE_MAX_TEXT 4096

/*
 * The level is a plain int read racily by design (a stale level for one
 * entry is harmless). The secrets live in redact.c.
 */
static int min_level = PF_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int pf_log_level_parse(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(name, level_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

void pf_log_set_level(pf_log_level level)
{
    min_level = (int)level;
}

int pf_log_secret(const char *secret)
{
    return pf_redact_add(secret);
}

void pf_log_forget_secrets(void)
{
    pf_redact_forget();
}

/*
 * Masks the value after a credential-looking key: `key=value`,
 * `key: value`, `"key":"value"`, up to a delimiter.
 */
static void mask_after(char *text, const char *key)
{
    size_t kl = strlen(key);
    char *p = text;

    while ((p = strcasestr(p, key)) != NULL) {
        char *v = p + kl, *end;

        while (*v == '"' || *v == '\'' || *v == ' ' || *v == ':' || *v == '=')
            v++;
        end = v;
        while (*end != '\0' && strchr("\"'&,; \t\r\n}]", *end) == NULL)
            end++;
        if (end - v > 3 && strncmp(v, "***", 3) != 0) {
            memcpy(v, "***", 3);
            memmove(v + 3, end, strlen(end) + 1);
        }
        p = v;
    }
}

void pf_log_redact(char *text)
{
    static const char *const keys[] = {
        "password",         "client_secret", "access_token",
        "client_assertion", "Bearer ",       "refresh_token",
    };
    size_t i, len;
    char *masked;
    int rc;

    /* Every mask is shorter than what it replaces: the text only shrinks. */
    rc = pf_redact(text, strlen(text), NULL, &masked, &len);
    if (rc < 0) {
        snprintf(text, strlen(text) + 1, "%s", PF_REDACT_MASK);
        return;
    }
    if (rc > 0) {
        memcpy(text, masked, len + 1);
        free(masked);
    }
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        mask_after(text, keys[i]);
}

/*
 * Redacted whole, then cut to LINE_MAX_TEXT: a cut first could leave the
 * start of a secret that the search no longer recognises.
 */
static void set_text(json_t *line, const char *key, const char *value)
{
    char buf[LINE_MAX_TEXT];
    size_t len;
    char *whole;

    if (value == NULL)
        return;
    len = strlen(value);
    if (len < sizeof(buf)) {
        memcpy(buf, value, len + 1);
        pf_log_redact(buf);
    } else {
        whole = strdup(value);
        if (whole == NULL) {
            snprintf(buf, sizeof(buf), "%s", PF_REDACT_MASK);
        } else {
            pf_log_redact(whole);
            snprintf(buf, sizeof(buf), "%s", whole);
            explicit_bzero(whole, len);
            free(whole);
        }
    }
    /* jansson refuses invalid UTF-8: fall back to a marker, not silence. */
    if (json_object_set_new(line, key, json_string(buf)) != 0)
        json_object_set_new(line, key, json_string("(not UTF-8)"));
}

void pf_log(pf_log_level level, const pf_log_ctx *ctx, const char *fmt, ...)
{
    char msg[LINE_MAX_TEXT], ts[64], *long_msg = NULL;
    struct timespec now;
    struct tm tm;
    json_t *line;
    va_list ap;
    char *text;
    int n;

    if ((int)level < min_level)
        return;
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(msg)) {
        /* Longer than a line holds: formatted whole for set_text(). */
        long_msg = malloc((size_t)n + 1);
        if (long_msg != NULL) {
            va_start(ap, fmt);
            vsnprintf(long_msg, (size_t)n + 1, fmt, ap);
            va_end(ap);
        }
    }

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (now.tv_nsec / 1000000) % 1000);
    line = json_object();
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level_names[level]));
    set_text(line, "msg", long_msg != NULL ? long_msg : msg);
    free(long_msg);
    if (ctx != NULL) {
        set_text(line, "topic", ctx->topic);
        if (ctx->partition >= 0)
            json_object_set_new(line, "partition",
                                json_integer(ctx->partition));
        if (ctx->offset >= 0)
            json_object_set_new(line, "offset", json_integer(ctx->offset));
        set_text(line, "requestId", ctx->request_id);
        set_text(line, "clientRequestId", ctx->client_request_id);
        set_text(line, "graphRequestId", ctx->graph_request_id);
    }
    text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (text == NULL)
        return;
    {
        size_t len = strlen(text);

        text[len] = '\n'; /* replaces the NUL: one write(2) per line */
        if (write(STDERR_FILENO, text, len + 1) < 0) {
            /* Nowhere left to report it. */
        }
    }
    free(text);
}
