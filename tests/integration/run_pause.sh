#!/usr/bin/env bash
# provflow run, case 4b: the broker goes away while provflow is paused by
# backpressure (--max-buffered 300, a backlog of 5,000 events, 10 ms per
# create, then Graph stalls), long enough for the group session to
# time out (provflow logs "partitions revoked"), and comes back: provflow
# must get its partitions again and finish the work.
# Found before commit d99dfc9: provflow resumed "consumption" while it
# held no partition (log: "resumed consumption" between "partitions
# revoked" and "partition assigned"), and the partitions assigned
# afterwards stayed paused in librdkafka (it keeps a revoked partition's
# pause flag): nothing more was consumed, /readyz still said ready.
#
# It restarts its broker, so it runs one of its own: ports
# PROVFLOW_BROKER_PORT + 4 and + 5, home PROVFLOW_BROKER_HOME-pause.
base=${PROVFLOW_BROKER_PORT:-29092}
export PROVFLOW_BROKER_PORT=$((base + 4)) PROVFLOW_BROKER_CONTROLLER_PORT=$((base + 5))
RUN_OWN_BROKER=pause
. "$(dirname "$0")/run_lib.sh"
run_init "$@"
N=5000

run_topics pause 6
sim_start --config "$(sim_config "$TMP/sim.json" '{"faults": {"createFlow": {"latencyMs": 10}}}')"
gen_workload "$N" 0
pf_run p --max-buffered 300 --log-level debug

group "the broker goes away while provflow is paused"
wait_done p 1000 60 || fail "provflow committed 1000 records" "$(pf_log_show p)"
# Graph stalls too, so that the revocation drops nearly all the work held
# (nothing completes and waits for the broker): provflow then falls below
# its resume mark at once. While creates complete provflow only stops
# taking records (librdkafka's queue waits); with nothing completing for
# a second it pauses the partitions.
sim_patch /_sim/faults '{"createFlow": {"latencyMs": 60000}}'
if wait_for 20 grep -q 'paused consumption' "${PF_LOG[p]}"; then
    pass "provflow pauses consumption (backpressure, nothing completes)"
else
    fail "provflow pauses consumption (backpressure, nothing completes)" "$(pf_log_show p)"
fi
"$KAFKA" stop 2>"$TMP/kafka-stop.err" || cat "$TMP/kafka-stop.err" >&2
if wait_for 30 grep -q 'partitions revoked' "${PF_LOG[p]}"; then
    pass "the group session timed out: partitions revoked"
else
    fail "the group session timed out: partitions revoked" "$(pf_log_show p)"
fi
if "$KAFKA" start >/dev/null 2>"$TMP/kafka-restart.err"; then
    pass "broker restarted"
else
    fail "broker restarted" "$(cat "$TMP/kafka-restart.err")"
fi
sim_patch /_sim/faults '{"createFlow": {"latencyMs": 10}}'

group "provflow resumes"
assigned_again() {
    # grep reads all of sed's output: with -q it would stop at the first
    # match and sed could die of SIGPIPE (a failure under pipefail).
    sed -n '/partitions revoked/,$p' "${PF_LOG[p]}" | grep '"partition assigned"' >/dev/null
}
if wait_for 60 assigned_again; then
    pass "partitions assigned again"
else
    fail "partitions assigned again" "$(pf_log_show p)"
fi
if wait_done p "$N" 60; then
    pass "all $N records committed after the restart"
else
    fail "all $N records committed after the restart (stalled at $(pf_committed p))" \
        "consumed: $(pf_metric p provflow_events_consumed_total), in flight: $(pf_metric p provflow_graph_requests_in_flight), ready: $(pf_metric p provflow_ready)" \
        "$(grep -E 'paused consumption|resumed consumption|partitions revoked|partition assigned' "${PF_LOG[p]}" | tail -n 6)"
fi
pf_stop p TERM 30
assert_eq "exit 0 after SIGTERM (${PF_STOP_MS} ms)" 0 "$PF_STOP_RC"
lib_finish
