#!/usr/bin/env bash
# Smoke test of scripts/kafka against a real broker: starts a private instance
# (temp run dir, free non-default ports), creates a 3-partition topic,
# produces keyed records and consumes them back with Kafka's own console
# tools, restarts the broker (data must survive), resets it, and stops it.
# Safe to run beside other instances. Exit 0 when every check passed.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
kafka=$root/scripts/kafka
name=kafka_smoke
tmp=$(mktemp -d "${TMPDIR:-/tmp}/provflow-$name.XXXXXX")
passed=0
failed=0

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    "$kafka" stop >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP # so that the EXIT trap stops the broker

# A port in 20000-32767 (below Linux's ephemeral range) that nothing listens on.
free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 12768))
        [ "$p" != "${1:-}" ] || continue
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || {
            echo "$p"
            return 0
        }
    done
    echo "$name: no free port found" >&2
    return 1
}

export PROVFLOW_BROKER_HOME=$tmp/home
PROVFLOW_BROKER_PORT=$(free_port)
PROVFLOW_BROKER_CONTROLLER_PORT=$(free_port "$PROVFLOW_BROKER_PORT")
export PROVFLOW_BROKER_PORT PROVFLOW_BROKER_CONTROLLER_PORT
bootstrap=127.0.0.1:$PROVFLOW_BROKER_PORT
topic=smoke

ok() {
    echo "ok - $*"
    passed=$((passed + 1))
}
fail() {
    echo "not ok - $*"
    failed=$((failed + 1))
}
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}
finish() {
    echo "$name: $passed passed, $failed failed"
    exit $((failed > 0))
}
abort() {
    fail "$*"
    tail -n 40 "$PROVFLOW_BROKER_HOME/logs/server.log" 2>/dev/null | sed 's/^/# /' || true
    finish
}

status_rc() { # the exit code of scripts/kafka status
    local rc=0
    "$kafka" status >/dev/null 2>&1 || rc=$?
    echo "$rc"
}

consume() { # consume N: prints "partition key value" lines, sorted
    "$kafka" run org.apache.kafka.tools.consumer.ConsoleConsumer \
        --bootstrap-server "$bootstrap" --topic "$topic" --from-beginning \
        --max-messages "$1" --timeout-ms 30000 \
        --property print.partition=true --property print.key=true \
        --property key.separator=' ' 2>"$tmp/consume.err" |
        sed 's/^Partition://' | sort
}

# 1. start: first start resolves Kafka if the cache is empty.
out=$("$kafka" start) || abort "start"
check "start prints the bootstrap address" [ "$out" = "$bootstrap" ]
out=$("$kafka" status) || abort "status after start"
check "status exits 0 and prints $bootstrap" [ "$out" = "$bootstrap" ]
err=$("$kafka" start 2>&1 >/dev/null) || abort "second start"
check "second start is a no-op" grep -q "already running" <<<"$err"

# 2. create-topic, twice (idempotent).
"$kafka" create-topic "$topic" --partitions 3 --config retention.ms=3600000 ||
    abort "create-topic"
check "create-topic on an existing topic succeeds" \
    "$kafka" create-topic "$topic" --partitions 3
desc=$("$kafka" run org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "$bootstrap" --describe --topic "$topic")
check "topic has 3 partitions" grep -q "PartitionCount: 3" <<<"$desc"
check "topic carries its config" grep -q "retention.ms=3600000" <<<"$desc"

# 3. produce keyed records, consume them back.
n=30
for i in $(seq "$n"); do echo "key-$i:value-$i"; done >"$tmp/sent"
"$kafka" run kafka.tools.ConsoleProducer --bootstrap-server "$bootstrap" \
    --topic "$topic" --property parse.key=true --property key.separator=: \
    --producer-property acks=all <"$tmp/sent" || abort "produce"
consume "$n" >"$tmp/got" || true
check "all $n records round-trip" diff <(sed 's/:/ /' "$tmp/sent" | sort) \
    <(cut -d' ' -f2- "$tmp/got" | sort)
check "records spread over all 3 partitions" \
    [ "$(cut -d' ' -f1 "$tmp/got" | sort -u | tr '\n' ' ')" = "0 1 2 " ]

# 4. stop, start again: data survives.
"$kafka" stop || abort "stop"
check "status exits 1 once stopped" [ "$(status_rc)" -eq 1 ]
t0=$(date +%s%N)
"$kafka" start >/dev/null || abort "restart"
echo "# restart took $((($(date +%s%N) - t0) / 1000000)) ms"
consume "$n" >"$tmp/got2" || true
check "records survive a restart" diff "$tmp/got" "$tmp/got2"

# 5. reset: stopped and wiped.
"$kafka" reset || abort "reset"
check "reset wipes the data dir" [ ! -e "$PROVFLOW_BROKER_HOME/data" ]
check "reset leaves the broker stopped" [ "$(status_rc)" -eq 1 ]

finish
