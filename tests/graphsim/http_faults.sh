#!/usr/bin/env bash
# Faults over HTTP: scripted and random 429/500/503/504, dropped connections
# before and after applying, broken 2xx bodies (badBody, every kind) and
# the Location header, latency (without blocking other requests), latency
# spikes (slow), creates applied after their client gave up (with the
# applied order and client-request-id in /_sim/flows),
# token endpoint failures, token lifetime, per-tenant rate limits with a
# computed Retry-After, faults from the config file, reset, and seeded
# determinism.
. "$(dirname "$0")/lib.sh"

cat >"$TMP/config.json" <<'JSON'
{
  "tenants": {
    "tenant-a": {"clients": {"app": {"secret": "a"}}},
    "tenant-b": {"clients": {"app": {"secret": "b"}}}
  },
  "faults": {"getFlowSet": {"p503": 1.0, "retryAfter503": 4}}
}
JSON
start_sim faults --implicit-flow-sets --config "$TMP/config.json"
TOK=$(token tenant-a app a)
TOKB=$(token tenant-b app b)
flows() { stats .flows; }
set_faults() {
    call "${2:-PUT}" "$URL/_sim/faults" -H 'Content-Type: application/json' -d "$1"
    expect_status 200 "faults $1"
}
nth_set() { printf '00000000-0000-4000-8000-%012d' "$1"; }

# --- faults from the config file
graph GET "$SETS_PATH/$SET" "$TOK"
expect_graph_error 503 ServiceUnavailable
expect_header Retry-After '^4$'

# --- a scripted sequence: each outcome once, in order
set_faults '{"createFlow": {"sequence": ["429", "500", "503", "504", "drop", "dropAfterApply", "ok"], "retryAfter": 3}}'
expect_jq '.createFlow.sequence | length' 7
expect_jq '.getFlowSet.p503' 0
create "$TOK" "$(nth_set 1)" "$DATA/seed-admin-unit.json"
expect_graph_error 429 TooManyRequests
expect_header Retry-After '^3$'
create "$TOK" "$(nth_set 1)" "$DATA/seed-admin-unit.json"
expect_graph_error 500 InternalServerError
create "$TOK" "$(nth_set 1)" "$DATA/seed-admin-unit.json"
expect_graph_error 503 ServiceUnavailable
[ -z "$(header Retry-After)" ] || fail "503 without retryAfter503 has Retry-After"
ok
create "$TOK" "$(nth_set 1)" "$DATA/seed-admin-unit.json"
expect_graph_error 504 GatewayTimeout
[ "$(flows)" = 0 ] || fail "a fault applied a flow"
ok
create "$TOK" "$(nth_set 1)" "$DATA/seed-admin-unit.json"
[ "$CURL_RC" = 52 ] || fail "drop: curl exit $CURL_RC, want 52 (empty reply)"
[ "$(flows)" = 0 ] || fail "drop before apply applied"
ok
create "$TOK" "$(nth_set 1)" "$DATA/seed-admin-unit.json"
[ "$CURL_RC" = 52 ] || fail "dropAfterApply: curl exit $CURL_RC"
[ "$(flows)" = 1 ] || fail "drop after apply did not apply"
ok
create "$TOK" "$(nth_set 2)" "$DATA/seed-admin-unit.json"
expect_status 201 "after the sequence"
create "$TOK" "$(nth_set 3)" "$DATA/seed-admin-unit.json"
expect_status 201 "sequence used up"
call GET "$URL/_sim/stats"
expect_jq '.faultsInjected | [."429", ."500", ."503", ."504", .drop, .dropAfterApply] | join(",")' \
    "1,1,2,1,1,1"
expect_jq .byStatus.dropped 2
call GET "$URL/_sim/requests"
expect_jq '[.requests[] | select(.fault == "dropAfterApply")][0].status' 0

# --- probabilities; "graph" covers every Graph endpoint but not the token
set_faults '{"graph": {"p504": 1.0}}'
graph GET "$SETS_PATH" "$TOK"
expect_graph_error 504 GatewayTimeout
[ -n "$(token tenant-a app a)" ] || fail "token endpoint hit by graph faults"
ok
set_faults '{"createFlow": {"p429": 1.0, "retryAfter": 9}}' PATCH
expect_jq .listFlowSets.p504 1
create "$TOK" "$(nth_set 4)" "$DATA/seed-admin-unit.json"
expect_graph_error 429 TooManyRequests
expect_header Retry-After '^9$'
call PUT "$URL/_sim/faults" -d '{"createFlow": {"p429": 0.6, "p500": 0.6}}'
expect_status 400 "probabilities over 1"
expect_jq '.error | contains("add up")' true
call PUT "$URL/_sim/faults" -d '{"nowhere": {}}'
expect_status 400 "unknown endpoint"
set_faults '{}'

# --- latency, served without holding a worker
set_faults '{"listFlows": {"latencyMs": 600}}'
t=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOK" \
    "$URL$SETS_PATH/$SET/provisioningFlows")
awk "BEGIN { exit !($t >= 0.6) }" || fail "latency: took $t s"
ok
set_faults '{"listFlows": {"latencyMs": 1500}}'
slow=()
for i in 1 2 3 4; do
    curl -s -o /dev/null -H "Authorization: Bearer $TOK" \
        "$URL$SETS_PATH/$SET/provisioningFlows" &
    slow+=($!)
done
sleep 0.2
t=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOK" "$URL$SETS_PATH")
awk "BEGIN { exit !($t < 0.5) }" || fail "a delayed request blocked another: $t s"
ok
wait "${slow[@]}"
set_faults '{"listFlows": {"jitterMs": 300}}'
t=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOK" \
    "$URL$SETS_PATH/$SET/provisioningFlows")
awk "BEGIN { exit !($t < 0.6) }" || fail "jitter 300 ms took $t s"
ok
set_faults '{}'

# --- badBody: a 2xx answer whose body is broken, the request handled as
# usual (a create is applied); the fault's draw picks the kind
flows_path() { echo "$SETS_PATH/$1/provisioningFlows"; }
list() { graph GET "$(flows_path "$1")" "$TOK"; }
BSET=$(nth_set 900)
create "$TOK" "$BSET" "$DATA/seed-user.json"
expect_status 201 "a flow to list"
BFLOW=$(jq -r .id "$BODY")
set_faults '{"listFlows": {"sequence": ["badBody:notJson", "badBody:empty",
  "badBody:truncated", "badBody:noValue", "badBody:valueNotArray",
  "badBody:array", "badBody:deep", "badBody:hugeNumber",
  "badBody:invalidUtf8", "badBody", "ok"]}}'
expect_jq '.listFlows.sequence | length' 11
expect_jq '.listFlows.sequence[0]' badBody:notJson
expect_jq '.listFlows.badBody | join(",")' notJson
list "$BSET"
expect_status 200 "notJson"
! jq -e . "$BODY" >/dev/null 2>&1 || fail "notJson: the body parses"
grep -q '^<html>' "$BODY" || fail "notJson: $(head -c 200 "$BODY")"
expect_header request-id '.+'
expect_header Content-Type '^application/json'
ok
list "$BSET"
expect_status 200 "empty"
[ ! -s "$BODY" ] || fail "empty: $(head -c 200 "$BODY")"
ok
list "$BSET"
expect_status 200 "truncated"
! jq -e . "$BODY" >/dev/null 2>&1 || fail "truncated: the body parses"
head -c 40 "$BODY" | grep -q '^{"@odata.context":' || fail "truncated: not the answer's start"
ok
list "$BSET"
expect_status 200 "noValue"
expect_jq 'keys | join(",")' '@odata.context'
list "$BSET"
expect_status 200 "valueNotArray"
expect_jq '.value | type' object
expect_jq '.value."0".id' "$BFLOW"
list "$BSET"
expect_status 200 "array"
expect_jq 'type' array
expect_jq '.[0].value[0].id' "$BFLOW"
list "$BSET"
expect_status 200 "deep"
head -c 20 "$BODY" | grep -q '^{"deep":\[\[\[\[' || fail "deep: $(head -c 40 "$BODY")"
[ "$(tr -cd '[' <"$BODY" | wc -c)" -ge 10000 ] || fail "deep: fewer than 10000 levels"
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$BODY" 2>/dev/null &&
    fail "deep: python parsed 10000 levels"
ok
list "$BSET"
expect_status 200 "hugeNumber"
head -c 20 "$BODY" | grep -q '^{"big":1e999,' || fail "hugeNumber: $(head -c 40 "$BODY")"
ok
list "$BSET"
expect_status 200 "invalidUtf8"
python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$BODY" 2>/dev/null &&
    fail "invalidUtf8: the body is valid UTF-8"
ok
list "$BSET"
expect_status 200 "badBody: the profile's kind (notJson)"
grep -q '^<html>' "$BODY" || fail "badBody: $(head -c 200 "$BODY")"
ok
list "$BSET"
expect_status 200 "sequence used up"
expect_jq '.value[0].id' "$BFLOW"
# a non-2xx answer keeps its body
set_faults '{"listFlows": {"sequence": ["badBody:notJson"]}}'
graph GET "$(flows_path not-a-guid)" "$TOK"
expect_graph_error 400 BadRequest
call GET "$URL/_sim/stats"
expect_jq '.badBodies | [.notJson, .empty, .truncated, .noValue, .valueNotArray, .array, .deep, .hugeNumber, .invalidUtf8] | join(",")' \
    "2,1,1,1,1,1,1,1,1"
expect_jq '.faultsInjected | has("badBody")' false
call GET "$URL/_sim/requests?limit=12"
expect_jq '[.requests[] | select(.method == "GET") | .fault] | .[0:3] | join(",")' \
    "badBody:notJson,badBody:empty,badBody:truncated"
expect_jq '.requests[-1] | [.status, .fault] | join(",")' "400,badBody:notJson"

# a create meets badBody: applied, then answered 201 with the broken body;
# "location" adds Graph's Location header naming the new flow
set_faults '{"createFlow": {"sequence": ["badBody:notJson", "badBody:array"], "location": true}}'
expect_jq .createFlow.location true
n0=$(stats .flows)
create "$TOK" "$(nth_set 901)" "$DATA/seed-user.json" -H 'client-request-id: bad201-a'
expect_status 201 "badBody create"
grep -q '^<html>' "$BODY" || fail "create notJson: $(head -c 200 "$BODY")"
[ "$(stats .flows)" = $((n0 + 1)) ] || fail "badBody create not applied"
loc=$(header Location)
curl -sf "$URL/_sim/flows" >"$TMP/flows.json"
fid=$(jq -r --arg s "$(nth_set 901)" '.flowSets[] | select(.id == $s) | .flows[0].id' "$TMP/flows.json")
[ "$loc" = "$URL$SETS_PATH/$(nth_set 901)/provisioningFlows/$fid" ] ||
    fail "Location '$loc', flow $fid"
ok
graph GET "${loc#"$URL"}" "$TOK"
expect_status 200 "the Location names the flow"
expect_jq .id "$fid"
create "$TOK" "$(nth_set 902)" "$DATA/seed-user.json"
expect_status 201 "badBody:array create"
expect_jq '.[0].id | test("^[0-9a-f-]{36}$")' true
expect_header Location "/provisioningFlows/[0-9a-f-]{36}$"
set_faults '{"createFlow": {"location": false, "sequence": ["badBody:empty"]}}'
create "$TOK" "$(nth_set 903)" "$DATA/seed-user.json"
expect_status 201 "badBody:empty create"
[ ! -s "$BODY" ] && [ -z "$(header Location)" ] || fail "empty 201 without Location"
ok
# creating a flow set: Location too
set_faults '{"createFlowSet": {"location": true, "sequence": ["badBody:truncated"]}}'
graph POST "$SETS_PATH" "$TOK" -H 'Content-Type: application/json' -d '{"displayName":"loc"}'
expect_status 201 "set with Location"
expect_header Location "$SETS_PATH/[0-9a-f-]{36}$"

# probabilities: pBadBody with a list of kinds, the draw picks among them
set_faults '{"listFlows": {"pBadBody": 1.0, "badBody": ["noValue", "valueNotArray"]}}'
expect_jq '.listFlows.badBody | join(",")' noValue,valueNotArray
for i in $(seq 1 16); do
    list "$BSET"
    expect_status 200 "pBadBody $i"
    jq -e '(.value | type) != "array"' "$BODY" >/dev/null || fail "pBadBody 1.0: an intact list"
done
call GET "$URL/_sim/requests?limit=16"
expect_jq '[.requests[].fault] | unique | join(",")' "badBody:noValue,badBody:valueNotArray"
set_faults '{"listFlows": {"pBadBody": 0.5, "p503": 0.5, "badBody": "truncated"}}'
for i in $(seq 1 16); do list "$BSET"; done
call GET "$URL/_sim/requests?limit=16"
expect_jq '[.requests[].fault] | unique | join(",")' "503,badBody:truncated"
# configuration errors
for bad in '{"listFlows": {"badBody": "nope"}}' '{"listFlows": {"badBody": []}}' \
    '{"listFlows": {"badBody": ["empty", "empty"]}}' \
    '{"listFlows": {"sequence": ["badBody:nope"]}}' \
    '{"listFlows": {"sequence": ["429:notJson"]}}' \
    '{"listFlows": {"location": 1}}' '{"listFlows": {"pBadBody": 0.7, "pSlow": 0.7}}' \
    '{"listFlows": {"slowMs": -1}}'; do
    call PUT "$URL/_sim/faults" -H 'Content-Type: application/json' -d "$bad"
    expect_status 400 "faults $bad"
done
set_faults '{}'

# --- slow: a latency spike of slowMs on top of latencyMs, then handled
set_faults '{"createFlow": {"sequence": ["slow", "ok"], "slowMs": 700}}'
t=$( { curl -s -o "$BODY" -w '%{time_total} %{http_code}' -X POST \
    -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
    --data-binary "@$DATA/seed-user.json" "$URL$(flows_path "$(nth_set 910)")"; } )
awk -v t="${t% *}" 'BEGIN { exit !(t >= 0.7) }' && [ "${t#* }" = 201 ] ||
    fail "slow: $t"
ok
create "$TOK" "$(nth_set 911)" "$DATA/seed-user.json"
expect_status 201 "after the spike"
[ "$(stats .slowAnswers)" = 1 ] || fail "slowAnswers $(stats .slowAnswers)"
ok
call GET "$URL/_sim/requests?limit=2"
expect_jq '.requests[0].fault' slow
expect_jq '.requests[0].durationMs >= 700' true
expect_jq '.requests[1].fault' null

# --- a client that gives up before the answer: the create is still
# applied when its latency is over (as Graph finishes what it started);
# /_sim/flows records when, and the client-request-id
# (20 at once: libmicrohttpd may notice a closed socket before it hands
# the request back; the simulator handles it then all the same)
set_faults '{"createFlow": {"latencyMs": 3000}}'
n0=$(stats .flows)
gone=()
for i in $(seq 1 20); do
    curl -s -m 0.3 -o /dev/null -X POST -H "Authorization: Bearer $TOK" \
        -H 'Content-Type: application/json' -H "client-request-id: gave-up-$i" \
        --data-binary "@$DATA/seed-user.json" "$URL$(flows_path "$(nth_set $((920 + i)))")" &
    gone+=($!)
done
for p in "${gone[@]}"; do
    rc=0
    wait "$p" || rc=$?
    [ "$rc" = 28 ] || fail "a client did not time out (curl exit $rc)"
done
[ "$(stats .flows)" = "$n0" ] || fail "applied before its latency"
ok
deadline=$((SECONDS + 20))
until [ "$(stats .flows)" = $((n0 + 20)) ] || [ $SECONDS -ge $deadline ]; do
    sleep 0.1
done
[ "$(stats .flows)" = $((n0 + 20)) ] ||
    fail "creates whose client left: $(($(stats .flows) - n0)) of 20 applied"
ok
set_faults '{}'
create "$TOK" "$(nth_set 921)" "$DATA/seed-security-group.json" -H 'client-request-id: after-1'
expect_status 201 "a second flow in the set"
call GET "$URL/_sim/flows"
expect_jq "[.flowSets[] | select(.id == \"$(nth_set 921)\")][0].applied | map(.clientRequestId) | join(\",\")" \
    "gave-up-1,after-1"
expect_jq '[.flowSets[].applied[].clientRequestId | select(startswith("gave-up-"))] | length' 20
expect_jq "[.flowSets[] | select(.id == \"$(nth_set 921)\")][0].applied | (.[0].seq < .[1].seq) and (.[0].time < .[1].time)" true
expect_jq "[.flowSets[] | select(.id == \"$(nth_set 921)\")][0] | [.applied[].id] == [.flows[].id]" true
expect_jq "[.flowSets[] | select(.id == \"$(nth_set 921)\")][0].applied | map(.flowType) | join(\",\")" \
    "userProvisioningFlow,securityGroupProvisioningFlow"
call GET "$URL/_sim/requests?limit=1"
expect_jq .requests[0].clientRequestId after-1

# --- token endpoint failures
set_faults '{"token": {"sequence": ["503", "429", "dropAfterApply"], "retryAfter": 7, "retryAfter503": 2}}'
issued=$(stats .tokensIssued)
call POST "$URL/tenant-a/oauth2/v2.0/token" -d grant_type=client_credentials \
    -d client_id=app -d client_secret=a --data-urlencode scope=https://graph.microsoft.com/.default
expect_status 503 "token 503"
expect_jq .error temporarily_unavailable
expect_jq '.error_description | startswith("AADSTS")' true
expect_header Retry-After '^2$'
call POST "$URL/tenant-a/oauth2/v2.0/token" -d grant_type=client_credentials \
    -d client_id=app -d client_secret=a --data-urlencode scope=https://graph.microsoft.com/.default
expect_status 429 "token 429"
expect_header Retry-After '^7$'
call POST "$URL/tenant-a/oauth2/v2.0/token" -d grant_type=client_credentials \
    -d client_id=app -d client_secret=a --data-urlencode scope=https://graph.microsoft.com/.default
[ "$CURL_RC" = 52 ] || fail "token dropAfterApply: curl exit $CURL_RC"
[ "$(stats .tokensIssued)" = $((issued + 1)) ] || fail "token not issued before the drop"
ok
set_faults '{}'

# --- token lifetime: advertised vs real
call PUT "$URL/_sim/token" -d '{"expiresIn": 600, "refreshIn": 300, "lifetime": 1}'
expect_status 200 "token settings"
expect_jq .lifetime 1
call POST "$URL/tenant-a/oauth2/v2.0/token" -d grant_type=client_credentials \
    -d client_id=app -d client_secret=a --data-urlencode scope=https://graph.microsoft.com/.default
expect_jq .expires_in 600
expect_jq .refresh_in 300
SHORT=$(jq -r .access_token "$BODY")
graph GET "$SETS_PATH" "$SHORT"
expect_status 200 "young token"
sleep 1.2
graph GET "$SETS_PATH" "$SHORT"
expect_graph_error 401 InvalidAuthenticationToken
expect_jq '.error.message | contains("expired")' true
call PUT "$URL/_sim/token" -d '{"expiresIn": 0}'
expect_status 400 "expiresIn 0"

# --- per-tenant rate limit with Retry-After from the bucket
call PUT "$URL/_sim/rateLimit" -d '{"requestsPerSecond": 0, "tenants": {"tenant-a": {"requestsPerSecond": 0.2, "burst": 2}}}'
expect_status 200 "rate limit"
graph GET "$SETS_PATH" "$TOK"
expect_status 200 "burst 1"
graph GET "$SETS_PATH" "$TOK"
expect_status 200 "burst 2"
graph GET "$SETS_PATH" "$TOK"
expect_graph_error 429 TooManyRequests
expect_header Retry-After '^5$'
for i in 1 2 3; do
    graph GET "$SETS_PATH" "$TOKB"
    expect_status 200 "tenant-b unlimited"
done
[ "$(stats .rateLimited)" = 1 ] || fail "rateLimited $(stats .rateLimited)"
ok
call PUT "$URL/_sim/rateLimit" -d '{"requestsPerSecond": 4, "burst": 1}'
graph GET "$SETS_PATH" "$TOKB"
expect_status 200 "default limit, first"
graph GET "$SETS_PATH" "$TOKB"
expect_graph_error 429 TooManyRequests
expect_header Retry-After '^1$'
call PUT "$URL/_sim/rateLimit" -d '{"tenants": {"tenant-z": {}}}'
expect_status 400 "unknown tenant"

# --- reset restores the startup faults and limits
call POST "$URL/_sim/reset"
graph GET "$SETS_PATH/$SET" "$TOK"
expect_graph_error 503 ServiceUnavailable
graph GET "$SETS_PATH" "$TOKB"
expect_status 200 "no limit after reset"
graph GET "$SETS_PATH" "$TOKB"
expect_status 200 "no limit after reset"
stop_sim

# --- determinism: the same seed gives the same faults and ids
cat >"$TMP/seeded.json" <<'JSON'
{"faults": {"createFlow": {"p429": 0.25, "p500": 0.15, "p503": 0.1}}}
JSON
run_sequence() {
    local tok out=""
    tok=$(token)
    for i in $(seq 1 24); do
        create "$tok" "$(nth_set "$i")" "$DATA/seed-security-group.json"
        out+="$STATUS:$(jq -r '.id // "-"' "$BODY") "
    done
    echo "$out"
}
start_sim seed42 --implicit-flow-sets --seed 42 --config "$TMP/seeded.json"
A=$(run_sequence)
curl -sf -X POST "$URL/_sim/reset" >/dev/null
B=$(run_sequence)
stop_sim
start_sim seed42b --implicit-flow-sets --seed 42 --config "$TMP/seeded.json"
C=$(run_sequence)
stop_sim
start_sim seed7 --implicit-flow-sets --seed 7 --config "$TMP/seeded.json"
D=$(run_sequence)
stop_sim
[ "$A" = "$B" ] || fail "seed 42 differs after reset:
$A
$B"
[ "$A" = "$C" ] || fail "seed 42 differs across runs:
$A
$C"
[ "$A" != "$D" ] || fail "seeds 42 and 7 gave the same run"
n201=$(echo "$A" | tr ' ' '\n' | grep -c '^201:')
nfault=$(echo "$A" | tr ' ' '\n' | grep -c '^5\|^429')
[ "$n201" -gt 3 ] && [ "$nfault" -gt 3 ] || fail "unlikely mix: $A"
ok
done_ok
