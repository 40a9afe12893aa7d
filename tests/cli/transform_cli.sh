#!/usr/bin/env bash
# provflow transform as a user runs it: the seed's four examples, exit
# statuses, masking, --help.
set -uo pipefail
pf=$1
root=$2
seed=$root/tests/data/seed
here=$(dirname "$0")
# shellcheck source=lib.sh
. "$here/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$pf" transform "$seed/events.ndjson" >"$tmp/out" 2>"$tmp/err"
check "the seed's events transform with exit 0" 0 $?
check "one line out per line in" "$(wc -l <"$seed/events.ndjson")" \
    "$(wc -l <"$tmp/out")"
check "every line is ok" "true" "$(jq -s 'all(.ok)' "$tmp/out")"
for f in admin-unit class-group security-group user; do
    t=$(jq -r '."@odata.type"' "$seed/$f.expected.json")
    got=$(jq -c --arg t "$t" 'select(.body."@odata.type" == $t) | .body' \
        "$tmp/out" | head -1)
    # Passwords are printed masked unless --reveal-secrets.
    want=$(jq -c '(.. | objects | select(has("password")) | .password) |= "***"' \
        "$seed/$f.expected.json")
    check "$f: body equals the seed's request after the casing rules" \
        "$want" "$got"
done
check "url is the lower-case CSDL path under the default root" \
    "https://graph.microsoft.com/beta/external/industryData/outboundProvisioningFlowSets/9ab41255-5364-4c53-e15c-08dc4ab6ee03/provisioningFlows" \
    "$(jq -r '.url' "$tmp/out" | sort -u)"

# Golden: every event type of the lifecycle (docs/events.md), valid and
# invalid, byte for byte (tests/data/lifecycle/transform.expected.ndjson).
life=$root/tests/data/lifecycle
"$pf" transform "$life/events.ndjson" >"$tmp/life" 2>"$tmp/life.err"
check "the lifecycle's events: exit 65 (four are invalid)" 65 $?
check "the lifecycle's requests equal the golden file" "" \
    "$(diff "$life/transform.expected.ndjson" "$tmp/life")"
check "one method per operation" "DELETE PATCH POST" \
    "$(jq -r 'select(.ok) | .method' "$tmp/life" | sort -u | tr '\n' ' ' | sed 's/ $//')"

"$pf" transform --reveal-secrets "$seed/events.ndjson" >"$tmp/revealed"
check "--reveal-secrets prints the inline passwords" "********" \
    "$(jq -r '.. | objects | .password? // empty' "$tmp/revealed" | sort -u)"

printf '%s\n' '{"specversion":"1.0"}' 'not json' \
    "$(head -1 "$seed/events.ndjson")" | "$pf" transform >"$tmp/mixed"
check "an invalid line gives exit 65" 65 $?
check "all lines still processed" "false false true" \
    "$(jq -r '.ok' "$tmp/mixed" | tr '\n' ' ' | sed 's/ $//')"
check "errors carry code and path" '"invalid_event" "id"' \
    "$(jq -c '.error.code, .error.path' "$tmp/mixed" | head -2 | tr '\n' ' ' | sed 's/ $//')"
check "the unreadable id is null" "null" "$(jq -c '.requestId' "$tmp/mixed" | head -1)"

# Hostile text in events: error texts stay well-formed, and every line is
# still processed. Multibyte names longer than a message or a path, cut at
# every offset against the character's width (before the fix a message cut
# inside a character made the line's output fail: "out of memory", exit 70,
# and the rest of the input skipped); control bytes in a member name.
seed1=$(head -1 "$seed/events.ndjson")
e1=$(printf 'é%.0s' {1..200})
e3=$(printf '€%.0s' {1..200})
for prefix in '' a ab abc; do
    jq -c --arg t "$prefix$e1" '.data.flowType = $t' <<<"$seed1"
    jq -c --arg t "$prefix$e3" '.data.flow."@odata.type" = $t' <<<"$seed1"
    jq -c --arg k "$prefix$e3" '.data.flow[$k] = 1' <<<"$seed1"
done >"$tmp/hostile"
jq -c '.data.flow["x\r\n\u001b[2J\u001b]0;owned\u0007"] = 1' \
    <<<"$seed1" >>"$tmp/hostile"
echo "$seed1" >>"$tmp/hostile"
"$pf" transform "$tmp/hostile" >"$tmp/hostile.out" 2>"$tmp/hostile.err"
check "hostile text: exit 65, the documented status for invalid lines" 65 $?
check "hostile text: nothing on stderr" "" "$(cat "$tmp/hostile.err")"
check "hostile text: one line out per line in" "$(wc -l <"$tmp/hostile")" \
    "$(wc -l <"$tmp/hostile.out")"
check "hostile text: every output line is JSON" "$(wc -l <"$tmp/hostile")" \
    "$(jq -c . "$tmp/hostile.out" | wc -l)"
check "hostile text: the valid line after them is still transformed" \
    "true" "$(tail -1 "$tmp/hostile.out" | jq '.ok')"
check "hostile text: all others are invalid_event" "invalid_event" \
    "$(head -n -1 "$tmp/hostile.out" | jq -r '.error.code' | sort -u)"
check "hostile text: long names are cut with ..." "4" \
    "$(jq -r 'select(.ok|not) | .error.path' "$tmp/hostile.out" |
        grep -c '^data\.flow\.[abc]*€.*\.\.\.$')"
check "hostile text: no control character in any path or message" "0" \
    "$(jq -r 'select(.ok|not) | .error.path, .error.message' \
        "$tmp/hostile.out" | LC_ALL=C grep -c '[[:cntrl:]]')"
check "hostile text: control bytes shown escaped" \
    'data.flow.x\r\n\u001b[2J\u001b]0;owned\u0007' \
    "$(tail -2 "$tmp/hostile.out" | head -1 | jq -r '.error.path')"
check "hostile text: every path fits 255 bytes" "" \
    "$(jq -r 'select(.ok|not) | .error.path' "$tmp/hostile.out" |
        LC_ALL=C awk 'length($0) > 255')"

"$pf" transform /nonexistent/file >/dev/null 2>&1
check "an unreadable FILE gives exit 66" 66 $?
"$pf" transform --no-such-option >/dev/null 2>&1
check "a bad option gives exit 64" 64 $?
"$pf" transform --secrets-dir /nonexistent </dev/null >/dev/null 2>&1
check "a bad --secrets-dir gives exit 78" 78 $?
"$pf" transform --graph-root ftp://x </dev/null >/dev/null 2>&1
check "a bad --graph-root gives exit 78" 78 $?
"$pf" transform --help | grep -- '--reveal-secrets' >/dev/null
check "transform --help lists its options" 0 $?
"$pf" --help | grep 'transform' >/dev/null
check "provflow --help lists the commands" 0 $?
"$pf" version | grep -qE '^provflow [0-9]+\.[0-9]+\.[0-9]+$'
check "provflow version prints the version" 0 $?
"$pf" frobnicate >/dev/null 2>&1
check "an unknown command gives exit 64" 64 $?

lib_finish
