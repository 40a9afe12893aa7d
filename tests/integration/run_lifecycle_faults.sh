#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq programs in single quotes
# provflow run, the lifecycle under trouble (issue 15), on the real broker
# and the simulator with explicit flow sets:
#
# 1. A run start whose answer is lost (the simulator starts the run, then
#    drops the connection: dropAfterApply): the run is listed, so the
#    outcome is exists with that run, and the simulator counts one run.
# 2. The run limit (the simulator's, set to three per hour): of three more
#    starts two are started and the third is rejected (error code
#    run_limit, the Retry-After in seconds, a dead letter); a set and a
#    flow on another key are created meanwhile.
# 3. A mixed batch (five sets, each: created, four flows, an update, a
#    reset, a delete; two run starts) under 5xx, 429s and dropped
#    connections on every Graph endpoint, provflow killed (SIGKILL) in the
#    middle and started again: every event has an outcome of its
#    operation's kinds, none failed, no dead letter; the simulator holds
#    one set per name, each with its three remaining flows, no duplicate,
#    at most two more runs.
. "$(dirname "$0")/run_lib.sh"
. "$(dirname "$0")/lifecycle_lib.sh"
run_init "$@"

run_topics lcfaults 3
sim_start --explicit-flow-sets --request-log 10000
pf_run lf

# outcome_of FILE ID: the outcomes of event ID, as [[type, status], ...].
outcome_of() {
    jq -c --arg id "$2" '[.[] | select(.data.requestId == $id) | [.type, .data.status]]' "$1"
}

# --- 1. a run start whose answer is lost --------------------------------------
group "a run start whose answer is lost: one run"
LOST="Lost $RUN_ID"
: >"$TMP/lost.ndjson"
lc_ev lost-set provflow.provisioningFlowSet.create \
    "$(jq -nc --arg n "$LOST" '{flowSet: {displayName: $n}}')" >>"$TMP/lost.ndjson"
lc_ev lost-run provflow.industryDataRun.start '{}' "$(lc_now)" >>"$TMP/lost.ndjson"
sim_patch /_sim/faults '{"startRun": {"sequence": ["dropAfterApply"]}}'
lc_produce "lost-$RUN_ID" "$TMP/lost.ndjson"
if lc_wait_outcomes 2 60; then
    pass "two outcome records"
else
    fail "two outcome records" "$(pf_log_show lf)"
fi
lc_outcomes "$TMP/o1.json"
assert_eq "the set: created" '[["provflow.provisioningFlowSet.created","created"]]' \
    "$(outcome_of "$TMP/o1.json" lost-set)"
assert_eq "the run: exists (listed after the lost answer), once" \
    '[["provflow.industryDataRun.exists","exists"]]' "$(outcome_of "$TMP/o1.json" lost-run)"
sim_get /_sim/runs >"$TMP/runs1.json"
assert_jq "the outcome names the run the simulator started" "$TMP/o1.json" \
    '[.[] | select(.data.requestId == "lost-run") | .data.run.id]' \
    "$(jq -c '[.runs[].id]' "$TMP/runs1.json")"
assert_eq "runsStarted 1" 1 "$(lc_stat .runsStarted)"
assert_eq "the dropped start was the one fault" 1 \
    "$(lc_stat '.faultsInjected.dropAfterApply')"
sim_get /_sim/requests >"$TMP/req1.json"
assert_jq "one POST runs/start" "$TMP/req1.json" \
    '[.requests[] | select(.method == "POST" and (.path | endswith("/runs/start")))] | length' 1

# --- 2. the run limit ---------------------------------------------------------
group "the run limit: rejected with its reason, the rest flows"
sim_put /_sim/runs '{"maxPerWindow": 3, "windowSeconds": 3600}'
LIMIT="Limit $RUN_ID"
: >"$TMP/runs.ndjson"
for i in 1 2 3; do
    lc_ev "limit-run-$i" provflow.industryDataRun.start '{}' "$(lc_now)" >>"$TMP/runs.ndjson"
done
: >"$TMP/other.ndjson"
lc_ev limit-set provflow.provisioningFlowSet.create \
    "$(jq -nc --arg n "$LIMIT" '{flowSet: {displayName: $n}}')" >>"$TMP/other.ndjson"
lc_ev limit-flow provflow.provisioningFlow.create \
    "$(lc_seed_flows "$LIMIT" | sed -n 3p)" >>"$TMP/other.ndjson"
lc_produce "runs-$RUN_ID" "$TMP/runs.ndjson"
lc_produce "limit-$RUN_ID" "$TMP/other.ndjson"
if lc_wait_outcomes 7 60; then
    pass "five more outcome records"
else
    fail "five more outcome records" "$(pf_log_show lf)"
fi
lc_outcomes "$TMP/o2.json"
assert_eq "run 1: started" '[["provflow.industryDataRun.started","started"]]' \
    "$(outcome_of "$TMP/o2.json" limit-run-1)"
assert_eq "run 2: started" '[["provflow.industryDataRun.started","started"]]' \
    "$(outcome_of "$TMP/o2.json" limit-run-2)"
assert_eq "run 3: rejected" '[["provflow.industryDataRun.rejected","rejected"]]' \
    "$(outcome_of "$TMP/o2.json" limit-run-3)"
assert_jq "its reason: run_limit, Graph's message, the wait in seconds" "$TMP/o2.json" \
    '[.[] | select(.data.requestId == "limit-run-3") | .data |
      [.error.code, (.error.message | test("limited to 3 per 3600 seconds")),
       ((.retryAfterSeconds // .error.retryAfterSeconds) > 60)]]' \
    '[["run_limit",true,true]]'
assert_eq "the other key: set created" '[["provflow.provisioningFlowSet.created","created"]]' \
    "$(outcome_of "$TMP/o2.json" limit-set)"
assert_eq "the other key: flow created" '[["provflow.provisioningFlow.created","created"]]' \
    "$(outcome_of "$TMP/o2.json" limit-flow)"
lc_dead_letters "$TMP/d2.json"
assert_jq "one dead letter: the rejected run start, code run_limit" "$TMP/d2.json" \
    '[.[] | [.id, .code]]' '[["limit-run-3","run_limit"]]'
assert_eq "runsStarted 3" 3 "$(lc_stat .runsStarted)"
assert_eq "runsRefused 1: refused once, not retried" 1 "$(lc_stat .runsRefused)"

# --- 3. faults and a SIGKILL during a mixed batch ------------------------------
group "a mixed batch under faults and a SIGKILL: nothing twice, nothing lost"
sim_put /_sim/runs '{"maxPerWindow": 1000}'
RUNS0=$(lc_stat .runsStarted)
SETS0=$(lc_stat .flowSetsCreated)
sim_put /_sim/faults '{"graph": {"p429": 0.02, "retryAfter": 1, "p500": 0.03,
    "p503": 0.03, "p504": 0.01, "pDrop": 0.02, "pDropAfterApply": 0.04}}'
: >"$TMP/mixed.ids"
for s in 1 2 3 4 5; do
    f=$TMP/mix-$s.ndjson
    : >"$f"
    lc_onboard "$f" "Mixed $s $RUN_ID" "mix$s"
    # The onboarding's run start goes with the runs below, on one key.
    grep -v '"mix'"$s"'-run"' "$f" >"$f.tmp" && mv "$f.tmp" "$f"
    lc_flow_event "$f" "mix$s-update" provflow.provisioningFlow.update \
        "Mixed $s $RUN_ID" user '{"managementOptions":{"additionalOptions":{"studentAgeGroup":"adult"}}}'
    lc_flow_event "$f" "mix$s-reset" provflow.provisioningFlow.reset \
        "Mixed $s $RUN_ID" securityGroup
    lc_flow_event "$f" "mix$s-delete" provflow.provisioningFlow.delete \
        "Mixed $s $RUN_ID" administrativeUnit
    jq -r .id "$f" >>"$TMP/mixed.ids"
done
: >"$TMP/mixruns.ndjson"
for i in 1 2; do
    lc_ev "mix-run-$i" provflow.industryDataRun.start '{}' "$(lc_now)" >>"$TMP/mixruns.ndjson"
done
jq -r .id "$TMP/mixruns.ndjson" >>"$TMP/mixed.ids"
NMIX=$(wc -l <"$TMP/mixed.ids")
BEFORE=$(lc_out_count)
for s in 1 2 3 4 5; do
    lc_produce "mix-$s-$RUN_ID" "$TMP/mix-$s.ndjson"
done
lc_produce "mixruns-$RUN_ID" "$TMP/mixruns.ndjson"
# SIGKILL once a fifth of the batch has its outcome.
if lc_wait_outcomes $((BEFORE + NMIX / 5)) 60; then
    pf_kill lf
    pass "SIGKILL after $(($(lc_out_count) - BEFORE)) of $NMIX outcomes"
else
    fail "a fifth of the batch's outcomes before the SIGKILL" "$(pf_log_show lf)"
fi
pf_run lf
assert_group_at_end 120
lc_outcomes "$TMP/o3.json"
python3 - "$TMP/o3.json" "$TMP/mixed.ids" >"$TMP/mixcheck.txt" <<'PY'
import json, sys
outs = json.load(open(sys.argv[1]))
ids = [l.strip() for l in open(sys.argv[2]) if l.strip()]
allowed = {"set": {"created", "exists"}, "flow": {"created", "exists"},
           "update": {"updated"}, "reset": {"reset"},
           "delete": {"deleted", "absent"}, "run": {"started", "exists"}}
by = {}
for o in outs:
    by.setdefault(o.get("data", {}).get("requestId"), []).append(o)
lost, wrong, extra = [], [], 0
for i in ids:
    kind = ("run" if "-run-" in i else i.split("-")[1] if "-" in i else "?")
    kind = "flow" if kind.startswith("flow") else kind
    got = by.get(i, [])
    if not got:
        lost.append(i)
    extra += max(0, len(got) - 1)
    for o in got:
        st = o.get("data", {}).get("status")
        if st not in allowed.get(kind, set()):
            wrong.append(f"{i}: {o.get('type')} {st}")
print("LOST", len(lost), " ".join(lost[:10]))
print("WRONG", len(wrong), "; ".join(wrong[:10]))
print("EXTRA", extra)
PY
assert_eq "0 lost: every event of the batch has an outcome" "LOST 0 " \
    "$(grep '^LOST' "$TMP/mixcheck.txt")"
assert_eq "every outcome of its operation's kinds, none failed" "WRONG 0 " \
    "$(grep '^WRONG' "$TMP/mixcheck.txt")"
echo "# outcome records beyond the first per event (at-least-once): $(grep '^EXTRA' "$TMP/mixcheck.txt")"
lc_dead_letters "$TMP/d3.json"
assert_jq "no dead letter from the batch" "$TMP/d3.json" \
    '[.[] | select(.id != null and (.id | startswith("mix")))] | length' 0
sim_quiet 2 60 || true
sim_get /_sim/flows >"$TMP/flows3.json"
assert_jq "0 duplicates: one set per name" "$TMP/flows3.json" \
    '[.flowSets[] | select(.set.displayName | test("^Mixed [1-5] " + $r + "$")) | .set.displayName] | [length, (unique | length)]' \
    '[5,5]' --arg r "$RUN_ID"
assert_eq "flowSetsCreated: five more" $((SETS0 + 5)) "$(lc_stat .flowSetsCreated)"
assert_jq "each set holds its three remaining flows" "$TMP/flows3.json" \
    '[.flowSets[] | select(.set.displayName | test("^Mixed [1-5] " + $r + "$")) | .countsByType | with_entries(.key |= sub("ProvisioningFlow$"; ""))] | unique' \
    '[{"administrativeUnit":0,"classGroup":1,"securityGroup":1,"user":1}]' --arg r "$RUN_ID"
assert_jq "each user flow updated" "$TMP/flows3.json" \
    '[.flowSets[] | select(.set.displayName | test("^Mixed [1-5] " + $r + "$")) | .flows[] | select(."@odata.type" | endswith("userProvisioningFlow")) | .managementOptions.additionalOptions.studentAgeGroup] | [length, unique]' \
    '[5,["adult"]]' --arg r "$RUN_ID"
assert_eq "duplicatesCreated 0" 0 "$(lc_stat .duplicatesCreated)"
assert_cmp "at most two more runs" $(($(lc_stat .runsStarted) - RUNS0)) -le 2
assert_cmp "at least one more run" $(($(lc_stat .runsStarted) - RUNS0)) -ge 1

group "SIGTERM"
pf_stop lf TERM 30
assert_eq "exit 0 after SIGTERM" 0 "$PF_STOP_RC"
lib_finish
