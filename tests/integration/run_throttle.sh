#!/usr/bin/env bash
# provflow run: a throttle storm on one tenant. Two tenants, 150 events
# each; the simulator's budget for tenant A admits about nothing (one
# request in 1,000 s, Retry-After capped at 1 s by --max-retry-after-ms),
# tenant B is unlimited; --max-attempts 3, so a throttled try that counted
# as an attempt would fail A's events within seconds.
#   - during the storm, every one of B's events is created while A's wait:
#     A's hold does not stop B;
#   - A's hold is tenant-wide: its 150 events draw about one 429 a second
#     (one probe after each hold), not 150;
#   - /readyz stays 200, and the metrics name A as throttled
#     (provflow_graph_tenant_throttled_seconds, _throttles_total), not B;
#   - then the budget is lifted (after 20 s of storm): every one of A's
#     events is created, none failed, no dead letter, each in one attempt.
. "$(dirname "$0")/run_lib.sh"
run_init "$@"
N=150
STORM_S=20

run_topics throttle 3
jq -n '{tenants: {
        "test-tenant": {clients: {"test-client": {secret: "test-secret"}}},
        "tenant-b": {clients: {"client-b": {secret: "secret-b"}}}},
    rateLimit: {requestsPerSecond: 0,
        tenants: {"test-tenant": {requestsPerSecond: 0.001, burst: 1}}}}' \
    >"$TMP/sim.json"
printf 'secret-b' >"$TMP/secret-b"
jq -n --arg f "$TMP/secret-b" \
    '[{tenantId: "tenant-b", clientId: "client-b", clientSecretFile: $f}]' \
    >"$TMP/credentials.json"
sim_start --config "$TMP/sim.json"

pf_run t --credentials-file "$TMP/credentials.json" --max-attempts 3 \
    --max-retry-after-ms 1000
# Records produced after the group took its partitions are new: created
# without a check first.
if ! wait_for 30 eval '[ "$(pf_ready_status t)" = 200 ]'; then
    fail "provflow ready before the events" "$(pf_log_show t)"
fi
sleep 2
{
    for i in $(seq 1 "$N"); do
        set=$(set_id "$i")
        printf '%s\t%s\n' "$set" "$(event "a-$i" "$set")"
        set=$(set_id $((i + 100000)))
        printf '%s\t%s\n' "$set" "$(event "b-$i" "$set" | jq -c '. + {tenantid: "tenant-b"}')"
    done
} | kcat -P -b "$RUN_BROKERS" -t "$IN" -K $'\t' -X linger.ms=5
t_storm=$(now_ms)

# outcomes FILE: every outcome record on OUT so far, one JSON per line.
outcomes() {
    kcat -C -b "$RUN_BROKERS" -t "$OUT" -e -q -f '%s\n' >"$1" 2>/dev/null || true
}
count() { # count FILE PREFIX STATUS
    jq -s --arg p "$2" --arg s "$3" \
        '[.[] | select((.data.requestId | startswith($p)) and .data.status == $s)] | length' "$1"
}
# all_created FILE PREFIX: the outcomes so far into FILE; every one of the
# tenant's N events created.
all_created() {
    outcomes "$1"
    [ "$(count "$1" "$2" created)" -ge "$N" ]
}

group "storm on tenant A"
if wait_for 60 all_created "$TMP/out.storm" b-; then
    pass "tenant B's $N events created during A's storm ($(($(now_ms) - t_storm)) ms)"
else
    fail "tenant B's events created during A's storm" "$(count "$TMP/out.storm" b- created) of $N; $(pf_log_show t)"
fi
a_now=$(count "$TMP/out.storm" a- created)
assert_cmp "tenant A's events wait (at most the budget's one created)" "$a_now" -le 1
assert_eq "no event failed" 0 "$(jq -s '[.[] | select(.data.status == "failed")] | length' "$TMP/out.storm")"
assert_eq "/readyz stays 200 while A is held" 200 "$(pf_ready_status t)"
pf_get t /metrics >"$TMP/metrics.storm"
assert_grep "A's throttles counted" \
    '^provflow_graph_tenant_throttles_total\{tenant="test-tenant"\} [1-9]' "$TMP/metrics.storm"
assert_absent_re "B never throttled" \
    'provflow_graph_tenant_throttles_total\{tenant="tenant-b"\} [1-9]' "$TMP/metrics.storm"
assert_grep "B has an adaptive limit" \
    '^provflow_graph_concurrency_limit\{tenant="tenant-b"\} [1-9]' "$TMP/metrics.storm"
held() {
    pf_get t /metrics 2>/dev/null |
        grep -qE '^provflow_graph_tenant_throttled_seconds\{tenant="test-tenant"\} [0-9.]*[1-9]'
}
if wait_for 10 held; then
    pass "the metrics say A is held now"
else
    fail "the metrics say A is held now" "$(grep tenant "$TMP/metrics.storm")"
fi

# The rest of the storm, then the budget is lifted.
left=$((STORM_S * 1000 - ($(now_ms) - t_storm)))
[ "$left" -gt 0 ] && sleep "$(awk -v ms="$left" 'BEGIN { printf "%.1f", ms / 1000 }')"
storm_s=$((($(now_ms) - t_storm + 999) / 1000))
limited=$(sim_get /_sim/stats | jq '.rateLimitedBy.tenant')
assert_cmp "A drew 429s" "$limited" -ge 3
# One probe a second, with room: far below one 429 per waiting event.
assert_cmp "A's hold is tenant-wide: ${limited} 429s in ${storm_s} s" "$limited" -le $((storm_s * 3))
sim_put /_sim/rateLimit '{"requestsPerSecond": 0}'

group "the budget is back"
if wait_for 60 all_created "$TMP/out.all" a-; then
    pass "tenant A's $N events created after the storm"
else
    fail "tenant A's events created after the storm" "$(count "$TMP/out.all" a- created) of $N; $(pf_log_show t)"
fi
assert_eq "no event failed" 0 "$(jq -s '[.[] | select(.data.status == "failed")] | length' "$TMP/out.all")"
assert_eq "one outcome per event" $((2 * N)) "$(jq -s '[.[].data.requestId] | unique | length' "$TMP/out.all")"
assert_eq "every create in one attempt (throttle waits spend none)" '[1]' \
    "$(jq -s -c '[.[] | select(.data.requestId | startswith("a-")) | .data.graph.attempts] | unique' "$TMP/out.all")"
dlq=$(kcat -C -b "$RUN_BROKERS" -t "$DLQ" -e -q -f '%s\n' 2>/dev/null | wc -l)
assert_eq "no dead letter" 0 "$dlq"
assert_eq "each flow created once" 0 "$(sim_get /_sim/stats | jq .duplicatesCreated)"
pf_stop t TERM 30
assert_eq "exit 0 after SIGTERM" 0 "$PF_STOP_RC"
lib_finish
