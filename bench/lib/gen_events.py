#!/usr/bin/env python3
"""gen_events.py N RUN_TAG [SETS] [INVALID_PCT] [TENANTS] [ONLY] - benchmark
input events.

Writes N lines "KEY|CLOUDEVENT" to stdout (for `kcat -P -K '|'`): structured
CloudEvents of type provflow.provisioningFlow.create, key = data.flowSetId.
The flow sets are SETS (default 1000) GUIDs derived from RUN_TAG, so every
run of the harness has its own sets; event i goes to set i % SETS with flow
type (i // SETS) % 4, so all four types appear in every set. The `flow`
objects are Graph's request bodies in CSDL casing with their @odata.type
annotations, so an implementation without a transform can post them as
they are. INVALID_PCT percent (default 2) of the events are invalid, in two
kinds, half each:
  - flowSetId is not a GUID ("bench-bad-<i>"): refused before any call;
  - a securityGroup flow without its required creationOptions: provflow's
    transform refuses it, a peer without a schema gets Graph's 400.
TENANTS (default: none) is a comma-separated cycle of tenant ids: set k
belongs to TENANTS[k % len] and its events carry that `tenantid` extension
attribute ("test-tenant,tenant-b,tenant-b,tenant-b": a quarter of the sets
in test-tenant). ONLY (default: none) keeps only the events of that tenant,
the same events as in the full list, their ids numbered 0, 1, ... (so the
harness's per-event arrays stay dense).
Deterministic for a given (N, RUN_TAG, SETS, INVALID_PCT, TENANTS, ONLY).
"""
import hashlib
import json
import sys
import time

BODIES = {
    "administrativeUnit": {
        "@odata.type": "#microsoft.graph.industryData.administrativeUnitProvisioningFlow",
        "creationOptions": {"createBasedOnOrg": True, "createBasedOnOrgPlusRoleGroup": True},
    },
    "securityGroup": {
        "@odata.type": "#microsoft.graph.industryData.securityGroupProvisioningFlow",
        "creationOptions": {"createBasedOnRoleGroup": True, "createBasedOnOrgPlusRoleGroup": False},
    },
    "classGroup": {
        "@odata.type": "#microsoft.graph.industryData.classGroupProvisioningFlow",
        "configuration": {
            "@odata.type": "#microsoft.graph.industryData.classGroupConfiguration",
            "additionalAttributes": ["courseTitle", "courseCode", "courseSubject", "courseGradeLevel",
                                     "courseExternalId", "academicSessionTitle",
                                     "academicSessionExternalId"],
            "additionalOptions": {
                "@odata.type": "#microsoft.graph.industryData.additionalClassGroupOptions",
                "createTeam": True, "writeDisplayNameOnCreateOnly": True},
            "enrollmentMappings": {
                "@odata.type": "#microsoft.graph.industryData.enrollmentMappings",
                "ownerEnrollmentMappings": [
                    {"@odata.type": "#microsoft.graph.industryData.sectionRoleReferenceValue", "code": c}
                    for c in ("teacher", "proctor", "teacherAssistant")],
                "memberEnrollmentMappings": [
                    {"@odata.type": "#microsoft.graph.industryData.sectionRoleReferenceValue", "code": c}
                    for c in ("student", "aide")],
            },
        },
    },
    "user": {
        "@odata.type": "#microsoft.graph.industryData.userProvisioningFlow",
        "createUnmatchedUsers": True,
        "managementOptions": {
            "additionalAttributes": ["userGradeLevel"],
            "additionalOptions": {"markAllStudentsAsMinors": True,
                                  "allowStudentContactAssociation": False}},
        "creationOptions": {"configurations": [
            {"roleGroup@odata.bind": "https://graph.microsoft.com/beta/external/industryData/roleGroups/staff",
             "defaultPasswordSettings": {
                 "@odata.type": "#microsoft.graph.industryData.simplePasswordSettings",
                 "password": "Bench-Passw0rd!"},
             "licenseSkus": ["Sku1"]},
            {"roleGroup@odata.bind": "https://graph.microsoft.com/beta/external/industryData/roleGroups/students",
             "defaultPasswordSettings": {
                 "@odata.type": "#microsoft.graph.industryData.simplePasswordSettings",
                 "password": "Bench-Passw0rd!"},
             "licenseSkus": ["Sku2"]}]},
    },
}
TYPES = ["administrativeUnit", "classGroup", "securityGroup", "user"]


def guid(tag, k):
    h = hashlib.sha1(f"{tag}/{k}".encode()).hexdigest()
    return f"{h[0:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def main():
    n = int(sys.argv[1])
    tag = sys.argv[2]
    nsets = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    pct = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0
    tenants = [t for t in sys.argv[5].split(",") if t] if len(sys.argv) > 5 else []
    only = sys.argv[6] if len(sys.argv) > 6 and sys.argv[6] else None
    sets = [guid(tag, k) for k in range(nsets)]
    bodies = {t: json.dumps(BODIES[t], separators=(",", ":")) for t in TYPES}
    bad_sg = json.dumps({"@odata.type": BODIES["securityGroup"]["@odata.type"]},
                        separators=(",", ":"))
    # Invalid events: evenly spread, every (100 / pct)-th event.
    every = int(round(100.0 / pct)) if pct > 0 else 0
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out = sys.stdout
    nbad = 0
    j = 0
    for i in range(n):
        tenant = tenants[(i % nsets) % len(tenants)] if tenants else None
        fs = sets[i % nsets]
        ft = TYPES[(i // nsets) % 4]
        flow = bodies[ft]
        if every and i % every == every - 1:
            if nbad % 2 == 0:
                fs = f"bench-bad-{i}"
            else:
                ft, flow = "securityGroup", bad_sg
            nbad += 1
        if only is not None and tenant != only:
            continue
        ext = f'"tenantid":"{tenant}",' if tenant else ""
        out.write(f'{fs}|{{"specversion":"1.0","id":"{tag}-{j}","source":"urn:provflow:bench",'
                  f'"type":"provflow.provisioningFlow.create","time":"{now}",{ext}'
                  f'"datacontenttype":"application/json","data":{{"flowSetId":"{fs}",'
                  f'"flowType":"{ft}","flow":{flow}}}}}\n')
        j += 1


if __name__ == "__main__":
    main()
