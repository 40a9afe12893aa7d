#!/usr/bin/env bash
# provflow run, case 7b: creates that Graph applies after provflow gave up
# on them must not be made twice (docs/design.md, "The delivery argument").
# The simulator takes 3 s per create, and applies it even when the client
# has gone.
#  1. SIGTERM with --shutdown-grace-ms 1000 abandons creates still
#     waiting in the simulator; provflow restarts at once (the group hands
#     it the partitions at once: the first one left it) and re-processes
#     them: it lists each set first, but the abandoned create is not
#     applied yet, so the list is empty and it creates the flow again.
#  2. One instance, --http-timeout-ms 1500, 12 events: every create times
#     out on the client side and is retried; the retry lists the set before
#     the first create is applied, finds nothing and (without a settle
#     time) creates again. With --settle-ms 5000 each event takes 5 s or
#     more, so few events.
# Expected: no duplicate flow in Graph. provflow holds creates back for
# --settle-ms after an uncertain one (here 5 s > the simulator's 3 s), and
# a clean hand-off tells the next owner when its abandoned creates land.
. "$(dirname "$0")/run_lib.sh"
run_init "$@"
N=200
slow='{"faults": {"createFlow": {"latencyMs": 3000}}}'

group "1. SIGTERM abandons pending creates, immediate restart"
run_topics abandon 3
sim_start --config "$(sim_config "$TMP/sim.json" "$slow")"
gen_workload "$N" 0
pf_run ab --max-in-flight 32 --shutdown-grace-ms 1000 --settle-ms 5000
in_flight() { [ "$(pf_metric ab provflow_graph_requests_in_flight)" -gt 0 ]; }
wait_for 30 in_flight || fail "provflow has requests in flight" "$(pf_log_show ab)"
pf_stop ab TERM 30
assert_eq "exit 0 after SIGTERM (${PF_STOP_MS} ms)" 0 "$PF_STOP_RC"
pf_run ab --max-in-flight 32 --settle-ms 5000
if wait_done ab "$N" 120; then
    pass "all $N records committed after the restart"
else
    fail "all $N records committed after the restart" "$(pf_log_show ab)"
fi
sim_quiet 4 || fail "the simulator went quiet"
pf_stop ab TERM 30
assert_all_done atleast
echo "# duplicate outcome records: $DUPLICATES"

group "2. client timeout shorter than Graph's answer"
sim_stop
run_topics timeout 3
sim_start --config "$(sim_config "$TMP/sim.json" "$slow")"
gen_workload 12 0
pf_run to --max-in-flight 32 --http-timeout-ms 1500 --settle-ms 5000
if wait_done to 12 120; then
    pass "all 12 records committed"
else
    fail "all 12 records committed" "$(pf_log_show to)"
fi
sim_quiet 4 || fail "the simulator went quiet"
pf_stop to TERM 30
assert_all_done atleast
lib_finish
