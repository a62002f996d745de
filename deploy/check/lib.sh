# Shared by deploy/check/*.sh (sourced, not run): step timing, the podman engine of the check
# (its own containers.conf and API socket), stand-in base images.
# shellcheck shell=bash

# ---------------------------------------------------------------------------------------------
# Steps: each prints a banner, then its wall time; the table of all of them is printed at exit.

STEP_NAMES=()
STEP_SECONDS=()
STEP_CURRENT=""
STEP_FAILED=""
STEP_T0=""
CHECK_T0=$EPOCHREALTIME

elapsed_since() { # elapsed_since <EPOCHREALTIME value> → seconds with one decimal
  local now=$EPOCHREALTIME
  awk -v a="$1" -v b="$now" 'BEGIN { printf "%.1f", b - a }'
}

step() { # step "<name>" <command...>: runs it (set -e applies) and records its wall time
  STEP_CURRENT=$1
  shift
  STEP_T0=$EPOCHREALTIME
  printf '\n\033[1m==== [%s] %s\033[0m  (%s UTC)\n' "$((${#STEP_NAMES[@]} + 1))" "$STEP_CURRENT" "$(date -u +%H:%M:%S)"
  "$@"
  local dt
  dt=$(elapsed_since "$STEP_T0")
  STEP_NAMES+=("$STEP_CURRENT")
  STEP_SECONDS+=("$dt")
  printf '==== done in %s s: %s\n' "$dt" "$STEP_CURRENT"
  STEP_CURRENT=""
}

print_steps() {
  local i
  printf '\n%-70s %9s\n' "step" "wall (s)"
  for i in "${!STEP_NAMES[@]}"; do printf '%-70s %9s\n' "${STEP_NAMES[$i]}" "${STEP_SECONDS[$i]}"; done
  printf '%-70s %9s\n' "total" "$(elapsed_since "$CHECK_T0")"
}

loud() { # a message nobody can miss in a CI log
  printf '\n\033[1;33m%s\n!!! %s\n%s\033[0m\n\n' "$(printf '!%.0s' {1..96})" "$*" "$(printf '!%.0s' {1..96})"
}

# The reason of a failure, printed again at the very end (a CI log is often read from its tail,
# below the containers' logs).
FAILURE_REASON=""
die() {
  FAILURE_REASON=$*
  printf '\033[1;31mdeploy-check: %s\033[0m\n' "$*" >&2
  exit 1
}

# ---------------------------------------------------------------------------------------------
# Podman. CONTAINERS_CONF points podman (and the API service started from this environment,
# hence every container compose creates through it) at a configuration of the check's own, so
# nothing system-wide is changed. The default rlimits fail on these machines ("error setting
# rlimit ... operation not permitted"), hence default_ulimits.

podman_prepare() { # podman_prepare <state dir>
  local state=$1
  # crun refuses to run where cgroup v1 controllers and a cgroup2 hierarchy are both mounted
  # ("cgroups in hybrid mode not supported"), as on these machines; runc does not mind.
  local runtime=${PODMAN_RUNTIME:-}
  if [ -z "$runtime" ]; then
    runtime=crun
    local probe
    probe=$(podman run --rm --runtime crun --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 --rootfs / true 2>&1 || true)
    case "$probe" in *"hybrid mode"*) command -v runc >/dev/null && runtime=runc ;; esac
  fi
  cat >"$state/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "$runtime"
EOF
  export CONTAINERS_CONF="$state/containers.conf"
  echo "podman: CONTAINERS_CONF=$state/containers.conf (default_ulimits; runtime $runtime)"
  export CONTAINERS_CONF="$state/containers.conf"
}

# Starts `podman system service` on a socket of the check's own; DOCKER_HOST then points every
# Docker API client (docker-compose, testcontainers) at it.
podman_service_start() { # podman_service_start <state dir>
  local state=$1
  PODMAN_SOCKET="$state/podman.sock"
  podman system service --time=0 "unix://$PODMAN_SOCKET" >"$state/podman-service.log" 2>&1 &
  PODMAN_SERVICE_PID=$!
  local _
  for _ in $(seq 1 100); do
    if [ -S "$PODMAN_SOCKET" ] && curl -fsS --unix-socket "$PODMAN_SOCKET" http://d/_ping >/dev/null 2>&1; then
      export DOCKER_HOST="unix://$PODMAN_SOCKET"
      echo "podman API service pid $PODMAN_SERVICE_PID on $DOCKER_HOST"
      return 0
    fi
    sleep 0.1
  done
  cat "$state/podman-service.log" >&2
  die "podman system service did not answer on $PODMAN_SOCKET"
}

podman_service_stop() {
  [ -n "${PODMAN_SERVICE_PID:-}" ] || return 0
  kill "$PODMAN_SERVICE_PID" 2>/dev/null || true
  wait "$PODMAN_SERVICE_PID" 2>/dev/null || true
  rm -f "$PODMAN_SOCKET"
  PODMAN_SERVICE_PID=""
}

# ---------------------------------------------------------------------------------------------
# Images: the official one when it can be pulled, else a stand-in built from Debian packages.
# Stand-ins are tagged with the hash of their recipe, so a second run reuses them (cached by name)
# and a changed recipe rebuilds them.

STANDIN_DIR=${STANDIN_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/standins}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
STANDIN_BASE=localhost/etu-standin-minbase:bookworm

standin_base() {
  if podman image exists "$STANDIN_BASE"; then
    echo "base image $STANDIN_BASE: cached"
    return 0
  fi
  command -v debootstrap >/dev/null || die "debootstrap is needed for the stand-in images: apt-get install -y debootstrap"
  local root
  root=$(mktemp -d /tmp/etu-minbase.XXXXXX)
  echo "debootstrap --variant=minbase bookworm from $DEBIAN_MIRROR (about 30-60 s)"
  debootstrap --variant=minbase bookworm "$root" "$DEBIAN_MIRROR" >"$root.log" 2>&1 || {
    tail -20 "$root.log" >&2
    rm -rf "$root" "$root.log"
    die "debootstrap failed"
  }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | podman import --change 'CMD ["/bin/bash"]' - "$STANDIN_BASE" >/dev/null
  rm -rf "$root" "$root.log"
  echo "base image $STANDIN_BASE: built"
}

recipe_hash() { # recipe_hash <name> [extra string]: short hash of the stand-in's recipe files
  cat "$STANDIN_DIR/$1".* "$STANDIN_DIR/$1"-* 2>/dev/null | { cat; printf '%s' "${2:-}"; } | sha256sum | cut -c1-12
}

# Node: the official linux-x64 build of the wanted major version (scripts/node-dist.sh, through
# the npm registry: nodejs.org may not be reachable) and this machine's npm.
standin_node_context() { # standin_node_context <major> <context dir>
  local major=$1 ctx=$2 bin
  bin=$("$STANDIN_DIR/../../../scripts/node-dist.sh" "$major")
  cp "$bin/node" "$ctx/node"
  local npm_cli npm_dir
  npm_cli=$(readlink -f "$(command -v npm)")
  # With scripts/node-dist.sh's folder first in PATH (as .ci/run does), `npm` is its wrapper
  # script, which names the machine's npm-cli.js: that npm is the one to copy.
  case $npm_cli in
    *.js) ;;
    *) npm_cli=$(grep -o '[^" ]*/bin/npm-cli\.js' "$npm_cli" | head -1) ;;
  esac
  [ -f "$npm_cli" ] || die "cannot find npm's npm-cli.js (from $(command -v npm))"
  npm_dir=$(cd "$(dirname "$npm_cli")/.." && pwd)
  cp -a "$npm_dir" "$ctx/npm"
  cp "$STANDIN_DIR/node.Containerfile" "$ctx/Containerfile"
}

# standin_image <VAR> <official image>: echoes the image to use for VAR.
standin_image() {
  local var=$1 official=$2 kind
  kind=$(printf '%s' "${var%_IMAGE}" | tr 'A-Z' 'a-z')
  if [ ! -f "$STANDIN_DIR/$kind.Containerfile" ]; then
    # An image only a profile the check does not start may need (e.g. monitoring): left as it is;
    # `up` says so if a started service needs it after all.
    loud "NO STAND-IN: $official cannot be pulled and there is no recipe $STANDIN_DIR/$kind.Containerfile; $var left unset" >&2
    return 0
  fi
  local tag extra=""
  # The tag of the official image (e.g. 24-bookworm-slim) → the Node major for the node stand-in.
  local otag=${official##*:}
  [ "$kind" != node ] || extra="node${otag%%[!0-9]*}"
  tag="localhost/etu-standin-$kind:$(recipe_hash "$kind" "$extra")"
  if podman image exists "$tag"; then
    echo "stand-in $tag: cached" >&2
  else
    standin_base >&2
    local ctx
    ctx=$(mktemp -d /tmp/etu-standin.XXXXXX)
    if [ "$kind" = node ]; then
      standin_node_context "${otag%%[!0-9]*}" "$ctx" >&2
    else
      cp "$STANDIN_DIR/$kind".* "$ctx/" 2>/dev/null || true
      cp "$STANDIN_DIR/$kind"-* "$ctx/" 2>/dev/null || true
      mv "$ctx/$kind.Containerfile" "$ctx/Containerfile"
    fi
    echo "building stand-in $tag for $official" >&2
    podman build -q --layers=false --build-arg "BASE=$STANDIN_BASE" -t "$tag" "$ctx" >/dev/null || {
      rm -rf "$ctx"
      die "building the stand-in $tag failed"
    }
    rm -rf "$ctx"
  fi
  printf '%s' "$tag"
}

# resolve_image <VAR> <official image>: exports VAR = an image that exists locally.
# A VAR already set by the caller wins (e.g. a registry mirror).
resolve_image() {
  local var=$1 official=$2
  if [ -n "${!var:-}" ]; then
    echo "$var=${!var} (given)"
    return 0
  fi
  local full=$official
  case "${official%%/*}" in *.* | *:* | localhost) ;; *) full="docker.io/$official" ;; esac
  case "$full" in docker.io/*/*) ;; docker.io/*) full="docker.io/library/${full#docker.io/}" ;; esac
  if podman image exists "$full" || timeout 120 podman pull -q "$full" >/dev/null 2>&1; then
    export "$var=$full"
    echo "$var=$full (official image)"
    return 0
  fi
  local img
  img=$(standin_image "$var" "$official")
  [ -n "$img" ] || return 0
  export "$var=$img"
  STANDINS_USED+=("$var=$img (instead of $official)")
  loud "STAND-IN: $official cannot be pulled here; $var=$img, built here from deploy/check/standins"
}
STANDINS_USED=()
