#!/bin/sh
# Stand-in for the official image's healthcheck.sh (make deploy-check only): --connect (a TCP
# connection answers) and --innodb_initialized (InnoDB done with start-up), the two tests
# deploy/compose.yaml asks for. Connects as the password-less `healthcheck` user the entry point
# created, as the official image does.
set -eu
q() { mariadb --protocol=tcp -h127.0.0.1 -uhealthcheck --skip-column-names -e "$1"; }
for arg in "$@"; do
  case "$arg" in
    --connect) q 'SELECT 1' >/dev/null ;;
    --innodb_initialized) [ "$(q "SELECT 1 FROM information_schema.ENGINES WHERE engine='InnoDB' AND support IN ('YES','DEFAULT')")" = 1 ] ;;
    *) echo "healthcheck.sh: unsupported test $arg" >&2; exit 2 ;;
  esac
done
