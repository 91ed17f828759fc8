#!/usr/bin/env bash
# Builds Wharf and the benchmarks, then runs bench/smtp-relay (arguments are passed on).
# Needs root for the Postfix pair (its master processes run as root). See bench/README.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
if ! npx tsc -p .; then
  echo "run.sh: tsc reported errors; running the JavaScript it emitted anyway" >&2
fi
exec node dist/bench/smtp-relay/run.js "$@"
