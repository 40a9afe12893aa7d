#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2119  # jq programs in single quotes; sim_start takes options
# send_federated.sh PROVFLOW GRAPHSIM [http|https]
#
# The federated credential (workload identity): the simulator's client
# trusts an issuer (a key made here) for one Kubernetes service account;
# a service-account-shaped token signed with that key is written to a file
# and provflow runs with AZURE_FEDERATED_TOKEN_FILE and no secret.
#   - the seed's four events are created with one token;
#   - a token for another subject is refused (AADSTS70021): exit 78, no
#     event marked failed, nothing created;
#   - the file is re-read for every token request: tokens live 4 s, the
#     first federated token expires 5 s after it is written (the simulator
#     tolerates no clock skew), and the file is rewritten with a fresh one
#     once the first access token is issued; token requests made after the
#     first token's expiry still succeed, so they carried the new one.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lib_init "$@"

ISS=https://oidc.provflow-test.example/cluster-1/
SUB=system:serviceaccount:provflow:provflow
FED=$TMP/fed
mkdir -p "$FED"
openssl genrsa -out "$FED/issuer.key" 2048 2>/dev/null
openssl pkey -in "$FED/issuer.key" -pubout -out "$FED/issuer.pub"

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# sa_token SUBJECT NBF EXP: a service-account token signed by the issuer.
sa_token() {
    local h c sig
    h=$(printf '%s' '{"alg":"RS256","kid":"provflow-test-1"}' | b64url)
    c=$(jq -nc --arg iss "$ISS" --arg sub "$1" --argjson nbf "$2" \
        --argjson exp "$3" '{aud: ["api://AzureADTokenExchange"], exp: $exp,
            iat: $nbf, iss: $iss, nbf: $nbf, sub: $sub,
            "kubernetes.io": {namespace: "provflow",
                serviceaccount: {name: "provflow", uid: "0"}}}' | b64url)
    sig=$(printf '%s.%s' "$h" "$c" | openssl dgst -sha256 -sign "$FED/issuer.key" | b64url)
    printf '%s.%s.%s\n' "$h" "$c" "$sig"
}

# write_token FILE TOKEN: written aside and renamed, as the kubelet swaps
# the projected token in, so a reader never sees half of it.
write_token() {
    printf '%s\n' "$2" >"$1.tmp"
    mv -f "$1.tmp" "$1"
}

# fed_config FILE EXTRA_JSON: test-tenant/test-client with the federated
# credential only (no secret), merged with EXTRA_JSON.
fed_config() {
    jq -n --arg iss "$ISS" --arg sub "$SUB" --arg key "$FED/issuer.pub" \
        --argjson extra "$2" '{tenants: {"test-tenant": {clients: {"test-client":
            {federated: {issuer: $iss, subject: $sub,
                         audience: "api://AzureADTokenExchange",
                         publicKey: $key}}}}}} + $extra' >"$1"
}

PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_FEDERATED_TOKEN_FILE=$FED/token")

group "federated token file, no secret: the seed is created"
fed_config "$TMP/sim-fed.json" '{}'
sim_start --config "$TMP/sim-fed.json"
now=$(date +%s)
write_token "$FED/token" "$(sa_token "$SUB" "$now" $((now + 3600)))"
pf_send "$SEED_EVENTS"
sim_save fed
assert_rc "send exits 0" 0
assert_jq "four flows created" "$PF_OUTCOMES" '[.[].data.status]' \
    '["created","created","created","created"]'
assert_jq "one token, no token error, four flows" "$STATS" \
    '[.tokensIssued, .tokenErrors, .flowsCreated]' '[1,0,4]'
assert_absent "the federated token is not printed" \
    "$(cut -d. -f3 "$FED/token")" "$PF_OUT" "$PF_ERR"

group "a token for another service account is refused (AADSTS70021)"
sim_post /_sim/reset
write_token "$FED/token" \
    "$(sa_token system:serviceaccount:default:other "$now" $((now + 3600)))"
pf_send "$SEED_EVENTS"
sim_save fed-other
assert_rc "send exits 78" 78
assert_grep "stderr names the token error (AADSTS70021)" 'AADSTS70021' "$PF_ERR"
assert_jq "no outcome says failed" "$PF_OUTCOMES" \
    '[.[] | select(.data.status == "failed")] | length' 0
assert_jq "nothing created, no Graph request" "$REQS" \
    '[.requests[] | select(.path | startswith("/beta/"))] | length' 0
assert_jq "the token endpoint said 400 (invalid_request)" "$REQS" \
    '[.requests[] | .status] | unique' '[400]'
sim_stop

group "the token file is re-read for every token request"
life=4       # s, access tokens
first=5      # s, the first federated token, from its writing
latency=250  # ms per create
events=40    # one flow set, one at a time: about 10 s
fed_config "$TMP/sim-rotate.json" "{\"token\": {\"expiresIn\": $life, \"clockSkew\": 0},
    \"faults\": {\"createFlow\": {\"latencyMs\": $latency}}}"
sim_start --config "$TMP/sim-rotate.json"
set1=$(set_id 1)
for i in $(seq "$events"); do
    event "fed-$i" "$set1"
done >"$TMP/rotate.ndjson"
now=$(date +%s)
first_exp=$((now + first))
write_token "$FED/token" "$(sa_token "$SUB" "$now" "$first_exp")"
# Once the first access token is out, the kubelet "rotates" the file.
(
    for _ in $(seq 400); do
        n=$(sim_get /_sim/stats 2>/dev/null | jq .tokensIssued) || n=0
        [ "${n:-0}" -ge 1 ] && break
        sleep 0.025
    done
    t=$(date +%s)
    write_token "$FED/token" "$(sa_token "$SUB" "$t" $((t + 3600)))"
) &
rotator=$!
pf_send --token-expiry-margin-ms 1000 "$TMP/rotate.ndjson"
wait "$rotator"
sim_save rotate
assert_rc "send exits 0" 0
assert_jq "every event created" "$PF_OUTCOMES" \
    '[.[].data.status] | [length, unique]' "[$events,[\"created\"]]"
assert_jq "every token request succeeded" "$REQS" \
    '[.requests[] | select(.path | endswith("/token")) | .status] | unique' \
    '[200]'
assert_cmp "several tokens issued" "$(jq .tokensIssued "$STATS")" -ge 3
assert_cmp "tokens issued after the first federated token expired" \
    "$(jq --argjson exp "$first_exp" "$JQ_TIME"'
        [.requests[] | select(.path | endswith("/token"))
         | select(.status == 200 and t_start >= $exp + 1)] | length' \
        "$REQS")" -ge 1
assert_jq "no 401 from Graph" "$STATS" '.byStatus["401"] // 0' 0
sim_stop

lib_finish
