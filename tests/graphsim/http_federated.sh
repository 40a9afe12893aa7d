#!/usr/bin/env bash
# Federated credentials (workload identity federation) at the token
# endpoint: a client trusts issuers (issuer, subject, audience, the issuer's
# keys as a PEM public key, a PEM certificate or a JWKS); tokens signed here
# with openssl (RS256 and PS256, shaped like Kubernetes service-account
# tokens) get access tokens, and every mismatch gets the identity
# platform's error (AADSTS70021, 700027, 700024, 50027).
. "$(dirname "$0")/lib.sh"

TENANT=8c3dad1d-b6bc-4f8b-939b-8263372eced6
WI=0b7e6f6c-3a55-4c2e-9d7a-5f0c7d1e2a01     # federated credentials only
BOTH=3f6c1d2e-8a4b-4e0f-b1c2-6d7e8f9a0b12   # a certificate and a federated one
ISS=https://oidc.cluster.example/7a1c3b5e/ # the trailing / matters
ISS_JWKS=https://token.actions.example
ISS_CERT=https://issuer-with-cert.example
SUB=system:serviceaccount:provflow:provflow
XAUD=api://AzureADTokenExchange

# Keys made for this run only: one issuer key as a PEM public key, one as
# a certificate, one published in a JWKS with a kid; a stranger's key; the
# certificate of client BOTH.
for k in iss jwks cert stranger both; do
    openssl genrsa -out "$TMP/$k.key" 2048 2>/dev/null
done
openssl pkey -in "$TMP/iss.key" -pubout -out "$TMP/iss.pub"
openssl req -x509 -new -key "$TMP/cert.key" -subj "/CN=issuer" -days 1 \
    -out "$TMP/cert.pem" 2>/dev/null
openssl req -x509 -new -key "$TMP/both.key" -subj "/CN=both" -days 1 \
    -out "$TMP/both.pem" 2>/dev/null
b64url() { basenc --base64url -w0 | tr -d '='; }
modulus=$(openssl rsa -in "$TMP/jwks.key" -noout -modulus | cut -d= -f2)
jq -n --arg n "$(printf '%s' "$modulus" | basenc --base16 -d | b64url)" \
    '{keys: [{kty: "EC", kid: "ec-1", crv: "P-256", x: "AA", y: "AA"},
             {kty: "RSA", use: "sig", alg: "RS256", kid: "key-2",
              n: $n, e: "AQAB"}]}' >"$TMP/jwks.json"

cat >"$TMP/config.json" <<JSON
{
  "tenants": {
    "$TENANT": {
      "clients": {
        "$WI": {"federated": [
          {"issuer": "$ISS", "subject": "$SUB", "audience": "$XAUD",
           "publicKey": "$TMP/iss.pub"},
          {"issuer": "$ISS_JWKS", "subject": "repo:org/provflow:ref:refs/heads/main",
           "audiences": ["$XAUD", "api://other"], "jwks": "$TMP/jwks.json"},
          {"issuer": "$ISS_CERT", "subject": "$SUB", "certificate": "$TMP/cert.pem"}
        ]},
        "$BOTH": {"certificate": "$TMP/both.pem",
                  "federated": {"issuer": "$ISS", "subject": "$SUB",
                                "publicKey": "$TMP/iss.pub"}}
      }
    }
  },
  "token": {"expiresIn": 1800}
}
JSON
start_sim federated --implicit-flow-sets --config "$TMP/config.json"

# jwt ALG HEADER_JSON CLAIMS_JSON KEY
jwt() {
    local h c sig
    h=$(printf '%s' "$2" | b64url)
    c=$(printf '%s' "$3" | b64url)
    if [ "$1" = PS256 ]; then
        sig=$(printf '%s.%s' "$h" "$c" | openssl dgst -sha256 -sign "$4" \
            -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest | b64url)
    else
        sig=$(printf '%s.%s' "$h" "$c" | openssl dgst -sha256 -sign "$4" | b64url)
    fi
    printf '%s.%s.%s' "$h" "$c" "$sig"
}

# sa_claims [iss] [sub] [aud JSON] [nbf offset] [exp offset]: a Kubernetes
# service-account token's claims (no jti; aud an array).
sa_claims() {
    local now
    now=$(date +%s)
    jq -nc --arg iss "${1:-$ISS}" --arg sub "${2:-$SUB}" \
        --argjson aud "${3:-[\"$XAUD\"]}" --argjson nbf $((now + ${4:-0})) \
        --argjson exp $((now + ${5:-3600})) \
        '{aud: $aud, exp: $exp, iat: $nbf, iss: $iss,
          "kubernetes.io": {namespace: "provflow",
                            serviceaccount: {name: "provflow", uid: "x"}},
          nbf: $nbf, sub: $sub}'
}
SA_HDR='{"alg":"RS256","kid":"k8s-key-1"}'

# assertion JWT [client]: a client-assertion token request.
assertion() {
    call POST "$URL/$TENANT/oauth2/v2.0/token" \
        -d grant_type=client_credentials -d "client_id=${2:-$WI}" \
        --data-urlencode scope=https://graph.microsoft.com/.default \
        -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
        --data-urlencode "client_assertion=$1"
}

expect_token() {
    expect_status 200 "${1:-token}"
    expect_jq .token_type Bearer
    expect_jq .expires_in 1800
    expect_jq '.access_token | startswith("gsim.")' true
    expect_header Cache-Control no-store
}

expect_aad() {
    expect_status "$1" "token error $3"
    expect_jq .error "$2"
    expect_jq ".error_description | startswith(\"AADSTS$3: \")" true
    expect_jq '.error_codes | length' 1
    expect_jq '.error_codes[0]' "$3"
    expect_jq ".trace_id" "$(header request-id)"
    expect_jq ".error_uri | endswith(\"error?code=$3\")" true
}

# --- accepted: each key source, RS256 and PS256, aud string or array
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims)" "$TMP/iss.key")"
expect_token "service-account token, PEM public key"
WI_TOKEN=$(jq -r .access_token "$BODY")
assertion "$(jwt PS256 '{"alg":"PS256","typ":"JWT"}' \
    "$(sa_claims "" "" "\"$XAUD\"")" "$TMP/iss.key")"
expect_token "PS256, aud a string"
assertion "$(jwt RS256 '{"alg":"RS256","kid":"key-2"}' \
    "$(sa_claims "$ISS_JWKS" repo:org/provflow:ref:refs/heads/main '"api://other"')" \
    "$TMP/jwks.key")"
expect_token "JWKS key picked by kid, second audience"
assertion "$(jwt RS256 '{"alg":"RS256"}' \
    "$(sa_claims "$ISS_JWKS" repo:org/provflow:ref:refs/heads/main)" "$TMP/jwks.key")"
expect_token "JWKS key, no kid in the header"
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims "$ISS_CERT")" "$TMP/cert.key")"
expect_token "issuer key from a certificate"
# within the clock skew (300 s): expired a minute ago, valid a minute ahead
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims "" "" "" -3600 -60)" "$TMP/iss.key")"
expect_token "expired within the skew"
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims "" "" "" 60 600)" "$TMP/iss.key")"
expect_token "not yet valid within the skew"
# nbf is optional
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims | jq -c 'del(.nbf)')" "$TMP/iss.key")"
expect_token "no nbf"
# the access token works at Graph
graph GET "$SETS_PATH" "$WI_TOKEN"
expect_status 200 "Graph with a federated client's token"

# --- no matching federated identity record: 400 invalid_request 70021
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims "${ISS%/}")" "$TMP/iss.key")"
expect_aad 400 invalid_request 70021
expect_jq '.error_description | contains("No matching federated identity record found for presented assertion. Assertion Issuer: '"'${ISS%/}'"'. Assertion Subject: '"'$SUB'"'. Assertion Audience: '"'$XAUD'"'.")' true
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims "" system:serviceaccount:default:other)" \
    "$TMP/iss.key")"
expect_aad 400 invalid_request 70021
expect_jq '.error_description | contains("Assertion Subject: '"'system:serviceaccount:default:other'"'")' true
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims "" "" '["api://Other", "https://x"]')" \
    "$TMP/iss.key")"
expect_aad 400 invalid_request 70021
expect_jq '.error_description | contains("Assertion Audience: '"'api://Other, https://x'"'")' true
# the subject of one record with the issuer of another
assertion "$(jwt RS256 '{"alg":"RS256"}' "$(sa_claims "$ISS_JWKS")" "$TMP/jwks.key")"
expect_aad 400 invalid_request 70021
# subjects match exactly (case included)
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims "" "${SUB^^}")" "$TMP/iss.key")"
expect_aad 400 invalid_request 70021

# --- signature: 401 invalid_client 700027
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims)" "$TMP/stranger.key")"
expect_aad 401 invalid_client 700027
expect_jq '.error_description | contains("signature validation")' true
assertion "$(jwt PS256 '{"alg":"RS256"}' "$(sa_claims)" "$TMP/iss.key")"
expect_aad 401 invalid_client 700027
assertion "$(jwt RS256 '{"alg":"RS256","kid":"no-such-key"}' \
    "$(sa_claims "$ISS_JWKS" repo:org/provflow:ref:refs/heads/main)" "$TMP/jwks.key")"
expect_aad 401 invalid_client 700027
expect_jq '.error_description | contains("no-such-key")' true
# a token from the issuer whose key is only in another record
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims "$ISS_CERT")" "$TMP/iss.key")"
expect_aad 401 invalid_client 700027

# --- lifetime: 401 invalid_client 700024
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims "" "" "" -7200 -3600)" "$TMP/iss.key")"
expect_aad 401 invalid_client 700024
expect_jq '.error_description | contains("not within its valid time range")' true
expect_jq '.error_description | contains("expiry time of assertion")' true
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims "" "" "" 900 3600)" "$TMP/iss.key")"
expect_aad 401 invalid_client 700024
expect_jq '.error_description | contains("valid from")' true
# the skew is the token settings' clockSkew: 0 makes a token expired a
# second ago fail
curl -sf -X PUT "$URL/_sim/token" -d '{"clockSkew": 0}' >/dev/null
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims "" "" "" -600 -1)" "$TMP/iss.key")"
expect_aad 401 invalid_client 700024
curl -sf -X PUT "$URL/_sim/token" -d '{"clockSkew": 300}' >/dev/null

# --- malformed: 401 invalid_client 50027
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims | jq -c 'del(.exp)')" "$TMP/iss.key")"
expect_aad 401 invalid_client 50027
expect_jq '.error_description | contains("exp")' true
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims | jq -c '.nbf = "now"')" "$TMP/iss.key")"
expect_aad 401 invalid_client 50027
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims | jq -c 'del(.sub)')" "$TMP/iss.key")"
expect_aad 401 invalid_client 50027
assertion "$(jwt RS256 '{"alg":"HS256"}' "$(sa_claims)" "$TMP/iss.key")"
expect_aad 401 invalid_client 50027
assertion "$(jwt RS256 '{"alg":"RS256","typ":"at+jwt"}' "$(sa_claims)" "$TMP/iss.key")"
expect_aad 401 invalid_client 50027
assertion "not.a.jwt"
expect_aad 401 invalid_client 50027
# a federated-only client has no secret
call POST "$URL/$TENANT/oauth2/v2.0/token" -d grant_type=client_credentials \
    -d "client_id=$WI" -d client_secret=guess \
    --data-urlencode scope=https://graph.microsoft.com/.default
expect_aad 401 invalid_client 7000215

# --- a client with a certificate and a federated credential: its own
# assertions (iss = client id) go to the certificate, others are federated
X5T=$(openssl x509 -in "$TMP/both.pem" -outform DER | openssl dgst -sha256 -binary | b64url)
now=$(date +%s)
own=$(jq -nc --arg c "$BOTH" --arg aud "$URL/$TENANT/oauth2/v2.0/token" \
    --argjson now "$now" --arg jti "$(cat /proc/sys/kernel/random/uuid)" \
    '{aud: $aud, iss: $c, sub: $c, jti: $jti, nbf: $now, iat: $now, exp: ($now + 600)}')
assertion "$(jwt PS256 "{\"alg\":\"PS256\",\"typ\":\"JWT\",\"x5t#S256\":\"$X5T\"}" \
    "$own" "$TMP/both.key")" "$BOTH"
expect_token "certificate assertion of a client that also has a federated credential"
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims)" "$TMP/iss.key")" "$BOTH"
expect_token "federated assertion of that client"
assertion "$(jwt RS256 "$SA_HDR" "$(sa_claims)" "$TMP/both.key")" "$BOTH"
expect_aad 401 invalid_client 700027

[ "$(stats .tokensIssued)" = 10 ] || fail "tokensIssued $(stats .tokensIssued)"
[ "$(stats .tokenErrors)" = 20 ] || fail "tokenErrors $(stats .tokenErrors)"
ok
stop_sim

# --- configuration errors: exit 78 with the reason
# bad_config NAME JSON_OF_THE_CLIENT REGEX
bad_config() {
    local rc=0
    printf '{"tenants": {"t": {"clients": {"c": %s}}}}\n' "$2" >"$TMP/bad.json"
    "$BIN" --listen 127.0.0.1:0 --config "$TMP/bad.json" \
        >/dev/null 2>"$TMP/bad.err" || rc=$?
    [ "$rc" = 78 ] || fail "$1: exit $rc, want 78"
    grep -Eq "$3" "$TMP/bad.err" || fail "$1: stderr '$(cat "$TMP/bad.err")' lacks /$3/"
    ok
}
bad_config "no keys" "{\"federated\": {\"issuer\": \"$ISS\", \"subject\": \"$SUB\"}}" \
    'needs the issuer.s keys'
bad_config "no issuer" "{\"federated\": {\"subject\": \"$SUB\", \"publicKey\": \"$TMP/iss.pub\"}}" \
    'issuer'
bad_config "unknown key" "{\"federated\": {\"issuer\": \"$ISS\", \"subject\": \"$SUB\", \"publicKey\": \"$TMP/iss.pub\", \"sub\": 1}}" \
    "unknown key 'sub'"
bad_config "missing key file" "{\"federated\": {\"issuer\": \"$ISS\", \"subject\": \"$SUB\", \"jwks\": \"$TMP/none.json\"}}" \
    'cannot open keys'
bad_config "a private key only" "{\"federated\": {\"issuer\": \"$ISS\", \"subject\": \"$SUB\", \"publicKey\": \"$TMP/iss.key\"}}" \
    'no RSA signing key'
bad_config "empty list" '{"federated": []}' 'non-empty array'
bad_config "empty audience" "{\"federated\": {\"issuer\": \"$ISS\", \"subject\": \"$SUB\", \"audience\": \"\", \"publicKey\": \"$TMP/iss.pub\"}}" \
    'audience'

# an inline JWKS object in the config, and a private key file next to the
# certificate (its PEM block is skipped)
cat "$TMP/cert.key" "$TMP/cert.pem" >"$TMP/cert+key.pem"
jq -n --arg iss "$ISS" --arg sub "$SUB" --slurpfile jwks "$TMP/jwks.json" \
    --arg ck "$TMP/cert+key.pem" \
    '{tenants: {"test-tenant": {clients: {"test-client": {federated: [
        {issuer: $iss, subject: $sub, jwks: $jwks[0]},
        {issuer: "https://c.example", subject: $sub, certificate: [$ck]}]}}}}}' \
    >"$TMP/inline.json"
start_sim inline --implicit-flow-sets --config "$TMP/inline.json"
call POST "$URL/test-tenant/oauth2/v2.0/token" -d grant_type=client_credentials \
    -d client_id=test-client --data-urlencode scope=https://graph.microsoft.com/.default \
    -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
    --data-urlencode "client_assertion=$(jwt RS256 '{"alg":"RS256","kid":"key-2"}' \
        "$(sa_claims)" "$TMP/jwks.key")"
expect_status 200 "inline JWKS"
call POST "$URL/test-tenant/oauth2/v2.0/token" -d grant_type=client_credentials \
    -d client_id=test-client --data-urlencode scope=https://graph.microsoft.com/.default \
    -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
    --data-urlencode "client_assertion=$(jwt RS256 "$SA_HDR" \
        "$(sa_claims https://c.example)" "$TMP/cert.key")"
expect_status 200 "certificate file with its private key"
stop_sim
done_ok
