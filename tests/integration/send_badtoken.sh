#!/usr/bin/env bash
# shellcheck disable=SC2016 source-path=SCRIPTDIR  # jq programs in single quotes
# send_badtoken.sh PROVFLOW GRAPHSIM [http|https]
#
# provflow send against a token endpoint that misbehaves (badserver.py,
# which also plays a Graph that records every header it receives):
# - expires_in of any size or type (INT64_MAX, beyond it, 1e300, negative,
#   0, a string, missing): the token is used, every event is created, and
#   the endpoint is not hammered (a bounded number of token requests);
# - an access token with CR/LF (a header injection), ESC or a non-ASCII
#   byte, and token_type "mac": refused; not one Graph request, no
#   Authorization header carrying it; exit 78 (configuration), nothing
#   marked failed;
# - 503 or 429 forever: exit 69 (a dependency unavailable), not 78; the
#   endpoint's error text reaches stderr without its control bytes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lib_init "$@"

for i in 1 2 3; do
    event "bad-$i" "$(set_id "$i")"
done >"$TMP/events.ndjson"

# Requests of the last run, from the badserver's log.
token_requests() {
    jq -s '[.[] | select(.path | endswith("/oauth2/v2.0/token"))] | length' \
        "$BAD_LOG"
}
graph_requests() {
    jq -s '[.[] | select(.path | startswith("/beta/"))] | length' "$BAD_LOG"
}

bad_start

group "expires_in of any size or type: clamped, used, no refresh storm"
n=0
for value in 9223372036854775807 18446744073709551616 1e300 -1e300 -1 0 \
    '"3600"' '"abc"' null missing; do
    n=$((n + 1))
    token="good-token-$n"
    if [ "$value" = missing ]; then
        bad_reply 200 "{\"token_type\":\"Bearer\",\"access_token\":\"$token\"}"
    else
        bad_reply 200 "{\"token_type\":\"Bearer\",\"expires_in\":$value,\"refresh_in\":$value,\"access_token\":\"$token\"}"
    fi
    : >"$BAD_LOG"
    start=$(date +%s%N)
    pf_send "$TMP/events.ndjson"
    secs=$((($(date +%s%N) - start) / 1000000000 + 1))
    assert_rc "expires_in $value: send exits 0" 0
    assert_jq "expires_in $value: every event created" "$PF_OUTCOMES" \
        '[.[].data.status]' '["created","created","created"]'
    assert_jq "expires_in $value: Graph got the token, as it was sent" \
        "$BAD_LOG" '[.[] | select(.path | startswith("/beta/"))
            | [.headers[] | select(.[0] | ascii_downcase == "authorization")
               | .[1]]] | unique' "[[\"Bearer $token\"]]" -s
    # A 1 s token (what 0 and less become) is fetched again about once a
    # second at most; a refresh storm makes thousands in that time.
    assert_cmp "expires_in $value: token requests within one per second" \
        "$(token_requests)" -le $((secs + 2))
done

group "tokens that cannot be sent: refused, never in a header, exit 78"
for token in 'evil\r\nX-Injected: 1' 'evil\nX-Injected: 1' \
    'evil\u001b[2Jx' 'caf\u00e9' 'two words'; do
    bad_reply 200 "{\"token_type\":\"Bearer\",\"expires_in\":3600,\"access_token\":\"$token\"}"
    : >"$BAD_LOG"
    pf_send "$TMP/events.ndjson"
    assert_rc "token '$token': send stops as a configuration error" 78
    assert_eq "token '$token': no outcome (nothing marked failed)" 0 \
        "$(jq length "$PF_OUTCOMES")"
    assert_grep "token '$token': stderr says why" \
        'invalid_response: access_token holds a control byte' "$PF_ERR"
    assert_eq "token '$token': not one Graph request" 0 "$(graph_requests)"
    assert_absent "token '$token': no injected header reached the server" \
        'Injected' "$BAD_LOG"
    assert_cmp "token '$token': the endpoint was asked once or twice" \
        "$(token_requests)" -le 2
done

group "token_type other than Bearer: refused, exit 78"
for type in mac PoP; do
    bad_reply 200 "{\"token_type\":\"$type\",\"expires_in\":3600,\"access_token\":\"t-$type\"}"
    : >"$BAD_LOG"
    pf_send "$TMP/events.ndjson"
    assert_rc "token_type $type: send stops as a configuration error" 78
    assert_grep "token_type $type: stderr says why" \
        "token_type \"$type\" is not Bearer" "$PF_ERR"
    assert_eq "token_type $type: not one Graph request" 0 "$(graph_requests)"
    assert_eq "token_type $type: no outcome" 0 "$(jq length "$PF_OUTCOMES")"
done
bad_reply 200 '{"token_type":"bEaReR","expires_in":3600,"access_token":"mixed-case"}'
: >"$BAD_LOG"
pf_send "$TMP/events.ndjson"
assert_rc "token_type bEaReR: accepted" 0

group "an endpoint unavailable for good: exit 69, not 78"
for status in 503 429; do
    bad_reply "$status" '{"error":"temporarily_unavailable","error_description":"AADSTS90033: busy.\r\nforged line \u001b[2J\u001b]0;t\u0007 \u009b0m"}'
    : >"$BAD_LOG"
    pf_send --max-attempts 3 "$TMP/events.ndjson"
    assert_rc "$status forever: send exits 69 (dependency unavailable)" 69
    assert_eq "$status forever: no outcome (nothing marked failed)" 0 \
        "$(jq length "$PF_OUTCOMES")"
    assert_grep "$status forever: stderr names the endpoint's error" \
        'stopped: token endpoint: temporarily_unavailable: AADSTS90033: busy' \
        "$PF_ERR"
    # Every byte but line ends, tabs and printable ASCII: none expected.
    assert_eq "$status forever: no control or non-ASCII byte on stderr" 0 \
        "$(LC_ALL=C tr -d '\n\t\040-\176' <"$PF_ERR" | wc -c)"
    assert_absent_re "$status forever: the forged line stays inside its line" \
        '^forged line' "$PF_ERR"
    assert_eq "$status forever: not one Graph request" 0 "$(graph_requests)"
done
bad_reply 503 '<html>Service Unavailable</html>'
: >"$BAD_LOG"
pf_send --max-attempts 2 "$TMP/events.ndjson"
assert_rc "503 with a non-JSON body: exit 69" 69
sim_stop

lib_finish
