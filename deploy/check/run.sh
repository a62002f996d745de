#!/usr/bin/env bash
# `make deploy-check`: builds deploy/Dockerfile for real, runs deploy/compose.yaml on this
# machine's podman through a Docker-API compose client, and walks the published site as a user.
# Leaves nothing behind but the images (containers, volumes, networks, the API socket and the
# generated secrets are removed, also on failure). Each step prints its wall time.
#
# Variables: NODE_IMAGE, MARIADB_IMAGE, REDIS_IMAGE, NGINX_IMAGE (an image to use instead of the
# official one or its stand-in), EXTRA_CA_FILE (CA bundle given to npm during the build as a
# build secret; default: NODE_EXTRA_CA_CERTS, else the system bundle), DEPLOY_CHECK_KEEP=1
# (leave the stack running for a look; tear down with deploy/check/run.sh --down),
# DEPLOY_CHECK_TIMEOUT (seconds for the stack to become healthy, default 600),
# DEPLOY_CHECK_REUSE_IMAGES=1 (skip the build, use the images of the previous run: for working
# on the check itself).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CHECK_DIR=$ROOT/deploy/check
# shellcheck source=deploy/check/lib.sh
. "$CHECK_DIR/lib.sh"

export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-etucheck}
PROJECT=$COMPOSE_PROJECT_NAME
COMPOSE_FILE_PATH=$ROOT/deploy/compose.yaml
HEALTH_TIMEOUT=${DEPLOY_CHECK_TIMEOUT:-600}
HEALTH_LOOP_PID=""
if [ "${1:-}" = --down ]; then
  # Tears down a stack left by DEPLOY_CHECK_KEEP=1: deploy/check/run.sh --down <state dir>
  STATE=${2:?usage: deploy/check/run.sh --down /tmp/etu-deploy-check.XXXXXX}
  . "$STATE/pids"
  export CONTAINERS_CONF="$STATE/containers.conf" DOCKER_HOST="unix://$PODMAN_SOCKET"
else
  STATE=$(mktemp -d /tmp/etu-deploy-check.XXXXXX)
  chmod 0700 "$STATE"
fi

# ---------------------------------------------------------------------------------------------
# Compose client. Compose v2 (`docker compose`) when installed, else Debian's docker-compose 1.29
# (Compose v1): the only compose client here that speaks to podman's Docker API and honours
# `depends_on: condition: service_healthy` (podman-compose 1.0.3 ignores it). --compatibility
# makes v1 apply deploy.resources.limits (memory, CPUs) as v2 does.
if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null; then
  COMPOSE=(docker-compose --compatibility)
else
  die "no compose client: apt-get install -y docker-compose"
fi
dc() { "${COMPOSE[@]}" -f "$COMPOSE_FILE_PATH" --env-file "$STATE/env" "$@"; }
dct() { # dct <seconds> <compose arguments...>: dc within a time limit
  local t=$1
  shift
  timeout "$t" "${COMPOSE[@]}" -f "$COMPOSE_FILE_PATH" --env-file "$STATE/env" "$@"
}
# Every profile of the file (proxy, seed, and whatever is added later), for config, ps and down.
ALL_PROFILES=()
while read -r p; do ALL_PROFILES+=(--profile "$p"); done < <(node "$CHECK_DIR/compose-info.mjs" profiles "$COMPOSE_FILE_PATH")
dc_profiles() { "${COMPOSE[@]}" -f "$COMPOSE_FILE_PATH" --env-file "$STATE/env" "${ALL_PROFILES[@]}" "$@"; }

project_filter=(--filter "label=com.docker.compose.project=$PROJECT")

# ---------------------------------------------------------------------------------------------
# Health: podman 4.3 runs healthchecks from systemd timers, and these machines have no systemd,
# so no container would ever become healthy by itself. This loop runs each container's check.

health_loop_start() {
  (
    while :; do
      for id in $(podman ps -q "${project_filter[@]}" 2>/dev/null); do
        podman healthcheck run "$id" >/dev/null 2>&1 || true
      done
      sleep 2
    done
  ) &
  HEALTH_LOOP_PID=$!
  echo "healthcheck loop pid $HEALTH_LOOP_PID (podman healthcheck run, every 2 s)"
}

health_loop_stop() {
  [ -n "$HEALTH_LOOP_PID" ] || return 0
  kill "$HEALTH_LOOP_PID" 2>/dev/null || true
  wait "$HEALTH_LOOP_PID" 2>/dev/null || true
  HEALTH_LOOP_PID=""
}

# Waits until every running container of the project that has a healthcheck is healthy.
wait_healthy() { # wait_healthy [timeout seconds]
  local timeout=${1:-$HEALTH_TIMEOUT} t0=$SECONDS line pending
  while :; do
    pending=""
    while read -r line; do
      [ -n "$line" ] || continue
      set -- $line
      # name, state, health ("" when the container has no healthcheck)
      if [ "$2" != running ]; then
        pending+=" $1($2)"
      elif [ -n "${3:-}" ] && [ "$3" != healthy ]; then
        pending+=" $1($3)"
      fi
    done < <(podman ps -a "${project_filter[@]}" --filter status=running --filter status=created --format '{{.Names}}' |
      xargs -r podman inspect --format '{{.Name}} {{.State.Status}} {{if .Config.Healthcheck}}{{.State.Health.Status}}{{end}}')
    if [ -z "$pending" ]; then
      echo "all healthy after $((SECONDS - t0)) s"
      return 0
    fi
    if [ $((SECONDS - t0)) -ge "$timeout" ]; then
      echo "still not healthy after $timeout s:$pending" >&2
      return 1
    fi
    sleep 2
  done
}

# ---------------------------------------------------------------------------------------------
# Teardown: everything the check made, also when it failed; then a proof that nothing is left.

teardown() {
  set +e
  if [ -f "$STATE/env" ] && [ -n "${DOCKER_HOST:-}" ]; then
    timeout 180 "${COMPOSE[@]}" -f "$COMPOSE_FILE_PATH" --env-file "$STATE/env" "${ALL_PROFILES[@]}" \
      down -v --remove-orphans --timeout 20 >"$STATE/down.log" 2>&1 || cat "$STATE/down.log" >&2
  fi
  health_loop_stop
  # Whatever compose could not remove (a run container, an interrupted up).
  podman ps -aq "${project_filter[@]}" | xargs -r podman rm -f -t 5 >/dev/null 2>&1
  podman volume ls -q "${project_filter[@]}" | xargs -r podman volume rm -f >/dev/null 2>&1
  podman network ls -q "${project_filter[@]}" | xargs -r podman network rm -f >/dev/null 2>&1
  podman pod ls -q --filter "name=$PROJECT" | xargs -r podman pod rm -f >/dev/null 2>&1
  podman_service_stop
  local left
  left="$(podman ps -aq "${project_filter[@]}")$(podman volume ls -q "${project_filter[@]}")$(podman network ls -q "${project_filter[@]}")"
  [ ! -e "${PODMAN_SOCKET:-/nonexistent}" ] || left+=" socket $PODMAN_SOCKET"
  rm -rf "$STATE"
  if [ -n "$left" ]; then
    echo "LEFT BEHIND: $left" >&2
    return 1
  fi
  echo "nothing left: no container, volume or network labelled $PROJECT; socket and state removed"
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$STEP_CURRENT" ]; then
    printf '\n\033[1;31mdeploy-check FAILED in step: %s (after %s s)\033[0m\n' "$STEP_CURRENT" "$(elapsed_since "$STEP_T0")" >&2
    if [ -f "$STATE/env" ] && [ -n "${DOCKER_HOST:-}" ]; then
      timeout 60 "${COMPOSE[@]}" -f "$COMPOSE_FILE_PATH" --env-file "$STATE/env" "${ALL_PROFILES[@]}" ps >&2 || true
      # Every container's whole log kept outside the state folder (removed by the teardown);
      # the last lines of each shown here.
      local logs
      logs="${DEPLOY_CHECK_LOGS_DIR:-/tmp}/etu-deploy-check-failure-$(date -u +%Y%m%dT%H%M%S).log"
      timeout 60 "${COMPOSE[@]}" -f "$COMPOSE_FILE_PATH" --env-file "$STATE/env" "${ALL_PROFILES[@]}" logs --no-color -t >"$logs" 2>&1 || true
      grep -v '"level":"info"' "$logs" | tail -n 60 >&2 || true
      FAILURE_LOGS=$logs
    fi
    STEP_FAILED=$STEP_CURRENT
    STEP_NAMES+=("FAILED: $STEP_CURRENT")
    STEP_SECONDS+=("$(elapsed_since "$STEP_T0")")
    [ "$rc" != 0 ] || rc=1
  fi
  if [ "${DEPLOY_CHECK_KEEP:-0}" = 1 ]; then
    printf 'PODMAN_SERVICE_PID=%s\nPODMAN_SOCKET=%s\nHEALTH_LOOP_PID=%s\n' "$PODMAN_SERVICE_PID" "$PODMAN_SOCKET" "$HEALTH_LOOP_PID" >"$STATE/pids"
    echo "DEPLOY_CHECK_KEEP=1: stack left running. Look:  CONTAINERS_CONF=$STATE/containers.conf DOCKER_HOST=$DOCKER_HOST docker-compose -f deploy/compose.yaml --env-file $STATE/env ps"
    echo "Tear down:  deploy/check/run.sh --down $STATE"
  else
    local t0=$EPOCHREALTIME
    teardown || rc=1
    STEP_NAMES+=("teardown (down -v, leftovers, socket)")
    STEP_SECONDS+=("$(elapsed_since "$t0")")
  fi
  print_steps
  if [ ${#STANDINS_USED[@]} -gt 0 ]; then
    loud "STAND-INS USED (official images not pullable here): ${STANDINS_USED[*]}"
  fi
  if [ "$rc" = 0 ]; then
    printf '\033[1;32mdeploy-check passed\033[0m\n'
  else
    printf '\033[1;31mdeploy-check failed (%s)%s%s\033[0m\n' "$rc" "${STEP_FAILED:+ in step: $STEP_FAILED}" "${FAILURE_REASON:+: $FAILURE_REASON}"
    [ -z "${FAILURE_LOGS:-}" ] || echo "every container's log: $FAILURE_LOGS"
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Steps

prepare_engine() {
  command -v podman >/dev/null || die "podman is needed: apt-get install -y podman"
  podman_prepare "$STATE"
  podman_service_start "$STATE"
  "${COMPOSE[@]}" version | sed -n 1p
}

# The image variables compose.yaml reads (`${X_IMAGE:-default}`), each resolved to the official
# image or a stand-in; read from the file so that a new image variable needs no change here.
resolve_images() {
  local var def
  while read -r var def; do
    resolve_image "$var" "$def"
  done < <(grep -o '\${[A-Z_]*_IMAGE:-[^}]*}' "$COMPOSE_FILE_PATH" | sed -E 's/^\$\{([A-Z_]+):-(.*)\}$/\1 \2/' | sort -u)
}

# Secrets as files (compose `secrets:`) written by deploy/secrets.sh, with its self-signed
# certificate for the proxy profile, and the env file compose reads.
write_config() {
  SECRETS_DIR="$STATE/secrets" sh deploy/secrets.sh
  ADMIN_PASSWORD=$(openssl rand -hex 12)
  {
    echo "SECRETS_DIR=$STATE/secrets"
    # Loopback, a free port chosen by the engine: nothing fixed is taken on a shared machine.
    echo "GATEWAY_PORT=127.0.0.1:0"
    echo "PROXY_PORT=127.0.0.1:0"
    # The proxy profile is exercised too: the gateways trust the one proxy in front of them.
    echo "TRUST_PROXY=1"
    echo "ADMIN_EMAIL=admin@etuservices.example"
    for v in $(compgen -v | grep -E '^[A-Z_]+_IMAGE$'); do echo "$v=${!v}"; done
  } >"$STATE/env"
  echo "env file $STATE/env:"
  sed 's/^/  /' "$STATE/env"
}

# The app images: every compose service with a `build:`, built by podman (compose v1 cannot pass
# build secrets) with the CA bundle as the build secret `extra_ca`; compose then uses `image:`.
EXTRA_CA=${EXTRA_CA_FILE:-${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}}
build_images() {
  local ca=$EXTRA_CA
  [ -r "$ca" ] || die "CA bundle $ca not readable (EXTRA_CA_FILE)"
  dc_profiles config >"$STATE/compose.resolved.yaml"
  node "$CHECK_DIR/compose-info.mjs" builds "$STATE/compose.resolved.yaml" >"$STATE/builds"
  local image context dockerfile target args t0
  if [ "${DEPLOY_CHECK_REUSE_IMAGES:-0}" = 1 ]; then
    loud "DEPLOY_CHECK_REUSE_IMAGES=1: the images already built are used as they are"
    return 0
  fi
  while IFS=$'\t' read -r image context dockerfile target args; do
    t0=$EPOCHREALTIME
    local cmd=(podman build --layers -f "$dockerfile" --secret "id=extra_ca,src=$ca" -t "$image")
    [ -z "$target" ] || cmd+=(--target "$target")
    for a in $args; do cmd+=(--build-arg "$a"); done
    cmd+=("$context")
    echo "+ ${cmd[*]}"
    "${cmd[@]}" >"$STATE/build.log" 2>&1 || {
      tail -40 "$STATE/build.log" >&2
      die "image build failed: $image"
    }
    echo "  built $image in $(elapsed_since "$t0") s"
  done <"$STATE/builds"
}

image_report() {
  local image
  echo "image sizes:"
  cut -f1 "$STATE/builds" | sort -u | while read -r image; do
    podman image inspect --format "  {{index .RepoTags 0}}  {{.Size}} bytes" "$image" | awk '{printf "  %-40s %6.0f MB\n", $1, $2 / 1e6}'
  done
  for v in $(compgen -v | grep -E '^[A-Z_]+_IMAGE$'); do
    podman image inspect --format "{{.Size}}" "${!v}" | awk -v n="${!v}" '{printf "  %-40s %6.0f MB\n", n, $1 / 1e6}'
  done
  # The build secret must not be in any layer: no file of the CA bundle's content, no history
  # line naming it, no environment variable pointing at it.
  local first
  first=$(cut -f1 "$STATE/builds" | sed -n 1p)
  # (Outputs captured first: `grep -q` in a pipeline under pipefail can fail by SIGPIPE.)
  local history env
  history=$(podman history --no-trunc --format '{{.CreatedBy}}' "$first")
  if printf '%s\n' "$history" | grep -v -- '--mount=type=secret' | grep -i 'extra_ca' >/dev/null; then
    die "a layer of $first mentions extra_ca outside a secret mount"
  fi
  env=$(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$first")
  if printf '%s\n' "$env" | grep -i 'extra_ca\|NODE_EXTRA_CA_CERTS' >/dev/null; then
    die "the environment of $first keeps the extra CA"
  fi
  # Files holding much of the bundle (20 of its certificates or more; a package may legitimately
  # ship a public root or two, e.g. ioredis), in the image but not in its base image (node embeds
  # Mozilla's roots).
  local pats=$STATE/ca-lines
  # The 8th line of each certificate: inside its public key, unique to it.
  awk '/BEGIN CERTIFICATE/ { n = 0; next } { if (++n == 8) print }' "$EXTRA_CA" | sort -u >"$pats"
  local scan='grep -rlF -f /pats / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev 2>/dev/null | grep -vx /pats |
    while read -r f; do n=$(grep -aoF -f /pats "$f" | sort -u | wc -l); [ "$n" -lt 20 ] || echo "$f ($n certificates)"; done | sort'
  podman run --rm --user 0 -v "$pats:/pats:ro" --entrypoint sh "$NODE_IMAGE" -c "$scan" >"$STATE/ca-base" || true
  podman run --rm --user 0 -v "$pats:/pats:ro" --entrypoint sh "$first" -c "$scan" >"$STATE/ca-app" || true
  echo "files with 20+ of the bundle's certificates: base image $(wc -l <"$STATE/ca-base"), app image $(wc -l <"$STATE/ca-app")"
  local extra
  extra=$(comm -13 "$STATE/ca-base" "$STATE/ca-app")
  [ -z "$extra" ] || die "certificates of the build secret found in $first: $extra"
  echo "build secret: not in any layer of $first (history, environment, files checked)"
}

compose_up() { # compose_up <compose arguments...>
  dc config -q
  [ -n "$HEALTH_LOOP_PID" ] || health_loop_start
  dct "$HEALTH_TIMEOUT" "$@"
  wait_healthy
  dc ps
}

gateway_url() {
  local port
  port=$(dc port gateway 3000 | tail -1 | sed 's/.*://')
  [ -n "$port" ] || die "the gateway's port is not published"
  echo "http://127.0.0.1:$port"
}

walk() { # walk <phase> [url]: its output is shown as it comes; a failure's reason ends the run
  local log="$STATE/walk-$1.log"
  local rc=0
  NODE_EXTRA_CA_CERTS="$STATE/secrets/tls.crt" node "$CHECK_DIR/walk.mjs" "$1" "${2:-$(gateway_url)}" "$STATE/walk-state.json" 2>&1 | tee "$log" || rc=$?
  [ "$rc" = 0 ] || die "$(grep -m1 'FAILED' "$log" || echo "walk $1 failed ($rc)")"
}

seed() {
  dct 300 run --rm -e "ADMIN_PASSWORD=$ADMIN_PASSWORD" seed | tail -5
  # The walk logs in as this admin.
  printf '{"admin":{"email":"admin@etuservices.example","password":"%s"}}' "$ADMIN_PASSWORD" >"$STATE/walk-state.json"
}

limits_report() {
  echo "memory / CPU limits and Node heap as the engine applied them:"
  local name mem cpus heap unlimited=""
  for name in $(podman ps "${project_filter[@]}" --format '{{.Names}}' | sort); do
    read -r mem cpus <<<"$(podman inspect --format '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}' "$name")"
    heap=$(podman inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$name" | sed -n 's/^NODE_OPTIONS=//p')
    printf '  %-28s memory %5s MiB  cpus %-5s %s\n' "$name" "$((mem / 1048576))" "$(awk -v n="$cpus" 'BEGIN { print n / 1e9 }')" "$heap"
    [ "$mem" -gt 0 ] || unlimited+=" $name"
  done
  [ -z "$unlimited" ] || die "containers without a memory limit:$unlimited"
}

restart_one() {
  dc restart market
  wait_healthy 180
  walk after-restart
}

migrate_again() {
  local out
  out=$(dct 180 run --rm migrate 2>&1)
  echo "$out" | tail -3
  case "$out" in *" 0 applied"*) ;; *) die "the second migrate run applied something (not idempotent?)" ;; esac
}

down_up() {
  dct 180 down --timeout 20
  compose_up up -d
  walk persisted
}

# The compose forms of `make backup` / `make restore` (scripts/backup.sh and restore.sh with
# BACKUP_TARGET=compose), as docs/operations.md gives them: back up, lose every volume, restore.
backup_restore() {
  local vars=(BACKUP_TARGET=compose "BACKUP_DIR=$STATE/backups" "COMPOSE=${COMPOSE[*]} -f $COMPOSE_FILE_PATH --env-file $STATE/env"
    "COMPOSE_SECRETS_DIR=$STATE/secrets" "COMPOSE_ENV_FILE=$STATE/env")
  walk before-backup
  # What the backup tool will meet: the stores' names as resolved inside the network (after a
  # down + up podman's DNS has been seen to answer an old container's address too; the tool tries
  # each address).
  local h
  for h in redis-limiter redis-stats redis-sessions; do
    # shellcheck disable=SC2016
    printf '  %-15s -> %s\n' "$h" "$(dct 30 exec -T stats node -e 'require("dns").lookup(process.argv[1], { all: true }, (e, a) => console.log(e ? e.code : a.map((x) => x.address).join(" ")))' "$h" 2>&1 | tail -1)"
  done
  env "${vars[@]}" bash scripts/backup.sh
  local archive
  archive=$(ls -1 "$STATE"/backups/etuservices-backup-*.tar.gz 2>/dev/null | tail -1)
  [ -n "$archive" ] || die "make backup (compose) wrote no archive"
  echo "archive: $(stat -c '%n, %s bytes, mode %a' "$archive")"
  [ "$(stat -c %a "$archive")" = 600 ] || die "the archive is readable by others"
  tar -tzf "$archive" | grep '/secrets/compose/session_keys$' >/dev/null || die "the archive lacks the compose secrets"
  tar -tzf "$archive" | grep '/photos.tar$' >/dev/null || die "the archive lacks the photos volume (photos.tar)"
  echo "disaster: down -v (every volume removed), then up on empty stores"
  dct 180 down -v --timeout 20
  compose_up up -d
  walk destroyed
  local t0=$SECONDS
  env "${vars[@]}" bash scripts/restore.sh "$archive"
  wait_healthy 300
  echo "restore (stores + migrate + parts) took $((SECONDS - t0)) s"
  walk restored
}

scale_and_proxy() {
  local scale=() kind svc
  while read -r kind svc; do scale+=(--scale "$svc=2"); done < <(node "$CHECK_DIR/compose-info.mjs" parts "$STATE/compose.resolved.yaml")
  compose_up --profile proxy up -d "${scale[@]}"
  local port
  port=$(dc --profile proxy port proxy 8443 | tail -1 | sed 's/.*://')
  [ -n "$port" ] || die "the proxy's port is not published"
  walk proxy "https://localhost:$port"
  # Each of the two gateways served part of the walk through nginx (its request log, health
  # probes left out).
  local name n bad=""
  local edge
  edge=$(node "$CHECK_DIR/compose-info.mjs" parts "$STATE/compose.resolved.yaml" | awk '$1 == "edge" { print $2 }' | paste -sd'|')
  for name in $(podman ps "${project_filter[@]}" --format '{{.Names}}' | grep -E "^${PROJECT}_($edge)_[0-9]+\$" | sort); do
    n=$(podman logs "$name" 2>&1 | grep '"msg":"request"' | grep -vc '/readyz' || true)
    printf '  %-28s %3s requests (health probes aside)\n' "$name" "$n"
    [ "$n" -gt 0 ] || bad+=" $name"
  done
  [ -z "$bad" ] || die "gateways that served nothing through nginx:$bad"
  # For information: a gateway started before a service was scaled keeps the addresses it
  # resolved until a connection fails (see docs/operations.md), so a new replica may have no
  # connection yet from the older gateways.
  for name in $(scaled_service_containers); do
    printf '  %-28s %3s gRPC connections from other containers\n' "$name" "$(inbound_connections "$name")"
  done
  # One replica of each service stopped: the gateways fail over to the other replicas.
  local first_replicas
  first_replicas=$(scaled_service_containers | grep '_1$')
  # (podman prints systemd timer errors for containers with healthchecks here: filtered.)
  podman stop -t 15 $first_replicas 2>&1 >/dev/null | grep -v systemd >&2 || true
  echo "stopped:" $first_replicas
  walk replicas "https://localhost:$port"
  podman start $first_replicas 2>&1 >/dev/null | grep -v systemd >&2 || true
  wait_healthy 180
}

# The containers of the gRPC services (compose-info.mjs parts: built here, long-running, no
# published port), as scaled.
scaled_service_containers() {
  local names
  names=$(node "$CHECK_DIR/compose-info.mjs" parts "$STATE/compose.resolved.yaml" | awk '$1 == "grpc" { print $2 }' | paste -sd'|')
  podman ps "${project_filter[@]}" --format '{{.Names}}' | grep -E "^${PROJECT}_($names)_[0-9]+\$" | sort
}

# Established TCP connections to a container's listening ports from another address.
inbound_connections() {
  podman exec "$1" cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '
    $4 == "0A" { split($2, a, ":"); listening[a[2]] = 1 }
    $4 == "01" { split($2, l, ":"); split($3, r, ":"); n++; lport[n] = l[2]; peer[n] = r[1] }
    END {
      c = 0
      for (i = 1; i <= n; i++)
        if ((lport[i] in listening) && peer[i] != "0100007F" && peer[i] !~ /0100007F$/ && peer[i] != "00000000000000000000000001000000") c++
      print c + 0
    }'
}


if [ "${1:-}" = --down ]; then
  trap - EXIT
  teardown
  exit
fi

step "prepare podman (containers.conf ulimits, API socket)" prepare_engine
step "base images (official, else stand-ins)" resolve_images
step "secrets, certificate, env file" write_config
step "build deploy/Dockerfile (podman build, CA as build secret)" build_images
step "image sizes; build secret absent from the images" image_report
step "up: mariadb, redis, migrate, services, gateway -> healthy" compose_up up -d
step "limits applied (memory, CPU, NODE_OPTIONS heap)" limits_report
step "seed job (admin account)" seed
step "user walk: sign-up, login, Vente, Achat, 11th call 429, admin statistics" walk user
step "restart market; the site still answers" restart_one
step "migrate job again (idempotent)" migrate_again
step "down + up: accounts, listings, statistics kept" down_up
step "backup (compose), volumes lost, restore (compose): a kept session is still its user's" backup_restore
step "proxy profile: nginx TLS -> 2 gateways, every part scaled to 2, one replica each stopped" scale_and_proxy
