# shellcheck shell=bash disable=SC2034  # globals are read by the sourcing scripts
#
# images_lib.sh - shared helpers of the image tests (images_build.sh,
# images_test.sh, images_selftest.sh; README.md here): podman set up for
# this machine (containers.conf and registries.conf here), the Debian base
# images that docker/Dockerfile's FROM lines name, made with debootstrap
# (no container registry is reachable from CI), the build, and the checks
# of a built image.
#
# The environment (tests/packaging/CMakeLists.txt sets the first two):
#   PF_IMAGE_TAG        the tag of this build dir's images (ctest-NAME)
#   PF_IMAGES_SKIP      set: the reason the images are not tested here
#   PROVFLOW_DEBIAN_MIRROR           debootstrap's mirror (default: the
#                                    host apt's for bookworm)
#   PROVFLOW_DEBIAN_SECURITY_MIRROR  the base images' security suite's
#                                    (default: the host apt's)

IMG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMG_SRC=$(cd "$IMG_DIR/../.." && pwd)
export CONTAINERS_CONF=$IMG_DIR/containers.conf
export CONTAINERS_REGISTRIES_CONF=$IMG_DIR/registries.conf
IMG_TAG=${PF_IMAGE_TAG:-ctest}
IMG_PROVFLOW=localhost/provflow:$IMG_TAG
IMG_GRAPHSIM=localhost/provflow-graphsim:$IMG_TAG
# The build stage, tagged so that its layers (scripts/deps' above all)
# stay in podman's cache between runs.
IMG_BUILDER=localhost/provflow-build:$IMG_TAG
IMG_BASES=(docker.io/library/debian:12 docker.io/library/debian:12-slim)
IMG_CONTAINERS=()
IMG_N=0
# Every container a script starts carries this label, so its next run
# removes what a timeout's SIGKILL left running (images_test.sh and
# images_selftest.sh run at the same time: one label each).
IMG_LABEL=provflow-test=$IMG_TAG-$(basename "$0" .sh)

# img_skip_if_asked: exits 77 (CTest's skip) when PF_IMAGES_SKIP says why.
img_skip_if_asked() {
    if [ -n "${PF_IMAGES_SKIP:-}" ]; then
        echo "SKIP: $PF_IMAGES_SKIP"
        exit 77
    fi
}

# What the images are labelled with: the project's version (CMake's
# project()), the commit, and the repository's URL (without credentials).
img_version() {
    sed -n 's/^project(provflow VERSION \([0-9.]*\).*/\1/p' \
        "$IMG_SRC/CMakeLists.txt"
}
img_revision() { git -C "$IMG_SRC" rev-parse HEAD 2>/dev/null || echo unknown; }
img_source() {
    local url
    url=$(git -C "$IMG_SRC" config --get remote.origin.url 2>/dev/null) ||
        url=unknown
    printf '%s\n' "$url" | sed -E 's#^([a-z]+://)[^/@]*@#\1#'
}

# img_free_port: a port on 127.0.0.1 that nothing listens on now.
img_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- base images ------------------------------------------------------------

# img_apt_uri SUITE: the first URI the host's apt fetches SUITE's main
# from (one-line and deb822 sources alike).
img_apt_uri() {
    python3 - "$1" <<'PY'
import glob, sys
suite = sys.argv[1]
for path in ["/etc/apt/sources.list"] + sorted(
        glob.glob("/etc/apt/sources.list.d/*.list") +
        glob.glob("/etc/apt/sources.list.d/*.sources")):
    try:
        text = open(path).read()
    except OSError:
        continue
    if path.endswith(".sources"):
        for stanza in text.split("\n\n"):
            f = {}
            for line in stanza.splitlines():
                if line[:1] not in ("#", " ", "\t") and ":" in line:
                    k, v = line.split(":", 1)
                    f[k.strip().lower()] = v.split()
            if "deb" in f.get("types", []) and suite in f.get("suites", []) \
                    and "main" in f.get("components", []) and f.get("uris"):
                print(f["uris"][0])
                sys.exit(0)
    else:
        for line in text.splitlines():
            w = line.split()
            if w and w[0] == "deb":
                w = [x for x in w[1:] if not x.startswith("[")
                     and not x.endswith("]") and "=" not in x]
                if len(w) >= 3 and w[1] == suite and "main" in w[2:]:
                    print(w[0])
                    sys.exit(0)
sys.exit(1)
PY
}

# img_base_images: makes docker.io/library/debian:12 and :12-slim from one
# `debootstrap --variant=minbase bookworm` unless both are there already
# (podman's storage is the cache). Their apt sources are the official
# images' (bookworm, bookworm-updates, bookworm-security) on the host's
# mirrors, with the host's Acquire settings (a proxy, say), so the
# Dockerfile's apt-get reaches what the host's does. The slim one drops
# documentation, manual pages and locales as the official slim image does.
img_base_images() {
    local t missing=0
    for t in "${IMG_BASES[@]}"; do
        podman image exists "$t" || missing=1
    done
    if [ "$missing" -eq 0 ]; then
        echo "# base images present: ${IMG_BASES[*]}"
        return 0
    fi
    # Two build dirs may get here at once: one debootstrap, the other waits.
    exec 9>"${TMPDIR:-/tmp}/provflow-base-images.lock"
    flock -w 1800 9
    missing=0
    for t in "${IMG_BASES[@]}"; do
        podman image exists "$t" || missing=1
    done
    if [ "$missing" -eq 0 ]; then
        exec 9>&-
        return 0
    fi
    local mirror security root rc=0
    mirror=${PROVFLOW_DEBIAN_MIRROR:-$(img_apt_uri bookworm || true)}
    security=${PROVFLOW_DEBIAN_SECURITY_MIRROR:-$(img_apt_uri bookworm-security || true)}
    if [ -z "$mirror" ]; then
        echo "no Debian mirror for bookworm in /etc/apt/sources.list*:" \
            "set PROVFLOW_DEBIAN_MIRROR" >&2
        return 1
    fi
    root=$(mktemp -d "${TMPDIR:-/tmp}/provflow-debian.XXXXXX")
    echo "# debootstrap --variant=minbase bookworm from $mirror"
    if ! debootstrap --variant=minbase bookworm "$root/fs" "$mirror" \
        >"$root/debootstrap.log" 2>&1; then
        tail -n 20 "$root/debootstrap.log" >&2
        rm -rf "$root"
        return 1
    fi
    img_base_apt "$root/fs" "$mirror" "$security"
    img_base_import "$root/fs" docker.io/library/debian:12 || rc=1
    img_base_slim "$root/fs"
    img_base_import "$root/fs" docker.io/library/debian:12-slim || rc=1
    rm -rf "$root"
    exec 9>&-
    return "$rc"
}

# img_base_apt ROOT MIRROR SECURITY: the official images' sources.
img_base_apt() {
    local fs=$1 f
    rm -f "$fs/etc/apt/sources.list"
    {
        printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\n' "$2"
        printf 'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
        if [ -n "$3" ]; then
            printf '\nTypes: deb\nURIs: %s\nSuites: bookworm-security\n' "$3"
            printf 'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
        fi
    } >"$fs/etc/apt/sources.list.d/debian.sources"
    for f in /etc/apt/apt.conf.d/*; do
        [ -f "$f" ] && grep -q '^[[:space:]]*Acquire' "$f" &&
            cp "$f" "$fs/etc/apt/apt.conf.d/"
    done
    rm -rf "$fs"/var/lib/apt/lists/* "$fs"/var/cache/apt/*.bin \
        "$fs"/var/cache/apt/archives/*.deb
}

# img_base_slim ROOT: what the official slim images leave out, and the
# dpkg settings that keep it out of later installs.
img_base_slim() {
    local fs=$1
    cat >"$fs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
    find "$fs/usr/share/doc" -mindepth 1 -not -type d -not -name copyright \
        -delete
    find "$fs/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$fs"/usr/share/man/* "$fs"/usr/share/groff/* \
        "$fs"/usr/share/info/* "$fs"/usr/share/locale/* \
        "$fs"/usr/share/lintian/* "$fs"/usr/share/linda/*
}

# img_base_import ROOT NAME: the tree as image NAME, with the official
# images' PATH and command.
img_base_import() {
    tar -C "$1" --numeric-owner -c . |
        podman import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'CMD ["bash"]' - "$2" >/dev/null
}

# --- the build --------------------------------------------------------------

# img_build: builds docker/Dockerfile's provflow and graphsim targets (and
# tags the build stage) in Docker's format: OCI's has no HEALTHCHECK. The
# builds run on the host's network (apt in the build stage; no other
# network is set up for podman here) and never pull. Images these tags
# named before are removed, with their layers no other image uses.
img_build() {
    local old=() t target image args err
    for image in "$IMG_PROVFLOW" "$IMG_GRAPHSIM" "$IMG_BUILDER"; do
        old+=("$(podman image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)")
    done
    args=(build --format docker --network host --pull=never --layers
        --ignorefile "$IMG_SRC/docker/Dockerfile.dockerignore"
        -f "$IMG_SRC/docker/Dockerfile"
        --build-arg "VERSION=$(img_version)"
        --build-arg "REVISION=$(img_revision)"
        --build-arg "SOURCE=$(img_source)")
    for t in provflow:"$IMG_PROVFLOW" graphsim:"$IMG_GRAPHSIM" \
        build:"$IMG_BUILDER"; do
        target=${t%%:*}
        image=${t#*:}
        echo "== podman build --target $target -t $image"
        podman "${args[@]}" --target "$target" -t "$image" "$IMG_SRC" ||
            return 1
    done
    for t in "${old[@]}"; do
        [ -n "$t" ] || continue
        if ! podman image inspect -f '{{.RepoTags}}' "$t" 2>/dev/null |
            grep -q localhost/; then
            # A failure leaves disk in use, not a wrong image: say so only.
            if ! err=$(podman rmi "$t" 2>&1 >/dev/null); then
                echo "# could not remove the replaced image $t: ${err:0:300}"
            fi
        fi
    done
}

# --- running containers -----------------------------------------------------

# img_reap: removes the containers an earlier run of this script left.
img_reap() {
    local c
    for c in $(podman ps -aq --filter "label=$IMG_LABEL" 2>/dev/null); do
        echo "# removing container $c, left by an earlier run"
        podman rm -f -t 0 "$c" >/dev/null 2>&1 || true
    done
}

# img_start NAME IMAGE [podman options...] [-- ARGS...]: starts a detached
# container as docker/compose.yaml runs provflow: read-only root, no
# capabilities, no new privileges; on the host's network, where the test
# broker and simulator listen on loopback. The image's HEALTHCHECK stays;
# only podman's timer for it is off (it needs systemd): the tests run it
# with `podman healthcheck run`. Returns podman's status.
img_start() {
    local name=$1 image=$2 opts=()
    shift 2
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    [ $# -gt 0 ] && shift
    IMG_CONTAINERS+=("$name")
    podman run -d --name "$name" --label "$IMG_LABEL" --read-only --cap-drop ALL \
        --security-opt no-new-privileges --network host \
        --health-interval disable ${opts[@]+"${opts[@]}"} "$image" "$@" \
        >"$TMP/$name.run.out" 2>"$TMP/$name.run.err"
}

# img_running NAME: the container is running.
img_running() {
    [ "$(podman inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]
}

# img_http_code URL: the HTTP status of a GET (000: no answer).
img_http_code() {
    curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$1" 2>/dev/null ||
        true
}

# img_wait_http NAME URL SECONDS: polls URL until it answers 200 (0), the
# container stops or the deadline passes (1).
img_wait_http() {
    local deadline=$(($(now_ms) + $3 * 1000))
    until [ "$(img_http_code "$2")" = 200 ]; do
        img_running "$1" || return 1
        [ "$(now_ms)" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

# img_log NAME: the container's output, for a failure message.
img_log() {
    echo "podman run: $(cat "$TMP/$1.run.err" 2>/dev/null)"
    echo "its log, last lines:"
    podman logs "$1" 2>&1 | tail -n 15
}

# img_cleanup: removes this script's containers, then run_lib's cleanup.
img_cleanup() {
    local c
    for c in "${IMG_CONTAINERS[@]}"; do
        podman rm -f -t 0 "$c" >/dev/null 2>&1 || true
    done
    run_cleanup
}

# --- checks ------------------------------------------------------------------
# Each assertion's text starts with its check's id in brackets: the
# self-test (images_selftest.sh) asserts that a broken image fails the id
# it breaks.

# img_check_labels ID IMAGE: the OCI labels docker/Dockerfile sets, with
# the values img_build passed.
img_check_labels() {
    local id=$1 image=$2 got want
    got=$(podman image inspect -f '{{json .Labels}}' "$image" 2>&1 |
        jq -c '{version: ."org.opencontainers.image.version",
                revision: ."org.opencontainers.image.revision",
                source: ."org.opencontainers.image.source",
                licenses: ."org.opencontainers.image.licenses"}' 2>&1) || true
    want=$(jq -nc --arg v "$(img_version)" --arg r "$(img_revision)" \
        --arg s "$(img_source)" \
        '{version: $v, revision: $r, source: $s,
          licenses: "LicenseRef-Proprietary"}')
    assert_eq "[$id] OCI labels: version, revision, source, licenses" \
        "$want" "$got"
}

# img_check_healthcheck_kept ID IMAGE: the image's config has the
# Dockerfile's HEALTHCHECK (an OCI-format build drops it). podman 4.3's
# image inspect does not show it; buildah reads the Docker config.
img_check_healthcheck_kept() {
    local test
    test=$(buildah inspect --type image "$2" 2>/dev/null |
        jq -c '.Docker.config.Healthcheck.Test // empty' 2>/dev/null) || true
    if [ -n "$test" ] && [ "$test" != '["NONE"]' ]; then
        pass "[$1] the image keeps its HEALTHCHECK: $test"
    else
        fail "[$1] the image keeps its HEALTHCHECK" "none in its config"
    fi
}

# img_check_nonroot ID NAME: no process of the container runs as root
# (effective or real user), and the image's user is numeric.
img_check_nonroot() {
    local id=$1 name=$2 top user
    top=$(podman top "$name" user ruser 2>&1) || true
    user=$(podman inspect -f '{{.Config.User}}' "$name" 2>/dev/null) || true
    if [ "$(printf '%s\n' "$top" | awk 'NR > 1' | wc -l)" -gt 0 ] &&
        ! printf '%s\n' "$top" | awk 'NR > 1 && ($1 == "root" || $2 == "root") { f = 1 } END { exit !f }' &&
        [[ $user =~ ^[1-9][0-9]*(:[0-9]+)?$ ]]; then
        pass "[$id] runs as user $user, not root"
    else
        fail "[$id] runs as a numeric user other than root" \
            "image user: '$user'" "podman top:" "$top"
    fi
}

# img_check_healthy ID NAME: `podman healthcheck run` (the image's own
# HEALTHCHECK command, inside the container) says healthy, and so does
# the container's state.
img_check_healthy() {
    local id=$1 name=$2 out rc=0 state
    out=$(podman healthcheck run "$name" 2>&1) || rc=$?
    state=$(podman inspect -f '{{.State.Health.Status}}' "$name" 2>/dev/null) ||
        true
    if [ "$rc" -eq 0 ] && [ "$state" = healthy ]; then
        pass "[$id] its HEALTHCHECK passes (podman healthcheck run)"
    else
        fail "[$id] its HEALTHCHECK passes (podman healthcheck run)" \
            "exit $rc: $out" "health status: $state"
    fi
}

# img_check_stop ID NAME SECONDS: `podman stop -t SECONDS` (the image's
# STOPSIGNAL): the container exits by itself with status 0 (a SIGKILL
# after the timeout gives 137), with no error in its log.
img_check_stop() {
    local id=$1 name=$2 secs=$3 code errs
    podman stop -t "$secs" "$name" >/dev/null 2>"$TMP/$name.stop.err" || true
    code=$(podman inspect -f '{{.State.ExitCode}}' "$name" 2>/dev/null) ||
        code=?
    assert_eq "[$id] podman stop: exit status 0 within ${secs} s" 0 "$code"
    podman logs "$name" >"$TMP/$name.log" 2>&1 || true
    # provflow logs JSON lines; the simulator and the dynamic loader write
    # "program: message" on an error.
    errs=$(grep -E '"level":"error"|^provflow(-graphsim)?: |error while loading' \
        "$TMP/$name.log" | head -n 5 || true)
    if [ -z "$errs" ]; then
        pass "[$id] no error in its log"
    else
        fail "[$id] no error in its log" "$errs"
    fi
}

# img_check_provflow IMAGE: the provflow image, run as a deployment runs
# it, against the test broker and the simulator (run_lib.sh): the
# version it reports, its labels, /healthz and /readyz, one event's
# created outcome, its user, its HEALTHCHECK and a clean stop.
img_check_provflow() {
    local image=$1 name port out secret
    IMG_N=$((IMG_N + 1))
    name=provflow-it-$$-$IMG_N
    group "provflow image $image"
    # --no-healthcheck: podman would ask systemd for the check's timer.
    out=$(podman run --rm --read-only --cap-drop ALL --network none \
        --no-healthcheck "$image" version 2>"$TMP/version.err") || true
    if [ "$out" = "provflow $(img_version)" ]; then
        pass "[version] provflow version in the container: $out"
    else
        fail "[version] provflow version in the container" \
            "expected: provflow $(img_version)" "actual:   $out" \
            "$(cat "$TMP/version.err")"
    fi
    img_check_labels labels "$image"
    img_check_healthcheck_kept healthcheck "$image"

    run_topics "img$IMG_N" 3
    sim_start
    gen_sets user
    port=$(img_free_port)
    # The secret as a file, as docker/README.md advises (the simulator's
    # test credential).
    secret=$TMP/$name.secret
    printf 'test-secret' >"$secret"
    chmod 0644 "$secret"
    if ! img_start "$name" "$image" \
        -v "$secret:/run/secrets/azure-client-secret:ro" \
        -e PROVFLOW_BROKERS="$RUN_BROKERS" \
        -e PROVFLOW_GRAPH_ROOT="$SIM_URL" -e AZURE_AUTHORITY_HOST="$SIM_URL" \
        -e PROVFLOW_ALLOW_HTTP=true \
        -e AZURE_TENANT_ID=test-tenant -e AZURE_CLIENT_ID=test-client \
        -e AZURE_CLIENT_SECRET_FILE=/run/secrets/azure-client-secret \
        -e PROVFLOW_ADMIN_LISTEN="127.0.0.1:$port" \
        -e PROVFLOW_INSTANCE="$name" -e PROVFLOW_GROUP_ID="$GROUP" \
        -e PROVFLOW_INPUT_TOPIC="$IN" -e PROVFLOW_RESULTS_TOPIC="$OUT" \
        -e PROVFLOW_DEAD_LETTER_TOPIC="$DLQ"; then
        fail "[start] podman run" "$(img_log "$name")"
        sim_stop
        return
    fi
    PF_ADMIN[$name]=$port
    if img_wait_http "$name" "http://127.0.0.1:$port/healthz" 60; then
        pass "[start] /healthz: 200"
    else
        fail "[start] /healthz: 200" "$(img_log "$name")"
        sim_stop
        return
    fi
    if wait_for 60 eval '[ "$(pf_ready_status '"$name"')" = 200 ]'; then
        pass "[start] /readyz: 200"
    else
        fail "[start] /readyz: 200" "$(pf_get "$name" /readyz)" \
            "$(img_log "$name")"
    fi
    img_check_nonroot nonroot "$name"
    img_check_healthy healthy "$name"

    if wait_done "$name" 1 60; then
        pass "[event] provflow committed the event"
    else
        fail "[event] provflow committed the event" "$(img_log "$name")"
    fi
    check_topics exact
    assert_jq "[event] one created outcome record" "$TMP/outcomes.ndjson" \
        '[.[] | [.type, .data.status, .data.requestId]]' \
        "$(jq -c '[.[] | ["provflow.provisioningFlow.created", "created", .id]]' "$EXPECT")" \
        -s

    img_check_stop stop "$name" 40
    assert_grep "[stop] it logged its stop" '"msg":"stopped"' "$TMP/$name.log"
    sim_stop
}

# img_check_graphsim IMAGE: the simulator's image on a --listen port other
# than its CMD's 8090: it serves, its HEALTHCHECK follows the port, it
# runs as a user other than root, stops cleanly; its labels.
img_check_graphsim() {
    local image=$1 name port
    IMG_N=$((IMG_N + 1))
    name=provflow-graphsim-it-$$-$IMG_N
    group "graphsim image $image"
    img_check_labels gs-labels "$image"
    img_check_healthcheck_kept gs-healthcheck "$image"
    port=$(img_free_port)
    if ! img_start "$name" "$image" -- --listen "127.0.0.1:$port" \
        --base-url "http://127.0.0.1:$port"; then
        fail "[gs-start] podman run" "$(img_log "$name")"
        return
    fi
    if img_wait_http "$name" "http://127.0.0.1:$port/_sim/stats" 30; then
        pass "[gs-start] /_sim/stats on --listen 127.0.0.1:$port: 200"
    else
        fail "[gs-start] /_sim/stats on --listen 127.0.0.1:$port: 200" \
            "$(img_log "$name")"
        return
    fi
    img_check_nonroot gs-nonroot "$name"
    img_check_healthy gs-healthy "$name"
    img_check_stop gs-stop "$name" 10
}
