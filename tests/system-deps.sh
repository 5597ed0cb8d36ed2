#!/usr/bin/env bash
# Installs the Debian packages the test suite needs on a fresh machine (idempotent):
# - systemd (systemd-analyze verify / security for the unit files);
# - a real Redmine server for the Redmine connector tests (tests/redmine/install.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "system-deps: need root to install: ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ -x tests/redmine/install.sh ]; then
  bash tests/redmine/install.sh
fi
