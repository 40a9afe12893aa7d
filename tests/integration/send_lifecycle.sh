#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2119 source-path=SCRIPTDIR  # jq programs in single quotes; sim_start takes options
# send_lifecycle.sh PROVFLOW GRAPHSIM [http|https]
#
# The Graph side of the lifecycle's event types (docs/events.md, "Event
# types") through provflow send, against the simulator with explicit flow
# sets and lists paged by two:
#
# 1. A set created by displayName among three others (one named like it
#    but for a trailing space), a flow created by flowSetName, updated,
#    reset and deleted by flow type; a delete of a type the set no longer
#    holds, and a delete and a reset in a set of no such name: absent, not
#    failed, each with its reason; a create in a set of no such name:
#    failed (rejected), with its reason.
# 2. The same set's create again: exists (send checks the sets first),
#    no second set.
# 3. A run start with a time: started, its operation's URL; the same
#    event again: exists (a run that started after its time is listed),
#    no second run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lib_init "$@"

SETS=/beta/external/industryData/outboundProvisioningFlowSets
NAME="District L"
T0=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)

# ev ID TYPE DATA [TIME]: one event on one line.
ev() {
    jq -nc --arg id "$1" --arg type "$2" --argjson data "$3" --arg t "${4:-}" \
        '{specversion: "1.0", id: $id, source: "urn:sis:test", type: $type,
          data: $data} + (if $t == "" then {} else {time: $t} end)'
}
# flow ID TYPE SET FLOW_TYPE [FLOW]: an event on a flow of the set SET.
flow() {
    ev "$1" "$2" "$(jq -nc --arg n "$3" --arg t "$4" --arg f "${5:-}" \
        '{flowSetName: $n, flowType: $t} +
         (if $f == "" then {} else {flow: ($f | fromjson)} end)')"
}
set_create() {
    ev "$1" provflow.provisioningFlowSet.create \
        "$(jq -nc --arg n "$2" '{flowSet: {displayName: $n}}')"
}
# outcomes FILE: [[requestId, type, status], ...] of the last send.
outcomes() { jq -c '[.[] | [.data.requestId, .type, .data.status]]' "$1"; }
stat() { sim_get /_sim/stats | jq -r "$1"; }

sim_start --explicit-flow-sets --page-size 2

group "1. a set by name, a flow by set name and type, through its life"
{
    for other in "Decoy A" "$NAME " "Decoy B"; do
        set_create "other-$other" "$other"
    done
} >"$TMP/others.ndjson"
pf_send "$TMP/others.ndjson"
assert_rc "the other sets: exit 0" 0
{
    set_create l-set "$NAME"
    flow l-create provflow.provisioningFlow.create "$NAME" securityGroup \
        '{"creationOptions":{"createBasedOnRoleGroup":true,"createBasedOnOrgPlusRoleGroup":false}}'
    flow l-update provflow.provisioningFlow.update "$NAME" securityGroup \
        '{"creationOptions":{"createBasedOnRoleGroup":false,"createBasedOnOrgPlusRoleGroup":true}}'
    flow l-reset provflow.provisioningFlow.reset "$NAME" securityGroup
    flow l-delete provflow.provisioningFlow.delete "$NAME" securityGroup
    flow l-delete-again provflow.provisioningFlow.delete "$NAME" securityGroup
    flow l-delete-nowhere provflow.provisioningFlow.delete "Nowhere" user
    flow l-reset-nowhere provflow.provisioningFlow.reset "Nowhere" user
    flow l-create-nowhere provflow.provisioningFlow.create "Nowhere" securityGroup \
        '{"creationOptions":{"createBasedOnRoleGroup":true,"createBasedOnOrgPlusRoleGroup":false}}'
} >"$TMP/life.ndjson"
pf_send "$TMP/life.ndjson"
assert_rc "one failed event: exit 65" 65
assert_jq "each event's outcome, in order of its key" "$PF_OUTCOMES" \
    '[.[] | [.data.requestId, .type, .data.status]] | sort' \
    "$(jq -nc '[["l-create","provflow.provisioningFlow.created","created"],
                ["l-create-nowhere","provflow.provisioningFlow.failed","failed"],
                ["l-delete","provflow.provisioningFlow.deleted","deleted"],
                ["l-delete-again","provflow.provisioningFlow.absent","absent"],
                ["l-delete-nowhere","provflow.provisioningFlow.absent","absent"],
                ["l-reset","provflow.provisioningFlow.reset","reset"],
                ["l-reset-nowhere","provflow.provisioningFlow.absent","absent"],
                ["l-set","provflow.provisioningFlowSet.created","created"],
                ["l-update","provflow.provisioningFlow.updated","updated"]]')"
assert_jq "the events of one set in their order" "$PF_OUTCOMES" \
    '[.[] | .data.requestId | select(startswith("l-") and (test("nowhere") | not))]' \
    '["l-set","l-create","l-update","l-reset","l-delete","l-delete-again"]'
SET_ID=$(sim_get /_sim/flows | jq -r --arg n "$NAME" \
    '[.flowSets[] | select(.set.displayName == $n) | .id] | join(" ")')
assert_jq "the set's outcome: its new id, its name" "$PF_OUTCOMES" \
    '[.[] | select(.data.requestId == "l-set") | [.data.flowSetId, .subject, .data.flowSet.displayName]]' \
    "$(jq -nc --arg i "$SET_ID" --arg n "$NAME" '[[$i, $i, $n]]')"
assert_jq "the flows' outcomes name the resolved set" "$PF_OUTCOMES" \
    '[.[] | select(.data.requestId | test("^l-(create|update|reset|delete)$")) | .data.flowSetId] | unique' \
    "$(jq -nc --arg i "$SET_ID" '[$i]')"
assert_jq "update, reset and delete name the created flow" "$PF_OUTCOMES" \
    '[.[] | select(.data.requestId | test("^l-(create|update|reset|delete)$")) | .subject] | unique | length' 1
assert_jq "absent says why" "$PF_OUTCOMES" \
    '[.[] | select(.data.status == "absent") | .data.warning] | sort' \
    '["no flow set of that name","no flow set of that name","the set has no flow of this type"]'
assert_jq "a set of no such name fails a create: rejected, its reason" \
    "$PF_OUTCOMES" \
    '[.[] | select(.data.requestId == "l-create-nowhere") | .data.error | [.code, .message]]' \
    '[["rejected","no flow set named \"Nowhere\""]]'
assert_eq "flowSetsCreated 4" 4 "$(stat .flowSetsCreated)"
assert_eq "flowsUpdated 1" 1 "$(stat .flowsUpdated)"
assert_eq "flowsReset 1" 1 "$(stat .flowsReset)"
assert_eq "flowsDeleted 1" 1 "$(stat .flowsDeleted)"

group "2. the set's create again: exists, no second set"
set_create l-set "$NAME" >"$TMP/again.ndjson"
pf_send "$TMP/again.ndjson"
assert_rc "exit 0" 0
assert_eq "exists" '[["l-set","provflow.provisioningFlowSet.exists","exists"]]' \
    "$(outcomes "$PF_OUTCOMES")"
assert_jq "the set found is the one created" "$PF_OUTCOMES" '.[0].data.flowSetId' \
    "\"$SET_ID\""
assert_eq "flowSetsCreated still 4" 4 "$(stat .flowSetsCreated)"

group "3. a run start, then the same event again: one run"
ev l-run provflow.industryDataRun.start '{}' "$T0" >"$TMP/run.ndjson"
pf_send "$TMP/run.ndjson"
assert_rc "exit 0" 0
assert_eq "started" '[["l-run","provflow.industryDataRun.started","started"]]' \
    "$(outcomes "$PF_OUTCOMES")"
assert_jq "its operation's URL" "$PF_OUTCOMES" \
    '.[0].data.operationUrl | test("/beta/external/industryData/operations/[0-9a-f-]{36}$")' true
pf_send "$TMP/run.ndjson"
assert_rc "again: exit 0" 0
assert_eq "again: exists" '[["l-run","provflow.industryDataRun.exists","exists"]]' \
    "$(outcomes "$PF_OUTCOMES")"
assert_jq "again: the run found is the simulator's" "$PF_OUTCOMES" \
    '[.[0].data.run.id]' "$(sim_get /_sim/runs | jq -c '[.runs[].id]')"
assert_eq "runsStarted 1" 1 "$(stat .runsStarted)"

lib_finish
