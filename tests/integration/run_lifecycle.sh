#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq programs in single quotes
# provflow run, the outbound-provisioning lifecycle (issue 15, the event
# types of docs/events.md) on the real broker and the simulator with
# explicit flow sets (an unknown set is 404, as Graph) and lists paged by
# two (a name is resolved over several pages):
#
# 1. Onboarding on one key: the flow set created by displayName, the
#    seed's four flows created by flowSetName, a run started: outcomes
#    created x5 then started, in the input's order, on one partition; the
#    simulator holds one set of that name with its four flows and counts
#    one run. Three other sets, one named like it but for a trailing
#    space, are listed before it and left alone.
# 2. A replay of the whole batch (provflow replay --to-earliest
#    --execute, provflow started again): exists for the set and the four
#    flows and for the run (a run that started after the event's time is
#    listed); the simulator counts no second set, flow or run.
# 3. Update, delete, reset on the same key: the user flow updated (its
#    PATCH stored), the class-group flow deleted, deleted again and
#    updated after it: absent both times; the security-group flow reset.
. "$(dirname "$0")/run_lib.sh"
. "$(dirname "$0")/lifecycle_lib.sh"
run_init "$@"

NAME="District $RUN_ID"
KEY="district-$RUN_ID"
run_topics lifecycle 3
# --explicit-flow-sets after sim_start's --implicit-flow-sets: as Graph.
sim_start --explicit-flow-sets --page-size 2 --request-log 10000

group "flow sets before provflow"
for other in "Decoy A" "$NAME " "Decoy B"; do
    lc_graph POST "$SETS" "$(jq -nc --arg n "$other" '{displayName: $n}')" >/dev/null
done
assert_eq "three sets the test made" 3 "$(lc_stat .flowSetsCreated)"

# --- 1. onboarding --------------------------------------------------------
lc_onboard "$TMP/onboard.ndjson" "$NAME" on
lc_produce "$KEY" "$TMP/onboard.ndjson"
pf_run lc

group "onboarding: a set, four flows, a run, in order"
if lc_wait_outcomes 6 60; then
    pass "six outcome records"
else
    fail "six outcome records" "$(pf_log_show lc)"
fi
lc_outcomes "$TMP/o1.json"
assert_jq "on one partition" "$TMP/o1.json" '[.[].p] | unique | length' 1
assert_jq "types in the input's order" "$TMP/o1.json" '[.[].type]' \
    '["provflow.provisioningFlowSet.created","provflow.provisioningFlow.created","provflow.provisioningFlow.created","provflow.provisioningFlow.created","provflow.provisioningFlow.created","provflow.industryDataRun.started"]'
assert_jq "request ids in the input's order" "$TMP/o1.json" \
    '[.[].data.requestId]' "$(jq -sc '[.[].id]' "$TMP/onboard.ndjson")"
SET_ID=$(lc_set_id "$NAME")
assert_jq "the set's outcome carries its new id and name" "$TMP/o1.json" \
    '.[0].data | [.flowSetId, .flowSet.displayName]' \
    "$(jq -nc --arg i "$SET_ID" --arg n "$NAME" '[$i, $n]')"
assert_jq "each flow's outcome: the resolved set id, its flow type" "$TMP/o1.json" \
    '[.[1:5][].data | [.flowSetId, .flowType]]' \
    "$(jq -nc --arg i "$SET_ID" '[[$i,"administrativeUnit"],[$i,"classGroup"],[$i,"securityGroup"],[$i,"user"]]')"
assert_jq "the run's outcome carries its operation's URL" "$TMP/o1.json" \
    '.[5].data.operationUrl | test("/beta/external/industryData/operations/[0-9a-f-]{36}$")' true
topic_dump "$DLQ" "$TMP/dlq1.dump"
assert_eq "no dead letter" 0 "$(records_in "$TMP/dlq1.dump")"
sim_get /_sim/flows >"$TMP/flows1.json"
assert_jq "one set named $NAME, holding the four flows" "$TMP/flows1.json" \
    '[.flowSets[] | select(.set.displayName == $n) | .countsByType | with_entries(.key |= sub("ProvisioningFlow$"; ""))]' \
    '[{"administrativeUnit":1,"classGroup":1,"securityGroup":1,"user":1}]' --arg n "$NAME"
assert_jq "the sets the test made hold nothing" "$TMP/flows1.json" \
    '[.flowSets[] | select(.set.displayName != $n) | .flows | length]' '[0,0,0]' \
    --arg n "$NAME"
assert_eq "flowSetsCreated: 3 + 1" 4 "$(lc_stat .flowSetsCreated)"
assert_eq "flowsCreated 4" 4 "$(lc_stat .flowsCreated)"
assert_eq "runsStarted 1" 1 "$(lc_stat .runsStarted)"
# Graph saw them in order: the set's create before any flow's, the run last.
sim_get /_sim/requests >"$TMP/req1.json"
assert_jq "Graph's writes in order: set, four flows, run" "$TMP/req1.json" \
    '[.requests[] | select(.method == "POST" and .status >= 200 and .status < 300 and (.path | test("token") | not)) | .path | sub(".*/"; "")] | .[3:]' \
    '["outboundProvisioningFlowSets","provisioningFlows","provisioningFlows","provisioningFlows","provisioningFlows","start"]'

# --- 2. a replay of the whole batch ----------------------------------------
group "replay of the batch: exists, nothing twice"
pf_stop lc TERM 30
assert_eq "exit 0 after SIGTERM" 0 "$PF_STOP_RC"
timeout 60 "$PF_BIN" replay --brokers "$RUN_BROKERS" --group-id "$GROUP" \
    --input-topic "$IN" --results-topic "$OUT" --dead-letter-topic "$DLQ" \
    --to-earliest --execute >"$TMP/replay.out" 2>"$TMP/replay.err" &&
    pass "provflow replay --to-earliest --execute" ||
    fail "provflow replay --to-earliest --execute" "$(cat "$TMP/replay.err")"
pf_run lc
if lc_wait_outcomes 12 60; then
    pass "six more outcome records"
else
    fail "six more outcome records" "$(pf_log_show lc)"
fi
lc_outcomes "$TMP/o2.json"
assert_jq "the replay's outcomes: exists for each, in order" "$TMP/o2.json" \
    '[.[6:][] | [.type, .data.status]]' \
    '[["provflow.provisioningFlowSet.exists","exists"],["provflow.provisioningFlow.exists","exists"],["provflow.provisioningFlow.exists","exists"],["provflow.provisioningFlow.exists","exists"],["provflow.provisioningFlow.exists","exists"],["provflow.industryDataRun.exists","exists"]]'
assert_jq "the flows' exists name the flows created first" "$TMP/o2.json" \
    '([.[1:5][].subject] | map(. != null) | all) and
     [.[1:5][].subject] == [.[7:11][].subject]' true
assert_eq "flowSetsCreated still 4" 4 "$(lc_stat .flowSetsCreated)"
assert_eq "flowsCreated still 4" 4 "$(lc_stat .flowsCreated)"
assert_eq "duplicatesCreated 0" 0 "$(lc_stat .duplicatesCreated)"
assert_eq "runsStarted still 1" 1 "$(lc_stat .runsStarted)"
assert_eq "one set named $NAME" 1 "$(lc_set_id "$NAME" | wc -w)"

# --- 3. update, delete, reset -----------------------------------------------
group "update, delete (twice), update of a deleted flow, reset"
: >"$TMP/change.ndjson"
lc_flow_event "$TMP/change.ndjson" ch-update provflow.provisioningFlow.update \
    "$NAME" user '{"managementOptions":{"additionalOptions":{"studentAgeGroup":"adult"}}}'
lc_flow_event "$TMP/change.ndjson" ch-delete provflow.provisioningFlow.delete "$NAME" classGroup
lc_flow_event "$TMP/change.ndjson" ch-delete-again provflow.provisioningFlow.delete "$NAME" classGroup
lc_flow_event "$TMP/change.ndjson" ch-update-gone provflow.provisioningFlow.update \
    "$NAME" classGroup '{"configuration":{"additionalOptions":{"createTeam":false,"writeDisplayNameOnCreateOnly":true},"enrollmentMappings":{"ownerEnrollmentMappings":["teacher"]}}}'
lc_flow_event "$TMP/change.ndjson" ch-reset provflow.provisioningFlow.reset "$NAME" securityGroup
lc_produce "$KEY" "$TMP/change.ndjson"
if lc_wait_outcomes 17 60; then
    pass "five more outcome records"
else
    fail "five more outcome records" "$(pf_log_show lc)"
fi
lc_outcomes "$TMP/o3.json"
assert_jq "updated, deleted, absent, absent, reset" "$TMP/o3.json" \
    '[.[12:][] | [.data.requestId, .type, .data.status]]' \
    '[["ch-update","provflow.provisioningFlow.updated","updated"],["ch-delete","provflow.provisioningFlow.deleted","deleted"],["ch-delete-again","provflow.provisioningFlow.absent","absent"],["ch-update-gone","provflow.provisioningFlow.absent","absent"],["ch-reset","provflow.provisioningFlow.reset","reset"]]'
sim_get /_sim/flows >"$TMP/flows3.json"
assert_jq "the set holds three flows now" "$TMP/flows3.json" \
    '[.flowSets[] | select(.set.displayName == $n) | .countsByType | with_entries(.key |= sub("ProvisioningFlow$"; ""))]' \
    '[{"administrativeUnit":1,"classGroup":0,"securityGroup":1,"user":1}]' --arg n "$NAME"
assert_jq "the user flow's PATCH is stored" "$TMP/flows3.json" \
    '[.flowSets[] | select(.set.displayName == $n) | .flows[] | select(."@odata.type" | endswith("userProvisioningFlow")) | .managementOptions.additionalOptions.studentAgeGroup]' \
    '["adult"]' --arg n "$NAME"
assert_jq "the security-group flow reset once" "$TMP/flows3.json" \
    '[.flowSets[] | select(.set.displayName == $n) | .applied[] | select(.flowType == "securityGroupProvisioningFlow") | .resets]' \
    '[1]' --arg n "$NAME"
assert_eq "flowsUpdated 1" 1 "$(lc_stat .flowsUpdated)"
assert_eq "flowsDeleted 1" 1 "$(lc_stat .flowsDeleted)"
assert_eq "flowsReset 1" 1 "$(lc_stat .flowsReset)"
assert_eq "runsStarted still 1" 1 "$(lc_stat .runsStarted)"
topic_dump "$DLQ" "$TMP/dlq3.dump"
assert_eq "no dead letter: absent is not a failure" 0 "$(records_in "$TMP/dlq3.dump")"
assert_group_at_end 60

group "SIGTERM"
pf_stop lc TERM 30
assert_eq "exit 0 after SIGTERM" 0 "$PF_STOP_RC"
lib_finish
