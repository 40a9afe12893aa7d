#!/usr/bin/env bash
# bench/curlfloor.sh [GRAPHSIM] - the CPU libcurl and the kernel alone
# spend per create on this machine: the floor under provflow's CPU per
# event at 0 ms (bench/README.md, "Ninth session").
#
# Builds bench/lib/curlfloor.c, starts the Graph simulator (0 ms per
# create), fetches a token and runs curlfloor: N creates, IN_FLIGHT at a
# time, over keep-alive HTTP/1.1, with the header lines and handle options
# provflow uses and nothing else (no Kafka, no JSON, no outcome). Prints
# one line per run and a Markdown table. Settings (environment):
#   N=100000 IN_FLIGHT=64 REPEAT=3 MODE=socket (or poll)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sim=${1:-$here/../build/default/tools/graphsim/provflow-graphsim}
N=${N:-100000}
IN_FLIGHT=${IN_FLIGHT:-64}
REPEAT=${REPEAT:-3}
MODE=${MODE:-socket}

[ -x "$sim" ] || { echo "curlfloor.sh: no simulator at $sim" >&2; exit 2; }
tmp=$(mktemp -d)
pid=
trap '[ -z "$pid" ] || { kill "$pid"; wait "$pid"; } 2>/dev/null; rm -rf "$tmp"' EXIT

cc -O2 -o "$tmp/curlfloor" "$here/lib/curlfloor.c" -lcurl
"$sim" --listen 127.0.0.1:0 --port-file "$tmp/port" --implicit-flow-sets \
    --max-flows $((N * REPEAT + 1000)) >"$tmp/sim.out" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { echo "curlfloor.sh: the simulator did not start" >&2; exit 1; }
base=http://127.0.0.1:$(cat "$tmp/port")
token=$(curl -sf "$base/test-tenant/oauth2/v2.0/token" \
    -d grant_type=client_credentials -d client_id=test-client \
    -d client_secret=test-secret \
    --data-urlencode scope=https://graph.microsoft.com/.default |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
set_id=$(python3 -c 'import uuid; print(uuid.uuid4())')
url=$base/beta/external/industryData/outboundProvisioningFlowSets/$set_id/provisioningFlows

echo "| run | creates/s | user s | system s | CPU s per 10k |"
echo "|---:|---:|---:|---:|---:|"
for r in $(seq "$REPEAT"); do
    line=$("$tmp/curlfloor" "$url" "$token" \
        "$here/../tests/graphsim/data/seed-user.json" "$N" "$IN_FLIGHT" "$MODE")
    echo "$line" >&2
    echo "$line" | awk -v r="$r" '{
        for (i = 1; i < NF; i += 2) v[$i] = $(i + 1)
        if (v["2xx"] != v["requests"]) { print "not every create was a 201: " $0 > "/dev/stderr"; exit 1 }
        printf "| %d | %.0f | %.2f | %.2f | %.3f |\n", r, v["per_s"], v["user"], v["sys"], v["cpu_s_per_10k"]
    }'
done
