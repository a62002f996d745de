#!/bin/sh
# Stand-in entry point (make deploy-check only), as the official redis image's: options alone
# run redis-server; without a config file protected mode is turned off (the container's network
# is the protection); started as root, it runs as the `redis` user.
set -eu
if [ "${1#-}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = redis-server ]; then
  case "${2:-}" in
    "" | -*) set -- "$@" --protected-mode no ;;
  esac
  if [ "$(id -u)" = 0 ]; then
    chown -R redis:redis /data 2>/dev/null || true
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi
exec "$@"
