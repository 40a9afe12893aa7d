/*
 * ops.h - the operations an event can ask for, as data.
 *
 * One row per CloudEvents type: the Graph request it becomes (method,
 * what it addresses, the answers that mean success), what its outcome is
 * called, and what makes it safe to repeat (docs/design.md, "The delivery
 * argument"). event.c accepts exactly these types, transform.c builds the
 * request a row describes, graph.c runs it, outcome.c names its outcome.
 */
#ifndef PROVFLOW_OPS_H
#define PROVFLOW_OPS_H

#include <stdbool.h>

typedef enum pf_op_kind {
    PF_OP_FLOW_CREATE = 0, /* POST a set's provisioningFlows */
    PF_OP_SET_CREATE,      /* POST outboundProvisioningFlowSets */
    PF_OP_FLOW_UPDATE,     /* PATCH a flow */
    PF_OP_FLOW_DELETE,     /* DELETE a flow */
    PF_OP_FLOW_RESET,      /* POST a flow's reset */
    PF_OP_RUN_START,       /* POST runs/start */
} pf_op_kind;

/* What a row's request names. */
#define PF_OP_NAMES_SET  0x01u /* a flow set: by id or by displayName */
#define PF_OP_NAMES_FLOW 0x02u /* a flow of the set: by id or by its type */
#define PF_OP_HAS_BODY   0x04u /* a JSON body (the flow, the set) */
/*
 * Each success makes something new (a flow, a set, a run): it must never
 * be sent twice. After an attempt that may have reached Graph, and for a
 * record that may have been processed before, Graph is asked first
 * whether it already holds it; the settle time applies (graph.h).
 */
#define PF_OP_CREATES 0x08u
/* A flow that is not there (404, none of the type) ends it as "absent". */
#define PF_OP_ABSENT_OK 0x10u

typedef struct pf_op {
    pf_op_kind kind;
    const char *event_type; /* "provflow.provisioningFlow.update" */
    const char *entity;     /* its outcome type: provflow.<entity>.<status> */
    const char *object;     /* the outcome's member for Graph's object */
    const char *method;     /* "PATCH" */
    const char *done;       /* the outcome status of a success: "updated" */
    long ok[2];             /* Graph's success statuses (0: unused) */
    unsigned flags;         /* PF_OP_* */
} pf_op;

/* The row of a CloudEvents type, or NULL. */
const pf_op *pf_op_by_event_type(const char *type);

/* The row of a kind (never NULL for a pf_op_kind). */
const pf_op *pf_op_of(pf_op_kind kind);

/* The event types, ", "-separated with "or" before the last, for errors. */
const char *pf_op_event_types(void);

/* true when status is one of op's success statuses. */
bool pf_op_ok(const pf_op *op, long status);

#endif /* PROVFLOW_OPS_H */
