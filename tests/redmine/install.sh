#!/usr/bin/env bash
# Installs a real Redmine (Debian bookworm's 5.0.4 packages) for the Redmine connector tests and
# prepares a pristine PostgreSQL dump that the `redmine_server` fixture restores into the test
# session's own PostgreSQL cluster (tests/fixtures/postgres.py).
#
#   bash tests/redmine/install.sh                     install when needed, print where things are
#   REDMINE_REBUILD=1 bash tests/redmine/install.sh   rebuild the pristine dump
#
# Idempotent: when the pristine dump of the current setup version exists it only prints.
# What the database holds is described in tests/redmine/setup.rb; the fixture reads the
# values it needs (API keys, project, custom field id) from the info file printed at the end.
#
# Why PostgreSQL and not SQLite: Redmine's install guide names SQLite "not for multi-user
# production use", and in this stack it breaks under concurrent writes.  Bookworm's
# ruby-sqlite3 1.4.2 waits for SQLite's lock inside sqlite3_busy_timeout() without releasing
# Ruby's global VM lock, so while one WEBrick thread waits for the lock, the thread holding it
# cannot run to commit: every overlap of two writes ends as a full timeout and a 500
# "SQLite3::BusyException: database is locked" (seen in the test server's log: an upload that
# took 15 ms of database time completing after 20 s, next to a PUT answered 500 after 20 s).
# Known upstream: sqlite3-ruby issue #261, Rails pull requests #50370 and #51958 (fixed only by
# sqlite3 2.0's busy_handler_timeout with Rails 8); a longer timeout only makes each stall longer.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
# Its own Debian instance: the instance "casavibridge" of earlier versions held a SQLite setup.
INSTANCE="${CASAVI_REDMINE_INSTANCE:-casavibridge-pg}"
STATE_DIR="/var/lib/redmine/$INSTANCE"
PRISTINE="$STATE_DIR/pristine.pgdump"
INFO="$STATE_DIR/casavi-bridge.json"
# Bump when setup.rb changes what the pristine database holds, so existing machines rebuild.
SETUP_VERSION=2

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
bundler_version() { dpkg-query -W -f='${Version}' ruby-bundler | sed -E 's/^[0-9]+://; s/-[^-]*$//'; }
pg_bin() { compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -1 | xargs -r dirname; }

if [ -z "${REDMINE_REBUILD:-}" ] && [ -f "$PRISTINE" ] && [ -f "$INFO" ] \
   && grep -q "\"setup_version\": *$SETUP_VERSION[,}]" "$INFO" && installed redmine && installed ruby-pg \
   && [ -n "$(pg_bin)" ]; then
  # Redmine's bundle (one Gemfile.lock for all instances) takes the driver gems of the adapters
  # the instances' database.yml name: a change to another instance may have rebuilt it.
  export BUNDLER_VERSION="$(bundler_version)"
  if ! (cd /usr/share/redmine && bundle check >/dev/null 2>&1); then
    (cd /usr/share/redmine && bundle install --local --quiet)
  fi
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
apt_get() { apt-get -o DPkg::Lock::Timeout=900 "$@"; }

# Debian's patched bundler (ruby-bundler) accepts the gems Debian ships as gemspecs only; the
# newer, unpatched bundler inside bookworm-security's ruby3.1 does not, and Redmine's
# post-install step then fails with Bundler::GemNotFound.  Install ruby-bundler first and select
# its version for everything that follows (also for finishing an interrupted earlier install).
updated=""
if ! installed ruby-bundler; then
  apt_get update -qq && updated=1
  apt_get install -y -qq --no-install-recommends ruby-bundler >/dev/null
fi
BUNDLER_VERSION="$(bundler_version)"
export BUNDLER_VERSION
# ruby-pg is the PostgreSQL driver; the metapackage redmine-pgsql would also bring
# dbconfig-pgsql, which offers to set up the package's default instance (not wanted here).
# postgresql gives initdb / pg_ctl / pg_dump for building the pristine dump (the tests use it too).
need=()
for package in redmine ruby-pg ruby-webrick; do installed "$package" || need+=("$package"); done
[ -n "$(pg_bin)" ] || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  [ -n "$updated" ] || apt_get update -qq
  dpkg --configure -a
  apt_get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
PG_BIN="$(pg_bin)"
echo "redmine: packages installed ($(dpkg-query -W -f='${Version}' redmine), bundler $BUNDLER_VERSION, PostgreSQL in $PG_BIN) after $(( $(date +%s) - started ))s"

# A Debian instance of our own: configuration in /etc/redmine/NAME, data in /var/lib/redmine/NAME.
cd /usr/share/redmine
if [ ! -d "/etc/redmine/$INSTANCE" ]; then
  /usr/share/redmine/bin/redmine-instances create "$INSTANCE" >/dev/null
fi
mkdir -p "$STATE_DIR"
# Redmine's Gemfile adds the driver gem of every adapter named in the instances' database.yml.
cat > "/etc/redmine/$INSTANCE/database.yml" <<YAML
# Written by casavi-bridge tests/redmine/install.sh.  The build and every test server give the
# database itself in DATABASE_URL (a throwaway PostgreSQL cluster each).
production:
  adapter: postgresql
  encoding: utf8
  pool: 10
YAML
if [ ! -s "/etc/redmine/$INSTANCE/secret_key.txt" ]; then
  ( umask 077; head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n' > "/etc/redmine/$INSTANCE/secret_key.txt" )
fi
# No application server is in Redmine's bundle; WEBrick joins it through Gemfile.local.
if ! grep -qs '^gem "webrick"' Gemfile.local; then
  echo 'gem "webrick"' >> Gemfile.local
fi
bundle check >/dev/null 2>&1 || bundle install --local --quiet

# Build in a throwaway PostgreSQL cluster (PostgreSQL refuses to run as root: it belongs to the
# postgres user of Debian's package), then keep a dump of it.
BUILD="$(mktemp -d /tmp/casavi-redmine-build.XXXXXX)"
chown postgres "$BUILD"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
as_postgres() { runuser -u postgres -- "$@"; }
stop_build() {
  as_postgres "$PG_BIN/pg_ctl" -D "$BUILD/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$BUILD"
}
trap stop_build EXIT
as_postgres "$PG_BIN/initdb" -D "$BUILD/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
as_postgres "$PG_BIN/pg_ctl" -D "$BUILD/data" -w -l "$BUILD/server.log" \
  -o "-p $port -c listen_addresses=127.0.0.1 -k $BUILD -c fsync=off" start >/dev/null
as_postgres "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres redmine

export REDMINE_INSTANCE="$INSTANCE" RAILS_ENV=production REDMINE_LANG=en
export DATABASE_URL="postgresql://postgres@127.0.0.1:$port/redmine"
rm -f "$PRISTINE" "$INFO"
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
"$PG_BIN/pg_dump" -h 127.0.0.1 -p "$port" -U postgres --format=custom --no-owner --no-privileges \
  -f "$PRISTINE.tmp" redmine
chmod 0644 "$PRISTINE.tmp"
mv "$PRISTINE.tmp" "$PRISTINE"
mv "$INFO.tmp" "$INFO"

echo "redmine: ready (instance $INSTANCE) after $(( $(date +%s) - started ))s"
echo "redmine: pristine database: $PRISTINE"
echo "redmine: info: $INFO"
