#!/usr/bin/env bash
# `make backup`: one timestamped archive of everything EtuServices needs to come back —
# Redis first (limiter, statistics and session databases, key by key, each in one transaction),
# then MariaDB (mariadb-dump --single-transaction), then the listings' photo files (PHOTOS_DIR, or
# compose's `photos` volume), then the secrets — so the SQL copy is never
# older than the Redis copy (every user Redis knows exists in the dump). docs/operations.md,
# "Backup and restore", says why this order, what the archive holds and how to restore it.
#
# Targets (BACKUP_TARGET):
#   local    (default) the stores of `make run`: DATABASE_URL, LIMITER_REDIS_URL, STATS_REDIS_URL,
#            SESSION_REDIS_URL (same defaults as the parts), secrets from .secrets/
#   compose  the stores of deploy/compose.yaml, through `$COMPOSE exec`/`run` (COMPOSE defaults
#            to "docker compose -f deploy/compose.yaml"); secrets from deploy/.env
# Output: $BACKUP_DIR (default backups/)/etuservices-backup-<UTC time>.tar.gz, mode 0600, or
# .tar.gz.enc (AES-256-CBC, PBKDF2) when BACKUP_PASSPHRASE_FILE names a file holding a passphrase.
# The BACKUP_KEEP (default 14) newest archives of $BACKUP_DIR are kept, older ones deleted.
set -euo pipefail
umask 077
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/backup-lib.sh
. scripts/backup-lib.sh

BACKUP_DIR="${BACKUP_DIR:-backups}"
BACKUP_KEEP="${BACKUP_KEEP:-14}"
[[ "$BACKUP_KEEP" =~ ^[0-9]+$ ]] || die "BACKUP_KEEP must be a number of archives (got '$BACKUP_KEEP')"
check_target
if [ -n "${BACKUP_PASSPHRASE_FILE:-}" ]; then
  [ -r "$BACKUP_PASSPHRASE_FILE" ] || die "BACKUP_PASSPHRASE_FILE: cannot read $BACKUP_PASSPHRASE_FILE"
  command -v openssl >/dev/null || die "openssl is needed to encrypt (BACKUP_PASSPHRASE_FILE is set)"
fi

started=$(now_ms)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
name="etuservices-backup-$stamp"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir="$work/$name"
mkdir -p "$dir"

# 1. Redis: every database the parts use, each read in one MULTI/EXEC.
say "reading Redis (limiter, stats, sessions)"
redis_snapshot export >"$dir/redis.jsonl"

# 2. MariaDB, after Redis: a consistent InnoDB snapshot without locking the tables.
say "dumping MariaDB ($(db_name))"
sql_started=$(now_ms)
sql_dump >"$dir/mariadb.sql"
sql_finished=$(now_ms)
grep -q '^-- Dump completed' "$dir/mariadb.sql" || die "mariadb-dump did not complete (no 'Dump completed' line)"

# 3. The photo files, after the dump: a listing's files are written before its row, so every
# listing of the dump has its photos (a withdrawal in the seconds between the two could remove
# one: docs/operations.md).
say "copying the photo files"
photos_export >"$dir/photos.tar"

# 3b. The secrets the parts were started with (sessions, internal token; demo logins).
copy_secrets_into "$dir/secrets"

# 4. Manifest: what is inside, when each part was taken, checksums.
node scripts/backup-manifest.mjs write "$dir" "$BACKUP_TARGET" "$(db_name)" "$sql_started" "$sql_finished"

mkdir -p "$BACKUP_DIR"
chmod 700 "$BACKUP_DIR" 2>/dev/null || true
if [ -n "${BACKUP_PASSPHRASE_FILE:-}" ]; then
  out="$BACKUP_DIR/$name.tar.gz.enc"
  tar -C "$work" -czf - "$name" | openssl enc -aes-256-cbc -pbkdf2 -iter 200000 -salt -pass "file:$BACKUP_PASSPHRASE_FILE" -out "$out.part"
else
  out="$BACKUP_DIR/$name.tar.gz"
  tar -C "$work" -czf "$out.part" "$name"
fi
chmod 600 "$out.part"
mv "$out.part" "$out"

# Retention: the BACKUP_KEEP newest archives of this directory.
if [ "$BACKUP_KEEP" -gt 0 ]; then
  find "$BACKUP_DIR" -maxdepth 1 -type f -name 'etuservices-backup-*.tar.gz*' ! -name '*.part' -printf '%f\n' |
    sort -r | tail -n +$((BACKUP_KEEP + 1)) | while read -r old; do rm -f "$BACKUP_DIR/$old"; say "retention: deleted $old"; done
fi

size=$(stat -c %s "$out")
say "wrote $out ($size bytes, mode 0600) in $(($(now_ms) - started)) ms"
node scripts/backup-manifest.mjs summary "$dir"
echo "$out"
