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
# grep without -q reads the whole help: -q would close the pipe early and
# the help, longer than a pipe write, could end in SIGPIPE (141 with pipefail).
"$pf" run --help | grep -- '--shutdown-grace-ms' >/dev/null
check "run --help lists the settings" 0 $?
"$pf" replay --brokers 127.0.0.1:1 >/dev/null 2>&1
check "replay without a target exits 64" 64 $?
"$pf" replay --to-datetime yesterday >/dev/null 2>&1
check "replay with a bad time exits 64" 64 $?
printf 'max-in-flight = 8\nno-such-key = 1\n' >"${TMPDIR:-/tmp}/pf-cfg.$$"
"$pf" send --config "${TMPDIR:-/tmp}/pf-cfg.$$" </dev/null >/dev/null 2>&1
check "an unknown config-file key exits 78" 78 $?
rm -f "${TMPDIR:-/tmp}/pf-cfg.$$"

# Settings provflow owns cannot be passed through to librdkafka, from any
# source; the one-line message names the property and what to use instead.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cred=(env AZURE_TENANT_ID=t AZURE_CLIENT_ID=c AZURE_CLIENT_SECRET=x)
err=$("${cred[@]}" "$pf" run --brokers 127.0.0.1:1 -X group.id=other 2>&1 >/dev/null)
check "-X group.id exits 78" 78 $?
# run's stderr is log lines only (JSON by default): the message is .msg
check "the message names group.id and --group-id" \
    "provflow run: Kafka property group.id (-X): set by provflow; use --group-id" \
    "$(jq -r .msg <<<"$err")"
err=$("${cred[@]}" PROVFLOW_KAFKA_ENABLE_AUTO_COMMIT=true "$pf" run \
    --brokers 127.0.0.1:1 2>&1 >/dev/null)
check "PROVFLOW_KAFKA_ENABLE_AUTO_COMMIT exits 78" 78 $?
grep -q "enable.auto.commit (PROVFLOW_KAFKA_ENABLE_AUTO_COMMIT): owned by provflow: " \
    <<<"$err" && ok "the message says provflow owns it, and why" ||
    fail "the message says provflow owns it, and why" "$err"
printf 'kafka.acks = 1\n' >"$tmp/acks.conf"
err=$("$pf" replay --config "$tmp/acks.conf" --to-latest 2>&1 >/dev/null)
check "kafka.acks in the config file exits 78" 78 $?
grep -q "acks (config line 1): owned by provflow" <<<"$err" &&
    ok "the message names the config line" ||
    fail "the message names the config line" "$err"

# A pass-through property librdkafka does not know stops the start.
err=$("${cred[@]}" "$pf" run --brokers 127.0.0.1:1 -X no.such.property=1 2>&1 >/dev/null)
check "an unknown librdkafka property exits 78" 78 $?
grep -q "no.such.property" <<<"$err" && ok "the message names the property" ||
    fail "the message names the property" "$err"

# Configuration errors with one clear line each.
err=$("$pf" run --config "$tmp" 2>&1 >/dev/null)
check "--config naming a directory exits 78" 78 $?
grep -q "config file $tmp is not a regular file (a directory)" <<<"$err" &&
    ok "the message says it is a directory" ||
    fail "the message says it is a directory" "$err"
mkfifo "$tmp/fifo"
# timeout only keeps a regression from hanging the suite; no time is asserted
err=$(timeout 60 "$pf" run --config "$tmp/fifo" 2>&1 >/dev/null)
check "--config naming a FIFO exits 78 without waiting for a writer" 78 $?
grep -q "not a regular file (a FIFO)" <<<"$err" && ok "the message says FIFO" ||
    fail "the message says FIFO" "$err"
head -c 1048577 /dev/zero | tr '\0' '#' >"$tmp/big.conf"
err=$("$pf" send --config "$tmp/big.conf" </dev/null 2>&1 >/dev/null)
check "a config file over 1 MiB exits 78" 78 $?
grep -q "is larger than 1048576 bytes" <<<"$err" && ok "the message gives the limit" ||
    fail "the message gives the limit" "$err"
err=$("$pf" run --brokers '' 2>&1 >/dev/null)
check "an empty --brokers exits 78" 78 $?
check "the message names brokers" \
    "provflow run: brokers (--brokers): the value is empty" \
    "$(jq -r .msg <<<"$err")"

# One log format from the first line: a configuration or usage error of
# run is a log line in the format asked for (flag or environment), and
# nothing else reaches stderr (getopt's own messages included).
for args in "--brokers ''" "--no-such-flag" "--max-in-flight" \
    "--max-in-flight lots" "extra-argument"; do
    err=$(eval "\"\$pf\" run $args" 2>&1 >/dev/null)
    if [ "$(wc -l <<<"$err")" -eq 1 ] &&
        jq -e 'select(.level == "error" and (.msg | startswith("provflow run: ")))' \
            <<<"$err" >/dev/null 2>&1; then
        ok "run $args: one JSON error line"
    else
        fail "run $args: one JSON error line" "$err"
    fi
    err=$(eval "PROVFLOW_LOG_FORMAT=text \"\$pf\" run $args" 2>&1 >/dev/null)
    if [ "$(wc -l <<<"$err")" -eq 1 ] &&
        grep -qE '^ts=[0-9T:.Z-]+ level=error msg="provflow run: ' <<<"$err"; then
        ok "run $args with PROVFLOW_LOG_FORMAT=text: one logfmt line"
    else
        fail "run $args with PROVFLOW_LOG_FORMAT=text: one logfmt line" "$err"
    fi
done
err=$("$pf" run --log-format=text --no-such-flag 2>&1 >/dev/null)
grep -q '^ts=.* level=error msg="provflow run: unknown option --no-such-flag' \
    <<<"$err" && ok "--log-format=text on the command line applies at once" ||
    fail "--log-format=text on the command line applies at once" "$err"
err=$("$pf" run --log-format xml 2>&1 >/dev/null)
check "an unknown log format exits 78" 78 $?
grep -q 'log-format' <<<"$err" && ok "the message names log-format" ||
    fail "the message names log-format" "$err"
err=$(PROVFLOW_GROUP_ID='' "$pf" replay --to-latest 2>&1 >/dev/null)
check "an empty PROVFLOW_GROUP_ID exits 78" 78 $?
err=$("$pf" send -X a=b </dev/null 2>&1 >/dev/null)
check "send -X exits 64" 64 $?
grep -q "provflow send: -X a=b: this command has no Kafka client" <<<"$err" &&
    ok "the message says send has no Kafka" ||
    fail "the message says send has no Kafka" "$err"

# Dry run and the byte budget.
err=$("$pf" run --dry-run-output trial 2>&1 >/dev/null)
check "--dry-run-output without --dry-run exits 78" 78 $?
"$pf" run --dry-run --dry-run-output provisioning-dead-letters >/dev/null 2>&1
check "--dry-run-output naming the dead-letter topic exits 78" 78 $?
err=$("$pf" run --max-buffered-bytes 1000 2>&1 >/dev/null)
check "--max-buffered-bytes under 1 MiB exits 78" 78 $?
grep -q "max-buffered-bytes" <<<"$err" && ok "the message names the setting" ||
    fail "the message names the setting" "$err"
# National clouds: Graph documents the industry-data API for the global
# service only; another --cloud starts, with a warning naming it.
for cloud in usgov usgov-dod china; do
    err=$(AZURE_TENANT_ID=t AZURE_CLIENT_ID=c AZURE_CLIENT_SECRET=x \
        "$pf" send --cloud "$cloud" </dev/null 2>&1 >/dev/null)
    check "send --cloud $cloud with no event exits 0" 0 $?
    jq -e --arg c "$cloud" 'select(.level == "warn" and
        (.msg | startswith("cloud " + $c + ": ") and
            test("global service only")))' <<<"$err" >/dev/null &&
        ok "--cloud $cloud: a warning says the API is global only" ||
        fail "--cloud $cloud: a warning says the API is global only" "$err"
done
err=$(AZURE_TENANT_ID=t AZURE_CLIENT_ID=c AZURE_CLIENT_SECRET=x \
    "$pf" send --cloud global </dev/null 2>&1 >/dev/null)
check "send --cloud global exits 0" 0 $?
grep -q "global service only" <<<"$err" &&
    fail "--cloud global: no warning" "$err" || ok "--cloud global: no warning"
help=$("$pf" run --help)
for want in '--dry-run-output TOPIC' '--max-buffered-bytes N' \
    '<group-id>.dry-run' 'no credential is needed' 'standard output'; do
    grep -qF -- "$want" <<<"$help" && ok "run --help says $want" ||
        fail "run --help says $want"
done
lib_finish
