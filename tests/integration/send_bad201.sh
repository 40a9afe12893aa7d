#!/usr/bin/env bash
# provflow send: Graph answers a create with 201 (the flow was created)
# but a body that cannot be read: not JSON (an HTML page), empty, cut
# short, a JSON array, a member nested 10,000 deep, a number out of range
# (1e999), invalid UTF-8, or an object without the flow (the simulator's
# badBody fault on createFlow, one kind per event). Expected: one outcome
# line per input line, each `created`, exit 0, and no second create (the
# flow exists: a retry would make a duplicate). The flow's id comes from
# the Location header when Graph sends one (1.), else from a list of the
# set (2.); when the list is unreadable too (3.) the outcome is still
# `created`, and an id it names must be the flow's.
. "$(dirname "$0")/lib.sh"
lib_init "$@"
KINDS=(notJson empty truncated array deep hugeNumber invalidUtf8 noValue)
NK=${#KINDS[@]}
sim_start --request-log 10000

# events OFFSET FILE: one event per kind, each in a flow set of its own.
events() {
    local i type
    : >"$2"
    for ((i = 0; i < NK; i++)); do
        type=securityGroup
        [ $((i % 2)) = 1 ] && type=administrativeUnit
        event "bad201-$1-$i" "$(set_id $(($1 + i)))" "$type" >>"$2"
    done
}

# run_case NAME OFFSET LOCATION LIST_FAULTS ID_REQUIRED
run_case() {
    local name=$1 off=$2 loc=$3 list=$4 need_id=$5 seq
    seq=$(printf '"badBody:%s",' "${KINDS[@]}")
    sim_post /_sim/reset
    sim_put /_sim/faults "{\"createFlow\": {\"location\": $loc, \"sequence\": [${seq%,}]}, \"listFlows\": $list}"
    events "$off" "$TMP/$name.ndjson"
    pf_send --max-in-flight 4 "$TMP/$name.ndjson"
    sim_save "$name"
    assert_rc "$name: exit 0" 0
    assert_eq "$name: one outcome line per input line" "$NK" "$(wc -l <"$PF_OUT")"
    assert_jq "$name: every outcome is created" "$PF_OUTCOMES" \
        '[.[].data.status] | unique' '["created"]'
    assert_jq "$name: the simulator broke all $NK 201 bodies" "$REQS" \
        '[.requests[] | select(.method == "POST" and .status == 201 and (.fault // "" | startswith("badBody:")))] | length' \
        "$NK"
    assert_jq "$name: no duplicate flow" "$STATS" .duplicatesCreated 0
    assert_jq "$name: one flow per event" "$STATS" .flowsCreated "$NK"
    assert_jq "$name: one create per event (none repeated after the 201)" "$REQS" \
        '[.requests[] | select(.method == "POST" and (.path | endswith("/provisioningFlows")))] | length' \
        "$NK"
    # Each outcome's flow id (subject) against the flow its create made.
    local res
    res=$(jq -r -s --slurpfile f "$FLOWS" '
        ($f[0].flowSets | map(.applied[]) | map({(.clientRequestId): .id}) | add) as $by
        | .[0][] | [.data.requestId, (.subject // "-"), ($by[.data.graph.clientRequestId] // "?")]
        | @tsv' "$PF_OUTCOMES")
    local id subject want ids=0 bad=()
    while IFS=$'\t' read -r id subject want; do
        [ -n "$id" ] || continue
        if [ "$subject" = "$want" ]; then
            ids=$((ids + 1))
        elif [ "$subject" != - ] || [ "$need_id" = yes ]; then
            bad+=("$id: subject $subject, the flow created $want")
        fi
    done <<<"$res"
    echo "# $name: $ids of $NK outcomes name the flow's id"
    if [ ${#bad[@]} -eq 0 ]; then
        pass "$name: every flow id given is the created flow's$([ "$need_id" = yes ] && echo ', and every outcome gives one')"
    else
        fail "$name: flow ids" "${bad[@]}" "$(pf_show)"
    fi
}

group "1. unreadable 201s with a Location header"
run_case location 100 true '{}' yes
group "2. unreadable 201s without Location: the id from a list of the set"
run_case list 200 false '{}' yes
group "3. no Location and every list unreadable too"
run_case blind 300 false '{"pBadBody": 1.0, "badBody": "notJson"}' no
sim_stop
lib_finish
