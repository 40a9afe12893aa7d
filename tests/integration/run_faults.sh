#!/usr/bin/env bash
# provflow run, case 2 (at-least-once): PF_RUN_EVENTS (10,000) events on 12
# partitions, every valid one a distinct (flow set, flow type) keyed by its
# flowSetId, 2 % invalid of many kinds (not JSON, raw bytes, binary mode
# with bad ce_* headers, ...); the simulator throttles (429, Retry-After:
# 1), fails (500/503/504), drops connections before and after applying a
# create, fails token requests, and issues tokens for 4 s. With enough
# attempts nothing exhausts: every record has an outcome (valid: created or
# exists, subject = the one flow Graph holds), every invalid one a
# byte-identical dead letter with the provflow-* headers; Graph created no
# duplicate and exactly one flow per valid event; the group's offsets end
# at the end of every partition.
. "$(dirname "$0")/run_lib.sh"
run_init "$@"
N=${PF_RUN_EVENTS:-10000}

run_topics faults 12
sim_start --seed 2 --config "$(sim_config "$TMP/sim.json" "$SIM_FAULTS_JSON")"
gen_workload "$N"
t0=$(now_ms)
pf_run faults --max-in-flight 64

group "$N events under faults"
if wait_done faults "$N" 200; then
    pass "provflow committed all $N records ($(($(now_ms) - t0)) ms)"
else
    fail "provflow committed all $N records" "$(pf_log_show faults)"
fi
assert_all_done atleast
echo "# duplicate outcome records: $DUPLICATES (allowed: at-least-once)"

group "the faults were met"
assert_cmp "provflow retried" "$(pf_metric faults provflow_graph_retries_total)" -gt 0
assert_cmp "provflow was throttled" "$(pf_metric faults provflow_graph_throttled_total)" -gt 0
assert_cmp "tokens were refreshed" "$(pf_metric faults provflow_token_refreshes_total)" -ge 2
assert_jq "the simulator injected every fault" "$TMP/final.stats.json" \
    '[.faultsInjected[] > 0] | all' true
assert_jq "some creates were applied and their response dropped: exists" \
    "$TMP/outcomes.ndjson" '[.[] | select(.data.status == "exists")] | length > 0' true -s
assert_eq "provflow_dead_letters_total = the invalid events" \
    "$(jq '[.[] | select(.valid | not)] | length' "$EXPECT")" \
    "$(pf_metric faults provflow_dead_letters_total)"

pf_stop faults TERM 30
assert_eq "exit 0 after SIGTERM (${PF_STOP_MS} ms)" 0 "$PF_STOP_RC"
lib_finish
