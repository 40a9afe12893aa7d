#!/usr/bin/env bash
# The outbound-provisioning lifecycle over HTTP, on the default simulator
# (explicit flow sets, as Graph): flow sets created, read, patched and
# deleted; one flow of each type per set; a flow patched (top-level
# properties replace, complex values replace whole, read-only refused),
# reset and deleted; on-demand runs with their long-running operations and
# the sixth run in a window refused; the role groups, expanded in a user
# flow's configurations; the schema's refusals in Graph's error shape; a
# fault on a new endpoint.
. "$(dirname "$0")/lib.sh"

JSON=(-H 'Content-Type: application/json')
IDATA=/beta/external/industryData
# notStarted for the first hour, then running: nothing here waits on time.
cat >"$TMP/config.json" <<'EOF'
{"runs": {"notStartedMs": 3600000, "durationMs": 7200000}}
EOF
# --duplicates reject: Graph's one flow of each type per set (the default,
# accept, counts duplicates for provflow's delivery tests instead).
start_sim lifecycle --duplicates reject --config "$TMP/config.json"
TOK=$(token)

# --- flow sets: create, get, list, patch, unknown
graph POST "$SETS_PATH" "$TOK" "${JSON[@]}" -d '{"displayName":"District A"}'
expect_status 201 "create set"
A=$(jq -r .id "$BODY")
graph POST "$SETS_PATH" "$TOK" "${JSON[@]}" -d '{"filter":{}}'
expect_graph_error 400 BadRequest
expect_jq .error.message "The required property 'displayName' of type 'microsoft.graph.industryData.outboundProvisioningFlowSet' is missing from the payload."
graph GET "$SETS_PATH/$A" "$TOK"
expect_status 200 "get set"
expect_jq .displayName "District A"
CREATED=$(jq -r .createdDateTime "$BODY")
graph GET "$SETS_PATH" "$TOK"
expect_jq '[.value[].id] | join(",")' "$A"
graph PATCH "$SETS_PATH/$A" "$TOK" "${JSON[@]}" \
    -d '{"@odata.type":"#microsoft.graph.industryData.outboundProvisioningFlowSet","displayName":"District B"}'
expect_status 204 "patch set"
[ ! -s "$BODY" ] || fail "204 with a body"
ok
graph GET "$SETS_PATH/$A" "$TOK"
expect_jq .displayName "District B"
expect_jq .createdDateTime "$CREATED"
graph PATCH "$SETS_PATH/$A" "$TOK" "${JSON[@]}" -d '{"displayName":null}'
expect_graph_error 400 BadRequest
expect_jq .error.target displayName
graph PATCH "$SETS_PATH/$A" "$TOK" "${JSON[@]}" -d '{"filter":{}}'
expect_graph_error 400 BadRequest
expect_jq .error.target displayName
graph PATCH "$SETS_PATH/$A" "$TOK" "${JSON[@]}" -d '{"id":"x"}'
expect_graph_error 400 BadRequest
expect_jq '.error.message | contains("read-only")' true
UNKNOWN=11111111-2222-4333-8444-555555555555
for m in GET DELETE; do
    graph "$m" "$SETS_PATH/$UNKNOWN" "$TOK"
    expect_graph_error 404 ResourceNotFound
done
graph PATCH "$SETS_PATH/$UNKNOWN" "$TOK" "${JSON[@]}" -d '{"displayName":"x"}'
expect_graph_error 404 ResourceNotFound

# --- flows need their set: 404 for an unknown one
create "$TOK" "$UNKNOWN" "$DATA/seed-user.json"
expect_graph_error 404 ResourceNotFound
expect_jq '.error.message | contains("outboundProvisioningFlowSet")' true
graph GET "$SETS_PATH/$UNKNOWN/provisioningFlows" "$TOK"
expect_graph_error 404 ResourceNotFound

# --- one flow of each type per set, the four of them mixed in a list
declare -A FLOW
for s in admin-unit class-group security-group user; do
    create "$TOK" "$A" "$DATA/seed-$s.json"
    expect_status 201 "$s"
    FLOW[$s]=$(jq -r .id "$BODY")
done
create "$TOK" "$A" "$DATA/seed-user.json"
expect_graph_error 409 Conflict
expect_jq '.error.message | contains("userProvisioningFlow")' true
graph GET "$SETS_PATH/$A/provisioningFlows" "$TOK"
expect_jq '.value | length' 4
expect_jq '[.value[]."@odata.type" | split(".")[-1]] | sort | join(",")' \
    "administrativeUnitProvisioningFlow,classGroupProvisioningFlow,securityGroupProvisioningFlow,userProvisioningFlow"

# --- a user flow: the create's answer has no roleGroup; GET and list
# expand each configuration's (the seed binds staff, then students)
U=${FLOW[user]}
graph GET "$SETS_PATH/$A/provisioningFlows/$U" "$TOK"
expect_status 200 "get user flow"
expect_jq '[.creationOptions.configurations[].roleGroup.id] | join(",")' staff,students
expect_jq '.creationOptions.configurations[1].roleGroup.roles | map(.code) | join(",")' student
expect_jq '.creationOptions.configurations[0].roleGroup.displayName' Staff
expect_jq '[.creationOptions.configurations[] | has("roleGroup@odata.bind")] | any' false
graph GET "$SETS_PATH/$A/provisioningFlows" "$TOK"
expect_jq '[.value[] | select(.id == "'"$U"'") | .creationOptions.configurations[].roleGroup.id] | join(",")' staff,students

# --- PATCH: top-level properties replace, complex values replace whole
graph PATCH "$SETS_PATH/$A/provisioningFlows/$U" "$TOK" "${JSON[@]}" -d '{
  "@odata.type": "#microsoft.graph.industryData.userProvisioningFlow",
  "createUnmatchedUsers": false,
  "managementOptions": {"additionalOptions": {"studentAgeGroup": "minor"}}}'
expect_status 204 "patch user flow"
graph GET "$SETS_PATH/$A/provisioningFlows/$U" "$TOK"
expect_jq .createUnmatchedUsers false
expect_jq '.managementOptions.additionalOptions | keys | join(",")' studentAgeGroup
expect_jq '.managementOptions | has("additionalAttributes")' false
# untouched: the configurations, the dates' order
expect_jq '.creationOptions.configurations | length' 2
expect_jq '.lastModifiedDateTime >= .createdDateTime' true
graph PATCH "$SETS_PATH/$A/provisioningFlows/$U" "$TOK" "${JSON[@]}" -d '{
  "managementOptions": {"additionalOptions": {}},
  "creationOptions": {"configurations": [{
    "roleGroup@odata.bind": "https://graph.microsoft.com/beta/external/industryData/roleGroups/students",
    "defaultPasswordSettings": {"@odata.type": "#microsoft.graph.industryData.simplePasswordSettings", "password": "n3w"},
    "licenseSkus": ["Sku9"]}]}}'
expect_status 204 "patch configurations"
graph GET "$SETS_PATH/$A/provisioningFlows/$U" "$TOK"
expect_jq '[.creationOptions.configurations[] | .roleGroup.id + ":" + .licenseSkus[0]] | join(",")' students:Sku9
expect_jq '.creationOptions.configurations[0].defaultPasswordSettings.password' '***************'
# refusals: managementOptions left out (the update page marks it Required),
# read-only, another type, a nested required member, unknown flow
graph PATCH "$SETS_PATH/$A/provisioningFlows/$U" "$TOK" "${JSON[@]}" -d '{"createUnmatchedUsers":true}'
expect_graph_error 400 BadRequest
expect_jq .error.target managementOptions
graph PATCH "$SETS_PATH/$A/provisioningFlows/$U" "$TOK" "${JSON[@]}" -d '{"readinessStatus":"ready"}'
expect_graph_error 400 BadRequest
expect_jq .error.message "The property 'readinessStatus' is read-only and cannot be set: Graph sets it."
graph PATCH "$SETS_PATH/$A/provisioningFlows/$U" "$TOK" "${JSON[@]}" \
    -d '{"@odata.type":"#microsoft.graph.industryData.classGroupProvisioningFlow"}'
expect_graph_error 400 BadRequest
graph PATCH "$SETS_PATH/$A/provisioningFlows/$U" "$TOK" "${JSON[@]}" -d '{"managementOptions":{}}'
expect_graph_error 400 BadRequest
expect_jq '.error.message | contains("additionalOptions")' true
graph PATCH "$SETS_PATH/$A/provisioningFlows/$UNKNOWN" "$TOK" "${JSON[@]}" -d '{}'
expect_graph_error 404 ResourceNotFound
[ "$(stats .flowsUpdated)" = 2 ] || fail "flowsUpdated $(stats .flowsUpdated)"
ok

# --- the schema's fidelity refusals, in Graph's error shape
user_body() { # user_body CONFIGURATION_JSON
    jq -c --argjson c "$1" '.creationOptions.configurations = [$c]' "$DATA/seed-user.json"
}
graph POST "$SETS_PATH" "$TOK" "${JSON[@]}" -d '{"displayName":"fidelity"}'
F=$(jq -r .id "$BODY")
PWS='{"@odata.type":"#microsoft.graph.industryData.simplePasswordSettings","password":"x"}'
BIND='"roleGroup@odata.bind":"https://graph.microsoft.com/beta/external/industryData/roleGroups/staff"'
check_refused() { # check_refused CONFIGURATION_JSON MESSAGE_SUBSTRING
    graph POST "$SETS_PATH/$F/provisioningFlows" "$TOK" "${JSON[@]}" -d "$(user_body "$1")"
    expect_graph_error 400 BadRequest
    expect_jq ".error.message | contains(\"$2\")" true
}
check_refused "{\"defaultPasswordSettings\":$PWS}" "navigation property 'roleGroup'"
check_refused "{$BIND,\"defaultPasswordSettings\":{\"@odata.type\":\"#microsoft.graph.industryData.simplePasswordSettings\"}}" \
    "required property 'password'"
check_refused "{$BIND,\"defaultPasswordSettings\":{\"@odata.type\":\"#microsoft.graph.industryData.simplePasswordSettings\",\"password\":null}}" \
    "null value"
check_refused "{$BIND,\"defaultPasswordSettings\":{\"password\":\"x\"}}" \
    "abstract type 'microsoft.graph.industryData.passwordSettings'"
check_refused '{"roleGroup@odata.bind":"https://graph.microsoft.com/beta/external/industryData/roleGroups/parents"}' \
    "'parents' bound by"
# accepted: unknownFutureValue in an enum, a section role's value bound
graph POST "$SETS_PATH/$F/provisioningFlows" "$TOK" "${JSON[@]}" -d "$(jq -c \
    '.managementOptions.additionalAttributes = ["unknownFutureValue"]' "$DATA/seed-user.json")"
expect_status 201 "unknownFutureValue"
graph POST "$SETS_PATH/$F/provisioningFlows" "$TOK" "${JSON[@]}" -d "$(jq -c \
    '.configuration.enrollmentMappings.ownerEnrollmentMappings[0]["value@odata.bind"] =
     "https://graph.microsoft.com/beta/external/industryData/referenceDefinitions/RefRole-teacher"' \
    "$DATA/seed-class-group.json")"
expect_status 201 "value@odata.bind"
expect_jq '[.. | objects | has("value@odata.bind")] | any' false

# --- reset: 202, counted; unknown flow 404
graph POST "$SETS_PATH/$A/provisioningFlows/${FLOW[class-group]}/reset" "$TOK"
expect_status 202 reset
[ ! -s "$BODY" ] || fail "202 reset with a body"
ok
[ "$(curl -sf "$URL/_sim/flows" | jq -r --arg id "${FLOW[class-group]}" \
    '.flowSets[].applied[] | select(.id == $id) | .resets')" = 1 ] || fail "resets"
ok
graph POST "$SETS_PATH/$A/provisioningFlows/$UNKNOWN/reset" "$TOK"
expect_graph_error 404 ResourceNotFound

# --- delete a flow, then 404; the type is free again
graph DELETE "$SETS_PATH/$A/provisioningFlows/${FLOW[admin-unit]}" "$TOK"
expect_status 204 "delete flow"
graph GET "$SETS_PATH/$A/provisioningFlows/${FLOW[admin-unit]}" "$TOK"
expect_graph_error 404 ResourceNotFound
create "$TOK" "$A" "$DATA/seed-admin-unit.json"
expect_status 201 "admin unit again"

# --- role groups
graph GET "$IDATA/roleGroups" "$TOK"
expect_status 200 roleGroups
expect_jq '[.value[].id] | join(",")' students,staff
expect_jq '."@odata.context" | endswith("$metadata#external/industryData/roleGroups")' true
graph GET "$IDATA/roleGroups/staff" "$TOK"
expect_status 200 "roleGroup staff"
expect_jq .displayName Staff
expect_jq '.roles | map(.code) | index("teacher") != null' true
graph GET "$IDATA/roleGroups/teachers" "$TOK"
expect_graph_error 404 ResourceNotFound

# --- runs: 202 with the operation's Location; it is notStarted, then (the
# timing changed through /_sim/runs) succeeded; the sixth start refused
graph POST "$IDATA/runs/start" "$TOK"
expect_status 202 "run 1"
LOC=$(header Location)
[[ $LOC == "$URL$IDATA/operations/"* ]] || fail "Location '$LOC'"
ok
OP=${LOC##*/}
graph GET "$IDATA/operations/$OP" "$TOK"
expect_status 200 operation
expect_jq .id "$OP"
expect_jq .status notStarted
expect_jq '.resourceLocation | contains("/external/industryData/runs/")' true
curl -sf -X PUT "$URL/_sim/runs" -d '{"notStartedMs":0,"durationMs":0}' >/dev/null
for i in 2 3 4 5; do
    graph POST "$IDATA/runs/start" "$TOK"
    expect_status 202 "run $i"
done
graph GET "$IDATA/operations/$(header Location | sed 's|.*/||')" "$TOK"
expect_jq .status succeeded
graph GET "$IDATA/operations/$OP" "$TOK"
expect_jq .status notStarted # started with the first timing
graph POST "$IDATA/runs/start" "$TOK"
expect_graph_error 429 TooManyRequests
expect_header Retry-After '^[0-9]+$'
[ "$(header Retry-After)" -gt 0 ] && [ "$(header Retry-After)" -le 43200 ] ||
    fail "Retry-After $(header Retry-After)"
ok
curl -sf "$URL/_sim/runs" >"$BODY"
expect_jq '.runs | length' 5
expect_jq .config.maxPerWindow 5
expect_jq '[.runs[].operation.status] | join(",")' \
    notStarted,succeeded,succeeded,succeeded,succeeded
[ "$(stats .runsStarted)/$(stats .runsRefused)" = 5/1 ] || fail "run counters"
ok
graph GET "$IDATA/operations/$UNKNOWN" "$TOK"
expect_graph_error 404 ResourceNotFound
curl -sf -X PUT "$URL/_sim/runs" -d '{"outcome":"failed","maxPerWindow":6}' >/dev/null
graph POST "$IDATA/runs/start" "$TOK"
expect_status 202 "run 6 after maxPerWindow 6"
graph GET "$IDATA/operations/$(header Location | sed 's|.*/||')" "$TOK"
expect_jq .status failed
call PUT "$URL/_sim/runs" -d '{"outcome":"maybe"}'
expect_status 400 "bad runs config"

# --- the runs as Graph's industryDataRun list, newest first: the failed
# sixth, four completed, the first still running (its operation is
# notStarted); GET runs/{id}
curl -sf "$URL/_sim/runs" | jq -r '[.runs[].id] | reverse | join(",")' >"$TMP/run-ids"
graph GET "$IDATA/runs" "$TOK"
expect_status 200 "list runs"
expect_jq '[.value[].id] | join(",")' "$(cat "$TMP/run-ids")"
expect_jq '[.value[].status] | join(",")' \
    failed,completed,completed,completed,completed,running
expect_jq '.value[0].blockingError.code' RunFailed
expect_jq '.value[0].endDateTime | test("^[0-9-]{10}T[0-9:.]+Z$")' true
expect_jq '.value[1].blockingError' null
expect_jq '.value[5].endDateTime' null
expect_jq '[.value[] | .startDateTime | test("^[0-9-]{10}T[0-9:.]+Z$")] | all' true
expect_jq '[.value[] | .displayName | test("^Run [0-9-]{10} [0-9]{2}:[0-9]{2} UTC$")] | all' true
expect_jq '[.value[]."@odata.type"] | unique | join(",")' \
    "#microsoft.graph.industryData.industryDataRun"
expect_jq 'has("@odata.nextLink")' false
FIRST_RUN=$(jq -r '.value[5].id' "$BODY")
graph GET "$IDATA/runs/$FIRST_RUN" "$TOK"
expect_status 200 "get run"
expect_jq .id "$FIRST_RUN"
expect_jq .status running
expect_jq '."@odata.context" | endswith("/runs/$entity")' true
graph GET "$IDATA/runs/$UNKNOWN" "$TOK"
expect_graph_error 404 ResourceNotFound
graph GET "$IDATA/runs/start" "$TOK"
expect_graph_error 405 MethodNotAllowed
graph POST "$IDATA/runs" "$TOK"
expect_graph_error 405 MethodNotAllowed
curl -sf -X PATCH "$URL/_sim/faults" \
    -d '{"listRuns":{"sequence":["500"]},"getRun":{"sequence":["504"]}}' >/dev/null
graph GET "$IDATA/runs" "$TOK"
expect_graph_error 500 InternalServerError
graph GET "$IDATA/runs/$FIRST_RUN" "$TOK"
expect_graph_error 504 GatewayTimeout
graph GET "$IDATA/runs" "$TOK"
expect_status 200 "list runs after the fault"

# --- faults reach the new endpoints by name
curl -sf -X PATCH "$URL/_sim/faults" \
    -d '{"resetFlow":{"sequence":["503"]}}' >/dev/null
graph POST "$SETS_PATH/$A/provisioningFlows/${FLOW[class-group]}/reset" "$TOK"
expect_graph_error 503 ServiceUnavailable
graph POST "$SETS_PATH/$A/provisioningFlows/${FLOW[class-group]}/reset" "$TOK"
expect_status 202 "reset after the fault"

# --- delete a set: its flows go; then 404
graph DELETE "$SETS_PATH/$A" "$TOK"
expect_status 204 "delete set"
graph GET "$SETS_PATH/$A" "$TOK"
expect_graph_error 404 ResourceNotFound
graph GET "$SETS_PATH/$A/provisioningFlows/$U" "$TOK"
expect_graph_error 404 ResourceNotFound
[ "$(stats .flowSetsDeleted)" = 1 ] || fail "flowSetsDeleted"
ok

# --- /_sim/reset forgets runs and restores their startup timing
curl -sf -X POST "$URL/_sim/reset" >/dev/null
curl -sf "$URL/_sim/runs" >"$BODY"
expect_jq '.runs | length' 0
expect_jq .config.notStartedMs 3600000
graph GET "$IDATA/runs" "$TOK"
expect_jq '.value | length' 0

# --- a test's own run limit: two per 30 s window; the third start is a
# 429 whose Retry-After is the seconds until the first leaves the window
curl -sf -X PUT "$URL/_sim/runs" -d '{"maxPerWindow":2,"windowSeconds":30}' >"$BODY"
expect_jq .config.maxPerWindow 2
expect_jq .config.windowSeconds 30
for i in 1 2; do
    graph POST "$IDATA/runs/start" "$TOK"
    expect_status 202 "limited run $i"
done
graph POST "$IDATA/runs/start" "$TOK"
expect_graph_error 429 TooManyRequests
expect_header Retry-After '^[0-9]+$'
[ "$(header Retry-After)" -ge 1 ] && [ "$(header Retry-After)" -le 30 ] ||
    fail "Retry-After $(header Retry-After) of a 30 s window"
ok
expect_jq '.error.message | contains("2 per 30 seconds")' true
graph GET "$IDATA/runs" "$TOK"
expect_jq '.value | length' 2
stop_sim

# --- paging (--page-size 2): every list answers two items and an
# @odata.nextLink to the rest; following the links gives each item once,
# in order; a $skiptoken not issued by the simulator is a 400
start_sim paging --page-size 2 --config "$TMP/config.json"
TOK=$(token)
for i in 1 2 3 4 5; do
    graph POST "$SETS_PATH" "$TOK" "${JSON[@]}" -d "{\"displayName\":\"District $i\"}"
    expect_status 201 "set $i"
    echo "$(jq -r .id "$BODY") District $i" >>"$TMP/sets.want"
done
# follow PATH: every page of a list from PATH; prints "ids|pages", the ids
# of all pages joined with ",".
follow() {
    local next=$URL$1 ids=() pages=0
    while [ -n "$next" ]; do
        [[ $next == "$URL/beta/"* ]] || fail "nextLink '$next' not on the simulator"
        call GET "$next" -H "Authorization: Bearer $TOK"
        expect_status 200 "page $((pages + 1)) of $1"
        [ "$(jq '.value | length' "$BODY")" -le 2 ] || fail "a page over 2 items"
        while read -r id; do ids+=("$id"); done < <(jq -r '.value[] | .id // .displayName' "$BODY")
        pages=$((pages + 1))
        next=$(jq -r '."@odata.nextLink" // empty' "$BODY")
    done
    local IFS=,
    echo "${ids[*]}|$pages"
}
graph GET "$SETS_PATH" "$TOK"
expect_jq '.value | length' 2
expect_jq '[.value[].displayName] | join(",")' "District 1,District 2"
expect_jq '."@odata.nextLink" | test("/beta/external/industryData/outboundProvisioningFlowSets[?][$]skiptoken=2$")' true
WANT=$(cut -d' ' -f1 "$TMP/sets.want" | paste -sd,)
[ "$(follow "$SETS_PATH")" = "$WANT|3" ] || fail "flow sets over 3 pages: $(follow "$SETS_PATH")"
ok
A=$(head -n 1 "$TMP/sets.want" | cut -d' ' -f1)
for s in admin-unit class-group security-group user; do
    create "$TOK" "$A" "$DATA/seed-$s.json"
    expect_status 201 "$s in a paged set"
    echo "$(jq -r .id "$BODY")" >>"$TMP/flows.want"
done
WANT=$(paste -sd, "$TMP/flows.want")
GOT=$(follow "$SETS_PATH/$A/provisioningFlows")
[ "$GOT" = "$WANT|2" ] || fail "flows over 2 pages: $GOT"
ok
for i in 1 2 3; do
    graph POST "$IDATA/runs/start" "$TOK"
    expect_status 202 "paged run $i"
done
WANT=$(curl -sf "$URL/_sim/runs" | jq -r '[.runs[].id] | reverse | join(",")')
GOT=$(follow "$IDATA/runs")
[ "$GOT" = "$WANT|2" ] || fail "runs over 2 pages, newest first: $GOT"
ok
# Two role groups fill one page: no nextLink.
graph GET "$IDATA/roleGroups" "$TOK"
expect_jq '.value | length' 2
expect_jq 'has("@odata.nextLink")' false
# Past the end: an empty page; a foreign token: 400.
graph GET "$SETS_PATH?\$skiptoken=99" "$TOK"
expect_status 200 "page past the end"
expect_jq '.value | length' 0
graph GET "$SETS_PATH?\$skiptoken=X'abc'" "$TOK"
expect_graph_error 400 BadRequest
expect_jq '.error.message | contains("skiptoken")' true
stop_sim
done_ok
