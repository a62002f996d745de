#!/bin/sh
# Writes the secret files deploy/compose.yaml mounts (compose `secrets:`), each only when it is
# missing, so a second run changes nothing:
#   sh deploy/secrets.sh              into deploy/secrets/ (git-ignored)
#   SECRETS_DIR=/srv/etu/secrets sh deploy/secrets.sh
# The directory is made private (0700); the files in it are 0644 because compose mounts a file
# secret with its host owner and mode, and the containers run as unprivileged users.
# tls.crt / tls.key (the `proxy` profile) start as a self-signed certificate for localhost:
# replace them with your own (same names) for a real site.
set -eu
dir=${SECRETS_DIR:-$(dirname "$0")/secrets}
mkdir -p "$dir"
chmod 0700 "$dir"
umask 022

new() { # new <file> <command...>: writes the command's output, without newline, if missing
  f="$dir/$1"
  shift
  [ -s "$f" ] && return 0
  "$@" | tr -d '\n' >"$f.tmp"
  mv "$f.tmp" "$f"
  echo "wrote $f"
}

new internal_token openssl rand -base64 32
new session_keys openssl rand -base64 32
# Hex: it is placed in database_url, so it must be URL-safe.
new mariadb_password openssl rand -hex 32
new mariadb_root_password openssl rand -hex 32
new database_url sh -c "printf 'mysql://%s:%s@mariadb:3306/%s' '${MARIADB_USER:-etu}' \"\$(cat '$dir/mariadb_password')\" '${MARIADB_DATABASE:-etuservices}'"
# The SMTP server (smtps://user:password@host:465), written by you; left empty, the gateway writes
# its mails into its outbox folder instead (docs/operations.md, "E-mails").
if [ ! -e "$dir/smtp_url" ]; then
  : >"$dir/smtp_url"
  echo "wrote $dir/smtp_url (empty: no SMTP; put the SMTP server's URL in it)"
fi
if [ ! -s "$dir/tls.crt" ] || [ ! -s "$dir/tls.key" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days "${TLS_DAYS:-30}" -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null
  echo "wrote $dir/tls.crt and tls.key (self-signed, localhost: replace them for a real site)"
fi
chmod 0644 "$dir"/*
