#!/usr/bin/env bash
# shellcheck disable=SC2016 source-path=SCRIPTDIR  # jq programs in single quotes
# send_redaction.sh PROVFLOW GRAPHSIM [http|https]
#
# No secret in any output, in any form: `provflow send` against
# echo_server.py, a token endpoint and a Graph that quote what they
# received. The token endpoint answers 401 (invalid_client) or 400
# (invalid_request) with an error_description that holds the request form
# (client_secret included: as sent, in lower-case hex, decoded); Graph
# answers every create with a 400 whose error message holds the request
# body (as sent, form-encoded, in lower-case hex): the passwords of the
# events, inline and from --secrets-dir. Every secret has a space, '+',
# '/', '&', '"' and a non-ASCII letter, so that each encoding differs from
# the plain text; the texts also carry CR, LF, ESC sequences and a C1
# CSI, which must not reach stderr raw. Searched: provflow's stdout (the outcome lines) and
# stderr (log lines at debug, the CLI's messages), for every secret as it
# is, JSON-escaped (once, twice, \u escapes), form-encoded and
# percent-encoded with upper and lower hex. The simulator (GRAPHSIM) is
# not used.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lib_init "$@"

ECHO=$(dirname "$0")/echo_server.py
# Each secret starts with 16 random hex digits: a part of one, left by a
# cut before the masking, is found by its first 8.
r1=$(openssl rand -hex 8) r2=$(openssl rand -hex 8) r3=$(openssl rand -hex 8)
client_secret="$r1-cs +Sec/ret=&\"é"
pw_inline="$r2-PwIn \"line\"/+&é"
pw_file="$r3-PwFile +/=& é\""
mkdir -p "$TMP/secrets"
printf '%s\n' "$pw_file" >"$TMP/secrets/staff-initial"

# echo_start [echo_server.py options...]: sets SIM_PID and SIM_URL (pf_send
# sends to SIM_URL), like sim_start.
echo_start() {
    local tls=() i
    SIM_DIR=$(mktemp -d "$TMP/echo.XXXXXX")
    if [ "$PF_SCHEME" = https ]; then
        tls=(--tls-cert "$TLS_DIR/server.pem" --tls-key "$TLS_DIR/server.key")
    fi
    python3 "$ECHO" --port-file "$SIM_DIR/port" --log "$SIM_DIR/requests" \
        ${tls[@]+"${tls[@]}"} "$@" >"$SIM_DIR/stdout" 2>"$SIM_DIR/stderr" &
    SIM_PID=$!
    SIM_PIDS+=("$SIM_PID")
    for i in $(seq 200); do
        [ -s "$SIM_DIR/port" ] && break
        if ! kill -0 "$SIM_PID" 2>/dev/null; then
            echo "echo_server.py did not start:" >&2
            cat "$SIM_DIR/stderr" >&2
            exit 1
        fi
        sleep 0.05
    done
    [ -s "$SIM_DIR/port" ] || { echo "echo_server.py wrote no port file" >&2; exit 1; }
    SIM_URL=$PF_SCHEME://127.0.0.1:$(cat "$SIM_DIR/port")
    : "$i"
}

# user_event ID SET CONFIGURATIONS-JSON
user_event() {
    jq -nc --arg id "$1" --arg set "$2" --argjson configs "$3" '{
        specversion: "1.0", id: $id, source: "urn:test",
        type: "provflow.provisioningFlow.create",
        data: {flowSetId: $set, flowType: "user", flow: {
            managementOptions: {additionalOptions: {studentAgeGroup: "minor"}},
            creationOptions: {configurations: $configs}}}}'
}
inline=$(jq -nc --arg p "$pw_inline" '{roleGroupId: "staff",
    defaultPasswordSettings: {password: $p}, licenseSkus: ["Sku1"]}')
named='{"roleGroupId": "students", "defaultPasswordSecret": "staff-initial"}'
{
    user_event redact-inline "$(set_id 1)" "[$inline]"
    user_event redact-named "$(set_id 2)" "[$named]"
    user_event redact-both "$(set_id 3)" "[$inline, $named]"
} >"$TMP/events.ndjson"

# Every form of the three secrets, and the start of each, one a line.
python3 - "$client_secret" "$pw_inline" "$pw_file" >"$TMP/forms" <<'EOF'
import json, re, sys, urllib.parse
forms = set()
for s in sys.argv[1:]:
    once = json.dumps(s, ensure_ascii=False)[1:-1]
    for f in (s, once, json.dumps(s)[1:-1], json.dumps(once)[1:-1],
              json.dumps(once, ensure_ascii=False)[1:-1],
              once.replace("/", "\\/"), s[:8],
              urllib.parse.quote_plus(s, safe=""),
              urllib.parse.quote(s, safe=""),
              urllib.parse.quote(s, safe="/+&=")):
        forms.add(f)
        forms.add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), f))
for f in sorted(forms):
    print(f)
EOF
# assert_no_secret WHAT FILES...: no form of any secret in the files.
assert_no_secret() {
    local what=$1 hits
    shift
    if hits=$(grep -F -n -f "$TMP/forms" "$@" 2>/dev/null); then
        fail "$what" "a secret in:" "$(printf '%s\n' "$hits" | cut -c 1-400 | head -n 5)"
    else
        pass "$what ($(wc -l <"$TMP/forms") forms, $(cat "$@" | wc -c) bytes)"
    fi
}
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_CLIENT_SECRET=$client_secret")

group "Graph answers 400 quoting the request body (passwords inline and from --secrets-dir)"
echo_start --token ok
pf_send --log-level debug --secrets-dir "$TMP/secrets" "$TMP/events.ndjson"
assert_rc "every event rejected: exit 65" 65
assert_jq "three rejected outcomes" "$PF_OUTCOMES" \
    '[.[] | [.data.requestId, .data.status, .data.error.code,
        .data.error.graphError.code]] | sort' \
    '[["redact-both","failed","rejected","BadRequest"],["redact-inline","failed","rejected","BadRequest"],["redact-named","failed","rejected","BadRequest"]]'
assert_jq "Graph's message is kept, the passwords in it masked" "$PF_OUTCOMES" \
    '[.[] | .data.error.graphError.message |
        (startswith("Invalid request body: ") and test("\\*\\*\\*"))] | unique' \
    '[true]'
assert_jq "the quoted body still shows the names around the masks" "$PF_OUTCOMES" \
    '[.[] | .data.error.graphError.message | test("\"password\":\"\\*\\*\\*\"")] | unique' \
    '[true]'
assert_cmp "the echo server saw the creates" \
    "$(grep -c provisioningFlows "$SIM_DIR/requests" || true)" -ge 3
assert_no_secret "no secret in the outcome lines (stdout)" "$PF_OUT"
assert_no_secret "no secret on stderr" "$PF_ERR"
sim_stop

for status in 401 400; do
    group "the token endpoint answers $status quoting the request form"
    echo_start --token "$status"
    pf_send --log-level debug --secrets-dir "$TMP/secrets" "$TMP/events.ndjson"
    assert_rc "token $status: stopped, exit 78" 78
    assert_grep "token $status: stderr says why it stopped" \
        'stopped: .*AADSTS7000215' "$PF_ERR"
    assert_grep "token $status: the quoted form is there, masked" \
        'client_secret=\*\*\*' "$PF_ERR"
    assert_eq "token $status: no outcome" 0 "$(wc -c <"$PF_OUT")"
    assert_no_secret "token $status: no secret on stderr" "$PF_ERR"
    assert_no_secret "token $status: no secret on stdout" "$PF_OUT"
    if LC_ALL=C grep -q $'\x1b\\|\xc2\x9b\\|\a\\|\r' "$PF_ERR"; then
        fail "token $status: no ESC, BEL, CR or C1 CSI on stderr" \
            "$(LC_ALL=C grep -n $'\x1b\\|\xc2\x9b\\|\a\\|\r' "$PF_ERR" | cat -v | head -n 3)"
    else
        pass "token $status: no ESC, BEL, CR or C1 CSI on stderr"
    fi
    assert_eq "token $status: one line on stderr per message (no forged line)" \
        0 "$(grep -c '^forged line' "$PF_ERR" || true)"
    sim_stop
done

lib_finish
