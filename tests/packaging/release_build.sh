#!/usr/bin/env bash
# CTest release_build: runs scripts/build-release (the Dockerfile's build
# stage) into a temporary prefix, then checks that the installed binaries
# run and that docker/Dockerfile's runtime packages provide every library
# they link. The build goes to build/release (the `release` preset), never
# into the build dir this test runs from.
#
#   release_build.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: release_build.sh SOURCE_DIR}

prefix=$(mktemp -d /tmp/provflow-release.XXXXXX)
trap 'rm -rf "$prefix"' EXIT

"$src/scripts/build-release" "$prefix"

echo "== installed binaries run"
for b in provflow provflow-graphsim; do
    [ -x "$prefix/bin/$b" ] || {
        echo "release_build: $prefix/bin/$b not installed" >&2
        exit 1
    }
done
"$prefix/bin/provflow" version
"$prefix/bin/provflow-graphsim" --version

echo "== runtime libraries vs docker/Dockerfile"
python3 "$src/tests/packaging/check_manifests.py" --root "$src" \
    --runtime-libs "$prefix/bin/provflow" "$prefix/bin/provflow-graphsim"
