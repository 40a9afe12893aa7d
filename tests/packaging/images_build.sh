#!/usr/bin/env bash
# CTest packaging_images_build (the fixture `images` of packaging_images and
# packaging_images_selftest): installs the container tools if missing
# (scripts/deps), makes the Debian base images docker/Dockerfile names
# unless podman has them (debootstrap), and builds the provflow and graphsim
# targets with podman, tagged localhost/provflow:$PF_IMAGE_TAG and
# localhost/provflow-graphsim:$PF_IMAGE_TAG. Prints how long each part took.
#
#   images_build.sh
set -euo pipefail
. "$(dirname "$0")/images_lib.sh"
img_skip_if_asked

t0=$(date +%s)
"$IMG_SRC/scripts/deps"
if ! podman info >/dev/null 2>"${TMPDIR:-/tmp}/provflow-podman-info.$$"; then
    echo "podman does not work here:" >&2
    cat "${TMPDIR:-/tmp}/provflow-podman-info.$$" >&2
    rm -f "${TMPDIR:-/tmp}/provflow-podman-info.$$"
    exit 1
fi
rm -f "${TMPDIR:-/tmp}/provflow-podman-info.$$"
t1=$(date +%s)
img_base_images
t2=$(date +%s)
img_build
t3=$(date +%s)
echo "# times: deps $((t1 - t0)) s, base images $((t2 - t1)) s," \
    "build $((t3 - t2)) s"
podman images --filter reference=localhost/provflow* \
    --format '# {{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'
