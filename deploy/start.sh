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

# One command per line, without the leading `node`: the `run` lines parts.json gives SERVICE
# (a long-running part or a one-shot job such as migrate and seed).
commands=$(node -e '
const { parts, jobs } = require("./parts.json");
const all = [...parts, ...jobs];
const hit = all.find((p) => p.name === process.argv[1]);
if (!hit) {
  console.error(`start.sh: SERVICE must be one of ${all.map((p) => p.name).join(", ")} (got '"'"'${process.argv[1]}'"'"')`);
  process.exit(64);
}
console.log(hit.run.join("\n"));
' "${SERVICE:-}") || exit $?

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
