#!/usr/bin/env bash
# The CTest fixture of the run_* tests: one Kafka broker (scripts/kafka) for
# all of them, named by PROVFLOW_BROKER_HOME, PROVFLOW_BROKER_PORT and
# PROVFLOW_BROKER_CONTROLLER_PORT (CMakeLists.txt gives each build preset
# its own home and ports).
#   run_broker.sh start   wipe the instance (stale broker, data), start it
#   run_broker.sh stop    stop it (its logs stay in the home), and
#                         run_crash's and run_pause's own brokers if left running
set -euo pipefail
kafka=$(cd "$(dirname "$0")/../.." && pwd)/scripts/kafka
: "${PROVFLOW_BROKER_HOME:?}" "${PROVFLOW_BROKER_PORT:?}" "${PROVFLOW_BROKER_CONTROLLER_PORT:?}"
case ${1:-} in
start)
    "$kafka" reset
    "$kafka" start
    ;;
stop)
    "$kafka" stop
    # run_crash's and run_pause's own brokers, if a timeout killed the
    # script before its trap ran.
    PROVFLOW_BROKER_HOME=$PROVFLOW_BROKER_HOME-crash \
        PROVFLOW_BROKER_PORT=$((PROVFLOW_BROKER_PORT + 2)) \
        PROVFLOW_BROKER_CONTROLLER_PORT=$((PROVFLOW_BROKER_PORT + 3)) \
        "$kafka" stop
    PROVFLOW_BROKER_HOME=$PROVFLOW_BROKER_HOME-pause \
        PROVFLOW_BROKER_PORT=$((PROVFLOW_BROKER_PORT + 4)) \
        PROVFLOW_BROKER_CONTROLLER_PORT=$((PROVFLOW_BROKER_PORT + 5)) \
        "$kafka" stop
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 64
    ;;
esac
