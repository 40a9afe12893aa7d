#!/usr/bin/env bash
# Faults over HTTP: scripted and random 429/500/503/504, dropped connections
# before and after applying, latency (without blocking other requests),
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
start_sim faults --config "$TMP/config.json"
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
start_sim seed42 --seed 42 --config "$TMP/seeded.json"
A=$(run_sequence)
curl -sf -X POST "$URL/_sim/reset" >/dev/null
B=$(run_sequence)
stop_sim
start_sim seed42b --seed 42 --config "$TMP/seeded.json"
C=$(run_sequence)
stop_sim
start_sim seed7 --seed 7 --config "$TMP/seeded.json"
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
