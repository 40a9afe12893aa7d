#!/usr/bin/env bash
# CTest packaging_healthcheck: docker/healthcheck.sh (the images'
# HEALTHCHECK) against a live HTTP server, the simulator: 200 passes; 404,
# a closed port and a bad port fail; the port comes from
# PROVFLOW_ADMIN_LISTEN when not given; --listen-of takes it from the
# simulator's own --listen (the last one, in either spelling). The
# simulator runs under a name of this test's own (a symbolic link), so the
# other simulators on the machine are not the one found.
#
#   healthcheck_test.sh SOURCE_DIR PROVFLOW_GRAPHSIM
set -euo pipefail
src=${1:?usage: healthcheck_test.sh SOURCE_DIR PROVFLOW_GRAPHSIM}
sim=${2:?usage: healthcheck_test.sh SOURCE_DIR PROVFLOW_GRAPHSIM}
hc=$src/docker/healthcheck.sh

work=$(mktemp -d /tmp/provflow-hc.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# A free port for --listen (the simulator must be told it, not pick it).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
name=provflow-graphsim-hc$$
ln -s "$sim" "$work/$name"
"$work/$name" --listen=127.0.0.1:1 --listen "127.0.0.1:$port" \
    --port-file "$work/port" >/dev/null 2>"$work/sim.log" &
pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
[ "$(cat "$work/port" 2>/dev/null)" = "$port" ] || {
    echo "the simulator did not start on port $port:" >&2
    cat "$work/sim.log" >&2
    exit 1
}

pass=0 fail=0
expect() { # expect RC DESCRIPTION -- COMMAND...
    local want=$1 what=$2 rc=0
    shift 3
    "$@" >/dev/null 2>&1 || rc=$?
    if [ "$rc" = "$want" ]; then
        pass=$((pass + 1))
        echo "ok   $what (exit $rc)"
    else
        fail=$((fail + 1))
        echo "FAIL $what: exit $rc, want $want"
    fi
}
expect 0 "200 answer" -- "$hc" "$port" /_sim/stats
expect 1 "404 answer" -- "$hc" "$port" /_sim/no-such-endpoint
expect 0 "port from PROVFLOW_ADMIN_LISTEN" -- \
    env PROVFLOW_ADMIN_LISTEN="0.0.0.0:$port" "$hc" "" /_sim/stats
expect 1 "bad port" -- "$hc" nope /_sim/stats
expect 0 "--listen-of: the last --listen of the process" -- \
    "$hc" --listen-of "$name" /_sim/stats
expect 1 "--listen-of: no such process" -- \
    "$hc" --listen-of "$name-none" /_sim/stats
expect 1 "--listen-of: 404 answer" -- \
    "$hc" --listen-of "$name" /_sim/no-such-endpoint

kill "$pid"
wait "$pid" 2>/dev/null || true
pid=
expect 1 "closed port" -- "$hc" "$port" /_sim/stats
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
