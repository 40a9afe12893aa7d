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
# body (as sent, form-encoded, in lower-case hex), after a password placed
# across provflow's cut of the message: the passwords of the events,
# inline and from --secrets-dir. Every secret has a space, '+',
# '/', '&', '"' and a non-ASCII letter, so that each encoding differs from
# the plain text; the texts also carry CR, LF, ESC sequences and a C1
# CSI, which must not reach stderr raw. Searched: provflow's stdout (the outcome lines) and
# stderr (log lines at debug, the CLI's messages), for every secret as it
# is, JSON-escaped (once, twice, \u escapes), form-encoded and
# percent-encoded with upper and lower hex. The simulator (GRAPHSIM) is
# not used.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/echo_lib.sh"
lib_init "$@"

# Each secret starts with 16 random hex digits: a part of one, left by a
# cut before the masking, is found by its first 8.
r1=$(openssl rand -hex 8) r2=$(openssl rand -hex 8) r3=$(openssl rand -hex 8)
client_secret="$r1-cs +Sec/ret=&\"é"
pw_inline="$r2-PwIn \"line\"/+&é"
pw_file="$r3-PwFile +/=& é\""
mkdir -p "$TMP/secrets"
printf '%s\n' "$pw_file" >"$TMP/secrets/staff-initial"

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

secret_forms "$client_secret" "$pw_inline" "$pw_file" >"$TMP/forms"
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    "AZURE_CLIENT_SECRET=$client_secret")

# no_raw_controls WHAT FILE: no ESC, BEL, CR or C1 CSI byte in FILE, and no
# line that the server's LF forged.
no_raw_controls() {
    if LC_ALL=C grep -q $'\x1b\\|\xc2\x9b\\|\a\\|\r' "$2"; then
        fail "$1: no ESC, BEL, CR or C1 CSI on stderr" \
            "$(LC_ALL=C grep -n $'\x1b\\|\xc2\x9b\\|\a\\|\r' "$2" | cat -v | head -n 3)"
    else
        pass "$1: no ESC, BEL, CR or C1 CSI on stderr"
    fi
    assert_eq "$1: no line forged by the server's LF" \
        0 "$(grep -c '^forged line' "$2" || true)"
}

group "Graph answers 400 quoting the request body (passwords inline and from --secrets-dir)"
# --cut-at 319: a password across the end of the 320-byte error message
# that provflow keeps of Graph's answer (PF_ERROR_MESSAGE_MAX): masked
# before that cut, or its start would be left.
echo_start --token ok --cut-at 319
pf_send --log-level debug --secrets-dir "$TMP/secrets" "$TMP/events.ndjson"
assert_rc "every event rejected: exit 65" 65
assert_jq "three rejected outcomes" "$PF_OUTCOMES" \
    '[.[] | [.data.requestId, .data.status, .data.error.code,
        .data.error.graphError.code]] | sort' \
    '[["redact-both","failed","rejected","BadRequest"],["redact-inline","failed","rejected","BadRequest"],["redact-named","failed","rejected","BadRequest"]]'
assert_jq "Graph's message is kept, the passwords in it masked" "$PF_OUTCOMES" \
    '[.[] | .data.error.graphError.message |
        (test("Invalid request body: ") and test("\\*\\*\\*"))] | unique' \
    '[true]'
assert_jq "the quoted body still shows the names around the masks" "$PF_OUTCOMES" \
    '[.[] | .data.error.graphError.message | test("\"password\":\"\\*\\*\\*\"")] | unique' \
    '[true]'
assert_cmp "the echo server saw the creates" \
    "$(grep -c provisioningFlows "$SIM_DIR/requests" || true)" -ge 3
assert_no_secret "no secret in the outcome lines (stdout)" "$TMP/forms" "$PF_OUT"
assert_no_secret "no secret on stderr" "$TMP/forms" "$PF_ERR"
sim_stop

group "Graph answers 403 (provflow send stops) quoting the request body"
echo_start --token ok --graph 403 --cut-at 319
pf_send --log-level debug --secrets-dir "$TMP/secrets" "$TMP/events.ndjson"
assert_rc "Graph 403: stopped, exit 78" 78
assert_grep "Graph 403: stderr says why it stopped" 'stopped: .*Forbidden' "$PF_ERR"
assert_no_secret "Graph 403: no secret on stderr" "$TMP/forms" "$PF_ERR"
assert_no_secret "Graph 403: no secret on stdout" "$TMP/forms" "$PF_OUT"
no_raw_controls "Graph 403" "$PF_ERR"
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
    assert_no_secret "token $status: no secret on stderr" "$TMP/forms" "$PF_ERR"
    assert_no_secret "token $status: no secret on stdout" "$TMP/forms" "$PF_OUT"
    no_raw_controls "token $status" "$PF_ERR"
    sim_stop
done

lib_finish
