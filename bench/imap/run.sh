#!/usr/bin/env bash
# Builds Wharf and the benchmarks, then runs bench/imap (arguments are passed on).
# Needs root: the peer server runs its own master process. See bench/README.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# The memory scenario holds thousands of sessions open: one socket each in the client and in
# the server. Raise the open-files limit as far as this shell may (root may lift the hard one).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
if ! npx tsc -p .; then
  echo "run.sh: tsc reported errors; running the JavaScript it emitted anyway" >&2
fi
exec node dist/bench/imap/run.js "$@"
