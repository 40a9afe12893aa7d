#!/usr/bin/env bash
# provflow run, case 5: two instances (--instance a and b, one --group-id)
# share the 12 partitions: both get assignments; the workload (6,000
# events, 20 ms Graph latency, 2 % of creates applied with the response
# dropped) starts; b stops on SIGTERM mid-run (exit 0) and a takes its
# partitions over; nothing is lost, Graph created no duplicate.
. "$(dirname "$0")/run_lib.sh"
run_init "$@"
N=6000

run_topics group 12
sim_start --seed 5 --config "$(sim_config "$TMP/sim.json" '{
  "faults": {"createFlow": {"latencyMs": 20, "jitterMs": 10, "pDropAfterApply": 0.02}}
}')"
pf_run a --max-in-flight 8
pf_run b --max-in-flight 8

group "two instances share the partitions"
all=$(seq -s ' ' 0 11)
both_assigned() {
    [ -n "$(pf_assigned a)" ] && [ -n "$(pf_assigned b)" ] &&
        [ "$(printf '%s\n' $(pf_assigned a) $(pf_assigned b) | sort -n | tr '\n' ' ' | sed 's/ $//')" = "$all" ]
}
if wait_for 60 both_assigned; then
    pass "a holds [$(pf_assigned a)], b holds [$(pf_assigned b)]: all 12, disjoint"
else
    fail "both instances get partitions, all 12 between them" \
        "a: [$(pf_assigned a)] b: [$(pf_assigned b)]" "$(pf_log_show a)" "$(pf_log_show b)"
fi
gen_workload "$N"
t0=$(now_ms)
both() { echo $(($(pf_committed a) + $(pf_committed b))); }
if wait_for 120 eval '[ "$(both)" -ge $((N * 4 / 10)) ]'; then
    pass "both work: $(both) of $N records committed"
else
    fail "40 % of the records committed" "committed: $(both)"
fi
assert_cmp "a consumed records" "$(pf_metric a provflow_events_consumed_total)" -gt 0
assert_cmp "b consumed records" "$(pf_metric b provflow_events_consumed_total)" -gt 0

group "b stops (SIGTERM) mid-run, a takes over"
b_parts=$(pf_assigned b)
pf_stop b TERM 30
assert_eq "b exits 0 after SIGTERM (${PF_STOP_MS} ms)" 0 "$PF_STOP_RC"
assert_grep "b logged its stop" '"msg":"stopped"' "${PF_LOG[b]}"
if wait_for 60 eval '[ "$(pf_assigned a)" = "$all" ]'; then
    pass "a holds all 12 partitions (b had [$b_parts])"
else
    fail "a holds all 12 partitions" "a: [$(pf_assigned a)]" "$(pf_log_show a)"
fi
if wait_done a "$N" 200; then
    pass "all $N records committed ($(($(now_ms) - t0)) ms)"
else
    fail "all $N records committed" "$(pf_log_show a)"
fi
assert_all_done atleast
echo "# duplicate outcome records: $DUPLICATES (allowed: at-least-once)"
assert_jq "outcomes from both instances" "$TMP/outcomes.ndjson" \
    '[.[].source] | unique' '["urn:provflow:a","urn:provflow:b"]' -s

pf_stop a TERM 30
assert_eq "a exits 0 after SIGTERM (${PF_STOP_MS} ms)" 0 "$PF_STOP_RC"
lib_finish
