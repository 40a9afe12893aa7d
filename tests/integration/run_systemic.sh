#!/usr/bin/env bash
# provflow run, case 6: a wrong client secret is systemic, not the events'
# fault: with 300 valid events waiting, provflow produces no outcome and no
# dead letter, commits nothing, answers /readyz 503 with the token check
# not ok (invalid_client), retries the token slowly and keeps running. Then
# the simulator accepts the secret and work resumes: every event created,
# /readyz 200.
#
# The simulator's control API cannot change a client's secret at run time
# (/_sim/faults, token, rateLimit, tokens/expire, tokens/revoke, reset:
# nothing about clients), so the test restarts it on the same port with a
# configuration whose client has provflow's secret.
. "$(dirname "$0")/run_lib.sh"
run_init "$@"
N=300
SECRET="not-the-sim-secret-$RUN_ID"
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    AZURE_CLIENT_SECRET="$SECRET")

run_topics systemic 3
sim_start
port=$(cat "$SIM_DIR/port")
url=$SIM_URL
gen_workload "$N" 0
pf_run sys

group "wrong client secret"
not_ready() {
    pf_get sys /readyz >"$TMP/readyz.json" 2>/dev/null
    [ "$(pf_ready_status sys)" = 503 ] &&
        jq -e '.checks[] | select(.name == "token") | .ok == false' "$TMP/readyz.json" >/dev/null
}
if wait_for 30 not_ready; then
    pass "/readyz answers 503"
else
    fail "/readyz answers 503 with the token check not ok" "$(cat "$TMP/readyz.json")"
fi
assert_jq "/readyz: not ready, the token check says invalid_client" "$TMP/readyz.json" \
    '[.ready, (.checks[] | select(.name == "token") | .ok, (.reason | test("invalid_client")))]' \
    '[false,false,true]'
# Let it retry for a while: at least 4 token requests refused.
t0=$(now_ms)
token_errors() { sim_get /_sim/stats | jq .tokenErrors; }
if wait_for 30 eval '[ "$(token_errors)" -ge 4 ]'; then
    pass "provflow retries the token ($(token_errors) refused)"
else
    fail "provflow retries the token" "tokenErrors: $(token_errors)"
fi
secs=$((($(now_ms) - t0) / 1000 + 1))
# --token-systemic-retry-ms 1000: about one token request a second.
assert_cmp "slowly: token requests in ${secs}+ s" "$(token_errors)" -le $((secs + 4))
assert_eq "no Graph request" 0 "$(sim_get /_sim/stats | jq '[.byStatus | to_entries[] | select(.key != "401" and .key != "400")] | length')"
if pid_alive "${PF_PID[sys]}"; then
    pass "provflow keeps running"
else
    fail "provflow keeps running" "$(pf_log_show sys)"
fi
topic_dump "$OUT" "$TMP/out.early.dump"
topic_dump "$DLQ" "$TMP/dlq.early.dump"
assert_eq "no outcome record (none failed)" 0 "$(grep -c '^@@END@@$' "$TMP/out.early.dump" || true)"
assert_eq "no dead letter" 0 "$(grep -c '^@@END@@$' "$TMP/dlq.early.dump" || true)"
assert_eq "nothing committed" 0 "$(pf_committed sys)"
assert_eq "provflow_ready 0" 0 "$(pf_metric sys provflow_ready)"

group "the simulator accepts the secret (restarted on port $port)"
sim_stop
sim_start --listen "127.0.0.1:$port" --config "$(sim_config "$TMP/sim2.json" "$(jq -n --arg s "$SECRET" \
    '{tenants: {"test-tenant": {clients: {"test-client": {secret: $s}}}}}')")"
assert_eq "same URL" "$url" "$SIM_URL"
t0=$(now_ms)
if wait_done sys "$N" 90; then
    pass "work resumes: all $N records committed ($(($(now_ms) - t0)) ms)"
else
    fail "work resumes: all $N records committed" "$(pf_log_show sys)"
fi
if wait_for 30 eval '[ "$(pf_ready_status sys)" = 200 ]'; then
    pass "/readyz answers 200"
else
    fail "/readyz answers 200" "$(pf_get sys /readyz)"
fi
assert_all_done atleast
assert_jq "every event created" "$TMP/outcomes.ndjson" '[.[].data.status] | unique' '["created"]' -s
echo "# duplicate outcome records: $DUPLICATES"
assert_absent "the secret is not in provflow's log" "$SECRET" "${PF_LOG[sys]}"
assert_grep "logged the systemic pause" 'pausing consumption|not ready: token' "${PF_LOG[sys]}"

pf_stop sys TERM 30
assert_eq "exit 0 after SIGTERM (${PF_STOP_MS} ms)" 0 "$PF_STOP_RC"
lib_finish
