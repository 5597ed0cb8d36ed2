#!/usr/bin/env bash
# Installs a real Redmine (Debian bookworm's 5.0.4 packages) for the Redmine connector tests and
# prepares a pristine database that the `redmine_server` fixture copies for every test session.
#
#   bash tests/redmine/install.sh                     install when needed, print where things are
#   REDMINE_REBUILD=1 bash tests/redmine/install.sh   rebuild the pristine database
#
# Idempotent: when the pristine database of the current setup version exists it only prints.
# What the database holds is described in tests/redmine/setup.rb; the fixture reads the
# values it needs (API keys, project, custom field id) from the info file printed at the end.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
INSTANCE="${CASAVI_REDMINE_INSTANCE:-casavibridge}"
STATE_DIR="/var/lib/redmine/$INSTANCE"
BUILD_DB="$STATE_DIR/build.sqlite3"
PRISTINE="$STATE_DIR/pristine.sqlite3"
INFO="$STATE_DIR/casavi-bridge.json"
# Bump when setup.rb changes what the pristine database holds, so existing machines rebuild.
SETUP_VERSION=1

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

if [ -z "${REDMINE_REBUILD:-}" ] && [ -f "$PRISTINE" ] && [ -f "$INFO" ] \
   && grep -q "\"setup_version\": *$SETUP_VERSION[,}]" "$INFO" && installed redmine; then
  echo "redmine: ready (instance $INSTANCE)"
  echo "redmine: pristine database: $PRISTINE"
  echo "redmine: info: $INFO"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "redmine: installing Redmine needs root (apt-get, /etc/redmine); run: sudo bash $0" >&2
  exit 1
fi

started=$(date +%s)
export DEBIAN_FRONTEND=noninteractive

# Debian's patched bundler (ruby-bundler) accepts the gems Debian ships as gemspecs only; the
# newer, unpatched bundler inside bookworm-security's ruby3.1 does not, and Redmine's
# post-install step then fails with Bundler::GemNotFound.  Install ruby-bundler first and select
# its version for everything that follows (also for finishing an interrupted earlier install).
updated=""
if ! installed ruby-bundler; then
  apt-get update -qq && updated=1
  apt-get install -y -qq --no-install-recommends ruby-bundler >/dev/null
fi
BUNDLER_VERSION="$(dpkg-query -W -f='${Version}' ruby-bundler | sed -E 's/^[0-9]+://; s/-[^-]*$//')"
export BUNDLER_VERSION
if ! installed redmine || ! installed redmine-sqlite || ! installed ruby-webrick; then
  [ -n "$updated" ] || apt-get update -qq
  dpkg --configure -a
  apt-get install -y -qq --no-install-recommends redmine redmine-sqlite ruby-webrick >/dev/null
fi
echo "redmine: packages installed ($(dpkg-query -W -f='${Version}' redmine), bundler $BUNDLER_VERSION) after $(( $(date +%s) - started ))s"

# No application server is in Redmine's bundle; WEBrick joins it through Gemfile.local.
cd /usr/share/redmine
if ! grep -qs '^gem "webrick"' Gemfile.local; then
  echo 'gem "webrick"' >> Gemfile.local
fi
bundle check >/dev/null 2>&1 || bundle install --local --quiet

# A Debian instance of our own: configuration in /etc/redmine/NAME, data in /var/lib/redmine/NAME.
if [ ! -d "/etc/redmine/$INSTANCE" ]; then
  /usr/share/redmine/bin/redmine-instances create "$INSTANCE" >/dev/null
fi
mkdir -p "$STATE_DIR"
cat > "/etc/redmine/$INSTANCE/database.yml" <<YAML
# Written by casavi-bridge tests/redmine/install.sh.  Test servers override it with DATABASE_URL.
production:
  adapter: sqlite3
  database: $BUILD_DB
  pool: 5
  timeout: 5000
YAML
if [ ! -s "/etc/redmine/$INSTANCE/secret_key.txt" ]; then
  ( umask 077; head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n' > "/etc/redmine/$INSTANCE/secret_key.txt" )
fi

export REDMINE_INSTANCE="$INSTANCE" RAILS_ENV=production REDMINE_LANG=en
rm -f "$BUILD_DB" "$PRISTINE" "$INFO"
bundle exec rake db:migrate >/dev/null
# In a separate process: in the same one as the migrations the loader fails with
# UnknownAttributeError (models keep the columns they saw before migrating), and rake still
# exits 0 — so its message is checked too.
loaded="$(bundle exec rake redmine:load_default_data)"
if [ "$loaded" != "Default configuration data loaded." ]; then
  echo "redmine: loading the default data failed: $loaded" >&2
  exit 1
fi
CASAVI_SETUP_VERSION="$SETUP_VERSION" CASAVI_INFO_FILE="$INFO.tmp" CASAVI_PRISTINE_DB="$PRISTINE" \
  bundle exec rails runner "$HERE/setup.rb"
# The runner has exited, so the sqlite file is complete (no journal left behind): copy it.
cp "$BUILD_DB" "$PRISTINE"
chmod 0644 "$PRISTINE"
mv "$INFO.tmp" "$INFO"

echo "redmine: ready (instance $INSTANCE) after $(( $(date +%s) - started ))s"
echo "redmine: pristine database: $PRISTINE"
echo "redmine: info: $INFO"
