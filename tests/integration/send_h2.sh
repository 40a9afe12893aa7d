#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2119  # jq programs in single quotes; sim_start takes options
# send_h2.sh PROVFLOW GRAPHSIM https
#
# Many requests in flight over few connections: Graph speaks HTTP/2 over
# TLS, and provflow multiplexes its requests on it (curl multi with
# CURLPIPE_MULTIPLEX, a bounded connection pool). The simulator speaks
# HTTP/1.1, so nghttpx (Debian's nghttp2-proxy, a real HTTP/2 server)
# fronts it: TLS and HTTP/2 toward provflow, one HTTP/1.1 connection per
# request toward the simulator.
#   - 300 events, 300 ms per create: every one created;
#   - every request to the front arrived over HTTP/2 (ALPN h2);
#   - the simulator held at least four times as many requests at once as
#     provflow opened connections to the front in the whole run (over
#     HTTP/1.1 it would need one connection per request in flight; with
#     HTTP/2, one per 100 streams, nghttpx's limit per connection, plus
#     the few curl opens while the first ones are still being set up).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lib_init "$@"
if [ "$PF_SCHEME" != https ]; then
    echo "SKIP: HTTP/2 to Graph is over TLS (run with https)" >&2
    exit 77
fi
if ! command -v nghttpx >/dev/null; then
    echo "SKIP: nghttpx is not installed (scripts/deps installs nghttp2-proxy)" >&2
    exit 77
fi
N=300

front_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
FRONT=https://127.0.0.1:$front_port
# A concurrency limit far above the load: the simulator then counts the
# requests it holds at once, and the most of them
# (effectiveLimits.tenants[].peakInFlight).
jq -n '{faults: {createFlow: {latencyMs: 300}}, rateLimit: {concurrency: 100000}}' \
    >"$TMP/sim.json"
sim_start --config "$TMP/sim.json"
sim_port=$(cat "$SIM_DIR/port")
nghttpx --frontend="127.0.0.1,$front_port" --backend="127.0.0.1,$sim_port;;tls" \
    --insecure --workers=1 --no-ocsp --backend-connections-per-host=1024 \
    --frontend-http2-max-concurrent-streams=100 --backend-request-buffer=16K \
    --accesslog-file="$TMP/access.log" \
    --accesslog-format='$alpn $remote_port $status $method $path' \
    --errorlog-file="$TMP/nghttpx.err" \
    --conf=/dev/null "$TLS_DIR/server.key" "$TLS_DIR/server.pem" &
SIM_PIDS+=($!)
for _ in $(seq 100); do
    curl -s --cacert "$TLS_DIR/ca.pem" -o /dev/null "$FRONT/_sim/stats" && break
    sleep 0.1
done

for i in $(seq 1 "$N"); do
    event "h2-$i" "$(set_id "$i")"
done >"$TMP/events.ndjson"

SIM_URL_SAVED=$SIM_URL
SIM_URL=$FRONT
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    AZURE_CLIENT_SECRET=test-secret)
pf_send --max-in-flight 512 "$TMP/events.ndjson"
SIM_URL=$SIM_URL_SAVED

group "$N creates over HTTP/2"
assert_rc "send exits 0" 0
assert_jq "every event created" "$PF_OUTCOMES" '[.[].data.status] | unique' '["created"]'
assert_eq "one outcome per event" "$N" "$(jq length "$PF_OUTCOMES")"
assert_eq "every request to the front over h2" "h2" \
    "$(awk '$5 ~ /provisioningFlows|oauth2/ { print $1 }' "$TMP/access.log" | sort -u | tr '\n' ' ' | sed 's/ $//')"
conns=$(awk '$5 ~ /provisioningFlows|oauth2/ { print $2 }' "$TMP/access.log" | sort -u | wc -l)
# The most requests the simulator held at once, as it counted them (a
# sample of its count every 50 ms missed the peak on a busy machine).
most=$(curl -s "$SIM_URL/_sim/stats" -k | jq '[.effectiveLimits.tenants[]?.peakInFlight // 0] | max // 0')
echo "# $conns connections to the front; at most $most requests at once at the simulator"
assert_cmp "requests shared connections: $most at once, $conns connections in all" \
    "$most" -ge $((4 * conns))
lib_finish
