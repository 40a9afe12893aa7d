#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq programs in single quotes
# provflow replay: 40 valid events (unique flow set and type) on 3
# partitions, all created; provflow stopped. A dry run --to-earliest
# plans 40 events and changes nothing (committed offsets as they were);
# --to-datetime before the first event plans the same; --partitions 0
# only partition 0. While provflow runs, replay refuses (non-zero, "has
# active members"). --execute moves the offsets; provflow started again
# gives 40 more outcome records, all "exists": nothing created twice
# (duplicatesCreated 0, flowsCreated 40).
. "$(dirname "$0")/run_lib.sh"
run_init "$@"

N=40
run_topics replay 3
sim_start
before_first=$(date -u -d '-5 seconds' +%Y-%m-%dT%H:%M:%SZ)
sleep 1
gen_workload "$N" 0
pf_run r

group "first pass: $N created"
if wait_done r "$N" 90; then
    pass "provflow committed the $N records"
else
    fail "provflow committed the $N records" "$(pf_log_show r)"
fi
assert_group_at_end 60
pf_stop r TERM 30
assert_eq "exit 0 after SIGTERM" 0 "$PF_STOP_RC"

# replay [options...]: provflow replay on the test's group and topic;
# sets RP_RC, RP_OUT, RP_ERR.
RP_N=0
replay() {
    RP_N=$((RP_N + 1))
    RP_OUT=$TMP/replay.$RP_N.out RP_ERR=$TMP/replay.$RP_N.err RP_RC=0
    timeout 60 "$PF_BIN" replay --brokers "$RUN_BROKERS" --group-id "$GROUP" \
        --input-topic "$IN" --results-topic "$OUT" --dead-letter-topic "$DLQ" \
        "$@" >"$RP_OUT" 2>"$RP_ERR" || RP_RC=$?
}
# plan FILE: the table rows (partition, current, new, log-end, replayed).
plan() { awk '$1 ~ /^[0-9]+$/ && NF == 5' "$1"; }
replayed_total() { sed -n 's/^\([0-9]*\) events will be processed again$/\1/p' "$1"; }

group "dry run --to-earliest"
group_describe "$TMP/offsets.before"
replay --to-earliest
assert_eq "dry run exits 0" 0 "$RP_RC"
sed 's/^/# /' "$RP_OUT"
assert_eq "plans $N events" "$N" "$(replayed_total "$RP_OUT")"
assert_grep "says nothing changed" '^dry run: nothing changed' "$RP_OUT"
assert_eq "three partitions in the table" 3 "$(plan "$RP_OUT" | wc -l)"
# A partition that no key hashed to (a chance of about 1 in 60 with the
# workload's 10 sets) was never committed: current -1001, log end 0.
assert_eq "every row: new 0, replayed = current = log end (or an empty partition)" 0 \
    "$(plan "$RP_OUT" | awk '!($3 == 0 && $5 == $4 && ($2 == $4 || ($4 == 0 && $2 < 0)))' | wc -l)"
earliest_plan=$(plan "$RP_OUT")
sleep 1
group_describe "$TMP/offsets.after"
assert_eq "committed offsets unchanged by the dry run" \
    "$(cat "$TMP/offsets.before")" "$(cat "$TMP/offsets.after")"

group "dry run --to-datetime (before the first event), --partitions 0"
replay --to-datetime "$before_first"
assert_eq "exits 0" 0 "$RP_RC"
assert_eq "--to-datetime $before_first: the same plan as --to-earliest" \
    "$earliest_plan" "$(plan "$RP_OUT")"
p0=$(awk '$1 == 0 { print $3 }' "$TMP/offsets.before")
replay --to-earliest --partitions 0
assert_eq "exits 0" 0 "$RP_RC"
assert_eq "--partitions 0: one row, partition 0" 0 "$(plan "$RP_OUT" | awk '{print $1}' | tr -d '\n')"
assert_eq "--partitions 0: plans partition 0's $p0 events" "$p0" "$(replayed_total "$RP_OUT")"
replay --to-earliest --partitions 7
assert_eq "--partitions 7 (no such partition): usage error 64" 64 "$RP_RC"

group "refuses while the group is active"
pf_run r
wait_for 30 eval '[ "$(pf_ready_status r)" = 200 ]' || true
replay --to-earliest --execute
assert_ne "replay --execute with a running member exits non-zero" 0 "$RP_RC"
assert_grep "says the group has active members" 'has active members' "$RP_ERR"
pf_stop r TERM 30
assert_eq "exit 0 after SIGTERM" 0 "$PF_STOP_RC"
group_describe "$TMP/offsets.refused"
assert_eq "committed offsets unchanged by the refused replay" \
    "$(cat "$TMP/offsets.before")" "$(cat "$TMP/offsets.refused")"

group "--execute"
# The group may take a moment to show no member after the SIGTERM.
for i in 1 2 3 4 5 6 7 8 9 10; do
    replay --to-earliest --execute
    grep -q 'has active members' "$RP_ERR" || break
    sleep 1
done
sed 's/^/# /' "$RP_OUT" "$RP_ERR"
assert_eq "replay --execute exits 0" 0 "$RP_RC"
assert_eq "plans $N events" "$N" "$(replayed_total "$RP_OUT")"
assert_grep "says it applied" "^applied to group $GROUP\$" "$RP_OUT"
group_describe "$TMP/offsets.replayed"
assert_eq "committed offsets at 0 on every partition" 0 \
    "$(awk '$2 != 0' "$TMP/offsets.replayed" | wc -l)"

group "second pass: every replayed event exists"
pf_run r
count_out() {
    timeout 60 kcat -C -b "$RUN_BROKERS" -t "$OUT" -o beginning -e -q -f '%s\n' \
        >"$TMP/out.values" 2>/dev/null
    [ "$(wc -l <"$TMP/out.values")" -ge $((2 * N)) ]
}
if wait_for 90 count_out; then
    pass "$((2 * N)) outcome records"
else
    fail "$((2 * N)) outcome records" "have $(wc -l <"$TMP/out.values")" "$(pf_log_show r)"
fi
assert_group_at_end 60
sleep 2
count_out || true
assert_eq "exactly $((2 * N)) outcome records" $((2 * N)) "$(wc -l <"$TMP/out.values")"
jq -s -c '[.[] | .data.status] | group_by(.) | map({(.[0]): length}) | add' \
    "$TMP/out.values" >"$TMP/status.json"
assert_jq "statuses: $N created, $N exists" "$TMP/status.json" . \
    "{\"created\":$N,\"exists\":$N}"
assert_jq "each request id: created once, then exists" "$TMP/out.values" \
    '[group_by(.data.requestId)[] | [.[].data.status]] | unique' \
    '[["created","exists"]]' -s
assert_eq "provflow_outcomes_total{status=\"exists\"} = $N" "$N" \
    "$(pf_metric r 'provflow_outcomes_total\{status="exists"')"
assert_eq "no create in the second pass" 0 \
    "$(pf_metric r 'provflow_outcomes_total\{status="created"')"
check_topics atleast
assert_sim_stats
assert_jq "simulator: duplicatesCreated 0, flowsCreated $N" "$TMP/final.stats.json" \
    '[.duplicatesCreated, .flowsCreated]' "[0,$N]"
pf_stop r TERM 30
assert_eq "exit 0 after SIGTERM" 0 "$PF_STOP_RC"
lib_finish
