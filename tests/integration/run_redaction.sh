#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq programs in single quotes
# provflow run, redaction: every kind of secret through every output path.
# Searched: provflow's stderr and stdout (every run), the outcome topic,
# the dead-letter topic's headers (its value is the input record,
# unchanged by design), /metrics and /readyz bodies, the simulator's
# /_sim/requests and /_sim/stats. Secrets: (a) a client secret in the
# environment and in a file while a setting is invalid (exit 78); (b) a
# wrong client secret the simulator refuses (AADSTS7000215); (c) inline
# passwords of a second user flow of a set (which the new group's check
# finds: exists) and of an invalid event;
# (d) a Kafka sasl.password under --log-level debug -X debug=all; (e)
# access tokens (the simulator's shape "gsim." + base64url); (f) the
# private key of a certificate credential; (g) a password that Graph's
# 400 quotes back in every encoding (echo_server.py), searched in all its
# forms in the outcome and the dead letter's headers, which must hold no
# raw control character either. Each search must find nothing in output
# that is not empty.
. "$(dirname "$0")/run_lib.sh"
. "$(dirname "$0")/echo_lib.sh"
run_init "$@"

good=cs-good-$(openssl rand -hex 16)
wrong=cs-wrong-$(openssl rand -hex 16)
envsec=cs-env-$(openssl rand -hex 16)
filesec=cs-file-$(openssl rand -hex 16)
kafkapw=kpw-$(openssl rand -hex 16)
pw_created=PwCreated-$(openssl rand -hex 8)
pw_rejected=PwRejected-$(openssl rand -hex 8)
pw_invalid=PwInvalid-$(openssl rand -hex 8)
client_cert "$TMP/cert"
jq -n --arg s "$good" --arg c "$TMP/cert/cert.pem" '{tenants: {
    "test-tenant": {clients: {"test-client": {secret: $s, certificate: $c}}}}}' \
    >"$TMP/sim.json"
sim_start --config "$TMP/sim.json" --duplicates reject

user_event() { # ID SET PASSWORD [EXTRA-FLOW-MEMBERS]
    jq -nc --arg id "$1" --arg set "$2" --arg p "$3" --argjson extra "${4:-{\}}" '{
        specversion: "1.0", id: $id, source: "urn:test",
        type: "provflow.provisioningFlow.create",
        data: {flowSetId: $set, flowType: "user", flow: ({
            managementOptions: {additionalOptions: {studentAgeGroup: "minor"}},
            creationOptions: {configurations: [{roleGroupId: "staff",
                defaultPasswordSettings: {password: $p},
                licenseSkus: ["Sku1"]}]}} + $extra)}}'
}
produce() { # KEY JSON
    printf '%s\t%s\n' "$1" "$2" | kcat -P -b "$RUN_BROKERS" -t "$IN" -K $'\t'
}
# dump_all NAME: the outcome values, the dead letters' headers, /metrics
# and /readyz of instance NAME into $TMP/out-NAME.*.
dump_all() {
    timeout 60 kcat -C -b "$RUN_BROKERS" -t "$OUT" -o beginning -e -q \
        -f '%k %s\n%h\n' >"$TMP/out-$1.outcomes" 2>/dev/null || true
    timeout 60 kcat -C -b "$RUN_BROKERS" -t "$DLQ" -o beginning -e -q \
        -f '%k %h\n' >"$TMP/out-$1.dlqheaders" 2>/dev/null || true
    pf_get "$1" /metrics >"$TMP/out-$1.metrics" 2>/dev/null || true
    pf_get "$1" /readyz >"$TMP/out-$1.readyz" 2>/dev/null || true
}

group "(c, d, e) a run: created, existing (a second user flow in the set, found by the new group's check) and invalid user flows with passwords; debug logging; a Kafka password"
run_topics main 1
set1=$(set_id 1)
produce "$set1" "$(user_event redact-created "$set1" "$pw_created")"
produce "$set1" "$(user_event redact-rejected "$set1" "$pw_rejected")"
produce "$(set_id 2)" "$(user_event redact-invalid "$(set_id 2)" "$pw_invalid" '{"bogusProperty": true}')"
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_CLIENT_SECRET=$good")
pf_run main --log-level debug -X debug=all -X "sasl.password=$kafkapw"
wait_done main 3 60 || fail "provflow committed the three records" "$(pf_log_show main)"
dump_all main
pf_stop main TERM 30
assert_eq "exit 0 after SIGTERM" 0 "$PF_STOP_RC"
timeout 60 kcat -C -b "$RUN_BROKERS" -t "$OUT" -o beginning -e -q -f '%s\n' | jq -c '[.data.requestId, .data.status, .data.error.code, .data.error.graphError.code]' 2>/dev/null |
    sort >"$TMP/statuses"
assert_eq "outcomes as planned" \
    '["redact-created","created",null,null] ["redact-invalid","failed","invalid_event",null] ["redact-rejected","exists",null,null]' \
    "$(tr '\n' ' ' <"$TMP/statuses" | sed 's/ $//')"
assert_cmp "debug log lines from librdkafka" \
    "$(grep -c '"msg":"librdkafka' "${PF_LOG[main]}" || true)" -ge 20
assert_grep "the outcomes show the password as ***" '"password":"\*\*\*"' "$TMP/out-main.outcomes"
assert_eq "one dead letter (invalid)" 1 "$(grep -c provflow-error-code "$TMP/out-main.dlqheaders" || true)"

group "(b) a wrong client secret (the simulator refuses it)"
run_topics wrong 1
produce "$(set_id 3)" "$(user_event redact-wrong "$(set_id 3)" "$pw_created")"
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_CLIENT_SECRET=$wrong")
pf_run wrong --log-level debug
if wait_for 30 eval '[ "$(pf_metric wrong "provflow_token_failures_total\\{")" -ge 1 ]'; then
    pass "the token request failed"
else
    fail "the token request failed" "$(pf_log_show wrong)"
fi
sleep 1
dump_all wrong
assert_eq "/readyz 503 with the wrong secret" 503 "$(pf_ready_status wrong)"
assert_grep "/readyz names the token check" '"token"' "$TMP/out-wrong.readyz"
pf_stop wrong TERM 30
assert_grep "provflow logged the refusal (AADSTS)" 'AADSTS|invalid_client' "${PF_LOG[wrong]}"

group "(f) a certificate credential"
run_topics cert 1
produce "$(set_id 4)" "$(user_event redact-cert "$(set_id 4)" "$pw_created")"
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_CLIENT_CERTIFICATE_PATH=$TMP/cert/client.pem")
pf_run cert --log-level debug
wait_done cert 1 60 || fail "provflow committed the certificate run's record" "$(pf_log_show cert)"
dump_all cert
pf_stop cert TERM 30
assert_grep "created with the certificate" '"status":"created"' "$TMP/out-cert.outcomes"

group "(a) configuration errors while a secret is set"
printf '%s\n' "$filesec" >"$TMP/client-secret"
chmod 600 "$TMP/client-secret"
cfgrun() { # NAME ENV... -- OPTIONS...
    local name=$1 envs=()
    shift
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    local rc=0
    env AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client "${envs[@]}" \
        timeout 30 "$PF_BIN" run --brokers "$RUN_BROKERS" --graph-root "$SIM_URL" \
        --authority-host "$SIM_URL" --allow-http --admin-listen 127.0.0.1:0 \
        --input-topic "$IN" --group-id "$GROUP" "$@" \
        >"$TMP/cfg-$name.stdout" 2>"$TMP/cfg-$name.log" || rc=$?
    assert_eq "$name: exit 78" 78 "$rc"
}
cfgrun env "AZURE_CLIENT_SECRET=$envsec" -- --max-in-flight abc
cfgrun file -- --client-secret "$TMP/client-secret" --max-in-flight abc
cfgrun filevar "AZURE_CLIENT_SECRET_FILE=$TMP/client-secret" -- --max-in-flight abc
cfgrun envdebug "AZURE_CLIENT_SECRET=$envsec" -- --log-level debug -X "sasl.password=$kafkapw" --max-in-flight -3
cat "$TMP"/cfg-*.log | sed 's/^/# /' | head -8
assert_grep "the error names the setting" 'max-in-flight' "$TMP/cfg-env.log"

group "(g) Graph answers 400 quoting the request body: outcome and dead letter"
pw_echo="$(openssl rand -hex 8)-PwEcho \"q\"/+&é"
secret_forms "$pw_echo" "$good" >"$TMP/forms-echo"
sim_saved=("$SIM_PID" "$SIM_URL" "$SIM_DIR")
echo_start --token ok
run_topics echo 1
produce "$(set_id 5)" "$(user_event redact-echo "$(set_id 5)" "$pw_echo")"
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_CLIENT_SECRET=$good")
pf_run echo --log-level debug
wait_done echo 1 60 || fail "provflow committed the echo run's record" "$(pf_log_show echo)"
dump_all echo
pf_stop echo TERM 30
sim_stop
SIM_PID=${sim_saved[0]} SIM_URL=${sim_saved[1]} SIM_DIR=${sim_saved[2]}
assert_grep "(g) rejected, Graph's quote of the body kept with the password masked" \
    '"graphError":\{"code":"BadRequest","message":"Invalid request body: .*password.{1,12}\*\*\*' \
    "$TMP/out-echo.outcomes"
assert_grep "(g) the dead letter carries Graph's message" \
    'provflow-error-message=BadRequest: Invalid request body' \
    "$TMP/out-echo.dlqheaders"
assert_no_secret "(g) the password in any form: outcome, dead letter, log" \
    "$TMP/forms-echo" "$TMP/out-echo.outcomes" "$TMP/out-echo.dlqheaders" \
    "${PF_LOG[echo]}"
if LC_ALL=C grep -q $'\x1b\\|\a\\|\r' "$TMP/out-echo.dlqheaders"; then
    fail "(g) no ESC, BEL or CR in the dead letter's headers" \
        "$(LC_ALL=C cat -v "$TMP/out-echo.dlqheaders" | head -n 3)"
else
    pass "(g) no ESC, BEL or CR in the dead letter's headers"
fi

group "the searches"
sim_get /_sim/requests >"$TMP/sim.requests"
sim_get /_sim/stats >"$TMP/sim.stats"
probe=$(sim_curl -d grant_type=client_credentials -d client_id=test-client \
    --data-urlencode "client_secret=$good" \
    --data-urlencode "scope=$SIM_URL/.default" \
    /test-tenant/oauth2/v2.0/token | jq -r .access_token)
token_re='gsim\.[A-Za-z0-9_-]{20,}'
if grep -Eqx -- "$token_re" <<<"$probe"; then
    pass "the token pattern matches a token the simulator issues ($((${#probe})) chars)"
else
    fail "the token pattern matches a token the simulator issues" "token: $probe"
fi
mapfile -t files < <(ls "$TMP"/*.log "$TMP"/*.log.stdout "$TMP"/cfg-* "$TMP"/out-* \
    "$TMP/sim.requests" "$TMP/sim.stats")
total=$(cat "${files[@]}" | wc -c)
assert_cmp "output searched (${#files[@]} files, bytes)" "$total" -gt 20000
for f in "${files[@]}"; do
    # stdout, and the wrong-secret run's topics (it pauses: no outcome),
    # may be empty.
    [ -s "$f" ] || [[ $f == *.stdout ]] || [[ $f == *dlqheaders ]] ||
        [[ $f == */out-wrong.outcomes ]] ||
        fail "$(basename "$f") is not empty"
done
assert_absent "(a) client secret from the environment" "$envsec" "${files[@]}"
assert_absent "(a) client secret from a file" "$filesec" "${files[@]}"
assert_absent "(b) the wrong client secret" "$wrong" "${files[@]}"
assert_absent "the good client secret" "$good" "${files[@]}"
assert_absent "(c) password of the created flow" "$pw_created" "${files[@]}"
assert_absent "(c) password of the rejected flow" "$pw_rejected" "${files[@]}"
assert_absent "(c) password of the invalid event" "$pw_invalid" "${files[@]}"
assert_absent "(g) password Graph quoted" "${pw_echo:0:16}" "${files[@]}"
assert_grep "(d) librdkafka's config dump shows sasl.password, redacted" \
    'sasl\.password = \*\*\*' "${PF_LOG[main]}"
assert_absent "(d) Kafka sasl.password" "$kafkapw" "${files[@]}"
assert_absent_re "(e) access tokens (gsim.*)" "$token_re" "${files[@]}"
assert_absent_re "(e) JWTs (client assertions)" 'eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}' "${files[@]}"
key_lines=0
while IFS= read -r line; do
    [ ${#line} -ge 40 ] || continue
    key_lines=$((key_lines + 1))
    if grep -qF -- "$line" "${files[@]}"; then
        fail "(f) private key material" "a line of the key is in the output: $line"
        key_lines=-1
        break
    fi
done < <(grep -v -- '-----' "$TMP/cert/key.pem")
if [ "$key_lines" -gt 10 ]; then
    pass "(f) private key material ($key_lines key lines searched)"
elif [ "$key_lines" -ge 0 ]; then
    fail "(f) private key material" "only $key_lines key lines to search"
fi
lib_finish
