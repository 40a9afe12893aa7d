#!/usr/bin/env bash
# shellcheck disable=SC2016 source-path=SCRIPTDIR  # jq programs in single quotes
# send_proxy.sh PROVFLOW GRAPHSIM [http|https]
#
# An HTTP proxy from the environment (libcurl's variables,
# docs/configuration.md): with http_proxy (http) or https_proxy (https)
# naming proxy.py, the token request and every Graph request of the seed's
# four events go through it (forwarded, or one CONNECT tunnel to the
# simulator), and the four are created. With no_proxy=127.0.0.1 as well,
# nothing goes through it: libcurl exempts no host by itself, not even
# localhost. Over http, the upper-case HTTP_PROXY is ignored (libcurl's
# guard against "httpoxy": a CGI request header becomes HTTP_PROXY).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lib_init "$@"
# The caller's proxies must not take part.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy \
    no_proxy NO_PROXY

proxy_start() {
    PROXY_LOG=$TMP/proxy.log
    python3 "$SRC_DIR/tests/integration/proxy.py" --port-file "$TMP/proxy.port" \
        --log "$PROXY_LOG" >"$TMP/proxy.out" 2>"$TMP/proxy.err" &
    SIM_PIDS+=($!) # stopped with the simulators by lib_cleanup
    for _ in $(seq 100); do
        [ -s "$TMP/proxy.port" ] && break
        sleep 0.05
    done
    [ -s "$TMP/proxy.port" ] || { echo "proxy.py did not start" >&2; cat "$TMP/proxy.err" >&2; exit 1; }
    PROXY_URL=http://127.0.0.1:$(cat "$TMP/proxy.port")
}

# proxied: the proxy's log lines since the mark (a line count).
proxied() { tail -n +"$(($1 + 1))" "$PROXY_LOG"; }
mark() { wc -l <"$PROXY_LOG"; }

created4() {
    assert_rc "$1: send exits 0" 0
    assert_jq "$1: four outcomes, all created" "$PF_OUTCOMES" \
        '[.[].data.status] == ["created","created","created","created"]' true
}

proxy_start
sim_start
sim_host=${SIM_URL#*://}
var=${PF_SCHEME}_proxy
base_env=("${PF_ENV[@]}")

group "$var names the proxy: everything goes through it"
m=$(mark)
PF_ENV=("${base_env[@]}" "$var=$PROXY_URL")
pf_send "$SEED_EVENTS"
created4 "$var"
proxied "$m" >"$TMP/through.log"
echo "# proxy saw: $(jq -c '[.method, .target]' "$TMP/through.log" | tr '\n' ' ')"
if [ "$PF_SCHEME" = http ]; then
    assert_eq "the token request went through the proxy" 1 \
        "$(jq -s --arg u "$SIM_URL/" '[.[] | select(.method == "POST" and
            (.target | startswith($u)) and (.target | endswith("/oauth2/v2.0/token")))] | length' "$TMP/through.log")"
    assert_eq "the four creates went through the proxy" 4 \
        "$(jq -s --arg u "$SIM_URL/" '[.[] | select(.method == "POST" and
            (.target | startswith($u)) and (.target | endswith("/provisioningFlows")))] | length' "$TMP/through.log")"
    assert_eq "nothing else reached the proxy" 5 "$(wc -l <"$TMP/through.log")"
else
    assert_cmp "the requests went through CONNECT tunnels to the simulator" \
        "$(jq -s --arg h "$sim_host" '[.[] | select(.method == "CONNECT" and .target == $h)] | length' "$TMP/through.log")" -ge 1
    assert_eq "only CONNECTs to the simulator reached the proxy" 0 \
        "$(jq -s --arg h "$sim_host" '[.[] | select(.method != "CONNECT" or .target != $h)] | length' "$TMP/through.log")"
fi
sim_save through
assert_eq "the simulator created the four flows" 4 "$(jq .flowsCreated "$STATS")"

group "no_proxy=127.0.0.1: the proxy is passed by"
sim_stop
sim_start
m=$(mark)
PF_ENV=("${base_env[@]}" "$var=$PROXY_URL" "no_proxy=127.0.0.1")
pf_send "$SEED_EVENTS"
created4 "no_proxy"
assert_eq "no_proxy: nothing reached the proxy" 0 "$(proxied "$m" | wc -l)"

group "libcurl exempts nothing by itself: 127.0.0.1 without no_proxy is proxied"
# (the first group's requests to 127.0.0.1 went through the proxy)
assert_cmp "proxied requests to 127.0.0.1 in the first group" \
    "$(wc -l <"$TMP/through.log")" -ge 1

if [ "$PF_SCHEME" = http ]; then
    group "HTTP_PROXY (upper case) is ignored for http://"
    sim_stop
    sim_start
    m=$(mark)
    PF_ENV=("${base_env[@]}" "HTTP_PROXY=$PROXY_URL")
    pf_send "$SEED_EVENTS"
    created4 "HTTP_PROXY"
    assert_eq "HTTP_PROXY: nothing reached the proxy" 0 "$(proxied "$m" | wc -l)"
fi

group "a proxy that cannot be reached is a transport failure, not a hang"
sim_stop
sim_start
PF_ENV=("${base_env[@]}" "$var=http://127.0.0.1:1")
pf_send "$SEED_EVENTS"
assert_rc "an unreachable proxy: send exits 69 (unavailable)" 69
PF_ENV=("${base_env[@]}")
lib_finish
