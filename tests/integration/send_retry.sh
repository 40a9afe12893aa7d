#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2119 source-path=SCRIPTDIR  # jq programs in single quotes; sim_start takes options
# send_retry.sh PROVFLOW GRAPHSIM [http|https]
#
# Case 2: a 429 with Retry-After: 2 is honoured (the request reaches
#         Graph again no earlier than 2 s after the 429), then the flow is
#         created; the throttled try spent no attempt.
# Case 3: 503 (with Retry-After: 1: a throttle), 504, 500 and a dropped
#         connection (nothing applied) are retried, then the flow is
#         created once; every POST but the throttled one is an attempt.
# Case 8: a connection dropped after Graph applied the request: provflow
#         finds the flow it created and reports `exists`; no duplicate.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lib_init "$@"

# The POSTs and GETs of one request (by client-request-id), in log order,
# with their start and end in seconds since the epoch.
requests_of() {
    jq -c --arg c "$2" "$JQ_TIME"'[.requests[] | select(.clientRequestId == $c)
        | {seq, method, status, fault, start: t_start, end: t_end}]' "$1"
}

group "case 2: 429 with Retry-After: 2"
sim_start
sim_put /_sim/faults '{"createFlow": {"sequence": ["429"], "retryAfter": 2}}'
event retry-429 "$(set_id 1)" >"$TMP/429.ndjson"
pf_send "$TMP/429.ndjson"
sim_save c2
crid=$(uuid5 retry-429)
log=$(requests_of "$REQS" "$crid")
assert_rc "send exits 0" 0
assert_jq "created in one attempt (throttling spends none)" "$PF_OUTCOMES" \
    '[.[] | [.data.status, .data.graph.attempts, .data.graph.httpStatus]]' \
    '[["created",1,201]]'
assert_eq "the simulator saw a 429, then a 201, for that request" \
    '[[429,"429"],[201,null]]' \
    "$(jq -c '[.[] | select(.method == "POST") | [.status, .fault]]' <<<"$log")"
gap=$(jq -r '(.[1].start - .[0].end) * 1000 | floor' <<<"$log") || gap=error
assert_cmp "next attempt no earlier than Retry-After (ms after the 429)" \
    "$gap" -ge 2000
assert_cmp "... and not much later (ms after the 429)" "$gap" -lt 4000
assert_jq "graph.requestId is that of the 201" "$PF_OUTCOMES" \
    '.[0].data.graph.requestId' \
    "$(jq -c --arg c "$crid" '[.requests[] | select(.clientRequestId == $c
        and .status == 201)][0].requestId' "$REQS")"
sim_stop

group "case 3: 503, 504, 500 and a dropped connection are retried"
sim_start
sim_put /_sim/faults '{"createFlow": {"sequence": ["503", "504", "500", "drop"],
    "retryAfter503": 1}}'
event retry-5xx "$(set_id 2)" >"$TMP/5xx.ndjson"
pf_send --max-attempts 8 "$TMP/5xx.ndjson"
sim_save c3
crid=$(uuid5 retry-5xx)
log=$(requests_of "$REQS" "$crid")
assert_rc "send exits 0" 0
assert_jq "created" "$PF_OUTCOMES" '[.[] | [.data.status, .type]]' \
    '[["created","provflow.provisioningFlow.created"]]'
assert_cmp "graph.attempts > 1" \
    "$(jq '.[0].data.graph.attempts // 0' "$PF_OUTCOMES")" -gt 1
assert_eq "POSTs of that request: 503, 504, 500, dropped, 201" \
    '[503,504,500,0,201]' \
    "$(jq -c '[.[] | select(.method == "POST") | .status]' <<<"$log")"
assert_eq "graph.attempts counts every POST Graph received but the throttled" \
    "$(jq '[.[] | select(.method == "POST" and .status != 503)] | length' <<<"$log")" \
    "$(jq '.[0].data.graph.attempts' "$PF_OUTCOMES")"
gap=$(jq -r '(map(select(.status == 503))[0]) as $f |
    (map(select(.seq > $f.seq))[0].start - $f.end) * 1000 | floor' <<<"$log") ||
    gap=error
assert_cmp "the 503's Retry-After: 1 is honoured (ms)" "$gap" -ge 1000
assert_jq "one flow created, no duplicate" "$STATS" \
    '[.flowsCreated, .duplicatesCreated]' '[1,0]'
assert_jq "the outcome's flow is the stored one" "$FLOWS" \
    '[.flowSets[].flows[].id]' "$(jq -c '[.[0].subject]' "$PF_OUTCOMES")"
sim_stop

group "case 8: connection dropped after the create was applied"
sim_start
sim_put /_sim/faults '{"createFlow": {"sequence": ["dropAfterApply"]}}'
event retry-applied "$(set_id 3)" >"$TMP/applied.ndjson"
pf_send "$TMP/applied.ndjson"
sim_save c8
crid=$(uuid5 retry-applied)
log=$(requests_of "$REQS" "$crid")
assert_rc "send exits 0" 0
assert_jq "the outcome is exists" "$PF_OUTCOMES" \
    '[.[] | [.type, .data.status]]' \
    '[["provflow.provisioningFlow.exists","exists"]]'
assert_jq "the simulator created no duplicate" "$STATS" \
    '[.flowsCreated, .duplicatesCreated]' '[1,0]'
assert_jq "the outcome carries the flow Graph created (subject, flow.id)" \
    "$PF_OUTCOMES" '[.[0].subject, .[0].data.flow.id]' \
    "$(jq -c '[.flowSets[].flows[].id] | [.[0], .[0]]' "$FLOWS")"
assert_eq "after the drop, provflow listed the set's flows" \
    '["POST:0","GET:200"]' \
    "$(jq -c '[.[] | "\(.method):\(.status)"] | .[0:2]' <<<"$log")"
sim_stop

lib_finish
