# shellcheck shell=bash disable=SC2034  # globals are read by the sourcing scripts
#
# run_lib.sh - shared helpers of the `provflow run` integration tests
# (tests/integration/run_*.sh), on top of lib.sh (simulator, assertions).
# They run against a real Kafka broker (scripts/kafka) that a CTest fixture
# starts once for all of them (run_broker.sh); the broker is named by the
# environment of scripts/kafka: PROVFLOW_BROKER_PORT (client listener on
# 127.0.0.1) and PROVFLOW_BROKER_HOME.
#
#   . "$(dirname "$0")/run_lib.sh"
#   run_init "$@"                  # PROVFLOW GRAPHSIM
#   run_topics NAME PARTITIONS     # IN, OUT, DLQ, GROUP: unique per run
#   sim_start --config "$(sim_config ...)"
#   gen_workload N                 # produce N events, EXPECT describes them
#   pf_run A [provflow run options...]   # instance A in the background
#   wait_done A N 120              # its committed offsets cover N records
#   pf_stop A TERM                 # PF_STOP_RC, PF_STOP_MS
#   check_topics atleast|exact     # every event's outcome (and dead letter)
#   lib_finish
#
# Each provflow instance logs to $TMP/NAME.N.log (N: its Nth start); the
# EXIT trap kills every provflow this script started, then lib.sh's
# cleanup stops the simulators and removes $TMP.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUN_BROKERS=
RUN_ID=
KAFKA=$SRC_DIR/scripts/kafka
RUN_PIDS=()
RUN_BROKER_STARTED=
RUN_PDEATH=()
if setpriv --help 2>/dev/null | grep -- --pdeathsig >/dev/null; then
    RUN_PDEATH=(setpriv --pdeathsig KILL --)
fi
declare -A PF_PID=() PF_LOG=() PF_ADMIN=() PF_STARTS=()
PF_STOP_RC=
PF_STOP_MS=
IN= OUT= DLQ= GROUP= NPARTS=
EXPECT=
# Retry settings of `provflow run` that keep a test short; pf_run puts them
# before the caller's options, so a test may override any of them. A 429
# holds the whole tenant (its Retry-After, capped here at 100 ms): the
# workloads' injected 429s (3% of creates) would otherwise hold it for
# a second each.
RUN_FAST=(--retry-base-ms 20 --max-backoff-ms 300 --max-attempts 40
    --max-elapsed-ms 120000 --max-retry-after-ms 100
    --http-timeout-ms 5000 --connect-timeout-ms 2000
    --token-systemic-retry-ms 1000 --token-expiry-margin-ms 1000
    --shutdown-grace-ms 10000 -X session.timeout.ms=6000
    --settle-ms 1500
    -X heartbeat.interval.ms=1000)

# run_init PROVFLOW GRAPHSIM: lib_init over http, checks kcat and the broker.
run_init() {
    lib_init "$1" "$2" http
    trap run_cleanup EXIT
    if ! command -v kcat >/dev/null; then
        echo "SKIP: kcat is not installed (scripts/deps)" >&2
        exit 77
    fi
    RUN_BROKERS=127.0.0.1:${PROVFLOW_BROKER_PORT:-9092}
    if [ -n "${RUN_OWN_BROKER:-}" ]; then
        # A broker of this script alone (one it restarts): its home is the
        # fixture's + "-$RUN_OWN_BROKER", ports from the environment. The
        # EXIT trap stops it; when a timeout killed the script, the next
        # run's reset (or run_broker.sh stop) does.
        export PROVFLOW_BROKER_HOME=${PROVFLOW_BROKER_HOME:-/tmp/provflow-kafka}-$RUN_OWN_BROKER
        RUN_BROKER_STARTED=yes
        "$KAFKA" reset >/dev/null 2>&1 || true
        if ! "$KAFKA" start >/dev/null 2>"$TMP/kafka-start.err"; then
            cat "$TMP/kafka-start.err" >&2
            exit 1
        fi
    fi
    # Topic and group names: unique per run, so a rerun on the same broker
    # starts from nothing.
    RUN_ID=$(basename "$0" .sh)-$(date +%s)-$$
    RUN_ID=${RUN_ID//_/-}
    if ! kcat -L -b "$RUN_BROKERS" -m 5 >/dev/null 2>"$TMP/kcat-L.err"; then
        echo "no Kafka broker answers on $RUN_BROKERS: start one with" \
            "PROVFLOW_BROKER_PORT=... scripts/kafka start (CTest's fixture" \
            "integration.run_broker_start does)" >&2
        cat "$TMP/kcat-L.err" >&2
        exit 1
    fi
    write_helper
    echo "# broker $RUN_BROKERS, names $RUN_ID"
}

run_cleanup() {
    local pid
    for pid in "${RUN_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    RUN_PIDS=()
    if [ -n "${RUN_BROKER_STARTED:-}" ]; then
        "$KAFKA" stop >/dev/null 2>&1 || true
    fi
    lib_cleanup
}

# now_ms: milliseconds since the epoch.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_for SECONDS CMD...: polls CMD every 0.2 s until it succeeds (0) or
# the deadline passes (1).
wait_for() {
    local deadline=$(($(now_ms) + $1 * 1000))
    shift
    until "$@"; do
        [ "$(now_ms)" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

# pid_alive PID: running (a zombie is not).
pid_alive() {
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

# --- Kafka ------------------------------------------------------------------

# run_topics NAME PARTITIONS: creates NAME's input (PARTITIONS), results
# and dead-letter topics (3 each); sets IN, OUT, DLQ, GROUP and NPARTS.
run_topics() {
    local base=$RUN_ID-$1 pids=() rc=0 p
    IN=$base.in OUT=$base.out DLQ=$base.dlq GROUP=$base NPARTS=$2
    "$KAFKA" create-topic "$IN" --partitions "$2" 2>"$TMP/topic-in.err" &
    pids+=($!)
    "$KAFKA" create-topic "$OUT" --partitions 3 2>"$TMP/topic-out.err" &
    pids+=($!)
    "$KAFKA" create-topic "$DLQ" --partitions 3 2>"$TMP/topic-dlq.err" &
    pids+=($!)
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    if [ "$rc" -ne 0 ]; then
        cat "$TMP"/topic-*.err >&2
        echo "could not create the topics" >&2
        exit 1
    fi
}

# topic_dump TOPIC FILE [kcat options...]: every record of TOPIC, from the
# beginning to the end, binary safe: per record a line "PARTITION OFFSET
# KEYLEN VALUELEN" (-1: null), the key and value bytes, the headers as
# kcat prints them (name=value,...), and "\n@@END@@\n".
topic_dump() {
    local topic=$1 file=$2
    shift 2
    timeout 120 kcat -C -b "$RUN_BROKERS" -t "$topic" -o beginning -e -q \
        -f '%p %o %K %S\n%k%s%h\n@@END@@\n' "$@" >"$file"
}

# group_describe FILE: the group's committed offsets on IN, per partition:
# "PARTITION CURRENT END" lines (CURRENT "-" when none), sorted. A group
# without active members lists only partitions with a commit: the others
# get "-" and their end offset from kcat.
group_describe() {
    local file=$1 raw=$TMP/group.describe p end
    "$KAFKA" run org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
        --bootstrap-server "$RUN_BROKERS" --describe --group "$GROUP" \
        >"$raw" 2>"$raw.err" || true
    awk -v t="$IN" '$2 == t { print $3, $4, $5 }' "$raw" >"$file.tmp"
    for ((p = 0; p < NPARTS; p++)); do
        if ! awk -v p="$p" '$1 == p { f = 1 } END { exit !f }' "$file.tmp"; then
            end=$(kcat -Q -b "$RUN_BROKERS" -t "$IN:$p:-1" 2>/dev/null |
                awk '{ print $NF }')
            echo "$p - ${end:-?}" >>"$file.tmp"
        fi
    done
    sort -n "$file.tmp" >"$file"
    rm -f "$file.tmp"
}

# group_at_end: every partition of IN has a committed offset at its end
# (an empty partition needs none).
group_at_end() {
    group_describe "$TMP/group.offsets"
    [ "$(awk '$2 == $3 || ($2 == "-" && $3 == 0)' "$TMP/group.offsets" |
        wc -l)" -eq "$NPARTS" ]
}

# assert_group_at_end [SECONDS]: polls (default 60 s) until the group's
# committed offsets reach the end of every partition of IN.
assert_group_at_end() {
    local secs=${1:-60}
    if wait_for "$secs" group_at_end; then
        pass "committed offsets of group $GROUP at the end of all $NPARTS partitions"
    else
        fail "committed offsets of group $GROUP at the end of all $NPARTS partitions" \
            "partition committed end:" "$(cat "$TMP/group.offsets")" \
            "$(head -c 1000 "$TMP/group.describe.err")"
    fi
}

# --- provflow run -----------------------------------------------------------

# pf_run NAME [options...]: starts `provflow run` as instance NAME (its
# --instance) on the current simulator, topics and group, with RUN_FAST
# and an ephemeral admin port; waits until it logs its admin port. Sets
# PF_PID[NAME], PF_LOG[NAME], PF_ADMIN[NAME].
pf_run() {
    local name=$1 n log port=
    shift
    n=$((${PF_STARTS[$name]:-0} + 1))
    PF_STARTS[$name]=$n
    log=$TMP/$name.$n.log
    PF_LOG[$name]=$log
    # --pdeathsig: killed with this script, even when a timeout kills the
    # script (SIGKILL) before its EXIT trap can.
    ${RUN_PDEATH[@]+"${RUN_PDEATH[@]}"} env "${PF_ENV[@]}" "$PF_BIN" run --brokers "$RUN_BROKERS" \
        --graph-root "$SIM_URL" --authority-host "$SIM_URL" --allow-http \
        --admin-listen 127.0.0.1:0 --instance "$name" --group-id "$GROUP" \
        --input-topic "$IN" --results-topic "$OUT" --dead-letter-topic "$DLQ" \
        "${RUN_FAST[@]}" "$@" >"$log.stdout" 2>"$log" &
    PF_PID[$name]=$!
    RUN_PIDS+=($!)
    local deadline=$(($(now_ms) + 30000))
    while [ "$(now_ms)" -lt "$deadline" ]; do
        port=$(grep -o -m1 'admin on port [0-9]*' "$log" 2>/dev/null | grep -o '[0-9]*$' || true)
        [ -n "$port" ] && break
        if ! pid_alive "${PF_PID[$name]}"; then
            break
        fi
        sleep 0.1
    done
    if [ -z "$port" ]; then
        echo "provflow run ($name) did not start; its log:" >&2
        tail -n 30 "$log" >&2
        exit 1
    fi
    PF_ADMIN[$name]=$port
}

# pf_stop NAME [SIGNAL [SECONDS]]: sends SIGNAL (TERM) and waits up to
# SECONDS (30) for the exit; sets PF_STOP_RC (124: still running, then
# killed) and PF_STOP_MS (signal to exit).
pf_stop() {
    local name=$1 sig=${2:-TERM} secs=${3:-30} pid t0
    pid=${PF_PID[$name]}
    t0=$(now_ms)
    kill -"$sig" "$pid" 2>/dev/null || true
    if wait_for "$secs" eval "! pid_alive $pid"; then
        PF_STOP_RC=0
        wait "$pid" || PF_STOP_RC=$?
    else
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        PF_STOP_RC=124
    fi
    PF_STOP_MS=$(($(now_ms) - t0))
}

# pf_kill NAME: SIGKILL, at once.
pf_kill() {
    local pid=${PF_PID[$1]}
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# pf_get NAME PATH [curl options...]: the admin endpoint's body.
pf_get() {
    local name=$1 path=$2
    shift 2
    curl -sS --max-time 5 "$@" "http://127.0.0.1:${PF_ADMIN[$name]}$path"
}

# pf_metric NAME REGEX: the sum of the metric lines matching REGEX
# (anchored at the line start), 0 when none.
pf_metric() {
    pf_get "$1" /metrics 2>/dev/null |
        awk -v re="^$2" '$0 ~ re { s += $NF } END { printf "%d\n", s }'
}

# pf_committed NAME: the sum over its partitions of the offsets the
# instance has committed (or is committing); -1 offsets count as 0.
pf_committed() {
    pf_get "$1" /metrics 2>/dev/null |
        awk '/^provflow_partition_committed_offset/ && $NF > 0 { s += $NF } END { printf "%d\n", s }'
}

# pf_ready_status NAME: the HTTP status of /readyz.
pf_ready_status() {
    pf_get "$1" /readyz -o /dev/null -w '%{http_code}' 2>/dev/null || echo 000
}

# wait_done NAME N SECONDS: polls the instance's metrics until its
# committed offsets add up to N (the records of IN). It follows progress,
# not the clock: it gives up only when the count has not moved for
# SECONDS (a slow build that keeps committing is waited for; CTest's
# TIMEOUT bounds the whole test). Shows the progress and returns 1 then.
wait_done() {
    local name=$1 n=$2 secs=$3 got last=-1 moved
    moved=$(now_ms)
    while :; do
        got=$(pf_committed "$name")
        [ "$got" -ge "$n" ] && return 0
        if [ "$got" != "$last" ]; then
            last=$got
            moved=$(now_ms)
        elif [ $(($(now_ms) - moved)) -ge $((secs * 1000)) ]; then
            echo "# $name: committed $got of $n records, none more for ${secs}s" >&2
            return 1
        fi
        sleep 0.2
    done
}

# pf_log_show NAME: the instance's last log lines, for a failure message.
pf_log_show() {
    echo "provflow run ($1) log, last lines:"
    tail -n 15 "${PF_LOG[$1]}"
}

# --- the simulator ----------------------------------------------------------

# sim_config FILE JSON: writes a simulator configuration; prints FILE.
sim_config() {
    printf '%s\n' "$2" >"$1"
    echo "$1"
}

# The faults of the at-least-once workloads: throttling with Retry-After 1,
# 5xx, dropped connections before and after the create was applied, on
# every Graph endpoint; the token endpoint fails now and then; tokens live
# 4 s.
SIM_FAULTS_JSON='{
  "token": {"expiresIn": 4},
  "faults": {
    "graph": {"p429": 0.03, "retryAfter": 1, "p500": 0.01, "p503": 0.01,
              "p504": 0.01, "pDrop": 0.01, "pDropAfterApply": 0.02},
    "listFlows": {"p429": 0.02, "retryAfter": 1, "p500": 0.01, "p503": 0.01,
                  "pDrop": 0.01},
    "token": {"p503": 0.05, "pDrop": 0.02}
  }
}'

# --- workloads and checks (python3 over kcat's output) -----------------------

# gen_workload N [INVALID_FRACTION]: produces N events to IN: every valid
# one a distinct (flow set, flow type), keyed by its flowSetId, in
# structured and binary mode; about INVALID_FRACTION (0.02) invalid ones
# of many kinds (not JSON, raw bytes, broken attributes and data, binary
# mode with bad ce_* headers, a malformed tenantid, ...). Sets EXPECT (a JSON
# file: what each record should give) and prints a summary line.
gen_workload() {
    EXPECT=$TMP/expect.json
    python3 "$TMP/run_helper.py" gen --brokers "$RUN_BROKERS" --topic "$IN" \
        --prefix "$RUN_ID" --n "$1" --invalid "${2:-0.02}" --dir "$TMP/gen" \
        --out "$EXPECT" || {
        echo "could not produce the workload" >&2
        exit 1
    }
}

# gen_seed: produces the seed's four events keyed by flowSetId; sets EXPECT.
gen_seed() {
    EXPECT=$TMP/expect.json
    python3 "$TMP/run_helper.py" seed --brokers "$RUN_BROKERS" --topic "$IN" \
        --file "$SEED_EVENTS" --out "$EXPECT" || {
        echo "could not produce the seed events" >&2
        exit 1
    }
}

# check_topics MODE [kcat options...]: reads IN, OUT and DLQ (kcat options
# apply to OUT and DLQ, e.g. -X isolation.level=read_committed) and the
# simulator's flows and checks every input record against EXPECT: an
# outcome per record (MODE exact: exactly one; atleast: one or more), with
# the right input coordinates, key, status, requestId, flow set and type,
# subject = the flow Graph holds; a failed outcome and a byte-identical
# dead letter (key, value, original headers + provflow-*) for each invalid
# one, none for valid ones. Counts into PASSED/FAILED; sets DUPLICATES
# (outcome records beyond the first per input record) and DLQ_DUPLICATES;
# writes the outcome records' values to $TMP/outcomes.ndjson (JSON lines,
# by input partition and offset).
check_topics() {
    local mode=$1 line kind what detail
    shift
    topic_dump "$IN" "$TMP/in.dump"
    topic_dump "$OUT" "$TMP/out.dump" "$@"
    topic_dump "$DLQ" "$TMP/dlq.dump" "$@"
    sim_get /_sim/flows >"$TMP/check.flows.json"
    DUPLICATES=
    DLQ_DUPLICATES=
    while IFS=$'\t' read -r kind what detail; do
        case $kind in
        PASS) pass "$what" ;;
        FAIL) fail "$what" "$(printf '%b' "$detail")" ;;
        INFO) echo "# $what" ;;
        DUPLICATES) DUPLICATES=$what ;;
        DLQ_DUPLICATES) DLQ_DUPLICATES=$what ;;
        esac
    done < <(python3 "$TMP/run_helper.py" check --mode "$mode" \
        --expect "$EXPECT" --topic "$IN" --in "$TMP/in.dump" \
        --out "$TMP/out.dump" --dlq "$TMP/dlq.dump" \
        --flows "$TMP/check.flows.json" --outcomes "$TMP/outcomes.ndjson" ||
        echo "FAIL	the checker ran	exit $?")
}

# assert_sim_stats WHAT_CREATED: the simulator's counters: no duplicate
# flow created, flowsCreated = the valid events of EXPECT.
assert_sim_stats() {
    local stats=$TMP/final.stats.json valid
    sim_get /_sim/stats >"$stats"
    valid=$(jq '[.[] | select(.valid)] | length' "$EXPECT")
    assert_jq "the simulator created no duplicate flow" "$stats" \
        .duplicatesCreated 0
    assert_jq "flowsCreated = the $valid valid events" "$stats" \
        .flowsCreated "$valid"
    echo "# simulator: $(jq -c '{requests, byStatus, tokensIssued, tokenErrors, faultsInjected}' "$stats")"
}

write_helper() {
    cat >"$TMP/run_helper.py" <<'PY'
"""Workload generator and checker of the provflow run integration tests."""
import argparse
import base64
import collections
import json
import os
import random
import subprocess
import sys
import uuid

TYPES = ["administrativeUnit", "classGroup", "securityGroup", "user"]
FLOWS = {
    "administrativeUnit": {"creationOptions": {
        "createBasedOnOrg": True, "createBasedOnOrgPlusRoleGroup": False}},
    "securityGroup": {"creationOptions": {
        "createBasedOnRoleGroup": True, "createBasedOnOrgPlusRoleGroup": False}},
    "classGroup": {"configuration": {
        "additionalOptions": {"createTeam": False,
                              "writeDisplayNameOnCreateOnly": True},
        "enrollmentMappings": {"memberEnrollmentMappings": [{"code": "student"}]}}},
    "user": {"managementOptions": {"additionalOptions": {
        "studentAgeGroup": "minor"}}},
}
EVTYPE = "provflow.provisioningFlow.create"


def compact(o):
    return json.dumps(o, separators=(",", ":")).encode()


def event(eid, fs, ftype, **extra):
    ev = {"specversion": "1.0", "id": eid, "source": "urn:provflow-it",
          "type": EVTYPE,
          "data": {"flowSetId": fs, "flowType": ftype, "flow": FLOWS[ftype]}}
    ev.update(extra)
    return ev


def kcat_produce(brokers, topic, lines=None, files=None, key=None,
                 headers=()):
    cmd = ["kcat", "-P", "-b", brokers, "-t", topic, "-X", "linger.ms=5"]
    for h in headers:
        cmd += ["-H", h]
    if files is not None:
        cmd += ["-k", key] + files
        subprocess.run(cmd, check=True)
    else:
        subprocess.run(cmd + ["-K", "\t"], input=b"".join(lines), check=True)


def gen(a):
    rnd = random.Random(a.prefix)
    ns = uuid.uuid5(uuid.NAMESPACE_URL, "urn:provflow-it:" + a.prefix)
    n_invalid = round(a.n * a.invalid)
    n_valid = a.n - n_invalid
    pairs = []
    s = 0
    while len(pairs) < n_valid + n_invalid:
        fs = str(uuid.uuid5(ns, "set-%d" % s))
        s += 1
        for t in TYPES:
            pairs.append((fs, t))
    rnd.shuffle(pairs)
    recs = []  # (mode, key, value, headers, expectation)
    n = 0

    def eid():
        nonlocal n
        n += 1
        return "%s-%06d" % (a.prefix, n)

    # Valid events: structured mode, and about 1 in 200 in binary mode.
    n_binary = max(1, n_valid // 200)
    for i in range(n_valid):
        fs, t = pairs.pop()
        i_d = eid()
        exp = {"valid": True, "id": i_d, "set": fs, "type": t, "kind": "valid"}
        if i < n_binary:
            hdrs = ["ce_specversion=1.0", "ce_id=" + i_d,
                    "ce_source=urn:provflow-it", "ce_type=" + EVTYPE,
                    "content-type=application/json"]
            val = compact({"flowSetId": fs, "flowType": t, "flow": FLOWS[t]})
            exp["kind"] = "valid-binary"
            recs.append(("file", fs, val, hdrs, exp))
        else:
            recs.append(("line", fs, compact(event(i_d, fs, t)), [], exp))

    # Invalid events of many kinds, each value unique.
    def bad(kind, key, val, hdrs=(), rid=None, mode="line"):
        recs.append((mode, key, val, list(hdrs),
                     {"valid": False, "id": rid, "kind": kind}))

    line_kinds = ["not-json", "truncated", "specversion", "no-id", "type",
                  "flowsetid", "flowtype", "unknown-property", "data-base64",
                  "array", "missing-required", "bad-tenantid", "id-number"]
    file_kinds = ["binary-specversion", "binary-no-id", "binary-no-ce",
                  "binary-bad-data", "content-type", "raw-bytes",
                  "non-utf8-json"]
    n_file = min(n_invalid // 3, 4 * len(file_kinds))
    kinds = [file_kinds[i % len(file_kinds)] for i in range(n_file)]
    kinds += [line_kinds[i % len(line_kinds)]
              for i in range(n_invalid - n_file)]
    for kind in kinds:
        fs, t = pairs.pop()
        i_d = eid()
        ok = event(i_d, fs, t)
        if kind == "not-json":
            bad(kind, fs, ("not json at all %s" % i_d).encode())
        elif kind == "truncated":
            v = compact(ok)
            bad(kind, fs, v[: len(v) // 2])
        elif kind == "specversion":
            ok["specversion"] = "0.3"
            bad(kind, fs, compact(ok), rid=i_d)
        elif kind == "no-id":
            del ok["id"]
            bad(kind, fs, compact(ok))
        elif kind == "type":
            ok["type"] = "com.example.other"
            bad(kind, fs, compact(ok), rid=i_d)
        elif kind == "flowsetid":
            ok["data"]["flowSetId"] = "not-a-guid-" + i_d
            bad(kind, fs, compact(ok), rid=i_d)
        elif kind == "flowtype":
            ok["data"]["flowType"] = "bogusFlow"
            bad(kind, fs, compact(ok), rid=i_d)
        elif kind == "unknown-property":
            ok["data"]["flow"] = dict(ok["data"]["flow"], bogusProperty=1)
            bad(kind, fs, compact(ok), rid=i_d)
        elif kind == "data-base64":
            del ok["data"]
            ok["data_base64"] = base64.b64encode(i_d.encode()).decode()
            bad(kind, fs, compact(ok), rid=i_d)
        elif kind == "array":
            bad(kind, fs, compact([ok]))
        elif kind == "missing-required":
            ok["data"]["flow"] = {}
            bad(kind, fs, compact(ok), rid=i_d)
        elif kind == "bad-tenantid":
            ok["tenantid"] = "not a tenant!"
            bad(kind, fs, compact(ok), rid=i_d)
        elif kind == "id-number":
            ok["id"] = n
            ok["source"] = "urn:provflow-it:" + i_d
            bad(kind, fs, compact(ok))
        elif kind == "binary-specversion":
            bad(kind, fs, compact(ok["data"]),
                ["ce_specversion=0.3", "ce_id=" + i_d, "ce_source=urn:x",
                 "ce_type=" + EVTYPE, "content-type=application/json"],
                rid=i_d, mode="file")
        elif kind == "binary-no-id":
            bad(kind, fs, compact(ok["data"]),
                ["ce_specversion=1.0", "ce_source=urn:x", "ce_type=" + EVTYPE,
                 "content-type=application/json"], mode="file")
        elif kind == "binary-no-ce":
            bad(kind, fs, compact(ok["data"]),
                ["content-type=application/json"], mode="file")
        elif kind == "binary-bad-data":
            d = dict(ok["data"], flowType="bogusFlow")
            bad(kind, fs, compact(d),
                ["ce_specversion=1.0", "ce_id=" + i_d, "ce_source=urn:x",
                 "ce_type=" + EVTYPE], rid=i_d, mode="file")
        elif kind == "content-type":
            bad(kind, fs, compact(ok), ["content-type=text/plain"],
                mode="file")
        elif kind == "raw-bytes":
            v = bytes([0, 0xFF, 0xFE, 10, 13, 0x80]) + os.urandom(24) + \
                i_d.encode()
            bad(kind, fs, v, mode="file")
        elif kind == "non-utf8-json":
            v = compact(ok).replace(b'"source":"urn:provflow-it"',
                                    b'"source":"urn:\xff\xfe\xc3"')
            bad(kind, fs, v, rid=None, mode="file")
    rnd.shuffle(recs)

    os.makedirs(a.dir, exist_ok=True)
    seen = set()
    for r in recs:
        assert r[2] not in seen, "values must be unique"
        seen.add(r[2])
    # Produce in order: lines in runs, each file-record on its own (its
    # headers), so the kinds are spread over the partitions' offsets.
    run = []
    nfile = 0
    for mode, key, val, hdrs, exp in recs:
        if mode == "line":
            assert b"\n" not in val and b"\t" not in key.encode()
            run.append(key.encode() + b"\t" + val + b"\n")
            continue
        if run:
            kcat_produce(a.brokers, a.topic, lines=run)
            run = []
        nfile += 1
        path = os.path.join(a.dir, "r%05d" % nfile)
        with open(path, "wb") as f:
            f.write(val)
        kcat_produce(a.brokers, a.topic, files=[path], key=key, headers=hdrs)
    if run:
        kcat_produce(a.brokers, a.topic, lines=run)
    out = [dict(e, value=base64.b64encode(v).decode(), key=k,
                headers=",".join(h))
           for _, k, v, h, e in recs]
    with open(a.out, "w") as f:
        json.dump(out, f)
    counts = collections.Counter(e["kind"] for e in out)
    print("# produced %d events to %s: %d valid (%d in binary mode), %d "
          "invalid: %s" % (len(out), a.topic, n_valid, n_binary,
                            len(out) - n_valid,
                            ", ".join("%s %d" % kv for kv in sorted(
                                counts.items()) if kv[0][:5] != "valid")))


def seed(a):
    out = []
    lines = []
    with open(a.file, "rb") as f:
        for raw in f:
            raw = raw.strip()
            if not raw:
                continue
            ev = json.loads(raw)
            d = ev["data"]
            t = d.get("flowType")
            if t is None:
                t = d["flow"]["@odata.type"].split(".")[-1]
                t = t[0].lower() + t[1:].replace("ProvisioningFlow", "")
            key = d["flowSetId"]
            lines.append(key.encode() + b"\t" + raw + b"\n")
            out.append({"valid": True, "id": ev["id"], "set": key.lower(),
                        "type": t, "kind": "seed", "key": key,
                        "value": base64.b64encode(raw).decode(),
                        "headers": ""})
    kcat_produce(a.brokers, a.topic, lines=lines)
    with open(a.out, "w") as f:
        json.dump(out, f)


END = b"\n@@END@@\n"


def dump(path):
    data = open(path, "rb").read()
    recs, i = [], 0
    while i < len(data):
        nl = data.index(b"\n", i)
        p, o, kl, vl = (int(x) for x in data[i:nl].split(b" "))
        i = nl + 1
        key = data[i:i + kl] if kl >= 0 else None
        i += max(kl, 0)
        val = data[i:i + vl] if vl >= 0 else None
        i += max(vl, 0)
        e = data.index(END, i)
        hdr = data[i:e].decode("utf-8", "replace")
        i = e + len(END)
        recs.append({"p": p, "o": o, "key": key, "value": val, "h": hdr})
    return recs


DLQ_NAMES = ["provflow-error-code", "provflow-error-message",
             "provflow-attempts", "provflow-source-topic",
             "provflow-source-partition", "provflow-source-offset"]


def dlq_headers(h):
    """The original headers and the provflow-* ones of kcat's %h."""
    start = h.find("provflow-error-code=")
    if start < 0:
        return None, {}
    orig = h[:start].rstrip(",")
    vals, pos = {}, start
    for i, name in enumerate(DLQ_NAMES):
        if not h.startswith(name + "=", pos):
            return orig, vals
        pos += len(name) + 1
        if i + 1 < len(DLQ_NAMES):
            nxt = h.find("," + DLQ_NAMES[i + 1] + "=", pos)
            if nxt < 0:
                return orig, vals
            vals[name] = h[pos:nxt]
            pos = nxt + 1
        else:
            # The trace context headers (docs/outcomes.md) follow the
            # provflow-* ones.
            end = [x for x in (h.find(",traceparent=", pos),
                               h.find(",tracestate=", pos)) if x >= 0]
            vals[name] = h[pos:min(end)] if end else h[pos:]
    return orig, vals


def check(a):
    exp = json.load(open(a.expect))
    byval = {base64.b64decode(e["value"]): e for e in exp}
    ins, outs, dlqs = dump(a.inp), dump(a.out), dump(a.dlq)
    flows = json.load(open(a.flows))
    held = {}
    for fset in flows.get("flowSets", []):
        for fl in fset.get("flows", []):
            t = fl["@odata.type"].split(".")[-1].replace("ProvisioningFlow", "")
            held.setdefault((fset["id"], t), []).append(fl["id"])
    res = []

    def verdict(ok, what, bad):
        if ok:
            res.append("PASS\t" + what)
        else:
            shown = "\\n".join(bad[:8])
            if len(bad) > 8:
                shown += "\\n... and %d more" % (len(bad) - 8)
            res.append("FAIL\t%s\t%s" % (what, shown))

    # The input topic holds what was produced.
    unknown = [r for r in ins if r["value"] not in byval]
    verdict(len(ins) == len(exp) and not unknown,
            "the input topic holds the %d records produced" % len(exp),
            ["%d records, %d not produced by the test" % (len(ins),
                                                          len(unknown))])
    by_in = collections.defaultdict(list)
    parse_errors = []
    for r in outs:
        try:
            ce = json.loads(r["value"])
            inp = ce["data"]["input"]
            if inp["topic"] != a.topic:
                parse_errors.append("outcome for topic %s" % inp["topic"])
            by_in[(inp["partition"], inp["offset"])].append((r, ce))
        except (ValueError, KeyError, TypeError) as e:
            parse_errors.append("outcome %d/%d: %s" % (r["p"], r["o"], e))
    verdict(not parse_errors, "every outcome record is a CloudEvent naming "
            "its input record", parse_errors)
    dlq_by_in = collections.defaultdict(list)
    dlq_errors = []
    for r in dlqs:
        orig, hv = dlq_headers(r["h"])
        if len(hv) != len(DLQ_NAMES):
            dlq_errors.append("dead letter %d/%d: headers %r" %
                              (r["p"], r["o"], r["h"][:300]))
            continue
        r["orig"], r["hv"] = orig, hv
        try:
            dlq_by_in[(int(hv["provflow-source-partition"]),
                       int(hv["provflow-source-offset"]))].append(r)
        except ValueError:
            dlq_errors.append("dead letter %d/%d: source %r" %
                              (r["p"], r["o"], hv))
    verdict(not dlq_errors, "every dead letter carries the six provflow-* "
            "headers", dlq_errors)

    missing, multi, wrong, dlq_missing, dlq_wrong, dlq_extra = \
        [], [], [], [], [], []
    status = collections.Counter()
    dups = dlq_dups = 0
    n_invalid = 0
    for r in ins:
        e = byval.get(r["value"])
        if e is None:
            continue
        where = "%s %d/%d (%s, id %s)" % (e["kind"], r["p"], r["o"],
                                          e.get("set", "-"), e["id"])
        got = by_in.get((r["p"], r["o"]), [])
        if not got:
            missing.append(where)
            continue
        dups += len(got) - 1
        if a.mode == "exact" and len(got) != 1:
            multi.append("%s: %d outcomes" % (where, len(got)))
        for rec, ce in got:
            d = ce.get("data", {})
            st = d.get("status")
            status[st] += 1
            prob = []
            if rec["key"] != r["key"]:
                prob.append("key %r" % rec["key"])
            if ce.get("type") != "provflow.provisioningFlow.%s" % st:
                prob.append("type %s for status %s" % (ce.get("type"), st))
            if d.get("requestId") != e["id"]:
                prob.append("requestId %r" % d.get("requestId"))
            if e["valid"]:
                if st not in ("created", "exists"):
                    prob.append("status %s: %s" % (st, json.dumps(
                        d.get("error"))[:200]))
                else:
                    ids = held.get((e["set"], e["type"]), [])
                    if d.get("flowSetId") != e["set"] or \
                            d.get("flowType") != e["type"]:
                        prob.append("flow %s/%s" % (d.get("flowSetId"),
                                                    d.get("flowType")))
                    if ids != [ce.get("subject")]:
                        prob.append("subject %s, Graph holds %s" %
                                    (ce.get("subject"), ids))
            else:
                code = (d.get("error") or {}).get("code")
                if st != "failed" or code != "invalid_event":
                    prob.append("status %s, error %s" % (st, code))
            if prob:
                wrong.append(where + ": " + "; ".join(prob))
        ds = dlq_by_in.pop((r["p"], r["o"]), [])
        if e["valid"]:
            if ds:
                dlq_extra.append(where)
            continue
        n_invalid += 1
        if not ds:
            dlq_missing.append(where)
            continue
        dlq_dups += len(ds) - 1
        for dl in ds:
            prob = []
            if dl["value"] != r["value"]:
                prob.append("value %r is not the input's %r" %
                            (dl["value"][:80], r["value"][:80]))
            if dl["key"] != r["key"]:
                prob.append("key %r" % dl["key"])
            if dl["orig"] != r["h"]:
                prob.append("original headers %r, input had %r" %
                            (dl["orig"], r["h"]))
            hv = dl["hv"]
            if hv["provflow-error-code"] != "invalid_event":
                prob.append("provflow-error-code %s" %
                            hv["provflow-error-code"])
            if hv["provflow-source-topic"] != a.topic:
                prob.append("provflow-source-topic %s" %
                            hv["provflow-source-topic"])
            if not hv["provflow-error-message"] or \
                    not hv["provflow-attempts"].isdigit():
                prob.append("message %r, attempts %r" % (
                    hv["provflow-error-message"], hv["provflow-attempts"]))
            if prob:
                dlq_wrong.append(where + ": " + "; ".join(prob))
    for k, ds in dlq_by_in.items():
        dlq_extra += ["dead letter for %d/%d, no such input" % k] * len(ds)
    n = len(ins)
    verdict(not missing, "every one of the %d input records has an outcome"
            % n, missing)
    if a.mode == "exact":
        verdict(not multi, "every input record has exactly one outcome "
                "record", multi)
    verdict(not wrong, "every outcome is right (key, type, requestId; valid:"
            " created/exists, subject = the flow Graph holds; invalid: "
            "failed, invalid_event)", wrong)
    verdict(not dlq_missing, "each of the %d invalid records has a dead "
            "letter" % n_invalid, dlq_missing)
    verdict(not dlq_wrong, "every dead letter is the input record unchanged"
            " (key, value byte for byte, headers) + provflow-* headers",
            dlq_wrong)
    verdict(not dlq_extra, "no dead letter for a valid record", dlq_extra)
    res.append("INFO\toutcome records %d for %d input records: %s; "
               "duplicate outcome records %d, duplicate dead letters %d" %
               (len(outs), n, dict(status), dups, dlq_dups))
    with open(a.outcomes, "w") as f:
        for rec, ce in sorted((x for v in by_in.values() for x in v),
                              key=lambda x: (x[0]["p"], x[0]["o"])):
            f.write(json.dumps(ce) + "\n")
    res.append("DUPLICATES\t%d" % dups)
    res.append("DLQ_DUPLICATES\t%d" % dlq_dups)
    print("\n".join(res))


def covered(a):
    """Input records below the group's committed offsets without outcome."""
    committed = {}
    for line in open(a.offsets):
        p, cur, _end = line.split()
        committed[int(p)] = -1 if cur == "-" else int(cur)
    have = set()
    for r in dump(a.out):
        inp = json.loads(r["value"])["data"]["input"]
        have.add((inp["partition"], inp["offset"]))
    below = lacking = 0
    bad = []
    for r in dump(a.inp):
        if r["o"] < committed.get(r["p"], -1):
            below += 1
            if (r["p"], r["o"]) not in have:
                lacking += 1
                bad.append("%d/%d" % (r["p"], r["o"]))
    print("%d %d %s" % (below, lacking, " ".join(bad[:10])))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    for o in ("brokers", "topic", "prefix", "dir", "out"):
        g.add_argument("--" + o, required=True)
    g.add_argument("--n", type=int, required=True)
    g.add_argument("--invalid", type=float, default=0.02)
    s = sub.add_parser("seed")
    for o in ("brokers", "topic", "file", "out"):
        s.add_argument("--" + o, required=True)
    c = sub.add_parser("check")
    for o in ("mode", "expect", "topic", "out", "dlq", "flows", "outcomes"):
        c.add_argument("--" + o, required=True)
    c.add_argument("--in", dest="inp", required=True)
    v = sub.add_parser("covered")
    for o in ("offsets", "out"):
        v.add_argument("--" + o, required=True)
    v.add_argument("--in", dest="inp", required=True)
    a = ap.parse_args()
    {"gen": gen, "seed": seed, "check": check, "covered": covered}[a.cmd](a)


if __name__ == "__main__":
    main()
PY
}

# assert_covered WHAT: every input record below the group's committed
# offsets (now) has an outcome record: a commit never passes an event
# whose outcome is not out.
assert_covered() {
    local what=$1 res below lacking
    group_describe "$TMP/covered.offsets"
    topic_dump "$IN" "$TMP/covered.in.dump"
    topic_dump "$OUT" "$TMP/covered.out.dump"
    res=$(python3 "$TMP/run_helper.py" covered --offsets "$TMP/covered.offsets" \
        --in "$TMP/covered.in.dump" --out "$TMP/covered.out.dump")
    read -r below lacking _ <<<"$res"
    if [ "$lacking" = 0 ] && [ "$below" -gt 0 ]; then
        pass "$what: all $below records below the committed offsets have an outcome"
    else
        fail "$what: every record below the committed offsets has an outcome" \
            "below: $below, without outcome: $lacking (${res#* * })" \
            "committed: $(tr '\n' ' ' <"$TMP/covered.offsets")"
    fi
}

# assert_all_done MODE [kcat options...]: the end state of a workload: the
# group at the end of IN, every record's outcome (check_topics MODE), the
# simulator's counters (assert_sim_stats).
assert_all_done() {
    assert_group_at_end 60
    check_topics "$@"
    assert_sim_stats
}

# pf_assigned NAME: the partitions the instance holds now, sorted,
# space-separated: from the "partition assigned" lines of every instance's
# (latest) log in time order, a partition belongs to the last instance it
# was assigned to, until that instance logs "stopped" (the log does not say
# which partitions a cooperative revocation took, but the group gives each
# partition to one member at a time).
pf_assigned() {
    local name
    for name in "${!PF_LOG[@]}"; do
        jq -r --arg n "$name" 'select(.msg == "partition assigned" or .msg == "stopped") |
            [.ts, $n, (.partition // "stopped" | tostring)] | @tsv' \
            "${PF_LOG[$name]}" 2>/dev/null || true
    done | sort -s -k1,1 |
        awk -F'\t' -v me="$1" '$3 == "stopped" { for (p in o) if (o[p] == $2) delete o[p]; next }
            { o[$3] = $2 }
            END { for (p in o) if (o[p] == me) print p }' |
        sort -n | tr '\n' ' ' | sed 's/ $//'
}

# sim_quiet SECONDS [LIMIT]: waits (at most LIMIT s, default 60) until the
# simulator has answered no request for SECONDS: requests that a stopped
# provflow left waiting out the simulator's latency have been applied.
sim_quiet() {
    local quiet=$(($1 * 1000)) limit=$((${2:-60} * 1000)) t0 last n prev=-1
    t0=$(now_ms)
    last=$t0
    while :; do
        n=$(sim_get /_sim/stats | jq .requests)
        if [ "$n" != "$prev" ]; then
            prev=$n
            last=$(now_ms)
        fi
        [ $(($(now_ms) - last)) -lt "$quiet" ] || return 0
        [ $(($(now_ms) - t0)) -lt "$limit" ] || return 1
        sleep 0.2
    done
}

# --- dry runs and oversized records (run_dryrun, run_oversize) --------------

# records_in FILE: the records of a topic_dump file.
records_in() { grep -c '^@@END@@$' "$1" || true; }

# groups_describe FILE: every group's committed offsets on IN, in one
# ConsumerGroupCommand: "GROUP PARTITION CURRENT END" lines, sorted (a
# group without a commit on IN has no line).
groups_describe() {
    local file=$1 raw=$TMP/groups.describe
    "$KAFKA" run org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
        --bootstrap-server "$RUN_BROKERS" --describe --all-groups \
        >"$raw" 2>"$raw.err" || true
    awk -v t="$IN" '$2 == t && $4 ~ /^[0-9]+$/ { print $1, $3, $4, $5 }' \
        "$raw" | sort >"$file"
}

# group_rows FILE GROUP: the "PARTITION CURRENT END" rows of GROUP in a
# groups_describe FILE.
group_rows() { awk -v g="$2" '$1 == g { print $2, $3, $4 }' "$1"; }

# group_rows_at_end FILE GROUP: GROUP has committed the end of every
# non-empty partition of IN (NPARTS).
group_rows_at_end() {
    local ends p end n=0
    for ((p = 0; p < NPARTS; p++)); do
        end=$(kcat -Q -b "$RUN_BROKERS" -t "$IN:$p:-1" 2>/dev/null |
            awk '{ print $NF }')
        [ "${end:-0}" = 0 ] && n=$((n + 1)) && continue
        ends=$(group_rows "$1" "$2" | awk -v p="$p" -v e="$end" \
            '$1 == p && $2 == e' | wc -l)
        [ "$ends" = 1 ] && n=$((n + 1))
    done
    [ "$n" -eq "$NPARTS" ]
}

# check_dry OUTCOMES WHAT [--keys]: checks the outcomes of a dry run over
# IN against EXPECT: OUTCOMES is either a file of JSON lines (provflow's
# standard output) or a topic_dump file (--keys: then each record's key
# must be its input record's key). Exactly one outcome per input record,
# naming it (data.input); valid events "validated" (type, requestId,
# flowSetId, flowType, the flow as an object), invalid ones "failed" with
# invalid_event. Counts into PASSED/FAILED.
check_dry() {
    local outcomes=$1 what=$2 keys=${3:-} kind text detail
    topic_dump "$IN" "$TMP/dry.in.dump"
    cat >"$TMP/check_dry.py" <<'PY'
import base64, json, sys
sys.path.insert(0, sys.argv[1])
import run_helper
exp = {base64.b64decode(e["value"]): e for e in json.load(open(sys.argv[2]))}
ins = run_helper.dump(sys.argv[3])
src, topic, keys = sys.argv[4], sys.argv[5], sys.argv[6] == "--keys"
data = open(src, "rb").read()
if data.startswith(b"{") or not data:
    outs = [{"value": l, "key": None} for l in data.split(b"\n") if l]
else:
    outs = run_helper.dump(src)
res = []
def verdict(ok, what, bad):
    if ok:
        res.append("PASS\t" + what)
    else:
        more = "\\n... and %d more" % (len(bad) - 8) if len(bad) > 8 else ""
        res.append("FAIL\t%s\t%s%s" % (what, "\\n".join(bad[:8]), more))
by_in, errs = {}, []
for o in outs:
    try:
        ce = json.loads(o["value"])
        i = ce["data"]["input"]
        if i["topic"] != topic:
            errs.append("input topic %r" % i["topic"])
        by_in.setdefault((i["partition"], i["offset"]), []).append((o, ce))
    except (ValueError, KeyError, TypeError) as e:
        errs.append("%r: %s" % (o["value"][:100], e))
verdict(not errs, "every outcome is a CloudEvent naming its input record",
        errs)
missing, multi, wrong, nv = [], [], [], 0
for r in ins:
    e = exp.get(r["value"])
    where = "%d/%d (%s)" % (r["p"], r["o"], e["kind"] if e else "?")
    got = by_in.pop((r["p"], r["o"]), [])
    if e is None:
        wrong.append(where + ": not produced by the test")
        continue
    if not got:
        missing.append(where)
        continue
    if len(got) != 1:
        multi.append("%s: %d outcomes" % (where, len(got)))
    o, ce = got[0]
    d = ce.get("data", {})
    st = d.get("status")
    prob = []
    if e["valid"]:
        nv += 1
        if st != "validated" or ce.get("type") != \
                "provflow.provisioningFlow.validated":
            prob.append("status %s type %s: %s" % (st, ce.get("type"),
                        json.dumps(d.get("error"))[:200]))
        if d.get("flowSetId") != e["set"] or d.get("flowType") != e["type"]:
            prob.append("flow %s/%s" % (d.get("flowSetId"), d.get("flowType")))
        if not isinstance(d.get("flow"), dict):
            prob.append("flow %r" % (d.get("flow"),))
    else:
        code = (d.get("error") or {}).get("code")
        if st != "failed" or code != "invalid_event" or ce.get("type") != \
                "provflow.provisioningFlow.failed":
            prob.append("status %s, type %s, error %s" % (st, ce.get("type"),
                                                          code))
    if d.get("requestId") != e["id"]:
        prob.append("requestId %r, event id %r" % (d.get("requestId"),
                                                    e["id"]))
    if keys and o["key"] != r["key"]:
        prob.append("key %r, input key %r" % (o["key"], r["key"]))
    if prob:
        wrong.append(where + ": " + "; ".join(prob))
extra = ["outcome for %d/%d, no such input record" % k for k in by_in]
verdict(not missing, "every one of the %d input records has an outcome"
        % len(ins), missing)
verdict(not multi and not extra, "exactly one outcome per input record, "
        "none other", multi + extra)
verdict(not wrong, "%d validated (type, requestId, flow set and type, the "
        "flow) and %d failed invalid_event" % (nv, len(ins) - nv), wrong)
res.append("INFO\t%d outcomes for %d input records" % (len(outs), len(ins)))
print("\n".join(res))
PY
    while IFS=$'\t' read -r kind text detail; do
        case $kind in
        PASS) pass "$what: $text" ;;
        FAIL) fail "$what: $text" "$(printf '%b' "$detail")" ;;
        INFO) echo "# $what: $text" ;;
        esac
    done < <(python3 "$TMP/check_dry.py" "$TMP" "$EXPECT" "$TMP/dry.in.dump" \
        "$outcomes" "$IN" "$keys" || echo "FAIL	the checker ran	exit $?")
}

# run_topics_config NAME PARTITIONS K=V...: run_topics, with the input
# topic created with these topic configurations (e.g.
# max.message.bytes=2097152 for records over the broker's 1 MiB default).
run_topics_config() {
    local name=$1 base=$RUN_ID-$1 parts=$2 cfg=() c
    shift 2
    for c in "$@"; do cfg+=(--config "$c"); done
    if ! "$KAFKA" create-topic "$base.in" --partitions "$parts" "${cfg[@]}" \
        2>"$TMP/topic-in.err"; then
        cat "$TMP/topic-in.err" >&2
        echo "could not create the topics" >&2
        exit 1
    fi
    run_topics "$name" "$parts" # the input topic exists: left as it is
}

# run_outputs NAME: another consumer group NAME over the same input topic,
# with results and dead-letter topics of its own (created in parallel);
# sets OUT, DLQ and GROUP (IN and NPARTS stay).
run_outputs() {
    local base=$RUN_ID-$1 pids=() rc=0 p
    OUT=$base.out DLQ=$base.dlq GROUP=$base
    "$KAFKA" create-topic "$OUT" --partitions 3 2>"$TMP/topic-out.err" &
    pids+=($!)
    "$KAFKA" create-topic "$DLQ" --partitions 3 2>"$TMP/topic-dlq.err" &
    pids+=($!)
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    if [ "$rc" -ne 0 ]; then
        cat "$TMP"/topic-out.err "$TMP"/topic-dlq.err >&2
        echo "could not create the topics" >&2
        exit 1
    fi
}

# --- keyed layouts, more groups, outcomes by event (duplicate-check tests) ---

# gen_sets LAYOUT...: produces events keyed by their flowSetId, one flow
# set per LAYOUT, a comma-separated list of flow types in the order that
# set's events are produced (types may repeat: "user,user,classGroup").
# The sets are interleaved (the first event of every set, then the
# second, ...), so each set's events keep their order in its partition.
# Sets EXPECT (as gen_workload, plus "seq": the event's place in its set)
# and prints a summary line.
gen_sets() {
    EXPECT=$TMP/expect.json
    cat >"$TMP/gen_sets.py" <<'PY'
"""Events of given per-set layouts, keyed by flowSetId (gen_sets)."""
import base64
import json
import subprocess
import sys
import uuid

sys.path.insert(0, sys.argv[1])
import run_helper  # noqa: E402  (FLOWS, event, compact)

brokers, topic, prefix, out = sys.argv[2:6]
layouts = [l.split(",") for l in sys.argv[6:]]
ns = uuid.uuid5(uuid.NAMESPACE_URL, "urn:provflow-it:sets:" + prefix)
sets = [str(uuid.uuid5(ns, "set-%d" % i)) for i in range(len(layouts))]
exp, lines, n = [], [], 0
for k in range(max(len(l) for l in layouts)):
    for i, layout in enumerate(layouts):
        if k >= len(layout):
            continue
        t = layout[k]
        if t not in run_helper.FLOWS:
            sys.exit("gen_sets: unknown flow type %r" % t)
        n += 1
        eid = "%s-s%03d-e%02d" % (prefix, i, k)
        val = run_helper.compact(run_helper.event(eid, sets[i], t))
        lines.append(sets[i].encode() + b"\t" + val + b"\n")
        exp.append({"valid": True, "id": eid, "set": sets[i], "type": t,
                    "kind": "valid", "key": sets[i], "seq": k,
                    "value": base64.b64encode(val).decode(), "headers": ""})
subprocess.run(["kcat", "-P", "-b", brokers, "-t", topic, "-X",
                "linger.ms=5", "-K", "\t"], input=b"".join(lines), check=True)
with open(out, "w") as f:
    json.dump(exp, f)
print("# produced %d events to %s: %d flow sets" % (n, topic, len(sets)))
PY
    python3 "$TMP/gen_sets.py" "$TMP" "$RUN_BROKERS" "$IN" "$RUN_ID" \
        "$EXPECT" "$@" || {
        echo "could not produce the events" >&2
        exit 1
    }
}

# run_group_topics NAME: a new consumer group NAME over the same input
# topic, with outcome and dead-letter topics of its own; sets OUT, DLQ,
# GROUP (IN and NPARTS stay).
run_group_topics() {
    local base=$RUN_ID-$1
    OUT=$base.out DLQ=$base.dlq GROUP=$base
    if ! "$KAFKA" create-topic "$OUT" --partitions 3 2>"$TMP/topic-out.err" ||
        ! "$KAFKA" create-topic "$DLQ" --partitions 3 2>"$TMP/topic-dlq.err"; then
        cat "$TMP"/topic-*.err >&2
        echo "could not create the topics" >&2
        exit 1
    fi
}

# sim_request_seq: the sequence number of the simulator's latest request
# (0: none yet); requests after it are "since" it.
sim_request_seq() {
    sim_get '/_sim/requests?limit=1' | jq '.requests[-1].seq // 0'
}

# sim_requests_since SEQ FILE: the simulator's logged requests after SEQ
# (a JSON array, oldest first) into FILE. Start the simulator with a
# --request-log large enough for the test.
sim_requests_since() {
    sim_get /_sim/requests | jq --argjson s "$1" '[.requests[] | select(.seq > $s)]' >"$2"
}

# outcomes_by_event FILE: every outcome record of OUT as one JSON object
# {event id: [outcome data, ...]} into FILE (records without a requestId
# are left out).
outcomes_by_event() {
    topic_dump "$OUT" "$TMP/obe.out.dump"
    python3 - "$TMP" "$TMP/obe.out.dump" "$1" <<'PY'
import collections, json, sys
sys.path.insert(0, sys.argv[1])
import run_helper
by = collections.defaultdict(list)
for r in run_helper.dump(sys.argv[2]):
    ce = json.loads(r["value"])
    d = ce.get("data", {})
    if d.get("requestId") is not None:
        by[d["requestId"]].append(dict(d, subject=ce.get("subject")))
json.dump(by, open(sys.argv[3], "w"))
PY
}
