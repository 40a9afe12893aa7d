#!/usr/bin/env bash
# provflow run --dry-run: 60 events on 3 partitions, a quarter of them
# invalid (the workload's kinds), run with no AZURE_* variable at all, four
# times over the same input, each time under a new --group-id with results
# and dead-letter topics of its own:
#   1. at-least-once, outcomes on standard output;
#   2. at-least-once, --dry-run-output TOPIC;
#   3. exactly-once, outcomes on standard output;
#   4. exactly-once, --dry-run-output TOPIC.
# Each time: one outcome per input record (valid: "validated" with the
# flow; invalid: "failed", invalid_event) on standard output or in the
# topic (keyed as the input), nothing on the other one, nothing in the
# results and dead-letter topics; the group <group-id>.dry-run committed
# the end of the input, the --group-id group nothing; SIGTERM exits 0.
# The simulator (provflow's Graph and token endpoint) saw no request at
# all. `provflow run --help` states these guarantees.
. "$(dirname "$0")/run_lib.sh"
run_init "$@"

N=60
run_topics dryrun 3
sim_start
gen_workload "$N" 0.25
PF_ENV=() # no credential at all: a dry run needs none
DRY_GROUPS=()
SERVICE_GROUPS=()

group "provflow run --help states the dry run's guarantees"
"$PF_BIN" run --help >"$TMP/help.txt" 2>&1 || true
assert_grep "--dry-run: calls nothing" 'calls nothing' "$TMP/help.txt"
assert_grep "--dry-run: no Graph request, no token, no credential" \
    'no Graph request, no token' "$TMP/help.txt"
assert_grep "--dry-run: commits only in <group-id>.dry-run" \
    'own group, <group-id>\.dry-run' "$TMP/help.txt"
assert_grep "--dry-run: never the results or dead-letter topic" \
    'never writes to the results or dead-letter topic' "$TMP/help.txt"
assert_grep "--dry-run-output TOPIC is listed" '^ +--dry-run-output TOPIC' \
    "$TMP/help.txt"

# dry_case NAME DELIVERY stdout|topic: one dry run over IN (see the top).
dry_case() {
    local name=$1 delivery=$2 where=$3 dry= opts=() lines
    run_outputs "$name"
    DRY_GROUPS+=("$GROUP.dry-run")
    SERVICE_GROUPS+=("$GROUP")
    if [ "$where" = topic ]; then
        dry=$GROUP.dryout
        "$KAFKA" create-topic "$dry" --partitions 3 2>"$TMP/topic-dry.err" || {
            cat "$TMP/topic-dry.err" >&2
            exit 1
        }
        opts=(--dry-run-output "$dry")
    fi
    group "$name: --dry-run --delivery $delivery, outcomes to $where"
    pf_run "$name" --dry-run --delivery "$delivery" ${opts[@]+"${opts[@]}"}
    if wait_done "$name" "$N" 60; then
        pass "$name: provflow committed the $N records"
    else
        fail "$name: provflow committed the $N records" "$(pf_log_show "$name")"
    fi
    assert_eq "$name: provflow_outcomes_total = $N" "$N" \
        "$(pf_metric "$name" provflow_outcomes_total)"
    assert_eq "$name: provflow_dead_letters_total = 0 (none written)" 0 \
        "$(pf_metric "$name" provflow_dead_letters_total)"
    pf_stop "$name" TERM 30
    assert_eq "$name: exit 0 after SIGTERM" 0 "$PF_STOP_RC"
    lines=$(grep -c . "${PF_LOG[$name]}.stdout" || true)
    if [ "$where" = stdout ]; then
        check_dry "${PF_LOG[$name]}.stdout" "$name: standard output"
    else
        assert_eq "$name: nothing on standard output" 0 "$lines"
        topic_dump "$dry" "$TMP/$name.dry.dump"
        assert_eq "$name: $N records in the --dry-run-output topic" "$N" \
            "$(records_in "$TMP/$name.dry.dump")"
        check_dry "$TMP/$name.dry.dump" "$name: --dry-run-output" --keys
    fi
    topic_dump "$OUT" "$TMP/$name.out.dump"
    topic_dump "$DLQ" "$TMP/$name.dlq.dump"
    assert_eq "$name: no record in the results topic" 0 \
        "$(records_in "$TMP/$name.out.dump")"
    assert_eq "$name: no record in the dead-letter topic" 0 \
        "$(records_in "$TMP/$name.dlq.dump")"
}

dry_case alo-stdout at-least-once stdout
dry_case alo-topic at-least-once topic
dry_case eos-stdout exactly-once stdout
dry_case eos-topic exactly-once topic

group "the simulator: no request at all"
sim_get /_sim/stats >"$TMP/stats.json"
assert_jq "no request reached Graph or the token endpoint" "$TMP/stats.json" \
    '[.requests, .tokensIssued, .tokenErrors, .flowsCreated]' '[0,0,0,0]'

group "committed offsets: the dry-run groups only"
# shellcheck disable=SC2317  # called through wait_for
dry_groups_done() {
    local g
    groups_describe "$TMP/groups.offsets"
    for g in "${DRY_GROUPS[@]}"; do
        group_rows_at_end "$TMP/groups.offsets" "$g" || return 1
    done
}
if wait_for 60 dry_groups_done; then
    pass "each <group-id>.dry-run group committed the end of all $NPARTS partitions"
else
    fail "each <group-id>.dry-run group committed the end of all $NPARTS partitions" \
        "$(cat "$TMP/groups.offsets")" "$(head -c 1000 "$TMP/groups.describe.err")"
fi
for g in "${SERVICE_GROUPS[@]}"; do
    assert_eq "the service's group $g committed nothing" "" \
        "$(group_rows "$TMP/groups.offsets" "$g")"
done
lib_finish
