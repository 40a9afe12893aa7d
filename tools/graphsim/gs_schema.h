/*
 * gs_schema.h - the simulator's own description of Graph's industryData
 * schema (the CSDL of the four provisioning flow types and the flow set),
 * and the validator that checks a create body against it the way Graph does.
 *
 * This deliberately shares nothing with provflow's transform tables
 * (include/provflow/flowschema.h): it is written from Graph's beta CSDL
 * and its API pages, so that it catches the transform's mistakes instead of
 * repeating them.
 */
#ifndef GRAPHSIM_SCHEMA_H
#define GRAPHSIM_SCHEMA_H

#include <jansson.h>

#include "gs_util.h"
#include "gs_util.h"
#include "provflow/error.h"

enum gs_flow_type {
    GS_FLOW_ADMIN_UNIT,
    GS_FLOW_CLASS_GROUP,
    GS_FLOW_SECURITY_GROUP,
    GS_FLOW_USER,
    GS_FLOW_TYPE_COUNT
};

/* Validation options. GS_SCHEMA_LENIENT_CASE: property names match in
 * any letter case, as Graph's do (its own documented examples send
 * `createBasedOnOrgPlusroleGroup`); the echo still uses CSDL names. The
 * simulator's default; without it (--strict-casing) only exact CSDL names
 * are accepted. */
#define GS_SCHEMA_LENIENT_CASE 1u

/* The Graph error code of every validation failure. */
#define GS_SCHEMA_ERROR_CODE "BadRequest"

/*
 * Checks a provisioningFlow create body. On success returns 0, sets *type
 * and appends to out a JSON object text holding the flow's properties as
 * Graph echoes them: CSDL names in table order, nested `@odata.type`
 * dropped except on polymorphic values, passwords masked, well-known
 * section-role codes in Graph's casing, `roleGroup@odata.bind` not echoed.
 * The flow's own `@odata.type` and metadata are not in it.
 *
 * On failure returns -1 with err->path the offending property's JSON path
 * (e.g. `configuration.additionalOptions.createTeam`; "$" for the body
 * itself) and err->message Graph's explanation, naming the property.
 * body is only read.
 */
int gs_schema_check_flow(const json_t *body, unsigned flags,
                         enum gs_flow_type *type, struct gs_buf *out,
                         pf_error *err);

/* Same contract for an outboundProvisioningFlowSet create body. */
int gs_schema_check_flow_set(const json_t *body, unsigned flags,
                             struct gs_buf *out, pf_error *err);

/* "administrativeUnitProvisioningFlow", ...; NULL for a bad value. */
const char *gs_schema_flow_type_name(enum gs_flow_type type);

/* The `@odata.type` value of a flow type ("#microsoft.graph...."). */
const char *gs_schema_flow_odata_type(enum gs_flow_type type);

/* Graph's mask for write-only secrets in responses. */
#define GS_SCHEMA_PASSWORD_MASK "***************"

#endif /* GRAPHSIM_SCHEMA_H */
