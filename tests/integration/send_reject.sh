#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2119 source-path=SCRIPTDIR  # jq programs in single quotes; sim_start takes options
# send_reject.sh PROVFLOW GRAPHSIM [http|https]
#
# Case 4: Graph rejections fail the event at once: a `failed` outcome with
# error.code "rejected" and Graph's error (code, message, innerError) in
# graphError, after one attempt; the other events still go through; exit
# 65. Two rejections the simulator offers: an unknown flow set
# (--explicit-flow-sets: 404 ResourceNotFound) and a second flow of one
# type in a set (--duplicates reject: 409 Conflict).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lib_init "$@"

# check_rejected ID STATUS CODE MESSAGE: the outcome of event ID.
check_rejected() {
    local id=$1 status=$2 code=$3 message=$4 crid o sim_req
    crid=$(uuid5 "$id")
    o=$TMP/$id.json
    jq --arg id "$id" '.[] | select(.data.requestId == $id)' \
        "$PF_OUTCOMES" >"$o"
    [ -s "$o" ] || echo null >"$o"
    sim_req=$(jq -c --arg c "$crid" '[.requests[] |
        select(.clientRequestId == $c)]' "$REQS")
    assert_jq "$id: failed outcome" "$o" '[.type, .data.status]' \
        '["provflow.provisioningFlow.failed","failed"]'
    assert_jq "$id: error.code rejected" "$o" .data.error.code '"rejected"'
    assert_jq "$id: graphError has Graph's code and message" "$o" \
        '[.data.error.graphError.code, .data.error.graphError.message]' \
        "$(jq -nc --arg c "$code" --arg m "$message" '[$c, $m]')"
    assert_jq "$id: error.message carries Graph's message" "$o" \
        '.data.error.message | contains($m)' true --arg m "$message"
    assert_jq "$id: graphError.innerError names the request" "$o" \
        '[.data.error.graphError.innerError["request-id"],
          .data.error.graphError.innerError["client-request-id"]]' \
        "$(jq -c --arg c "$crid" '[.[0].requestId, $c]' <<<"$sim_req")"
    assert_jq "$id: graph: status $status, one attempt, Graph's request-id" \
        "$o" '[.data.graph.httpStatus, .data.graph.attempts,
            .data.graph.requestId]' \
        "$(jq -c --argjson s "$status" '[$s, 1, .[0].requestId]' \
            <<<"$sim_req")"
    assert_eq "$id: the simulator saw exactly one request" 1 \
        "$(jq length <<<"$sim_req")"
    assert_jq "$id: no flow in a failed outcome" "$o" '.data | has("flow")' \
        false
}

group "case 4a: unknown flow set (404 ResourceNotFound)"
sim_start --explicit-flow-sets
set1=$(set_id 1)
event reject-404 "$set1" >"$TMP/404.ndjson"
pf_send "$TMP/404.ndjson"
sim_save c4a
assert_rc "send exits 65" 65
assert_jq "one outcome" "$PF_OUTCOMES" length 1
check_rejected reject-404 404 ResourceNotFound \
    "The outboundProvisioningFlowSet '$set1' was not found."
assert_jq "nothing created" "$STATS" .flowsCreated 0
sim_stop

group "case 4b: a second flow of one type in a set (409 Conflict)"
sim_start --duplicates reject
set2=$(set_id 2)
{
    event reject-first "$set2"
    event reject-second "$set2"
    event reject-other-set "$(set_id 3)"
} >"$TMP/409.ndjson"
pf_send "$TMP/409.ndjson"
sim_save c4b
assert_rc "send exits 65" 65
assert_jq "outcomes: created, failed, created" "$PF_OUTCOMES" \
    '[.[] | [.data.requestId, .data.status]] | sort' \
    '[["reject-first","created"],["reject-other-set","created"],["reject-second","failed"]]'
check_rejected reject-second 409 Conflict \
    "The flow set '$set2' already has a securityGroupProvisioningFlow; a flow set holds one flow of each type."
assert_jq "two flows created, the duplicate refused" "$STATS" \
    '[.flowsCreated, .duplicatesCreated, .duplicatesRejected]' '[2,0,1]'
sim_stop

lib_finish
