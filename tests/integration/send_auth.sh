#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2119 source-path=SCRIPTDIR  # jq programs in single quotes; sim_start takes options
# send_auth.sh PROVFLOW GRAPHSIM [http|https]
#
# Case 6: a wrong client secret stops the run (exit 78) without failing any
#         event; stderr names the token error (AADSTS7000215); nothing is
#         created.
# Case 7: the certificate credential: a key and self-signed certificate
#         made here, registered on the simulator's client; provflow signs
#         its client assertion with AZURE_CLIENT_CERTIFICATE_PATH (one PEM,
#         certificate + key) and the flows are created. A certificate the
#         client does not have is refused like a wrong secret (AADSTS700027).
#         A second tenant's certificate credential from --credentials-file
#         serves the events whose tenantid names that tenant, next to the
#         default (secret) credential.
#
# Federated token files (AZURE_FEDERATED_TOKEN_FILE): send_federated.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lib_init "$@"

# no_damage NAME: the run stopped before Graph: no outcome marked failed,
# no flow created, no Graph request at all.
no_damage() {
    sim_save "$1"
    assert_jq "no outcome says failed" "$PF_OUTCOMES" \
        '[.[] | select(.data.status == "failed")] | length' 0
    assert_jq "nothing created, no Graph request" "$REQS" \
        '[.requests[] | select(.path | startswith("/beta/"))] | length' 0
    assert_jq "the token endpoint said invalid_client (401)" "$REQS" \
        '[.requests[] | .status] | unique' '[401]'
}

group "case 6: wrong client secret"
sim_start
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    AZURE_CLIENT_SECRET=not-the-test-secret-4d1f)
pf_send "$SEED_EVENTS"
assert_rc "send exits 78 (configuration/authorisation)" 78
assert_grep "stderr names the token error (AADSTS7000215)" \
    'invalid_client.*AADSTS7000215' "$PF_ERR"
assert_grep "stderr says no event was marked failed" \
    'nothing was marked failed' "$PF_ERR"
assert_absent "the wrong secret is not printed" not-the-test-secret-4d1f \
    "$PF_OUT" "$PF_ERR"
no_damage c6
sim_stop

group "case 7: certificate credential"
client_cert "$TMP/cert"
client_cert "$TMP/other"
jq -n --arg c "$TMP/cert/cert.pem" \
    '{tenants: {"test-tenant": {clients: {"test-client":
        {certificate: $c}}}}}' >"$TMP/sim-cert.json"
sim_start --config "$TMP/sim-cert.json"
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_CLIENT_CERTIFICATE_PATH=$TMP/cert/client.pem")
pf_send "$SEED_EVENTS"
sim_save c7
assert_rc "send exits 0" 0
assert_jq "four flows created" "$PF_OUTCOMES" '[.[].data.status]' \
    '["created","created","created","created"]'
assert_jq "one token, issued for the assertion" "$STATS" \
    '[.tokensIssued, .tokenErrors, .flowsCreated]' '[1,0,4]'

group "case 7: a certificate the client does not have is refused"
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_CLIENT_CERTIFICATE_PATH=$TMP/other/client.pem")
sim_post /_sim/reset
pf_send "$SEED_EVENTS"
assert_rc "send exits 78" 78
assert_grep "stderr names the token error (AADSTS700027)" \
    'invalid_client.*AADSTS700027' "$PF_ERR"
no_damage c7b
sim_stop

group "case 7: a second tenant's certificate from --credentials-file"
jq -n --arg c "$TMP/cert/cert.pem" '{tenants: {
    "test-tenant": {clients: {"test-client": {secret: "test-secret"}}},
    "tenant-b": {clients: {"client-b": {certificate: $c}}}}}' \
    >"$TMP/sim-two.json"
jq -n --arg p "$TMP/cert/client.pem" \
    '[{tenantId: "tenant-b", clientId: "client-b", certificatePath: $p}]' \
    >"$TMP/credentials.json"
{
    event tenant-default "$(set_id 1)"
    event tenant-b "$(set_id 2)" | jq -c '. + {tenantid: "TENANT-B"}'
} >"$TMP/two.ndjson"
sim_start --config "$TMP/sim-two.json"
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    AZURE_CLIENT_SECRET=test-secret)
pf_send --credentials-file "$TMP/credentials.json" "$TMP/two.ndjson"
sim_save c7c
assert_rc "send exits 0" 0
assert_jq "both created" "$PF_OUTCOMES" \
    '[.[] | [.data.requestId, .data.status]] | sort' \
    '[["tenant-b","created"],["tenant-default","created"]]'
assert_jq "one token per tenant" "$REQS" \
    '[.requests[] | select(.path | endswith("/token")) | [.path, .status]]
        | sort' \
    '[["/tenant-b/oauth2/v2.0/token",200],["/test-tenant/oauth2/v2.0/token",200]]'
assert_jq "each event's request carried its tenant's token" "$REQS" \
    '([.requests[] | select(.path | endswith("/token"))
        | {key: .tokenId, value: (.path | split("/")[1])}] | from_entries)
      as $tenant_of
      | [.requests[] | select(.method == "POST" and
            (.path | startswith("/beta/")))
        | [.clientRequestId, $tenant_of[.tokenId]]] | sort' \
    "$(jq -nc --arg a "$(uuid5 tenant-default)" --arg b "$(uuid5 tenant-b)" \
        '[[$a, "test-tenant"], [$b, "tenant-b"]] | sort')"
sim_stop

lib_finish
