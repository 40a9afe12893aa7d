/*
 * flowschema.h - the four provisioning flow types, described as data.
 *
 * Each Graph type that provflow sends is one pf_type: its CSDL name, whether
 * a request carries its "@odata.type" annotation (exactly where the Graph
 * documentation's request bodies put one), and its properties in CSDL order
 * and casing. The transform walks these tables; nothing in provflow knows a
 * flow type's properties except flowschema.c. Adding a property is one row.
 * The tables as a list: docs/events.md, "The flows".
 */
#ifndef PROVFLOW_FLOWSCHEMA_H
#define PROVFLOW_FLOWSCHEMA_H

#include <stdbool.h>
#include <stddef.h>

/* The OData namespace prefix of every industry-data type annotation. */
#define PF_ODATA_NS "#microsoft.graph.industryData."

typedef enum pf_kind {
    PF_KIND_BOOL,
    PF_KIND_STRING,
    PF_KIND_ENUM,   /* a string from `values`, exact case */
    PF_KIND_CODE,   /* a reference code: `values` are the well-known codes,
                       matched case-insensitively and sent in their listed
                       casing; other codes are sent as given */
    PF_KIND_OBJECT, /* an object of `type` */
    PF_KIND_BIND,   /* "<name>@odata.bind": a URL under the Graph root,
                       <root>/beta/<bind_path>/<id>; `alias` names the
                       input property that gives the bare <id> */
} pf_kind;

enum {
    PF_PROP_REQUIRED = 1 << 0, /* non-nullable in the CSDL */
    PF_PROP_ARRAY = 1 << 1,    /* a collection of `kind` */
    PF_PROP_SECRET = 1 << 2,   /* masked wherever provflow prints it */
    /* A flow's property that an update (PATCH) must carry too; the
     * others may be left out of an update's body. */
    PF_PROP_UPDATE_REQUIRED = 1 << 3,
};

struct pf_type;

typedef struct pf_prop {
    const char *name; /* as sent: CSDL casing */
    pf_kind kind;
    unsigned flags;
    const struct pf_type *type; /* PF_KIND_OBJECT */
    const char *const *values;  /* PF_KIND_ENUM/CODE: NULL-terminated */
    /*
     * PF_KIND_OBJECT arrays: an item given as a plain string s stands for
     * {shorthand: s} (["teacher"] for [{"code": "teacher"}]).
     */
    const char *shorthand;
    /*
     * Another input name for this property, converted by the transform:
     * PF_KIND_BIND: the bare id ("roleGroupId": "staff");
     * PF_KIND_OBJECT: the name of a secret in the secrets directory that
     * fills the type's PF_PROP_SECRET property ("defaultPasswordSecret").
     */
    const char *alias;
    const char *bind_path; /* PF_KIND_BIND: "external/industryData/..." */
} pf_prop;

typedef struct pf_type {
    const char *name; /* CSDL name, without namespace */
    bool annotate;    /* requests carry "@odata.type": PF_ODATA_NS name */
    const pf_prop *props;
    size_t prop_count;
} pf_type;

/* One of the four flow types an event can ask for. */
typedef struct pf_flow_kind {
    const char *flow_type; /* the event's data.flowType: "classGroup" */
    const pf_type *type;   /* its entity type: classGroupProvisioningFlow */
} pf_flow_kind;

/* Looks a flow kind up by data.flowType (exact case); NULL if unknown. */
const pf_flow_kind *pf_flow_kind_by_name(const char *flow_type);

/*
 * Looks a flow kind up by an "@odata.type" value: the full
 * "#microsoft.graph.industryData.<entity>" (letter case ignored, "#"
 * optional). NULL if it names no provisioning flow.
 */
const pf_flow_kind *pf_flow_kind_by_odata_type(const char *odata_type);

/*
 * 1 if value is the "@odata.type" of the type called name:
 * "#microsoft.graph.industryData.<name>", letter case ignored, '#' optional.
 */
bool pf_odata_type_is(const char *value, const char *name);

/*
 * Properties that Graph sets on every provisioning flow and that a create
 * request must not carry: dropped from input by the transform.
 * NULL-terminated.
 */
extern const char *const pf_flow_readonly_props[];

#endif /* PROVFLOW_FLOWSCHEMA_H */
