# Shared by scripts/backup.sh and scripts/restore.sh: how to reach each store, for a local run
# (`make run`: the stores named by the parts' own variables) or for compose (through
# `docker compose exec` / `run`, since the stores are on an internal network). Sourced, not run.

say() { echo "${0##*/}: $*" >&2; }
die() {
  say "error: $*"
  exit 1
}
now_ms() { date +%s%3N; }

BACKUP_TARGET="${BACKUP_TARGET:-local}"
COMPOSE="${COMPOSE:-docker compose -f deploy/compose.yaml}"
# A local run's stores: the parts' own variables, else parts.json's localStores (as the parts do).
local_store() { node -e 'process.stdout.write(require("./parts.json").localStores[process.argv[1]])' "$1"; }
DATABASE_URL="${DATABASE_URL:-$(local_store DATABASE_URL)}"
LIMITER_REDIS_URL="${LIMITER_REDIS_URL:-$(local_store LIMITER_REDIS_URL)}"
STATS_REDIS_URL="${STATS_REDIS_URL:-$(local_store STATS_REDIS_URL)}"
SESSION_REDIS_URL="${SESSION_REDIS_URL:-$(local_store SESSION_REDIS_URL)}"
# compose's secret files (deploy/secrets.sh writes them; compose.yaml reads SECRETS_DIR, relative
# to deploy/) and its env file. Read before SECRETS_DIR is reused for the local folder below.
COMPOSE_SECRETS_DIR="${COMPOSE_SECRETS_DIR:-${SECRETS_DIR:-deploy/secrets}}"
COMPOSE_ENV_FILE="${COMPOSE_ENV_FILE:-deploy/.env}"
# The local run's secrets folder (.secrets/local.env and the demo logins).
SECRETS_DIR="${ETU_SECRETS_DIR:-.secrets}"
# Inside compose, the stores as the containers see them (deploy/compose.yaml).
COMPOSE_REDIS_STORES="limiter=redis://redis-limiter:6379/0 stats=redis://redis-stats:6379/1 sessions=redis://redis-sessions:6379/2"
# The listings' photo files: a local run's PHOTOS_DIR (the gateway's default, data/photos in the
# checkout); in compose, the `photos` volume where the gateway mounts it (deploy/compose.yaml).
PHOTOS_DIR="${PHOTOS_DIR:-$PWD/data/photos}"
COMPOSE_PHOTOS_DIR=/var/lib/etuservices/photos
# The image every compose one-shot below runs in (any part's image holds the tools).
COMPOSE_TOOL_SERVICE="${COMPOSE_TOOL_SERVICE:-stats}"
SNAPSHOT_JS="services/common/dist/redis-snapshot.js"
# Inside the mariadb container: the root password from its secret file (or variable), handed to
# the client through MYSQL_PWD so it is never on a command line. Clients there connect over TCP
# to 127.0.0.1: compose.yaml moves the server's socket to /tmp (read-only root filesystem).
# shellcheck disable=SC2016
ROOT_PWD='export MYSQL_PWD="${MARIADB_ROOT_PASSWORD:-$(cat "$MARIADB_ROOT_PASSWORD_FILE")}";'

check_target() {
  case "$BACKUP_TARGET" in
    local)
      [ -f "$SNAPSHOT_JS" ] || die "$SNAPSHOT_JS is missing: run make build first"
      command -v mariadb-dump >/dev/null || die "mariadb-dump is missing (Debian: apt-get install -y mariadb-client)"
      ;;
    compose) ;;
    *) die "BACKUP_TARGET must be local or compose (got '$BACKUP_TARGET')" ;;
  esac
}

# Database name, from DATABASE_URL (local) or the mariadb container's MARIADB_DATABASE (compose).
db_name() {
  if [ "$BACKUP_TARGET" = compose ]; then
    # shellcheck disable=SC2016
    $COMPOSE exec -T mariadb sh -c 'printf %s "$MARIADB_DATABASE"'
  else
    node -e 'const u = new URL(process.argv[1]); process.stdout.write(decodeURIComponent(u.pathname.slice(1)))' "$DATABASE_URL"
  fi
}

# A client option file (mode 0600) for the local MariaDB, so the password is never on a command line.
mariadb_options() {
  local f="$work/my.cnf"
  if [ ! -f "$f" ]; then
    node -e '
      const u = new URL(process.argv[1]);
      const q = (s) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, "\\\"")}"`;
      let out = "[client]\nhost=" + u.hostname + "\nport=" + (u.port || "3306") + "\nuser=" + q(decodeURIComponent(u.username)) + "\n";
      if (u.password) out += "password=" + q(decodeURIComponent(u.password)) + "\n";
      require("fs").writeFileSync(process.argv[2], out, { mode: 0o600 });
    ' "$DATABASE_URL" "$f"
  fi
  echo "$f"
}

# Runs a command in a part's image on the internal network: `exec` in its running container
# when there is one, else a one-off `run --rm --no-deps` container. (Compose v1 links a one-off
# container to the service's running ones, which podman's Docker API refuses: "link is not
# supported"; exec needs no link.)  compose_tool <service> [-e NAME=value]... -- <command>...
compose_tool() {
  local svc="$1" opts=()
  shift
  while [ "$1" != -- ]; do
    opts+=("$1")
    shift
  done
  shift
  # (grep without -q: under pipefail, -q's early exit would fail the pipeline with SIGPIPE.)
  if $COMPOSE ps --services --filter status=running 2>/dev/null | grep -x "$svc" >/dev/null; then
    $COMPOSE exec -T "${opts[@]}" "$svc" "$@"
  else
    $COMPOSE run --rm --no-deps -T "${opts[@]}" "$svc" "$@"
  fi
}

redis_snapshot() { # export (stdout) | import (stdin) [--clear name]...
  local verb="$1"
  shift
  if [ "$BACKUP_TARGET" = compose ]; then
    # shellcheck disable=SC2086
    compose_tool "$COMPOSE_TOOL_SERVICE" -- node "$SNAPSHOT_JS" "$verb" - $COMPOSE_REDIS_STORES "$@"
  else
    node "$SNAPSHOT_JS" "$verb" - "limiter=$LIMITER_REDIS_URL" "stats=$STATS_REDIS_URL" "sessions=$SESSION_REDIS_URL" "$@"
  fi
}

sql_dump() {
  local flags="--single-transaction --quick --routines --triggers --hex-blob --no-tablespaces"
  if [ "$BACKUP_TARGET" = compose ]; then
    # shellcheck disable=SC2016
    $COMPOSE exec -T mariadb sh -c "$ROOT_PWD exec mariadb-dump --protocol=tcp -h127.0.0.1 -uroot $flags \"\$MARIADB_DATABASE\""
  else
    # shellcheck disable=SC2086
    mariadb-dump --defaults-extra-file="$(mariadb_options)" $flags "$(db_name)"
  fi
}

# Drops and re-creates the database, then loads the dump from stdin.
sql_load() {
  local create="CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
  if [ "$BACKUP_TARGET" = compose ]; then
    # shellcheck disable=SC2016
    $COMPOSE exec -T mariadb sh -c "$ROOT_PWD mariadb --protocol=tcp -h127.0.0.1 -uroot -e \"DROP DATABASE IF EXISTS \\\`\$MARIADB_DATABASE\\\`; CREATE DATABASE \\\`\$MARIADB_DATABASE\\\` $create\" && exec mariadb --protocol=tcp -h127.0.0.1 -uroot \"\$MARIADB_DATABASE\""
  else
    local db opts
    db=$(db_name)
    opts=$(mariadb_options)
    mariadb --defaults-extra-file="$opts" -e "DROP DATABASE IF EXISTS \`$db\`; CREATE DATABASE \`$db\` $create"
    mariadb --defaults-extra-file="$opts" "$db"
  fi
}

# The photo files as a tar on stdout (empty when there are none yet). Files being written (a
# temporary `.<name>.tmp`, renamed when whole) are left out.
photos_export() {
  if [ "$BACKUP_TARGET" = compose ]; then
    compose_tool gateway -- sh -c "mkdir -p $COMPOSE_PHOTOS_DIR && cd $COMPOSE_PHOTOS_DIR && exec tar --exclude='.*.tmp' -cf - ."
  elif [ -d "$PHOTOS_DIR" ]; then
    tar -C "$PHOTOS_DIR" --exclude='.*.tmp' -cf - .
  else
    tar -cf - -T /dev/null
  fi
}

# Puts the photo files of a tar (stdin) into the photos folder. Files the archive lacks are left:
# their names are content addresses, so a file never holds anything but its own picture.
photos_import() {
  if [ "$BACKUP_TARGET" = compose ]; then
    compose_tool gateway -- sh -c "mkdir -p $COMPOSE_PHOTOS_DIR && exec tar -C $COMPOSE_PHOTOS_DIR --no-same-owner -xf -"
  else
    mkdir -p "$PHOTOS_DIR"
    tar -C "$PHOTOS_DIR" --no-same-owner -xf -
  fi
}

copy_secrets_into() {
  local to="$1"
  mkdir -p "$to"
  if [ "$BACKUP_TARGET" = compose ]; then
    if [ -d "$COMPOSE_SECRETS_DIR" ]; then cp -pR "$COMPOSE_SECRETS_DIR/." "$to/compose/"; else say "warning: $COMPOSE_SECRETS_DIR not found; secrets not in the archive"; fi
    if [ -f "$COMPOSE_ENV_FILE" ]; then cp -p "$COMPOSE_ENV_FILE" "$to/compose.env"; fi
  elif [ -d "$SECRETS_DIR" ]; then
    cp -pR "$SECRETS_DIR/." "$to/local/"
  else
    say "warning: $SECRETS_DIR not found; secrets not in the archive"
  fi
}
