#!/usr/bin/env bash
# Memory with 1 MB events under a stalled Graph: what --max-buffered-bytes
# holds.
#
# Fills a PARTITIONS (12) partition input topic (max.message.bytes 2 MiB)
# with EVENTS (300) valid events of about EVENT_BYTES (1,000,000) bytes
# each: user flows whose one licenseSku is that long, each its own flow
# set. Then, for every run of RUNS, starts a fresh Graph simulator whose
# creates answer only after LATENCY_MS (600,000: never, within the run)
# and `provflow run` under a group of its own with that run's options, and
# samples provflow's VmRSS and VmHWM (/proc/PID/status) and its
# provflow_records_buffered and provflow_graph_requests_in_flight metrics
# every second for DURATION (60) s. Prints, per run, the peak (VmHWM), the
# plateau (median VmRSS over the second half of the run) and the records
# held; writes the samples (run-N.csv), provflow's logs and a summary
# (summary.txt) to OUT_DIR (${TMPDIR:-/tmp}/provflow-memory-large-last).
#
#   bench/memory_large.sh [PROVFLOW [GRAPHSIM]]
#   EVENTS=100 DURATION=30 bench/memory_large.sh
#   RUNS='default|;1 GiB|--max-buffered-bytes 1073741824' bench/memory_large.sh
#
# RUNS: runs separated by ';', each "LABEL|provflow run options[|ENV=V
# ...]" (options and environment split on spaces; e.g.
# "glibc|--max-in-flight 1|MALLOC_MMAP_THRESHOLD_=131072"). Default: the
# default budget (32 MiB), then 1 GiB (more than the 300 events: all of
# them held, as before the byte budget, when --max-buffered 2000 records
# was the only bound).
#
# Runs its own broker (scripts/kafka; PROVFLOW_BROKER_PORT, default 39392,
# and the next port; a temporary home), loopback only, and stops
# everything on exit. Needs kcat, jq, python3, curl; about 2 GB of disk
# in TMPDIR for the broker's log with the defaults (300 MB of events).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
PF=${1:-$root/build/default/service/provflow}
SIM=${2:-$root/build/default/tools/graphsim/provflow-graphsim}
EVENTS=${EVENTS:-300}
EVENT_BYTES=${EVENT_BYTES:-1000000}
DURATION=${DURATION:-60}
LATENCY_MS=${LATENCY_MS:-600000}
PARTITIONS=${PARTITIONS:-12}
RUNS=${RUNS:-"default budget (32 MiB)|;--max-buffered-bytes 1 GiB|--max-buffered-bytes 1073741824"}
work=$(mktemp -d "${TMPDIR:-/tmp}/provflow-memory-large.XXXXXX")
OUT_DIR=${OUT_DIR:-${TMPDIR:-/tmp}/provflow-memory-large-last}
export PROVFLOW_BROKER_HOME=$work/kafka
export PROVFLOW_BROKER_PORT=${PROVFLOW_BROKER_PORT:-39392}
export PROVFLOW_BROKER_CONTROLLER_PORT=$((PROVFLOW_BROKER_PORT + 1))
brokers=127.0.0.1:$PROVFLOW_BROKER_PORT
sim_pid= pf_pid=

stop_pid() {
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
cleanup() {
    stop_pid "$pf_pid"
    stop_pid "$sim_pid"
    "$root/scripts/kafka" stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for tool in kcat jq python3 curl; do
    command -v "$tool" >/dev/null || { echo "memory_large.sh: $tool is missing" >&2; exit 1; }
done
[ -x "$PF" ] && [ -x "$SIM" ] || { echo "memory_large.sh: build $PF and $SIM first" >&2; exit 1; }
mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR"/run-*.csv "$OUT_DIR"/run-*.log "$OUT_DIR/summary.txt"
now_ms() { echo $(($(date +%s%N) / 1000000)); }

echo "== broker on $brokers"
"$root/scripts/kafka" start >/dev/null
"$root/scripts/kafka" create-topic mem.in --partitions "$PARTITIONS" \
    --config max.message.bytes=2097152 2>/dev/null

echo "== $EVENTS events of $EVENT_BYTES bytes"
t0=$(now_ms)
python3 - "$EVENTS" "$EVENT_BYTES" >"$work/events.tsv" <<'PY'
import json, sys, uuid
n, size = int(sys.argv[1]), int(sys.argv[2])
ns = uuid.UUID("0b6f7c1e-8d3a-4c55-9f0e-5a4f2b1c7d90")
for i in range(n):
    s = str(uuid.uuid5(ns, str(i)))
    ev = {"specversion": "1.0", "id": "big-%05d" % i, "source": "urn:bench",
          "type": "provflow.provisioningFlow.create",
          "data": {"flowSetId": s, "flowType": "user", "flow": {
              "managementOptions": {"additionalOptions": {
                  "studentAgeGroup": "minor"}},
              "creationOptions": {"configurations": [{
                  "roleGroupId": "students", "licenseSkus": [""]}]}}}}
    base = len(json.dumps(ev, separators=(",", ":")))
    sku = ev["data"]["flow"]["creationOptions"]["configurations"][0]
    sku["licenseSkus"][0] = "L" * max(1, size - base)
    sys.stdout.write(s + "\t" + json.dumps(ev, separators=(",", ":")) + "\n")
PY
kcat -P -b "$brokers" -t mem.in -K $'\t' -X message.max.bytes=2000000 \
    -X linger.ms=20 <"$work/events.tsv"
echo "   generated and produced in $(($(now_ms) - t0)) ms ($(du -h "$work/events.tsv" | cut -f1))"
rm -f "$work/events.tsv"

printf '{"faults": {"createFlow": {"latencyMs": %d}}}\n' "$LATENCY_MS" >"$work/sim.json"
metric() { awk -v re="^$1" '$0 ~ re { s += $NF } END { printf "%d\n", s }' <<<"$2"; }
summary=$OUT_DIR/summary.txt
printf '%-34s %10s %12s %14s %8s %9s\n' run "peak MiB" "plateau MiB" "held records" "in flight" consumed >"$summary"
IFS=';' read -r -a runs <<<"$RUNS"
n=0
for run in "${runs[@]}"; do
    n=$((n + 1))
    IFS='|' read -r label opts envs <<<"$run"
    echo "== run $n: $label (${envs:+$envs }provflow run $opts), Graph stalled, ${DURATION} s"
    for t in "mem-$n.out" "mem-$n.dlq"; do
        "$root/scripts/kafka" create-topic "$t" --partitions 3 2>/dev/null
    done
    rm -f "$work/sim.port"
    "$SIM" --listen 127.0.0.1:0 --port-file "$work/sim.port" --config "$work/sim.json" \
        --implicit-flow-sets \
        --request-log 10 >"$work/sim.out" 2>"$work/sim.log" &
    sim_pid=$!
    for _ in $(seq 100); do [ -s "$work/sim.port" ] && break; sleep 0.1; done
    graph=http://127.0.0.1:$(cat "$work/sim.port")
    log=$OUT_DIR/run-$n.log
    # shellcheck disable=SC2086 # the run's options are split on purpose
    env AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client \
        AZURE_CLIENT_SECRET=test-secret $envs "$PF" run --brokers "$brokers" --graph-root "$graph" --authority-host "$graph" \
        --allow-http --admin-listen 127.0.0.1:0 --instance "mem-$n" --group-id "mem-$n" \
        --input-topic mem.in --results-topic "mem-$n.out" --dead-letter-topic "mem-$n.dlq" \
        --shutdown-grace-ms 1000 $opts 2>"$log" &
    pf_pid=$!
    port=
    for _ in $(seq 300); do
        port=$(grep -o -m1 'admin on port [0-9]*' "$log" | grep -o '[0-9]*$' || true)
        [ -n "$port" ] && break
        kill -0 "$pf_pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] || { echo "provflow did not start:" >&2; tail "$log" >&2; exit 1; }
    csv=$OUT_DIR/run-$n.csv
    echo "seconds,vmrss_kib,vmhwm_kib,records_buffered,in_flight,consumed" >"$csv"
    start=$(now_ms)
    while :; do
        el=$(($(now_ms) - start))
        kill -0 "$pf_pid" 2>/dev/null || { echo "provflow exited:" >&2; tail "$log" >&2; exit 1; }
        rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pf_pid/status" 2>/dev/null || echo 0)
        hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pf_pid/status" 2>/dev/null || echo 0)
        m=$(curl -s --max-time 2 "http://127.0.0.1:$port/metrics" || true)
        echo "$((el / 1000)).$(printf '%03d' $((el % 1000))),$rss,$hwm,$(metric provflow_records_buffered "$m"),$(metric provflow_graph_requests_in_flight "$m"),$(metric provflow_events_consumed_total "$m")" >>"$csv"
        [ "$el" -lt $((DURATION * 1000)) ] || break
        sleep 1
    done
    stop_pid "$pf_pid"
    pf_pid=
    stop_pid "$sim_pid"
    sim_pid=
    read -r peak plateau held inflight consumed < <(python3 - "$csv" "$DURATION" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
half = float(sys.argv[2]) / 2
late = [r for r in rows if float(r["seconds"]) >= half] or rows
print(round(max(int(r["vmhwm_kib"]) for r in rows) / 1024),
      round(statistics.median(int(r["vmrss_kib"]) for r in late) / 1024),
      rows[-1]["records_buffered"], rows[-1]["in_flight"],
      rows[-1]["consumed"])
PY
)
    printf '%-34s %10s %12s %14s %8s %9s\n' "$label" "$peak" "$plateau" "$held" "$inflight" "$consumed" >>"$summary"
    echo "   peak RSS (VmHWM) $peak MiB, plateau (median VmRSS, second half) $plateau MiB, records held $held, in flight $inflight, consumed $consumed"
done
echo
cat "$summary"
echo "samples: $OUT_DIR/run-*.csv"
