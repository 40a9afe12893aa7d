#!/usr/bin/env bash
# CTest packaging_images: the images packaging_images_build built, run as a
# deployment runs them (read-only root, no capabilities, the host's
# network) against the run_* tests' broker (fixture run_broker) and the
# simulator (README.md here):
#   provflow: `provflow version`, the OCI labels, the HEALTHCHECK kept in
#     the image, /healthz and /readyz 200, one event -> one created outcome
#     record, no process as root, `podman healthcheck run` healthy, and
#     `podman stop` -> exit 0 with no error logged;
#   graphsim: on a --listen port other than its CMD's: serves, healthy
#     (the check follows the port), not root, a clean stop, the labels.
#
#   images_test.sh PROVFLOW GRAPHSIM   (the host's binaries: the simulator
#                                       that the provflow image talks to)
. "$(dirname "$0")/../integration/run_lib.sh"
. "$(dirname "$0")/images_lib.sh"
img_skip_if_asked
run_init "$@"
img_reap
trap img_cleanup EXIT

img_check_provflow "$IMG_PROVFLOW"
img_check_graphsim "$IMG_GRAPHSIM"
lib_finish
