#!/usr/bin/env bash
# Checks docs/schemas/provisioning-request.schema.json (JSON Schema 2020-12)
# against the seed events (all must validate), events that use each input
# convenience (must validate) and invalid events (each must fail).
# Needs Debian's python3-jsonschema (>= 4.0, for draft 2020-12); uses the
# system interpreter so that a virtualenv's packages do not matter.
set -euo pipefail
cd "$(dirname "$0")/../.."

exec /usr/bin/python3 - docs/schemas/provisioning-request.schema.json \
    tests/data/seed/events.ndjson <<'PY'
import json
import sys

import jsonschema

schema_path, seed_path = sys.argv[1], sys.argv[2]
with open(schema_path) as f:
    schema = json.load(f)
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)

FS = "9ab41255-5364-4c53-e15c-08dc4ab6ee03"
NS = "#microsoft.graph.industryData."


def event(data, **attrs):
    ev = {"specversion": "1.0", "id": "schema-1", "source": "urn:sis:test",
          "type": "provflow.provisioningFlow.create", "data": data}
    ev.update(attrs)
    return ev


def flow(flow_type, body):
    return event({"flowSetId": FS, "flowType": flow_type, "flow": body})


AU = {"creationOptions": {"createBasedOnOrg": True,
                          "createBasedOnOrgPlusRoleGroup": False}}
CG_OPTIONS = {"createTeam": True, "writeDisplayNameOnCreateOnly": False}
USER_MGMT = {"additionalOptions": {}}


def user(*configs):
    return flow("user", {"managementOptions": USER_MGMT,
                         "creationOptions": {"configurations": list(configs)}})


valid = []
with open(seed_path) as f:
    for line in f:
        ev = json.loads(line)
        valid.append(("seed event " + ev["id"], ev))
valid += [
    ("names in any letter case",
     flow("administrativeUnit", {"CreationOptions": {
         "createbasedonorg": True, "CREATEBASEDONORGPLUSROLEGROUP": True}})),
    ("role mappings as plain strings",
     flow("classGroup", {"configuration": {
         "additionalOptions": CG_OPTIONS,
         "enrollmentMappings": {"ownerEnrollmentMappings": ["teacher"],
                                "memberEnrollmentMappings": [
                                    "student", {"code": "Custom-Role"}]}}})),
    ("roleGroupId and defaultPasswordSecret",
     user({"roleGroupId": "staff", "defaultPasswordSecret": "staff-initial",
           "licenseSkus": ["Sku1"]})),
    ("bind URL on another cloud",
     user({"roleGroup@odata.bind": "https://graph.microsoft.us/beta/"
           "external/industryData/roleGroups/students"})),
    ("role mapping with its reference definition bound",
     flow("classGroup", {"configuration": {
         "additionalOptions": CG_OPTIONS,
         "enrollmentMappings": {"ownerEnrollmentMappings": [
             {"code": "teacher", "VALUE@odata.bind":
              "https://graph.microsoft.com/beta/external/industryData/"
              "referenceDefinitions/RefRole_Teacher"}]}}})),
    ("role code other, sent as given", flow("classGroup", {"configuration": {
         "additionalOptions": CG_OPTIONS,
         "enrollmentMappings": {"memberEnrollmentMappings": ["other"]}}})),
    ("flowType from @odata.type only",
     event({"flowSetId": FS, "flow": dict(
         AU, **{"@odata.type": NS + "administrativeUnitProvisioningFlow"})})),
    ("read-only fields and null optionals",
     flow("user", {"id": "x", "readinessStatus": "notReady",
                   "createUnmatchedUsers": None,
                   "managementOptions": {"additionalAttributes": None,
                                         "additionalOptions": {}}})),
    ("optional attributes and extensions",
     flow("securityGroup", {"creationOptions": {
         "createBasedOnRoleGroup": True,
         "createBasedOnOrgPlusRoleGroup": True}})
     | {"time": "2024-03-22T21:28:02.7164229+01:00",
        "tenantid": "contoso.edu", "datacontenttype": "application/json",
        "traceparent": "00-ab-cd-01"}),
    # The lifecycle's event types (docs/events.md, "The lifecycle").
    ("flow create in a set named by displayName",
     event({"flowSetName": "District A", "flowType": "administrativeUnit",
            "flow": AU})),
    ("set create", event({"flowSet": {"displayName": "District A"}},
                         type="provflow.provisioningFlowSet.create")),
    ("update by set name and type, partial body",
     event({"flowSetName": "District A", "flowType": "user",
            "flow": {"managementOptions": {}}},
           type="provflow.provisioningFlow.update")),
    ("delete by type", event({"flowSetId": FS, "flowType": "classGroup"},
                             type="provflow.provisioningFlow.delete")),
    ("reset by id", event({"flowSetId": FS, "flowId": "a1b2-c3"},
                          type="provflow.provisioningFlow.reset")),
    ("run start", event({}, type="provflow.industryDataRun.start")),
]
invalid = [
    ("set create without displayName",
     event({"flowSet": {}}, type="provflow.provisioningFlowSet.create")),
    ("set create with a flow", event({"flowSet": {"displayName": "x"},
                                      "flow": {}},
                                     type="provflow.provisioningFlowSet.create")),
    ("flow create naming the set twice",
     event({"flowSetId": FS, "flowSetName": "x", "flowType": "user",
            "flow": {}})),
    ("delete naming no flow", event({"flowSetId": FS},
                                    type="provflow.provisioningFlow.delete")),
    ("run start with data", event({"flowSetId": FS},
                                  type="provflow.industryDataRun.start")),
    ("unknown operation", event({}, type="provflow.provisioningFlow.archive")),
    ("wrong specversion", event({"flowSetId": FS, "flowType": "user",
                                 "flow": {}}, specversion="0.3")),
    ("data_base64", {k: v for k, v in flow("administrativeUnit", AU).items()
                     if k != "data"} | {"data_base64": "e30="}),
    ("flowSetId in braces", event({"flowSetId": "{" + FS + "}",
                                   "flowType": "administrativeUnit",
                                   "flow": AU})),
    ("unknown flowType", flow("device", AU)),
    ("no flowType and no @odata.type", event({"flowSetId": FS, "flow": AU})),
    ("flowType and @odata.type disagree",
     flow("user", dict(AU, **{"@odata.type":
                               NS + "administrativeUnitProvisioningFlow"}))),
    ("required boolean missing",
     flow("administrativeUnit", {"creationOptions": {"createBasedOnOrg": True}})),
    ("unknown property", flow("administrativeUnit", dict(AU, displayName="x"))),
    ("enum value in another case",
     flow("user", {"managementOptions": {"additionalOptions": {
         "studentAgeGroup": "Minor"}}})),
    ("role item as a number",
     flow("classGroup", {"configuration": {
         "additionalOptions": CG_OPTIONS,
         "enrollmentMappings": {"ownerEnrollmentMappings": [5]}}})),
    ("roleGroupId and bind URL both",
     user({"roleGroupId": "staff", "roleGroup@odata.bind":
           "https://graph.microsoft.com/beta/external/industryData/"
           "roleGroups/staff"})),
    ("secret name with a path",
     user({"roleGroupId": "staff", "defaultPasswordSecret": "../etc/passwd"})),
    ("user configuration without a role group", user({"licenseSkus": ["Sku1"]})),
    ("user configuration with a null roleGroupId", user({"roleGroupId": None})),
    ("user configuration with a null bind URL",
     user({"roleGroup@odata.bind": None})),
    ("user password missing",
     user({"roleGroupId": "staff", "defaultPasswordSettings": {}})),
    ("role value bound to another collection",
     flow("classGroup", {"configuration": {
         "additionalOptions": CG_OPTIONS,
         "enrollmentMappings": {"ownerEnrollmentMappings": [
             {"code": "teacher", "value@odata.bind":
              "https://graph.microsoft.com/beta/external/industryData/"
              "roleGroups/staff"}]}}})),
]

# Every golden event of tests/data/lifecycle but the invalid ones
# (life-bad-*): the schema agrees with provflow on each type's shape.
with open("tests/data/lifecycle/events.ndjson") as f:
    valid += [("golden " + e["id"], e) for e in map(json.loads, f)
              if not e["id"].startswith("life-bad-")]
invalid += [
    ("update of a user flow without managementOptions",
     event({"flowSetName": "A", "flowType": "user",
            "flow": {"createUnmatchedUsers": True}},
           type="provflow.provisioningFlow.update")),
    ("update without a flow type",
     event({"flowSetName": "A", "flowId": "f-1", "flow": {}},
           type="provflow.provisioningFlow.update")),
    ("reset with a flowId of other characters",
     event({"flowSetName": "A", "flowId": "a/b"},
           type="provflow.provisioningFlow.reset")),
]

failures = 0
for what, ev in valid:
    errors = sorted(validator.iter_errors(ev), key=lambda e: list(e.path))
    if errors:
        failures += 1
        print(f"FAIL valid event rejected: {what}: {errors[0].message[:300]}")
    else:
        print(f"ok   valid: {what}")
for what, ev in invalid:
    if validator.is_valid(ev):
        failures += 1
        print(f"FAIL invalid event accepted: {what}")
    else:
        print(f"ok   invalid: {what}")
print(f"schema_check: {len(valid)} valid, {len(invalid)} invalid, "
      f"{failures} failure(s)")
sys.exit(1 if failures else 0)
PY
