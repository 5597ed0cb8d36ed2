#!/usr/bin/env bash
# Installs the Debian packages the test suite needs on a fresh machine (idempotent):
# - systemd (systemd-analyze verify / security for the unit files);
# - prometheus, for promtool (`promtool check rules` / `test rules` on contrib/prometheus/);
# - chromium and a font, for the status page test in a real headless browser;
# - PostgreSQL (the tests start a throwaway cluster of their own: tests/fixtures/postgres.py);
# - a real Redmine server for the Redmine connector tests (tests/redmine/install.sh).
# Other installs may hold dpkg's lock: apt waits for it (up to 15 minutes) instead of failing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "system-deps: need root to install: ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt_get() { apt-get -o DPkg::Lock::Timeout=900 "$@"; }
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ -x tests/redmine/install.sh ]; then
  bash tests/redmine/install.sh
fi
