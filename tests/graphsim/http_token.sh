#!/usr/bin/env bash
# The token endpoint over HTTP: client secret, client assertion (PS256 and
# RS256, signed here with openssl), and every error in the identity
# platform's shape.
. "$(dirname "$0")/lib.sh"

CLIENT=6731de76-14a6-49ae-97bc-6eba6914391e
TENANT=8c3dad1d-b6bc-4f8b-939b-8263372eced6

# A client certificate and a stranger's, generated for this run only.
for who in client stranger; do
    openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=$who" -days 1 \
        -keyout "$TMP/$who.key" -out "$TMP/$who.pem" 2>/dev/null
done
cat >"$TMP/config.json" <<JSON
{
  "tenants": {
    "$TENANT": {
      "clients": {
        "$CLIENT": {"certificate": "$TMP/client.pem"},
        "secret-client": {"secret": "s3cret"},
        "ungranted": {"secret": "x", "granted": false}
      }
    },
    "test-tenant": {"clients": {"test-client": {"secret": "test-secret"}}}
  },
  "token": {"expiresIn": 1800, "refreshIn": 900}
}
JSON
start_sim token --implicit-flow-sets --config "$TMP/config.json"

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
thumb() { openssl x509 -in "$1" -outform DER | openssl dgst "-$2" -binary | b64url; }
X5T256=$(thumb "$TMP/client.pem" sha256)
X5T1=$(thumb "$TMP/client.pem" sha1)
AUD="$URL/$TENANT/oauth2/v2.0/token"

# jwt ALG HEADER_JSON CLAIMS_JSON KEY [SALTLEN]
jwt() {
    local alg=$1 h c sig
    h=$(printf '%s' "$2" | b64url)
    c=$(printf '%s' "$3" | b64url)
    if [ "$alg" = PS256 ]; then
        sig=$(printf '%s.%s' "$h" "$c" | openssl dgst -sha256 -sign "$4" \
            -sigopt rsa_padding_mode:pss -sigopt "rsa_pss_saltlen:${5:-digest}" |
            b64url)
    else
        sig=$(printf '%s.%s' "$h" "$c" | openssl dgst -sha256 -sign "$4" | b64url)
    fi
    printf '%s.%s.%s' "$h" "$c" "$sig"
}

# claims [iss] [sub] [aud] [nbf offset] [exp offset] [jti]
claims() {
    local now
    now=$(date +%s)
    jq -nc --arg iss "${1:-$CLIENT}" --arg sub "${2:-$CLIENT}" \
        --arg aud "${3:-$AUD}" --argjson nbf $((now + ${4:-0})) \
        --argjson exp $((now + ${5:-600})) --arg jti "${6-$(cat /proc/sys/kernel/random/uuid)}" \
        '{aud: $aud, iss: $iss, sub: $sub, jti: $jti, nbf: $nbf, iat: $nbf, exp: $exp}
         | if $jti == "" then del(.jti) else . end'
}

hdr_s256() { printf '{"alg":"%s","typ":"JWT","x5t#S256":"%s"}' "$1" "${2:-$X5T256}"; }

# assertion JWT [tenant]: POST a client-assertion token request.
assertion() {
    call POST "$URL/${2:-$TENANT}/oauth2/v2.0/token" \
        -H "client-request-id: 5d1c1b0e-8c9a-4b5e-9f3a-000000000001" \
        -d grant_type=client_credentials -d "client_id=$CLIENT" \
        --data-urlencode scope=https://graph.microsoft.com/.default \
        -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
        --data-urlencode "client_assertion=$1"
}

expect_token() {
    expect_status 200 "token"
    expect_jq .token_type Bearer
    expect_jq .expires_in 1800
    expect_jq .ext_expires_in 1800
    expect_jq .refresh_in 900
    expect_jq '.access_token | length > 20' true
    expect_header Cache-Control no-store
}

# expect_aad STATUS ERROR CODE: the identity platform's error body.
expect_aad() {
    expect_status "$1" "token error $3"
    expect_jq .error "$2"
    expect_jq ".error_description | startswith(\"AADSTS$3: \")" true
    expect_jq '.error_codes | length' 1
    expect_jq '.error_codes[0]' "$3"
    expect_jq '.timestamp | test("^[0-9-]{10} [0-9:]{8}Z$")' true
    local rid
    rid=$(header request-id)
    expect_jq .trace_id "$rid"
    expect_jq '.correlation_id | length > 0' true
    expect_jq ".error_description | contains(\"Trace ID: $rid\")" true
}

# --- client assertion: accepted forms
assertion "$(jwt PS256 "$(hdr_s256 PS256)" "$(claims)" "$TMP/client.key")"
expect_token
expect_header client-request-id '^5d1c1b0e-8c9a-4b5e-9f3a-000000000001$'
expect_header request-id "$GUID_RE"
assertion "$(jwt RS256 "$(hdr_s256 RS256)" "$(claims)" "$TMP/client.key")"
expect_token
assertion "$(jwt PS256 "{\"alg\":\"PS256\",\"typ\":\"JWT\",\"x5t\":\"$X5T1\"}" \
    "$(claims)" "$TMP/client.key")"
expect_token
# the audience may also name the host the client used
LURL=${URL/127.0.0.1/localhost}
call POST "$LURL/$TENANT/oauth2/v2.0/token" \
    -d grant_type=client_credentials -d "client_id=$CLIENT" \
    --data-urlencode scope=https://graph.microsoft.com/.default \
    -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
    --data-urlencode "client_assertion=$(jwt PS256 "$(hdr_s256 PS256)" \
        "$(claims "" "" "$LURL/$TENANT/oauth2/v2.0/token")" "$TMP/client.key")"
expect_token

# --- client assertion: every rejection
assertion "$(jwt PS256 "$(hdr_s256 PS256)" "$(claims)" "$TMP/stranger.key")"
expect_aad 401 invalid_client 700027
expect_jq '.error_description | contains("invalid signature")' true
assertion "$(jwt PS256 "$(hdr_s256 PS256 "$(thumb "$TMP/stranger.pem" sha256)")" \
    "$(claims)" "$TMP/stranger.key")"
expect_aad 401 invalid_client 700027
expect_jq '.error_description | contains("not registered")' true
assertion "$(jwt PS256 "$(hdr_s256 PS256)" "$(claims)" "$TMP/client.key" max)"
expect_aad 401 invalid_client 700027
assertion "$(jwt PS256 '{"alg":"PS256","typ":"JWT"}' "$(claims)" "$TMP/client.key")"
expect_aad 401 invalid_client 700027
assertion "$(jwt PS256 "$(hdr_s256 HS256)" "$(claims)" "$TMP/client.key")"
expect_aad 401 invalid_client 50027
assertion "$(jwt PS256 "$(hdr_s256 PS256)" "$(claims other)" "$TMP/client.key")"
expect_aad 401 invalid_client 700021
assertion "$(jwt PS256 "$(hdr_s256 PS256)" "$(claims "" other)" "$TMP/client.key")"
expect_aad 401 invalid_client 700021
assertion "$(jwt PS256 "$(hdr_s256 PS256)" \
    "$(claims "" "" "https://login.microsoftonline.com/$TENANT/oauth2/v2.0/token")" \
    "$TMP/client.key")"
expect_aad 401 invalid_client 700023
assertion "$(jwt PS256 "$(hdr_s256 PS256)" "$(claims "" "" "" -1200 -600)" "$TMP/client.key")"
expect_aad 401 invalid_client 700024
expect_jq '.error_description | contains("expired")' true
assertion "$(jwt PS256 "$(hdr_s256 PS256)" "$(claims "" "" "" 900 1500)" "$TMP/client.key")"
expect_aad 401 invalid_client 700024
assertion "$(jwt PS256 "$(hdr_s256 PS256)" "$(claims "" "" "" 0 600 "")" "$TMP/client.key")"
expect_aad 401 invalid_client 50027
expect_jq '.error_description | contains("jti")' true
assertion "not-a-jwt"
expect_aad 401 invalid_client 50027
call POST "$URL/$TENANT/oauth2/v2.0/token" -d grant_type=client_credentials \
    -d "client_id=$CLIENT" --data-urlencode scope=https://graph.microsoft.com/.default \
    -d client_assertion_type=jwt --data-urlencode client_assertion=x.y.z
expect_aad 400 invalid_request 9002313
call POST "$URL/$TENANT/oauth2/v2.0/token" -d grant_type=client_credentials \
    -d "client_id=$CLIENT" --data-urlencode scope=https://graph.microsoft.com/.default \
    --data-urlencode client_assertion=x.y.z
expect_aad 400 invalid_request 900144

# --- client secret, both accepted scopes, and its errors
form() {
    call POST "$URL/${TN:-test-tenant}/oauth2/v2.0/token" "$@"
}
form -d grant_type=client_credentials -d client_id=test-client \
    -d client_secret=test-secret --data-urlencode "scope=$URL/.default"
expect_status 200 "own base URL scope"
form -d grant_type=client_credentials -d client_id=test-client \
    -d client_secret=wrong --data-urlencode scope=https://graph.microsoft.com/.default
expect_aad 401 invalid_client 7000215
expect_header WWW-Authenticate '^$'
form -d grant_type=client_credentials -d client_id=nobody \
    -d client_secret=x --data-urlencode scope=https://graph.microsoft.com/.default
expect_aad 400 unauthorized_client 700016
TN=no-such-tenant form -d grant_type=client_credentials -d client_id=test-client \
    -d client_secret=test-secret --data-urlencode scope=https://graph.microsoft.com/.default
expect_aad 400 invalid_request 90002
form -d grant_type=client_credentials -d client_id=test-client \
    -d client_secret=test-secret --data-urlencode scope=https://graph.microsoft.com/User.Read
expect_aad 400 invalid_scope 1002012
form -d grant_type=client_credentials -d client_id=test-client \
    -d client_secret=test-secret --data-urlencode scope=https://example.com/.default
expect_aad 400 invalid_resource 500011
form -d client_id=test-client -d client_secret=test-secret \
    --data-urlencode scope=https://graph.microsoft.com/.default
expect_aad 400 invalid_request 900144
expect_jq '.error_description | contains("grant_type")' true
form -d grant_type=password -d client_id=test-client -d client_secret=x \
    --data-urlencode scope=https://graph.microsoft.com/.default
expect_aad 400 unsupported_grant_type 70003
form -d grant_type=client_credentials -d client_secret=x \
    --data-urlencode scope=https://graph.microsoft.com/.default
expect_aad 400 invalid_request 900144
expect_jq '.error_description | contains("client_id")' true
form -d grant_type=client_credentials -d client_id=test-client -d client_secret=x
expect_aad 400 invalid_request 900144
expect_jq '.error_description | contains("scope")' true
form -d grant_type=client_credentials -d client_id=test-client \
    --data-urlencode scope=https://graph.microsoft.com/.default
expect_aad 401 invalid_client 7000218
form -d grant_type=client_credentials -d client_id=test-client \
    -d client_secret=test-secret -d client_assertion=x \
    --data-urlencode scope=https://graph.microsoft.com/.default
expect_aad 400 invalid_request 9002313
form -d grant_type=client_credentials -d grant_type=client_credentials
expect_aad 400 invalid_request 9002313
form -H 'Content-Type: application/json' \
    -d '{"grant_type":"client_credentials","client_id":"test-client"}'
expect_aad 400 invalid_request 900144
call GET "$URL/test-tenant/oauth2/v2.0/token"
expect_aad 400 invalid_request 900561

# --- counters, and a client without the application permission
[ "$(stats .tokensIssued)" = 5 ] || fail "tokensIssued $(stats .tokensIssued)"
[ "$(stats .tokenErrors)" = 28 ] || fail "tokenErrors $(stats .tokenErrors)"
ok
tok=$(TN=$TENANT token "$TENANT" ungranted x)
[ -n "$tok" ] && [ "$tok" != null ] || fail "no token for ungranted"
graph GET "$SETS_PATH" "$tok"
expect_graph_error 403 Authorization_RequestDenied

# --- secrets replaced at run time (a rotation), restored by a reset
secrets() {
    call PUT "$URL/_sim/clientSecrets" -H 'Content-Type: application/json' \
        -d "$1"
}
secrets '{"tenant":"test-tenant","client":"test-client",
    "secrets":["test-secret","next-s3cret"]}'
expect_status 200 "clientSecrets: old and new"
expect_jq '[.tenant, .client, .secrets] | @csv' '"test-tenant","test-client",2'
grep -q 'next-s3cret' "$BODY" && fail "the answer echoes a secret"
[ -n "$(token test-tenant test-client test-secret)" ] || fail "old refused"
[ -n "$(token test-tenant test-client next-s3cret)" ] || fail "new refused"
ok
secrets '{"tenant":"test-tenant","client":"test-client",
    "secrets":["next-s3cret"]}'
expect_status 200 "clientSecrets: new only"
form -d grant_type=client_credentials -d client_id=test-client \
    -d client_secret=test-secret --data-urlencode "scope=$URL/.default"
expect_aad 401 invalid_client 7000215
[ -n "$(token test-tenant test-client next-s3cret)" ] || fail "new refused"
ok
for bad in '{"tenant":"test-tenant","client":"nobody","secrets":["x"]}' \
    '{"tenant":"test-tenant","client":"test-client","secrets":"x"}' \
    '{"tenant":"test-tenant","client":"test-client","secrets":[""]}' \
    '{"client":"test-client","secrets":["x"]}'; do
    secrets "$bad"
    expect_status 400 "clientSecrets $bad"
done
call POST "$URL/_sim/reset"
expect_status 200 "reset"
[ -n "$(token test-tenant test-client test-secret)" ] ||
    fail "reset did not restore the startup secret"
[ -z "$(token test-tenant test-client next-s3cret)" ] ||
    fail "reset kept the replaced secret"
ok

stop_sim
done_ok
