/* intake.c - a record becomes a request, or an invalid outcome (intake.h). */
#include "provflow/intake.h"

#include <stdlib.h>
#include <string.h>

#include "provflow/event.h"

/* The error of an invalid record when memory for its own copy ran out. */
static pf_error out_of_memory = {"internal", "", "out of memory"};

/* The credential of the event's tenant; false when none may serve it. */
static bool tenant(const pf_intake_config *cfg, const pf_event *ev,
                   pf_intake *in, pf_error *err)
{
    char q[68];

    in->source = pf_tokens_find(cfg->tokens, ev->tenantid);
    if (in->source != NULL ||
        (cfg->dry_run && pf_tokens_find(cfg->tokens, NULL) == NULL))
        return true;
    pf_error_set(err, "invalid_event", "tenantid",
                 "no credential is configured for tenant \"%s\"",
                 pf_error_excerpt(q, sizeof(q), ev->tenantid));
    return false;
}

void pf_intake_record(const pf_intake_config *cfg, const pf_record *rec,
                      pf_intake *in)
{
    char note[200];
    pf_error err;
    pf_event ev;

    memset(in, 0, sizeof(*in));
    pf_error_clear(&err);
    /* A request to send is held as its text; a dry run prints the tree. */
    if (pf_event_decode(rec, &ev, &err) == 0 && tenant(cfg, &ev, in, &err) &&
        (cfg->dry_run
             ? pf_transform(&ev, cfg->transform, &in->req, &err)
             : pf_transform_text(&ev, cfg->transform, &in->req, &err)) == 0) {
        in->valid = true;
    } else {
        in->err = malloc(sizeof(*in->err));
        if (in->err != NULL)
            *in->err = err;
        else
            in->err = &out_of_memory;
    }
    /* Set by decode even when it fails, when the record carried them. */
    pf_trace_from(ev.traceparent, ev.tracestate, &in->trace, note,
                  sizeof(note));
    if (note[0] != '\0')
        in->trace_note = strdup(note); /* only a log line when it fails */
    in->id = ev.id; /* set by decode even when it fails, when readable */
    ev.id = NULL;
    pf_event_release(&ev);
}

const char *pf_intake_order_key(const pf_intake *in, const pf_record *rec,
                                size_t *len)
{
    const char *key;

    if (rec->key_len > 0) {
        *len = rec->key_len;
        return rec->key;
    }
    /* A set by id or by name; a run start: its tenant (ops.h). */
    if (in->req.flow_set_id[0] != '\0') {
        *len = strlen(in->req.flow_set_id);
        return in->req.flow_set_id;
    }
    if (in->req.flow_set_name != NULL) {
        *len = strlen(in->req.flow_set_name);
        return in->req.flow_set_name;
    }
    key = in->source != NULL ? pf_token_source_tenant(in->source) : NULL;
    *len = key != NULL ? strlen(key) : 0;
    return key != NULL ? key : "";
}

void pf_intake_release(pf_intake *in)
{
    pf_request_release(&in->req);
    pf_trace_release(&in->trace);
    if (in->err != &out_of_memory)
        free(in->err);
    free(in->trace_note);
    free(in->id);
    memset(in, 0, sizeof(*in));
}
