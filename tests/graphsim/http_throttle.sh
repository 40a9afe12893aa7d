#!/usr/bin/env bash
# Throttling over HTTP: a budget per application next to the one per tenant,
# the concurrency limit per tenant (answered 429 at once, counted through a
# create's latency), a changing limit (the schedule, observed through the
# effective limits /_sim/stats reports, not through timings), the counters
# by cause, reset, and configuration errors with their messages.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

cat >"$TMP/config.json" <<'JSON'
{"tenants": {
    "tenant-a": {"clients": {"app1": {"secret": "a1"}, "app2": {"secret": "a2"}}},
    "tenant-b": {"clients": {"app": {"secret": "b"}}}
}}
JSON
start_sim throttle --implicit-flow-sets --config "$TMP/config.json"
TOK1=$(token tenant-a app1 a1)
TOK2=$(token tenant-a app2 a2)
TOKB=$(token tenant-b app b)

put_limit() {
    call PUT "$URL/_sim/rateLimit" -H 'Content-Type: application/json' -d "$1"
}

# --- the application's bucket refuses while the tenant's admits
put_limit '{"requestsPerSecond": 100, "burst": 100, "perApp": {"requestsPerSecond": 0.2, "burst": 2}}'
expect_status 200 "perApp limit"
expect_jq .perApp.requestsPerSecond 0.2
expect_jq .perApp.burst 2
for i in 1 2; do
    graph GET "$SETS_PATH" "$TOK1"
    expect_status 200 "app1 burst $i"
done
graph GET "$SETS_PATH" "$TOK1"
expect_graph_error 429 TooManyRequests
expect_header Retry-After '^5$'
expect_jq '.error.message | contains("application")' true
graph GET "$SETS_PATH" "$TOK2"
expect_status 200 "app2 of the same tenant has its own budget"
graph GET "$SETS_PATH" "$TOKB"
expect_status 200 "tenant-b"
[ "$(stats '.rateLimitedBy | [.tenant, .app, .concurrency] | join(",")')" = 0,1,0 ] ||
    fail "rateLimitedBy $(stats .rateLimitedBy)"
[ "$(stats .rateLimited)" = 1 ] || fail "rateLimited $(stats .rateLimited)"
ok

# --- both must admit: the tenant's bucket refuses first, and is the cause
put_limit '{"requestsPerSecond": 0.2, "burst": 1, "perApp": {"requestsPerSecond": 100}}'
expect_status 200 "tenant limit under perApp"
graph GET "$SETS_PATH" "$TOK1"
expect_status 200 "tenant burst"
graph GET "$SETS_PATH" "$TOK2"
expect_graph_error 429 TooManyRequests
expect_jq '.error.message | contains("tenant")' true
[ "$(stats .rateLimitedBy.tenant)" = 1 ] || fail "rateLimitedBy $(stats .rateLimitedBy)"
ok

# --- concurrency: the N+1th request during a create's latency is refused
call PUT "$URL/_sim/faults" -H 'Content-Type: application/json' \
    -d '{"createFlow": {"latencyMs": 4000}}'
expect_status 200 "latency"
put_limit '{"concurrency": 2, "retryAfter": 3}'
expect_status 200 "concurrency limit"
expect_jq .concurrency 2
expect_jq .retryAfter 3
pids=()
for i in 1 2; do
    curl -s -o "$TMP/slow$i" -w '%{http_code}' -X POST \
        -H "Authorization: Bearer $TOK1" -H 'Content-Type: application/json' \
        --data-binary "@$DATA/seed-user.json" \
        "$URL$SETS_PATH/$SET/provisioningFlows" >"$TMP/slow$i.status" &
    pids+=($!)
done
for _ in $(seq 400); do
    [ "$(stats '.effectiveLimits.tenants."tenant-a".inFlight')" = 2 ] && break
    sleep 0.05
done
[ "$(stats '.effectiveLimits.tenants."tenant-a".inFlight')" = 2 ] ||
    fail "in flight: $(stats .effectiveLimits)"
ok
graph GET "$SETS_PATH" "$TOK2"
expect_graph_error 429 TooManyRequests
expect_header Retry-After '^3$'
expect_jq '.error.message | contains("concurrent")' true
graph GET "$SETS_PATH" "$TOKB"
expect_status 200 "another tenant is not held"
for p in "${pids[@]}"; do wait "$p"; done
for i in 1 2; do
    [ "$(cat "$TMP/slow$i.status")" = 201 ] || fail "slow create $i: $(cat "$TMP/slow$i.status")"
done
[ "$(stats '.effectiveLimits.tenants."tenant-a".inFlight')" = 0 ] ||
    fail "in flight after: $(stats .effectiveLimits)"
[ "$(stats '.effectiveLimits.tenants."tenant-a".peakInFlight')" = 2 ] ||
    fail "the peak in flight: $(stats .effectiveLimits)"
graph GET "$SETS_PATH" "$TOK2"
expect_status 200 "admitted once one finished"
[ "$(stats .rateLimitedBy.concurrency)" = 1 ] || fail "rateLimitedBy $(stats .rateLimitedBy)"
ok
call PUT "$URL/_sim/faults" -H 'Content-Type: application/json' -d '{}'
expect_status 200 "faults off"

# --- the schedule: halves the rate and the concurrency, then recovers
put_limit '{"requestsPerSecond": 10, "concurrency": 4, "perApp": {"requestsPerSecond": 8}, "schedule": [{"afterMs": 1000, "factor": 0.5}, {"afterMs": 6000, "factor": 1}]}'
expect_status 200 "schedule"
expect_jq '.schedule | length' 2
expect_jq '.schedule[0].factor' 0.5
lim() { stats ".effectiveLimits | [.factor, .requestsPerSecond, .perAppRequestsPerSecond, .concurrency] | join(\",\")"; }
# Right after the PUT the factor is 1 unless the machine stalled past 1 s.
case $(lim) in 1,10,8,4 | 0.5,5,4,2) ok ;; *) fail "limits at start: $(lim)" ;; esac
for _ in $(seq 400); do
    [ "$(lim)" = 0.5,5,4,2 ] && break
    sleep 0.05
done
[ "$(lim)" = 0.5,5,4,2 ] || fail "halved: $(lim)"
[ "$(stats '.effectiveLimits.tenants."tenant-b".requestsPerSecond')" = 5 ] ||
    fail "tenant-b halved: $(stats .effectiveLimits)"
ok
for _ in $(seq 400); do
    [ "$(lim)" = 1,10,8,4 ] && break
    sleep 0.05
done
[ "$(lim)" = 1,10,8,4 ] || fail "recovered: $(lim)"
ok

# --- reset: counters to 0, startup limits back, the schedule's clock stopped
call POST "$URL/_sim/reset"
expect_status 200 "reset"
[ "$(stats '.rateLimitedBy | [.tenant, .app, .concurrency] | join(",")')" = 0,0,0 ] ||
    fail "after reset: $(stats .rateLimitedBy)"
[ "$(stats .effectiveLimits.scheduleMs)" = null ] || fail "schedule clock after reset"
call GET "$URL/_sim/rateLimit"
expect_jq '[.concurrency, (.schedule | length), .perApp.requestsPerSecond] | join(",")' 0,0,0

# --- a schedule from the config file starts at the first request
cat >"$TMP/sched.json" <<'JSON'
{"rateLimit": {"requestsPerSecond": 50, "concurrency": 8,
               "schedule": [{"afterMs": 0, "factor": 0.5}]}}
JSON
stop_sim
start_sim sched --implicit-flow-sets --config "$TMP/sched.json"
[ "$(stats .effectiveLimits.scheduleMs)" = null ] || fail "clock before a request"
[ "$(stats .effectiveLimits.concurrency)" = 8 ] || fail "before: $(stats .effectiveLimits)"
graph GET "$SETS_PATH" "$(token)"
expect_status 200 "first request"
[ "$(stats .effectiveLimits.concurrency)" = 4 ] || fail "after: $(stats .effectiveLimits)"
[ "$(stats .effectiveLimits.requestsPerSecond)" = 25 ] || fail "after: $(stats .effectiveLimits)"
ok

# --- configuration errors, each with its message; the limit in force stays
bad_limit() {
    put_limit "$1"
    expect_status 400 "rateLimit $1"
    expect_jq .error "$2"
}
bad_limit '{"concurrency": -1}' "'concurrency' must be an integer in [0, 1000000]"
bad_limit '{"concurrency": 1.5}' "'concurrency' must be an integer in [0, 1000000]"
bad_limit '{"retryAfter": 0}' "'retryAfter' must be an integer in [1, 3600]"
bad_limit '{"perApp": {"requestsPerSecond": 5, "burst": 0.5}}' \
    "rateLimit.perApp: burst must be at least 1"
bad_limit '{"perApp": {"rps": 5}}' "rateLimit.perApp: unknown key 'rps' in rateLimit"
bad_limit '{"schedule": {"afterMs": 1}}' "rateLimit.schedule must be an array"
bad_limit '{"schedule": [{"afterMs": 1000, "factor": 0.5}, {"afterMs": 1000, "factor": 1}]}' \
    "rateLimit.schedule[1]: 'afterMs' must be greater than the step before's (1000)"
bad_limit '{"schedule": [{"afterMs": 1000}]}' \
    "rateLimit.schedule[0]: 'afterMs' and 'factor' are required"
bad_limit '{"schedule": [{"afterMs": 1000, "factor": 0}]}' \
    "rateLimit.schedule[0]: 'factor' must be a number in [0.001, 1000]"
bad_limit '{"schedule": [{"afterMs": 1000, "factor": 1, "x": 1}]}' \
    "rateLimit.schedule[0]: unknown key 'x' in rateLimit.schedule[0]"
bad_limit '{"concurrenc": 2}' "unknown key 'concurrenc' in rateLimit"
call GET "$URL/_sim/rateLimit"
expect_jq '[.concurrency, .schedule[0].factor] | join(",")' 8,0.5
echo '{"rateLimit": {"schedule": [{"afterMs": 5, "factor": 2}, {"afterMs": 1, "factor": 1}]}}' \
    >"$TMP/bad.json"
if "$BIN" --listen 127.0.0.1:0 --config "$TMP/bad.json" >"$TMP/bad.out" 2>"$TMP/bad.err"; then
    fail "a bad schedule in the config file was accepted"
fi
grep -q "rateLimit.schedule\[1\]: 'afterMs' must be greater" "$TMP/bad.err" ||
    fail "config error: $(cat "$TMP/bad.err")"
ok

stop_sim
done_ok
