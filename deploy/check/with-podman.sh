#!/usr/bin/env bash
# Runs a command with this machine's podman behind a Docker API socket of its own, and the
# MariaDB / Redis images resolved as make deploy-check does (official, else stand-ins): how the
# suite's testcontainers mode was proven here. Everything it starts is stopped afterwards.
#   deploy/check/with-podman.sh env TESTCONTAINERS=1 make test
# testcontainers' reaper (Ryuk) needs an image no registry here serves: it is disabled, and the
# suite's globalTeardown stops the containers itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
. deploy/check/lib.sh
STATE=$(mktemp -d /tmp/etu-with-podman.XXXXXX)
cleanup() {
  podman_service_stop
  rm -rf "$STATE"
}
trap cleanup EXIT
podman_prepare "$STATE"
podman_service_start "$STATE"
resolve_image MARIADB_IMAGE mariadb:11.4
resolve_image REDIS_IMAGE redis:7.4-bookworm
export TESTCONTAINERS_RYUK_DISABLED=true
"$@"
