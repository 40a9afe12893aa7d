#!/usr/bin/env bash
# provflow run, case 4 (at-least-once): the case-2 workload (PF_RUN_EVENTS,
# 10,000 events, same faults) with provflow killed (SIGKILL) three times at
# random moments and restarted each time, and the broker restarted
# (scripts/kafka stop + start, same home) once while provflow runs.
# Afterwards nothing is lost (every record has an outcome, every invalid
# one its dead letter), Graph created no duplicate and one flow per valid
# event, the group's offsets are at the end. Duplicate outcome records are
# allowed (at-least-once): counted and printed.
#
# It restarts its broker, so it runs one of its own (not the fixture's,
# which the other tests use at the same time): ports PROVFLOW_BROKER_PORT
# + 2 and + 3, home PROVFLOW_BROKER_HOME-crash.
base=${PROVFLOW_BROKER_PORT:-29092}
export PROVFLOW_BROKER_PORT=$((base + 2)) PROVFLOW_BROKER_CONTROLLER_PORT=$((base + 3))
RUN_OWN_BROKER=crash
. "$(dirname "$0")/run_lib.sh"
run_init "$@"
N=${PF_RUN_EVENTS:-10000}

run_topics crash 12
sim_start --seed 4 --config "$(sim_config "$TMP/sim.json" "$SIM_FAULTS_JSON")"
gen_workload "$N"
t0=$(now_ms)
pf_run crash --max-in-flight 64

# reach PERCENT: waits until the committed offsets cover PERCENT of N.
reach() {
    local at=$((N * $1 / 100))
    if wait_done crash "$at" 60; then
        return 0
    fi
    fail "provflow reached $1 % of the records" "$(pf_log_show crash)"
    return 1
}

# A random moment: a random point in a tenth of the work, plus up to 0.3 s.
pause() { sleep "0.$((RANDOM % 3))$((RANDOM % 10))"; }

group "three SIGKILLs and a broker restart"
kills=0 i=0
for step in kill kill broker kill; do
    # 10-19 %, 30-39 %, 50-59 %, 70-79 % of the records.
    pct=$((i * 20 + 10 + RANDOM % 10))
    i=$((i + 1))
    reach "$pct" || break
    pause
    case $step in
    kill)
        pf_kill crash
        kills=$((kills + 1))
        echo "# SIGKILL $kills at ~$pct % of $N"
        pf_run crash --max-in-flight 64
        ;;
    broker)
        echo "# broker restart at ~$pct % of $N"
        "$KAFKA" stop 2>"$TMP/kafka-stop.err" || cat "$TMP/kafka-stop.err" >&2
        if "$KAFKA" start >/dev/null 2>"$TMP/kafka-restart.err"; then
            pass "broker restarted (same home) while provflow ran"
        else
            fail "broker restarted" "$(cat "$TMP/kafka-restart.err")"
        fi
        if pid_alive "${PF_PID[crash]}"; then
            pass "provflow kept running through the broker restart"
        else
            fail "provflow kept running through the broker restart" "$(pf_log_show crash)"
            pf_run crash --max-in-flight 64
        fi
        ;;
    esac
done
assert_eq "provflow killed three times" 3 "$kills"
if wait_done crash "$N" 90; then
    pass "provflow committed all $N records in the end ($(($(now_ms) - t0)) ms)"
else
    fail "provflow committed all $N records in the end" "$(pf_log_show crash)"
fi
assert_all_done atleast
echo "# duplicate outcome records: $DUPLICATES, duplicate dead letters: $DLQ_DUPLICATES (allowed: at-least-once)"
assert_cmp "the restarts listed flows first: some outcomes are exists" \
    "$(jq -s '[.[] | select(.data.status == "exists")] | length' "$TMP/outcomes.ndjson")" -gt 0

pf_stop crash TERM 30
assert_eq "exit 0 after SIGTERM (${PF_STOP_MS} ms)" 0 "$PF_STOP_RC"
lib_finish
