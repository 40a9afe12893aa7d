/*
 * ops.c - the operations an event can ask for, as one table (ops.h).
 *
 * Statuses from Graph's beta API pages: a create answers 201, an update
 * and a delete 204, a reset and a run start 202 (a reset's 204 is
 * accepted too: the page shows 202, an action may answer either).
 */
#include "provflow/ops.h"

#include <stddef.h>
#include <string.h>

#define NS "provflow."

static const pf_op ops[] = {
    {PF_OP_FLOW_CREATE,
     NS "provisioningFlow.create",
     "provisioningFlow",
     "flow",
     "POST",
     "created",
     {201, 0},
     PF_OP_NAMES_SET | PF_OP_HAS_BODY | PF_OP_CREATES},
    {PF_OP_SET_CREATE,
     NS "provisioningFlowSet.create",
     "provisioningFlowSet",
     "flowSet",
     "POST",
     "created",
     {201, 0},
     PF_OP_HAS_BODY | PF_OP_CREATES},
    {PF_OP_FLOW_UPDATE,
     NS "provisioningFlow.update",
     "provisioningFlow",
     "flow",
     "PATCH",
     "updated",
     {204, 200},
     PF_OP_NAMES_SET | PF_OP_NAMES_FLOW | PF_OP_HAS_BODY | PF_OP_ABSENT_OK},
    {PF_OP_FLOW_DELETE,
     NS "provisioningFlow.delete",
     "provisioningFlow",
     "flow",
     "DELETE",
     "deleted",
     {204, 200},
     PF_OP_NAMES_SET | PF_OP_NAMES_FLOW | PF_OP_ABSENT_OK},
    {PF_OP_FLOW_RESET,
     NS "provisioningFlow.reset",
     "provisioningFlow",
     "flow",
     "POST",
     "reset",
     {202, 204},
     PF_OP_NAMES_SET | PF_OP_NAMES_FLOW | PF_OP_ABSENT_OK},
    {PF_OP_RUN_START,
     NS "industryDataRun.start",
     "industryDataRun",
     "run",
     "POST",
     "started",
     {202, 0},
     PF_OP_CREATES},
};

#define OPS_COUNT (sizeof(ops) / sizeof(ops[0]))

const pf_op *pf_op_by_event_type(const char *type)
{
    size_t i;

    for (i = 0; type != NULL && i < OPS_COUNT; i++) {
        if (strcmp(ops[i].event_type, type) == 0)
            return &ops[i];
    }
    return NULL;
}

const pf_op *pf_op_of(pf_op_kind kind)
{
    return &ops[kind];
}

const char *pf_op_event_types(void)
{
    return "\"" NS "provisioningFlow.create\", \"" NS
           "provisioningFlowSet.create\", \"" NS
           "provisioningFlow.update\", \"" NS "provisioningFlow.delete\", \"" NS
           "provisioningFlow.reset\" or \"" NS "industryDataRun.start\"";
}

bool pf_op_ok(const pf_op *op, long status)
{
    return status != 0 && (status == op->ok[0] || status == op->ok[1]);
}
