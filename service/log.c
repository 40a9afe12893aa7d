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

#define MAX_SECRETS   64
#define LINE_MAX_TEXT 4096

/*
 * Written before threads start and read afterwards: no lock needed for the
 * table; the level is a plain int read racily by design (a stale level for
 * one entry is harmless).
 */
static char *secrets[MAX_SECRETS];
static size_t secret_count;
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

int pf_log_enabled(pf_log_level level)
{
    return (int)level >= min_level;
}

int pf_log_secret(const char *secret)
{
    size_t i;

    if (secret == NULL || strlen(secret) < 4)
        return 0;
    for (i = 0; i < secret_count; i++) {
        if (strcmp(secrets[i], secret) == 0)
            return 0;
    }
    if (secret_count == MAX_SECRETS)
        return -1;
    secrets[secret_count] = strdup(secret);
    if (secrets[secret_count] == NULL)
        return -1;
    secret_count++;
    return 0;
}

void pf_log_forget_secrets(void)
{
    while (secret_count > 0) {
        char *s = secrets[--secret_count];

        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void replace_all(char *text, const char *needle)
{
    size_t n = strlen(needle);
    char *hit;

    while ((hit = strstr(text, needle)) != NULL) {
        memcpy(hit, "***", 3);
        memmove(hit + 3, hit + n, strlen(hit + n) + 1);
    }
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
    size_t i;

    for (i = 0; i < secret_count; i++)
        replace_all(text, secrets[i]);
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        mask_after(text, keys[i]);
}

static void set_text(json_t *line, const char *key, const char *value)
{
    char buf[LINE_MAX_TEXT];

    if (value == NULL)
        return;
    snprintf(buf, sizeof(buf), "%s", value);
    pf_log_redact(buf);
    /* jansson refuses invalid UTF-8: fall back to a marker, not silence. */
    if (json_object_set_new(line, key, json_string(buf)) != 0)
        json_object_set_new(line, key, json_string("(not UTF-8)"));
}

void pf_log(pf_log_level level, const pf_log_ctx *ctx, const char *fmt, ...)
{
    char msg[LINE_MAX_TEXT], ts[64];
    struct timespec now;
    struct tm tm;
    json_t *line;
    va_list ap;
    char *text;

    if ((int)level < min_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (now.tv_nsec / 1000000) % 1000);
    line = json_object();
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level_names[level]));
    set_text(line, "msg", msg);
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
