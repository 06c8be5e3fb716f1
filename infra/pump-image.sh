#!/usr/bin/env bash
# Build the pump image (infra/pump.Dockerfile) without network access during the build:
# the pump's wheels are built on the host first (`pip wheel`, cached), then copied into a small
# build context with the `pump` package. Prints the image tag on stdout.
#
#   infra/pump-image.sh [TAG]          TAG defaults to flowplane/pump:latest
#   BASE_IMAGE=...                      base image (default: python:3.11-slim-bookworm)
#   PYTHON=...                          interpreter that builds the wheels (same minor version as
#                                       the base image's python3)
#   FLOWPLANE_WHEEL_CACHE=...           where wheels are kept (default ~/.cache/flowplane/wheels)
#   FLOWPLANE_IMAGE_IF_CHANGED=1        tag the image by content and skip the build when that
#                                       tag exists (what the container tests use)
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-flowplane/pump:latest}
base=${BASE_IMAGE:-python:3.11-slim-bookworm}
python=${PYTHON:-python3}
cache=${FLOWPLANE_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flowplane/wheels}

pump_files() {
  find pump -type f ! -path '*/node_modules/*' ! -path '*/__pycache__/*' ! -name '*.pyc' | LC_ALL=C sort
}

if [ "${FLOWPLANE_IMAGE_IF_CHANGED:-0}" = 1 ]; then
  base_id=$(docker image inspect --format '{{.Id}}' "$base" 2>/dev/null || echo "$base")
  digest=$( { echo "$base_id"; "$python" -c 'import sys; print(sys.version_info[:2])';
              cat infra/pump.Dockerfile infra/pump-requirements.txt;
              pump_files | xargs sha256sum; } | sha256sum | cut -c1-16)
  tag="${tag%:*}:$digest"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "$tag"
    exit 0
  fi
fi

extra_wheels='async-timeout>=4.0.3'
requirements_hash=$( { "$python" -c 'import sys; print(sys.version)'; echo "$extra_wheels";
                       cat infra/pump-requirements.txt; } | sha256sum | cut -c1-16)
wheels="$cache/$requirements_hash"
if [ ! -f "$wheels/.complete" ]; then
  mkdir -p "$wheels"
  echo "pump-image: building the pump's wheels into $wheels" >&2
  # async-timeout: redis-py needs it on Python < 3.11.3 (Debian bookworm's python3 is 3.11.2),
  # a marker the host's newer interpreter would skip.
  "$python" -m pip wheel --quiet --disable-pip-version-check -w "$wheels" \
    -r infra/pump-requirements.txt "$extra_wheels" >&2
  touch "$wheels/.complete"
fi

context=$(mktemp -d "${TMPDIR:-/tmp}/flowplane-pump-image.XXXXXX")
trap 'rm -rf "$context"' EXIT
mkdir -p "$context/infra/pump-wheels"
cp infra/pump.Dockerfile infra/pump-requirements.txt "$context/infra/"
cp "$wheels"/*.whl "$context/infra/pump-wheels/"
pump_files | while read -r file; do
  mkdir -p "$context/$(dirname "$file")"
  cp "$file" "$context/$file"
done

echo "pump-image: building $tag on $base" >&2
docker build --quiet --network none --build-arg "BASE_IMAGE=$base" \
  -f "$context/infra/pump.Dockerfile" -t "$tag" "$context" >&2
if [ "${FLOWPLANE_IMAGE_IF_CHANGED:-0}" = 1 ]; then  # older content-tagged builds
  docker images --format '{{.Repository}}:{{.Tag}}' "${tag%:*}" \
    | grep -E ':[0-9a-f]{16}$' | grep -vx "$tag" | xargs -r docker rmi >/dev/null 2>&1 || true
  docker image prune -f >/dev/null 2>&1 || true
fi
echo "$tag"
