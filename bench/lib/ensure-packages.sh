#!/usr/bin/env bash
# Installs the peer servers the benchmarks compare against, when they are missing.
#   bash bench/lib/ensure-packages.sh postfix dovecot-pop3d
# Debian/Ubuntu only (apt-get). Nothing is started or enabled here: the benchmarks
# run each peer themselves with a private configuration on a high loopback port.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 PACKAGE..." >&2
  exit 2
fi

missing=()
for pkg in "$@"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-packages: missing ${missing[*]} and apt-get is not available; install them by hand" >&2
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "ensure-packages: missing ${missing[*]}; run as root (or install sudo) to install them" >&2
    exit 1
  fi
fi

echo "ensure-packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Postfix asks which kind of mail system to configure; the benchmark brings its own config.
echo "postfix postfix/main_mailer_type select No configuration" | "${SUDO[@]}" debconf-set-selections
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
