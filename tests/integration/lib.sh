# shellcheck shell=bash disable=SC2034  # globals are read by the sourcing scripts
#
# lib.sh - shared helpers of the `provflow send` integration tests
# (tests/integration/send_*.sh). Source it, then call lib_init with the
# script's arguments:
#
#   . "$(dirname "$0")/lib.sh"
#   lib_init "$@"          # PROVFLOW GRAPHSIM [http|https]
#   sim_start [simulator options...]
#   pf_send [provflow send options...] FILE
#   assert_eq "what" expected actual
#   ...
#   lib_finish             # prints "N passed, M failed", exits non-zero on
#                          # a failure
#
# Everything runs on loopback, in one temporary directory that the EXIT
# trap removes after stopping every simulator this script started. With
# "https", the simulator serves TLS with a server certificate for
# 127.0.0.1 issued by a test CA made here, and provflow trusts that CA
# through --ca-file (no --allow-http).

set -euo pipefail

PASSED=0
FAILED=0
SIM_PIDS=()
SIM_PID=
SIM_URL=
SIM_DIR=
PF_RC=0
PF_OUT=
PF_ERR=
PF_RUNS=0
TMP=
TLS_DIR=
# The default credential: the simulator's built-in tenant and client.
PF_ENV=(AZURE_TENANT_ID=test-tenant AZURE_CLIENT_ID=test-client
    AZURE_CLIENT_SECRET=test-secret)
# Retry settings that keep a test short (the simulator applies a create at
# once, so a short settle is safe); pf_send puts them before the
# caller's options, so a test may override any of them.
PF_FAST=(--retry-base-ms 20 --max-backoff-ms 200 --max-attempts 6
    --max-elapsed-ms 20000 --max-retry-after-ms 10000
    --http-timeout-ms 10000 --connect-timeout-ms 2000
    --token-systemic-retry-ms 1000
    --settle-ms 500)
# Longest a single provflow run may take before the test gives up on it.
PF_TIMEOUT=${PF_TIMEOUT:-90}
# https: whether pf_send passes the test CA with --ca-file.
PF_TRUST_CA=yes
# The repository's root (for tests/data).
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SEED_EVENTS=$SRC_DIR/tests/data/seed/events.ndjson

# --- set-up and tear-down ---------------------------------------------------

lib_cleanup() {
    local pid
    for pid in "${SIM_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    SIM_PIDS=()
    if [ -n "$TMP" ] && [ -z "${KEEP_TMP:-}" ]; then
        rm -rf "$TMP"
    elif [ -n "$TMP" ]; then
        echo "# kept $TMP"
    fi
}

# lib_init PROVFLOW GRAPHSIM [http|https]
lib_init() {
    if [ $# -lt 2 ]; then
        echo "usage: $0 PROVFLOW GRAPHSIM [http|https]" >&2
        exit 64
    fi
    local tool
    for tool in curl jq openssl python3 timeout; do
        if ! command -v "$tool" >/dev/null; then
            echo "SKIP: $tool is not installed" >&2
            exit 77
        fi
    done
    PF_BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
    SIM_BIN=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
    PF_SCHEME=${3:-http}
    case $PF_SCHEME in
    http | https) ;;
    *)
        echo "$0: scheme must be http or https, not '$PF_SCHEME'" >&2
        exit 64
        ;;
    esac
    [ -x "$PF_BIN" ] || { echo "$0: $PF_BIN is not executable" >&2; exit 64; }
    [ -x "$SIM_BIN" ] || { echo "$0: $SIM_BIN is not executable" >&2; exit 64; }
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/provflow-it.XXXXXX")
    trap lib_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    # The Azure SDK variables of the caller's environment must not leak in.
    unset AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET \
        AZURE_CLIENT_SECRET_FILE AZURE_CLIENT_CERTIFICATE_PATH \
        AZURE_FEDERATED_TOKEN_FILE AZURE_AUTHORITY_HOST PROVFLOW_CONFIG
    if [ "$PF_SCHEME" = https ]; then
        tls_make
    fi
    echo "# $(basename "$0") over $PF_SCHEME; work dir $TMP"
}

# Prints the summary line and exits: 0 when every assertion passed.
lib_finish() {
    echo "$PASSED passed, $FAILED failed"
    if [ "$FAILED" -gt 0 ] || [ "$PASSED" -eq 0 ]; then
        exit 1
    fi
    exit 0
}

# group NAME: a heading for the assertions that follow.
group() {
    echo "# --- $*"
}

# --- TLS material -----------------------------------------------------------

# A test CA and a server certificate for 127.0.0.1 (EC P-256: fast to make)
# in $TLS_DIR: ca.pem, server.pem (leaf + CA), server.key.
tls_make() {
    TLS_DIR=$TMP/tls
    mkdir -p "$TLS_DIR"
    (
        cd "$TLS_DIR"
        openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
            -nodes -keyout ca.key -out ca.pem -days 2 \
            -subj "/CN=provflow integration test CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout server.key -out server.csr -subj "/CN=127.0.0.1" \
            2>/dev/null
        printf '%s\n' "subjectAltName=IP:127.0.0.1" \
            "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature" \
            "extendedKeyUsage=serverAuth" >server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
            -CAcreateserial -days 2 -extfile server.ext \
            -out server.crt 2>/dev/null
        cat server.crt ca.pem >server.pem
    )
}

# client_cert DIR: an RSA key and a self-signed certificate for the JWT
# client assertion: DIR/cert.pem (certificate alone, for the simulator's
# client) and DIR/client.pem (certificate + key, for provflow).
client_cert() {
    local dir=$1
    mkdir -p "$dir"
    openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$dir/key.pem" \
        -out "$dir/cert.pem" -days 2 -subj "/CN=provflow test client" \
        2>/dev/null
    cat "$dir/cert.pem" "$dir/key.pem" >"$dir/client.pem"
    chmod 600 "$dir/key.pem" "$dir/client.pem"
}

# --- the simulator ----------------------------------------------------------

# sim_start [options...]: starts provflow-graphsim on 127.0.0.1 with an
# ephemeral port (TLS in https mode); sets SIM_PID, SIM_URL (as the
# simulator prints it) and SIM_DIR. One simulator at a time: stop the last
# one with sim_stop first. It runs with --strict-casing (exact CSDL
# property names), so these tests prove provflow sends CSDL casing, and
# with --implicit-flow-sets (flow sets exist on first use: the events name
# sets nobody created; send_reject.sh passes --explicit-flow-sets after).
sim_start() {
    local tls=() i
    SIM_DIR=$(mktemp -d "$TMP/sim.XXXXXX")
    if [ "$PF_SCHEME" = https ]; then
        tls=(--tls-cert "$TLS_DIR/server.pem" --tls-key "$TLS_DIR/server.key")
    fi
    "$SIM_BIN" --listen 127.0.0.1:0 --port-file "$SIM_DIR/port" \
        --strict-casing --implicit-flow-sets \
        ${tls[@]+"${tls[@]}"} "$@" >"$SIM_DIR/stdout" 2>"$SIM_DIR/stderr" &
    SIM_PID=$!
    SIM_PIDS+=("$SIM_PID")
    for i in $(seq 200); do
        [ -s "$SIM_DIR/port" ] && break
        if ! kill -0 "$SIM_PID" 2>/dev/null; then
            echo "provflow-graphsim did not start:" >&2
            cat "$SIM_DIR/stderr" >&2
            exit 1
        fi
        sleep 0.05
    done
    if [ ! -s "$SIM_DIR/port" ]; then
        echo "provflow-graphsim wrote no port file in 10 s" >&2
        exit 1
    fi
    SIM_URL=$(head -n 1 "$SIM_DIR/stdout")
    if [ "$SIM_URL" != "$PF_SCHEME://127.0.0.1:$(cat "$SIM_DIR/port")" ]; then
        echo "unexpected simulator URL '$SIM_URL'" >&2
        exit 1
    fi
    : "$i"
}

# sim_stop: stops the current simulator (SIGTERM) and checks that it
# exited cleanly (under the asan preset that includes its leak check).
sim_stop() {
    local rc=0 pid=$SIM_PID keep=() p
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || rc=$?
    for p in "${SIM_PIDS[@]}"; do
        [ "$p" = "$pid" ] || keep+=("$p")
    done
    SIM_PIDS=(${keep[@]+"${keep[@]}"})
    SIM_PID=
    if [ "$rc" -ne 0 ]; then
        fail "simulator exited with status $rc" \
            "$(tail -n 20 "$SIM_DIR/stderr")"
    fi
}

# sim_curl [curl options...] PATH: a request to the simulator; prints the
# body; fails the script on an HTTP error.
sim_curl() {
    local path=${*: -1} opts=("${@:1:$#-1}") ca=()
    [ "$PF_SCHEME" = https ] && ca=(--cacert "$TLS_DIR/ca.pem")
    curl -sS --fail-with-body --max-time 20 ${ca[@]+"${ca[@]}"} \
        ${opts[@]+"${opts[@]}"} "$SIM_URL$path"
}

sim_get() { sim_curl "$1"; }

# sim_put PATH JSON, sim_patch PATH JSON, sim_post PATH [JSON]
sim_put() { sim_curl -X PUT -H 'Content-Type: application/json' --data "$2" "$1" >/dev/null; }
sim_patch() { sim_curl -X PATCH -H 'Content-Type: application/json' --data "$2" "$1" >/dev/null; }
sim_post() {
    local body=${2-}
    [ -n "$body" ] || body='{}'
    sim_curl -X POST -H 'Content-Type: application/json' --data "$body" "$1" >/dev/null
}

# sim_save NAME: saves /_sim/requests, /_sim/stats and /_sim/flows as
# $TMP/NAME.{requests,stats,flows}.json; sets REQS, STATS, FLOWS.
sim_save() {
    REQS=$TMP/$1.requests.json
    STATS=$TMP/$1.stats.json
    FLOWS=$TMP/$1.flows.json
    sim_get /_sim/requests >"$REQS"
    sim_get /_sim/stats >"$STATS"
    sim_get /_sim/flows >"$FLOWS"
}

# --- provflow send ----------------------------------------------------------

# pf_send [options...] [FILE]: runs `provflow send` against the current
# simulator with the credential in PF_ENV (an array of NAME=value) and
# PF_FAST's retry settings; sets PF_RC, PF_OUT (stdout: outcomes, NDJSON),
# PF_ERR (stderr) and PF_OUTCOMES (stdout slurped into one JSON array).
pf_send() {
    local tls=()
    PF_RUNS=$((PF_RUNS + 1))
    PF_OUT=$TMP/send$PF_RUNS.out
    PF_ERR=$TMP/send$PF_RUNS.err
    PF_OUTCOMES=$TMP/send$PF_RUNS.outcomes.json
    if [ "$PF_SCHEME" = https ] && [ "$PF_TRUST_CA" = yes ]; then
        tls=(--ca-file "$TLS_DIR/ca.pem")
    elif [ "$PF_SCHEME" = https ]; then
        tls=()
    else
        tls=(--allow-http)
    fi
    PF_RC=0
    env "${PF_ENV[@]}" timeout -k 5 "$PF_TIMEOUT" "$PF_BIN" send \
        --graph-root "$SIM_URL" --authority-host "$SIM_URL" "${tls[@]}" \
        "${PF_FAST[@]}" "$@" >"$PF_OUT" 2>"$PF_ERR" || PF_RC=$?
    if ! jq -s . "$PF_OUT" >"$PF_OUTCOMES" 2>/dev/null; then
        fail "provflow's stdout is NDJSON" "$(head -c 2000 "$PF_OUT")"
        echo '[]' >"$PF_OUTCOMES"
    fi
    if [ "$PF_RC" -eq 124 ] || [ "$PF_RC" -eq 137 ]; then
        echo "# provflow send timed out after ${PF_TIMEOUT}s" >&2
    fi
}

# pf_show: provflow's stderr, for a failure message.
pf_show() {
    echo "provflow exit $PF_RC; stderr:"
    tail -n 15 "$PF_ERR"
}

# --- helpers ----------------------------------------------------------------

# uuid5 NAME...: the client-request-id provflow derives from each event id
# (docs/events.md): uuid5(be22c64f-7b65-5479-83f5-245859bf3cc8, id).
uuid5() {
    python3 -c '
import sys, uuid
ns = uuid.UUID("be22c64f-7b65-5479-83f5-245859bf3cc8")
assert ns == uuid.uuid5(uuid.NAMESPACE_URL, "urn:provflow:client-request-id")
for name in sys.argv[1:]:
    print(uuid.uuid5(ns, name))
' "$@"
}

# jqv FILE FILTER [jq options...]: the filter's result, compact.
jqv() {
    local file=$1 filter=$2
    shift 2
    jq -c "$@" "$filter" "$file"
}

# The jq definitions the timing checks share: seconds since the epoch of a
# request-log entry's end ("time", written when the simulator answered)
# and start (end minus its durationMs, which includes added latency).
JQ_TIME='def secs: (.[0:19] + "Z" | fromdateiso8601) + ("0" + .[19:-1] | tonumber);
def t_end: .time | secs;
def t_start: (.time | secs) - .durationMs / 1000;'

# A guid for flow set N.
set_id() { printf '%08x-0000-4000-8000-%012x' "$1" "$1"; }

# event ID SET_ID [FLOW_TYPE]: one valid structured-mode event, one line.
event() {
    local id=$1 set=$2 type=${3:-securityGroup}
    case $type in
    securityGroup)
        printf '{"specversion":"1.0","id":"%s","source":"urn:test","type":"provflow.provisioningFlow.create","data":{"flowSetId":"%s","flowType":"securityGroup","flow":{"creationOptions":{"createBasedOnRoleGroup":true,"createBasedOnOrgPlusRoleGroup":false}}}}\n' "$id" "$set"
        ;;
    administrativeUnit)
        printf '{"specversion":"1.0","id":"%s","source":"urn:test","type":"provflow.provisioningFlow.create","data":{"flowSetId":"%s","flowType":"administrativeUnit","flow":{"creationOptions":{"createBasedOnOrg":true,"createBasedOnOrgPlusRoleGroup":false}}}}\n' "$id" "$set"
        ;;
    *)
        echo "event: unknown type $type" >&2
        return 1
        ;;
    esac
}

# --- assertions -------------------------------------------------------------
# Each prints "ok - WHAT" or "FAIL - WHAT" with what differed, and counts.

pass() {
    PASSED=$((PASSED + 1))
    printf 'ok   - %s\n' "$1"
}

# fail WHAT [DETAIL...]
fail() {
    FAILED=$((FAILED + 1))
    printf 'FAIL - %s\n' "$1"
    shift
    local d
    for d in "$@"; do
        printf '%s\n' "$d" | cut -c 1-600 | head -n 40 | sed 's/^/       /'
    done
}

# assert_eq WHAT EXPECTED ACTUAL
assert_eq() {
    if [ "$2" = "$3" ]; then
        pass "$1"
    else
        fail "$1" "expected: $2" "actual:   $3"
    fi
}

# assert_ne WHAT UNEXPECTED ACTUAL
assert_ne() {
    if [ "$2" != "$3" ]; then
        pass "$1"
    else
        fail "$1" "expected anything but: $2"
    fi
}

# assert_cmp WHAT ACTUAL OP LIMIT: a numeric comparison; OP is one of
# -eq -ne -lt -le -gt -ge (integers), or <, <=, >, >= (decimals, via jq).
assert_cmp() {
    local what=$1 actual=$2 op=$3 limit=$4 ok
    case $op in
    -eq | -ne | -lt | -le | -gt | -ge)
        if [[ $actual =~ ^-?[0-9]+$ ]] && test "$actual" "$op" "$limit"; then
            ok=true
        else
            ok=false
        fi
        ;;
    *)
        ok=$(jq -n --arg a "$actual" --arg b "$limit" \
            "(\$a | tonumber) $op (\$b | tonumber)" 2>/dev/null || echo false)
        ;;
    esac
    if [ "$ok" = true ]; then
        pass "$what ($actual $op $limit)"
    else
        fail "$what" "expected: $actual $op $limit"
    fi
}

# assert_jq WHAT FILE FILTER EXPECTED [jq options...]: FILTER applied to
# FILE gives EXPECTED (compact JSON).
assert_jq() {
    local what=$1 file=$2 filter=$3 expected=$4 actual
    shift 4
    if ! actual=$(jq -c "$@" "$filter" "$file" 2>&1); then
        fail "$what" "jq $filter failed: $actual"
        return
    fi
    if [ "$actual" = "$expected" ]; then
        pass "$what"
    else
        fail "$what" "filter:   $filter" "expected: $expected" \
            "actual:   $actual"
    fi
}

# assert_rc WHAT EXPECTED: provflow's exit status of the last pf_send.
assert_rc() {
    if [ "$PF_RC" = "$2" ]; then
        pass "$1 (exit $PF_RC)"
    else
        fail "$1" "expected exit $2, got $PF_RC" "$(pf_show)"
    fi
}

# assert_grep WHAT ERE FILE: FILE has a line matching ERE.
assert_grep() {
    if grep -Eq -- "$2" "$3"; then
        pass "$1"
    else
        fail "$1" "no line of $(basename "$3") matches /$2/:" \
            "$(head -c 2000 "$3")"
    fi
}

# assert_absent WHAT FIXED_STRING FILES...: no file contains the string.
assert_absent() {
    local what=$1 needle=$2 hits
    shift 2
    if [ -z "$needle" ]; then
        fail "$what" "empty needle"
        return
    fi
    if hits=$(grep -F -n -- "$needle" "$@" 2>/dev/null); then
        fail "$what" "found in:" "$(printf '%s\n' "$hits" | cut -c 1-300 | head -n 5)"
    else
        pass "$what"
    fi
}

# assert_absent_re WHAT ERE FILES...: no file matches the pattern.
assert_absent_re() {
    local what=$1 re=$2 hits
    shift 2
    if hits=$(grep -E -n -o -- "$re" "$@" 2>/dev/null); then
        fail "$what" "found:" "$(printf '%s\n' "$hits" | head -n 5)"
    else
        pass "$what"
    fi
}

# --- a misbehaving token endpoint (badserver.py) ----------------------------

BAD_REPLY=
BAD_LOG=

# bad_start: starts badserver.py in place of the simulator (it sets the
# same SIM_PID, SIM_URL and SIM_DIR, so pf_send and sim_stop work as with
# the simulator). Its token endpoint answers what bad_reply last set (a
# valid Bearer token until then); it logs every request with its headers
# to BAD_LOG (one JSON line each: method, path, status, headers).
bad_start() {
    local tls=() i
    SIM_DIR=$(mktemp -d "$TMP/bad.XXXXXX")
    BAD_REPLY=$SIM_DIR/reply
    BAD_LOG=$SIM_DIR/log
    bad_reply 200 '{"token_type":"Bearer","expires_in":3600,"access_token":"ok-token"}'
    : >"$BAD_LOG"
    if [ "$PF_SCHEME" = https ]; then
        tls=(--tls-cert "$TLS_DIR/server.pem" --tls-key "$TLS_DIR/server.key")
    fi
    python3 "$SRC_DIR/tests/integration/badserver.py" \
        --port-file "$SIM_DIR/port" --token-reply "$BAD_REPLY" \
        --log "$BAD_LOG" ${tls[@]+"${tls[@]}"} \
        >"$SIM_DIR/stdout" 2>"$SIM_DIR/stderr" &
    SIM_PID=$!
    SIM_PIDS+=("$SIM_PID")
    for i in $(seq 200); do
        [ -s "$SIM_DIR/port" ] && [ -s "$SIM_DIR/stdout" ] && break
        if ! kill -0 "$SIM_PID" 2>/dev/null; then
            echo "badserver.py did not start:" >&2
            cat "$SIM_DIR/stderr" >&2
            exit 1
        fi
        sleep 0.05
    done
    SIM_URL=$(head -n 1 "$SIM_DIR/stdout")
    if [ "$SIM_URL" != "$PF_SCHEME://127.0.0.1:$(cat "$SIM_DIR/port")" ]; then
        echo "unexpected badserver.py URL '$SIM_URL'" >&2
        exit 1
    fi
    : "$i"
}

# bad_reply STATUS BODY: what the token endpoint answers from now on (the
# body is sent byte for byte).
bad_reply() {
    printf '%s\n%s' "$1" "$2" >"$BAD_REPLY.tmp"
    mv "$BAD_REPLY.tmp" "$BAD_REPLY"
}
