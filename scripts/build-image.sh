#!/usr/bin/env bash
# Builds the package-registry image without a Docker daemon (linux/amd64 and linux/arm64, from
# deploy/image/binaries.txt) and pushes it with the credentials of ~/.docker/config.json.
#
#   scripts/build-image.sh REF [VERSION] [more flags of deploy/image, e.g. -plain-http]
#   scripts/build-image.sh registry.example.com/oci-epr/package-registry:v1.2.3 v1.2.3
set -euo pipefail
if [ $# -lt 1 ]; then
  sed -n '2,6p' "$0" >&2
  exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
ref="$1"
version="${2:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)}"
revision="$(git -C "$root" rev-parse HEAD 2>/dev/null || true)"
shift $(( $# < 2 ? $# : 2 ))
cd "$root/deploy/image"
exec go run . -module-root "$root" -version "$version" -revision "$revision" -push "$ref" "$@"
