#!/usr/bin/env bash
# shellcheck disable=SC2016  # jq programs in single quotes
# provflow run, metrics: a known run and exact counter values on /metrics.
# The seed's four events (one flow set, four types), a second classGroup
# flow in the seed's set that Graph rejects (--duplicates reject: 409),
# two invalid records (not JSON; no "id"), and one create answered 429
# with Retry-After: 1. Then /metrics: events consumed 7; outcomes created
# 1 per type, failed{flow_type="unknown"} 2 and failed{classGroup} 1;
# dead letters 3 (invalid_event 2, rejected 1); per tenant: test-tenant
# created 4 and failed 1, "unknown" (no credential named) failed 2, 0 in
# flight; Graph exchanges 2xx 4, 4xx 2 (the 429 and the 409); throttled
# 1, Retry-After seconds 1; a token for test-tenant, no failure; one
# assignment, no revocation, no commit or delivery failure; partition
# series labelled with the topic and group, none at -1; ready 1;
# histogram counts; process_* of the provflow process; `promtool check
# metrics` finds nothing in the page; and /readyz 200 with every check ok.
. "$(dirname "$0")/run_lib.sh"
run_init "$@"

run_topics metrics 3
sim_start --duplicates reject
sim_put /_sim/faults '{"createFlow": {"sequence": ["429"], "retryAfter": 1}}'
# provflow starts first: records already in a partition that the group
# never committed are checked in Graph before a create (the duplicate
# would be "exists"); these are produced after it took its partitions.
pf_run m --max-retry-after-ms 2000
if ! wait_for 60 eval '[ "$(pf_assigned m)" = "0 1 2" ]'; then
    fail "provflow takes the three partitions" "$(pf_log_show m)"
fi
gen_seed
set=$(jq -r -s '.[0].data.flowSetId' "$SEED_EVENTS")
dup=$(jq -c -s '[.[] | select(.data.flowType == "classGroup")][0]
    | .id = "metrics-dup-class-group"' "$SEED_EVENTS")
# After the seed's records, same key (same partition, in order).
{
    printf '%s\t%s\n' "$set" "$dup"
    printf '%s\t%s\n' "bad-1" 'this is not JSON {'
    printf '%s\t%s\n' "bad-2" \
        '{"specversion":"1.0","source":"urn:test","type":"provflow.provisioningFlow.create","data":{"flowSetId":"00000001-0000-4000-8000-000000000001","flowType":"securityGroup","flow":{"creationOptions":{"createBasedOnRoleGroup":true,"createBasedOnOrgPlusRoleGroup":false}}}}'
} | kcat -P -b "$RUN_BROKERS" -t "$IN" -K $'\t' -X linger.ms=5

group "seven records"
if wait_done m 7 60; then
    pass "provflow committed the seven records"
else
    fail "provflow committed the seven records" "$(pf_log_show m)"
fi
timeout 60 kcat -C -b "$RUN_BROKERS" -t "$OUT" -o beginning -e -q -f '%s\n' |
    jq -c '[.data.requestId, .data.status, .data.error.code]' \
    >"$TMP/outcomes.txt" 2>/dev/null || true
echo "# outcomes: $(tr '\n' ' ' <"$TMP/outcomes.txt")"
assert_eq "seven outcome records" 7 "$(wc -l <"$TMP/outcomes.txt")"
assert_eq "the duplicate classGroup is rejected" 1 \
    "$(grep -c '"metrics-dup-class-group","failed","rejected"' "$TMP/outcomes.txt" || true)"

group "the failure log line"
# docs/operations.md: log lines carry requestId (the event's id) where it
# applies; the rejected duplicate's dead-letter line names it.
jq -c 'select(.what == "dead_letter" and (.msg | test(": rejected: ")))' \
    "${PF_LOG[m]}" >"$TMP/failed.log" || true
echo "# $(cat "$TMP/failed.log")"
assert_eq "the rejected event's failed line carries its requestId" \
    '"metrics-dup-class-group"' "$(jq -c '.requestId' "$TMP/failed.log")"

group "metrics (exact)"
# Gauges and per-partition series refresh every second: poll until the
# snapshot stops changing (two equal scrapes 1.2 s apart), 20 s at most.
stable() {
    pf_get m /metrics | grep -v '^#' | grep -v 'seconds_sum\|_bucket' >"$TMP/m.new" || return 1
    if [ -s "$TMP/m.prev" ] && cmp -s "$TMP/m.prev" "$TMP/m.new" &&
        [ "$(pf_metric m 'provflow_ready ')" = 1 ] &&
        [ "$(pf_metric m provflow_partition_lag)" = 0 ]; then
        return 0
    fi
    mv "$TMP/m.new" "$TMP/m.prev"
    sleep 1.2
    return 1
}
wait_for 20 stable || true
pf_get m /metrics >"$TMP/metrics.txt"
grep '^provflow_' "$TMP/metrics.txt" | grep -v _bucket | sed 's/^/# /'
M() { pf_metric m "$1"; }
assert_eq "provflow_events_consumed_total 7" 7 "$(M 'provflow_events_consumed_total ')"
for t in administrativeUnit classGroup securityGroup user; do
    assert_eq "outcomes created $t = 1" 1 \
        "$(M "provflow_outcomes_total\\{status=\"created\",flow_type=\"$t\"\\}")"
done
assert_eq "outcomes created (all) = 4" 4 "$(M 'provflow_outcomes_total\{status="created"')"
assert_eq "outcomes failed unknown = 2 (invalid)" 2 \
    "$(M 'provflow_outcomes_total\{status="failed",flow_type="unknown"\}')"
assert_eq "outcomes failed classGroup = 1 (rejected)" 1 \
    "$(M 'provflow_outcomes_total\{status="failed",flow_type="classGroup"\}')"
assert_eq "outcomes exists = 0" 0 "$(M 'provflow_outcomes_total\{status="exists"')"
assert_eq "outcomes (all) = 7" 7 "$(M 'provflow_outcomes_total\{')"
assert_eq "provflow_dead_letters_total (all codes) 3" 3 "$(M 'provflow_dead_letters_total\{')"
assert_eq "dead letters invalid_event = 2" 2 \
    "$(M 'provflow_dead_letters_total\{error_code="invalid_event"\}')"
assert_eq "dead letters rejected = 1" 1 \
    "$(M 'provflow_dead_letters_total\{error_code="rejected"\}')"
assert_eq "tenant outcomes: test-tenant created 4" 4 \
    "$(M 'provflow_tenant_outcomes_total\{tenant="test-tenant",status="created"\}')"
assert_eq "tenant outcomes: test-tenant failed 1 (the duplicate)" 1 \
    "$(M 'provflow_tenant_outcomes_total\{tenant="test-tenant",status="failed"\}')"
assert_eq "tenant outcomes: unknown failed 2 (no tenant read)" 2 \
    "$(M 'provflow_tenant_outcomes_total\{tenant="unknown",status="failed"\}')"
assert_eq "tenant outcomes (all) = 7" 7 "$(M 'provflow_tenant_outcomes_total\{')"
assert_eq "test-tenant has a concurrency limit" 1 \
    "$(grep -c '^provflow_graph_concurrency_limit{tenant="test-tenant"} [1-9]' "$TMP/metrics.txt")"
assert_eq "provflow_graph_tenant_in_flight{test-tenant} 0 (sample present)" \
    "provflow_graph_tenant_in_flight{tenant=\"test-tenant\"} 0" \
    "$(grep '^provflow_graph_tenant_in_flight{' "$TMP/metrics.txt")"
assert_eq "rebalances: one assignment" 1 "$(M 'provflow_rebalances_total\{kind="assign"\}')"
assert_eq "rebalances: no revocation, nothing lost" 0 \
    "$(M 'provflow_rebalances_total\{kind="(revoke|lost)"\}')"
assert_eq "provflow_commit_failures_total 0" 0 "$(M 'provflow_commit_failures_total ')"
assert_eq "no producer delivery error" 0 "$(M 'provflow_producer_delivery_errors_total')"
assert_eq "graph requests 2xx = 4" 4 "$(M 'provflow_graph_requests_total\{class="2xx"\}')"
assert_eq "graph requests 4xx = 2 (429, 409)" 2 "$(M 'provflow_graph_requests_total\{class="4xx"\}')"
assert_eq "graph requests 5xx = 0" 0 "$(M 'provflow_graph_requests_total\{class="5xx"\}')"
assert_eq "graph requests transport = 0" 0 "$(M 'provflow_graph_requests_total\{class="transport"\}')"
assert_eq "provflow_graph_retries_total 1" 1 "$(M 'provflow_graph_retries_total ')"
assert_eq "provflow_graph_throttled_total 1" 1 "$(M 'provflow_graph_throttled_total ')"
assert_eq "provflow_graph_retry_after_seconds_total 1" 1 \
    "$(M 'provflow_graph_retry_after_seconds_total ')"
assert_eq "provflow_token_failures_total{test-tenant} 0 (sample present)" \
    'provflow_token_failures_total{tenant="test-tenant"} 0' \
    "$(grep '^provflow_token_failures_total{' "$TMP/metrics.txt")"
assert_cmp "provflow_token_refreshes_total{test-tenant}" \
    "$(M 'provflow_token_refreshes_total\{tenant="test-tenant"\}')" -ge 1
assert_eq "provflow_ready 1" 1 "$(M 'provflow_ready ')"
assert_eq "provflow_graph_systemic_failure 0" 0 "$(M 'provflow_graph_systemic_failure ')"
assert_eq "provflow_graph_requests_in_flight 0" 0 "$(M 'provflow_graph_requests_in_flight ')"
assert_eq "provflow_records_buffered 0" 0 "$(M 'provflow_records_buffered ')"
assert_eq "provflow_paused_partitions 0" 0 "$(M 'provflow_paused_partitions ')"
assert_eq "provflow_partition_lag 0" 0 "$(M provflow_partition_lag)"
assert_eq "committed offsets add up to 7" 7 "$(pf_committed m)"
assert_eq "partition series carry topic and group" 0 \
    "$(grep '^provflow_partition_\(committed_offset\|lag\){' "$TMP/metrics.txt" |
        grep -vc "^provflow_partition_[a-z_]*{topic=\"$IN\",group=\"$GROUP\",partition=\"[0-2]\"} " || true)"
assert_eq "no committed offset shown as -1" 0 \
    "$(grep -c '^provflow_partition_committed_offset{.*} -' "$TMP/metrics.txt" || true)"
assert_cmp "a committed offset per partition that had records" \
    "$(grep -c '^provflow_partition_committed_offset{' "$TMP/metrics.txt")" -ge 1
assert_eq "end-to-end latency histogram: _count 7 (outcomes)" 7 \
    "$(M 'provflow_end_to_end_latency_seconds_count')"
assert_eq "end-to-end +Inf bucket = _count" 7 \
    "$(M 'provflow_end_to_end_latency_seconds_bucket\{le="\+Inf"\}')"
assert_eq "graph request duration histogram: _count 6 (exchanges)" 6 \
    "$(M 'provflow_graph_request_duration_seconds_count')"
assert_eq "end-to-end: every outcome under the 14400 s bucket" 7 \
    "$(M 'provflow_end_to_end_latency_seconds_bucket\{le="14400"\}')"
assert_eq "build_info present" 1 "$(M 'provflow_build_info')"

group "process metrics"
pid=${PF_PID[m]}
started=$(awk '{print $22}' "/proc/$pid/stat")
btime=$(awk '/^btime / {print $2}' /proc/stat)
ticks=$(getconf CLK_TCK)
assert_eq "process_start_time_seconds: the provflow process's own" \
    "$(((btime * ticks + started) / ticks))" \
    "$(awk '/^process_start_time_seconds / {printf "%d\n", $2}' "$TMP/metrics.txt")"
assert_eq "process_max_fds: its RLIMIT_NOFILE" \
    "$(awk '/^Max open files/ {print $4}' "/proc/$pid/limits")" \
    "$(awk '/^process_max_fds / {printf "%.0f\n", $2}' "$TMP/metrics.txt")"
fds=$(awk '/^process_open_fds / {print $2}' "$TMP/metrics.txt")
assert_cmp "process_open_fds: some (sockets, pipes, stdio)" "${fds:-0}" -ge 5
assert_cmp "process_open_fds: at most what /proc/PID/fd lists now + 8" \
    "${fds:-0}" -le "$(($(ls "/proc/$pid/fd" | wc -l) + 8))"
assert_cmp "process_resident_memory_bytes above 1 MB" \
    "$(awk '/^process_resident_memory_bytes / {printf "%d\n", $2}' "$TMP/metrics.txt")" -ge 1000000
assert_eq "process_cpu_seconds_total: a counter" 1 \
    "$(grep -c '^# TYPE process_cpu_seconds_total counter$' "$TMP/metrics.txt")"

group "promtool check metrics"
if ! command -v promtool >/dev/null; then
    echo "# SKIP promtool: not installed (scripts/deps installs Debian's prometheus)"
elif promtool check metrics <"$TMP/metrics.txt" >"$TMP/promtool.txt" 2>&1; then
    pass "promtool check metrics: the page is clean"
else
    fail "promtool check metrics: the page is clean" "$(cat "$TMP/promtool.txt")"
fi

group "simulator agrees"
sim_get /_sim/stats >"$TMP/stats.json"
assert_jq "simulator: 4 created, 1 rejected duplicate, one 429 injected" \
    "$TMP/stats.json" '[.flowsCreated, .duplicatesRejected, .faultsInjected["429"]]' '[4,1,1]'

group "/readyz"
assert_eq "/readyz: 200" 200 "$(pf_ready_status m)"
pf_get m /readyz >"$TMP/readyz.json"
echo "# readyz: $(jq -c . "$TMP/readyz.json")"
assert_jq "/readyz names kafka, token, graph, producer" "$TMP/readyz.json" \
    '[.checks[].name] | sort' '["graph","kafka","producer","token"]'
assert_jq "/readyz: ready, every check ok" "$TMP/readyz.json" \
    '[.ready, ([.checks[].ok] | all)]' '[true,true]'


pf_stop m TERM 30
assert_eq "exit 0 after SIGTERM" 0 "$PF_STOP_RC"
lib_finish
