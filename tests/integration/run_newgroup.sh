#!/usr/bin/env bash
# Before commit bccc084 it failed: g2 created every flow a second time.
#
# provflow run: a new consumer group re-reading a retained topic must not
# create blindly: a record that no commit of this group covers (a new or
# renamed group) may have been sent by another group, so its set is
# listed first. Group g1 creates the flows of 40 flow sets (1 to 4
# events each, the four flow types); g2, a group that never committed,
# reads the same topic from the beginning: no flow is created, every g2
# outcome is `exists` with the flow g1 created, and g2 listed each set
# about once (one list answers for every flow type of the set: at most 2
# lists per set; 40 lists for the 40 sets seen).
. "$(dirname "$0")/run_lib.sh"
run_init "$@"
TYPES=(administrativeUnit classGroup securityGroup user)
NSETS=40

run_topics newgroup 4
sim_start --request-log 100000
layouts=()
for ((i = 0; i < NSETS; i++)); do
    l=
    for ((k = 0; k <= i % 4; k++)); do
        l+=${l:+,}${TYPES[(i + k) % 4]}
    done
    layouts+=("$l")
done
gen_sets "${layouts[@]}"
N=$(jq length "$EXPECT")

group "g1 creates every flow"
pf_run g1
if wait_done g1 "$N" 90; then
    pass "g1 committed all $N records"
else
    fail "g1 committed all $N records" "$(pf_log_show g1)"
fi
pf_stop g1 TERM 30
assert_eq "g1 exits 0 after SIGTERM" 0 "$PF_STOP_RC"
assert_all_done exact
assert_jq "every g1 outcome is created" "$TMP/outcomes.ndjson" \
    '[.[].data.status] | unique' '["created"]' -s
sim_get /_sim/stats >"$TMP/g1.stats.json"
created1=$(jq .flowsCreated "$TMP/g1.stats.json")
seq1=$(sim_request_seq)

group "g2, a group that never committed, re-reads the topic"
run_group_topics g2
pf_run g2
if wait_done g2 "$N" 90; then
    pass "g2 committed all $N records"
else
    fail "g2 committed all $N records" "$(pf_log_show g2)"
fi
pf_stop g2 TERM 30
assert_eq "g2 exits 0 after SIGTERM" 0 "$PF_STOP_RC"
sim_get /_sim/stats >"$TMP/g2.stats.json"
assert_jq "g2 created no flow (flowsCreated still $created1)" "$TMP/g2.stats.json" \
    .flowsCreated "$created1"
assert_jq "no duplicate flow in Graph" "$TMP/g2.stats.json" .duplicatesCreated 0
check_topics exact
assert_jq "every g2 outcome is exists" "$TMP/outcomes.ndjson" \
    '[.[].data.status] | unique' '["exists"]' -s
sim_requests_since "$seq1" "$TMP/g2.requests.json"
lists=$(jq '[.[] | select(.method == "GET" and (.path | test("/provisioningFlows$")))] | length' \
    "$TMP/g2.requests.json")
posts=$(jq '[.[] | select(.method == "POST" and (.path | test("/provisioningFlows$")))] | length' \
    "$TMP/g2.requests.json")
echo "# g2: $lists list requests and $posts creates for $N events in $NSETS flow sets"
assert_eq "g2 sent no create" 0 "$posts"
assert_cmp "g2 listed the sets at most twice each ($N events, $NSETS sets)" \
    "$lists" -le $((2 * NSETS))
assert_cmp "g2 listed every set" \
    "$(jq '[.[] | select(.method == "GET") | .path] | unique | length' "$TMP/g2.requests.json")" \
    -eq "$NSETS"
lib_finish
