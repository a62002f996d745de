#!/usr/bin/env bash
# `make restore ARCHIVE=backups/etuservices-backup-<time>.tar.gz[.enc]`: puts the stores back as
# the archive has them, in order — MariaDB (drop, re-create, load), then Redis (each database
# emptied, then every key restored with its remaining TTL), then the photo files (put back into
# PHOTOS_DIR or compose's `photos` volume), then the secrets, then the migrations
# of this checkout — and says how to start the parts. The parts must be stopped (local: refused
# while one answers on its address; compose: stopped by this script, started again at the end).
# docs/operations.md, "Backup and restore", is the procedure this follows.
#
#   BACKUP_TARGET=local|compose   as for backup.sh (same variables)
#   BACKUP_PASSPHRASE_FILE        to read a .enc archive
#   RESTORE_SESSIONS=auto|keep|clear   auto (default): kept only when every Redis database was
#                                 read before the SQL dump began (as backup.sh does); cleared
#                                 otherwise (a session could name a user the dump lacks)
set -euo pipefail
umask 077
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/backup-lib.sh
. scripts/backup-lib.sh

archive="${1:-${ARCHIVE:-}}"
[ -n "$archive" ] || die "usage: make restore ARCHIVE=backups/etuservices-backup-<time>.tar.gz[.enc]"
[ -r "$archive" ] || die "cannot read $archive"
RESTORE_SESSIONS="${RESTORE_SESSIONS:-auto}"
case "$RESTORE_SESSIONS" in auto | keep | clear) ;; *) die "RESTORE_SESSIONS must be auto, keep or clear" ;; esac
check_target
started=$(now_ms)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 0. Unpack and check the archive before touching anything.
case "$archive" in
  *.enc)
    [ -n "${BACKUP_PASSPHRASE_FILE:-}" ] || die "$archive is encrypted: set BACKUP_PASSPHRASE_FILE"
    openssl enc -d -aes-256-cbc -pbkdf2 -iter 200000 -pass "file:$BACKUP_PASSPHRASE_FILE" -in "$archive" | tar -C "$work" -xzf - ||
      die "cannot decrypt $archive (wrong passphrase?)"
    ;;
  *) tar -C "$work" -xzf "$archive" ;;
esac
dir=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'etuservices-backup-*' | head -n 1)
[ -n "$dir" ] && [ -f "$dir/manifest.json" ] || die "$archive is not an EtuServices backup (no manifest.json)"
node scripts/backup-manifest.mjs verify "$dir"
say "archive checked:"
node scripts/backup-manifest.mjs summary "$dir" >&2

# 1. The parts must not write while the stores are replaced.
if [ "$BACKUP_TARGET" = compose ]; then
  say "stopping the parts"
  $COMPOSE stop gateway auth market limiter stats
else
  # Each part's address: its variable (parts.json's addrVar) when set, else its local default.
  addrs=$(node -e '
    for (const p of require("./parts.json").parts) {
      const v = process.env[p.addrVar];
      console.log(p.kind === "http" ? `127.0.0.1:${v || p.port}` : v || `127.0.0.1:${p.port}`);
    }')
  for addr in $addrs; do
    if (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null; then
      die "something answers on $addr: stop the parts (Ctrl-C in make run) before restoring"
    fi
  done
fi

# 2. MariaDB: the database is dropped and re-created from the dump.
say "restoring MariaDB ($(db_name))"
sql_load <"$dir/mariadb.sql"

# 3. Redis: each database emptied, then filled from the archive; sessions per RESTORE_SESSIONS.
sessions="$RESTORE_SESSIONS"
[ "$sessions" = auto ] && sessions=$(node scripts/backup-manifest.mjs sessions "$dir")
say "restoring Redis (sessions: $sessions)"
if [ "$sessions" = clear ]; then
  redis_snapshot import --clear sessions <"$dir/redis.jsonl"
else
  redis_snapshot import <"$dir/redis.jsonl"
fi

# 3b. The photo files (an archive made before they were backed up has none: the folder is left).
if [ -f "$dir/photos.tar" ]; then
  say "restoring the photo files ($(tar -tf "$dir/photos.tar" | grep -c '\.webp$' || true) files)"
  photos_import <"$dir/photos.tar"
else
  say "no photo files in this archive: the photos folder is left as it is"
fi

# 4. Secrets: SESSION_KEYS must be the archive's for the restored sessions to open.
if [ "$BACKUP_TARGET" = compose ]; then
  if [ -d "$dir/secrets/compose" ]; then
    if [ ! -d "$COMPOSE_SECRETS_DIR" ]; then
      mkdir -p "$COMPOSE_SECRETS_DIR" && chmod 700 "$COMPOSE_SECRETS_DIR"
      cp -pR "$dir/secrets/compose/." "$COMPOSE_SECRETS_DIR/"
      say "secrets restored into $COMPOSE_SECRETS_DIR"
    elif ! diff -qr "$dir/secrets/compose" "$COMPOSE_SECRETS_DIR" >/dev/null 2>&1; then
      rm -rf "$COMPOSE_SECRETS_DIR.from-backup" && cp -pR "$dir/secrets/compose" "$COMPOSE_SECRETS_DIR.from-backup"
      say "$COMPOSE_SECRETS_DIR differs from the archive's: kept as is; the archive's copy is $COMPOSE_SECRETS_DIR.from-backup (its session_keys keeps users logged in; the MariaDB passwords must stay those of the volume)"
    fi
  fi
  if [ -f "$dir/secrets/compose.env" ] && ! cmp -s "$dir/secrets/compose.env" "$COMPOSE_ENV_FILE" 2>/dev/null; then
    if [ -f "$COMPOSE_ENV_FILE" ]; then
      cp -p "$dir/secrets/compose.env" "$COMPOSE_ENV_FILE.from-backup"
      say "$COMPOSE_ENV_FILE differs from the archive's: kept as is; the archive's copy is $COMPOSE_ENV_FILE.from-backup"
    else
      cp -p "$dir/secrets/compose.env" "$COMPOSE_ENV_FILE"
      say "$COMPOSE_ENV_FILE restored from the archive"
    fi
  fi
elif [ -d "$dir/secrets/local" ]; then
  if [ -d "$SECRETS_DIR" ] && ! diff -qr "$dir/secrets/local" "$SECRETS_DIR" >/dev/null 2>&1; then
    aside="$SECRETS_DIR.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
    mv "$SECRETS_DIR" "$aside"
    say "the current $SECRETS_DIR differed from the archive's: moved to $aside"
  fi
  if [ ! -d "$SECRETS_DIR" ]; then
    mkdir -p "$SECRETS_DIR"
    chmod 700 "$SECRETS_DIR"
    cp -pR "$dir/secrets/local/." "$SECRETS_DIR/"
    chmod 700 "$SECRETS_DIR"
    chmod 600 "$SECRETS_DIR"/* 2>/dev/null || true
    say "secrets restored into $SECRETS_DIR"
  fi
fi

# 5. Migrations of this checkout (a dump from an older version is brought up to date).
say "migrating"
if [ "$BACKUP_TARGET" = compose ]; then
  $COMPOSE run --rm migrate
else
  DATABASE_URL="$DATABASE_URL" node prisma/dist/cli.js migrate >&2
fi

took=$(($(now_ms) - started))
say "stores restored in $took ms"
# 6. The parts. Once they run, every account is registered with the statistics (a user who
# signed up between the Redis copy and the SQL dump is known to MariaDB only).
if [ "$BACKUP_TARGET" = compose ]; then
  # Compose v2 waits for health with --wait; v1 (no --wait) waits only for the dependencies'
  # health (depends_on: service_healthy). (grep without -q: see compose_tool.)
  if $COMPOSE up --help 2>/dev/null | grep -e --wait >/dev/null; then
    $COMPOSE up -d --wait
  else
    $COMPOSE up -d
  fi
  # Idempotent; retried while the statistics service is still starting (at most a minute).
  for attempt in $(seq 1 30); do
    compose_tool auth -e STATS_ADDR=stats:50054 -- node services/auth/dist/register-users.js && break
    [ "$attempt" -lt 30 ] || die "register-users failed: accounts are restored but not registered with the statistics; run it again once stats answers"
    sleep 2
  done
  say "done in $(($(now_ms) - started)) ms; check: curl -fsS http://localhost:\${GATEWAY_PORT:-8080}/readyz"
else
  say "next: make run (starts the parts, then registers every account with the statistics)"
fi
