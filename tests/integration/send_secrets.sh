#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2119 source-path=SCRIPTDIR  # jq programs in single quotes; sim_start takes options
# send_secrets.sh PROVFLOW GRAPHSIM [http|https]
#
# Case 10: secrets never leak. Two runs with every kind of secret provflow
# handles: a client secret, then a certificate and its private key (the
# default credential can be one or the other); inline passwords and a
# defaultPasswordSecret from --secrets-dir; events that are created,
# retried after a 503, rejected by Graph (409) and invalid; debug logging.
# Neither provflow's stdout and stderr nor the simulator's request log,
# stats and stored flows hold the client secret, a password, a line of the
# private key, an access token or a client assertion. The outcomes show
# every password as "***".
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lib_init "$@"

client_secret=cs-$(openssl rand -hex 16)
pw_file=PwFile-$(openssl rand -hex 8)
pw_inline1=PwInline1-$(openssl rand -hex 8)
pw_inline2=PwInline2-$(openssl rand -hex 8)
pw_inline3=PwInline3-$(openssl rand -hex 8)
pw_inline4=PwInline4-$(openssl rand -hex 8)

client_cert "$TMP/cert"
mkdir -p "$TMP/secrets"
printf '%s\n' "$pw_file" >"$TMP/secrets/staff-initial"
jq -n --arg s "$client_secret" --arg c "$TMP/cert/cert.pem" '{tenants: {
    "test-tenant": {clients: {"test-client": {secret: $s, certificate: $c}}}}}' \
    >"$TMP/sim.json"

# user_event ID SET [TENANT] CONFIGURATIONS-JSON [EXTRA-MEMBERS]
user_event() {
    jq -nc --arg id "$1" --arg set "$2" --arg tenant "$3" \
        --argjson configs "$4" --argjson extra "${5:-{\}}" '{
        specversion: "1.0", id: $id, source: "urn:test",
        type: "provflow.provisioningFlow.create",
        data: {flowSetId: $set, flowType: "user", flow: ({
            managementOptions: {additionalOptions: {studentAgeGroup: "minor"}},
            creationOptions: {configurations: $configs}} + $extra)}}
        + (if $tenant == "" then {} else {tenantid: $tenant} end)'
}
inline() { # PASSWORD ROLE
    jq -nc --arg p "$1" --arg r "$2" '{roleGroupId: $r,
        defaultPasswordSettings: {password: $p}, licenseSkus: ["Sku1"]}'
}
set1=$(set_id 1)
{
    # created (the first create meets a 503 and is retried)
    user_event secret-created "$set1" "" "[$(inline "$pw_inline1" staff),
        {\"roleGroupId\": \"students\",
         \"defaultPasswordSecret\": \"staff-initial\"}]"
    # invalid: an unknown property next to the password
    user_event secret-invalid "$(set_id 3)" "" \
        "[$(inline "$pw_inline3" staff)]" '{"bogusProperty": true}'
    # rejected by Graph: a second user flow in set 1 (409)
    user_event secret-rejected "$set1" "" "[$(inline "$pw_inline4" staff)]"
} >"$TMP/events-secret.ndjson"
# created with the certificate credential
user_event secret-cert "$(set_id 2)" "" "[$(inline "$pw_inline2" staff)]" \
    >"$TMP/events-cert.ndjson"

group "case 10: secrets never leak"
sim_start --config "$TMP/sim.json" --duplicates reject
sim_put /_sim/faults '{"createFlow": {"sequence": ["503"]}}'
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_CLIENT_SECRET=$client_secret")
pf_send --log-level debug --secrets-dir "$TMP/secrets" \
    "$TMP/events-secret.ndjson"
assert_rc "client secret run exits 65 (one invalid, one rejected)" 65
out1=$PF_OUT err1=$PF_ERR outcomes1=$PF_OUTCOMES
assert_jq "outcomes as planned" "$outcomes1" \
    '[.[] | [.data.requestId, .data.status, .data.error.code]] | sort' \
    '[["secret-created","created",null],["secret-invalid","failed","invalid_event"],["secret-rejected","failed","rejected"]]'
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_CLIENT_CERTIFICATE_PATH=$TMP/cert/client.pem")
pf_send --log-level debug "$TMP/events-cert.ndjson"
assert_rc "certificate run exits 0" 0
assert_jq "created with the certificate" "$PF_OUTCOMES" \
    '[.[] | [.data.requestId, .data.status]]' '[["secret-cert","created"]]'
sim_save c10
assert_jq "the 503 was retried; two tokens (secret, certificate)" \
    "$STATS" '[.faultsInjected["503"], .tokensIssued, .flowsCreated]' \
    '[1,2,2]'

# A token as the simulator issues it: "gsim." + 43 base64url characters.
token_re='gsim\.[A-Za-z0-9_-]{20,}'
probe=$(sim_curl -d grant_type=client_credentials -d client_id=test-client \
    --data-urlencode "client_secret=$client_secret" \
    --data-urlencode "scope=$SIM_URL/.default" \
    /test-tenant/oauth2/v2.0/token | jq -r .access_token)
if grep -Eqx -- "$token_re" <<<"$probe"; then
    pass "the token pattern matches a token the simulator issues"
else
    fail "the token pattern matches a token the simulator issues" \
        "token: $probe"
fi

files=("$out1" "$err1" "$PF_OUT" "$PF_ERR" "$REQS" "$STATS" "$FLOWS")
assert_absent "client secret" "$client_secret" "${files[@]}"
assert_absent "password from --secrets-dir" "$pw_file" "${files[@]}"
assert_absent "inline password (created)" "$pw_inline1" "${files[@]}"
assert_absent "inline password (certificate run)" "$pw_inline2" "${files[@]}"
assert_absent "inline password (invalid event)" "$pw_inline3" "${files[@]}"
assert_absent "inline password (rejected event)" "$pw_inline4" "${files[@]}"
# Every base64 line of the private key (64 characters each).
key_lines=0
while IFS= read -r line; do
    [ ${#line} -ge 40 ] || continue
    key_lines=$((key_lines + 1))
    if grep -qF -- "$line" "${files[@]}"; then
        fail "private key material" "a line of the key is in the output: $line"
        key_lines=-1
        break
    fi
done < <(grep -v -- '-----' "$TMP/cert/key.pem")
if [ "$key_lines" -gt 10 ]; then
    pass "private key material ($key_lines key lines searched)"
elif [ "$key_lines" -ge 0 ]; then
    fail "private key material" "only $key_lines key lines to search"
fi
assert_absent "the word PRIVATE KEY" "PRIVATE KEY" "${files[@]}"
assert_absent_re "access tokens" "$token_re" "${files[@]}"
assert_absent_re "client assertions (JWTs)" \
    'eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}' "${files[@]}"
jq -s add "$outcomes1" "$PF_OUTCOMES" >"$TMP/all-outcomes.json"
assert_jq "outcomes show every password as ***" "$TMP/all-outcomes.json" \
    '[.. | objects | select(has("password")) | .password] |
        [length >= 3, unique]' '[true,["***"]]'
sim_stop

lib_finish
