#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2119 source-path=SCRIPTDIR  # jq programs in single quotes; sim_start takes options
# send_identity.sh PROVFLOW GRAPHSIM [http|https]
#
# azure-identity's EnvironmentCredential parity (issue 14), against the
# simulator over real HTTP(S). Certificates, keys and PKCS #12 files are
# made here with openssl; nothing secret is committed.
#   - a PKCS #12 file with a password (AZURE_CLIENT_CERTIFICATE_PASSWORD,
#     then _FILE), named without an extension: the content tells the
#     format; the seed is created. A wrong password stops the start
#     (exit 78) before any request, naming the setting, not the password.
#   - subject name and issuer: the simulator trusts a CA and the client's
#     subject, and knows no thumbprint; with
#     AZURE_CLIENT_SEND_CERTIFICATE_CHAIN the assertion carries x5c (leaf +
#     CA) and is accepted; without x5c, and with a certificate of the same
#     subject from another CA, it is refused (AADSTS700027, exit 78).
#   - a rotated client secret file is used without a restart: the
#     application accepts secrets A and B while the file moves from A to
#     B, then only B; short tokens force refreshes; every token request
#     succeeds (one sending A after A was dropped would be a 401).
#   - a rewrite stat() cannot see (in place, same size, same mtime): the
#     next refresh sends the old secret, the endpoint answers
#     invalid_client, provflow reads the file at once and tries the new
#     secret without waiting --token-systemic-retry-ms (60 s here).
#   - neither secret nor the password is on any output (debug logging).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lib_init "$@"

PFX_PASS=pfx-$(openssl rand -hex 12)
SECRET_A=sec-A-$(openssl rand -hex 12)
SECRET_B=sec-B-$(openssl rand -hex 12)
SECRET_A2=sec-C-$(openssl rand -hex 12)
SECRET_B2=sec-D-$(openssl rand -hex 12)
SUBJECT_DN="/O=Provflow Test/CN=provflow-sni.example"
SUBJECT_RFC2253="CN=provflow-sni.example, O=Provflow Test"

# ca DIR CN: a CA (EC P-256: quick to make): DIR/ca.pem, DIR/ca.key.
ca() {
    mkdir -p "$1"
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -nodes -keyout "$1/ca.key" -out "$1/ca.pem" -days 2 -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# leaf CADIR DIR: an RSA key and a certificate for SUBJECT_DN issued by the
# CA: DIR/cert.pem, DIR/key.pem, DIR/chain.pem (leaf, key, CA).
leaf() {
    mkdir -p "$2"
    openssl req -new -newkey rsa:2048 -nodes -keyout "$2/key.pem" \
        -out "$2/req.csr" -subj "$SUBJECT_DN" 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature" >"$2/ext"
    openssl x509 -req -in "$2/req.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" \
        -CAcreateserial -days 2 -extfile "$2/ext" -out "$2/cert.pem" \
        2>/dev/null
    cat "$2/cert.pem" "$2/key.pem" "$1/ca.pem" >"$2/chain.pem"
    chmod 600 "$2/key.pem" "$2/chain.pem"
}

# no_request NAME: the run stopped before any request reached the simulator.
no_request() {
    sim_save "$1"
    assert_jq "no request reached the simulator" "$STATS" '.requests' 0
}

# refused NAME CODE: the token endpoint refused the credential; nothing
# was created or marked failed.
refused() {
    sim_save "$1"
    assert_rc "send exits 78" 78
    assert_grep "stderr names the token error ($2)" "invalid_client.*$2" \
        "$PF_ERR"
    assert_jq "nothing created, no outcome failed" "$PF_OUTCOMES" \
        '[.[] | select(.data.status == "failed")] | length' 0
    assert_jq "no Graph request" "$REQS" \
        '[.requests[] | select(.path | startswith("/beta/"))] | length' 0
}

group "PKCS #12 with a password, told by content"
client_cert "$TMP/p12"
openssl pkcs12 -export -in "$TMP/p12/cert.pem" -inkey "$TMP/p12/key.pem" \
    -out "$TMP/p12/credential" -passout "pass:$PFX_PASS" \
    -keypbe AES-256-CBC -certpbe AES-256-CBC 2>/dev/null
printf '%s\n' "$PFX_PASS" >"$TMP/p12/password"
jq -n --arg c "$TMP/p12/cert.pem" \
    '{tenants: {"test-tenant": {clients: {"test-client":
        {certificate: $c}}}}}' >"$TMP/sim-p12.json"
sim_start --config "$TMP/sim-p12.json"
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_CLIENT_CERTIFICATE_PATH=$TMP/p12/credential"
    "AZURE_CLIENT_CERTIFICATE_PASSWORD=$PFX_PASS")
pf_send --log-level debug "$SEED_EVENTS"
sim_save p12
assert_rc "send exits 0" 0
assert_jq "four flows created" "$PF_OUTCOMES" '[.[].data.status]' \
    '["created","created","created","created"]'
assert_jq "one token, issued for the assertion" "$STATS" \
    '[.tokensIssued, .tokenErrors]' '[1,0]'
p12_out=("$PF_OUT" "$PF_ERR")

group "PKCS #12, the password from AZURE_CLIENT_CERTIFICATE_PASSWORD_FILE"
sim_post /_sim/reset
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_CLIENT_CERTIFICATE_PATH=$TMP/p12/credential"
    "AZURE_CLIENT_CERTIFICATE_PASSWORD_FILE=$TMP/p12/password")
pf_send "$SEED_EVENTS"
sim_save p12file
assert_rc "send exits 0" 0
assert_jq "four flows created" "$STATS" '.flowsCreated' 4

group "PKCS #12, a wrong password: exit 78 at start, naming the setting"
sim_post /_sim/reset
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_CLIENT_CERTIFICATE_PATH=$TMP/p12/credential"
    "AZURE_CLIENT_CERTIFICATE_PASSWORD=not-$PFX_PASS")
pf_send "$SEED_EVENTS"
assert_rc "send exits 78" 78
assert_grep "stderr names the setting and the reason" \
    'client-certificate-path \(AZURE_CLIENT_CERTIFICATE_PATH, with client-certificate-password\).*wrong password' \
    "$PF_ERR"
no_request p12wrong
assert_absent "the password is on no output" "$PFX_PASS" \
    "${p12_out[@]}" "$PF_OUT" "$PF_ERR"

group "PKCS #12 and a client secret together: exit 78 naming both"
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_CLIENT_CERTIFICATE_PATH=$TMP/p12/credential"
    "AZURE_CLIENT_SECRET=$SECRET_A")
pf_send "$SEED_EVENTS"
assert_rc "send exits 78" 78
assert_grep "stderr names both settings" \
    'client-secret.*and client-certificate-path.*both set' "$PF_ERR"
no_request conflict
sim_stop

group "subject name and issuer: x5c accepted, no thumbprint registered"
ca "$TMP/ca" "provflow test issuing CA"
ca "$TMP/other-ca" "some other CA"
leaf "$TMP/ca" "$TMP/sni"
leaf "$TMP/other-ca" "$TMP/sni-other"
jq -n --arg s "$SUBJECT_RFC2253" \
    '{tenants: {"test-tenant": {clients: {"test-client":
        {trustedCertificateSubjects: [$s]}}}}}' >"$TMP/sim-sni.json"
sim_start --config "$TMP/sim-sni.json" --trusted-ca "$TMP/ca/ca.pem"
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_CLIENT_CERTIFICATE_PATH=$TMP/sni/chain.pem"
    AZURE_CLIENT_SEND_CERTIFICATE_CHAIN=true)
pf_send "$SEED_EVENTS"
sim_save sni
assert_rc "send exits 0" 0
assert_jq "four flows created" "$PF_OUTCOMES" '[.[].data.status]' \
    '["created","created","created","created"]'
assert_jq "one token" "$STATS" '[.tokensIssued, .tokenErrors]' '[1,0]'

group "subject name and issuer: no x5c is refused"
sim_post /_sim/reset
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_CLIENT_CERTIFICATE_PATH=$TMP/sni/chain.pem")
pf_send "$SEED_EVENTS"
refused sni-nox5c AADSTS700027
assert_grep "the refusal says x5c is missing" "no 'x5c' header" "$PF_ERR"

group "subject name and issuer: the same subject from another CA is refused"
sim_post /_sim/reset
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_CLIENT_CERTIFICATE_PATH=$TMP/sni-other/chain.pem"
    AZURE_CLIENT_SEND_CERTIFICATE_CHAIN=1)
pf_send "$SEED_EVENTS"
refused sni-other AADSTS700027
assert_grep "the refusal says the chain is not trusted" \
    "chain is not trusted" "$PF_ERR"
sim_stop

# --- rotation --------------------------------------------------------------

life=4       # s, access tokens: a refresh every 2 s
latency=250  # ms per create
events=32    # one flow set, one at a time: about 8 s

# rotation_config FILE SECRET: test-tenant/test-client with SECRET only,
# short tokens and slow creates.
rotation_config() {
    jq -n --arg s "$2" --argjson life "$life" --argjson lat "$latency" \
        '{tenants: {"test-tenant": {clients: {"test-client": {secret: $s}}}},
          token: {expiresIn: $life},
          faults: {createFlow: {latencyMs: $lat}}}' >"$1"
}

# put_secrets SECRET...: the secrets the simulator's client accepts now.
put_secrets() {
    sim_put /_sim/clientSecrets "$(jq -nc '{tenant: "test-tenant",
        client: "test-client", secrets: $ARGS.positional}' --args "$@")"
}

# tokens_issued: the simulator's count so far.
tokens_issued() { sim_get /_sim/stats | jq .tokensIssued; }

# wait_tokens N: until N tokens were issued (at most 20 s).
wait_tokens() {
    local i
    for i in $(seq 800); do
        [ "$(tokens_issued 2>/dev/null || echo 0)" -ge "$1" ] && return 0
        sleep 0.025
    done
    : "$i"
    return 1
}

# Written aside and renamed over, as kubelet and most tools replace files.
write_secret() {
    printf '%s\n' "$2" >"$1.tmp"
    mv -f "$1.tmp" "$1"
}

for i in $(seq "$events"); do
    event "rotate-$i" "$(set_id 7)"
done >"$TMP/rotate.ndjson"

group "a rotated client secret file is used without a restart"
rotation_config "$TMP/sim-rotate.json" "$SECRET_A"
sim_start --config "$TMP/sim-rotate.json"
write_secret "$TMP/secret" "$SECRET_A"
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_CLIENT_SECRET_FILE=$TMP/secret")
(
    # The operator's rotation: add B to the application, move the file
    # to B, and once a token was issued after that, drop A.
    wait_tokens 1
    put_secrets "$SECRET_A" "$SECRET_B"
    write_secret "$TMP/secret" "$SECRET_B"
    wait_tokens $(($(tokens_issued) + 1))
    put_secrets "$SECRET_B"
    tokens_issued >"$TMP/at-drop"
) &
rotator=$!
pf_send --log-level debug --token-expiry-margin-ms 1000 "$TMP/rotate.ndjson"
rotator_rc=0
wait "$rotator" || rotator_rc=$?
sim_save rotate
assert_eq "the rotation ran to its end" 0 "$rotator_rc"
assert_rc "send exits 0" 0
assert_jq "every event created" "$PF_OUTCOMES" \
    '[.[].data.status] | [length, unique]' "[$events,[\"created\"]]"
assert_jq "every token request succeeded (none sent A after A was dropped)" \
    "$REQS" '[.requests[] | select(.path | endswith("/token")) | .status]
        | unique' '[200]'
assert_cmp "tokens issued after A was dropped (so with B)" \
    "$(($(jq .tokensIssued "$STATS") - $(cat "$TMP/at-drop" 2>/dev/null || echo 99)))" \
    -ge 1
assert_grep "the log says the file changed" \
    'secret.*changed; the next token request uses the new credential' \
    "$PF_ERR"
rotate_out=("$PF_OUT" "$PF_ERR" "$REQS" "$STATS" "$SIM_DIR/stdout" \
    "$SIM_DIR/stderr")
sim_stop

group "a rewrite stat() cannot see: invalid_client reads the file at once"
rotation_config "$TMP/sim-unseen.json" "$SECRET_A2"
sim_start --config "$TMP/sim-unseen.json"
write_secret "$TMP/secret" "$SECRET_A2"
(
    wait_tokens 1
    # In place, same length, modification time put back: stat() sees
    # nothing, so provflow keeps sending A2 until the endpoint refuses it.
    python3 - "$TMP/secret" "$SECRET_B2" <<'PY'
import os, sys
path, new = sys.argv[1], sys.argv[2] + "\n"
st = os.stat(path)
assert st.st_size == len(new)
with open(path, "r+") as f:
    f.write(new)
os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
PY
    put_secrets "$SECRET_B2"
) &
rotator=$!
pf_send --log-level debug --token-expiry-margin-ms 1000 \
    --token-systemic-retry-ms 60000 "$TMP/rotate.ndjson"
rotator_rc=0
wait "$rotator" || rotator_rc=$?
sim_save unseen
assert_eq "the rewrite ran" 0 "$rotator_rc"
assert_rc "send exits 0 (well before the 60 s systemic retry)" 0
assert_jq "every event created" "$PF_OUTCOMES" \
    '[.[].data.status] | [length, unique]' "[$events,[\"created\"]]"
assert_jq "one token request refused (401), the next ones issued" "$REQS" \
    '[.requests[] | select(.path | endswith("/token")) | .status]
        | [(map(select(. == 401)) | length), (index(401) as $i
            | .[$i + 1:] | length > 0 and all(. == 200))]' '[1,true]'
assert_grep "the log says the file changed" 'changed; the next token' \
    "$PF_ERR"
files=("${rotate_out[@]}" "$PF_OUT" "$PF_ERR" "$REQS" "$STATS" \
    "$SIM_DIR/stdout" "$SIM_DIR/stderr")
assert_absent "secret A on no output" "$SECRET_A" "${files[@]}"
assert_absent "secret B on no output" "$SECRET_B" "${files[@]}"
assert_absent "secret A2 on no output" "$SECRET_A2" "${files[@]}"
assert_absent "secret B2 on no output" "$SECRET_B2" "${files[@]}"
sim_stop

lib_finish
