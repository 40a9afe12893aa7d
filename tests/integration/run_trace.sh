#!/usr/bin/env bash
# provflow run: an event's W3C trace context end to end, and a log line
# for everything that happens to an event. One instance (JSON log lines,
# --max-attempts 2), one partition; the events go one at a time, each with
# the simulator's faults for its creates scripted before it:
#   ok      structured, traceparent A + tracestate; its creates: 429, 500,
#           then 201: a throttle (the tenant's hold), a retry, a settle
#           wait, a duplicate check that finds nothing, the create;
#   landed  traceparent B; its create is applied and the connection closed:
#           a retry, a settle wait, the check finds the flow: exists;
#   fail    traceparent C; its creates: 500, 500: retries exhausted, a
#           dead letter;
#   bad     an invalid event (unknown flow type) with traceparent D and a
#           tracestate: failed, a dead letter;
#   binary  binary mode, ce_traceparent E: created;
#   none    no traceparent: provflow starts a trace;
#   broken  a malformed traceparent: not the event's fault, created, in a
#           trace provflow started (and says so).
# Checked: every Graph request (from the simulator's request log) carries
# the event's trace id with a span id of its own, never the event's parent
# id, and the event's tracestate; the outcome record carries the event's
# traceparent and tracestate; the dead letters carry them as headers; each
# happening is one log line with its what, the event's requestId,
# flowSetId, flowType, tenant, topic, partition, offset, attempt and
# trace_id; every line of the log is JSON, from the first to the last.
. "$(dirname "$0")/run_lib.sh"
run_init "$@"

run_topics trace 1
sim_start
pf_run t --max-attempts 2
if ! wait_for 30 grep -q '"partition assigned"' "${PF_LOG[t]}"; then
    fail "provflow took the partition" "$(pf_log_show t)"
    lib_finish
fi
LOG=${PF_LOG[t]}

TS='rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'
tp() { printf '00-%032x-%016x-01' "$1" "$2"; }
TP_A=$(tp 0xa1 0xa2)
TP_B=$(tp 0xb1 0xb2)
TP_C=$(tp 0xc1 0xc2)
TP_D=$(tp 0xd1 0xd2)
TP_E=$(tp 0xe1 0xe2)
OFFSET=0
declare -A SET=() OFF=()

# outcome ID: the outcome record of event ID, once it is there.
outcome() {
    kcat -C -b "$RUN_BROKERS" -t "$OUT" -e -q -f '%s\n' 2>/dev/null |
        jq -c --arg id "$1" 'select(.data.requestId == $id)'
}
has_outcome() { [ -n "$(outcome "$1")" ]; }

# send ID N [FAULTS_JSON] [traceparent] [tracestate]: scripts the
# simulator's creates, produces a structured event for set N with those
# tracing attributes (none when empty), waits for its outcome.
send() {
    local id=$1 n=$2 faults=${3:-} tparent=${4:-} tstate=${5:-} ev
    SET[$id]=$(set_id "$n")
    OFF[$id]=$OFFSET
    OFFSET=$((OFFSET + 1))
    sim_put /_sim/faults "{\"createFlow\": {\"sequence\": ${faults:-[]}}}"
    ev=$(event "$id" "${SET[$id]}" | jq -c --arg tp "$tparent" --arg ts "$tstate" \
        '. + (if $tp == "" then {} else {traceparent: $tp} end)
           + (if $ts == "" then {} else {tracestate: $ts} end)')
    printf '%s\t%s\n' "${SET[$id]}" "$ev" |
        kcat -P -b "$RUN_BROKERS" -t "$IN" -K $'\t'
    wait_outcome "$id"
}
wait_outcome() {
    if wait_for 60 has_outcome "$1"; then
        pass "$1: an outcome"
    else
        fail "$1: an outcome" "$(pf_log_show t)"
    fi
}

group "the events"
send ok 1 '["429", "500"]' "$TP_A" "$TS"
send landed 2 '["dropAfterApply"]' "$TP_B"
send fail 3 '["500", "500"]' "$TP_C"
# An invalid event: a flow type provflow does not know.
SET[bad]=$(set_id 4)
OFF[bad]=$OFFSET
OFFSET=$((OFFSET + 1))
event bad "${SET[bad]}" | jq -c --arg tp "$TP_D" --arg ts "$TS" \
    '.data.flowType = "nope" | . + {traceparent: $tp, tracestate: $ts}' |
    sed "s/^/${SET[bad]}\t/" | kcat -P -b "$RUN_BROKERS" -t "$IN" -K $'\t'
wait_outcome bad
# Binary mode: the attributes are ce_* headers, the value is data.
SET[binary]=$(set_id 5)
OFF[binary]=$OFFSET
OFFSET=$((OFFSET + 1))
sim_put /_sim/faults '{}'
event binary "${SET[binary]}" | jq -c .data |
    kcat -P -b "$RUN_BROKERS" -t "$IN" -k "${SET[binary]}" \
        -H content-type=application/json -H ce_specversion=1.0 \
        -H ce_id=binary -H ce_source=urn:test \
        -H ce_type=provflow.provisioningFlow.create \
        -H "ce_traceparent=$TP_E"
wait_outcome binary
send none 6
send broken 7 '' '00-ZZZ-not-a-traceparent' "$TS"

kcat -C -b "$RUN_BROKERS" -t "$OUT" -e -q -f '%s\n' >"$TMP/out.json" 2>/dev/null
kcat -C -b "$RUN_BROKERS" -t "$DLQ" -e -q -f '%h\n' >"$TMP/dlq.headers" 2>/dev/null
sim_get /_sim/requests >"$TMP/requests.json"
sim_get /_sim/flows >"$TMP/flows.json"

# trace_of ID: the trace id of the event's outcome record.
trace_of() {
    jq -r --arg id "$1" 'select(.data.requestId == $id) | .traceparent' \
        "$TMP/out.json" | cut -d- -f2
}
# requests_of ID: the simulator's requests for the event's set, one JSON
# per line (method, traceparent).
requests_of() {
    jq -c --arg set "${SET[$1]}" \
        '.requests[] | select(.path | contains($set)) | {method, traceparent}' \
        "$TMP/requests.json"
}

group "outcome records carry the event's trace context"
assert_jq "ok: created" "$TMP/out.json" 'select(.data.requestId == "ok") | .data.status' '"created"'
assert_jq "ok: the outcome's traceparent is the event's" "$TMP/out.json" \
    'select(.data.requestId == "ok") | .traceparent' "\"$TP_A\""
assert_jq "ok: the outcome's tracestate is the event's" "$TMP/out.json" \
    'select(.data.requestId == "ok") | .tracestate' "\"$TS\""
assert_jq "landed: exists" "$TMP/out.json" 'select(.data.requestId == "landed") | .data.status' '"exists"'
assert_jq "landed: the event's traceparent" "$TMP/out.json" \
    'select(.data.requestId == "landed") | .traceparent' "\"$TP_B\""
assert_jq "fail: retries_exhausted" "$TMP/out.json" \
    'select(.data.requestId == "fail") | .data.error.code' '"retries_exhausted"'
assert_jq "fail: the event's traceparent" "$TMP/out.json" \
    'select(.data.requestId == "fail") | .traceparent' "\"$TP_C\""
assert_jq "bad: invalid_event" "$TMP/out.json" \
    'select(.data.requestId == "bad") | .data.error.code' '"invalid_event"'
assert_jq "bad: the invalid event's traceparent" "$TMP/out.json" \
    'select(.data.requestId == "bad") | .traceparent' "\"$TP_D\""
assert_jq "bad: the invalid event's tracestate" "$TMP/out.json" \
    'select(.data.requestId == "bad") | .tracestate' "\"$TS\""
assert_jq "binary: created, with its ce_traceparent" "$TMP/out.json" \
    'select(.data.requestId == "binary") | [.data.status, .traceparent]' \
    "[\"created\",\"$TP_E\"]"
for id in none broken; do
    assert_jq "$id: created, in a trace provflow started (flags 00)" "$TMP/out.json" \
        "select(.data.requestId == \"$id\") | [.data.status, (.traceparent | test(\"^00-[0-9a-f]{32}-[0-9a-f]{16}-00\$\")), has(\"tracestate\")]" \
        '["created",true,false]'
done
assert_ne "none and broken: two traces" "$(trace_of none)" "$(trace_of broken)"

group "dead letters carry it as headers"
assert_grep "fail: traceparent header" "traceparent=$TP_C" "$TMP/dlq.headers"
assert_grep "bad: traceparent header" "traceparent=$TP_D" "$TMP/dlq.headers"
assert_grep "bad: tracestate header" "tracestate=$TS" "$TMP/dlq.headers"
assert_eq "two dead letters" 2 "$(wc -l <"$TMP/dlq.headers")"

group "Graph requests: a span of the event's trace each"
for id in ok landed fail binary none broken; do
    requests_of "$id" >"$TMP/req.$id"
    trace=$(trace_of "$id")
    parent=$(jq -r --arg id "$id" 'select(.data.requestId == $id) | .traceparent' \
        "$TMP/out.json" | cut -d- -f3)
    n=$(wc -l <"$TMP/req.$id")
    assert_cmp "$id: requests seen" "$n" -ge 1
    assert_eq "$id: every request has the event's trace id" "$n" \
        "$(jq -r .traceparent "$TMP/req.$id" | grep -c "^00-$trace-[0-9a-f]\{16\}-0[01]\$")"
    assert_eq "$id: a span id per request" "$n" \
        "$(jq -r .traceparent "$TMP/req.$id" | cut -d- -f3 | sort -u | wc -l)"
    assert_eq "$id: never the event's own parent id" 0 \
        "$(jq -r .traceparent "$TMP/req.$id" | cut -d- -f3 | grep -c "^$parent\$")"
done
# The check lists once within the settle time (it waits) and once after.
assert_jq "ok: POST (429), POST (500), GET, GET (the check), POST" "$TMP/req.ok" \
    '.method' 'POSTPOSTGETGETPOST' -j
assert_jq "landed: POST (applied, dropped), GET, GET (the check)" "$TMP/req.landed" \
    '.method' 'POSTGETGET' -j
assert_eq "the flow's create is recorded with its traceparent" \
    "$(jq -r .traceparent "$TMP/req.ok" | tail -n 1)" \
    "$(jq -r --arg set "${SET[ok]}" '.flowSets[] | select(.id == $set) | .applied[0].traceparent' "$TMP/flows.json")"

group "the log: one line per happening, with the event's context"
pf_stop t TERM 30
assert_eq "exit 0 after SIGTERM" 0 "$PF_STOP_RC"
lines=$(wc -l <"$LOG")
assert_eq "every log line is JSON, from the first to the last ($lines)" "$lines" \
    "$(jq -c . "$LOG" 2>/dev/null | wc -l)"
# line ID WHAT: the log lines of event ID that say WHAT.
line() {
    jq -c --arg id "$1" --arg w "$2" \
        'select(.requestId == $id and .what == $w)' "$LOG"
}
# context ID WHAT LEVEL: one such line at LEVEL, with the event's context.
context() {
    local id=$1 what=$2 level=$3 got
    got=$(line "$id" "$what")
    if [ -z "$got" ]; then
        fail "$id: a $what line" "$(jq -c --arg id "$id" 'select(.requestId == $id)' "$LOG")"
        return
    fi
    assert_eq "$id: one $what line" 1 "$(wc -l <<<"$got")"
    assert_jq "$id $what: $level, with the event's context" <(head -n 1 <<<"$got") \
        "[.level, .topic, .partition, .offset, .flowSetId, .flowType, .tenant,
          (.trace_id | length), (.attempt > 0), (.msg | length > 0)]" \
        "[\"$level\",\"$IN\",0,${OFF[$id]},\"${SET[$id]}\",\"securityGroup\",\"test-tenant\",32,true,true]"
    assert_jq "$id $what: the event's trace id" <(head -n 1 <<<"$got") \
        '.trace_id' "\"$(trace_of "$id")\""
}
context ok throttled info
context ok retry info
context ok settle_wait info
context ok duplicate_check info
assert_jq "ok throttled: the 429 and the hold" <(line ok throttled) \
    '[.httpStatus, has("waitMs"), .attempt]' '[429,true,1]'
assert_jq "ok retry: the 500 and the wait" <(line ok retry) \
    '[.httpStatus, has("waitMs"), (.msg | test("HTTP 500"))]' '[500,true,true]'
assert_jq "ok settle_wait: how long" <(line ok settle_wait) '.waitMs > 0' 'true'
assert_jq "ok duplicate_check: its answer, at the second attempt" <(line ok duplicate_check) \
    '[(.msg | test("no securityGroup flow")), .attempt]' '[true,2]'
context landed retry info
context landed settle_wait info
context landed exists info
context fail retries_exhausted warn
context fail dead_letter warn
assert_jq "fail dead_letter: names the code and the attempts" <(line fail dead_letter) \
    '[(.msg | test("retries_exhausted")), .attempt]' '[true,2]'
got=$(line bad dead_letter)
assert_jq "bad dead_letter: warn, the invalid event's trace id and place" <(echo "$got") \
    '[.level, .trace_id, .topic, .offset, (.msg | test("invalid_event"))]' \
    "[\"warn\",\"$(trace_of bad)\",\"$IN\",${OFF[bad]},true]"
got=$(line broken trace_restarted)
assert_jq "broken: the restarted trace said, with its new trace id" <(echo "$got") \
    '[.level, .trace_id, (.msg | test("traceparent"))]' \
    "[\"info\",\"$(trace_of broken)\",true]"
assert_eq "no empty reason (a colon at the end of a message)" 0 \
    "$(jq -r .msg "$LOG" | grep -c ': *$')"
lib_finish
