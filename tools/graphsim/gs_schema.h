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

/* GS_SCHEMA_PATCH: the body of a PATCH: the body's own `@odata.type` may
 * be left out; required members stay required (Graph's update pages mark
 * the same properties "Required" as its create pages). */
#define GS_SCHEMA_PATCH 2u
/* GS_SCHEMA_EXPAND: render each user configuration's `roleGroup@odata.bind`
 * as the bound roleGroup expanded (`"roleGroup":{...}`), as GET and list
 * answer; without it the bind is not echoed (the create's answer). */
#define GS_SCHEMA_EXPAND 4u

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

/* The same checks for a PATCH of a stored flow of the given type (its
 * `@odata.type`, if sent, must be that type) or of a flow set: out gets
 * the properties the PATCH sets, rendered as a create's are. */
int gs_schema_check_flow_patch(const json_t *body, unsigned flags,
                               enum gs_flow_type type, struct gs_buf *out,
                               pf_error *err);
int gs_schema_check_flow_set_patch(const json_t *body, unsigned flags,
                                   struct gs_buf *out, pf_error *err);

/* Renders an already validated flow body again with other flags (e.g.
 * GS_SCHEMA_EXPAND), appending to out. */
void gs_schema_render_flow(const json_t *body, unsigned flags,
                           enum gs_flow_type type, struct gs_buf *out);

/* The role groups the simulator knows (Graph's seeded "students" and
 * "staff"): their count, the id of the i-th (NULL past the end), and one
 * as Graph's JSON object (id, displayName, roles) appended to out; -1 for
 * an unknown id (matched in any letter case). */
size_t gs_schema_role_group_count(void);
const char *gs_schema_role_group_id(size_t i);
int gs_schema_role_group_json(const char *id, struct gs_buf *out);

/* "administrativeUnitProvisioningFlow", ...; NULL for a bad value. */
const char *gs_schema_flow_type_name(enum gs_flow_type type);

/* The `@odata.type` value of a flow type ("#microsoft.graph...."). */
const char *gs_schema_flow_odata_type(enum gs_flow_type type);

/* Graph's mask for write-only secrets in responses. */
#define GS_SCHEMA_PASSWORD_MASK "***************"

#endif /* GRAPHSIM_SCHEMA_H */
