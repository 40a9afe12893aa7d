#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2119 source-path=SCRIPTDIR  # jq programs in single quotes; sim_start takes options
# send_ordering.sh PROVFLOW GRAPHSIM [http|https]
#
# Case 11: per-flowSetId ordering with bounded concurrency. 32 events over
# 4 flow sets, interleaved, each create taking 100 ms at the simulator,
# --max-in-flight 3: for every set the simulator receives the creates in
# event order, one at a time; at most 3 requests are at the simulator at
# once, and more than one (sets do run concurrently).
# Also: throttling holds the tenant, not the set: the first create meets
# a 429 with Retry-After: 2; no create of the tenant starts until that
# time (those already at Graph finish), then every event is created, the
# throttled set's later events still after its first one.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lib_init "$@"

# events SETS PER_SET PREFIX: interleaved events, id PREFIX-<set>-<k>.
make_events() {
    local k s
    for k in $(seq 0 $(($2 - 1))); do
        for s in $(seq 0 $(($1 - 1))); do
            event "$3-$s-$k" "$(set_id $((s + 1)))"
        done
    done
}

# The simulator's POSTs as [{set, k, seq, start, end, status}], log order;
# set and k come from the event id behind each client-request-id.
posts() {
    local ids map
    ids=$(jq -r '.data.requestId' "$PF_OUT")
    # shellcheck disable=SC2086
    map=$(paste -d ' ' <(uuid5 $ids) <(printf '%s\n' $ids) |
        jq -R 'split(" ") | {key: .[0], value: (.[1] | split("-"))}' |
        jq -s from_entries)
    jq -c --argjson m "$map" "$JQ_TIME"'[.requests[]
        | select(.method == "POST" and (.path | startswith("/beta/")))
        | ($m[.clientRequestId] // ["?", "-1", "-1"]) as $id
        | {set: ($id[1] | tonumber), k: ($id[2] | tonumber),
           seq, status, start: t_start, end: t_end}]' "$REQS"
}

# Peak number of POSTs at the simulator at once (ends sort before starts).
JQ_PEAK='[.[] | [.start, 1], [.end, -1]] | sort_by(.[0], .[1])
    | reduce .[] as $e ({c: 0, m: 0}; .c += $e[1] | .m = ([.m, .c] | max))
    | .m'

group "case 11: per-set order, --max-in-flight 3"
sim_start
sim_put /_sim/faults '{"createFlow": {"latencyMs": 100}}'
make_events 4 8 ord >"$TMP/ord.ndjson"
pf_send --max-in-flight 3 "$TMP/ord.ndjson"
sim_save c11
assert_rc "send exits 0" 0
assert_jq "32 created" "$PF_OUTCOMES" '[.[].data.status] | [length, unique]' \
    '[32,["created"]]'
p=$(posts) || p='[]'
assert_eq "the simulator saw 32 creates" 32 "$(jq length <<<"$p")"
assert_eq "per set, creates reached the simulator in event order" \
    '[[0,1,2,3,4,5,6,7],[0,1,2,3,4,5,6,7],[0,1,2,3,4,5,6,7],[0,1,2,3,4,5,6,7]]' \
    "$(jq -c 'sort_by(.seq) | group_by(.set) | map(map(.k))' <<<"$p")"
# Within a set, a create starts only after the previous one was answered
# (1 ms for the simulator's rounding of times).
assert_eq "per set, one create at a time" '[]' \
    "$(jq -c '[sort_by(.seq) | group_by(.set)[] | . as $s
        | range(1; length) | select($s[.].start < $s[. - 1].end - 0.001)
        | {set: $s[.].set, k: $s[.].k}]' <<<"$p")"
peak=$(jq "$JQ_PEAK" <<<"$p") || peak=error
assert_cmp "at most --max-in-flight creates at the simulator at once" \
    "$peak" -le 3
if [ "$peak" != error ] && [ "$peak" -gt 3 ]; then
    # For the diagnosis: the creates at the simulator when the 4th began.
    jq -c '. as $all | [.[] | . as $r | select([$all[] | select(.start <=
        $r.start and .end > $r.start)] | length > 3)][0] as $r
        | [$all[] | select(.start <= $r.start and .end > $r.start)]
        | sort_by(.start)[]' <<<"$p" | sed 's/^/       overlap: /'
fi
assert_cmp "sets ran concurrently" "$peak" -ge 2
assert_jq "outcomes of each set printed in event order" "$PF_OUTCOMES" \
    '[.[].data.requestId | split("-") | {s: .[1], k: (.[2] | tonumber)}]
        | group_by(.s) | map(map(.k) == ([.[].k] | sort)) | unique' '[true]'
sim_stop

group "case 11: a throttle holds the tenant"
sim_start
sim_put /_sim/faults '{"createFlow": {"latencyMs": 50, "sequence": ["429"],
    "retryAfter": 2}}'
make_events 4 4 thr >"$TMP/thr.ndjson"
pf_send --max-in-flight 4 "$TMP/thr.ndjson"
sim_save c11b
assert_rc "send exits 0" 0
assert_jq "16 created" "$PF_OUTCOMES" '[.[].data.status] | [length, unique]' \
    '[16,["created"]]'
p=$(posts) || p='[]'
throttled=$(jq -c 'map(select(.status == 429)) | .[0] // null' <<<"$p")
assert_ne "one create was throttled" null "$throttled"
if [ "$throttled" != null ]; then
    assert_eq "the throttled create was its set's first" 0 \
        "$(jq .k <<<"$throttled")"
    # 0.1 s for the log's rounding and the two clocks.
    assert_eq "no create of the tenant started within the Retry-After" \
        '[]' "$(jq -c --argjson t "$throttled" '[.[] | select(.start > $t.end
            and .start < $t.end + 1.9) | {set, k}]' <<<"$p")"
    assert_eq "the throttled set kept its order after the retry" \
        '[0,0,1,2,3]' "$(jq -c --argjson t "$throttled" '[sort_by(.seq)[]
            | select(.set == $t.set) | .k]' <<<"$p")"
    retry_gap=$(jq --argjson t "$throttled" '[sort_by(.seq)[]
        | select(.set == $t.set and .seq > $t.seq)][0].start - $t.end
        | . * 1000 | floor' <<<"$p") || retry_gap=error
    assert_cmp "the throttled set's retry waited the Retry-After (ms)" \
        "$retry_gap" -ge 2000
fi
sim_stop

lib_finish
