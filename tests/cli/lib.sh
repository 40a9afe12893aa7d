# Assertions for the CLI tests: each prints ok/FAIL; lib_finish prints the
# "N passed, N failed" line and sets the exit status.
passed=0
failed=0

ok() {
    echo "ok   - $1"
    passed=$((passed + 1))
}

fail() {
    echo "FAIL - $1"
    [ $# -gt 1 ] && printf '       %s\n' "${@:2}"
    failed=$((failed + 1))
}

# check NAME EXPECTED ACTUAL
check() {
    if [ "$2" == "$3" ]; then ok "$1"; else fail "$1" "expected: $2" "actual:   $3"; fi
}

lib_finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
