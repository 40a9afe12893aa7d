/*
 * fuzz_redact.c - redact.h over any text and any secret: no crash, no
 * read out of bounds, and the secret is never left in the result.
 *
 * Input: the secret, a NUL byte, the text (no NUL: the secret alone, over
 * itself). The secret is passed per call (pf_redact_with.values) and also
 * registered; both searches must agree that nothing of it is left. A
 * secret containing '*' is exempt from that check: a mask next to the
 * text around it may spell it anew ("*b" in "*bb" gives "***b").
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provflow/redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nul = memchr(data, '\0', size);
    size_t slen = nul != NULL ? (size_t)(nul - (const char *)data) : size;
    const char *text = nul != NULL ? nul + 1 : (const char *)data;
    size_t tlen = nul != NULL ? size - slen - 1 : size;
    char *secret = malloc(slen + 1), *out = NULL, line[256];
    const char *values[1];
    pf_redact_with with = {values, 1, NULL};
    size_t out_len = 0;
    int rc;

    if (secret == NULL)
        return 0;
    memcpy(secret, data, slen);
    secret[slen] = '\0';
    values[0] = secret;
    rc = pf_redact(text, tlen, &with, &out, &out_len);
    if (rc < 0)
        abort(); /* not out of memory with these sizes */
    if (rc > 0) {
        if (strlen(out) > out_len)
            abort();
        if (slen > 0 && strchr(secret, '*') == NULL &&
            memmem(out, out_len, secret, slen) != NULL)
            abort();
        free(out);
    } else if (slen > 0 && memmem(text, tlen, secret, slen) != NULL) {
        abort(); /* the secret is there as it is, and nothing was found */
    }

    /* The registry and the in-place line. */
    pf_redact_add(secret);
    memcpy(line, text, tlen < sizeof(line) - 1 ? tlen : sizeof(line) - 1);
    line[tlen < sizeof(line) - 1 ? tlen : sizeof(line) - 1] = '\0';
    pf_redact_line(line, sizeof(line));
    if (strlen(line) >= sizeof(line))
        abort();
    for (size_t i = 0; line[i] != '\0'; i++) {
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            abort();
    }
    pf_redact_forget();
    free(secret);
    return 0;
}
