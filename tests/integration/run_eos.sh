#!/usr/bin/env bash
# provflow run, case 3: the case-2 workload, smaller (3,000 events), with
# --delivery exactly-once, and provflow killed once (SIGKILL, mid-run, a
# transaction open) and restarted under the same --instance: read with
# isolation.level=read_committed, every input record has exactly one
# outcome record (and every invalid one exactly one dead letter); Graph
# created no duplicate; the group's offsets (committed in the
# transactions) end at the end of every partition.
. "$(dirname "$0")/run_lib.sh"
run_init "$@"
N=3000

run_topics eos 12
sim_start --seed 3 --config "$(sim_config "$TMP/sim.json" "$SIM_FAULTS_JSON")"
gen_workload "$N"
t0=$(now_ms)
pf_run eos --delivery exactly-once --max-in-flight 64

group "$N events, exactly once, one SIGKILL"
kill_at=$((N * (30 + RANDOM % 30) / 100))
if wait_done eos "$kill_at" 100; then
    pf_kill eos
    pass "killed provflow (SIGKILL) once $kill_at of $N records were committed"
else
    fail "provflow reached $kill_at of $N records" "$(pf_log_show eos)"
fi
pf_run eos --delivery exactly-once --max-in-flight 64
if wait_done eos "$N" 200; then
    pass "provflow committed all $N records ($(($(now_ms) - t0)) ms)"
else
    fail "provflow committed all $N records" "$(pf_log_show eos)"
fi
assert_all_done exact -X isolation.level=read_committed
assert_eq "no duplicate dead letter" 0 "$DLQ_DUPLICATES"
assert_grep "the log says exactly-once" 'delivery exactly-once' "${PF_LOG[eos]}"
# For the record: what a read_uncommitted reader sees (aborted
# transactions' records too).
topic_dump "$OUT" "$TMP/out.uncommitted.dump" -X isolation.level=read_uncommitted
echo "# outcome records seen read_uncommitted: $(grep -c '^@@END@@$' "$TMP/out.uncommitted.dump")," \
    "aborted transactions logged: $(grep -c 'transaction aborted' "${PF_LOG[eos]}" || true)"

pf_stop eos TERM 30
assert_eq "exit 0 after SIGTERM (${PF_STOP_MS} ms)" 0 "$PF_STOP_RC"
lib_finish
