#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2119 source-path=SCRIPTDIR  # jq programs in single quotes; sim_start takes options
# send_seed.sh PROVFLOW GRAPHSIM [http|https]
#
# Case 1: the seed's four events (tests/data/seed/events.ndjson) are
# created: four `created` outcomes in event order, each carrying Graph's
# flow and its id as subject, Graph's request-id and the deterministic
# client-request-id; the simulator (strict about property names) received
# the CSDL spelling. Over https, also: provflow refuses a server whose CA
# it was not given.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lib_init "$@"

ids=(seed-1-admin-unit seed-2-class-group seed-3-security-group seed-4-user)
types=(administrativeUnit classGroup securityGroup user)
mapfile -t crids < <(uuid5 "${ids[@]}")
set_guid=9ab41255-5364-4c53-e15c-08dc4ab6ee03

group "case 1: the seed's four events are created"
sim_start
pf_send "$SEED_EVENTS"
sim_save seed
assert_rc "send exits 0" 0
assert_jq "four outcomes, all created, in event order" "$PF_OUTCOMES" \
    '[.[] | [.type, .data.status, .data.requestId]]' \
    "$(jq -nc --args '[$ARGS.positional[] |
        ["provflow.provisioningFlow.created", "created", .]]' "${ids[@]}")"
for i in 0 1 2 3; do
    id=${ids[$i]}
    o=$TMP/outcome-$i.json
    jq ".[] | select(.data.requestId == \"$id\")" "$PF_OUTCOMES" >"$o"
    [ -s "$o" ] || echo null >"$o"
    assert_jq "$id: subject is Graph's flow id" "$o" \
        '.subject != null and .subject == .data.flow.id' true
    assert_jq "$id: flowSetId, flowType" "$o" \
        '[.data.flowSetId, .data.flowType]' "[\"$set_guid\",\"${types[$i]}\"]"
    assert_jq "$id: graph.clientRequestId is uuid5(namespace, event id)" \
        "$o" .data.graph.clientRequestId "\"${crids[$i]}\""
    assert_jq "$id: graph.httpStatus 201, one attempt" "$o" \
        '[.data.graph.httpStatus, .data.graph.attempts]' '[201,1]'
    sim_req=$(jq -c --arg c "${crids[$i]}" '[.requests[] |
        select(.clientRequestId == $c and .method == "POST")]' "$REQS")
    assert_eq "$id: the simulator saw one POST with that client-request-id" \
        1 "$(jq length <<<"$sim_req")"
    assert_jq "$id: graph.requestId is the simulator's request-id" "$o" \
        .data.graph.requestId "$(jq -c '.[0].requestId' <<<"$sim_req")"
    assert_jq "$id: the flow is stored under that id" "$FLOWS" \
        '[.flowSets[].flows[] | select(.id == $f) | ."@odata.type"]' \
        "[\"#microsoft.graph.industryData.${types[$i]}ProvisioningFlow\"]" \
        --arg f "$(jq -r .subject "$o")"
done
assert_jq "the user flow's passwords are masked in its outcome" \
    "$PF_OUTCOMES" '[.[] | select(.data.flowType == "user") |
        .data.flow.creationOptions.configurations[].defaultPasswordSettings.password]' \
    '["***","***"]'
assert_jq "requests went to the lower-case outboundProvisioningFlowSets path" \
    "$REQS" '[.requests[] | select(.method == "POST" and
        (.path | startswith("/beta/"))) | .path] | unique' \
    "[\"/beta/external/industryData/outboundProvisioningFlowSets/$set_guid/provisioningFlows\"]"
assert_jq "no non-canonical path, no rejected body, one token" "$STATS" \
    '[.nonCanonicalPaths, .byStatus["400"], .flowsCreated, .tokensIssued]' \
    '[0,null,4,1]'
# The simulator answers 400 to a property name not in CSDL spelling (it
# runs with --strict-casing); the stored flows show what it received.
assert_jq "CSDL names received (createBasedOnOrgPlusRoleGroup, ...)" "$FLOWS" \
    '[.flowSets[].flows[] | .. | objects | keys[]] |
        (index("createBasedOnOrgPlusRoleGroup") != null) and
        (index("createBasedOnRoleGroup") != null)' true
assert_absent "no seed spelling (createBasedOnOrgPlusroleGroup) reached Graph" \
    createBasedOnOrgPlusroleGroup "$FLOWS"
assert_absent "no seed spelling (createBasedOnroleGroup) reached Graph" \
    createBasedOnroleGroup "$FLOWS"
assert_absent "role code sent in Graph's casing (no paraProfessional)" \
    paraProfessional "$FLOWS"
assert_jq "seed-4's tenantid was served by the one credential" "$REQS" \
    '[.requests[] | select(.path | endswith("/oauth2/v2.0/token")) |
        [.path, .status]]' '[["/test-tenant/oauth2/v2.0/token",200]]'
sim_stop

if [ "$PF_SCHEME" = https ]; then
    group "https: a server certificate from an untrusted CA is refused"
    sim_start
    PF_TRUST_CA=no
    pf_send "$SEED_EVENTS"
    PF_TRUST_CA=yes
    sim_save untrusted
    assert_rc "send stops: Graph unreachable" 69
    assert_grep "stderr names the certificate problem" \
        'certificate|tls_verify' "$PF_ERR"
    assert_jq "no outcome printed" "$PF_OUTCOMES" length 0
    assert_jq "nothing reached the simulator" "$STATS" '.requests' 0
    sim_stop
fi

lib_finish
