#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2119 source-path=SCRIPTDIR  # jq programs in single quotes; sim_start takes options
# send_tokens.sh PROVFLOW GRAPHSIM [http|https]
#
# Case 5: tokens that expire during the run. The simulator issues tokens
# valid for 4 s (expires_in 4, no refresh_in); its create endpoint answers
# after 250 ms, and 64 events of one flow set run one at a time, so the run
# lasts about 16 s. provflow (--token-expiry-margin-ms 1000) must refresh
# ahead of expiry, in the background: several tokens, and not one Graph
# request carrying an expired token (the simulator would answer 401). The
# first refresh fails (503 from the token endpoint): the valid token keeps
# being used meanwhile.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lib_init "$@"

life=4       # s
margin=1000  # ms; provflow caps it at a quarter of the life (1000 ms)
latency=250  # ms per create
events=64

group "case 5: tokens expiring every ${life}s over a ~16 s run"
sim_start
sim_put /_sim/token "{\"expiresIn\": $life}"
sim_put /_sim/faults "{\"createFlow\": {\"latencyMs\": $latency},
    \"token\": {\"sequence\": [\"ok\", \"503\"]}}"
set1=$(set_id 1)
for i in $(seq "$events"); do
    event "token-$i" "$set1"
done >"$TMP/events.ndjson"
start=$(date +%s%N)
pf_send --token-expiry-margin-ms "$margin" "$TMP/events.ndjson"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
sim_save c5
assert_rc "send exits 0" 0
assert_jq "every event created" "$PF_OUTCOMES" \
    '[.[].data.status] | [length, unique]' "[$events,[\"created\"]]"
assert_cmp "the run lasted at least 15 s (ms)" "$elapsed_ms" -ge 15000
assert_cmp "several tokens issued" "$(jq .tokensIssued "$STATS")" -ge 3
assert_jq "no 401 from Graph: no request with an expired token" "$STATS" \
    '.byStatus["401"] // 0' 0
assert_jq "the failed refresh (503) was seen by the simulator" "$REQS" \
    '[.requests[] | select(.path | endswith("/token")) | .status] | .[0:2]' \
    '[200,503]'
assert_cmp "Graph requests used several tokens" \
    "$(jq '[.requests[] | select(.path | startswith("/beta/")) | .tokenId]
        | unique | length' "$REQS")" -ge 3
# The token a request carried was issued at most life - margin before the
# request reached the simulator (provflow stops serving it then), with
# 250 ms for the way from provflow to the simulator (a loaded CI host).
oldest=$(jq "$JQ_TIME"'
    ([.requests[] | select(.path | endswith("/token")) | select(.status == 200)
      | {key: .tokenId, value: t_end}] | from_entries) as $issued
    | [.requests[] | select(.path | startswith("/beta/"))
      | t_start - $issued[.tokenId]] | max * 1000 | floor' "$REQS") ||
    oldest=error
assert_cmp "no token used later than life - margin after its issue (ms)" \
    "$oldest" -lt $((life * 1000 - margin + 250))
assert_jq "every Graph request answered 201" \
    "$REQS" '[.requests[] | select(.path | startswith("/beta/")) | .status]
        | unique' '[201]'
sim_stop

lib_finish
