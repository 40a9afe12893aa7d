#!/usr/bin/env bash
# Measures the simulator's create throughput with wrk (keep-alive).
#   tools/graphsim/bench/run.sh [BINARY] [wrk options...]
# BINARY defaults to the default preset's build. The simulator runs on CPU 0
# and wrk on CPU 1 when taskset is available, so they do not steal each
# other's core on a 2-core machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../../../build/default/tools/graphsim/provflow-graphsim}
shift || true
[ $# -gt 0 ] || set -- -t1 -c64 -d10s

pin_sim=() pin_wrk=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    pin_sim=(taskset -c 0)
    pin_wrk=(taskset -c 1)
fi
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
"${pin_sim[@]}" "$bin" --listen 127.0.0.1:0 --port-file "$tmp/port" \
    --request-log 1000 --implicit-flow-sets >"$tmp/out" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
url=http://127.0.0.1:$(cat "$tmp/port")
TOKEN=$(curl -sf "$url/test-tenant/oauth2/v2.0/token" \
    -d grant_type=client_credentials -d client_id=test-client \
    -d client_secret=test-secret \
    --data-urlencode scope=https://graph.microsoft.com/.default |
    jq -r .access_token)
export TOKEN
# CPU the simulator used (user + system, clock ticks): a figure that holds
# even when other processes share the machine.
cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
before=$(cpu)
n0=$(curl -sf "$url/_sim/stats" | jq .requests)
echo "wrk $* -s post.lua $url"
"${pin_wrk[@]}" wrk "$@" -s "$here/post.lua" "$url"
after=$(cpu)
n1=$(curl -sf "$url/_sim/stats" | jq .requests)
curl -sf "$url/_sim/stats" | jq -c '{requests, byStatus, flowsCreated, duplicatesCreated}'
awk -v n=$((n1 - n0)) -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" \
    'BEGIN { if (t > 0) printf "simulator CPU: %.2f s for %d requests = %.0f requests per CPU-second\n", t / hz, n, n * hz / t }'
