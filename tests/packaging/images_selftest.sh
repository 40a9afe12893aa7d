#!/usr/bin/env bash
# CTest packaging_images_selftest: images_test.sh's checks reject a broken
# image. Each case builds a variant FROM an image that
# packaging_images_build built, runs the same checks on it
# (img_check_provflow, img_check_graphsim) and asserts that the check the
# case breaks fails:
#   root         USER 0:0                        -> [nonroot]
#   nobinary     the binary removed              -> [version]
#   healthcheck  HEALTHCHECK on a wrong port     -> [healthy]
#   stopsignal   STOPSIGNAL SIGKILL              -> [stop]
#   labels       another revision label          -> [labels]
#   gs-fixedport the simulator's HEALTHCHECK on 8090 whatever its
#                --listen (as it was before --listen-of) -> [gs-healthy]
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

# NAME IMAGE CHECK DOCKERFILE_LINES
cases=(
    root provflow nonroot 'USER 0:0'
    nobinary provflow version $'USER 0:0\nRUN rm /usr/local/bin/provflow\nUSER 10001:10001'
    healthcheck provflow healthy 'HEALTHCHECK --interval=10s CMD ["provflow-healthcheck", "1"]'
    stopsignal provflow stop 'STOPSIGNAL SIGKILL'
    labels provflow labels 'LABEL org.opencontainers.image.revision="0000000"'
    gs-fixedport graphsim gs-healthy 'HEALTHCHECK CMD ["provflow-healthcheck", "8090", "/_sim/stats"]'
)
while [ ${#cases[@]} -gt 0 ]; do
    name=${cases[0]} of=${cases[1]} check=${cases[2]} lines=${cases[3]}
    cases=("${cases[@]:4}")
    image=localhost/provflow-broken:$IMG_TAG-$name
    base=$IMG_PROVFLOW
    [ "$of" = graphsim ] && base=$IMG_GRAPHSIM
    printf 'FROM %s\n%s\n' "$base" "$lines" >"$TMP/$name.Dockerfile"
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
    "img_check_$of" "$image" >"$TMP/$name.checks" 2>&1
    PASSED=$passed FAILED=$failed
    if grep -q "^FAIL - \[$check\]" "$TMP/$name.checks"; then
        pass "case $name: [$check] fails"
    else
        fail "case $name: [$check] fails" "$(cat "$TMP/$name.checks")"
    fi
done
lib_finish
