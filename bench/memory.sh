#!/usr/bin/env bash
# Memory under lag: `provflow run` with a deep backlog and a slow Graph.
#
# Fills a 12-partition input topic with EVENTS (1,000,000) events (kcat -P
# from a generated file), starts the Graph simulator with LATENCY_MS (20)
# added to every create and `provflow run` with its defaults
# (--max-in-flight 32, --max-buffered 2000), and samples provflow's
# VmRSS/VmHWM (/proc/PID/status) every second for DURATION (60) s or until
# every event has its outcome. Writes the samples (memory.csv) and
# provflow's log to OUT_DIR (${TMPDIR:-/tmp}/provflow-memory-last) and
# prints a summary: peak RSS, RSS at the end, events/s.
#
#   bench/memory.sh [PROVFLOW [GRAPHSIM]]
#   EVENTS=200000 DURATION=30 LATENCY_MS=20 bench/memory.sh
#   EXTRA="--max-in-flight 64" bench/memory.sh    # more provflow options
#
# Runs its own broker (scripts/kafka; PROVFLOW_BROKER_PORT, default 39292,
# and the next port; a temporary home), loopback only, and stops
# everything on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
PF=${1:-$root/build/default/service/provflow}
SIM=${2:-$root/build/default/tools/graphsim/provflow-graphsim}
EVENTS=${EVENTS:-1000000}
DURATION=${DURATION:-60}
LATENCY_MS=${LATENCY_MS:-20}
PARTITIONS=${PARTITIONS:-12}
EXTRA=${EXTRA:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/provflow-memory.XXXXXX")
OUT_DIR=${OUT_DIR:-${TMPDIR:-/tmp}/provflow-memory-last}
export PROVFLOW_BROKER_HOME=$work/kafka
export PROVFLOW_BROKER_PORT=${PROVFLOW_BROKER_PORT:-39292}
export PROVFLOW_BROKER_CONTROLLER_PORT=$((PROVFLOW_BROKER_PORT + 1))
brokers=127.0.0.1:$PROVFLOW_BROKER_PORT
sim_pid= pf_pid=

cleanup() {
    [ -z "$pf_pid" ] || { kill -TERM "$pf_pid" 2>/dev/null; wait "$pf_pid" 2>/dev/null; } || true
    [ -z "$sim_pid" ] || { kill -TERM "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null; } || true
    "$root/scripts/kafka" stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for tool in kcat jq python3 curl; do
    command -v "$tool" >/dev/null || { echo "memory.sh: $tool is missing" >&2; exit 1; }
done
mkdir -p "$OUT_DIR"
now_ms() { echo $(($(date +%s%N) / 1000000)); }

echo "== broker on $brokers"
"$root/scripts/kafka" start >/dev/null
for t in mem.in mem.out mem.dlq; do
    p=3
    [ "$t" = mem.in ] && p=$PARTITIONS
    "$root/scripts/kafka" create-topic "$t" --partitions "$p" 2>/dev/null
done

echo "== $EVENTS events"
t0=$(now_ms)
python3 - "$EVENTS" >"$work/events.tsv" <<'PY'
import sys, uuid
n = int(sys.argv[1])
ns = uuid.UUID("6f1c0d4e-3b7a-4f0e-9a51-2d2c5b9e8a10")
out = sys.stdout
tmpl = ('%s\t{"specversion":"1.0","id":"mem-%07d","source":"urn:bench",'
        '"type":"provflow.provisioningFlow.create","data":{"flowSetId":"%s",'
        '"flowType":"securityGroup","flow":{"creationOptions":'
        '{"createBasedOnRoleGroup":true,"createBasedOnOrgPlusRoleGroup":false}}}}\n')
for i in range(n):
    s = str(uuid.uuid5(ns, str(i)))
    out.write(tmpl % (s, i, s))
PY
kcat -P -b "$brokers" -t mem.in -K $'\t' -X linger.ms=50 -X batch.num.messages=10000 \
    -X queue.buffering.max.messages=1000000 -z lz4 <"$work/events.tsv"
echo "   generated and produced in $(($(now_ms) - t0)) ms ($(du -h "$work/events.tsv" | cut -f1))"
rm -f "$work/events.tsv"

echo "== simulator, ${LATENCY_MS} ms per create"
printf '{"faults": {"createFlow": {"latencyMs": %d}}}\n' "$LATENCY_MS" >"$work/sim.json"
"$SIM" --listen 127.0.0.1:0 --port-file "$work/sim.port" --config "$work/sim.json" \
    --implicit-flow-sets \
    --request-log 10 >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 100); do [ -s "$work/sim.port" ] && break; sleep 0.1; done
graph=http://127.0.0.1:$(cat "$work/sim.port")

echo "== provflow run for ${DURATION} s (or until done)"
# shellcheck disable=SC2086 # EXTRA is split on purpose
AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client AZURE_CLIENT_SECRET=test-secret \
    "$PF" run --brokers "$brokers" --graph-root "$graph" --authority-host "$graph" \
    --allow-http --admin-listen 127.0.0.1:0 --instance mem --group-id mem \
    --input-topic mem.in --results-topic mem.out --dead-letter-topic mem.dlq \
    $EXTRA 2>"$work/provflow.log" &
pf_pid=$!
port=
for _ in $(seq 300); do
    port=$(grep -o -m1 'admin on port [0-9]*' "$work/provflow.log" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "provflow did not start:" >&2; tail "$work/provflow.log" >&2; exit 1; }
outcomes() {
    curl -s --max-time 2 "http://127.0.0.1:$port/metrics" |
        awk '/^provflow_outcomes_total/ { s += $NF } END { printf "%d\n", s }'
}
csv=$OUT_DIR/memory.csv
echo "seconds,vmrss_kib,vmhwm_kib,outcomes,records_buffered" >"$csv"
start=$(now_ms)
first=
while :; do
    el=$(($(now_ms) - start))
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pf_pid/status" 2>/dev/null || echo 0)
    hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pf_pid/status" 2>/dev/null || echo 0)
    m=$(curl -s --max-time 2 "http://127.0.0.1:$port/metrics" || true)
    n=$(awk '/^provflow_outcomes_total/ { s += $NF } END { printf "%d\n", s }' <<<"$m")
    buf=$(awk '/^provflow_records_buffered/ { print $NF }' <<<"$m")
    echo "$((el / 1000)).$(printf '%03d' $((el % 1000))),$rss,$hwm,$n,${buf:-0}" >>"$csv"
    if [ -z "$first" ] && [ "$n" -gt 0 ]; then
        first=$el first_n=$n
    fi
    [ "$el" -lt $((DURATION * 1000)) ] && [ "$n" -lt "$EVENTS" ] || break
    kill -0 "$pf_pid" 2>/dev/null || { echo "provflow exited:" >&2; tail "$work/provflow.log" >&2; exit 1; }
    sleep 1
done
cp "$work/provflow.log" "$OUT_DIR/provflow.log" 2>/dev/null || true
peak=$(cut -d, -f3 "$csv" | sort -n | tail -1)
peak_rss=$(cut -d, -f2 "$csv" | sort -n | tail -1)
last=$(tail -1 "$csv")
IFS=, read -r secs rss_end _ n_end _ <<<"$last"
rate=$(python3 -c "print(round(($n_end - ${first_n:-0}) / max(1e-3, ($el - ${first:-0}) / 1000.0)))")
echo
echo "peak RSS (VmHWM): $((peak / 1024)) MiB ($peak KiB); highest sampled VmRSS $((peak_rss / 1024)) MiB; at the end $((rss_end / 1024)) MiB"
echo "outcomes: $n_end of $EVENTS in ${secs} s; $rate events/s (from the first outcome on)"
echo "samples: $csv"
