# shellcheck shell=bash disable=SC2016  # jq programs in single quotes
#
# lifecycle_lib.sh - helpers of the lifecycle tests (run_lifecycle*.sh),
# on top of run_lib.sh: events of every operation of docs/events.md (a
# flow set created by displayName, flows created, updated, deleted and
# reset by set name and flow type, a run started), produced with a record
# key of the test's choosing, and their outcomes read back in order.
#
#   . "$(dirname "$0")/lifecycle_lib.sh"     # after run_lib.sh
#   lc_onboard FILE NAME PREFIX              # the onboarding batch of NAME
#   lc_produce KEY FILE                      # FILE's lines keyed KEY
#   lc_wait_outcomes N SECONDS               # OUT holds N records
#   lc_outcomes FILE                         # OUT as a JSON array, in order
#   lc_token / lc_graph METHOD PATH [JSON]   # Graph calls of the test itself

IDATA=/beta/external/industryData
SETS=$IDATA/outboundProvisioningFlowSets
# The simulator's default client: the tenant provflow's PF_ENV names.
LC_TOKEN=

# lc_ev ID TYPE DATA [TIME]: one structured-mode event on one line; TIME
# (RFC 3339) is the CloudEvents time attribute, left out when empty.
lc_ev() {
    jq -nc --arg id "$1" --arg type "$2" --argjson data "$3" \
        --arg time "${4:-}" \
        '{specversion: "1.0", id: $id, source: "urn:sis:lifecycle",
          type: $type, data: $data} +
         (if $time == "" then {} else {time: $time} end)'
}

# lc_now: the current time, RFC 3339 with milliseconds, UTC.
lc_now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }

# lc_seed_flows NAME: the seed page's four flow creates (tests/data/seed,
# Graph's documented bodies) with their flow set named by NAME instead of
# its id, one per line, in the seed's order: administrativeUnit,
# classGroup, securityGroup, user.
lc_seed_flows() {
    jq -c --arg n "$1" '.data | del(.flowSetId) | .flowSetName = $n' \
        "$SEED_EVENTS"
}

# lc_onboard FILE NAME PREFIX: appends the onboarding batch of flow set
# NAME to FILE: the set's create (displayName NAME), the seed's four
# flows by flowSetName, a run start timed now. Event ids PREFIX-set,
# PREFIX-flow-1 .. -4, PREFIX-run.
lc_onboard() {
    local file=$1 name=$2 prefix=$3 i=0 data
    lc_ev "$prefix-set" provflow.provisioningFlowSet.create \
        "$(jq -nc --arg n "$name" '{flowSet: {displayName: $n}}')" >>"$file"
    while read -r data; do
        i=$((i + 1))
        lc_ev "$prefix-flow-$i" provflow.provisioningFlow.create "$data" >>"$file"
    done < <(lc_seed_flows "$name")
    lc_ev "$prefix-run" provflow.industryDataRun.start '{}' "$(lc_now)" >>"$file"
}

# lc_flow_event FILE ID TYPE NAME FLOW_TYPE [FLOW_JSON]: appends an event
# of TYPE (provflow.provisioningFlow.update/delete/reset) on the flow of
# FLOW_TYPE in the set named NAME; FLOW_JSON is an update's partial body.
lc_flow_event() {
    local file=$1 id=$2 type=$3 name=$4 ftype=$5 flow=${6:-}
    lc_ev "$id" "$type" "$(jq -nc --arg n "$name" --arg t "$ftype" \
        --arg f "$flow" '{flowSetName: $n, flowType: $t} +
            (if $f == "" then {} else {flow: ($f | fromjson)} end)')" >>"$file"
}

# lc_produce KEY FILE: produces every line of FILE to IN as one record
# keyed KEY, in the file's order (one partition: the key's).
lc_produce() {
    local key=$1 file=$2
    awk -v k="$key" '{ print k "\t" $0 }' "$file" |
        kcat -P -b "$RUN_BROKERS" -t "$IN" -K $'\t' -X linger.ms=5 || {
        echo "could not produce $file" >&2
        exit 1
    }
}

# lc_out_count: the records of OUT now.
lc_out_count() {
    timeout 60 kcat -C -b "$RUN_BROKERS" -t "$OUT" -o beginning -e -q \
        -f '.\n' 2>/dev/null | wc -l
}

# lc_wait_outcomes N SECONDS: polls until OUT holds at least N records
# (0), or SECONDS passed without one more (1, with the count shown).
lc_wait_outcomes() {
    local n=$1 secs=$2 got last=-1 moved
    moved=$(now_ms)
    while :; do
        got=$(lc_out_count)
        [ "$got" -ge "$n" ] && return 0
        if [ "$got" != "$last" ]; then
            last=$got
            moved=$(now_ms)
        elif [ $(($(now_ms) - moved)) -ge $((secs * 1000)) ]; then
            echo "# $got of $n outcome records, none more for ${secs}s" >&2
            return 1
        fi
        sleep 0.3
    done
}

# lc_outcomes FILE: every record of OUT as a JSON array into FILE, by
# partition then offset: {"p", "o", "key", "type", "subject", "data"} (the
# outcome's CloudEvents attributes and data). A value that is not JSON is
# kept as {"unparsed": text}.
lc_outcomes() {
    topic_dump "$OUT" "$TMP/lc.out.dump"
    python3 - "$TMP" "$TMP/lc.out.dump" "$1" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
import run_helper
out = []
for r in sorted(run_helper.dump(sys.argv[2]), key=lambda r: (r["p"], r["o"])):
    key = r["key"].decode("utf-8", "replace") if r["key"] is not None else None
    try:
        ce = json.loads(r["value"])
        out.append({"p": r["p"], "o": r["o"], "key": key, "type": ce.get("type"),
                    "subject": ce.get("subject"), "data": ce.get("data", {})})
    except (TypeError, ValueError):
        out.append({"p": r["p"], "o": r["o"], "key": key,
                    "unparsed": (r["value"] or b"").decode("utf-8", "replace")})
json.dump(out, open(sys.argv[3], "w"))
PY
}

# lc_dead_letters FILE: every record of DLQ as a JSON array into FILE:
# {"key", "id" (the input event's id, if its value is an event),
# "code" (provflow-error-code), "headers"}.
lc_dead_letters() {
    topic_dump "$DLQ" "$TMP/lc.dlq.dump"
    python3 - "$TMP" "$TMP/lc.dlq.dump" "$1" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
import run_helper
out = []
for r in run_helper.dump(sys.argv[2]):
    try:
        ev_id = json.loads(r["value"]).get("id")
    except (TypeError, ValueError, AttributeError):
        ev_id = None
    _, h = run_helper.dlq_headers(r["h"])
    out.append({"key": r["key"].decode("utf-8", "replace") if r["key"] else None,
                "id": ev_id, "code": h.get("provflow-error-code"),
                "headers": r["h"]})
json.dump(out, open(sys.argv[3], "w"))
PY
}

# lc_token: a bearer token of the simulator's default client, kept.
lc_token() {
    if [ -z "$LC_TOKEN" ]; then
        LC_TOKEN=$(sim_curl -d grant_type=client_credentials \
            -d client_id=test-client -d client_secret=test-secret \
            --data-urlencode scope=https://graph.microsoft.com/.default \
            /test-tenant/oauth2/v2.0/token | jq -r .access_token)
    fi
    echo "$LC_TOKEN"
}

# lc_graph METHOD PATH [JSON]: a Graph call of the test itself (not
# provflow's: it shows in the simulator's counters like any other).
lc_graph() {
    local tok body=${3-}
    tok=$(lc_token)
    if [ -n "$body" ]; then
        sim_curl -X "$1" -H "Authorization: Bearer $tok" \
            -H 'Content-Type: application/json' --data "$body" "$2"
    else
        sim_curl -X "$1" -H "Authorization: Bearer $tok" "$2"
    fi
}

# lc_set_id NAME: the id of the one flow set named NAME in the simulator
# ("" when none; every id, space-separated, when several).
lc_set_id() {
    sim_get /_sim/flows |
        jq -r --arg n "$1" '[.flowSets[] | select(.set.displayName == $n) | .id] | join(" ")'
}

# lc_stat FILTER: a counter of /_sim/stats.
lc_stat() { sim_get /_sim/stats | jq -r "$1"; }
