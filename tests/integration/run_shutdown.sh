#!/usr/bin/env bash
# provflow run, case 7: SIGTERM during load, --shutdown-grace-ms 3000,
# --max-buffered 64 (the work held; a drain finishes what was sent and
# starts nothing new: the rest is left to the next owner).
#  1. Graph answers in ~250 ms: provflow drains and exits 0 before the
#     end of the grace period.
#  2. Graph answers in 4 s (longer than the grace): provflow abandons the
#     in-flight requests at the end of the grace period and exits 0 (1 s
#     allowed for committing, leaving the group and closing).
#  3. A second SIGTERM 0.1 s after the first: provflow exits at once
#     (observed: status 130, from _exit; the test requires only an exit
#     within 1.5 s, any status).
# After each stop the group's committed offsets never pass a record
# without an outcome; a last run finishes the work: every record has an
# outcome, Graph created no duplicate (the abandoned creates that Graph
# applied anyway come out as `exists`).
#
# Before each restart the test waits until the simulator has applied the
# creates a stopped provflow left waiting out its latency: a restarted
# provflow that lists the set while such a create is still pending finds
# nothing and creates the flow a second time (a limit of listing before
# re-sending, seen under the asan preset; reported, not tested here).
. "$(dirname "$0")/run_lib.sh"
run_init "$@"
N=2000
GRACE=3000
fast='{"createFlow": {"latencyMs": 200, "jitterMs": 100}}'
# Slower than the grace, faster than --http-timeout-ms (5 s).
slow='{"createFlow": {"latencyMs": 4000, "jitterMs": 500}}'

run_topics shutdown 6
sim_start --seed 7 --config "$(sim_config "$TMP/sim.json" "{\"faults\": $fast}")"
gen_workload "$N"

# load AT: waits until provflow has committed more than AT records and has
# Graph requests in flight.
load() {
    local at=$1
    wait_for 60 eval '[ "$(pf_committed sd)" -gt '"$at"' ] &&
        [ "$(pf_metric sd provflow_graph_requests_in_flight)" -gt 0 ]'
}
run_sd() {
    pf_run sd --max-in-flight 32 --max-buffered 64 --shutdown-grace-ms "$GRACE"
}

group "1. SIGTERM, Graph fast: drain and exit 0"
run_sd
load 200 || fail "provflow under load" "$(pf_log_show sd)"
pf_stop sd TERM 30
assert_eq "exit 0 after SIGTERM" 0 "$PF_STOP_RC"
assert_cmp "drained before the end of the grace period: ${PF_STOP_MS} ms" "$PF_STOP_MS" -lt "$GRACE"
assert_grep "logged the drain" '"msg":"stopping: draining' "${PF_LOG[sd]}"
assert_covered "after the first stop"

group "2. SIGTERM, Graph slower than the grace period: abandon, exit 0"
sim_patch /_sim/faults "$slow"
run_sd
in_flight() { [ "$(pf_metric sd provflow_graph_requests_in_flight)" -gt 0 ]; }
wait_for 30 in_flight || fail "provflow has requests in flight" "$(pf_log_show sd)"
pf_stop sd TERM 30
assert_eq "exit 0 after SIGTERM" 0 "$PF_STOP_RC"
assert_cmp "at the end of the grace period (+ 1 s): ${PF_STOP_MS} ms" "$PF_STOP_MS" -le $((GRACE + 1000))
assert_cmp "not before it: ${PF_STOP_MS} ms" "$PF_STOP_MS" -ge $((GRACE - 500))
assert_covered "after the second stop"
sim_quiet 5 || fail "the simulator applied the abandoned creates"

group "3. two SIGTERMs: exit at once"
run_sd
wait_for 30 in_flight || fail "provflow has requests in flight" "$(pf_log_show sd)"
pid=${PF_PID[sd]}
t0=$(now_ms)
kill -TERM "$pid"
sleep 0.1
pf_stop sd TERM 10
PF_STOP_MS=$(($(now_ms) - t0))
echo "# exit status after the second SIGTERM: $PF_STOP_RC (${PF_STOP_MS} ms after the first)"
assert_cmp "exits at once after the second SIGTERM: ${PF_STOP_MS} ms" "$PF_STOP_MS" -le 1500
assert_ne "it did exit (not killed by the test)" 124 "$PF_STOP_RC"
assert_covered "after the at-once exit"
sim_quiet 5 || fail "the simulator applied the abandoned creates"

group "4. a last run finishes the work"
sim_patch /_sim/faults '{"createFlow": {"latencyMs": 20}}'
run_sd
if wait_done sd "$N" 120; then
    pass "all $N records committed"
else
    fail "all $N records committed" "$(pf_log_show sd)"
fi
assert_all_done atleast
echo "# duplicate outcome records: $DUPLICATES (allowed: at-least-once)"
pf_stop sd TERM 30
assert_eq "exit 0 after SIGTERM (${PF_STOP_MS} ms)" 0 "$PF_STOP_RC"
lib_finish
