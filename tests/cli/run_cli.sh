#!/usr/bin/env bash
# provflow run / replay / send refuse bad configuration with the documented
# exit statuses, before touching Kafka or Graph.
set -uo pipefail
pf=$1
here=$(dirname "$0")
# shellcheck source=lib.sh
. "$here/lib.sh"
unset AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET \
    AZURE_CLIENT_SECRET_FILE AZURE_CLIENT_CERTIFICATE_PATH \
    AZURE_FEDERATED_TOKEN_FILE PROVFLOW_CONFIG

err=$("$pf" run --brokers 127.0.0.1:1 2>&1 >/dev/null)
check "run without a credential exits 78" 78 $?
grep -q "no credential" <<<"$err" && ok "the message names what is missing" ||
    fail "the message names what is missing" "$err"

err=$(AZURE_TENANT_ID=t AZURE_CLIENT_ID=c AZURE_CLIENT_SECRET=s3cr3t-value \
    "$pf" run --max-in-flight lots 2>&1 >/dev/null)
check "a bad number exits 78" 78 $?
grep -q "max-in-flight" <<<"$err" && ok "the message names the setting" ||
    fail "the message names the setting" "$err"
grep -q "s3cr3t-value" <<<"$err" && fail "the secret stays out of the message" ||
    ok "the secret stays out of the message"

AZURE_TENANT_ID=t AZURE_CLIENT_ID=c AZURE_CLIENT_SECRET=x \
    "$pf" run --delivery twice --brokers 127.0.0.1:1 >/dev/null 2>&1
check "an unknown delivery mode exits 78" 78 $?
"$pf" run --no-such-flag >/dev/null 2>&1
check "an unknown flag exits 64" 64 $?
"$pf" run --help | grep -q -- '--shutdown-grace-ms'
check "run --help lists the settings" 0 $?
"$pf" replay --brokers 127.0.0.1:1 >/dev/null 2>&1
check "replay without a target exits 64" 64 $?
"$pf" replay --to-datetime yesterday >/dev/null 2>&1
check "replay with a bad time exits 64" 64 $?
printf 'max-in-flight = 8\nno-such-key = 1\n' >"${TMPDIR:-/tmp}/pf-cfg.$$"
"$pf" send --config "${TMPDIR:-/tmp}/pf-cfg.$$" </dev/null >/dev/null 2>&1
check "an unknown config-file key exits 78" 78 $?
rm -f "${TMPDIR:-/tmp}/pf-cfg.$$"
lib_finish
