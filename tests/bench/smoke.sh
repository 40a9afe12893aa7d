#!/usr/bin/env bash
# smoke.sh PROVFLOW GRAPHSIM - bench/run --smoke with the given binaries,
# results in a temporary directory; checks the CSV row of provflow and of
# the Kafka ceiling: every event has an outcome, 2% failed with as many
# dead letters, per-key order kept, the numbers are there.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ $# -ne 2 ]; then
    echo "usage: $0 PROVFLOW GRAPHSIM" >&2
    exit 64
fi
for tool in kcat jq curl cc python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIP: $tool is not installed" >&2
        exit 77
    fi
done
out=$(mktemp -d "${TMPDIR:-/tmp}/provflow-bench-smoke.XXXXXX")
trap 'rm -rf "$out"' EXIT
passed=0 failed=0
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then
        echo "ok - $what"
        passed=$((passed + 1))
    else
        echo "not ok - $what"
        failed=$((failed + 1))
    fi
}

rc=0
OUT=$out PROVFLOW=$1 GRAPHSIM=$2 SMOKE_N=200 SMOKE_CEILINGS=kafka \
    timeout 280 "$root/bench/run" --smoke || rc=$?
check "bench/run --smoke exits 0" [ "$rc" -eq 0 ]
csv=$out/results.csv
check "results.csv written" [ -s "$csv" ]
check "results.md written" [ -s "$out/results.md" ]
# field FIELD IMPL: the named column of IMPL's row.
field() {
    awk -F, -v col="$1" -v impl="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
        $2 == impl { print $c }' "$csv" 2>/dev/null
}
for impl in provflow ceiling-kafka; do
    check "$impl: all 200 events have an outcome" [ "$(field distinct "$impl")" = 200 ]
    check "$impl: complete" [ "$(field complete "$impl")" = true ]
    check "$impl: events/s measured" awk -v v="$(field eps "$impl")" 'BEGIN { exit !(v > 0) }'
    check "$impl: CPU time measured" awk -v v="$(field cpu_s "$impl")" 'BEGIN { exit !(v != "" && v >= 0) }'
    check "$impl: peak RSS measured" awk -v v="$(field rss_peak_mb "$impl")" 'BEGIN { exit !(v > 0) }'
    check "$impl: latency percentiles" awk -v a="$(field lat_p50_ms "$impl")" \
        -v b="$(field lat_p99_ms "$impl")" 'BEGIN { exit !(a >= 0 && b >= a) }'
done
check "provflow: 196 created" [ "$(field created provflow)" = 196 ]
check "provflow: 4 failed, 4 dead letters" \
    [ "$(field failed provflow),$(field dead_letters provflow)" = 4,4 ]
check "provflow: some CPU time" awk -v v="$(field cpu_s provflow)" 'BEGIN { exit !(v > 0) }'
check "provflow: per-key order kept" [ "$(field order_violations provflow)" = 0 ]
check "the table names provflow" grep -q 'provflow (C)' "$out/results.md"
echo "bench.smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
