#!/usr/bin/env bash
# bench/send.sh [PROVFLOW] [GRAPHSIM] - throughput of `provflow send`
# (events/s) against the Graph simulator, over plain HTTP on 127.0.0.1,
# with 0 ms and 50 ms added to every create, at several --max-in-flight.
# Every event has its own flowSetId, so per-set ordering never serialises
# them. Prints a Markdown table. Binaries default to the default preset's
# build (RelWithDebInfo). Settings (environment):
#   MIFS="1 8 32 64 128"   --max-in-flight values
#   N0=5000 N50=2000       events per run at 0 ms / 50 ms latency
#   REPEAT0=3 REPEAT50=1   runs per cell (the median is reported)
#   LATENCIES="0 50"       which columns to measure
# The simulator runs on CPU 0 and provflow on CPU 1 when taskset is
# available and there are two CPUs or more.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pf=${1:-$here/../build/default/service/provflow}
sim=${2:-$here/../build/default/tools/graphsim/provflow-graphsim}
MIFS=${MIFS:-1 8 32 64 128}
N0=${N0:-5000}
N50=${N50:-2000}
REPEAT0=${REPEAT0:-3}
REPEAT50=${REPEAT50:-1}
LATENCIES=${LATENCIES:-0 50}

pin_sim=() pin_pf=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    pin_sim=(taskset -c 0)
    pin_pf=(taskset -c 1)
fi
tmp=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

${pin_sim[@]+"${pin_sim[@]}"} "$sim" --listen 127.0.0.1:0 --implicit-flow-sets \
    --port-file "$tmp/port" --request-log 1000 >"$tmp/sim.out" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
url=http://127.0.0.1:$(cat "$tmp/port")

# events N FILE: N events, each in its own flow set.
events() {
    awk -v n="$1" 'BEGIN {
        for (i = 1; i <= n; i++)
            printf "{\"specversion\":\"1.0\",\"id\":\"bench-%d\",\"source\":\"urn:bench\",\"type\":\"provflow.provisioningFlow.create\",\"data\":{\"flowSetId\":\"%08x-0000-4000-8000-%012x\",\"flowType\":\"securityGroup\",\"flow\":{\"creationOptions\":{\"createBasedOnRoleGroup\":true,\"createBasedOnOrgPlusRoleGroup\":false}}}}\n", i, i, i
    }' >"$2"
}

# run LATENCY MIF FILE N: one timed run; prints the seconds.
run() {
    local start end created rc=0
    curl -sf -X POST "$url/_sim/reset" >/dev/null
    curl -sf -X PUT "$url/_sim/faults" \
        -d "{\"createFlow\": {\"latencyMs\": $1}}" >/dev/null
    start=$(date +%s%N)
    env AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client \
        AZURE_CLIENT_SECRET=test-secret \
        ${pin_pf[@]+"${pin_pf[@]}"} "$pf" send --allow-http \
        --graph-root "$url" --authority-host "$url" --max-in-flight "$2" \
        "$3" >"$tmp/out" 2>"$tmp/err" || rc=$?
    end=$(date +%s%N)
    created=$(grep -c '"status":"created"' "$tmp/out" || true)
    if [ "$rc" -ne 0 ] || [ "$created" -ne "$4" ]; then
        echo "run latency=$1 mif=$2: exit $rc, $created of $4 created" >&2
        tail -n 5 "$tmp/err" >&2
        echo nan
        return
    fi
    awk -v ns=$((end - start)) 'BEGIN { printf "%.3f\n", ns / 1e9 }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

events "$N0" "$tmp/events0.ndjson"
events "$N50" "$tmp/events50.ndjson"
declare -A rate secs
for lat in $LATENCIES; do
    n=$N0 reps=$REPEAT0
    [ "$lat" = 50 ] && n=$N50 reps=$REPEAT50
    for mif in $MIFS; do
        s=$(for _ in $(seq "$reps"); do
            run "$lat" "$mif" "$tmp/events$lat.ndjson" "$n"
        done | median)
        secs[$lat,$mif]=$s
        rate[$lat,$mif]=$(awk -v n="$n" -v s="$s" \
            'BEGIN { if (s == "nan" || s <= 0) print "error"; else printf "%.0f", n / s }')
        echo "latency ${lat} ms, --max-in-flight $mif: $n events in ${s} s" >&2
    done
done

echo "| --max-in-flight | 0 ms: events/s ($N0 events) | 50 ms: events/s ($N50 events) |"
echo "|---:|---:|---:|"
for mif in $MIFS; do
    cell0="${rate[0,$mif]:--} (${secs[0,$mif]:--} s)"
    cell50="${rate[50,$mif]:--} (${secs[50,$mif]:--} s)"
    echo "| $mif | $cell0 | $cell50 |"
done
