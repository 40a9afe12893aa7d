/*
 * fuzz_trace.c - trace.h over any traceparent and tracestate: no crash,
 * no read out of bounds, and what provflow then sends is valid.
 *
 * Input: the traceparent, a newline, the tracestate (no newline: a
 * traceparent alone). Whatever they are, the event's context has a trace
 * id, the traceparent provflow would send parses back to the same trace,
 * and a tracestate kept passes the check and is at most 512 characters
 * (it goes into an HTTP header as it is).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "provflow/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *nl, why[200];
    char span[PF_TRACE_SPAN_LEN + 1], tp[PF_TRACE_PARENT_LEN + 1];
    pf_trace t, back = {0};

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* a NUL inside cuts the text, as a C string would */
    nl = strchr(text, '\n');
    if (nl != NULL)
        *nl = '\0';
    pf_trace_from(text, nl != NULL ? nl + 1 : NULL, &t, why, sizeof(why));
    if (strlen(t.trace_id) != PF_TRACE_ID_LEN)
        abort();
    pf_trace_span_id(span);
    pf_trace_format(&t, span, tp);
    if (pf_trace_parse_parent(tp, &back, why, sizeof(why)) != 0 ||
        strcmp(back.trace_id, t.trace_id) != 0)
        abort();
    if (t.tracestate != NULL &&
        (strlen(t.tracestate) > PF_TRACE_STATE_MAX ||
         pf_trace_check_state(t.tracestate, why, sizeof(why)) != 0))
        abort();
    pf_trace_release(&t);
    free(text);
    return 0;
}
