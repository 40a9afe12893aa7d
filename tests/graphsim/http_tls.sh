#!/usr/bin/env bash
# HTTPS: a test CA and a server certificate made here with openssl (no
# committed keys); the token endpoint and a create over TLS; clients that do
# not trust the CA, or speak plain HTTP, get nothing; bad TLS material stops
# the start with exit code 70.
. "$(dirname "$0")/lib.sh"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=graphsim test CA" \
    -keyout "$TMP/ca.key" -out "$TMP/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$TMP/server.key" -out "$TMP/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$TMP/san.ext"
openssl x509 -req -in "$TMP/server.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
    -CAcreateserial -days 1 -extfile "$TMP/san.ext" -out "$TMP/server.pem" 2>/dev/null

start_sim tls --implicit-flow-sets --tls-cert "$TMP/server.pem" --tls-key "$TMP/server.key"
case $URL in https://127.0.0.1:*) ok ;; *) fail "TLS URL '$URL'" ;; esac

call POST "$URL/test-tenant/oauth2/v2.0/token" --cacert "$TMP/ca.pem" \
    -d grant_type=client_credentials -d client_id=test-client -d client_secret=test-secret \
    --data-urlencode "scope=$URL/.default"
expect_status 200 "token over TLS"
TOK=$(jq -r .access_token "$BODY")
create "$TOK" "$SET" "$DATA/seed-class-group.json" --cacert "$TMP/ca.pem"
expect_status 201 "create over TLS"
expect_jq '."@odata.context" | startswith("https://127.0.0.1:")' true
call GET "$URL/_sim/stats" --cacert "$TMP/ca.pem"
expect_jq .flowsCreated 1

# a client that does not trust the test CA
call GET "$URL/_sim/stats"
[ "$CURL_RC" = 60 ] || fail "untrusted CA: curl exit $CURL_RC, want 60"
ok
# plain HTTP to the TLS port gets no HTTP answer
call GET "${URL/https:/http:}/_sim/stats" --max-time 5
[ "$STATUS" = 000 ] || fail "plain HTTP answered $STATUS"
ok
stop_sim

# a key that does not match the certificate, and a missing key
rc=0
"$BIN" --listen 127.0.0.1:0 --tls-cert "$TMP/server.pem" --tls-key "$TMP/ca.key" \
    >/dev/null 2>"$TMP/err" || rc=$?
[ "$rc" = 70 ] || fail "mismatched key: exit $rc, want 70"
ok
rc=0
"$BIN" --listen 127.0.0.1:0 --tls-cert "$TMP/server.pem" >/dev/null 2>"$TMP/err" || rc=$?
[ "$rc" = 70 ] && grep -q -- --tls-key "$TMP/err" || fail "cert without key: exit $rc"
ok
rc=0
"$BIN" --listen 127.0.0.1:0 --bogus >/dev/null 2>&1 || rc=$?
[ "$rc" = 64 ] || fail "unknown flag: exit $rc, want 64"
ok
rc=0
echo '{"tenants": 3}' >"$TMP/bad.json"
"$BIN" --listen 127.0.0.1:0 --config "$TMP/bad.json" >/dev/null 2>&1 || rc=$?
[ "$rc" = 78 ] || fail "bad config: exit $rc, want 78"
ok
done_ok
