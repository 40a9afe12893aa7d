# lib.sh - helpers of the simulator's HTTP tests; sourced by http_*.sh,
# which are run by CTest with the simulator binary as their argument.
#   start_sim NAME [flags...]   start it on 127.0.0.1:0; sets URL and SIM_PID
#   stop_sim                    SIGTERM, and check it exits 0 (leak checks
#                               under ASan report through the exit code)
#   call METHOD URL [curl args] one request; sets STATUS, BODY (a file),
#                               HDRS (a file), CURL_RC
#   expect_status N, expect_jq FILTER VALUE, expect_header NAME VALUE_RE
set -euo pipefail

BIN=${1:?usage: $0 path/to/provflow-graphsim}
TMP=$(mktemp -d)
SIM_PID=
URL=
BODY=$TMP/body
HDRS=$TMP/headers
NCHECKS=0

cleanup() {
    if [ -n "$SIM_PID" ]; then
        kill -KILL "$SIM_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    if [ -s "$BODY" ]; then
        echo "--- last body:" >&2
        head -c 2000 "$BODY" >&2
        echo >&2
    fi
    exit 1
}

ok() {
    NCHECKS=$((NCHECKS + 1))
}

start_sim() {
    local name=$1
    shift
    rm -f "$TMP/$name.port"
    "$BIN" --listen 127.0.0.1:0 --port-file "$TMP/$name.port" "$@" \
        >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SIM_PID=$!
    for _ in $(seq 200); do
        [ -s "$TMP/$name.port" ] && break
        kill -0 "$SIM_PID" 2>/dev/null ||
            fail "simulator $name did not start: $(cat "$TMP/$name.err")"
        sleep 0.05
    done
    [ -s "$TMP/$name.port" ] || fail "simulator $name: no port file"
    URL=$(head -n 1 "$TMP/$name.out")
    case $URL in
    http://127.0.0.1:$(cat "$TMP/$name.port") | https://*:$(cat "$TMP/$name.port")) ;;
    *) fail "simulator $name printed '$URL'" ;;
    esac
    SIM_NAME=$name
}

stop_sim() {
    local rc=0
    kill -TERM "$SIM_PID"
    wait "$SIM_PID" || rc=$?
    SIM_PID=
    [ "$rc" -eq 0 ] || fail "simulator $SIM_NAME exited $rc on SIGTERM: $(cat "$TMP/$SIM_NAME.err")"
    ok
}

# call METHOD URL [curl args...]
call() {
    local method=$1 url=$2
    shift 2
    : >"$BODY"
    CURL_RC=0
    STATUS=$(curl -s -o "$BODY" -D "$HDRS" -w '%{http_code}' -X "$method" \
        "$@" "$url") || CURL_RC=$?
}

expect_status() {
    [ "$STATUS" = "$1" ] || fail "${2:-request}: status $STATUS, want $1"
    ok
}

# expect_jq FILTER EXPECTED: jq -r FILTER of the body must print EXPECTED.
expect_jq() {
    local got
    got=$(jq -r "$1" <"$BODY" 2>&1) || fail "jq '$1' failed: $got"
    [ "$got" = "$2" ] || fail "jq '$1' = '$got', want '$2'"
    ok
}

# expect_header NAME REGEX
expect_header() {
    local v
    v=$(header "$1")
    [[ $v =~ $2 ]] || fail "header $1 = '$v', want /$2/"
    ok
}

# header NAME: the value of a response header of the last call, or "".
header() {
    { grep -i "^$1:" "$HDRS" || true; } | head -n 1 | cut -d: -f2- |
        tr -d '\r' | sed 's/^ *//'
}

GUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
SET=9ab41255-5364-4c53-e15c-08dc4ab6ee03
SETS_PATH=/beta/external/industryData/outboundProvisioningFlowSets
DATA=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/data

# token [tenant client secret] -> prints an access token
token() {
    curl -sf "$URL/${1:-test-tenant}/oauth2/v2.0/token" \
        -d grant_type=client_credentials -d "client_id=${2:-test-client}" \
        -d "client_secret=${3:-test-secret}" \
        --data-urlencode scope=https://graph.microsoft.com/.default |
        jq -r .access_token
}

# graph METHOD PATH TOKEN [curl args...]: a Graph call with a bearer.
graph() {
    local method=$1 path=$2 tok=$3
    shift 3
    call "$method" "$URL$path" -H "Authorization: Bearer $tok" "$@"
}

# create TOKEN SET FILE [curl args...]: POST a flow body from a file.
create() {
    local tok=$1 set=$2 file=$3
    shift 3
    graph POST "$SETS_PATH/$set/provisioningFlows" "$tok" \
        -H 'Content-Type: application/json' --data-binary "@$file" "$@"
}

# expect_graph_error STATUS CODE: Graph's error shape, request ids echoed.
expect_graph_error() {
    expect_status "$1" "graph error"
    expect_jq .error.code "$2"
    expect_jq '.error.message | length > 0' true
    expect_jq '.error.innerError.date | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}$")' true
    local rid
    rid=$(header request-id)
    [[ $rid =~ $GUID_RE ]] || fail "request-id header '$rid'"
    expect_jq '.error.innerError."request-id"' "$rid"
    expect_header client-request-id '.+'
    expect_jq '.error.innerError."client-request-id" | length > 0' true
}

stats() {
    curl -sf "$URL/_sim/stats" | jq -r "$1"
}

done_ok() {
    echo "ok: $NCHECKS checks"
}
