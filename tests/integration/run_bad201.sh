#!/usr/bin/env bash
# provflow run: Graph answers creates with 201 but a body that cannot be
# read (the simulator's badBody fault on createFlow, three creates in
# four: not JSON, empty, cut short, a JSON array, nested 10,000 deep,
# 1e999, invalid UTF-8, an object without the flow). The flow was
# created: every outcome is `created` naming the flow Graph holds (from
# the Location header in 1., from a list of the set in 2.), no create is
# repeated, provflow keeps running and commits every record.
. "$(dirname "$0")/run_lib.sh"
run_init "$@"
N=60
KINDS='["notJson", "empty", "truncated", "array", "deep", "hugeNumber", "invalidUtf8", "noValue"]'
sim_start --request-log 100000

# phase NAME LOCATION
phase() {
    local name=$1 loc=$2
    sim_post /_sim/reset
    sim_put /_sim/faults "{\"createFlow\": {\"pBadBody\": 0.75, \"badBody\": $KINDS, \"location\": $loc}}"
    run_topics "$name" 4
    gen_workload "$N" 0
    pf_run "$name"
    if wait_for 90 eval "! pid_alive ${PF_PID[$name]} || [ \"\$(pf_committed $name)\" -ge $N ]" &&
        [ "$(pf_committed "$name")" -ge "$N" ]; then
        pass "$name: all $N records committed"
    else
        fail "$name: all $N records committed" \
            "committed: $(pf_committed "$name")" "$(pf_log_show "$name")"
    fi
    if pid_alive "${PF_PID[$name]}"; then
        pass "$name: provflow still running"
    else
        local rc=0
        wait "${PF_PID[$name]}" || rc=$?
        fail "$name: provflow still running" "it exited with status $rc" \
            "$(pf_log_show "$name")"
        return
    fi
    sim_get /_sim/stats >"$TMP/$name.stats.json"
    echo "# $name: broken 201 bodies: $(jq -c .badBodies "$TMP/$name.stats.json")"
    assert_cmp "$name: broken 201s were met" \
        "$(jq '[.badBodies[]] | add' "$TMP/$name.stats.json")" -gt 0
    pf_stop "$name" TERM 30
    assert_eq "$name: exit 0 after SIGTERM" 0 "$PF_STOP_RC"
    assert_all_done exact
    assert_jq "$name: every outcome is created" "$TMP/outcomes.ndjson" \
        '[.[].data.status] | unique' '["created"]' -s
    sim_get /_sim/requests >"$TMP/$name.requests.json"
    assert_jq "$name: one create per event" "$TMP/$name.requests.json" \
        '[.requests[] | select(.method == "POST" and (.path | endswith("/provisioningFlows")))] | length' \
        "$N"
}

group "1. unreadable 201s with a Location header"
phase location true
group "2. unreadable 201s without Location"
phase nolocation false
lib_finish
