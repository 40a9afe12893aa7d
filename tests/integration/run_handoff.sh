#!/usr/bin/env bash
# provflow run, case 7f (issue 13): what the next owner of a partition
# checks in Graph after a hand-off. Graph is slow here (400 ms per create
# and per list), --max-in-flight 8 and --max-buffered 200: an instance
# holds many more records than it has sent, so a hand-off's intent that
# named every record received (the code before issue 13) made the next
# owner list the set of each of them before creating it. Each group starts
# its instance on empty topics (a group that never committed a partition
# checks the records already in it: not what is tested here), then
# produces the events.
#  1. SIGTERM: instance A drains (what it sent finishes) and hands off;
#     instance B of the same group takes over: it sends no list at all
#     (A finished everything it sent, and nothing else needs a check),
#     every event has exactly one outcome, no flow is created twice.
#  2. SIGKILL (a crash): A's last periodic commit keeps the wide intent,
#     so B lists before creating (the safety net stays); every event has
#     an outcome, no flow is created twice.
#  3. Scale-out: B joins while A works (an eager rebalance: A revokes all
#     partitions, its creates on the wire answer first, it commits): every
#     event has exactly one outcome, no flow is created twice, and the
#     new owners list no record that A never posted: a job that waited for
#     a slot of its tenant's limit when the partition was revoked passed
#     the intent but sent nothing (graph.h, pf_graph_job_posted()), and
#     the hand-off takes its mark back.
# Lists are the simulator's GETs of a set's provisioningFlows (request
# log); a record's requests carry its client-request-id, so a list is
# tied to its event. The numbers (lists, creates, and from the hand-off to
# the first create) are printed as "# measured:" lines (bench/
# SCALEOUT-issue13.md); no timing is asserted.
. "$(dirname "$0")/run_lib.sh"
run_init "$@"
N=${PF_HANDOFF_EVENTS:-400}
OPTS=(--max-in-flight 8 --max-buffered 200)

sim_start --seed 13 --request-log 100000 \
    --config "$(sim_config "$TMP/sim.json" '{
  "faults": {"createFlow": {"latencyMs": 400}, "listFlows": {"latencyMs": 400}}
}')"

# requests_stats REF_MS [SEQ]: over the simulator's requests after SEQ (0),
# "LISTS UNSENT_LISTS CREATES FIRST_MS": lists of a set's flows; lists for
# an event that had no create before SEQ or sent before REF_MS (a record
# never sent before the hand-off); creates; ms from REF_MS (epoch) to the
# first create sent after it (its answer time minus its duration), -1
# when none.
requests_stats() {
    sim_get /_sim/requests >"$TMP/requests.json"
    python3 - "$TMP/requests.json" "$1" "${2:-0}" <<'PY'
import datetime, json, re, sys
reqs = json.load(open(sys.argv[1]))["requests"]
ref, seq = int(sys.argv[2]), int(sys.argv[3])
def sent_ms(r):
    m = re.match(r"(\d+-\d+-\d+T\d+:\d+:\d+)(\.\d+)?Z$", r["time"])
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
    return (t + float(m.group(2) or 0)) * 1000 - r["durationMs"]
is_list = lambda r: r["method"] == "GET" and re.search(
    r"/provisioningFlows(\?|$)", r["path"])
is_create = lambda r: r["method"] == "POST" and r["path"].endswith(
    "/provisioningFlows")
posted = {r["clientRequestId"] for r in reqs
          if is_create(r) and (r["seq"] <= seq or sent_ms(r) <= ref)}
after = [r for r in reqs if r["seq"] > seq]
lists = [r for r in after if is_list(r)]
unsent = [r for r in lists if r["clientRequestId"] not in posted]
creates = sorted(sent_ms(r) for r in after if is_create(r))
first = [c for c in creates if c >= ref]
print(len(lists), len(unsent), len(creates),
      int(first[0] - ref) if first else -1)
PY
}

# log_ms NAME MSG: epoch ms of the instance's first log line with MSG.
log_ms() {
    jq -r --arg m "$2" 'select(.msg | test($m)) | .ts' "${PF_LOG[$1]}" |
        head -n 1 | python3 -c '
import datetime, sys
s = sys.stdin.read().strip()
t = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
print(int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000))'
}

# start_on_empty NAME: starts NAME on the (empty) topics and waits until it
# holds all partitions; then produces the workload.
start_on_empty() {
    pf_run "$1" "${OPTS[@]}"
    if ! wait_for 60 eval '[ "$(pf_assigned '"$1"' | wc -w)" -eq '"$NPARTS"' ]'; then
        fail "$1 holds all $NPARTS partitions" "$(pf_log_show "$1")"
    fi
    gen_workload "$N"
}

# at_work NAME: the instance has committed some records and has creates
# on the wire.
at_work() {
    wait_for 60 eval '[ "$(pf_committed '"$1"')" -gt 40 ] &&
        [ "$(pf_metric '"$1"' provflow_graph_requests_in_flight)" -gt 0 ]' ||
        fail "$1 at work" "$(pf_log_show "$1")"
}

group "1. SIGTERM: the next owner lists nothing"
sim_post /_sim/reset
run_topics term 4
start_on_empty a1
at_work a1
pf_stop a1 TERM 60
assert_eq "A exits 0 after SIGTERM (${PF_STOP_MS} ms)" 0 "$PF_STOP_RC"
seq0=$(sim_request_seq)
t0=$(now_ms)
pf_run b1 "${OPTS[@]}"
if wait_done b1 "$N" 120; then
    pass "B committed all $N records"
else
    fail "B committed all $N records" "$(pf_log_show b1)"
fi
read -r lists unsent creates first <<<"$(requests_stats "$t0" "$seq0")"
echo "# measured: SIGTERM hand-off: $lists lists, $creates creates by B;" \
    "A's exit -> B's first create $first ms (B's start and join included)"
assert_eq "B listed no set (A finished all it sent)" 0 "$lists"
assert_all_done exact
pf_stop b1 TERM 60

group "2. SIGKILL: the next owner still lists"
sim_post /_sim/reset
run_topics kill 4
start_on_empty a2
at_work a2
pf_kill a2
seq0=$(sim_request_seq)
t0=$(now_ms)
pf_run b2 "${OPTS[@]}"
if wait_done b2 "$N" 120; then
    pass "B committed all $N records"
else
    fail "B committed all $N records" "$(pf_log_show b2)"
fi
read -r lists unsent creates first <<<"$(requests_stats "$t0" "$seq0")"
echo "# measured: crash: $lists lists ($unsent for records A never sent)," \
    "$creates creates by B; A's kill -> B's first create $first ms"
assert_cmp "B lists sets under A's last intent: $lists lists" "$lists" -gt 0
assert_all_done atleast
echo "# duplicate outcome records: $DUPLICATES (allowed: at-least-once)"
pf_stop b2 TERM 60

group "3. scale-out: B joins A at work"
sim_post /_sim/reset
run_topics scale 4
start_on_empty a3
at_work a3
seq0=$(sim_request_seq)
pf_run b3 "${OPTS[@]}"
if wait_for 60 eval '[ -n "$(pf_assigned b3)" ]'; then
    pass "B holds partitions: $(pf_assigned b3); A: $(pf_assigned a3)"
else
    fail "B holds partitions" "$(pf_log_show b3)"
fi
assert_group_at_end 120
revoked=$(log_ms a3 'partitions revoked')
read -r lists unsent creates first <<<"$(requests_stats "$revoked" "$seq0")"
echo "# measured: scale-out: $lists lists ($unsent for records A never" \
    "sent), $creates creates after B joined; A's revocation -> first" \
    "create $first ms"
assert_eq "no list for a record A never posted" 0 "$unsent"
pf_stop a3 TERM 60
assert_eq "A exits 0 after SIGTERM" 0 "$PF_STOP_RC"
pf_stop b3 TERM 60
assert_eq "B exits 0 after SIGTERM" 0 "$PF_STOP_RC"
check_topics exact
assert_sim_stats
lib_finish
