#!/usr/bin/env bash
# CTest packaging_images_selftest: images_test.sh's checks reject a broken
# image. Each case builds a variant FROM the provflow image that
# packaging_images_build built, runs the same checks on it
# (img_check_provflow) and asserts that the check the case breaks fails:
#   root         USER 0:0                        -> [nonroot]
#   nobinary     the binary removed              -> [version]
#   healthcheck  HEALTHCHECK on a wrong port     -> [healthy]
#   stopsignal   STOPSIGNAL SIGKILL              -> [stop]
#   labels       another revision label          -> [labels]
#
#   images_selftest.sh PROVFLOW GRAPHSIM   (as images_test.sh)
. "$(dirname "$0")/../integration/run_lib.sh"
. "$(dirname "$0")/images_lib.sh"
img_skip_if_asked
run_init "$@"
img_reap
BROKEN=()
selftest_cleanup() {
    local i
    for i in "${BROKEN[@]}"; do
        podman rmi -f "$i" >/dev/null 2>&1 || true
    done
    img_cleanup
}
trap selftest_cleanup EXIT

# case NAME CHECK DOCKERFILE_LINES
cases=(
    root nonroot 'USER 0:0'
    nobinary version $'USER 0:0\nRUN rm /usr/local/bin/provflow\nUSER 10001:10001'
    healthcheck healthy 'HEALTHCHECK --interval=10s CMD ["provflow-healthcheck", "1"]'
    stopsignal stop 'STOPSIGNAL SIGKILL'
    labels labels 'LABEL org.opencontainers.image.revision="0000000"'
)
while [ ${#cases[@]} -gt 0 ]; do
    name=${cases[0]} check=${cases[1]} lines=${cases[2]}
    cases=("${cases[@]:3}")
    image=localhost/provflow-broken:$IMG_TAG-$name
    printf 'FROM %s\n%s\n' "$IMG_PROVFLOW" "$lines" >"$TMP/$name.Dockerfile"
    group "case $name: $(printf '%s' "$lines" | tr '\n' ';')"
    BROKEN+=("$image")
    if ! podman build --format docker --pull=never --network none \
        -f "$TMP/$name.Dockerfile" -t "$image" "$TMP" \
        >"$TMP/$name.build.log" 2>&1; then
        fail "case $name: the variant builds" "$(tail -n 20 "$TMP/$name.build.log")"
        continue
    fi
    # The checks count into PASSED and FAILED: keep this script's own.
    passed=$PASSED failed=$FAILED
    img_check_provflow "$image" >"$TMP/$name.checks" 2>&1
    PASSED=$passed FAILED=$failed
    if grep -q "^FAIL - \[$check\]" "$TMP/$name.checks"; then
        pass "case $name: [$check] fails"
    else
        fail "case $name: [$check] fails" "$(cat "$TMP/$name.checks")"
    fi
done
lib_finish
