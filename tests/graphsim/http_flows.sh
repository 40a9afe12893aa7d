#!/usr/bin/env bash
# The industryData endpoints over HTTP: the seed's four bodies get Graph's
# 201 responses; list, get, delete; flow sets; bearer checks; validation
# errors naming the property; duplicates; introspection and reset; the
# seed's bodies exactly as the page writes them (default, lenient casing)
# and --strict-casing.
. "$(dirname "$0")/lib.sh"

start_sim flows --implicit-flow-sets
TOK=$(token)
CRID=0f8fad5b-d9cb-469f-a165-70867728950e
seeds=(admin-unit class-group security-group user)
DATE_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{7}Z$'
CTX_ENTITY="$URL/beta/\$metadata#external/industryData/outboundProvisioningFlowSets('$SET')/provisioningFlows/\$entity"

# Graph's response minus what differs per call must equal the seed's.
same_as_seed() {
    local want got
    want=$(jq -S 'del(."@odata.context", .id, .createdDateTime, .lastModifiedDateTime)' \
        "$DATA/seed-$1.response.json")
    got=$(jq -S 'del(."@odata.context", .id, .createdDateTime, .lastModifiedDateTime)' "$BODY")
    [ "$want" = "$got" ] || fail "$1: response differs from the seed's:
$(diff <(echo "$want") <(echo "$got"))"
    ok
}

# --- the seed's four bodies, as provflow sends them (CSDL casing)
ids=()
for s in "${seeds[@]}"; do
    create "$TOK" "$SET" "$DATA/seed-$s.json" -H "client-request-id: $CRID"
    expect_status 201 "$s"
    same_as_seed "$s"
    expect_jq '."@odata.context"' "$CTX_ENTITY"
    expect_jq ".id | test(\"$GUID_RE\")" true
    expect_jq ".createdDateTime | test(\"$DATE_RE\")" true
    expect_jq '.createdDateTime == .lastModifiedDateTime' true
    expect_jq .readinessStatus notReady
    expect_jq 'keys_unsorted[0:6] | join(",")' \
        "@odata.context,@odata.type,id,createdDateTime,lastModifiedDateTime,readinessStatus"
    expect_header request-id "$GUID_RE"
    expect_header client-request-id "^$CRID\$"
    expect_header Content-Type '^application/json;odata.metadata=minimal'
    ids+=("$(jq -r .id "$BODY")")
done
# a flow set key that is not a GUID
create "$TOK" "$SET-x" "$DATA/seed-user.json"
expect_graph_error 400 BadRequest
[ "$(stats .duplicatesCreated)" = 0 ] || fail "duplicates after the seed"
ok

# --- list, get, delete
graph GET "$SETS_PATH/$SET/provisioningFlows" "$TOK"
expect_status 200 list
expect_jq '.value | length' 4
expect_jq '[.value[]."@odata.type"] | map(split(".")[-1]) | join(",")' \
    "administrativeUnitProvisioningFlow,classGroupProvisioningFlow,securityGroupProvisioningFlow,userProvisioningFlow"
expect_jq '."@odata.context" | endswith("/provisioningFlows")' true
expect_jq '[.value[].creationOptions.configurations[]?.defaultPasswordSettings.password] | unique | join(",")' \
    "***************"
graph GET "$SETS_PATH/$SET/provisioningFlows/${ids[1]}" "$TOK"
expect_status 200 get
expect_jq .id "${ids[1]}"
expect_jq '."@odata.context"' "$CTX_ENTITY"
same_as_seed class-group
graph DELETE "$SETS_PATH/$SET/provisioningFlows/${ids[1]}" "$TOK"
expect_status 204 delete
[ ! -s "$BODY" ] || fail "204 with a body"
ok
graph GET "$SETS_PATH/$SET/provisioningFlows/${ids[1]}" "$TOK"
expect_graph_error 404 ResourceNotFound
graph DELETE "$SETS_PATH/$SET/provisioningFlows/${ids[1]}" "$TOK"
expect_graph_error 404 ResourceNotFound
graph GET "$SETS_PATH/$SET/provisioningFlows" "$TOK"
expect_jq '.value | length' 3
# a set nobody used lists empty (flow sets exist on first use)
graph GET "$SETS_PATH/11111111-2222-4333-8444-555555555555/provisioningFlows" "$TOK"
expect_status 200 "unused set"
expect_jq '.value | length' 0
graph PUT "$SETS_PATH/$SET/provisioningFlows/${ids[0]}" "$TOK" \
    -H 'Content-Type: application/json' -d '{}'
expect_graph_error 405 MethodNotAllowed
graph GET "/beta/external/industryData/referenceDefinitions" "$TOK"
expect_graph_error 400 BadRequest
# the seed's capitalised path segment resolves, and is counted
call POST "$URL/beta/external/industryData/OutboundProvisioningFlowSets/22222222-2222-4333-8444-555555555555/provisioningFlows" \
    -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
    --data-binary "@$DATA/seed-admin-unit.json"
expect_status 201 "capitalised path"
[ "$(stats .nonCanonicalPaths)" = 1 ] || fail "nonCanonicalPaths"
ok

# --- duplicates: accepted and counted by default
create "$TOK" "$SET" "$DATA/seed-admin-unit.json"
expect_status 201 "a second admin unit flow"
[ "$(stats .duplicatesCreated)" = 1 ] || fail "one duplicate expected"
ok
create "$TOK" "$SET" "$DATA/seed-class-group.json"
expect_status 201 "class group again after its delete"
[ "$(stats .duplicatesCreated)" = 1 ] || fail "a re-create after delete is no duplicate"
ok

# --- bearer checks
call GET "$URL$SETS_PATH"
expect_graph_error 401 InvalidAuthenticationToken
expect_header WWW-Authenticate '^Bearer '
graph GET "$SETS_PATH" "not-a-token"
expect_graph_error 401 InvalidAuthenticationToken
graph GET "$SETS_PATH" ""
expect_graph_error 401 InvalidAuthenticationToken
OLD=$(token)
curl -sf -X POST "$URL/_sim/tokens/expire" >/dev/null
graph GET "$SETS_PATH" "$OLD"
expect_graph_error 401 InvalidAuthenticationToken
expect_jq '.error.message | contains("expired")' true
TOK=$(token)
graph GET "$SETS_PATH" "$TOK"
expect_status 200 "fresh token"
curl -sf -X POST "$URL/_sim/tokens/revoke" >/dev/null
graph GET "$SETS_PATH" "$TOK"
expect_graph_error 401 InvalidAuthenticationToken
TOK=$(token)

# --- request errors
graph POST "$SETS_PATH/$SET/provisioningFlows" "$TOK" -H 'Content-Type: text/plain' \
    --data-binary "@$DATA/seed-admin-unit.json"
expect_graph_error 415 UnsupportedMediaType
graph POST "$SETS_PATH/$SET/provisioningFlows" "$TOK" -H 'Content-Type: application/json' \
    -d '{"@odata.type": '
expect_graph_error 400 BadRequest
expect_jq '.error.message | contains("Unable to read JSON")' true
graph POST "$SETS_PATH/$SET/provisioningFlows" "$TOK" -H 'Content-Type: application/json' \
    -d "$(printf '%.0s[' $(seq 40))"
expect_graph_error 400 BadRequest
head -c 1100000 /dev/zero | tr '\0' ' ' >"$TMP/big.json"
graph POST "$SETS_PATH/$SET/provisioningFlows" "$TOK" -H 'Content-Type: application/json' \
    --data-binary "@$TMP/big.json"
expect_graph_error 413 RequestEntityTooLarge

# --- validation over HTTP: the property is named in message and target
# reject NAME FILE TARGET [PROPERTY]: a variant of a seed body is refused
# with TARGET as the error's target and PROPERTY (default: TARGET's last
# segment) quoted in its message.
reject() {
    local prop=${4:-$(echo "$3" | sed 's/.*\.//; s/\[[0-9]*\]$//')}
    create "$TOK" "$SET" "$2"
    expect_graph_error 400 BadRequest
    expect_jq .error.target "$3"
    expect_jq ".error.message | contains(\"'$prop'\")" true
}
variant() { jq "$2" "$DATA/seed-$1.json" >"$TMP/v.json" && echo "$TMP/v.json"; }
reject au "$(variant admin-unit '.creationOptions.createBasedOnOrgPlus = true')" \
    creationOptions.createBasedOnOrgPlus
reject au "$(variant admin-unit 'del(.creationOptions.createBasedOnOrg)')" \
    creationOptions.createBasedOnOrg
reject au "$(variant admin-unit '.id = "x"')" id
reject au "$(variant admin-unit '.readinessStatus = "ready"')" readinessStatus
reject cg "$(variant class-group '.configuration.additionalOptions.createTeam = "yes"')" \
    configuration.additionalOptions.createTeam
reject cg "$(variant class-group '.configuration.additionalAttributes += ["bogus"]')" \
    'configuration.additionalAttributes[7]'
reject cg "$(variant class-group 'del(.configuration.enrollmentMappings)')" \
    configuration.enrollmentMappings
reject cg "$(variant class-group '.configuration."@odata.type" = "#microsoft.graph.industryData.x"')" \
    configuration.@odata.type configuration
reject sg "$(variant security-group '.creationOptions.createBasedOnRoleGroup = null')" \
    creationOptions.createBasedOnRoleGroup
reject us "$(variant user 'del(.managementOptions)')" managementOptions
reject us "$(variant user '.managementOptions.additionalOptions.studentAgeGroup = "kid"')" \
    managementOptions.additionalOptions.studentAgeGroup
reject us "$(variant user '.creationOptions.configurations[1]."roleGroup@odata.bind" = "students"')" \
    'creationOptions.configurations[1].roleGroup@odata.bind' roleGroup@odata.bind
reject us "$(variant user 'del(.creationOptions.configurations[0].defaultPasswordSettings."@odata.type")')" \
    'creationOptions.configurations[0].defaultPasswordSettings.@odata.type' \
    defaultPasswordSettings
reject us "$(variant user 'del(."@odata.type")')" @odata.type @odata.type

# --- flow sets
graph POST "$SETS_PATH" "$TOK" -H 'Content-Type: application/json' \
    -d '{"displayName":"District 9"}'
expect_status 201 "create flow set"
expect_jq ".id | test(\"$GUID_RE\")" true
expect_jq .displayName "District 9"
expect_jq '."@odata.context" | endswith("outboundProvisioningFlowSets/$entity")' true
NEWSET=$(jq -r .id "$BODY")
graph GET "$SETS_PATH/$NEWSET" "$TOK"
expect_status 200 "get flow set"
expect_jq .displayName "District 9"
graph GET "$SETS_PATH" "$TOK"
expect_jq "[.value[].id] | index(\"$NEWSET\") != null" true
expect_jq "[.value[].id] | index(\"$SET\") != null" true
graph POST "$SETS_PATH" "$TOK" -H 'Content-Type: application/json' -d '{"name":"x"}'
expect_graph_error 400 BadRequest
expect_jq .error.target name
graph GET "$SETS_PATH/33333333-2222-4333-8444-555555555555" "$TOK"
expect_graph_error 404 ResourceNotFound

# --- introspection: requests, stats, flows, reset
call GET "$URL/_sim/requests?limit=3"
expect_status 200 requests
expect_jq '.requests | length' 3
expect_jq '.requests[2].path' "$SETS_PATH/33333333-2222-4333-8444-555555555555"
expect_jq '.requests[2].status' 404
expect_jq '.requests[2].method' GET
expect_jq '.requests[2].tokenId | test("^tok-[0-9]+$")' true
expect_jq '.requests[2].time | length' 28
curl -sf "$URL/_sim/requests" | jq -e --arg c "$CRID" \
    '[.requests[] | select(.clientRequestId == $c)] | length == 4' >/dev/null ||
    fail "client-request-id not in /_sim/requests"
ok
call GET "$URL/_sim/stats"
expect_jq .flowsCreated 7
expect_jq .flowsDeleted 1
expect_jq '.byStatus."201"' 8
expect_jq .tokensIssued 4
call GET "$URL/_sim/flows"
expect_jq .flows 6
expect_jq "[.flowSets[] | select(.id == \"$SET\")][0].countsByType.administrativeUnitProvisioningFlow" 2
call POST "$URL/_sim/reset"
expect_status 200 reset
call GET "$URL/_sim/stats"
expect_jq .requests 0
expect_jq .flows 0
expect_jq .flowSets 0
call GET "$URL/_sim/nothing"
expect_status 404 "unknown control endpoint"
stop_sim

# --- --duplicates reject answers 409 and stores nothing
start_sim reject --implicit-flow-sets --duplicates reject
TOK=$(token)
create "$TOK" "$SET" "$DATA/seed-user.json"
expect_status 201 first
create "$TOK" "$SET" "$DATA/seed-user.json"
expect_graph_error 409 Conflict
expect_jq '.error.message | contains("userProvisioningFlow")' true
[ "$(stats .duplicatesRejected)" = 1 ] && [ "$(stats .duplicatesCreated)" = 0 ] &&
    [ "$(stats .flows)" = 1 ] || fail "reject counters"
ok
stop_sim

# --- the default (as Graph, --explicit-flow-sets): unknown sets are 404;
# created ones work
start_sim explicit
TOK=$(token)
create "$TOK" "$SET" "$DATA/seed-user.json"
expect_graph_error 404 ResourceNotFound
graph GET "$SETS_PATH/$SET/provisioningFlows" "$TOK"
expect_graph_error 404 ResourceNotFound
graph POST "$SETS_PATH" "$TOK" -H 'Content-Type: application/json' -d '{"displayName":"x"}'
NEWSET=$(jq -r .id "$BODY")
for s in "${seeds[@]}"; do
    create "$TOK" "$NEWSET" "$DATA/seed-$s.json"
    expect_status 201 "$s in an explicit set"
done
stop_sim

# --- default casing: the seed's four bodies exactly as the page writes
# them (seed-*.literal.json: byte copies of tests/data/seed/*.request.json,
# with its createBasedOnOrgPlusroleGroup / createBasedOnroleGroup), POSTed
# with curl the way the page shows (its path, its Content-type header) and
# a token from the token endpoint: 201s shaped like the page's responses,
# in CSDL casing.
start_sim literal --implicit-flow-sets
TOK=$(token)
CTX_ENTITY="$URL/beta/\$metadata#external/industryData/outboundProvisioningFlowSets('$SET')/provisioningFlows/\$entity"
PAGE_PATH=/beta/external/industryData/OutboundProvisioningFlowSets/$SET/provisioningFlows
for s in "${seeds[@]}"; do
    call POST "$URL$PAGE_PATH" -H "Authorization: Bearer $TOK" \
        -H 'Content-type: application/json' \
        --data-binary "@$DATA/seed-$s.literal.json"
    expect_status 201 "$s as the page writes it"
    expect_jq ".id | test(\"$GUID_RE\")" true
    expect_jq ".createdDateTime | test(\"$DATE_RE\")" true
    expect_jq ".lastModifiedDateTime | test(\"$DATE_RE\")" true
    expect_jq .readinessStatus notReady
    expect_jq '."@odata.context"' "$CTX_ENTITY"
    expect_jq '."@odata.type"' "$(jq -r '."@odata.type"' "$DATA/seed-$s.literal.json")"
    expect_jq '[.. | objects | keys[] | select(test("rolegroup$"; "i"))]
        | all(. == "createBasedOnOrgPlusRoleGroup" or . == "createBasedOnRoleGroup")' true
    expect_jq '[.. | objects | has("roleGroup@odata.bind")] | any' false
    expect_jq '[.. | objects | .password? // empty] | all(. == "***************")' true
    same_as_seed "$s"
done
expect_jq '[.creationOptions.configurations[].defaultPasswordSettings.password] | length' 2
# kept as Graph echoes them: CSDL names in the store too
curl -sf "$URL/_sim/flows" >"$TMP/flows.json"
jq -e '[.. | objects | keys[]] | (index("createBasedOnOrgPlusroleGroup") == null)
    and (index("createBasedOnroleGroup") == null)
    and (index("createBasedOnOrgPlusRoleGroup") != null)
    and (index("createBasedOnRoleGroup") != null)' "$TMP/flows.json" >/dev/null ||
    fail "the store holds a non-CSDL property name: $(head -c 600 "$TMP/flows.json")"
ok
[ "$(stats .flowsCreated)" = 4 ] || fail "four flows from the page's bodies"
ok
# any letter case is not any name: an unknown property is still a 400
reject au "$(variant admin-unit '.creationOptions.createBasedOnOrgPlus = true')" \
    creationOptions.createBasedOnOrgPlus
reject au "$(variant admin-unit '.creationOptions.CREATEBASEDONORG = true')" \
    creationOptions.CREATEBASEDONORG
stop_sim

# --- --strict-casing: exact CSDL names only; the page's spelling is a 400
# naming the property (and its CSDL name)
start_sim strict --implicit-flow-sets --strict-casing
TOK=$(token)
for s in "${seeds[@]}"; do
    create "$TOK" "$SET" "$DATA/seed-$s.json"
    expect_status 201 "$s in CSDL casing, strict"
    same_as_seed "$s"
done
reject au "$DATA/seed-admin-unit.literal.json" creationOptions.createBasedOnOrgPlusroleGroup
expect_jq '.error.message | contains("'"'createBasedOnOrgPlusRoleGroup'"'")' true
reject sg "$DATA/seed-security-group.literal.json" creationOptions.createBasedOnroleGroup
reject cg "$(variant class-group '.configuration.additionalOptions.CreateTeam = true
    | del(.configuration.additionalOptions.createTeam)')" \
    configuration.additionalOptions.CreateTeam
[ "$(stats .flowsCreated)" = 4 ] && [ "$(stats '.byStatus."400"')" = 3 ] ||
    fail "strict: four created, three refused"
ok
stop_sim

# --- the config file's "strictCasing" does the same
echo '{"strictCasing": true}' >"$TMP/strict.json"
start_sim strict-config --implicit-flow-sets --config "$TMP/strict.json"
TOK=$(token)
reject au "$DATA/seed-admin-unit.literal.json" creationOptions.createBasedOnOrgPlusroleGroup
stop_sim
done_ok
