#!/usr/bin/env bash
# provflow run, case 1: the seed's four examples (tests/data/seed), keyed by
# flowSetId, on a 3-partition topic: exactly four `created` outcomes
# (type, subject = Graph's flow id, input coordinates), no dead letter,
# the group's committed offsets at the end of the topic, a clean SIGTERM.
# A consumer-only and a producer-only pass-through property reach only
# their client: no CONFWARN line in the log.
. "$(dirname "$0")/run_lib.sh"
run_init "$@"

run_topics seed 3
sim_start
gen_seed
pf_run seed -X session.timeout.ms=30000 -X linger.ms=10

group "four seed events"
if wait_done seed 4 60; then
    pass "provflow committed the four records"
else
    fail "provflow committed the four records" "$(pf_log_show seed)"
fi
assert_all_done exact
assert_jq "four created outcomes" "$TMP/outcomes.ndjson" \
    '[.[] | [.type, .data.status]] | unique + [length]' \
    '[["provflow.provisioningFlow.created","created"],4]' -s
assert_jq "subject = the flow id in Graph's response" "$TMP/outcomes.ndjson" \
    '[.[] | .subject == .data.flow.id] | all' true -s
assert_jq "source names the instance" "$TMP/outcomes.ndjson" \
    '[.[].source] | unique' '["urn:provflow:seed"]' -s
assert_jq "the four request ids" "$TMP/outcomes.ndjson" \
    '[.[].data.requestId] | sort' \
    "$(jq -sc '[.[].id] | sort' "$SEED_EVENTS")" -s
assert_jq "graph: 201, one attempt each" "$TMP/outcomes.ndjson" \
    '[.[].data.graph | [.httpStatus, .attempts]] | unique' '[[201,1]]' -s
assert_eq "no dead letter" 0 "$(grep -c '^@@END@@$' "$TMP/dlq.dump" || true)"

group "metrics"
assert_eq "provflow_partition_lag: 0 on every partition" 0 \
    "$(pf_metric seed provflow_partition_lag)"
assert_eq "provflow_outcomes_total{status=\"created\"} = 4" 4 \
    "$(pf_metric seed 'provflow_outcomes_total\{status="created"')"
assert_eq "provflow_dead_letters_total = 0" 0 \
    "$(pf_metric seed provflow_dead_letters_total)"
assert_eq "/readyz: 200" 200 "$(pf_ready_status seed)"

group "SIGTERM"
pf_stop seed TERM 30
assert_eq "exit 0 after SIGTERM (${PF_STOP_MS} ms)" 0 "$PF_STOP_RC"
assert_grep "logged its stop" '"msg":"stopped"' "${PF_LOG[seed]}"
assert_absent "no CONFWARN: each property reached only its client" \
    CONFWARN "${PF_LOG[seed]}"
lib_finish
