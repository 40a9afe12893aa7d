/*
 * test_transform_invalid.c - events that must be rejected, and where.
 *
 * One row per case: what is wrong, the record (value and headers), and the
 * JSON path the error must name (docs/events.md, "Errors").
 * Each row runs as its own cmocka test, named by its description. A row
 * passes when decoding or the transform returns -1 with code
 * "invalid_event", exactly that path and a non-empty message, and leaves
 * nothing behind (the sanitizer build checks for leaks).
 *
 * JSON is written with single quotes; they become double quotes at run time.
 *
 * Every error must be well-formed text (valid UTF-8, no control bytes, at
 * most the buffer's size): checked for every row, and for hostile values
 * (long multibyte names cut at every offset, control bytes, deep paths)
 * put into a few templates at run time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "provflow/error.h"
#include "provflow/event.h"
#include "provflow/record.h"
#include "provflow/secrets.h"
#include "provflow/transform.h"

#define MAX_HEADERS 8

typedef struct header_spec {
    const char *name;
    const char *value; /* NULL: a header with a null value */
} header_spec;

typedef struct invalid_case {
    const char *what;
    /*
     * The record value, single-quoted JSON; NULL is a tombstone. OVERSIZED
     * is replaced by a valid event padded past PF_EVENT_MAX_BYTES.
     */
    const char *value;
    header_spec headers[MAX_HEADERS]; /* up to the first NULL name */
    int no_secrets;                   /* transform without a secrets dir */
    const char *path;                 /* the error's expected path */
} invalid_case;

static const char OVERSIZED[] = "<oversized>";

#define FSID "9ab41255-5364-4c53-e15c-08dc4ab6ee03"
#define NS   "#microsoft.graph.industryData."

/* Structured events. */
#define ATTRS                                                                  \
    "'specversion':'1.0','id':'bad-1','source':'urn:sis:test',"                \
    "'type':'provflow.provisioningFlow.create'"
#define EVENT(data) "{" ATTRS ",'data':" data "}"
/* An event of another operation: type "provflow." op. */
#define OP_EVENT(op, data)                                                     \
    "{'specversion':'1.0','id':'bad-1','source':'urn:sis:test',"               \
    "'type':'provflow." op "','data':" data "}"
#define DATA(type, flow)                                                       \
    "{'flowSetId':'" FSID "','flowType':'" type "','flow':" flow "}"
#define FLOW(type, flow) EVENT(DATA(type, flow))
#define FLOWSET(id)                                                            \
    EVENT("{'flowSetId':" id                                                   \
          ",'flowType':'administrativeUnit','flow':" AU_FLOW "}")
#define ATTR_EVENT(attrs)                                                      \
    "{" attrs ",'data':" DATA("administrativeUnit", AU_FLOW) "}"

/* administrativeUnit / securityGroup */
#define AU_FLOW                                                                \
    "{'creationOptions':{'createBasedOnOrg':true,'"                            \
    "createBasedOnOrgPlusRoleGroup':false}}"
#define AU(options)                                                            \
    FLOW("administrativeUnit", "{'creationOptions':" options "}")
#define SG(options) FLOW("securityGroup", "{'creationOptions':" options "}")

/* classGroup */
#define CG_OPTS                                                                \
    "'additionalOptions':{'createTeam':true,'writeDisplayNameOnCreateOnly':"   \
    "false}"
#define CG_MAPS                                                                \
    "'enrollmentMappings':{'ownerEnrollmentMappings':['teacher'],'"            \
    "memberEnrollmentMappings':['student']}"
#define CG(configuration)                                                      \
    FLOW("classGroup", "{'configuration':" configuration "}")
#define CG_MAPPINGS(m) CG("{" CG_OPTS ",'enrollmentMappings':" m "}")

/* user */
#define USER_MGMT "'managementOptions':{'additionalOptions':{}}"
#define USER(configs)                                                          \
    FLOW("user",                                                               \
         "{" USER_MGMT ",'creationOptions':{'configurations':[" configs "]}}")
#define CONFIG0 "data.flow.creationOptions.configurations[0]"
#define BIND_BASE                                                              \
    "https://graph.microsoft.com/beta/external/industryData/roleGroups/"

/* Binary mode: the value is the data object, the attributes are headers. */
#define BIN_VALUE DATA("administrativeUnit", AU_FLOW)
#define H_SPEC                                                                 \
    {                                                                          \
        "ce_specversion", "1.0"                                                \
    }
#define H_ID                                                                   \
    {                                                                          \
        "ce_id", "bin-1"                                                       \
    }
#define H_SOURCE                                                               \
    {                                                                          \
        "ce_source", "urn:sis:test"                                            \
    }
#define H_TYPE                                                                 \
    {                                                                          \
        "ce_type", "provflow.provisioningFlow.create"                          \
    }
#define H_JSON                                                                 \
    {                                                                          \
        "content-type", "application/json"                                     \
    }

#define SP16 "                "
#define X16  "xxxxxxxxxxxxxxxx"
#define X64  X16 X16 X16 X16
#define X256 X64 X64 X64 X64

/* clang-format off */
static const invalid_case cases[] = {
    /* The record value as a whole. */
    {"value that is not JSON is rejected at the root",
     "{'specversion':", {{0}}, 0, "$"},
    {"value that is a JSON array is rejected at the root",
     "[" EVENT(DATA("administrativeUnit", AU_FLOW)) "]", {{0}}, 0, "$"},
    {"value that is a JSON string is rejected at the root",
     "'provflow'", {{0}}, 0, "$"},
    {"empty value is rejected at the root", "", {{0}}, 0, "$"},
    {"tombstone (null value) is rejected at the root", NULL, {{0}}, 0, "$"},
    {"value one byte over the size limit is rejected unparsed",
     OVERSIZED, {{0}}, 0, "$"},
    {"duplicate JSON keys are rejected by the parser",
     "{'specversion':'1.0','id':'a','id':'b','source':'s',"
     "'type':'provflow.provisioningFlow.create','data':"
     DATA("administrativeUnit", AU_FLOW) "}", {{0}}, 0, "$"},
    {"trailing garbage after the event is rejected",
     EVENT(DATA("administrativeUnit", AU_FLOW)) " {}", {{0}}, 0, "$"},

    /* CloudEvents attributes, structured mode. */
    {"missing specversion",
     ATTR_EVENT("'id':'a','source':'s','type':'provflow.provisioningFlow.create'"),
     {{0}}, 0, "specversion"},
    {"specversion other than 1.0",
     ATTR_EVENT("'specversion':'0.3','id':'a','source':'s',"
                "'type':'provflow.provisioningFlow.create'"),
     {{0}}, 0, "specversion"},
    {"specversion as a number",
     ATTR_EVENT("'specversion':1.0,'id':'a','source':'s',"
                "'type':'provflow.provisioningFlow.create'"),
     {{0}}, 0, "specversion"},
    {"missing id",
     ATTR_EVENT("'specversion':'1.0','source':'s',"
                "'type':'provflow.provisioningFlow.create'"),
     {{0}}, 0, "id"},
    {"empty id",
     ATTR_EVENT("'specversion':'1.0','id':'','source':'s',"
                "'type':'provflow.provisioningFlow.create'"),
     {{0}}, 0, "id"},
    {"id of 257 characters",
     ATTR_EVENT("'specversion':'1.0','id':'" X256 "x','source':'s',"
                "'type':'provflow.provisioningFlow.create'"),
     {{0}}, 0, "id"},
    {"id as a number",
     ATTR_EVENT("'specversion':'1.0','id':42,'source':'s',"
                "'type':'provflow.provisioningFlow.create'"),
     {{0}}, 0, "id"},
    {"missing source",
     ATTR_EVENT("'specversion':'1.0','id':'a',"
                "'type':'provflow.provisioningFlow.create'"),
     {{0}}, 0, "source"},
    {"empty source",
     ATTR_EVENT("'specversion':'1.0','id':'a','source':'',"
                "'type':'provflow.provisioningFlow.create'"),
     {{0}}, 0, "source"},
    {"source as an object",
     ATTR_EVENT("'specversion':'1.0','id':'a','source':{},"
                "'type':'provflow.provisioningFlow.create'"),
     {{0}}, 0, "source"},
    {"missing type",
     ATTR_EVENT("'specversion':'1.0','id':'a','source':'s'"),
     {{0}}, 0, "type"},
    {"type of another event",
     ATTR_EVENT("'specversion':'1.0','id':'a','source':'s',"
                "'type':'provflow.provisioningFlow.archive'"),
     {{0}}, 0, "type"},
    {"type in another letter case",
     ATTR_EVENT("'specversion':'1.0','id':'a','source':'s',"
                "'type':'Provflow.ProvisioningFlow.Create'"),
     {{0}}, 0, "type"},
    {"time that is not RFC 3339",
     ATTR_EVENT(ATTRS ",'time':'22/03/2024 21:28'"), {{0}}, 0, "time"},
    {"time with a day the month does not have",
     ATTR_EVENT(ATTRS ",'time':'2024-02-30T10:00:00Z'"), {{0}}, 0, "time"},
    {"time as a number",
     ATTR_EVENT(ATTRS ",'time':1711142882"), {{0}}, 0, "time"},
    {"empty tenantid", ATTR_EVENT(ATTRS ",'tenantid':''"), {{0}}, 0, "tenantid"},
    {"tenantid with a slash",
     ATTR_EVENT(ATTRS ",'tenantid':'contoso/../x'"), {{0}}, 0, "tenantid"},
    {"tenantid of 257 characters",
     ATTR_EVENT(ATTRS ",'tenantid':'" X256 "x'"), {{0}}, 0, "tenantid"},
    {"tenantid as a number",
     ATTR_EVENT(ATTRS ",'tenantid':7"), {{0}}, 0, "tenantid"},
    {"datacontenttype other than application/json",
     ATTR_EVENT(ATTRS ",'datacontenttype':'application/xml'"),
     {{0}}, 0, "datacontenttype"},
    {"missing data", "{" ATTRS "}", {{0}}, 0, "data"},
    {"data as an array", EVENT("[]"), {{0}}, 0, "data"},
    {"data as a string", EVENT("'{}'"), {{0}}, 0, "data"},
    {"data as null", EVENT("null"), {{0}}, 0, "data"},
    {"data_base64 instead of data",
     "{" ATTRS ",'data_base64':'e30='}", {{0}}, 0, "data_base64"},

    /* Content type. */
    {"structured event with a text/plain content-type",
     EVENT(DATA("administrativeUnit", AU_FLOW)),
     {{"content-type", "text/plain"}}, 0, "content-type"},
    {"binary event with a text/plain content-type", BIN_VALUE,
     {H_SPEC, H_ID, H_SOURCE, H_TYPE, {"content-type", "text/plain"}},
     0, "content-type"},
    {"binary event with an application/xml content-type", BIN_VALUE,
     {H_SPEC, H_ID, H_SOURCE, H_TYPE, {"Content-Type", "application/xml"}},
     0, "content-type"},

    {"binary content-type with junk after 120 spaces", BIN_VALUE,
     {H_SPEC, H_ID, H_SOURCE, H_TYPE,
      {"content-type", "application/json" SP16 SP16 SP16 SP16 SP16 SP16 SP16
                       "        xyz"}},
     0, "content-type"},

    /* Binary mode headers. */
    {"binary ce_specversion other than 1.0", BIN_VALUE,
     {{"ce_specversion", "0.3"}, H_ID, H_SOURCE, H_TYPE, H_JSON},
     0, "ce_specversion"},
    {"binary without ce_id", BIN_VALUE,
     {H_SPEC, H_SOURCE, H_TYPE, H_JSON}, 0, "ce_id"},
    {"binary with an empty ce_id", BIN_VALUE,
     {H_SPEC, {"ce_id", ""}, H_SOURCE, H_TYPE, H_JSON}, 0, "ce_id"},
    {"binary with a null ce_id", BIN_VALUE,
     {H_SPEC, {"ce_id", NULL}, H_SOURCE, H_TYPE, H_JSON}, 0, "ce_id"},
    {"binary ce_id of 257 characters", BIN_VALUE,
     {H_SPEC, {"ce_id", X256 "x"}, H_SOURCE, H_TYPE, H_JSON}, 0, "ce_id"},
    {"binary without ce_source", BIN_VALUE,
     {H_SPEC, H_ID, H_TYPE, H_JSON}, 0, "ce_source"},
    {"binary without ce_type", BIN_VALUE,
     {H_SPEC, H_ID, H_SOURCE, H_JSON}, 0, "ce_type"},
    {"binary ce_type of another event", BIN_VALUE,
     {H_SPEC, H_ID, H_SOURCE, {"ce_type", "com.example.other"}, H_JSON},
     0, "ce_type"},
    {"binary: the last ce_type header wins, and it is wrong", BIN_VALUE,
     {H_SPEC, H_ID, H_SOURCE, H_TYPE, H_JSON, {"ce_type", "x"}},
     0, "ce_type"},
    {"binary ce_time that is not RFC 3339", BIN_VALUE,
     {H_SPEC, H_ID, H_SOURCE, H_TYPE, {"ce_time", "yesterday"}, H_JSON},
     0, "ce_time"},
    {"binary ce_tenantid with a space", BIN_VALUE,
     {H_SPEC, H_ID, H_SOURCE, H_TYPE, {"ce_tenantid", "a b"}, H_JSON},
     0, "ce_tenantid"},
    {"binary value that is a JSON array", "[" BIN_VALUE "]",
     {H_SPEC, H_ID, H_SOURCE, H_TYPE, H_JSON}, 0, "$"},
    {"binary value that is not JSON", "{'flowSetId'",
     {H_SPEC, H_ID, H_SOURCE, H_TYPE, H_JSON}, 0, "$"},
    {"binary empty value", "",
     {H_SPEC, H_ID, H_SOURCE, H_TYPE, H_JSON}, 0, "$"},
    {"binary data errors keep data paths",
     "{'flowSetId':'" FSID "','flowType':'device','flow':" AU_FLOW "}",
     {H_SPEC, H_ID, H_SOURCE, H_TYPE, H_JSON}, 0, "data.flowType"},
    {"binary data with a bad flowSetId",
     "{'flowSetId':'nope','flowType':'administrativeUnit','flow':" AU_FLOW "}",
     {H_SPEC, H_ID, H_SOURCE, H_TYPE, H_JSON}, 0, "data.flowSetId"},

    /* data */
    {"missing flowSetId",
     EVENT("{'flowType':'administrativeUnit','flow':" AU_FLOW "}"),
     {{0}}, 0, "data.flowSetId"},
    {"flowSetId one digit short", FLOWSET("'9ab41255-5364-4c53-e15c-08dc4ab6ee0'"),
     {{0}}, 0, "data.flowSetId"},
    {"flowSetId one digit long", FLOWSET("'9ab41255-5364-4c53-e15c-08dc4ab6ee031'"),
     {{0}}, 0, "data.flowSetId"},
    {"flowSetId with non-hex digits", FLOWSET("'9ab41255-5364-4c53-e15c-08dc4ab6eezz'"),
     {{0}}, 0, "data.flowSetId"},
    {"flowSetId without dashes", FLOWSET("'9ab4125553644c53e15c08dc4ab6ee03'"),
     {{0}}, 0, "data.flowSetId"},
    {"flowSetId with dashes misplaced", FLOWSET("'9ab4125-55364-4c53-e15c-08dc4ab6ee03'"),
     {{0}}, 0, "data.flowSetId"},
    {"flowSetId in braces", FLOWSET("'{9ab41255-5364-4c53-e15c-08dc4ab6ee03}'"),
     {{0}}, 0, "data.flowSetId"},
    {"flowSetId as a number", FLOWSET("12345"), {{0}}, 0, "data.flowSetId"},
    {"flowSetId empty", FLOWSET("''"), {{0}}, 0, "data.flowSetId"},
    {"unknown flowType", FLOW("device", AU_FLOW), {{0}}, 0, "data.flowType"},
    {"flowType in another letter case", FLOW("ClassGroup", AU_FLOW),
     {{0}}, 0, "data.flowType"},
    {"flowType as a number",
     EVENT("{'flowSetId':'" FSID "','flowType':1,'flow':" AU_FLOW "}"),
     {{0}}, 0, "data.flowType"},
    {"no flowType and no @odata.type on the flow",
     EVENT("{'flowSetId':'" FSID "','flow':" AU_FLOW "}"),
     {{0}}, 0, "data.flowType"},
    {"flowType and the flow's @odata.type disagree",
     FLOW("user", "{'@odata.type':'" NS "administrativeUnitProvisioningFlow',"
                  "'creationOptions':{'createBasedOnOrg':true,"
                  "'createBasedOnOrgPlusRoleGroup':true}}"),
     {{0}}, 0, "data.flow.@odata.type"},
    {"flow @odata.type that is not a provisioning flow",
     EVENT("{'flowSetId':'" FSID "','flow':{'@odata.type':'" NS
           "classGroupConfiguration'}}"),
     {{0}}, 0, "data.flow.@odata.type"},
    {"flow @odata.type outside the industry-data namespace",
     EVENT("{'flowSetId':'" FSID "','flow':{'@odata.type':"
           "'#microsoft.graph.userProvisioningFlow'}}"),
     {{0}}, 0, "data.flow.@odata.type"},
    {"flow @odata.type as a number",
     EVENT("{'flowSetId':'" FSID "','flow':{'@odata.type':3}}"),
     {{0}}, 0, "data.flow.@odata.type"},
    {"missing flow",
     EVENT("{'flowSetId':'" FSID "','flowType':'user'}"), {{0}}, 0, "data.flow"},
    {"flow as an array", FLOW("user", "[]"), {{0}}, 0, "data.flow"},
    {"unknown property in data",
     EVENT("{'flowSetId':'" FSID "','flowType':'administrativeUnit',"
           "'priority':1,'flow':" AU_FLOW "}"),
     {{0}}, 0, "data.priority"},

    /* administrativeUnit */
    {"administrativeUnit without creationOptions",
     FLOW("administrativeUnit", "{}"), {{0}}, 0, "data.flow.creationOptions"},
    {"administrativeUnit without createBasedOnOrg",
     AU("{'createBasedOnOrgPlusRoleGroup':true}"),
     {{0}}, 0, "data.flow.creationOptions.createBasedOnOrg"},
    {"administrativeUnit without createBasedOnOrgPlusRoleGroup",
     AU("{'createBasedOnOrg':true}"),
     {{0}}, 0, "data.flow.creationOptions.createBasedOnOrgPlusRoleGroup"},
    {"administrativeUnit createBasedOnOrg as a string",
     AU("{'createBasedOnOrg':'true','createBasedOnOrgPlusRoleGroup':true}"),
     {{0}}, 0, "data.flow.creationOptions.createBasedOnOrg"},
    {"administrativeUnit required boolean given as null",
     AU("{'createBasedOnOrg':true,'createBasedOnOrgPlusRoleGroup':null}"),
     {{0}}, 0, "data.flow.creationOptions.createBasedOnOrgPlusRoleGroup"},
    {"administrativeUnit creationOptions as an array",
     AU("[]"), {{0}}, 0, "data.flow.creationOptions"},
    {"administrativeUnit unknown creation option",
     AU("{'createBasedOnOrg':true,'createBasedOnOrgPlusRoleGroup':true,"
        "'createBasedOnSchool':true}"),
     {{0}}, 0, "data.flow.creationOptions.createBasedOnSchool"},
    {"administrativeUnit unknown flow property",
     FLOW("administrativeUnit", "{'displayName':'x','creationOptions':"
          "{'createBasedOnOrg':true,'createBasedOnOrgPlusRoleGroup':true}}"),
     {{0}}, 0, "data.flow.displayName"},
    {"read-only id inside a nested object is unknown there",
     AU("{'id':'x','createBasedOnOrg':true,'createBasedOnOrgPlusRoleGroup':true}"),
     {{0}}, 0, "data.flow.creationOptions.id"},
    {"two names differing only in case: the second is named",
     AU("{'createBasedOnOrg':true,'createBasedOnOrgPlusRoleGroup':true,"
        "'CreateBasedOnOrg':false}"),
     {{0}}, 0, "data.flow.creationOptions.CreateBasedOnOrg"},
    {"administrativeUnit creationOptions with a wrong @odata.type",
     AU("{'@odata.type':'" NS "securityGroupCreationOptions',"
        "'createBasedOnOrg':true,'createBasedOnOrgPlusRoleGroup':true}"),
     {{0}}, 0, "data.flow.creationOptions.@odata.type"},

    /* securityGroup */
    {"securityGroup without creationOptions",
     FLOW("securityGroup", "{}"), {{0}}, 0, "data.flow.creationOptions"},
    {"securityGroup without createBasedOnRoleGroup",
     SG("{'createBasedOnOrgPlusRoleGroup':true}"),
     {{0}}, 0, "data.flow.creationOptions.createBasedOnRoleGroup"},
    {"securityGroup without createBasedOnOrgPlusRoleGroup",
     SG("{'createBasedOnRoleGroup':true}"),
     {{0}}, 0, "data.flow.creationOptions.createBasedOnOrgPlusRoleGroup"},
    {"securityGroup with the administrativeUnit's createBasedOnOrg",
     SG("{'createBasedOnRoleGroup':true,'createBasedOnOrgPlusRoleGroup':true,"
        "'createBasedOnOrg':true}"),
     {{0}}, 0, "data.flow.creationOptions.createBasedOnOrg"},
    {"securityGroup createBasedOnRoleGroup as a number",
     SG("{'createBasedOnRoleGroup':1,'createBasedOnOrgPlusRoleGroup':true}"),
     {{0}}, 0, "data.flow.creationOptions.createBasedOnRoleGroup"},

    /* classGroup */
    {"classGroup without configuration",
     FLOW("classGroup", "{}"), {{0}}, 0, "data.flow.configuration"},
    {"classGroup without additionalOptions", CG("{" CG_MAPS "}"),
     {{0}}, 0, "data.flow.configuration.additionalOptions"},
    {"classGroup without createTeam",
     CG("{'additionalOptions':{'writeDisplayNameOnCreateOnly':true}," CG_MAPS "}"),
     {{0}}, 0, "data.flow.configuration.additionalOptions.createTeam"},
    {"classGroup without writeDisplayNameOnCreateOnly",
     CG("{'additionalOptions':{'createTeam':true}," CG_MAPS "}"),
     {{0}}, 0,
     "data.flow.configuration.additionalOptions.writeDisplayNameOnCreateOnly"},
    {"classGroup without enrollmentMappings", CG("{" CG_OPTS "}"),
     {{0}}, 0, "data.flow.configuration.enrollmentMappings"},
    {"classGroup additionalAttributes value not in the enum",
     CG("{'additionalAttributes':['courseTitle','courseName']," CG_OPTS ","
        CG_MAPS "}"),
     {{0}}, 0, "data.flow.configuration.additionalAttributes[1]"},
    {"classGroup additionalAttributes value in another letter case",
     CG("{'additionalAttributes':['CourseTitle']," CG_OPTS "," CG_MAPS "}"),
     {{0}}, 0, "data.flow.configuration.additionalAttributes[0]"},
    {"classGroup additionalAttributes as a string",
     CG("{'additionalAttributes':'courseTitle'," CG_OPTS "," CG_MAPS "}"),
     {{0}}, 0, "data.flow.configuration.additionalAttributes"},
    {"classGroup additionalAttributes item as a number",
     CG("{'additionalAttributes':[1]," CG_OPTS "," CG_MAPS "}"),
     {{0}}, 0, "data.flow.configuration.additionalAttributes[0]"},
    {"classGroup createTeam as a string",
     CG("{'additionalOptions':{'createTeam':'yes',"
        "'writeDisplayNameOnCreateOnly':true}," CG_MAPS "}"),
     {{0}}, 0, "data.flow.configuration.additionalOptions.createTeam"},
    {"classGroup role item as a number",
     CG_MAPPINGS("{'ownerEnrollmentMappings':[5]}"),
     {{0}}, 0,
     "data.flow.configuration.enrollmentMappings.ownerEnrollmentMappings[0]"},
    {"classGroup role item object without code",
     CG_MAPPINGS("{'ownerEnrollmentMappings':['teacher',{}]}"),
     {{0}}, 0,
     "data.flow.configuration.enrollmentMappings.ownerEnrollmentMappings[1]"
     ".code"},
    {"classGroup role code as a number",
     CG_MAPPINGS("{'memberEnrollmentMappings':[{'code':7}]}"),
     {{0}}, 0,
     "data.flow.configuration.enrollmentMappings.memberEnrollmentMappings[0]"
     ".code"},
    {"classGroup role code as null",
     CG_MAPPINGS("{'ownerEnrollmentMappings':['teacher','staff',{'code':null}]}"),
     {{0}}, 0,
     "data.flow.configuration.enrollmentMappings.ownerEnrollmentMappings[2]"
     ".code"},
    {"classGroup role item with an unknown property",
     CG_MAPPINGS("{'ownerEnrollmentMappings':[{'code':'teacher','label':'x'}]}"),
     {{0}}, 0,
     "data.flow.configuration.enrollmentMappings.ownerEnrollmentMappings[0]"
     ".label"},
    {"classGroup role item with a wrong @odata.type",
     CG_MAPPINGS("{'ownerEnrollmentMappings':[{'@odata.type':'" NS
                 "roleGroup','code':'teacher'}]}"),
     {{0}}, 0,
     "data.flow.configuration.enrollmentMappings.ownerEnrollmentMappings[0]"
     ".@odata.type"},
    {"classGroup role value bind to another collection",
     CG_MAPPINGS("{'ownerEnrollmentMappings':[{'code':'teacher','value@odata."
                 "bind':'" BIND_BASE "staff'}]}"),
     {{0}}, 0,
     "data.flow.configuration.enrollmentMappings.ownerEnrollmentMappings[0]"
     ".value@odata.bind"},
    {"classGroup role value bind that is not a URL",
     CG_MAPPINGS("{'ownerEnrollmentMappings':[{'code':'teacher',"
                 "'value@odata.bind':'RefRole_Teacher'}]}"),
     {{0}}, 0,
     "data.flow.configuration.enrollmentMappings.ownerEnrollmentMappings[0]"
     ".value@odata.bind"},
    {"classGroup role value without @odata.bind is unknown",
     CG_MAPPINGS("{'ownerEnrollmentMappings':[{'code':'teacher',"
                 "'value':'RefRole_Teacher'}]}"),
     {{0}}, 0,
     "data.flow.configuration.enrollmentMappings.ownerEnrollmentMappings[0]"
     ".value"},
    {"classGroup role value bind without its code",
     CG_MAPPINGS("{'memberEnrollmentMappings':[{'value@odata.bind':'https://"
                 "graph.microsoft.com/beta/external/industryData/"
                 "referenceDefinitions/RefRole_Student'}]}"),
     {{0}}, 0,
     "data.flow.configuration.enrollmentMappings.memberEnrollmentMappings[0]"
     ".code"},
    {"classGroup role list as an object",
     CG_MAPPINGS("{'ownerEnrollmentMappings':{'code':'teacher'}}"),
     {{0}}, 0,
     "data.flow.configuration.enrollmentMappings.ownerEnrollmentMappings"},
    {"classGroup unknown mapping list",
     CG_MAPPINGS("{'guestEnrollmentMappings':[]}"),
     {{0}}, 0,
     "data.flow.configuration.enrollmentMappings.guestEnrollmentMappings"},
    {"classGroup configuration with a wrong @odata.type",
     CG("{'@odata.type':'" NS "enrollmentMappings'," CG_OPTS "," CG_MAPS "}"),
     {{0}}, 0, "data.flow.configuration.@odata.type"},

    /* user */
    {"user without managementOptions", FLOW("user", "{}"),
     {{0}}, 0, "data.flow.managementOptions"},
    {"user without additionalOptions",
     FLOW("user", "{'managementOptions':{}}"),
     {{0}}, 0, "data.flow.managementOptions.additionalOptions"},
    {"user studentAgeGroup value not in the enum",
     FLOW("user", "{'managementOptions':{'additionalOptions':"
                  "{'studentAgeGroup':'child'}}}"),
     {{0}}, 0, "data.flow.managementOptions.additionalOptions.studentAgeGroup"},
    {"user studentAgeGroup in another letter case",
     FLOW("user", "{'managementOptions':{'additionalOptions':"
                  "{'studentAgeGroup':'Minor'}}}"),
     {{0}}, 0, "data.flow.managementOptions.additionalOptions.studentAgeGroup"},
    {"user additionalAttributes value not in the enum",
     FLOW("user", "{'managementOptions':{'additionalAttributes':['userEmail'],"
                  "'additionalOptions':{}}}"),
     {{0}}, 0, "data.flow.managementOptions.additionalAttributes[0]"},
    {"user createUnmatchedUsers as a string",
     FLOW("user", "{'createUnmatchedUsers':'yes'," USER_MGMT "}"),
     {{0}}, 0, "data.flow.createUnmatchedUsers"},
    {"user configurations as an object",
     FLOW("user", "{" USER_MGMT ",'creationOptions':{'configurations':{}}}"),
     {{0}}, 0, "data.flow.creationOptions.configurations"},
    {"user configuration item as a string", USER("'staff'"),
     {{0}}, 0, CONFIG0},
    {"user configuration with both roleGroupId and the bind URL",
     USER("{'roleGroup@odata.bind':'" BIND_BASE "staff','roleGroupId':'staff'}"),
     {{0}}, 0, CONFIG0 ".roleGroupId"},
    {"user roleGroupId with a path", USER("{'roleGroupId':'staff/../admin'}"),
     {{0}}, 0, CONFIG0 ".roleGroupId"},
    {"user roleGroupId empty", USER("{'roleGroupId':''}"),
     {{0}}, 0, CONFIG0 ".roleGroupId"},
    {"user roleGroupId with a space", USER("{'roleGroupId':'staff group'}"),
     {{0}}, 0, CONFIG0 ".roleGroupId"},
    {"user roleGroupId of 129 characters",
     USER("{'roleGroupId':'" X64 X64 "x'}"), {{0}}, 0, CONFIG0 ".roleGroupId"},
    {"user roleGroupId in another case is named as written",
     USER("{'RoleGroupID':'a?b'}"), {{0}}, 0, CONFIG0 ".RoleGroupID"},
    {"user roleGroupId as a number", USER("{'roleGroupId':3}"),
     {{0}}, 0, CONFIG0 ".roleGroupId"},
    {"user bind URL to another collection",
     USER("{'roleGroup@odata.bind':'https://graph.microsoft.com/beta/users/x'}"),
     {{0}}, 0, CONFIG0 ".roleGroup@odata.bind"},
    {"user bind URL that is not a URL", USER("{'roleGroup@odata.bind':'staff'}"),
     {{0}}, 0, CONFIG0 ".roleGroup@odata.bind"},
    {"user bind URL without an id", USER("{'roleGroup@odata.bind':'" BIND_BASE "'}"),
     {{0}}, 0, CONFIG0 ".roleGroup@odata.bind"},
    {"user bind URL with a bad id",
     USER("{'roleGroup@odata.bind':'" BIND_BASE "st%20aff'}"),
     {{0}}, 0, CONFIG0 ".roleGroup@odata.bind"},
    {"user bind URL as a number", USER("{'roleGroup@odata.bind':1}"),
     {{0}}, 0, CONFIG0 ".roleGroup@odata.bind"},
    {"user roleGroup without @odata.bind is unknown",
     USER("{'roleGroup':'staff'}"), {{0}}, 0, CONFIG0 ".roleGroup"},
    {"user defaultPasswordSecret without a secrets directory",
     USER("{'roleGroupId':'staff','defaultPasswordSecret':'staff-initial'}"),
     {{0}}, 1, CONFIG0 ".defaultPasswordSecret"},
    {"user defaultPasswordSecret naming a path",
     USER("{'roleGroupId':'staff','defaultPasswordSecret':'../etc/passwd'}"),
     {{0}}, 0, CONFIG0 ".defaultPasswordSecret"},
    {"user defaultPasswordSecret with upper case",
     USER("{'roleGroupId':'staff','defaultPasswordSecret':'A-upper'}"),
     {{0}}, 0, CONFIG0 ".defaultPasswordSecret"},
    {"user defaultPasswordSecret naming a missing file",
     USER("{'roleGroupId':'staff','defaultPasswordSecret':'no-such-secret'}"),
     {{0}}, 0, CONFIG0 ".defaultPasswordSecret"},
    {"user defaultPasswordSecret as a number",
     USER("{'roleGroupId':'staff','defaultPasswordSecret':12}"),
     {{0}}, 0, CONFIG0 ".defaultPasswordSecret"},
    {"user defaultPasswordSecret and defaultPasswordSettings both given",
     USER("{'roleGroupId':'staff','defaultPasswordSettings':{'password':'x'},"
          "'defaultPasswordSecret':'staff-initial'}"),
     {{0}}, 0, CONFIG0 ".defaultPasswordSecret"},
    {"user defaultPasswordSettings without password",
     USER("{'roleGroupId':'staff','defaultPasswordSettings':{}}"),
     {{0}}, 0, CONFIG0 ".defaultPasswordSettings.password"},
    {"user password as a number",
     USER("{'roleGroupId':'staff','defaultPasswordSettings':{'password':1234}}"),
     {{0}}, 0, CONFIG0 ".defaultPasswordSettings.password"},
    {"user defaultPasswordSettings with a wrong @odata.type",
     USER("{'roleGroupId':'staff','defaultPasswordSettings':{'@odata.type':'" NS
          "passwordSettings','password':'x'}}"),
     {{0}}, 0, CONFIG0 ".defaultPasswordSettings.@odata.type"},
    {"user licenseSkus item as a number",
     USER("{'roleGroupId':'staff','licenseSkus':['Sku1',2]}"), {{0}}, 0, CONFIG0 ".licenseSkus[1]"},
    {"user licenseSkus as a string",
     USER("{'roleGroupId':'staff','licenseSkus':'Sku1'}"), {{0}}, 0, CONFIG0 ".licenseSkus"},
    {"user defaultPasswordSecret given before defaultPasswordSettings",
     USER("{'roleGroupId':'staff','defaultPasswordSecret':'staff-initial',"
          "'defaultPasswordSettings':{'password':'x'}}"),
     {{0}}, 0, CONFIG0 ".defaultPasswordSecret"},
    {"user roleGroupId given before the bind URL",
     USER("{'roleGroupId':'staff','roleGroup@odata.bind':'" BIND_BASE "staff'}"),
     {{0}}, 0, CONFIG0 ".roleGroupId"},
    {"user bind URL with the role group path only in its query",
     USER("{'roleGroup@odata.bind':'https://example.org/x?u="
          "/beta/external/industryData/roleGroups/staff'}"),
     {{0}}, 0, CONFIG0 ".roleGroup@odata.bind"},
    {"user configuration without a role group",
     USER("{'licenseSkus':['Sku1']}"),
     {{0}}, 0, CONFIG0 ".roleGroup@odata.bind"},
    {"user configuration with a null role group bind",
     USER("{'roleGroup@odata.bind':null}"),
     {{0}}, 0, CONFIG0 ".roleGroup@odata.bind"},
    {"user configuration with a null roleGroupId",
     USER("{'roleGroupId':null}"),
     {{0}}, 0, CONFIG0 ".roleGroup@odata.bind"},
    {"user second configuration without a role group",
     USER("{'roleGroupId':'staff'},{}"),
     {{0}}, 0, "data.flow.creationOptions.configurations[1]"
     ".roleGroup@odata.bind"},
    {"user defaultPasswordSettings with a null password",
     USER("{'roleGroupId':'staff','defaultPasswordSettings':{'password':null}}"),
     {{0}}, 0, CONFIG0 ".defaultPasswordSettings.password"},
    {"user error in the second configuration names its index",
     USER("{'roleGroupId':'staff'},{'roleGroupId':'students','extra':1}"),
     {{0}}, 0, "data.flow.creationOptions.configurations[1].extra"},
    /* The lifecycle's event types (docs/events.md, "Event types"). */
    {"set create without flowSet", OP_EVENT("provisioningFlowSet.create", "{}"),
     {{0}}, 0, "data.flowSet"},
    {"set create with flowSet not an object",
     OP_EVENT("provisioningFlowSet.create", "{'flowSet':'District A'}"),
     {{0}}, 0, "data.flowSet"},
    {"set create without displayName",
     OP_EVENT("provisioningFlowSet.create", "{'flowSet':{}}"),
     {{0}}, 0, "data.flowSet.displayName"},
    {"set create with displayName a number",
     OP_EVENT("provisioningFlowSet.create", "{'flowSet':{'displayName':1}}"),
     {{0}}, 0, "data.flowSet.displayName"},
    {"set create with a filter that is not an object",
     OP_EVENT("provisioningFlowSet.create",
              "{'flowSet':{'displayName':'A','filter':[]}}"),
     {{0}}, 0, "data.flowSet.filter"},
    {"set create with an unknown set property",
     OP_EVENT("provisioningFlowSet.create",
              "{'flowSet':{'displayName':'A','flows':[]}}"),
     {{0}}, 0, "data.flowSet.flows"},
    {"set create naming a flow set",
     OP_EVENT("provisioningFlowSet.create",
              "{'flowSetId':'" FSID "','flowSet':{'displayName':'A'}}"),
     {{0}}, 0, "data.flowSetId"},
    {"flow create with both flowSetId and flowSetName",
     EVENT("{'flowSetId':'" FSID "','flowSetName':'A','flowType':"
           "'administrativeUnit','flow':" AU_FLOW "}"),
     {{0}}, 0, "data.flowSetName"},
    {"flow create with neither flowSetId nor flowSetName",
     EVENT("{'flowType':'administrativeUnit','flow':" AU_FLOW "}"),
     {{0}}, 0, "data.flowSetId"},
    {"flow create with an empty flowSetName",
     EVENT("{'flowSetName':'','flowType':'administrativeUnit','flow':"
           AU_FLOW "}"),
     {{0}}, 0, "data.flowSetName"},
    {"flow create with a flowSetName too long",
     EVENT("{'flowSetName':'" X256 "x','flowType':'administrativeUnit',"
           "'flow':" AU_FLOW "}"),
     {{0}}, 0, "data.flowSetName"},
    {"flow create with flowSetName a number",
     EVENT("{'flowSetName':7,'flowType':'administrativeUnit','flow':"
           AU_FLOW "}"),
     {{0}}, 0, "data.flowSetName"},
    {"flow create with a flowId",
     EVENT("{'flowSetId':'" FSID "','flowId':'a','flowType':"
           "'administrativeUnit','flow':" AU_FLOW "}"),
     {{0}}, 0, "data.flowId"},
    {"update without a flow",
     OP_EVENT("provisioningFlow.update",
              "{'flowSetName':'A','flowType':'user'}"),
     {{0}}, 0, "data.flow"},
    {"update without a flow type",
     OP_EVENT("provisioningFlow.update",
              "{'flowSetName':'A','flowId':'f-1','flow':{}}"),
     {{0}}, 0, "data.flowType"},
    {"update of a user flow without managementOptions",
     OP_EVENT("provisioningFlow.update",
              "{'flowSetName':'A','flowType':'user','flow':"
              "{'createUnmatchedUsers':true}}"),
     {{0}}, 0, "data.flow.managementOptions"},
    {"update with a given object incomplete",
     OP_EVENT("provisioningFlow.update",
              "{'flowSetName':'A','flowType':'classGroup','flow':"
              "{'configuration':{'additionalOptions':{'createTeam':true}}}}"),
     {{0}}, 0, "data.flow.configuration.additionalOptions"
     ".writeDisplayNameOnCreateOnly"},
    {"update with an unknown flow property",
     OP_EVENT("provisioningFlow.update",
              "{'flowSetName':'A','flowType':'administrativeUnit','flow':"
              "{'colour':'red'}}"),
     {{0}}, 0, "data.flow.colour"},
    {"update with a property of the wrong kind",
     OP_EVENT("provisioningFlow.update",
              "{'flowSetName':'A','flowType':'administrativeUnit','flow':"
              "{'creationOptions':true}}"),
     {{0}}, 0, "data.flow.creationOptions"},
    {"update with an @odata.type against flowType",
     OP_EVENT("provisioningFlow.update",
              "{'flowSetName':'A','flowType':'user','flow':"
              "{'@odata.type':'" NS "classGroupProvisioningFlow'}}"),
     {{0}}, 0, "data.flow.@odata.type"},
    {"delete without a flow type or id",
     OP_EVENT("provisioningFlow.delete", "{'flowSetName':'A'}"),
     {{0}}, 0, "data.flowType"},
    {"delete with a flowId of other characters",
     OP_EVENT("provisioningFlow.delete",
              "{'flowSetName':'A','flowId':'../sets'}"),
     {{0}}, 0, "data.flowId"},
    {"delete with an empty flowId",
     OP_EVENT("provisioningFlow.delete", "{'flowSetName':'A','flowId':''}"),
     {{0}}, 0, "data.flowId"},
    {"delete with a flowId too long",
     OP_EVENT("provisioningFlow.delete",
              "{'flowSetName':'A','flowId':'" X64 X64 "x'}"),
     {{0}}, 0, "data.flowId"},
    {"delete with a body",
     OP_EVENT("provisioningFlow.delete",
              "{'flowSetName':'A','flowType':'user','flow':{}}"),
     {{0}}, 0, "data.flow"},
    {"delete without a flow set",
     OP_EVENT("provisioningFlow.delete", "{'flowType':'user'}"),
     {{0}}, 0, "data.flowSetId"},
    {"reset with an unknown flow type",
     OP_EVENT("provisioningFlow.reset",
              "{'flowSetName':'A','flowType':'teacher'}"),
     {{0}}, 0, "data.flowType"},
    {"reset with a flowSetId that is not a GUID",
     OP_EVENT("provisioningFlow.reset",
              "{'flowSetId':'A','flowType':'user'}"),
     {{0}}, 0, "data.flowSetId"},
    {"run start with a flow set",
     OP_EVENT("industryDataRun.start", "{'flowSetName':'A'}"),
     {{0}}, 0, "data.flowSetName"},
    {"run start with data that is not an object",
     OP_EVENT("industryDataRun.start", "[]"),
     {{0}}, 0, "data"},
};
/* clang-format on */

#define CASE_COUNT (sizeof(cases) / sizeof(cases[0]))

static char secrets_dir[] = "/tmp/pf-test-invalid-XXXXXX";
static char secret_path[sizeof(secrets_dir) + 32];
static pf_secrets *secrets;

static int group_setup(void **state)
{
    char errstr[256];
    FILE *f;

    (void)state;
    if (mkdtemp(secrets_dir) == NULL)
        return -1;
    snprintf(secret_path, sizeof(secret_path), "%s/staff-initial", secrets_dir);
    f = fopen(secret_path, "w");
    if (f == NULL)
        return -1;
    fputs("Initial-Pa55\n", f);
    fclose(f);
    secrets = pf_secrets_new(secrets_dir, errstr, sizeof(errstr));
    return secrets == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    pf_secrets_destroy(secrets);
    unlink(secret_path);
    rmdir(secrets_dir);
    return 0;
}

/* Single quotes to double quotes, into an exact-size heap buffer. */
static char *sq(const char *s, size_t *len)
{
    char *out;
    size_t i;

    *len = strlen(s);
    out = malloc(*len > 0 ? *len : 1);
    assert_non_null(out);
    for (i = 0; i < *len; i++)
        out[i] = s[i] == '\'' ? '"' : s[i];
    return out;
}

/* A valid event, padded with spaces to PF_EVENT_MAX_BYTES + 1 bytes. */
static char *oversized(size_t *len)
{
    size_t n;
    char *ev = sq(EVENT(DATA("administrativeUnit", AU_FLOW)), &n);
    char *out = malloc(PF_EVENT_MAX_BYTES + 1);

    assert_non_null(out);
    assert_true(n < PF_EVENT_MAX_BYTES);
    memcpy(out, ev, n);
    memset(out + n, ' ', PF_EVENT_MAX_BYTES + 1 - n);
    free(ev);
    *len = PF_EVENT_MAX_BYTES + 1;
    return out;
}

/* True if s is valid UTF-8 without C0, DEL or C1 control characters. */
static bool well_formed(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    while (*s != '\0') {
        uint32_t cp, min;
        int n, i;

        if (s[0] < 0x80) {
            cp = s[0];
            n = 1;
            min = 0;
        } else if ((s[0] & 0xE0) == 0xC0) {
            cp = s[0] & 0x1Fu;
            n = 2;
            min = 0x80;
        } else if ((s[0] & 0xF0) == 0xE0) {
            cp = s[0] & 0x0Fu;
            n = 3;
            min = 0x800;
        } else if ((s[0] & 0xF8) == 0xF0) {
            cp = s[0] & 0x07u;
            n = 4;
            min = 0x10000;
        } else {
            return false;
        }
        for (i = 1; i < n; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ||
            cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
            return false;
        s += n;
    }
    return true;
}

/*
 * The three fields are well-formed, and jansson takes them: a string it
 * refuses made `provflow transform` stop with "out of memory".
 */
static void assert_error_well_formed(const pf_error *err)
{
    json_t *line;

    assert_true(strnlen(err->path, sizeof(err->path)) < sizeof(err->path));
    assert_true(strnlen(err->message, sizeof(err->message)) <
                sizeof(err->message));
    if (!well_formed(err->path) || !well_formed(err->message))
        fail_msg("not well-formed: path \"%s\", message \"%s\"", err->path,
                 err->message);
    line = json_pack("{ssssss}", "code", err->code, "path", err->path,
                     "message", err->message);
    assert_non_null(line);
    json_decref(line);
}

static void rejects_at_path(void **state)
{
    const invalid_case *c = *state;
    pf_header headers[MAX_HEADERS];
    char *hvalues[MAX_HEADERS] = {NULL};
    pf_transform_opts opts = {NULL, c->no_secrets ? NULL : secrets};
    size_t n = 0, len = 0, i;
    char *value = NULL;
    pf_record rec;
    pf_event ev;
    pf_request req;
    pf_error err;
    int rc;

    if (c->value == OVERSIZED)
        value = oversized(&len);
    else if (c->value != NULL)
        value = sq(c->value, &len);
    for (n = 0; n < MAX_HEADERS && c->headers[n].name != NULL; n++) {
        size_t hlen = 0;

        headers[n].name = c->headers[n].name;
        if (c->headers[n].value != NULL)
            hvalues[n] = sq(c->headers[n].value, &hlen);
        headers[n].value = hvalues[n];
        headers[n].value_len = hlen;
    }
    rec = (pf_record){NULL, 0, value, len, n > 0 ? headers : NULL, n};

    memset(&err, 0, sizeof(err));
    memset(&req, 0, sizeof(req));
    rc = pf_event_decode(&rec, &ev, &err);
    if (rc == 0) {
        rc = pf_transform(&ev, &opts, &req, &err);
        if (rc == 0) {
            char *body;

            pf_json_mask_secrets(req.body);
            body = json_dumps(req.body, JSON_COMPACT);
            fail_msg("accepted; body %s", body ? body : "?");
        }
        /* Left empty on failure. */
        assert_null(req.body);
        assert_null(req.base);
    } else {
        assert_null(ev.data);
    }
    pf_event_release(&ev);

    assert_int_equal(rc, -1);
    assert_string_equal(err.code, "invalid_event");
    assert_string_equal(err.path, c->path);
    assert_true(err.message[0] != '\0');
    assert_error_well_formed(&err);

    free(value);
    for (i = 0; i < n; i++)
        free(hvalues[i]);
}

/* ---- hostile values ---- */

/*
 * A template (single quotes) with @@ where a JSON string goes, and the
 * start of the path the error must name ("" + the key for a key).
 */
typedef struct hostile_template {
    const char *what;
    const char *json;
    const char *path; /* the error's path starts with this */
    bool key;         /* @@ is a member name: the path goes on with it */
} hostile_template;

static const hostile_template templates[] = {
    {"flowType",
     EVENT("{'flowSetId':'" FSID "','flowType':@@,'flow':" AU_FLOW "}"),
     "data.flowType", false},
    {"flow @odata.type",
     FLOW("administrativeUnit",
          "{'@odata.type':@@,'creationOptions':{'createBasedOnOrg':true,"
          "'createBasedOnOrgPlusRoleGroup':false}}"),
     "data.flow.@odata.type", false},
    {"enum item",
     CG("{'additionalAttributes':['courseTitle',@@]," CG_OPTS "," CG_MAPS "}"),
     "data.flow.configuration.additionalAttributes[1]", false},
    {"event type",
     "{'specversion':'1.0','id':'bad-1','source':'urn:sis:test','type':@@,"
     "'data':" DATA("administrativeUnit", AU_FLOW) "}",
     "type", false},
    {"unknown flow property name",
     FLOW("administrativeUnit", "{'creationOptions':{'createBasedOnOrg':true,"
                                "'createBasedOnOrgPlusRoleGroup':false},@@:1}"),
     "data.flow.", true},
    {"unknown data property name",
     EVENT("{'flowSetId':'" FSID
           "','flowType':'administrativeUnit','flow':" AU_FLOW ",@@:1}"),
     "data.", true},
    {"unknown name deep in a class group",
     CG_MAPPINGS("{'ownerEnrollmentMappings':[{'code':'teacher',@@:1}],"
                 "'memberEnrollmentMappings':['student']}"),
     "data.flow.configuration.enrollmentMappings.ownerEnrollmentMappings[0].",
     true},
};

/* "é" (2 bytes), "€" (3), "😀" (4), and ASCII. */
static const char *const glyphs[] = {"\xC3\xA9", "\xE2\x82\xAC",
                                     "\xF0\x9F\x98\x80", "z"};

/* Values: prefix 0..3 ASCII bytes, then 300 of a glyph; and controls. */
static char *hostile_value(size_t n)
{
    static const char controls[] = "x\r\n\x1b[2J\x1b]0;owned\x07\t\x7f"
                                   "\xC2\x9B"
                                   "31m";
    const char *g;
    size_t prefix, w, i;
    char *v;

    if (n == 16)
        return strdup(controls);
    g = glyphs[n / 4];
    prefix = n % 4;
    w = strlen(g);
    v = malloc(prefix + 300 * w + sizeof(controls));
    assert_non_null(v);
    memset(v, 'a', prefix);
    for (i = 0; i < 300; i++)
        memcpy(v + prefix + i * w, g, w);
    /* controls at the end too: cut away, or escaped */
    memcpy(v + prefix + 300 * w, controls, sizeof(controls));
    return v;
}

#define HOSTILE_VALUES 17

/* The template with @@ replaced by value as a JSON string. */
static char *fill(const char *template, const char *value, size_t *len)
{
    size_t tlen;
    char *t = sq(template, &tlen), *at, *out;
    json_t *str = json_string(value);
    char *enc;
    size_t elen;

    assert_non_null(str);
    enc = json_dumps(str, JSON_ENCODE_ANY);
    assert_non_null(enc);
    elen = strlen(enc);
    at = memmem(t, tlen, "@@", 2);
    assert_non_null(at);
    out = malloc(tlen - 2 + elen + 1);
    assert_non_null(out);
    memcpy(out, t, (size_t)(at - t));
    memcpy(out + (at - t), enc, elen);
    memcpy(out + (at - t) + elen, at + 2, tlen - (size_t)(at - t) - 2);
    *len = tlen - 2 + elen;
    out[*len] = '\0';
    free(enc);
    json_decref(str);
    free(t);
    return out;
}

/*
 * Every template with every hostile value: rejected, at the expected path,
 * with well-formed text; a path that would be too long ends in "...".
 */
static void hostile_values_give_well_formed_errors(void **state)
{
    pf_transform_opts opts = {NULL, NULL};
    size_t t, n;

    (void)state;
    for (t = 0; t < sizeof(templates) / sizeof(templates[0]); t++) {
        for (n = 0; n < HOSTILE_VALUES; n++) {
            char *value = hostile_value(n), *json;
            size_t len, plen = strlen(templates[t].path);
            pf_record rec;
            pf_event ev;
            pf_request req;
            pf_error err;
            int rc;

            json = fill(templates[t].json, value, &len);
            rec = (pf_record){NULL, 0, json, len, NULL, 0};
            memset(&err, 0, sizeof(err));
            rc = pf_event_decode(&rec, &ev, &err);
            if (rc == 0) {
                rc = pf_transform(&ev, &opts, &req, &err);
                if (rc == 0)
                    pf_request_release(&req);
            }
            pf_event_release(&ev);
            if (rc != -1 || strcmp(err.code, "invalid_event") != 0 ||
                strncmp(err.path, templates[t].path, plen) != 0)
                fail_msg("%s, value %zu: rc %d, path \"%s\"", templates[t].what,
                         n, rc, err.path);
            assert_error_well_formed(&err);
            if (!templates[t].key)
                assert_string_equal(err.path, templates[t].path);
            else if (n < 12) /* a long name: the path is cut */
                assert_non_null(strstr(err.path + plen, "..."));
            else if (n == 16) /* controls escaped, the name kept */
                assert_string_equal(err.path + plen,
                                    "x\\r\\n\\u001b[2J\\u001b]0;owned"
                                    "\\u0007\\t\\u007f\\u009b31m");
            free(json);
            free(value);
        }
    }
}

int main(void)
{
    struct CMUnitTest tests[CASE_COUNT];
    size_t i;
    const struct CMUnitTest hostile[] = {
        cmocka_unit_test(hostile_values_give_well_formed_errors),
    };
    int failed;

    for (i = 0; i < CASE_COUNT; i++) {
        tests[i] = (struct CMUnitTest){
            .name = cases[i].what,
            .test_func = rejects_at_path,
            .initial_state = (void *)&cases[i],
        };
    }
    failed = _cmocka_run_group_tests("transform_invalid", tests, CASE_COUNT,
                                     group_setup, group_teardown);
    return failed + cmocka_run_group_tests(hostile, NULL, NULL);
}
