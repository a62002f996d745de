#!/bin/sh
# Container entry point: runs the part named by $SERVICE (baked in by the Dockerfile's
# ARG SERVICE; can be overridden at run time). The last command is exec'd, so node itself
# receives SIGTERM from `docker stop` and shuts down gracefully.
#
#   deploy/start.sh           run the part
#   deploy/start.sh --print   print its command line(s), one per line (read by deploy/test)
#   deploy/start.sh --check   fail unless its entry files exist (run while building the image)
set -eu
cd "$(dirname "$0")/.."

# One command per line, without the leading `node`.
case "${SERVICE:-}" in
  auth | market | limiter | stats) commands="services/$SERVICE/dist/main.js" ;;
  gateway) commands="gateway/dist/main.js" ;;
  migrate) commands="prisma/dist/cli.js migrate" ;;
  # Demo data (optional in production): accounts, listings of those accounts, and the accounts
  # made known to the statistics.
  seed) commands="services/auth/dist/seed.js
services/market/dist/seed.js
services/stats/dist/register-seeded.js" ;;
  *)
    echo "start.sh: SERVICE must be one of auth, market, limiter, stats, gateway, migrate, seed (got '${SERVICE:-}')" >&2
    exit 64
    ;;
esac

case "${1:-}" in
  --print)
    printf '%s\n' "$commands"
    exit 0
    ;;
  --check)
    printf '%s\n' "$commands" | while read -r entry _; do
      [ -f "$entry" ] || { echo "start.sh: $entry is missing for SERVICE=$SERVICE" >&2; exit 1; }
    done
    exit 0
    ;;
  "") ;;
  *)
    echo "usage: SERVICE=<part> deploy/start.sh [--print | --check]" >&2
    exit 64
    ;;
esac

# Every command but the last runs to completion (set -e stops at the first failure); the last
# replaces this shell. Word splitting of $line is intended ("prisma/dist/cli.js migrate").
last=$(printf '%s\n' "$commands" | tail -n 1)
if [ "$commands" != "$last" ]; then
  printf '%s\n' "$commands" | sed '$d' | while read -r line; do
    # shellcheck disable=SC2086
    node $line </dev/null
  done
fi
# shellcheck disable=SC2086
exec node $last
